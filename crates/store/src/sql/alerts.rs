//! The intake batch ([`crate::IncidentStore::record_alerts_budgeted`]): one writing transaction for many alerts.
//!
//! Multi-row statements, a handful per batch instead of several per alert, are what let one SQLite writer keep up
//! with thousands of alerts a second. The steps, each a function here: claim the nonces, find alerts recorded before,
//! load the open clusters near the batch, decide each alert in order ([`Decisions`]: duplicate, new incident, or one
//! more report of an incident), then write incidents, events, alert rows and clusters, and queue the guardians'
//! notifications, all before the one commit.

use super::{Backend, SqlStore, rows_per_statement, values_clause};
use crate::{AlertAccepted, Error, NewAlert, Result};
use jikimi_audit::NewAuditEntry;
use jikimi_respond::surge::{Cluster, ClusterIndex, Placement};
use jikimi_respond::{Actor, EventKind, Incident, IncidentEvent, IncidentId, SurgeConfig};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

type Tx<DB> = sqlx::Transaction<'static, DB>;

/// What the batch decided, alert by alert, before anything is written.
#[derive(Default)]
struct Decisions {
    /// One per alert, in batch order.
    results: Vec<Result<AlertAccepted>>,
    /// Incidents this batch opens, in their final state, with their events.
    new_incidents: Vec<(Incident, Vec<IncidentEvent>)>,
    /// Where each new incident is in `new_incidents`.
    new_index: HashMap<IncidentId, usize>,
    /// Incidents stored before that this batch adds reports to, with the new events.
    joined: HashMap<IncidentId, (Incident, Vec<IncidentEvent>)>,
    /// `joined`'s keys in the order they were first joined (writes stay deterministic).
    joined_order: Vec<IncidentId>,
    /// One row per accepted alert: its index in the batch and its incident.
    alert_rows: Vec<(usize, IncidentId)>,
    /// The incident each device's latest accepted alert of this batch went to (for over-budget alerts).
    latest_of_device: HashMap<String, IncidentId>,
}

impl Decisions {
    /// Adds `event` (a report) to `target` if it is open in this batch or was loaded into `joined`; false if the fold
    /// refuses it (cannot happen for an open incident) or the target is unknown.
    fn add_report(
        &mut self,
        target: IncidentId,
        report: impl FnOnce(u64) -> IncidentEvent,
    ) -> bool {
        let slot = match self.new_index.get(&target) {
            Some(&k) => self.new_incidents.get_mut(k),
            None => self.joined.get_mut(&target),
        };
        let Some((incident, events)) = slot else {
            return false;
        };
        let event = report(incident.last_seq + 1);
        if incident.apply(&event).is_err() {
            return false;
        }
        events.push(event);
        true
    }

    /// Opens a new incident with the alert's first event.
    fn open(&mut self, alert: &NewAlert, actor: &Actor) -> Result<IncidentId> {
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
        self.new_index.insert(incident.id, self.new_incidents.len());
        self.new_incidents.push((incident, vec![event]));
        Ok(alert.incident_id)
    }

    /// Every event this batch writes, new incidents first, with its incident.
    fn events(&self) -> Vec<(IncidentId, &IncidentEvent)> {
        self.new_incidents
            .iter()
            .flat_map(|(incident, events)| events.iter().map(move |e| (incident.id, e)))
            .chain(
                self.joined_order
                    .iter()
                    .filter_map(|id| self.joined.get(id))
                    .flat_map(|(incident, events)| events.iter().map(move |e| (incident.id, e))),
            )
            .collect()
    }
}

/// The `report_added` event for an alert that joins an incident, at `seq`.
fn report_event(alert: &NewAlert, actor: &Actor, seq: u64) -> IncidentEvent {
    IncidentEvent {
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
    }
}

