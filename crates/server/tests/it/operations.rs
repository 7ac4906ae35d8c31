//! Joint operations through the API, as an attacker would try them: the staff routes (no session, wrong roles,
//! malformed, oversized, unknown ids, sovereignty refusals) and the federation push route (unknown origin, forged or
//! tampered signatures, a part that does not match its head, a partner changing our task or consenting for another
//! jurisdiction, replays and early events) and the batch route (unknown sender, forged, for another node, stale,
//! another protocol, malformed, oversized, replayed, and events refused one by one inside an accepted batch).
//! Partners are test keys; what they would push is signed here.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{AgencyId, FieldClass};
use jikimi_exchange::marking::{HandlingCode, Marking};
use jikimi_exchange::operation::{Change, EventHead, OpBatch, OpEvent, Part};
use jikimi_exchange::protocol::{PROTOCOL, Signed};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::Harness;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn id_of(key: &SigningKey) -> AgencyId {
    AgencyId::from_key(&key.verifying_key())
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// Event `seq` of `by` in operation `op`, with `parts`, marked `handling` (also `statuses.rs`'s valid body).
pub(crate) fn signed(
    by: &SigningKey,
    op: Uuid,
    seq: u64,
    change: Change,
    parts: BTreeMap<FieldClass, Part>,
    handling: HandlingCode,
) -> OpEvent {
    OpEvent::issue(
        EventHead {
            protocol: PROTOCOL.into(),
            operation: op,
            origin: id_of(by),
            seq,
            at: Utc::now(),
            marking: Marking {
                handling,
                ..Marking::default()
            },
            change,
            parts: BTreeMap::new(),
        },
        parts,
        by,
    )
    .expect("sign")
}

pub async fn joint_operations_as_an_attacker_would_try_them(h: &Harness) {
    let app = h.cooperating().await;
    let admin = h.login_as(Role::Admin).await;
    let liaison = h.login_as(Role::Supervisor).await;
    // Before this node has an agency identity there is no operation to take part in.
    let none = Uuid::now_v7();
    for (method, path, body) in [
        (Method::GET, "/api/operations".to_owned(), None),
        (
            Method::POST,
            "/api/operations".to_owned(),
            Some(json!({"title": "t", "agreements": [], "legal_basis": "b", "participants": []})),
        ),
        (Method::GET, format!("/api/operations/{none}"), None),
        (
            Method::POST,
            format!("/api/operations/{none}/events"),
            Some(json!({"change": "log", "text": "x"})),
        ),
        (Method::GET, format!("/api/operations/{none}/export"), None),
        (
            Method::POST,
            "/federation/v1/operations/batches".to_owned(),
            Some(json!(
                Signed::sign(
                    OpBatch {
                        protocol: PROTOCOL.into(),
                        sender: id_of(&key(7)),
                        recipient: id_of(&key(8)),
                        at: Utc::now(),
                        events: Vec::new(),
                    },
                    &key(7),
                )
                .expect("sign")
            )),
        ),
    ] {
        let (status, answer) = h.call_on(&app, method, &path, Some(&liaison), body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, "agency_not_initialised"),
            "{path}: {answer}"
        );
    }
    let (status, me) = h
        .call_on(
            &app,
            Method::POST,
            "/api/exchange/agency",
            Some(&admin),
            Some(json!({"name": "KNPA", "country": "KR"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{me}");
    let me = AgencyId::parse(me["id"].as_str().expect("id")).expect("id");
    let (th, kh) = (key(7), key(8));
    for (k, country) in [(&th, "TH"), (&kh, "KH")] {
        let (status, answer) = h
            .call_on(
                &app,
                Method::POST,
                "/api/exchange/peers",
                Some(&admin),
                Some(json!({"id": id_of(k), "name": country, "country": country})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let agreement = Uuid::now_v7();
    let now = Utc::now();
    let (status, answer) = h
        .call_on(
            &app,
            Method::POST,
            "/api/exchange/agreements",
            Some(&admin),
            Some(json!({
                "id": agreement, "title": "regional", "parties": [me, id_of(&th), id_of(&kh)],
                "categories": ["scam"], "fields": ["summary", "event", "person"], "max_tlp": "TLP:AMBER",
                "floor": Marking::default(), "purpose": "joint operation",
                "valid_from": now - Duration::days(1), "expires_at": now + Duration::days(30),
                "onward_sharing": false, "revoked_at": null,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let analyst = h.login_as(Role::Analyst).await;
    let call = |method: Method, path: String, token: Option<String>, body: Option<Value>| {
        let app = app.clone();
        async move { h.call_on(&app, method, &path, token.as_deref(), body).await }
    };
    let new_op = json!({
        "title": "Operation Lantern", "agreements": [agreement], "legal_basis": "KR MLA Act art. 5",
        "participants": [{"agency": id_of(&th)}, {"agency": id_of(&kh)}],
    });

    // Staff routes: a session, and the liaison role, are required; bodies are checked.
    for (token, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(analyst.clone()), StatusCode::FORBIDDEN),
        (Some(admin.clone()), StatusCode::FORBIDDEN),
    ] {
        let (status, _) = call(Method::GET, "/api/operations".into(), token.clone(), None).await;
        assert_eq!(status, want);
        let (status, _) = call(
            Method::POST,
            "/api/operations".into(),
            token,
            Some(new_op.clone()),
        )
        .await;
        assert_eq!(status, want);
    }
    let (status, answer) = call(
        Method::POST,
        "/api/operations".into(),
        Some(liaison.clone()),
        Some(json!({"title": "x", "sneaky": true})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = call(
        Method::POST,
        "/api/operations".into(),
        Some(liaison.clone()),
        Some(json!({"title": "x".repeat(3_000_000), "agreements": [], "legal_basis": "x", "participants": []})),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let mut stranger_op = new_op.clone();
    stranger_op["participants"] = json!([{"agency": id_of(&key(9))}]);
    let (status, _) = call(
        Method::POST,
        "/api/operations".into(),
        Some(liaison.clone()),
        Some(stranger_op),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an invitee outside the agreements"
    );
    let mut unknown_agreement = new_op.clone();
    unknown_agreement["agreements"] = json!([Uuid::now_v7()]);
    let (status, _) = call(
        Method::POST,
        "/api/operations".into(),
        Some(liaison.clone()),
        Some(unknown_agreement),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, created) = call(
        Method::POST,
        "/api/operations".into(),
        Some(liaison.clone()),
        Some(new_op.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let op: Uuid = created["view"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let events = format!("/api/operations/{op}/events");
    let (status, _) = call(
        Method::GET,
        format!("/api/operations/{}", Uuid::now_v7()),
        Some(liaison.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        Method::GET,
        "/api/operations/not-a-uuid".into(),
        Some(liaison.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        Method::POST,
        format!("/api/operations/{}/events", Uuid::now_v7()),
        Some(liaison.clone()),
        Some(json!({"change": "log", "text": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        Method::POST,
        events.clone(),
        Some(liaison.clone()),
        Some(json!({"change": "teleport"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        Method::POST,
        "/api/operations/nope/events".into(),
        Some(liaison.clone()),
        Some(json!({"change": "log", "text": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        Method::GET,
        "/api/operations/nope/export".into(),
        Some(liaison.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answer) = call(
        Method::POST,
        events.clone(),
        Some(liaison.clone()),
        Some(json!({"change": "log", "text": "x".repeat(100_000)})),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    for (token, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(analyst.clone()), StatusCode::FORBIDDEN),
    ] {
        let (status, _) = call(
            Method::POST,
            events.clone(),
            token.clone(),
            Some(json!({"change": "log", "text": "x"})),
        )
        .await;
        assert_eq!(status, want);
        let (status, _) = call(Method::GET, format!("/api/operations/{op}"), token, None).await;
        assert_eq!(status, want);
    }

    // Our task in Cambodia's jurisdiction waits for its consent; we cannot consent for Cambodia.
    let deadline = (Utc::now() + Duration::days(2)).to_rfc3339();
    let (status, task) = call(
        Method::POST,
        events.clone(),
        Some(liaison.clone()),
        Some(json!({"change": "task", "kind": "arrest", "jurisdiction": "KH", "deadline": deadline, "description": "the compound"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task_id: Uuid = task["head"]["body"]["task"]
        .as_str()
        .expect("task")
        .parse()
        .expect("uuid");
    let (status, answer) = call(
        Method::POST,
        events.clone(),
        Some(liaison.clone()),
        Some(json!({"change": "task_status", "task": task_id, "status": "in_progress"})),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "{answer}"
    );
    let (status, _) = call(
        Method::POST,
        events.clone(),
        Some(liaison.clone()),
        Some(json!({"change": "consent", "task": task_id, "accept": true})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only Cambodia consents");
    let (status, _) = call(
        Method::POST,
        events.clone(),
        Some(liaison.clone()),
        Some(json!({"change": "task", "kind": "beam", "jurisdiction": "KR", "deadline": deadline, "description": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The federation route: partners push their signed events.
    let push = |event: &OpEvent| {
        call(
            Method::POST,
            "/federation/v1/operations/events".into(),
            None,
            Some(json!(event)),
        )
    };
    let join = |k: &SigningKey| {
        signed(
            k,
            op,
            1,
            Change::Join {
                legal_basis: "own law".into(),
            },
            BTreeMap::new(),
            HandlingCode::H0,
        )
    };
    let (status, ack) = push(&join(&key(9))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "unknown origin: {ack}");
    let mut forged = join(&th);
    forged.head.signature = hex::encode([7u8; 64]);
    let (status, _) = push(&forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "bad signature");
    let th_join = join(&th);
    let (status, ack) = push(&th_join).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["body"]["outcome"], "applied");
    // A replay changes nothing; another event under a number already held is refused.
    let (status, ack) = push(&th_join).await;
    assert_eq!(
        (status, ack["body"]["outcome"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    let mut other = th_join.head.body.clone();
    other.at += Duration::seconds(1);
    let other = OpEvent::issue(other, BTreeMap::new(), &th).expect("sign");
    assert_eq!(push(&other).await.0, StatusCode::FORBIDDEN);
    // An early event is kept until the one before it comes.
    let log = |seq, handling| {
        signed(
            &th,
            op,
            seq,
            Change::Log {
                entry: Uuid::now_v7(),
            },
            BTreeMap::from([(
                FieldClass::Event,
                Part::new(json!("seen at the pier"), Uuid::new_v4()),
            )]),
            handling,
        )
    };
    let (status, ack) = push(&log(3, HandlingCode::H0)).await;
    assert_eq!(
        (status, ack["body"]["outcome"].as_str()),
        (StatusCode::OK, Some("buffered")),
        "{ack}"
    );
    assert_eq!(ack["body"]["next_expected"], 2);
    let (status, ack) = push(&log(2, HandlingCode::H1)).await;
    assert_eq!(
        (status, ack["body"]["next_expected"].as_u64()),
        (StatusCode::OK, Some(4)),
        "{ack}"
    );
    // A part that does not match its signed digest.
    let mut tampered = log(4, HandlingCode::H0);
    if let Some(p) = tampered.parts.get_mut(&FieldClass::Event) {
        p.value = json!("something else");
    }
    let (status, _) = push(&tampered).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Thailand changing our task, or consenting for Cambodia: refused and audited.
    for change in [
        Change::TaskStatus {
            task: task_id,
            status: jikimi_exchange::operation::TaskStatus::Cancelled,
        },
        Change::Consent {
            task: task_id,
            accept: true,
            reason: String::new(),
        },
    ] {
        let (status, answer) = push(&signed(
            &th,
            op,
            4,
            change,
            BTreeMap::new(),
            HandlingCode::H0,
        ))
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    }
    // Cambodia joins and consents; then our status change goes.
    assert_eq!(push(&join(&kh)).await.0, StatusCode::OK);
    let consent = signed(
        &kh,
        op,
        2,
        Change::Consent {
            task: task_id,
            accept: true,
            reason: String::new(),
        },
        BTreeMap::new(),
        HandlingCode::H0,
    );
    assert_eq!(push(&consent).await.0, StatusCode::OK);
    let (status, answer) = call(
        Method::POST,
        events.clone(),
        Some(liaison.clone()),
        Some(json!({"change": "task_status", "task": task_id, "status": "in_progress"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    let (status, held) = call(
        Method::GET,
        format!("/api/operations/{op}"),
        Some(liaison.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        held["view"]["tasks"][task_id.to_string()]["status"],
        "in_progress"
    );
    assert_eq!(held["view"]["log"].as_array().map(Vec::len), Some(2));
    let (status, list) = call(
        Method::GET,
        "/api/operations".into(),
        Some(liaison.clone()),
        None,
    )
    .await;
    assert_eq!(
        (status, list.as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );

    // The court bundle: Thailand's H1 log entry is refused, the rest signed by us.
    let (status, bundle) = call(
        Method::GET,
        format!("/api/operations/{op}/export"),
        Some(liaison.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    let refused = bundle["body"]["refused"].as_array().expect("refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["seq"], 2);
    let (status, _) = call(
        Method::GET,
        format!("/api/operations/{op}/export"),
        Some(analyst.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        Method::GET,
        format!("/api/operations/{}/export", Uuid::now_v7()),
        Some(liaison.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The batch route: a partner pushes all its pending events in one request it signs.
    let batch = |by: &SigningKey, to: &AgencyId, at, events: Vec<OpEvent>, protocol: &str| {
        json!(
            Signed::sign(
                OpBatch {
                    protocol: protocol.into(),
                    sender: id_of(by),
                    recipient: to.clone(),
                    at,
                    events,
                },
                by,
            )
            .expect("sign")
        )
    };
    let push_batch = |body: Value| {
        call(
            Method::POST,
            "/federation/v1/operations/batches".into(),
            None,
            Some(body),
        )
    };
    let now = Utc::now();
    let logs = vec![
        log(4, HandlingCode::H0),
        log(5, HandlingCode::H0),
        log(6, HandlingCode::H0),
    ];
    let (status, answer) = push_batch(batch(&key(9), &me, now, vec![], PROTOCOL)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "unknown sender: {answer}");
    let mut forged = batch(&th, &me, now, logs.clone(), PROTOCOL);
    forged["signature"] = json!(hex::encode([7u8; 64]));
    let (status, answer) = push_batch(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "forged: {answer}");
    let (status, answer) = push_batch(batch(&th, &id_of(&kh), now, logs.clone(), PROTOCOL)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "for another node: {answer}");
    let stale = now - Duration::hours(1);
    let (status, answer) = push_batch(batch(&th, &me, stale, logs.clone(), PROTOCOL)).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNAUTHORIZED, "timestamp_out_of_window"),
        "{answer}"
    );
    let (status, answer) = push_batch(batch(&th, &me, now, logs.clone(), "other/9")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = push_batch(json!({"body": {"events": 1}, "signature": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "malformed: {answer}");
    let (status, _) = push_batch(json!({"pad": "x".repeat(crate::support::BODY_LIMIT)})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Three events in one answer; the same batch again changes nothing.
    let good = batch(&th, &me, now, logs.clone(), PROTOCOL);
    let (status, ack) = push_batch(good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    let outcomes = |ack: &Value| -> Vec<String> {
        ack["body"]["results"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|x| x["outcome"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(outcomes(&ack), ["applied", "applied", "applied"], "{ack}");
    assert_eq!(ack["body"]["next_expected"][op.to_string()], 7);
    let (status, ack) = push_batch(good).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcomes(&ack), ["duplicate", "duplicate", "duplicate"]);
    // Each event is still checked on its own: another origin's event, and Thailand changing our task, are refused
    // (audited); the next one waits for the number refused; the answer says so and expects 7 again.
    let mixed = vec![
        signed(
            &kh,
            op,
            3,
            Change::Log {
                entry: Uuid::now_v7(),
            },
            BTreeMap::new(),
            HandlingCode::H0,
        ),
        signed(
            &th,
            op,
            7,
            Change::TaskStatus {
                task: task_id,
                status: jikimi_exchange::operation::TaskStatus::Cancelled,
            },
            BTreeMap::new(),
            HandlingCode::H0,
        ),
        log(8, HandlingCode::H0),
    ];
    let (status, ack) = push_batch(batch(&th, &me, now, mixed, PROTOCOL)).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(outcomes(&ack), ["refused", "refused", "buffered"], "{ack}");
    assert_eq!(ack["body"]["next_expected"][op.to_string()], 7);
    let (_, held) = call(
        Method::GET,
        format!("/api/operations/{op}"),
        Some(liaison.clone()),
        None,
    )
    .await;
    assert_eq!(held["view"]["log"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        held["view"]["tasks"][task_id.to_string()]["status"],
        "in_progress"
    );

    let audit = h.audit().await;
    for want in [
        "exchange.operation_batch_rejected",
        "exchange.operation_event_issued",
        "exchange.operation_event_received",
        "exchange.operation_event_buffered",
        "exchange.operation_event_applied",
        "exchange.operation_event_rejected",
        "exchange.operation_read",
        "exchange.operation_court_export",
    ] {
        assert!(audit.iter().any(|(action, ..)| action == want), "{want}");
    }
}
