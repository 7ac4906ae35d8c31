//! Follow the money ([`crate::FundsStore`]): transfer sets, their sealed transfers and trace runs, each write
//! audited with its change. Accounts arrive sealed with blind digests; this module never sees one in clear.

use super::{Backend, SqlStore};
use crate::funds::{NewTraceRun, NewTransferSet, SealedTransfer, TraceRun, TransferSet};
use jikimi_privacy::BlindDigest;
use sqlx::Row;
use uuid::Uuid;

const SET_COLUMNS: &str =
    "id, case_id, name, format, currency, decimals, rows_read, transfers, bad_rows, report,
                           created_by, created_at_ms";
const RUN_COLUMNS: &str =
    "id, set_id, case_id, policy, seeds, summary, result_sealed, created_by, created_at_ms";

fn set_from_row<R: Row>(row: &R) -> crate::Result<TransferSet>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let count = |name: &str| -> crate::Result<u64> { super::to_u64(row.try_get::<i64, _>(name)?) };
    Ok(TransferSet {
        id: super::parse_uuid(&row.try_get::<String, _>("id")?)?,
        case_id: super::parse_uuid(&row.try_get::<String, _>("case_id")?)?,
        name: row.try_get("name")?,
        format: row.try_get("format")?,
        currency: row.try_get("currency")?,
        decimals: u32::try_from(row.try_get::<i64, _>("decimals")?)
            .map_err(|_| crate::Error::corrupt("stored decimals out of range"))?,
        rows: count("rows_read")?,
        transfers: count("transfers")?,
        bad_rows: count("bad_rows")?,
        report: row.try_get("report")?,
        created_by: row.try_get("created_by")?,
        created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at_ms")?),
    })
}

fn run_from_row<R: Row>(row: &R) -> crate::Result<TraceRun>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let seeds: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("seeds")?).map_err(|e| {
            crate::Error::corrupt(format!("stored seeds: {}", super::json_position(&e)))
        })?;
    Ok(TraceRun {
        id: super::parse_uuid(&row.try_get::<String, _>("id")?)?,
        set_id: super::parse_uuid(&row.try_get::<String, _>("set_id")?)?,
        case_id: super::parse_uuid(&row.try_get::<String, _>("case_id")?)?,
        policy: row.try_get("policy")?,
        seeds,
        summary: row.try_get("summary")?,
        result: super::sealed_from(&row.try_get::<Vec<u8>, _>("result_sealed")?)?,
        created_by: row.try_get("created_by")?,
        created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at_ms")?),
    })
}

