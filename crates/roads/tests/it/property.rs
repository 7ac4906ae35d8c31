//! Property: on real extracts, the contraction hierarchy returns exactly what plain Dijkstra returns
//! on the same graph, for one-to-one and for the bucket many-to-one used by dispatch.

use jikimi_roads::{LatLon, Metric, RoadNetwork, RouteResult};
use proptest::prelude::*;

use crate::common::{helsinki, kotka};

/// Primary cost of a result in integer milli-units (exact comparison), or None.
fn key(r: &RouteResult, m: Metric) -> Option<i64> {
    let r = r.as_ref().ok().copied().flatten()?;
    let v = match m {
        Metric::Time => r.duration_s,
        Metric::Distance => r.length_m,
    };
    Some((v * 1000.0).round() as i64)
}

fn point(net: &RoadNetwork, i: usize, dlat: f64, dlon: f64) -> LatLon {
    let c = net.graph().coords[i % net.num_nodes()];
    LatLon {
        lat: c.lat + dlat,
        lon: c.lon + dlon,
    }
}

fn metric() -> impl Strategy<Value = Metric> {
    prop_oneof![Just(Metric::Time), Just(Metric::Distance)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn ch_equals_dijkstra_on_nodes(a in 0usize..100_000, b in 0usize..100_000, m in metric()) {
        for net in [helsinki(), kotka()] {
            let (f, t) = (point(net, a, 0.0, 0.0), point(net, b, 0.0, 0.0));
            let ch = net.route(f, t, m);
            let dj = net.route_dijkstra(f, t, m);
            prop_assert!(ch.is_ok() && dj.is_ok());
            prop_assert_eq!(key(&ch, m), key(&dj, m));
        }
    }

    #[test]
    fn ch_equals_dijkstra_between_roads(
        a in 0usize..100_000, b in 0usize..100_000,
        dl in -3e-4f64..3e-4, dn in -3e-4f64..3e-4, m in metric(),
    ) {
        // Points up to ~35 m off a node: they snap onto segments, exercising partial-segment seeds.
        let net = helsinki();
        let (f, t) = (point(net, a, dl, dn), point(net, b, dn, dl));
        prop_assert_eq!(key(&net.route(f, t, m), m), key(&net.route_dijkstra(f, t, m), m));
    }

    #[test]
    fn bucket_many_to_one_equals_dijkstra(
        target in 0usize..100_000,
        units in proptest::collection::vec((0usize..100_000, -2e-4f64..2e-4), 1..60),
        m in metric(),
    ) {
        let net = helsinki();
        let inc = point(net, target, 0.0, 0.0);
        let pts: Vec<LatLon> = units.iter().map(|&(i, d)| point(net, i, d, -d)).collect();
        let bucket = net.many_to_one(&pts, inc, m);
        let base = net.many_to_one_dijkstra(&pts, inc, m);
        prop_assert_eq!(bucket.len(), pts.len());
        for (i, (x, y)) in bucket.iter().zip(&base).enumerate() {
            prop_assert_eq!(key(x, m), key(y, m), "unit {}", i);
            // and the same as a one-to-one query in the dispatch direction (unit -> incident)
            prop_assert_eq!(key(x, m), key(&net.route(pts[i], inc, m), m), "unit {} one-to-one", i);
        }
    }
}
