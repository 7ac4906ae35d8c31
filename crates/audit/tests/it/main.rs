//! Integration tests for jikimi-audit.

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

mod chain;
