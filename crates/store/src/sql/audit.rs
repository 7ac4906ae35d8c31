//! The audit log ([`crate::AuditStore`]): entries that record no store change, and paged reads for verification.

use super::{Backend, SqlStore};
use sqlx::Row;

#[async_trait::async_trait]
impl<DB: Backend> crate::AuditStore for SqlStore<DB>
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
    async fn append_audit(
        &self,
        entries: Vec<jikimi_audit::NewAuditEntry>,
    ) -> crate::Result<Vec<u64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (tx, mut chain) = self.begin_write().await?;
        let seqs = entries.into_iter().map(|e| chain.push(e)).collect();
        self.commit_write(tx, chain).await?;
        Ok(seqs)
    }

    async fn list_audit(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> crate::Result<Vec<jikimi_audit::AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor, action, subject, reason, detail, prev_hash, hash FROM audit_log
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(crate::sql::to_i64(after_seq)?)
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(jikimi_audit::AuditEntry {
                    seq: crate::sql::to_u64(r.try_get("seq")?)?,
                    at_unix_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    subject: r.try_get("subject")?,
                    reason: r.try_get("reason")?,
                    detail: r.try_get("detail")?,
                    prev_hash: crate::sql::hash_from(&r.try_get::<Vec<u8>, _>("prev_hash")?)?,
                    hash: crate::sql::hash_from(&r.try_get::<Vec<u8>, _>("hash")?)?,
                })
            })
            .collect()
    }
}
