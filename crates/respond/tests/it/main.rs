//! Integration tests for jikimi-respond: property tests of the incident fold and of surge clustering.

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

mod fold;
mod surge;
