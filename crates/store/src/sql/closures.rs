//! Road closures ([`crate::ClosureStore`]): closed and reopened with their audit entries in one transaction each,
//! and reported to commit observers ([`crate::Committed::RoadClosure`]) so every node re-applies its closures.

use super::{Backend, SqlStore};
use sqlx::Row;

const COLUMNS: &str = "id, closed_at_ms, closed_by, reason, geometry, reopened_at_ms, reopened_by";

impl<DB: Backend> SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> &'a str: sqlx::ColumnIndex<DB::Row> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
{
    fn closure_from_row(row: &DB::Row) -> crate::Result<crate::RoadClosureRecord> {
        let id: String = row.try_get("id")?;
        let reopened_at: Option<i64> = row.try_get("reopened_at_ms")?;
        Ok(crate::RoadClosureRecord {
            id: uuid::Uuid::parse_str(&id)
                .map_err(|_| crate::Error::corrupt("road closure id is not a uuid"))?,
            closed_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("closed_at_ms")?),
            closed_by: row.try_get("closed_by")?,
            reason: row.try_get("reason")?,
            geometry: row.try_get("geometry")?,
            reopened_at: reopened_at.map(jikimi_respond::Timestamp::from_unix_ms),
            reopened_by: row.try_get("reopened_by")?,
        })
    }
}

#[async_trait::async_trait]
impl<DB: Backend> crate::ClosureStore for SqlStore<DB>
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
    async fn close_road(
        &self,
        closure: &crate::RoadClosureRecord,
        change: &crate::Change,
    ) -> crate::Result<()> {
        if serde_json::from_str::<serde_json::Value>(&closure.geometry).is_err() {
            return Err(crate::Error::Invalid(
                "a road closure's geometry must be JSON".into(),
            ));
        }
        if closure.reopened_at.is_some() || closure.reopened_by.is_some() {
            return Err(crate::Error::Invalid(
                "a new road closure cannot be reopened already".into(),
            ));
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO road_closures (id, closed_at_ms, closed_by, reason, geometry) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(closure.id.to_string())
        .bind(closure.closed_at.as_unix_ms())
        .bind(closure.closed_by.clone())
        .bind(closure.reason.clone())
        .bind(closure.geometry.clone())
        .execute(&mut *tx)
        .await?;
        chain
            .changes
            .push(crate::Committed::RoadClosure(closure.id));
        chain.push(crate::sql::audit(
            change,
            "road.closed",
            format!("closure/{}", closure.id),
        ));
        self.commit_write(tx, chain).await?;
        Ok(())
    }

    async fn reopen_road(
        &self,
        id: uuid::Uuid,
        by: &str,
        change: &crate::Change,
    ) -> crate::Result<crate::RoadClosureRecord> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let sql = format!(
            "UPDATE road_closures SET reopened_at_ms = $2, reopened_by = $3
             WHERE id = $1 AND reopened_at_ms IS NULL RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(change.at.as_unix_ms())
            .bind(by.to_owned())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            let exists = sqlx::query("SELECT id FROM road_closures WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            return Err(if exists {
                crate::Error::Conflict(crate::Conflict::AlreadyReopened)
            } else {
                crate::Error::not_found(crate::Entity::RoadClosure, id)
            });
        };
        let closure = Self::closure_from_row(&row)?;
        chain.changes.push(crate::Committed::RoadClosure(id));
        chain.push(crate::sql::audit(
            change,
            "road.reopened",
            format!("closure/{id}"),
        ));
        self.commit_write(tx, chain).await?;
        Ok(closure)
    }

    async fn list_road_closures(
        &self,
        include_reopened: bool,
    ) -> crate::Result<Vec<crate::RoadClosureRecord>> {
        let filter = if include_reopened {
            ""
        } else {
            "WHERE reopened_at_ms IS NULL"
        };
        let sql = format!("SELECT {COLUMNS} FROM road_closures {filter} ORDER BY closed_at_ms, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(Self::closure_from_row).collect()
    }
}
