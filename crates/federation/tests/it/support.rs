//! Test helpers: nodes on temporary SQLite files, agreements, and an in-memory transfer that hands pages and
//! receipts between nodes exactly as the HTTP layer does. Sample content is the core's test fixtures.

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use jikimi_exchange::domain::{AgencyId, Agreement, CaseCategory, FieldClass, Record};
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use jikimi_exchange::protocol::PullRequest;
use jikimi_federation::{Node, SyncStats};
use jikimi_store::{SqliteStore, Store};
use uuid::Uuid;

pub use crate::fixtures::*;

/// A node and its database as the spine's `Store` (the same handle: audit chain and raw columns for assertions).
pub struct TestNode {
    node: Node,
    pub db: Arc<dyn Store>,
}

impl Deref for TestNode {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

impl DerefMut for TestNode {
    fn deref_mut(&mut self) -> &mut Node {
        &mut self.node
    }
}

/// The database of node `name` in `dir`, migrated, with the (fixed, test-only) data keys that seal it.
async fn open_db(dir: &Path, name: &str) -> Arc<dyn Store> {
    let db: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.join(format!("{name}.sqlite")))
            .await
            .unwrap()
            .with_keyring(jikimi_store::testing::test_keyring()),
    );
    db.migrate().await.unwrap();
    db
}

async fn open_node(db: Arc<dyn Store>) -> TestNode {
    TestNode {
        node: Node::open(db.clone()).await.unwrap(),
        db,
    }
}

/// A fresh node `name` in `dir`: a new database and agency identity.
pub async fn node(dir: &Path, name: &str, country: &str) -> TestNode {
    let db = open_db(dir, name).await;
    jikimi_federation::create_identity(db.as_ref(), name.into(), country, None)
        .await
        .unwrap();
    open_node(db).await
}

/// Nodes `a` (KR), `b` (TH) and, asked for three, `c` (KH) in `dir`, each knowing the others as peers.
pub async fn meshed<const N: usize>(dir: &Path) -> [TestNode; N] {
    const NAMES: [(&str, &str); 3] = [("a", "KR"), ("b", "TH"), ("c", "KH")];
    let mut nodes = Vec::with_capacity(N);
    for (name, country) in &NAMES[..N] {
        nodes.push(node(dir, name, country).await);
    }
    mesh(&nodes.iter().collect::<Vec<_>>()).await;
    nodes.try_into().ok().unwrap()
}

/// Node `name` in `dir` again, on its database as a restarted process would open it.
pub async fn reopen(dir: &Path, name: &str) -> TestNode {
    open_node(open_db(dir, name).await).await
}

/// Makes every node know every other as a peer.
pub async fn mesh(nodes: &[&TestNode]) {
    for a in nodes {
        for b in nodes {
            if a.id() != b.id() {
                a.store.upsert_peer(&b.me).await.unwrap();
            }
        }
    }
}

pub fn agreement(parties: &[&TestNode], fields: BTreeSet<FieldClass>, onward: bool) -> Agreement {
    let now = Utc::now();
    Agreement {
        id: Uuid::now_v7(),
        title: "test agreement".into(),
        parties: parties.iter().map(|n| n.id().clone()).collect(),
        categories: [CaseCategory::Scam, CaseCategory::MoneyLaundering]
            .into_iter()
            .collect(),
        fields,
        max_tlp: Tlp::Amber,
        floor: Marking {
            tlp: Tlp::Green,
            handling: HandlingCode::H0,
            source: SourceGrade::A,
            information: InfoGrade::One,
        },
        purpose: "investigation of transnational scam centres".into(),
        valid_from: now - Duration::hours(1),
        expires_at: now + Duration::days(30),
        onward_sharing: onward,
        revoked_at: None,
        freeze: None,
    }
}

/// An agreement between `parties` (see [`agreement`]), installed on each of them.
pub async fn share(parties: &[&TestNode], fields: BTreeSet<FieldClass>, onward: bool) -> Agreement {
    let a = agreement(parties, fields, onward);
    install(&a, parties).await;
    a
}

/// A scam case owned by `node`, marked `marking`, with the fixtures' sample content titled `title`.
pub async fn scam_case(node: &Node, marking: Marking, title: &str) -> Record {
    node.create_case(CaseCategory::Scam, marking, scam_content(title), Utc::now())
        .await
        .unwrap()
}

/// The fixtures' TLP:AMBER marking with handling code `handling`.
pub fn handled(handling: HandlingCode) -> Marking {
    Marking {
        handling,
        ..amber()
    }
}

/// A pull request from `requester` to `responder` (unsigned: the caller signs it, as itself or as a forger).
pub fn pull_request(
    requester: &AgencyId,
    responder: &AgencyId,
    cursor: u64,
    limit: u32,
    now: DateTime<Utc>,
) -> PullRequest {
    PullRequest {
        requester: requester.clone(),
        responder: responder.clone(),
        cursor,
        limit,
        issued_at: now,
        nonce: Uuid::new_v4(),
    }
}

/// Stores `a` on every party's node (each party holds the same signed-off text).
pub async fn install(a: &Agreement, nodes: &[&TestNode]) {
    for n in nodes {
        n.store.put_agreement(a).await.unwrap();
    }
}

/// `to` pulls from `from` page by page without a network, at most `max_pages` pages (a crash
/// after that many); receipts go back to `from`.
pub async fn pull_pages(
    from: &TestNode,
    to: &TestNode,
    limit: u32,
    max_pages: usize,
    now: DateTime<Utc>,
) -> SyncStats {
    let mut total = SyncStats::default();
    for _ in 0..max_pages {
        let cursor = to.store.cursor(from.id()).await.unwrap();
        let req = to
            .sign(pull_request(to.id(), from.id(), cursor, limit, now))
            .unwrap();
        let page = from.serve_pull(&req, now).await.unwrap();
        let (receipt, stats) = to.accept_page(from.id(), &page, true, now).await.unwrap();
        from.accept_receipt(&receipt, now).await.unwrap();
        total.add(&stats);
        if !page.more {
            break;
        }
    }
    total
}

pub async fn pull(from: &TestNode, to: &TestNode) -> SyncStats {
    pull_pages(from, to, 100, usize::MAX, Utc::now()).await
}

/// Serves `node`'s store through the server crate's one federation router on `listener` (plain HTTP), as
/// `jikimi federation serve` does.
pub fn serve_federation(node: &TestNode, listener: tokio::net::TcpListener) {
    tokio::spawn(jikimi_server::federation::serve(
        listener,
        federation_service(node),
        1 << 20,
        std::future::pending(),
    ));
}

/// The server's cooperation service over `node`'s database.
pub fn federation_service(node: &TestNode) -> Arc<jikimi_federation::Federation> {
    Arc::new(jikimi_federation::Federation::new(
        node.store.clone(),
        jikimi_federation::DEFAULT_PAGE,
        jikimi_federation::Transport::default(),
    ))
}
