//! Durable storage for the respond spine: one trait per domain, [`Store`] over them all, two backends.
//!
//! - [`Store`] is the umbrella of the domain traits ([`IncidentStore`], [`SubscriberStore`], [`DeviceStore`],
//!   [`UnitStore`], [`StaffStore`], [`AuditStore`], [`LinkageStore`], [`Outbox`] and the exchange core's
//!   [`jikimi_exchange::store::ExchangeStore`]); callers hold `Arc<dyn Store>`, and `use jikimi_store::prelude::*;`
//!   brings every domain trait into scope. The traits speak domain types only (no sqlx type in a signature). Every
//!   mutating call takes a [`Change`] (who, when, why) and appends its audit entry, hash-chained, in the same
//!   transaction as the change.
//! - [`SqlStore<DB>`](SqlStore) implements every trait once, one module per domain under `sql/`, generic over
//!   [`Backend`] (the few things that differ: the statement that opens a writing transaction, the audit head lock,
//!   migrations). [`SqliteStore`] (default; one file, WAL, a single writer connection so transactions never fight)
//!   and [`PgStore`] are its two instances, with their own migrations (`migrations/sqlite`, `migrations/postgres`).
//! - [`IncidentStore::record_alerts`] takes a batch of authenticated alerts and commits them in one transaction: the server
//!   groups concurrent requests (group commit), so one fsync covers many alerts. Duplicates (same device and alert id)
//!   return the first incident; a reused nonce is refused, and nonces are persisted so a restart does not reopen the
//!   replay window.
//! - Incidents are an append-only event log; the `incidents` table is a projection of it, refolded with
//!   [`jikimi_respond::Incident`] on every append and rebuildable with [`IncidentStore::rebuild_projections`].
//!
//! - Publish on commit ([`commit`]): each writing transaction tells the store's [`CommitObserver`]s what it changed
//!   ([`ChangeSet`]: incident, unit and notification ids with the kind of change) after it committed, never before
//!   and never for one rolled back. The server's live feed subscribes; no caller reports changes itself.
//!
//! - [`UnitStore::dispatch`] re-reads the unit inside the dispatch's one transaction: of two dispatchers racing for
//!   one unit, exactly one wins.
//! - Cooperation's tables (agencies, agreements, the record log) are [`jikimi_exchange::store::ExchangeStore`], a
//!   supertrait of [`Store`]: `Arc<dyn Store>` is the one handle on the database. This crate depends only on the
//!   exchange's pure core, never on HTTP.
//! - Guardian notifications are an outbox ([`Outbox`], every `Store` is one): rows written in the same transaction as
//!   the event that causes them, leased and finished by the `notify` worker.
//!
//! - One-time maintenance ([`Maintenance`], every `Store` is one): the server re-derives blind indexes from the sealed
//!   values after a normalisation change; the store writes them, their audit entries and the job's marker in one
//!   transaction.
//!
//! - Follow the money ([`FundsStore`]): transfer sets attached to cooperation cases, with their transfers (accounts
//!   sealed, blind digests for look-ups) and trace runs (the result sealed); see [`funds`].
//!
//! The store never sees personal data in clear: subscribers and guardians arrive as [`jikimi_privacy::Sealed`] fields
//! and blind digests.
//!
//! Tests: the conformance suite (`src/conformance`, `store_conformance!`) runs every behaviour against both backends;
//! each PostgreSQL test gets a fresh schema from `testing::PgSchema` (feature `test-util`), which the server, notify,
//! forecast and binary tests use too.
//!
//! ```no_run
//! # async fn demo() -> jikimi_store::Result<()> {
//! let store = jikimi_store::connect("sqlite:///var/lib/jikimi/jikimi.db").await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cluster;
pub mod commit;
// Issue 20 (disaster mode): disasters, the welfare check's persons and their answers.
pub mod disaster;
mod error;
mod exchange;
mod exchange_seal;
pub mod funds;
// Issue 19: hash banks, content, matches and reviews; the trait and its types in one module.
pub mod identify;
// Issue 17 (phone): one-time re-derivation of blind indexes; a supertrait of `Store`, its SQL in its own file.
pub mod maintenance;
mod migrations;
mod model;
mod outbox;
mod pg_hosts;
mod postgres;
// Issue 20, part 5: what an incident needs (unit types and capabilities live on `jikimi_respond::Unit`).
pub mod rescue;
mod sql;
mod sqlite;
mod traits;

