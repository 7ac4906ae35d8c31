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

/// A received batch: its steps (put applied, put buffered, apply, refuse, reject) in one transaction, each audited;
/// a step that fails leaves nothing of the batch; a batch acknowledgement moves every operation's mark forward only,
/// with one audit entry naming its signature.
pub(crate) async fn operation_batches_are_one_transaction_audited_per_event<
    S: TestStore + ExchangeStore,
>() {
    use jikimi_exchange::operation::{OpBatchAck, OpResult};
    use jikimi_exchange::store::OpStep;
    let (store, _guard) = S::fresh().await;
    let (a, b) = (key(1), key(2));
    let op = Uuid::now_v7();
    let log = |seq| {
        event(
            &a,
            op,
            seq,
            Change::Log {
                entry: Uuid::now_v7(),
            },
            BTreeMap::from([(
                FieldClass::Event,
                Part::new(serde_json::json!(SECRET), Uuid::new_v4()),
            )]),
        )
    };
    let (one, two, three, four) = (log(1), log(2), log(3), log(4));
    let steps = vec![
        OpStep::Put {
            event: one.clone(),
            applied: true,
        },
        OpStep::Put {
            event: three.clone(),
            applied: false,
        },
        OpStep::Put {
            event: two.clone(),
            applied: true,
        },
        OpStep::Apply {
            operation: op,
            origin: a.0.clone(),
            seq: 3,
        },
        OpStep::Put {
            event: four.clone(),
            applied: false,
        },
        OpStep::Refuse {
            operation: op,
            origin: a.0.clone(),
            seq: 4,
            reason: "a rule".into(),
        },
        OpStep::Rejected {
            operation: op,
            origin: b.0.clone(),
            detail: "event b/1 refused: forged".into(),
        },
    ];
    let before = store.audit_log().await.expect("audit").len();
    store.op_steps(&steps).await.expect("batch");
    let held = store.op_events(op).await.expect("read");
    let order: Vec<(u64, Option<u64>)> = held
        .iter()
        .map(|h| (h.event.head.body.seq, h.applied))
        .collect();
    assert_eq!(order.len(), 3, "the refused one is gone: {order:?}");
    assert_eq!(
        order.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [1, 2, 3],
        "applied in the order decided"
    );
    assert!(order.iter().all(|(_, n)| n.is_some()));
    assert!(order.windows(2).all(|w| w[0].1 < w[1].1));
    let log_after = store.audit_log().await.expect("audit");
    let actions: Vec<&str> = log_after[before..]
        .iter()
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "operation_event_received",
            "operation_event_buffered",
            "operation_event_received",
            "operation_event_applied",
            "operation_event_buffered",
            "operation_event_refused",
            "operation_event_rejected",
        ]
    );
    // A replayed batch changes nothing; a batch with another event under a held number leaves nothing behind.
    store
        .op_steps(&steps[..3])
        .await
        .expect("replayed puts are no-ops");
    let mut other = one.clone();
    other.head.body.at += Duration::seconds(1);
    let other = OpEvent::issue(other.head.body, BTreeMap::new(), &a.1).expect("sign");
    let five = log(5);
    let failed = store
        .op_steps(&[
            OpStep::Put {
                event: five,
                applied: true,
            },
            OpStep::Put {
                event: other,
                applied: true,
            },
        ])
        .await;
    assert!(failed.is_err());
    assert_eq!(store.op_events(op).await.expect("read").len(), 3);

    // A batch acknowledgement: every operation's mark, forward only.
    let op2 = Uuid::now_v7();
    let ack = |next: &[(Uuid, u64)]| {
        Signed::sign(
            OpBatchAck {
                protocol: PROTOCOL.to_owned(),
                receiver: b.0.clone(),
                sender: a.0.clone(),
                batch: one.head.digest().expect("digest"),
                results: vec![OpResult {
                    operation: op,
                    seq: 3,
                    outcome: AckOutcome::Applied,
                    reason: None,
                }],
                next_expected: next.iter().copied().collect(),
                at: Utc::now(),
            },
            &b.1,
        )
        .expect("sign")
    };
    let first = ack(&[(op, 4), (op2, 2)]);
    store.op_batch_acknowledged(&first).await.expect("ack");
    store
        .op_batch_acknowledged(&ack(&[(op, 2)]))
        .await
        .expect("older ack");
    assert_eq!(store.op_delivered(op, &b.0).await.expect("read"), 3);
    assert_eq!(store.op_delivered(op2, &b.0).await.expect("read"), 1);
    let audit = store.audit_log().await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "operation_batch_acknowledged"
                && e.detail.contains(&first.signature))
    );
    crate::verify_audit(&store).await.expect("chain verifies");
}
