//! Freeze and confiscation requests through the API, as an attacker would try them: the recipient's federation route
//! (forged, unknown, misaddressed, tampered, replayed, out of jurisdiction) and its supervisor's status updates
//! (wrong role, wrong side, bad transitions); the requester's staff API (roles, malformed, no jurisdiction, the
//! trace-run seam) and its status route (forged, replayed, out of order). Partners are test keys; what a partner
//! would send is signed here.

use axum::Router;
use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::AgencyId;
use jikimi_exchange::freeze::{
    AccountRef, Amount, Evidence, FreezeKind, FreezeRequest, FreezeState, FreezeStatus,
};
use jikimi_exchange::protocol::{PROTOCOL, Signed};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::Harness;

const IBAN_DE: &str = "DE89370400440532013000";
const BASIS: &str = "KR-DE MLAT art. 18";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn id_of(key: &SigningKey) -> AgencyId {
    AgencyId::from_key(&key.verifying_key())
}

/// The body of `POST /api/exchange/freeze` for case `case_id`.
pub fn new_request_body(case_id: Uuid) -> Value {
    json!({
        "account": {"type": "iban", "iban": IBAN_DE},
        "amount_minor": "1500000", "currency": "EUR", "decimals": 2,
        "case_id": case_id,
        "deadline": (Utc::now() + Duration::days(3)).to_rfc3339(),
        "evidence": {"trace": "t-1", "hops": 2},
    })
}

/// A request from `from` to `to` under `agreement` for a German IBAN, changed by `tweak` before signing.
pub fn signed_request(
    from: &SigningKey,
    to: &AgencyId,
    agreement: Uuid,
    tweak: impl FnOnce(&mut FreezeRequest),
) -> Signed<FreezeRequest> {
    let mut body = FreezeRequest {
        protocol: PROTOCOL.into(),
        id: Uuid::now_v7(),
        kind: FreezeKind::Freeze,
        requester: id_of(from),
        recipient: to.clone(),
        agreement,
        legal_basis: BASIS.into(),
        account: AccountRef::parse_spec(&format!("iban={IBAN_DE}")).expect("iban"),
        amount: Amount {
            minor_units: 1_500_000,
            currency: "EUR".into(),
            decimals: 2,
        },
        evidence: Evidence::from_summary(json!({"trace": "t-1"}), None).expect("evidence"),
        case_id: Uuid::now_v7(),
        deadline: Utc::now() + Duration::days(3),
        issued_at: Utc::now(),
    };
    tweak(&mut body);
    Signed::sign(body, from).expect("sign")
}

