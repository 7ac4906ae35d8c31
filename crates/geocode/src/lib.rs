//! jikimi-geocode: civic addresses from OpenStreetMap, offline.
//!
//! [`import`] reads a PBF into [`AddressData`]: every addressed feature (`addr:*` on nodes, on ways such as
//! buildings, and on relations whose outer members are ways) and every named street. [`AddressIndex::new`] indexes
//! them in `rstar` trees and a sorted search list. Questions:
//!
//! - [`AddressIndex::reverse`]: a point to the nearest addressed feature within a radius (distance to a building is
//!   to its outline, zero inside it), else the nearest named street and the nearest street crossing it, saying
//!   which [`Method`] answered;
//! - [`AddressIndex::search`]: what a dispatcher types ("mannerh 5", "세종대로 110") to addressed features, case-
//!   and diacritic-insensitive, by prefix, so results appear while typing;
//! - [`format`]: one line per country's habit ("Mannerheimintie 5, 00100 Helsinki"; Korean road-name order
//!   "서울특별시 중구 세종대로 110").
//!
//! [`CivicAddress`] is the public shape other crates (CAP and EIDO export, the server) take.
//!
//! Architecture Invariant: the core ([`index`], [`text`], [`format`]) does no I/O; only [`import`] reads a PBF
//! (from a reader or bytes) and [`bench`] times. No jikimi dependency.
//!
//! Map data © OpenStreetMap contributors (ODbL 1.0).

pub mod bench;
pub mod format;
pub mod geo;
pub mod import;
pub mod index;
pub mod text;

use serde::{Deserialize, Serialize};

pub use format::format;
pub use geo::LatLon;
pub use index::{AddressIndex, Method, Reverse, SearchHit};

/// A civic address, every part optional because OpenStreetMap data is uneven.
///
/// `country` is the ISO 3166-1 alpha-2 code (`FI`, `KR`) when known. `state` and `district` carry the Korean
/// 시/도 and 시군구 (`addr:province`/`addr:state`, `addr:district`/`addr:county`/`addr:suburb`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CivicAddress {
    pub street: Option<String>,
    pub house_number: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub district: Option<String>,
}

impl CivicAddress {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.street.is_none()
            && self.house_number.is_none()
            && self.postcode.is_none()
            && self.city.is_none()
            && self.country.is_none()
            && self.state.is_none()
            && self.district.is_none()
    }
}

/// Which OpenStreetMap element an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OsmRef {
    Node(i64),
    Way(i64),
    Relation(i64),
}

impl std::fmt::Display for OsmRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OsmRef::Node(id) => write!(f, "node/{id}"),
            OsmRef::Way(id) => write!(f, "way/{id}"),
            OsmRef::Relation(id) => write!(f, "relation/{id}"),
        }
    }
}

/// One addressed feature: its address and its geometry (a point, or rings of a way or relation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressFeature {
    pub osm: OsmRef,
    pub address: CivicAddress,
    /// Where to put a pin: the node, or the area centroid of the outline.
    pub point: LatLon,
    /// Outline rings (closed when first == last); empty for a node.
    pub rings: Vec<Vec<LatLon>>,
}

/// One named street way, as a polyline with the OSM node ids of its vertices (for finding crossings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreetWay {
    pub name: String,
    pub points: Vec<LatLon>,
    pub nodes: Vec<i64>,
}

/// What [`import`] extracts: the input of [`AddressIndex::new`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressData {
    pub features: Vec<AddressFeature>,
    pub streets: Vec<StreetWay>,
    /// Way node refs without coordinates (cropped extracts), for the import report.
    pub refs_without_coords: usize,
}

/// Everything that can go wrong; every variant is safe to show to an operator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeocodeError {
    #[error("coordinate out of range: lat {lat}, lon {lon}")]
    CoordinateOutOfRange { lat: f64, lon: f64 },
    #[error("the PBF contains no OpenStreetMap elements (empty file?)")]
    EmptyPbf,
    #[error("cannot read OpenStreetMap PBF: {0}")]
    Pbf(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}
