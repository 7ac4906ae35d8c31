//! `ExchangeStore`: the narrow persistence interface the federation node needs, in domain types
//! only (no sqlx type in a signature). The store crate implements it for its SQLite and
//! PostgreSQL backends (tables from migration 0005, audit rows in the spine's hash chain); this
//! crate knows no SQL.
//!
//! Object safe (`Arc<dyn ExchangeStore>`, through `async-trait`, as the store crate's own `Store` trait): the store
//! crate makes it a supertrait of `Store`, so one handle on the database serves the spine and the node.
//!
//! Durability contract: `apply_inbound` stores a whole page (records, nonces, audit rows and the
//! new cursor) in one transaction, so a crash leaves either the page and its cursor or neither;
//! that is what makes resumption exact (no gaps, and duplicates are idempotent anyway).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Agency, AgencyId, Agreement, Provenance, Record};
use crate::error::Result;
use crate::freeze::{Direction, FreezeRequest, FreezeStatus, HeldRequest};
use crate::identifiers::Sha256Hex;
use crate::operation::{OpAck, OpBatchAck, OpEvent};
use crate::protocol::{Action, Known, Receipt, Rejection, Signed};

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

/// Freeze and confiscation requests and their statuses, on both sides (`crate::freeze`). Every write chains an
/// audit entry naming the signed message's digest and signature, so each side's audit holds the request and every
/// status. Writes are idempotent by id: storing a held message again changes nothing and returns false.
#[async_trait::async_trait]
pub trait FreezeStore: Send + Sync + 'static {
    /// Stores a request (ours going out, or a partner's coming in). False when it is already held with this digest;
    /// an error when its id is held with another.
    async fn put_freeze_request(
        &self,
        direction: Direction,
        request: &Signed<FreezeRequest>,
    ) -> Result<bool>;
    /// Stores a status of a held request, checked by the caller (`freeze::check_status`). False when already held.
    async fn put_freeze_status(&self, status: &Signed<FreezeStatus>) -> Result<bool>;
    /// Marks a request (`seq` None) or one of its statuses as acknowledged by the partner.
    async fn mark_freeze_delivered(&self, request: Uuid, seq: Option<u64>) -> Result<()>;
    /// One request with its statuses in order.
    async fn freeze_request(&self, id: Uuid) -> Result<Option<HeldRequest>>;
    /// Every request held here, newest first, with their statuses in order.
    async fn freeze_requests(&self) -> Result<Vec<HeldRequest>>;
}

/// An operation event as held here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldEvent {
    pub event: OpEvent,
    pub digest: Sha256Hex,
    /// Its place in this node's order of application; `None` while buffered (waiting for an earlier event).
    pub applied: Option<u64>,
}

/// One write of a received batch of operation events ([`OperationStore::op_steps`]), in the order the receiver
/// decided them (the order of application follows it).
#[derive(Debug, Clone, PartialEq)]
pub enum OpStep {
    /// As [`OperationStore::put_op_event`]: a new event, applied now or buffered.
    Put { event: OpEvent, applied: bool },
    /// As [`OperationStore::apply_op_event`]: a buffered event (held, or put earlier in the same batch) applied.
    Apply {
        operation: Uuid,
        origin: AgencyId,
        seq: u64,
    },
    /// As [`OperationStore::refuse_op_event`]: a buffered event a rule refuses now, dropped.
    Refuse {
        operation: Uuid,
        origin: AgencyId,
        seq: u64,
        reason: String,
    },
    /// An audit entry of this node's own on `operation` (`exchange.<action>`), as `ExchangeStore::audit` writes
    /// one: a staff member's change audited in the transaction that keeps the event.
    Note {
        operation: Uuid,
        action: String,
        detail: String,
    },
    /// An event refused before it was held (signature, part, agreement, rule): audited as
    /// `operation_event_rejected` with `detail`, nothing stored.
    Rejected {
        operation: Uuid,
        origin: AgencyId,
        detail: String,
    },
}

