//! What several nodes on one database share: the change outbox and named leases (issue 18).
//!
//! - **Change outbox.** Once [`Cluster::record_change_events`] is switched on (by `jikimi serve --nats`), every
//!   writing transaction that changed something ([`crate::ChangeSet`], the publish-on-commit seam) writes one
//!   [`ChangeEvent`] row in the same transaction, just before its commit: a committed change always has its row, a
//!   rolled-back one never. A relay (the server's `cluster` module) claims pending rows with a lease
//!   ([`Cluster::claim_change_events`]), publishes them, and marks them published
//!   ([`Cluster::mark_change_events_published`]). A relay that dies keeps its lease until it expires; then any
//!   node claims the rows again, and the event id (the bus's de-duplication key) makes a repeat harmless.
//! - **Leases** ([`Cluster::acquire_lease`]): a named lease has one holder until it expires; the holder renews it by
//!   acquiring it again. Work that must run once across the cluster (purges, federation sync) runs on the holder.
//!
//! Rows hold ids and kinds only (no state, no personal data). Both backends share `sql/cluster.rs`.

use crate::{Committed, Result};
use jikimi_respond::Timestamp;
use uuid::Uuid;

/// One committed transaction's changes, as the change outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// Position in commit order, from 1.
    pub seq: u64,
    /// Stable id: the bus's message id, so a repeated publish is dropped.
    pub id: Uuid,
    /// When it was committed (the committing node's clock).
    pub at: Timestamp,
    /// What the transaction changed, in order.
    pub changes: Vec<Committed>,
}

/// A named lease and its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// What it guards (`purge`, `federation-sync`, `node/<id>`).
    pub name: String,
    /// Who holds it (a node id).
    pub holder: String,
    /// Since when this holder has held it without a break.
    pub acquired_at: Timestamp,
    /// When it lapses unless renewed.
    pub expires_at: Timestamp,
}

/// How far the relay is behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxDepth {
    /// Rows committed and not yet published.
    pub pending: u64,
    /// When the oldest of them was committed.
    pub oldest_at: Option<Timestamp>,
    /// The last seq written (0 when none).
    pub last_seq: u64,
}

/// The database server the store writes to, as `jikimi cluster status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseRole {
    /// `primary` (takes writes), `standby` (in recovery: a failover is under way or the URL names a standby) or
    /// `embedded` (SQLite, one node).
    pub role: String,
    /// The server as it names itself (`address:port PostgreSQL version`); `None` for SQLite.
    pub server: Option<String>,
}

/// The cluster's side of the store, implemented by both backends; every [`crate::Store`] is a `Cluster`.
#[async_trait::async_trait]
pub trait Cluster: Send + Sync {
    /// From now on (`true`), every transaction that changes something also writes its [`ChangeEvent`]; off by
    /// default (a single node with the in-process bus needs no outbox). Shared by the store's clones.
    fn record_change_events(&self, on: bool);

    /// Leases up to `limit` pending change events until `lease_until`: unpublished, and not leased or their lease
    /// expired at `now`. Returns them in seq order with the claim's lease token.
    async fn claim_change_events(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<(Uuid, Vec<ChangeEvent>)>;

    /// Marks the events of the claim `lease_token` up to seq `through` published at `at`; returns how many. Rows
    /// whose lease was lost (expired and claimed again) are left to their new claimer.
    async fn mark_change_events_published(
        &self,
        lease_token: Uuid,
        through: u64,
        at: Timestamp,
    ) -> Result<u64>;

    /// Pending rows and the last seq.
    async fn change_outbox_depth(&self) -> Result<OutboxDepth>;

    /// Deletes events published before `before`; returns how many.
    async fn purge_published_change_events(&self, before: Timestamp) -> Result<u64>;

    /// Takes or renews the lease `name` for `holder` until `until`: granted (true) when nobody holds it, when
    /// `holder` already does, or when the current holder's lease expired at `now`.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool>;

    /// Gives the lease up if `holder` holds it; returns whether it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool>;

    /// Every lease (held or expired), by name.
    async fn list_leases(&self) -> Result<Vec<Lease>>;

    /// The role of the database server the store's connections reach now.
    async fn database_role(&self) -> Result<DatabaseRole>;
}

pub(crate) fn changes_json(changes: &[Committed]) -> Result<String> {
    serde_json::to_string(changes)
        .map_err(|e| crate::Error::Invalid(format!("changes do not serialise: {e}")))
}

pub(crate) fn changes_from(text: &str) -> Result<Vec<Committed>> {
    serde_json::from_str(text).map_err(|e| {
        crate::Error::corrupt(format!(
            "stored changes do not parse: {}",
            crate::sql::json_position(&e)
        ))
    })
}
