//! Devices, enrolment codes and PINs ([`crate::DeviceStore`]), and the nonce claim device requests share.

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
    pub(crate) fn device_from_row(row: &DB::Row) -> crate::Result<crate::DeviceRecord> {
        Ok(crate::DeviceRecord {
            id: jikimi_respond::DeviceId(crate::sql::parse_uuid(&row.try_get::<String, _>("id")?)?),
            subscriber_id: row
                .try_get::<Option<String>, _>("subscriber_id")?
                .map(|s| crate::sql::parse_uuid(&s).map(jikimi_respond::SubscriberId))
                .transpose()?,
            public_key: row.try_get("public_key")?,
            kind: row.try_get("kind")?,
            enrolled_at: jikimi_respond::Timestamp::from_unix_ms(row.try_get("enrolled_at")?),
            revoked_at: row
                .try_get::<Option<i64>, _>("revoked_at")?
                .map(jikimi_respond::Timestamp::from_unix_ms),
        })
    }

    /// Checks a presented enrolment code inside a write transaction: a wrong code counts an attempt (and
    /// locks the code at `max_attempts`). On success says whose code it is, whether PINs are set and whether
    /// the code may replace them; on refusal gives the refusal and the audit subject.
    pub(crate) async fn validate_code_in(
        tx: &mut sqlx::Transaction<'static, DB>,
        handle: &str,
        code_hash: &[u8; 32],
        max_attempts: u32,
        at: jikimi_respond::Timestamp,
    ) -> crate::Result<std::result::Result<crate::EnrolmentCheck, (crate::EnrolmentRefusal, String)>>
    {
        use crate::EnrolmentRefusal as R;
        let row = sqlx::query(
            "SELECT code_hash, subscriber_id, expires_at, failed_attempts, used_at, replace_pins
             FROM enrolment_codes WHERE handle = $1",
        )
        .bind(handle)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err((R::Unknown, "enrolment/unknown".to_string())));
        };
        let max = i64::from(max_attempts.max(1));
        let stored: Vec<u8> = row.try_get("code_hash")?;
        let failed: i64 = row.try_get("failed_attempts")?;
        let used_at: Option<i64> = row.try_get("used_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let subscriber: String = row.try_get("subscriber_id")?;
        let replace_pins: bool = row.try_get("replace_pins")?;
        let subject = format!("subscriber/{subscriber}");
        let refusal = if used_at.is_some() {
            Some(R::AlreadyUsed)
        } else if failed >= max {
            Some(R::Locked)
        } else if at.as_unix_ms() >= expires_at {
            Some(R::Expired)
        } else if !crate::sql::hashes_equal(&stored, code_hash) {
            sqlx::query("UPDATE enrolment_codes SET failed_attempts = failed_attempts + 1 WHERE handle = $1")
                .bind(handle)
                .execute(&mut **tx)
                .await?;
            let left = (max - failed - 1).max(0);
            Some(if left == 0 {
                R::Locked
            } else {
                R::WrongCode {
                    attempts_left: left as u32,
                }
            })
        } else {
            None
        };
        if let Some(refusal) = refusal {
            return Ok(Err((refusal, subject)));
        }
        let pins_set =
            sqlx::query("SELECT subscriber_id FROM subscriber_pins WHERE subscriber_id = $1")
                .bind(&subscriber)
                .fetch_optional(&mut **tx)
                .await?
                .is_some();
        Ok(Ok(crate::EnrolmentCheck {
            subscriber_id: jikimi_respond::SubscriberId(crate::sql::parse_uuid(&subscriber)?),
            pins_set,
            replace_pins,
        }))
    }

    /// Claims a device request's nonce; [`Conflict::NonceReplayed`](crate::Conflict) if it was used before.
    pub(crate) async fn claim_nonce_in(
        tx: &mut sqlx::Transaction<'static, DB>,
        claim: &crate::NonceClaim,
    ) -> crate::Result<()> {
        let claimed = sqlx::query(
            "INSERT INTO device_nonces (device_id, nonce, seen_at) VALUES ($1, $2, $3)
             ON CONFLICT (device_id, nonce) DO NOTHING",
        )
        .bind(claim.device_id.to_string())
        .bind(&claim.nonce)
        .bind(claim.at.as_unix_ms())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Err(crate::Error::Conflict(crate::Conflict::NonceReplayed));
        }
        Ok(())
    }

    pub(crate) async fn write_pins(
        tx: &mut sqlx::Transaction<'static, DB>,
        subscriber_id: &str,
        pins: &crate::PinHashes,
        at: jikimi_respond::Timestamp,
    ) -> crate::Result<()> {
        sqlx::query(
            "INSERT INTO subscriber_pins (subscriber_id, pin_hash, duress_pin_hash, failed_attempts, locked_until,
                                          updated_at)
             VALUES ($1, $2, $3, 0, NULL, $4)
             ON CONFLICT (subscriber_id) DO UPDATE SET pin_hash = excluded.pin_hash,
                 duress_pin_hash = excluded.duress_pin_hash, failed_attempts = 0, locked_until = NULL,
                 updated_at = excluded.updated_at",
        )
        .bind(subscriber_id)
        .bind(&pins.pin_hash)
        .bind(&pins.duress_pin_hash)
        .bind(at.as_unix_ms())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(crate) fn pins_from_row(
        subscriber_id: jikimi_respond::SubscriberId,
        row: &DB::Row,
    ) -> crate::Result<crate::PinRecord> {
        Ok(crate::PinRecord {
            subscriber_id,
            pins: crate::PinHashes {
                pin_hash: row.try_get("pin_hash")?,
                duress_pin_hash: row.try_get("duress_pin_hash")?,
            },
            failed_attempts: u32::try_from(row.try_get::<i64, _>("failed_attempts")?)
                .map_err(|_| crate::Error::corrupt("stored pin attempt counter is out of range"))?,
            locked_until: row
                .try_get::<Option<i64>, _>("locked_until")?
                .map(jikimi_respond::Timestamp::from_unix_ms),
        })
    }
}

