//! Integration tests for jikimi-respond: property tests of the incident fold.

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

mod fold;
