//! `SqliteStore`: the `ExchangeStore` on SQLite via sqlx. All of this crate's SQL is in this file,
//! so it can move to the shared store crate as one piece.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row as _, SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::domain::{Agency, AgencyId, Agreement, Provenance, Record, RecordBody};
use crate::error::{Error, Result};
use crate::protocol::{Action, Known, Receipt};
use crate::store::{AuditEntry, DisclosureRow, ExchangeStore, Inbound, StoredRecord};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ex_identity (one INTEGER PRIMARY KEY CHECK (one = 1), agency TEXT NOT NULL, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ex_peers (id TEXT PRIMARY KEY, agency TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ex_agreements (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ex_log_head (one INTEGER PRIMARY KEY CHECK (one = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO ex_log_head (one, seq) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS ex_records (
  id TEXT PRIMARY KEY, version INTEGER NOT NULL, origin TEXT NOT NULL, kind TEXT NOT NULL,
  case_id TEXT, target TEXT, body TEXT NOT NULL, received_from TEXT, received_under TEXT,
  seq INTEGER NOT NULL UNIQUE);
CREATE INDEX IF NOT EXISTS ex_records_case ON ex_records (case_id);
CREATE TABLE IF NOT EXISTS ex_withdrawn (id TEXT PRIMARY KEY, by_record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ex_nonces (sender TEXT NOT NULL, nonce TEXT NOT NULL, PRIMARY KEY (sender, nonce));
CREATE TABLE IF NOT EXISTS ex_cursors (peer TEXT PRIMARY KEY, cursor INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ex_disclosures (
  envelope TEXT PRIMARY KEY, peer TEXT NOT NULL, record_id TEXT NOT NULL, version INTEGER NOT NULL,
  kind TEXT NOT NULL, agreement TEXT, at TEXT NOT NULL, receipt TEXT, outcome TEXT);
CREATE INDEX IF NOT EXISTS ex_disclosures_record ON ex_disclosures (record_id);
CREATE INDEX IF NOT EXISTS ex_disclosures_peer ON ex_disclosures (peer);
CREATE TABLE IF NOT EXISTS ex_receipts (id TEXT PRIMARY KEY, sent INTEGER NOT NULL, peer TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ex_audit (
  seq INTEGER PRIMARY KEY, at TEXT NOT NULL, action TEXT NOT NULL, peer TEXT, record_id TEXT,
  agreement TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
"#;

fn db(during: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Store { during, source }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(Error::Encoding)
}

fn parse_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(Error::Encoding)
}

fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| Error::invalid("stored uuid", "corrupt"))
}

/// The SQLite-backed exchange store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` in WAL mode with `synchronous=NORMAL`:
    /// a committed page survives `kill -9` of the process; after a power loss the last commits
    /// may be lost, and then the cursor (lost with them) makes the next pull fetch them again.
    pub async fn open(path: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(db("open"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(db("open"))?;
        // Only migrate a database that lacks the schema: the DDL takes the write lock, and a
        // reader (a CLI command, a test) must not compete with the serving process for it.
        let migrated =
            sqlx::query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ex_audit'")
                .fetch_optional(&pool)
                .await
                .map_err(db("open"))?
                .is_some();
        if !migrated {
            sqlx::raw_sql(SCHEMA)
                .execute(&pool)
                .await
                .map_err(db("migrate"))?;
        }
        Ok(SqliteStore { pool })
    }

    /// Raw read access for tests that assert on the database itself (not the API).
    pub async fn raw_bodies(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT body FROM ex_records ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .map_err(db("raw"))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("body").map_err(db("raw")))
            .collect()
    }
}

async fn next_seq(conn: &mut SqliteConnection) -> Result<u64> {
    let row = sqlx::query("UPDATE ex_log_head SET seq = seq + 1 WHERE one = 1 RETURNING seq")
        .fetch_one(&mut *conn)
        .await
        .map_err(db("next seq"))?;
    let s: i64 = row.try_get("seq").map_err(db("next seq"))?;
    Ok(s as u64)
}

struct AuditRow<'a> {
    action: &'a str,
    peer: Option<&'a str>,
    record: Option<String>,
    agreement: Option<String>,
    detail: String,
}

/// The audit chain's head within one write transaction: read once, then carried in memory
/// (the transaction holds the write lock, so nobody else can append meanwhile).
#[derive(Default)]
struct Chain(Option<String>);

async fn append_audit(conn: &mut SqliteConnection, row: AuditRow<'_>) -> Result<()> {
    append_chained(conn, &mut Chain::default(), row).await
}

async fn append_chained(
    conn: &mut SqliteConnection,
    chain: &mut Chain,
    row: AuditRow<'_>,
) -> Result<()> {
    let prev = match chain.0.take() {
        Some(p) => p,
        None => sqlx::query("SELECT hash FROM ex_audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("audit"))?
            .map(|r| r.try_get::<String, _>("hash"))
            .transpose()
            .map_err(db("audit"))?
            .unwrap_or_else(|| "0".repeat(64)),
    };
    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let hash = crate::store::audit_hash(
        &prev,
        &at,
        row.action,
        row.peer,
        row.record.as_deref(),
        row.agreement.as_deref(),
        &row.detail,
    )?;
    sqlx::query("INSERT INTO ex_audit (at, action, peer, record_id, agreement, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)")
        .bind(&at)
        .bind(row.action)
        .bind(row.peer)
        .bind(row.record)
        .bind(row.agreement)
        .bind(&row.detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *conn)
        .await
        .map_err(db("audit"))?;
    chain.0 = Some(hash);
    Ok(())
}

/// Writes `record` at a new log position, replacing any older copy.
async fn write_record(
    conn: &mut SqliteConnection,
    record: &Record,
    prov: &Provenance,
) -> Result<u64> {
    let seq = next_seq(conn).await?;
    sqlx::query(
        "INSERT INTO ex_records (id, version, origin, kind, case_id, target, body, received_from, received_under, seq)
         VALUES (?,?,?,?,?,?,?,?,?,?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, origin = excluded.origin, kind = excluded.kind,
           case_id = excluded.case_id, target = excluded.target, body = excluded.body,
           received_from = excluded.received_from, received_under = excluded.received_under, seq = excluded.seq",
    )
    .bind(record.id.to_string())
    .bind(record.version as i64)
    .bind(record.origin.as_str())
    .bind(record.kind())
    .bind(record.case_id().map(|c| c.to_string()))
    .bind(record.target().map(|c| c.to_string()))
    .bind(json(record)?)
    .bind(prov.received_from.as_ref().map(|a| a.as_str().to_string()))
    .bind(prov.received_under.map(|u| u.to_string()))
    .bind(seq as i64)
    .execute(&mut *conn)
    .await
    .map_err(db("write record"))?;
    Ok(seq)
}

/// Applies a withdrawal or restriction to the local copies of its target.
async fn apply_control(conn: &mut SqliteConnection, control: &Record) -> Result<()> {
    match &control.body {
        RecordBody::Withdrawal { target, .. } => {
            // The target and the owner's own records attached to it disappear; a tombstone keeps
            // late copies from resurrecting it.
            sqlx::query("DELETE FROM ex_records WHERE (id = ?1 OR (case_id = ?1 AND origin = ?2)) AND kind IN ('case','lead')")
                .bind(target.to_string())
                .bind(control.origin.as_str())
                .execute(&mut *conn)
                .await
                .map_err(db("withdraw"))?;
            sqlx::query("INSERT OR IGNORE INTO ex_withdrawn (id, by_record) VALUES (?, ?)")
                .bind(target.to_string())
                .bind(control.id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(db("withdraw"))?;
        }
        RecordBody::Restriction {
            target,
            remove_fields,
            marking,
        } => {
            let row = sqlx::query(
                "SELECT body, received_from, received_under FROM ex_records WHERE id = ?",
            )
            .bind(target.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("restrict"))?;
            if let Some(row) = row {
                let mut rec: Record =
                    parse_json(&row.try_get::<String, _>("body").map_err(db("restrict"))?)?;
                let prov = provenance_of(&row)?;
                rec.marking = rec.marking.combine(*marking);
                if let Some(c) = rec.content_mut() {
                    let keep: BTreeSet<_> = crate::domain::FieldClass::ALL
                        .into_iter()
                        .filter(|f| !remove_fields.contains(f))
                        .collect();
                    let removed = c.redact(&keep);
                    rec.redacted.extend(removed);
                }
                write_record(conn, &rec, &prov).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn provenance_of(row: &sqlx::sqlite::SqliteRow) -> Result<Provenance> {
    let from: Option<String> = row.try_get("received_from").map_err(db("read"))?;
    let under: Option<String> = row.try_get("received_under").map_err(db("read"))?;
    Ok(Provenance {
        received_from: from.map(|f| AgencyId::parse(&f)).transpose()?,
        received_under: under.map(|u| parse_uuid(&u)).transpose()?,
    })
}

fn stored_of(row: &sqlx::sqlite::SqliteRow) -> Result<StoredRecord> {
    let body: String = row.try_get("body").map_err(db("read"))?;
    let seq: i64 = row.try_get("seq").map_err(db("read"))?;
    Ok(StoredRecord {
        record: parse_json(&body)?,
        provenance: provenance_of(row)?,
        seq: seq as u64,
    })
}

impl ExchangeStore for SqliteStore {
    async fn identity(&self) -> Result<Option<(Agency, SigningKey)>> {
        let row = sqlx::query("SELECT agency, secret FROM ex_identity WHERE one = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db("identity"))?;
        let Some(row) = row else { return Ok(None) };
        let agency: Agency =
            parse_json(&row.try_get::<String, _>("agency").map_err(db("identity"))?)?;
        let secret: String = row.try_get("secret").map_err(db("identity"))?;
        let bytes: [u8; 32] = hex::decode(secret)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::invalid("stored key", "corrupt"))?;
        Ok(Some((agency, SigningKey::from_bytes(&bytes))))
    }

    async fn set_identity(&self, agency: &Agency, key: &SigningKey) -> Result<()> {
        sqlx::query("INSERT INTO ex_identity (one, agency, secret) VALUES (1, ?, ?)")
            .bind(json(agency)?)
            .bind(hex::encode(key.to_bytes()))
            .execute(&self.pool)
            .await
            .map_err(db("set identity"))?;
        Ok(())
    }

    async fn upsert_peer(&self, peer: &Agency) -> Result<()> {
        sqlx::query("INSERT INTO ex_peers (id, agency) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET agency = excluded.agency")
            .bind(peer.id.as_str())
            .bind(json(peer)?)
            .execute(&self.pool)
            .await
            .map_err(db("add peer"))?;
        Ok(())
    }

    async fn peers(&self) -> Result<Vec<Agency>> {
        let rows = sqlx::query("SELECT agency FROM ex_peers ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db("peers"))?;
        rows.iter()
            .map(|r| parse_json(&r.try_get::<String, _>("agency").map_err(db("peers"))?))
            .collect()
    }

    async fn put_agreement(&self, agreement: &Agreement) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("agreement"))?;
        sqlx::query("INSERT INTO ex_agreements (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body")
            .bind(agreement.id.to_string())
            .bind(json(agreement)?)
            .execute(&mut *tx)
            .await
            .map_err(db("agreement"))?;
        let action = if agreement.revoked_at.is_some() {
            "agreement_revoked"
        } else {
            "agreement_stored"
        };
        append_audit(
            &mut tx,
            AuditRow {
                action,
                peer: None,
                record: None,
                agreement: Some(agreement.id.to_string()),
                detail: agreement.title.clone(),
            },
        )
        .await?;
        tx.commit().await.map_err(db("agreement"))?;
        Ok(())
    }

    async fn agreements(&self) -> Result<Vec<Agreement>> {
        let rows = sqlx::query("SELECT body FROM ex_agreements ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db("agreements"))?;
        rows.iter()
            .map(|r| parse_json(&r.try_get::<String, _>("body").map_err(db("agreements"))?))
            .collect()
    }

    async fn put_local(&self, record: &Record) -> Result<u64> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("put record"))?;
        if record.is_control() {
            apply_control(&mut tx, record).await?;
        }
        let seq = write_record(&mut tx, record, &Provenance::local()).await?;
        append_audit(
            &mut tx,
            AuditRow {
                action: "record_stored",
                peer: None,
                record: Some(record.id.to_string()),
                agreement: None,
                detail: format!("{} v{}", record.kind(), record.version),
            },
        )
        .await?;
        tx.commit().await.map_err(db("put record"))?;
        Ok(seq)
    }

    async fn record(&self, id: Uuid) -> Result<Option<StoredRecord>> {
        let row = sqlx::query(
            "SELECT body, received_from, received_under, seq FROM ex_records WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("record"))?;
        row.as_ref().map(stored_of).transpose()
    }

    async fn records(&self) -> Result<Vec<StoredRecord>> {
        let rows = sqlx::query(
            "SELECT body, received_from, received_under, seq FROM ex_records ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("records"))?;
        rows.iter().map(stored_of).collect()
    }

    async fn log_after(&self, cursor: u64, limit: u32) -> Result<Vec<StoredRecord>> {
        let rows = sqlx::query("SELECT body, received_from, received_under, seq FROM ex_records WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(cursor as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("log"))?;
        rows.iter().map(stored_of).collect()
    }

    async fn disclosed_to(&self, record: Uuid) -> Result<BTreeSet<AgencyId>> {
        let rows = sqlx::query("SELECT DISTINCT peer FROM ex_disclosures WHERE record_id = ?")
            .bind(record.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db("disclosed to"))?;
        rows.iter()
            .map(|r| AgencyId::parse(&r.try_get::<String, _>("peer").map_err(db("disclosed to"))?))
            .collect()
    }

    async fn record_disclosures(&self, rows: &[DisclosureRow]) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("disclose"))?;
        let mut chain = Chain::default();
        for d in rows {
            let at = d.at.to_rfc3339();
            sqlx::query("INSERT INTO ex_disclosures (envelope, peer, record_id, version, kind, agreement, at) VALUES (?,?,?,?,?,?,?)")
                .bind(d.envelope.as_str())
                .bind(d.peer.as_str())
                .bind(d.record.to_string())
                .bind(d.version as i64)
                .bind(d.kind)
                .bind(d.agreement.map(|a| a.to_string()))
                .bind(&at)
                .execute(&mut *tx)
                .await
                .map_err(db("disclose"))?;
            append_chained(
                &mut tx,
                &mut chain,
                AuditRow {
                    action: "disclosed",
                    peer: Some(d.peer.as_str()),
                    record: Some(d.record.to_string()),
                    agreement: d.agreement.map(|a| a.to_string()),
                    detail: format!("{} v{} envelope {}", d.kind, d.version, d.envelope.as_str()),
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db("disclose"))?;
        Ok(())
    }

    async fn cursor(&self, peer: &AgencyId) -> Result<u64> {
        let row = sqlx::query("SELECT cursor FROM ex_cursors WHERE peer = ?")
            .bind(peer.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("cursor"))?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("cursor"))
            .transpose()
            .map_err(db("cursor"))?
            .unwrap_or(0) as u64)
    }

    async fn known_page(&self, sender: &AgencyId, items: &[(Uuid, &Record)]) -> Result<Vec<Known>> {
        use std::collections::{HashMap, HashSet};
        type Meta = (u64, AgencyId, Provenance);
        let mut conn = self.pool.acquire().await.map_err(db("known"))?;
        let mut seen: HashSet<String> = HashSet::new();
        let mut metas: HashMap<String, Meta> = HashMap::new();
        let mut withdrawn: HashSet<String> = HashSet::new();
        let placeholders = |n: usize| vec!["?"; n].join(",");
        for chunk in items.chunks(400) {
            let nonces: Vec<String> = chunk.iter().map(|(n, _)| n.to_string()).collect();
            let sql = format!(
                "SELECT nonce FROM ex_nonces WHERE sender = ? AND nonce IN ({})",
                placeholders(nonces.len())
            );
            // Only `?` placeholders are interpolated into the text; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(sender.as_str());
            for n in &nonces {
                q = q.bind(n);
            }
            for r in q.fetch_all(&mut *conn).await.map_err(db("known"))? {
                seen.insert(r.try_get("nonce").map_err(db("known"))?);
            }
            let ids: Vec<String> = chunk
                .iter()
                .flat_map(|(_, r)| [Some(r.id), r.target()])
                .flatten()
                .map(|u| u.to_string())
                .collect();
            let sql = format!(
                "SELECT id, version, origin, received_from, received_under FROM ex_records WHERE id IN ({})",
                placeholders(ids.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(&mut *conn).await.map_err(db("known"))? {
                let id: String = r.try_get("id").map_err(db("known"))?;
                let version = r.try_get::<i64, _>("version").map_err(db("known"))? as u64;
                let origin =
                    AgencyId::parse(&r.try_get::<String, _>("origin").map_err(db("known"))?)?;
                metas.insert(id, (version, origin, provenance_of(&r)?));
            }
            let sql = format!(
                "SELECT id FROM ex_withdrawn WHERE id IN ({})",
                placeholders(ids.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(&mut *conn).await.map_err(db("known"))? {
                withdrawn.insert(r.try_get("id").map_err(db("known"))?);
            }
        }
        Ok(items
            .iter()
            .map(|(nonce, record)| {
                let probe = record.target().unwrap_or(record.id).to_string();
                Known {
                    nonce_seen: seen.contains(&nonce.to_string()),
                    stored: metas.get(&record.id.to_string()).cloned(),
                    target: record
                        .target()
                        .and_then(|t| metas.get(&t.to_string()))
                        .map(|(_, origin, prov)| (origin.clone(), prov.clone())),
                    withdrawn: withdrawn.contains(&probe),
                }
            })
            .collect())
    }

    async fn known(&self, sender: &AgencyId, nonce: Uuid, record: &Record) -> Result<Known> {
        let nonce_seen = sqlx::query("SELECT 1 FROM ex_nonces WHERE sender = ? AND nonce = ?")
            .bind(sender.as_str())
            .bind(nonce.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("known"))?
            .is_some();
        let fetch = |id: Uuid| {
            sqlx::query("SELECT version, origin, received_from, received_under FROM ex_records WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
        };
        let stored = match fetch(record.id).await.map_err(db("known"))? {
            Some(r) => Some((
                r.try_get::<i64, _>("version").map_err(db("known"))? as u64,
                AgencyId::parse(&r.try_get::<String, _>("origin").map_err(db("known"))?)?,
                provenance_of(&r)?,
            )),
            None => None,
        };
        let probe = record.target().unwrap_or(record.id);
        let target = match record.target() {
            Some(t) => match fetch(t).await.map_err(db("known"))? {
                Some(r) => Some((
                    AgencyId::parse(&r.try_get::<String, _>("origin").map_err(db("known"))?)?,
                    provenance_of(&r)?,
                )),
                None => None,
            },
            None => None,
        };
        let withdrawn = sqlx::query("SELECT 1 FROM ex_withdrawn WHERE id = ?")
            .bind(probe.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("known"))?
            .is_some();
        Ok(Known {
            nonce_seen,
            stored,
            target,
            withdrawn,
        })
    }

    async fn apply_inbound(
        &self,
        peer: &AgencyId,
        items: &[Inbound],
        new_cursor: Option<u64>,
    ) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("apply"))?;
        let mut chain = Chain::default();
        for item in items {
            match item {
                Inbound::Accepted {
                    envelope,
                    nonce,
                    action,
                    agreement,
                } => {
                    // A replay inside the same page is caught by the primary key.
                    let fresh = sqlx::query(
                        "INSERT OR IGNORE INTO ex_nonces (sender, nonce) VALUES (?, ?)",
                    )
                    .bind(peer.as_str())
                    .bind(nonce.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("apply"))?
                    .rows_affected()
                        == 1;
                    if !fresh {
                        append_chained(
                            &mut tx,
                            &mut chain,
                            AuditRow {
                                action: "rejected",
                                peer: Some(peer.as_str()),
                                record: None,
                                agreement: None,
                                detail: format!("replay; envelope {}", envelope.as_str()),
                            },
                        )
                        .await?;
                        continue;
                    }
                    let (what, rec) = match action.as_ref() {
                        Action::Upsert { record, provenance } => {
                            write_record(&mut tx, record, provenance).await?;
                            ("received", Some(record))
                        }
                        Action::Control { record, provenance } => {
                            apply_control(&mut tx, record).await?;
                            write_record(&mut tx, record, provenance).await?;
                            ("received", Some(record))
                        }
                        Action::Duplicate => ("duplicate", None),
                    };
                    append_chained(
                        &mut tx,
                        &mut chain,
                        AuditRow {
                            action: what,
                            peer: Some(peer.as_str()),
                            record: rec.map(|r| r.id.to_string()),
                            agreement: agreement.map(|a| a.to_string()),
                            detail: match rec {
                                Some(r) => format!(
                                    "{} v{} envelope {}",
                                    r.kind(),
                                    r.version,
                                    envelope.as_str()
                                ),
                                None => format!("envelope {}", envelope.as_str()),
                            },
                        },
                    )
                    .await?;
                }
                Inbound::Rejected {
                    envelope,
                    nonce,
                    record,
                    rejection,
                } => {
                    // A rejected envelope's nonce is burnt too (unless forged or itself a replay).
                    if let Some(n) = nonce
                        && !matches!(
                            rejection,
                            crate::protocol::Rejection::Replay
                                | crate::protocol::Rejection::BadSignature
                        )
                    {
                        {
                            sqlx::query(
                                "INSERT OR IGNORE INTO ex_nonces (sender, nonce) VALUES (?, ?)",
                            )
                            .bind(peer.as_str())
                            .bind(n.to_string())
                            .execute(&mut *tx)
                            .await
                            .map_err(db("apply"))?;
                        }
                    }
                    append_chained(
                        &mut tx,
                        &mut chain,
                        AuditRow {
                            action: "rejected",
                            peer: Some(peer.as_str()),
                            record: record.map(|r| r.to_string()),
                            agreement: None,
                            detail: format!(
                                "{rejection}; envelope {}",
                                envelope.as_ref().map(|e| e.as_str()).unwrap_or("?")
                            ),
                        },
                    )
                    .await?;
                }
            }
        }
        if let Some(c) = new_cursor {
            sqlx::query("INSERT INTO ex_cursors (peer, cursor) VALUES (?, ?) ON CONFLICT (peer) DO UPDATE SET cursor = max(cursor, excluded.cursor)")
                .bind(peer.as_str())
                .bind(c as i64)
                .execute(&mut *tx)
                .await
                .map_err(db("apply"))?;
        }
        tx.commit().await.map_err(db("apply"))?;
        Ok(())
    }

    async fn remember_nonce(&self, sender: &AgencyId, nonce: Uuid) -> Result<bool> {
        let n = sqlx::query("INSERT OR IGNORE INTO ex_nonces (sender, nonce) VALUES (?, ?)")
            .bind(sender.as_str())
            .bind(nonce.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("nonce"))?
            .rows_affected();
        Ok(n == 1)
    }

    async fn audit(
        &self,
        action: &str,
        peer: Option<&AgencyId>,
        record: Option<Uuid>,
        detail: &str,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db("audit"))?;
        // BEGIN IMMEDIATE: the chain's read-then-append must not interleave with another writer.
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .map_err(db("audit"))?;
        let r = append_audit(
            &mut conn,
            AuditRow {
                action,
                peer: peer.map(|p| p.as_str()),
                record: record.map(|r| r.to_string()),
                agreement: None,
                detail: detail.to_string(),
            },
        )
        .await;
        let end = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(end)
            .execute(&mut *conn)
            .await
            .map_err(db("audit"))?;
        r
    }

    async fn store_receipt(&self, receipt: &Receipt, sent: bool) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("receipt"))?;
        let peer = if sent {
            &receipt.sender
        } else {
            &receipt.receiver
        };
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO ex_receipts (id, sent, peer, body) VALUES (?,?,?,?)",
        )
        .bind(receipt.id.to_string())
        .bind(sent)
        .bind(peer.as_str())
        .bind(json(receipt)?)
        .execute(&mut *tx)
        .await
        .map_err(db("receipt"))?
        .rows_affected();
        if inserted == 0 {
            return Ok(());
        }
        if !sent {
            for item in &receipt.items {
                let outcome = serde_json::to_value(&item.outcome).map_err(Error::Encoding)?;
                sqlx::query("UPDATE ex_disclosures SET receipt = ?, outcome = ? WHERE envelope = ? AND peer = ?")
                    .bind(receipt.id.to_string())
                    .bind(outcome.to_string())
                    .bind(item.envelope.as_str())
                    .bind(peer.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("receipt"))?;
            }
        }
        append_audit(
            &mut tx,
            AuditRow {
                action: if sent {
                    "receipt_sent"
                } else {
                    "receipt_received"
                },
                peer: Some(peer.as_str()),
                record: None,
                agreement: None,
                detail: format!(
                    "receipt {} for {} envelopes",
                    receipt.id,
                    receipt.items.len()
                ),
            },
        )
        .await?;
        tx.commit().await.map_err(db("receipt"))?;
        Ok(())
    }

    async fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT seq, at, action, peer, record_id, agreement, detail, prev_hash, hash FROM ex_audit ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .map_err(db("audit log"))?;
        rows.iter()
            .map(|r| {
                let at: String = r.try_get("at").map_err(db("audit log"))?;
                Ok(AuditEntry {
                    seq: r.try_get::<i64, _>("seq").map_err(db("audit log"))? as u64,
                    at: DateTime::parse_from_rfc3339(&at)
                        .map_err(|_| Error::invalid("audit time", "corrupt"))?
                        .with_timezone(&Utc),
                    action: r.try_get("action").map_err(db("audit log"))?,
                    peer: r.try_get("peer").map_err(db("audit log"))?,
                    record: r.try_get("record_id").map_err(db("audit log"))?,
                    agreement: r.try_get("agreement").map_err(db("audit log"))?,
                    detail: r.try_get("detail").map_err(db("audit log"))?,
                    prev_hash: r.try_get("prev_hash").map_err(db("audit log"))?,
                    hash: r.try_get("hash").map_err(db("audit log"))?,
                })
            })
            .collect()
    }

    async fn disclosure_counts(&self, peer: &AgencyId) -> Result<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COUNT(receipt) AS r FROM ex_disclosures WHERE peer = ?",
        )
        .bind(peer.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db("counts"))?;
        Ok((
            row.try_get::<i64, _>("n").map_err(db("counts"))? as u64,
            row.try_get::<i64, _>("r").map_err(db("counts"))? as u64,
        ))
    }
}
