//! Running the schema migrations so that a rolling upgrade works (issue 18).
//!
//! During a rolling upgrade the nodes of a cluster run two releases at once: the first new node migrates the shared
//! database, and an old node that restarts meanwhile (a crash, a kernel update) finds migrations it does not know.
//! sqlx refuses to start on that by default; here an old binary starts all the same, with a warning naming the newer
//! versions, because every migration keeps the previous release working: migrations only add (tables, nullable or
//! defaulted columns, indexes), and what a release stops using is dropped a release later (see
//! `docs/rolling-upgrade.md`). A migration the binary knows but whose text changed is still refused.

use crate::Result;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Database, Pool};

/// Applies `migrator`'s pending migrations to `pool`, accepting applied ones newer than this binary.
pub(crate) async fn run<DB>(mut migrator: Migrator, pool: &Pool<DB>) -> Result<()>
where
    DB: Database,
    DB::Connection: Migrate,
{
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    let mut conn = pool.acquire().await?;
    let newer: Vec<i64> = conn
        .list_applied_migrations(&migrator.table_name)
        .await?
        .iter()
        .map(|m| m.version)
        .filter(|v| !migrator.version_exists(*v))
        .collect();
    if !newer.is_empty() {
        tracing::warn!(
            ?newer,
            "the database has migrations newer than this binary: running as the previous release of a rolling \
             upgrade; upgrade this node"
        );
    }
    Ok(())
}
