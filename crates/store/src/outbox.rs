//! The guardian-notification outbox: rows written in the same transaction as the incident event that causes them,
//! claimed with a lease and finished by the `notify` worker.
//!
//! - [`Store::record_alerts`](crate::Store::record_alerts) and [`Store::append_event`](crate::Store::append_event)
//!   write one [`Notification`] per guardian of the incident's subscriber for the events [`notifies_guardians`]
//!   names, in the event's own transaction: a committed event always has its notifications, and a rolled-back one
//!   has none.
//! - A row holds ids only. The guardian's contact data stays sealed; the worker unseals and renders at delivery.
//! - [`Outbox::claim_notifications`] leases due rows; a crashed worker's lease simply expires and the row is claimed
//!   again. Only the head of each (incident, guardian) stream is claimable, so notification n+1 of an incident is
//!   never delivered to a guardian before n was delivered or dead-lettered.
//! - [`Outbox::finish_notification`] records an attempt's outcome and audits it in one transaction; a worker whose
//!   lease was lost (expired and re-claimed) gets [`Conflict::LeaseLost`](crate::Conflict::LeaseLost) and changes
//!   nothing.

use crate::Result;
use jikimi_respond::{EventKind, IncidentId, SubscriberId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use crate::GuardianId;

/// A notification's id: stable across retries, sent as the idempotency key so a receiver can drop repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotificationId(pub Uuid);

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a notification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    /// Not yet delivered; due at `next_attempt_at`.
    Pending,
    /// Every deliverable channel accepted it.
    Delivered,
    /// Given up after the attempt limit or a permanent failure.
    DeadLettered,
}

impl NotificationState {
    /// The stable snake_case name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::Pending => "pending",
            NotificationState::Delivered => "delivered",
            NotificationState::DeadLettered => "dead_lettered",
        }
    }

    /// Parses [`NotificationState::as_str`]'s output.
    pub fn parse(text: &str) -> Option<NotificationState> {
        Some(match text {
            "pending" => NotificationState::Pending,
            "delivered" => NotificationState::Delivered,
            "dead_lettered" => NotificationState::DeadLettered,
            _ => return None,
        })
    }
}

/// One guardian to tell about one incident event. Holds no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Stable id (the idempotency key).
    pub id: NotificationId,
    /// The incident.
    pub incident_id: IncidentId,
    /// The guardian to tell (their contact data is sealed elsewhere).
    pub guardian_id: GuardianId,
    /// Whose guardian.
    pub subscriber_id: SubscriberId,
    /// The seq of the incident event that caused it; orders an incident's notifications.
    pub event_seq: u64,
    /// The event's kind name (`alert_received`, `dispatched`, `closed`).
    pub event: String,
    /// When the event was committed.
    pub created_at: Timestamp,
    /// Pending, delivered or dead-lettered.
    pub state: NotificationState,
    /// Attempts finished so far.
    pub attempts: u32,
    /// When the next attempt is due (pending rows).
    pub next_attempt_at: Timestamp,
    /// The last failure's class (`http_503`, `connect`, ...), never an address.
    pub last_error: Option<String>,
    /// Indexes of the guardian's channels already delivered, so a retry skips them.
    pub delivered_channels: Vec<u32>,
    /// When delivered.
    pub delivered_at: Option<Timestamp>,
    /// When dead-lettered.
    pub dead_lettered_at: Option<Timestamp>,
    /// The lease of the claim that returned this row (claimed rows only).
    pub lease_token: Option<Uuid>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Every channel has it now.
    Delivered,
    /// Try again at `retry_at`.
    Retry {
        /// Failure class, no personal data.
        error: String,
        /// When to try next.
        retry_at: Timestamp,
    },
    /// Give up.
    DeadLettered {
        /// Failure class, no personal data.
        error: String,
    },
}

/// The outcome of an attempt and the channels delivered so far (including earlier attempts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// Channel indexes delivered so far.
    pub delivered_channels: Vec<u32>,
    /// When the attempt ended.
    pub at: Timestamp,
}

/// The events guardians are told about: the alert that opens an incident, a unit dispatched, the incident closed.
pub fn notifies_guardians(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::AlertReceived { .. }
            | EventKind::ReportAdded { .. }
            | EventKind::Dispatched { .. }
            | EventKind::Closed { .. }
    )
}

