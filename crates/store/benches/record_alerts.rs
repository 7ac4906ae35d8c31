//! Store-level intake throughput: `record_alerts` batches committed back to back, without HTTP.
//!
//! `cargo bench -p jikimi-store --bench record_alerts` prints alerts/s and per-batch commit latency (p50, p99) for
//! SQLite (a temporary file, WAL, synchronous=FULL) and PostgreSQL (`JIKIMI_TEST_DATABASE_URL`, a temporary schema),
//! for several batch sizes. It bounds what the HTTP intake can reach; `jikimi bench intake` measures end to end.

#![allow(clippy::unwrap_used)]

use jikimi_respond::{
    AlertId, Coordinates, DeviceId, FixMethod, IncidentId, LocationFix, Priority, Timestamp,
};
use jikimi_store::{NewAlert, PgStore, SqliteStore, Store};
use std::time::{Duration, Instant};

const TOTAL_ALERTS: usize = 20_000;
const BATCH_SIZES: [usize; 4] = [1, 32, 128, 512];

fn alerts(n: usize) -> Vec<NewAlert> {
    let devices: Vec<DeviceId> = (0..1_000).map(|_| DeviceId::new_v4()).collect();
    let at = Timestamp::from_unix_ms(1_767_225_600_000);
    let fix = LocationFix::new(
        Coordinates::new(37.5665, 126.978).unwrap(),
        10.0,
        FixMethod::Gnss,
        at,
    )
    .unwrap();
    (0..n)
        .map(|i| NewAlert {
            incident_id: IncidentId::new_v7(),
            alert_id: AlertId::new_v4(),
            device_id: devices[i % devices.len()],
            subscriber_id: None,
            nonce: format!("{:032x}", i),
            received_at: at,
            priority: Priority::new(1).unwrap(),
            fix: Some(fix),
            silent: true,
        })
        .collect()
}

async fn run(store: &dyn Store, label: &str, batch_size: usize) {
    let n = if batch_size == 1 {
        TOTAL_ALERTS / 10
    } else {
        TOTAL_ALERTS
    };
    let all = alerts(n);
    let mut latencies: Vec<Duration> = Vec::new();
    let started = Instant::now();
    for chunk in all.chunks(batch_size) {
        let t0 = Instant::now();
        let results = store.record_alerts(chunk.to_vec()).await.unwrap();
        latencies.push(t0.elapsed());
        assert!(results.iter().all(|r| r.is_ok()));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{label:<9} batch {batch_size:>4}: {:>8.0} alerts/s  commit p50 {:>6.2} ms  p99 {:>6.2} ms  ({n} alerts)",
        n as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    for batch_size in BATCH_SIZES {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("bench.db"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        run(&store, "sqlite", batch_size).await;
        store.close().await;
    }
    let url = std::env::var("JIKIMI_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let admin = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    for batch_size in BATCH_SIZES {
        let schema = format!("jikimi_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        let store = PgStore::connect_with_schema(&url, Some(&schema))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        run(&store, "postgres", batch_size).await;
        store.close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .unwrap();
    }
}
