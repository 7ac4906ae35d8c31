//! Error paths: corrupt or empty PBF, corrupt `.roads` files, out-of-range and off-road points.

use jikimi_roads::import::import_bytes;
use jikimi_roads::network::{FORMAT_VERSION, MAGIC};
use jikimi_roads::{LatLon, Metric, Profile, RoadNetwork, RoadsError};

use crate::common::{helsinki, shared};

#[test]
fn empty_pbf_is_reported_as_empty() {
    assert_eq!(
        import_bytes(&[], Profile::Civilian).err(),
        Some(RoadsError::EmptyPbf)
    );
}

#[test]
fn corrupt_pbf_is_a_clean_error() {
    let path = shared().join("data/osm/helsinki.osm.pbf");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    // Truncated in the middle of a block, and garbage in the middle of the file.
    let truncated = &bytes[..bytes.len() / 2];
    assert!(matches!(
        import_bytes(truncated, Profile::Civilian),
        Err(RoadsError::Pbf(_))
    ));
    let mut mangled = bytes.clone();
    for b in &mut mangled[20_000..20_400] {
        *b ^= 0x5A;
    }
    assert!(import_bytes(&mangled, Profile::Civilian).is_err());
    // A valid PBF without roads (header only would do; the first block alone is the header).
    assert!(import_bytes(b"not a pbf at all", Profile::Civilian).is_err());
}

#[test]
fn missing_file_names_the_path() {
    match RoadNetwork::from_pbf(
        std::path::Path::new("/nonexistent/x.osm.pbf"),
        Profile::Civilian,
    ) {
        Err(e) => assert!(e.to_string().contains("/nonexistent/x.osm.pbf"), "{e}"),
        Ok(n) => panic!("imported a missing file: {n:?}"),
    }
}

#[test]
fn roads_file_round_trips_and_rejects_corruption() {
    let net = helsinki();
    let dir = std::env::temp_dir().join(format!("jikimi-roads-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("h.roads");
    net.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let loaded = RoadNetwork::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (net.graph().coords[3], net.graph().coords[900]);
    assert_eq!(
        loaded.route(a, b, Metric::Time),
        net.route(a, b, Metric::Time)
    );

    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(&bytes[..8], MAGIC);
    let corrupt = |b: &[u8]| matches!(RoadNetwork::from_bytes(b), Err(RoadsError::CorruptFile(_)));
    assert!(corrupt(&[]));
    assert!(corrupt(b"JKMROAD"));
    assert!(corrupt(&bytes[..bytes.len() - 1]));
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    assert!(corrupt(&flipped));
    let mut other = bytes.clone();
    other[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert!(matches!(
        RoadNetwork::from_bytes(&other),
        Err(RoadsError::UnsupportedVersion { .. })
    ));
}

#[test]
fn out_of_range_coordinates_are_rejected() {
    let net = helsinki();
    let ok = net.graph().coords[0];
    for bad in [
        LatLon {
            lat: 91.0,
            lon: 24.9,
        },
        LatLon {
            lat: 60.0,
            lon: 180.5,
        },
        LatLon {
            lat: f64::NAN,
            lon: 24.9,
        },
        LatLon {
            lat: 60.0,
            lon: f64::INFINITY,
        },
    ] {
        assert!(matches!(
            net.route(bad, ok, Metric::Time),
            Err(RoadsError::CoordinateOutOfRange { .. })
        ));
        assert!(matches!(
            net.route(ok, bad, Metric::Time),
            Err(RoadsError::CoordinateOutOfRange { .. })
        ));
        assert!(matches!(
            net.snap(bad),
            Err(RoadsError::CoordinateOutOfRange { .. })
        ));
    }
    assert!(LatLon::new(-90.0, -180.0).is_ok());
}

#[test]
fn far_point_is_flagged_not_snapped() {
    let net = helsinki();
    let on_road = net.graph().coords[10];
    // ~5.5 km south of the extract, in the sea.
    let far = LatLon {
        lat: 60.12,
        lon: 24.94,
    };
    let snap = net.nearest(far).unwrap_or_else(|e| panic!("{e}"));
    assert!(snap.distance_m > 4000.0, "{snap:?}");
    match net.route(far, on_road, Metric::Time) {
        Err(RoadsError::OffRoad {
            distance_m,
            limit_m,
            ..
        }) => {
            assert!(distance_m > limit_m);
            assert!((distance_m - snap.distance_m).abs() < 1e-6);
        }
        other => panic!("expected OffRoad, got {other:?}"),
    }
    // In batch queries only that unit is flagged; the others still get an ETA.
    let r = net.many_to_one(&[on_road, far], net.graph().coords[20], Metric::Time);
    assert!(matches!(r[0], Ok(Some(_))));
    assert!(matches!(r[1], Err(RoadsError::OffRoad { .. })));
    // The limit is configurable.
    let lenient = RoadNetwork::from_bytes(&to_bytes(net)).map(|n| n.with_snap_limit_m(10_000.0));
    let lenient = lenient.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        lenient.route(far, on_road, Metric::Time),
        Ok(Some(_))
    ));
}

#[test]
fn near_point_reports_snap_distance() {
    let net = helsinki();
    let c = net.graph().coords[100];
    // ~11 m north of a road node: snapped, with a distance of at most that.
    let p = LatLon {
        lat: c.lat + 1e-4,
        lon: c.lon,
    };
    let s = net.snap(p).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.distance_m <= 11.2 && s.distance_m >= 0.0, "{s:?}");
}

fn to_bytes(net: &RoadNetwork) -> Vec<u8> {
    let path =
        std::env::temp_dir().join(format!("jikimi-roads-bytes-{}.roads", std::process::id()));
    net.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(&path).ok();
    b
}

#[test]
fn decoder_panic_on_crafted_pbf_becomes_an_error() {
    // Found by `cargo fuzz run pbf_import` (crates/roads/fuzz): osmpbf 0.3.8 multiplies a dense
    // node's coordinate by the block granularity without overflow check (dense.rs:42). With overflow
    // checks on (debug builds) that panics inside the decoder; the importer turns it into an error.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fuzz-dense-overflow.osm.pbf"
    );
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        import_bytes(&bytes, Profile::Civilian),
        Err(RoadsError::Pbf(_))
    ));
}
