//! Flood defence (issue 16, items 2 and 9), on both backends: per-source limits answer 429 with `Retry-After` before
//! any database work; made-up device ids are remembered and limited; refusals past a per-source budget become
//! summary audit entries that still count every one; a device past its alert budget joins its open incident; and,
//! over real HTTP, signed alerts all get through a junk flood, stored exactly once, while the junk writes at most 5%
//! as many audit rows as it sent requests.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use jikimi_server::config::Config;
use jikimi_server::roles::Role;
use jikimi_server::signing;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::support::{Backend, GATEWAY_ID, GATEWAY_KEY, Harness, TestDevice, request, sos};

/// An AML payload from a handset at Seoul City Hall (as the AML tests send).
const AML_PAYLOAD: &str = "A\"ML=1;lt=+37.56650;lg=+126.97800;rd=8;top=20260314092653;lc=68;pm=G;si=450050000000000;ei=350000000000014;mcc=450;mnc=05;ml=128";

const ATTACKER: [u8; 4] = [203, 0, 113, 7];
const BYSTANDER: [u8; 4] = [198, 51, 100, 20];

/// `request` as if it came from `ip` over a socket (what `serve` gives every request).
fn from(ip: [u8; 4], mut request: Request<Body>) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    request
}

/// Sends; returns status, `Retry-After` and the error code.
async fn send(h: &Harness, request: Request<Body>) -> (StatusCode, Option<String>, String) {
    use http_body_util::BodyExt as _;
    let response = h
        .app
        .clone()
        .oneshot(request)
        .await
        .expect("router answers");
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (status, retry, code)
}

/// A well-formed alert for a device id nobody registered, signed by a key nobody knows.
fn junk_alert(h: &Harness, device: Uuid) -> Request<Body> {
    let key = signing::generate_device_key();
    let body = serde_json::to_vec(&sos(37.5, 127.0)).expect("json");
    let nonce = Uuid::new_v4().simple().to_string();
    let headers = signing::sign_alert_with_nonce(&key, &device, h.now_s(), &nonce, &body);
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/api/alerts")
        .header("content-type", "application/json");
    for (name, value) in headers.pairs() {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).expect("request")
}

/// Sum of the counts of `{action}.summary` entries plus the individual `action` entries.
fn accounted(audit: &[(String, String, String, String)], action: &str) -> u64 {
    let summary = format!("{action}.summary");
    audit
        .iter()
        .map(|(a, _, _, detail)| {
            if *a == summary {
                serde_json::from_str::<Value>(detail)
                    .ok()
                    .and_then(|d| d["count"].as_u64())
                    .unwrap_or(0)
            } else if a == action {
                1
            } else {
                0
            }
        })
        .sum()
}

async fn flush(h: &Harness) {
    h.state
        .refusals
        .flush(h.store.as_ref(), h.now_s() * 1000)
        .await
        .expect("flush summaries");
}

/// A login flood from one address: past its budget it is answered 429 with `Retry-After` before argon2 and before
/// any database work (no individual audit row: counted in one summary entry); another address still logs in.
pub async fn login_flood_is_limited_per_source(h: &Harness) {
    let token = h.login_as(Role::Admin).await;
    assert!(!token.is_empty());
    let wrong = || {
        request(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "nobody", "password": "guess-guess"})),
        )
    };
    for _ in 0..3 {
        let (status, _, code) = send(h, from(ATTACKER, wrong())).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "login_failed")
        );
    }
    let before = h.audit().await.len();
    for _ in 0..5 {
        let (status, retry, code) = send(h, from(ATTACKER, wrong())).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        let retry: u64 = retry.expect("Retry-After").parse().expect("whole seconds");
        assert!(retry >= 1);
    }
    assert_eq!(
        h.audit().await.len(),
        before,
        "a limited login writes nothing"
    );
    let (status, _, code) = send(h, from(BYSTANDER, wrong())).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "login_failed")
    );

    flush(h).await;
    let audit = h.audit().await;
    assert_eq!(accounted(&audit, "staff.login_limited"), 5, "{audit:?}");
    assert_eq!(accounted(&audit, "staff.login_failed"), 4);
    let summary = audit
        .iter()
        .find(|(a, ..)| a == "staff.login_limited.summary")
        .expect("summary entry");
    assert!(
        !summary.3.contains("203.0.113.7"),
        "the address is pseudonymised"
    );
    jikimi_store::verify_audit(h.store.as_ref())
        .await
        .expect("chain verifies");
}

