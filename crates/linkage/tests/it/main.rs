//! Integration tests of the linkage crate: accuracy on FEBRL and the Korean-name sample, the CLI's file
//! contract, the border watchlist, tracing, and property tests.

mod accuracy;
mod cli;
mod data;
mod props;
mod trace;
mod watchlist;
