//! Disaster mode ([`crate::DisasterStore`]): disasters, the welfare check's persons and their answers, each change
//! with its audit entry and its [`crate::Committed::DisasterUpdated`] in one transaction.

use super::{Backend, RowsAffected as _, SqlStore};
use crate::disaster::{
    DisasterRecord, NewWelfareAnswer, PendingWelfare, WelfareAnswered, WelfareCandidate,
    WelfarePerson, WelfareRequest,
};
use jikimi_respond::disaster::{DisasterArea, DisasterKind, WelfareStatus};
use jikimi_respond::{DeviceId, SubscriberId, Timestamp};
use sqlx::Row;
use std::collections::HashMap;
use uuid::Uuid;

const DISASTER_COLUMNS: &str =
    "id, kind, title, area, cap_identifier, declared_at_ms, closed_at_ms";

fn disaster_from<R: Row>(row: &R) -> crate::Result<DisasterRecord>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get("kind")?;
    let area: String = row.try_get("area")?;
    Ok(DisasterRecord {
        id: super::parse_uuid(&row.try_get::<String, _>("id")?)?,
        kind: DisasterKind::parse(&kind).ok_or_else(|| crate::Error::corrupt("disaster kind"))?,
        title: row.try_get("title")?,
        area: serde_json::from_str::<DisasterArea>(&area)
            .map_err(|_| crate::Error::corrupt("disaster area"))?,
        cap_identifier: row.try_get("cap_identifier")?,
        declared_at: Timestamp::from_unix_ms(row.try_get("declared_at_ms")?),
        closed_at: row
            .try_get::<Option<i64>, _>("closed_at_ms")?
            .map(Timestamp::from_unix_ms),
    })
}

fn status_from(text: &str) -> crate::Result<WelfareStatus> {
    WelfareStatus::parse(text).ok_or_else(|| crate::Error::corrupt("welfare status"))
}

fn sealed_opt(bytes: Option<Vec<u8>>) -> crate::Result<Option<jikimi_privacy::Sealed>> {
    bytes.map(|b| super::sealed_from(&b)).transpose()
}

fn not_found(id: Uuid) -> crate::Error {
    crate::Error::not_found(crate::Entity::Disaster, id)
}

