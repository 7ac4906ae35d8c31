//! `jikimi bench operations`: joint operations across three nodes (A leads, B and C take part), each a SQLite
//! database opened as `jikimi serve` opens one, each serving the one federation router on loopback. A and B issue
//! situation log entries, alternately, at `--rate` changes per second; each is pushed to the other two as it commits.
//!
//! Each change wakes its origin's pushers, which send what is pending for each participant as one signed batch.
//!
//! Propagation: from the change's commit at its origin to the origin's receipt of the receiver's signed
//! acknowledgement of the batch that carried it (sent after the receiver checked and applied it), per change and
//! receiver: p50, p99 and max, and how many batches carried them.
//! Catch-up: C's listener is stopped for `--partition-s` while A and B keep working at the same rate; then it is
//! started again and the time until C holds every event of A and B (pushed from their delivery marks in batches, as
//! the periodic sync does) is reported, with the count of events C holds twice (must be 0) or lacks (must be 0).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use jikimi_exchange::domain::{CaseCategory, FieldClass};
use jikimi_exchange::marking::{HandlingCode, Tlp};
use jikimi_exchange::operation::{Change, Part, Participant, Role};
use jikimi_federation::cli::{AgreementArgs, Choice};
use jikimi_federation::operation::{NewChange, fold_applied, salt};
use jikimi_federation::{Federation, Node, Transport};
use jikimi_server::config::{Config, KeyMaterial};
use serde_json::json;
use uuid::Uuid;