#[cfg(test)]
mod conformance;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use cluster::{ChangeEvent, Cluster, DatabaseRole, Lease, OutboxDepth};
pub use commit::{ChangeSet, CommitObserver, Committed};
pub use error::{Conflict, Entity, Error, Result};
pub use maintenance::{Maintenance, ReindexApplied, Reindexed};
pub use model::{
    AlertAccepted, AlertBudget, Change, DeviceEvent, DeviceRecord, Enrolment, EnrolmentCheck,
    EnrolmentCode, EnrolmentRefusal, EntityLink, ErasureReport, GuardianId, GuardianRecord,
    IncidentFilter, IncidentOrder, IndexEntry, IntakeCounts, LinkRunReport, LinkStatus, NewAlert,
    NewEntityLink, NewReferral, NonceClaim, PinHashes, PinRecord, PositionReport, ReferralOpened,
    RoadClosureRecord, Role, SessionRecord, StaffUser, SubscriberExport, SubscriberRecord,
    WarningRecord,
};
pub use outbox::{
    DeliveryOutcome, DeliveryReport, Notification, NotificationId, NotificationState, Outbox,
    WELFARE_ASKED, notifies_guardians, welfare_event,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

pub use sql::{Backend, BoxFuture, RowsAffected, SqlStore};
pub use traits::{
    AuditStore, ClosureStore, DeviceStore, DisasterStore, FundsStore, IncidentStore, LinkageStore,
    StaffStore, Store, SubscriberStore, UnitStore, WarningStore,
};

/// The store's traits, for callers whose method calls need them in scope: `use jikimi_store::prelude::*;`.
pub mod prelude {
    pub use crate::cluster::Cluster;
    pub use crate::identify::IdentifyStore;
    pub use crate::maintenance::Maintenance;
    pub use crate::outbox::Outbox;
    pub use crate::traits::{
        AuditStore, ClosureStore, DeviceStore, DisasterStore, FundsStore, IncidentStore,
        LinkageStore, StaffStore, Store, SubscriberStore, UnitStore, WarningStore,
    };
    pub use jikimi_exchange::store::ExchangeStore;
}

use jikimi_audit::GENESIS;
use std::sync::Arc;

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

/// Opens the store a URL names: `postgres://…` or `postgresql://…` for PostgreSQL, `sqlite://PATH`, `sqlite:PATH` or
/// a bare path for SQLite (the file is created if missing). Does not migrate. Without the data keys, the cooperation
/// tables cannot be read or written (see [`connect_with_keyring`]); everything else works.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    open(url, None).await
}

/// [`connect`], with the operator's data keys, which seal the cooperation tables' secrets (the agency signing key,
/// record bodies; see [`SqliteStore::with_keyring`]): the one handle `jikimi serve` and the cooperation commands
/// use for the spine and the exchange alike.
pub async fn connect_with_keyring(
    url: &str,
    keyring: jikimi_privacy::Keyring,
) -> Result<Arc<dyn Store>> {
    open(url, Some(keyring)).await
}

async fn open(url: &str, keyring: Option<jikimi_privacy::Keyring>) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url).await?;
        Ok(match keyring {
            Some(k) => Arc::new(store.with_keyring(k)),
            None => Arc::new(store),
        })
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let store = SqliteStore::open(std::path::Path::new(path)).await?;
        Ok(match keyring {
            Some(k) => Arc::new(store.with_keyring(k)),
            None => Arc::new(store),
        })
    }
}

/// [`connect`], with `observer` told what every commit changed from the first one on.
pub async fn connect_observed(
    url: &str,
    observer: Arc<dyn CommitObserver>,
) -> Result<Arc<dyn Store>> {
    let store = connect(url).await?;
    store.observe_commits(observer);
    Ok(store)
}
