//! Sync benchmark: node A holds N leads with entities (default 100,000); node B pulls them over
//! HTTP on loopback, verifying every Ed25519 signature and re-checking policy, in pages of 500.
//! Reports leads per second, bytes per lead on the wire, and the process's peak RSS.
//!
//! Both nodes are the store crate's `SqliteStore` (the spine's database, `synchronous=FULL`), so
//! every page commits with its audit rows in the node's one hash chain.
//!
//! Run: `cargo bench -p jikimi-federation --bench sync` (`JIKIMI_BENCH_LEADS=10000` for a quick run).
//! With `JIKIMI_BENCH_INTERRUPT=1` B is stopped halfway, reopened and resumed; the output then
//! says how many envelopes A disclosed in all (N + at most one page means nothing was re-sent).
//! Leads are queued on A in batches of 1,000 per transaction (`put_local_many`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{
    Agency, AgencyId, Agreement, CaseCategory, Content, Entity, FieldClass, LeadContent, Record,
    RecordBody,
};
use jikimi_exchange::identifiers::{Chain, Domain, Iban, PhoneE164, Wallet};
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use jikimi_exchange::store::ExchangeStore;
use jikimi_federation::Node;
use jikimi_store::{SqliteStore, Store as _};
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error>;

/// A node's database with the (fixed, test-only) data keys that seal it.
async fn open_store(path: &std::path::Path) -> Result<SqliteStore, BoxError> {
    Ok(SqliteStore::open(path)
        .await?
        .with_keyring(jikimi_store::testing::test_keyring()))
}

async fn node(
    dir: &std::path::Path,
    name: &str,
    endpoint: Option<String>,
) -> Result<Node, BoxError> {
    let store = open_store(&dir.join(format!("{name}.sqlite"))).await?;
    store.migrate().await?;
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let agency = Agency {
        id: AgencyId::from_key(&key.verifying_key()),
        name: name.into(),
        country: "KR".into(),
        endpoint,
    };
    store.set_identity(&agency, &key).await?;
    Ok(Node::open(Arc::new(store)).await?)
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

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n: u64 = std::env::var("JIKIMI_BENCH_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let a = node(dir.path(), "a", Some(url)).await?;
    let b = node(dir.path(), "b", None).await?;
    a.store.upsert_peer(&b.me).await?;
    b.store.upsert_peer(&a.me).await?;
    let now = Utc::now();
    let agreement = Agreement {
        id: Uuid::now_v7(),
        title: "bench".into(),
        parties: [a.id().clone(), b.id().clone()].into_iter().collect(),
        categories: [CaseCategory::Scam].into_iter().collect(),
        fields: FieldClass::ALL.into_iter().collect::<BTreeSet<_>>(),
        max_tlp: Tlp::Amber,
        floor: Marking {
            tlp: Tlp::Green,
            handling: HandlingCode::H0,
            source: SourceGrade::A,
            information: InfoGrade::One,
        },
        purpose: "benchmark".into(),
        valid_from: now - Duration::hours(1),
        expires_at: now + Duration::days(1),
        onward_sharing: false,
        revoked_at: None,
    };
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
    let iban = Iban::parse("DE89370400440532013000")?;
    let wallet = Wallet::parse(
        Chain::Ethereum,
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
    )?;
    let setup = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
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
                    iban: iban.clone(),
                },
                Entity::CryptoWallet {
                    id: Uuid::new_v4(),
                    wallet: wallet.clone(),
                },
                Entity::Website {
                    id: Uuid::new_v4(),
                    domain: Domain::parse(&format!("shop{i}.example.com"))?,
                },
            ],
            events: vec![],
            attachments: vec![],
        };
        batch.push(Record {
            id: Uuid::now_v7(),
            version: 1,
            origin: a.id().clone(),
            category: CaseCategory::Scam,
            marking,
            updated_at: now,
            redacted: BTreeSet::new(),
            body: RecordBody::Lead(LeadContent {
                case_id: case.id,
                content,
            }),
        });
        if batch.len() == 1000 || i + 1 == n {
            a.store.put_local_many(&batch).await?;
            batch.clear();
            if (i + 1) % 100_000 == 0 {
                eprintln!(
                    "queued {} leads, {:.0} s",
                    i + 1,
                    setup.elapsed().as_secs_f64()
                );
            }
        }
    }
    eprintln!(
        "queued {n} leads on A in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let a = Arc::new(a);
    // A serves through the server crate's one federation router, as `jikimi federation serve` does.
    let service = Arc::new(jikimi_federation::Federation::new(
        a.store.clone(),
        jikimi_federation::DEFAULT_PAGE,
        jikimi_federation::Transport::default(),
    ));
    let server = tokio::spawn(jikimi_server::federation::serve(
        listener,
        service,
        1 << 20,
        std::future::pending(),
    ));
    let interrupt = std::env::var("JIKIMI_BENCH_INTERRUPT").is_ok_and(|v| v == "1");
    let start = Instant::now();
    let b_path = dir.path().join("b.sqlite");
    let (stats, resumed_at) = if interrupt {
        // Stop B halfway (the sync future is dropped mid-page, like a crash: the page in flight
        // is rolled back), reopen its database as a restarted node would, and resume.
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
        let b_id = b.id().clone();
        drop(b);
        let b = Node::open(Arc::new(open_store(&b_path).await?)).await?;
        // Progress while resuming: what B holds against what A has disclosed (a gap larger than
        // one page would mean A re-sends what B had committed).
        let progress = {
            let (a, b_store, b_id) = (a.clone(), b.store.clone(), b_id.clone());
            let a_id = a.id().clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    if let (Ok(cursor), Ok((disclosed, receipted))) = (
                        b_store.cursor(&a_id).await,
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
        (
            jikimi_federation::SyncStats {
                applied: total,
                ..rest
            },
            Some(at),
        )
    } else {
        (b.sync_peer(&a.me).await?, None)
    };
    let secs = start.elapsed().as_secs_f64();
    server.abort();
    let leads = stats.applied.saturating_sub(1).max(1);
    let disclosed = a
        .store
        .disclosure_counts(&AgencyId::parse(b_id_of(&b_path).await?.as_str())?)
        .await?
        .0;
    println!(
        "{}",
        serde_json::json!({
            "leads": leads,
            "seconds": (secs * 100.0).round() / 100.0,
            "leads_per_second": (leads as f64 / secs).round(),
            "bytes_on_wire": stats.bytes,
            "bytes_per_lead": if resumed_at.is_some() { serde_json::Value::Null } else { (stats.bytes / leads).into() },
            "pages": stats.pages,
            "rejected": stats.rejected,
            "interrupted_at_cursor": resumed_at,
            "envelopes_disclosed_by_a": disclosed,
            "peak_rss_mib_both_nodes": peak_rss_kib() / 1024,
        })
    );
    Ok(())
}

async fn b_id_of(path: &std::path::Path) -> Result<AgencyId, BoxError> {
    let store = open_store(path).await?;
    Ok(store.identity().await?.ok_or("no identity")?.0.id)
}
