//! Cooperation end to end: three real `jikimi serve` processes on loopback, each with its own database (A and B on
//! SQLite; C on PostgreSQL, in a database of its own created and dropped by the test), syncing every second.
//! Identity, peers and agreements are set up with the `jikimi agency|peer|agreement` commands on the same database
//! the server uses; cases and leads go through both the CLI and the staff HTTP API. Assertions read each node's
//! database directly, not only its API, and `jikimi audit verify` checks each node's one audit chain. One case
//! reaches C only through B (onward sharing), and its withdrawal at A follows the same path.

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use jikimi_exchange::domain::{AgencyId, CaseCategory, Content, LeadContent, Record, RecordBody};
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use jikimi_exchange::protocol::{Page, PullRequest};
use jikimi_federation::Node;
use jikimi_store::Store;
use uuid::Uuid;

use crate::process::{ADMIN_PASSWORD, Site};

const PHONE: &str = "+821012345678";
const IBAN: &str = "DE89370400440532013000";

pub(crate) struct NodeProc {
    pub(crate) site: Site,
    pub(crate) name: &'static str,
    port: u16,
    child: Option<Child>,
    log: std::path::PathBuf,
    /// One pool per node for the test's own reads.
    store: tokio::sync::OnceCell<std::sync::Arc<dyn Store>>,
}

