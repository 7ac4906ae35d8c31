//! Joint operations on the SQL backends ([`jikimi_exchange::store::OperationStore`], tables of migration 0021): each
//! signed event head and its parts sealed at rest (entities, descriptions and log texts are personal and case data),
//! each write one spine transaction with its `exchange.operation_*` audit entry naming the event's digest and
//! signature, so the audit chain of every participant holds every change it issued or received. A received batch
//! ([`OpStep`]s) is one transaction, its steps audited one by one as their single counterparts: one commit (one
//! fsync on SQLite's `synchronous = FULL`) per batch, not per event; the order of application and this node's
//! identity are read once per transaction.

use super::{Backend, SqlStore};
use sqlx::Row;

use jikimi_exchange::domain::{AgencyId, FieldClass};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::operation::{EventHead, OpAck, OpBatchAck, OpEvent, Part, rules};
use jikimi_exchange::protocol::Signed;
use jikimi_exchange::store::{HeldEvent, OpStep};

fn subject(operation: &str, origin: &str, seq: i64) -> String {
    format!("exchange/operation/{operation}/{origin}/{seq}")
}

type Parts = std::collections::BTreeMap<FieldClass, Part>;

const DURING_PUT: &str = "store operation event";

#[async_trait::async_trait]
impl<DB: Backend> jikimi_exchange::store::OperationStore for SqlStore<DB>
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
    async fn put_op_event(&self, event: &OpEvent, applied: bool) -> jikimi_exchange::Result<bool> {
        let keys = self.ex_keys()?;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex(DURING_PUT))?;
        let mut w = Writing::default();
        let fresh = put_in(&mut tx, &mut chain, keys, &mut w, event, applied).await?;
        if fresh {
            self.commit_write(tx, chain)
                .await
                .map_err(crate::exchange::ex(DURING_PUT))?;
        }
        Ok(fresh)
    }

    async fn apply_op_event(
        &self,
        operation: uuid::Uuid,
        origin: &AgencyId,
        seq: u64,
    ) -> jikimi_exchange::Result<()> {
        self.op_steps(&[OpStep::Apply {
            operation,
            origin: origin.clone(),
            seq,
        }])
        .await
    }

    async fn refuse_op_event(
        &self,
        operation: uuid::Uuid,
        origin: &AgencyId,
        seq: u64,
        reason: &str,
    ) -> jikimi_exchange::Result<()> {
        self.op_steps(&[OpStep::Refuse {
            operation,
            origin: origin.clone(),
            seq,
            reason: reason.to_owned(),
        }])
        .await
    }

    async fn op_steps(&self, steps: &[OpStep]) -> jikimi_exchange::Result<()> {
        const DURING: &str = "store operation batch";
        if steps.is_empty() {
            return Ok(());
        }
        let keys = self.ex_keys()?;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex(DURING))?;
        let mut w = Writing::default();
        for step in steps {
            match step {
                OpStep::Put { event, applied } => {
                    put_in(&mut tx, &mut chain, keys, &mut w, event, *applied).await?;
                }
                OpStep::Apply {
                    operation,
                    origin,
                    seq,
                } => apply_in(&mut tx, &mut chain, keys, &mut w, *operation, origin, *seq).await?,
                OpStep::Refuse {
                    operation,
                    origin,
                    seq,
                    reason,
                } => refuse_in(&mut tx, &mut chain, *operation, origin, *seq, reason).await?,
                OpStep::Note {
                    operation,
                    action,
                    detail,
                } => {
                    chain.push(
                        crate::exchange::AuditRow {
                            action: action.as_str(),
                            peer: None,
                            record: Some(operation.to_string()),
                            agreement: None,
                            detail: detail.clone(),
                        }
                        .entry(),
                    );
                }
                OpStep::Rejected {
                    operation,
                    origin,
                    detail,
                } => {
                    chain.push(
                        crate::exchange::AuditRow {
                            action: "operation_event_rejected",
                            peer: Some(origin.as_str()),
                            record: Some(operation.to_string()),
                            agreement: None,
                            detail: detail.clone(),
                        }
                        .entry(),
                    );
                }
            }
        }
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex(DURING))
    }

    async fn op_events(&self, operation: uuid::Uuid) -> jikimi_exchange::Result<Vec<HeldEvent>> {
        self.op_events_since(operation, 0).await
    }

    async fn op_events_since(
        &self,
        operation: uuid::Uuid,
        after: u64,
    ) -> jikimi_exchange::Result<Vec<HeldEvent>> {
        const DURING: &str = "read operation events";
        let keys = self.ex_keys()?;
        let op = operation.to_string();
        let after = crate::sql::to_i64(after).map_err(crate::exchange::ex(DURING))?;
        // Applied ones in order of application, then buffered ones by origin and number.
        let rows = sqlx::query("SELECT origin, seq, digest, head, parts, applied_no FROM op_events WHERE operation = $1 AND (applied_no IS NULL OR applied_no > $2) ORDER BY applied_no IS NULL, applied_no, origin, seq")
            .bind(op.as_str())
            .bind(after)
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db(DURING))?;
        let corrupt = |what: &'static str| crate::exchange::ex(DURING)(crate::Error::corrupt(what));
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let origin: String = row.try_get("origin").map_err(crate::exchange::db(DURING))?;
            let seq: i64 = row.try_get("seq").map_err(crate::exchange::db(DURING))?;
            let subject = subject(&op, &origin, seq);
            let head: String = row.try_get("head").map_err(crate::exchange::db(DURING))?;
            let head: Signed<EventHead> =
                serde_json::from_slice(&crate::exchange_seal::open(keys, &subject, "head", &head)?)
                    .map_err(jikimi_exchange::Error::Encoding)?;
            let parts: Option<String> =
                row.try_get("parts").map_err(crate::exchange::db(DURING))?;
            let parts: Parts = match parts {
                Some(p) => serde_json::from_slice(&crate::exchange_seal::open(
                    keys, &subject, "parts", &p,
                )?)
                .map_err(jikimi_exchange::Error::Encoding)?,
                None => Parts::new(),
            };
            let digest: String = row.try_get("digest").map_err(crate::exchange::db(DURING))?;
            let applied: Option<i64> = row
                .try_get("applied_no")
                .map_err(crate::exchange::db(DURING))?;
            out.push(HeldEvent {
                event: OpEvent { head, parts },
                digest: Sha256Hex::parse(&digest).map_err(|_| corrupt("stored event digest"))?,
                applied: applied.map(|n| n.max(0) as u64),
            });
        }
        Ok(out)
    }

    async fn operations(&self) -> jikimi_exchange::Result<Vec<uuid::Uuid>> {
        const DURING: &str = "list operations";
        let rows = sqlx::query("SELECT operation, MIN(received_ms) AS first_ms FROM op_events GROUP BY operation ORDER BY first_ms DESC, operation")
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db(DURING))?;
        rows.iter()
            .map(|r| {
                let id: String = r
                    .try_get("operation")
                    .map_err(crate::exchange::db(DURING))?;
                crate::exchange::parse_uuid(&id)
            })
            .collect()
    }

    async fn op_delivered(
        &self,
        operation: uuid::Uuid,
        peer: &AgencyId,
    ) -> jikimi_exchange::Result<u64> {
        const DURING: &str = "read operation delivery";
        let row =
            sqlx::query("SELECT delivered FROM op_deliveries WHERE operation = $1 AND peer = $2")
                .bind(operation.to_string())
                .bind(peer.as_str())
                .fetch_optional(self.reader())
                .await
                .map_err(crate::exchange::db(DURING))?;
        Ok(match row {
            Some(r) => {
                let n: i64 = r
                    .try_get("delivered")
                    .map_err(crate::exchange::db(DURING))?;
                n.max(0) as u64
            }
            None => 0,
        })
    }

    async fn op_acknowledged(&self, ack: &Signed<OpAck>) -> jikimi_exchange::Result<()> {
        const DURING: &str = "store operation acknowledgement";
        let a = &ack.body;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex(DURING))?;
        move_mark(&mut tx, a.operation, &a.receiver, a.next_expected).await?;
        chain.push(
            crate::exchange::AuditRow {
                action: "operation_event_acknowledged",
                peer: Some(a.receiver.as_str()),
                record: Some(a.operation.to_string()),
                agreement: None,
                detail: format!(
                    "event {} {:?} by the receiver, next expected {}, digest {} signature {}",
                    a.seq,
                    a.outcome,
                    a.next_expected,
                    a.digest.as_str(),
                    ack.signature
                ),
            }
            .entry(),
        );
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex(DURING))
    }

    async fn op_batch_acknowledged(&self, ack: &Signed<OpBatchAck>) -> jikimi_exchange::Result<()> {
        const DURING: &str = "store operation batch acknowledgement";
        let a = &ack.body;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex(DURING))?;
        for (operation, next) in &a.next_expected {
            move_mark(&mut tx, *operation, &a.receiver, *next).await?;
        }
        let (applied, duplicate, buffered, refused) = a.counts();
        let record = match a.next_expected.keys().collect::<Vec<_>>().as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        };
        chain.push(
            crate::exchange::AuditRow {
                action: "operation_batch_acknowledged",
                peer: Some(a.receiver.as_str()),
                record,
                agreement: None,
                detail: format!(
                    "batch of {} events: {applied} applied, {duplicate} duplicate, {buffered} buffered, {refused} \
                     refused; next expected {:?}; batch digest {} signature {}",
                    a.results.len(),
                    a.next_expected,
                    a.batch.as_str(),
                    ack.signature
                ),
            }
            .entry(),
        );
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex(DURING))
    }
}

