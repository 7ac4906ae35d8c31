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
//! 5. With `--hma URL`: the same lookups (same seeds, same clients, same seconds) against Meta's
//!    Hasher-Matcher-Actioner loaded with the same hashes (`scripts/hma/`: `--print-hashes` writes them), in the
//!    same run, after our server has stopped: its lookup API (`/m/lookup`) and its index alone (`/m/raw_lookup`),
//!    and the ratios of the throughputs.

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
    /// Print the bank's hashes (hex, one per line) for `--hashes` and `--seed`, and stop: what
    /// `scripts/hma/load.py` loads into HMA so that both answer the same lookups.
    #[arg(long)]
    print_hashes: bool,
    /// Also run the same lookups against a Hasher-Matcher-Actioner at this URL, loaded with the same hashes.
    #[arg(long)]
    hma: Option<String>,
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

/// Where the lookups go: the jikimi server under test, or a Hasher-Matcher-Actioner loaded with the same hashes.
#[derive(Clone)]
enum Target {
    Jikimi(Arc<ApiClient>),
    /// HMA's `/m/lookup` (its lookup API: the index, then the bank contents from its database) or, with `raw`,
    /// `/m/raw_lookup` (the index alone, content ids only).
    Hma {
        base: String,
        http: reqwest::Client,
        raw: bool,
    },
}

impl Target {
    /// Looks one hash up; true when any bank matched.
    async fn lookup(&self, hash: [u64; 4]) -> anyhow::Result<bool> {
        match self {
            Target::Jikimi(client) => {
                let answer = client
                    .get_json(&format!(
                        "/api/identify/lookup?signal_type=pdq&signal={}",
                        hex(hash)
                    ))
                    .await?;
                Ok(answer["banks"]
                    .as_array()
                    .is_some_and(|banks| !banks.is_empty()))
            }
            Target::Hma { base, http, raw } => {
                let endpoint = if *raw { "raw_lookup" } else { "lookup" };
                let response = http
                    .get(format!("{base}/m/{endpoint}"))
                    .query(&[("signal_type", "pdq"), ("signal", hex(hash).as_str())])
                    .send()
                    .await?;
                let status = response.status();
                let answer: serde_json::Value = response.json().await?;
                anyhow::ensure!(status.is_success(), "HMA answered {status}: {answer}");
                Ok(hma_matched(&answer))
            }
        }
    }
}

/// Whether an HMA answer holds a match: `/m/lookup` answers `{"BANK": [{"bank_content_id": .., "distance": ..}]}`
/// per matching bank (`{}` for none), `/m/raw_lookup` answers `{"matches": [content ids]}`.
fn hma_matched(answer: &serde_json::Value) -> bool {
    answer.as_object().is_some_and(|banks| {
        banks
            .values()
            .any(|m| m.as_array().is_some_and(|m| !m.is_empty()))
    })
}

/// What one measurement found.
struct Measured {
    /// Latencies of answered lookups in µs, sorted.
    latencies: Vec<u64>,
    matched: u64,
    errors: u64,
    elapsed_s: f64,
}

impl Measured {
    fn per_s(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed_s
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "lookups": self.latencies.len(),
            "lookups_per_s": self.per_s(),
            "matched_share": self.matched as f64 / self.latencies.len().max(1) as f64,
            "errors": self.errors,
            "p50_ms": percentile_ms(&self.latencies, 0.50),
            "p99_ms": percentile_ms(&self.latencies, 0.99),
        })
    }

    fn line(&self, clients: usize) -> String {
        format!(
            "{clients} clients: {:.0} lookups/s, p50 {:.2} ms, p99 {:.2} ms, {:.0}% matched, {} errors",
            self.per_s(),
            percentile_ms(&self.latencies, 0.50),
            percentile_ms(&self.latencies, 0.99),
            100.0 * self.matched as f64 / self.latencies.len().max(1) as f64,
            self.errors
        )
    }
}

/// `clients` concurrent clients look up for `seconds`: half the queries stored hashes with 0 to 8 bits flipped,
/// half random. The same `seed` gives the same queries whichever the target.
async fn measure(
    target: &Target,
    stored: &Arc<Vec<[u64; 4]>>,
    clients: usize,
    seconds: u64,
    seed: u64,
) -> anyhow::Result<Measured> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..clients.max(1) {
        let (target, stop, stored) = (target.clone(), stop.clone(), stored.clone());
        let seed = seed ^ (c as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
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
                match target.lookup(query).await {
                    Ok(hit) => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                        matched += u64::from(hit);
                    }
                    Err(_) => errors += 1,
                }
            }
            (latencies, matched, errors)
        }));
    }
    let measured = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds.max(1))).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed_s = measured.elapsed().as_secs_f64();
    let mut out = Measured {
        latencies: Vec::new(),
        matched: 0,
        errors: 0,
        elapsed_s,
    };
    for task in tasks {
        let (l, m, e) = task.await.context("lookup client panicked")?;
        out.latencies.extend(l);
        out.matched += m;
        out.errors += e;
    }
    out.latencies.sort_unstable();
    Ok(out)
}