/// The outbox's side of the store, implemented by both backends; every [`crate::Store`] is an `Outbox`.
#[async_trait::async_trait]
pub trait Outbox: Send + Sync {
    /// Leases up to `limit` due notifications until `lease_until`: pending, due at `now`, not leased (or the lease
    /// expired), and first pending of their (incident, guardian) stream. Each claim gets a fresh lease token.
    async fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Notification>>;

    /// Records an attempt's outcome under the lease `lease_token` and audits it (`notification.delivered`,
    /// `notification.failed`, `notification.dead_lettered`) in the same transaction. Returns the updated row.
    ///
    /// Errors: [`crate::Conflict::LeaseLost`] when the row is no longer leased with that token.
    async fn finish_notification(
        &self,
        id: NotificationId,
        lease_token: Uuid,
        report: &DeliveryReport,
    ) -> Result<Notification>;

    /// An incident's notifications, by event seq then guardian id.
    async fn list_notifications(&self, incident_id: IncidentId) -> Result<Vec<Notification>>;

    /// Dead-lettered notifications, newest first.
    async fn list_dead_letters(&self, limit: u32) -> Result<Vec<Notification>>;
}

pub(crate) fn channels_json(channels: &[u32]) -> Result<String> {
    serde_json::to_string(channels)
        .map_err(|e| crate::Error::Invalid(format!("channels do not serialise: {e}")))
}

pub(crate) fn channels_from(text: &str) -> Result<Vec<u32>> {
    serde_json::from_str(text).map_err(|e| {
        crate::Error::corrupt(format!(
            "stored channels do not parse: {}",
            crate::sql::json_position(&e)
        ))
    })
}

pub(crate) fn state_from(text: &str) -> Result<NotificationState> {
    NotificationState::parse(text).ok_or_else(|| {
        crate::Error::corrupt(format!("unknown notification state {text:?} in storage"))
    })
}

/// The columns every notification query reads, in [`impl_outbox`]'s row decoder's terms.
pub(crate) const COLUMNS: &str = "id, incident_id, guardian_id, subscriber_id, event_seq, event, created_at, state, \
     attempts, next_attempt_at, last_error, delivered_channels, delivered_at, dead_lettered_at, lease_token";