/// What one write transaction has read once and reuses for every event it writes.
#[derive(Default)]
struct Writing {
    /// The next place in this node's order of application, once read.
    next_applied: Option<i64>,
    /// This node's agency id, once read (`Some(None)`: no identity).
    me: Option<Option<String>>,
}

impl Writing {
    /// The next number in this node's order of application (read once per transaction, then counted on).
    async fn take_applied<DB: Backend>(
        &mut self,
        tx: &mut sqlx::Transaction<'static, DB>,
    ) -> jikimi_exchange::Result<i64>
    where
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
        for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    {
        let n = match self.next_applied {
            Some(n) => n,
            None => next_applied(tx).await?,
        };
        self.next_applied = Some(n + 1);
        Ok(n)
    }

    /// Whether `origin` is this node's agency.
    async fn is_me<DB: Backend>(
        &mut self,
        tx: &mut sqlx::Transaction<'static, DB>,
        origin: &AgencyId,
    ) -> jikimi_exchange::Result<bool>
    where
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
        for<'a> String: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    {
        if self.me.is_none() {
            let me: Option<jikimi_exchange::domain::Agency> =
                sqlx::query("SELECT agency FROM ex_identity WHERE one = 1")
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(crate::exchange::db(DURING_PUT))?
                    .map(|r| r.try_get::<String, _>("agency"))
                    .transpose()
                    .map_err(crate::exchange::db(DURING_PUT))?
                    .map(|a| crate::exchange::parse_json(&a))
                    .transpose()?;
            self.me = Some(me.map(|m| m.id.to_string()));
        }
        Ok(matches!(&self.me, Some(Some(m)) if m == origin.as_str()))
    }
}

