//! jikimi-roads: road travel times over an OpenStreetMap network, for dispatch.
//!
//! Pipeline: [`import`] reads a PBF into road [`import::Segment`]s under the rules in [`profile`];
//! [`network::RoadNetwork::build`] orders and contracts one metric-independent customisable hierarchy
//! ([`cch`]), customises it per [`Metric`] into a queryable [`ch::Ch`], and indexes segments for
//! snapping; the result is saved as a versioned, checksummed `.roads` file that the
//! server loads at start. Queries: [`RoadNetwork::route`] (one-to-one),
//! [`RoadNetwork::many_to_one`] (units to an incident, bucket many-to-many),
//! [`RoadNetwork::matrix`]. Road closures ([`closure`]) update the customisation incrementally
//! ([`partial`]: only the hierarchy edges a changed segment can affect) in place of re-importing:
//! [`RoadNetwork::set_closed_segments`]. The core does no I/O except `load`/`save`/import; [`cli`] is the edge.
//!
//! Architecture Invariant: this crate knows nothing of incidents, units, the store, HTTP or async; it answers
//! coordinate-to-coordinate questions, and the server adapts [`RoadNetwork::many_to_one`] into `respond`'s
//! `EtaProvider` (`jikimi_server::road_eta`).
//!
//! Architecture Invariant: query results equal plain Dijkstra on the same graph (property tests in
//! `tests/it/property.rs`, with closures in `tests/it/closures.rs`: the graph without the closed
//! segments). `fast_paths` (pinned with `=`) still builds classic hierarchies for the benchmark's
//! "full re-preprocessing" baseline and its tests. Bad input (PBF, `.roads` file,
//! coordinates, off-road points) becomes a [`RoadsError`], never a panic (`tests/it/errors.rs`).
//!
//! Map data © OpenStreetMap contributors (ODbL 1.0).

pub mod area;
pub mod bench;
pub mod bench_closures;
pub mod cch;
pub mod ch;
pub mod cli;
pub mod closure;
pub mod geo;
pub mod graph;
pub mod import;
pub mod lines;
mod nd;
pub mod network;
pub mod partial;
pub mod profile;

pub use area::{Area, Polygon};
pub use geo::LatLon;
pub use graph::Metric;
pub use lines::RoadLine;
pub use network::{RoadNetwork, Route, RouteResult, Snap};
pub use profile::Profile;

/// Everything that can go wrong in this crate; all variants are safe to show to an operator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoadsError {
    #[error("coordinate out of range: lat {lat}, lon {lon} (need -90..=90, -180..=180, finite)")]
    CoordinateOutOfRange { lat: f64, lon: f64 },
    #[error(
        "point ({lat}, {lon}) is {distance_m:.0} m from the nearest drivable road (limit {limit_m:.0} m)"
    )]
    OffRoad {
        lat: f64,
        lon: f64,
        distance_m: f64,
        limit_m: f64,
    },
    #[error("the PBF contains no OpenStreetMap elements (empty file?)")]
    EmptyPbf,
    #[error("no drivable roads found in the input")]
    NoRoads,
    #[error("cannot read OpenStreetMap PBF: {0}")]
    Pbf(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("corrupt .roads file: {0}")]
    CorruptFile(String),
    #[error(
        ".roads file format version {found} is not supported (expected {expected}); re-run `jikimi roads import`"
    )]
    UnsupportedVersion { found: u32, expected: u32 },
    #[error("no road segment {segment} (the network has {segments})")]
    UnknownSegment { segment: u32, segments: usize },
    #[error("invalid area: {0}")]
    InvalidArea(String),
    #[error("road network too large for 32-bit ids/weights")]
    TooLarge,
    #[error("internal error: {0}")]
    Internal(String),
}