/// For each alert, whether its nonce is fresh: the first use of a (device, nonce) pair in the batch whose claim
/// inserted a row.
fn first_uses(batch: &[NewAlert]) -> (Vec<bool>, Vec<usize>) {
    let mut first_use = vec![false; batch.len()];
    let mut seen_nonces = HashSet::new();
    let mut claims: Vec<usize> = Vec::new();
    for (i, alert) in batch.iter().enumerate() {
        if seen_nonces.insert((alert.device_id, alert.nonce.as_str())) {
            first_use[i] = true;
            claims.push(i);
        }
    }
    (first_use, claims)
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
    /// [`crate::IncidentStore::record_alerts_budgeted`]: every step in one writing transaction.
    pub(crate) async fn record_alert_batch(
        &self,
        batch: Vec<NewAlert>,
        surge: SurgeConfig,
        budget: crate::AlertBudget,
    ) -> Result<Vec<Result<AlertAccepted>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<(String, String)> = batch
            .iter()
            .map(|a| (a.device_id.to_string(), a.alert_id.to_string()))
            .collect();
        let (mut tx, mut chain) = self.begin_write().await?;
        let fresh = Self::claim_nonces(&mut tx, &batch, &keys).await?;
        let mut existing = Self::recorded_alerts(&mut tx, &keys).await?;
        let (mut index, existing_clusters) = Self::clusters_near(&mut tx, &batch, surge).await?;
        let mut buckets = match &budget {
            crate::AlertBudget::Shared { .. } => {
                let mut devices: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
                devices.sort_unstable();
                devices.dedup();
                Some(super::budget::Buckets::load(&mut tx, &devices).await?)
            }
            crate::AlertBudget::Marked(_) => None,
        };
        let mut decided = Decisions::default();
        for (i, alert) in batch.iter().enumerate() {
            let over = match (&budget, buckets.as_mut()) {
                // Only a new alert is charged: not a replayed nonce, not a retry (also one within this batch).
                (crate::AlertBudget::Shared { burst, refill_ms }, Some(buckets)) => {
                    fresh[i]
                        && !existing.contains_key(&keys[i])
                        && buckets.over(
                            &keys[i].0,
                            alert.received_at.as_unix_ms(),
                            *burst,
                            *refill_ms,
                        )
                }
                (crate::AlertBudget::Marked(marks), _) => marks.get(i).copied().unwrap_or(false),
                _ => false,
            };
            let result = Self::decide(
                &mut tx,
                &mut chain,
                &mut decided,
                &mut index,
                &mut existing,
                (i, alert),
                &keys[i],
                fresh[i],
                over,
            )
            .await?;
            decided.results.push(result);
        }
        Self::insert_incidents(&mut tx, &decided.new_incidents).await?;
        for id in &decided.joined_order {
            if let Some((incident, _)) = decided.joined.get(id) {
                Self::write_incident_row(&mut tx, incident, false).await?;
            }
        }
        let events = decided.events();
        Self::insert_events(&mut tx, &events).await?;
        Self::insert_alert_rows(&mut tx, &batch, &keys, &decided.alert_rows).await?;
        Self::write_clusters(&mut tx, &index, &existing_clusters, &decided.joined_order).await?;
        if let Some(buckets) = &buckets {
            buckets.save(&mut tx).await?;
        }
        for (incident, _) in &decided.new_incidents {
            chain.changes.incident(incident, true);
        }
        for (incident, _) in decided
            .joined_order
            .iter()
            .filter_map(|id| decided.joined.get(id))
        {
            chain.changes.incident(incident, false);
        }
        // Guardians to tell, in the same transaction (the outbox). Each alert tells its own subscriber's guardians,
        // also when it joined another's incident.
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
        Ok(decided.results)
    }

    /// Claims the batch's nonces in multi-row inserts. Returns, per alert, whether its nonce was fresh: only the
    /// first use of a (device, nonce) pair within the batch may be, and only if no earlier batch claimed it.
    async fn claim_nonces(
        tx: &mut Tx<DB>,
        batch: &[NewAlert],
        keys: &[(String, String)],
    ) -> Result<Vec<bool>> {
        let (first_use, claims) = first_uses(batch);
        let mut fresh: HashSet<(String, String)> = HashSet::new();
        for rows in claims.chunks(rows_per_statement(3)) {
            let sql = format!(
                "INSERT INTO device_nonces (device_id, nonce, seen_at) VALUES {}
                 ON CONFLICT (device_id, nonce) DO NOTHING RETURNING device_id, nonce",
                values_clause(rows.len(), 3)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for &i in rows {
                query = query
                    .bind(keys[i].0.as_str())
                    .bind(batch[i].nonce.as_str())
                    .bind(batch[i].received_at.as_unix_ms());
            }
            for row in query.fetch_all(&mut **tx).await? {
                fresh.insert((row.try_get("device_id")?, row.try_get("nonce")?));
            }
        }
        Ok(batch
            .iter()
            .enumerate()
            .map(|(i, alert)| {
                first_use[i] && fresh.contains(&(keys[i].0.clone(), alert.nonce.clone()))
            })
            .collect())
    }

    /// Alerts recorded before (retries across batches), by their own rows: a clustered alert's incident was opened
    /// by another device.
    async fn recorded_alerts(
        tx: &mut Tx<DB>,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), IncidentId>> {
        let mut lookups: Vec<&(String, String)> = Vec::new();
        let mut seen_keys = HashSet::new();
        for key in keys {
            if seen_keys.insert(key) {
                lookups.push(key);
            }
        }
        let mut existing = HashMap::new();
        for rows in lookups.chunks(rows_per_statement(2)) {
            let sql = format!(
                "SELECT incident_id, device_id, alert_id FROM alerts WHERE (device_id, alert_id) IN (VALUES {})",
                values_clause(rows.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for key in rows {
                query = query.bind(key.0.as_str()).bind(key.1.as_str());
            }
            for row in query.fetch_all(&mut **tx).await? {
                let id = IncidentId(super::parse_uuid(
                    &row.try_get::<String, _>("incident_id")?,
                )?);
                existing.insert((row.try_get("device_id")?, row.try_get("alert_id")?), id);
            }
        }
        Ok(existing)
    }

    /// Open clusters near any alert of the batch, from the grid cells their search circles touch, and the set of
    /// them (stored clusters are updated, new ones inserted).
    async fn clusters_near(
        tx: &mut Tx<DB>,
        batch: &[NewAlert],
        surge: SurgeConfig,
    ) -> Result<(ClusterIndex, HashSet<IncidentId>)> {
        let mut index = ClusterIndex::new(surge);
        let mut existing_clusters: HashSet<IncidentId> = HashSet::new();
        if !surge.is_enabled() {
            return Ok((index, existing_clusters));
        }
        let mut cells: Vec<i64> = batch
            .iter()
            .filter_map(|a| a.fix.as_ref())
            .filter_map(|f| jikimi_respond::surge::cells_near(f.coords, surge.radius_m))
            .flatten()
            .collect();
        cells.sort_unstable();
        cells.dedup();
        let oldest = batch
            .iter()
            .map(|a| a.received_at.as_unix_ms())
            .min()
            .unwrap_or(0);
        let since = oldest.saturating_sub(surge.window_ms);
        for rows in cells.chunks(rows_per_statement(1) - 1) {
            let sql = format!(
                "SELECT c.incident_id, c.lat, c.lon, c.last_report_at
                 FROM incident_clusters c JOIN incidents i ON i.id = c.incident_id
                 WHERE c.last_report_at >= $1 AND i.status <> 'closed' AND c.cell IN ({})
                 ORDER BY c.incident_id",
                super::placeholders(2, rows.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since);
            for cell in rows {
                query = query.bind(*cell);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let incident_id = IncidentId(super::parse_uuid(
                    &row.try_get::<String, _>("incident_id")?,
                )?);
                let anchor =
                    jikimi_respond::Coordinates::new(row.try_get("lat")?, row.try_get("lon")?)
                        .map_err(|_| Error::corrupt("stored cluster anchor is out of range"))?;
                let last_report_at =
                    jikimi_respond::Timestamp::from_unix_ms(row.try_get("last_report_at")?);
                existing_clusters.insert(incident_id);
                index.insert(Cluster {
                    incident_id,
                    anchor,
                    last_report_at,
                });
            }
        }
        Ok((index, existing_clusters))
    }

    /// Decides one alert, in batch order: a replayed nonce, a duplicate, one more report of an incident (opened
    /// earlier in this batch or before), or a new incident. Every accepted alert gets its own event, row and
    /// `alert.received` audit entry.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        tx: &mut Tx<DB>,
        chain: &mut super::Chain,
        decided: &mut Decisions,
        index: &mut ClusterIndex,
        existing: &mut HashMap<(String, String), IncidentId>,
        (i, alert): (usize, &NewAlert),
        key: &(String, String),
        fresh: bool,
        over_budget: bool,
    ) -> Result<Result<AlertAccepted>> {
        let actor = Actor::Device(alert.device_id);
        let at_ms = alert.received_at.as_unix_ms();
        if !fresh {
            chain.push(
                NewAuditEntry::new(
                    at_ms,
                    actor.to_string(),
                    "alert.rejected",
                    format!("device/{}", key.0),
                    "nonce replayed",
                )
                .with_detail(
                    &serde_json::json!({ "code": "nonce_replayed", "alert_id": alert.alert_id }),
                ),
            );
            return Ok(Err(Error::Conflict(crate::Conflict::NonceReplayed)));
        }
        if let Some(&incident_id) = existing.get(key) {
            chain.push(NewAuditEntry::new(
                at_ms,
                actor.to_string(),
                "alert.duplicate",
                format!("incident/{incident_id}"),
                "alert retried",
            ));
            return Ok(Ok(AlertAccepted {
                incident_id,
                duplicate: true,
            }));
        }
        // Past its budget, a device's alert joins the open incident of its latest alert: counted as a report, never
        // refused, never a new incident while one is open.
        let own_open = match (over_budget, decided.latest_of_device.get(&key.0)) {
            (false, _) => None,
            (true, Some(&id)) => Some(id),
            (true, None) => Self::open_incident_of_device(tx, &key.0).await?,
        };
        let placement = match own_open {
            Some(target) => Placement::Join(target),
            None => index.place(
                alert.incident_id,
                alert.fix.map(|f| f.coords),
                alert.received_at,
            ),
        };
        let mut report_of = None;
        if let Placement::Join(target) = placement {
            if !decided.new_index.contains_key(&target) && !decided.joined.contains_key(&target) {
                let incident = Self::load_incident_in(tx, target).await?;
                decided.joined.insert(target, (incident, Vec::new()));
                decided.joined_order.push(target);
            }
            if decided.add_report(target, |seq| report_event(alert, &actor, seq)) {
                report_of = Some(target);
            }
        }
        let incident_id = match report_of {
            Some(target) => target,
            None => decided.open(alert, &actor)?,
        };
        existing.insert(key.clone(), incident_id);
        decided.latest_of_device.insert(key.0.clone(), incident_id);
        decided.alert_rows.push((i, incident_id));
        chain.push(
            NewAuditEntry::new(
                at_ms,
                actor.to_string(),
                "alert.received",
                format!("incident/{incident_id}"),
                if report_of.is_some() {
                    "sos alert (clustered report)"
                } else {
                    "sos alert"
                },
            )
            .with_detail(&serde_json::json!({
                "alert_id": alert.alert_id,
                "priority": alert.priority.code(),
            })),
        );
        Ok(Ok(AlertAccepted {
            incident_id,
            duplicate: false,
        }))
    }

    /// The open incident a device's latest stored alert went to, if any.
    async fn open_incident_of_device(tx: &mut Tx<DB>, device: &str) -> Result<Option<IncidentId>> {
        sqlx::query(
            "SELECT a.incident_id FROM alerts a JOIN incidents i ON i.id = a.incident_id
             WHERE a.device_id = $1 AND i.status <> 'closed'
             ORDER BY a.received_at DESC, a.incident_id DESC LIMIT 1",
        )
        .bind(device)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| {
            row.try_get::<String, _>("incident_id")
                .map_err(Error::from)
                .and_then(|id: String| super::parse_uuid(&id))
                .map(IncidentId)
        })
        .transpose()
    }

    /// Inserts the batch's new incidents, in their final state, in multi-row statements.
    async fn insert_incidents(
        tx: &mut Tx<DB>,
        new_incidents: &[(Incident, Vec<IncidentEvent>)],
    ) -> Result<()> {
        for rows in new_incidents.chunks(rows_per_statement(9)) {
            let sql = format!(
                "INSERT INTO incidents (id, device_id, alert_id, subscriber_id, status, priority, opened_at,
                                        last_seq, state)
                 VALUES {}",
                values_clause(rows.len(), 9)
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
                    .bind(super::to_i64(incident.last_seq)?)
                    .bind(super::incident_state(incident)?);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Inserts events in multi-row statements.
    async fn insert_events(tx: &mut Tx<DB>, events: &[(IncidentId, &IncidentEvent)]) -> Result<()> {
        for rows in events.chunks(rows_per_statement(5)) {
            let sql = format!(
                "INSERT INTO incident_events (incident_id, seq, at_ms, kind, body) VALUES {}",
                values_clause(rows.len(), 5)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (incident_id, event) in rows {
                query = query
                    .bind(incident_id.to_string())
                    .bind(super::to_i64(event.seq)?)
                    .bind(event.at.as_unix_ms())
                    .bind(event.kind.name())
                    .bind(super::event_body(event)?);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// One row per accepted alert (what makes a retry a duplicate), in multi-row statements.
    async fn insert_alert_rows(
        tx: &mut Tx<DB>,
        batch: &[NewAlert],
        keys: &[(String, String)],
        alert_rows: &[(usize, IncidentId)],
    ) -> Result<()> {
        for rows in alert_rows.chunks(rows_per_statement(4)) {
            let sql = format!(
                "INSERT INTO alerts (device_id, alert_id, incident_id, received_at) VALUES {}",
                values_clause(rows.len(), 4)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, incident_id) in rows {
                query = query
                    .bind(keys[*i].0.as_str())
                    .bind(keys[*i].1.as_str())
                    .bind(incident_id.to_string())
                    .bind(batch[*i].received_at.as_unix_ms());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Inserts the clusters this batch opened and moves the last report time of those it joined.
    async fn write_clusters(
        tx: &mut Tx<DB>,
        index: &ClusterIndex,
        existing_clusters: &HashSet<IncidentId>,
        joined_order: &[IncidentId],
    ) -> Result<()> {
        let new_clusters: Vec<&Cluster> = index
            .clusters()
            .iter()
            .filter(|c| !existing_clusters.contains(&c.incident_id))
            .collect();
        for rows in new_clusters.chunks(rows_per_statement(5)) {
            let sql = format!(
                "INSERT INTO incident_clusters (incident_id, cell, lat, lon, last_report_at) VALUES {}",
                values_clause(rows.len(), 5)
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
            query.execute(&mut **tx).await?;
        }
        for id in joined_order {
            if let Some(cluster) = index.get(*id) {
                sqlx::query(
                    "UPDATE incident_clusters SET last_report_at = $1 WHERE incident_id = $2",
                )
                .bind(cluster.last_report_at.as_unix_ms())
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }
}