/// Stores one event in `tx` (see [`jikimi_exchange::store::OperationStore::put_op_event`]): false, and nothing written, when it is held
/// already with this digest.
async fn put_in<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    chain: &mut crate::sql::Chain,
    keys: &jikimi_privacy::Keyring,
    w: &mut Writing,
    event: &OpEvent,
    applied: bool,
) -> jikimi_exchange::Result<bool>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> Option<String>: sqlx::Encode<'a, DB>,
    for<'a> Option<i64>: sqlx::Encode<'a, DB>,
{
    let h = &event.head.body;
    let (operation, origin) = (h.operation.to_string(), h.origin.to_string());
    let seq = crate::sql::to_i64(h.seq).map_err(crate::exchange::ex(DURING_PUT))?;
    let digest = event.head.digest()?;
    let held = sqlx::query(
        "SELECT digest FROM op_events WHERE operation = $1 AND origin = $2 AND seq = $3",
    )
    .bind(operation.as_str())
    .bind(origin.as_str())
    .bind(seq)
    .fetch_optional(&mut **tx)
    .await
    .map_err(crate::exchange::db(DURING_PUT))?;
    if let Some(row) = held {
        let d: String = row
            .try_get("digest")
            .map_err(crate::exchange::db(DURING_PUT))?;
        return if d == digest.as_str() {
            Ok(false)
        } else {
            Err(jikimi_exchange::Error::invalid(
                "operation event",
                "another event with this number is held",
            ))
        };
    }
    let subject = subject(&operation, &origin, seq);
    let head_plain = zeroize::Zeroizing::new(crate::exchange::json(&event.head)?);
    let head = crate::exchange_seal::seal(keys, &subject, "head", head_plain.as_bytes())?;
    let parts = if event.parts.is_empty() {
        None
    } else {
        let plain = zeroize::Zeroizing::new(crate::exchange::json(&event.parts)?);
        Some(crate::exchange_seal::seal(
            keys,
            &subject,
            "parts",
            plain.as_bytes(),
        )?)
    };
    let applied_no = if applied {
        Some(w.take_applied(tx).await?)
    } else {
        None
    };
    sqlx::query("INSERT INTO op_events (operation, origin, seq, digest, head, parts, applied_no, received_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")
        .bind(operation.as_str())
        .bind(origin.as_str())
        .bind(seq)
        .bind(digest.as_str())
        .bind(head)
        .bind(parts)
        .bind(applied_no)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&mut **tx)
        .await
        .map_err(crate::exchange::db(DURING_PUT))?;
    if applied {
        erase_withdrawn(tx, h).await?;
    }
    let action = match (w.is_me(tx, &h.origin).await?, applied) {
        (true, _) => "operation_event_issued",
        (false, true) => "operation_event_received",
        (false, false) => "operation_event_buffered",
    };
    chain.push(
        crate::exchange::AuditRow {
            action,
            peer: Some(origin.as_str()),
            record: Some(operation.clone()),
            agreement: None,
            detail: format!(
                "event {}/{} {} parts {:?} digest {} signature {}",
                h.origin.short(),
                h.seq,
                h.change.name(),
                event.parts.keys().collect::<Vec<_>>(),
                digest.as_str(),
                event.head.signature
            ),
        }
        .entry(),
    );
    Ok(true)
}

