//! Durable storage for the respond spine: one [`Store`] trait, two backends.
//!
//! - [`Store`] speaks domain types only (no sqlx type in a signature). Every mutating call takes a [`Change`] (who,
//!   when, why) and appends its audit entry, hash-chained, in the same transaction as the change.
//! - [`SqliteStore`] (default; one file, WAL, a single writer connection so transactions never fight) and [`PgStore`]
//!   use sqlx runtime queries and their own migrations (`migrations/sqlite`, `migrations/postgres`).
//! - [`Store::record_alerts`] takes a batch of authenticated alerts and commits them in one transaction: the server
//!   groups concurrent requests (group commit), so one fsync covers many alerts. Duplicates (same device and alert id)
//!   return the first incident; a reused nonce is refused, and nonces are persisted so a restart does not reopen the
//!   replay window.
//! - Incidents are an append-only event log; the `incidents` table is a projection of it, refolded with
//!   [`jikimi_respond::Incident`] on every append and rebuildable with [`Store::rebuild_projections`].
//!
//! The store never sees personal data in clear: subscribers and guardians arrive as [`jikimi_privacy::Sealed`] fields
//! and blind digests.
//!
//! ```no_run
//! # async fn demo() -> jikimi_store::Result<()> {
//! let store = jikimi_store::connect("sqlite:///var/lib/jikimi/jikimi.db").await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod exchange;
mod model;
mod postgres;
mod sql;
mod sqlite;

#[cfg(test)]
mod conformance;

