//! The pure policy engine: for a record, a field and a recipient, may it go, under which
//! agreement, with which marks? No I/O, no clock: `now` is a parameter.
//!
//! Rules (all must hold for an agreement to cover a record for a recipient):
//! 1. the agreement is active at `now` (started, not expired, not revoked);
//! 2. this node and the recipient are both parties, and the recipient is not the record's origin;
//! 3. the record's category is one of the agreement's categories;
//! 4. the record's TLP is no stricter than the agreement's `max_tlp`;
//! 5. for a record this node did not create (onward sharing): the originator is also a party,
//!    the agreement under which it arrived is active and permits onward sharing, and neither its
//!    TLP (AMBER+STRICT, RED) nor its handling code (H2, H3) forbids dissemination.
//!
//! A field class goes only if the covering agreement allows it. When several agreements cover a
//! record, the one allowing most fields is cited (ties: lowest id) and only its fields go, so
//! the receiver can check the disclosure against the single agreement named in the envelope.
//! The outgoing marking combines the record's marks with the floor of every covering
//! agreement: the most restrictive marking wins.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{AgencyId, Agreement, FieldClass, Provenance, Record};

/// Why a disclosure was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    NoCoveringAgreement,
    RecipientIsOrigin,
    OnwardSharingNotPermitted,
}

impl std::fmt::Display for DenyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DenyReason::NoCoveringAgreement => {
                "no active agreement covers this record for this recipient"
            }
            DenyReason::RecipientIsOrigin => "the recipient is the record's origin",
            DenyReason::OnwardSharingNotPermitted => {
                "onward sharing is not permitted for this record"
            }
        })
    }
}

/// A decision to disclose: the redacted record and the agreement that allows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosure {
    pub record: Record,
    pub agreement: Uuid,
    pub purpose: String,
}

/// Does `agreement` cover `record` (from this node `me`, with `provenance`) for `recipient`?
pub fn covers(
    agreement: &Agreement,
    agreements: &[Agreement],
    me: &AgencyId,
    record: &Record,
    provenance: &Provenance,
    recipient: &AgencyId,
    now: DateTime<Utc>,
) -> bool {
    if !agreement.is_active(now)
        || !agreement.parties.contains(me)
        || !agreement.parties.contains(recipient)
        || me == recipient
        || &record.origin == recipient
        || !agreement.categories.contains(&record.category)
        || record.marking.tlp > agreement.max_tlp
    {
        return false;
    }
    if &record.origin != me {
        return onward_permitted(agreement, agreements, record, provenance, now);
    }
    true
}

fn onward_permitted(
    agreement: &Agreement,
    agreements: &[Agreement],
    record: &Record,
    provenance: &Provenance,
    now: DateTime<Utc>,
) -> bool {
    if !agreement.parties.contains(&record.origin) {
        return false;
    }
    if !record.marking.tlp.allows_onward() || !record.marking.handling.allows_onward() {
        return false;
    }
    let Some(under) = provenance.received_under else {
        return false;
    };
    agreements
        .iter()
        .any(|a| a.id == under && a.is_active(now) && a.onward_sharing)
}

/// Decides one field: the id of the agreement allowing `field` of `record` to `recipient`.
pub fn decide_field(
    agreements: &[Agreement],
    me: &AgencyId,
    record: &Record,
    provenance: &Provenance,
    field: FieldClass,
    recipient: &AgencyId,
    now: DateTime<Utc>,
) -> Option<Uuid> {
    agreements
        .iter()
        .filter(|a| a.fields.contains(&field))
        .find(|a| covers(a, agreements, me, record, provenance, recipient, now))
        .map(|a| a.id)
}

/// Decides a whole record for `recipient`: which agreement, which fields, which marks.
/// Control records (withdrawal, restriction) are not decided here: they go to everyone the
/// target was disclosed to (see `protocol`).
pub fn disclose(
    agreements: &[Agreement],
    me: &AgencyId,
    record: &Record,
    provenance: &Provenance,
    recipient: &AgencyId,
    now: DateTime<Utc>,
) -> Result<Disclosure, DenyReason> {
    if &record.origin == recipient {
        return Err(DenyReason::RecipientIsOrigin);
    }
    let covering: Vec<&Agreement> = agreements
        .iter()
        .filter(|a| covers(a, agreements, me, record, provenance, recipient, now))
        .collect();
    let Some(best) = covering
        .iter()
        .max_by(|a, b| a.fields.len().cmp(&b.fields.len()).then(b.id.cmp(&a.id)))
    else {
        if &record.origin != me
            && agreements.iter().any(|a| {
                a.is_active(now)
                    && a.parties.contains(recipient)
                    && a.categories.contains(&record.category)
            })
        {
            return Err(DenyReason::OnwardSharingNotPermitted);
        }
        return Err(DenyReason::NoCoveringAgreement);
    };
    let mut out = record.clone();
    out.marking = covering
        .iter()
        .fold(record.marking, |m, a| m.combine(a.floor));
    if let Some(content) = out.content_mut() {
        let removed = content.redact(&best.fields);
        out.redacted.extend(removed);
    }
    Ok(Disclosure {
        record: out,
        agreement: best.id,
        purpose: best.purpose.clone(),
    })
}

/// Receiver-side check of a disclosure against the agreement it cites: the same rules, seen
/// from the other end. Returns the field classes the agreement does not allow (empty = fine).
pub fn fields_beyond(agreement: &Agreement, record: &Record) -> BTreeSet<FieldClass> {
    record
        .content()
        .map(|c| {
            c.field_classes()
                .difference(&agreement.fields)
                .copied()
                .collect()
        })
        .unwrap_or_default()
}
