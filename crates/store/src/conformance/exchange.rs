//! Conformance of cooperation persistence (`jikimi_exchange::store::ExchangeStore`): the record log and its paged
//! reads, a page applied atomically with its cursor, withdrawals, disclosures linked to receipts, and every exchange
//! audit row in the spine's one hash chain.

use super::TestStore;
use crate::Store;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{
    Agency, AgencyId, CaseCategory, Content, LeadContent, Provenance, Record, RecordBody,
};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::marking::Marking;
use jikimi_exchange::protocol::{Action, Outcome, Receipt, ReceiptItem, Rejection};
use jikimi_exchange::store::{DisclosureRow, ExchangeStore, Inbound};
use std::collections::BTreeSet;
use uuid::Uuid;

fn agency(seed: u8, name: &str) -> (Agency, SigningKey) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    (
        Agency {
            id: AgencyId::from_key(&key.verifying_key()),
            name: name.to_owned(),
            country: "KR".to_owned(),
            endpoint: None,
        },
        key,
    )
}

fn case(origin: &AgencyId, title: &str) -> Record {
    Record {
        id: Uuid::now_v7(),
        version: 1,
        origin: origin.clone(),
        category: CaseCategory::Scam,
        marking: Marking::default(),
        updated_at: Utc::now(),
        redacted: BTreeSet::new(),
        body: RecordBody::Case(Content {
            title: title.to_owned(),
            ..Content::default()
        }),
    }
}

fn lead(origin: &AgencyId, case_id: Uuid, title: &str) -> Record {
    Record {
        body: RecordBody::Lead(LeadContent {
            case_id,
            content: Content {
                title: title.to_owned(),
                ..Content::default()
            },
        }),
        ..case(origin, title)
    }
}

fn from_peer(peer: &AgencyId) -> Provenance {
    Provenance {
        received_from: Some(peer.clone()),
        received_under: Some(Uuid::nil()),
    }
}

fn accepted(record: &Record, peer: &AgencyId, n: u8) -> Inbound {
    Inbound::Accepted {
        envelope: Sha256Hex::of(&[n]),
        nonce: Uuid::from_u128(u128::from(n)),
        action: Box::new(Action::Upsert {
            record: record.clone(),
            provenance: from_peer(peer),
        }),
        agreement: Some(Uuid::nil()),
    }
}

/// Local records are logged in order; `record`, `records`, `case_records` and `log_after` page the same log.
pub(crate) async fn exchange_record_log_and_paged_reads<S: TestStore + ExchangeStore>() {
    let (store, _guard) = S::fresh().await;
    let (me, key) = agency(1, "KNPA");
    assert!(store.identity().await.expect("identity").is_none());
    store.set_identity(&me, &key).await.expect("set identity");
    assert_eq!(
        store.identity().await.expect("identity").expect("some").0,
        me
    );

    let c1 = case(&me.id, "compound");
    let c2 = case(&me.id, "other");
    let leads: Vec<Record> = (0..5)
        .map(|i| lead(&me.id, c1.id, &format!("lead {i}")))
        .collect();
    assert_eq!(store.put_local(&c1).await.expect("put"), 1);
    assert_eq!(store.put_local(&c2).await.expect("put"), 2);
    assert_eq!(store.put_local_many(&leads).await.expect("put many"), 7);

    let got = store.record(c1.id).await.expect("record").expect("found");
    assert_eq!((got.record.clone(), got.seq), (c1.clone(), 1));
    assert!(
        store
            .record(Uuid::now_v7())
            .await
            .expect("record")
            .is_none()
    );
    assert_eq!(store.records().await.expect("records").len(), 7);
    let of_case: Vec<Uuid> = store
        .case_records(c1.id)
        .await
        .expect("case records")
        .into_iter()
        .map(|s| s.record.id)
        .collect();
    let mut want = vec![c1.id];
    want.extend(leads.iter().map(|l| l.id));
    assert_eq!(of_case, want, "the case then its leads, in log order");

    let page1 = store.log_after(0, 3).await.expect("log");
    let page2 = store.log_after(3, 3).await.expect("log");
    let page3 = store.log_after(6, 3).await.expect("log");
    let seqs: Vec<u64> = page1
        .iter()
        .chain(&page2)
        .chain(&page3)
        .map(|s| s.seq)
        .collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());

    // A new version moves the record to the head of the log, so a cursor sees the change once.
    let mut c2v2 = c2.clone();
    c2v2.version = 2;
    assert_eq!(store.put_local(&c2v2).await.expect("put"), 8);
    let tail = store.log_after(7, 10).await.expect("log");
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].record.version, 2);
    assert_eq!(store.records().await.expect("records").len(), 7);
}