#[async_trait::async_trait]
impl<DB: Backend> crate::FundsStore for SqlStore<DB>
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
    async fn put_transfer_set(
        &self,
        set: &NewTransferSet,
        transfers: Vec<SealedTransfer>,
        change: &crate::Change,
    ) -> crate::Result<TransferSet> {
        let n = super::to_i64(transfers.len() as u64)?;
        let (mut tx, mut chain) = self.begin_write().await?;
        let at = change.at.as_unix_ms();
        sqlx::query(
            "INSERT INTO funds_transfer_sets (id, case_id, name, format, currency, decimals, rows_read, transfers,
                                              bad_rows, report, created_by, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(set.id.to_string())
        .bind(set.case_id.to_string())
        .bind(set.name.as_str())
        .bind(set.format.as_str())
        .bind(set.currency.as_str())
        .bind(i64::from(set.decimals))
        .bind(super::to_i64(set.rows)?)
        .bind(n)
        .bind(super::to_i64(set.bad_rows)?)
        .bind(set.report.as_str())
        .bind(change.actor.to_string())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let per = super::rows_per_statement(9);
        let set_id = set.id.to_string();
        for (chunk_no, rows) in transfers.chunks(per).enumerate() {
            let sql = format!(
                "INSERT INTO funds_transfers (set_id, seq, tx_id, timestamp_ns, amount, from_sealed, to_sealed,
                                              from_digest, to_digest) VALUES {}",
                super::values_clause(rows.len(), 9)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, t) in rows.iter().enumerate() {
                query = query
                    .bind(set_id.as_str())
                    .bind(super::to_i64((chunk_no * per + i) as u64)?)
                    .bind(t.tx_id.as_str())
                    .bind(t.timestamp_ns)
                    .bind(t.amount.to_string())
                    .bind(t.from.to_bytes())
                    .bind(t.to.to_bytes())
                    .bind(t.from_digest.0.to_vec())
                    .bind(t.to_digest.0.to_vec());
            }
            query.execute(&mut *tx).await?;
        }
        chain.push(
            crate::sql::audit(
                change,
                "funds.set_added",
                format!("transfer_set/{}", set.id),
            )
            .with_detail(&serde_json::json!({
                "case_id": set.case_id,
                "format": set.format,
                "currency": set.currency,
                "rows": set.rows,
                "transfers": transfers.len(),
                "bad_rows": set.bad_rows,
            })),
        );
        self.commit_write(tx, chain).await?;
        Ok(TransferSet {
            id: set.id,
            case_id: set.case_id,
            name: set.name.clone(),
            format: set.format.clone(),
            currency: set.currency.clone(),
            decimals: set.decimals,
            rows: set.rows,
            transfers: transfers.len() as u64,
            bad_rows: set.bad_rows,
            report: set.report.clone(),
            created_by: change.actor.to_string(),
            created_at: change.at,
        })
    }

    async fn list_transfer_sets(&self, case_id: Uuid) -> crate::Result<Vec<TransferSet>> {
        let sql = format!(
            "SELECT {SET_COLUMNS} FROM funds_transfer_sets WHERE case_id = $1 ORDER BY created_at_ms, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(case_id.to_string())
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(set_from_row).collect()
    }

    async fn get_transfer_set(&self, id: Uuid) -> crate::Result<TransferSet> {
        let sql = format!("SELECT {SET_COLUMNS} FROM funds_transfer_sets WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| crate::Error::not_found(crate::Entity::TransferSet, id))?;
        set_from_row(&row)
    }

    async fn load_transfers(&self, set_id: Uuid) -> crate::Result<Vec<SealedTransfer>> {
        let rows = sqlx::query(
            "SELECT tx_id, timestamp_ns, amount, from_sealed, to_sealed, from_digest, to_digest
             FROM funds_transfers WHERE set_id = $1 ORDER BY seq",
        )
        .bind(set_id.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SealedTransfer {
                    tx_id: row.try_get("tx_id")?,
                    timestamp_ns: row.try_get("timestamp_ns")?,
                    amount: row
                        .try_get::<String, _>("amount")?
                        .parse()
                        .map_err(|_| crate::Error::corrupt("stored amount is not an integer"))?,
                    from: super::sealed_from(&row.try_get::<Vec<u8>, _>("from_sealed")?)?,
                    to: super::sealed_from(&row.try_get::<Vec<u8>, _>("to_sealed")?)?,
                    from_digest: super::digest_from(&row.try_get::<Vec<u8>, _>("from_digest")?)?,
                    to_digest: super::digest_from(&row.try_get::<Vec<u8>, _>("to_digest")?)?,
                })
            })
            .collect()
    }

    async fn transfer_sets_naming(&self, digest: &BlindDigest) -> crate::Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT DISTINCT set_id FROM funds_transfers WHERE from_digest = $1 OR to_digest = $1
             ORDER BY set_id",
        )
        .bind(digest.0.to_vec())
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| super::parse_uuid(&row.try_get::<String, _>("set_id")?))
            .collect()
    }

    async fn record_trace_run(
        &self,
        run: &NewTraceRun,
        change: &crate::Change,
    ) -> crate::Result<TraceRun> {
        if !matches!(run.policy.as_str(), "haircut" | "fifo") {
            return Err(crate::Error::Invalid("policy: haircut or fifo".into()));
        }
        let seeds = serde_json::to_string(&run.seeds)
            .map_err(|e| crate::Error::Invalid(format!("seeds do not serialise: {e}")))?;
        let (mut tx, mut chain) = self.begin_write().await?;
        let case_id: String = sqlx::query("SELECT case_id FROM funds_transfer_sets WHERE id = $1")
            .bind(run.set_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| crate::Error::not_found(crate::Entity::TransferSet, run.set_id))?
            .try_get("case_id")?;
        sqlx::query(
            "INSERT INTO funds_trace_runs (id, set_id, case_id, policy, seeds, summary, result_sealed, created_by,
                                           created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(run.id.to_string())
        .bind(run.set_id.to_string())
        .bind(case_id.as_str())
        .bind(run.policy.as_str())
        .bind(seeds.as_str())
        .bind(run.summary.as_str())
        .bind(run.result.to_bytes())
        .bind(change.actor.to_string())
        .bind(change.at.as_unix_ms())
        .execute(&mut *tx)
        .await?;
        let summary: serde_json::Value =
            serde_json::from_str(&run.summary).unwrap_or(serde_json::Value::Null);
        chain.push(
            crate::sql::audit(change, "funds.trace_run", format!("trace_run/{}", run.id))
                .with_detail(&serde_json::json!({
                    "set_id": run.set_id,
                    "case_id": case_id,
                    "policy": run.policy,
                    "seeds": run.seeds.len(),
                    "summary": summary,
                })),
        );
        self.commit_write(tx, chain).await?;
        Ok(TraceRun {
            id: run.id,
            set_id: run.set_id,
            case_id: super::parse_uuid(&case_id)?,
            policy: run.policy.clone(),
            seeds: run.seeds.clone(),
            summary: run.summary.clone(),
            result: run.result.clone(),
            created_by: change.actor.to_string(),
            created_at: change.at,
        })
    }

    async fn list_trace_runs(&self, case_id: Uuid) -> crate::Result<Vec<TraceRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM funds_trace_runs WHERE case_id = $1 ORDER BY created_at_ms DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(case_id.to_string())
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn get_trace_run(&self, id: Uuid) -> crate::Result<TraceRun> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM funds_trace_runs WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| crate::Error::not_found(crate::Entity::TraceRun, id))?;
        run_from_row(&row)
    }
}
