//! Shared hash banks on the SQL backends ([`jikimi_exchange::hashbank::HashBankStore`], tables of migration 0024):
//! offers, bank events and per-peer delivery marks, each write one spine transaction with its `exchange.bank_*`
//! audit entry naming the signed item's digest and signature. A received offer creates the read-only bank and a
//! received content change updates its content in the same transaction, told to commit observers
//! ([`crate::Committed::IdentifyBank`], [`crate::Committed::IdentifyContent`]) so the server's index follows, as
//! it follows local changes. Hashes, labels and ids only.

use super::{Backend, SqlStore};
use sqlx::Row;

use jikimi_exchange::domain::AgencyId;
use jikimi_exchange::hashbank::{
    BankAck, BankChange, BankEvent, BankOffer, HeldBankEvent, HeldOffer, exchange_origin,
};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::protocol::Signed;

use crate::Committed;
use crate::exchange::{AuditRow, db, ex, json, parse_json};

type ExResult<T> = jikimi_exchange::Result<T>;

fn seq_of(seq: u64, during: &'static str) -> ExResult<i64> {
    crate::sql::to_i64(seq).map_err(ex(during))
}

fn digest_of(text: &str) -> ExResult<Sha256Hex> {
    Sha256Hex::parse(text).map_err(|_| ex("read bank item")(crate::Error::corrupt("bank digest")))
}

