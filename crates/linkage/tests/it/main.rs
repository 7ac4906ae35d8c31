//! Integration tests of the linkage crate: accuracy on FEBRL and the Korean-name sample, CLI, watchlist, tracing.

mod accuracy;
mod data;
