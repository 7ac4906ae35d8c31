//! `ExchangeStore`: the narrow persistence interface the federation node needs, in domain types
//! only (no sqlx type in a signature). `sqlite::SqliteStore` implements it; the lead may move the
//! implementation into the shared store crate later.
//!
//! Durability contract: `apply_inbound` stores a whole page (records, nonces, audit rows and the
//! new cursor) in one transaction, so a crash leaves either the page and its cursor or neither;
//! that is what makes resumption exact (no gaps, and duplicates are idempotent anyway).

use std::collections::BTreeSet;
use std::future::Future;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Agency, AgencyId, Agreement, Provenance, Record};
use crate::error::Result;
use crate::identifiers::Sha256Hex;
use crate::protocol::{Action, Known, Receipt, Rejection};

/// A record as held by this node, with how it got here and its position in the local log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub record: Record,
    pub provenance: Provenance,
    pub seq: u64,
}

/// One disclosure being sent: recorded (and audited) before the envelope leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRow {
    pub envelope: Sha256Hex,
    pub peer: AgencyId,
    pub record: Uuid,
    pub version: u64,
    pub kind: &'static str,
    pub agreement: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// One inbound envelope's fate, applied with its page.
#[derive(Debug, Clone)]
pub enum Inbound {
    Accepted {
        envelope: Sha256Hex,
        nonce: Uuid,
        action: Box<Action>,
        agreement: Option<Uuid>,
    },
    Rejected {
        envelope: Option<Sha256Hex>,
        nonce: Option<Uuid>,
        record: Option<Uuid>,
        rejection: Rejection,
    },
}

/// An append-only audit row; `hash` = SHA-256(prev_hash || canonical row), a hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub peer: Option<String>,
    pub record: Option<String>,
    pub agreement: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The audit chain's link: SHA-256 over the previous hash and the RFC 8785 encoding of the row
/// (its time exactly as stored, RFC 3339 with microseconds).
pub fn audit_hash(
    prev: &str,
    at: &str,
    action: &str,
    peer: Option<&str>,
    record: Option<&str>,
    agreement: Option<&str>,
    detail: &str,
) -> Result<String> {
    use sha2::Digest as _;
    let canonical = serde_jcs::to_vec(&serde_json::json!({
        "at": at, "action": action, "peer": peer, "record": record, "agreement": agreement, "detail": detail,
    }))
    .map_err(crate::Error::Encoding)?;
    let mut h = sha2::Sha256::new();
    h.update(prev.as_bytes());
    h.update(&canonical);
    Ok(hex::encode(h.finalize()))
}

/// Verifies an audit log read back in order: each row links to the previous one and its hash
/// matches its content. Returns the sequence number of the first broken row.
pub fn verify_audit_chain(entries: &[AuditEntry]) -> std::result::Result<(), u64> {
    let mut prev = "0".repeat(64);
    for e in entries {
        let at = e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let want = audit_hash(
            &prev,
            &at,
            &e.action,
            e.peer.as_deref(),
            e.record.as_deref(),
            e.agreement.as_deref(),
            &e.detail,
        )
        .map_err(|_| e.seq)?;
        if e.prev_hash != prev || e.hash != want {
            return Err(e.seq);
        }
        prev = e.hash.clone();
    }
    Ok(())
}

/// Persistence for one exchange node.
pub trait ExchangeStore: Send + Sync + 'static {
    fn identity(&self) -> impl Future<Output = Result<Option<(Agency, SigningKey)>>> + Send;
    fn set_identity(
        &self,
        agency: &Agency,
        key: &SigningKey,
    ) -> impl Future<Output = Result<()>> + Send;
    fn upsert_peer(&self, peer: &Agency) -> impl Future<Output = Result<()>> + Send;
    fn peers(&self) -> impl Future<Output = Result<Vec<Agency>>> + Send;
    fn put_agreement(&self, agreement: &Agreement) -> impl Future<Output = Result<()>> + Send;
    fn agreements(&self) -> impl Future<Output = Result<Vec<Agreement>>> + Send;
    /// Stores a record created or changed here (also applies a local withdrawal/restriction),
    /// appends it to the log and audits it. Returns its log position.
    fn put_local(&self, record: &Record) -> impl Future<Output = Result<u64>> + Send;
    fn record(&self, id: Uuid) -> impl Future<Output = Result<Option<StoredRecord>>> + Send;
    /// All live (not withdrawn) records, in log order.
    fn records(&self) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;
    /// Up to `limit` log entries after `cursor`, in log order.
    fn log_after(
        &self,
        cursor: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;
    fn disclosed_to(&self, record: Uuid)
    -> impl Future<Output = Result<BTreeSet<AgencyId>>> + Send;
    fn record_disclosures(&self, rows: &[DisclosureRow])
    -> impl Future<Output = Result<()>> + Send;
    /// The last log position of `peer` this node has applied.
    fn cursor(&self, peer: &AgencyId) -> impl Future<Output = Result<u64>> + Send;
    /// `known` for a whole page at once (a few queries instead of a few per envelope).
    fn known_page(
        &self,
        sender: &AgencyId,
        items: &[(Uuid, &Record)],
    ) -> impl Future<Output = Result<Vec<Known>>> + Send;
    fn known(
        &self,
        sender: &AgencyId,
        nonce: Uuid,
        record: &Record,
    ) -> impl Future<Output = Result<Known>> + Send;
    /// Applies a page atomically: accepted actions, nonces, audit rows and the new cursor (a pushed
    /// page carries no cursor; a cursor never moves backwards).
    fn apply_inbound(
        &self,
        peer: &AgencyId,
        items: &[Inbound],
        new_cursor: Option<u64>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Remembers a signed request's nonce; false if it was seen before (a replay).
    fn remember_nonce(
        &self,
        sender: &AgencyId,
        nonce: Uuid,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Audits a rejection outside a page (e.g. a bad pull request or receipt).
    fn audit(
        &self,
        action: &str,
        peer: Option<&AgencyId>,
        record: Option<Uuid>,
        detail: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Stores a receipt; `sent` = issued by us, else received from a peer (then the disclosures it
    /// names are linked to it).
    fn store_receipt(
        &self,
        receipt: &Receipt,
        sent: bool,
    ) -> impl Future<Output = Result<()>> + Send;
    fn audit_log(&self) -> impl Future<Output = Result<Vec<AuditEntry>>> + Send;
    /// Number of disclosures to `peer` and how many of them a receipt confirms.
    fn disclosure_counts(&self, peer: &AgencyId)
    -> impl Future<Output = Result<(u64, u64)>> + Send;
}
