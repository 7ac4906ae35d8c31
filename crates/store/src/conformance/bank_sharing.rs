//! Conformance of shared hash banks (`jikimi_exchange::hashbank::HashBankStore`): a received offer makes the
//! read-only bank once; the origin's content changes apply to it (added, withdrawn for good); items are kept
//! idempotently by (bank, issuer, seq) and another item under a held number is refused; feedback is kept and
//! audited as relayed (not the origin here); acknowledgements mark offers delivered and move marks forward only;
//! observers are told; every write is in the one audit chain.

use std::sync::{Arc, Mutex};

use super::TestStore;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{Agency, AgencyId};
use jikimi_exchange::hashbank::{
    BankAck, BankChange, BankEvent, BankOffer, BankOutcome, FeedbackVerdict, exchange_origin,
};
use jikimi_exchange::protocol::{PROTOCOL, Signed};
use jikimi_exchange::store::ExchangeStore;
use uuid::Uuid;

use crate::{ChangeSet, CommitObserver, Committed};

#[derive(Default)]
struct Seen(Mutex<Vec<Committed>>);

impl CommitObserver for Seen {
    fn committed(&self, changes: &ChangeSet) {
        if let Ok(mut seen) = self.0.lock() {
            seen.extend(changes.changes().iter().cloned());
        }
    }
}

fn key(seed: u8) -> (AgencyId, SigningKey) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    (AgencyId::from_key(&key.verifying_key()), key)
}

fn event(
    by: &(AgencyId, SigningKey),
    origin: &AgencyId,
    bank: Uuid,
    seq: u64,
    change: BankChange,
) -> Signed<BankEvent> {
    Signed::sign(
        BankEvent {
            protocol: PROTOCOL.to_owned(),
            bank,
            origin: origin.clone(),
            issuer: by.0.clone(),
            seq,
            at: Utc::now(),
            change,
        },
        &by.1,
    )
    .expect("sign")
}

/// B holds A's bank: offer, content added, withdrawn (and not enabled again), C's feedback relayed, B's own offer
/// on to C acknowledged, delivery marks forward only, the chain verifies.
pub(crate) async fn shared_banks_are_materialised_idempotent_and_audited<
    S: TestStore + ExchangeStore,
