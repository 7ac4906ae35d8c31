//! `ExchangeStore`: the narrow persistence interface the federation node needs, in domain types
//! only (no sqlx type in a signature). The store crate implements it for its SQLite and
//! PostgreSQL backends (tables from migration 0005, audit rows in the spine's hash chain); this
//! crate knows no SQL.
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

/// One exchange entry of the node's audit log, as the exchange sees it. The log itself is the
/// spine's single hash-chained log (`jikimi audit verify` walks it); exchange entries are its rows
/// whose action starts with `exchange.`, and this is their view with the prefix taken off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the node's whole audit log (shared with the spine).
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// `disclosed`, `received`, `rejected`, `receipt_sent`, `receipt_received`, ...
    pub action: String,
    pub peer: Option<String>,
    pub record: Option<String>,
    pub agreement: Option<String>,
    pub detail: String,
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
    /// `put_local` for many records in one transaction (bulk import, benchmarks). Returns the
    /// last log position.
    fn put_local_many(&self, records: &[Record]) -> impl Future<Output = Result<u64>> + Send {
        async move {
            let mut last = 0;
            for r in records {
                last = self.put_local(r).await?;
            }
            Ok(last)
        }
    }
    fn record(&self, id: Uuid) -> impl Future<Output = Result<Option<StoredRecord>>> + Send;
    /// All live (not withdrawn) records, in log order.
    fn records(&self) -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;
    /// A case and its leads (live, in log order): what a court bundle, a STIX export or record
    /// linkage reads. Entities are in each record's `content().entities`.
    fn case_records(&self, case_id: Uuid)
    -> impl Future<Output = Result<Vec<StoredRecord>>> + Send;
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
    /// `known_page` for one envelope.
    fn known(
        &self,
        sender: &AgencyId,
        nonce: Uuid,
        record: &Record,
    ) -> impl Future<Output = Result<Known>> + Send {
        async move {
            self.known_page(sender, &[(nonce, record)])
                .await?
                .pop()
                .ok_or_else(|| crate::Error::invalid("known", "no answer for the envelope"))
        }
    }
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
    /// The exchange entries of the node's audit log, in order.
    fn audit_log(&self) -> impl Future<Output = Result<Vec<AuditEntry>>> + Send;
    /// Number of disclosures to `peer` and how many of them a receipt confirms.
    fn disclosure_counts(&self, peer: &AgencyId)
    -> impl Future<Output = Result<(u64, u64)>> + Send;
}
