//! The PostgreSQL backend.
//!
//! Every writing transaction locks the audit head row first (`SELECT … FOR UPDATE`), which serialises writers: the
//! chain stays linear and optimistic-concurrency checks on incidents cannot race. Batching alerts keeps that cheap.
//! A schema can be chosen (set as `search_path` on every connection), which is how tests isolate themselves.

use crate::Result;
use crate::outbox::impl_outbox;
use crate::sql::impl_store;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Connections: writers queue on the audit head anyway; readers serve the API.
const MAX_CONNECTIONS: u32 = 8;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`). Does not migrate.
    pub async fn connect(url: &str) -> Result<PgStore> {
        PgStore::connect_with_schema(url, None).await
    }

    /// Connects with `search_path` set to `schema` on every connection, when given. The schema must exist.
    pub async fn connect_with_schema(url: &str, schema: Option<&str>) -> Result<PgStore> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            // The application name lets an operator (or a test's clean-up) find this store's connections.
            options = options
                .options([("search_path", schema)])
                .application_name(schema);
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(PgStore { pool })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    async fn run_migrations(&self) -> Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }
}

impl_store!(
    PgStore,
    sqlx::Postgres,
    backend = "postgres",
    begin = "BEGIN",
    lock_head = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
);
impl_outbox!(PgStore, sqlx::Postgres);

crate::exchange::impl_exchange_store!(PgStore, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::TestStore;

    fn test_url() -> String {
        std::env::var("JIKIMI_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// Drops the test's schema when the test ends, passed or failed.
    pub(crate) struct SchemaGuard {
        url: String,
        schema: String,
    }

    impl Drop for SchemaGuard {
        fn drop(&mut self) {
            let (url, schema) = (self.url.clone(), self.schema.clone());
            // Drop cannot await; a short-lived runtime on its own thread does the clean-up.
            let cleanup = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(pool) = PgPoolOptions::new().max_connections(1).connect(&url).await {
                        // The test's own connections may still hold a transaction whose rollback waits for the
                        // runtime this drop is blocking: end them first, or DROP SCHEMA waits on their locks forever.
                        let _ = sqlx::query(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                             WHERE application_name = $1 AND pid <> pg_backend_pid()",
                        )
                        .bind(&schema)
                        .execute(&pool)
                        .await;
                        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                        pool.close().await;
                    }
                });
            });
            let _ = cleanup.join();
        }
    }

    impl TestStore for PgStore {
        type Guard = SchemaGuard;

        async fn fresh() -> (Self, Self::Guard) {
            let url = test_url();
            // The name is ours (a fixed prefix and a random hex suffix), so formatting it into SQL is safe.
            let schema = format!("jikimi_test_{}", uuid::Uuid::new_v4().simple());
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL at {url} is required for the conformance suite: {e}")
                });
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await
                .unwrap_or_else(|e| panic!("create schema on {url}: {e}"));
            admin.close().await;
            let guard = SchemaGuard {
                url: url.clone(),
                schema: schema.clone(),
            };
            let store = PgStore::connect_with_schema(&url, Some(&schema))
                .await
                .expect("connect postgres");
            crate::Store::migrate(&store)
                .await
                .expect("migrate postgres");
            (store, guard)
        }

        async fn reopen(self, guard: &Self::Guard) -> Self {
            self.close().await;
            PgStore::connect_with_schema(&guard.url, Some(&guard.schema))
                .await
                .expect("reconnect postgres")
        }

        async fn tamper_audit_reason(&self, seq: u64) {
            let n = sqlx::query("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = $1")
                .bind(seq as i64)
                .execute(&self.pool)
                .await
                .expect("tamper")
                .rows_affected();
            assert_eq!(n, 1);
        }

        async fn database_bytes(&self) -> Option<Vec<u8>> {
            None
        }
    }

    crate::conformance::store_conformance!(PgStore);
}
