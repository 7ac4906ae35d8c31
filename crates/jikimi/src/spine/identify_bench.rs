//! `jikimi bench identify`: hash-bank lookups over HTTP against a real `jikimi serve` child process (issue 19).
//!
//! 1. A bank of N random PDQ hashes (default 1,000,000; `--hashes 10000000`) is imported into the store in
//!    batches (one transaction and one audit entry per batch, as a hash list is imported).
//! 2. The server starts and loads the bank into memory: the time until the first lookup answers, and the server's
//!    resident memory after.
//! 3. Concurrent clients look up for `--seconds`: half the queries are stored hashes with 0 to 8 bits flipped (a
//!    match), half random (no match). Every lookup is audited by the server, as in production. Lookups/s, p50/p99.
//! 4. Time to matchable: a new hash is added over HTTP and looked up at once, `--adds` times; the worst and the
//!    median time from sending the add to the first lookup that finds it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jikimi_server::config::KeyMaterial;
use jikimi_server::roles::Role;
use jikimi_store::Change;
use jikimi_store::identify::{LOCAL_ORIGIN, NewBank, NewContent, SignalType};
use serde_json::json;
use uuid::Uuid;

use super::child::spawn_server;
use super::client::ApiClient;

/// `jikimi bench identify` options.
#[derive(Debug, clap::Args)]
pub struct IdentifyArgs {
    /// Hashes in the bank.
    #[arg(long, default_value_t = 1_000_000)]
    hashes: usize,
    /// Concurrent lookup clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Measured seconds of lookups.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Hashes added one by one for the time-to-matchable figure.
    #[arg(long, default_value_t = 20)]
    adds: usize,
    /// Database for the server (default: a SQLite file in a temporary directory). For PostgreSQL give a scratch
    /// database: the benchmark leaves its data there.
    #[arg(long)]
    database_url: Option<String>,
    /// Seed of the random hashes.
    #[arg(long, default_value_t = 19)]
    seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// splitmix64: a fast, seeded stream of hashes (no need for a cryptographic generator here).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn hash(&mut self) -> [u64; 4] {
        [self.next(), self.next(), self.next(), self.next()]
    }
}

fn hex(h: [u64; 4]) -> String {
    jikimi_mediahash::Hash256(h).to_hex()
}

fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us[idx.min(sorted_us.len() - 1)] as f64 / 1000.0
}

