//! Identify ([`crate::identify::IdentifyStore`]): banks, content, matches and reviews, each write with its audit
//! entry in one transaction and its [`crate::Committed`] change told after the commit. Audit entries name ids,
//! types and labels, never a signal.

use super::{Backend, RowsAffected as _, SqlStore};
use crate::identify::{
    Bank, Content, LookupRecord, MatchRecord, NewBank, NewContent, SignalType, Verdict,
};
use crate::{Committed, Entity, Error};
use jikimi_respond::Timestamp;
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

const BANK_COLUMNS: &str =
    "id, name, match_distance, negative, suppresses, enabled, origin, created_at_ms, created_by";
const CONTENT_COLUMNS: &str = "id, bank_id, signal_type, signal, category, series, signal_id, enabled, \
     quarantined_at_ms, added_at_ms, added_by, changed_at_ms";
const MATCH_COLUMNS: &str = "id, lookup_id, content_id, bank_id, distance, matched_at_ms, matched_by, verdict, \
     reviewed_by, reviewed_at_ms";

fn uuid(text: &str, what: &'static str) -> crate::Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| Error::corrupt(what))
}

fn u32_of(value: i64, what: &'static str) -> crate::Result<u32> {
    u32::try_from(value).map_err(|_| Error::corrupt(what))
}

fn bank_from<R: Row>(row: &R) -> crate::Result<Bank>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let suppresses: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("suppresses")?)
        .map_err(|_| Error::corrupt("identify_banks.suppresses"))?;
    Ok(Bank {
        id: uuid(&row.try_get::<String, _>("id")?, "identify_banks.id")?,
        name: row.try_get("name")?,
        match_distance: u32_of(
            row.try_get("match_distance")?,
            "identify_banks.match_distance",
        )?,
        negative: row.try_get("negative")?,
        suppresses: suppresses
            .iter()
            .map(|s| uuid(s, "identify_banks.suppresses"))
            .collect::<crate::Result<_>>()?,
        enabled: row.try_get("enabled")?,
        origin: row.try_get("origin")?,
        created_at: Timestamp::from_unix_ms(row.try_get("created_at_ms")?),
        created_by: row.try_get("created_by")?,
    })
}

fn content_from<R: Row>(row: &R) -> crate::Result<Content>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let signal_type: String = row.try_get("signal_type")?;
    Ok(Content {
        id: uuid(&row.try_get::<String, _>("id")?, "identify_content.id")?,
        bank_id: uuid(
            &row.try_get::<String, _>("bank_id")?,
            "identify_content.bank_id",
        )?,
        signal_type: SignalType::parse(&signal_type)
            .ok_or_else(|| Error::corrupt("identify_content.signal_type"))?,
        signal: row.try_get("signal")?,
        category: row.try_get("category")?,
        series: row.try_get("series")?,
        signal_id: row.try_get("signal_id")?,
        enabled: row.try_get("enabled")?,
        quarantined_at: row
            .try_get::<Option<i64>, _>("quarantined_at_ms")?
            .map(Timestamp::from_unix_ms),
        added_at: Timestamp::from_unix_ms(row.try_get("added_at_ms")?),
        added_by: row.try_get("added_by")?,
        changed_at: Timestamp::from_unix_ms(row.try_get("changed_at_ms")?),
    })
}

fn match_from<R: Row>(row: &R) -> crate::Result<MatchRecord>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let verdict: Option<String> = row.try_get("verdict")?;
    Ok(MatchRecord {
        id: uuid(&row.try_get::<String, _>("id")?, "identify_matches.id")?,
        lookup_id: uuid(
            &row.try_get::<String, _>("lookup_id")?,
            "identify_matches.lookup_id",
        )?,
        content_id: uuid(
            &row.try_get::<String, _>("content_id")?,
            "identify_matches.content_id",
        )?,
        bank_id: uuid(
            &row.try_get::<String, _>("bank_id")?,
            "identify_matches.bank_id",
        )?,
        distance: u32_of(row.try_get("distance")?, "identify_matches.distance")?,
        matched_at: Timestamp::from_unix_ms(row.try_get("matched_at_ms")?),
        matched_by: row.try_get("matched_by")?,
        verdict: match verdict {
            None => None,
            Some(v) => {
                Some(Verdict::parse(&v).ok_or_else(|| Error::corrupt("identify_matches.verdict"))?)
            }
        },
        reviewed_by: row.try_get("reviewed_by")?,
        reviewed_at: row
            .try_get::<Option<i64>, _>("reviewed_at_ms")?
            .map(Timestamp::from_unix_ms),
    })
}

