//! Every documented error status is answered (issue 16: "every documented error code reachable"): the statuses
//! Schemathesis cannot reach on its own (a declared oversize body, cooperation off or without an agency, a partner's
//! signed envelope, a per-source limit, a particular stored state). The sweeps read the served OpenAPI document, so
//! an operation added later is covered by them, or fails here until it says how to call it.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{AgencyId, Agreement, CaseCategory, Content, FieldClass};
use jikimi_exchange::marking::{Marking, Tlp};
use jikimi_exchange::protocol::{Notify, Page, PullRequest, Receipt, Signed};
use jikimi_server::roles::Role;
use jikimi_server::signing;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{BODY_LIMIT, Harness, send_to};

/// One operation of the served document.
struct Operation {
    method: Method,
    template: String,
    /// Its documented 4xx statuses.
    statuses: Vec<String>,
    tags: Vec<String>,
    has_body: bool,
}

impl Operation {
    fn documents(&self, status: &str) -> bool {
        self.statuses.iter().any(|s| s == status)
    }

    fn tagged(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// The served document's operations.
async fn operations(h: &Harness) -> Vec<Operation> {
    let (status, doc) = h.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let statuses = op["responses"]
                .as_object()
                .map(|r| r.keys().filter(|s| s.starts_with('4')).cloned().collect())
                .unwrap_or_default();
            let tags = op["tags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            ops.push(Operation {
                method,
                template: path.clone(),
                statuses,
                tags,
                has_body: op.get("requestBody").is_some(),
            });
        }
    }
    ops
}

/// A concrete path for a template: every `{param}` becomes an id nobody has.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(&Uuid::new_v4().to_string());
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn agency_id(key: &SigningKey) -> AgencyId {
    AgencyId::from_key(&key.verifying_key())
}

fn content() -> Content {
    Content {
        title: "test case".into(),
        summary: None,
        entities: Vec::new(),
        events: Vec::new(),
        attachments: Vec::new(),
    }
}

/// A valid agreement between `parties`.
fn agreement(parties: &[&AgencyId]) -> Agreement {
    let now = Utc::now();
    Agreement {
        id: Uuid::new_v4(),
        title: "test agreement".into(),
        parties: parties.iter().map(|p| (*p).clone()).collect(),
        categories: [CaseCategory::Scam].into_iter().collect(),
        fields: [FieldClass::Summary].into_iter().collect(),
        max_tlp: Tlp::Amber,
        floor: Marking::default(),
        purpose: "investigating scams".into(),
        valid_from: now - chrono::Duration::days(1),
        expires_at: now + chrono::Duration::days(365),
        onward_sharing: false,
        revoked_at: None,
        freeze: None,
    }
}

fn pull(requester: &SigningKey, responder: &AgencyId, issued_at: chrono::DateTime<Utc>) -> Value {
    let request = PullRequest {
        requester: agency_id(requester),
        responder: responder.clone(),
        cursor: 0,
        limit: 10,
        issued_at,
        nonce: Uuid::new_v4(),
    };
    json!(Signed::sign(request, requester).expect("sign"))
}

fn receipt(receiver: &SigningKey, sender: &AgencyId) -> Value {
    let receipt = Receipt {
        id: Uuid::new_v4(),
        receiver: agency_id(receiver),
        sender: sender.clone(),
        issued_at: Utc::now(),
        items: Vec::new(),
    };
    json!(Signed::sign(receipt, receiver).expect("sign"))
}

fn notify(sender: &SigningKey, recipient: &AgencyId) -> Value {
    let notify = Notify {
        sender: agency_id(sender),
        recipient: recipient.clone(),
        head: 0,
        issued_at: Utc::now(),
        nonce: Uuid::new_v4(),
    };
    json!(Signed::sign(notify, sender).expect("sign"))
}

/// `message` signed by someone else than it says: the signature does not verify.
fn forged(mut signed: Value, by: &SigningKey) -> Value {
    let other = json!(Signed::sign(signed["body"].clone(), by).expect("sign"));
    signed["signature"] = other["signature"].clone();
    signed
}

fn empty_page() -> Value {
    json!(Page {
        envelopes: Vec::new(),
        next_cursor: 0,
        more: false
    })
}

