//! Fuzz target: arbitrary bytes as a `.roads` file. Must be rejected cleanly or load consistently.
#![no_main]

use jikimi_roads::{Metric, RoadNetwork};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(net) = RoadNetwork::from_bytes(data)
        && net.num_nodes() > 0
    {
        let a = net.graph().coords[0];
        let _ = net.route(a, a, Metric::Time);
    }
});