/// Resident memory of a process in bytes (Linux).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs the benchmark.
pub async fn run(args: IdentifyArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("identify.sqlite").display()));
    let keys = KeyMaterial::generate();
    let password = jikimi_server::password::generate_password();
    let config = jikimi_server::Config {
        database_url: url.clone(),
        ..jikimi_server::Config::default()
    };
    let store = super::open_store(&config).await?;
    super::add_staff(store.as_ref(), "identify-analyst", &password, Role::Analyst).await?;
    let backend = store.backend();
    let change = Change::new(
        jikimi_respond::Actor::System,
        jikimi_respond::Timestamp::from(std::time::SystemTime::now()),
        "bench identify",
    );
    let bank = store
        .create_bank(
            &NewBank {
                id: Uuid::now_v7(),
                name: format!("bench-{}", Uuid::new_v4().simple()),
                match_distance: 31,
                negative: false,
                suppresses: Vec::new(),
                origin: LOCAL_ORIGIN.into(),
            },
            &change,
        )
        .await?;
    let mut mix = Mix(args.seed);
    let mut stored: Vec<[u64; 4]> = Vec::with_capacity(args.hashes.min(1 << 20));
    let import_started = Instant::now();
    let mut remaining = args.hashes;
    while remaining > 0 {
        let n = remaining.min(50_000);
        remaining -= n;
        let batch: Vec<NewContent> = (0..n)
            .map(|_| {
                let h = mix.hash();
                if stored.len() < (1 << 20) {
                    stored.push(h);
                }
                NewContent {
                    id: Uuid::now_v7(),
                    bank_id: bank.id,
                    signal_type: SignalType::Pdq,
                    signal: hex(h),
                    category: None,
                    series: None,
                    signal_id: None,
                }
            })
            .collect();
        store.import_content(bank.id, &batch, &change).await?;
    }
    let import_s = import_started.elapsed().as_secs_f64();
    drop(store);

    let start = Instant::now();
    let (server, base) = spawn_server(&url, &keys, &["--notify", "false"]).await?;
    let mut client = ApiClient::new(&base)?;
    client.login("identify-analyst", &password).await?;
    let client = Arc::new(client);
    let probe = hex(stored.first().copied().unwrap_or_default());
    let first = client
        .get_json(&format!(
            "/api/identify/lookup?signal_type=pdq&signal={probe}"
        ))
        .await?;
    anyhow::ensure!(
        args.hashes == 0 || first["banks"][0]["matches"][0]["distance"] == 0,
        "the first stored hash is not found: {first}"
    );
    let load_s = start.elapsed().as_secs_f64();
    let rss = rss_bytes(server.id());

    // Lookups.
    let stop = Arc::new(AtomicBool::new(false));
    let stored = Arc::new(stored);
    let mut tasks = Vec::new();
    for c in 0..args.clients.max(1) {
        let (client, stop, stored) = (client.clone(), stop.clone(), stored.clone());
        let seed = args.seed ^ (c as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
        tasks.push(tokio::spawn(async move {
            let mut mix = Mix(seed);
            let mut latencies = Vec::new();
            let (mut matched, mut errors) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let r = mix.next();
                let query = if r & 1 == 0 && !stored.is_empty() {
                    let mut h = stored[(r >> 1) as usize % stored.len()];
                    for _ in 0..(r >> 40) % 9 {
                        let bit = mix.next() % 256;
                        h[(bit / 64) as usize] ^= 1 << (bit % 64);
                    }
                    h
                } else {
                    mix.hash()
                };
                let sent = Instant::now();
                match client
                    .get_json(&format!(
                        "/api/identify/lookup?signal_type=pdq&signal={}",
                        hex(query)
                    ))
                    .await
                {
                    Ok(answer) => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                        if answer["banks"]
                            .as_array()
                            .is_some_and(|banks| !banks.is_empty())
                        {
                            matched += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (latencies, matched, errors)
        }));
    }
    let measured = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds.max(1))).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = measured.elapsed().as_secs_f64();
    let (mut latencies, mut matched, mut errors) = (Vec::new(), 0u64, 0u64);
    for task in tasks {
        let (l, m, e) = task.await.context("lookup client panicked")?;
        latencies.extend(l);
        matched += m;
        errors += e;
    }
    latencies.sort_unstable();
    let lookups_per_s = latencies.len() as f64 / elapsed;

    // Time to matchable.
    let mut matchable_ms = Vec::new();
    for _ in 0..args.adds {
        let h = hex(mix.hash());
        let sent = Instant::now();
        client
            .post_json(
                &format!("/api/identify/banks/{}/content", bank.id),
                &json!({"signal_type": "pdq", "signal": h}),
            )
            .await?;
        loop {
            let answer = client
                .get_json(&format!("/api/identify/lookup?signal_type=pdq&signal={h}"))
                .await?;
            if answer["banks"][0]["matches"][0]["distance"] == 0 {
                break;
            }
            anyhow::ensure!(
                sent.elapsed() < Duration::from_secs(30),
                "an added hash was not matchable within 30 s"
            );
        }
        matchable_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    matchable_ms.sort_by(f64::total_cmp);
    let rss_after = rss_bytes(server.id());
    drop(server);

    let report = json!({
        "backend": backend,
        "hashes": args.hashes,
        "clients": args.clients,
        "import_s": import_s,
        "server_load_s": load_s,
        "server_rss_bytes_loaded": rss,
        "server_rss_bytes_after": rss_after,
        "lookups": latencies.len(),
        "lookups_per_s": lookups_per_s,
        "matched_share": matched as f64 / latencies.len().max(1) as f64,
        "errors": errors,
        "p50_ms": percentile_ms(&latencies, 0.50),
        "p99_ms": percentile_ms(&latencies, 0.99),
        "time_to_matchable_ms_median": matchable_ms.get(matchable_ms.len() / 2),
        "time_to_matchable_ms_max": matchable_ms.last(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "identify bench ({backend}): {} hashes imported in {import_s:.1} s; server loaded and answering in {load_s:.1} s, RSS {:.0} MB",
            args.hashes,
            rss.unwrap_or_default() as f64 / 1e6
        );
        println!(
            "  {} clients: {lookups_per_s:.0} lookups/s (every lookup audited), p50 {:.2} ms, p99 {:.2} ms, {:.0}% matched, {errors} errors",
            args.clients,
            percentile_ms(&latencies, 0.50),
            percentile_ms(&latencies, 0.99),
            100.0 * matched as f64 / latencies.len().max(1) as f64
        );
        println!(
            "  time to matchable (add over HTTP, then look up): median {:.1} ms, max {:.1} ms over {} adds",
            matchable_ms
                .get(matchable_ms.len() / 2)
                .copied()
                .unwrap_or(f64::NAN),
            matchable_ms.last().copied().unwrap_or(f64::NAN),
            matchable_ms.len()
        );
    }
    Ok(())
}
