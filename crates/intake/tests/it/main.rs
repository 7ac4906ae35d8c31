//! Integration tests of jikimi-intake: the shared AML reference cases and parser invariants.

mod aml_cases;
mod aml_props;
