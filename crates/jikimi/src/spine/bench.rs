//! `jikimi bench intake`: many concurrent devices send signed alerts over loopback HTTP; reports sustained
//! accepted alerts per second and p50/p99 accept latency. Drives a running server (`--url` with an admin login) or
//! starts its own on the given database (SQLite temp file by default, PostgreSQL with `--database-url`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;

use super::client::{ApiClient, Device};
use jikimi_server::config::{Config, KeyMaterial};
use jikimi_server::roles::Role;

/// `jikimi bench intake` options.
#[derive(Debug, clap::Args)]
pub struct IntakeArgs {
    /// A running server to drive (needs --username/--password of a supervisor or admin to enrol devices).
    #[arg(long)]
    url: Option<String>,
    /// Staff login for --url.
    #[arg(long, env = "JIKIMI_BENCH_USERNAME")]
    username: Option<String>,
    /// Staff password for --url.
    #[arg(long, env = "JIKIMI_BENCH_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Database for a self-started server (default: a SQLite file in a temporary directory). Use a scratch
    /// PostgreSQL database: the benchmark leaves its alerts there.
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent clients, each sending one alert at a time.
    #[arg(long, default_value_t = 128)]
    clients: usize,
    /// Devices to enrol (alerts rotate over them).
    #[arg(long, default_value_t = 256)]
    devices: usize,
    /// Measured seconds (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Print the result as one JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark.
pub async fn intake(args: IntakeArgs) -> anyhow::Result<()> {
    let mut _tempdir = None;
    let (base, username, password, label) = match &args.url {
        Some(url) => (
            url.clone(),
            args.username.clone().context("--url needs --username")?,
            args.password.clone().context("--url needs --password")?,
            format!("running server at {url}"),
        ),
        None => {
            let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
            let database_url = args.database_url.clone().unwrap_or_else(|| {
                format!("sqlite://{}", dir.path().join("bench.sqlite").display())
            });
            let config = Config {
                database_url: database_url.clone(),
                listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                keys: Some(KeyMaterial::generate()),
                ..Config::default()
            };
            let store = super::open_store(&config).await?;
            let password = jikimi_server::password::generate_password();
            super::add_staff(store.as_ref(), "bench-admin", &password, Role::Admin).await?;
            let backend = store.backend();
            let (addr, _state, _task) = super::start_server(store, config).await?;
            _tempdir = Some(dir);
            (
                format!("http://{addr}"),
                "bench-admin".to_string(),
                password,
                format!(
                    "self-started server on {backend} ({})",
                    super::redact_url(&database_url)
                ),
            )
        }
    };

    let mut admin = ApiClient::new(&base)?;
    admin.login(&username, &password).await?;
    let mut devices = Vec::new();
    let per_subscriber = 64;
    let mut n = 0;
    while devices.len() < args.devices.max(1) {
        let take = per_subscriber.min(args.devices.max(1) - devices.len());
        let subscriber = json!({"name": format!("Bench Subscriber {n}"), "phone": format!("010-9{:03}-{:04}", n % 1000, n)});
        devices.extend(admin.register_devices(&subscriber, take).await?);
        n += 1;
    }
    let devices: Arc<Vec<Device>> = Arc::new(devices);
    println!(
        "intake benchmark: {label}; {} clients, {} devices, {} s measured",
        args.clients,
        devices.len(),
        args.seconds
    );

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for client_idx in 0..args.clients.max(1) {
        let client = ApiClient::new(&base)?;
        let devices = devices.clone();
        let measuring = measuring.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies_us: Vec<u32> = Vec::new();
            let mut rejected = 0u64;
            let mut i = client_idx;
            while !stop.load(Ordering::Relaxed) {
                let device = &devices[i % devices.len()];
                i += 7;
                let body = json!({
                    "alert_id": uuid::Uuid::new_v4(),
                    "priority": (i % 5) as u8,
                    "location": {"lat": 37.55 + (i % 100) as f64 * 1e-4, "lon": 126.98, "accuracy_m": 15.0, "method": "gnss"},
                });
                let started = Instant::now();
                let result = client.send_alert(device, &body).await;
                let elapsed = started.elapsed();
                if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    match result {
                        Ok((202, _)) => latencies_us.push(elapsed.as_micros().min(u32::MAX as u128) as u32),
                        _ => rejected += 1,
                    }
                }
            }
            (latencies_us, rejected)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds.max(1))).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let mut rejected = 0;
    for task in tasks {
        let (l, r) = task.await?;
        latencies.extend(l);
        rejected += r;
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let idx = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[idx.min(latencies.len() - 1)] as f64 / 1000.0
    };
    if args.json {
        let report = json!({
            "accepted": latencies.len(),
            "seconds": elapsed,
            "alerts_per_s": latencies.len() as f64 / elapsed,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": pct(1.0),
            "not_accepted": rejected,
            "target": label,
        });
        println!("{report}");
        return Ok(());
    }
    println!(
        "accepted {} alerts in {:.1} s: {:.0} alerts/s; accept latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} not accepted",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        rejected
    );
    Ok(())
}
