//! The change outbox and named leases ([`crate::cluster::Cluster`]), one implementation for both backends.

use super::{Backend, RowsAffected as _, SqlStore};
use crate::cluster::{ChangeEvent, DatabaseRole, Lease, OutboxDepth};
use jikimi_respond::Timestamp;
use sqlx::Row;

impl<DB: Backend> SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    /// Writes the transaction's change event, when the outbox is on and it changed something; called by
    /// `commit_write` inside the transaction, just before the commit.
    pub(crate) async fn write_change_event(
        &self,
        tx: &mut sqlx::Transaction<'static, DB>,
        changes: &crate::ChangeSet,
    ) -> crate::Result<()> {
        if changes.is_empty()
            || !self
                .change_events
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        sqlx::query("INSERT INTO change_events (id, at_ms, changes) VALUES ($1, $2, $3)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(at_ms)
            .bind(crate::cluster::changes_json(changes.changes())?)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<DB: Backend> crate::cluster::Cluster for SqlStore<DB>
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
    fn record_change_events(&self, on: bool) {
        self.change_events
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    async fn claim_change_events(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> crate::Result<(uuid::Uuid, Vec<ChangeEvent>)> {
        let token = uuid::Uuid::new_v4();
        // One statement: the outer WHERE re-checks the lease, so of two racing relays (PostgreSQL re-evaluates it on
        // the row it waited for) only one gets a row.
        let rows = sqlx::query(
            "UPDATE change_events SET lease_until = $2, lease_token = $3
             WHERE seq IN (
                 SELECT seq FROM change_events
                 WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until <= $1)
                 ORDER BY seq
                 LIMIT $4)
               AND published_at IS NULL AND (lease_until IS NULL OR lease_until <= $1)
             RETURNING seq, id, at_ms, changes",
        )
        .bind(now.as_unix_ms())
        .bind(lease_until.as_unix_ms())
        .bind(token.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.writer())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(ChangeEvent {
                    seq: crate::sql::to_u64(r.try_get("seq")?)?,
                    id: crate::sql::parse_uuid(&r.try_get::<String, _>("id")?)?,
                    at: Timestamp::from_unix_ms(r.try_get("at_ms")?),
                    changes: crate::cluster::changes_from(&r.try_get::<String, _>("changes")?)?,
                })
            })
            .collect::<crate::Result<Vec<_>>>()?;
        out.sort_by_key(|e| e.seq);
        Ok((token, out))
    }

    async fn mark_change_events_published(
        &self,
        lease_token: uuid::Uuid,
        through: u64,
        at: Timestamp,
    ) -> crate::Result<u64> {
        let n = sqlx::query(
            "UPDATE change_events SET published_at = $1, lease_until = NULL
             WHERE lease_token = $2 AND seq <= $3 AND published_at IS NULL",
        )
        .bind(at.as_unix_ms())
        .bind(lease_token.to_string())
        .bind(crate::sql::to_i64(through)?)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n)
    }

    async fn change_outbox_depth(&self) -> crate::Result<OutboxDepth> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(at_ms) AS oldest,
                    (SELECT COALESCE(MAX(seq), 0) FROM change_events) AS last_seq
             FROM change_events WHERE published_at IS NULL",
        )
        .fetch_one(self.reader())
        .await?;
        Ok(OutboxDepth {
            pending: crate::sql::to_u64(row.try_get("pending")?)?,
            oldest_at: row
                .try_get::<Option<i64>, _>("oldest")?
                .map(Timestamp::from_unix_ms),
            last_seq: crate::sql::to_u64(row.try_get("last_seq")?)?,
        })
    }

    async fn purge_published_change_events(&self, before: Timestamp) -> crate::Result<u64> {
        let n = sqlx::query(
            "DELETE FROM change_events WHERE published_at IS NOT NULL AND published_at < $1",
        )
        .bind(before.as_unix_ms())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> crate::Result<bool> {
        // One statement on both backends: inserted when new; otherwise updated only when this holder already has it
        // or it expired (the SET reads the old row, so `acquired_at` is kept across renewals).
        let n = sqlx::query(
            "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET
                 acquired_at = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > excluded.acquired_at
                                    THEN leases.acquired_at ELSE excluded.acquired_at END,
                 holder = excluded.holder,
                 expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= excluded.acquired_at",
        )
        .bind(name)
        .bind(holder)
        .bind(now.as_unix_ms())
        .bind(until.as_unix_ms())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> crate::Result<bool> {
        let n = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn list_leases(&self) -> crate::Result<Vec<Lease>> {
        let rows =
            sqlx::query("SELECT name, holder, acquired_at, expires_at FROM leases ORDER BY name")
                .fetch_all(self.reader())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Lease {
                    name: r.try_get("name")?,
                    holder: r.try_get("holder")?,
                    acquired_at: Timestamp::from_unix_ms(r.try_get("acquired_at")?),
                    expires_at: Timestamp::from_unix_ms(r.try_get("expires_at")?),
                })
            })
            .collect()
    }

    async fn database_role(&self) -> crate::Result<DatabaseRole> {
        if DB::BACKEND != "postgres" {
            return Ok(DatabaseRole {
                role: "embedded".into(),
                server: None,
            });
        }
        let row = sqlx::query(
            "SELECT pg_is_in_recovery() AS standby, COALESCE(host(inet_server_addr()), 'socket') || ':' || \
             COALESCE(inet_server_port()::text, '') || ' PostgreSQL ' || current_setting('server_version') AS server",
        )
        .fetch_one(self.writer())
        .await?;
        let standby: bool = row.try_get("standby")?;
        Ok(DatabaseRole {
            role: if standby { "standby" } else { "primary" }.into(),
            server: Some(row.try_get("server")?),
        })
    }
}
