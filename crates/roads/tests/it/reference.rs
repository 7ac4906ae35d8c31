//! The 50 reference pairs of central Helsinki: `--metric distance` must match `length_m`.

use jikimi_roads::{LatLon, Metric};
use serde::Deserialize;

use crate::common::{helsinki, shared};

#[derive(Deserialize)]
struct Pair {
    from_lat: f64,
    from_lon: f64,
    to_lat: f64,
    to_lon: f64,
    length_m: f64,
}

fn pairs() -> Vec<Pair> {
    let path = shared().join("reference/roads/helsinki_pairs.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn graph_counts_match_reference_rules() {
    let g = helsinki().graph();
    assert_eq!(g.drivable_ways, 754);
    assert_eq!(g.coords.len(), 1437);
    assert_eq!(g.refs_without_coords, 109);
    let directed: usize = g
        .segments
        .iter()
        .map(|s| usize::from(s.forward) + usize::from(s.backward))
        .sum();
    // 2 126 distinct directed edges in the reference; parallel segments collapse there.
    assert!(directed >= 2126, "{directed}");
}

#[test]
fn distance_metric_matches_reference_lengths() {
    let net = helsinki();
    let pairs = pairs();
    assert_eq!(pairs.len(), 50);
    let mut worst: f64 = 0.0;
    for (i, p) in pairs.iter().enumerate() {
        let from = LatLon::new(p.from_lat, p.from_lon).unwrap_or_else(|e| panic!("{e}"));
        let to = LatLon::new(p.to_lat, p.to_lon).unwrap_or_else(|e| panic!("{e}"));
        let route = net.route(from, to, Metric::Distance);
        let Ok(Some(r)) = route else {
            panic!("pair {i}: {route:?}")
        };
        let rel = (r.length_m - p.length_m).abs() / p.length_m;
        worst = worst.max(rel);
        assert!(rel < 0.005, "pair {i}: {} vs {}", r.length_m, p.length_m);
        assert!(
            r.snap_from_m < 0.05 && r.snap_to_m < 0.05,
            "pair {i} snapped {r:?}"
        );
        assert!(r.duration_s > 0.0);
    }
    // Same rules as the reference: far tighter than the 0.5 % acceptance.
    assert!(worst < 1e-4, "worst relative error {worst}");
}

#[test]
fn time_metric_is_never_shorter_in_time_than_distance_metric() {
    let net = helsinki();
    for p in pairs().iter().take(20) {
        let from = LatLon {
            lat: p.from_lat,
            lon: p.from_lon,
        };
        let to = LatLon {
            lat: p.to_lat,
            lon: p.to_lon,
        };
        let (Ok(Some(t)), Ok(Some(d))) = (
            net.route(from, to, Metric::Time),
            net.route(from, to, Metric::Distance),
        ) else {
            panic!("unroutable reference pair")
        };
        assert!(t.duration_s <= d.duration_s + 1e-3);
        assert!(d.length_m <= t.length_m + 1e-3);
    }
}
