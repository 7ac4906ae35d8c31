//! The demo's city: central Helsinki from the shipped OpenStreetMap extract (`data/helsinki.osm.pbf`, embedded so
//! `cargo run --release -- demo` works from any directory). The extract is imported once into the demo directory
//! as a `.roads` file the server loads, and the simulated units and alerts are snapped onto its roads.
//!
//! Map data © OpenStreetMap contributors, ODbL 1.0.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use jikimi_roads::{LatLon, Metric, Profile, RoadNetwork};

/// The shipped extract (685 KB).
pub const HELSINKI_PBF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/helsinki.osm.pbf"
));

/// Centre of the extract (between the Esplanadi and the Central Station).
pub const CENTRE: (f64, f64) = (60.1716, 24.9443);

static NETWORK: OnceLock<RoadNetwork> = OnceLock::new();

/// Imports the embedded extract (emergency profile), writes `helsinki.roads` into `dir` for the server to load, and
/// keeps the network for snapping the simulation. Returns the file's path.
pub fn prepare(dir: &Path) -> anyhow::Result<PathBuf> {
    let graph = jikimi_roads::import::import_bytes(HELSINKI_PBF, Profile::Emergency)
        .context("importing the embedded Helsinki extract")?;
    let network = RoadNetwork::build(graph, Profile::Emergency)
        .context("preprocessing the Helsinki road network")?;
    let path = dir.join("helsinki.roads");
    network
        .save(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let _ = NETWORK.set(network);
    Ok(path)
}

/// The nearest point on a drivable road that the rest of the city can reach and be reached from (unchanged if the
/// network is not prepared).
///
/// A cropped extract leaves dead-end fragments at its edges and in one-way pockets; a simulated unit or alert placed
/// there would be unreachable by road, so the point is walked towards the centre until it lands on the main network.
pub fn on_road((lat, lon): (f64, f64)) -> (f64, f64) {
    let Some(network) = NETWORK.get() else {
        return (lat, lon);
    };
    let snap = |p: LatLon| network.nearest(p).ok().map(|s| s.point);
    let Some(hub) = snap(LatLon {
        lat: CENTRE.0,
        lon: CENTRE.1,
    }) else {
        return (lat, lon);
    };
    let connected = |p: LatLon| {
        matches!(network.route(p, hub, Metric::Time), Ok(Some(_)))
            && matches!(network.route(hub, p, Metric::Time), Ok(Some(_)))
    };
    for step in 0..=10 {
        let t = f64::from(step) / 10.0;
        let candidate = LatLon {
            lat: lat + (CENTRE.0 - lat) * t,
            lon: lon + (CENTRE.1 - lon) * t,
        };
        if let Some(point) = snap(candidate).filter(|p| connected(*p)) {
            return (point.lat, point.lon);
        }
    }
    (hub.lat, hub.lon)
}