/// Implements [`Outbox`] and the in-transaction enqueue helper for a backend type (see `sql::impl_store`).
macro_rules! impl_outbox {
    ($store:ty, $db:ty) => {
        impl $store {
            fn notification_from_row(
                row: &<$db as sqlx::Database>::Row,
            ) -> $crate::Result<$crate::outbox::Notification> {
                use $crate::sql::{parse_uuid, to_u64};
                Ok($crate::outbox::Notification {
                    id: $crate::outbox::NotificationId(parse_uuid(&row.try_get::<String, _>("id")?)?),
                    incident_id: jikimi_respond::IncidentId(parse_uuid(&row.try_get::<String, _>("incident_id")?)?),
                    guardian_id: $crate::GuardianId(parse_uuid(&row.try_get::<String, _>("guardian_id")?)?),
                    subscriber_id: jikimi_respond::SubscriberId(parse_uuid(
                        &row.try_get::<String, _>("subscriber_id")?,
                    )?),
                    event_seq: to_u64(row.try_get("event_seq")?)?,
                    event: row.try_get("event")?,
                    created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
                    state: $crate::outbox::state_from(&row.try_get::<String, _>("state")?)?,
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?)
                        .map_err(|_| $crate::Error::corrupt("stored attempt counter is out of range"))?,
                    next_attempt_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("next_attempt_at")?),
                    last_error: row.try_get("last_error")?,
                    delivered_channels: $crate::outbox::channels_from(
                        &row.try_get::<String, _>("delivered_channels")?,
                    )?,
                    delivered_at: row
                        .try_get::<Option<i64>, _>("delivered_at")?
                        .map(jikimi_respond::Timestamp::from_unix_ms),
                    dead_lettered_at: row
                        .try_get::<Option<i64>, _>("dead_lettered_at")?
                        .map(jikimi_respond::Timestamp::from_unix_ms),
                    lease_token: row
                        .try_get::<Option<String>, _>("lease_token")?
                        .map(|t| parse_uuid(&t))
                        .transpose()?,
                })
            }

            /// Writes one pending notification per guardian of each incident's subscriber, for the events that
            /// notify, inside the caller's transaction, and audits `notification.queued` per incident.
            async fn enqueue_notifications(
                tx: &mut sqlx::Transaction<'static, $db>,
                chain: &mut $crate::sql::Chain,
                events: &[(jikimi_respond::IncidentId, jikimi_respond::SubscriberId, &jikimi_respond::IncidentEvent)],
            ) -> $crate::Result<u64> {
                use std::collections::{BTreeMap, BTreeSet};
                let events: Vec<_> =
                    events.iter().filter(|(_, _, e)| $crate::outbox::notifies_guardians(&e.kind)).collect();
                if events.is_empty() {
                    return Ok(0);
                }
                let subscribers: Vec<String> =
                    events.iter().map(|(_, s, _)| s.to_string()).collect::<BTreeSet<_>>().into_iter().collect();
                let mut guardians: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for chunk in subscribers.chunks($crate::sql::rows_per_statement(1)) {
                    let sql = format!(
                        "SELECT id, subscriber_id FROM guardians WHERE subscriber_id IN (VALUES {})
                         ORDER BY created_at, id",
                        $crate::sql::values_clause(chunk.len(), 1)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for s in chunk {
                        query = query.bind(s.as_str());
                    }
                    for row in query.fetch_all(&mut **tx).await? {
                        guardians
                            .entry(row.try_get::<String, _>("subscriber_id")?)
                            .or_default()
                            .push(row.try_get::<String, _>("id")?);
                    }
                }
                let mut rows: Vec<(String, String, String, String, i64, &'static str, i64)> = Vec::new();
                for (incident_id, subscriber_id, event) in &events {
                    let Some(ids) = guardians.get(&subscriber_id.to_string()) else { continue };
                    for guardian_id in ids {
                        let id = uuid::Uuid::now_v7();
                        chain.changes.push($crate::Committed::NotificationQueued {
                            id: $crate::outbox::NotificationId(id),
                            incident_id: *incident_id,
                        });
                        rows.push((
                            id.to_string(),
                            incident_id.to_string(),
                            guardian_id.clone(),
                            subscriber_id.to_string(),
                            $crate::sql::to_i64(event.seq)?,
                            event.kind.name(),
                            event.at.as_unix_ms(),
                        ));
                    }
                    chain.push(
                        jikimi_audit::NewAuditEntry::new(
                            event.at.as_unix_ms(),
                            jikimi_respond::Actor::System.to_string(),
                            "notification.queued",
                            format!("incident/{incident_id}"),
                            "guardians to notify",
                        )
                        .with_detail(&serde_json::json!({
                            "event": event.kind.name(),
                            "seq": event.seq,
                            "guardian_ids": ids,
                        })),
                    );
                }
                for chunk in rows.chunks($crate::sql::rows_per_statement(11)) {
                    let sql = format!(
                        "INSERT INTO notifications (id, incident_id, guardian_id, subscriber_id, event_seq, event,
                             created_at, state, attempts, next_attempt_at, delivered_channels)
                         VALUES {}",
                        $crate::sql::values_clause(chunk.len(), 11)
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for r in chunk {
                        query = query
                            .bind(r.0.as_str())
                            .bind(r.1.as_str())
                            .bind(r.2.as_str())
                            .bind(r.3.as_str())
                            .bind(r.4)
                            .bind(r.5)
                            .bind(r.6)
                            .bind("pending")
                            .bind(0i64)
                            .bind(r.6)
                            .bind("[]");
                    }
                    query.execute(&mut **tx).await?;
                }
                Ok(rows.len() as u64)
            }
        }

        #[async_trait::async_trait]
        impl $crate::outbox::Outbox for $store {
            async fn claim_notifications(
                &self,
                now: jikimi_respond::Timestamp,
                lease_until: jikimi_respond::Timestamp,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::outbox::Notification>> {
                let token = uuid::Uuid::new_v4().to_string();
                // One statement: the outer WHERE re-checks the lease, so of two racing workers (PostgreSQL) only one
                // gets a row; the inner NOT EXISTS keeps each (incident, guardian) stream in order.
                let sql = format!(
                    "UPDATE notifications SET lease_until = $2, lease_token = $3
                     WHERE id IN (
                         SELECT n.id FROM notifications n
                         WHERE n.state = 'pending' AND n.next_attempt_at <= $1
                           AND (n.lease_until IS NULL OR n.lease_until <= $1)
                           AND NOT EXISTS (
                               SELECT 1 FROM notifications p
                               WHERE p.incident_id = n.incident_id AND p.guardian_id = n.guardian_id
                                 AND p.state = 'pending' AND p.event_seq < n.event_seq)
                         ORDER BY n.next_attempt_at, n.event_seq, n.id
                         LIMIT $4)
                       AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $1)
                     RETURNING {}",
                    $crate::outbox::COLUMNS
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(now.as_unix_ms())
                    .bind(lease_until.as_unix_ms())
                    .bind(&token)
                    .bind(i64::from(limit))
                    .fetch_all(self.writer())
                    .await?;
                let mut out = rows.iter().map(Self::notification_from_row).collect::<$crate::Result<Vec<_>>>()?;
                out.sort_by(|a, b| {
                    (a.incident_id, a.guardian_id, a.event_seq).cmp(&(b.incident_id, b.guardian_id, b.event_seq))
                });
                Ok(out)
            }

            async fn finish_notification(
                &self,
                id: $crate::outbox::NotificationId,
                lease_token: uuid::Uuid,
                report: &$crate::outbox::DeliveryReport,
            ) -> $crate::Result<$crate::outbox::Notification> {
                use $crate::outbox::DeliveryOutcome as O;
                let at = report.at.as_unix_ms();
                let (state, next_at, error, delivered_at, dead_at, action) = match &report.outcome {
                    O::Delivered => ("delivered", at, None, Some(at), None, "notification.delivered"),
                    O::Retry { error, retry_at } => {
                        ("pending", retry_at.as_unix_ms(), Some(error.as_str()), None, None, "notification.failed")
                    }
                    O::DeadLettered { error } => {
                        ("dead_lettered", at, Some(error.as_str()), None, Some(at), "notification.dead_lettered")
                    }
                };
                let (mut tx, mut chain) = self.begin_write().await?;
                let sql = format!(
                    "UPDATE notifications SET state = $3, attempts = attempts + 1, next_attempt_at = $4,
                         last_error = COALESCE($5, last_error), delivered_channels = $6, delivered_at = $7,
                         dead_lettered_at = $8, lease_until = NULL, lease_token = NULL
                     WHERE id = $1 AND lease_token = $2 AND state = 'pending'
                     RETURNING {}",
                    $crate::outbox::COLUMNS
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id.to_string())
                    .bind(lease_token.to_string())
                    .bind(state)
                    .bind(next_at)
                    .bind(error)
                    .bind($crate::outbox::channels_json(&report.delivered_channels)?)
                    .bind(delivered_at)
                    .bind(dead_at)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or($crate::Error::Conflict($crate::Conflict::LeaseLost))?;
                let notification = Self::notification_from_row(&row)?;
                chain.changes.push($crate::Committed::NotificationUpdated {
                    id: notification.id,
                    incident_id: notification.incident_id,
                });
                chain.push(
                    jikimi_audit::NewAuditEntry::new(
                        at,
                        jikimi_respond::Actor::System.to_string(),
                        action,
                        format!("incident/{}", notification.incident_id),
                        "guardian notification",
                    )
                    .with_detail(&serde_json::json!({
                        "notification_id": notification.id,
                        "guardian_id": notification.guardian_id,
                        "event": notification.event,
                        "attempt": notification.attempts,
                        "channels": notification.delivered_channels,
                        "error": error,
                    })),
                );
                self.commit_write(tx, chain).await?;
                Ok(notification)
            }

            async fn list_notifications(
                &self,
                incident_id: jikimi_respond::IncidentId,
            ) -> $crate::Result<Vec<$crate::outbox::Notification>> {
                let sql = format!(
                    "SELECT {} FROM notifications WHERE incident_id = $1 ORDER BY event_seq, guardian_id",
                    $crate::outbox::COLUMNS
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(incident_id.to_string())
                    .fetch_all(self.reader())
                    .await?;
                rows.iter().map(Self::notification_from_row).collect()
            }

            async fn list_dead_letters(&self, limit: u32) -> $crate::Result<Vec<$crate::outbox::Notification>> {
                let sql = format!(
                    "SELECT {} FROM notifications WHERE state = 'dead_lettered'
                     ORDER BY dead_lettered_at DESC, id LIMIT $1",
                    $crate::outbox::COLUMNS
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(i64::from(limit.clamp(1, 10_000)))
                    .fetch_all(self.reader())
                    .await?;
                rows.iter().map(Self::notification_from_row).collect()
            }
        }
    };
}

pub(crate) use impl_outbox;
