//! The audit log's entries and hash chain: append-only, tamper-evident.
//!
//! Every state change and every read of decrypted personal data becomes an [`AuditEntry`]: who ([`AuditEntry::actor`]),
//! when, what ([`AuditEntry::action`] on [`AuditEntry::subject`]), why ([`AuditEntry::reason`]) and a JSON detail.
//! Each entry's hash is `SHA-256(prev_hash || canonical(entry))` ([`canonical`]), where `prev_hash` is the previous
//! entry's hash (all zeros for the first), so changing, removing or reordering any entry breaks every later link and
//! [`verify`] names the first sequence number that does not check.
//!
//! The store appends entries inside the same transaction as the change they record ([`NewAuditEntry::chain`]). This
//! crate does no I/O.
//!
//! ```
//! use jikimi_audit::{GENESIS, NewAuditEntry, verify};
//! let first = NewAuditEntry::new(1_700_000_000_000, "staff:kim", "incident.acknowledged", "incident/1", "took call")
//!     .chain(1, GENESIS);
//! let second = NewAuditEntry::new(1_700_000_000_500, "system", "unit.status", "unit/P-101", "dispatch")
//!     .chain(2, first.hash);
//! assert!(verify(&[first, second], GENESIS).is_ok());
//! ```

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The `prev_hash` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// An audit entry before it is placed in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: i64,
    /// Who: `device:<uuid>`, `staff:<user>`, `system`.
    pub actor: String,
    /// What, as `noun.verb`, e.g. `alert.received`, `subscriber.read`, `alert.rejected`.
    pub action: String,
    /// On what: `incident/<uuid>`, `subscriber/<uuid>`, `unit/<call sign>`.
    pub subject: String,
    /// Why, in the actor's words or the system's.
    pub reason: String,
    /// Extra structured detail as JSON text (never personal data in clear); `{}` when there is none.
    pub detail: String,
}

impl NewAuditEntry {
    /// An entry with an empty detail (`{}`).
    pub fn new(
        at_unix_ms: i64,
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
        reason: impl Into<String>,
    ) -> NewAuditEntry {
        NewAuditEntry {
            at_unix_ms,
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            reason: reason.into(),
            detail: "{}".to_owned(),
        }
    }

    /// Sets the detail to a JSON value's text.
    pub fn with_detail(mut self, detail: &serde_json::Value) -> NewAuditEntry {
        self.detail = detail.to_string();
        self
    }

    /// Places the entry at `seq` after an entry whose hash is `prev_hash`, computing its own hash.
    pub fn chain(self, seq: u64, prev_hash: [u8; 32]) -> AuditEntry {
        let mut entry = AuditEntry {
            seq,
            at_unix_ms: self.at_unix_ms,
            actor: self.actor,
            action: self.action,
            subject: self.subject,
            reason: self.reason,
            detail: self.detail,
            prev_hash,
            hash: [0; 32],
        };
        entry.hash = entry.compute_hash();
        entry
    }
}

/// An entry in the chain.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: String,
    /// Why.
    pub reason: String,
    /// Detail as JSON text.
    pub detail: String,
    /// The previous entry's hash ([`GENESIS`] for seq 1).
    #[serde(with = "hex_bytes")]
    pub prev_hash: [u8; 32],
    /// `SHA-256(prev_hash || canonical(self))`.
    #[serde(with = "hex_bytes")]
    pub hash: [u8; 32],
}

impl fmt::Debug for AuditEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditEntry")
            .field("seq", &self.seq)
            .field("at_unix_ms", &self.at_unix_ms)
            .field("actor", &self.actor)
            .field("action", &self.action)
            .field("subject", &self.subject)
            .field("reason", &self.reason)
            .field("detail", &self.detail)
            .field("hash", &hex::encode(&self.hash[..8]))
            .finish()
    }
}

impl AuditEntry {
    /// Recomputes the hash from the entry's content and `prev_hash`.
    pub fn compute_hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash);
        hasher.update(canonical(self));
        hasher.finalize().into()
    }
}

