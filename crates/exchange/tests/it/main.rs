//! Integration tests of `jikimi-exchange`: identifiers, policy properties, the federation
//! protocol between in-process nodes, and STIX export/import, on the
//! store crate's SQLite backend (the three-process test is in the `jikimi` package).
#![allow(clippy::unwrap_used)]

mod federation;
mod identifiers;
mod policy;
mod stix;
mod support;
mod tls;

/// Content holding exactly the field classes in `fields` (for property tests).
pub fn support_content(
    fields: &std::collections::BTreeSet<jikimi_exchange::domain::FieldClass>,
) -> jikimi_exchange::domain::Content {
    let mut c = support::scam_content("p");
    let removed = c.redact(fields);
    debug_assert!(removed.is_disjoint(fields));
    c
}
