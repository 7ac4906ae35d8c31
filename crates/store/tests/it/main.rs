//! Integration tests for jikimi-store through its public API only: `connect` by URL, migrate, intake, verify.
//! The behaviour-by-behaviour conformance suite runs as unit tests against both backends (`src/conformance`).

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

mod connect;
