//! Conformance of joint operations (`jikimi_exchange::store::OperationStore`): events kept idempotently by
//! (operation, origin, seq), applied in order or buffered and applied later, refused buffered events dropped, a
//! withdrawal erasing the withdrawn parts, acknowledgements only moving forward, bodies sealed, every write in the
//! one audit chain.

use std::collections::{BTreeMap, BTreeSet};

use super::TestStore;
use chrono::{Duration, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{AgencyId, FieldClass};
use jikimi_exchange::marking::Marking;
use jikimi_exchange::operation::{
    AckOutcome, Change, EventHead, OpAck, OpEvent, Part, Participant, Role, rules,
};
use jikimi_exchange::protocol::{PROTOCOL, Signed};
use jikimi_exchange::store::ExchangeStore;
use uuid::Uuid;

const SECRET: &str = "meets the courier at pier 7";

fn key(seed: u8) -> (AgencyId, SigningKey) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    (AgencyId::from_key(&key.verifying_key()), key)
}

fn event(
    by: &(AgencyId, SigningKey),
    op: Uuid,
    seq: u64,
    change: Change,
    parts: BTreeMap<FieldClass, Part>,
) -> OpEvent {
    OpEvent::issue(
        EventHead {
            protocol: PROTOCOL.to_owned(),
            operation: op,
            origin: by.0.clone(),
            seq,
            at: Utc::now(),
            marking: Marking::default(),
            change,
            parts: BTreeMap::new(),
        },
        parts,
        &by.1,
    )
    .expect("issue")
}

/// One operation's events on one node: applied, buffered, applied later, refused; replays change nothing; a
/// withdrawal erases; the parts are sealed; acknowledgements move forward only; the chain verifies.
pub(crate) async fn operation_events_are_kept_in_order_sealed_and_audited<
    S: TestStore + ExchangeStore,
>() {
    let (store, _guard) = S::fresh().await;
    let a = key(1);
    let b = key(2);
    let op = Uuid::now_v7();
    let create = event(
        &a,
        op,
        1,
        Change::Create {
            title: "Operation Lantern".into(),
            agreements: BTreeSet::from([Uuid::nil()]),
            participants: vec![
                Participant {
                    agency: a.0.clone(),
                    role: Role::Lead,
                    legal_basis: "art. 1".into(),
                },
                Participant {
                    agency: b.0.clone(),
                    role: Role::Participant,
                    legal_basis: "art. 2".into(),
                },
            ],
            day_of_action: Some(Utc::now() + Duration::days(3)),
        },
        BTreeMap::new(),
    );
    let log = event(
        &a,
        op,
        2,
        Change::Log {
            entry: Uuid::now_v7(),
        },
        BTreeMap::from([(
            FieldClass::Event,
            Part::new(serde_json::json!(SECRET), Uuid::new_v4()),
        )]),
    );
    let withdraw = event(&a, op, 3, Change::Withdraw { event: 2 }, BTreeMap::new());
    let join = event(
        &b,
        op,
        1,
        Change::Join {
            legal_basis: "art. 2".into(),
        },
        BTreeMap::new(),
    );
    assert!(store.put_op_event(&create, true).await.expect("put"));
    assert!(!store.put_op_event(&create, true).await.expect("replay"));
    // B's join arrives buffered, then is applied; a buffered event a rule refuses is dropped.
    assert!(store.put_op_event(&join, false).await.expect("buffer"));
    assert!(store.put_op_event(&log, true).await.expect("put"));
    let stray = event(
        &b,
        op,
        9,
        Change::Leave { reason: "x".into() },
        BTreeMap::new(),
    );
    assert!(store.put_op_event(&stray, false).await.expect("buffer"));
    let held = store.op_events(op).await.expect("read");
    assert_eq!(held.len(), 4);
    assert_eq!(held[0].event, create);
    assert_eq!(held[1].event, log, "applied ones first, in order");
    assert!(held[2].applied.is_none() && held[3].applied.is_none());
    store
        .apply_op_event(op, &b.0, 1)
        .await
        .expect("apply buffered");
    store
        .refuse_op_event(op, &b.0, 9, "out of order for ever")
        .await
        .expect("refuse");
    let mut forged = log.clone();
    forged.head.body.at += Duration::seconds(1);
    assert!(
        store.put_op_event(&forged, true).await.is_err(),
        "another event under a taken number"
    );

    // Sealed at rest: the log text is not in any row in clear, and every head is sealed.
    let like = format!("%{SECRET}%");
    assert_eq!(
        store
            .raw_update(
                "UPDATE op_events SET seq = seq WHERE parts LIKE $1 OR head LIKE $1",
                &like
            )
            .await,
        0
    );
    assert_eq!(
        store
            .raw_update(
                "UPDATE op_events SET seq = seq WHERE head NOT LIKE $1",
                "sealed:%"
            )
            .await,
        0
    );

    // The withdrawal erases the log entry's parts; the fold no longer shows it.
    assert!(store.put_op_event(&withdraw, true).await.expect("put"));
    let held = store.op_events(op).await.expect("read");
    let applied: Vec<(&AgencyId, u64)> = held
        .iter()
        .filter(|h| h.applied.is_some())
        .map(|h| (&h.event.head.body.origin, h.event.head.body.seq))
        .collect();
    assert_eq!(
        applied,
        [(&a.0, 1), (&a.0, 2), (&b.0, 1), (&a.0, 3)],
        "in the order applied"
    );
    assert_eq!(held.len(), 4, "the refused event is gone");
    assert!(held[1].event.parts.is_empty(), "withdrawn parts are erased");
    let view = rules::fold(held.iter().map(|h| &h.event)).expect("view");
    assert!(view.log.is_empty());
    assert!(view.participants[&b.0].joined);
    assert_eq!(store.operations().await.expect("list"), [op]);

    // Acknowledgements: the delivery mark moves forward only.
    assert_eq!(store.op_delivered(op, &b.0).await.expect("read"), 0);
    let ack = |next| {
        Signed::sign(
            OpAck {
                protocol: PROTOCOL.to_owned(),
                receiver: b.0.clone(),
                operation: op,
                origin: a.0.clone(),
                seq: 2,
                digest: log.head.digest().expect("digest"),
                outcome: AckOutcome::Applied,
                next_expected: next,
                at: Utc::now(),
            },
            &b.1,
        )
        .expect("sign")
    };
    store.op_acknowledged(&ack(3)).await.expect("ack");
    store.op_acknowledged(&ack(2)).await.expect("older ack");
    assert_eq!(store.op_delivered(op, &b.0).await.expect("read"), 2);

    let log = store.audit_log().await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for want in [
        "operation_event_received",
        "operation_event_buffered",
        "operation_event_applied",
        "operation_event_refused",
        "operation_event_acknowledged",
    ] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    assert!(
        log.iter()
            .any(|e| e.detail.contains(&create.head.signature)),
        "the audit names each event's signature"
    );
    crate::verify_audit(&store).await.expect("chain verifies");
}
