//! Cooperation's record log on the SQL backends: its head, record writes and reads (sealed bodies), withdrawals and
//! restrictions, and sealing rows an earlier version wrote in clear. Used by `sql/exchange.rs`.

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
    /// The data keyring the cooperation tables are sealed with.
    pub(crate) fn ex_keys(&self) -> jikimi_exchange::Result<&jikimi_privacy::Keyring> {
        crate::exchange_seal::keys(&self.exchange_keys)
    }

    /// Reads the record log head inside a writing transaction.
    pub(crate) async fn ex_head(
        tx: &mut sqlx::Transaction<'static, DB>,
    ) -> jikimi_exchange::Result<i64> {
        let row = sqlx::query("SELECT seq FROM ex_log_head WHERE one = 1")
            .fetch_one(&mut **tx)
            .await
            .map_err(crate::exchange::db("log head"))?;
        row.try_get("seq").map_err(crate::exchange::db("log head"))
    }

    pub(crate) async fn ex_set_head(
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
    pub(crate) async fn ex_write_record(
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
    pub(crate) async fn ex_apply_control(
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

    pub(crate) fn ex_stored_of(
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
    pub(crate) async fn ex_records_where(
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
    pub(crate) async fn ex_all_where(
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
    pub(crate) async fn ex_audit_only(
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