/// Applies a buffered event in `tx` (see [`jikimi_exchange::store::OperationStore::apply_op_event`]).
async fn apply_in<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    chain: &mut crate::sql::Chain,
    keys: &jikimi_privacy::Keyring,
    w: &mut Writing,
    operation: uuid::Uuid,
    origin: &AgencyId,
    seq: u64,
) -> jikimi_exchange::Result<()>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    const DURING: &str = "apply operation event";
    let (op, from) = (operation.to_string(), origin.to_string());
    let seq = crate::sql::to_i64(seq).map_err(crate::exchange::ex(DURING))?;
    let row = sqlx::query("SELECT head, digest FROM op_events WHERE operation = $1 AND origin = $2 AND seq = $3 AND applied_no IS NULL")
        .bind(op.as_str())
        .bind(from.as_str())
        .bind(seq)
        .fetch_optional(&mut **tx)
        .await
        .map_err(crate::exchange::db(DURING))?
        .ok_or_else(|| jikimi_exchange::Error::not_found("buffered operation event", operation))?;
    let stored: String = row.try_get("head").map_err(crate::exchange::db(DURING))?;
    let digest: String = row.try_get("digest").map_err(crate::exchange::db(DURING))?;
    let plain = crate::exchange_seal::open(keys, &subject(&op, &from, seq), "head", &stored)?;
    let head: Signed<EventHead> =
        serde_json::from_slice(&plain).map_err(jikimi_exchange::Error::Encoding)?;
    let no = w.take_applied(tx).await?;
    sqlx::query(
        "UPDATE op_events SET applied_no = $1 WHERE operation = $2 AND origin = $3 AND seq = $4",
    )
    .bind(no)
    .bind(op.as_str())
    .bind(from.as_str())
    .bind(seq)
    .execute(&mut **tx)
    .await
    .map_err(crate::exchange::db(DURING))?;
    erase_withdrawn(tx, &head.body).await?;
    chain.push(
        crate::exchange::AuditRow {
            action: "operation_event_applied",
            peer: Some(from.as_str()),
            record: Some(op.clone()),
            agreement: None,
            detail: format!(
                "buffered event {}/{} {} applied, digest {digest}",
                origin.short(),
                seq,
                head.body.change.name()
            ),
        }
        .entry(),
    );
    Ok(())
}