#[async_trait::async_trait]
impl<DB: Backend> jikimi_exchange::hashbank::HashBankStore for SqlStore<DB>
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
    for<'a> Option<String>: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB>,
    for<'a> Option<i64>: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB>,
    for<'a> Option<f64>: sqlx::Encode<'a, DB>,
    for<'a> Option<Vec<u8>>: sqlx::Encode<'a, DB>,
{
    async fn put_bank_offer(&self, offer: &Signed<BankOffer>, received: bool) -> ExResult<bool> {
        const DURING: &str = "store bank offer";
        let o = &offer.body;
        let digest = offer.digest()?;
        let (bank, from, to) = (o.bank.to_string(), o.from.to_string(), o.to.to_string());
        let (mut tx, mut chain) = self.begin_write().await.map_err(ex(DURING))?;
        let held = sqlx::query(
            "SELECT digest FROM bank_offers WHERE bank = $1 AND from_agency = $2 AND to_agency = $3",
        )
        .bind(bank.as_str())
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(DURING))?;
        if let Some(row) = &held {
            let d: String = row.try_get("digest").map_err(db(DURING))?;
            if d == digest.as_str() {
                return Ok(false);
            }
        }
        let body = json(offer)?;
        let at = chrono::Utc::now().timestamp_millis();
        if held.is_some() {
            sqlx::query("UPDATE bank_offers SET digest = $1, body = $2, delivered = $3, at_ms = $4 WHERE bank = $5 AND from_agency = $6 AND to_agency = $7")
                .bind(digest.as_str())
                .bind(body)
                .bind(false)
                .bind(at)
                .bind(bank.as_str())
                .bind(from.as_str())
                .bind(to.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db(DURING))?;
        } else {
            sqlx::query("INSERT INTO bank_offers (bank, from_agency, to_agency, origin, digest, body, delivered, at_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")
                .bind(bank.as_str())
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(o.origin.to_string())
                .bind(digest.as_str())
                .bind(body)
                .bind(false)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(db(DURING))?;
        }
        if received {
            let exists = sqlx::query("SELECT origin FROM identify_banks WHERE id = $1")
                .bind(bank.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(DURING))?;
            match exists {
                Some(row) => {
                    let origin: String = row.try_get("origin").map_err(db(DURING))?;
                    if origin != exchange_origin(&o.origin) {
                        return Err(jikimi_exchange::Error::invalid(
                            "offer",
                            "a bank with this id is held here from another origin",
                        ));
                    }
                }
                None => {
                    let name = format!("{} (from {})", o.name, o.origin.short());
                    let taken = sqlx::query("SELECT id FROM identify_banks WHERE name = $1")
                        .bind(name.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db(DURING))?
                        .is_some();
                    let name = if taken {
                        format!("{name} {}", o.bank)
                    } else {
                        name
                    };
                    sqlx::query(
                        "INSERT INTO identify_banks (id, name, match_distance, negative, suppresses, enabled, origin, \
                         created_at_ms, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(bank.as_str())
                    .bind(name)
                    .bind(i64::from(o.match_distance.min(256)))
                    .bind(false)
                    .bind("[]")
                    .bind(true)
                    .bind(exchange_origin(&o.origin))
                    .bind(at)
                    .bind("exchange")
                    .execute(&mut *tx)
                    .await
                    .map_err(db(DURING))?;
                    chain.changes.push(Committed::IdentifyBank(o.bank));
                }
            }
        }
        chain.push(
            AuditRow {
                action: if received {
                    "bank_offer_received"
                } else {
                    "bank_offer_issued"
                },
                peer: Some(if received { from.as_str() } else { to.as_str() }),
                record: Some(bank.clone()),
                agreement: Some(o.agreement.to_string()),
                detail: format!(
                    "bank {} of {} offered by {} to {} category {} digest {} signature {}",
                    o.bank,
                    o.origin.short(),
                    o.from.short(),
                    o.to.short(),
                    o.category.as_deref().unwrap_or("(all)"),
                    digest.as_str(),
                    offer.signature
                ),
            }
            .entry(),
        );
        self.commit_write(tx, chain).await.map_err(ex(DURING))?;
        Ok(true)
    }

    async fn bank_offers(&self) -> ExResult<Vec<HeldOffer>> {
        const DURING: &str = "read bank offers";
        let rows = sqlx::query("SELECT body, delivered FROM bank_offers ORDER BY at_ms, bank")
            .fetch_all(self.reader())
            .await
            .map_err(db(DURING))?;
        rows.iter()
            .map(|r| {
                Ok(HeldOffer {
                    offer: parse_json(&r.try_get::<String, _>("body").map_err(db(DURING))?)?,
                    delivered: r.try_get("delivered").map_err(db(DURING))?,
                })
            })
            .collect()
    }

    async fn put_bank_event(
        &self,
        event: &Signed<BankEvent>,
        from: Option<&AgencyId>,
    ) -> ExResult<bool> {
        const DURING: &str = "store bank event";
        let e = &event.body;
        let digest = event.digest()?;
        let (bank, issuer) = (e.bank.to_string(), e.issuer.to_string());
        let seq = seq_of(e.seq, DURING)?;
        let content = e.change.content().to_string();
        let (mut tx, mut chain) = self.begin_write().await.map_err(ex(DURING))?;
        let held = sqlx::query(
            "SELECT digest FROM bank_events WHERE bank = $1 AND issuer = $2 AND seq = $3",
        )
        .bind(bank.as_str())
        .bind(issuer.as_str())
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(DURING))?;
        if let Some(row) = held {
            let d: String = row.try_get("digest").map_err(db(DURING))?;
            return if d == digest.as_str() {
                Ok(false)
            } else {
                Err(jikimi_exchange::Error::invalid(
                    "bank event",
                    "another event with this number is held",
                ))
            };
        }
        let at = chrono::Utc::now().timestamp_millis();
        sqlx::query("INSERT INTO bank_events (bank, issuer, seq, kind, content, digest, body, received_from, received_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)")
            .bind(bank.as_str())
            .bind(issuer.as_str())
            .bind(seq)
            .bind(e.change.name())
            .bind(content.as_str())
            .bind(digest.as_str())
            .bind(json(event)?)
            .bind(from.map(ToString::to_string))
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db(DURING))?;
        // A content change for a bank held read-only here, fed by this origin: applied to it now.
        let fed_here = from.is_some()
            && sqlx::query("SELECT id FROM identify_banks WHERE id = $1 AND origin = $2")
                .bind(bank.as_str())
                .bind(exchange_origin(&e.origin))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(DURING))?
                .is_some();
        if fed_here && !e.change.is_feedback() {
            let withdrawn = sqlx::query("SELECT seq FROM bank_events WHERE bank = $1 AND content = $2 AND kind = 'withdrawn' AND issuer = $3")
                .bind(bank.as_str())
                .bind(content.as_str())
                .bind(issuer.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(DURING))?
                .is_some();
            let by = exchange_origin(&e.origin);
            match &e.change {
                BankChange::Added {
                    signal_type,
                    signal,
                    category,
                    series,
                    ..
                } => {
                    sqlx::query(
                        "INSERT INTO identify_content (id, bank_id, signal_type, signal, category, series, signal_id, \
                         enabled, quarantined_at_ms, added_at_ms, added_by, changed_at_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11) ON CONFLICT DO NOTHING",
                    )
                    .bind(content.as_str())
                    .bind(bank.as_str())
                    .bind(signal_type.as_str())
                    .bind(signal.as_str())
                    .bind(category.clone())
                    .bind(series.clone())
                    .bind(content.as_str())
                    .bind(!withdrawn)
                    .bind(at)
                    .bind(by.as_str())
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(DURING))?;
                }
                BankChange::Disabled { .. }
                | BankChange::Withdrawn { .. }
                | BankChange::Enabled { .. } => {
                    let enabled = matches!(e.change, BankChange::Enabled { .. }) && !withdrawn;
                    sqlx::query("UPDATE identify_content SET enabled = $1, changed_at_ms = $2 WHERE id = $3 AND bank_id = $4")
                        .bind(enabled)
                        .bind(at)
                        .bind(content.as_str())
                        .bind(bank.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db(DURING))?;
                }
                BankChange::Feedback { .. } => {}
            }
            chain
                .changes
                .push(Committed::IdentifyContent(e.change.content()));
        }
        let at_origin =
            from.is_some() && e.change.is_feedback() && self_is_origin(&mut tx, &e.origin).await?;
        let action = match (from.is_some(), e.change.is_feedback(), at_origin) {
            (false, true, _) => "bank_feedback_issued",
            (false, false, _) => "bank_event_issued",
            (true, true, true) => "bank_feedback_received",
            (true, true, false) => "bank_feedback_relayed",
            (true, false, _) => "bank_event_received",
        };
        let verdict = match &e.change {
            BankChange::Feedback { verdict, .. } => format!(" verdict {}", verdict.as_str()),
            _ => String::new(),
        };
        chain.push(
            AuditRow {
                action,
                peer: Some(
                    from.map(AgencyId::as_str)
                        .unwrap_or_else(|| e.issuer.as_str()),
                ),
                record: Some(bank.clone()),
                agreement: None,
                detail: format!(
                    "bank {} event {}/{} {} content {}{verdict} digest {} signature {}",
                    e.bank,
                    e.issuer.short(),
                    e.seq,
                    e.change.name(),
                    content,
                    digest.as_str(),
                    event.signature
                ),
            }
            .entry(),
        );
        self.commit_write(tx, chain).await.map_err(ex(DURING))?;
        Ok(true)
    }

    async fn bank_events(&self, bank: uuid::Uuid) -> ExResult<Vec<HeldBankEvent>> {
        const DURING: &str = "read bank events";
        let rows = sqlx::query(
            "SELECT body, digest, received_from FROM bank_events WHERE bank = $1 ORDER BY issuer, seq",
        )
        .bind(bank.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(db(DURING))?;
        rows.iter()
            .map(|r| {
                let from: Option<String> = r.try_get("received_from").map_err(db(DURING))?;
                Ok(HeldBankEvent {
                    event: parse_json(&r.try_get::<String, _>("body").map_err(db(DURING))?)?,
                    digest: digest_of(&r.try_get::<String, _>("digest").map_err(db(DURING))?)?,
                    received_from: from.map(|f| AgencyId::parse(&f)).transpose()?,
                })
            })
            .collect()
    }

    async fn bank_last_seq(&self, bank: uuid::Uuid, issuer: &AgencyId) -> ExResult<u64> {
        const DURING: &str = "read bank events";
        let row =
            sqlx::query("SELECT MAX(seq) AS last FROM bank_events WHERE bank = $1 AND issuer = $2")
                .bind(bank.to_string())
                .bind(issuer.as_str())
                .fetch_one(self.reader())
                .await
                .map_err(db(DURING))?;
        let last: Option<i64> = row.try_get("last").map_err(db(DURING))?;
        Ok(last.and_then(|l| u64::try_from(l).ok()).unwrap_or(0))
    }

    async fn bank_delivered(
        &self,
        bank: uuid::Uuid,
        issuer: &AgencyId,
        peer: &AgencyId,
    ) -> ExResult<u64> {
        const DURING: &str = "read bank deliveries";
        let row = sqlx::query(
            "SELECT delivered FROM bank_deliveries WHERE bank = $1 AND issuer = $2 AND peer = $3",
        )
        .bind(bank.to_string())
        .bind(issuer.as_str())
        .bind(peer.as_str())
        .fetch_optional(self.reader())
        .await
        .map_err(db(DURING))?;
        match row {
            Some(r) => {
                let d: i64 = r.try_get("delivered").map_err(db(DURING))?;
                Ok(u64::try_from(d).unwrap_or(0))
            }
            None => Ok(0),
        }
    }

    async fn bank_acknowledged(&self, ack: &Signed<BankAck>) -> ExResult<()> {
        const DURING: &str = "store bank acknowledgement";
        let a = &ack.body;
        let (bank, issuer, peer) = (
            a.bank.to_string(),
            a.issuer.to_string(),
            a.receiver.to_string(),
        );
        let seq = seq_of(a.seq, DURING)?;
        let (mut tx, mut chain) = self.begin_write().await.map_err(ex(DURING))?;
        if a.seq == 0 {
            sqlx::query("UPDATE bank_offers SET delivered = $1 WHERE bank = $2 AND from_agency = $3 AND to_agency = $4 AND digest = $5")
                .bind(true)
                .bind(bank.as_str())
                .bind(issuer.as_str())
                .bind(peer.as_str())
                .bind(a.digest.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db(DURING))?;
        } else {
            sqlx::query("INSERT INTO bank_deliveries (bank, issuer, peer, delivered) VALUES ($1,$2,$3,$4) \
                         ON CONFLICT (bank, issuer, peer) DO UPDATE SET delivered = CASE WHEN bank_deliveries.delivered > excluded.delivered THEN bank_deliveries.delivered ELSE excluded.delivered END")
                .bind(bank.as_str())
                .bind(issuer.as_str())
                .bind(peer.as_str())
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(db(DURING))?;
        }
        chain.push(
            AuditRow {
                action: "bank_ack_received",
                peer: Some(peer.as_str()),
                record: Some(bank.clone()),
                agreement: None,
                detail: format!(
                    "bank {} item {}/{} {:?} digest {} signature {}",
                    a.bank,
                    a.issuer.short(),
                    a.seq,
                    a.outcome,
                    a.digest.as_str(),
                    ack.signature
                ),
            }
            .entry(),
        );
        self.commit_write(tx, chain).await.map_err(ex(DURING))
    }
}

/// Whether this node is `origin` (its own agency identity).
async fn self_is_origin<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    origin: &AgencyId,
) -> ExResult<bool>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row>,
    for<'a> String: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    const DURING: &str = "read identity";
    let me: Option<jikimi_exchange::domain::Agency> =
        sqlx::query("SELECT agency FROM ex_identity WHERE one = 1")
            .fetch_optional(&mut **tx)
            .await
            .map_err(db(DURING))?
            .map(|r| r.try_get::<String, _>("agency"))
            .transpose()
            .map_err(db(DURING))?
            .map(|a| parse_json(&a))
            .transpose()?;
    Ok(me.is_some_and(|m| &m.id == origin))
}
