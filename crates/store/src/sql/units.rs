//! Units ([`crate::UnitStore`]): the fleet, AVL positions, statuses, and the incident transitions that move a unit
//! (dispatch re-checks availability inside its one transaction).

use super::{Backend, RowsAffected as _, SqlStore};
use sqlx::Row;

/// The columns every unit query reads.
const UNIT_COLUMNS: &str = "id, status, lat, lon, reported_at, unit_type, capabilities";

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
    pub(crate) fn unit_from_row(row: &DB::Row) -> crate::Result<jikimi_respond::Unit> {
        crate::sql::unit_from_columns(
            row.try_get("id")?,
            &row.try_get::<String, _>("status")?,
            row.try_get("lat")?,
            row.try_get("lon")?,
            row.try_get("reported_at")?,
            &row.try_get::<String, _>("unit_type")?,
            &row.try_get::<String, _>("capabilities")?,
        )
    }

    /// A unit, read inside a writing transaction.
    pub(crate) async fn unit_in(
        tx: &mut sqlx::Transaction<'static, DB>,
        id: &jikimi_respond::UnitId,
    ) -> crate::Result<jikimi_respond::Unit> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::Unit, id))?;
        Self::unit_from_row(&row)
    }

    /// Sets a unit's status inside a writing transaction, reports the unit and audits `unit.status`.
    pub(crate) async fn set_status_in(
        tx: &mut sqlx::Transaction<'static, DB>,
        chain: &mut super::Chain,
        id: &jikimi_respond::UnitId,
        status: jikimi_respond::UnitStatus,
        change: &crate::Change,
    ) -> crate::Result<jikimi_respond::Unit> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE units SET status = $2 WHERE id = $1 RETURNING {UNIT_COLUMNS}"
        )))
        .bind(id.as_str())
        .bind(status.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::Unit, id))?;
        let unit = Self::unit_from_row(&row)?;
        chain
            .changes
            .push(crate::Committed::UnitUpdated(unit.id.clone()));
        chain.push(
            crate::sql::audit(change, "unit.status", format!("unit/{id}"))
                .with_detail(&serde_json::json!({ "status": status })),
        );
        Ok(unit)
    }
}