pub use error::{Conflict, Error, Result};
pub use model::{
    AlertAccepted, Change, DeviceRecord, ErasureReport, GuardianId, GuardianRecord, IncidentFilter,
    IndexEntry, NewAlert, PositionReport, Role, SessionRecord, StaffUser, SubscriberExport,
    SubscriberRecord,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use jikimi_audit::{AuditEntry, GENESIS, NewAuditEntry};
use jikimi_privacy::BlindDigest;
use jikimi_respond::{
    EventKind, Incident, IncidentEvent, IncidentId, SubscriberId, Timestamp, Unit, UnitId,
    UnitStatus,
};
use std::sync::Arc;

/// The spine's storage. Implemented by [`SqliteStore`] and [`PgStore`]; held by the server as `Arc<dyn Store>`.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations. Idempotent.
    async fn migrate(&self) -> Result<()>;
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;
    /// Which backend: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    // ---- alerts and incidents ----------------------------------------------------------------------------------

    /// Records a batch of authenticated alerts in ONE transaction, returning one result per alert in order.
    ///
    /// Per alert: a nonce this device used before is `Err(Conflict::NonceReplayed)`; an alert id this device sent
    /// before returns its incident with `duplicate: true` (also within the batch); otherwise the incident, its first
    /// event and an `alert.received` audit entry are written. The outer error means nothing was committed.
    async fn record_alerts(&self, batch: Vec<NewAlert>) -> Result<Vec<Result<AlertAccepted>>>;

    /// Appends an event to an incident whose last seq is `expected_seq` (optimistic concurrency), refolds the
    /// projection and audits `incident.<event>`, all in one transaction. Returns the new state.
    ///
    /// Errors: [`Error::NotFound`], [`Conflict::StaleSequence`], [`Error::IllegalTransition`].
    async fn append_event(
        &self,
        incident_id: IncidentId,
        expected_seq: u64,
        kind: EventKind,
        change: &Change,
    ) -> Result<Incident>;

    /// All events of an incident, by seq.
    async fn load_events(&self, incident_id: IncidentId) -> Result<Vec<IncidentEvent>>;
    /// The current state of an incident.
    async fn get_incident(&self, incident_id: IncidentId) -> Result<Incident>;
    /// Incidents matching the filter, by priority (code 0 first), then age, then id.
    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>>;
    /// Refolds every incident from its events and rewrites the projection. Returns the number of incidents.
    async fn rebuild_projections(&self) -> Result<u64>;
    /// Forgets nonces first seen before `before` (the server refuses timestamps that old anyway). Returns how many.
    async fn purge_nonces(&self, before: Timestamp) -> Result<u64>;

    // ---- registration ------------------------------------------------------------------------------------------

    /// Creates or replaces a subscriber with its sealed fields and blind indexes. Audited `subscriber.saved`.
    async fn put_subscriber(&self, record: &SubscriberRecord, change: &Change) -> Result<()>;
    /// A subscriber's sealed record. Not audited: nothing is decrypted here; the server audits decryption.
    async fn get_subscriber(&self, id: SubscriberId) -> Result<SubscriberRecord>;
    /// Subscribers whose blind index in `domain` equals `digest`, by id.
    async fn find_subscribers(
        &self,
        domain: &str,
        digest: &BlindDigest,
    ) -> Result<Vec<SubscriberId>>;
    /// Everything about a subscriber for a subject-access request. Audited `subscriber.exported`.
    async fn export_subscriber(
        &self,
        id: SubscriberId,
        change: &Change,
    ) -> Result<SubscriberExport>;
    /// Erases a subscriber: sealed fields, indexes and guardians deleted, devices revoked and unlinked.
    /// Incidents stay (they hold no personal field). Audited `subscriber.erased`.
    async fn erase_subscriber(&self, id: SubscriberId, change: &Change) -> Result<ErasureReport>;

    /// Creates or replaces a guardian. Audited `guardian.saved`. The subscriber must exist.
    async fn put_guardian(&self, record: &GuardianRecord, change: &Change) -> Result<()>;
    /// A subscriber's guardians, by creation time then id.
    async fn list_guardians(&self, subscriber_id: SubscriberId) -> Result<Vec<GuardianRecord>>;
    /// Deletes a guardian. Audited `guardian.deleted`.
    async fn delete_guardian(&self, id: GuardianId, change: &Change) -> Result<()>;

    /// Enrols or replaces a device. Audited `device.saved`.
    async fn put_device(&self, record: &DeviceRecord, change: &Change) -> Result<()>;
    /// A device by id.
    async fn get_device(&self, id: jikimi_respond::DeviceId) -> Result<DeviceRecord>;
    /// A subscriber's devices, by enrolment time then id.
    async fn list_devices(&self, subscriber_id: SubscriberId) -> Result<Vec<DeviceRecord>>;
    /// Revokes a device (its alerts are refused from then on). Audited `device.revoked`.
    async fn revoke_device(&self, id: jikimi_respond::DeviceId, change: &Change) -> Result<()>;

    // ---- units -------------------------------------------------------------------------------------------------

    /// Creates or replaces a unit. Audited `unit.saved`.
    async fn put_unit(&self, unit: &Unit, change: &Change) -> Result<()>;
    /// Records a position report. Not audited: AVL telemetry arrives every few seconds per unit and is not a
    /// decision; the unit's status changes are audited.
    async fn report_position(&self, id: &UnitId, report: PositionReport) -> Result<()>;
    /// Sets a unit's status. Audited `unit.status`.
    async fn set_unit_status(
        &self,
        id: &UnitId,
        status: UnitStatus,
        change: &Change,
    ) -> Result<Unit>;
    /// A unit.
    async fn get_unit(&self, id: &UnitId) -> Result<Unit>;
    /// All units, by call sign.
    async fn list_units(&self) -> Result<Vec<Unit>>;

    // ---- staff and sessions ------------------------------------------------------------------------------------

    /// Creates a staff account; [`Conflict::AlreadyExists`] if the name is taken. Audited `staff.created`.
    async fn create_staff(&self, user: &StaffUser, change: &Change) -> Result<()>;
    /// Replaces a staff account's hash, role and disabled flag. Audited `staff.updated`.
    async fn update_staff(&self, user: &StaffUser, change: &Change) -> Result<()>;
    /// A staff account.
    async fn get_staff(&self, username: &str) -> Result<StaffUser>;
    /// All staff accounts, by name.
    async fn list_staff(&self) -> Result<Vec<StaffUser>>;
    /// Stores a new session. Audited `session.created`.
    async fn create_session(&self, session: &SessionRecord, change: &Change) -> Result<()>;
    /// A session valid at `now`; [`Error::NotFound`] if unknown or expired.
    async fn get_session(&self, token_hash: &[u8; 32], now: Timestamp) -> Result<SessionRecord>;
    /// Ends a session (logout). Audited `session.deleted`.
    async fn delete_session(&self, token_hash: &[u8; 32], change: &Change) -> Result<()>;
    /// Deletes sessions expired at `now`. Returns how many.
    async fn purge_sessions(&self, now: Timestamp) -> Result<u64>;

    // ---- audit -------------------------------------------------------------------------------------------------

    /// Appends entries that record no store change (reads of decrypted data, refused requests, logins), chained in
    /// one transaction. Returns their seqs.
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> Result<Vec<u64>>;
    /// Up to `limit` entries with seq greater than `after_seq`, by seq.
    async fn list_audit(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>>;
}

/// Walks the whole audit log page by page and verifies the hash chain.
///
/// Returns the number of entries, or [`Error::Tampered`] naming the first seq that does not verify.
pub async fn verify_audit(store: &dyn Store) -> Result<u64> {
    const PAGE: u32 = 5_000;
    let mut prev = GENESIS;
    let mut after = 0u64;
    let mut n = 0u64;
    loop {
        let page = store.list_audit(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        let last_seq = last.seq;
        prev = jikimi_audit::verify(&page, prev)?;
        n += page.len() as u64;
        after = last_seq;
    }
    Ok(n)
}

/// A store of either backend, by value: what a caller that needs more than [`Store`] holds (the cooperation node is
/// generic over `jikimi_exchange::store::ExchangeStore`, which both backends implement; this enum forwards to them).
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens the store a URL names, as [`connect`] does. Does not migrate.
    pub async fn open(url: &str) -> Result<AnyStore> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(AnyStore::Postgres(PgStore::connect(url).await?))
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Ok(AnyStore::Sqlite(
                SqliteStore::open(std::path::Path::new(path)).await?,
            ))
        }
    }

    /// The same store as the spine's trait object.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            AnyStore::Sqlite(s) => Arc::new(s.clone()),
            AnyStore::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Raw `body` column of every cooperation record, in log order (tests assert on the database itself).
    pub async fn exchange_raw_bodies(&self) -> jikimi_exchange::Result<Vec<String>> {
        match self {
            AnyStore::Sqlite(s) => s.exchange_raw_bodies().await,
            AnyStore::Postgres(s) => s.exchange_raw_bodies().await,
        }
    }
}

