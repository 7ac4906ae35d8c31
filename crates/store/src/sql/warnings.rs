//! Public warnings ([`crate::WarningStore`]): stored with their `warning.issued` audit entry in one transaction,
//! listed newest first.

use super::{Backend, SqlStore};
use sqlx::Row;

#[async_trait::async_trait]
impl<DB: Backend> crate::WarningStore for SqlStore<DB>
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
    async fn issue_warning(
        &self,
        warning: &crate::WarningRecord,
        change: &crate::Change,
    ) -> crate::Result<()> {
        if serde_json::from_str::<serde_json::Value>(&warning.body).is_err() {
            return Err(crate::Error::Invalid("a warning body must be JSON".into()));
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        sqlx::query("INSERT INTO public_warnings (id, issued_at_ms, body) VALUES ($1, $2, $3)")
            .bind(warning.id.to_string())
            .bind(warning.issued_at.as_unix_ms())
            .bind(warning.body.clone())
            .execute(&mut *tx)
            .await?;
        chain.push(crate::sql::audit(
            change,
            "warning.issued",
            format!("warning/{}", warning.id),
        ));
        self.commit_write(tx, chain).await?;
        Ok(())
    }

    async fn list_warnings(&self, limit: u32) -> crate::Result<Vec<crate::WarningRecord>> {
        let rows = sqlx::query(
            "SELECT id, issued_at_ms, body FROM public_warnings ORDER BY issued_at_ms DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                Ok(crate::WarningRecord {
                    id: uuid::Uuid::parse_str(&id)
                        .map_err(|_| crate::Error::corrupt("warning id is not a uuid"))?,
                    issued_at: jikimi_respond::Timestamp::from_unix_ms(
                        row.try_get("issued_at_ms")?,
                    ),
                    body: row.try_get("body")?,
                })
            })
            .collect()
    }
}
