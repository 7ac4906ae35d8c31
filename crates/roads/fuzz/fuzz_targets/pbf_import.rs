//! Fuzz target: arbitrary bytes through the PBF importer and, when it yields roads, preprocessing
//! and a query. Must never panic (libFuzzer's panic hook aborts, so the importer's `catch_unwind`
//! guard does not hide decoder panics from the fuzzer).
#![no_main]

use jikimi_roads::{LatLon, Metric, Profile, RoadNetwork};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(graph) = jikimi_roads::import::import_bytes(data, Profile::Civilian)
        && graph.coords.len() < 10_000
        && let Ok(net) = RoadNetwork::build(graph, Profile::Emergency)
    {
        let a = net.graph().coords[0];
        let b = net.graph().coords[net.num_nodes() - 1];
        let _ = net.route(a, b, Metric::Time);
        let _ = net.many_to_one(&[a, b, LatLon { lat: 0.0, lon: 0.0 }], b, Metric::Distance);
    }
});
