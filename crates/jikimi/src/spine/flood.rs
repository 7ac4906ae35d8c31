//! `jikimi bench flood`: what a flood of junk costs real alerts, against a real `jikimi serve` child process.
//!
//! In one run, from this one client process:
//! 1. Signed alerts from registered devices in a closed loop (accepted/s, p99 accept latency) while other tasks
//!    flood the server with junk alerts (made-up device ids, and a real device id with a signature that does not
//!    verify; made once per flooder, so the junk client, like the `GET /healthz` one, spends no crypto per request).
//! 2. The same signed load while the same number of tasks flood `GET /healthz` (equal effort: as fast as they can).
//!
//! It prints the ratio of accepted alerts/s (1 over 2; target at least 0.8), the p99s, and the audit rows the junk
//! wrote as a share of the junk requests (target at most 5%), counting summary entries, and checks that the chain
//! still accounts for every junk request. Then it measures the argon2 logins a login flood can force: the raw
//! argon2 rate of this machine (what an unbounded server would run), a server with `--flood-limits false` (argon2
//! slots only), and the default server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jikimi_server::config::KeyMaterial;
use jikimi_server::roles::Role;
use jikimi_server::signing;
use serde_json::{Value, json};

use super::child::spawn_server;
use super::client::{ApiClient, Device};

/// `jikimi bench flood` options.
#[derive(Debug, clap::Args)]
pub struct FloodArgs {
    /// Database for the servers under test (default: SQLite files in a temporary directory). For PostgreSQL give a
    /// scratch database: the benchmark leaves its data there.
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent signed-alert clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Devices the signed alerts rotate over.
    #[arg(long, default_value_t = 256)]
    devices: usize,
    /// Concurrent flooding tasks (junk alerts in phase 1, `GET /healthz` in phase 2).
    #[arg(long, default_value_t = 64)]
    flooders: usize,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of the login flood per server.
    #[arg(long, default_value_t = 5)]
    login_seconds: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us[idx.min(sorted_us.len() - 1)] as f64 / 1000.0
}

/// What to flood the server with besides the signed alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flood {
    JunkAlerts,
    Healthz,
}

/// One phase's figures.
#[derive(Debug, Default, Clone)]
struct Phase {
    accepted: u64,
    not_accepted: u64,
    alerts_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    flood_requests: u64,
    flood_per_s: f64,
}

impl Phase {
    fn to_json(&self) -> Value {
        json!({
            "accepted": self.accepted,
            "not_accepted": self.not_accepted,
            "alerts_per_s": self.alerts_per_s,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "flood_requests": self.flood_requests,
            "flood_per_s": self.flood_per_s,
        })
    }
}

