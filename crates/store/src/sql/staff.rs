//! Staff accounts and sessions ([`crate::StaffStore`]).

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
    pub(crate) fn staff_from_row(row: &DB::Row) -> crate::Result<crate::StaffUser> {
        Ok(crate::StaffUser {
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: crate::sql::role_from(&row.try_get::<String, _>("role")?)?,
            created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
            disabled: row.try_get("disabled")?,
        })
    }
}

#[async_trait::async_trait]
impl<DB: Backend> crate::StaffStore for SqlStore<DB>
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
    async fn create_staff(
        &self,
        user: &crate::StaffUser,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO staff (username, password_hash, role, created_at, disabled) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(user.created_at.as_unix_ms())
        .bind(user.disabled)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(crate::Error::Conflict(crate::Conflict::AlreadyExists(
                "staff user",
            )));
        }
        chain.push(
            crate::sql::audit(change, "staff.created", format!("staff/{}", user.username))
                .with_detail(&serde_json::json!({ "role": user.role })),
        );
        self.commit_write(tx, chain).await
    }

    async fn update_staff(
        &self,
        user: &crate::StaffUser,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE staff SET password_hash = $2, role = $3, disabled = $4 WHERE username = $1",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(user.disabled)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(crate::Error::not_found(
                crate::Entity::Staff,
                &user.username,
            ));
        }
        // A new password, role or disabled flag ends every session, in the same transaction: a token taken
        // before the change never acts under it (and a stolen token dies with a password reset).
        let ended = sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(&user.username)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        chain.push(
            crate::sql::audit(change, "staff.updated", format!("staff/{}", user.username))
                .with_detail(&serde_json::json!({
                    "role": user.role,
                    "disabled": user.disabled,
                    "sessions_ended": ended,
                })),
        );
        self.commit_write(tx, chain).await
    }

    async fn get_staff(&self, username: &str) -> crate::Result<crate::StaffUser> {
        let row = sqlx::query(
            "SELECT username, password_hash, role, created_at, disabled FROM staff WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::Staff, username))?;
        Self::staff_from_row(&row)
    }

    async fn list_staff(&self) -> crate::Result<Vec<crate::StaffUser>> {
        let rows =
            sqlx::query("SELECT username, password_hash, role, created_at, disabled FROM staff ORDER BY username")
                .fetch_all(self.reader())
                .await?;
        rows.iter().map(Self::staff_from_row).collect()
    }

    async fn create_session(
        &self,
        session: &crate::SessionRecord,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, username, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.token_hash[..])
        .bind(&session.username)
        .bind(session.role.as_str())
        .bind(session.created_at.as_unix_ms())
        .bind(session.expires_at.as_unix_ms())
        .execute(&mut *tx)
        .await?;
        chain.push(
            crate::sql::audit(
                change,
                "session.created",
                format!("staff/{}", session.username),
            )
            .with_detail(&serde_json::json!({ "expires_at": session.expires_at })),
        );
        self.commit_write(tx, chain).await
    }

    async fn get_session(
        &self,
        token_hash: &[u8; 32],
        now: jikimi_respond::Timestamp,
    ) -> crate::Result<crate::SessionRecord> {
        // One query over the session and the account: the role is the account's current one, and a
        // disabled account's sessions are refused even before they are deleted.
        let row = sqlx::query(
            "SELECT s.token_hash, s.username, st.role, s.created_at, s.expires_at
             FROM sessions s JOIN staff st ON st.username = s.username
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT st.disabled",
        )
        .bind(&token_hash[..])
        .bind(now.as_unix_ms())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::Session, "(token)"))?;
        Ok(crate::SessionRecord {
            token_hash: crate::sql::hash_from(&row.try_get::<Vec<u8>, _>("token_hash")?)?,
            username: row.try_get("username")?,
            role: crate::sql::role_from(&row.try_get::<String, _>("role")?)?,
            created_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("created_at")?),
            expires_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("expires_at")?),
        })
    }

    async fn delete_session(
        &self,
        token_hash: &[u8; 32],
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let row = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING username")
            .bind(&token_hash[..])
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| crate::Error::not_found(crate::Entity::Session, "(token)"))?;
        let username: String = row.try_get("username")?;
        chain.push(crate::sql::audit(
            change,
            "session.deleted",
            format!("staff/{username}"),
        ));
        self.commit_write(tx, chain).await
    }

    async fn purge_sessions(&self, now: jikimi_respond::Timestamp) -> crate::Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.as_unix_ms())
            .execute(self.writer())
            .await?;
        Ok(result.rows_affected())
    }
}
