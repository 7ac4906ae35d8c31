//! Integration tests of jikimi-mediahash: one binary, one module per feature.

mod reference;