/// A page is applied with its cursor in one transaction; the cursor never moves back; a nonce is used once.
pub(crate) async fn exchange_page_applied_with_cursor<S: TestStore + ExchangeStore>() {
    let (store, guard) = S::fresh().await;
    let (peer, _) = agency(2, "RTP");
    store.upsert_peer(&peer).await.expect("peer");
    let c = case(&peer.id, "their case");
    let l = lead(&peer.id, c.id, "their lead");
    store
        .apply_inbound(
            &peer.id,
            &[accepted(&c, &peer.id, 1), accepted(&l, &peer.id, 2)],
            Some(40),
        )
        .await
        .expect("apply");
    assert_eq!(store.cursor(&peer.id).await.expect("cursor"), 40);
    let held = store.record(c.id).await.expect("record").expect("stored");
    assert_eq!(held.provenance, from_peer(&peer.id));

    // The same nonce again (a replay inside a later page) is refused and audited, not applied.
    let mut c2 = c.clone();
    c2.version = 2;
    store
        .apply_inbound(&peer.id, &[accepted(&c2, &peer.id, 1)], Some(10))
        .await
        .expect("apply");
    assert_eq!(
        store
            .record(c.id)
            .await
            .expect("record")
            .expect("stored")
            .record
            .version,
        1
    );
    assert_eq!(
        store.cursor(&peer.id).await.expect("cursor"),
        40,
        "a cursor never moves back"
    );

    let known = store
        .known_page(
            &peer.id,
            &[(Uuid::from_u128(1), &c), (Uuid::from_u128(9), &l)],
        )
        .await
        .expect("known");
    assert!(known[0].nonce_seen && !known[1].nonce_seen);
    assert_eq!(known[0].stored.as_ref().map(|s| s.0), Some(1));
    assert!(
        store
            .known(&peer.id, Uuid::from_u128(9), &l)
            .await
            .expect("known")
            .stored
            .is_some()
    );

    // A rejected envelope leaves nothing but its audit row.
    store
        .apply_inbound(
            &peer.id,
            &[Inbound::Rejected {
                envelope: Some(Sha256Hex::of(b"bad")),
                nonce: Some(Uuid::from_u128(3)),
                record: Some(Uuid::nil()),
                rejection: Rejection::BadSignature,
            }],
            None,
        )
        .await
        .expect("apply");
    let log = store.audit_log().await.expect("audit log");
    let rejected: Vec<_> = log.iter().filter(|e| e.action == "rejected").collect();
    assert_eq!(rejected.len(), 2, "the replay and the forged envelope");
    assert!(
        log.iter()
            .filter(|e| e.action == "received")
            .all(|e| e.agreement.is_some())
    );

    // Durable: peers, cursor and records survive a reopen.
    let store = store.reopen(&guard).await;
    assert_eq!(store.cursor(&peer.id).await.expect("cursor"), 40);
    assert_eq!(store.peers().await.expect("peers"), vec![peer]);
    assert_eq!(store.records().await.expect("records").len(), 2);
    assert!(
        store
            .remember_nonce(
                &AgencyId::from_key(&SigningKey::from_bytes(&[7; 32]).verifying_key()),
                Uuid::nil()
            )
            .await
            .expect("nonce")
    );
}

/// A withdrawal removes the target and its owner's leads, and leaves a tombstone a late copy cannot pass.
pub(crate) async fn exchange_withdrawal_removes_and_tombstones<S: TestStore + ExchangeStore>() {
    let (store, _guard) = S::fresh().await;
    let (me, key) = agency(1, "KNPA");
    store.set_identity(&me, &key).await.expect("identity");
    let c = case(&me.id, "compound");
    let l = lead(&me.id, c.id, "lead");
    store
        .put_local_many(&[c.clone(), l.clone()])
        .await
        .expect("put");
    let withdrawal = Record {
        id: Uuid::new_v5(&c.id, b"withdrawal"),
        body: RecordBody::Withdrawal {
            target: c.id,
            reason: "closed".into(),
        },
        ..case(&me.id, "w")
    };
    store.put_local(&withdrawal).await.expect("withdraw");
    let left: Vec<Uuid> = store
        .records()
        .await
        .expect("records")
        .into_iter()
        .map(|s| s.record.id)
        .collect();
    assert_eq!(
        left,
        vec![withdrawal.id],
        "only the tombstone is left to pass on"
    );
    assert!(store.case_records(c.id).await.expect("case").is_empty());
    let known = store
        .known(&me.id, Uuid::now_v7(), &c)
        .await
        .expect("known");
    assert!(known.withdrawn);
}