/// An AML gateway guessing credentials: past its failure budget one address is answered 429 with `Retry-After`
/// before the signature is checked, and the real gateway at another address still delivers. (A documented status
/// that only Schemathesis had answered, by chance.)
pub async fn aml_gateway_failures_are_limited_per_source(h: &Harness) {
    let _registered = h.device().await; // phone 010-1234-5678
    let body = json!({"sender": "010-1234-5678", "payload": AML_PAYLOAD});
    let guess = || h.aml_request(&body, GATEWAY_ID, &[6; 32], h.now_s());
    // The budget's burst is a few failures; past it every guess is refused unchecked.
    let (mut failed, mut limited) = (0, 0);
    for _ in 0..20 {
        let (status, retry, code) = send(h, from(ATTACKER, guess())).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code, "rate_limited");
            let retry: u64 = retry.expect("Retry-After").parse().expect("whole seconds");
            assert!(retry >= 1);
            limited += 1;
        } else {
            assert_eq!(limited, 0, "a guess checked again after the limit: {code}");
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::UNAUTHORIZED, "gateway_unauthenticated")
            );
            failed += 1;
        }
    }
    assert!(
        failed >= 1 && limited >= 10,
        "{failed} checked, {limited} limited"
    );
    let real = h.aml_request(&body, GATEWAY_ID, &GATEWAY_KEY, h.now_s());
    let (status, _, code) = send(h, from(BYSTANDER, real)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{code}");
    flush(h).await;
    assert_eq!(accounted(&h.audit().await, "aml.limited"), limited);
}

/// Made-up device ids: each costs at most one look-up (remembered, bounded), and a source making them up is refused
/// 429 before the look-up once past its failure budget; another source and known devices are not affected.
pub async fn unknown_device_ids_are_remembered_and_limited(h: &Harness) {
    let real = h.device().await;
    let repeated = Uuid::new_v4();
    for _ in 0..3 {
        let (status, _, code) = send(h, from(ATTACKER, junk_alert(h, repeated))).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "device_unknown")
        );
    }
    assert_eq!(
        h.state.devices.absent_len(),
        1,
        "one look-up, then remembered"
    );
    // Burst of 5 failures (1/s), then 429 for this source.
    let mut limited = 0;
    for _ in 0..10 {
        let (status, retry, code) = send(h, from(ATTACKER, junk_alert(h, Uuid::new_v4()))).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code, "rate_limited");
            assert!(retry.is_some());
            limited += 1;
        } else {
            assert_eq!(code, "device_unknown");
        }
    }
    assert!(limited >= 5, "{limited} of 10 made-up ids limited");
    assert!(h.state.devices.absent_len() <= 6);
    // Someone else is not limited, and a real device raises its alert.
    let (status, _, code) = send(h, from(BYSTANDER, junk_alert(h, Uuid::new_v4()))).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "device_unknown")
    );
    let body = serde_json::to_vec(&sos(37.56, 126.97)).expect("json");
    let signed = h.alert_request(
        &real,
        &body,
        h.now_s(),
        &Uuid::new_v4().simple().to_string(),
    );
    let (status, _, _) = send(h, from(BYSTANDER, signed)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // A known (cached) device is never limited, even from the penalised source.
    let body = serde_json::to_vec(&sos(37.56, 126.97)).expect("json");
    let signed = h.alert_request(
        &real,
        &body,
        h.now_s(),
        &Uuid::new_v4().simple().to_string(),
    );
    let (status, _, _) = send(h, from(ATTACKER, signed)).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    flush(h).await;
    let audit = h.audit().await;
    assert_eq!(
        accounted(&audit, "alert.rejected") + accounted(&audit, "alert.limited"),
        14,
        "every refusal is accounted for: {audit:?}"
    );
}

