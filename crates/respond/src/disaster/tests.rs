//! The area test and the triage order: examples and properties.

use super::*;
use crate::{Coordinates, SubscriberId, Timestamp};
use proptest::prelude::*;

fn c(lat: f64, lon: f64) -> Coordinates {
    Coordinates::new(lat, lon).unwrap()
}

fn rect(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> Vec<[f64; 2]> {
    vec![
        [min_lon, min_lat],
        [max_lon, min_lat],
        [max_lon, max_lat],
        [min_lon, max_lat],
        [min_lon, min_lat],
    ]
}

#[test]
fn points_just_inside_and_just_outside_and_holes() {
    let area = DisasterArea::new(vec![
        vec![
            rect(126.90, 37.50, 127.00, 37.60),
            rect(126.94, 37.54, 126.96, 37.56),
        ],
        vec![rect(127.10, 37.50, 127.20, 37.60)],
    ])
    .unwrap();
    let eps = 1e-6;
    assert!(area.contains(c(37.55, 126.90 + eps)));
    assert!(!area.contains(c(37.55, 126.90 - eps)));
    assert!(area.contains(c(37.60 - eps, 126.95 + 0.02)));
    assert!(!area.contains(c(37.60 + eps, 126.97)));
    // The hole.
    assert!(!area.contains(c(37.55, 126.95)));
    assert!(!area.contains(c(37.54 + eps, 126.94 + eps)));
    assert!(area.contains(c(37.54 - eps, 126.95)));
    // The second polygon, and the gap between them.
    assert!(area.contains(c(37.55, 127.15)));
    assert!(!area.contains(c(37.55, 127.05)));
    let json = serde_json::to_string(&area).unwrap();
    let back: DisasterArea = serde_json::from_str(&json).unwrap();
    assert_eq!(back, area);
}

#[test]
fn malformed_areas_are_refused() {
    assert_eq!(DisasterArea::new(vec![]), Err(AreaError::Empty));
    let open = vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
    assert!(matches!(
        DisasterArea::new(vec![vec![open]]),
        Err(AreaError::Ring { .. })
    ));
    assert!(matches!(
        DisasterArea::new(vec![vec![rect(0.0, 0.0, 200.0, 1.0)]]),
        Err(AreaError::Point { .. })
    ));
    assert!(serde_json::from_str::<DisasterArea>("[[[[0,0],[1,0],[0,0]]]]").is_err());
}

#[test]
fn circles_are_circumscribed() {
    let centre = c(37.5665, 126.978);
    let ring = circle_ring(centre, 1_000.0, 32);
    assert_eq!(ring.first(), ring.last());
    let area = DisasterArea::from_lat_lon_rings(&[ring]).unwrap();
    for i in 0..360 {
        let bearing = f64::from(i).to_radians();
        // ~999 m out in every direction: inside.
        let dlat = 999.0 * bearing.cos() / 111_195.0;
        let dlon = 999.0 * bearing.sin() / (111_195.0 * centre.lat().to_radians().cos());
        assert!(
            area.contains(c(centre.lat() + dlat, centre.lon() + dlon)),
            "{i}"
        );
    }
    assert!(!area.contains(c(centre.lat() + 1_100.0 / 111_195.0, centre.lon())));
}

fn person(
    n: u128,
    status: WelfareStatus,
    vulnerability: Vulnerability,
    contact: i64,
) -> PersonState {
    PersonState {
        subscriber_id: SubscriberId(uuid::Uuid::from_u128(n)),
        status,
        last_contact: Some(Timestamp::from_unix_ms(contact)),
        position: None,
        battery_pct: None,
        people: None,
        vulnerability,
    }
}

#[test]
fn triage_example() {
    let elderly = Vulnerability {
        elderly: true,
        ..Vulnerability::default()
    };
    let persons = vec![
        person(1, WelfareStatus::NeedHelp, elderly, 0),
        person(2, WelfareStatus::Safe, elderly, 0),
        person(3, WelfareStatus::Trapped, Vulnerability::default(), 500),
        person(4, WelfareStatus::Trapped, Vulnerability::default(), 100),
        person(5, WelfareStatus::Injured, Vulnerability::default(), 0),
        person(6, WelfareStatus::Trapped, elderly, 900),
        person(7, WelfareStatus::NoAnswer, elderly, 0),
    ];
    let queue = triage(&persons, Timestamp::from_unix_ms(1_000), 60_000);
    let order: Vec<u128> = queue
        .iter()
        .map(|e| e.person.subscriber_id.0.as_u128())
        .collect();
    assert_eq!(order, vec![6, 4, 3, 5, 1]);
    assert_eq!(queue[0].rank, 1);
    assert_eq!(queue[1].silent_ms, Some(900));
    assert!(queue.iter().all(|e| e.stale_position));
}

#[test]
fn stale_positions_are_flagged() {
    let mut p = person(1, WelfareStatus::Trapped, Vulnerability::default(), 0);
    p.position = Some(Position {
        coords: c(37.5, 127.0),
        accuracy_m: 10.0,
        at: Timestamp::from_unix_ms(50_000),
        source: PositionSource::Answer,
    });
    assert!(!triage(&[p.clone()], Timestamp::from_unix_ms(100_000), 60_000)[0].stale_position);
    assert!(triage(&[p.clone()], Timestamp::from_unix_ms(200_000), 60_000)[0].stale_position);
    if let Some(pos) = p.position.as_mut() {
        pos.source = PositionSource::Home;
    }
    assert!(
        triage(&[p], Timestamp::from_unix_ms(100_000), 60_000)[0].stale_position,
        "a home is only a guess"
    );
}

#[test]
fn reporting_interval_backs_off_with_battery() {
    assert_eq!(reporting_interval_s(WelfareStatus::Trapped, Some(90)), 60);
    assert_eq!(reporting_interval_s(WelfareStatus::Trapped, Some(30)), 120);
    assert_eq!(reporting_interval_s(WelfareStatus::Trapped, Some(15)), 300);
    assert_eq!(reporting_interval_s(WelfareStatus::Trapped, Some(5)), 600);
    assert_eq!(reporting_interval_s(WelfareStatus::NeedHelp, None), 120);
    assert_eq!(reporting_interval_s(WelfareStatus::Safe, Some(5)), 3_600);
    for status in WelfareStatus::ALL {
        let mut last = 0;
        for b in (0..=100u8).rev() {
            let i = reporting_interval_s(status, Some(b));
            assert!(i >= last, "less battery never reports more often");
            last = i;
        }
    }
}

#[test]
fn wire_strings_round_trip() {
    for s in WelfareStatus::ALL {
        assert_eq!(WelfareStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(WelfareAnswer::parse("no_answer"), None);
    assert_eq!(
        WelfareAnswer::parse("trapped").map(WelfareAnswer::status),
        Some(WelfareStatus::Trapped)
    );
    for k in [
        DisasterKind::Earthquake,
        DisasterKind::Flood,
        DisasterKind::Other,
    ] {
        assert_eq!(DisasterKind::parse(k.as_str()), Some(k));
    }
}

fn arb_status() -> impl Strategy<Value = WelfareStatus> {
    prop::sample::select(WelfareStatus::ALL.to_vec())
}

fn arb_person() -> impl Strategy<Value = PersonState> {
    (
        any::<u128>(),
        arb_status(),
        any::<[bool; 4]>(),
        prop::option::of(0i64..10_000),
    )
        .prop_map(
            |(id, status, [child, elderly, disability, medical], contact)| PersonState {
                subscriber_id: SubscriberId(uuid::Uuid::from_u128(id)),
                status,
                last_contact: contact.map(Timestamp::from_unix_ms),
                position: None,
                battery_pct: None,
                people: None,
                vulnerability: Vulnerability {
                    child,
                    elderly,
                    disability,
                    medical,
                },
            },
        )
}

proptest! {
    #[test]
    fn triage_holds_exactly_the_needy_in_rescue_order(persons in prop::collection::vec(arb_person(), 0..40)) {
        let queue = triage(&persons, Timestamp::from_unix_ms(20_000), 1_000);
        prop_assert_eq!(queue.len(), persons.iter().filter(|p| p.status.in_need()).count());
        for (i, e) in queue.iter().enumerate() {
            prop_assert_eq!(e.rank, i + 1);
            prop_assert!(e.person.status.in_need());
        }
        for pair in queue.windows(2) {
            let (a, b) = (&pair[0].person, &pair[1].person);
            let (ua, ub) = (a.status.urgency().unwrap(), b.status.urgency().unwrap());
            prop_assert!(ua <= ub, "trapped, then injured, then need_help");
            if ua == ub {
                let (va, vb) = (a.vulnerability.score(), b.vulnerability.score());
                prop_assert!(va >= vb, "the more vulnerable first");
                if va == vb {
                    let (ca, cb) = (a.last_contact.map_or(i64::MIN, Timestamp::as_unix_ms),
                                    b.last_contact.map_or(i64::MIN, Timestamp::as_unix_ms));
                    prop_assert!(ca <= cb, "the longest silent first");
                }
            }
        }
    }

    #[test]
    fn point_in_rectangle_with_hole(
        lon in 126.0f64..128.0, lat in 37.0f64..38.0,
        w in 0.01f64..0.5, h in 0.01f64..0.5,
        px in 125.5f64..128.5, py in 36.5f64..38.5,
    ) {
        let outer = rect(lon, lat, lon + w, lat + h);
        // The hole: the middle third.
        let hole = rect(lon + w / 3.0, lat + h / 3.0, lon + 2.0 * w / 3.0, lat + 2.0 * h / 3.0);
        let area = DisasterArea::new(vec![vec![outer, hole]]).unwrap();
        let margin = 1e-9;
        let near = |v: f64, edge: f64| (v - edge).abs() < margin;
        prop_assume!(![lon, lon + w, lon + w / 3.0, lon + 2.0 * w / 3.0].iter().any(|&e| near(px, e)));
        prop_assume!(![lat, lat + h, lat + h / 3.0, lat + 2.0 * h / 3.0].iter().any(|&e| near(py, e)));
        let in_outer = px > lon && px < lon + w && py > lat && py < lat + h;
        let in_hole = px > lon + w / 3.0 && px < lon + 2.0 * w / 3.0 && py > lat + h / 3.0 && py < lat + 2.0 * h / 3.0;
        prop_assert_eq!(area.contains(c(py, px)), in_outer && !in_hole);
    }
}
