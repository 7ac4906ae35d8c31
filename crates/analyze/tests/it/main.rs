//! Integration tests of `jikimi-analyze`: esda reference values, bad inputs, loaders, the CLI pipeline.

#![allow(clippy::unwrap_used)] // Tests fail loudly on broken fixtures; that is the point.

mod columbus;