/// Runs signed alerts and `flood` together for `seconds`.
async fn phase(
    base: &str,
    devices: &Arc<Vec<Device>>,
    victim: &Arc<Device>,
    args: &FloodArgs,
    flood: Flood,
) -> anyhow::Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let flood_sent = Arc::new(AtomicU64::new(0));
    let mut flooders = Vec::new();
    for task in 0..args.flooders.max(1) {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(4)
            .timeout(Duration::from_secs(30))
            .build()?;
        let (base, stop, sent, victim) = (
            base.to_string(),
            stop.clone(),
            flood_sent.clone(),
            victim.clone(),
        );
        flooders.push(tokio::spawn(async move {
            let mut i = 0u64;
            // Junk as an attacker sends it: a signature that verifies for nothing, made once. The client spends no
            // crypto per request (as the `GET /healthz` flooders spend none), while the server must still check
            // the signature of every junk request naming a real device.
            let junk_body =
                serde_json::to_vec(&json!({"alert_id": uuid::Uuid::nil(), "priority": 1}))
                    .unwrap_or_default();
            let junk_signature = signing::sign_alert_with_nonce(
                &signing::generate_device_key(),
                &uuid::Uuid::nil(),
                0,
                "junk",
                &junk_body,
            )
            .signature;
            while !stop.load(Ordering::Relaxed) {
                let ok = match flood {
                    Flood::Healthz => http.get(format!("{base}/healthz")).send().await.is_ok(),
                    Flood::JunkAlerts => {
                        // Half made-up devices, half a real one with a signature that does not verify.
                        let device = if i.is_multiple_of(2) {
                            uuid::Uuid::new_v4()
                        } else {
                            victim.id
                        };
                        http.post(format!("{base}/api/alerts"))
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .header(signing::HEADER_DEVICE, device.to_string())
                            .header(signing::HEADER_TIMESTAMP, now_s().to_string())
                            .header(signing::HEADER_NONCE, format!("junk{task:04}{i:016}"))
                            .header(signing::HEADER_SIGNATURE, junk_signature.as_str())
                            .body(junk_body.clone())
                            .send()
                            .await
                            .is_ok()
                    }
                };
                i += 1;
                if ok {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut signers = Vec::new();
    for client_idx in 0..args.clients.max(1) {
        let client = ApiClient::new(base)?;
        let (devices, stop) = (devices.clone(), stop.clone());
        signers.push(tokio::spawn(async move {
            let mut latencies_us = Vec::new();
            let mut not_accepted = 0u64;
            let mut i = client_idx;
            while !stop.load(Ordering::Relaxed) {
                let device = &devices[i % devices.len()];
                i += 7;
                let body = json!({
                    "alert_id": uuid::Uuid::new_v4(),
                    "priority": 1,
                    // Spread out, so surge clustering does not fold the load into a few incidents.
                    "location": {"lat": 34.0 + (i % 1000) as f64 * 0.004, "lon": 127.0, "accuracy_m": 15.0, "method": "gnss"},
                });
                let started = Instant::now();
                let result = client.send_alert(device, &body).await;
                let elapsed = started.elapsed();
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match result {
                    Ok((202, _)) => latencies_us.push(elapsed.as_micros() as u64),
                    _ => not_accepted += 1,
                }
            }
            (latencies_us, not_accepted)
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds.max(1))).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let flood_requests = flood_sent.load(Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut not_accepted = 0;
    for signer in signers {
        let (l, n) = signer.await?;
        latencies.extend(l);
        not_accepted += n;
    }
    for flooder in flooders {
        flooder.await?;
    }
    latencies.sort_unstable();
    Ok(Phase {
        accepted: latencies.len() as u64,
        not_accepted,
        alerts_per_s: latencies.len() as f64 / elapsed,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        flood_requests,
        flood_per_s: flood_requests as f64 / elapsed,
    })
}

/// Audit entries after `after_seq`: (last seq, rows written by junk, junk refusals they account for).
async fn junk_audit(
    store: &dyn jikimi_store::Store,
    after_seq: u64,
) -> anyhow::Result<(u64, u64, u64)> {
    let mut seq = after_seq;
    let (mut rows, mut accounted) = (0u64, 0u64);
    loop {
        let page = store.list_audit(seq, 1000).await?;
        let Some(last) = page.last() else {
            break;
        };
        seq = last.seq;
        for entry in &page {
            let action = entry.action.as_str();
            if !(action.starts_with("alert.rejected") || action.starts_with("alert.limited")) {
                continue;
            }
            rows += 1;
            accounted += if action.ends_with(".summary") {
                serde_json::from_str::<Value>(&entry.detail)
                    .ok()
                    .and_then(|d| d["count"].as_u64())
                    .unwrap_or(0)
            } else {
                1
            };
        }
    }
    Ok((seq, rows, accounted))
}

/// A login flood with wrong passwords: logins that ran argon2 (answered 401) and limited ones (429), per second.
async fn login_flood(base: &str, args: &FloodArgs) -> anyhow::Result<(f64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let (argon2, limited) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..args.flooders.max(1) {
        let http = reqwest::Client::new();
        let (base, stop, argon2, limited) = (
            base.to_string(),
            stop.clone(),
            argon2.clone(),
            limited.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let answer = http
                    .post(format!("{base}/api/auth/login"))
                    .json(&json!({"username": "nobody", "password": "guess-guess-guess"}))
                    .send()
                    .await;
                match answer.map(|r| r.status().as_u16()) {
                    Ok(401) => argon2.fetch_add(1, Ordering::Relaxed),
                    Ok(429) => limited.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.login_seconds.max(1))).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for task in tasks {
        task.await?;
    }
    Ok((
        argon2.load(Ordering::Relaxed) as f64 / elapsed,
        limited.load(Ordering::Relaxed) as f64 / elapsed,
    ))
}

/// argon2 verifications per second on every core of this machine: what a login flood could force from a server
/// with no limit and no bound on argon2 work.
async fn raw_argon2_rate(seconds: u64) -> anyhow::Result<f64> {
    let phc = jikimi_server::password::hash_password("correct horse battery")
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs(seconds.max(1));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let phc = phc.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let _ = jikimi_server::password::verify_password("wrong guess", &phc);
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for handle in handles {
        total += handle.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Runs the benchmark.
pub async fn flood(args: FloodArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let database_url = |name: &str| {
        args.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join(name).display()))
    };
    let keys = KeyMaterial::generate();
    let password = jikimi_server::password::generate_password();
    let url = database_url("flood.sqlite");
    let config = jikimi_server::Config {
        database_url: url.clone(),
        ..jikimi_server::Config::default()
    };
    let store = super::open_store(&config).await?;
    super::add_staff(store.as_ref(), "flood-admin", &password, Role::Admin).await?;
    let backend = store.backend();
    // Summaries every second, so the audit count is complete soon after the junk stops. The per-device alert
    // budget is moved out of the way: the benchmark's devices each send far more alerts than a phone would, and
    // this measures the flood defence, not the budget.
    let (server, base) = spawn_server(
        &url,
        &keys,
        &[
            "--notify",
            "false",
            "--flood-audit-interval-s",
            "1",
            "--alert-budget-burst",
            "1000000",
        ],
    )
    .await?;

    let mut admin = ApiClient::new(&base)?;
    admin.login("flood-admin", &password).await?;
    let mut devices = Vec::new();
    let mut n = 0;
    while devices.len() < args.devices.max(1) {
        let take = 64.min(args.devices.max(1) - devices.len());
        let subscriber = json!({"name": format!("Flood Subscriber {n}"), "phone": format!("010-7{:03}-{:04}", n % 1000, n)});
        devices.extend(admin.register_devices(&subscriber, take).await?);
        n += 1;
    }
    let victim = Arc::new(
        admin
            .register_devices(
                &json!({"name": "Flood Victim", "phone": "010-7999-9999"}),
                1,
            )
            .await?
            .pop()
            .context("no victim device")?,
    );
    // Warm-up: every device raises one alert, as a device in use would have.
    let warm = ApiClient::new(&base)?;
    for device in &devices {
        let (status, body) = warm
            .send_alert(
                device,
                &json!({"alert_id": uuid::Uuid::new_v4(), "priority": 1}),
            )
            .await?;
        anyhow::ensure!(status == 202, "warm-up alert answered {status}: {body}");
    }
    let devices = Arc::new(devices);
    let (start_seq, _, _) = junk_audit(store.as_ref(), 0).await?;

    let junk = phase(&base, &devices, &victim, &args, Flood::JunkAlerts).await?;
    // Let the flusher write the last summaries (every second), then count what the junk wrote.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (end_seq, junk_rows, accounted) = junk_audit(store.as_ref(), start_seq).await?;
    let healthz = phase(&base, &devices, &victim, &args, Flood::Healthz).await?;
    let (_, healthz_rows, _) = junk_audit(store.as_ref(), end_seq).await?;
    let (login_limited_argon2, login_limited_429) = login_flood(&base, &args).await?;
    drop(server);

    let raw_argon2 = raw_argon2_rate(3).await?;
    let url_off = database_url("flood-off.sqlite");
    let off_store = super::open_store(&jikimi_server::Config {
        database_url: url_off.clone(),
        ..jikimi_server::Config::default()
    })
    .await?;
    drop(off_store);
    let (server_off, base_off) = spawn_server(
        &url_off,
        &keys,
        &["--notify", "false", "--flood-limits", "false"],
    )
    .await?;
    let (login_unlimited_argon2, _) = login_flood(&base_off, &args).await?;
    drop(server_off);

    let ratio = junk.alerts_per_s / healthz.alerts_per_s;
    let junk_share = junk_rows as f64 / junk.flood_requests.max(1) as f64;
    let report = json!({
        "backend": backend,
        "clients": args.clients,
        "devices": args.devices,
        "flooders": args.flooders,
        "seconds": args.seconds,
        "with_junk_flood": junk.to_json(),
        "with_healthz_flood": healthz.to_json(),
        "throughput_ratio": ratio,
        "junk_audit_rows": junk_rows,
        "junk_audit_rows_share": junk_share,
        "junk_refusals_accounted_in_audit": accounted,
        "healthz_phase_junk_rows": healthz_rows,
        "argon2_raw_per_s": raw_argon2,
        "login_flood_argon2_per_s_limits_off": login_unlimited_argon2,
        "login_flood_argon2_per_s_limits_on": login_limited_argon2,
        "login_flood_429_per_s_limits_on": login_limited_429,
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "flood benchmark: jikimi serve on {backend}; {} signed clients over {} devices; {} flooders; {} s per phase",
        args.clients, args.devices, args.flooders, args.seconds
    );
    for (name, p) in [
        ("junk-alert flood", &junk),
        ("GET /healthz flood", &healthz),
    ] {
        println!(
            "  with {name:<18}: {:>7.0} alerts/s accepted (p50 {:.2} ms, p99 {:.2} ms, {} not accepted); flood {:.0} req/s",
            p.alerts_per_s, p.p50_ms, p.p99_ms, p.not_accepted, p.flood_per_s
        );
    }
    println!("  throughput ratio junk/healthz: {ratio:.2} (target >= 0.80)");
    println!(
        "  audit rows written by the junk: {junk_rows} for {} junk requests = {:.3}% (target <= 5%); the chain accounts for {accounted} of them",
        junk.flood_requests,
        junk_share * 100.0
    );
    println!(
        "  argon2 a login flood can force: raw {raw_argon2:.0}/s on this machine; limits off {login_unlimited_argon2:.1}/s (argon2 slots only); limits on {login_limited_argon2:.2}/s ({login_limited_429:.0} 429/s)"
    );
    Ok(())
}