/// A spinner (or a bar when `len` is known) on standard error, hidden when it is not a terminal.
fn progress(len: Option<u64>, message: &'static str) -> indicatif::ProgressBar {
    let bar = match len {
        Some(len) => indicatif::ProgressBar::new(len).with_style(
            indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The first lookup, once the server has loaded the bank: a server still loading answers `unavailable` (with
/// `Retry-After`), so this retries for up to an hour; any other failure ends the benchmark.
async fn first_lookup(client: &ApiClient, probe: &str) -> anyhow::Result<serde_json::Value> {
    let spinner = progress(None, "server loading the bank");
    let deadline = Instant::now() + Duration::from_secs(3600);
    let path = format!("/api/identify/lookup?signal_type=pdq&signal={probe}");
    let answer = loop {
        match client.get_json(&path).await {
            Ok(answer) => break answer,
            Err(err)
                if Instant::now() < deadline
                    && format!("{err:#}").contains("503 Service Unavailable") =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => return Err(err),
        }
    };
    spinner.finish_and_clear();
    Ok(answer)
}

/// HMA's lookup API and its bare index endpoint, when `--hma` is given, each checked to answer and to match the
/// bank's first hash (loaded with the same `--hashes` and `--seed`).
async fn hma_targets(args: &IdentifyArgs) -> anyhow::Result<Vec<Target>> {
    let Some(base) = &args.hma else {
        return Ok(Vec::new());
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the http client")?;
    let first = Mix(args.seed).hash();
    let mut targets = Vec::new();
    for raw in [false, true] {
        let target = Target::Hma {
            base: base.trim_end_matches('/').to_string(),
            http: http.clone(),
            raw,
        };
        if args.hashes > 0 {
            let matched = target.lookup(first).await.with_context(|| {
                format!("HMA at {base} did not answer a lookup: start it with scripts/hma/serve.sh (scripts/hma/README.md)")
            })?;
            anyhow::ensure!(
                matched,
                "HMA at {base} does not match the bank's first hash: load it with the same --hashes and --seed \
                 (scripts/hma/README.md)"
            );
        }
        targets.push(target);
    }
    Ok(targets)
}

/// Runs the benchmark.
pub async fn run(args: IdentifyArgs) -> anyhow::Result<()> {
    if args.print_hashes {
        use std::io::Write as _;
        let mut mix = Mix(args.seed);
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for _ in 0..args.hashes {
            writeln!(out, "{}", hex(mix.hash()))?;
        }
        out.flush()?;
        return Ok(());
    }
    // HMA is checked first, so that a missing or differently loaded HMA fails before a long import.
    let hma_targets = hma_targets(&args).await?;
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
    let bar = progress(Some(args.hashes as u64), "importing");
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
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let import_s = import_started.elapsed().as_secs_f64();
    drop(store);

    let start = Instant::now();
    let (server, base) = spawn_server(&url, &keys, &["--notify", "false"]).await?;
    let mut client = ApiClient::new(&base)?;
    client.login("identify-analyst", &password).await?;
    let client = Arc::new(client);
    let probe = hex(stored.first().copied().unwrap_or_default());
    let first = first_lookup(&client, &probe).await?;
    anyhow::ensure!(
        args.hashes == 0 || first["banks"][0]["matches"][0]["distance"] == 0,
        "the first stored hash is not found: {first}"
    );
    let load_s = start.elapsed().as_secs_f64();
    let rss = rss_bytes(server.id());

    let stored = Arc::new(stored);
    let ours = measure(
        &Target::Jikimi(client.clone()),
        &stored,
        args.clients,
        args.seconds,
        args.seed,
    )
    .await?;

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

    // The same lookups against HMA, after our server has stopped (the machine is theirs alone): its lookup API,
    // then its index alone.
    let mut hma = Vec::new();
    for target in &hma_targets {
        hma.push(measure(target, &stored, args.clients, args.seconds, args.seed).await?);
    }

    let mut report = json!({
        "backend": backend,
        "hashes": args.hashes,
        "clients": args.clients,
        "import_s": import_s,
        "server_load_s": load_s,
        "server_rss_bytes_loaded": rss,
        "server_rss_bytes_after": rss_after,
        "time_to_matchable_ms_median": matchable_ms.get(matchable_ms.len() / 2),
        "time_to_matchable_ms_max": matchable_ms.last(),
    });
    if let (Some(fields), serde_json::Value::Object(ours)) = (report.as_object_mut(), ours.json()) {
        fields.extend(ours);
    }
    if let [api, raw] = hma.as_slice() {
        report["hma_lookup"] = api.json();
        report["hma_raw_lookup"] = raw.json();
        report["ratio_to_hma_lookup"] = json!(ours.per_s() / api.per_s());
        report["ratio_to_hma_raw_lookup"] = json!(ours.per_s() / raw.per_s());
    }
    if args.json {
        println!("{report}");
    } else {
        println!(
            "identify bench ({backend}): {} hashes imported in {import_s:.1} s; server loaded and answering in {load_s:.1} s, RSS {:.0} MB",
            args.hashes,
            rss.unwrap_or_default() as f64 / 1e6
        );
        println!(
            "  jikimi, every lookup audited: {}",
            ours.line(args.clients)
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
        if let [api, raw] = hma.as_slice() {
            println!("  HMA /m/lookup, same lookups: {}", api.line(args.clients));
            println!(
                "  HMA /m/raw_lookup (index only, not audited): {}",
                raw.line(args.clients)
            );
            println!(
                "  jikimi / HMA throughput: {:.1}x (/m/lookup), {:.1}x (/m/raw_lookup)",
                ours.per_s() / api.per_s(),
                ours.per_s() / raw.per_s()
            );
        }
    }
    Ok(())
}
