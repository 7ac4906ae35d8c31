//! `jikimi bench exchange`: cooperation sync throughput. Node A holds N leads with entities (default 100,000); node
//! B pulls them over loopback HTTP through the server crate's one federation router (as `jikimi federation serve`
//! runs it), verifying every Ed25519 signature and re-checking policy, in pages of 500. Reports leads per second,
//! bytes per lead on the wire and the process's peak RSS.
//!
//! The reference, measured in the same run: queueing the same N leads on A with the store's batch write
//! (`put_local_many`, 1,000 per transaction). The ratio says how much of the bare store's write rate survives
//! signing, policy on both sides, HTTP and receipts.
//!
//! Both nodes are SQLite files opened as `jikimi serve` opens its database (`synchronous=FULL`, records sealed), so
//! every page commits with its audit rows in the node's one hash chain. The request limits are off: they bound a
//! flood, and a bulk sync between two trusted nodes is not one. With `--interrupt` B is stopped halfway, reopened
//! and resumed; the output then says how many envelopes A disclosed in all (N + at most one page means nothing was
//! sent twice).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{Duration, Utc};
use jikimi_exchange::domain::{
    AgencyId, CaseCategory, Content, Entity, LeadContent, Record, RecordBody,
};
use jikimi_exchange::identifiers::{Chain, Domain, Iban, PhoneE164, Wallet};
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use jikimi_federation::cli::{AgreementArgs, Choice};
use jikimi_federation::{Node, SyncStats};
use jikimi_server::config::{Config, KeyMaterial};
use serde_json::json;
use uuid::Uuid;

/// Leads written per transaction when queueing on A.
const BATCH: usize = 1_000;

