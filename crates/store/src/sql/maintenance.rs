//! The one-time maintenance jobs ([`crate::maintenance::Maintenance`]): the job's marker, the subscriber walk, and
//! the re-derived rows written with their audit entries and the marker in one transaction.

use super::{Backend, RowsAffected as _, SqlStore};
use sqlx::Row;

#[async_trait::async_trait]
impl<DB: Backend> crate::maintenance::Maintenance for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> &'a [u8]: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> f64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> bool: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Vec<u8>: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<&'a str>: sqlx::Encode<'a, DB>,
    for<'a> Option<String>: sqlx::Encode<'a, DB>,
    for<'a> Option<i64>: sqlx::Encode<'a, DB>,
    for<'a> Option<f64>: sqlx::Encode<'a, DB>,
    for<'a> Option<Vec<u8>>: sqlx::Encode<'a, DB>,
{
    async fn maintenance_done(&self, name: &str) -> crate::Result<bool> {
        let row = sqlx::query("SELECT 1 AS done FROM maintenance_jobs WHERE name = $1")
            .bind(name)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.is_some())
    }

    async fn subscriber_ids(&self) -> crate::Result<Vec<jikimi_respond::SubscriberId>> {
        let rows = sqlx::query("SELECT id FROM subscribers ORDER BY id")
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(jikimi_respond::SubscriberId(crate::sql::parse_uuid(
                    &r.try_get::<String, _>("id")?,
                )?))
            })
            .collect()
    }

    async fn apply_reindex(
        &self,
        name: &str,
        rows: Vec<crate::maintenance::Reindexed>,
        checked: u64,
        change: &crate::Change,
    ) -> crate::Result<crate::maintenance::ReindexApplied> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let mut applied = crate::maintenance::ReindexApplied::default();
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
                applied.superseded += 1;
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
            for chunk in indexes.chunks(crate::sql::rows_per_statement(3)) {
                let sql = format!(
                    "INSERT INTO blind_indexes (subscriber_id, domain, digest) VALUES {}",
                    crate::sql::values_clause(chunk.len(), 3)
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for entry in chunk {
                    query = query
                        .bind(id.as_str())
                        .bind(entry.domain.as_str())
                        .bind(&entry.digest.0[..]);
                }
                query.execute(&mut *tx).await?;
            }
            // Domains and field names only: digests and sealed values stay out of the log.
            let domains: std::collections::BTreeSet<&str> =
                indexes.iter().map(|e| e.domain.as_str()).collect();
            chain.push(
                crate::sql::audit(change, "subscriber.reindexed", owner).with_detail(
                    &serde_json::json!({
                        "job": name,
                        "domains": domains,
                        "fields": row.fields.keys().collect::<Vec<_>>(),
                    }),
                ),
            );
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
            crate::sql::audit(
                change,
                "maintenance.completed",
                format!("maintenance/{name}"),
            )
            .with_detail(&serde_json::json!({
                "checked": checked,
                "changed": applied.changed,
                "superseded": applied.superseded,
            })),
        );
        self.commit_write(tx, chain).await?;
        Ok(applied)
    }
}
