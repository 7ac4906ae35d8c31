//! `jikimi bench cluster`: the cost and the reach of the cluster event bus, against `jikimi serve` child processes
//! on one PostgreSQL database: accepted alerts/s and p50/p99 accept latency with the in-process bus (one node),
//! with `--nats` (one node) and with two and three nodes on one stream (clients spread over them); then the end-to-end
//! latency from sending an alert to node A to its incident on node B's live feed (p50/p99); last, the time from a
//! `kill -9` of a node to its leases (and, with `--mqtt`, its MQTT share) taken over ([`super::cluster_takeover`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::child::{Child, spawn_server};
use super::client::{ApiClient, Device};
use jikimi_server::config::{Config, KeyMaterial};
use jikimi_server::roles::Role;

/// `jikimi bench cluster` options.
#[derive(Debug, clap::Args)]
pub struct ClusterBenchArgs {
    /// A scratch PostgreSQL database (the benchmark leaves its alerts there).
    #[arg(long, env = "JIKIMI_BENCH_DATABASE_URL")]
    database_url: String,
    /// NATS with JetStream; each run makes its own stream (`BENCH…`, kept for 7 days by the stream's max age).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Concurrent clients, each sending one alert at a time.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Devices to enrol.
    #[arg(long, default_value_t = 64)]
    devices: usize,
    /// Measured seconds per configuration (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Alerts timed from node A's 202 to node B's live feed.
    #[arg(long, default_value_t = 200)]
    latency_alerts: usize,
    /// MQTT broker for the terminals in the takeover run (e.g. mqtt://127.0.0.1:1883); none: leases only.
    #[arg(long)]
    mqtt: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

struct Load {
    accepted: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

fn body(i: usize) -> Value {
    json!({
        "alert_id": uuid::Uuid::new_v4(),
        "priority": (i % 5) as u8,
        "location": {"lat": 37.55 + (i % 100) as f64 * 1e-4, "lon": 126.98, "accuracy_m": 15.0, "method": "gnss"},
    })
}

/// Clients spread over `bases` send alerts for `seconds`; accepted alerts/s and accept latency.
async fn load(
    bases: &[String],
    devices: &Arc<Vec<Device>>,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Load> {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for idx in 0..clients.max(1) {
        let client = ApiClient::new(&bases[idx % bases.len()])?;
        let (devices, measuring, stop) = (devices.clone(), measuring.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut i = idx;
            while !stop.load(Ordering::Relaxed) {
                let device = &devices[i % devices.len()];
                i += 7;
                let started = Instant::now();
                let result = client.send_alert(device, &body(i)).await;
                if measuring.load(Ordering::Relaxed)
                    && !stop.load(Ordering::Relaxed)
                    && matches!(result, Ok((202, _)))
                {
                    latencies.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds.max(1))).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    latencies.sort_unstable();
    Ok(Load {
        accepted: latencies.len(),
        seconds: elapsed,
        p50_ms: pct(&latencies, 0.50),
        p99_ms: pct(&latencies, 0.99),
    })
}

/// Surge clustering and the per-device alert budget off: every alert opens its own incident, so each is timed to
/// its own live event.
const NO_SURGE: [&str; 4] = ["--surge-radius-m", "0", "--alert-budget-burst", "1000000"];

fn cluster_flags<'a>(nats: &'a str, stream: &'a str, node: &'a str) -> [&'a str; 10] {
    [
        "--nats",
        nats,
        "--nats-stream",
        stream,
        "--node-id",
        node,
        NO_SURGE[0],
        NO_SURGE[1],
        NO_SURGE[2],
        NO_SURGE[3],
    ]
}

/// Node B's live feed: the arrival time of each incident id seen.
async fn watch(
    base: String,
    token: String,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
) -> anyhow::Result<()> {
    let mut response = reqwest::Client::new()
        .get(format!("{base}/api/live"))
        .bearer_auth(token)
        .send()
        .await
        .context("GET /api/live")?;
    let mut buffer = String::new();
    while let Some(chunk) = response.chunk().await? {
        let at = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if !block.contains("event: incident") && !block.contains("event:incident") {
                continue;
            }
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:"))
                && let Ok(v) = serde_json::from_str::<Value>(data.trim())
                && let Some(id) = v["id"].as_str()
                && let Ok(mut seen) = seen.lock()
            {
                seen.entry(id.to_string()).or_insert(at);
            }
        }
    }
    Ok(())
}

/// Runs the benchmark.
pub async fn cluster(args: ClusterBenchArgs) -> anyhow::Result<()> {
    let keys = KeyMaterial::generate();
    let config = Config {
        database_url: args.database_url.clone(),
        keys: Some(keys.clone()),
        ..Config::default()
    };
    let store = super::open_store(&config).await?;
    anyhow::ensure!(
        store.backend() == "postgres",
        "bench cluster needs a PostgreSQL --database-url"
    );
    let username = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let password = jikimi_server::password::generate_password();
    super::add_staff(store.as_ref(), &username, &password, Role::Admin).await?;
    drop(store);
    let db = args.database_url.as_str();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let stream = format!("BENCH{}", &run[..12]);

    // Devices, enrolled through a first plain server.
    let devices = {
        let (_server, base) = spawn_server(db, &keys, &NO_SURGE).await?;
        let mut admin = ApiClient::new(&base)?;
        admin.login(&username, &password).await?;
        let mut devices = Vec::new();
        let mut n = 0;
        while devices.len() < args.devices.max(1) {
            let take = 64.min(args.devices.max(1) - devices.len());
            let subscriber = json!({"name": format!("Cluster Bench {n}"), "phone": format!("010-8{:03}-{:04}", n % 1000, n)});
            devices.extend(admin.register_devices(&subscriber, take).await?);
            n += 1;
        }
        Arc::new(devices)
    };
    let mut results = Vec::new();
    let mut report = |name: &str, l: &Load| {
        let line = json!({"configuration": name, "accepted": l.accepted, "alerts_per_s": l.accepted as f64 / l.seconds,
            "p50_ms": l.p50_ms, "p99_ms": l.p99_ms});
        if !args.json {
            println!(
                "{name}: {:.0} alerts/s, accept p50 {:.2} ms, p99 {:.2} ms ({} accepted)",
                l.accepted as f64 / l.seconds,
                l.p50_ms,
                l.p99_ms,
                l.accepted
            );
        }
        results.push(line);
    };
    {
        let (_a, base) = spawn_server(db, &keys, &NO_SURGE).await?;
        let l = load(&[base], &devices, args.clients, args.seconds).await?;
        report("postgres, in-process bus, 1 node", &l);
    }
    {
        let (_a, base) =
            spawn_server(db, &keys, &cluster_flags(&args.nats, &stream, "bench-a")).await?;
        let l = load(&[base], &devices, args.clients, args.seconds).await?;
        report("postgres + nats, 1 node", &l);
    }
    let (_a, base_a): (Child, String) =
        spawn_server(db, &keys, &cluster_flags(&args.nats, &stream, "bench-a")).await?;
    let (_b, base_b): (Child, String) =
        spawn_server(db, &keys, &cluster_flags(&args.nats, &stream, "bench-b")).await?;
    let l = load(
        &[base_a.clone(), base_b.clone()],
        &devices,
        args.clients,
        args.seconds,
    )
    .await?;
    report("postgres + nats, 2 nodes", &l);
    {
        let (_c, base_c): (Child, String) =
            spawn_server(db, &keys, &cluster_flags(&args.nats, &stream, "bench-c")).await?;
        let l = load(
            &[base_a.clone(), base_b.clone(), base_c],
            &devices,
            args.clients,
            args.seconds,
        )
        .await?;
        report("postgres + nats, 3 nodes", &l);
    }

    // End to end: alerts to A, one at a time at a steady pace, timed from the send to B's live feed.
    let mut console = ApiClient::new(&base_b)?;
    console.login(&username, &password).await?;
    let token = console.token().context("no token")?.to_string();
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let watcher = tokio::spawn(watch(base_b.clone(), token, seen.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sender = ApiClient::new(&base_a)?;
    let mut accepted_at = Vec::new();
    for i in 0..args.latency_alerts {
        // Timed from the send: the event can reach B before A's 202 reaches this client.
        let sent = Instant::now();
        if let Ok((202, answer)) = sender
            .send_alert(&devices[i % devices.len()], &body(i))
            .await
            && let Some(id) = answer["incident_id"].as_str()
        {
            accepted_at.push((id.to_string(), sent));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    watcher.abort();
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let mut e2e: Vec<u32> = accepted_at
        .iter()
        .filter_map(|(id, at)| {
            seen.get(id).map(|t| {
                t.saturating_duration_since(*at)
                    .as_micros()
                    .min(u32::MAX as u128) as u32
            })
        })
        .collect();
    let missing = accepted_at.len() - e2e.len();
    e2e.sort_unstable();
    drop((_a, _b));
    let takeover =
        super::cluster_takeover::measure(db, &keys, &args.nats, args.mqtt.as_deref(), &devices[0])
            .await?;
    let ms = |v: Option<f64>| v.map_or("not within 60 s".to_string(), |v| format!("{v:.0} ms"));
    if args.json {
        println!(
            "{}",
            json!({"runs": results, "end_to_end": {"alerts": accepted_at.len(), "missing": missing,
                "p50_ms": pct(&e2e, 0.5), "p99_ms": pct(&e2e, 0.99), "max_ms": pct(&e2e, 1.0)},
                "takeover_after_kill_9": takeover.json()})
        );
    } else {
        println!(
            "kill -9 of a node: its leases taken over after {}{}",
            ms(takeover.leases_ms),
            match takeover.mqtt_ms {
                Some(v) => format!(", its MQTT share after {}", ms(v)),
                None => ", MQTT share not measured (no --mqtt)".into(),
            }
        );
        println!(
            "alert sent to A to B's live feed: {} alerts, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {missing} not seen",
            accepted_at.len(),
            pct(&e2e, 0.5),
            pct(&e2e, 0.99),
            pct(&e2e, 1.0)
        );
    }
    anyhow::ensure!(
        missing == 0,
        "{missing} accepted alerts never reached node B's live feed"
    );
    Ok(())
}
