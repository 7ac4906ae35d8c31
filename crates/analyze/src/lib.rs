//! `jikimi-analyze`: hot spots against the population at risk, with PySAL/esda's definitions.
//!
//! What goes in: areas (GeoJSON polygons or H3 cells) with a value per area, or incidents and
//! living-population exposure to aggregate first. What comes out: Getis-Ord Gi*, local and global
//! Moran's I with analytic and permutation inference, FDR-controlled hot/cold classes, GeoJSON, a PNG map
//! and an HTML report.
//!
//! How the parts cooperate: [`weights::Weights`] says who neighbours whom (contiguity by hashed vertices,
//! kNN and distance bands by an R*-tree, H3 adjacency); [`stats`] computes the statistics on those weights
//! exactly as esda does (`G_Local`, `Moran`, `Moran_Local`), with a seeded permutation table evaluated in
//! parallel; [`hotspots::hotspots`] runs them together and classifies areas; [`smoothing`] turns counts and
//! exposure into empirical-Bayes rates; [`aggregate`] counts incidents per H3 cell or polygon and
//! [`living_population`] reads Seoul's living-population tables (totals only: no nationality, age or sex
//! field is ever used). [`cli`] is the only module that touches files.
//!
//! Architecture: the statistics are pure functions of slices and weights; the crate never depends on
//! DataFusion (that lives in `jikimi-analyze-engine`), a database or the network.
//!
//! ```
//! use jikimi_analyze::weights::{Transform, Weights};
//! use jikimi_analyze::stats::{Permutations, moran::moran_global};
//! // A path of four areas: 0 - 1 - 2 - 3.
//! let w = Weights::from_neighbour_lists(&[vec![1], vec![0, 2], vec![1, 3], vec![2]]).unwrap();
//! let y = [1.0, 2.0, 3.0, 4.0];
//! let moran = moran_global(&y, &w.transformed(Transform::RowStandardised, None),
//!     Permutations { count: 0, seed: 1 }).unwrap();
//! assert!(moran.i > 0.0);
//! ```

pub mod aggregate;
pub mod bench;
pub mod cli;
pub mod error;
pub mod geojson_io;
pub mod hotspots;
pub mod living_population;
pub mod report;
pub mod smoothing;
pub mod stats;
pub mod weights;

pub use error::{Error, Result};
