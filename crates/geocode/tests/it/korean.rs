//! Korean data: road-name addresses are searched and formatted in Korean order; a point between buildings off
//! every address falls back to the road and its crossing.

use jikimi_geocode::index::ReverseOptions;
use jikimi_geocode::{
    AddressData, AddressFeature, AddressIndex, CivicAddress, LatLon, Method, OsmRef, StreetWay,
    format,
};

fn building(id: i64, street: &str, number: &str, lat: f64, lon: f64) -> AddressFeature {
    let d = 0.0001;
    let ring = vec![
        LatLon { lat, lon },
        LatLon { lat, lon: lon + d },
        LatLon {
            lat: lat + d,
            lon: lon + d,
        },
        LatLon { lat: lat + d, lon },
        LatLon { lat, lon },
    ];
    AddressFeature {
        osm: OsmRef::Way(id),
        address: CivicAddress {
            street: Some(street.into()),
            house_number: Some(number.into()),
            postcode: Some("04524".into()),
            city: Some("서울특별시".into()),
            state: Some("서울특별시".into()),
            district: Some("중구".into()),
            country: Some("KR".into()),
        },
        point: LatLon {
            lat: lat + d / 2.0,
            lon: lon + d / 2.0,
        },
        rings: vec![ring],
    }
}

fn seoul() -> AddressIndex {
    AddressIndex::new(AddressData {
        features: vec![
            building(1, "세종대로", "110", 37.5663, 126.9779),
            building(2, "세종대로", "124", 37.5680, 126.9775),
            building(3, "을지로", "12", 37.5660, 126.9810),
        ],
        streets: vec![
            StreetWay {
                name: "세종대로".into(),
                points: vec![
                    LatLon {
                        lat: 37.560,
                        lon: 126.9770,
                    },
                    LatLon {
                        lat: 37.575,
                        lon: 126.9770,
                    },
                ],
                nodes: vec![10, 11],
            },
            StreetWay {
                name: "을지로".into(),
                points: vec![
                    LatLon {
                        lat: 37.5665,
                        lon: 126.9770,
                    },
                    LatLon {
                        lat: 37.5665,
                        lon: 126.990,
                    },
                ],
                nodes: vec![12, 13],
            },
            StreetWay {
                name: "세종대로".into(),
                points: vec![
                    LatLon {
                        lat: 37.5665,
                        lon: 126.9770,
                    },
                    LatLon {
                        lat: 37.560,
                        lon: 126.9770,
                    },
                ],
                nodes: vec![12, 10],
            },
        ],
        refs_without_coords: 0,
    })
}

#[test]
fn korean_search_and_order() {
    let index = seoul();
    let hits = index.search("세종대로 1", 5);
    let labels: Vec<&str> = hits.iter().map(|h| h.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "서울특별시 중구 세종대로 110",
            "서울특별시 중구 세종대로 124"
        ]
    );
    assert_eq!(
        index.search("을지로 12", 5)[0].label,
        "서울특별시 중구 을지로 12"
    );
    // Inside building 1.
    let r = index
        .reverse(
            LatLon {
                lat: 37.56635,
                lon: 126.97795,
            },
            ReverseOptions::default(),
        )
        .expect("answer");
    assert_eq!((r.method, r.distance_m), (Method::Address, 0.0));
    assert_eq!(format(&r.address), "서울특별시 중구 세종대로 110");
}

#[test]
fn street_and_crossing_when_no_address_is_near() {
    let index = seoul();
    // On 세종대로, 300 m south of every building; the crossing with 을지로 is its junction.
    let r = index
        .reverse(
            LatLon {
                lat: 37.5630,
                lon: 126.97702,
            },
            ReverseOptions::default(),
        )
        .expect("answer");
    assert_eq!(r.method, Method::Street);
    assert_eq!(r.address.street.as_deref(), Some("세종대로"));
    assert_eq!(r.cross_street.as_deref(), Some("을지로"));
    assert_eq!(r.address.city.as_deref(), Some("서울특별시"));
    assert!(r.distance_m < 5.0);
    // Far from everything: no answer rather than a wrong one.
    assert!(
        index
            .reverse(
                LatLon {
                    lat: 37.60,
                    lon: 127.05
                },
                ReverseOptions::default()
            )
            .is_none()
    );
}
