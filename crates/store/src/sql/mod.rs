//! The SQL both backends share, written once as generic code over [`Backend`].
//!
//! [`SqlStore<DB>`] holds a writer and a reader pool of one sqlx database type (on PostgreSQL both are the same
//! pool); `SqliteStore` and `PgStore` are its two instances. Both backends accept the same statements (`$N`
//! placeholders, `ON CONFLICT`, `RETURNING`) and every column is read as `i64`, `f64`, `String`, `Vec<u8>` or
//! `bool`, so each domain module implements its trait once, for every `DB: Backend`. What differs (the statement
//! that opens a writing transaction, the one that reads and locks the audit head, migrations, connection set-up) is
//! [`Backend`]'s, implemented in `sqlite.rs` and `postgres.rs`.
//!
//! Modules, one per domain trait: `alerts` (the intake batch, [`crate::IncidentStore::record_alerts_budgeted`]),
//! `incidents`, `subscribers`, `devices`, `units` (with dispatch), `staff`, `audit`, `linkage`, `outbox`, `funds`, `exchange`
//! (with `exchange_log`, the cooperation record log). Each impl block repeats the same sqlx where-clause (Rust does
//! not imply a trait's where-clause bounds on other types, only its supertraits and associated type bounds, which
//! [`Backend`] uses); it names the executor, the `&str` column index, and the column types listed above.
//!
//! Every writing transaction starts by reading the audit head row (locking it on PostgreSQL; SQLite has one writer
//! connection), appends its audit entries with the chain computed in Rust, and writes the new head before commit:
//! the chain can never fork, and a change without its audit entry cannot be committed.

mod alerts;
mod audit;
mod budget;
mod closures;
mod cluster;
mod devices;
mod disasters;
mod exchange;
mod exchange_bank;
mod exchange_freeze;
mod exchange_log;
mod exchange_operation;
mod funds;
mod identify;
mod incidents;
mod linkage;
mod maintenance;
mod outbox;
mod rescue;
mod staff;
mod subscribers;
mod units;
mod warnings;

use crate::{Error, Result};
use jikimi_audit::{AuditEntry, NewAuditEntry};
use jikimi_privacy::{BlindDigest, Sealed};
use jikimi_respond::{
    Coordinates, Incident, IncidentEvent, IncidentStatus, Timestamp, Unit, UnitId, UnitStatus,
};
use sqlx::Row;

/// The chain head read at the start of a transaction, plus the entries this transaction appends and what it changed
/// (reported to the store's observers once it commits, see [`crate::commit`]).
pub(crate) struct Chain {
    pub(crate) seq: u64,
    pub(crate) hash: [u8; 32],
    pub(crate) pending: Vec<AuditEntry>,
    pub(crate) changes: crate::ChangeSet,
}

impl Chain {
    pub(crate) fn new(seq: i64, hash: &[u8]) -> Result<Chain> {
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| Error::corrupt("audit head hash is not 32 bytes"))?;
        Ok(Chain {
            seq: to_u64(seq)?,
            hash,
            pending: Vec::new(),
            changes: crate::ChangeSet::new(),
        })
    }

    /// Chains an entry after the current head; returns its seq.
    pub(crate) fn push(&mut self, entry: NewAuditEntry) -> u64 {
        let chained = entry.chain(self.seq + 1, self.hash);
        self.seq = chained.seq;
        self.hash = chained.hash;
        self.pending.push(chained);
        self.seq
    }
}

/// The audit entry for a change.
pub(crate) fn audit(change: &crate::Change, action: &str, subject: String) -> NewAuditEntry {
    NewAuditEntry::new(
        change.at.as_unix_ms(),
        change.actor.to_string(),
        action,
        subject,
        change.reason.clone(),
    )
}

pub(crate) fn to_u64(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::corrupt("negative counter in storage"))
}

pub(crate) fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::Invalid(format!("counter {value} too large")))
}

pub(crate) fn parse_uuid(text: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|_| Error::corrupt("stored id is not a uuid"))
}

