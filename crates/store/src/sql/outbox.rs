//! The guardian-notification outbox ([`crate::Outbox`]) on the SQL backends, and the in-transaction enqueue that
//! every incident-writing transaction calls.

use super::{Backend, SqlStore};
use sqlx::Row;

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
    pub(crate) fn notification_from_row(
        row: &DB::Row,
    ) -> crate::Result<crate::outbox::Notification> {
        use crate::sql::{parse_uuid, to_u64};
        Ok(crate::outbox::Notification {
            id: crate::outbox::NotificationId(parse_uuid(&row.try_get::<String, _>("id")?)?),
            incident_id: row
                .try_get::<Option<String>, _>("incident_id")?
                .map(|t| parse_uuid(&t).map(jikimi_respond::IncidentId))
                .transpose()?,
            disaster_id: row
                .try_get::<Option<String>, _>("disaster_id")?
                .map(|t| parse_uuid(&t))
                .transpose()?,
            guardian_id: crate::GuardianId(parse_uuid(&row.try_get::<String, _>("guardian_id")?)?),
            subscriber_id: jikimi_respond::SubscriberId(parse_uuid(
                &row.try_get::<String, _>("subscriber_id")?,
            )?),
            event_seq: to_u64(row.try_get("event_seq")?)?,
            event: row.try_get("event")?,
            created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
            state: crate::outbox::state_from(&row.try_get::<String, _>("state")?)?,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?)
                .map_err(|_| crate::Error::corrupt("stored attempt counter is out of range"))?,
            next_attempt_at: jikimi_respond::Timestamp::from_unix_ms(
                row.try_get("next_attempt_at")?,
            ),
            last_error: row.try_get("last_error")?,
            delivered_channels: crate::outbox::channels_from(
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
    pub(crate) async fn enqueue_notifications(
        tx: &mut sqlx::Transaction<'static, DB>,
        chain: &mut crate::sql::Chain,
        events: &[(
            jikimi_respond::IncidentId,
            jikimi_respond::SubscriberId,
            &jikimi_respond::IncidentEvent,
        )],
    ) -> crate::Result<u64> {
        use std::collections::{BTreeMap, BTreeSet};
        let events: Vec<_> = events
            .iter()
            .filter(|(_, _, e)| crate::outbox::notifies_guardians(&e.kind))
            .collect();
        if events.is_empty() {
            return Ok(0);
        }
        let subscribers: Vec<String> = events
            .iter()
            .map(|(_, s, _)| s.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut guardians: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for chunk in subscribers.chunks(crate::sql::rows_per_statement(1)) {
            let sql = format!(
                "SELECT id, subscriber_id FROM guardians WHERE subscriber_id IN (VALUES {})
                 ORDER BY created_at, id",
                crate::sql::values_clause(chunk.len(), 1)
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
            let Some(ids) = guardians.get(&subscriber_id.to_string()) else {
                continue;
            };
            for guardian_id in ids {
                let id = uuid::Uuid::now_v7();
                chain.changes.push(crate::Committed::NotificationQueued {
                    id: crate::outbox::NotificationId(id),
                    incident_id: *incident_id,
                });
                rows.push((
                    id.to_string(),
                    incident_id.to_string(),
                    guardian_id.clone(),
                    subscriber_id.to_string(),
                    crate::sql::to_i64(event.seq)?,
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
        for chunk in rows.chunks(crate::sql::rows_per_statement(11)) {
            let sql = format!(
                "INSERT INTO notifications (id, incident_id, guardian_id, subscriber_id, event_seq, event,
                     created_at, state, attempts, next_attempt_at, delivered_channels)
                 VALUES {}",
                crate::sql::values_clause(chunk.len(), 11)
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
impl<DB: Backend> crate::outbox::Outbox for SqlStore<DB>
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
    async fn claim_notifications(
        &self,
        now: jikimi_respond::Timestamp,
        lease_until: jikimi_respond::Timestamp,
        limit: u32,
    ) -> crate::Result<Vec<crate::outbox::Notification>> {
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
                       WHERE p.guardian_id = n.guardian_id AND p.state = 'pending' AND p.event_seq < n.event_seq
                         AND (p.incident_id = n.incident_id OR p.disaster_id = n.disaster_id))
                 ORDER BY n.next_attempt_at, n.event_seq, n.id
                 LIMIT $4)
               AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $1)
             RETURNING {}",
            crate::outbox::COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now.as_unix_ms())
            .bind(lease_until.as_unix_ms())
            .bind(&token)
            .bind(i64::from(limit))
            .fetch_all(self.writer())
            .await?;
        let mut out = rows
            .iter()
            .map(Self::notification_from_row)
            .collect::<crate::Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            (a.incident_id, a.disaster_id, a.guardian_id, a.event_seq).cmp(&(
                b.incident_id,
                b.disaster_id,
                b.guardian_id,
                b.event_seq,
            ))
        });
        Ok(out)
    }

    async fn finish_notification(
        &self,
        id: crate::outbox::NotificationId,
        lease_token: uuid::Uuid,
        report: &crate::outbox::DeliveryReport,
    ) -> crate::Result<crate::outbox::Notification> {
        use crate::outbox::DeliveryOutcome as O;
        let at = report.at.as_unix_ms();
        let (state, next_at, error, delivered_at, dead_at, action) = match &report.outcome {
            O::Delivered => (
                "delivered",
                at,
                None,
                Some(at),
                None,
                "notification.delivered",
            ),
            O::Retry { error, retry_at } => (
                "pending",
                retry_at.as_unix_ms(),
                Some(error.as_str()),
                None,
                None,
                "notification.failed",
            ),
            O::DeadLettered { error } => (
                "dead_lettered",
                at,
                Some(error.as_str()),
                None,
                Some(at),
                "notification.dead_lettered",
            ),
        };
        let (mut tx, mut chain) = self.begin_write().await?;
        let sql = format!(
            "UPDATE notifications SET state = $3, attempts = attempts + 1, next_attempt_at = $4,
                 last_error = COALESCE($5, last_error), delivered_channels = $6, delivered_at = $7,
                 dead_lettered_at = $8, lease_until = NULL, lease_token = NULL
             WHERE id = $1 AND lease_token = $2 AND state = 'pending'
             RETURNING {}",
            crate::outbox::COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(lease_token.to_string())
            .bind(state)
            .bind(next_at)
            .bind(error)
            .bind(crate::outbox::channels_json(&report.delivered_channels)?)
            .bind(delivered_at)
            .bind(dead_at)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::Error::Conflict(crate::Conflict::LeaseLost))?;
        let notification = Self::notification_from_row(&row)?;
        // A disaster's notice is reported as a change of its disaster (the change kinds carry an incident id).
        let subject = match (notification.incident_id, notification.disaster_id) {
            (Some(incident_id), _) => {
                chain.changes.push(crate::Committed::NotificationUpdated {
                    id: notification.id,
                    incident_id,
                });
                format!("incident/{incident_id}")
            }
            (None, Some(disaster_id)) => {
                chain
                    .changes
                    .push(crate::Committed::DisasterUpdated(disaster_id));
                format!("disaster/{disaster_id}")
            }
            (None, None) => return Err(crate::Error::corrupt("notification about nothing")),
        };
        chain.push(
            jikimi_audit::NewAuditEntry::new(
                at,
                jikimi_respond::Actor::System.to_string(),
                action,
                subject,
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
    ) -> crate::Result<Vec<crate::outbox::Notification>> {
        let sql = format!(
            "SELECT {} FROM notifications WHERE incident_id = $1 ORDER BY event_seq, guardian_id",
            crate::outbox::COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(incident_id.to_string())
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(Self::notification_from_row).collect()
    }

    async fn list_disaster_notifications(
        &self,
        disaster_id: uuid::Uuid,
    ) -> crate::Result<Vec<crate::outbox::Notification>> {
        let sql = format!(
            "SELECT {} FROM notifications WHERE disaster_id = $1 ORDER BY guardian_id, event_seq",
            crate::outbox::COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(disaster_id.to_string())
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(Self::notification_from_row).collect()
    }

    async fn list_dead_letters(
        &self,
        limit: u32,
    ) -> crate::Result<Vec<crate::outbox::Notification>> {
        let sql = format!(
            "SELECT {} FROM notifications WHERE state = 'dead_lettered'
             ORDER BY dead_lettered_at DESC, id LIMIT $1",
            crate::outbox::COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit.clamp(1, 10_000)))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(Self::notification_from_row).collect()
    }
}