/// `jikimi bench exchange` options.
#[derive(Debug, clap::Args)]
pub struct ExchangeArgs {
    /// Leads queued on A and pulled by B.
    #[arg(long, env = "JIKIMI_BENCH_LEADS", default_value_t = 100_000)]
    leads: u64,
    /// Stop B halfway (as a crash would, mid-page), reopen its database and resume; report what A disclosed in all.
    #[arg(long, env = "JIKIMI_BENCH_INTERRUPT")]
    interrupt: bool,
    /// Print the result as one JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// Node `name`'s database in `dir`, opened as `jikimi serve` opens one (with the run's data keys).
fn config(dir: &Path, name: &str, keys: &KeyMaterial) -> Config {
    Config {
        database_url: format!("sqlite://{}", dir.join(format!("{name}.sqlite")).display()),
        keys: Some(keys.clone()),
        ..Config::default()
    }
}

/// A new node `name` with a fresh agency identity.
async fn new_node(config: &Config, name: &str, endpoint: Option<String>) -> anyhow::Result<Node> {
    let store = super::open_exchange_store(config).await?;
    jikimi_federation::create_identity(store.as_ref(), name.into(), "KR", endpoint).await?;
    Ok(Node::open(store).await?)
}

/// Lead `i` of the run: a suspect, a phone number, an account, a wallet and a website.
fn lead(i: u64, a: &Node, case_id: Uuid, marking: Marking) -> anyhow::Result<Record> {
    let now = Utc::now();
    let content = Content {
        title: format!("lead {i}"),
        summary: Some("victim reports a transfer to a mule account".into()),
        entities: vec![
            Entity::Person {
                id: Uuid::new_v4(),
                name: format!("Suspect {i}"),
                nationality: None,
                born: None,
                passport: None,
                border_control: false,
            },
            Entity::Phone {
                id: Uuid::new_v4(),
                number: PhoneE164::parse(&format!("+8210{:08}", i % 100_000_000), None)?,
            },
            Entity::Iban {
                id: Uuid::new_v4(),
                iban: Iban::parse("DE89370400440532013000")?,
            },
            Entity::CryptoWallet {
                id: Uuid::new_v4(),
                wallet: Wallet::parse(
                    Chain::Ethereum,
                    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                )?,
            },
            Entity::Website {
                id: Uuid::new_v4(),
                domain: Domain::parse(&format!("shop{i}.example.com"))?,
            },
        ],
        events: vec![],
        attachments: vec![],
    };
    Ok(Record {
        id: Uuid::now_v7(),
        version: 1,
        origin: a.id().clone(),
        category: CaseCategory::Scam,
        marking,
        updated_at: now,
        redacted: Default::default(),
        body: RecordBody::Lead(LeadContent { case_id, content }),
    })
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs the benchmark.
pub async fn exchange(args: ExchangeArgs) -> anyhow::Result<()> {
    let n = args.leads.max(1);
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let keys = KeyMaterial::generate();
    let (config_a, config_b) = (
        config(dir.path(), "a", &keys),
        config(dir.path(), "b", &keys),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let a = new_node(&config_a, "a", Some(url)).await?;
    let b = new_node(&config_b, "b", None).await?;
    a.store.upsert_peer(&b.me).await?;
    b.store.upsert_peer(&a.me).await?;
    // The agreement as `jikimi agreement create` builds it, mirrored on both nodes.
    let now = Utc::now();
    let agreement = jikimi_federation::cli::agreement_from_args(
        AgreementArgs {
            id: None,
            title: "bench".into(),
            parties: vec![b.id().as_str().to_string()],
            categories: vec![Choice(CaseCategory::Scam)],
            fields: "all".into(),
            max_tlp: Choice(Tlp::Amber),
            floor_tlp: Choice(Tlp::Green),
            floor_handling: Choice(HandlingCode::H0),
            purpose: "benchmark".into(),
            days: 1,
            valid_from: Some(now - Duration::hours(1)),
            onward: false,
            freeze_legal_basis: None,
            freeze_kinds: Vec::new(),
            freeze_jurisdictions: Vec::new(),
        },
        a.id(),
        now,
    )?;
    a.store.put_agreement(&agreement).await?;
    b.store.put_agreement(&agreement).await?;
    let marking = Marking {
        tlp: Tlp::Amber,
        handling: HandlingCode::H0,
        source: SourceGrade::B,
        information: InfoGrade::Two,
    };
    let case = a
        .create_case(
            CaseCategory::Scam,
            marking,
            Content {
                title: "bench case".into(),
                ..Content::default()
            },
            now,
        )
        .await?;

    // The reference: A's store writing the leads in batches.
    let queued = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..n {
        batch.push(lead(i, &a, case.id, marking)?);
        if batch.len() == BATCH || i + 1 == n {
            a.store.put_local_many(&batch).await?;
            batch.clear();
            if (i + 1) % 100_000 == 0 {
                eprintln!(
                    "queued {} leads, {:.0} s",
                    i + 1,
                    queued.elapsed().as_secs_f64()
                );
            }
        }
    }
    let queue_s = queued.elapsed().as_secs_f64();
    eprintln!("queued {n} leads on A in {queue_s:.1} s");

    let a = Arc::new(a);
    let service = Arc::new(jikimi_federation::Federation::new(
        a.store.clone(),
        jikimi_federation::DEFAULT_PAGE,
        jikimi_federation::Transport::default(),
    ));
    let no_limits = jikimi_server::flood::FloodConfig {
        limits: false,
        ..Default::default()
    };
    let server = tokio::spawn(async move {
        jikimi_server::federation::serve_with(
            listener,
            service,
            1 << 20,
            &no_limits,
            std::future::pending(),
        )
        .await
    });
    let start = Instant::now();
    let b_id = b.id().clone();
    let (stats, resumed_at) = if args.interrupt {
        interrupted_sync(&a, b, &config_b, n, start).await?
    } else {
        (b.sync_peer(&a.me).await?, None)
    };
    let sync_s = start.elapsed().as_secs_f64();
    server.abort();
    let leads = stats.applied.saturating_sub(1).max(1);
    let disclosed = a.store.disclosure_counts(&b_id).await?.0;
    let sync_per_s = leads as f64 / sync_s;
    let write_per_s = n as f64 / queue_s;
    let report = json!({
        "leads": leads,
        "seconds": (sync_s * 100.0).round() / 100.0,
        "leads_per_second": sync_per_s.round(),
        "local_write_leads_per_second": write_per_s.round(),
        "ratio_to_local_write": (sync_per_s / write_per_s * 1000.0).round() / 1000.0,
        "bytes_on_wire": stats.bytes,
        "bytes_per_lead": if resumed_at.is_some() { serde_json::Value::Null } else { (stats.bytes / leads).into() },
        "pages": stats.pages,
        "rejected": stats.rejected,
        "interrupted_at_cursor": resumed_at,
        "envelopes_disclosed_by_a": disclosed,
        "peak_rss_mib_both_nodes": peak_rss_kib() / 1024,
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "exchange sync: {leads} leads in {sync_s:.1} s, {sync_per_s:.0} leads/s over HTTP ({:.2} of the store's own \
         batch write, {write_per_s:.0} leads/s); {} bytes on the wire in {} pages; {} rejected; A disclosed {disclosed} \
         envelopes; peak RSS {} MiB",
        sync_per_s / write_per_s,
        stats.bytes,
        stats.pages,
        stats.rejected,
        peak_rss_kib() / 1024
    );
    if let Some(at) = resumed_at {
        println!("interrupted at cursor {at}, resumed after reopening B");
    }
    Ok(())
}

/// Stops B halfway (the sync future is dropped mid-page, like a crash: the page in flight is rolled back), reopens
/// its database as a restarted node would and resumes. Returns B's totals and the cursor it was stopped at.
async fn interrupted_sync(
    a: &Arc<Node>,
    b: Node,
    config_b: &Config,
    n: u64,
    start: Instant,
) -> anyhow::Result<(SyncStats, Option<u64>)> {
    let b = Arc::new(b);
    let task = {
        let (b, me) = (b.clone(), a.me.clone());
        tokio::spawn(async move { b.sync_peer(&me).await })
    };
    while b.store.cursor(a.id()).await? < n / 2 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    task.abort();
    let _ = task.await;
    let at = b.store.cursor(a.id()).await?;
    let disclosed_before = a.store.disclosure_counts(b.id()).await?.0;
    eprintln!(
        "interrupted: B committed up to cursor {at}; A had disclosed {disclosed_before} envelopes; {:.1} s; peak RSS {} MiB",
        start.elapsed().as_secs_f64(),
        peak_rss_kib() / 1024
    );
    let b_id: AgencyId = b.id().clone();
    drop(b);
    let b = Node::open(super::open_exchange_store(config_b).await?).await?;
    // Progress while resuming: what B holds against what A has disclosed (a gap larger than one page would mean A
    // re-sends what B had committed).
    let progress = {
        let (a, b_store) = (a.clone(), b.store.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                if let (Ok(cursor), Ok((disclosed, receipted))) = (
                    b_store.cursor(a.id()).await,
                    a.store.disclosure_counts(&b_id).await,
                ) {
                    eprintln!(
                        "progress: B cursor {cursor}, A disclosed {disclosed} ({receipted} with receipts), {:.0} s, peak RSS {} MiB",
                        start.elapsed().as_secs_f64(),
                        peak_rss_kib() / 1024
                    );
                }
            }
        })
    };
    let rest = b.sync_peer(&a.me).await?;
    progress.abort();
    // Count what B holds page by page (loading it all would dominate the peak memory).
    let (mut total, mut cursor) = (0u64, 0u64);
    loop {
        let page = b.store.log_after(cursor, 1000).await?;
        let Some(last) = page.last() else { break };
        cursor = last.seq;
        total += page.len() as u64;
    }
    Ok((
        SyncStats {
            applied: total,
            ..rest
        },
        Some(at),
    ))
}
