//! The per-device alert budget kept in the database ([`crate::AlertBudget::Shared`]), so every node of a cluster
//! charges one bucket per device. Each device has one row: its GCRA "theoretical arrival time" (`tat_ms`), the
//! moment its bucket is full again. A charge at `now` is allowed while `tat - now` leaves room for one more
//! (`<= (burst - 1) * refill`) and moves `tat` one refill later. The rows are read and written inside the intake
//! batch's own transaction, which holds the audit head lock: two nodes' batches charge the same device one after
//! the other, and a batch that is not committed (a node killed mid-batch) charged nothing.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::{Backend, rows_per_statement, values_clause};
use crate::Result;

/// The buckets of one batch's devices, as read, with the ones it charged.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    tat: HashMap<String, i64>,
    charged: HashSet<String>,
}

impl Buckets {
    /// Charges one alert of `device` at `now_ms`; `true` when the device is over its budget (nothing is taken then).
    pub(crate) fn over(&mut self, device: &str, now_ms: i64, burst: u32, refill_ms: i64) -> bool {
        let refill_ms = refill_ms.max(1);
        let tolerance = i64::from(burst.max(1) - 1).saturating_mul(refill_ms);
        let tat = self.tat.get(device).copied().unwrap_or(now_ms).max(now_ms);
        if tat - now_ms > tolerance {
            return true;
        }
        self.tat
            .insert(device.to_string(), tat.saturating_add(refill_ms));
        self.charged.insert(device.to_string());
        false
    }

    /// Reads the buckets of `devices` in `tx`.
    pub(crate) async fn load<DB: Backend>(
        tx: &mut sqlx::Transaction<'static, DB>,
        devices: &[&str],
    ) -> Result<Buckets>
    where
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'a> &'a str: sqlx::ColumnIndex<DB::Row> + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
        for<'a> String: sqlx::Encode<'a, DB> + sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    {
        let mut buckets = Buckets::default();
        for rows in devices.chunks(rows_per_statement(1) - 1) {
            let sql = format!(
                "SELECT device_id, tat_ms FROM device_budgets WHERE device_id IN ({})",
                super::placeholders(1, rows.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for device in rows {
                query = query.bind(*device);
            }
            for row in query.fetch_all(&mut **tx).await? {
                buckets
                    .tat
                    .insert(row.try_get("device_id")?, row.try_get("tat_ms")?);
            }
        }
        Ok(buckets)
    }

    /// Writes the buckets this batch charged, in `tx`.
    pub(crate) async fn save<DB: Backend>(
        &self,
        tx: &mut sqlx::Transaction<'static, DB>,
    ) -> Result<()>
    where
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        let mut charged: Vec<(&str, i64)> = self
            .charged
            .iter()
            .filter_map(|d| self.tat.get(d).map(|tat| (d.as_str(), *tat)))
            .collect();
        // A fixed order, so two transactions never lock the same rows in opposite orders.
        charged.sort_unstable();
        for rows in charged.chunks(rows_per_statement(2)) {
            let sql = format!(
                "INSERT INTO device_budgets (device_id, tat_ms) VALUES {}
                 ON CONFLICT (device_id) DO UPDATE SET tat_ms = excluded.tat_ms",
                values_clause(rows.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (device, tat) in rows {
                query = query.bind(*device).bind(*tat);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Buckets;

    #[test]
    fn a_bucket_allows_its_burst_then_one_per_refill() {
        let mut b = Buckets::default();
        let over: Vec<bool> = (0..4).map(|_| b.over("d", 0, 3, 1_000)).collect();
        assert_eq!(over, [false, false, false, true]);
        assert!(b.over("d", 999, 3, 1_000), "not refilled yet");
        assert!(!b.over("d", 1_000, 3, 1_000), "one more after one refill");
        assert!(b.over("d", 1_000, 3, 1_000));
        assert!(!b.over("other", 0, 3, 1_000), "buckets are per device");
        // Idle long enough, the bucket is full again, not fuller.
        let over: Vec<bool> = (0..4).map(|_| b.over("d", 60_000, 3, 1_000)).collect();
        assert_eq!(over, [false, false, false, true]);
        assert!(!b.over("e", 0, 0, 0), "a burst of 0 is taken as 1");
        assert!(b.over("e", 0, 0, 0));
    }
}
