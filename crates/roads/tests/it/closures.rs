//! Road closures: closure-aware queries equal plain Dijkstra on the graph without the closed segments
//! (property, on random road-like graphs and on the Helsinki extract), areas close what runs through
//! them, and reopening restores the original routes exactly.

use std::path::Path;

use jikimi_roads::geo::haversine_m;
use jikimi_roads::import::{RoadGraph, Segment};
use jikimi_roads::{Area, LatLon, Metric, Polygon, Profile, RoadNetwork, RouteResult};
use proptest::prelude::*;

use crate::common::shared;

fn key(r: &RouteResult, m: Metric) -> Option<i64> {
    let r = r.as_ref().ok().copied().flatten()?;
    let v = match m {
        Metric::Time => r.duration_s,
        Metric::Distance => r.length_m,
    };
    Some((v * 1000.0).round() as i64)
}

/// A jittered side×side street grid near Helsinki, ~100 m blocks, some one-way streets.
fn grid(side: u32, jitter: &[(f64, f64)], oneway: &[u8]) -> RoadGraph {
    let coords: Vec<LatLon> = (0..side * side)
        .map(|i| {
            let (dx, dy) = jitter[i as usize % jitter.len()];
            LatLon {
                lat: 60.17 + f64::from(i / side) * 0.0009 + dy * 0.0003,
                lon: 24.94 + f64::from(i % side) * 0.0018 + dx * 0.0006,
            }
        })
        .collect();
    let mut segments = Vec::new();
    for r in 0..side {
        for c in 0..side {
            for (r2, c2) in [(r, c + 1), (r + 1, c)] {
                if r2 >= side || c2 >= side {
                    continue;
                }
                let (a, b) = (r * side + c, r2 * side + c2);
                let length_m = haversine_m(coords[a as usize], coords[b as usize]);
                let kind = oneway[segments.len() % oneway.len()] % 5;
                segments.push(Segment {
                    a,
                    b,
                    forward: kind != 3,
                    backward: kind != 4,
                    length_m,
                    duration_s: length_m / if kind == 0 { 16.7 } else { 8.3 },
                });
            }
        }
    }
    RoadGraph::synthetic(coords, segments)
}

fn build(g: RoadGraph) -> RoadNetwork {
    RoadNetwork::build(g, Profile::Civilian).unwrap_or_else(|e| panic!("{e}"))
}