/// Drops a buffered event in `tx` (see [`jikimi_exchange::store::OperationStore::refuse_op_event`]).
async fn refuse_in<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    chain: &mut crate::sql::Chain,
    operation: uuid::Uuid,
    origin: &AgencyId,
    seq: u64,
    reason: &str,
) -> jikimi_exchange::Result<()>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    const DURING: &str = "refuse operation event";
    let (op, from) = (operation.to_string(), origin.to_string());
    let n = crate::sql::to_i64(seq).map_err(crate::exchange::ex(DURING))?;
    sqlx::query("DELETE FROM op_events WHERE operation = $1 AND origin = $2 AND seq = $3 AND applied_no IS NULL")
        .bind(op.as_str())
        .bind(from.as_str())
        .bind(n)
        .execute(&mut **tx)
        .await
        .map_err(crate::exchange::db(DURING))?;
    chain.push(
        crate::exchange::AuditRow {
            action: "operation_event_refused",
            peer: Some(from.as_str()),
            record: Some(op.clone()),
            agreement: None,
            detail: format!("event {}/{seq} refused: {reason}", origin.short()),
        }
        .entry(),
    );
    Ok(())
}

/// Moves `peer`'s delivery mark of `operation` forward to just before `next_expected` (never back).
async fn move_mark<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    operation: uuid::Uuid,
    peer: &AgencyId,
    next_expected: u64,
) -> jikimi_exchange::Result<()>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    const DURING: &str = "store operation acknowledgement";
    let op = operation.to_string();
    let through =
        crate::sql::to_i64(next_expected.saturating_sub(1)).map_err(crate::exchange::ex(DURING))?;
    let held: Option<i64> =
        sqlx::query("SELECT delivered FROM op_deliveries WHERE operation = $1 AND peer = $2")
            .bind(op.as_str())
            .bind(peer.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(crate::exchange::db(DURING))?
            .map(|r| r.try_get("delivered"))
            .transpose()
            .map_err(crate::exchange::db(DURING))?;
    match held {
        None => {
            sqlx::query("INSERT INTO op_deliveries (operation, peer, delivered) VALUES ($1,$2,$3)")
                .bind(op.as_str())
                .bind(peer.as_str())
                .bind(through)
                .execute(&mut **tx)
                .await
                .map_err(crate::exchange::db(DURING))?;
        }
        Some(n) if n < through => {
            sqlx::query(
                "UPDATE op_deliveries SET delivered = $1 WHERE operation = $2 AND peer = $3",
            )
            .bind(through)
            .bind(op.as_str())
            .bind(peer.as_str())
            .execute(&mut **tx)
            .await
            .map_err(crate::exchange::db(DURING))?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// The next number in this node's order of application.
async fn next_applied<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
) -> jikimi_exchange::Result<i64>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
    for<'a> i64: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    let row = sqlx::query("SELECT COALESCE(MAX(applied_no), 0) AS n FROM op_events")
        .fetch_one(&mut **tx)
        .await
        .map_err(crate::exchange::db(DURING_PUT))?;
    let n: i64 = row.try_get("n").map_err(crate::exchange::db(DURING_PUT))?;
    Ok(n + 1)
}

/// When `head` is a withdrawal, erases the parts of the event it withdraws.
async fn erase_withdrawn<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    head: &EventHead,
) -> jikimi_exchange::Result<()>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let Some((origin, seq)) = rules::erases(head) else {
        return Ok(());
    };
    let seq = crate::sql::to_i64(seq).map_err(crate::exchange::ex(DURING_PUT))?;
    let op = head.operation.to_string();
    sqlx::query(
        "UPDATE op_events SET parts = NULL WHERE operation = $1 AND origin = $2 AND seq = $3",
    )
    .bind(op.as_str())
    .bind(origin.as_str())
    .bind(seq)
    .execute(&mut **tx)
    .await
    .map_err(crate::exchange::db(DURING_PUT))?;
    Ok(())
}
