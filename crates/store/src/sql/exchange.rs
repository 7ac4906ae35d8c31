//! Cooperation's [`jikimi_exchange::store::ExchangeStore`] on the SQL backends (see `crate::exchange` for the
//! design: sealed columns, the record log head, exchange audit rows in the spine chain).

use super::{Backend, RowsAffected as _, SqlStore};
use sqlx::Row;

#[async_trait::async_trait]
impl<DB: Backend> jikimi_exchange::store::ExchangeStore for SqlStore<DB>
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
    async fn identity(
        &self,
    ) -> jikimi_exchange::Result<Option<(jikimi_exchange::domain::Agency, ed25519_dalek::SigningKey)>>
    {
        let row = sqlx::query("SELECT agency, secret FROM ex_identity WHERE one = 1")
            .fetch_optional(self.reader())
            .await
            .map_err(crate::exchange::db("identity"))?;
        let Some(row) = row else { return Ok(None) };
        let agency = crate::exchange::parse_json(
            &row.try_get::<String, _>("agency")
                .map_err(crate::exchange::db("identity"))?,
        )?;
        let secret: String = row
            .try_get("secret")
            .map_err(crate::exchange::db("identity"))?;
        let key = crate::exchange_seal::open_signing_key(self.ex_keys()?, &secret)?;
        Ok(Some((agency, key)))
    }

    async fn set_identity(
        &self,
        agency: &jikimi_exchange::domain::Agency,
        key: &ed25519_dalek::SigningKey,
    ) -> jikimi_exchange::Result<()> {
        let secret = crate::exchange_seal::seal_signing_key(self.ex_keys()?, key)?;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("set identity"))?;
        sqlx::query("INSERT INTO ex_identity (one, agency, secret) VALUES (1, $1, $2)")
            .bind(crate::exchange::json(agency)?)
            .bind(secret)
            .execute(&mut *tx)
            .await
            .map_err(crate::exchange::db("set identity"))?;
        chain.push(
            crate::exchange::AuditRow {
                action: "agency_initialised",
                peer: Some(agency.id.as_str()),
                record: None,
                agreement: None,
                detail: format!("{} ({})", agency.name, agency.country),
            }
            .entry(),
        );
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("set identity"))
    }

    async fn upsert_peer(
        &self,
        peer: &jikimi_exchange::domain::Agency,
    ) -> jikimi_exchange::Result<()> {
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("add peer"))?;
        sqlx::query("INSERT INTO ex_peers (id, agency) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET agency = excluded.agency")
            .bind(peer.id.as_str())
            .bind(crate::exchange::json(peer)?)
            .execute(&mut *tx)
            .await
            .map_err(crate::exchange::db("add peer"))?;
        chain.push(
            crate::exchange::AuditRow {
                action: "peer_stored",
                peer: Some(peer.id.as_str()),
                record: None,
                agreement: None,
                detail: format!("{} ({})", peer.name, peer.country),
            }
            .entry(),
        );
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("add peer"))
    }

    async fn peers(&self) -> jikimi_exchange::Result<Vec<jikimi_exchange::domain::Agency>> {
        let rows = sqlx::query("SELECT agency FROM ex_peers ORDER BY id")
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db("peers"))?;
        rows.iter()
            .map(|r| {
                crate::exchange::parse_json(
                    &r.try_get::<String, _>("agency")
                        .map_err(crate::exchange::db("peers"))?,
                )
            })
            .collect()
    }

    async fn put_agreement(
        &self,
        agreement: &jikimi_exchange::domain::Agreement,
    ) -> jikimi_exchange::Result<()> {
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("agreement"))?;
        sqlx::query("INSERT INTO ex_agreements (id, body) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET body = excluded.body")
            .bind(agreement.id.to_string())
            .bind(crate::exchange::json(agreement)?)
            .execute(&mut *tx)
            .await
            .map_err(crate::exchange::db("agreement"))?;
        chain.push(
            crate::exchange::AuditRow {
                action: if agreement.revoked_at.is_some() {
                    "agreement_revoked"
                } else {
                    "agreement_stored"
                },
                peer: None,
                record: None,
                agreement: Some(agreement.id.to_string()),
                detail: agreement.title.clone(),
            }
            .entry(),
        );
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("agreement"))
    }

    async fn agreements(&self) -> jikimi_exchange::Result<Vec<jikimi_exchange::domain::Agreement>> {
        let rows = sqlx::query("SELECT body FROM ex_agreements ORDER BY id")
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db("agreements"))?;
        rows.iter()
            .map(|r| {
                crate::exchange::parse_json(
                    &r.try_get::<String, _>("body")
                        .map_err(crate::exchange::db("agreements"))?,
                )
            })
            .collect()
    }

    async fn put_local(
        &self,
        record: &jikimi_exchange::domain::Record,
    ) -> jikimi_exchange::Result<u64> {
        self.put_local_many(std::slice::from_ref(record)).await
    }

    async fn put_local_many(
        &self,
        records: &[jikimi_exchange::domain::Record],
    ) -> jikimi_exchange::Result<u64> {
        let keys = self.ex_keys()?;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("put record"))?;
        let mut head = Self::ex_head(&mut tx).await?;
        for record in records {
            if record.is_control() {
                Self::ex_apply_control(&mut tx, keys, record, &mut head).await?;
            }
            head += 1;
            Self::ex_write_record(
                &mut tx,
                keys,
                record,
                &jikimi_exchange::domain::Provenance::local(),
                head,
            )
            .await?;
            chain.push(
                crate::exchange::AuditRow {
                    action: "record_stored",
                    peer: None,
                    record: Some(record.id.to_string()),
                    agreement: None,
                    detail: format!("{} v{}", record.kind(), record.version),
                }
                .entry(),
            );
        }
        Self::ex_set_head(&mut tx, head).await?;
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("put record"))?;
        crate::sql::to_u64(head).map_err(crate::exchange::ex("put record"))
    }

    async fn record(
        &self,
        id: uuid::Uuid,
    ) -> jikimi_exchange::Result<Option<jikimi_exchange::store::StoredRecord>> {
        Ok(self
            .ex_records_where("id = $1", Some(id.to_string()), 0, 1)
            .await?
            .pop())
    }

    async fn records(&self) -> jikimi_exchange::Result<Vec<jikimi_exchange::store::StoredRecord>> {
        self.ex_all_where("$1 = ''", None).await
    }

    async fn case_records(
        &self,
        case_id: uuid::Uuid,
    ) -> jikimi_exchange::Result<Vec<jikimi_exchange::store::StoredRecord>> {
        self.ex_all_where(
            "(id = $1 OR case_id = $1) AND kind IN ('case','lead')",
            Some(case_id.to_string()),
        )
        .await
    }

    async fn log_after(
        &self,
        cursor: u64,
        limit: u32,
    ) -> jikimi_exchange::Result<Vec<jikimi_exchange::store::StoredRecord>> {
        let after = crate::sql::to_i64(cursor).map_err(crate::exchange::ex("log"))?;
        self.ex_records_where("$1 = ''", None, after, i64::from(limit))
            .await
    }

    async fn disclosed_to(
        &self,
        record: uuid::Uuid,
    ) -> jikimi_exchange::Result<std::collections::BTreeSet<jikimi_exchange::domain::AgencyId>>
    {
        let rows = sqlx::query("SELECT DISTINCT peer FROM ex_disclosures WHERE record_id = $1")
            .bind(record.to_string())
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db("disclosed to"))?;
        rows.iter()
            .map(|r| {
                jikimi_exchange::domain::AgencyId::parse(
                    &r.try_get::<String, _>("peer")
                        .map_err(crate::exchange::db("disclosed to"))?,
                )
            })
            .collect()
    }

    async fn record_disclosures(
        &self,
        rows: &[jikimi_exchange::store::DisclosureRow],
    ) -> jikimi_exchange::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("disclose"))?;
        for d in rows {
            sqlx::query("INSERT INTO ex_disclosures (envelope, peer, record_id, version, kind, agreement, at_ms) VALUES ($1,$2,$3,$4,$5,$6,$7)")
                .bind(d.envelope.as_str())
                .bind(d.peer.as_str())
                .bind(d.record.to_string())
                .bind(d.version as i64)
                .bind(d.kind)
                .bind(d.agreement.map(|a| a.to_string()))
                .bind(d.at.timestamp_millis())
                .execute(&mut *tx)
                .await
                .map_err(crate::exchange::db("disclose"))?;
            chain.push(
                crate::exchange::AuditRow {
                    action: "disclosed",
                    peer: Some(d.peer.as_str()),
                    record: Some(d.record.to_string()),
                    agreement: d.agreement.map(|a| a.to_string()),
                    detail: format!("{} v{} envelope {}", d.kind, d.version, d.envelope.as_str()),
                }
                .entry(),
            );
        }
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("disclose"))
    }

    async fn cursor(
        &self,
        peer: &jikimi_exchange::domain::AgencyId,
    ) -> jikimi_exchange::Result<u64> {
        let row = sqlx::query("SELECT cursor FROM ex_cursors WHERE peer = $1")
            .bind(peer.as_str())
            .fetch_optional(self.reader())
            .await
            .map_err(crate::exchange::db("cursor"))?;
        let c: i64 = row
            .map(|r| r.try_get("cursor"))
            .transpose()
            .map_err(crate::exchange::db("cursor"))?
            .unwrap_or(0);
        crate::sql::to_u64(c).map_err(crate::exchange::ex("cursor"))
    }

    async fn known_page(
        &self,
        sender: &jikimi_exchange::domain::AgencyId,
        items: &[(uuid::Uuid, &jikimi_exchange::domain::Record)],
    ) -> jikimi_exchange::Result<Vec<jikimi_exchange::protocol::Known>> {
        use crate::exchange::{db, placeholders};
        use std::collections::{HashMap, HashSet};
        type Meta = (
            u64,
            jikimi_exchange::domain::AgencyId,
            jikimi_exchange::domain::Provenance,
        );
        let mut seen: HashSet<String> = HashSet::new();
        let mut metas: HashMap<String, Meta> = HashMap::new();
        let mut withdrawn: HashSet<String> = HashSet::new();
        for chunk in items.chunks(400) {
            let nonces: Vec<String> = chunk.iter().map(|(n, _)| n.to_string()).collect();
            // Only `$N` placeholders are formatted into the text; every value is bound.
            let sql = format!(
                "SELECT nonce FROM ex_nonces WHERE sender = $1 AND nonce IN ({})",
                placeholders(2, nonces.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(sender.as_str());
            for n in &nonces {
                q = q.bind(n);
            }
            for r in q.fetch_all(self.reader()).await.map_err(db("known"))? {
                seen.insert(r.try_get("nonce").map_err(db("known"))?);
            }
            let ids: Vec<String> = chunk
                .iter()
                .flat_map(|(_, r)| [Some(r.id), r.target()])
                .flatten()
                .map(|u| u.to_string())
                .collect();
            let sql = format!(
                "SELECT id, version, origin, received_from, received_under FROM ex_records WHERE id IN ({})",
                placeholders(1, ids.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(self.reader()).await.map_err(db("known"))? {
                let id: String = r.try_get("id").map_err(db("known"))?;
                let version = r.try_get::<i64, _>("version").map_err(db("known"))? as u64;
                let origin = jikimi_exchange::domain::AgencyId::parse(
                    &r.try_get::<String, _>("origin").map_err(db("known"))?,
                )?;
                let prov = crate::exchange::provenance(
                    r.try_get("received_from").map_err(db("known"))?,
                    r.try_get("received_under").map_err(db("known"))?,
                )?;
                metas.insert(id, (version, origin, prov));
            }
            let sql = format!(
                "SELECT id FROM ex_withdrawn WHERE id IN ({})",
                placeholders(1, ids.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(id);
            }
            for r in q.fetch_all(self.reader()).await.map_err(db("known"))? {
                withdrawn.insert(r.try_get("id").map_err(db("known"))?);
            }
        }
        Ok(items
            .iter()
            .map(|(nonce, record)| {
                let probe = record.target().unwrap_or(record.id).to_string();
                jikimi_exchange::protocol::Known {
                    nonce_seen: seen.contains(&nonce.to_string()),
                    stored: metas.get(&record.id.to_string()).cloned(),
                    target: record
                        .target()
                        .and_then(|t| metas.get(&t.to_string()))
                        .map(|(_, origin, prov)| (origin.clone(), prov.clone())),
                    withdrawn: withdrawn.contains(&probe),
                }
            })
            .collect())
    }

    async fn apply_inbound(
        &self,
        peer: &jikimi_exchange::domain::AgencyId,
        items: &[jikimi_exchange::store::Inbound],
        new_cursor: Option<u64>,
    ) -> jikimi_exchange::Result<()> {
        use crate::exchange::{AuditRow, db};
        use jikimi_exchange::protocol::{Action, Rejection};
        use jikimi_exchange::store::Inbound;
        let keys = self.ex_keys()?;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("apply"))?;
        let mut head = Self::ex_head(&mut tx).await?;
        let start = head;
        for item in items {
            match item {
                Inbound::Accepted {
                    envelope,
                    nonce,
                    action,
                    agreement,
                } => {
                    // A replay inside the same page is caught by the primary key.
                    let fresh = sqlx::query("INSERT INTO ex_nonces (sender, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(peer.as_str())
                        .bind(nonce.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(db("apply"))?
                        .rows_affected()
                        == 1;
                    if !fresh {
                        chain.push(
                            AuditRow {
                                action: "rejected",
                                peer: Some(peer.as_str()),
                                record: None,
                                agreement: None,
                                detail: format!("replay; envelope {}", envelope.as_str()),
                            }
                            .entry(),
                        );
                        continue;
                    }
                    let (what, rec) = match action.as_ref() {
                        Action::Upsert { record, provenance } => {
                            head += 1;
                            Self::ex_write_record(&mut tx, keys, record, provenance, head).await?;
                            ("received", Some(record))
                        }
                        Action::Control { record, provenance } => {
                            Self::ex_apply_control(&mut tx, keys, record, &mut head).await?;
                            head += 1;
                            Self::ex_write_record(&mut tx, keys, record, provenance, head).await?;
                            ("received", Some(record))
                        }
                        Action::Duplicate => ("duplicate", None),
                    };
                    chain.push(
                        AuditRow {
                            action: what,
                            peer: Some(peer.as_str()),
                            record: rec.map(|r| r.id.to_string()),
                            agreement: agreement.map(|a| a.to_string()),
                            detail: match rec {
                                Some(r) => format!(
                                    "{} v{} envelope {}",
                                    r.kind(),
                                    r.version,
                                    envelope.as_str()
                                ),
                                None => format!("envelope {}", envelope.as_str()),
                            },
                        }
                        .entry(),
                    );
                }
                Inbound::Rejected {
                    envelope,
                    nonce,
                    record,
                    rejection,
                } => {
                    // A rejected envelope's nonce is burnt too (unless forged or itself a replay).
                    if let Some(n) = nonce
                        && !matches!(rejection, Rejection::Replay | Rejection::BadSignature)
                    {
                        sqlx::query("INSERT INTO ex_nonces (sender, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                            .bind(peer.as_str())
                            .bind(n.to_string())
                            .execute(&mut *tx)
                            .await
                            .map_err(db("apply"))?;
                    }
                    chain.push(
                        AuditRow {
                            action: "rejected",
                            peer: Some(peer.as_str()),
                            record: record.map(|r| r.to_string()),
                            agreement: None,
                            detail: format!(
                                "{rejection}; envelope {}",
                                envelope.as_ref().map(|e| e.as_str()).unwrap_or("?")
                            ),
                        }
                        .entry(),
                    );
                }
            }
        }
        if head != start {
            Self::ex_set_head(&mut tx, head).await?;
        }
        if let Some(c) = new_cursor {
            sqlx::query(
                "INSERT INTO ex_cursors (peer, cursor) VALUES ($1, $2) ON CONFLICT (peer) DO UPDATE SET cursor =
                   CASE WHEN excluded.cursor > ex_cursors.cursor THEN excluded.cursor ELSE ex_cursors.cursor END",
            )
            .bind(peer.as_str())
            .bind(crate::sql::to_i64(c).map_err(crate::exchange::ex("apply"))?)
            .execute(&mut *tx)
            .await
            .map_err(db("apply"))?;
        }
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("apply"))
    }

    async fn remember_nonce(
        &self,
        sender: &jikimi_exchange::domain::AgencyId,
        nonce: uuid::Uuid,
    ) -> jikimi_exchange::Result<bool> {
        let n = sqlx::query(
            "INSERT INTO ex_nonces (sender, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(sender.as_str())
        .bind(nonce.to_string())
        .execute(self.writer())
        .await
        .map_err(crate::exchange::db("nonce"))?
        .rows_affected();
        Ok(n == 1)
    }

    async fn audit(
        &self,
        action: &str,
        peer: Option<&jikimi_exchange::domain::AgencyId>,
        record: Option<uuid::Uuid>,
        detail: &str,
    ) -> jikimi_exchange::Result<()> {
        self.ex_audit_only(vec![crate::exchange::AuditRow {
            action,
            peer: peer.map(|p| p.as_str()),
            record: record.map(|r| r.to_string()),
            agreement: None,
            detail: detail.to_owned(),
        }])
        .await
    }

    async fn store_receipt(
        &self,
        receipt: &jikimi_exchange::protocol::Receipt,
        sent: bool,
    ) -> jikimi_exchange::Result<()> {
        use crate::exchange::db;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("receipt"))?;
        let peer = if sent {
            &receipt.sender
        } else {
            &receipt.receiver
        };
        let inserted = sqlx::query("INSERT INTO ex_receipts (id, sent, peer, body) VALUES ($1,$2,$3,$4) ON CONFLICT (id) DO NOTHING")
            .bind(receipt.id.to_string())
            .bind(i64::from(sent))
            .bind(peer.as_str())
            .bind(crate::exchange::json(receipt)?)
            .execute(&mut *tx)
            .await
            .map_err(db("receipt"))?
            .rows_affected();
        if inserted == 0 {
            // A receipt delivered twice: nothing new, nothing audited.
            return Ok(());
        }
        if !sent {
            for item in &receipt.items {
                let outcome = serde_json::to_value(&item.outcome)
                    .map_err(jikimi_exchange::Error::Encoding)?;
                sqlx::query("UPDATE ex_disclosures SET receipt = $1, outcome = $2 WHERE envelope = $3 AND peer = $4")
                    .bind(receipt.id.to_string())
                    .bind(outcome.to_string())
                    .bind(item.envelope.as_str())
                    .bind(peer.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("receipt"))?;
            }
        }
        chain.push(
            crate::exchange::AuditRow {
                action: if sent {
                    "receipt_sent"
                } else {
                    "receipt_received"
                },
                peer: Some(peer.as_str()),
                record: None,
                agreement: None,
                detail: format!(
                    "receipt {} for {} envelopes",
                    receipt.id,
                    receipt.items.len()
                ),
            }
            .entry(),
        );
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("receipt"))
    }

    async fn audit_log(&self) -> jikimi_exchange::Result<Vec<jikimi_exchange::store::AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor, action, subject, reason, detail, prev_hash, hash FROM audit_log
             WHERE action LIKE 'exchange.%' ORDER BY seq",
        )
        .fetch_all(self.reader())
        .await
        .map_err(crate::exchange::db("audit log"))?;
        rows.iter()
            .map(|r| {
                let d = crate::exchange::db;
                crate::exchange::exchange_view(jikimi_audit::AuditEntry {
                    seq: crate::sql::to_u64(r.try_get("seq").map_err(d("audit log"))?)
                        .map_err(crate::exchange::ex("audit log"))?,
                    at_unix_ms: r.try_get("at_ms").map_err(d("audit log"))?,
                    actor: r.try_get("actor").map_err(d("audit log"))?,
                    action: r.try_get("action").map_err(d("audit log"))?,
                    subject: r.try_get("subject").map_err(d("audit log"))?,
                    reason: r.try_get("reason").map_err(d("audit log"))?,
                    detail: r.try_get("detail").map_err(d("audit log"))?,
                    prev_hash: [0; 32],
                    hash: [0; 32],
                })
            })
            .collect()
    }

    async fn disclosure_counts(
        &self,
        peer: &jikimi_exchange::domain::AgencyId,
    ) -> jikimi_exchange::Result<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COUNT(receipt) AS r FROM ex_disclosures WHERE peer = $1",
        )
        .bind(peer.as_str())
        .fetch_one(self.reader())
        .await
        .map_err(crate::exchange::db("counts"))?;
        Ok((
            row.try_get::<i64, _>("n")
                .map_err(crate::exchange::db("counts"))? as u64,
            row.try_get::<i64, _>("r")
                .map_err(crate::exchange::db("counts"))? as u64,
        ))
    }
}
