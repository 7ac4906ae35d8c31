//! Three real node processes (`jikimi-exchange-node federation serve`, the same code as
//! `jikimi federation serve`) on loopback, each with its own SQLite database, syncing every
//! second. Assertions read each node's database directly, not only its API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use jikimi_exchange::domain::Content;
use jikimi_exchange::node::Node;
use jikimi_exchange::protocol::{Page, PullRequest};
use jikimi_exchange::sqlite::SqliteStore;
use jikimi_exchange::store::ExchangeStore;
use uuid::Uuid;

use crate::support::{IBAN, PHONE, amber};

const BIN: &str = env!("CARGO_BIN_EXE_jikimi-exchange-node");

struct Proc {
    db: PathBuf,
    /// One pool per node for the test's own reads (not one per poll).
    store: tokio::sync::OnceCell<SqliteStore>,
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(BIN)
            .args([
                "federation",
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--sync-interval-s",
                "1",
                "--page",
                "50",
            ])
            .env("JIKIMI_EXCHANGE_DB", &self.db)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for("server up", || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }
    /// `kill -9`: SIGKILL, no chance to flush or clean up.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("JIKIMI_EXCHANGE_DB", &self.db)
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    async fn store(&self) -> SqliteStore {
        self.store
            .get_or_init(|| async { SqliteStore::open(self.db.to_str().unwrap()).await.unwrap() })
            .await
            .clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!(
                "--- log of {}:\n{}",
                self.db.display(),
                log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
            );
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn wait_async<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn has(p: &Proc, id: Uuid) -> bool {
    p.store().await.record(id).await.unwrap().is_some()
}

fn setup(dir: &Path, name: &str, country: &str) -> Proc {
    let mut p = Proc {
        db: dir.join(format!("{name}.sqlite")),
        store: tokio::sync::OnceCell::new(),
        port: free_port(),
        child: None,
        log: dir.join(format!("{name}.log")),
    };
    p.ok(&[
        "agency",
        "init",
        "--name",
        name,
        "--country",
        country,
        "--endpoint",
        &p.url(),
    ]);
    p.start();
    p
}

fn agreement(owner: &Proc, others: &[&Proc], dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["agreement", "create"];
    all.extend_from_slice(args);
    let ids: Vec<String> = others
        .iter()
        .map(|o| {
            o.ok(&["agency", "show"])["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for id in &ids {
        all.push("--party");
        all.push(id);
    }
    let a = owner.ok(&all);
    let file = dir.join(format!("{}.json", a["id"].as_str().unwrap()));
    std::fs::write(&file, a.to_string()).unwrap();
    for o in others {
        o.ok(&["agreement", "import", file.to_str().unwrap()]);
    }
    a["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, mut b, c) = (
        setup(d, "a", "KR"),
        setup(d, "b", "TH"),
        setup(d, "c", "KH"),
    );
    for (x, y) in [(&a, &b), (&a, &c), (&b, &a), (&b, &c), (&c, &a), (&c, &b)] {
        x.ok(&["peer", "add", "--endpoint", &y.url()]);
    }
    let ab = agreement(
        &a,
        &[&b],
        d,
        &[
            "--title",
            "KR-TH scam",
            "--category",
            "scam",
            "--category",
            "money_laundering",
            "--fields",
            "all",
            "--purpose",
            "joint operation",
            "--onward",
        ],
    );
    agreement(
        &a,
        &[&b, &c],
        d,
        &[
            "--title",
            "regional",
            "--category",
            "scam",
            "--fields",
            "non-personal",
            "--purpose",
            "regional scam taskforce",
        ],
    );

    // A shares a scam case: B gets every field, C no personal field (asserted on C's database).
    let case = a.ok(&[
        "case",
        "create",
        "--category",
        "scam",
        "--title",
        "compound in Sihanoukville",
        "--summary",
        "investment fraud",
        "--entity",
        "person=Kim Minsu",
        "--entity",
        &format!("phone={PHONE}"),
        "--entity",
        &format!("iban={IBAN}"),
        "--entity",
        "wallet=TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "--entity",
        "website=https://invest-gold.example.com",
        "--event",
        "2025-03-01T12:00:00Z|compound|victim paid",
    ]);
    let case_id: Uuid = case["id"].as_str().unwrap().parse().unwrap();
    wait_async("case at B", || has(&b, case_id)).await;
    wait_async("case at C", || has(&c, case_id)).await;
    let b_raw = b.store().await.raw_bodies().await.unwrap().join("\n");
    assert!(b_raw.contains(PHONE) && b_raw.contains(IBAN));
    let c_raw = c.store().await.raw_bodies().await.unwrap().join("\n");
    assert!(
        !c_raw.contains(PHONE) && !c_raw.contains(IBAN) && !c_raw.contains("Kim Minsu"),
        "{c_raw}"
    );
    assert!(c_raw.contains("invest-gold.example.com"));

    // An invalid identifier is refused with the reason.
    let bad = a.cli(&[
        "case",
        "create",
        "--category",
        "scam",
        "--entity",
        "iban=GB83WEST12345698765432",
    ]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("mod-97"));

    // B's lead flows back to A.
    let lead = b.ok(&[
        "case",
        "lead",
        "--case",
        &case_id.to_string(),
        "--title",
        "second mule account",
        "--entity",
        "account=110-123-456789",
    ]);
    let lead_id: Uuid = lead["id"].as_str().unwrap().parse().unwrap();
    wait_async("lead at A", || has(&a, lead_id)).await;

    // kill -9 B in the middle of a 1,500-lead sync; restarted, it resumes with no gap and
    // without A re-sending what B had committed (at most the page in flight).
    let a_id =
        jikimi_exchange::domain::AgencyId::parse(a.ok(&["agency", "show"])["id"].as_str().unwrap())
            .unwrap();
    let b_id =
        jikimi_exchange::domain::AgencyId::parse(b.ok(&["agency", "show"])["id"].as_str().unwrap())
            .unwrap();
    // B is down while A queues the leads, so the sync that follows is long enough to interrupt.
    b.kill9();
    let before = a.store().await.disclosure_counts(&b_id).await.unwrap().0;
    {
        let node = Node::open(a.store().await).await.unwrap();
        for i in 0..1500 {
            node.add_lead(
                case_id,
                amber(),
                Content {
                    title: format!("bulk lead {i}"),
                    ..Content::default()
                },
                Utc::now(),
            )
            .await
            .unwrap();
        }
    }
    let count_bulk = |raw: Vec<String>| raw.iter().filter(|r| r.contains("bulk lead")).count();
    b.start();
    // Kill once a few pages are in (the cursor is committed with each page).
    wait_async("B mid-sync", || {
        let b = &b;
        async move { count_bulk(b.store().await.raw_bodies().await.unwrap()) >= 200 }
    })
    .await;
    b.kill9();
    let mid = count_bulk(b.store().await.raw_bodies().await.unwrap());
    assert!(mid < 1500, "B was not killed mid-sync ({mid} leads)");
    b.start();
    wait_async("all bulk leads at B", || {
        let b = &b;
        async move { count_bulk(b.store().await.raw_bodies().await.unwrap()) == 1500 }
    })
    .await;
    let sent = a.store().await.disclosure_counts(&b_id).await.unwrap().0 - before;
    assert!(
        sent <= 1500 + 50,
        "A re-sent committed records: {sent} disclosures for 1500 leads"
    );
    eprintln!("kill -9 at {mid}/1500 leads; A disclosed {sent} envelopes for 1500 leads");

    // A tampered envelope and a replayed one are rejected by B and audited there.
    let node_a = Node::open(a.store().await).await.unwrap();
    let req = Node::open(b.store().await).await.unwrap();
    let pull = req
        .sign(PullRequest {
            requester: b_id.clone(),
            responder: a_id.clone(),
            cursor: 0,
            limit: 1,
            issued_at: Utc::now(),
            nonce: Uuid::new_v4(),
        })
        .unwrap();
    let page = node_a.serve_pull(&pull, Utc::now()).await.unwrap();
    let http = reqwest::Client::new();
    let deliver = |p: Page| {
        let http = http.clone();
        let url = format!("{}/federation/v1/deliver", b.url());
        async move {
            http.post(url)
                .json(&p)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let mut tampered = page.clone();
    tampered.envelopes[0].body.record.marking.handling = jikimi_exchange::marking::HandlingCode::H0;
    tampered.envelopes[0].body.record.marking.tlp = jikimi_exchange::marking::Tlp::Clear;
    let r = deliver(tampered).await;
    assert!(r.to_string().contains("bad_signature"), "{r}");
    let first = deliver(page.clone()).await;
    assert!(!first.to_string().contains("replay"), "{first}");
    let replay = deliver(page.clone()).await;
    assert!(replay.to_string().contains("replay"), "{replay}");
    let audit = b.store().await.audit_log().await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "rejected" && e.detail.contains("bad_signature"))
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "rejected" && e.detail.contains("replay"))
    );

    // H1 at B: not exportable into a court bundle.
    let h1 = a.ok(&[
        "case",
        "create",
        "--category",
        "scam",
        "--title",
        "informant report",
        "--handling",
        "H1",
    ]);
    let h1_id: Uuid = h1["id"].as_str().unwrap().parse().unwrap();
    wait_async("H1 case at B", || has(&b, h1_id)).await;
    let court = b.cli(&["case", "court-bundle", &h1_id.to_string()]);
    assert!(!court.status.success() && String::from_utf8_lossy(&court.stderr).contains("court"));

    // Revoking A-B stops flow under it: a money-laundering case (only A-B covers that category)
    // created after revocation never reaches B, while a later scam case still does (regional).
    a.ok(&["agreement", "revoke", &ab]);
    let ml = a.ok(&[
        "case",
        "create",
        "--category",
        "money_laundering",
        "--title",
        "after revocation",
    ]);
    let marker = a.ok(&["case", "create", "--category", "scam", "--title", "marker"]);
    let marker_id: Uuid = marker["id"].as_str().unwrap().parse().unwrap();
    wait_async("marker at B", || has(&b, marker_id)).await;
    assert!(!has(&b, ml["id"].as_str().unwrap().parse().unwrap()).await);

    // Withdrawal at A: the case disappears from B and C.
    a.ok(&["case", "withdraw", &case_id.to_string()]);
    wait_async("case withdrawn at B", || async { !has(&b, case_id).await }).await;
    wait_async("case withdrawn at C", || async { !has(&c, case_id).await }).await;
    assert!(
        count_bulk(b.store().await.raw_bodies().await.unwrap()) == 0,
        "A's leads on the withdrawn case are gone too"
    );
}
