//! One-way semantics on hand-made networks (the Helsinki extract has no `oneway=-1`, roundabout or
//! motorway): dispatch travel is from each unit TO the incident.

use jikimi_roads::geo::haversine_m;
use jikimi_roads::import::{RoadGraph, Segment};
use jikimi_roads::{LatLon, Metric, Profile, RoadNetwork};

/// A — B — C on a meridian, ~111 m apart; A→B one-way, B—C two-way; D isolated pair D→E one-way.
fn network() -> (RoadNetwork, [LatLon; 5]) {
    let p = |lat: f64, lon: f64| LatLon { lat, lon };
    let pts = [
        p(60.0, 24.0),
        p(60.001, 24.0),
        p(60.002, 24.0),
        p(60.0, 24.01),
        p(60.001, 24.01),
    ];
    let seg = |a: u32, b: u32, forward, backward| {
        let length_m = haversine_m(pts[a as usize], pts[b as usize]);
        Segment {
            a,
            b,
            forward,
            backward,
            length_m,
            duration_s: length_m / (36.0 / 3.6),
        }
    };
    let graph = RoadGraph {
        coords: pts.to_vec(),
        osm_ids: vec![1, 2, 3, 4, 5],
        segments: vec![
            seg(0, 1, true, false),
            seg(1, 2, true, true),
            seg(3, 4, true, false),
        ],
        drivable_ways: 3,
        refs_without_coords: 0,
    };
    let net = RoadNetwork::build(graph, Profile::Civilian).unwrap_or_else(|e| panic!("{e}"));
    (net, pts)
}

#[test]
fn one_way_is_honoured_in_the_dispatch_direction() {
    let (net, [a, b, c, d, e]) = network();
    let len =
        |r: jikimi_roads::RouteResult| r.ok().flatten().map(|r| (r.length_m * 10.0).round() / 10.0);
    // A unit at A can reach an incident at C (with the one-way), not the other way round.
    assert_eq!(len(net.route(a, c, Metric::Distance)), Some(222.4));
    assert_eq!(len(net.route(c, a, Metric::Distance)), None);
    // Many-to-one: units at A, C, D towards an incident at A.
    let r = net.many_to_one(&[a, c, d], a, Metric::Distance);
    assert_eq!(
        r.into_iter().map(len).collect::<Vec<_>>(),
        vec![Some(0.0), None, None]
    );
    // Towards an incident at B: both A (with the flow) and C (two-way) arrive; D is on an island.
    let r = net.many_to_one(&[a, c, d, e], b, Metric::Time);
    let got: Vec<Option<f64>> = r.into_iter().map(len).collect();
    assert!(
        got[0].is_some() && got[1].is_some() && got[2].is_none() && got[3].is_none(),
        "{got:?}"
    );
}

#[test]
fn mid_segment_points_respect_direction() {
    let (net, [a, b, ..]) = network();
    let mid = LatLon {
        lat: (a.lat + b.lat) / 2.0,
        lon: a.lon,
    };
    // From the middle of the one-way A→B you can reach B (half the segment) but never A.
    let half = net
        .route(mid, b, Metric::Distance)
        .ok()
        .flatten()
        .map(|r| r.length_m);
    assert!(half.is_some_and(|h| (h - 55.6).abs() < 0.2), "{half:?}");
    assert_eq!(net.route(mid, a, Metric::Distance).ok().flatten(), None);
    // Travelling within the segment against the flow is unreachable, with the flow it is direct.
    let q = LatLon {
        lat: a.lat + 0.25 * (b.lat - a.lat),
        lon: a.lon,
    };
    assert!(net.route(q, mid, Metric::Distance).ok().flatten().is_some());
    assert_eq!(net.route(mid, q, Metric::Distance).ok().flatten(), None);
    // The one-to-many direction (from one origin) is the mirror image.
    let r = net.one_to_many(a, &[b, mid], Metric::Distance);
    assert!(r.iter().all(|x| matches!(x, Ok(Some(_)))));
}

/// `tests/data/tiny.osm.pbf` (written by `fuzz/make_seed.py`): nodes 1–5; way 10 residential
/// 1-2-3 two-way; way 11 primary 3-4 `oneway=-1` `maxspeed=40`; way 12 tertiary roundabout
/// 4-5-1-4; way 13 footway 2-5 (not drivable).
#[test]
fn import_honours_reverse_oneway_roundabout_and_maxspeed() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.osm.pbf");
    let net = RoadNetwork::from_pbf(std::path::Path::new(path), Profile::Civilian)
        .unwrap_or_else(|e| panic!("{e}"));
    let g = net.graph();
    assert_eq!(
        (g.drivable_ways, g.coords.len(), g.segments.len()),
        (3, 5, 6)
    );
    let node = |osm: i64| {
        let i = g
            .osm_ids
            .iter()
            .position(|&x| x == osm)
            .unwrap_or_else(|| panic!("node {osm}"));
        g.coords[i]
    };
    let d = |a: i64, b: i64| haversine_m(node(a), node(b));
    let length = |a: i64, b: i64| {
        net.route(node(a), node(b), Metric::Distance)
            .ok()
            .flatten()
            .map(|r| r.length_m)
    };
    // oneway=-1: 4 -> 3 directly, at 40 km/h.
    let direct = net.route(node(4), node(3), Metric::Time).ok().flatten();
    let Some(direct) = direct else {
        panic!("4 -> 3 unreachable")
    };
    assert!((direct.length_m - d(4, 3)).abs() < 0.01);
    assert!((direct.duration_s - d(4, 3) / (40.0 / 3.6)).abs() < 0.01);
    // 3 -> 4 must go round: 3-2-1, then the roundabout 1 -> 4.
    let round = length(3, 4).unwrap_or(f64::NAN);
    assert!(
        (round - (d(3, 2) + d(2, 1) + d(1, 4))).abs() < 0.01,
        "{round}"
    );
    // Roundabout is one-way: 1 -> 5 goes 1 -> 4 -> 5, not directly against the flow.
    let r15 = length(1, 5).unwrap_or(f64::NAN);
    assert!((r15 - (d(1, 4) + d(4, 5))).abs() < 0.01, "{r15}");
    // The footway 2-5 is not used: 2 -> 5 goes 2-1-4-5.
    let r25 = length(2, 5).unwrap_or(f64::NAN);
    assert!((r25 - (d(2, 1) + d(1, 4) + d(4, 5))).abs() < 0.01, "{r25}");
}
