//! Integration tests of `jikimi-exchange`, the pure core: identifiers, policy properties and STIX export/import.
//! The protocol between nodes is tested in `jikimi-federation` (in process) and `jikimi` (three processes).
#![allow(clippy::unwrap_used)]

mod fixtures;
mod identifiers;
mod policy;
mod stix;

/// Content holding exactly the field classes in `fields` (for property tests).
pub fn support_content(
    fields: &std::collections::BTreeSet<jikimi_exchange::domain::FieldClass>,
) -> jikimi_exchange::domain::Content {
    let mut c = fixtures::scam_content("p");
    let removed = c.redact(fields);
    debug_assert!(removed.is_disjoint(fields));
    c
}
