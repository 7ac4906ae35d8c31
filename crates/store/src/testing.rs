//! Test support for the crates whose tests need a PostgreSQL store (feature `test-util`): a fresh schema per
//! test on the house database, and its removal when the test ends, passed or failed.
//!
//! One place for what the store's conformance suite, the server, notification and forecasting tests all need.

use sqlx::postgres::PgPoolOptions;

use crate::PgStore;

/// A fixed data keyring for tests (never for an operator): seals the cooperation tables in test stores.
pub fn test_keyring() -> jikimi_privacy::Keyring {
    // A constant, so a store reopened by a test (or by another process of the same test) opens what it sealed.
    jikimi_privacy::Keyring::new("test", [("test".to_owned(), [0x5a; 32])])
        .unwrap_or_else(|e| panic!("test keyring: {e}"))
}

/// The test database: `JIKIMI_TEST_DATABASE_URL`, or the house PostgreSQL's `test` database.
pub fn pg_url() -> String {
    std::env::var("JIKIMI_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs one raw `UPDATE` with one text parameter (`$1`) on the database at `url` (a `sqlite://` URL, or a
/// PostgreSQL one such as [`PgSchema::store_url`]), as a failed disk or a bad manual edit would: for tests of how
/// damaged rows are answered. Returns the rows changed; panics on failure.
pub async fn raw_update(url: &str, sql: &'static str, arg: &str) -> u64 {
    let rows = if url.starts_with("sqlite:") {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        let result = sqlx::query(sql).bind(arg).execute(&pool).await;
        pool.close().await;
        result.map(|r| r.rows_affected())
    } else {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        let result = sqlx::query(sql).bind(arg).execute(&pool).await;
        pool.close().await;
        result.map(|r| r.rows_affected())
    };
    rows.unwrap_or_else(|e| panic!("raw update: {e}"))
}

/// A schema of its own for one test; dropped (with everything in it) when this value is dropped.
#[derive(Debug)]
pub struct PgSchema {
    /// The database URL.
    pub url: String,
    /// The schema's name: the prefix and 32 hex digits.
    pub schema: String,
}

impl PgSchema {
    /// Creates `{prefix}_{random hex}` on [`pg_url`]. Panics if PostgreSQL is not reachable: the tests that ask
    /// for it need it.
    pub async fn create(prefix: &str) -> PgSchema {
        let url = pg_url();
        // The name is ours (a fixed prefix and a random hex suffix), so formatting it into SQL is safe.
        let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required for this test: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("create schema on {url}: {e}"));
        admin.close().await;
        PgSchema { url, schema }
    }

    /// A store on this schema (not migrated).
    pub async fn store(&self) -> PgStore {
        PgStore::connect_with_schema(&self.url, Some(&self.schema))
            .await
            .unwrap_or_else(|e| panic!("connect to schema {}: {e}", self.schema))
    }

    /// A URL that opens this schema, for code that takes a `--database-url` (libpq's `options` parameter).
    pub fn store_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.url, self.schema)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // Drop cannot await, and may run inside a runtime: a short-lived runtime on its own thread cleans up.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(pool) = PgPoolOptions::new().max_connections(1).connect(&url).await {
                    // The test's own connections may still hold a transaction whose rollback waits for the runtime
                    // this drop is blocking: end them first, or DROP SCHEMA waits on their locks forever. Stores
                    // opened with `store()` name themselves after the schema.
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
