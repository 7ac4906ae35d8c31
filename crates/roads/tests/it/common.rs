//! Shared fixtures: locating `shared/` and building each extract's network once per test binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use jikimi_roads::{Profile, RoadNetwork};

pub fn shared() -> PathBuf {
    std::env::var("JIKIMI_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

fn build(name: &str) -> RoadNetwork {
    let path = shared().join("data/osm").join(name);
    match RoadNetwork::from_pbf(&path, Profile::Civilian) {
        Ok(n) => n,
        Err(e) => panic!("importing {}: {e}", path.display()),
    }
}

pub fn helsinki() -> &'static RoadNetwork {
    static NET: OnceLock<RoadNetwork> = OnceLock::new();
    NET.get_or_init(|| build("helsinki.osm.pbf"))
}

pub fn kotka() -> &'static RoadNetwork {
    static NET: OnceLock<RoadNetwork> = OnceLock::new();
    NET.get_or_init(|| build("test.osm.pbf"))
}