/// Status `seq` of request `request`, issued by `by` to `requester`.
pub fn signed_status(
    by: &SigningKey,
    requester: &AgencyId,
    request: Uuid,
    seq: u64,
    state: FreezeState,
) -> Signed<FreezeStatus> {
    Signed::sign(
        FreezeStatus {
            protocol: PROTOCOL.into(),
            request,
            seq,
            issuer: id_of(by),
            requester: requester.clone(),
            at: Utc::now(),
            state,
        },
        by,
    )
    .expect("sign")
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// A cooperating node of `country` with one partner (key 7, of `partner_country`) and an agreement permitting
/// freeze requests; returns the app, this node's id and the agreement id.
pub(crate) async fn node(
    h: &Harness,
    country: &str,
    partner_country: &str,
) -> (Router, AgencyId, Uuid) {
    let app = h.cooperating().await;
    let admin = h.login_as(Role::Admin).await;
    let (status, me) = h
        .call_on(
            &app,
            Method::POST,
            "/api/exchange/agency",
            Some(&admin),
            Some(json!({"name": "this agency", "country": country})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{me}");
    let me = AgencyId::parse(me["id"].as_str().expect("id")).expect("id");
    let partner = id_of(&key(7));
    let (status, answer) = h
        .call_on(
            &app,
            Method::POST,
            "/api/exchange/peers",
            Some(&admin),
            Some(json!({"id": partner, "name": "partner", "country": partner_country})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let agreement = Uuid::now_v7();
    let now = Utc::now();
    let (status, answer) = h
        .call_on(
            &app,
            Method::POST,
            "/api/exchange/agreements",
            Some(&admin),
            Some(json!({
                "id": agreement, "title": "KR-DE", "parties": [me, partner], "categories": ["scam"],
                "fields": [], "max_tlp": "TLP:AMBER",
                "floor": jikimi_exchange::marking::Marking::default(),
                "purpose": "asset recovery", "valid_from": now - Duration::days(1),
                "expires_at": now + Duration::days(30), "onward_sharing": false, "revoked_at": null,
                "freeze": {"legal_basis": BASIS, "kinds": ["freeze"]},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    (app, me, agreement)
}

/// This node (Germany) receives requests from its Korean partner.
pub async fn freeze_requests_as_the_recipient_would_be_attacked(h: &Harness) {
    // Before this node has an agency identity, partners' messages are refused as such.
    let bare = h.cooperating().await;
    let nobody = id_of(&key(8));
    for (path, body) in [
        (
            "/federation/v1/freeze/requests",
            json!(signed_request(&key(7), &nobody, Uuid::now_v7(), |_| {})),
        ),
        (
            "/federation/v1/freeze/statuses",
            json!(signed_status(
                &key(7),
                &nobody,
                Uuid::now_v7(),
                1,
                FreezeState::Received
            )),
        ),
    ] {
        let (status, answer) = h.call_on(&bare, Method::POST, path, None, Some(body)).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, "agency_not_initialised"),
            "{path}: {answer}"
        );
    }
    let (app, me, agreement) = node(h, "DE", "KR").await;
    let partner = key(7);
    let stranger = key(9);
    let post = |path: &'static str, body: Value| {
        let app = app.clone();
        async move { h.call_on(&app, Method::POST, path, None, Some(body)).await }
    };
    const REQUESTS: &str = "/federation/v1/freeze/requests";

    // A partner's request is answered with our signed `received`; a replay with the same status.
    let request = signed_request(&partner, &me, agreement, |_| {});
    let (status, received) = post(REQUESTS, json!(request)).await;
    assert_eq!(status, StatusCode::OK, "{received}");
    let received: Signed<FreezeStatus> = serde_json::from_value(received).expect("status");
    assert_eq!(received.body.state, FreezeState::Received);
    assert!(received.verify(&me).is_ok());
    let (status, again) = post(REQUESTS, json!(request)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["signature"], json!(received.signature));

    // Forged, unknown, misaddressed, not under the agreement, tampered, or not ours to act on.
    let mut forged = signed_request(&partner, &me, agreement, |_| {});
    forged.signature = signed_request(&stranger, &me, agreement, |_| {}).signature;
    let other_agency = id_of(&key(8));
    let refusals = [
        (json!(forged), StatusCode::UNAUTHORIZED, "signature_invalid"),
        (
            json!(signed_request(&stranger, &me, agreement, |_| {})),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            json!(signed_request(&partner, &other_agency, agreement, |_| {})),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            json!(signed_request(&partner, &me, Uuid::now_v7(), |_| {})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!(signed_request(&partner, &me, agreement, |r| {
                r.legal_basis = "a treaty we never signed".into();
            })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!(signed_request(&partner, &me, agreement, |r| {
                r.evidence.summary = json!({"trace": "swapped"});
            })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!(signed_request(&partner, &me, agreement, |r| {
                r.account = AccountRef::parse_spec("account=TH:110-123-456789").expect("acct");
            })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"body": {"id": "not a request"}, "signature": "00"}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
    ];
    for (body, want, want_code) in refusals {
        let (status, answer) = post(REQUESTS, body.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (want, want_code),
            "{body}: {answer}"
        );
    }

    // Staff: reading needs the role; listing is audited.
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let get = |path: String, token: Option<String>| {
        let app = app.clone();
        async move {
            h.call_on(&app, Method::GET, &path, token.as_deref(), None)
                .await
        }
    };
    let (status, list) = get(
        "/api/exchange/freeze?direction=incoming".into(),
        Some(supervisor.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(
        get("/api/exchange/freeze".into(), Some(analyst.clone()))
            .await
            .0,
        StatusCode::OK
    );
    for (path, token, want) in [
        (
            "/api/exchange/freeze".to_owned(),
            Some(dispatcher.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            "/api/exchange/freeze".to_owned(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/api/exchange/freeze?direction=sideways".to_owned(),
            Some(supervisor.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/api/exchange/freeze/{}", Uuid::now_v7()),
            Some(supervisor.clone()),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/exchange/freeze/{}", request.body.id),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            format!("/api/exchange/freeze/{}", request.body.id),
            Some(dispatcher.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            "/api/exchange/freeze/not-a-uuid".to_owned(),
            Some(supervisor.clone()),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(get(path.clone(), token).await.0, want, "{path}");
    }

    // Recording a status: only a supervisor, only in a valid order.
    let status_path = format!("/api/exchange/freeze/{}/status", request.body.id);
    let record = |token: Option<String>, path: String, body: Value| {
        let app = app.clone();
        async move {
            h.call_on(&app, Method::POST, &path, token.as_deref(), Some(body))
                .await
        }
    };
    let frozen = json!({"state": "frozen", "amount_minor": "1200000"});
    for (token, path, body, want) in [
        (
            Some(analyst.clone()),
            status_path.clone(),
            frozen.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            None,
            status_path.clone(),
            frozen.clone(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(supervisor.clone()),
            format!("/api/exchange/freeze/{}/status", Uuid::now_v7()),
            frozen.clone(),
            StatusCode::NOT_FOUND,
        ),
        (
            Some(supervisor.clone()),
            status_path.clone(),
            json!({"state": "melted"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some(supervisor.clone()),
            status_path.clone(),
            json!({"state": "frozen"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some(supervisor.clone()),
            status_path.clone(),
            json!({"state": "frozen", "amount_minor": "12.50"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some(supervisor.clone()),
            status_path.clone(),
            json!({"state": "released", "reason": "too early"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some(supervisor.clone()),
            status_path.clone(),
            json!(["not", "an", "object"]),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = record(token, path.clone(), body.clone()).await;
        assert_eq!(status, want, "{path} {body}: {answer}");
    }
    let (status, held) = record(Some(supervisor.clone()), status_path.clone(), frozen).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["statuses"][1]["status"]["body"]["state"], "frozen");
    assert_eq!(
        held["statuses"][1]["delivered"], false,
        "the partner has no endpoint here"
    );
    let (status, _) = record(
        Some(supervisor.clone()),
        status_path.clone(),
        json!({"state": "refused", "reason": "changed our mind"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused cannot follow frozen"
    );
    let (status, held) = record(
        Some(supervisor.clone()),
        status_path.clone(),
        json!({"state": "released", "reason": "court order lapsed"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{held}");
    let (status, _) = record(
        Some(supervisor),
        status_path,
        json!({"state": "frozen", "amount_minor": "1"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing follows a release"
    );

    // Every step is in the audit chain, refusals too.
    let actions: Vec<String> = h.audit().await.into_iter().map(|e| e.0).collect();
    for want in [
        "exchange.freeze_request_received",
        "exchange.freeze_status_issued",
        "exchange.freeze_rejected",
        "exchange.freeze_read",
        "exchange.freeze_status_recorded",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
}

/// This node (Korea) asks its German partner; the partner's statuses come back through the federation route.
pub async fn freeze_requests_as_the_requester_would_be_attacked(h: &Harness) {
    let (app, me, _) = node(h, "KR", "DE").await;
    let partner = key(7);
    let stranger = key(9);
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let (status, case) = h
        .call_on(
            &app,
            Method::POST,
            "/api/exchange/cases",
            Some(&supervisor),
            Some(json!({"category": "scam", "content": {"title": "romance scam", "entities": [], "events": [], "attachments": []}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let case_id: Uuid = case["id"].as_str().expect("id").parse().expect("uuid");
    let create = |token: Option<String>, body: Value| {
        let app = app.clone();
        async move {
            h.call_on(
                &app,
                Method::POST,
                "/api/exchange/freeze",
                token.as_deref(),
                Some(body),
            )
            .await
        }
    };

    // Refusals before anything is signed or sent.
    let with = |change: Value| {
        let mut body = new_request_body(case_id);
        for (k, v) in change.as_object().expect("object") {
            if v.is_null() {
                body.as_object_mut().expect("object").remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let admin = h.login_as(Role::Admin).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    for (token, body, want, why) in [
        (
            None,
            with(json!({})),
            StatusCode::UNAUTHORIZED,
            "no session",
        ),
        (
            Some(dispatcher),
            with(json!({})),
            StatusCode::FORBIDDEN,
            "dispatcher",
        ),
        (
            Some(admin),
            with(json!({})),
            StatusCode::FORBIDDEN,
            "admin: least privilege",
        ),
        (
            Some(analyst.clone()),
            with(json!({"evidence": null})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no evidence",
        ),
        (
            Some(analyst.clone()),
            with(json!({"evidence": null, "trace_run": Uuid::now_v7()})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "trace_run with an account of its own",
        ),
        (
            Some(analyst.clone()),
            with(json!({"evidence": [1, 2]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "evidence not an object",
        ),
        (
            Some(analyst.clone()),
            with(json!({"case_id": Uuid::now_v7()})),
            StatusCode::NOT_FOUND,
            "unknown case",
        ),
        (
            Some(analyst.clone()),
            with(
                json!({"account": {"type": "bank_account", "account": "110-123-456789", "country": "TH"}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no partner of that country",
        ),
        (
            Some(analyst.clone()),
            with(json!({"account": {"type": "iban", "iban": "GB83WEST12345698765432"}})),
            StatusCode::BAD_REQUEST,
            "bad IBAN check digits",
        ),
        (
            Some(analyst.clone()),
            with(json!({"amount_minor": "12.5"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not minor units",
        ),
        (
            Some(analyst.clone()),
            with(json!({"amount_minor": "0"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "zero",
        ),
        (
            Some(analyst.clone()),
            with(json!({"deadline": (Utc::now() - Duration::days(1)).to_rfc3339()})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "deadline passed",
        ),
        (
            Some(analyst.clone()),
            with(json!({"kind": "confiscation"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kind not permitted",
        ),
        (
            Some(analyst.clone()),
            with(json!({"surprise": 1})),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
    ] {
        let (status, answer) = create(token, body).await;
        assert!(
            status == want
                || (want == StatusCode::BAD_REQUEST && status == StatusCode::UNPROCESSABLE_ENTITY),
            "{why}: {status} {answer}"
        );
    }

    // The analyst's request: signed, kept, addressed to the German partner under the agreement's legal basis.
    let (status, held) = create(Some(analyst.clone()), new_request_body(case_id)).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    assert_eq!(held["direction"], "outgoing");
    assert_eq!(held["delivered"], false, "the partner has no endpoint here");
    assert_eq!(held["request"]["body"]["legal_basis"], BASIS);
    assert_eq!(held["request"]["body"]["recipient"], json!(id_of(&partner)));
    let request: Signed<FreezeRequest> =
        serde_json::from_value(held["request"].clone()).expect("request");
    assert!(request.verify(&me).is_ok());
    let id = request.body.id;

    // Our own request's status is not ours to record.
    let (status, _) = h
        .call_on(
            &app,
            Method::POST,
            &format!("/api/exchange/freeze/{id}/status"),
            Some(&supervisor),
            Some(json!({"state": "refused", "reason": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The partner's statuses: accepted in order, replays harmless, forgeries and strangers refused.
    const STATUSES: &str = "/federation/v1/freeze/statuses";
    let post = |body: Value| {
        let app = app.clone();
        async move {
            h.call_on(&app, Method::POST, STATUSES, None, Some(body))
                .await
        }
    };
    let received = signed_status(&partner, &me, id, 1, FreezeState::Received);
    let mut forged = signed_status(&partner, &me, id, 1, FreezeState::Received);
    forged.signature = signed_status(&stranger, &me, id, 1, FreezeState::Received).signature;
    for (body, want) in [
        (json!(forged), StatusCode::UNAUTHORIZED),
        (
            json!(signed_status(&stranger, &me, id, 1, FreezeState::Received)),
            StatusCode::FORBIDDEN,
        ),
        (
            json!(signed_status(
                &partner,
                &id_of(&key(8)),
                id,
                1,
                FreezeState::Received
            )),
            StatusCode::FORBIDDEN,
        ),
        (
            json!(signed_status(
                &partner,
                &me,
                Uuid::now_v7(),
                1,
                FreezeState::Received
            )),
            StatusCode::NOT_FOUND,
        ),
        (
            json!(signed_status(&partner, &me, id, 2, FreezeState::Received)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"nonsense": true}), StatusCode::BAD_REQUEST),
        (json!(received), StatusCode::NO_CONTENT),
        (json!(received), StatusCode::NO_CONTENT),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
    }
    let frozen = signed_status(
        &partner,
        &me,
        id,
        2,
        FreezeState::Frozen {
            amount: Amount {
                minor_units: 1_200_000,
                currency: "EUR".into(),
                decimals: 2,
            },
        },
    );
    assert_eq!(post(json!(frozen)).await.0, StatusCode::NO_CONTENT);
    let (status, held) = h
        .call_on(
            &app,
            Method::GET,
            &format!("/api/exchange/freeze/{id}"),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let states: Vec<&str> = held["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .filter_map(|s| s["status"]["body"]["state"].as_str())
        .collect();
    assert_eq!(states, ["received", "frozen"]);
    let actions: Vec<String> = h.audit().await.into_iter().map(|e| e.0).collect();
    for want in [
        "exchange.freeze_requested",
        "exchange.freeze_status_received",
        "exchange.freeze_status_rejected",
        "exchange.freeze_request_created",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
}

/// The agency id of test key `n` (the partner is key 7).
pub(crate) fn key_id(n: u8) -> AgencyId {
    id_of(&key(n))
}
