//! Incidents ([`crate::IncidentStore`]): the event log, its projection, staff and device events. The intake batch
//! is in `alerts`.

use super::{Backend, RowsAffected as _, SqlStore};
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
    pub(crate) async fn load_incident_in(
        tx: &mut sqlx::Transaction<'static, DB>,
        id: jikimi_respond::IncidentId,
    ) -> crate::Result<jikimi_respond::Incident> {
        let row = sqlx::query("SELECT state FROM incidents WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| crate::Error::not_found(crate::Entity::Incident, id))?;
        crate::sql::incident_from_state(&row.try_get::<String, _>("state")?)
    }

    pub(crate) async fn write_incident_row(
        tx: &mut sqlx::Transaction<'static, DB>,
        incident: &jikimi_respond::Incident,
        insert: bool,
    ) -> crate::Result<()> {
        let state = crate::sql::incident_state(incident)?;
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
            .bind(crate::sql::to_i64(incident.last_seq)?)
            .bind(state)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub(crate) async fn insert_event(
        tx: &mut sqlx::Transaction<'static, DB>,
        id: jikimi_respond::IncidentId,
        event: &jikimi_respond::IncidentEvent,
    ) -> crate::Result<()> {
        sqlx::query("INSERT INTO incident_events (incident_id, seq, at_ms, kind, body) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.to_string())
            .bind(crate::sql::to_i64(event.seq)?)
            .bind(event.at.as_unix_ms())
            .bind(event.kind.name())
            .bind(crate::sql::event_body(event)?)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Appends an event by `change` to an incident at `expected_seq` (its latest seq when `None`) inside a writing
    /// transaction: refolds and rewrites the projection, queues the guardians' notifications and audits
    /// `incident.<event>`. Returns the new state.
    pub(crate) async fn append_in(
        tx: &mut sqlx::Transaction<'static, DB>,
        chain: &mut super::Chain,
        incident_id: jikimi_respond::IncidentId,
        expected_seq: Option<u64>,
        kind: jikimi_respond::EventKind,
        change: &crate::Change,
    ) -> crate::Result<jikimi_respond::Incident> {
        let mut incident = Self::load_incident_in(tx, incident_id).await?;
        let expected_seq = expected_seq.unwrap_or(incident.last_seq);
        if incident.last_seq != expected_seq {
            return Err(crate::Error::Conflict(crate::Conflict::StaleSequence {
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
        Self::insert_event(tx, incident_id, &event).await?;
        Self::write_incident_row(tx, &incident, false).await?;
        chain.changes.incident(&incident, false);
        if let Some(subscriber_id) = incident.subscriber_id {
            Self::enqueue_notifications(tx, chain, &[(incident_id, subscriber_id, &event)]).await?;
        }
        chain.push(
            crate::sql::audit(
                change,
                &format!("incident.{}", event.kind.name()),
                format!("incident/{incident_id}"),
            )
            .with_detail(&serde_json::json!({ "seq": event.seq, "status": incident.status })),
        );
        Ok(incident)
    }
}

#[async_trait::async_trait]
impl<DB: Backend> crate::IncidentStore for SqlStore<DB>
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
    async fn record_alerts_with_budget(
        &self,
        batch: Vec<crate::NewAlert>,
        surge: jikimi_respond::SurgeConfig,
        budget: crate::AlertBudget,
    ) -> crate::Result<Vec<crate::Result<crate::AlertAccepted>>> {
        self.record_alert_batch(batch, surge, budget).await
    }

    async fn alert_incident(
        &self,
        device_id: jikimi_respond::DeviceId,
        alert_id: jikimi_respond::AlertId,
    ) -> crate::Result<jikimi_respond::IncidentId> {
        let row =
            sqlx::query("SELECT incident_id FROM alerts WHERE device_id = $1 AND alert_id = $2")
                .bind(device_id.to_string())
                .bind(alert_id.to_string())
                .fetch_optional(self.reader())
                .await?
                .ok_or_else(|| crate::Error::not_found(crate::Entity::Alert, alert_id))?;
        Ok(jikimi_respond::IncidentId(crate::sql::parse_uuid(
            &row.try_get::<String, _>("incident_id")?,
        )?))
    }

    async fn intake_counts(&self) -> crate::Result<crate::IntakeCounts> {
        let alerts: i64 = sqlx::query("SELECT COUNT(*) AS n FROM alerts")
            .fetch_one(self.reader())
            .await?
            .try_get("n")?;
        let incidents: i64 = sqlx::query("SELECT COUNT(*) AS n FROM incidents")
            .fetch_one(self.reader())
            .await?
            .try_get("n")?;
        Ok(crate::IntakeCounts {
            alerts: crate::sql::to_u64(alerts)?,
            incidents: crate::sql::to_u64(incidents)?,
        })
    }

    async fn append_event(
        &self,
        incident_id: jikimi_respond::IncidentId,
        expected_seq: u64,
        kind: jikimi_respond::EventKind,
        change: &crate::Change,
    ) -> crate::Result<jikimi_respond::Incident> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let incident = Self::append_in(
            &mut tx,
            &mut chain,
            incident_id,
            Some(expected_seq),
            kind,
            change,
        )
        .await?;
        self.commit_write(tx, chain).await?;
        Ok(incident)
    }

    async fn open_referral(
        &self,
        referral: &crate::NewReferral,
        change: &crate::Change,
    ) -> crate::Result<crate::ReferralOpened> {
        // The writing transaction holds the audit head's lock, so concurrent imports of one external id run one
        // after the other: the second sees the first's row here and writes nothing.
        let (mut tx, mut chain) = self.begin_write().await?;
        let existing =
            sqlx::query("SELECT incident_id FROM incident_referrals WHERE external_id = $1")
                .bind(referral.external_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(row) = existing {
            let id = jikimi_respond::IncidentId(crate::sql::parse_uuid(
                &row.try_get::<String, _>("incident_id")?,
            )?);
            let incident = Self::load_incident_in(&mut tx, id).await?;
            tx.rollback().await?;
            return Ok(crate::ReferralOpened {
                incident,
                duplicate: true,
            });
        }
        let event = jikimi_respond::IncidentEvent {
            seq: 1,
            at: change.at,
            actor: change.actor.clone(),
            kind: jikimi_respond::EventKind::Referred {
                from_agency: referral.from_agency.clone(),
                from_element: referral.from_element.clone(),
                external_id: referral.external_id.clone(),
                incident_type: referral.incident_type.clone(),
                priority: referral.priority,
                fix: referral.fix,
                address: referral.address.clone(),
            },
        };
        let incident = jikimi_respond::Incident::start(referral.incident_id, &event)?;
        // The incident row first: the event and the key refer to it.
        Self::write_incident_row(&mut tx, &incident, true).await?;
        Self::insert_event(&mut tx, incident.id, &event).await?;
        sqlx::query(
            "INSERT INTO incident_referrals (external_id, incident_id, from_agency, received_at_ms)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(referral.external_id.as_str())
        .bind(incident.id.to_string())
        .bind(referral.from_agency.as_str())
        .bind(change.at.as_unix_ms())
        .execute(&mut *tx)
        .await?;
        chain.changes.incident(&incident, true);
        chain.push(
            crate::sql::audit(
                change,
                "incident.referred",
                format!("incident/{}", incident.id),
            )
            .with_detail(&serde_json::json!({
                "from_agency": referral.from_agency,
                "from_element": referral.from_element,
                "external_id": referral.external_id,
                "priority": referral.priority.code(),
            })),
        );
        self.commit_write(tx, chain).await?;
        Ok(crate::ReferralOpened {
            incident,
            duplicate: false,
        })
    }

    async fn load_events(
        &self,
        incident_id: jikimi_respond::IncidentId,
    ) -> crate::Result<Vec<jikimi_respond::IncidentEvent>> {
        let rows =
            sqlx::query("SELECT body FROM incident_events WHERE incident_id = $1 ORDER BY seq")
                .bind(incident_id.to_string())
                .fetch_all(self.reader())
                .await?;
        if rows.is_empty() {
            return Err(crate::Error::not_found(
                crate::Entity::Incident,
                incident_id,
            ));
        }
        rows.iter()
            .map(|row| crate::sql::event_from_body(&row.try_get::<String, _>("body")?))
            .collect()
    }

    async fn get_incident(
        &self,
        incident_id: jikimi_respond::IncidentId,
    ) -> crate::Result<jikimi_respond::Incident> {
        let row = sqlx::query("SELECT state FROM incidents WHERE id = $1")
            .bind(incident_id.to_string())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| crate::Error::not_found(crate::Entity::Incident, incident_id))?;
        crate::sql::incident_from_state(&row.try_get::<String, _>("state")?)
    }

    async fn list_incidents(
        &self,
        filter: &crate::IncidentFilter,
    ) -> crate::Result<Vec<jikimi_respond::Incident>> {
        if filter.limit == 0 || filter.limit > 10_000 {
            return Err(crate::Error::Invalid(format!(
                "limit {} is not in 1..=10000",
                filter.limit
            )));
        }
        let (has_status, statuses) = crate::sql::status_binds(&filter.statuses);
        // One filter for both orders: `$10` (the page's start) is null in queue order.
        let (sql, after) = match &filter.order {
            crate::IncidentOrder::Queue => (
                "SELECT state FROM incidents
                 WHERE ($1 = 0 OR status IN ($2, $3, $4, $5, $6, $7))
                   AND (CAST($8 AS TEXT) IS NULL OR subscriber_id = $8)
                   AND (CAST($10 AS TEXT) IS NULL OR id > $10)
                   AND (CAST($11 AS TEXT) IS NULL OR device_id = $11)
                 ORDER BY priority, opened_at, id
                 LIMIT $9",
                None,
            ),
            crate::IncidentOrder::ById { after } => (
                "SELECT state FROM incidents
                 WHERE ($1 = 0 OR status IN ($2, $3, $4, $5, $6, $7))
                   AND (CAST($8 AS TEXT) IS NULL OR subscriber_id = $8)
                   AND (CAST($10 AS TEXT) IS NULL OR id > $10)
                   AND (CAST($11 AS TEXT) IS NULL OR device_id = $11)
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
            .bind(filter.device_id.map(|d| d.to_string()))
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|row| crate::sql::incident_from_state(&row.try_get::<String, _>("state")?))
            .collect()
    }

    async fn rebuild_projections(&self) -> crate::Result<u64> {
        let (mut tx, chain) = self.begin_write().await?;
        let rows =
            sqlx::query("SELECT incident_id, body FROM incident_events ORDER BY incident_id, seq")
                .fetch_all(&mut *tx)
                .await?;
        let mut n = 0u64;
        let mut current: Option<(String, Vec<jikimi_respond::IncidentEvent>)> = None;
        let mut groups = Vec::new();
        for row in rows {
            let id: String = row.try_get("incident_id")?;
            let event = crate::sql::event_from_body(&row.try_get::<String, _>("body")?)?;
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
            let incident_id = jikimi_respond::IncidentId(crate::sql::parse_uuid(&id)?);
            let incident = jikimi_respond::Incident::replay(incident_id, &events)?;
            Self::write_incident_row(&mut tx, &incident, false).await?;
            n += 1;
        }
        // A rebuild changes no fact, so it is not audited; the projection is derived data.
        self.commit_write(tx, chain).await?;
        Ok(n)
    }

    async fn purge_nonces(&self, before: jikimi_respond::Timestamp) -> crate::Result<u64> {
        let result = sqlx::query("DELETE FROM device_nonces WHERE seen_at < $1")
            .bind(before.as_unix_ms())
            .execute(self.writer())
            .await?;
        Ok(result.rows_affected())
    }

    async fn append_device_event(
        &self,
        event: &crate::DeviceEvent,
    ) -> crate::Result<jikimi_respond::Incident> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let mut incident = Self::load_incident_in(&mut tx, event.incident_id).await?;
        if incident.device_id != event.device_id {
            // Another device's incident looks exactly like a missing one: ids are not a capability.
            return Err(crate::Error::not_found(
                crate::Entity::Incident,
                event.incident_id,
            ));
        }
        Self::claim_nonce_in(
            &mut tx,
            &crate::NonceClaim {
                device_id: event.device_id,
                nonce: event.nonce.clone(),
                at: event.at,
            },
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
        if event.pin_accepted
            && let Some(sid) = incident.subscriber_id
        {
            sqlx::query("UPDATE subscriber_pins SET failed_attempts = 0 WHERE subscriber_id = $1")
                .bind(sid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let change = crate::Change::new(applied.actor.clone(), event.at, event.reason.clone());
        let mut detail = serde_json::json!({ "seq": applied.seq, "status": incident.status });
        if let jikimi_respond::EventKind::Escalated { priority, reason } = &applied.kind {
            detail["priority"] = serde_json::json!(priority.code());
            detail["reason"] = serde_json::json!(reason);
        }
        chain.push(
            crate::sql::audit(
                &change,
                &format!("incident.{}", applied.kind.name()),
                format!("incident/{}", event.incident_id),
            )
            .with_detail(&detail),
        );
        self.commit_write(tx, chain).await?;
        Ok(incident)
    }
}