/// Disclosures are linked to the receipts that answer them, and every exchange audit row is in the spine's chain:
/// `verify_audit` checks them, and editing one is found at its seq.
pub(crate) async fn exchange_disclosures_receipts_in_the_spine_chain<
    S: TestStore + ExchangeStore,
>() {
    let (store, _guard) = S::fresh().await;
    let (me, key) = agency(1, "KNPA");
    let (peer, _) = agency(2, "RTP");
    store.set_identity(&me, &key).await.expect("identity");
    store.upsert_peer(&peer).await.expect("peer");
    let agreement = Uuid::now_v7();
    let rows: Vec<DisclosureRow> = (0..3u8)
        .map(|i| DisclosureRow {
            envelope: Sha256Hex::of(&[i]),
            peer: peer.id.clone(),
            record: Uuid::from_u128(u128::from(i) + 1),
            version: 1,
            kind: "lead",
            agreement: Some(agreement),
            at: Utc::now(),
        })
        .collect();
    store.record_disclosures(&rows).await.expect("disclose");
    assert_eq!(
        store.disclosure_counts(&peer.id).await.expect("counts"),
        (3, 0)
    );
    assert_eq!(
        store
            .disclosed_to(Uuid::from_u128(1))
            .await
            .expect("disclosed"),
        [peer.id.clone()].into_iter().collect()
    );
    let receipt = Receipt {
        id: Uuid::now_v7(),
        receiver: peer.id.clone(),
        sender: me.id.clone(),
        issued_at: Utc::now(),
        items: rows
            .iter()
            .map(|d| ReceiptItem {
                envelope: d.envelope.clone(),
                record: d.record,
                version: 1,
                outcome: Outcome::Applied,
            })
            .collect(),
    };
    store.store_receipt(&receipt, false).await.expect("receipt");
    store
        .store_receipt(&receipt, false)
        .await
        .expect("receipt again is a no-op");
    assert_eq!(
        store.disclosure_counts(&peer.id).await.expect("counts"),
        (3, 3)
    );

    let log = store.audit_log().await.expect("audit log");
    let disclosed: Vec<_> = log.iter().filter(|e| e.action == "disclosed").collect();
    assert_eq!(disclosed.len(), 3);
    assert!(
        disclosed
            .iter()
            .all(|e| e.agreement == Some(agreement.to_string())
                && e.peer.as_deref() == Some(peer.id.as_str()))
    );
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "receipt_received")
            .count(),
        1
    );

    // The spine's verifier covers them; an edited disclosure row is found at its seq.
    let n = crate::verify_audit(&store).await.expect("chain verifies");
    assert_eq!(n as usize, log.len());
    store.tamper_audit_reason(disclosed[1].seq).await;
    match crate::verify_audit(&store).await {
        Err(crate::Error::Tampered(jikimi_audit::AuditError::Tampered { seq, .. })) => {
            assert_eq!(seq, disclosed[1].seq)
        }
        other => panic!("tampering not detected: {other:?}"),
    }
    let _ = Store::backend(&store);
}

/// A case naming a person and a phone: the personal fields the tables must not hold in clear.
fn personal_case(origin: &AgencyId) -> Record {
    let mut record = case(origin, "call centre");
    if let RecordBody::Case(content) = &mut record.body {
        content.entities = vec![
            jikimi_exchange::domain::Entity::Person {
                id: Uuid::now_v7(),
                name: "Hong Gildong".into(),
                nationality: Some("KR".into()),
                born: None,
                passport: Some("M70689098".into()),
                border_control: false,
            },
            jikimi_exchange::domain::Entity::Phone {
                id: Uuid::now_v7(),
                number: jikimi_exchange::identifiers::PhoneE164::parse("+821055501234", None)
                    .expect("phone"),
            },
        ];
    }
    record
}

