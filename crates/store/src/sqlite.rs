//! The SQLite backend: one file in WAL mode, one writer connection, a few reader connections.
//!
//! A single writer connection serialises writing transactions in the pool's queue instead of in SQLite's busy
//! handler, so no transaction ever fails with `SQLITE_BUSY`; readers see the last commit without blocking it (WAL).
//! `synchronous = FULL`: a commit is on disk before the call returns, which is what makes a 202 an honest promise;
//! batching alerts ([`crate::Store::record_alerts`]) spreads that fsync over many of them.

use crate::Result;
use crate::outbox::impl_outbox;
use crate::sql::impl_store;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Readers: the API's list and get calls; more than the two cores would only queue inside SQLite.
const READER_CONNECTIONS: u32 = 4;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    path: PathBuf,
    /// Seals the cooperation tables' secrets (agency key, record bodies); see [`SqliteStore::with_keyring`].
    exchange_keys: Option<std::sync::Arc<jikimi_privacy::Keyring>>,
    /// Told what each commit changed ([`crate::commit`]); shared by clones.
    observers: crate::commit::Observers,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path`. Does not migrate.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Erasure must not leave the erased (sealed) fields in free pages: deleted content is zeroed.
            .pragma("secure_delete", "on")
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READER_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            writer,
            reader,
            path: path.to_path_buf(),
            exchange_keys: None,
            observers: crate::commit::Observers::default(),
        })
    }

    /// This store with the operator's data keys, which seal the agency signing key and the shared records in the
    /// cooperation tables. Without them every cooperation call that reads or writes those refuses.
    pub fn with_keyring(mut self, keyring: jikimi_privacy::Keyring) -> SqliteStore {
        self.exchange_keys = Some(std::sync::Arc::new(keyring));
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    async fn run_migrations(&self) -> Result<()> {
        sqlx::migrate!("migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    /// Test hook: runs one raw statement on the writer connection (used to tamper with rows in tests).
    #[cfg(test)]
    pub(crate) async fn execute_raw(&self, sql: &'static str, seq: i64) -> Result<u64> {
        Ok(sqlx::query(sql)
            .bind(seq)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}

impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    backend = "sqlite",
    begin = "BEGIN IMMEDIATE",
    lock_head = "SELECT seq, hash FROM audit_head WHERE id = 1"
);
impl_outbox!(SqliteStore, sqlx::Sqlite);
// Issue 17 (phone): the one-time re-index of blind indexes (`maintenance.rs`).
crate::maintenance::impl_maintenance!(SqliteStore, sqlx::Sqlite);

crate::exchange::impl_exchange_store!(SqliteStore, sqlx::Sqlite);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::TestStore;

    /// A fresh database in its own temporary directory, removed when the guard drops.
    impl TestStore for SqliteStore {
        type Guard = tempfile::TempDir;

        async fn fresh() -> (Self, Self::Guard) {
            let dir = tempfile::tempdir().expect("temporary directory");
            let store = SqliteStore::open(&dir.path().join("jikimi.db"))
                .await
                .expect("open sqlite")
                .with_keyring(crate::testing::test_keyring());
            crate::Store::migrate(&store).await.expect("migrate sqlite");
            (store, dir)
        }

        async fn reopen(self, _guard: &Self::Guard) -> Self {
            let path = self.path.clone();
            self.close().await;
            SqliteStore::open(&path)
                .await
                .expect("reopen sqlite")
                .with_keyring(crate::testing::test_keyring())
        }

        async fn tamper_audit_reason(&self, seq: u64) {
            let n = self
                .execute_raw(
                    "UPDATE audit_log SET reason = 'nothing happened' WHERE seq = $1",
                    seq as i64,
                )
                .await
                .expect("tamper");
            assert_eq!(n, 1);
        }

        async fn raw_update(&self, sql: &'static str, arg: &str) -> u64 {
            sqlx::query(sql)
                .bind(arg)
                .execute(&self.writer)
                .await
                .expect("raw update")
                .rows_affected()
        }

        async fn database_bytes(&self) -> Option<Vec<u8>> {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal"] {
                let mut path = self.path.clone().into_os_string();
                path.push(suffix);
                if let Ok(b) = std::fs::read(&path) {
                    bytes.extend(b);
                }
            }
            Some(bytes)
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

    crate::conformance::store_conformance!(SqliteStore);
}
