//! Freeze and confiscation requests on the SQL backends ([`jikimi_exchange::store::FreezeStore`], tables of
//! migration 0013): the signed request and each signed status sealed at rest (the account and amounts are personal
//! and case data), each write one spine transaction with its `exchange.freeze_*` audit entry naming the message's
//! digest and signature, so the audit chain of each side holds the request and every status.

use super::{Backend, RowsAffected as _, SqlStore};
use sqlx::Row;

use jikimi_exchange::freeze::{Direction, FreezeRequest, FreezeStatus, HeldRequest, HeldStatus};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::protocol::Signed;

fn request_subject(id: &str) -> String {
    format!("exchange/freeze/{id}")
}

fn status_subject(id: &str, seq: i64) -> String {
    format!("exchange/freeze/{id}/{seq}")
}

#[async_trait::async_trait]
impl<DB: Backend> jikimi_exchange::store::FreezeStore for SqlStore<DB>
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
    async fn put_freeze_request(
        &self,
        direction: Direction,
        request: &Signed<FreezeRequest>,
    ) -> jikimi_exchange::Result<bool> {
        const DURING: &str = "store freeze request";
        let keys = self.ex_keys()?;
        let r = &request.body;
        let id = r.id.to_string();
        let digest = request.digest()?;
        let (peer, action) = match direction {
            Direction::Outgoing => (&r.recipient, "freeze_requested"),
            Direction::Incoming => (&r.requester, "freeze_request_received"),
        };
        let plain = zeroize::Zeroizing::new(crate::exchange::json(request)?);
        let body =
            crate::exchange_seal::seal(keys, &request_subject(&id), "request", plain.as_bytes())?;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex(DURING))?;
        let held = sqlx::query("SELECT digest FROM ex_freeze_requests WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(crate::exchange::db(DURING))?;
        let held: Option<String> = held
            .map(|row| row.try_get("digest"))
            .transpose()
            .map_err(crate::exchange::db(DURING))?;
        if let Some(answer) = replay_or_conflict(
            held,
            digest.as_str(),
            "freeze request",
            "another request with this id is held",
        ) {
            return answer;
        }
        sqlx::query("INSERT INTO ex_freeze_requests (id, direction, peer, digest, body, created_ms, delivered) VALUES ($1,$2,$3,$4,$5,$6,$7)")
            .bind(id.as_str())
            .bind(direction.as_str())
            .bind(peer.as_str())
            .bind(digest.as_str())
            .bind(body)
            .bind(r.issued_at.timestamp_millis())
            .bind(i64::from(direction == Direction::Incoming))
            .execute(&mut *tx)
            .await
            .map_err(crate::exchange::db(DURING))?;
        chain.push(
            crate::exchange::AuditRow {
                action,
                peer: Some(peer.as_str()),
                record: Some(id.clone()),
                agreement: Some(r.agreement.to_string()),
                detail: format!(
                    "{:?} request for case {} deadline {} evidence {} digest {} signature {}",
                    r.kind,
                    r.case_id,
                    r.deadline.to_rfc3339(),
                    r.evidence.attachment.sha256.as_str(),
                    digest.as_str(),
                    request.signature
                ),
            }
            .entry(),
        );
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex(DURING))?;
        Ok(true)
    }

    async fn put_freeze_status(
        &self,
        status: &Signed<FreezeStatus>,
    ) -> jikimi_exchange::Result<bool> {
        const DURING: &str = "store freeze status";
        let keys = self.ex_keys()?;
        let s = &status.body;
        let id = s.request.to_string();
        let seq = crate::sql::to_i64(s.seq).map_err(crate::exchange::ex(DURING))?;
        let digest = status.digest()?;
        let plain = zeroize::Zeroizing::new(crate::exchange::json(status)?);
        let body = crate::exchange_seal::seal(
            keys,
            &status_subject(&id, seq),
            "status",
            plain.as_bytes(),
        )?;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex(DURING))?;
        let request = sqlx::query("SELECT direction FROM ex_freeze_requests WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(crate::exchange::db(DURING))?
            .ok_or_else(|| jikimi_exchange::Error::not_found("freeze request", s.request))?;
        let direction: String = request
            .try_get("direction")
            .map_err(crate::exchange::db(DURING))?;
        let issued_here = direction == Direction::Incoming.as_str();
        let held =
            sqlx::query("SELECT digest FROM ex_freeze_statuses WHERE request_id = $1 AND seq = $2")
                .bind(id.as_str())
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await
                .map_err(crate::exchange::db(DURING))?;
        let held: Option<String> = held
            .map(|row| row.try_get("digest"))
            .transpose()
            .map_err(crate::exchange::db(DURING))?;
        if let Some(answer) = replay_or_conflict(
            held,
            digest.as_str(),
            "freeze status",
            "another status with this number is held",
        ) {
            return answer;
        }
        sqlx::query("INSERT INTO ex_freeze_statuses (request_id, seq, digest, body, delivered) VALUES ($1,$2,$3,$4,$5)")
            .bind(id.as_str())
            .bind(seq)
            .bind(digest.as_str())
            .bind(body)
            .bind(i64::from(!issued_here))
            .execute(&mut *tx)
            .await
            .map_err(crate::exchange::db(DURING))?;
        let (action, peer) = if issued_here {
            ("freeze_status_issued", &s.requester)
        } else {
            ("freeze_status_received", &s.issuer)
        };
        chain.push(
            crate::exchange::AuditRow {
                action,
                peer: Some(peer.as_str()),
                record: Some(id.clone()),
                agreement: None,
                detail: format!(
                    "status {} {} digest {} signature {}",
                    s.seq,
                    s.state.name(),
                    digest.as_str(),
                    status.signature
                ),
            }
            .entry(),
        );
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex(DURING))?;
        Ok(true)
    }

    async fn mark_freeze_delivered(
        &self,
        request: uuid::Uuid,
        seq: Option<u64>,
    ) -> jikimi_exchange::Result<()> {
        const DURING: &str = "mark freeze delivered";
        let id = request.to_string();
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex(DURING))?;
        let changed = match seq {
            None => sqlx::query(
                "UPDATE ex_freeze_requests SET delivered = 1 WHERE id = $1 AND delivered = 0",
            )
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(crate::exchange::db(DURING))?,
            Some(n) => sqlx::query("UPDATE ex_freeze_statuses SET delivered = 1 WHERE request_id = $1 AND seq = $2 AND delivered = 0")
                .bind(id.as_str())
                .bind(crate::sql::to_i64(n).map_err(crate::exchange::ex(DURING))?)
                .execute(&mut *tx)
                .await
                .map_err(crate::exchange::db(DURING))?,
        };
        if changed.rows_affected() > 0 {
            chain.push(
                crate::exchange::AuditRow {
                    action: "freeze_delivered",
                    peer: None,
                    record: Some(id.clone()),
                    agreement: None,
                    detail: match seq {
                        None => "request acknowledged by the recipient".into(),
                        Some(n) => format!("status {n} acknowledged by the requester"),
                    },
                }
                .entry(),
            );
        }
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex(DURING))
    }

    async fn freeze_request(&self, id: uuid::Uuid) -> jikimi_exchange::Result<Option<HeldRequest>> {
        Ok(self.ex_freeze_where(Some(id.to_string())).await?.pop())
    }

    async fn freeze_requests(&self) -> jikimi_exchange::Result<Vec<HeldRequest>> {
        self.ex_freeze_where(None).await
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
    /// Requests (one, or all newest first) with their statuses in order, opened with the data keys.
    async fn ex_freeze_where(
        &self,
        id: Option<String>,
    ) -> jikimi_exchange::Result<Vec<HeldRequest>> {
        const DURING: &str = "read freeze requests";
        let keys = self.ex_keys()?;
        let filter = id.clone().unwrap_or_default();
        let rows = sqlx::query("SELECT id, direction, digest, body, delivered FROM ex_freeze_requests WHERE ($1 = '' OR id = $1) ORDER BY created_ms DESC, id")
            .bind(filter.as_str())
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db(DURING))?;
        let status_rows = sqlx::query("SELECT request_id, seq, digest, body, delivered FROM ex_freeze_statuses WHERE ($1 = '' OR request_id = $1) ORDER BY request_id, seq")
            .bind(filter.as_str())
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db(DURING))?;
        let corrupt = |what: &'static str| crate::exchange::ex(DURING)(crate::Error::corrupt(what));
        let mut statuses: std::collections::HashMap<String, Vec<HeldStatus>> =
            std::collections::HashMap::new();
        for row in &status_rows {
            let rid: String = row
                .try_get("request_id")
                .map_err(crate::exchange::db(DURING))?;
            let seq: i64 = row.try_get("seq").map_err(crate::exchange::db(DURING))?;
            let stored: String = row.try_get("body").map_err(crate::exchange::db(DURING))?;
            let plain =
                crate::exchange_seal::open(keys, &status_subject(&rid, seq), "status", &stored)?;
            let status: Signed<FreezeStatus> =
                serde_json::from_slice(&plain).map_err(jikimi_exchange::Error::Encoding)?;
            let digest: String = row.try_get("digest").map_err(crate::exchange::db(DURING))?;
            let delivered: i64 = row
                .try_get("delivered")
                .map_err(crate::exchange::db(DURING))?;
            statuses.entry(rid).or_default().push(HeldStatus {
                status,
                digest: Sha256Hex::parse(&digest).map_err(|_| corrupt("stored status digest"))?,
                delivered: delivered != 0,
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let rid: String = row.try_get("id").map_err(crate::exchange::db(DURING))?;
            let stored: String = row.try_get("body").map_err(crate::exchange::db(DURING))?;
            let plain =
                crate::exchange_seal::open(keys, &request_subject(&rid), "request", &stored)?;
            let request: Signed<FreezeRequest> =
                serde_json::from_slice(&plain).map_err(jikimi_exchange::Error::Encoding)?;
            let direction: String = row
                .try_get("direction")
                .map_err(crate::exchange::db(DURING))?;
            let digest: String = row.try_get("digest").map_err(crate::exchange::db(DURING))?;
            let delivered: i64 = row
                .try_get("delivered")
                .map_err(crate::exchange::db(DURING))?;
            out.push(HeldRequest {
                direction: Direction::parse(&direction)
                    .ok_or_else(|| corrupt("stored freeze direction"))?,
                request,
                digest: Sha256Hex::parse(&digest).map_err(|_| corrupt("stored request digest"))?,
                delivered: delivered != 0,
                statuses: statuses.remove(&rid).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

/// What to answer for a message whose key is already held: the same digest is a replay (`Ok(false)`: nothing
/// changes, the sender may retry forever), another digest under the same key is a conflict. `None`: not held.
fn replay_or_conflict(
    held: Option<String>,
    digest: &str,
    what: &'static str,
    conflict: &'static str,
) -> Option<jikimi_exchange::Result<bool>> {
    let held = held?;
    Some(if held == digest {
        Ok(false)
    } else {
        Err(jikimi_exchange::Error::invalid(what, conflict))
    })
}