/// `jikimi bench operations` options.
#[derive(Debug, clap::Args)]
pub struct OperationsArgs {
    /// Changes per second, issued alternately by A and B.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Seconds of load measured for propagation.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds C is cut off while A and B keep working.
    #[arg(long = "partition-s", default_value_t = 60)]
    partition_s: u64,
    /// Print the result as one JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

struct Site {
    node: Arc<Node>,
    addr: std::net::SocketAddr,
    service: Arc<Federation>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn config(dir: &Path, name: &str, keys: &KeyMaterial) -> Config {
    Config {
        database_url: format!("sqlite://{}", dir.join(format!("{name}.sqlite")).display()),
        keys: Some(keys.clone()),
        ..Config::default()
    }
}

fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Federation>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let no_limits = jikimi_server::flood::FloodConfig {
        limits: false,
        ..Default::default()
    };
    tokio::spawn(async move {
        jikimi_server::federation::serve_with(
            listener,
            service,
            1 << 20,
            &no_limits,
            std::future::pending(),
        )
        .await
    })
}

async fn site(dir: &Path, name: &str, keys: &KeyMaterial) -> anyhow::Result<Site> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let store = super::open_exchange_store(&config(dir, name, keys)).await?;
    jikimi_federation::create_identity(
        store.as_ref(),
        name.into(),
        "KR",
        Some(format!("http://{addr}")),
    )
    .await?;
    let service = Arc::new(Federation::new(
        store,
        jikimi_federation::DEFAULT_PAGE,
        Transport::default(),
    ));
    let node = service.node().await?;
    let server = serve(listener, service.clone());
    Ok(Site {
        node,
        addr,
        service,
        server,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// When each change of A (0) and B (1) committed, by its number: what delivery times are measured from.
type Commits = Arc<std::sync::Mutex<std::collections::HashMap<(usize, u64), Instant>>>;

/// Issues `count` log entries alternately at A and B, `rate` per second, noting when each committed and waking the
/// origin's pushers (which batch them to the others). Returns the seconds the load took.
async fn load(sites: &[Arc<Node>; 3], op: Uuid, count: u64, rate: u64, commits: &Commits) -> f64 {
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        tokio::time::sleep_until(start + Duration::from_micros(i * 1_000_000 / rate.max(1))).await;
        let origin = (i % 2) as usize;
        let node = sites[origin].clone();
        let commits = commits.clone();
        tasks.push(tokio::spawn(async move {
            let new = NewChange {
                change: Change::Log {
                    entry: Uuid::now_v7(),
                },
                parts: [(
                    FieldClass::Event,
                    Part::new(json!(format!("situation report {i}")), salt()),
                )]
                .into(),
                marking: Default::default(),
            };
            let Ok(event) = node.operation_change(op, new, Utc::now()).await else {
                return;
            };
            if let Ok(mut c) = commits.lock() {
                c.insert((origin, event.head.body.seq), Instant::now());
            }
            let _ = node.wake_pushers().await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    start.elapsed().as_secs_f64()
}

/// What the delivery watchers saw: each delivery's time from commit (ms), and how many acknowledged batches.
#[derive(Default)]
struct Seen {
    ms: Vec<f64>,
    batches: u64,
}

/// Watches A's and B's delivery progress: each (change, receiver) acknowledged gets its time from commit.
fn watch(sites: &[Arc<Node>; 3], commits: &Commits) -> Arc<std::sync::Mutex<Seen>> {
    let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
    for (origin, site) in sites.iter().enumerate().take(2) {
        let mut feed = site.deliveries();
        let (commits, seen) = (commits.clone(), seen.clone());
        tokio::spawn(async move {
            let mut marks: std::collections::HashMap<_, u64> = std::collections::HashMap::new();
            loop {
                let d = match feed.recv().await {
                    Ok(d) => d,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                };
                let now = Instant::now();
                let from = marks.insert(d.peer.clone(), d.through).unwrap_or(0);
                let Ok(commits) = commits.lock() else { return };
                let Ok(mut seen) = seen.lock() else { return };
                seen.batches += 1;
                for seq in from + 1..=d.through {
                    if let Some(t) = commits.get(&(origin, seq)) {
                        seen.ms.push((now - *t).as_secs_f64() * 1000.0);
                    }
                }
            }
        });
    }
    seen
}

/// Runs the benchmark.
pub async fn operations(args: OperationsArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let keys = KeyMaterial::generate();
    let a = site(dir.path(), "a", &keys).await?;
    let b = site(dir.path(), "b", &keys).await?;
    let mut c = site(dir.path(), "c", &keys).await?;
    let nodes = [a.node.clone(), b.node.clone(), c.node.clone()];
    for x in &nodes {
        for y in &nodes {
            if x.id() != y.id() {
                x.store.upsert_peer(&y.me).await?;
            }
        }
    }
    let now = Utc::now();
    let agreement = jikimi_federation::cli::agreement_from_args(
        AgreementArgs {
            id: None,
            title: "bench".into(),
            parties: vec![b.node.id().to_string(), c.node.id().to_string()],
            categories: vec![Choice(CaseCategory::Scam)],
            fields: "all".into(),
            max_tlp: Choice(Tlp::Amber),
            floor_tlp: Choice(Tlp::Green),
            floor_handling: Choice(HandlingCode::H0),
            purpose: "benchmark".into(),
            days: 1,
            valid_from: Some(now - chrono::Duration::hours(1)),
            onward: false,
            freeze_legal_basis: None,
            freeze_kinds: Vec::new(),
            freeze_jurisdictions: Vec::new(),
        },
        a.node.id(),
        now,
    )?;
    for n in &nodes {
        n.store.put_agreement(&agreement).await?;
    }
    let invite = |n: &Node| Participant {
        agency: n.id().clone(),
        role: Role::Participant,
        legal_basis: "bench".into(),
    };
    let held = a
        .node
        .operation_create(
            "bench operation".into(),
            BTreeSet::from([agreement.id]),
            "bench".into(),
            vec![invite(&b.node), invite(&c.node)],
            None,
            now,
        )
        .await?;
    let op = held.view.id;
    a.node.push_operations_all().await?;
    for n in [&b.node, &c.node] {
        n.operation_change(
            op,
            NewChange::plain(Change::Join {
                legal_basis: "bench".into(),
            }),
            Utc::now(),
        )
        .await?;
        n.push_operations_all().await?;
    }

    // Propagation under load: every change to both others, timed from its commit to its origin's receipt of the
    // receiver's signed acknowledgement.
    let commits: Commits = Default::default();
    let seen = watch(&nodes, &commits);
    let count = args.rate * args.seconds;
    let load_s = load(&nodes, op, count, args.rate, &commits).await;
    let expected = (count * 2) as usize;
    let drained = Instant::now();
    while seen.lock().map(|s| s.ms.len()).unwrap_or(expected) < expected
        && drained.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut ms, batches) = {
        let s = seen.lock().map_err(|_| anyhow::anyhow!("watcher failed"))?;
        (s.ms.clone(), s.batches)
    };
    ms.sort_by(f64::total_cmp);

    // Partition: C's listener stops; A and B keep working (their pushers to C fail and back off); C returns, and
    // A and B push from their marks to it, as the next sync round (or the pushers' next try) does.
    c.server.abort();
    let _ = (&mut c.server).await;
    let partition_count = args.rate * args.partition_s;
    load(&nodes, op, partition_count, args.rate, &commits).await;
    let listener = tokio::net::TcpListener::bind(c.addr).await?;
    c.server = serve(listener, c.service.clone());
    let back = Instant::now();
    let (from_a, from_b) = tokio::join!(
        a.node.push_operations(&c.node.me),
        b.node.push_operations(&c.node.me)
    );
    from_a?;
    from_b?;
    let catch_up_s = back.elapsed().as_secs_f64();
    let at_a = fold_applied(&a.node.store.op_events(op).await?).context("operation at A")?;
    let held_c = c.node.store.op_events(op).await?;
    let at_c = fold_applied(&held_c).context("operation at C")?;
    let mut keys: Vec<(String, u64)> = held_c
        .iter()
        .map(|h| (h.event.head.body.origin.to_string(), h.event.head.body.seq))
        .collect();
    let total = keys.len();
    keys.sort();
    keys.dedup();
    let missing: u64 = at_a
        .heads
        .iter()
        .map(|(o, n)| n.saturating_sub(at_c.heads.get(o).copied().unwrap_or(0)))
        .sum();
    for s in [&a, &b, &c] {
        s.server.abort();
    }
    let report = json!({
        "nodes": 3,
        "rate_per_s": args.rate,
        "changes_measured": count,
        "load_seconds": (load_s * 100.0).round() / 100.0,
        "deliveries_measured": ms.len(),
        "deliveries_expected": expected,
        "batches_acknowledged": batches,
        "batches_per_s": ((batches as f64 / load_s.max(0.001)) * 10.0).round() / 10.0,
        "propagation_ms": {
            "p50": (percentile(&ms, 0.50) * 10.0).round() / 10.0,
            "p99": (percentile(&ms, 0.99) * 10.0).round() / 10.0,
            "max": (ms.last().copied().unwrap_or(0.0) * 10.0).round() / 10.0,
        },
        "partition_s": args.partition_s,
        "changes_during_partition": partition_count,
        "catch_up_s": (catch_up_s * 100.0).round() / 100.0,
        "events_at_c": total,
        "doubled_at_c": total - keys.len(),
        "missing_at_c": missing,
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "operations: 3 nodes, {} changes/s; propagation p50 {} ms, p99 {} ms over {} deliveries; after a {} s \
         partition ({} changes) C caught up in {:.2} s, {} doubled, {} missing",
        args.rate,
        report["propagation_ms"]["p50"],
        report["propagation_ms"]["p99"],
        ms.len(),
        args.partition_s,
        partition_count,
        catch_up_s,
        total - keys.len(),
        missing
    );
    Ok(())
}
