//! Conformance of freeze and confiscation requests (`jikimi_exchange::store::FreezeStore`): both sides keep the
//! signed request and every signed status in order, idempotently, sealed at rest, each write in the one audit chain.

use super::TestStore;
use chrono::{Duration, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{Agency, AgencyId};
use jikimi_exchange::freeze::{
    AccountRef, Amount, Direction, Evidence, FreezeKind, FreezeRequest, FreezeState, FreezeStatus,
};
use jikimi_exchange::protocol::{PROTOCOL, Signed};
use jikimi_exchange::store::ExchangeStore;
use uuid::Uuid;

const IBAN: &str = "DE89370400440532013000";

fn agency(seed: u8) -> (Agency, SigningKey) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    (
        Agency {
            id: AgencyId::from_key(&key.verifying_key()),
            name: format!("agency {seed}"),
            country: "DE".to_owned(),
            endpoint: None,
        },
        key,
    )
}

fn request(from: &(Agency, SigningKey), to: &Agency) -> Signed<FreezeRequest> {
    let now = Utc::now();
    Signed::sign(
        FreezeRequest {
            protocol: PROTOCOL.to_owned(),
            id: Uuid::now_v7(),
            kind: FreezeKind::Freeze,
            requester: from.0.id.clone(),
            recipient: to.id.clone(),
            agreement: Uuid::nil(),
            legal_basis: "MLAT art. 18".to_owned(),
            account: AccountRef::parse_spec(&format!("iban={IBAN}")).expect("iban"),
            amount: Amount {
                minor_units: 123_456_789_012_345_678_901,
                currency: "EUR".to_owned(),
                decimals: 2,
            },
            evidence: Evidence::from_summary(serde_json::json!({"hops": 2}), None)
                .expect("evidence"),
            case_id: Uuid::now_v7(),
            deadline: now + Duration::days(2),
            issued_at: now,
        },
        &from.1,
    )
    .expect("sign")
}

fn status(
    by: &(Agency, SigningKey),
    request: &FreezeRequest,
    seq: u64,
    state: FreezeState,
) -> Signed<FreezeStatus> {
    Signed::sign(
        FreezeStatus {
            protocol: PROTOCOL.to_owned(),
            request: request.id,
            seq,
            issuer: by.0.id.clone(),
            requester: request.requester.clone(),
            at: Utc::now(),
            state,
        },
        &by.1,
    )
    .expect("sign")
}

/// The recipient's side and the requester's side of one request, on one database each way round: kept in order,
/// replays change nothing, a different message under a taken id or number is refused, bodies are sealed, delivery
/// marks stick, and every write is an `exchange.freeze_*` entry of a chain that verifies.
pub(crate) async fn freeze_requests_and_statuses_are_kept_on_both_sides<
    S: TestStore + ExchangeStore,
>() {
    let (store, _guard) = S::fresh().await;
    let a = agency(1);
    let b = agency(2);
    // This database plays B for `incoming` and A for `outgoing`.
    let incoming = request(&a, &b.0);
    let outgoing = request(&b, &a.0);
    assert!(
        store
            .put_freeze_request(Direction::Incoming, &incoming)
            .await
            .expect("put")
    );
    assert!(
        store
            .put_freeze_request(Direction::Outgoing, &outgoing)
            .await
            .expect("put")
    );
    // A replay is harmless; another request under the same id is refused.
    assert!(
        !store
            .put_freeze_request(Direction::Incoming, &incoming)
            .await
            .expect("replay")
    );
    let mut forged = incoming.clone();
    forged.body.legal_basis = "other".into();
    assert!(
        store
            .put_freeze_request(Direction::Incoming, &forged)
            .await
            .is_err()
    );

    let received = status(&b, &incoming.body, 1, FreezeState::Received);
    let frozen = status(
        &b,
        &incoming.body,
        2,
        FreezeState::Frozen {
            amount: Amount {
                minor_units: 500,
                currency: "EUR".into(),
                decimals: 2,
            },
        },
    );
    for s in [&received, &frozen] {
        assert!(store.put_freeze_status(s).await.expect("status"));
        assert!(!store.put_freeze_status(s).await.expect("status replay"));
    }
    let clash = status(
        &b,
        &incoming.body,
        2,
        FreezeState::Refused { reason: "x".into() },
    );
    assert!(store.put_freeze_status(&clash).await.is_err());
    let orphan = status(&b, &request(&a, &b.0).body, 1, FreezeState::Received);
    assert!(store.put_freeze_status(&orphan).await.is_err());
    // A status of our own request, received from its recipient.
    let theirs = status(&a, &outgoing.body, 1, FreezeState::Received);
    assert!(store.put_freeze_status(&theirs).await.expect("status"));

    let held = store
        .freeze_request(incoming.body.id)
        .await
        .expect("read")
        .expect("held");
    assert_eq!(held.direction, Direction::Incoming);
    assert_eq!(held.request, incoming);
    assert!(held.delivered, "a request we received needs no delivery");
    let seqs: Vec<u64> = held.statuses.iter().map(|s| s.status.body.seq).collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(held.statuses[1].status, frozen);
    assert!(
        held.statuses.iter().all(|s| !s.delivered),
        "statuses we issue wait for the requester"
    );
    store
        .mark_freeze_delivered(incoming.body.id, Some(1))
        .await
        .expect("mark");
    let out = store
        .freeze_request(outgoing.body.id)
        .await
        .expect("read")
        .expect("held");
    assert!(!out.delivered && out.statuses[0].delivered);
    store
        .mark_freeze_delivered(outgoing.body.id, None)
        .await
        .expect("mark");
    let all = store.freeze_requests().await.expect("list");
    assert_eq!(all.len(), 2);
    let by_id = |id: Uuid| {
        all.iter()
            .find(|h| h.request.body.id == id)
            .expect("listed")
    };
    assert!(by_id(outgoing.body.id).delivered);
    assert!(by_id(incoming.body.id).statuses[0].delivered);
    assert!(!by_id(incoming.body.id).statuses[1].delivered);
    assert_eq!(
        by_id(incoming.body.id).request.body.amount.minor_units,
        123_456_789_012_345_678_901,
        "amounts are exact"
    );
    assert!(
        store
            .freeze_request(Uuid::now_v7())
            .await
            .expect("read")
            .is_none()
    );

    // Sealed at rest: no row holds the IBAN in clear; every body is sealed.
    let like = format!("%{IBAN}%");
    for table in [
        "UPDATE ex_freeze_requests SET delivered = delivered WHERE body LIKE $1",
        "UPDATE ex_freeze_statuses SET delivered = delivered WHERE body LIKE $1",
    ] {
        assert_eq!(store.raw_update(table, &like).await, 0, "{table}");
    }
    assert_eq!(
        store
            .raw_update(
                "UPDATE ex_freeze_requests SET delivered = delivered WHERE body NOT LIKE $1",
                "sealed:%"
            )
            .await,
        0
    );

    // Every write is in the one chain, naming the digest and signature of what was kept.
    let log = store.audit_log().await.expect("audit log");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for want in [
        "freeze_request_received",
        "freeze_requested",
        "freeze_status_issued",
        "freeze_status_received",
        "freeze_delivered",
    ] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    let issued: Vec<_> = log
        .iter()
        .filter(|e| e.action == "freeze_status_issued")
        .collect();
    assert_eq!(issued.len(), 2, "replays are not audited twice");
    assert!(issued[1].detail.contains(&frozen.signature));
    crate::verify_audit(&store).await.expect("chain verifies");
}
