//! Cooperation's [`jikimi_exchange::store::ExchangeStore`] on the SQL backends (see `crate::exchange` for the
//! design: sealed columns, the record log head, exchange audit rows in the spine chain).

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
    /// The data keyring the cooperation tables are sealed with.
    fn ex_keys(&self) -> jikimi_exchange::Result<&jikimi_privacy::Keyring> {
        crate::exchange_seal::keys(&self.exchange_keys)
    }

    /// Reads the record log head inside a writing transaction.
    async fn ex_head(tx: &mut sqlx::Transaction<'static, DB>) -> jikimi_exchange::Result<i64> {
        let row = sqlx::query("SELECT seq FROM ex_log_head WHERE one = 1")
            .fetch_one(&mut **tx)
            .await
            .map_err(crate::exchange::db("log head"))?;
        row.try_get("seq").map_err(crate::exchange::db("log head"))
    }

    async fn ex_set_head(
        tx: &mut sqlx::Transaction<'static, DB>,
        seq: i64,
    ) -> jikimi_exchange::Result<()> {
        sqlx::query("UPDATE ex_log_head SET seq = $1 WHERE one = 1")
            .bind(seq)
            .execute(&mut **tx)
            .await
            .map_err(crate::exchange::db("log head"))?;
        Ok(())
    }

    /// Writes `record` at log position `seq`, replacing any older copy.
    async fn ex_write_record(
        tx: &mut sqlx::Transaction<'static, DB>,
        keys: &jikimi_privacy::Keyring,
        record: &jikimi_exchange::domain::Record,
        prov: &jikimi_exchange::domain::Provenance,
        seq: i64,
    ) -> jikimi_exchange::Result<()> {
        sqlx::query(
            "INSERT INTO ex_records (id, version, origin, kind, case_id, target, body, received_from, received_under, seq)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, origin = excluded.origin, kind = excluded.kind,
               case_id = excluded.case_id, target = excluded.target, body = excluded.body,
               received_from = excluded.received_from, received_under = excluded.received_under, seq = excluded.seq",
        )
        .bind(record.id.to_string())
        .bind(record.version as i64)
        .bind(record.origin.as_str())
        .bind(record.kind())
        .bind(record.case_id().map(|c| c.to_string()))
        .bind(record.target().map(|c| c.to_string()))
        .bind(crate::exchange_seal::seal_record(keys, record)?)
        .bind(prov.received_from.as_ref().map(|a| a.as_str().to_owned()))
        .bind(prov.received_under.map(|u| u.to_string()))
        .bind(seq)
        .execute(&mut **tx)
        .await
        .map_err(crate::exchange::db("write record"))?;
        Ok(())
    }

    /// Applies a withdrawal or restriction to the local copies of its target; `head` is the log head.
    async fn ex_apply_control(
        tx: &mut sqlx::Transaction<'static, DB>,
        keys: &jikimi_privacy::Keyring,
        control: &jikimi_exchange::domain::Record,
        head: &mut i64,
    ) -> jikimi_exchange::Result<()> {
        use jikimi_exchange::domain::RecordBody;
        if let Some((target, origin)) = crate::exchange::removes(control) {
            // The target and the owner's own records attached to it disappear; a tombstone keeps late copies
            // from resurrecting it.
            sqlx::query("DELETE FROM ex_records WHERE (id = $1 OR (case_id = $1 AND origin = $2)) AND kind IN ('case','lead')")
                .bind(&target)
                .bind(origin)
                .execute(&mut **tx)
                .await
                .map_err(crate::exchange::db("withdraw"))?;
            sqlx::query("INSERT INTO ex_withdrawn (id, by_record) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                .bind(&target)
                .bind(control.id.to_string())
                .execute(&mut **tx)
                .await
                .map_err(crate::exchange::db("withdraw"))?;
        } else if let RecordBody::Restriction {
            target,
            remove_fields,
            marking,
        } = &control.body
        {
            let row = sqlx::query(
                "SELECT body, received_from, received_under FROM ex_records WHERE id = $1",
            )
            .bind(target.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(crate::exchange::db("restrict"))?;
            if let Some(row) = row {
                let mut rec = crate::exchange_seal::open_record(
                    keys,
                    &target.to_string(),
                    &row.try_get::<String, _>("body")
                        .map_err(crate::exchange::db("restrict"))?,
                )?;
                let prov = crate::exchange::provenance(
                    row.try_get("received_from")
                        .map_err(crate::exchange::db("restrict"))?,
                    row.try_get("received_under")
                        .map_err(crate::exchange::db("restrict"))?,
                )?;
                rec.marking = rec.marking.combine(*marking);
                if let Some(c) = rec.content_mut() {
                    let keep: std::collections::BTreeSet<_> =
                        jikimi_exchange::domain::FieldClass::ALL
                            .into_iter()
                            .filter(|f| !remove_fields.contains(f))
                            .collect();
                    let removed = c.redact(&keep);
                    rec.redacted.extend(removed);
                }
                *head += 1;
                Self::ex_write_record(tx, keys, &rec, &prov, *head).await?;
            }
        }
        Ok(())
    }

    fn ex_stored_of(
        keys: &jikimi_privacy::Keyring,
        row: &DB::Row,
    ) -> jikimi_exchange::Result<jikimi_exchange::store::StoredRecord> {
        let id: String = row.try_get("id").map_err(crate::exchange::db("read"))?;
        let body: String = row.try_get("body").map_err(crate::exchange::db("read"))?;
        let seq: i64 = row.try_get("seq").map_err(crate::exchange::db("read"))?;
        Ok(jikimi_exchange::store::StoredRecord {
            record: crate::exchange_seal::open_record(keys, &id, &body)?,
            provenance: crate::exchange::provenance(
                row.try_get("received_from")
                    .map_err(crate::exchange::db("read"))?,
                row.try_get("received_under")
                    .map_err(crate::exchange::db("read"))?,
            )?,
            seq: crate::sql::to_u64(seq).map_err(crate::exchange::ex("read"))?,
        })
    }

    /// The one paged record query: `filter` is a fixed condition with `$1`/`$2` (never data), `after` the
    /// last seq seen, at most `limit` rows in log order. Every record read goes through here.
    async fn ex_records_where(
        &self,
        filter: &'static str,
        key: Option<String>,
        after: i64,
        limit: i64,
    ) -> jikimi_exchange::Result<Vec<jikimi_exchange::store::StoredRecord>> {
        let sql = format!(
            "{} WHERE {filter} AND seq > $2 ORDER BY seq LIMIT $3",
            crate::exchange::RECORD_COLUMNS
        );
        // Only fixed text is formatted in; every value is bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key.unwrap_or_default())
            .bind(after)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db("records"))?;
        let keys = self.ex_keys()?;
        rows.iter()
            .map(|row| Self::ex_stored_of(keys, row))
            .collect()
    }

    /// All pages of `ex_records_where`, for reads that want every match.
    async fn ex_all_where(
        &self,
        filter: &'static str,
        key: Option<String>,
    ) -> jikimi_exchange::Result<Vec<jikimi_exchange::store::StoredRecord>> {
        const PAGE: i64 = 5_000;
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .ex_records_where(filter, key.clone(), after, PAGE)
                .await?;
            let full = page.len() as i64 == PAGE;
            if let Some(last) = page.last() {
                after = last.seq as i64;
            }
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Raw `body` column of every record, in log order: for tests that assert on the database itself.
    pub(crate) async fn ex_raw_bodies(&self) -> jikimi_exchange::Result<Vec<String>> {
        let rows = sqlx::query("SELECT body FROM ex_records ORDER BY seq")
            .fetch_all(self.reader())
            .await
            .map_err(crate::exchange::db("raw"))?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>("body")
                    .map_err(crate::exchange::db("raw"))
            })
            .collect()
    }

    /// Seals the rows an earlier version wrote in clear (agency key, record bodies), in one audited writing
    /// transaction; returns how many it sealed. Idempotent: a sealed row is left alone.
    pub(crate) async fn ex_seal_at_rest(&self) -> jikimi_exchange::Result<u64> {
        use crate::exchange::db;
        let keys = self.ex_keys()?;
        let (mut tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("seal"))?;
        let mut sealed = 0u64;
        let identity = sqlx::query("SELECT secret FROM ex_identity WHERE one = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("seal"))?;
        if let Some(row) = identity {
            let secret: String = row.try_get("secret").map_err(db("seal"))?;
            if !crate::exchange_seal::is_sealed(&secret) {
                let key = crate::exchange_seal::open_signing_key(keys, &secret)?;
                sqlx::query("UPDATE ex_identity SET secret = $1 WHERE one = 1")
                    .bind(crate::exchange_seal::seal_signing_key(keys, &key)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("seal"))?;
                sealed += 1;
            }
        }
        // Clear bodies are JSON objects; sealed ones start with the prefix. Read in pages by id.
        let mut after = String::new();
        loop {
            let rows = sqlx::query(
                "SELECT id, body FROM ex_records WHERE id > $1 AND body NOT LIKE 'sealed:%' ORDER BY id LIMIT 500",
            )
            .bind(&after)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("seal"))?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("id").map_err(db("seal"))?;
            for row in &rows {
                let id: String = row.try_get("id").map_err(db("seal"))?;
                let body: String = row.try_get("body").map_err(db("seal"))?;
                let record = crate::exchange_seal::open_record(keys, &id, &body)?;
                sqlx::query("UPDATE ex_records SET body = $1 WHERE id = $2")
                    .bind(crate::exchange_seal::seal_record(keys, &record)?)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("seal"))?;
                sealed += 1;
            }
        }
        if sealed > 0 {
            chain.push(
                crate::exchange::AuditRow {
                    action: "sealed_at_rest",
                    peer: None,
                    record: None,
                    agreement: None,
                    detail: format!("{sealed} rows written in clear by an earlier version sealed"),
                }
                .entry(),
            );
        }
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("seal"))?;
        Ok(sealed)
    }

    /// Raw `secret` column of the agency identity: for tests that assert on the database itself.
    pub(crate) async fn ex_raw_identity(&self) -> jikimi_exchange::Result<Option<String>> {
        let row = sqlx::query("SELECT secret FROM ex_identity WHERE one = 1")
            .fetch_optional(self.reader())
            .await
            .map_err(crate::exchange::db("raw"))?;
        row.map(|r| {
            r.try_get::<String, _>("secret")
                .map_err(crate::exchange::db("raw"))
        })
        .transpose()
    }

    /// Test hook: writes an identity and a record in clear, as a version before sealing did.
    #[cfg(test)]
    pub(crate) async fn exchange_write_clear(
        &self,
        agency: &jikimi_exchange::domain::Agency,
        key: &ed25519_dalek::SigningKey,
        record: &jikimi_exchange::domain::Record,
    ) {
        sqlx::query("INSERT INTO ex_identity (one, agency, secret) VALUES (1, $1, $2)")
            .bind(crate::exchange::json(agency).expect("agency json"))
            .bind(hex::encode(key.to_bytes()))
            .execute(self.writer())
            .await
            .expect("clear identity");
        sqlx::query(
            "INSERT INTO ex_records (id, version, origin, kind, case_id, target, body, seq) VALUES ($1,$2,$3,$4,NULL,NULL,$5,$6)",
        )
        .bind(record.id.to_string())
        .bind(record.version as i64)
        .bind(record.origin.as_str())
        .bind(record.kind())
        .bind(crate::exchange::json(record).expect("record json"))
        .bind(1_000_000_i64)
        .execute(self.writer())
        .await
        .expect("clear record");
    }

    /// Appends exchange audit rows outside any other change, in one chained transaction.
    async fn ex_audit_only(
        &self,
        rows: Vec<crate::exchange::AuditRow<'_>>,
    ) -> jikimi_exchange::Result<()> {
        let (tx, mut chain) = self
            .begin_write()
            .await
            .map_err(crate::exchange::ex("audit"))?;
        for r in rows {
            chain.push(r.entry());
        }
        self.commit_write(tx, chain)
            .await
            .map_err(crate::exchange::ex("audit"))
    }
}

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