/// A body the operation accepts (so what it answers is decided past the body's parsing), or `None` for an operation
/// without one. An operation with a body not listed here fails the sweeps that need it: add it.
fn valid_body(method: &Method, template: &str) -> Option<Value> {
    let partner = key(7);
    let me = agency_id(&key(8));
    match (method.as_str(), template) {
        ("POST", "/api/exchange/agency") => Some(json!({"name": "Test Agency", "country": "kr"})),
        ("POST", "/api/exchange/peers") => {
            Some(json!({"id": agency_id(&partner), "name": "partner"}))
        }
        ("POST", "/api/exchange/agreements") => {
            Some(json!(agreement(&[&me, &agency_id(&partner)])))
        }
        ("POST", "/api/exchange/cases") => Some(json!({"category": "scam", "content": content()})),
        ("POST", "/api/exchange/cases/{id}/leads") => Some(json!({"content": content()})),
        ("POST", "/api/exchange/records/{id}/withdraw") => {
            Some(json!({"reason": "entered in error"}))
        }
        ("POST", "/api/exchange/records/{id}/restrict") => {
            Some(json!({"remove_fields": ["summary"], "marking": Marking::default()}))
        }
        ("POST", "/federation/v1/pull") => Some(pull(&partner, &me, Utc::now())),
        ("POST", "/federation/v1/deliver") => Some(empty_page()),
        ("POST", "/federation/v1/receipts") => Some(receipt(&partner, &me)),
        ("POST", "/federation/v1/notify") => Some(notify(&partner, &me)),
        ("POST", "/api/exchange/freeze") => Some(crate::freeze::new_request_body(Uuid::new_v4())),
        ("POST", "/api/exchange/freeze/{id}/status") => {
            Some(json!({"state": "refused", "reason": "no such account"}))
        }
        ("POST", "/federation/v1/freeze/requests") => Some(json!(crate::freeze::signed_request(
            &partner,
            &me,
            Uuid::new_v4(),
            |_| {}
        ))),
        ("POST", "/federation/v1/freeze/statuses") => Some(json!(crate::freeze::signed_status(
            &partner,
            &me,
            Uuid::new_v4(),
            1,
            jikimi_exchange::freeze::FreezeState::Received
        ))),
        ("POST", "/federation/v1/banks/deliver") => Some(crate::bank_sharing::delivery(
            &partner,
            &me,
            crate::bank_sharing::offer(&partner, &me, Uuid::new_v4(), Uuid::new_v4()),
        )),
        ("POST", "/federation/v1/operations/batches") => Some(json!(
            Signed::sign(
                jikimi_exchange::operation::OpBatch {
                    protocol: jikimi_exchange::protocol::PROTOCOL.into(),
                    sender: agency_id(&partner),
                    recipient: me.clone(),
                    at: Utc::now(),
                    events: Vec::new(),
                },
                &partner,
            )
            .expect("sign")
        )),
        ("POST", "/federation/v1/operations/events") => Some(json!(crate::operations::signed(
            &partner,
            Uuid::new_v4(),
            1,
            jikimi_exchange::operation::Change::Join {
                legal_basis: "own law".into(),
            },
            std::collections::BTreeMap::new(),
            jikimi_exchange::marking::HandlingCode::H0,
        ))),
        _ => None,
    }
}

/// A request for `template` with an optional bearer token and JSON body.
fn request_for(
    method: &Method,
    template: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    crate::support::request(method.clone(), &concrete(template), token, body)
}

/// `request` as if it came from `ip` (the per-source limits key on the peer address).
fn from(ip: [u8; 4], mut request: Request<Body>) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    request
}

