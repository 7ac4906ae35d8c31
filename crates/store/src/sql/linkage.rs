//! Entity links ([`crate::LinkageStore`]): linkage runs and analysts' decisions, each audited with its change.

use super::{Backend, SqlStore};
use sqlx::Row;

#[async_trait::async_trait]
impl<DB: Backend> crate::LinkageStore for SqlStore<DB>
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
    async fn record_link_run(
        &self,
        links: Vec<crate::NewEntityLink>,
        change: &crate::Change,
    ) -> crate::Result<crate::LinkRunReport> {
        let mut wanted = std::collections::BTreeMap::new();
        for mut link in links {
            if link.left_ref == link.right_ref {
                continue;
            }
            if link.left_ref > link.right_ref {
                std::mem::swap(&mut link.left_ref, &mut link.right_ref);
            }
            if !(0.0..=1.0).contains(&link.probability) || !link.weight.is_finite() {
                return Err(crate::Error::Invalid(
                    "link probability or weight out of range".into(),
                ));
            }
            wanted.insert(
                (
                    link.kind.clone(),
                    link.left_ref.clone(),
                    link.right_ref.clone(),
                ),
                link,
            );
        }
        let (mut tx, mut chain) = self.begin_write().await?;
        let rows = sqlx::query("SELECT id, kind, left_ref, right_ref, status FROM entity_links")
            .fetch_all(&mut *tx)
            .await?;
        let mut report = crate::LinkRunReport::default();
        let mut stored = std::collections::BTreeMap::new();
        for row in &rows {
            let key: (String, String, String) = (
                row.try_get("kind")?,
                row.try_get("left_ref")?,
                row.try_get("right_ref")?,
            );
            stored.insert(
                key,
                (
                    row.try_get::<String, _>("id")?,
                    row.try_get::<String, _>("status")?,
                ),
            );
        }
        let at = change.at.as_unix_ms();
        for (key, link) in &wanted {
            // One upsert: a pair seen before keeps its id, status and first sighting (an analyst's
            // decision survives a rerun); only the scores and the last run change.
            sqlx::query(
                "INSERT INTO entity_links (id, kind, left_ref, right_ref, probability, weight, evidence,
                                           status, first_seen_ms, last_run_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'proposed', $8, $8)
                 ON CONFLICT (kind, left_ref, right_ref) DO UPDATE SET
                     probability = excluded.probability, weight = excluded.weight,
                     evidence = excluded.evidence, last_run_ms = excluded.last_run_ms",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&link.kind)
            .bind(&link.left_ref)
            .bind(&link.right_ref)
            .bind(link.probability)
            .bind(link.weight)
            .bind(&link.evidence)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if stored.contains_key(key) {
                report.refreshed += 1;
            } else {
                report.added += 1;
            }
        }
        for (key, (id, status)) in &stored {
            if status == "proposed" && !wanted.contains_key(key) {
                sqlx::query("DELETE FROM entity_links WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                report.withdrawn += 1;
            }
        }
        chain.push(
            crate::sql::audit(change, "linkage.run", "entity_links".to_string())
                .with_detail(&serde_json::json!(report)),
        );
        self.commit_write(tx, chain).await?;
        Ok(report)
    }

    async fn list_entity_links(
        &self,
        status: Option<crate::LinkStatus>,
    ) -> crate::Result<Vec<crate::EntityLink>> {
        let rows = sqlx::query(
            "SELECT id, kind, left_ref, right_ref, probability, weight, evidence, status, first_seen_ms,
                    last_run_ms, decided_by, decided_at_ms
             FROM entity_links WHERE ($1 = '' OR status = $1) ORDER BY kind, left_ref, right_ref",
        )
        .bind(status.map_or("", crate::LinkStatus::as_str))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                crate::sql::entity_link_from_columns(
                    &row.try_get::<String, _>("id")?,
                    row.try_get("kind")?,
                    row.try_get("left_ref")?,
                    row.try_get("right_ref")?,
                    (row.try_get("probability")?, row.try_get("weight")?),
                    row.try_get("evidence")?,
                    &row.try_get::<String, _>("status")?,
                    (row.try_get("first_seen_ms")?, row.try_get("last_run_ms")?),
                    row.try_get("decided_by")?,
                    row.try_get("decided_at_ms")?,
                )
            })
            .collect()
    }

    async fn decide_entity_link(
        &self,
        id: uuid::Uuid,
        status: crate::LinkStatus,
        change: &crate::Change,
    ) -> crate::Result<crate::EntityLink> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let decided_by = (status != crate::LinkStatus::Proposed).then(|| change.actor.to_string());
        let decided_at = decided_by.as_ref().map(|_| change.at.as_unix_ms());
        let row = sqlx::query(
            "UPDATE entity_links SET status = $2, decided_by = $3, decided_at_ms = $4 WHERE id = $1
             RETURNING id, kind, left_ref, right_ref, probability, weight, evidence, status, first_seen_ms,
                       last_run_ms, decided_by, decided_at_ms",
        )
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(decided_by.clone())
        .bind(decided_at)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::EntityLink, id))?;
        let link = crate::sql::entity_link_from_columns(
            &row.try_get::<String, _>("id")?,
            row.try_get("kind")?,
            row.try_get("left_ref")?,
            row.try_get("right_ref")?,
            (row.try_get("probability")?, row.try_get("weight")?),
            row.try_get("evidence")?,
            &row.try_get::<String, _>("status")?,
            (row.try_get("first_seen_ms")?, row.try_get("last_run_ms")?),
            row.try_get("decided_by")?,
            row.try_get("decided_at_ms")?,
        )?;
        chain.push(
            crate::sql::audit(change, "linkage.decided", format!("entity_link/{id}")).with_detail(
                &serde_json::json!({
                    "status": status,
                    "kind": link.kind,
                    "left_ref": link.left_ref,
                    "right_ref": link.right_ref,
                }),
            ),
        );
        self.commit_write(tx, chain).await?;
        Ok(link)
    }
}
