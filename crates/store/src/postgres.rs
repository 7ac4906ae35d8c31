//! The PostgreSQL backend.
//!
//! Every writing transaction locks the audit head row first (`SELECT … FOR UPDATE`), which serialises writers: the
//! chain stays linear and optimistic-concurrency checks on incidents cannot race. Batching alerts keeps that cheap.
//! A schema can be chosen (set as `search_path` on every connection), which is how tests isolate themselves.

use crate::Result;
use crate::sql::{Backend, BoxFuture, SqlStore};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Connections: writers queue on the audit head anyway; readers serve the API.
const MAX_CONNECTIONS: u32 = 8;

/// The PostgreSQL store.
pub type PgStore = SqlStore<sqlx::Postgres>;

impl Backend for sqlx::Postgres {
    const BACKEND: &'static str = "postgres";
    const BEGIN: &'static str = "BEGIN";
    const LOCK_HEAD: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

    fn run_migrations(pool: &PgPool) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            crate::migrations::run(sqlx::migrate!("migrations/postgres"), pool).await
        })
    }
}

/// How long the server lets a session of ours sit idle inside a transaction before ending it (see
/// [`SqlStore::connect_with_schema`]). Our transactions send their statements back to back: seconds of silence
/// mean the node is gone or cut off.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "5s";

impl SqlStore<sqlx::Postgres> {
    /// Connects to `url` (`postgres://user@host:port/db`). Does not migrate.
    pub async fn connect(url: &str) -> Result<PgStore> {
        PgStore::connect_with_schema(url, None).await
    }

    /// Connects with `search_path` set to `schema` on every connection, when given. The schema must exist.
    ///
    /// A URL naming several hosts (`postgres://user@primary:5432,standby:5433/db`, libpq's form) connects to the one
    /// that takes writes and follows a promotion to another ([`crate::pg_hosts`]).
    pub async fn connect_with_schema(url: &str, schema: Option<&str>) -> Result<PgStore> {
        let mut hosts = Vec::new();
        for url in crate::pg_hosts::split(url) {
            // A node cut off from the database mid-transaction (a partition: its packets vanish, nothing fails)
            // would hold the transaction's row locks, among them the audit head every writer takes, and so stop
            // every other node's commits until TCP gives up, minutes later. The server ends such a session instead.
            let mut options = PgConnectOptions::from_str(&url)?.options([(
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            )]);
            if let Some(schema) = schema {
                // The application name lets an operator (or a test's clean-up) find this store's connections.
                options = options
                    .options([("search_path", schema)])
                    .application_name(schema);
            }
            hosts.push(options);
        }
        let several = hosts.len() > 1;
        let first = match several {
            true => crate::pg_hosts::find_primary(&hosts).await.unwrap_or(0),
            false => 0,
        };
        let Some(options) = hosts.get(first).cloned() else {
            return Err(crate::Error::Invalid(
                "the database URL names no host".into(),
            ));
        };
        let mut pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10));
        if several {
            // Never a connection to a standby: it would fail every write.
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    match crate::pg_hosts::writable(conn).await? {
                        true => Ok(()),
                        false => Err(sqlx::Error::Protocol(
                            "a standby in recovery does not take writes".into(),
                        )),
                    }
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        if several {
            tokio::spawn(crate::pg_hosts::follow(pool.clone(), hosts, first));
        }
        // One pool serves both: PostgreSQL needs no single writer (the audit head lock orders writers).
        Ok(SqlStore::new(pool.clone(), pool, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::TestBackend;

    /// A fresh schema, dropped when the guard drops.
    impl TestBackend for sqlx::Postgres {
        type Guard = crate::testing::PgSchema;

        async fn fresh() -> (PgStore, Self::Guard) {
            let guard = crate::testing::PgSchema::create("jikimi_test").await;
            (guard.store().await, guard)
        }

        async fn reopen(store: PgStore, guard: &Self::Guard) -> PgStore {
            store.close().await;
            guard.store().await
        }

        async fn database_bytes(_store: &PgStore) -> Option<Vec<u8>> {
            None
        }
    }

    crate::conformance::store_conformance!(PgStore);
}
