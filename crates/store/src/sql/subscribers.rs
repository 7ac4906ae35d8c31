//! Subscribers and guardians ([`crate::SubscriberStore`]): sealed fields, blind indexes, export and erasure.

use super::{Backend, RowsAffected as _, SqlStore};
use crate::prelude::{DeviceStore as _, IncidentStore as _};
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
    pub(crate) async fn sealed_fields_of(
        &self,
        owner: &str,
    ) -> crate::Result<std::collections::BTreeMap<String, jikimi_privacy::Sealed>> {
        let rows =
            sqlx::query("SELECT field, sealed FROM sealed_fields WHERE owner = $1 ORDER BY field")
                .bind(owner)
                .fetch_all(self.reader())
                .await?;
        let mut fields = std::collections::BTreeMap::new();
        for row in rows {
            let sealed = crate::sql::sealed_from(&row.try_get::<Vec<u8>, _>("sealed")?)?;
            fields.insert(row.try_get::<String, _>("field")?, sealed);
        }
        Ok(fields)
    }

    pub(crate) async fn replace_sealed_fields(
        tx: &mut sqlx::Transaction<'static, DB>,
        owner: &str,
        fields: &std::collections::BTreeMap<String, jikimi_privacy::Sealed>,
    ) -> crate::Result<()> {
        sqlx::query("DELETE FROM sealed_fields WHERE owner = $1")
            .bind(owner)
            .execute(&mut **tx)
            .await?;
        for (field, sealed) in fields {
            sqlx::query("INSERT INTO sealed_fields (owner, field, sealed) VALUES ($1, $2, $3)")
                .bind(owner)
                .bind(field)
                .bind(sealed.to_bytes())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn guardians_of(
        &self,
        subscriber_id: jikimi_respond::SubscriberId,
    ) -> crate::Result<Vec<crate::GuardianRecord>> {
        let rows = sqlx::query(
            "SELECT id, created_at FROM guardians WHERE subscriber_id = $1 ORDER BY created_at, id",
        )
        .bind(subscriber_id.to_string())
        .fetch_all(self.reader())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id = crate::GuardianId(crate::sql::parse_uuid(&row.try_get::<String, _>("id")?)?);
            out.push(crate::GuardianRecord {
                id,
                subscriber_id,
                fields: self.sealed_fields_of(&format!("guardian/{id}")).await?,
                created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
            });
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl<DB: Backend> crate::SubscriberStore for SqlStore<DB>
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
    async fn put_subscriber(
        &self,
        record: &crate::SubscriberRecord,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let id = record.id.to_string();
        sqlx::query(
            "INSERT INTO subscribers (id, created_at, updated_at, language) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, language = excluded.language",
        )
        .bind(&id)
        .bind(record.created_at.as_unix_ms())
        .bind(record.updated_at.as_unix_ms())
        .bind(&record.language)
        .execute(&mut *tx)
        .await?;
        Self::replace_sealed_fields(&mut tx, &format!("subscriber/{id}"), &record.fields).await?;
        sqlx::query("DELETE FROM blind_indexes WHERE subscriber_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let mut indexes = record.indexes.clone();
        indexes.sort();
        indexes.dedup();
        for entry in &indexes {
            sqlx::query(
                "INSERT INTO blind_indexes (subscriber_id, domain, digest) VALUES ($1, $2, $3)",
            )
            .bind(&id)
            .bind(&entry.domain)
            .bind(&entry.digest.0[..])
            .execute(&mut *tx)
            .await?;
        }
        chain.push(
            crate::sql::audit(change, "subscriber.saved", format!("subscriber/{id}")).with_detail(
                &serde_json::json!({ "fields": record.fields.keys().collect::<Vec<_>>() }),
            ),
        );
        self.commit_write(tx, chain).await
    }

    async fn set_subscriber_language(
        &self,
        id: jikimi_respond::SubscriberId,
        language: &str,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let n = sqlx::query("UPDATE subscribers SET language = $2, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(language)
            .bind(change.at.as_unix_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(crate::Error::not_found(crate::Entity::Subscriber, id));
        }
        chain.push(
            crate::sql::audit(
                change,
                "subscriber.language_set",
                format!("subscriber/{id}"),
            )
            .with_detail(&serde_json::json!({ "language": language })),
        );
        self.commit_write(tx, chain).await
    }

    async fn get_subscriber(
        &self,
        id: jikimi_respond::SubscriberId,
    ) -> crate::Result<crate::SubscriberRecord> {
        let row =
            sqlx::query("SELECT created_at, updated_at, language FROM subscribers WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(self.reader())
                .await?
                .ok_or_else(|| crate::Error::not_found(crate::Entity::Subscriber, id))?;
        let index_rows =
            sqlx::query("SELECT domain, digest FROM blind_indexes WHERE subscriber_id = $1 ORDER BY domain, digest")
                .bind(id.to_string())
                .fetch_all(self.reader())
                .await?;
        let mut indexes = Vec::with_capacity(index_rows.len());
        for r in index_rows {
            indexes.push(crate::IndexEntry {
                domain: r.try_get("domain")?,
                digest: crate::sql::digest_from(&r.try_get::<Vec<u8>, _>("digest")?)?,
            });
        }
        indexes.sort();
        Ok(crate::SubscriberRecord {
            id,
            fields: self.sealed_fields_of(&format!("subscriber/{id}")).await?,
            indexes,
            language: row.try_get("language")?,
            created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
            updated_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("updated_at")?),
        })
    }

    async fn find_subscribers(
        &self,
        domain: &str,
        digest: &jikimi_privacy::BlindDigest,
    ) -> crate::Result<Vec<jikimi_respond::SubscriberId>> {
        let rows = sqlx::query(
            "SELECT DISTINCT subscriber_id FROM blind_indexes WHERE domain = $1 AND digest = $2
             ORDER BY subscriber_id",
        )
        .bind(domain)
        .bind(&digest.0[..])
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(jikimi_respond::SubscriberId(crate::sql::parse_uuid(
                    &r.try_get::<String, _>("subscriber_id")?,
                )?))
            })
            .collect()
    }

    async fn export_subscriber(
        &self,
        id: jikimi_respond::SubscriberId,
        change: &crate::Change,
    ) -> crate::Result<crate::SubscriberExport> {
        let subscriber = self.get_subscriber(id).await?;
        let devices = self.list_devices(id).await?;
        let guardians = self.guardians_of(id).await?;
        let filter = crate::IncidentFilter {
            subscriber_id: Some(id),
            limit: 10_000,
            ..Default::default()
        };
        let mut incidents = self.list_incidents(&filter).await?;
        incidents.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.id.cmp(&b.id)));
        // The export is a disclosure of personal data: audit it in its own transaction.
        let (tx, mut chain) = self.begin_write().await?;
        chain.push(crate::sql::audit(
            change,
            "subscriber.exported",
            format!("subscriber/{id}"),
        ));
        self.commit_write(tx, chain).await?;
        Ok(crate::SubscriberExport {
            subscriber,
            devices,
            guardians,
            incidents,
        })
    }

    async fn erase_subscriber(
        &self,
        id: jikimi_respond::SubscriberId,
        change: &crate::Change,
    ) -> crate::Result<crate::ErasureReport> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let sid = id.to_string();
        let exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
            .bind(&sid)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(crate::Error::not_found(crate::Entity::Subscriber, id));
        }
        let guardian_rows = sqlx::query("SELECT id FROM guardians WHERE subscriber_id = $1")
            .bind(&sid)
            .fetch_all(&mut *tx)
            .await?;
        for row in &guardian_rows {
            let gid: String = row.try_get("id")?;
            sqlx::query("DELETE FROM sealed_fields WHERE owner = $1")
                .bind(format!("guardian/{gid}"))
                .execute(&mut *tx)
                .await?;
        }
        let n_guardians = sqlx::query("DELETE FROM guardians WHERE subscriber_id = $1")
            .bind(&sid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let n_devices = sqlx::query(
            "UPDATE devices SET subscriber_id = NULL, revoked_at = COALESCE(revoked_at, $2)
             WHERE subscriber_id = $1",
        )
        .bind(&sid)
        .bind(change.at.as_unix_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM sealed_fields WHERE owner = $1")
            .bind(format!("subscriber/{sid}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM blind_indexes WHERE subscriber_id = $1")
            .bind(&sid)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM subscribers WHERE id = $1")
            .bind(&sid)
            .execute(&mut *tx)
            .await?;
        let n_incidents_kept: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM incidents WHERE subscriber_id = $1")
                .bind(&sid)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        let report = crate::ErasureReport {
            n_guardians,
            n_devices,
            n_incidents_kept: crate::sql::to_u64(n_incidents_kept)?,
        };
        chain.push(
            crate::sql::audit(change, "subscriber.erased", format!("subscriber/{sid}"))
                .with_detail(&serde_json::json!(report)),
        );
        self.commit_write(tx, chain).await?;
        Ok(report)
    }

    async fn put_guardian(
        &self,
        record: &crate::GuardianRecord,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let gid = record.id.to_string();
        let subscriber_exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
            .bind(record.subscriber_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !subscriber_exists {
            return Err(crate::Error::not_found(
                crate::Entity::Subscriber,
                record.subscriber_id,
            ));
        }
        sqlx::query(
            "INSERT INTO guardians (id, subscriber_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET subscriber_id = excluded.subscriber_id",
        )
        .bind(&gid)
        .bind(record.subscriber_id.to_string())
        .bind(record.created_at.as_unix_ms())
        .execute(&mut *tx)
        .await?;
        Self::replace_sealed_fields(&mut tx, &format!("guardian/{gid}"), &record.fields).await?;
        chain.push(
            crate::sql::audit(change, "guardian.saved", format!("guardian/{gid}"))
                .with_detail(&serde_json::json!({ "subscriber_id": record.subscriber_id })),
        );
        self.commit_write(tx, chain).await
    }

    async fn list_guardians(
        &self,
        subscriber_id: jikimi_respond::SubscriberId,
    ) -> crate::Result<Vec<crate::GuardianRecord>> {
        self.guardians_of(subscriber_id).await
    }

    async fn delete_guardian(
        &self,
        id: crate::GuardianId,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let gid = id.to_string();
        let deleted = sqlx::query("DELETE FROM guardians WHERE id = $1")
            .bind(&gid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(crate::Error::not_found(crate::Entity::Guardian, id));
        }
        sqlx::query("DELETE FROM sealed_fields WHERE owner = $1")
            .bind(format!("guardian/{gid}"))
            .execute(&mut *tx)
            .await?;
        chain.push(crate::sql::audit(
            change,
            "guardian.deleted",
            format!("guardian/{gid}"),
        ));
        self.commit_write(tx, chain).await
    }
}
