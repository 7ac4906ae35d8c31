//! Integration tests of `jikimi-federation`: the protocol between in-process nodes on the store crate's SQLite
//! backend, push notification and sync over HTTP through the server crate's one federation router, and sync over
//! TLS with a private CA (the three-process test is in the `jikimi` package).
#![allow(clippy::unwrap_used)]

mod federation;
#[path = "../../../exchange/tests/it/fixtures.rs"]
mod fixtures;
mod operations;
mod support;
mod tls;
