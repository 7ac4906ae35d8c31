//! Rescue teams and the guardians of people in a disaster (issue 20, parts 5 and 2) on the SQL backends: dispatch
//! that checks the incident's need in its one transaction, the dispatcher's need per incident, the facts a need is
//! derived from, and the disaster notices queued for guardians in the outbox.

use super::{Backend, SqlStore};
use jikimi_respond::disaster::{DisasterKind, WelfareStatus};
use jikimi_respond::rescue::{capabilities_from_text, capabilities_to_text};
use jikimi_respond::{SubscriberId, Timestamp, UnitNeed, UnitType};
use sqlx::Row;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Parameters per row of a disaster notice insert.
const NOTICE_PARAMS: usize = 6;

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
    /// Dispatch in one transaction (see [`crate::UnitStore::dispatch`]); with a need, the unit must satisfy it or the
    /// caller must override (audited).
    pub(crate) async fn dispatch_checked(
        &self,
        incident_id: jikimi_respond::IncidentId,
        expected_seq: Option<u64>,
        unit: &jikimi_respond::UnitId,
        need: Option<(&UnitNeed, bool)>,
        change: &crate::Change,
    ) -> crate::Result<jikimi_respond::Incident> {
        let (mut tx, mut chain) = self.begin_write().await?;
        // Read inside the writing transaction (after the audit head lock): a unit dispatched by a transaction that
        // committed while this one waited is seen as busy here, and a unit retyped meanwhile is judged as it is now.
        let current = Self::unit_in(&mut tx, unit).await?;
        if current.status != jikimi_respond::UnitStatus::Available {
            return Err(crate::Error::Conflict(crate::Conflict::UnitBusy {
                unit: unit.clone(),
                status: current.status,
            }));
        }
        if let Some((need, override_need)) = need
            && !need.satisfied_by(&current)
        {
            if !override_need {
                return Err(crate::Error::Conflict(crate::Conflict::UnitUnsuitable {
                    unit: unit.clone(),
                    need: need.to_string(),
                }));
            }
            chain.push(
                super::audit(
                    change,
                    "incident.dispatch_override",
                    format!("incident/{incident_id}"),
                )
                .with_detail(&serde_json::json!({
                    "unit": unit.as_str(),
                    "unit_type": current.unit_type,
                    "capabilities": current.capabilities,
                    "need": need,
                    "shortfall": need.shortfall(&current),
                })),
            );
        }
        let kind = jikimi_respond::EventKind::Dispatched { unit: unit.clone() };
        let incident =
            Self::append_in(&mut tx, &mut chain, incident_id, expected_seq, kind, change).await?;
        Self::set_status_in(
            &mut tx,
            &mut chain,
            unit,
            jikimi_respond::UnitStatus::Dispatched,
            change,
        )
        .await?;
        self.commit_write(tx, chain).await?;
        Ok(incident)
    }

    async fn incident_exists_in(
        tx: &mut sqlx::Transaction<'static, DB>,
        incident_id: jikimi_respond::IncidentId,
    ) -> crate::Result<()> {
        sqlx::query("SELECT id FROM incidents WHERE id = $1")
            .bind(incident_id.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| crate::Error::not_found(crate::Entity::Incident, incident_id))?;
        Ok(())
    }

    pub(crate) async fn set_incident_need_impl(
        &self,
        incident_id: jikimi_respond::IncidentId,
        need: Option<&UnitNeed>,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        Self::incident_exists_in(&mut tx, incident_id).await?;
        let subject = format!("incident/{incident_id}");
        match need {
            Some(need) => {
                sqlx::query(
                    "INSERT INTO incident_needs (incident_id, unit_type, capabilities, set_at_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (incident_id) DO UPDATE SET unit_type = excluded.unit_type,
                         capabilities = excluded.capabilities, set_at_ms = excluded.set_at_ms",
                )
                .bind(incident_id.to_string())
                .bind(need.unit_type.as_str())
                .bind(capabilities_to_text(&need.capabilities))
                .bind(change.at.as_unix_ms())
                .execute(&mut *tx)
                .await?;
                chain.push(
                    super::audit(change, "incident.need_set", subject)
                        .with_detail(&serde_json::json!({ "need": need })),
                );
            }
            None => {
                sqlx::query("DELETE FROM incident_needs WHERE incident_id = $1")
                    .bind(incident_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                chain.push(super::audit(change, "incident.need_cleared", subject));
            }
        }
        self.commit_write(tx, chain).await
    }

    pub(crate) async fn incident_need_facts_impl(
        &self,
        incident_id: jikimi_respond::IncidentId,
    ) -> crate::Result<crate::rescue::IncidentNeedFacts> {
        let id = incident_id.to_string();
        sqlx::query("SELECT id FROM incidents WHERE id = $1")
            .bind(&id)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| crate::Error::not_found(crate::Entity::Incident, incident_id))?;
        let dispatcher = sqlx::query(
            "SELECT unit_type, capabilities FROM incident_needs WHERE incident_id = $1",
        )
        .bind(&id)
        .fetch_optional(self.reader())
        .await?
        .map(|row| -> crate::Result<UnitNeed> {
            let unit_type: String = row.try_get("unit_type")?;
            let capabilities: String = row.try_get("capabilities")?;
            Ok(UnitNeed {
                unit_type: UnitType::parse(&unit_type)
                    .ok_or_else(|| crate::Error::corrupt("incident need unit type"))?,
                capabilities: capabilities_from_text(&capabilities)
                    .ok_or_else(|| crate::Error::corrupt("incident need capability"))?,
            })
        })
        .transpose()?;
        // A welfare answer in need is an alert whose id is the answer id: its person's current status counts.
        let rows = sqlx::query(
            "SELECT DISTINCT p.subscriber_id, p.status, d.kind FROM alerts a
             JOIN welfare_answers w ON w.answer_id = a.alert_id AND w.device_id = a.device_id
             JOIN welfare_persons p ON p.disaster_id = w.disaster_id AND p.subscriber_id = w.subscriber_id
             JOIN disasters d ON d.id = w.disaster_id
             WHERE a.incident_id = $1
             ORDER BY p.subscriber_id",
        )
        .bind(&id)
        .fetch_all(self.reader())
        .await?;
        let people = rows
            .iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let kind: String = row.try_get("kind")?;
                Ok((
                    WelfareStatus::parse(&status)
                        .ok_or_else(|| crate::Error::corrupt("welfare status"))?,
                    DisasterKind::parse(&kind)
                        .ok_or_else(|| crate::Error::corrupt("disaster kind"))?,
                ))
            })
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(crate::rescue::IncidentNeedFacts { dispatcher, people })
    }

    /// Queues `event` about `disaster_id` for every guardian of `subscribers`, inside the caller's transaction, at
    /// most once per (disaster, guardian, event) (the unique index `notifications_disaster_once`; a repeat is
    /// skipped). Each notice is numbered after the guardian's earlier ones about this disaster, so the worker
    /// delivers them in order. Audited with one `notification.queued` entry (how many). Returns how many it queued.
    pub(crate) async fn queue_welfare_notices_in(
        tx: &mut sqlx::Transaction<'static, DB>,
        chain: &mut super::Chain,
        disaster_id: Uuid,
        subscribers: &[SubscriberId],
        event: &'static str,
        at: Timestamp,
    ) -> crate::Result<u64> {
        if subscribers.is_empty() {
            return Ok(0);
        }
        let mut guardians: Vec<(String, String)> = Vec::new();
        for chunk in subscribers.chunks(super::rows_per_statement(1)) {
            let sql = format!(
                "SELECT id, subscriber_id FROM guardians WHERE subscriber_id IN (VALUES {})
                 ORDER BY subscriber_id, created_at, id",
                super::values_clause(chunk.len(), 1)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                query = query.bind(s.to_string());
            }
            for row in query.fetch_all(&mut **tx).await? {
                guardians.push((row.try_get("id")?, row.try_get("subscriber_id")?));
            }
        }
        let did = disaster_id.to_string();
        let mut queued = 0u64;
        for chunk in guardians.chunks(super::rows_per_statement(NOTICE_PARAMS)) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = |k: usize| format!("${}", i * NOTICE_PARAMS + k);
                    format!(
                        "({id}, NULL, {d}, {g}, {s}, (SELECT COALESCE(MAX(x.event_seq) + 1, 0) FROM notifications x
                          WHERE x.disaster_id = {d} AND x.guardian_id = {g}), {e}, {t}, 'pending', 0, {t}, '[]')",
                        id = p(1),
                        d = p(2),
                        g = p(3),
                        s = p(4),
                        e = p(5),
                        t = p(6),
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO notifications (id, incident_id, disaster_id, guardian_id, subscriber_id, event_seq,
                     event, created_at, state, attempts, next_attempt_at, delivered_channels)
                 VALUES {} ON CONFLICT DO NOTHING",
                rows.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (guardian_id, subscriber_id) in chunk {
                query = query
                    .bind(Uuid::now_v7().to_string())
                    .bind(did.as_str())
                    .bind(guardian_id.as_str())
                    .bind(subscriber_id.as_str())
                    .bind(event)
                    .bind(at.as_unix_ms());
            }
            queued += super::RowsAffected::rows_affected(&query.execute(&mut **tx).await?);
        }
        if queued > 0 {
            chain
                .changes
                .push(crate::Committed::DisasterUpdated(disaster_id));
            chain.push(
                jikimi_audit::NewAuditEntry::new(
                    at.as_unix_ms(),
                    jikimi_respond::Actor::System.to_string(),
                    "notification.queued",
                    format!("disaster/{disaster_id}"),
                    "guardians to notify",
                )
                .with_detail(&serde_json::json!({ "event": event, "queued": queued })),
            );
        }
        Ok(queued)
    }

    pub(crate) async fn queue_silent_welfare_impl(
        &self,
        asked_before: Timestamp,
        at: Timestamp,
        limit: u32,
    ) -> crate::Result<u64> {
        let event = crate::outbox::welfare_event(WelfareStatus::NoAnswer);
        let (mut tx, mut chain) = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT p.disaster_id, p.subscriber_id FROM welfare_persons p
             JOIN disasters d ON d.id = p.disaster_id
             WHERE d.closed_at_ms IS NULL AND p.status = $1 AND p.requested_at_ms <= $2
               AND EXISTS (
                   SELECT 1 FROM guardians g WHERE g.subscriber_id = p.subscriber_id AND NOT EXISTS (
                       SELECT 1 FROM notifications n
                       WHERE n.disaster_id = p.disaster_id AND n.guardian_id = g.id AND n.event = $3))
             ORDER BY p.disaster_id, p.subscriber_id
             LIMIT $4",
        )
        .bind(WelfareStatus::NoAnswer.as_str())
        .bind(asked_before.as_unix_ms())
        .bind(event)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&mut *tx)
        .await?;
        let mut by_disaster: BTreeMap<Uuid, Vec<SubscriberId>> = BTreeMap::new();
        for row in &rows {
            let disaster = super::parse_uuid(&row.try_get::<String, _>("disaster_id")?)?;
            let subscriber = super::parse_uuid(&row.try_get::<String, _>("subscriber_id")?)?;
            by_disaster
                .entry(disaster)
                .or_default()
                .push(SubscriberId(subscriber));
        }
        let mut queued = 0;
        for (disaster_id, subscribers) in &by_disaster {
            queued += Self::queue_welfare_notices_in(
                &mut tx,
                &mut chain,
                *disaster_id,
                subscribers,
                event,
                at,
            )
            .await?;
        }
        if queued == 0 {
            return Ok(0);
        }
        self.commit_write(tx, chain).await?;
        Ok(queued)
    }
}
