//! The SQL both backends share, written once.
//!
//! Both SQLite and PostgreSQL accept the same statements here (`$N` placeholders, `ON CONFLICT`, `RETURNING`), and
//! every column is read as `i64`, `f64`, `String`, `Vec<u8>` or `bool`, so one macro body implements [`Store`] for
//! both pool types. What differs (connection set-up, the statement that locks the audit head) is passed in.
//!
//! Every writing transaction starts by reading the audit head row (locking it on PostgreSQL; SQLite has one writer
//! connection), appends its audit entries with the chain computed in Rust, and writes the new head before commit:
//! the chain can never fork, and a change without its audit entry cannot be committed.

use crate::{Error, Result};
use jikimi_audit::{AuditEntry, NewAuditEntry};
use jikimi_privacy::{BlindDigest, Sealed};
use jikimi_respond::{
    Coordinates, Incident, IncidentEvent, IncidentStatus, Timestamp, Unit, UnitId, UnitStatus,
};

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
) -> Result<Unit> {
    let status = UnitStatus::parse(status)
        .ok_or_else(|| Error::corrupt(format!("unknown unit status {status:?} in storage")))?;
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

/// Implements [`crate::Store`] for a backend type with `writer()` and `reader()` pools of database `$db`.
///
/// `$lock_head` is the statement that reads (and on PostgreSQL locks) the audit head row; `$begin` opens the writing
/// transaction (`BEGIN IMMEDIATE` on SQLite: another process on the same file, such as a CLI command beside `jikimi
/// serve`, then waits in the busy handler instead of failing a read-to-write upgrade with `SQLITE_BUSY`).
macro_rules! impl_store {
    ($store:ty, $db:ty, backend = $backend:literal, begin = $begin:literal, lock_head = $lock_head:literal) => {
        impl $store {
            /// Starts a writing transaction and reads the audit chain head.
            async fn begin_write(&self) -> $crate::Result<(sqlx::Transaction<'static, $db>, $crate::sql::Chain)> {
                let mut tx = self.writer().begin_with($begin).await?;
                let row = sqlx::query($lock_head).fetch_one(&mut *tx).await?;
                let chain = $crate::sql::Chain::new(row.try_get("seq")?, &row.try_get::<Vec<u8>, _>("hash")?)?;
                Ok((tx, chain))
            }

            /// Writes the chain's pending entries and the new head, commits, and only then tells the observers what
            /// the transaction changed.
            async fn commit_write(
                &self,
                mut tx: sqlx::Transaction<'static, $db>,
                chain: $crate::sql::Chain,
            ) -> $crate::Result<()> {
                if !chain.pending.is_empty() {
                    for rows in chain.pending.chunks($crate::sql::rows_per_statement(9)) {
                        let sql = format!(
                            "INSERT INTO audit_log (seq, at_ms, actor, action, subject, reason, detail, prev_hash, hash)
                             VALUES {}",
                            $crate::sql::values_clause(rows.len(), 9)
                        );
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                        for e in rows {
                            query = query
                                .bind($crate::sql::to_i64(e.seq)?)
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
                        .bind($crate::sql::to_i64(chain.seq)?)
                        .bind(&chain.hash[..])
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                self.observers.committed(&chain.changes);
                Ok(())
            }

            /// Attaches an observer to this store and its clones.
            pub fn with_observer(self, observer: std::sync::Arc<dyn $crate::CommitObserver>) -> Self {
                self.observers.add(observer);
                self
            }

            async fn load_incident_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: jikimi_respond::IncidentId,
            ) -> $crate::Result<jikimi_respond::Incident> {
                let row = sqlx::query("SELECT state FROM incidents WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or_else(|| $crate::Error::not_found($crate::Entity::Incident, id))?;
                $crate::sql::incident_from_state(&row.try_get::<String, _>("state")?)
            }

            async fn write_incident_row(
                tx: &mut sqlx::Transaction<'static, $db>,
                incident: &jikimi_respond::Incident,
                insert: bool,
            ) -> $crate::Result<()> {
                let state = $crate::sql::incident_state(incident)?;
                let query = if insert {
                    sqlx::query(
                        "INSERT INTO incidents (id, device_id, alert_id, subscriber_id, status, priority, opened_at,
                                                last_seq, state)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                } else {
                    sqlx::query(
                        "UPDATE incidents SET device_id = $2, alert_id = $3, subscriber_id = $4, status = $5,
                                priority = $6, opened_at = $7, last_seq = $8, state = $9
                         WHERE id = $1",
                    )
                };
                query
                    .bind(incident.id.to_string())
                    .bind(incident.device_id.to_string())
                    .bind(incident.alert_id.to_string())
                    .bind(incident.subscriber_id.map(|s| s.to_string()))
                    .bind(incident.status.as_str())
                    .bind(i64::from(incident.priority.code()))
                    .bind(incident.opened_at.as_unix_ms())
                    .bind($crate::sql::to_i64(incident.last_seq)?)
                    .bind(state)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn insert_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: jikimi_respond::IncidentId,
                event: &jikimi_respond::IncidentEvent,
            ) -> $crate::Result<()> {
                sqlx::query("INSERT INTO incident_events (incident_id, seq, at_ms, kind, body) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id.to_string())
                    .bind($crate::sql::to_i64(event.seq)?)
                    .bind(event.at.as_unix_ms())
                    .bind(event.kind.name())
                    .bind($crate::sql::event_body(event)?)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn sealed_fields_of(
                &self,
                owner: &str,
            ) -> $crate::Result<std::collections::BTreeMap<String, jikimi_privacy::Sealed>> {
                let rows = sqlx::query("SELECT field, sealed FROM sealed_fields WHERE owner = $1 ORDER BY field")
                    .bind(owner)
                    .fetch_all(self.reader())
                    .await?;
                let mut fields = std::collections::BTreeMap::new();
                for row in rows {
                    let sealed = $crate::sql::sealed_from(&row.try_get::<Vec<u8>, _>("sealed")?)?;
                    fields.insert(row.try_get::<String, _>("field")?, sealed);
                }
                Ok(fields)
            }

            async fn replace_sealed_fields(
                tx: &mut sqlx::Transaction<'static, $db>,
                owner: &str,
                fields: &std::collections::BTreeMap<String, jikimi_privacy::Sealed>,
            ) -> $crate::Result<()> {
                sqlx::query("DELETE FROM sealed_fields WHERE owner = $1").bind(owner).execute(&mut **tx).await?;
                for (field, sealed) in fields {
                    sqlx::query("INSERT INTO sealed_fields (owner, field, sealed) VALUES ($1, $2, $3)")
                        .bind(owner)
                        .bind(field)
                        .bind(sealed.to_bytes())
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            fn device_from_row(row: &<$db as sqlx::Database>::Row) -> $crate::Result<$crate::DeviceRecord> {
                Ok($crate::DeviceRecord {
                    id: jikimi_respond::DeviceId($crate::sql::parse_uuid(&row.try_get::<String, _>("id")?)?),
                    subscriber_id: row
                        .try_get::<Option<String>, _>("subscriber_id")?
                        .map(|s| $crate::sql::parse_uuid(&s).map(jikimi_respond::SubscriberId))
                        .transpose()?,
                    public_key: row.try_get("public_key")?,
                    kind: row.try_get("kind")?,
                    enrolled_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("enrolled_at")?),
                    revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(jikimi_respond::Timestamp::from_unix_ms),
                })
            }

            /// Checks a presented enrolment code inside a write transaction: a wrong code counts an attempt (and
            /// locks the code at `max_attempts`). On success says whose code it is, whether PINs are set and whether
            /// the code may replace them; on refusal gives the refusal and the audit subject.
            async fn validate_code_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                handle: &str,
                code_hash: &[u8; 32],
                max_attempts: u32,
                at: jikimi_respond::Timestamp,
            ) -> $crate::Result<std::result::Result<$crate::EnrolmentCheck, ($crate::EnrolmentRefusal, String)>> {
                use $crate::EnrolmentRefusal as R;
                let row = sqlx::query(
                    "SELECT code_hash, subscriber_id, expires_at, failed_attempts, used_at, replace_pins
                     FROM enrolment_codes WHERE handle = $1",
                )
                .bind(handle)
                .fetch_optional(&mut **tx)
                .await?;
                let Some(row) = row else {
                    return Ok(Err((R::Unknown, "enrolment/unknown".to_string())));
                };
                let max = i64::from(max_attempts.max(1));
                let stored: Vec<u8> = row.try_get("code_hash")?;
                let failed: i64 = row.try_get("failed_attempts")?;
                let used_at: Option<i64> = row.try_get("used_at")?;
                let expires_at: i64 = row.try_get("expires_at")?;
                let subscriber: String = row.try_get("subscriber_id")?;
                let replace_pins: bool = row.try_get("replace_pins")?;
                let subject = format!("subscriber/{subscriber}");
                let refusal = if used_at.is_some() {
                    Some(R::AlreadyUsed)
                } else if failed >= max {
                    Some(R::Locked)
                } else if at.as_unix_ms() >= expires_at {
                    Some(R::Expired)
                } else if !$crate::sql::hashes_equal(&stored, code_hash) {
                    sqlx::query("UPDATE enrolment_codes SET failed_attempts = failed_attempts + 1 WHERE handle = $1")
                        .bind(handle)
                        .execute(&mut **tx)
                        .await?;
                    let left = (max - failed - 1).max(0);
                    Some(if left == 0 { R::Locked } else { R::WrongCode { attempts_left: left as u32 } })
                } else {
                    None
                };
                if let Some(refusal) = refusal {
                    return Ok(Err((refusal, subject)));
                }
                let pins_set = sqlx::query("SELECT subscriber_id FROM subscriber_pins WHERE subscriber_id = $1")
                    .bind(&subscriber)
                    .fetch_optional(&mut **tx)
                    .await?
                    .is_some();
                Ok(Ok($crate::EnrolmentCheck {
                    subscriber_id: jikimi_respond::SubscriberId($crate::sql::parse_uuid(&subscriber)?),
                    pins_set,
                    replace_pins,
                }))
            }

            /// Claims a device request's nonce; [`Conflict::NonceReplayed`](crate::Conflict) if it was used before.
            async fn claim_nonce_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                claim: &$crate::NonceClaim,
            ) -> $crate::Result<()> {
                let claimed = sqlx::query(
                    "INSERT INTO device_nonces (device_id, nonce, seen_at) VALUES ($1, $2, $3)
                     ON CONFLICT (device_id, nonce) DO NOTHING",
                )
                .bind(claim.device_id.to_string())
                .bind(&claim.nonce)
                .bind(claim.at.as_unix_ms())
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if claimed == 0 {
                    return Err($crate::Error::Conflict($crate::Conflict::NonceReplayed));
                }
                Ok(())
            }

            async fn write_pins(
                tx: &mut sqlx::Transaction<'static, $db>,
                subscriber_id: &str,
                pins: &$crate::PinHashes,
                at: jikimi_respond::Timestamp,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO subscriber_pins (subscriber_id, pin_hash, duress_pin_hash, failed_attempts, locked_until,
                                                  updated_at)
                     VALUES ($1, $2, $3, 0, NULL, $4)
                     ON CONFLICT (subscriber_id) DO UPDATE SET pin_hash = excluded.pin_hash,
                         duress_pin_hash = excluded.duress_pin_hash, failed_attempts = 0, locked_until = NULL,
                         updated_at = excluded.updated_at",
                )
                .bind(subscriber_id)
                .bind(&pins.pin_hash)
                .bind(&pins.duress_pin_hash)
                .bind(at.as_unix_ms())
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            fn pins_from_row(
                subscriber_id: jikimi_respond::SubscriberId,
                row: &<$db as sqlx::Database>::Row,
            ) -> $crate::Result<$crate::PinRecord> {
                Ok($crate::PinRecord {
                    subscriber_id,
                    pins: $crate::PinHashes {
                        pin_hash: row.try_get("pin_hash")?,
                        duress_pin_hash: row.try_get("duress_pin_hash")?,
                    },
                    failed_attempts: u32::try_from(row.try_get::<i64, _>("failed_attempts")?)
                        .map_err(|_| $crate::Error::corrupt("stored pin attempt counter is out of range"))?,
                    locked_until: row.try_get::<Option<i64>, _>("locked_until")?.map(jikimi_respond::Timestamp::from_unix_ms),
                })
            }

            fn staff_from_row(row: &<$db as sqlx::Database>::Row) -> $crate::Result<$crate::StaffUser> {
                Ok($crate::StaffUser {
                    username: row.try_get("username")?,
                    password_hash: row.try_get("password_hash")?,
                    role: $crate::sql::role_from(&row.try_get::<String, _>("role")?)?,
                    created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
                    disabled: row.try_get("disabled")?,
                })
            }

            fn unit_from_row(row: &<$db as sqlx::Database>::Row) -> $crate::Result<jikimi_respond::Unit> {
                $crate::sql::unit_from_columns(
                    row.try_get("id")?,
                    &row.try_get::<String, _>("status")?,
                    row.try_get("lat")?,
                    row.try_get("lon")?,
                    row.try_get("reported_at")?,
                )
            }

            async fn guardians_of(&self, subscriber_id: jikimi_respond::SubscriberId)
                -> $crate::Result<Vec<$crate::GuardianRecord>> {
                let rows = sqlx::query(
                    "SELECT id, created_at FROM guardians WHERE subscriber_id = $1 ORDER BY created_at, id",
                )
                .bind(subscriber_id.to_string())
                .fetch_all(self.reader())
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let id = $crate::GuardianId($crate::sql::parse_uuid(&row.try_get::<String, _>("id")?)?);
                    out.push($crate::GuardianRecord {
                        id,
                        subscriber_id,
                        fields: self.sealed_fields_of(&format!("guardian/{id}")).await?,
                        created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
                    });
                }
                Ok(out)
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            async fn migrate(&self) -> $crate::Result<()> {
                self.run_migrations().await
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

            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            fn backend(&self) -> &'static str {
                $backend
            }

            fn observe_commits(&self, observer: std::sync::Arc<dyn $crate::CommitObserver>) {
                self.observers.add(observer);
            }

            async fn record_alerts_budgeted(
                &self,
                batch: Vec<$crate::NewAlert>,
                surge: jikimi_respond::SurgeConfig,
                over_budget: Vec<bool>,
            ) -> $crate::Result<Vec<$crate::Result<$crate::AlertAccepted>>> {
                use jikimi_respond::{Actor, EventKind, Incident, IncidentEvent, IncidentId};
                use jikimi_respond::surge::{Cluster, ClusterIndex, Placement};
                use std::collections::{HashMap, HashSet};
                if batch.is_empty() {
                    return Ok(Vec::new());
                }
                // Multi-row statements: a handful per batch instead of several per alert, which is what lets one
                // SQLite writer keep up with thousands of alerts a second.
                let keys: Vec<(String, String)> =
                    batch.iter().map(|a| (a.device_id.to_string(), a.alert_id.to_string())).collect();
                let (mut tx, mut chain) = self.begin_write().await?;

                // 1. Claim the nonces. Within the batch only the first use of a (device, nonce) pair may be fresh.
                let mut first_use = vec![false; batch.len()];
                let mut seen_nonces = HashSet::new();
                let mut claims: Vec<usize> = Vec::new();
                for (i, alert) in batch.iter().enumerate() {
                    if seen_nonces.insert((alert.device_id, alert.nonce.as_str())) {
                        first_use[i] = true;
                        claims.push(i);
                    }
                }
                let mut fresh: HashSet<(String, String)> = HashSet::new();
                for rows in claims.chunks($crate::sql::rows_per_statement(3)) {
                    let sql = format!(
                        "INSERT INTO device_nonces (device_id, nonce, seen_at) VALUES {}
                         ON CONFLICT (device_id, nonce) DO NOTHING RETURNING device_id, nonce",
                        $crate::sql::values_clause(rows.len(), 3)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for &i in rows {
                        query = query
                            .bind(keys[i].0.as_str())
                            .bind(batch[i].nonce.as_str())
                            .bind(batch[i].received_at.as_unix_ms());
                    }
                    for row in query.fetch_all(&mut *tx).await? {
                        fresh.insert((row.try_get("device_id")?, row.try_get("nonce")?));
                    }
                }

                // 2. Alerts recorded before (retries across batches), by their own rows: a clustered alert's
                //    incident was opened by another device.
                let mut lookups: Vec<usize> = Vec::new();
                let mut seen_keys = HashSet::new();
                for i in 0..batch.len() {
                    if seen_keys.insert(&keys[i]) {
                        lookups.push(i);
                    }
                }
                let mut existing: HashMap<(String, String), IncidentId> = HashMap::new();
                for rows in lookups.chunks($crate::sql::rows_per_statement(2)) {
                    let sql = format!(
                        "SELECT incident_id, device_id, alert_id FROM alerts WHERE (device_id, alert_id) IN (VALUES {})",
                        $crate::sql::values_clause(rows.len(), 2)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for &i in rows {
                        query = query.bind(keys[i].0.as_str()).bind(keys[i].1.as_str());
                    }
                    for row in query.fetch_all(&mut *tx).await? {
                        let id = IncidentId($crate::sql::parse_uuid(&row.try_get::<String, _>("incident_id")?)?);
                        existing.insert((row.try_get("device_id")?, row.try_get("alert_id")?), id);
                    }
                }

                // 2b. Open clusters near any alert of the batch, from the grid cells their search circles touch.
                let mut index = ClusterIndex::new(surge);
                let mut existing_clusters: HashSet<IncidentId> = HashSet::new();
                if surge.is_enabled() {
                    let mut cells: Vec<i64> = batch
                        .iter()
                        .filter_map(|a| a.fix.as_ref())
                        .filter_map(|f| jikimi_respond::surge::cells_near(f.coords, surge.radius_m))
                        .flatten()
                        .collect();
                    cells.sort_unstable();
                    cells.dedup();
                    let oldest = batch.iter().map(|a| a.received_at.as_unix_ms()).min().unwrap_or(0);
                    let since = oldest.saturating_sub(surge.window_ms);
                    for rows in cells.chunks($crate::sql::rows_per_statement(1) - 1) {
                        let sql = format!(
                            "SELECT c.incident_id, c.lat, c.lon, c.last_report_at
                             FROM incident_clusters c JOIN incidents i ON i.id = c.incident_id
                             WHERE c.last_report_at >= $1 AND i.status <> 'closed' AND c.cell IN ({})
                             ORDER BY c.incident_id",
                            $crate::sql::placeholders(2, rows.len())
                        );
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since);
                        for cell in rows {
                            query = query.bind(*cell);
                        }
                        for row in query.fetch_all(&mut *tx).await? {
                            let incident_id =
                                IncidentId($crate::sql::parse_uuid(&row.try_get::<String, _>("incident_id")?)?);
                            let anchor = jikimi_respond::Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                                .map_err(|_| $crate::Error::corrupt("stored cluster anchor is out of range"))?;
                            let last_report_at =
                                jikimi_respond::Timestamp::from_unix_ms(row.try_get("last_report_at")?);
                            existing_clusters.insert(incident_id);
                            index.insert(Cluster { incident_id, anchor, last_report_at });
                        }
                    }
                }

                // 3. Decide each alert in order: a duplicate, a new incident, or one more report of an incident
                //    (opened earlier in this batch or before). Every accepted alert gets its own event and row.
                let mut results = Vec::with_capacity(batch.len());
                let mut new_incidents: Vec<(Incident, Vec<IncidentEvent>)> = Vec::new();
                let mut new_index: HashMap<IncidentId, usize> = HashMap::new();
                let mut joined: HashMap<IncidentId, (Incident, Vec<IncidentEvent>)> = HashMap::new();
                let mut joined_order: Vec<IncidentId> = Vec::new();
                let mut alert_rows: Vec<(usize, IncidentId)> = Vec::new();
                // The incident each device's latest accepted alert of this batch went to (for over-budget alerts).
                let mut latest_of_device: HashMap<String, IncidentId> = HashMap::new();
                for (i, alert) in batch.iter().enumerate() {
                    let actor = Actor::Device(alert.device_id);
                    let nonce_key = (keys[i].0.clone(), alert.nonce.clone());
                    if !(first_use[i] && fresh.contains(&nonce_key)) {
                        chain.push(
                            jikimi_audit::NewAuditEntry::new(
                                alert.received_at.as_unix_ms(),
                                actor.to_string(),
                                "alert.rejected",
                                format!("device/{}", keys[i].0),
                                "nonce replayed",
                            )
                            .with_detail(&serde_json::json!({ "code": "nonce_replayed", "alert_id": alert.alert_id })),
                        );
                        results.push(Err($crate::Error::Conflict($crate::Conflict::NonceReplayed)));
                        continue;
                    }
                    if let Some(&incident_id) = existing.get(&keys[i]) {
                        chain.push(jikimi_audit::NewAuditEntry::new(
                            alert.received_at.as_unix_ms(),
                            actor.to_string(),
                            "alert.duplicate",
                            format!("incident/{incident_id}"),
                            "alert retried",
                        ));
                        results.push(Ok($crate::AlertAccepted { incident_id, duplicate: true }));
                        continue;
                    }
                    // Past its budget, a device's alert joins the open incident of its latest alert: counted as a
                    // report, never refused, never a new incident while one is open.
                    let own_open = if over_budget.get(i).copied().unwrap_or(false) {
                        match latest_of_device.get(&keys[i].0) {
                            Some(&id) => Some(id),
                            None => sqlx::query(
                                "SELECT a.incident_id FROM alerts a JOIN incidents i ON i.id = a.incident_id
                                 WHERE a.device_id = $1 AND i.status <> 'closed'
                                 ORDER BY a.received_at DESC, a.incident_id DESC LIMIT 1",
                            )
                            .bind(keys[i].0.as_str())
                            .fetch_optional(&mut *tx)
                            .await?
                            .map(|row| {
                                row.try_get::<String, _>("incident_id")
                                    .map_err($crate::Error::from)
                                    .and_then(|id| $crate::sql::parse_uuid(&id))
                                    .map(IncidentId)
                            })
                            .transpose()?,
                        }
                    } else {
                        None
                    };
                    let placement = match own_open {
                        Some(target) => Placement::Join(target),
                        None => index.place(alert.incident_id, alert.fix.map(|f| f.coords), alert.received_at),
                    };
                    let mut report_of: Option<IncidentId> = None;
                    if let Placement::Join(target) = placement {
                        let report = |seq: u64| IncidentEvent {
                            seq,
                            at: alert.received_at,
                            actor: actor.clone(),
                            kind: EventKind::ReportAdded {
                                alert_id: alert.alert_id,
                                device_id: alert.device_id,
                                subscriber_id: alert.subscriber_id,
                                priority: alert.priority,
                                fix: alert.fix,
                                silent: alert.silent,
                            },
                        };
                        let slot = if let Some(&k) = new_index.get(&target) {
                            Some(&mut new_incidents[k])
                        } else {
                            if !joined.contains_key(&target) {
                                let incident = Self::load_incident_in(&mut tx, target).await?;
                                joined.insert(target, (incident, Vec::new()));
                                joined_order.push(target);
                            }
                            joined.get_mut(&target)
                        };
                        if let Some((incident, events)) = slot {
                            let event = report(incident.last_seq + 1);
                            // A refused report (cannot happen for an open incident) falls back to a new incident.
                            if incident.apply(&event).is_ok() {
                                events.push(event);
                                report_of = Some(target);
                            }
                        }
                    }
                    let incident_id = match report_of {
                        Some(target) => target,
                        None => {
                            let event = IncidentEvent {
                                seq: 1,
                                at: alert.received_at,
                                actor: actor.clone(),
                                kind: EventKind::AlertReceived {
                                    alert_id: alert.alert_id,
                                    device_id: alert.device_id,
                                    subscriber_id: alert.subscriber_id,
                                    priority: alert.priority,
                                    fix: alert.fix,
                                    silent: alert.silent,
                                },
                            };
                            let incident = Incident::start(alert.incident_id, &event)?;
                            new_index.insert(incident.id, new_incidents.len());
                            new_incidents.push((incident, vec![event]));
                            alert.incident_id
                        }
                    };
                    existing.insert(keys[i].clone(), incident_id);
                    latest_of_device.insert(keys[i].0.clone(), incident_id);
                    alert_rows.push((i, incident_id));
                    chain.push(
                        jikimi_audit::NewAuditEntry::new(
                            alert.received_at.as_unix_ms(),
                            actor.to_string(),
                            "alert.received",
                            format!("incident/{incident_id}"),
                            if report_of.is_some() { "sos alert (clustered report)" } else { "sos alert" },
                        )
                        .with_detail(&serde_json::json!({
                            "alert_id": alert.alert_id,
                            "priority": alert.priority.code(),
                        })),
                    );
                    results.push(Ok($crate::AlertAccepted { incident_id, duplicate: false }));
                }

                // 4. Write the new incidents (in their final state), the reports' incidents, every event, one row
                //    per accepted alert, and the clusters.
                for rows in new_incidents.chunks($crate::sql::rows_per_statement(9)) {
                    let sql = format!(
                        "INSERT INTO incidents (id, device_id, alert_id, subscriber_id, status, priority, opened_at,
                                                last_seq, state)
                         VALUES {}",
                        $crate::sql::values_clause(rows.len(), 9)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (incident, _) in rows {
                        query = query
                            .bind(incident.id.to_string())
                            .bind(incident.device_id.to_string())
                            .bind(incident.alert_id.to_string())
                            .bind(incident.subscriber_id.map(|s| s.to_string()))
                            .bind(incident.status.as_str())
                            .bind(i64::from(incident.priority.code()))
                            .bind(incident.opened_at.as_unix_ms())
                            .bind($crate::sql::to_i64(incident.last_seq)?)
                            .bind($crate::sql::incident_state(incident)?);
                    }
                    query.execute(&mut *tx).await?;
                }
                for id in &joined_order {
                    if let Some((incident, _)) = joined.get(id) {
                        Self::write_incident_row(&mut tx, incident, false).await?;
                    }
                }
                let events: Vec<(IncidentId, &IncidentEvent)> = new_incidents
                    .iter()
                    .flat_map(|(incident, events)| events.iter().map(move |e| (incident.id, e)))
                    .chain(joined_order.iter().filter_map(|id| joined.get(id)).flat_map(|(incident, events)| {
                        events.iter().map(move |e| (incident.id, e))
                    }))
                    .collect();
                for rows in events.chunks($crate::sql::rows_per_statement(5)) {
                    let sql = format!(
                        "INSERT INTO incident_events (incident_id, seq, at_ms, kind, body) VALUES {}",
                        $crate::sql::values_clause(rows.len(), 5)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (incident_id, event) in rows {
                        query = query
                            .bind(incident_id.to_string())
                            .bind($crate::sql::to_i64(event.seq)?)
                            .bind(event.at.as_unix_ms())
                            .bind(event.kind.name())
                            .bind($crate::sql::event_body(event)?);
                    }
                    query.execute(&mut *tx).await?;
                }
                for rows in alert_rows.chunks($crate::sql::rows_per_statement(4)) {
                    let sql = format!(
                        "INSERT INTO alerts (device_id, alert_id, incident_id, received_at) VALUES {}",
                        $crate::sql::values_clause(rows.len(), 4)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (i, incident_id) in rows {
                        query = query
                            .bind(keys[*i].0.as_str())
                            .bind(keys[*i].1.as_str())
                            .bind(incident_id.to_string())
                            .bind(batch[*i].received_at.as_unix_ms());
                    }
                    query.execute(&mut *tx).await?;
                }
                let new_clusters: Vec<&Cluster> = index
                    .clusters()
                    .iter()
                    .filter(|c| !existing_clusters.contains(&c.incident_id))
                    .collect();
                for rows in new_clusters.chunks($crate::sql::rows_per_statement(5)) {
                    let sql = format!(
                        "INSERT INTO incident_clusters (incident_id, cell, lat, lon, last_report_at) VALUES {}",
                        $crate::sql::values_clause(rows.len(), 5)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for cluster in rows {
                        query = query
                            .bind(cluster.incident_id.to_string())
                            .bind(jikimi_respond::surge::cell_of(cluster.anchor))
                            .bind(cluster.anchor.lat())
                            .bind(cluster.anchor.lon())
                            .bind(cluster.last_report_at.as_unix_ms());
                    }
                    query.execute(&mut *tx).await?;
                }
                for id in &joined_order {
                    if let Some(cluster) = index.get(*id) {
                        sqlx::query("UPDATE incident_clusters SET last_report_at = $1 WHERE incident_id = $2")
                            .bind(cluster.last_report_at.as_unix_ms())
                            .bind(id.to_string())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                for (incident, _) in &new_incidents {
                    chain.changes.incident(incident, true);
                }
                for (incident, _) in joined_order.iter().filter_map(|id| joined.get(id)) {
                    chain.changes.incident(incident, false);
                }
                // 5. Guardians to tell, in the same transaction (the outbox).
                //    Each alert tells its own subscriber's guardians, also when it joined another's incident.
                let to_notify: Vec<_> = events
                    .iter()
                    .filter_map(|(incident_id, event)| match &event.kind {
                        EventKind::AlertReceived { subscriber_id, .. }
                        | EventKind::ReportAdded { subscriber_id, .. } => {
                            subscriber_id.map(|s| (*incident_id, s, *event))
                        }
                        _ => None,
                    })
                    .collect();
                Self::enqueue_notifications(&mut tx, &mut chain, &to_notify).await?;
                self.commit_write(tx, chain).await?;
                Ok(results)
            }

            async fn alert_incident(
                &self,
                device_id: jikimi_respond::DeviceId,
                alert_id: jikimi_respond::AlertId,
            ) -> $crate::Result<jikimi_respond::IncidentId> {
                let row = sqlx::query("SELECT incident_id FROM alerts WHERE device_id = $1 AND alert_id = $2")
                    .bind(device_id.to_string())
                    .bind(alert_id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or_else(|| $crate::Error::not_found($crate::Entity::Alert, alert_id))?;
                Ok(jikimi_respond::IncidentId($crate::sql::parse_uuid(&row.try_get::<String, _>("incident_id")?)?))
            }

            async fn intake_counts(&self) -> $crate::Result<$crate::IntakeCounts> {
                let alerts: i64 = sqlx::query("SELECT COUNT(*) AS n FROM alerts")
                    .fetch_one(self.reader())
                    .await?
                    .try_get("n")?;
                let incidents: i64 = sqlx::query("SELECT COUNT(*) AS n FROM incidents")
                    .fetch_one(self.reader())
                    .await?
                    .try_get("n")?;
                Ok($crate::IntakeCounts {
                    alerts: $crate::sql::to_u64(alerts)?,
                    incidents: $crate::sql::to_u64(incidents)?,
                })
            }

            async fn append_event(
                &self,
                incident_id: jikimi_respond::IncidentId,
                expected_seq: u64,
                kind: jikimi_respond::EventKind,
                change: &$crate::Change,
            ) -> $crate::Result<jikimi_respond::Incident> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let mut incident = Self::load_incident_in(&mut tx, incident_id).await?;
                if incident.last_seq != expected_seq {
                    return Err($crate::Error::Conflict($crate::Conflict::StaleSequence {
                        expected: expected_seq,
                        actual: incident.last_seq,
                    }));
                }
                let event = jikimi_respond::IncidentEvent {
                    seq: expected_seq + 1,
                    at: change.at,
                    actor: change.actor.clone(),
                    kind,
                };
                incident.apply(&event)?;
                Self::insert_event(&mut tx, incident_id, &event).await?;
                Self::write_incident_row(&mut tx, &incident, false).await?;
                chain.changes.incident(&incident, false);
                if let Some(subscriber_id) = incident.subscriber_id {
                    Self::enqueue_notifications(&mut tx, &mut chain, &[(incident_id, subscriber_id, &event)]).await?;
                }
                chain.push(
                    $crate::sql::audit(change, &format!("incident.{}", event.kind.name()), format!("incident/{incident_id}"))
                        .with_detail(&serde_json::json!({ "seq": event.seq, "status": incident.status })),
                );
                self.commit_write(tx, chain).await?;
                Ok(incident)
            }

            async fn load_events(
                &self,
                incident_id: jikimi_respond::IncidentId,
            ) -> $crate::Result<Vec<jikimi_respond::IncidentEvent>> {
                let rows = sqlx::query("SELECT body FROM incident_events WHERE incident_id = $1 ORDER BY seq")
                    .bind(incident_id.to_string())
                    .fetch_all(self.reader())
                    .await?;
                if rows.is_empty() {
                    return Err($crate::Error::not_found($crate::Entity::Incident, incident_id));
                }
                rows.iter().map(|row| $crate::sql::event_from_body(&row.try_get::<String, _>("body")?)).collect()
            }

            async fn get_incident(
                &self,
                incident_id: jikimi_respond::IncidentId,
            ) -> $crate::Result<jikimi_respond::Incident> {
                let row = sqlx::query("SELECT state FROM incidents WHERE id = $1")
                    .bind(incident_id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or_else(|| $crate::Error::not_found($crate::Entity::Incident, incident_id))?;
                $crate::sql::incident_from_state(&row.try_get::<String, _>("state")?)
            }

            async fn list_incidents(
                &self,
                filter: &$crate::IncidentFilter,
            ) -> $crate::Result<Vec<jikimi_respond::Incident>> {
                if filter.limit == 0 || filter.limit > 10_000 {
                    return Err($crate::Error::Invalid(format!("limit {} is not in 1..=10000", filter.limit)));
                }
                let (has_status, statuses) = $crate::sql::status_binds(&filter.statuses);
                // One filter for both orders: `$10` (the page's start) is null in queue order.
                let (sql, after) = match &filter.order {
                    $crate::IncidentOrder::Queue => (
                        "SELECT state FROM incidents
                         WHERE ($1 = 0 OR status IN ($2, $3, $4, $5, $6, $7))
                           AND (CAST($8 AS TEXT) IS NULL OR subscriber_id = $8)
                           AND (CAST($10 AS TEXT) IS NULL OR id > $10)
                         ORDER BY priority, opened_at, id
                         LIMIT $9",
                        None,
                    ),
                    $crate::IncidentOrder::ById { after } => (
                        "SELECT state FROM incidents
                         WHERE ($1 = 0 OR status IN ($2, $3, $4, $5, $6, $7))
                           AND (CAST($8 AS TEXT) IS NULL OR subscriber_id = $8)
                           AND (CAST($10 AS TEXT) IS NULL OR id > $10)
                         ORDER BY id
                         LIMIT $9",
                        after.map(|id| id.to_string()),
                    ),
                };
                let rows = sqlx::query(sql)
                .bind(has_status)
                .bind(statuses[0])
                .bind(statuses[1])
                .bind(statuses[2])
                .bind(statuses[3])
                .bind(statuses[4])
                .bind(statuses[5])
                .bind(filter.subscriber_id.map(|s| s.to_string()))
                .bind(i64::from(filter.limit))
                .bind(after)
                .fetch_all(self.reader())
                .await?;
                rows.iter().map(|row| $crate::sql::incident_from_state(&row.try_get::<String, _>("state")?)).collect()
            }

            async fn rebuild_projections(&self) -> $crate::Result<u64> {
                let (mut tx, chain) = self.begin_write().await?;
                let rows = sqlx::query("SELECT incident_id, body FROM incident_events ORDER BY incident_id, seq")
                    .fetch_all(&mut *tx)
                    .await?;
                let mut n = 0u64;
                let mut current: Option<(String, Vec<jikimi_respond::IncidentEvent>)> = None;
                let mut groups = Vec::new();
                for row in rows {
                    let id: String = row.try_get("incident_id")?;
                    let event = $crate::sql::event_from_body(&row.try_get::<String, _>("body")?)?;
                    match &mut current {
                        Some((cur, events)) if *cur == id => events.push(event),
                        _ => {
                            if let Some(done) = current.take() {
                                groups.push(done);
                            }
                            current = Some((id, vec![event]));
                        }
                    }
                }
                groups.extend(current);
                for (id, events) in groups {
                    let incident_id = jikimi_respond::IncidentId($crate::sql::parse_uuid(&id)?);
                    let incident = jikimi_respond::Incident::replay(incident_id, &events)?;
                    Self::write_incident_row(&mut tx, &incident, false).await?;
                    n += 1;
                }
                // A rebuild changes no fact, so it is not audited; the projection is derived data.
                self.commit_write(tx, chain).await?;
                Ok(n)
            }

            async fn purge_nonces(&self, before: jikimi_respond::Timestamp) -> $crate::Result<u64> {
                let result = sqlx::query("DELETE FROM device_nonces WHERE seen_at < $1")
                    .bind(before.as_unix_ms())
                    .execute(self.writer())
                    .await?;
                Ok(result.rows_affected())
            }

            async fn put_subscriber(
                &self,
                record: &$crate::SubscriberRecord,
                change: &$crate::Change,
            ) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let id = record.id.to_string();
                sqlx::query(
                    "INSERT INTO subscribers (id, created_at, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at",
                )
                .bind(&id)
                .bind(record.created_at.as_unix_ms())
                .bind(record.updated_at.as_unix_ms())
                .execute(&mut *tx)
                .await?;
                Self::replace_sealed_fields(&mut tx, &format!("subscriber/{id}"), &record.fields).await?;
                sqlx::query("DELETE FROM blind_indexes WHERE subscriber_id = $1").bind(&id).execute(&mut *tx).await?;
                let mut indexes = record.indexes.clone();
                indexes.sort();
                indexes.dedup();
                for entry in &indexes {
                    sqlx::query("INSERT INTO blind_indexes (subscriber_id, domain, digest) VALUES ($1, $2, $3)")
                        .bind(&id)
                        .bind(&entry.domain)
                        .bind(&entry.digest.0[..])
                        .execute(&mut *tx)
                        .await?;
                }
                chain.push(
                    $crate::sql::audit(change, "subscriber.saved", format!("subscriber/{id}")).with_detail(
                        &serde_json::json!({ "fields": record.fields.keys().collect::<Vec<_>>() }),
                    ),
                );
                self.commit_write(tx, chain).await
            }

            async fn get_subscriber(
                &self,
                id: jikimi_respond::SubscriberId,
            ) -> $crate::Result<$crate::SubscriberRecord> {
                let row = sqlx::query("SELECT created_at, updated_at FROM subscribers WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or_else(|| $crate::Error::not_found($crate::Entity::Subscriber, id))?;
                let index_rows =
                    sqlx::query("SELECT domain, digest FROM blind_indexes WHERE subscriber_id = $1 ORDER BY domain, digest")
                        .bind(id.to_string())
                        .fetch_all(self.reader())
                        .await?;
                let mut indexes = Vec::with_capacity(index_rows.len());
                for r in index_rows {
                    indexes.push($crate::IndexEntry {
                        domain: r.try_get("domain")?,
                        digest: $crate::sql::digest_from(&r.try_get::<Vec<u8>, _>("digest")?)?,
                    });
                }
                indexes.sort();
                Ok($crate::SubscriberRecord {
                    id,
                    fields: self.sealed_fields_of(&format!("subscriber/{id}")).await?,
                    indexes,
                    created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
                    updated_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("updated_at")?),
                })
            }

            async fn find_subscribers(
                &self,
                domain: &str,
                digest: &jikimi_privacy::BlindDigest,
            ) -> $crate::Result<Vec<jikimi_respond::SubscriberId>> {
                let rows = sqlx::query(
                    "SELECT DISTINCT subscriber_id FROM blind_indexes WHERE domain = $1 AND digest = $2
                     ORDER BY subscriber_id",
                )
                .bind(domain)
                .bind(&digest.0[..])
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|r| Ok(jikimi_respond::SubscriberId($crate::sql::parse_uuid(&r.try_get::<String, _>("subscriber_id")?)?)))
                    .collect()
            }

            async fn export_subscriber(
                &self,
                id: jikimi_respond::SubscriberId,
                change: &$crate::Change,
            ) -> $crate::Result<$crate::SubscriberExport> {
                let subscriber = self.get_subscriber(id).await?;
                let devices = self.list_devices(id).await?;
                let guardians = self.guardians_of(id).await?;
                let filter = $crate::IncidentFilter { subscriber_id: Some(id), limit: 10_000, ..Default::default() };
                let mut incidents = self.list_incidents(&filter).await?;
                incidents.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.id.cmp(&b.id)));
                // The export is a disclosure of personal data: audit it in its own transaction.
                let (tx, mut chain) = self.begin_write().await?;
                chain.push($crate::sql::audit(change, "subscriber.exported", format!("subscriber/{id}")));
                self.commit_write(tx, chain).await?;
                Ok($crate::SubscriberExport { subscriber, devices, guardians, incidents })
            }

            async fn erase_subscriber(
                &self,
                id: jikimi_respond::SubscriberId,
                change: &$crate::Change,
            ) -> $crate::Result<$crate::ErasureReport> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let sid = id.to_string();
                let exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
                    .bind(&sid)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !exists {
                    return Err($crate::Error::not_found($crate::Entity::Subscriber, id));
                }
                let guardian_rows = sqlx::query("SELECT id FROM guardians WHERE subscriber_id = $1")
                    .bind(&sid)
                    .fetch_all(&mut *tx)
                    .await?;
                for row in &guardian_rows {
                    let gid: String = row.try_get("id")?;
                    sqlx::query("DELETE FROM sealed_fields WHERE owner = $1")
                        .bind(format!("guardian/{gid}"))
                        .execute(&mut *tx)
                        .await?;
                }
                let n_guardians = sqlx::query("DELETE FROM guardians WHERE subscriber_id = $1")
                    .bind(&sid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let n_devices = sqlx::query(
                    "UPDATE devices SET subscriber_id = NULL, revoked_at = COALESCE(revoked_at, $2)
                     WHERE subscriber_id = $1",
                )
                .bind(&sid)
                .bind(change.at.as_unix_ms())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("DELETE FROM sealed_fields WHERE owner = $1")
                    .bind(format!("subscriber/{sid}"))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM blind_indexes WHERE subscriber_id = $1").bind(&sid).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM subscribers WHERE id = $1").bind(&sid).execute(&mut *tx).await?;
                let n_incidents_kept: i64 = sqlx::query("SELECT COUNT(*) AS n FROM incidents WHERE subscriber_id = $1")
                    .bind(&sid)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                let report = $crate::ErasureReport {
                    n_guardians,
                    n_devices,
                    n_incidents_kept: $crate::sql::to_u64(n_incidents_kept)?,
                };
                chain.push(
                    $crate::sql::audit(change, "subscriber.erased", format!("subscriber/{sid}"))
                        .with_detail(&serde_json::json!(report)),
                );
                self.commit_write(tx, chain).await?;
                Ok(report)
            }

            async fn put_guardian(&self, record: &$crate::GuardianRecord, change: &$crate::Change) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let gid = record.id.to_string();
                let subscriber_exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
                    .bind(record.subscriber_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !subscriber_exists {
                    return Err($crate::Error::not_found($crate::Entity::Subscriber, record.subscriber_id));
                }
                sqlx::query(
                    "INSERT INTO guardians (id, subscriber_id, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET subscriber_id = excluded.subscriber_id",
                )
                .bind(&gid)
                .bind(record.subscriber_id.to_string())
                .bind(record.created_at.as_unix_ms())
                .execute(&mut *tx)
                .await?;
                Self::replace_sealed_fields(&mut tx, &format!("guardian/{gid}"), &record.fields).await?;
                chain.push(
                    $crate::sql::audit(change, "guardian.saved", format!("guardian/{gid}"))
                        .with_detail(&serde_json::json!({ "subscriber_id": record.subscriber_id })),
                );
                self.commit_write(tx, chain).await
            }

            async fn list_guardians(
                &self,
                subscriber_id: jikimi_respond::SubscriberId,
            ) -> $crate::Result<Vec<$crate::GuardianRecord>> {
                self.guardians_of(subscriber_id).await
            }

            async fn delete_guardian(&self, id: $crate::GuardianId, change: &$crate::Change) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let gid = id.to_string();
                let deleted =
                    sqlx::query("DELETE FROM guardians WHERE id = $1").bind(&gid).execute(&mut *tx).await?.rows_affected();
                if deleted == 0 {
                    return Err($crate::Error::not_found($crate::Entity::Guardian, id));
                }
                sqlx::query("DELETE FROM sealed_fields WHERE owner = $1")
                    .bind(format!("guardian/{gid}"))
                    .execute(&mut *tx)
                    .await?;
                chain.push($crate::sql::audit(change, "guardian.deleted", format!("guardian/{gid}")));
                self.commit_write(tx, chain).await
            }

            async fn put_device(&self, record: &$crate::DeviceRecord, change: &$crate::Change) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                if let Some(sid) = record.subscriber_id {
                    let exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
                        .bind(sid.to_string())
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    if !exists {
                        return Err($crate::Error::not_found($crate::Entity::Subscriber, sid));
                    }
                }
                // Insert only: an existing device (revoked or not) is never replaced, so nobody takes over a device
                // id with a new key, and a revoked device stays revoked.
                let inserted = sqlx::query(
                    "INSERT INTO devices (id, subscriber_id, public_key, kind, enrolled_at, revoked_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                )
                .bind(record.id.to_string())
                .bind(record.subscriber_id.map(|s| s.to_string()))
                .bind(&record.public_key)
                .bind(&record.kind)
                .bind(record.enrolled_at.as_unix_ms())
                .bind(record.revoked_at.map(|t| t.as_unix_ms()))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err($crate::Error::Conflict($crate::Conflict::AlreadyExists("device")));
                }
                chain.push(
                    $crate::sql::audit(change, "device.saved", format!("device/{}", record.id))
                        .with_detail(&serde_json::json!({ "subscriber_id": record.subscriber_id, "kind": record.kind })),
                );
                self.commit_write(tx, chain).await
            }

            async fn get_device(&self, id: jikimi_respond::DeviceId) -> $crate::Result<$crate::DeviceRecord> {
                let row = sqlx::query(
                    "SELECT id, subscriber_id, public_key, kind, enrolled_at, revoked_at FROM devices WHERE id = $1",
                )
                .bind(id.to_string())
                .fetch_optional(self.reader())
                .await?
                .ok_or_else(|| $crate::Error::not_found($crate::Entity::Device, id))?;
                Self::device_from_row(&row)
            }

            async fn list_devices(
                &self,
                subscriber_id: jikimi_respond::SubscriberId,
            ) -> $crate::Result<Vec<$crate::DeviceRecord>> {
                let rows = sqlx::query(
                    "SELECT id, subscriber_id, public_key, kind, enrolled_at, revoked_at FROM devices
                     WHERE subscriber_id = $1 ORDER BY enrolled_at, id",
                )
                .bind(subscriber_id.to_string())
                .fetch_all(self.reader())
                .await?;
                rows.iter().map(Self::device_from_row).collect()
            }

            async fn all_device_ids(&self) -> $crate::Result<Vec<jikimi_respond::DeviceId>> {
                let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM devices")
                    .fetch_all(self.reader())
                    .await?;
                ids.iter()
                    .map(|id| $crate::sql::parse_uuid(id).map(jikimi_respond::DeviceId))
                    .collect()
            }

            async fn issue_enrolment_code(
                &self,
                code: &$crate::EnrolmentCode,
                change: &$crate::Change,
            ) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let sid = code.subscriber_id.to_string();
                let exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
                    .bind(&sid)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !exists {
                    return Err($crate::Error::not_found($crate::Entity::Subscriber, code.subscriber_id));
                }
                let inserted = sqlx::query(
                    "INSERT INTO enrolment_codes (handle, code_hash, subscriber_id, created_at, expires_at, replace_pins)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (handle) DO NOTHING",
                )
                .bind(&code.handle)
                .bind(&code.code_hash[..])
                .bind(&sid)
                .bind(code.created_at.as_unix_ms())
                .bind(code.expires_at.as_unix_ms())
                .bind(code.replace_pins)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err($crate::Error::Conflict($crate::Conflict::AlreadyExists("enrolment code handle")));
                }
                chain.push(
                    $crate::sql::audit(change, "enrolment.issued", format!("subscriber/{sid}"))
                        .with_detail(&serde_json::json!({
                            "handle": code.handle,
                            "expires_at": code.expires_at,
                            "replace_pins": code.replace_pins,
                        })),
                );
                self.commit_write(tx, chain).await
            }

            async fn check_enrolment_code(
                &self,
                handle: &str,
                code_hash: &[u8; 32],
                max_attempts: u32,
                change: &$crate::Change,
            ) -> $crate::Result<std::result::Result<$crate::EnrolmentCheck, $crate::EnrolmentRefusal>> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let checked = Self::validate_code_in(&mut tx, handle, code_hash, max_attempts, change.at).await?;
                match checked {
                    Ok(check) => {
                        // Nothing was written: the transaction only serialised the read with concurrent redeems.
                        tx.rollback().await?;
                        Ok(Ok(check))
                    }
                    Err((refusal, subject)) => {
                        chain.push(
                            $crate::sql::audit(change, "enrolment.refused", subject).with_detail(&serde_json::json!({
                                "refusal": refusal.as_str(),
                                "handle": handle,
                            })),
                        );
                        self.commit_write(tx, chain).await?;
                        Ok(Err(refusal))
                    }
                }
            }

            async fn redeem_enrolment_code(
                &self,
                enrolment: &$crate::Enrolment,
                change: &$crate::Change,
            ) -> $crate::Result<std::result::Result<$crate::DeviceRecord, $crate::EnrolmentRefusal>> {
                use $crate::EnrolmentRefusal as R;
                let (mut tx, mut chain) = self.begin_write().await?;
                let checked = Self::validate_code_in(
                    &mut tx,
                    &enrolment.handle,
                    &enrolment.code_hash,
                    enrolment.max_attempts,
                    change.at,
                )
                .await?;
                let (refusal, subject) = match checked {
                    Ok(check) if enrolment.pins.is_some() && check.pins_set && !check.replace_pins => {
                        (R::PinsAlreadySet, format!("subscriber/{}", check.subscriber_id))
                    }
                    Ok(check) => {
                        let sid = check.subscriber_id;
                        let subscriber = sid.to_string();
                        let device = $crate::DeviceRecord {
                            subscriber_id: Some(sid),
                            revoked_at: None,
                            ..enrolment.device.clone()
                        };
                        let inserted = sqlx::query(
                            "INSERT INTO devices (id, subscriber_id, public_key, kind, enrolled_at, revoked_at)
                             VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (id) DO NOTHING",
                        )
                        .bind(device.id.to_string())
                        .bind(&subscriber)
                        .bind(&device.public_key)
                        .bind(&device.kind)
                        .bind(device.enrolled_at.as_unix_ms())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if inserted == 0 {
                            // A device id that exists already (revoked or not) is never re-bound by a code: that
                            // would let a code holder take over another subscriber's device or revive a revoked one.
                            return Err($crate::Error::Conflict($crate::Conflict::AlreadyExists("device")));
                        }
                        sqlx::query("UPDATE enrolment_codes SET used_at = $2, device_id = $3 WHERE handle = $1")
                            .bind(&enrolment.handle)
                            .bind(change.at.as_unix_ms())
                            .bind(device.id.to_string())
                            .execute(&mut *tx)
                            .await?;
                        if let Some(pins) = &enrolment.pins {
                            Self::write_pins(&mut tx, &subscriber, pins, change.at).await?;
                        }
                        chain.push(
                            $crate::sql::audit(change, "device.enrolled", format!("device/{}", device.id))
                                .with_detail(&serde_json::json!({
                                    "subscriber_id": sid,
                                    "kind": device.kind,
                                    "handle": enrolment.handle,
                                    "pins_set": enrolment.pins.is_some(),
                                    "pins_replaced": enrolment.pins.is_some() && check.pins_set,
                                })),
                        );
                        self.commit_write(tx, chain).await?;
                        return Ok(Ok(device));
                    }
                    Err(refused) => refused,
                };
                chain.push(
                    $crate::sql::audit(change, "enrolment.refused", subject).with_detail(&serde_json::json!({
                        "refusal": refusal.as_str(),
                        "handle": enrolment.handle,
                        "device_id": enrolment.device.id,
                    })),
                );
                self.commit_write(tx, chain).await?;
                Ok(Err(refusal))
            }

            async fn set_pins(
                &self,
                subscriber_id: jikimi_respond::SubscriberId,
                pins: &$crate::PinHashes,
                change: &$crate::Change,
            ) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let sid = subscriber_id.to_string();
                let exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
                    .bind(&sid)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if !exists {
                    return Err($crate::Error::not_found($crate::Entity::Subscriber, subscriber_id));
                }
                Self::write_pins(&mut tx, &sid, pins, change.at).await?;
                chain.push(
                    $crate::sql::audit(change, "subscriber.pins_set", format!("subscriber/{sid}"))
                        .with_detail(&serde_json::json!({ "duress_pin": pins.duress_pin_hash.is_some() })),
                );
                self.commit_write(tx, chain).await
            }

            async fn get_pins(&self, subscriber_id: jikimi_respond::SubscriberId) -> $crate::Result<$crate::PinRecord> {
                let row = sqlx::query(
                    "SELECT pin_hash, duress_pin_hash, failed_attempts, locked_until FROM subscriber_pins
                     WHERE subscriber_id = $1",
                )
                .bind(subscriber_id.to_string())
                .fetch_optional(self.reader())
                .await?
                .ok_or_else(|| $crate::Error::not_found($crate::Entity::Pins, subscriber_id))?;
                Self::pins_from_row(subscriber_id, &row)
            }

            async fn record_pin_failure(
                &self,
                subscriber_id: jikimi_respond::SubscriberId,
                max_attempts: u32,
                lockout_ms: i64,
                nonce: Option<&$crate::NonceClaim>,
                change: &$crate::Change,
            ) -> $crate::Result<$crate::PinRecord> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let sid = subscriber_id.to_string();
                if let Some(claim) = nonce {
                    // The wrong PIN uses up its request: a captured wrong-PIN cancel cannot be replayed to lock the
                    // subscriber's PINs.
                    Self::claim_nonce_in(&mut tx, claim).await?;
                }
                let row = sqlx::query(
                    "UPDATE subscriber_pins SET failed_attempts = failed_attempts + 1 WHERE subscriber_id = $1
                     RETURNING pin_hash, duress_pin_hash, failed_attempts, locked_until",
                )
                .bind(&sid)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| $crate::Error::not_found($crate::Entity::Pins, subscriber_id))?;
                let mut record = Self::pins_from_row(subscriber_id, &row)?;
                let locked = record.failed_attempts >= max_attempts.max(1);
                if locked {
                    let until = change.at.as_unix_ms().saturating_add(lockout_ms);
                    sqlx::query("UPDATE subscriber_pins SET failed_attempts = 0, locked_until = $2 WHERE subscriber_id = $1")
                        .bind(&sid)
                        .bind(until)
                        .execute(&mut *tx)
                        .await?;
                    record.failed_attempts = 0;
                    record.locked_until = Some(jikimi_respond::Timestamp::from_unix_ms(until));
                }
                chain.push(
                    $crate::sql::audit(change, "subscriber.pin_failed", format!("subscriber/{sid}"))
                        .with_detail(&serde_json::json!({ "locked_until": record.locked_until.filter(|_| locked) })),
                );
                self.commit_write(tx, chain).await?;
                Ok(record)
            }

            async fn append_device_event(&self, event: &$crate::DeviceEvent) -> $crate::Result<jikimi_respond::Incident> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let mut incident = Self::load_incident_in(&mut tx, event.incident_id).await?;
                if incident.device_id != event.device_id {
                    // Another device's incident looks exactly like a missing one: ids are not a capability.
                    return Err($crate::Error::not_found($crate::Entity::Incident, event.incident_id));
                }
                Self::claim_nonce_in(
                    &mut tx,
                    &$crate::NonceClaim { device_id: event.device_id, nonce: event.nonce.clone(), at: event.at },
                )
                .await?;
                let applied = jikimi_respond::IncidentEvent {
                    seq: incident.last_seq + 1,
                    at: event.at,
                    actor: jikimi_respond::Actor::Device(event.device_id),
                    kind: event.kind.clone(),
                };
                incident.apply(&applied)?;
                Self::insert_event(&mut tx, event.incident_id, &applied).await?;
                Self::write_incident_row(&mut tx, &incident, false).await?;
                chain.changes.incident(&incident, false);
                if event.pin_accepted && let Some(sid) = incident.subscriber_id {
                    sqlx::query("UPDATE subscriber_pins SET failed_attempts = 0 WHERE subscriber_id = $1")
                        .bind(sid.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                let change = $crate::Change::new(applied.actor.clone(), event.at, event.reason.clone());
                let mut detail = serde_json::json!({ "seq": applied.seq, "status": incident.status });
                if let jikimi_respond::EventKind::Escalated { priority, reason } = &applied.kind {
                    detail["priority"] = serde_json::json!(priority.code());
                    detail["reason"] = serde_json::json!(reason);
                }
                chain.push(
                    $crate::sql::audit(&change, &format!("incident.{}", applied.kind.name()), format!("incident/{}", event.incident_id))
                        .with_detail(&detail),
                );
                self.commit_write(tx, chain).await?;
                Ok(incident)
            }

            async fn revoke_device(&self, id: jikimi_respond::DeviceId, change: &$crate::Change) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let n = sqlx::query("UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                    .bind(id.to_string())
                    .bind(change.at.as_unix_ms())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err($crate::Error::not_found($crate::Entity::Device, id));
                }
                chain.push($crate::sql::audit(change, "device.revoked", format!("device/{id}")));
                self.commit_write(tx, chain).await
            }

            async fn put_unit(&self, unit: &jikimi_respond::Unit, change: &$crate::Change) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO units (id, status, lat, lon, reported_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET status = excluded.status, lat = excluded.lat, lon = excluded.lon,
                         reported_at = excluded.reported_at",
                )
                .bind(unit.id.as_str())
                .bind(unit.status.as_str())
                .bind(unit.position.map(|p| p.lat()))
                .bind(unit.position.map(|p| p.lon()))
                .bind(unit.reported_at.map(|t| t.as_unix_ms()))
                .execute(&mut *tx)
                .await?;
                chain.changes.push($crate::Committed::UnitUpdated(unit.id.clone()));
                chain.push(
                    $crate::sql::audit(change, "unit.saved", format!("unit/{}", unit.id))
                        .with_detail(&serde_json::json!({ "status": unit.status })),
                );
                self.commit_write(tx, chain).await
            }

            async fn report_position(
                &self,
                id: &jikimi_respond::UnitId,
                report: $crate::PositionReport,
            ) -> $crate::Result<()> {
                let n = sqlx::query("UPDATE units SET lat = $2, lon = $3, reported_at = $4 WHERE id = $1")
                    .bind(id.as_str())
                    .bind(report.position.lat())
                    .bind(report.position.lon())
                    .bind(report.at.as_unix_ms())
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err($crate::Error::not_found($crate::Entity::Unit, id));
                }
                // One statement, committed on its own: reported now that it is.
                let mut changes = $crate::ChangeSet::new();
                changes.push($crate::Committed::UnitUpdated(id.clone()));
                self.observers.committed(&changes);
                Ok(())
            }

            async fn report_positions(
                &self,
                reports: &[(jikimi_respond::UnitId, $crate::PositionReport)],
            ) -> $crate::Result<Vec<jikimi_respond::Unit>> {
                let mut tx = self.writer().begin().await?;
                let mut units = Vec::with_capacity(reports.len());
                for (id, report) in reports {
                    let row = sqlx::query(
                        "UPDATE units SET lat = $2, lon = $3, reported_at = $4 WHERE id = $1
                         RETURNING id, status, lat, lon, reported_at",
                    )
                    .bind(id.as_str())
                    .bind(report.position.lat())
                    .bind(report.position.lon())
                    .bind(report.at.as_unix_ms())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(row) = row {
                        units.push(Self::unit_from_row(&row)?);
                    }
                }
                tx.commit().await?;
                let mut changes = $crate::ChangeSet::new();
                for unit in &units {
                    changes.push($crate::Committed::UnitUpdated(unit.id.clone()));
                }
                self.observers.committed(&changes);
                Ok(units)
            }

            async fn set_unit_status(
                &self,
                id: &jikimi_respond::UnitId,
                status: jikimi_respond::UnitStatus,
                change: &$crate::Change,
            ) -> $crate::Result<jikimi_respond::Unit> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let row = sqlx::query(
                    "UPDATE units SET status = $2 WHERE id = $1 RETURNING id, status, lat, lon, reported_at",
                )
                .bind(id.as_str())
                .bind(status.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| $crate::Error::not_found($crate::Entity::Unit, id))?;
                let unit = Self::unit_from_row(&row)?;
                chain.changes.push($crate::Committed::UnitUpdated(unit.id.clone()));
                chain.push(
                    $crate::sql::audit(change, "unit.status", format!("unit/{id}"))
                        .with_detail(&serde_json::json!({ "status": status })),
                );
                self.commit_write(tx, chain).await?;
                Ok(unit)
            }

            async fn get_unit(&self, id: &jikimi_respond::UnitId) -> $crate::Result<jikimi_respond::Unit> {
                let row = sqlx::query("SELECT id, status, lat, lon, reported_at FROM units WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(self.reader())
                    .await?
                    .ok_or_else(|| $crate::Error::not_found($crate::Entity::Unit, id))?;
                Self::unit_from_row(&row)
            }

            async fn list_units(&self) -> $crate::Result<Vec<jikimi_respond::Unit>> {
                let rows = sqlx::query("SELECT id, status, lat, lon, reported_at FROM units ORDER BY id")
                    .fetch_all(self.reader())
                    .await?;
                rows.iter().map(Self::unit_from_row).collect()
            }

            async fn create_staff(&self, user: &$crate::StaffUser, change: &$crate::Change) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let inserted = sqlx::query(
                    "INSERT INTO staff (username, password_hash, role, created_at, disabled) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (username) DO NOTHING",
                )
                .bind(&user.username)
                .bind(&user.password_hash)
                .bind(user.role.as_str())
                .bind(user.created_at.as_unix_ms())
                .bind(user.disabled)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Err($crate::Error::Conflict($crate::Conflict::AlreadyExists("staff user")));
                }
                chain.push(
                    $crate::sql::audit(change, "staff.created", format!("staff/{}", user.username))
                        .with_detail(&serde_json::json!({ "role": user.role })),
                );
                self.commit_write(tx, chain).await
            }

            async fn update_staff(&self, user: &$crate::StaffUser, change: &$crate::Change) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let n = sqlx::query("UPDATE staff SET password_hash = $2, role = $3, disabled = $4 WHERE username = $1")
                    .bind(&user.username)
                    .bind(&user.password_hash)
                    .bind(user.role.as_str())
                    .bind(user.disabled)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err($crate::Error::not_found($crate::Entity::Staff, &user.username));
                }
                // A new password, role or disabled flag ends every session, in the same transaction: a token taken
                // before the change never acts under it (and a stolen token dies with a password reset).
                let ended = sqlx::query("DELETE FROM sessions WHERE username = $1")
                    .bind(&user.username)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                chain.push(
                    $crate::sql::audit(change, "staff.updated", format!("staff/{}", user.username))
                        .with_detail(&serde_json::json!({
                            "role": user.role,
                            "disabled": user.disabled,
                            "sessions_ended": ended,
                        })),
                );
                self.commit_write(tx, chain).await
            }

            async fn get_staff(&self, username: &str) -> $crate::Result<$crate::StaffUser> {
                let row = sqlx::query(
                    "SELECT username, password_hash, role, created_at, disabled FROM staff WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(self.reader())
                .await?
                .ok_or_else(|| $crate::Error::not_found($crate::Entity::Staff, username))?;
                Self::staff_from_row(&row)
            }

            async fn list_staff(&self) -> $crate::Result<Vec<$crate::StaffUser>> {
                let rows =
                    sqlx::query("SELECT username, password_hash, role, created_at, disabled FROM staff ORDER BY username")
                        .fetch_all(self.reader())
                        .await?;
                rows.iter().map(Self::staff_from_row).collect()
            }

            async fn create_session(
                &self,
                session: &$crate::SessionRecord,
                change: &$crate::Change,
            ) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO sessions (token_hash, username, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&session.token_hash[..])
                .bind(&session.username)
                .bind(session.role.as_str())
                .bind(session.created_at.as_unix_ms())
                .bind(session.expires_at.as_unix_ms())
                .execute(&mut *tx)
                .await?;
                chain.push(
                    $crate::sql::audit(change, "session.created", format!("staff/{}", session.username))
                        .with_detail(&serde_json::json!({ "expires_at": session.expires_at })),
                );
                self.commit_write(tx, chain).await
            }

            async fn get_session(
                &self,
                token_hash: &[u8; 32],
                now: jikimi_respond::Timestamp,
            ) -> $crate::Result<$crate::SessionRecord> {
                // One query over the session and the account: the role is the account's current one, and a
                // disabled account's sessions are refused even before they are deleted.
                let row = sqlx::query(
                    "SELECT s.token_hash, s.username, st.role, s.created_at, s.expires_at
                     FROM sessions s JOIN staff st ON st.username = s.username
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT st.disabled",
                )
                .bind(&token_hash[..])
                .bind(now.as_unix_ms())
                .fetch_optional(self.reader())
                .await?
                .ok_or_else(|| $crate::Error::not_found($crate::Entity::Session, "(token)"))?;
                Ok($crate::SessionRecord {
                    token_hash: $crate::sql::hash_from(&row.try_get::<Vec<u8>, _>("token_hash")?)?,
                    username: row.try_get("username")?,
                    role: $crate::sql::role_from(&row.try_get::<String, _>("role")?)?,
                    created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
                    expires_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("expires_at")?),
                })
            }

            async fn delete_session(&self, token_hash: &[u8; 32], change: &$crate::Change) -> $crate::Result<()> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let row = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING username")
                    .bind(&token_hash[..])
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| $crate::Error::not_found($crate::Entity::Session, "(token)"))?;
                let username: String = row.try_get("username")?;
                chain.push($crate::sql::audit(change, "session.deleted", format!("staff/{username}")));
                self.commit_write(tx, chain).await
            }

            async fn purge_sessions(&self, now: jikimi_respond::Timestamp) -> $crate::Result<u64> {
                let result = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now.as_unix_ms())
                    .execute(self.writer())
                    .await?;
                Ok(result.rows_affected())
            }

            async fn append_audit(&self, entries: Vec<jikimi_audit::NewAuditEntry>) -> $crate::Result<Vec<u64>> {
                if entries.is_empty() {
                    return Ok(Vec::new());
                }
                let (tx, mut chain) = self.begin_write().await?;
                let seqs = entries.into_iter().map(|e| chain.push(e)).collect();
                self.commit_write(tx, chain).await?;
                Ok(seqs)
            }

            async fn list_audit(&self, after_seq: u64, limit: u32) -> $crate::Result<Vec<jikimi_audit::AuditEntry>> {
                let rows = sqlx::query(
                    "SELECT seq, at_ms, actor, action, subject, reason, detail, prev_hash, hash FROM audit_log
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind($crate::sql::to_i64(after_seq)?)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(jikimi_audit::AuditEntry {
                            seq: $crate::sql::to_u64(r.try_get("seq")?)?,
                            at_unix_ms: r.try_get("at_ms")?,
                            actor: r.try_get("actor")?,
                            action: r.try_get("action")?,
                            subject: r.try_get("subject")?,
                            reason: r.try_get("reason")?,
                            detail: r.try_get("detail")?,
                            prev_hash: $crate::sql::hash_from(&r.try_get::<Vec<u8>, _>("prev_hash")?)?,
                            hash: $crate::sql::hash_from(&r.try_get::<Vec<u8>, _>("hash")?)?,
                        })
                    })
                    .collect()
            }
            async fn record_link_run(
                &self,
                links: Vec<$crate::NewEntityLink>,
                change: &$crate::Change,
            ) -> $crate::Result<$crate::LinkRunReport> {
                let mut wanted = std::collections::BTreeMap::new();
                for mut link in links {
                    if link.left_ref == link.right_ref {
                        continue;
                    }
                    if link.left_ref > link.right_ref {
                        std::mem::swap(&mut link.left_ref, &mut link.right_ref);
                    }
                    if !(0.0..=1.0).contains(&link.probability) || !link.weight.is_finite() {
                        return Err($crate::Error::Invalid("link probability or weight out of range".into()));
                    }
                    wanted.insert((link.kind.clone(), link.left_ref.clone(), link.right_ref.clone()), link);
                }
                let (mut tx, mut chain) = self.begin_write().await?;
                let rows = sqlx::query("SELECT id, kind, left_ref, right_ref, status FROM entity_links")
                    .fetch_all(&mut *tx)
                    .await?;
                let mut report = $crate::LinkRunReport::default();
                let mut stored = std::collections::BTreeMap::new();
                for row in &rows {
                    let key: (String, String, String) =
                        (row.try_get("kind")?, row.try_get("left_ref")?, row.try_get("right_ref")?);
                    stored.insert(key, (row.try_get::<String, _>("id")?, row.try_get::<String, _>("status")?));
                }
                let at = change.at.as_unix_ms();
                for (key, link) in &wanted {
                    // One upsert: a pair seen before keeps its id, status and first sighting (an analyst's
                    // decision survives a rerun); only the scores and the last run change.
                    sqlx::query(
                        "INSERT INTO entity_links (id, kind, left_ref, right_ref, probability, weight, evidence,
                                                   status, first_seen_ms, last_run_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'proposed', $8, $8)
                         ON CONFLICT (kind, left_ref, right_ref) DO UPDATE SET
                             probability = excluded.probability, weight = excluded.weight,
                             evidence = excluded.evidence, last_run_ms = excluded.last_run_ms",
                    )
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(&link.kind)
                    .bind(&link.left_ref)
                    .bind(&link.right_ref)
                    .bind(link.probability)
                    .bind(link.weight)
                    .bind(&link.evidence)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    if stored.contains_key(key) {
                        report.refreshed += 1;
                    } else {
                        report.added += 1;
                    }
                }
                for (key, (id, status)) in &stored {
                    if status == "proposed" && !wanted.contains_key(key) {
                        sqlx::query("DELETE FROM entity_links WHERE id = $1").bind(id).execute(&mut *tx).await?;
                        report.withdrawn += 1;
                    }
                }
                chain.push(
                    $crate::sql::audit(change, "linkage.run", "entity_links".to_string())
                        .with_detail(&serde_json::json!(report)),
                );
                self.commit_write(tx, chain).await?;
                Ok(report)
            }

            async fn list_entity_links(
                &self,
                status: Option<$crate::LinkStatus>,
            ) -> $crate::Result<Vec<$crate::EntityLink>> {
                let rows = sqlx::query(
                    "SELECT id, kind, left_ref, right_ref, probability, weight, evidence, status, first_seen_ms,
                            last_run_ms, decided_by, decided_at_ms
                     FROM entity_links WHERE ($1 = '' OR status = $1) ORDER BY kind, left_ref, right_ref",
                )
                .bind(status.map_or("", $crate::LinkStatus::as_str))
                .fetch_all(self.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        $crate::sql::entity_link_from_columns(
                            &row.try_get::<String, _>("id")?,
                            row.try_get("kind")?,
                            row.try_get("left_ref")?,
                            row.try_get("right_ref")?,
                            (row.try_get("probability")?, row.try_get("weight")?),
                            row.try_get("evidence")?,
                            &row.try_get::<String, _>("status")?,
                            (row.try_get("first_seen_ms")?, row.try_get("last_run_ms")?),
                            row.try_get("decided_by")?,
                            row.try_get("decided_at_ms")?,
                        )
                    })
                    .collect()
            }

            async fn decide_entity_link(
                &self,
                id: uuid::Uuid,
                status: $crate::LinkStatus,
                change: &$crate::Change,
            ) -> $crate::Result<$crate::EntityLink> {
                let (mut tx, mut chain) = self.begin_write().await?;
                let decided_by = (status != $crate::LinkStatus::Proposed).then(|| change.actor.to_string());
                let decided_at = decided_by.as_ref().map(|_| change.at.as_unix_ms());
                let row = sqlx::query(
                    "UPDATE entity_links SET status = $2, decided_by = $3, decided_at_ms = $4 WHERE id = $1
                     RETURNING id, kind, left_ref, right_ref, probability, weight, evidence, status, first_seen_ms,
                               last_run_ms, decided_by, decided_at_ms",
                )
                .bind(id.to_string())
                .bind(status.as_str())
                .bind(decided_by.clone())
                .bind(decided_at)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| $crate::Error::not_found($crate::Entity::EntityLink, id))?;
                let link = $crate::sql::entity_link_from_columns(
                    &row.try_get::<String, _>("id")?,
                    row.try_get("kind")?,
                    row.try_get("left_ref")?,
                    row.try_get("right_ref")?,
                    (row.try_get("probability")?, row.try_get("weight")?),
                    row.try_get("evidence")?,
                    &row.try_get::<String, _>("status")?,
                    (row.try_get("first_seen_ms")?, row.try_get("last_run_ms")?),
                    row.try_get("decided_by")?,
                    row.try_get("decided_at_ms")?,
                )?;
                chain.push(
                    $crate::sql::audit(change, "linkage.decided", format!("entity_link/{id}")).with_detail(
                        &serde_json::json!({
                            "status": status,
                            "kind": link.kind,
                            "left_ref": link.left_ref,
                            "right_ref": link.right_ref,
                        }),
                    ),
                );
                self.commit_write(tx, chain).await?;
                Ok(link)
            }
        }
    };
}

pub(crate) use impl_store;