impl NodeProc {
    pub(crate) fn new(name: &'static str, database_url: Option<String>) -> NodeProc {
        let mut site = Site::new();
        if let Some(url) = database_url {
            site.database_url = url;
        }
        let log = site.dir.path().join("serve.log");
        NodeProc {
            site,
            name,
            port: free_port(),
            child: None,
            log,
            store: tokio::sync::OnceCell::new(),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = self
            .site
            .command(&[
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--exchange-sync-interval-s",
                "1",
                "--exchange-page",
                "50",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn jikimi serve");
        self.child = Some(child);
        wait_for(&format!("{} up", self.name), || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    /// `kill -9`: SIGKILL, no chance to flush or clean up.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            c.wait().expect("wait");
        }
    }

    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        self.site.command(args).output().expect("run jikimi")
    }

    pub(crate) fn ok(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json on stdout")
    }

    pub(crate) fn id(&self) -> AgencyId {
        AgencyId::parse(self.ok(&["agency", "show"])["id"].as_str().expect("id")).expect("key id")
    }

    pub(crate) async fn store(&self) -> std::sync::Arc<dyn Store> {
        self.store
            .get_or_init(|| async {
                jikimi_store::connect_with_keyring(&self.site.database_url, self.site.keyring())
                    .await
                    .expect("open store")
            })
            .await
            .clone()
    }

    pub(crate) async fn has(&self, id: Uuid) -> bool {
        self.store().await.record(id).await.expect("read").is_some()
    }

    /// The raw `body` column of every record, as stored (sealed).
    pub(crate) async fn raw(&self) -> String {
        self.store()
            .await
            .exchange_raw_bodies()
            .await
            .expect("raw")
            .join("\n")
    }

    /// Every record this node holds, opened with its data keys, as JSON lines.
    pub(crate) async fn held(&self) -> String {
        self.store()
            .await
            .records()
            .await
            .expect("records")
            .iter()
            .map(|s| serde_json::to_string(&s.record).expect("json"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A staff session token (admin) on this node's API.
    pub(crate) async fn login(&self, http: &reqwest::Client) -> String {
        let response: serde_json::Value = http
            .post(format!("{}/api/auth/login", self.url()))
            .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login json");
        response["token"].as_str().expect("token").to_owned()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!(
                "--- log of {}:\n{}",
                self.name,
                log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
            );
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub(crate) fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) async fn wait_async<F: std::future::Future<Output = bool>>(
    what: &str,
    mut f: impl FnMut() -> F,
) {
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn setup(mut p: NodeProc, country: &str) -> NodeProc {
    p.ok(&[
        "agency",
        "init",
        "--name",
        p.name,
        "--country",
        country,
        "--endpoint",
        &p.url(),
    ]);
    p.site.add_admin();
    p.start();
    p
}

/// Creates an agreement on `owner` and imports the same text on the others.
pub(crate) fn agreement(owner: &NodeProc, others: &[&NodeProc], args: &[&str]) -> String {
    let mut all = vec!["agreement", "create"];
    all.extend_from_slice(args);
    let ids: Vec<String> = others.iter().map(|o| o.id().to_string()).collect();
    for id in &ids {
        all.push("--party");
        all.push(id);
    }
    let a = owner.ok(&all);
    let file = owner
        .site
        .dir
        .path()
        .join(format!("{}.json", a["id"].as_str().expect("id")));
    std::fs::write(&file, a.to_string()).expect("write agreement");
    for o in others {
        o.ok(&["agreement", "import", file.to_str().expect("path")]);
    }
    a["id"].as_str().expect("id").to_owned()
}

fn amber() -> Marking {
    Marking {
        tlp: Tlp::Amber,
        handling: HandlingCode::H0,
        source: SourceGrade::B,
        information: InfoGrade::Two,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_serve_processes_share_cases_under_agreements() {
    // Node C's own PostgreSQL schema, reached through `--database-url` (libpq's `options` parameter).
    let pg = jikimi_store::testing::PgSchema::create("jikimi_e2e").await;
    let a = setup(NodeProc::new("a", None), "KR");
    let mut b = setup(NodeProc::new("b", None), "TH");
    let c = setup(NodeProc::new("c", Some(pg.store_url())), "KH");
    for (x, y) in [(&a, &b), (&a, &c), (&b, &a), (&b, &c), (&c, &a), (&c, &b)] {
        x.ok(&["peer", "add", "--endpoint", &y.url()]);
    }
    let ab = agreement(
        &a,
        &[&b],
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
        &[
            "--title",
            "regional",
            "--category",
            "scam",
            "--fields",
            "non-personal",
            "--purpose",
            "regional taskforce",
        ],
    );
    let (a_id, b_id) = (a.id(), b.id());

    // Staff API: authentication is required; the OpenAPI document lists the cooperation and federation routes.
    let http = reqwest::Client::new();
    let anonymous = http
        .get(format!("{}/api/exchange/records", a.url()))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);
    // The old unauthenticated record API of the federation port is gone here too (one federation router).
    let bare = http
        .get(format!("{}/exchange/v1/records", a.url()))
        .send()
        .await
        .expect("get");
    assert_eq!(bare.status(), 404);
    let openapi = http
        .get(format!("{}/api/openapi.json", a.url()))
        .send()
        .await
        .expect("openapi")
        .text()
        .await
        .expect("text");
    assert!(openapi.contains("/api/exchange/cases") && openapi.contains("/federation/v1/pull"));

    // A shares a scam case (through the staff API): B gets every field, C no personal field (asserted on C's
    // PostgreSQL database).
    let token_a = a.login(&http).await;
    let case: serde_json::Value = http
        .post(format!("{}/api/exchange/cases", a.url()))
        .bearer_auth(&token_a)
        .json(&serde_json::json!({
            "category": "scam",
            "content": {
                "title": "compound in Sihanoukville",
                "summary": "investment fraud",
                "entities": [
                    {"type": "person", "id": Uuid::new_v4(), "name": "Kim Minsu", "nationality": null, "born": null},
                    {"type": "phone", "id": Uuid::new_v4(), "number": PHONE},
                    {"type": "iban", "id": Uuid::new_v4(), "iban": IBAN},
                    {"type": "website", "id": Uuid::new_v4(), "domain": "invest-gold.example.com"}
                ],
                "events": [], "attachments": []
            }
        }))
        .send()
        .await
        .expect("create case")
        .json()
        .await
        .expect("case json");
    let case_id: Uuid = case["id"]
        .as_str()
        .unwrap_or_else(|| panic!("case: {case}"))
        .parse()
        .expect("uuid");
    wait_async("case at B", || b.has(case_id)).await;
    wait_async("case at C", || c.has(case_id)).await;
    let b_held = b.held().await;
    assert!(b_held.contains(PHONE) && b_held.contains(IBAN) && b_held.contains("Kim Minsu"));
    // Sealed at rest on every node: the database holds none of it in clear.
    for n in [&a, &b, &c] {
        let raw = n.raw().await;
        assert!(
            !raw.contains(PHONE) && !raw.contains(IBAN) && !raw.contains("Kim Minsu"),
            "{}: {raw}",
            n.name
        );
    }
    let c_raw = c.held().await;
    assert!(
        !c_raw.contains(PHONE) && !c_raw.contains(IBAN) && !c_raw.contains("Kim Minsu"),
        "{c_raw}"
    );
    assert!(c_raw.contains("invest-gold.example.com"));

    // An invalid identifier is refused with the reason, by the CLI and by the API.
    let bad = a.cli(&[
        "case",
        "create",
        "--category",
        "scam",
        "--entity",
        "iban=GB83WEST12345698765432",
    ]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("mod-97"));
    let bad_api = http
        .post(format!("{}/api/exchange/cases", a.url()))
        .bearer_auth(&token_a)
        .json(&serde_json::json!({"category": "scam", "content": {"title": "x", "entities": [
            {"type": "iban", "id": Uuid::new_v4(), "iban": "GB83WEST12345698765432"}], "events": [], "attachments": []}}))
        .send()
        .await
        .expect("post");
    assert!(bad_api.status().is_client_error());

    // B's lead (CLI, on the database B's server uses) flows back to A.
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
    let lead_id: Uuid = lead["id"].as_str().expect("id").parse().expect("uuid");
    wait_async("lead at A", || a.has(lead_id)).await;

    // kill -9 B in the middle of a 1,500-lead sync; restarted, it resumes with no gap and without A re-sending
    // what B had committed (at most the page in flight).
    b.kill9();
    let before = a
        .store()
        .await
        .disclosure_counts(&b_id)
        .await
        .expect("counts")
        .0;
    let bulk: Vec<Record> = (0..1500)
        .map(|i| Record {
            id: Uuid::now_v7(),
            version: 1,
            origin: a_id.clone(),
            category: CaseCategory::Scam,
            marking: amber(),
            updated_at: Utc::now(),
            redacted: Default::default(),
            body: RecordBody::Lead(LeadContent {
                case_id,
                content: Content {
                    title: format!("bulk lead {i}"),
                    ..Content::default()
                },
            }),
        })
        .collect();
    a.store()
        .await
        .put_local_many(&bulk)
        .await
        .expect("queue leads");
    let count_bulk = |held: String| held.matches("bulk lead").count();
    b.start();
    wait_async("B mid-sync", || async { count_bulk(b.held().await) >= 200 }).await;
    b.kill9();
    let mid = count_bulk(b.held().await);
    assert!(mid < 1500, "B was not killed mid-sync ({mid} leads)");
    b.start();
    wait_async("all bulk leads at B", || async {
        count_bulk(b.held().await) == 1500
    })
    .await;
    let sent = a
        .store()
        .await
        .disclosure_counts(&b_id)
        .await
        .expect("counts")
        .0
        - before;
    assert!(
        sent <= 1500 + 50,
        "A re-sent committed records: {sent} disclosures for 1500 leads"
    );
    eprintln!("kill -9 at {mid}/1500 leads; A disclosed {sent} envelopes for 1500 leads");

    // A tampered envelope and a replayed one, delivered to B's server, are rejected and audited there.
    let node_a = Node::open(a.store().await).await.expect("node a");
    let node_b = Node::open(b.store().await).await.expect("node b");
    let pull = node_b
        .sign(PullRequest {
            requester: b_id.clone(),
            responder: a_id.clone(),
            cursor: 0,
            limit: 1,
            issued_at: Utc::now(),
            nonce: Uuid::new_v4(),
        })
        .expect("sign");
    let page = node_a.serve_pull(&pull, Utc::now()).await.expect("pull");
    let deliver = |p: Page| {
        let http = http.clone();
        let url = format!("{}/federation/v1/deliver", b.url());
        async move {
            http.post(url)
                .json(&p)
                .send()
                .await
                .expect("deliver")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let mut tampered = page.clone();
    tampered.envelopes[0].body.record.marking.handling = HandlingCode::H0;
    tampered.envelopes[0].body.record.marking.tlp = Tlp::Clear;
    let r = deliver(tampered).await;
    assert!(r.to_string().contains("bad_signature"), "{r}");
    let first = deliver(page.clone()).await;
    assert!(!first.to_string().contains("replay"), "{first}");
    let replay = deliver(page.clone()).await;
    assert!(replay.to_string().contains("replay"), "{replay}");
    let audit = b.store().await.audit_log().await.expect("audit");
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

    // H1 at B: B's staff cannot export it into a court bundle (CLI and API), and the refusal is audited.
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
    let h1_id: Uuid = h1["id"].as_str().expect("id").parse().expect("uuid");
    wait_async("H1 case at B", || b.has(h1_id)).await;
    let court = b.cli(&["case", "court-bundle", &h1_id.to_string()]);
    assert!(!court.status.success() && String::from_utf8_lossy(&court.stderr).contains("court"));
    let token_b = b.login(&http).await;
    let court_api = http
        .get(format!(
            "{}/api/exchange/cases/{h1_id}/court-bundle",
            b.url()
        ))
        .bearer_auth(&token_b)
        .send()
        .await
        .expect("court api");
    assert_eq!(court_api.status(), 403);
    let audit = b.store().await.audit_log().await.expect("audit");
    assert!(audit.iter().any(|e| e.action == "court_export_denied"));

    // Revoking A-B stops flow under it: a money-laundering case (only A-B covers that category) created after the
    // revocation never reaches B, while a later scam case still does (under the regional agreement).
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
    let marker_id: Uuid = marker["id"].as_str().expect("id").parse().expect("uuid");
    wait_async("marker at B", || b.has(marker_id)).await;
    assert!(
        !b.has(ml["id"].as_str().expect("id").parse().expect("uuid"))
            .await
    );

    // Withdrawal at A: the case and A's leads on it disappear from B and from C.
    a.ok(&["case", "withdraw", &case_id.to_string()]);
    wait_async("case withdrawn at B", || async { !b.has(case_id).await }).await;
    wait_async("case withdrawn at C", || async { !c.has(case_id).await }).await;
    assert_eq!(
        count_bulk(b.held().await),
        0,
        "A's leads on the withdrawn case are gone too"
    );

    // Across a hop: a trafficking case reaches C only through B. A-B (all fields) allows onward sharing; B and C
    // hold an agreement naming A as the originator whose records B may pass on (non-personal fields only), which
    // A does not hold, so A has no agreement of its own with C for that category: C keeps pulling from A every
    // second and still gets the case only from B. Withdrawn at A, it disappears from B and, through B, from C.
    let c_id = c.id();
    agreement(
        &a,
        &[&b],
        &[
            "--title",
            "KR-TH trafficking",
            "--category",
            "human_trafficking",
            "--fields",
            "all",
            "--purpose",
            "victim identification",
            "--onward",
        ],
    );
    let a_id_text = a_id.to_string();
    let bc = agreement(
        &b,
        &[&c],
        &[
            "--title",
            "TH-KH onward from KR",
            "--category",
            "human_trafficking",
            "--fields",
            "non-personal",
            "--purpose",
            "victim identification",
            "--party",
            &a_id_text,
        ],
    );
    const HOP_PHONE: &str = "+821098765432";
    const HOP_PERSON: &str = "Park Jiwoo";
    const HOP_SITE: &str = "overseas-jobs.example.org";
    let hop = a.ok(&[
        "case",
        "create",
        "--category",
        "human_trafficking",
        "--title",
        "recruitment through fake job offers",
        "--entity",
        &format!("person={HOP_PERSON}"),
        "--entity",
        &format!("phone={HOP_PHONE}"),
        "--entity",
        &format!("website={HOP_SITE}"),
    ]);
    let hop_id: Uuid = hop["id"].as_str().expect("id").parse().expect("uuid");
    wait_async("hop case at B", || b.has(hop_id)).await;
    wait_async("hop case at C", || c.has(hop_id)).await;
    let at_c = c
        .store()
        .await
        .record(hop_id)
        .await
        .expect("read")
        .expect("hop case at C");
    assert_eq!(at_c.provenance.received_from.as_ref(), Some(&b_id));
    assert_eq!(
        at_c.provenance.received_under.map(|u| u.to_string()),
        Some(bc.clone())
    );
    let b_held = b.held().await;
    assert!(b_held.contains(HOP_PHONE) && b_held.contains(HOP_PERSON));
    assert!(!b.raw().await.contains(HOP_PHONE));
    // Restricted fields stay out of C on this path too (C's PostgreSQL database), the allowed ones arrive.
    let c_raw = c.held().await;
    assert!(
        !c_raw.contains(HOP_PHONE) && !c_raw.contains(HOP_PERSON),
        "{c_raw}"
    );
    assert!(c_raw.contains(HOP_SITE));
    // A never disclosed it to C itself.
    let hop_text = hop_id.to_string();
    assert!(
        !a.store()
            .await
            .audit_log()
            .await
            .expect("audit")
            .iter()
            .any(|e| e.action == "disclosed"
                && e.peer.as_deref() == Some(c_id.as_str())
                && e.record.as_deref() == Some(hop_text.as_str()))
    );
    a.ok(&["case", "withdraw", &hop_id.to_string()]);
    wait_async("hop case withdrawn at B", || async { !b.has(hop_id).await }).await;
    wait_async("hop case withdrawn at C", || async { !c.has(hop_id).await }).await;
    let c_raw = c.held().await;
    assert!(!c_raw.contains(HOP_SITE), "{c_raw}");

    // Each node's one audit chain (spine and exchange entries) verifies; disclosures carry their receipts.
    for n in [&a, &b, &c] {
        let (ok, text) = n.site.run(&["audit", "verify"], &[]);
        assert!(
            ok && text.contains("hash chain intact"),
            "{}: {text}",
            n.name
        );
    }
    let (n, receipted) = a
        .store()
        .await
        .disclosure_counts(&b_id)
        .await
        .expect("counts");
    assert!(receipted > 0 && receipted <= n);
    drop((a, b, c));
    drop(pg);
}