pub(crate) fn incident_from_state(state: &str) -> Result<Incident> {
    serde_json::from_str(state).map_err(|e| {
        Error::corrupt(format!(
            "stored incident does not parse: {}",
            json_position(&e)
        ))
    })
}

/// Where a stored JSON document stopped parsing, without serde's excerpt of the value (it may hold personal data).
pub(crate) fn json_position(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {}, column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

pub(crate) fn incident_state(incident: &Incident) -> Result<String> {
    serde_json::to_string(incident)
        .map_err(|e| Error::Invalid(format!("incident does not serialise: {e}")))
}

pub(crate) fn event_from_body(body: &str) -> Result<IncidentEvent> {
    serde_json::from_str(body).map_err(|e| {
        Error::corrupt(format!(
            "stored event does not parse: {}",
            json_position(&e)
        ))
    })
}

pub(crate) fn event_body(event: &IncidentEvent) -> Result<String> {
    serde_json::to_string(event)
        .map_err(|e| Error::Invalid(format!("event does not serialise: {e}")))
}

pub(crate) fn sealed_from(bytes: &[u8]) -> Result<Sealed> {
    Sealed::from_bytes(bytes).map_err(|e| Error::corrupt(format!("stored sealed field: {e}")))
}

pub(crate) fn digest_from(bytes: &[u8]) -> Result<BlindDigest> {
    BlindDigest::from_slice(bytes).map_err(|e| Error::corrupt(format!("stored digest: {e}")))
}

/// Compares two digests in time independent of where they differ.
pub(crate) fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn hash_from(bytes: &[u8]) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| Error::corrupt("stored hash is not 32 bytes"))
}

pub(crate) fn role_from(text: &str) -> Result<crate::Role> {
    crate::Role::parse(text)
        .ok_or_else(|| Error::corrupt(format!("unknown role {text:?} in storage")))
}

pub(crate) fn unit_from_columns(
    id: String,
    status: &str,
    lat: Option<f64>,
    lon: Option<f64>,
    reported_at: Option<i64>,
    unit_type: &str,
    capabilities: &str,
) -> Result<Unit> {
    let status = UnitStatus::parse(status)
        .ok_or_else(|| Error::corrupt(format!("unknown unit status {status:?} in storage")))?;
    let unit_type = jikimi_respond::UnitType::parse(unit_type)
        .ok_or_else(|| Error::corrupt(format!("unknown unit type {unit_type:?} in storage")))?;
    let capabilities = jikimi_respond::rescue::capabilities_from_text(capabilities)
        .ok_or_else(|| Error::corrupt("unknown unit capability in storage"))?;
    let position = match (lat, lon) {
        (Some(lat), Some(lon)) => Some(
            Coordinates::new(lat, lon)
                .map_err(|_| Error::corrupt("stored unit position is out of range"))?,
        ),
        _ => None,
    };
    Ok(Unit {
        id: UnitId(id),
        status,
        position,
        reported_at: reported_at.map(Timestamp::from_unix_ms),
        unit_type,
        capabilities,
    })
}

/// A stored entity link from its columns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn entity_link_from_columns(
    id: &str,
    kind: String,
    left_ref: String,
    right_ref: String,
    (probability, weight): (f64, f64),
    evidence: String,
    status: &str,
    (first_seen_ms, last_run_ms): (i64, i64),
    decided_by: Option<String>,
    decided_at_ms: Option<i64>,
) -> Result<crate::EntityLink> {
    Ok(crate::EntityLink {
        id: parse_uuid(id)?,
        kind,
        left_ref,
        right_ref,
        probability,
        weight,
        evidence,
        status: crate::LinkStatus::parse(status)
            .ok_or_else(|| Error::corrupt(format!("unknown link status {status:?} in storage")))?,
        first_seen: Timestamp::from_unix_ms(first_seen_ms),
        last_run: Timestamp::from_unix_ms(last_run_ms),
        decided_by,
        decided_at: decided_at_ms.map(Timestamp::from_unix_ms),
    })
}

