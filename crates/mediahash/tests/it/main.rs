//! Integration tests of jikimi-mediahash: one binary, one module per feature.

#![allow(clippy::unwrap_used)] // tests fail loudly on broken fixtures

mod decode;
mod incremental;
mod index;
mod jpeg;
mod matching;
mod reference;
mod triage;
#[cfg(feature = "video")]
mod vpdq_generated;
mod vpdq_index;
#[cfg(feature = "video")]
mod vpdq_portable;
#[cfg(feature = "video")]
mod vpdq_video;
