//! The SQLite backend: one file in WAL mode, one writer connection, a few reader connections.
//!
//! A single writer connection serialises writing transactions in the pool's queue instead of in SQLite's busy
//! handler, so no transaction ever fails with `SQLITE_BUSY`; readers see the last commit without blocking it (WAL).
//! `synchronous = FULL`: a commit is on disk before the call returns, which is what makes a 202 an honest promise;
//! batching alerts ([`crate::Store::record_alerts`]) spreads that fsync over many of them.

use crate::Result;
use crate::sql::{Backend, BoxFuture, SqlStore};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// Readers: the API's list and get calls; more than the two cores would only queue inside SQLite.
const READER_CONNECTIONS: u32 = 4;

/// The SQLite store.
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

impl Backend for sqlx::Sqlite {
    const BACKEND: &'static str = "sqlite";
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const LOCK_HEAD: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1";

    fn run_migrations(pool: &SqlitePool) -> BoxFuture<'_, Result<()>> {
        Box::pin(
            async move { crate::migrations::run(sqlx::migrate!("migrations/sqlite"), pool).await },
        )
    }
}

impl SqlStore<sqlx::Sqlite> {
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
        Ok(SqlStore::new(writer, reader, Some(path.to_path_buf())))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::TestBackend;

    /// A fresh database in its own temporary directory, removed when the guard drops.
    impl TestBackend for sqlx::Sqlite {
        type Guard = tempfile::TempDir;

        async fn fresh() -> (SqliteStore, Self::Guard) {
            let dir = tempfile::tempdir().expect("temporary directory");
            let store = SqliteStore::open(&dir.path().join("jikimi.db"))
                .await
                .expect("open sqlite");
            (store, dir)
        }

        async fn reopen(store: SqliteStore, _guard: &Self::Guard) -> SqliteStore {
            let path = store.path().to_path_buf();
            store.close().await;
            SqliteStore::open(&path).await.expect("reopen sqlite")
        }

        async fn database_bytes(store: &SqliteStore) -> Option<Vec<u8>> {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal"] {
                let mut path = store.path().to_path_buf().into_os_string();
                path.push(suffix);
                if let Ok(b) = std::fs::read(&path) {
                    bytes.extend(b);
                }
            }
            Some(bytes)
        }
    }

    crate::conformance::store_conformance!(SqliteStore);
}