/// The canonical encoding hashed into the chain: a version tag, then `seq` and `at` as big-endian integers and each
/// text field as a big-endian u64 length followed by its UTF-8 bytes, in declaration order. Unambiguous: no two
/// different entries encode the same.
pub fn canonical(entry: &AuditEntry) -> Vec<u8> {
    let texts = [
        &entry.actor,
        &entry.action,
        &entry.subject,
        &entry.reason,
        &entry.detail,
    ];
    let mut out = Vec::with_capacity(64 + texts.iter().map(|t| t.len() + 8).sum::<usize>());
    out.extend_from_slice(b"jikimi-audit-v1");
    out.extend_from_slice(&entry.seq.to_be_bytes());
    out.extend_from_slice(&entry.at_unix_ms.to_be_bytes());
    for text in texts {
        out.extend_from_slice(&(text.len() as u64).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// Why verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The entry at `seq` is not what was chained: its content, its link or its position was changed.
    #[error("audit log tampered at seq {seq}: {reason}")]
    Tampered {
        /// The first entry that does not verify.
        seq: u64,
        /// What did not match.
        reason: TamperKind,
    },
}

/// What did not match at the first bad entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TamperKind {
    /// Its hash does not match its content.
    Hash,
    /// Its `prev_hash` is not the previous entry's hash.
    Link,
    /// Its seq does not follow the previous one (an entry was removed or inserted).
    Sequence,
}

impl fmt::Display for TamperKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TamperKind::Hash => "content does not match its hash",
            TamperKind::Link => "prev_hash does not match the previous entry",
            TamperKind::Sequence => "sequence number out of order",
        })
    }
}

/// Verifies a run of consecutive entries that follows an entry with hash `prev_hash` ([`GENESIS`] from the start).
///
/// Returns the hash of the last entry, to continue with the next page.
pub fn verify(entries: &[AuditEntry], prev_hash: [u8; 32]) -> Result<[u8; 32], AuditError> {
    let mut prev = prev_hash;
    let mut expected_seq: Option<u64> = None;
    for entry in entries {
        if expected_seq.is_some_and(|seq| seq != entry.seq) {
            return Err(AuditError::Tampered {
                seq: entry.seq,
                reason: TamperKind::Sequence,
            });
        }
        if prev_hash == GENESIS && expected_seq.is_none() && entry.seq != 1 {
            return Err(AuditError::Tampered {
                seq: entry.seq,
                reason: TamperKind::Sequence,
            });
        }
        if entry.prev_hash != prev {
            return Err(AuditError::Tampered {
                seq: entry.seq,
                reason: TamperKind::Link,
            });
        }
        if entry.compute_hash() != entry.hash {
            return Err(AuditError::Tampered {
                seq: entry.seq,
                reason: TamperKind::Hash,
            });
        }
        prev = entry.hash;
        expected_seq = Some(entry.seq + 1);
    }
    Ok(prev)
}

/// Serde helper: 32-byte hashes as lowercase hex.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(D::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let e = NewAuditEntry::new(
                    seq as i64,
                    "system",
                    "test.step",
                    format!("thing/{seq}"),
                    "because",
                )
                .chain(seq, prev);
                prev = e.hash;
                e
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        let entries = chain(5);
        assert_eq!(verify(&entries, GENESIS), Ok(entries[4].hash));
        // Pages verify with the previous page's last hash.
        assert!(verify(&entries[2..], entries[1].hash).is_ok());
        assert_eq!(verify(&[], GENESIS), Ok(GENESIS));
    }

    #[test]
    fn content_change_is_detected_at_its_seq() {
        let mut entries = chain(5);
        entries[2].reason = "edited".into();
        assert_eq!(
            verify(&entries, GENESIS),
            Err(AuditError::Tampered {
                seq: 3,
                reason: TamperKind::Hash
            })
        );
    }

    #[test]
    fn rehashing_a_changed_entry_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[2].actor = "staff:mallory".into();
        entries[2].hash = entries[2].compute_hash();
        assert_eq!(
            verify(&entries, GENESIS),
            Err(AuditError::Tampered {
                seq: 4,
                reason: TamperKind::Link
            })
        );
    }

    #[test]
    fn removal_is_detected() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            verify(&entries, GENESIS),
            Err(AuditError::Tampered {
                seq: 3,
                reason: TamperKind::Sequence
            })
        );
        let tail = chain(5).split_off(1);
        assert_eq!(
            verify(&tail, GENESIS),
            Err(AuditError::Tampered {
                seq: 2,
                reason: TamperKind::Sequence
            })
        );
    }

    #[test]
    fn serde_round_trip() {
        let entries = chain(2);
        let json = serde_json::to_string(&entries).unwrap();
        let back: Vec<AuditEntry> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, entries);
    }
}