fn metric() -> impl Strategy<Value = Metric> {
    prop_oneof![Just(Metric::Time), Just(Metric::Distance)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn closure_aware_etas_equal_dijkstra_without_the_closed_segments(
        side in 3u32..9,
        jitter in proptest::collection::vec((-1.0f64..1.0, -1.0f64..1.0), 1..30),
        oneway in proptest::collection::vec(0u8..255, 1..30),
        closed_pick in proptest::collection::vec(0usize..10_000, 0..40),
        target in 0usize..10_000,
        m in metric(),
    ) {
        let g = grid(side, &jitter, &oneway);
        let net = build(g.clone());
        let mut closed: Vec<u32> = closed_pick.iter().map(|&i| (i % g.segments.len()) as u32).collect();
        closed.sort_unstable();
        closed.dedup();
        let before: Vec<_> = {
            let inc = g.coords[target % g.coords.len()];
            net.many_to_one(&g.coords, inc, m).iter().map(|r| key(r, m)).collect()
        };
        prop_assert_eq!(net.set_closed_segments(&closed), Ok(closed.len()));
        prop_assert_eq!(net.closed_segments(), closed.clone());
        // The oracle: the same graph with the closed segments removed, preprocessed from scratch.
        let mut without = g.clone();
        without.segments = g.segments.iter().enumerate()
            .filter(|(i, _)| closed.binary_search(&(*i as u32)).is_err())
            .map(|(_, s)| *s)
            .collect();
        let inc = g.coords[target % g.coords.len()];
        if without.segments.is_empty() {
            // Nothing open: every point is off the (empty) network.
            prop_assert!(net.many_to_one(&g.coords, inc, m).iter().all(|r| r.is_err()));
        } else {
            let oracle = build(without);
            let got = net.many_to_one(&g.coords, inc, m);
            let plain = net.many_to_one_dijkstra(&g.coords, inc, m);
            let want = oracle.many_to_one_dijkstra(&g.coords, inc, m);
            for (i, ((x, y), z)) in got.iter().zip(&plain).zip(&want).enumerate() {
                prop_assert_eq!(key(x, m), key(z, m), "node {} vs rebuilt graph", i);
                prop_assert_eq!(key(x, m), key(y, m), "node {} vs Dijkstra here", i);
            }
        }
        // Reopening everything restores the original answers exactly.
        prop_assert_eq!(net.set_closed_segments(&[]), Ok(0));
        let after: Vec<_> = net.many_to_one(&g.coords, inc, m).iter().map(|r| key(r, m)).collect();
        prop_assert_eq!(after, before);
    }
}

#[test]
fn unknown_segment_is_refused_and_changes_nothing() {
    let net = build(grid(3, &[(0.0, 0.0)], &[1]));
    assert!(net.set_closed_segments(&[0]).is_ok());
    assert!(net.set_closed_segments(&[1, 10_000]).is_err());
    assert_eq!(net.closed_segments(), vec![0]);
}

/// A square of about `half_m` metres around `c`.
fn square(c: LatLon, half_m: f64) -> Area {
    let (dlat, dlon) = (
        half_m / 111_195.0,
        half_m / (111_195.0 * c.lat.to_radians().cos()),
    );
    let p = |a: f64, b: f64| LatLon {
        lat: c.lat + a * dlat,
        lon: c.lon + b * dlon,
    };
    Area::new(vec![Polygon {
        exterior: vec![
            p(-1.0, -1.0),
            p(-1.0, 1.0),
            p(1.0, 1.0),
            p(1.0, -1.0),
            p(-1.0, -1.0),
        ],
        holes: vec![],
    }])
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn helsinki_area_closure_changes_routes_and_reopening_restores_them() {
    let path = shared().join("data/osm/helsinki.osm.pbf");
    let net = RoadNetwork::from_pbf(Path::new(&path), Profile::Civilian)
        .unwrap_or_else(|e| panic!("{e}"));
    let coords = net.graph().coords.clone();
    let n = coords.len();
    let nearest_node = |p: LatLon| {
        coords
            .iter()
            .copied()
            .min_by(|a, b| haversine_m(*a, p).total_cmp(&haversine_m(*b, p)))
            .unwrap_or(p)
    };
    // A 400 m block at the extract's centroid, and the incident 700 m away from it (in the direction most units
    // reach): routes from units spread over the extract cross the centre.
    let centroid = coords
        .iter()
        .fold(LatLon { lat: 0.0, lon: 0.0 }, |a, c| LatLon {
            lat: a.lat + c.lat / n as f64,
            lon: a.lon + c.lon / n as f64,
        });
    let centre = nearest_node(centroid);
    let units: Vec<LatLon> = (0..80).map(|i| coords[(i * 7919 + 13) % n]).collect();
    let m = Metric::Time;
    let reachable = |inc: LatLon| {
        net.many_to_one(&units, inc, m)
            .iter()
            .filter(|r| key(r, m).is_some())
            .count()
    };
    let (dlat, dlon) = (
        700.0 / 111_195.0,
        700.0 / (111_195.0 * centre.lat.to_radians().cos()),
    );
    let incident = [(0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (-1.0, 0.0)]
        .iter()
        .map(|&(a, b)| {
            nearest_node(LatLon {
                lat: centre.lat + a * dlat,
                lon: centre.lon + b * dlon,
            })
        })
        .max_by_key(|&p| reachable(p))
        .unwrap_or(centre);
    assert!(reachable(incident) > 40, "an incident most units reach");
    let before: Vec<_> = net
        .many_to_one(&units, incident, m)
        .iter()
        .map(|r| key(r, m))
        .collect();
    let area = square(centre, 200.0);
    let inside = net.segments_in_area(&area);
    assert!(inside.len() > 10, "{} segments in the area", inside.len());
    for &s in &inside {
        let seg = net.graph().segments[s as usize];
        let (a, b) = (coords[seg.a as usize], coords[seg.b as usize]);
        let near = |p: LatLon| haversine_m(p, centre) < 300.0;
        assert!(near(a) || near(b), "segment {s} is far from the area");
    }
    // Units standing on a closed road snap to another one (their off-road leg is not in the ETA), so only
    // units on open roads are held to "never shorter".
    let on_open: Vec<bool> = units
        .iter()
        .map(|&u| {
            net.snap(u)
                .is_ok_and(|s| inside.binary_search(&s.segment).is_err())
        })
        .collect();
    assert_eq!(net.set_closed_segments(&inside), Ok(inside.len()));
    let closed = net.many_to_one(&units, incident, m);
    let plain = net.many_to_one_dijkstra(&units, incident, m);
    let mut longer = 0;
    for (((x, y), b), open) in closed.iter().zip(&plain).zip(&before).zip(&on_open) {
        assert_eq!(
            key(x, m),
            key(y, m),
            "closure-aware hierarchy equals Dijkstra"
        );
        match (key(x, m), b) {
            (Some(_), Some(_)) if !open => {}
            (Some(now), Some(was)) => {
                assert!(now >= *was, "a closure never makes a route shorter");
                longer += usize::from(now > *was);
            }
            (None, _) | (_, None) => longer += usize::from(b.is_some()),
        }
    }
    assert!(longer > 0, "some route went through the closed block");
    // Snapping avoids closed roads: a point in the middle of the block snaps outside it.
    if let Ok(s) = net.snap(centre) {
        assert!(inside.binary_search(&s.segment).is_err());
    }
    assert_eq!(net.set_closed_segments(&[]), Ok(0));
    let after: Vec<_> = net
        .many_to_one(&units, incident, m)
        .iter()
        .map(|r| key(r, m))
        .collect();
    assert_eq!(after, before, "reopening restores the original routes");
}
