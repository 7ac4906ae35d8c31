//! One-time maintenance of derived rows: subscribers' blind indexes rewritten after the rule that derives them
//! changed (issue 17: phone numbers are now normalised by libphonenumber's rules, which drop the trunk `0` in
//! `+82 010-…` that the old rule kept), and a marker per job so a job that ran is not run again at start.
//!
//! The store still never opens a sealed value: the server opens each subscriber's fields with its keyring,
//! normalises and digests them, and hands back [`Reindexed`] rows; [`Maintenance::apply_reindex`] writes them, the
//! audit entries and the job's marker in ONE transaction, so a crash leaves either all of it or none, and a run
//! that is repeated finds nothing left to change.
//!
//! Every [`crate::Store`] is a [`Maintenance`] (a supertrait, like [`crate::Outbox`]); both backends share one
//! generic implementation in `sql/maintenance.rs`.

use crate::{Change, IndexEntry, Result};
use jikimi_privacy::Sealed;
use jikimi_respond::{SubscriberId, Timestamp};
use std::collections::BTreeMap;

/// One subscriber's re-derived rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reindexed {
    /// The subscriber.
    pub id: SubscriberId,
    /// The `updated_at` of the record the rows were derived from. A subscriber saved since (by code that already
    /// derives the new way) or erased is left alone and counted as superseded (saved anew since it was read).
    pub read_updated_at: Timestamp,
    /// Sealed fields to replace, by field name (e.g. the phone sealed again in its new normal form); other fields
    /// stay as they are.
    pub fields: BTreeMap<String, Sealed>,
    /// The subscriber's complete new set of blind indexes (it replaces every index row of the subscriber).
    pub indexes: Vec<IndexEntry>,
}

/// What [`Maintenance::apply_reindex`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReindexApplied {
    /// Subscribers whose rows were rewritten (one `subscriber.reindexed` audit entry each).
    pub changed: u64,
    /// Subscribers saved or erased since they were read, left alone.
    pub superseded: u64,
}

/// One-time maintenance jobs over derived rows; every [`crate::Store`] is one.
#[async_trait::async_trait]
pub trait Maintenance: Send + Sync {
    /// Whether the job `name` has completed (its marker is stored).
    async fn maintenance_done(&self, name: &str) -> Result<bool>;
    /// Every subscriber's id, in id order: what a re-index walks.
    async fn subscriber_ids(&self) -> Result<Vec<SubscriberId>>;
    /// In ONE transaction: rewrites each row of `rows` (unless its subscriber changed since it was read), audits each
    /// rewritten subscriber as `subscriber.reindexed` and the job as `maintenance.completed` (`checked` subscribers,
    /// how many changed and how many were superseded), and stores the job's marker (its time updated if it ran before).
    async fn apply_reindex(
        &self,
        name: &str,
        rows: Vec<Reindexed>,
        checked: u64,
        change: &Change,
    ) -> Result<ReindexApplied>;
}