/// `($1, $2, $3), ($4, $5, $6), …` for a multi-row statement of `n_rows` rows of `n_cols` columns.
///
/// The text is built from numbers only, never from data, so it is safe to pass as SQL.
pub(crate) fn values_clause(n_rows: usize, n_cols: usize) -> String {
    let mut out = String::with_capacity(n_rows * n_cols * 5);
    for row in 0..n_rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for col in 0..n_cols {
            if col > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(row * n_cols + col + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …`: `n` placeholders for an `IN (…)` list. Built from numbers only.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row statement: at most 900 bind values, well under both backends' limits.
pub(crate) fn rows_per_statement(n_cols: usize) -> usize {
    (900 / n_cols).max(1)
}

/// The status filter as seven bind values: a flag, then six statuses padded with the first one (duplicates are
/// harmless in `IN`), so the statement text stays fixed and cacheable.
pub(crate) fn status_binds(statuses: &[IncidentStatus]) -> (i64, [&'static str; 6]) {
    let mut out = [IncidentStatus::Received.as_str(); 6];
    let Some(first) = statuses.first() else {
        return (0, out);
    };
    out = [first.as_str(); 6];
    for (slot, status) in out.iter_mut().zip(statuses) {
        *slot = status.as_str();
    }
    (1, out)
}

/// What differs between the SQL backends. Implemented for `sqlx::Sqlite` and `sqlx::Postgres`.
pub trait Backend:
    sqlx::Database<Arguments: sqlx::IntoArguments<Self>, QueryResult: RowsAffected>
{
    /// `sqlite` or `postgres` ([`crate::Store::backend`]).
    const BACKEND: &'static str;
    /// Opens a writing transaction: `BEGIN IMMEDIATE` on SQLite (another process on the same file, such as a CLI
    /// command beside `jikimi serve`, then waits in the busy handler instead of failing a read-to-write upgrade with
    /// `SQLITE_BUSY`), `BEGIN` on PostgreSQL.
    const BEGIN: &'static str;
    /// Reads the audit head row; on PostgreSQL `FOR UPDATE`, which serialises writers.
    const LOCK_HEAD: &'static str;
    /// Applies this backend's migrations (`migrations/sqlite` or `migrations/postgres`).
    fn run_migrations(pool: &sqlx::Pool<Self>) -> BoxFuture<'_, Result<()>>;
}

/// The rows a statement changed: each driver's result type has it as an inherent method, this names it for generic
/// code.
pub trait RowsAffected {
    /// How many rows the statement inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

/// A boxed, sendable future (what [`Backend::run_migrations`] returns).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The store over one SQL backend: `SqliteStore` is `SqlStore<sqlx::Sqlite>`, `PgStore` is `SqlStore<sqlx::Postgres>`.
#[derive(Debug)]
pub struct SqlStore<DB: Backend> {
    pub(crate) writer: sqlx::Pool<DB>,
    pub(crate) reader: sqlx::Pool<DB>,
    /// The database file (SQLite).
    pub(crate) path: Option<std::path::PathBuf>,
    /// Seals the cooperation tables' secrets (agency key, record bodies); see [`SqlStore::with_keyring`].
    pub(crate) exchange_keys: Option<std::sync::Arc<jikimi_privacy::Keyring>>,
    /// Told what each commit changed ([`crate::commit`]); shared by clones.
    pub(crate) observers: crate::commit::Observers,
    /// Whether commits write their change event ([`crate::cluster`]); shared by clones.
    pub(crate) change_events: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<DB: Backend> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            path: self.path.clone(),
            exchange_keys: self.exchange_keys.clone(),
            observers: self.observers.clone(),
            change_events: self.change_events.clone(),
        }
    }
}

impl<DB: Backend> SqlStore<DB> {
    pub(crate) fn new(
        writer: sqlx::Pool<DB>,
        reader: sqlx::Pool<DB>,
        path: Option<std::path::PathBuf>,
    ) -> Self {
        SqlStore {
            writer,
            reader,
            path,
            exchange_keys: None,
            observers: crate::commit::Observers::default(),
            change_events: std::sync::Arc::default(),
        }
    }

    /// This store with the operator's data keys, which seal the agency signing key and the shared records in the
    /// cooperation tables. Without them every cooperation call that reads or writes those refuses.
    pub fn with_keyring(mut self, keyring: jikimi_privacy::Keyring) -> Self {
        self.exchange_keys = Some(std::sync::Arc::new(keyring));
        self
    }

    /// Attaches an observer to this store and its clones.
    pub fn with_observer(self, observer: std::sync::Arc<dyn crate::CommitObserver>) -> Self {
        self.observers.add(observer);
        self
    }

    /// Closes the pools (on SQLite this checkpoints the WAL).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    pub(crate) fn writer(&self) -> &sqlx::Pool<DB> {
        &self.writer
    }

    pub(crate) fn reader(&self) -> &sqlx::Pool<DB> {
        &self.reader
    }
}

impl<DB: Backend> SqlStore<DB>
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
    /// Starts a writing transaction and reads the audit chain head.
    pub(crate) async fn begin_write(
        &self,
    ) -> crate::Result<(sqlx::Transaction<'static, DB>, crate::sql::Chain)> {
        let mut tx = self.writer().begin_with(DB::BEGIN).await?;
        let row = sqlx::query(DB::LOCK_HEAD).fetch_one(&mut *tx).await?;
        let chain =
            crate::sql::Chain::new(row.try_get("seq")?, &row.try_get::<Vec<u8>, _>("hash")?)?;
        Ok((tx, chain))
    }

    /// Writes the chain's pending entries and the new head, commits, and only then tells the observers what
    /// the transaction changed.
    pub(crate) async fn commit_write(
        &self,
        mut tx: sqlx::Transaction<'static, DB>,
        chain: crate::sql::Chain,
    ) -> crate::Result<()> {
        if !chain.pending.is_empty() {
            for rows in chain.pending.chunks(crate::sql::rows_per_statement(9)) {
                let sql = format!(
                    "INSERT INTO audit_log (seq, at_ms, actor, action, subject, reason, detail, prev_hash, hash)
                     VALUES {}",
                    crate::sql::values_clause(rows.len(), 9)
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for e in rows {
                    query = query
                        .bind(crate::sql::to_i64(e.seq)?)
                        .bind(e.at_unix_ms)
                        .bind(e.actor.as_str())
                        .bind(e.action.as_str())
                        .bind(e.subject.as_str())
                        .bind(e.reason.as_str())
                        .bind(e.detail.as_str())
                        .bind(&e.prev_hash[..])
                        .bind(&e.hash[..]);
                }
                query.execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(crate::sql::to_i64(chain.seq)?)
                .bind(&chain.hash[..])
                .execute(&mut *tx)
                .await?;
        }
        // The change event is written in this transaction: committed with the change or not at all.
        self.write_change_event(&mut tx, &chain.changes).await?;
        tx.commit().await?;
        self.observers.committed(&chain.changes);
        Ok(())
    }
}

#[async_trait::async_trait]
impl<DB: Backend> crate::Store for SqlStore<DB>
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
    async fn migrate(&self) -> Result<()> {
        DB::run_migrations(&self.writer).await
    }

    async fn seal_exchange_at_rest(&self) -> jikimi_exchange::Result<u64> {
        self.ex_seal_at_rest().await
    }

    async fn exchange_raw_bodies(&self) -> jikimi_exchange::Result<Vec<String>> {
        self.ex_raw_bodies().await
    }

    async fn exchange_raw_identity(&self) -> jikimi_exchange::Result<Option<String>> {
        self.ex_raw_identity().await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    fn observe_commits(&self, observer: std::sync::Arc<dyn crate::CommitObserver>) {
        self.observers.add(observer);
    }
}