/// Joint operations (`crate::operation`): the signed events of each operation, applied or buffered, and how far
/// each participant has acknowledged this node's own events. Bodies are sealed at rest; every write chains an
/// audit entry naming the event's digest and signature (issued, received, applied, refused, acknowledged), so
/// both sides' audit chains hold every change. Writes are idempotent by (operation, origin, seq).
#[async_trait::async_trait]
pub trait OperationStore: Send + Sync + 'static {
    /// Stores an event issued here or received, applied now (`true`) or buffered. False when it is held already
    /// with this digest; an error when its number is held with another. An applied withdrawal erases the parts of
    /// the event it withdraws, in the same transaction.
    async fn put_op_event(&self, event: &OpEvent, applied: bool) -> Result<bool>;
    /// Applies a buffered event (next in this node's order; a withdrawal erases as above).
    async fn apply_op_event(&self, operation: Uuid, origin: &AgencyId, seq: u64) -> Result<()>;
    /// Drops a buffered event that a rule refuses now, audited with the reason.
    async fn refuse_op_event(
        &self,
        operation: Uuid,
        origin: &AgencyId,
        seq: u64,
        reason: &str,
    ) -> Result<()>;
    /// Every event of `operation` held here: the applied ones in the order applied, then the buffered ones.
    async fn op_events(&self, operation: Uuid) -> Result<Vec<HeldEvent>>;
    /// The events of `operation` applied after place `after` in this node's order (in that order), then every
    /// buffered one: what a reader holding the first `after` needs to catch up.
    async fn op_events_since(&self, operation: Uuid, after: u64) -> Result<Vec<HeldEvent>> {
        Ok(self
            .op_events(operation)
            .await?
            .into_iter()
            .filter(|h| h.applied.is_none_or(|n| n > after))
            .collect())
    }
    /// The operations held here, newest first.
    async fn operations(&self) -> Result<Vec<Uuid>>;
    /// The last of this node's own events of `operation` that `peer` acknowledged (0: none).
    async fn op_delivered(&self, operation: Uuid, peer: &AgencyId) -> Result<u64>;
    /// Keeps a peer's signed acknowledgement of one of our events (audited with its signature); the peer's
    /// delivery mark only moves forward, to just before the first number it still expects.
    async fn op_acknowledged(&self, ack: &Signed<OpAck>) -> Result<()>;
    /// Writes the steps of one received batch in one transaction, each audited as its single counterpart is, so a
    /// batch costs one commit however many events it carries. A `Put` of an event held already with the same
    /// digest changes nothing; with another digest the whole batch fails (the caller checked it against what it
    /// read under the node's apply lock, so this is a bug or a concurrent writer).
    async fn op_steps(&self, steps: &[OpStep]) -> Result<()>;
    /// Keeps a peer's signed acknowledgement of a batch of our events (one audit entry with its signature and the
    /// count of each outcome) and moves the peer's delivery mark of each operation in it, forward only, in one
    /// transaction.
    async fn op_batch_acknowledged(&self, ack: &Signed<OpBatchAck>) -> Result<()>;
}

/// Persistence for one exchange node.
#[async_trait::async_trait]
pub trait ExchangeStore:
    FreezeStore + OperationStore + crate::hashbank::HashBankStore + Send + Sync + 'static
{
    async fn identity(&self) -> Result<Option<(Agency, SigningKey)>>;
    async fn set_identity(&self, agency: &Agency, key: &SigningKey) -> Result<()>;
    async fn upsert_peer(&self, peer: &Agency) -> Result<()>;
    async fn peers(&self) -> Result<Vec<Agency>>;
    async fn put_agreement(&self, agreement: &Agreement) -> Result<()>;
    async fn agreements(&self) -> Result<Vec<Agreement>>;
    /// Stores a record created or changed here (also applies a local withdrawal/restriction),
    /// appends it to the log and audits it. Returns its log position.
    async fn put_local(&self, record: &Record) -> Result<u64>;
    /// `put_local` for many records in one transaction (bulk import, benchmarks). Returns the
    /// last log position.
    async fn put_local_many(&self, records: &[Record]) -> Result<u64> {
        let mut last = 0;
        for r in records {
            last = self.put_local(r).await?;
        }
        Ok(last)
    }
    async fn record(&self, id: Uuid) -> Result<Option<StoredRecord>>;
    /// All live (not withdrawn) records, in log order.
    async fn records(&self) -> Result<Vec<StoredRecord>>;
    /// A case and its leads (live, in log order): what a court bundle, a STIX export or record
    /// linkage reads. Entities are in each record's `content().entities`.
    async fn case_records(&self, case_id: Uuid) -> Result<Vec<StoredRecord>>;
    /// Up to `limit` log entries after `cursor`, in log order.
    async fn log_after(&self, cursor: u64, limit: u32) -> Result<Vec<StoredRecord>>;
    async fn disclosed_to(&self, record: Uuid) -> Result<BTreeSet<AgencyId>>;
    async fn record_disclosures(&self, rows: &[DisclosureRow]) -> Result<()>;
    /// The last log position of `peer` this node has applied.
    async fn cursor(&self, peer: &AgencyId) -> Result<u64>;
    /// `known` for a whole page at once (a few queries instead of a few per envelope).
    async fn known_page(&self, sender: &AgencyId, items: &[(Uuid, &Record)]) -> Result<Vec<Known>>;
    /// `known_page` for one envelope.
    async fn known(&self, sender: &AgencyId, nonce: Uuid, record: &Record) -> Result<Known> {
        self.known_page(sender, &[(nonce, record)])
            .await?
            .pop()
            .ok_or_else(|| crate::Error::invalid("known", "no answer for the envelope"))
    }
    /// Applies a page atomically: accepted actions, nonces, audit rows and the new cursor (a pushed
    /// page carries no cursor; a cursor never moves backwards).
    async fn apply_inbound(
        &self,
        peer: &AgencyId,
        items: &[Inbound],
        new_cursor: Option<u64>,
    ) -> Result<()>;
    /// Remembers a signed request's nonce; false if it was seen before (a replay).
    async fn remember_nonce(&self, sender: &AgencyId, nonce: Uuid) -> Result<bool>;
    /// Audits a rejection outside a page (e.g. a bad pull request or receipt).
    async fn audit(
        &self,
        action: &str,
        peer: Option<&AgencyId>,
        record: Option<Uuid>,
        detail: &str,
    ) -> Result<()>;
    /// Stores a receipt; `sent` = issued by us, else received from a peer (then the disclosures it
    /// names are linked to it).
    async fn store_receipt(&self, receipt: &Receipt, sent: bool) -> Result<()>;
    /// The exchange entries of the node's audit log, in order.
    async fn audit_log(&self) -> Result<Vec<AuditEntry>>;
    /// Number of disclosures to `peer` and how many of them a receipt confirms.
    async fn disclosure_counts(&self, peer: &AgencyId) -> Result<(u64, u64)>;
}