#[async_trait::async_trait]
impl<DB: Backend> crate::UnitStore for SqlStore<DB>
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
    async fn put_unit(
        &self,
        unit: &jikimi_respond::Unit,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO units (id, status, lat, lon, reported_at, unit_type, capabilities)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, lat = excluded.lat, lon = excluded.lon,
                 reported_at = excluded.reported_at, unit_type = excluded.unit_type,
                 capabilities = excluded.capabilities",
        )
        .bind(unit.id.as_str())
        .bind(unit.status.as_str())
        .bind(unit.position.map(|p| p.lat()))
        .bind(unit.position.map(|p| p.lon()))
        .bind(unit.reported_at.map(|t| t.as_unix_ms()))
        .bind(unit.unit_type.as_str())
        .bind(jikimi_respond::rescue::capabilities_to_text(&unit.capabilities))
        .execute(&mut *tx)
        .await?;
        chain
            .changes
            .push(crate::Committed::UnitUpdated(unit.id.clone()));
        chain.push(
            crate::sql::audit(change, "unit.saved", format!("unit/{}", unit.id)).with_detail(
                &serde_json::json!({
                    "status": unit.status,
                    "unit_type": unit.unit_type,
                    "capabilities": unit.capabilities,
                }),
            ),
        );
        self.commit_write(tx, chain).await
    }

    async fn report_position(
        &self,
        id: &jikimi_respond::UnitId,
        report: crate::PositionReport,
    ) -> crate::Result<()> {
        let n = sqlx::query("UPDATE units SET lat = $2, lon = $3, reported_at = $4 WHERE id = $1")
            .bind(id.as_str())
            .bind(report.position.lat())
            .bind(report.position.lon())
            .bind(report.at.as_unix_ms())
            .execute(self.writer())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(crate::Error::not_found(crate::Entity::Unit, id));
        }
        // One statement, committed on its own: reported now that it is.
        let mut changes = crate::ChangeSet::new();
        changes.push(crate::Committed::UnitUpdated(id.clone()));
        self.observers.committed(&changes);
        Ok(())
    }

    async fn report_positions(
        &self,
        reports: &[(jikimi_respond::UnitId, crate::PositionReport)],
    ) -> crate::Result<Vec<jikimi_respond::Unit>> {
        let mut tx = self.writer().begin().await?;
        let mut units = Vec::with_capacity(reports.len());
        for (id, report) in reports {
            let row = sqlx::query(
                sqlx::AssertSqlSafe(format!(
                "UPDATE units SET lat = $2, lon = $3, reported_at = $4 WHERE id = $1 RETURNING {UNIT_COLUMNS}"
            )),
            )
            .bind(id.as_str())
            .bind(report.position.lat())
            .bind(report.position.lon())
            .bind(report.at.as_unix_ms())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                units.push(Self::unit_from_row(&row)?);
            }
        }
        tx.commit().await?;
        let mut changes = crate::ChangeSet::new();
        for unit in &units {
            changes.push(crate::Committed::UnitUpdated(unit.id.clone()));
        }
        self.observers.committed(&changes);
        Ok(units)
    }

    async fn set_unit_status(
        &self,
        id: &jikimi_respond::UnitId,
        status: jikimi_respond::UnitStatus,
        change: &crate::Change,
    ) -> crate::Result<jikimi_respond::Unit> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let unit = Self::set_status_in(&mut tx, &mut chain, id, status, change).await?;
        self.commit_write(tx, chain).await?;
        Ok(unit)
    }

    async fn dispatch(
        &self,
        incident_id: jikimi_respond::IncidentId,
        expected_seq: Option<u64>,
        unit: &jikimi_respond::UnitId,
        change: &crate::Change,
    ) -> crate::Result<jikimi_respond::Incident> {
        self.dispatch_checked(incident_id, expected_seq, unit, None, change)
            .await
    }

    async fn dispatch_for_need(
        &self,
        incident_id: jikimi_respond::IncidentId,
        expected_seq: Option<u64>,
        unit: &jikimi_respond::UnitId,
        need: &jikimi_respond::UnitNeed,
        override_need: bool,
        change: &crate::Change,
    ) -> crate::Result<jikimi_respond::Incident> {
        self.dispatch_checked(
            incident_id,
            expected_seq,
            unit,
            Some((need, override_need)),
            change,
        )
        .await
    }

    async fn set_incident_need(
        &self,
        incident_id: jikimi_respond::IncidentId,
        need: Option<&jikimi_respond::UnitNeed>,
        change: &crate::Change,
    ) -> crate::Result<()> {
        self.set_incident_need_impl(incident_id, need, change).await
    }

    async fn incident_need_facts(
        &self,
        incident_id: jikimi_respond::IncidentId,
    ) -> crate::Result<crate::rescue::IncidentNeedFacts> {
        self.incident_need_facts_impl(incident_id).await
    }

    async fn append_event_moving_unit(
        &self,
        incident_id: jikimi_respond::IncidentId,
        expected_seq: Option<u64>,
        kind: jikimi_respond::EventKind,
        unit_status: jikimi_respond::UnitStatus,
        change: &crate::Change,
    ) -> crate::Result<jikimi_respond::Incident> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let incident =
            Self::append_in(&mut tx, &mut chain, incident_id, expected_seq, kind, change).await?;
        if let Some(unit) = &incident.assigned_unit {
            Self::set_status_in(&mut tx, &mut chain, unit, unit_status, change).await?;
        }
        self.commit_write(tx, chain).await?;
        Ok(incident)
    }

    async fn get_unit(&self, id: &jikimi_respond::UnitId) -> crate::Result<jikimi_respond::Unit> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::Unit, id))?;
        Self::unit_from_row(&row)
    }

    async fn list_units(&self) -> crate::Result<Vec<jikimi_respond::Unit>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM units ORDER BY id"
        )))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(Self::unit_from_row).collect()
    }
}
