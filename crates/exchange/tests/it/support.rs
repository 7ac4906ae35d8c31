//! Test helpers: nodes on temporary SQLite files, agreements, sample content, and an in-memory
//! transfer that hands pages and receipts between nodes exactly as the HTTP layer does.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{
    Agency, AgencyId, Agreement, Attachment, CaseCategory, Content, Entity, Event, FieldClass,
    Place,
};
use jikimi_exchange::identifiers::{Chain, Domain, Iban, PhoneE164, Sha256Hex, Wallet};
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use jikimi_exchange::node::{Node, SyncStats};
use jikimi_exchange::protocol::PullRequest;
use jikimi_exchange::store::ExchangeStore;
use jikimi_store::{SqliteStore, Store as _};
use uuid::Uuid;

pub type TestNode = Node<SqliteStore>;

pub async fn node(dir: &Path, name: &str, country: &str) -> TestNode {
    let path = dir.join(format!("{name}.sqlite"));
    let store = SqliteStore::open(&path)
        .await
        .unwrap()
        .with_keyring(jikimi_store::testing::test_keyring());
    store.migrate().await.unwrap();
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let agency = Agency {
        id: AgencyId::from_key(&key.verifying_key()),
        name: name.into(),
        country: country.into(),
        endpoint: None,
    };
    store.set_identity(&agency, &key).await.unwrap();
    Node::open(store).await.unwrap()
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
    }
}

/// Stores `a` on every party's node (each party holds the same signed-off text).
pub async fn install(a: &Agreement, nodes: &[&TestNode]) {
    for n in nodes {
        n.store.put_agreement(a).await.unwrap();
    }
}

pub fn all_fields() -> BTreeSet<FieldClass> {
    FieldClass::ALL.into_iter().collect()
}

pub const PHONE: &str = "+821012345678";
pub const IBAN: &str = "DE89370400440532013000";

pub fn scam_content(title: &str) -> Content {
    Content {
        title: title.into(),
        summary: Some("call-centre fraud run from a compound".into()),
        entities: vec![
            Entity::Person {
                id: Uuid::new_v4(),
                name: "Kim Minsu".into(),
                nationality: Some("KR".into()),
                born: None,
                passport: None,
                border_control: false,
            },
            Entity::Phone {
                id: Uuid::new_v4(),
                number: PhoneE164::parse(PHONE, None).unwrap(),
            },
            Entity::Iban {
                id: Uuid::new_v4(),
                iban: Iban::parse(IBAN).unwrap(),
            },
            Entity::CryptoWallet {
                id: Uuid::new_v4(),
                wallet: Wallet::parse(Chain::Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap(),
            },
            Entity::Website {
                id: Uuid::new_v4(),
                domain: Domain::parse("https://invest-gold.example.com/login").unwrap(),
            },
            Entity::Company {
                id: Uuid::new_v4(),
                name: "Golden Compass Trading".into(),
                country: Some("KH".into()),
                registration: None,
            },
        ],
        events: vec![Event {
            id: Uuid::new_v4(),
            at: "2025-03-01T12:00:00Z".parse().unwrap(),
            place: Some(Place {
                name: Some("compound".into()),
                lat: Some(10.6),
                lon: Some(103.5),
                country: Some("KH".into()),
            }),
            description: "victim transferred funds".into(),
        }],
        attachments: vec![Attachment {
            sha256: Sha256Hex::of(b"chat export"),
            media_type: "text/plain".into(),
            size_bytes: 11,
            name: None,
        }],
    }
}

pub fn amber() -> Marking {
    Marking {
        tlp: Tlp::Amber,
        handling: HandlingCode::H0,
        source: SourceGrade::B,
        information: InfoGrade::Two,
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
            .sign(PullRequest {
                requester: to.id().clone(),
                responder: from.id().clone(),
                cursor,
                limit,
                issued_at: now,
                nonce: Uuid::new_v4(),
            })
            .unwrap();
        let page = from.serve_pull(&req, now).await.unwrap();
        let (receipt, stats) = to.accept_page(from.id(), &page, true, now).await.unwrap();
        from.accept_receipt(&receipt, now).await.unwrap();
        total.pages += 1;
        total.envelopes += stats.envelopes;
        total.applied += stats.applied;
        total.duplicates += stats.duplicates;
        total.rejected += stats.rejected;
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
pub fn federation_service(
    node: &TestNode,
) -> std::sync::Arc<jikimi_server::exchange::ExchangeService> {
    std::sync::Arc::new(jikimi_server::exchange::ExchangeService::new(
        jikimi_store::AnyStore::Sqlite(node.store.clone()),
        jikimi_exchange::node::DEFAULT_PAGE,
        jikimi_exchange::node::Transport::default(),
    ))
}