#[async_trait::async_trait]
impl<DB: Backend> crate::identify::IdentifyStore for SqlStore<DB>
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
    async fn create_bank(&self, bank: &NewBank, change: &crate::Change) -> crate::Result<Bank> {
        if !bank.negative && !bank.suppresses.is_empty() {
            return Err(Error::Invalid(
                "only a negative bank suppresses other banks".into(),
            ));
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        for other in &bank.suppresses {
            let found = sqlx::query("SELECT id FROM identify_banks WHERE id = $1")
                .bind(other.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(Error::Invalid(format!(
                    "suppressed bank {other} does not exist"
                )));
            }
        }
        let suppresses = serde_json::to_string(
            &bank
                .suppresses
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>(),
        )
        .map_err(|_| Error::corrupt("identify_banks.suppresses"))?;
        let inserted = sqlx::query(
            "INSERT INTO identify_banks (id, name, match_distance, negative, suppresses, enabled, origin, \
             created_at_ms, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(bank.id.to_string())
        .bind(bank.name.clone())
        .bind(i64::from(bank.match_distance))
        .bind(bank.negative)
        .bind(suppresses)
        .bind(true)
        .bind(bank.origin.clone())
        .bind(change.at.as_unix_ms())
        .bind(change.actor.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::Conflict(crate::Conflict::AlreadyExists("bank")));
        }
        chain.push(
            crate::sql::audit(change, "identify.bank_created", format!("bank/{}", bank.id))
                .with_detail(&json!({
                    "name": bank.name,
                    "match_distance": bank.match_distance,
                    "negative": bank.negative,
                    "suppresses": bank.suppresses,
                    "origin": bank.origin,
                })),
        );
        chain.changes.push(Committed::IdentifyBank(bank.id));
        self.commit_write(tx, chain).await?;
        self.get_bank(bank.id).await
    }

    async fn list_banks(&self) -> crate::Result<Vec<Bank>> {
        let sql = format!("SELECT {BANK_COLUMNS} FROM identify_banks ORDER BY name, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(bank_from).collect()
    }

    async fn get_bank(&self, id: Uuid) -> crate::Result<Bank> {
        let sql = format!("SELECT {BANK_COLUMNS} FROM identify_banks WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(row) => bank_from(&row),
            None => Err(Error::not_found(Entity::Bank, id)),
        }
    }

    async fn add_content(
        &self,
        content: &NewContent,
        change: &crate::Change,
    ) -> crate::Result<Content> {
        let bank = self.get_bank(content.bank_id).await?;
        if !bank.is_local() {
            return Err(Error::Invalid(format!(
                "bank {} is fed by {}: it is read-only here",
                bank.id, bank.origin
            )));
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        let at = change.at.as_unix_ms();
        let inserted = sqlx::query(
            "INSERT INTO identify_content (id, bank_id, signal_type, signal, category, series, signal_id, enabled, \
             quarantined_at_ms, added_at_ms, added_by, changed_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11) ON CONFLICT DO NOTHING",
        )
        .bind(content.id.to_string())
        .bind(content.bank_id.to_string())
        .bind(content.signal_type.as_str())
        .bind(content.signal.clone())
        .bind(content.category.clone())
        .bind(content.series.clone())
        .bind(content.signal_id.clone())
        .bind(true)
        .bind(at)
        .bind(change.actor.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::Conflict(crate::Conflict::AlreadyExists("content")));
        }
        chain.push(
            crate::sql::audit(
                change,
                "identify.content_added",
                format!("content/{}", content.id),
            )
            .with_detail(&json!({
                "bank": content.bank_id,
                "signal_type": content.signal_type.as_str(),
                "category": content.category,
                "series": content.series,
                "signal_id": content.signal_id,
            })),
        );
        chain.changes.push(Committed::IdentifyContent(content.id));
        self.commit_write(tx, chain).await?;
        self.get_content(content.id).await
    }

    async fn import_content(
        &self,
        bank_id: Uuid,
        contents: &[NewContent],
        change: &crate::Change,
    ) -> crate::Result<u64> {
        let bank = self.get_bank(bank_id).await?;
        if !bank.is_local() {
            return Err(Error::Invalid(format!(
                "bank {} is fed by {}: it is read-only here",
                bank.id, bank.origin
            )));
        }
        if contents.iter().any(|c| c.bank_id != bank_id) {
            return Err(Error::Invalid(
                "every imported content must name the bank".into(),
            ));
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        let at = change.at.as_unix_ms();
        let actor = change.actor.to_string();
        const COLS: usize = 11;
        for rows in contents.chunks(crate::sql::rows_per_statement(COLS)) {
            let sql = format!(
                "INSERT INTO identify_content (id, bank_id, signal_type, signal, category, series, signal_id, \
                 enabled, added_at_ms, added_by, changed_at_ms) VALUES {}",
                crate::sql::values_clause(rows.len(), COLS)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in rows {
                query = query
                    .bind(c.id.to_string())
                    .bind(c.bank_id.to_string())
                    .bind(c.signal_type.as_str())
                    .bind(c.signal.clone())
                    .bind(c.category.clone())
                    .bind(c.series.clone())
                    .bind(c.signal_id.clone())
                    .bind(true)
                    .bind(at)
                    .bind(actor.clone())
                    .bind(at);
            }
            query.execute(&mut *tx).await?;
        }
        let mut types: Vec<&str> = contents.iter().map(|c| c.signal_type.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        chain.push(
            crate::sql::audit(
                change,
                "identify.content_imported",
                format!("bank/{bank_id}"),
            )
            .with_detail(&json!({ "count": contents.len(), "signal_types": types })),
        );
        chain.changes.push(Committed::IdentifyBankContent(bank_id));
        self.commit_write(tx, chain).await?;
        Ok(contents.len() as u64)
    }

    async fn bank_content_page(
        &self,
        bank_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> crate::Result<Vec<Content>> {
        let sql = format!(
            "SELECT {CONTENT_COLUMNS} FROM identify_content WHERE bank_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bank_id.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(content_from).collect()
    }

    async fn get_content(&self, id: Uuid) -> crate::Result<Content> {
        let sql = format!("SELECT {CONTENT_COLUMNS} FROM identify_content WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(row) => content_from(&row),
            None => Err(Error::not_found(Entity::Content, id)),
        }
    }

    async fn set_content_enabled(
        &self,
        id: Uuid,
        enabled: bool,
        change: &crate::Change,
    ) -> crate::Result<Content> {
        let content = self.get_content(id).await?;
        let bank = self.get_bank(content.bank_id).await?;
        if !bank.is_local() {
            return Err(Error::Invalid(format!(
                "bank {} is fed by {}: its content changes at its origin",
                bank.id, bank.origin
            )));
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        sqlx::query("UPDATE identify_content SET enabled = $1, changed_at_ms = $2 WHERE id = $3")
            .bind(enabled)
            .bind(change.at.as_unix_ms())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let action = if enabled {
            "identify.content_enabled"
        } else {
            "identify.content_disabled"
        };
        chain.push(
            crate::sql::audit(change, action, format!("content/{id}"))
                .with_detail(&json!({ "bank": content.bank_id })),
        );
        chain.changes.push(Committed::IdentifyContent(id));
        self.commit_write(tx, chain).await?;
        self.get_content(id).await
    }

    async fn content_page(&self, after: Option<Uuid>, limit: u32) -> crate::Result<Vec<Content>> {
        let sql = format!(
            "SELECT {CONTENT_COLUMNS} FROM identify_content WHERE id > $1 ORDER BY id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(content_from).collect()
    }

    async fn record_lookups(&self, lookups: &[(LookupRecord, crate::Change)]) -> crate::Result<()> {
        if lookups.is_empty() {
            return Ok(());
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        // Every match of the batch in as few statements as the bind limit allows: a busy bank records hundreds
        // of lookups per transaction, and a statement per match was most of the transaction's time.
        let matches: Vec<_> = lookups
            .iter()
            .flat_map(|(lookup, change)| lookup.matches.iter().map(move |m| (lookup, change, m)))
            .collect();
        for rows in matches.chunks(crate::sql::rows_per_statement(7)) {
            let sql = format!(
                "INSERT INTO identify_matches (id, lookup_id, content_id, bank_id, distance, matched_at_ms, \
                 matched_by) VALUES {}",
                crate::sql::values_clause(rows.len(), 7)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (lookup, change, m) in rows {
                query = query
                    .bind(m.id.to_string())
                    .bind(lookup.id.to_string())
                    .bind(m.content_id.to_string())
                    .bind(m.bank_id.to_string())
                    .bind(i64::from(m.distance))
                    .bind(change.at.as_unix_ms())
                    .bind(change.actor.to_string());
            }
            query.execute(&mut *tx).await?;
        }
        for (lookup, change) in lookups {
            chain.push(
                crate::sql::audit(change, "identify.lookup", format!("lookup/{}", lookup.id))
                    .with_detail(&json!({
                        "kind": lookup.kind,
                        "banks": lookup.banks,
                        "matches": lookup.matches.iter().map(|m| json!({
                            "match": m.id, "content": m.content_id, "bank": m.bank_id, "distance": m.distance,
                        })).collect::<Vec<_>>(),
                        "withheld": lookup.withheld,
                    })),
            );
        }
        self.commit_write(tx, chain).await
    }

    async fn set_quarantine(
        &self,
        id: Uuid,
        quarantined: bool,
        change: &crate::Change,
    ) -> crate::Result<Content> {
        let content = self.get_content(id).await?;
        if content.quarantined_at.is_some() == quarantined {
            return Ok(content);
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        sqlx::query("UPDATE identify_content SET quarantined_at_ms = $1 WHERE id = $2")
            .bind(quarantined.then(|| change.at.as_unix_ms()))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let action = if quarantined {
            "identify.quarantined"
        } else {
            "identify.released"
        };
        chain.push(
            crate::sql::audit(change, action, format!("content/{id}"))
                .with_detail(&json!({ "bank": content.bank_id })),
        );
        chain.changes.push(Committed::IdentifyContent(id));
        self.commit_write(tx, chain).await?;
        self.get_content(id).await
    }

    async fn review_match(
        &self,
        id: Uuid,
        verdict: Verdict,
        change: &crate::Change,
    ) -> crate::Result<MatchRecord> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE identify_matches SET verdict = $1, reviewed_by = $2, reviewed_at_ms = $3 WHERE id = $4",
        )
        .bind(verdict.as_str())
        .bind(change.actor.to_string())
        .bind(change.at.as_unix_ms())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Error::not_found(Entity::Match, id));
        }
        chain.push(
            crate::sql::audit(change, "identify.reviewed", format!("match/{id}"))
                .with_detail(&json!({ "verdict": verdict.as_str() })),
        );
        self.commit_write(tx, chain).await?;
        self.get_match(id).await
    }

    async fn get_match(&self, id: Uuid) -> crate::Result<MatchRecord> {
        let sql = format!("SELECT {MATCH_COLUMNS} FROM identify_matches WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        match row {
            Some(row) => match_from(&row),
            None => Err(Error::not_found(Entity::Match, id)),
        }
    }
}
