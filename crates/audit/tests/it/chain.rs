//! Property: any single-field change to any entry of a chain is detected at that entry.

use jikimi_audit::{AuditError, GENESIS, NewAuditEntry, verify};
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_change_is_detected_at_its_seq(
        reasons in proptest::collection::vec(".{0,12}", 1..20),
        victim in any::<prop::sample::Index>(),
        field in 0usize..6,
    ) {
        let mut prev = GENESIS;
        let mut entries: Vec<_> = reasons.iter().enumerate().map(|(i, reason)| {
            let seq = i as u64 + 1;
            let e = NewAuditEntry::new(seq as i64 * 10, "staff:kim", "incident.noted", "incident/x", reason.clone())
                .chain(seq, prev);
            prev = e.hash;
            e
        }).collect();
        prop_assert!(verify(&entries, GENESIS).is_ok());
        let i = victim.index(entries.len());
        let e = &mut entries[i];
        match field {
            0 => e.at_unix_ms += 1,
            1 => e.actor.push('!'),
            2 => e.action.push('!'),
            3 => e.subject.push('!'),
            4 => e.reason.push('!'),
            _ => e.detail.push(' '),
        }
        let err = verify(&entries, GENESIS).unwrap_err();
        let AuditError::Tampered { seq, .. } = err;
        prop_assert_eq!(seq, i as u64 + 1);
    }
}
