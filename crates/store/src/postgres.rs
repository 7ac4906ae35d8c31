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
    /// Seals the cooperation tables' secrets (agency key, record bodies); see [`PgStore::with_keyring`].
    exchange_keys: Option<std::sync::Arc<jikimi_privacy::Keyring>>,
    /// Told what each commit changed ([`crate::commit`]); shared by clones.
    observers: crate::commit::Observers,
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
        Ok(PgStore {
            pool,
            exchange_keys: None,
            observers: crate::commit::Observers::default(),
        })
    }

    /// This store with the operator's data keys, which seal the agency signing key and the shared records in the
    /// cooperation tables. Without them every cooperation call that reads or writes those refuses.
    pub fn with_keyring(mut self, keyring: jikimi_privacy::Keyring) -> PgStore {
        self.exchange_keys = Some(std::sync::Arc::new(keyring));
        self
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
// Issue 17 (phone): the one-time re-index of blind indexes (`maintenance.rs`).
crate::maintenance::impl_maintenance!(PgStore, sqlx::Postgres);

crate::exchange::impl_exchange_store!(PgStore, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::TestStore;

    impl TestStore for PgStore {
        type Guard = crate::testing::PgSchema;

        async fn fresh() -> (Self, Self::Guard) {
            let guard = crate::testing::PgSchema::create("jikimi_test").await;
            let store = guard
                .store()
                .await
                .with_keyring(crate::testing::test_keyring());
            crate::Store::migrate(&store)
                .await
                .expect("migrate postgres");
            (store, guard)
        }

        async fn reopen(self, guard: &Self::Guard) -> Self {
            self.close().await;
            guard
                .store()
                .await
                .with_keyring(crate::testing::test_keyring())
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

        async fn raw_update(&self, sql: &'static str, arg: &str) -> u64 {
            sqlx::query(sql)
                .bind(arg)
                .execute(&self.pool)
                .await
                .expect("raw update")
                .rows_affected()
        }

        async fn database_bytes(&self) -> Option<Vec<u8>> {
            None
        }

        async fn exchange_raw(&self) -> (Option<String>, Vec<String>) {
            (
                self.ex_raw_identity().await.expect("raw identity"),
                self.ex_raw_bodies().await.expect("raw bodies"),
            )
        }

        async fn exchange_write_clear(
            &self,
            agency: &jikimi_exchange::domain::Agency,
            key: &ed25519_dalek::SigningKey,
            record: &jikimi_exchange::domain::Record,
        ) {
            self.exchange_write_clear(agency, key, record).await
        }

        async fn exchange_seal(&self) -> u64 {
            self.ex_seal_at_rest().await.expect("seal")
        }

        fn with_exchange_keys(&self, keys: Option<jikimi_privacy::Keyring>) -> Self {
            let mut store = self.clone();
            store.exchange_keys = keys.map(std::sync::Arc::new);
            store
        }
    }

    crate::conformance::store_conformance!(PgStore);
}