>() {
    let (store, _guard) = S::fresh().await;
    let seen = Arc::new(Seen::default());
    store.observe_commits(seen.clone());
    let (a, b, c) = (key(1), key(2), key(3));
    let me = Agency {
        id: b.0.clone(),
        name: "b".into(),
        country: "TH".into(),
        endpoint: None,
    };
    store.set_identity(&me, &b.1).await.expect("identity");
    let bank = Uuid::now_v7();
    let offer = |from: &(AgencyId, SigningKey), to: &AgencyId| {
        Signed::sign(
            BankOffer {
                protocol: PROTOCOL.to_owned(),
                bank,
                origin: a.0.clone(),
                name: "known material".into(),
                match_distance: 40,
                category: None,
                from: from.0.clone(),
                to: to.clone(),
                agreement: Uuid::nil(),
                at: Utc::now(),
            },
            &from.1,
        )
        .expect("sign")
    };
    let received = offer(&a, &b.0);
    assert!(store.put_bank_offer(&received, true).await.expect("offer"));
    assert!(!store.put_bank_offer(&received, true).await.expect("replay"));
    let held = store.get_bank(bank).await.expect("materialised");
    assert_eq!(held.origin, exchange_origin(&a.0));
    assert!(!held.is_local());
    assert_eq!(held.match_distance, 40);

    let content = Uuid::now_v7();
    let added = event(
        &a,
        &a.0,
        bank,
        1,
        BankChange::Added {
            content,
            signal_type: "pdq".into(),
            signal: "ab".repeat(32),
            category: Some("series-x".into()),
            series: None,
        },
    );
    assert!(
        store
            .put_bank_event(&added, Some(&a.0))
            .await
            .expect("added")
    );
    assert!(
        !store
            .put_bank_event(&added, Some(&a.0))
            .await
            .expect("replay")
    );
    let mut forged = added.clone();
    forged.body.at += chrono::Duration::seconds(1);
    assert!(store.put_bank_event(&forged, Some(&a.0)).await.is_err());
    let c1 = store.get_content(content).await.expect("content");
    assert!(c1.enabled);
    assert_eq!(c1.bank_id, bank);
    assert_eq!(c1.signal, "ab".repeat(32));
    assert_eq!(c1.signal_id.as_deref(), Some(content.to_string().as_str()));
    assert_eq!(c1.category.as_deref(), Some("series-x"));

    let withdrawn = event(
        &a,
        &a.0,
        bank,
        2,
        BankChange::Withdrawn {
            content,
            category: Some("series-x".into()),
        },
    );
    assert!(
        store
            .put_bank_event(&withdrawn, Some(&a.0))
            .await
            .expect("withdrawn")
    );
    assert!(!store.get_content(content).await.expect("content").enabled);
    let enabled = event(
        &a,
        &a.0,
        bank,
        3,
        BankChange::Enabled {
            content,
            category: Some("series-x".into()),
        },
    );
    assert!(
        store
            .put_bank_event(&enabled, Some(&a.0))
            .await
            .expect("enabled")
    );
    assert!(
        !store.get_content(content).await.expect("content").enabled,
        "withdrawn content is never enabled again"
    );
    assert_eq!(store.bank_last_seq(bank, &a.0).await.expect("last"), 3);

    // C's feedback, delivered by C, kept for A (relayed: B is not the origin).
    let feedback = event(
        &c,
        &a.0,
        bank,
        1,
        BankChange::Feedback {
            content,
            verdict: FeedbackVerdict::FalsePositive,
        },
    );
    assert!(
        store
            .put_bank_event(&feedback, Some(&c.0))
            .await
            .expect("feedback")
    );
    let events = store.bank_events(bank).await.expect("events");
    assert_eq!(events.len(), 4);
    assert!(
        events
            .iter()
            .any(|h| h.event == feedback && h.received_from.as_ref() == Some(&c.0))
    );

    // B offers on to C; C's acknowledgement marks it delivered.
    let onward = offer(&b, &c.0);
    assert!(store.put_bank_offer(&onward, false).await.expect("onward"));
    let ack = |issuer: &AgencyId, seq: u64, digest| {
        Signed::sign(
            BankAck {
                protocol: PROTOCOL.to_owned(),
                receiver: c.0.clone(),
                bank,
                issuer: issuer.clone(),
                seq,
                digest,
                outcome: BankOutcome::Applied,
                at: Utc::now(),
            },
            &c.1,
        )
        .expect("sign")
    };
    store
        .bank_acknowledged(&ack(&b.0, 0, onward.digest().expect("digest")))
        .await
        .expect("ack offer");
    let offers = store.bank_offers().await.expect("offers");
    assert_eq!(offers.len(), 2);
    assert!(offers.iter().any(|h| h.offer == onward && h.delivered));
    assert!(offers.iter().any(|h| h.offer == received && !h.delivered));
    assert_eq!(
        store.bank_delivered(bank, &a.0, &c.0).await.expect("mark"),
        0
    );
    store
        .bank_acknowledged(&ack(&a.0, 2, withdrawn.digest().expect("digest")))
        .await
        .expect("ack");
    store
        .bank_acknowledged(&ack(&a.0, 1, added.digest().expect("digest")))
        .await
        .expect("older ack");
    assert_eq!(
        store.bank_delivered(bank, &a.0, &c.0).await.expect("mark"),
        2
    );

    let told = seen.0.lock().expect("seen").clone();
    assert!(told.contains(&Committed::IdentifyBank(bank)));
    assert!(told.contains(&Committed::IdentifyContent(content)));
    let log = store.audit_log().await.expect("audit");
    for action in [
        "bank_offer_received",
        "bank_event_received",
        "bank_feedback_relayed",
        "bank_offer_issued",
        "bank_ack_received",
    ] {
        assert!(log.iter().any(|e| e.action == action), "{action} audited");
    }
    crate::verify_audit(&store).await.expect("chain");
}
