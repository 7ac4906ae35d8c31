//! Integration tests for jikimi-privacy.

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

mod roundtrip;