/// A carrier NAT: one address sends made-up device ids until it is refused look-ups; a real phone behind the same
/// address, enrolled before this server started (so not in its device cache), still raises its SOS: the server
/// loads the ids of every enrolled device at start (`serve` does; here by hand). Without that load the same alert
/// would be refused 429 with the junk.
pub async fn a_real_device_behind_a_flooding_address_is_never_refused(h: &Harness) {
    let real = h.device().await;
    // A server started after the enrolment, on the same database: a restart, or another node.
    let restarted = jikimi_server::state::AppState::new(
        h.store.clone(),
        &jikimi_server::config::KeyMaterial::generate(),
        (*h.state.config).clone(),
        h.state.clock.clone(),
    )
    .expect("state");
    let app = jikimi_server::router(restarted.clone());
    let status_of = |request: Request<Body>| {
        let app = app.clone();
        async move { crate::support::send_to(&app, request).await.0 }
    };
    let mut limited = false;
    for _ in 0..20 {
        if status_of(from(ATTACKER, junk_alert(h, Uuid::new_v4()))).await
            == StatusCode::TOO_MANY_REQUESTS
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "the flooding address is refused look-ups");
    let signed = |h: &Harness| {
        let body = serde_json::to_vec(&sos(37.56, 126.97)).expect("json");
        h.alert_request(
            &real,
            &body,
            h.now_s(),
            &Uuid::new_v4().simple().to_string(),
        )
    };
    // The attack as it was: a real id this server has not seen yet is refused with the junk.
    assert_eq!(
        status_of(from(ATTACKER, signed(h))).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let known = restarted.load_known_devices().await.expect("load ids");
    assert!(known >= 1);
    assert_eq!(
        status_of(from(ATTACKER, signed(h))).await,
        StatusCode::ACCEPTED
    );
    // Junk from the same address is still refused before any look-up.
    assert_eq!(
        status_of(from(ATTACKER, junk_alert(h, Uuid::new_v4()))).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Item 9: a device sending 50 valid alerts gets 50 × 202, all for one incident whose report count is 50: past its
/// budget (5 at once) its alerts join its open incident, even far apart, instead of opening more.
pub async fn a_device_past_its_budget_joins_its_open_incident(h: &Harness) {
    let device = h.device().await;
    let mut incidents = std::collections::BTreeSet::new();
    for i in 0..50 {
        // The first five at one place (they cluster), the rest 10 km apart each (they would not).
        let lat = if i < 5 {
            37.5665
        } else {
            33.0 + f64::from(i) * 0.1
        };
        let (status, body) = h.raise(&device, sos(lat, 126.978)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "alert {i}: {body}");
        incidents.insert(body["incident_id"].as_str().expect("incident").to_string());
    }
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let counts = h.store.intake_counts().await.expect("counts");
    assert_eq!((counts.alerts, counts.incidents), (50, 1));
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let id = incidents.first().expect("one");
    let (status, body) = h
        .call(
            Method::GET,
            &format!("/api/incidents/{id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["incident"]["report_count"], 50);
}

/// The CI flood test: while tasks flood a served router over real HTTP with junk alerts (made-up device ids, and
/// bad signatures for a real device), signed alerts from other devices are all accepted (202) and stored exactly
/// once; the junk writes at most 5% as many audit rows as it sent requests, and the chain still counts every one.
pub async fn signed_alerts_get_through_a_junk_flood(h: &Harness) {
    const FLOODERS: usize = 8;
    const MIN_JUNK: usize = 2_000;
    const DEVICES: usize = 8;
    const PER_DEVICE: usize = 5;

    let admin = h.login_as(Role::Admin).await;
    let mut devices = Vec::new();
    for _ in 0..DEVICES {
        devices.push(
            h.enrol(
                &admin,
                json!({"name": "Flood Test", "phone": "010-5555-0000"}),
            )
            .await,
        );
    }
    let victim = Arc::new(
        h.enrol(&admin, json!({"name": "Victim", "phone": "010-5555-0001"}))
            .await,
    );
    let audit_before = h.audit().await.len();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(jikimi_server::serve(listener, h.state.clone(), async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");
    // Junk from one address, real alerts from another (the attacker is not the person in danger).
    let client = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(IpAddr::from(ip))
            .build()
            .expect("client")
    };
    let junk_client = client([127, 0, 0, 1]);
    let real_client = client([127, 0, 0, 2]);

    let sent = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(tokio::sync::Notify::new());
    let mut flooders = Vec::new();
    for task in 0..FLOODERS {
        let (client, base, sent, done, started, victim) = (
            junk_client.clone(),
            base.clone(),
            sent.clone(),
            done.clone(),
            started.clone(),
            victim.clone(),
        );
        let now_s = h.now_s();
        flooders.push(tokio::spawn(async move {
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            let mut mine = 0usize;
            while !(done.load(Ordering::SeqCst) && mine * FLOODERS >= MIN_JUNK) {
                // Half made-up devices, half a real device id with a signature by the wrong key.
                let device = if mine.is_multiple_of(2) {
                    Uuid::new_v4()
                } else {
                    victim.id
                };
                let key = signing::generate_device_key();
                let body = serde_json::to_vec(&sos(37.5, 127.0)).expect("json");
                let nonce = format!("junk{task:02}{mine:012}");
                let headers = signing::sign_alert_with_nonce(&key, &device, now_s, &nonce, &body);
                let mut request = client.post(format!("{base}/api/alerts")).body(body);
                for (name, value) in headers.pairs() {
                    request = request.header(name, value);
                }
                let status = request
                    .send()
                    .await
                    .expect("junk answered")
                    .status()
                    .as_u16();
                *statuses.entry(status).or_default() += 1;
                mine += 1;
                if sent.fetch_add(1, Ordering::SeqCst) + 1 == 200 {
                    started.notify_one();
                }
            }
            statuses
        }));
    }
    // Real alerts start once the flood is under way.
    let flood_on = started.notified();
    if sent.load(Ordering::SeqCst) < 200 {
        flood_on.await;
    }
    let mut real = Vec::new();
    for round in 0..PER_DEVICE {
        for (index, device) in devices.iter().enumerate() {
            real.push(send_signed(h, &real_client, &base, device, (round, index)));
        }
    }
    let answers = futures_util::future::join_all(real).await;
    done.store(true, Ordering::SeqCst);
    let mut junk_statuses = std::collections::BTreeMap::<u16, usize>::new();
    for flooder in flooders {
        for (status, n) in flooder.await.expect("flooder") {
            *junk_statuses.entry(status).or_default() += n;
        }
    }
    drop((junk_client, real_client));
    let _ = stop.send(());
    server.await.expect("server task").expect("server");

    let mut alert_ids = std::collections::BTreeSet::new();
    for (status, device, alert_id) in &answers {
        assert_eq!(*status, StatusCode::ACCEPTED);
        alert_ids.insert(*alert_id);
        h.store
            .alert_incident(
                jikimi_respond::DeviceId(*device),
                jikimi_respond::AlertId(*alert_id),
            )
            .await
            .expect("every accepted alert is stored");
    }
    assert_eq!(alert_ids.len(), DEVICES * PER_DEVICE);
    let junk = sent.load(Ordering::SeqCst);
    assert!(junk >= MIN_JUNK);
    assert!(
        junk_statuses.keys().all(|s| *s == 401 || *s == 429),
        "junk answered only 401/429: {junk_statuses:?}"
    );
    // Stored exactly once each.
    let counts = h.store.intake_counts().await.expect("counts");
    assert_eq!(counts.alerts as usize, DEVICES * PER_DEVICE);
    assert_eq!(counts.incidents as usize, DEVICES * PER_DEVICE);

    let audit = h.audit().await;
    let new_rows = &audit[audit_before..];
    let received = new_rows
        .iter()
        .filter(|(a, ..)| a == "alert.received")
        .count();
    assert_eq!(received, DEVICES * PER_DEVICE);
    let junk_rows = new_rows.len() - received;
    assert!(
        junk_rows * 20 <= junk,
        "junk wrote {junk_rows} audit rows for {junk} requests (more than 5%)"
    );
    // Every junk request is in the chain: individually or counted in a summary.
    let accounted_for =
        accounted(new_rows, "alert.rejected") + accounted(new_rows, "alert.limited");
    assert_eq!(accounted_for as usize, junk, "{junk_statuses:?}");
    jikimi_store::verify_audit(h.store.as_ref())
        .await
        .expect("chain verifies");
}

/// One signed alert over HTTP; returns the status, the device and the alert id it carried.
fn send_signed(
    h: &Harness,
    client: &reqwest::Client,
    base: &str,
    device: &TestDevice,
    (round, index): (usize, usize),
) -> impl std::future::Future<Output = (StatusCode, Uuid, Uuid)> + use<> {
    let alert_id = Uuid::new_v4();
    // Far apart, so nothing clusters: each alert is its own incident.
    let body = serde_json::to_vec(&json!({"alert_id": alert_id, "priority": 1,
        "location": {"lat": 34.0 + round as f64 * 0.5, "lon": 126.0 + index as f64 * 0.05,
                     "accuracy_m": 10.0, "method": "gnss"}}))
    .expect("json");
    let nonce = Uuid::new_v4().simple().to_string();
    let headers = signing::sign_alert_with_nonce(&device.key, &device.id, h.now_s(), &nonce, &body);
    let device_id = device.id;
    let mut request = client.post(format!("{base}/api/alerts")).body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    async move {
        let status = request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            device_id,
            alert_id,
        )
    }
}

fn tweak(config: &mut Config) {
    // Surge clustering on (the production default), so a device's first alerts at one place share an incident.
    config.surge = jikimi_respond::SurgeConfig::DEFAULT;
    config.flood.login_per_min = 3;
    config.flood.device_lookups_per_s = 1;
    config.flood.aml_failures_per_min = 3;
}

macro_rules! flood_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let h = Harness::with_config(Backend::Sqlite, tweak).await;
                    super::$name(&h).await;
                    h.finish().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let h = Harness::with_config(Backend::Postgres, tweak).await;
                    super::$name(&h).await;
                    h.finish().await;
                }
            }
        )*
    };
}

flood_tests!(
    login_flood_is_limited_per_source,
    aml_gateway_failures_are_limited_per_source,
    unknown_device_ids_are_remembered_and_limited,
    a_real_device_behind_a_flooding_address_is_never_refused,
    a_device_past_its_budget_joins_its_open_incident,
    signed_alerts_get_through_a_junk_flood,
);