fn assert_sealed(raw: &(Option<String>, Vec<String>), key: &SigningKey) {
    let (identity, bodies) = raw;
    let identity = identity.as_deref().expect("identity row");
    assert!(identity.starts_with("sealed:"), "{identity}");
    assert!(!identity.contains(&hex::encode(key.to_bytes())));
    assert!(!bodies.is_empty());
    for body in bodies {
        assert!(body.starts_with("sealed:"), "{body}");
        for clear in ["Hong Gildong", "M70689098", "+821055501234", "call centre"] {
            assert!(!body.contains(clear), "{clear} in clear: {body}");
        }
    }
}

/// The agency signing key and every record body (local, received, restricted) are sealed in the database, read
/// with SQL; with the keys they open to what was stored; without the keys, or with others, nothing opens.
pub(crate) async fn exchange_secrets_are_sealed_at_rest<S: TestStore + ExchangeStore>() {
    let (store, _guard) = S::fresh().await;
    let (me, key) = agency(41, "a");
    let (peer, _) = agency(42, "b");
    store.set_identity(&me, &key).await.expect("identity");
    let local = personal_case(&me.id);
    store.put_local(&local).await.expect("local");
    let received = personal_case(&peer.id);
    store
        .apply_inbound(&peer.id, &[accepted(&received, &peer.id, 1)], Some(1))
        .await
        .expect("inbound");
    let restriction = Record {
        id: Uuid::now_v7(),
        body: RecordBody::Restriction {
            target: local.id,
            remove_fields: BTreeSet::new(),
            marking: Marking::default(),
        },
        ..case(&me.id, "restriction")
    };
    store.put_local(&restriction).await.expect("restrict");
    assert_sealed(&store.exchange_raw().await, &key);

    let (agency_back, key_back) = store.identity().await.expect("identity").expect("some");
    assert_eq!(
        (agency_back, key_back.to_bytes()),
        (me.clone(), key.to_bytes())
    );
    let back = store
        .record(received.id)
        .await
        .expect("read")
        .expect("some");
    assert_eq!(back.record, received);
    assert_eq!(store.records().await.expect("records").len(), 3);

    let keyless = store.with_exchange_keys(None);
    assert!(keyless.identity().await.is_err());
    assert!(keyless.records().await.is_err());
    assert!(keyless.put_local(&case(&me.id, "x")).await.is_err());
    let wrong =
        jikimi_privacy::Keyring::new("test", [("test".to_owned(), [0x11; 32])]).expect("keys");
    let other = store.with_exchange_keys(Some(wrong));
    assert!(other.identity().await.is_err());
    assert!(other.record(local.id).await.is_err());
}

/// Rows an earlier version wrote in clear are read, then sealed in one audited transaction (once: a second run seals
/// nothing), and read back the same; the audit chain still verifies.
pub(crate) async fn exchange_clear_rows_are_sealed_on_open<S: TestStore + ExchangeStore>() {
    let (store, _guard) = S::fresh().await;
    let (me, key) = agency(43, "a");
    let record = personal_case(&me.id);
    store.exchange_write_clear(&me, &key, &record).await;
    let (identity, bodies) = store.exchange_raw().await;
    assert!(identity.is_some_and(|i| i == hex::encode(key.to_bytes())));
    assert!(bodies.iter().any(|b| b.contains("Hong Gildong")));
    assert_eq!(
        store
            .record(record.id)
            .await
            .expect("read")
            .map(|s| s.record),
        Some(record.clone())
    );

    assert_eq!(store.exchange_seal().await, 2);
    assert_sealed(&store.exchange_raw().await, &key);
    assert_eq!(store.exchange_seal().await, 0);
    let (_, key_back) = store.identity().await.expect("identity").expect("some");
    assert_eq!(key_back.to_bytes(), key.to_bytes());
    assert_eq!(
        store
            .record(record.id)
            .await
            .expect("read")
            .map(|s| s.record),
        Some(record)
    );
    let log = store.audit_log().await.expect("audit");
    assert_eq!(
        log.iter().filter(|e| e.action == "sealed_at_rest").count(),
        1
    );
    crate::verify_audit(&store).await.expect("chain verifies");
}
