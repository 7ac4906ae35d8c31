//! The one integration-test binary of jikimi-funds: policies on hand-computed cases, properties, importers,
//! the command line, and the cross-check against the independent Python implementation.

#![allow(clippy::unwrap_used)]

mod cli;
mod cross_check;
mod import;
mod import_props;
mod policies;
mod props;
mod support;