/// Forwards every `ExchangeStore` method to the backend.
macro_rules! forward_exchange {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        impl jikimi_exchange::store::ExchangeStore for AnyStore {
            $(
                async fn $name(&self, $($arg: $ty),*) -> jikimi_exchange::Result<$ret> {
                    match self {
                        AnyStore::Sqlite(s) => s.$name($($arg),*).await,
                        AnyStore::Postgres(s) => s.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

use jikimi_exchange::domain as xd;
use jikimi_exchange::store as xs;
forward_exchange! {
    identity() -> Option<(xd::Agency, ed25519_dalek::SigningKey)>;
    set_identity(agency: &xd::Agency, key: &ed25519_dalek::SigningKey) -> ();
    upsert_peer(peer: &xd::Agency) -> ();
    peers() -> Vec<xd::Agency>;
    put_agreement(agreement: &xd::Agreement) -> ();
    agreements() -> Vec<xd::Agreement>;
    put_local(record: &xd::Record) -> u64;
    put_local_many(records: &[xd::Record]) -> u64;
    record(id: uuid::Uuid) -> Option<xs::StoredRecord>;
    records() -> Vec<xs::StoredRecord>;
    case_records(case_id: uuid::Uuid) -> Vec<xs::StoredRecord>;
    log_after(cursor: u64, limit: u32) -> Vec<xs::StoredRecord>;
    disclosed_to(record: uuid::Uuid) -> std::collections::BTreeSet<xd::AgencyId>;
    record_disclosures(rows: &[xs::DisclosureRow]) -> ();
    cursor(peer: &xd::AgencyId) -> u64;
    known_page(sender: &xd::AgencyId, items: &[(uuid::Uuid, &xd::Record)]) -> Vec<jikimi_exchange::protocol::Known>;
    apply_inbound(peer: &xd::AgencyId, items: &[xs::Inbound], new_cursor: Option<u64>) -> ();
    remember_nonce(sender: &xd::AgencyId, nonce: uuid::Uuid) -> bool;
    audit(action: &str, peer: Option<&xd::AgencyId>, record: Option<uuid::Uuid>, detail: &str) -> ();
    store_receipt(receipt: &jikimi_exchange::protocol::Receipt, sent: bool) -> ();
    audit_log() -> Vec<xs::AuditEntry>;
    disclosure_counts(peer: &xd::AgencyId) -> (u64, u64);
}

/// Opens the store a URL names: `postgres://…` or `postgresql://…` for PostgreSQL, `sqlite://PATH`, `sqlite:PATH` or
/// a bare path for SQLite (the file is created if missing). Does not migrate.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Ok(Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    }
}
