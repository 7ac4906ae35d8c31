//! One-time maintenance of derived rows: subscribers' blind indexes rewritten after the rule that derives them
//! changed (issue 17: phone numbers are now normalised by libphonenumber's rules, which drop the trunk `0` in
//! `+82 010-…` that the old rule kept), and a marker per job so a job that ran is not run again at start.
//!
//! The store still never opens a sealed value: the server opens each subscriber's fields with its keyring,
//! normalises and digests them, and hands back [`Reindexed`] rows; [`Maintenance::apply_reindex`] writes them, the
//! audit entries and the job's marker in ONE transaction, so a crash leaves either all of it or none, and a run
//! that is repeated finds nothing left to change.
//!
//! Every [`crate::Store`] is a [`Maintenance`] (a supertrait, like [`crate::Outbox`]); both backends share the
//! statements below through [`impl_maintenance`].

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
    /// derives the new way) or erased is left alone and counted as skipped.
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
    pub skipped: u64,
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
    /// how many changed and were skipped), and stores the job's marker (its time updated if it ran before).
    async fn apply_reindex(
        &self,
        name: &str,
        rows: Vec<Reindexed>,
        checked: u64,
        change: &Change,
    ) -> Result<ReindexApplied>;
}

/// Implements [`Maintenance`] for a backend (the store type and its sqlx database), with the same statements for
/// both; the transaction and audit chain come from [`crate::sql`]'s `begin_write` and `commit_write`.
macro_rules! impl_maintenance {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::maintenance::Maintenance for $store {
            async fn maintenance_done(&self, name: &str) -> $crate::Result<bool> {
                let row = sqlx::query("SELECT 1 AS done FROM maintenance_jobs WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.reader())
                    .await?;
                Ok(row.is_some())
            }

            async fn subscriber_ids(&self) -> $crate::Result<Vec<jikimi_respond::SubscriberId>> {
                let rows = sqlx::query("SELECT id FROM subscribers ORDER BY id")
                    .fetch_all(self.reader())
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(jikimi_respond::SubscriberId($crate::sql::parse_uuid(
                            &r.try_get::<String, _>("id")?,
                        )?))
                    })
                    .collect()
            }

            async fn apply_reindex(
                &self,
                name: &str,
                rows: Vec<$crate::maintenance::Reindexed>,
                checked: u64,
                change: &$crate::Change,
            ) -> $crate::Result<$crate::maintenance::ReindexApplied> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let mut applied = $crate::maintenance::ReindexApplied::default();
                for row in rows {
                    let id = row.id.to_string();
                    // The guard: only a record still as it was read is rewritten.
                    let touched = sqlx::query(
                        "UPDATE subscribers SET updated_at = $1 WHERE id = $2 AND updated_at = $3",
                    )
                    .bind(change.at.as_unix_ms())
                    .bind(&id)
                    .bind(row.read_updated_at.as_unix_ms())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if touched == 0 {
                        applied.skipped += 1;
                        continue;
                    }
                    let owner = format!("subscriber/{id}");
                    for (field, sealed) in &row.fields {
                        sqlx::query(
                            "INSERT INTO sealed_fields (owner, field, sealed) VALUES ($1, $2, $3)
                             ON CONFLICT (owner, field) DO UPDATE SET sealed = excluded.sealed",
                        )
                        .bind(&owner)
                        .bind(field)
                        .bind(sealed.to_bytes())
                        .execute(&mut *tx)
                        .await?;
                    }
                    // The subscriber's whole index set is replaced, one multi-row insert per chunk.
                    let mut indexes = row.indexes;
                    indexes.sort();
                    indexes.dedup();
                    sqlx::query("DELETE FROM blind_indexes WHERE subscriber_id = $1")
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    for chunk in indexes.chunks($crate::sql::rows_per_statement(3)) {
                        let sql = format!(
                            "INSERT INTO blind_indexes (subscriber_id, domain, digest) VALUES {}",
                            $crate::sql::values_clause(chunk.len(), 3)
                        );
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                        for entry in chunk {
                            query = query.bind(id.as_str()).bind(entry.domain.as_str()).bind(&entry.digest.0[..]);
                        }
                        query.execute(&mut *tx).await?;
                    }
                    // Domains and field names only: digests and sealed values stay out of the log.
                    let domains: std::collections::BTreeSet<&str> =
                        indexes.iter().map(|e| e.domain.as_str()).collect();
                    chain.push($crate::sql::audit(change, "subscriber.reindexed", owner).with_detail(
                        &serde_json::json!({
                            "job": name,
                            "domains": domains,
                            "fields": row.fields.keys().collect::<Vec<_>>(),
                        }),
                    ));
                    applied.changed += 1;
                }
                sqlx::query(
                    "INSERT INTO maintenance_jobs (name, done_at) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET done_at = excluded.done_at",
                )
                .bind(name)
                .bind(change.at.as_unix_ms())
                .execute(&mut *tx)
                .await?;
                chain.push(
                    $crate::sql::audit(change, "maintenance.completed", format!("maintenance/{name}")).with_detail(
                        &serde_json::json!({
                            "checked": checked,
                            "changed": applied.changed,
                            "skipped": applied.skipped,
                        }),
                    ),
                );
                self.commit_write(tx, chain).await?;
                Ok(applied)
            }
        }
    };
}
pub(crate) use impl_maintenance;
