//! Integration tests of jikimi-roads: reference lengths, CH-equals-Dijkstra properties, error paths,
//! and one-way semantics of dispatch queries.

mod closures;
mod common;
mod errors;
mod oneway;
mod property;
mod reference;