/// 413: a body declared larger than the limit is refused before anything else (no session, signature or limiter),
/// on every operation that documents it, with or without cooperation.
pub async fn declared_oversize_bodies_are_refused_everywhere(h: &Harness) {
    let cooperating = h.cooperating().await;
    let mut seen = 0;
    for Operation {
        method, template, ..
    } in operations(h)
        .await
        .into_iter()
        .filter(|op| op.documents("413"))
    {
        // A transfer-set upload is a file with its own, larger limit.
        let limit = if template == "/api/funds/cases/{case_id}/sets" {
            jikimi_server::funds::UPLOAD_LIMIT_BYTES
        } else if jikimi_server::identify::is_upload(&method, &concrete(&template)) {
            // A photo or video upload (identify) has its own limit too.
            jikimi_server::identify::IdentifyConfig::default().upload_limit_bytes
        } else {
            BODY_LIMIT
        };
        for app in [&h.app, &cooperating] {
            let oversize = format!("{{\"x\":\"{}\"}}", "a".repeat(limit));
            let request = Request::builder()
                .method(method.clone())
                .uri(concrete(&template))
                .header("content-type", "application/json")
                .header("content-length", oversize.len().to_string())
                .body(Body::from(oversize))
                .expect("request");
            let (status, body) = send_to(app, request).await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                "{method} {template}: {body}"
            );
        }
        seen += 1;
    }
    assert!(seen > 30, "only {seen} operations document 413");
}

/// 404 `not_enabled`: every cooperation operation (staff's `/api/exchange/*` and partners' `/federation/v1/*`) on a
/// server that does not cooperate, to a caller who may otherwise use it, with a valid body.
pub async fn cooperation_is_not_enabled_when_off(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let mut seen = 0;
    for op in operations(h).await {
        if !op.tagged("exchange") && !op.tagged("federation") {
            continue;
        }
        let Operation {
            method, template, ..
        } = &op;
        assert!(
            op.documents("404"),
            "{method} {template} documents no 404 not_enabled"
        );
        let body = valid_body(method, template);
        assert!(
            body.is_some() || !op.has_body,
            "{method} {template}: add a valid body to `valid_body`"
        );
        // Freeze requests are the analysts' and supervisors' (least privilege: not the admin's).
        let token = if template.starts_with("/api/exchange/freeze") {
            &supervisor
        } else {
            &admin
        };
        let (status, answer) =
            send_to(&h.app, request_for(method, template, Some(token), body)).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, "not_enabled"),
            "{method} {template}: {answer}"
        );
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} cooperation operations");
}

/// 403: staff whose role lacks cooperation (a dispatcher) are refused every staff cooperation operation that
/// documents 403, with a valid body, whether or not the server cooperates.
pub async fn roles_without_cooperation_are_forbidden(h: &Harness) {
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let cooperating = h.cooperating().await;
    for Operation {
        method, template, ..
    } in operations(h)
        .await
        .into_iter()
        .filter(|op| op.tagged("exchange") && op.documents("403"))
    {
        for app in [&h.app, &cooperating] {
            let body = valid_body(&method, &template);
            let (status, answer) = send_to(
                app,
                request_for(&method, &template, Some(&dispatcher), body),
            )
            .await;
            assert_eq!(
                (status, code(&answer)),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{method} {template}: {answer}"
            );
        }
    }
}

/// 429 on every federation operation: the per-source limit runs before any envelope is read, on a server that
/// cooperates and on one that does not (whose answer is otherwise `not_enabled`).
pub async fn federation_is_limited_per_source(h: &Harness) {
    let h = Harness::with_config(h.backend, |c| c.flood.federation_per_min = 1).await;
    let cooperating = h.cooperating().await;
    let mut source = 0u8;
    for op in operations(&h)
        .await
        .into_iter()
        .filter(|op| op.tagged("federation"))
    {
        assert!(
            op.documents("429"),
            "{} {} documents no 429",
            op.method,
            op.template
        );
        let Operation {
            method, template, ..
        } = op;
        for (app, first) in [
            (&h.app, StatusCode::NOT_FOUND),
            (&cooperating, StatusCode::CONFLICT),
        ] {
            source += 1;
            let ip = [198, 51, 100, source];
            let body = valid_body(&method, &template);
            let (status, answer) = send_to(
                app,
                from(ip, request_for(&method, &template, None, body.clone())),
            )
            .await;
            assert_eq!(status, first, "{method} {template}: {answer}");
            let (status, answer) =
                send_to(app, from(ip, request_for(&method, &template, None, body))).await;
            assert_eq!(
                (status, code(&answer)),
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
                "{method} {template}: {answer}"
            );
        }
    }
    assert!(source >= 10, "federation operations: {}", source / 2);
    h.finish().await;
}