#[async_trait::async_trait]
impl<DB: Backend> crate::DeviceStore for SqlStore<DB>
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
    async fn put_device(
        &self,
        record: &crate::DeviceRecord,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        if let Some(sid) = record.subscriber_id {
            let exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
                .bind(sid.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !exists {
                return Err(crate::Error::not_found(crate::Entity::Subscriber, sid));
            }
        }
        // Insert only: an existing device (revoked or not) is never replaced, so nobody takes over a device
        // id with a new key, and a revoked device stays revoked.
        let inserted = sqlx::query(
            "INSERT INTO devices (id, subscriber_id, public_key, kind, enrolled_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(record.id.to_string())
        .bind(record.subscriber_id.map(|s| s.to_string()))
        .bind(&record.public_key)
        .bind(&record.kind)
        .bind(record.enrolled_at.as_unix_ms())
        .bind(record.revoked_at.map(|t| t.as_unix_ms()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(crate::Error::Conflict(crate::Conflict::AlreadyExists(
                "device",
            )));
        }
        chain.push(
            crate::sql::audit(change, "device.saved", format!("device/{}", record.id)).with_detail(
                &serde_json::json!({ "subscriber_id": record.subscriber_id, "kind": record.kind }),
            ),
        );
        self.commit_write(tx, chain).await
    }

    async fn get_device(&self, id: jikimi_respond::DeviceId) -> crate::Result<crate::DeviceRecord> {
        let row = sqlx::query(
            "SELECT id, subscriber_id, public_key, kind, enrolled_at, revoked_at FROM devices WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::Device, id))?;
        Self::device_from_row(&row)
    }

    async fn list_devices(
        &self,
        subscriber_id: jikimi_respond::SubscriberId,
    ) -> crate::Result<Vec<crate::DeviceRecord>> {
        let rows = sqlx::query(
            "SELECT id, subscriber_id, public_key, kind, enrolled_at, revoked_at FROM devices
             WHERE subscriber_id = $1 ORDER BY enrolled_at, id",
        )
        .bind(subscriber_id.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(Self::device_from_row).collect()
    }

    async fn all_device_ids(&self) -> crate::Result<Vec<jikimi_respond::DeviceId>> {
        let rows = sqlx::query("SELECT id FROM devices")
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|row| {
                crate::sql::parse_uuid(&row.try_get::<String, _>("id")?)
                    .map(jikimi_respond::DeviceId)
            })
            .collect()
    }

    async fn issue_enrolment_code(
        &self,
        code: &crate::EnrolmentCode,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let sid = code.subscriber_id.to_string();
        let exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
            .bind(&sid)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(crate::Error::not_found(
                crate::Entity::Subscriber,
                code.subscriber_id,
            ));
        }
        let inserted = sqlx::query(
            "INSERT INTO enrolment_codes (handle, code_hash, subscriber_id, created_at, expires_at, replace_pins)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (handle) DO NOTHING",
        )
        .bind(&code.handle)
        .bind(&code.code_hash[..])
        .bind(&sid)
        .bind(code.created_at.as_unix_ms())
        .bind(code.expires_at.as_unix_ms())
        .bind(code.replace_pins)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(crate::Error::Conflict(crate::Conflict::AlreadyExists(
                "enrolment code handle",
            )));
        }
        chain.push(
            crate::sql::audit(change, "enrolment.issued", format!("subscriber/{sid}")).with_detail(
                &serde_json::json!({
                    "handle": code.handle,
                    "expires_at": code.expires_at,
                    "replace_pins": code.replace_pins,
                }),
            ),
        );
        self.commit_write(tx, chain).await
    }

    async fn check_enrolment_code(
        &self,
        handle: &str,
        code_hash: &[u8; 32],
        max_attempts: u32,
        change: &crate::Change,
    ) -> crate::Result<std::result::Result<crate::EnrolmentCheck, crate::EnrolmentRefusal>> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let checked =
            Self::validate_code_in(&mut tx, handle, code_hash, max_attempts, change.at).await?;
        match checked {
            Ok(check) => {
                // Nothing was written: the transaction only serialised the read with concurrent redeems.
                tx.rollback().await?;
                Ok(Ok(check))
            }
            Err((refusal, subject)) => {
                chain.push(
                    crate::sql::audit(change, "enrolment.refused", subject).with_detail(
                        &serde_json::json!({
                            "refusal": refusal.as_str(),
                            "handle": handle,
                        }),
                    ),
                );
                self.commit_write(tx, chain).await?;
                Ok(Err(refusal))
            }
        }
    }

    async fn redeem_enrolment_code(
        &self,
        enrolment: &crate::Enrolment,
        change: &crate::Change,
    ) -> crate::Result<std::result::Result<crate::DeviceRecord, crate::EnrolmentRefusal>> {
        use crate::EnrolmentRefusal as R;
        let (mut tx, mut chain) = self.begin_write().await?;
        let checked = Self::validate_code_in(
            &mut tx,
            &enrolment.handle,
            &enrolment.code_hash,
            enrolment.max_attempts,
            change.at,
        )
        .await?;
        let (refusal, subject) = match checked {
            Ok(check) if enrolment.pins.is_some() && check.pins_set && !check.replace_pins => (
                R::PinsAlreadySet,
                format!("subscriber/{}", check.subscriber_id),
            ),
            Ok(check) => {
                let sid = check.subscriber_id;
                let subscriber = sid.to_string();
                let device = crate::DeviceRecord {
                    subscriber_id: Some(sid),
                    revoked_at: None,
                    ..enrolment.device.clone()
                };
                let inserted = sqlx::query(
                    "INSERT INTO devices (id, subscriber_id, public_key, kind, enrolled_at, revoked_at)
                     VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (id) DO NOTHING",
                )
                .bind(device.id.to_string())
                .bind(&subscriber)
                .bind(&device.public_key)
                .bind(&device.kind)
                .bind(device.enrolled_at.as_unix_ms())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    // A device id that exists already (revoked or not) is never re-bound by a code: that
                    // would let a code holder take over another subscriber's device or revive a revoked one.
                    return Err(crate::Error::Conflict(crate::Conflict::AlreadyExists(
                        "device",
                    )));
                }
                sqlx::query(
                    "UPDATE enrolment_codes SET used_at = $2, device_id = $3 WHERE handle = $1",
                )
                .bind(&enrolment.handle)
                .bind(change.at.as_unix_ms())
                .bind(device.id.to_string())
                .execute(&mut *tx)
                .await?;
                if let Some(pins) = &enrolment.pins {
                    Self::write_pins(&mut tx, &subscriber, pins, change.at).await?;
                }
                chain.push(
                    crate::sql::audit(change, "device.enrolled", format!("device/{}", device.id))
                        .with_detail(&serde_json::json!({
                            "subscriber_id": sid,
                            "kind": device.kind,
                            "handle": enrolment.handle,
                            "pins_set": enrolment.pins.is_some(),
                            "pins_replaced": enrolment.pins.is_some() && check.pins_set,
                        })),
                );
                self.commit_write(tx, chain).await?;
                return Ok(Ok(device));
            }
            Err(refused) => refused,
        };
        chain.push(
            crate::sql::audit(change, "enrolment.refused", subject).with_detail(
                &serde_json::json!({
                    "refusal": refusal.as_str(),
                    "handle": enrolment.handle,
                    "device_id": enrolment.device.id,
                }),
            ),
        );
        self.commit_write(tx, chain).await?;
        Ok(Err(refusal))
    }

    async fn set_pins(
        &self,
        subscriber_id: jikimi_respond::SubscriberId,
        pins: &crate::PinHashes,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let sid = subscriber_id.to_string();
        let exists = sqlx::query("SELECT id FROM subscribers WHERE id = $1")
            .bind(&sid)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(crate::Error::not_found(
                crate::Entity::Subscriber,
                subscriber_id,
            ));
        }
        Self::write_pins(&mut tx, &sid, pins, change.at).await?;
        chain.push(
            crate::sql::audit(change, "subscriber.pins_set", format!("subscriber/{sid}"))
                .with_detail(&serde_json::json!({ "duress_pin": pins.duress_pin_hash.is_some() })),
        );
        self.commit_write(tx, chain).await
    }

    async fn get_pins(
        &self,
        subscriber_id: jikimi_respond::SubscriberId,
    ) -> crate::Result<crate::PinRecord> {
        let row = sqlx::query(
            "SELECT pin_hash, duress_pin_hash, failed_attempts, locked_until FROM subscriber_pins
             WHERE subscriber_id = $1",
        )
        .bind(subscriber_id.to_string())
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::Pins, subscriber_id))?;
        Self::pins_from_row(subscriber_id, &row)
    }

    async fn record_pin_failure(
        &self,
        subscriber_id: jikimi_respond::SubscriberId,
        max_attempts: u32,
        lockout_ms: i64,
        nonce: Option<&crate::NonceClaim>,
        change: &crate::Change,
    ) -> crate::Result<crate::PinRecord> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let sid = subscriber_id.to_string();
        if let Some(claim) = nonce {
            // The wrong PIN uses up its request: a captured wrong-PIN cancel cannot be replayed to lock the
            // subscriber's PINs.
            Self::claim_nonce_in(&mut tx, claim).await?;
        }
        let row = sqlx::query(
            "UPDATE subscriber_pins SET failed_attempts = failed_attempts + 1 WHERE subscriber_id = $1
             RETURNING pin_hash, duress_pin_hash, failed_attempts, locked_until",
        )
        .bind(&sid)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| crate::Error::not_found(crate::Entity::Pins, subscriber_id))?;
        let mut record = Self::pins_from_row(subscriber_id, &row)?;
        let locked = record.failed_attempts >= max_attempts.max(1);
        if locked {
            let until = change.at.as_unix_ms().saturating_add(lockout_ms);
            sqlx::query("UPDATE subscriber_pins SET failed_attempts = 0, locked_until = $2 WHERE subscriber_id = $1")
                .bind(&sid)
                .bind(until)
                .execute(&mut *tx)
                .await?;
            record.failed_attempts = 0;
            record.locked_until = Some(jikimi_respond::Timestamp::from_unix_ms(until));
        }
        chain.push(
            crate::sql::audit(change, "subscriber.pin_failed", format!("subscriber/{sid}"))
                .with_detail(
                    &serde_json::json!({ "locked_until": record.locked_until.filter(|_| locked) }),
                ),
        );
        self.commit_write(tx, chain).await?;
        Ok(record)
    }

    async fn revoke_device(
        &self,
        id: jikimi_respond::DeviceId,
        change: &crate::Change,
    ) -> crate::Result<()> {
        let (mut tx, mut chain) = self.begin_write().await?;
        let n =
            sqlx::query("UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                .bind(id.to_string())
                .bind(change.at.as_unix_ms())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n == 0 {
            return Err(crate::Error::not_found(crate::Entity::Device, id));
        }
        chain.push(crate::sql::audit(
            change,
            "device.revoked",
            format!("device/{id}"),
        ));
        self.commit_write(tx, chain).await
    }
}
