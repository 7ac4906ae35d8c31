//! jikimi-forecast: crime forecasting judged by PAI/PEI, CPTED device placement and response-time equity.
//!
//! The pieces and how they cooperate:
//! - [`data`] reads the Toronto MCI extract once, projects it to UTM 17N and bins it into the fixed
//!   250 m [`grid::StudyArea`] (integer cell ids, events sorted by day per category);
//! - [`metrics`] scores a ranking of cells against what happened (hit rate, PAI, PEI with ties at the
//!   cut-off averaged);
//! - [`models`] holds the baselines and the models (KDE, self-exciting point process, mixture), each a
//!   pure function from past events to a risk surface;
//! - [`eval`] runs the rolling-origin evaluation, choosing every hyper-parameter on 2020 only;
//! - [`headroom`] gives hindsight references (not forecasts) for how much any forecast could gain;
//! - [`place`] turns a risk surface into device sites (maximal covering location problem);
//! - [`equity`] compares response times across districts with bootstrap confidence intervals, from a
//!   CSV or from the incident store ([`store_source`], districts by [`districts`]).
//!
//! The core does no I/O: [`data`] (readers), [`store_source`] (the incident store), [`output`]
//! (writers) and [`cli`] are the edges.
//! Architecture Invariant: no nationality, ethnicity or religion field is read anywhere here.

pub mod cli;
pub mod data;
pub mod districts;
pub mod equity;
pub mod error;
pub mod eval;
pub mod grid;
pub mod headroom;
pub mod map;
pub mod metrics;
pub mod models;
pub mod output;
pub mod place;
pub mod raster;
#[cfg(feature = "store")]
pub mod store_source;

pub use error::Error;