/// Cooperation on, no agency identity yet: 409 `agency_not_initialised` wherever the node is needed; then, with an
/// agency and a pinned partner, what partners' messages meet: 401 for a bad signature or a stale clock, 403 for an
/// unknown sender, 409 for a replayed pull, 422 for an empty page, and 422 for staff's malformed records.
pub async fn federation_refuses_what_it_cannot_trust(h: &Harness) {
    let app = h.cooperating().await;
    let admin = h.login_as(Role::Admin).await;
    let partner = key(7);
    let stranger = key(9);
    let nobody = agency_id(&key(8));

    for (method, path, body) in [
        (Method::GET, "/api/exchange/agency", None),
        (Method::GET, "/federation/v1/agency", None),
        (
            Method::POST,
            "/federation/v1/pull",
            Some(pull(&partner, &nobody, Utc::now())),
        ),
        (Method::POST, "/federation/v1/deliver", Some(empty_page())),
        (
            Method::POST,
            "/federation/v1/receipts",
            Some(receipt(&partner, &nobody)),
        ),
        (
            Method::POST,
            "/federation/v1/notify",
            Some(notify(&partner, &nobody)),
        ),
    ] {
        let (status, answer) = h
            .call_on(&app, method.clone(), path, Some(&admin), body)
            .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, "agency_not_initialised"),
            "{method} {path}: {answer}"
        );
    }

    let (status, agency) = h
        .call_on(
            &app,
            Method::POST,
            "/api/exchange/agency",
            Some(&admin),
            valid_body(&Method::POST, "/api/exchange/agency"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agency}");
    let me = AgencyId::parse(agency["id"].as_str().expect("agency id")).expect("agency id");
    let (status, answer) = h
        .call_on(
            &app,
            Method::POST,
            "/api/exchange/peers",
            Some(&admin),
            Some(json!({"id": agency_id(&partner), "name": "partner"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let stale = Utc::now() - chrono::Duration::hours(1);
    let refused = [
        (
            "/federation/v1/pull",
            forged(pull(&partner, &me, Utc::now()), &stranger),
            StatusCode::UNAUTHORIZED,
            "signature_invalid",
        ),
        (
            "/federation/v1/pull",
            pull(&partner, &me, stale),
            StatusCode::UNAUTHORIZED,
            "timestamp_out_of_window",
        ),
        (
            "/federation/v1/pull",
            pull(&stranger, &me, Utc::now()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "/federation/v1/pull",
            pull(&partner, &nobody, Utc::now()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "/federation/v1/receipts",
            forged(receipt(&partner, &me), &stranger),
            StatusCode::UNAUTHORIZED,
            "signature_invalid",
        ),
        (
            "/federation/v1/receipts",
            receipt(&stranger, &me),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "/federation/v1/notify",
            forged(notify(&partner, &me), &stranger),
            StatusCode::UNAUTHORIZED,
            "signature_invalid",
        ),
        (
            "/federation/v1/notify",
            notify(&stranger, &me),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "/federation/v1/notify",
            notify(&partner, &nobody),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "/federation/v1/deliver",
            empty_page(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ];
    for (path, body, expected, expected_code) in refused {
        let (status, answer) = h.call_on(&app, Method::POST, path, None, Some(body)).await;
        assert_eq!(
            (status, code(&answer)),
            (expected, expected_code),
            "{path}: {answer}"
        );
    }

    // The same signed pull twice: served once, then its nonce is spent.
    let once = pull(&partner, &me, Utc::now());
    let (status, answer) = h
        .call_on(
            &app,
            Method::POST,
            "/federation/v1/pull",
            None,
            Some(once.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = h
        .call_on(&app, Method::POST, "/federation/v1/pull", None, Some(once))
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::CONFLICT, "nonce_replayed"),
        "{answer}"
    );

    // Staff: an agreement this node is not a party to, and a case without a category.
    let third = agency_id(&key(10));
    for (path, body) in [
        (
            "/api/exchange/agreements",
            json!(agreement(&[&agency_id(&partner), &third])),
        ),
        ("/api/exchange/cases", json!({"content": content()})),
    ] {
        let (status, answer) = h
            .call_on(&app, Method::POST, path, Some(&admin), Some(body))
            .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{path}: {answer}"
        );
    }
}

/// The rest, each from the stored state that decides it: unknown ids (404), a taken username (409), no session
/// (401), a malformed query string (400), and a cancel for an incident that is not there (404).
pub async fn unknown_ids_taken_names_and_missing_sessions(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let analyst = h.login_as(Role::Analyst).await;

    let (status, body) = h
        .call(
            Method::POST,
            "/api/units/NOPE-1/status",
            Some(&dispatcher),
            Some(json!({"status": "available"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "unit_not_found"),
        "{body}"
    );

    let (status, body) = h
        .call(
            Method::POST,
            "/api/subscribers/search",
            Some(&dispatcher),
            Some(json!({"phone": "010-1234-5678", "reason": "caller asked", "incident_id": Uuid::new_v4()})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "incident_not_found"),
        "{body}"
    );

    let staff =
        json!({"username": "twice", "password": "correct horse battery", "role": "dispatcher"});
    let (status, body) = h
        .call(
            Method::POST,
            "/api/staff",
            Some(&admin),
            Some(staff.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = h
        .call(Method::POST, "/api/staff", Some(&admin), Some(staff))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );

    for (method, path) in [
        (Method::POST, "/api/auth/logout"),
        (Method::GET, "/api/live"),
    ] {
        let (status, body) = h.call(method, path, None, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{path}: {body}"
        );
    }

    // A query parameter given twice is not one value.
    for (path, token) in [
        ("/api/live?after=1-1&after=1-2", &dispatcher),
        (
            "/api/linkage/links?status=proposed&status=confirmed",
            &analyst,
        ),
    ] {
        let (status, body) = h.call(Method::GET, path, Some(token), None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_payload"),
            "{path}: {body}"
        );
    }

    // A device's signed cancel for an incident that does not exist (or is not its own).
    let device = h.device().await;
    let id = Uuid::new_v4();
    let (status, body) = h
        .signed(
            &device,
            &format!("/api/alerts/{id}/cancel"),
            &signing::cancel_context(&id),
            &json!({"pin": "1234"}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "incident_not_found"),
        "{body}"
    );
}

/// 429 on a cancel: a source making up device ids is refused look-ups once past its failure budget.
pub async fn made_up_devices_cancelling_are_limited(h: &Harness) {
    let h = Harness::with_config(h.backend, |c| c.flood.device_lookups_per_s = 1).await;
    let id = Uuid::new_v4();
    let mut answers = Vec::new();
    for _ in 0..10 {
        let body = serde_json::to_vec(&json!({"pin": "1234"})).expect("json");
        let headers = signing::sign_in(
            &signing::cancel_context(&id),
            &signing::generate_device_key(),
            &Uuid::new_v4(),
            h.now_s(),
            &Uuid::new_v4().simple().to_string(),
            &body,
        );
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/alerts/{id}/cancel"))
            .header("content-type", "application/json");
        for (name, value) in headers.pairs() {
            builder = builder.header(name, value);
        }
        let request = from(
            [203, 0, 113, 9],
            builder.body(Body::from(body)).expect("request"),
        );
        let (status, body) = send_to(&h.app, request).await;
        answers.push((status, code(&body).to_owned()));
    }
    assert!(
        answers.iter().all(
            |(s, c)| (*s == StatusCode::UNAUTHORIZED && c == "device_unknown")
                || (*s == StatusCode::TOO_MANY_REQUESTS && c == "rate_limited")
        ),
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS),
        "never limited: {answers:?}"
    );
    h.finish().await;
}

/// Statuses that depend on stored state, which Schemathesis meets only by chance: staff actions on an incident that
/// does not exist answer 404, on a closed one 409; a unit, or a subscriber to export or erase, that does not exist
/// answers 404; an agency identity made twice answers 409.
pub async fn state_dependent_refusals(h: &Harness) {
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let actions = [
        ("acknowledge", json!({})),
        ("recommend", json!({})),
        ("dispatch", json!({"unit": "P-1"})),
        ("en-route", json!({})),
        ("on-scene", json!({})),
        ("notes", json!({"text": "on the way"})),
        ("close", json!({"outcome": "rescue"})),
    ];
    let unknown = Uuid::new_v4();
    for (action, body) in &actions {
        let path = format!("/api/incidents/{unknown}/{action}");
        let (status, answer) = h
            .call(Method::POST, &path, Some(&dispatcher), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {answer}");
    }

    let device = h.device().await;
    let (status, raised) = h.raise(&device, crate::support::sos(37.56, 126.97)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{raised}");
    let id = raised["incident_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, answer) = h
        .call(
            Method::POST,
            &format!("/api/incidents/{id}/close"),
            Some(&dispatcher),
            Some(json!({"outcome": "rescue"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for (action, body) in [
        ("close", json!({"outcome": "rescue"})),
        ("notes", json!({"text": "too late"})),
        ("recommend", json!({})),
    ] {
        let path = format!("/api/incidents/{id}/{action}");
        let (status, answer) = h
            .call(Method::POST, &path, Some(&dispatcher), Some(body))
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{action} on a closed incident: {answer}"
        );
    }

    let (status, answer) = h
        .call(
            Method::POST,
            "/api/units/NOPE-1/position",
            Some(&dispatcher),
            Some(json!({"lat": 37.56, "lon": 126.97})),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "unit_not_found"),
        "{answer}"
    );
    for action in ["export", "erase"] {
        let path = format!("/api/subscribers/{}/{action}", Uuid::new_v4());
        let (status, answer) = h
            .call(
                Method::POST,
                &path,
                Some(&supervisor),
                Some(json!({"reason": "subject access request 42"})),
            )
            .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, "subscriber_not_found"),
            "{action}: {answer}"
        );
    }
}

/// `jikimi federation serve` (the partner port served alone) has the per-source federation limit of `jikimi serve`:
/// past its budget one address is answered 429 before any envelope is read, while another is not.
pub async fn partner_port_is_limited_per_source(h: &Harness) {
    let store = jikimi_store::connect_with_keyring(
        &h.database_url(),
        jikimi_store::testing::test_keyring(),
    )
    .await
    .expect("reopen with the data keys");
    let service = std::sync::Arc::new(jikimi_federation::Federation::new(
        store,
        jikimi_federation::DEFAULT_PAGE,
        jikimi_federation::Transport::default(),
    ));
    let flood = jikimi_server::flood::FloodConfig {
        federation_per_min: 1,
        ..Default::default()
    };
    let app = crate::support::recorded(jikimi_server::federation::app_with(
        service, BODY_LIMIT, &flood,
    ));
    let agency = |ip: [u8; 4]| {
        from(
            ip,
            request_for(&Method::GET, "/federation/v1/agency", None, None),
        )
    };
    // No agency identity yet: 409, then the same address is limited.
    let (status, body) = send_to(&app, agency([203, 0, 113, 9])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = send_to(&app, agency([203, 0, 113, 9])).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        "{body}"
    );
    let (status, body) = send_to(&app, agency([198, 51, 100, 1])).await;
    assert_eq!(status, StatusCode::CONFLICT, "another address: {body}");
    // The health check is not a federation request.
    let (status, _) = send_to(&app, request_for(&Method::GET, "/healthz", None, None)).await;
    assert_eq!(status, StatusCode::OK);
}

/// Two documented refusals no sweep reaches: 403 for a role without the permission, before the work (an analyst
/// closing an incident), and 404 `not_enabled` for the joint operations list on a server that does not cooperate.
pub async fn wrong_role_and_cooperation_off_answer_before_the_work(h: &Harness) {
    let analyst = h.login_as(Role::Analyst).await;
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/api/incidents/{}/close", Uuid::new_v4()),
            Some(&analyst),
            Some(json!({"outcome": "rescue"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{body}"
    );
    let supervisor = h.login_as(Role::Supervisor).await;
    let (status, body) = h
        .call(Method::GET, "/api/operations", Some(&supervisor), None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "not_enabled"),
        "{body}"
    );
}
