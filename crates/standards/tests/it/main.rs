//! The standards crate's one integration test binary.

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

mod atom;
mod cap;
mod eido;
mod fixtures;