#[async_trait::async_trait]
impl<DB: Backend> crate::DisasterStore for SqlStore<DB>
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
    for<'a> Option<i64>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<String>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<Vec<u8>>: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    async fn declare_disaster(
        &self,
        disaster: &DisasterRecord,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let area = serde_json::to_string(&disaster.area)
            .map_err(|_| crate::Error::Invalid("the area does not encode".into()))?;
        let (mut tx, mut chain) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO disasters (id, kind, title, area, cap_identifier, declared_at_ms, closed_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(disaster.id.to_string())
        .bind(disaster.kind.as_str())
        .bind(disaster.title.clone())
        .bind(area)
        .bind(disaster.cap_identifier.clone())
        .bind(disaster.declared_at.as_unix_ms())
        .execute(&mut *tx)
        .await?;
        let mut entry = super::audit(
            change,
            "disaster.declared",
            format!("disaster/{}", disaster.id),
        );
        entry.detail = serde_json::json!({
            "kind": disaster.kind.as_str(),
            "cap_identifier": disaster.cap_identifier,
        })
        .to_string();
        chain.push(entry);
        chain
            .changes
            .push(crate::Committed::DisasterUpdated(disaster.id));
        self.commit_write(tx, chain).await
    }

    async fn close_disaster(
        &self,
        id: Uuid,
        change: &crate::Change,
    ) -> crate::Result<DisasterRecord> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let sql = format!("SELECT {DISASTER_COLUMNS} FROM disasters WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found(id))?;
        let mut disaster = disaster_from(&row)?;
        if disaster.closed_at.is_some() {
            return Err(crate::Error::Conflict(crate::Conflict::DisasterClosed));
        }
        sqlx::query("UPDATE disasters SET closed_at_ms = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(change.at.as_unix_ms())
            .execute(&mut *tx)
            .await?;
        disaster.closed_at = Some(change.at);
        chain.push(super::audit(
            change,
            "disaster.closed",
            format!("disaster/{id}"),
        ));
        chain.changes.push(crate::Committed::DisasterUpdated(id));
        self.commit_write(tx, chain).await?;
        Ok(disaster)
    }

    async fn get_disaster(&self, id: Uuid) -> crate::Result<DisasterRecord> {
        let sql = format!("SELECT {DISASTER_COLUMNS} FROM disasters WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| not_found(id))?;
        disaster_from(&row)
    }

    async fn list_disasters(&self, limit: u32) -> crate::Result<Vec<DisasterRecord>> {
        let sql = format!(
            "SELECT {DISASTER_COLUMNS} FROM disasters ORDER BY declared_at_ms DESC, id DESC LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(disaster_from).collect()
    }

    async fn welfare_candidates(
        &self,
        fix_since: Timestamp,
    ) -> crate::Result<Vec<WelfareCandidate>> {
        let mut by_id: HashMap<String, WelfareCandidate> = HashMap::new();
        let rows = sqlx::query("SELECT id, language FROM subscribers")
            .fetch_all(self.reader())
            .await?;
        for row in &rows {
            let id: String = row.try_get("id")?;
            let candidate = WelfareCandidate {
                subscriber_id: SubscriberId(super::parse_uuid(&id)?),
                language: row.try_get("language")?,
                latest_fix: None,
                home: None,
                vulnerability: None,
                devices: Vec::new(),
            };
            by_id.insert(id, candidate);
        }
        let rows = sqlx::query(
            "SELECT owner, field, sealed FROM sealed_fields WHERE field IN ($1, $2) AND owner LIKE 'subscriber/%'",
        )
        .bind(crate::disaster::HOME_FIELD)
        .bind(crate::disaster::VULNERABILITY_FIELD)
        .fetch_all(self.reader())
        .await?;
        for row in &rows {
            let owner: String = row.try_get("owner")?;
            let Some(c) = owner
                .strip_prefix("subscriber/")
                .and_then(|id| by_id.get_mut(id))
            else {
                continue;
            };
            let sealed = super::sealed_from(&row.try_get::<Vec<u8>, _>("sealed")?)?;
            if row.try_get::<String, _>("field")? == crate::disaster::HOME_FIELD {
                c.home = Some(sealed);
            } else {
                c.vulnerability = Some(sealed);
            }
        }
        let rows = sqlx::query(
            "SELECT id, subscriber_id, kind FROM devices
             WHERE subscriber_id IS NOT NULL AND revoked_at IS NULL ORDER BY enrolled_at, id",
        )
        .fetch_all(self.reader())
        .await?;
        for row in &rows {
            let sid: String = row.try_get("subscriber_id")?;
            if let Some(c) = by_id.get_mut(&sid) {
                let id: String = row.try_get("id")?;
                c.devices
                    .push((DeviceId(super::parse_uuid(&id)?), row.try_get("kind")?));
            }
        }
        // The best fix of each recent incident a subscriber opened; the latest measured one wins.
        let rows = sqlx::query(
            "SELECT subscriber_id, state FROM incidents WHERE subscriber_id IS NOT NULL AND opened_at >= $1",
        )
        .bind(fix_since.as_unix_ms())
        .fetch_all(self.reader())
        .await?;
        for row in &rows {
            let sid: String = row.try_get("subscriber_id")?;
            let Some(c) = by_id.get_mut(&sid) else {
                continue;
            };
            let incident = super::incident_from_state(&row.try_get::<String, _>("state")?)?;
            if let Some(fix) = incident.location.filter(|f| f.at >= fix_since)
                && c.latest_fix.is_none_or(|old| fix.at > old.at)
            {
                c.latest_fix = Some(fix);
            }
        }
        let mut out: Vec<WelfareCandidate> = by_id.into_values().collect();
        out.sort_by_key(|c| c.subscriber_id.0);
        Ok(out)
    }

    async fn request_welfare(
        &self,
        disaster_id: Uuid,
        requests: &[WelfareRequest],
        change: &crate::Change,
    ) -> crate::Result<u64> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let open = sqlx::query("SELECT closed_at_ms FROM disasters WHERE id = $1")
            .bind(disaster_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found(disaster_id))?;
        if open.try_get::<Option<i64>, _>("closed_at_ms")?.is_some() {
            return Err(crate::Error::Conflict(crate::Conflict::DisasterClosed));
        }
        let mut added = 0u64;
        for rows in requests.chunks(super::rows_per_statement(7)) {
            let sql = format!(
                "INSERT INTO welfare_persons (disaster_id, subscriber_id, status, requested_at_ms, position,
                                              position_at_ms, vulnerability)
                 VALUES {} ON CONFLICT (disaster_id, subscriber_id) DO NOTHING",
                super::values_clause(rows.len(), 7)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in rows {
                query = query
                    .bind(disaster_id.to_string())
                    .bind(r.subscriber_id.to_string())
                    .bind(WelfareStatus::NoAnswer.as_str())
                    .bind(change.at.as_unix_ms())
                    .bind(r.position.as_ref().map(|s| s.to_bytes()))
                    .bind(r.position_at.map(Timestamp::as_unix_ms))
                    .bind(r.vulnerability.as_ref().map(|s| s.to_bytes()));
            }
            added += query.execute(&mut *tx).await?.rows_affected();
        }
        // Their guardians are told in the same transaction: a person asked always has their guardians' notices.
        let subscribers: Vec<SubscriberId> = requests.iter().map(|r| r.subscriber_id).collect();
        Self::queue_welfare_notices_in(
            &mut tx,
            &mut chain,
            disaster_id,
            &subscribers,
            crate::outbox::WELFARE_ASKED,
            change.at,
        )
        .await?;
        let mut entry = super::audit(
            change,
            "disaster.welfare_requested",
            format!("disaster/{disaster_id}"),
        );
        entry.detail = serde_json::json!({ "asked": added, "given": requests.len() }).to_string();
        chain.push(entry);
        if added > 0 {
            chain
                .changes
                .push(crate::Committed::DisasterUpdated(disaster_id));
        }
        self.commit_write(tx, chain).await?;
        Ok(added)
    }

    async fn record_welfare_answer(
        &self,
        answer: &NewWelfareAnswer,
        change: &crate::Change,
    ) -> crate::Result<WelfareAnswered> {
        let status = answer.answer.status();
        let did = answer.disaster_id.to_string();
        let (mut tx, mut chain) = self.begin_write().await?;
        let disaster = sqlx::query("SELECT closed_at_ms FROM disasters WHERE id = $1")
            .bind(&did)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found(answer.disaster_id))?;
        // A retry (same answer id) finds its row first: the same answer is a duplicate, another is a conflict.
        let earlier = sqlx::query(
            "SELECT subscriber_id, status FROM welfare_answers
             WHERE disaster_id = $1 AND device_id = $2 AND answer_id = $3",
        )
        .bind(&did)
        .bind(answer.device_id.to_string())
        .bind(answer.answer_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = earlier {
            let recorded = status_from(&row.try_get::<String, _>("status")?)?;
            if recorded != status {
                return Err(crate::Error::Conflict(crate::Conflict::AlreadyExists(
                    "a different answer with this id",
                )));
            }
            return Ok(WelfareAnswered {
                subscriber_id: SubscriberId(super::parse_uuid(
                    &row.try_get::<String, _>("subscriber_id")?,
                )?),
                status,
                duplicate: true,
            });
        }
        if disaster
            .try_get::<Option<i64>, _>("closed_at_ms")?
            .is_some()
        {
            return Err(crate::Error::Conflict(crate::Conflict::DisasterClosed));
        }
        // Writers queue on the audit head: a retry racing this answer committed before the look-up above found it.
        Self::claim_nonce_in(
            &mut tx,
            &crate::NonceClaim {
                device_id: answer.device_id,
                nonce: answer.nonce.clone(),
                at: answer.at,
            },
        )
        .await?;
        // The device must be live and its subscriber asked in this disaster.
        let asked = sqlx::query(
            "SELECT p.subscriber_id FROM devices d
             JOIN welfare_persons p ON p.subscriber_id = d.subscriber_id AND p.disaster_id = $2
             WHERE d.id = $1 AND d.revoked_at IS NULL",
        )
        .bind(answer.device_id.to_string())
        .bind(&did)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found(answer.disaster_id))?;
        let sid: String = asked.try_get("subscriber_id")?;
        sqlx::query(
            "INSERT INTO welfare_answers (disaster_id, device_id, answer_id, subscriber_id, status, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&did)
        .bind(answer.device_id.to_string())
        .bind(answer.answer_id.to_string())
        .bind(&sid)
        .bind(status.as_str())
        .bind(answer.at.as_unix_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE welfare_persons SET status = $3, last_contact_ms = $4,
                 position = COALESCE($5, position), position_at_ms = COALESCE($6, position_at_ms),
                 battery_pct = COALESCE($7, battery_pct), people = COALESCE($8, people)
             WHERE disaster_id = $1 AND subscriber_id = $2",
        )
        .bind(&did)
        .bind(&sid)
        .bind(status.as_str())
        .bind(answer.at.as_unix_ms())
        .bind(answer.position.as_ref().map(|s| s.to_bytes()))
        .bind(
            answer
                .position
                .as_ref()
                .and(answer.position_at)
                .map(Timestamp::as_unix_ms),
        )
        .bind(answer.battery_pct.map(i64::from))
        .bind(answer.people.map(i64::from))
        .execute(&mut *tx)
        .await?;
        let subscriber_id = SubscriberId(super::parse_uuid(&sid)?);
        Self::queue_welfare_notices_in(
            &mut tx,
            &mut chain,
            answer.disaster_id,
            &[subscriber_id],
            crate::outbox::welfare_event(status),
            answer.at,
        )
        .await?;
        let mut entry = super::audit(change, "welfare.answered", format!("disaster/{did}"));
        entry.detail = serde_json::json!({
            "subscriber": sid,
            "device": answer.device_id.to_string(),
            "answer_id": answer.answer_id.to_string(),
            "status": status.as_str(),
        })
        .to_string();
        chain.push(entry);
        chain
            .changes
            .push(crate::Committed::DisasterUpdated(answer.disaster_id));
        self.commit_write(tx, chain).await?;
        Ok(WelfareAnswered {
            subscriber_id,
            status,
            duplicate: false,
        })
    }

    async fn welfare_persons(&self, disaster_id: Uuid) -> crate::Result<Vec<WelfarePerson>> {
        let rows = sqlx::query(
            "SELECT subscriber_id, status, requested_at_ms, last_contact_ms, position, position_at_ms,
                    battery_pct, people, vulnerability
             FROM welfare_persons WHERE disaster_id = $1 ORDER BY subscriber_id",
        )
        .bind(disaster_id.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WelfarePerson {
                    subscriber_id: SubscriberId(super::parse_uuid(
                        &row.try_get::<String, _>("subscriber_id")?,
                    )?),
                    status: status_from(&row.try_get::<String, _>("status")?)?,
                    requested_at: Timestamp::from_unix_ms(row.try_get("requested_at_ms")?),
                    last_contact: row
                        .try_get::<Option<i64>, _>("last_contact_ms")?
                        .map(Timestamp::from_unix_ms),
                    position: sealed_opt(row.try_get("position")?)?,
                    position_at: row
                        .try_get::<Option<i64>, _>("position_at_ms")?
                        .map(Timestamp::from_unix_ms),
                    battery_pct: row
                        .try_get::<Option<i64>, _>("battery_pct")?
                        .map(|b| u8::try_from(b).map_err(|_| crate::Error::corrupt("battery")))
                        .transpose()?,
                    people: row
                        .try_get::<Option<i64>, _>("people")?
                        .map(|b| u32::try_from(b).map_err(|_| crate::Error::corrupt("people")))
                        .transpose()?,
                    vulnerability: sealed_opt(row.try_get("vulnerability")?)?,
                })
            })
            .collect()
    }

    async fn queue_silent_welfare(
        &self,
        asked_before: Timestamp,
        at: Timestamp,
        limit: u32,
    ) -> crate::Result<u64> {
        self.queue_silent_welfare_impl(asked_before, at, limit)
            .await
    }

    async fn pending_welfare(&self, device_id: DeviceId) -> crate::Result<Vec<PendingWelfare>> {
        let sql = format!(
            "SELECT {}, p.status AS person_status FROM disasters x
             JOIN welfare_persons p ON p.disaster_id = x.id
             JOIN devices d ON d.subscriber_id = p.subscriber_id
             WHERE d.id = $1 AND d.revoked_at IS NULL AND x.closed_at_ms IS NULL
             ORDER BY x.declared_at_ms, x.id",
            DISASTER_COLUMNS
                .split(", ")
                .map(|c| format!("x.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(device_id.to_string())
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingWelfare {
                    disaster: disaster_from(row)?,
                    status: status_from(&row.try_get::<String, _>("person_status")?)?,
                })
            })
            .collect()
    }
}
