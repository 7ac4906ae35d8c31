//! Alert intake: a signed alert opens an incident; every kind of bad request is refused with its code, audited,
//! and opens nothing; retries are idempotent; concurrent alerts share commits.

use axum::http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::support::{BODY_LIMIT, Harness, TestDevice, sos};

/// Checks a refusal: status, code, request id, one `alert.rejected` audit entry with the code, no incident.
async fn assert_refused(
    h: &Harness,
    (status, body): (StatusCode, serde_json::Value),
    want: StatusCode,
    code: &str,
) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert!(
        !body["error"]["request_id"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{body}"
    );
    let rejected: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|(action, ..)| action == "alert.rejected")
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].1, code);
    assert_eq!(h.n_incidents().await, 0);
}

pub async fn signed_alert_creates_incident(h: &Harness) {
    let device = h.device().await;
    let mut live = h.state.live.subscribe(None);
    let (status, body) = h.raise(&device, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["duplicate"], false);
    let incident_id =
        Uuid::parse_str(body["incident_id"].as_str().unwrap_or_default()).expect("incident id");
    // The console's live feed has it (the store told the hub what the commit opened), in both views.
    let event = h
        .live_event(&mut live, "incident", |i| {
            i["id"] == incident_id.to_string()
        })
        .await;
    let full: serde_json::Value = serde_json::from_str(&event.data).expect("full json");
    assert_eq!(full["status"], "received", "{full}");
    assert_eq!(full["device_id"], device.id.to_string(), "{full}");
    let analyst: serde_json::Value = serde_json::from_str(&event.analyst).expect("analyst json");
    assert!(analyst["device_id"].is_null(), "{analyst}");
    assert!(analyst["subscriber_id"].is_null(), "{analyst}");
    let incident = h
        .store
        .get_incident(jikimi_respond::IncidentId(incident_id))
        .await
        .expect("stored");
    assert_eq!(incident.device_id.0, device.id);
    assert_eq!(
        incident.subscriber_id.map(|s| s.0),
        Some(device.subscriber_id)
    );
    assert_eq!(incident.status, jikimi_respond::IncidentStatus::Received);
    assert!(
        h.audit()
            .await
            .iter()
            .any(|(action, ..)| action == "alert.received")
    );
}

pub async fn bad_signature_is_refused_audited_and_opens_nothing(h: &Harness) {
    let device = h.device().await;
    let body = serde_json::to_vec(&sos(37.5, 127.0)).expect("json");
    let mut request = h.alert_request(&device, &body, h.now_s(), "nonce-000000000001");
    // Signed by another key.
    let other = TestDevice {
        id: device.id,
        key: jikimi_server::signing::generate_device_key(),
        subscriber_id: device.subscriber_id,
    };
    let forged = h.alert_request(&other, &body, h.now_s(), "nonce-000000000001");
    request.headers_mut().insert(
        "x-jikimi-signature",
        forged.headers()["x-jikimi-signature"].clone(),
    );
    assert_refused(
        h,
        h.send(request).await,
        StatusCode::UNAUTHORIZED,
        "signature_invalid",
    )
    .await;
}

pub async fn unknown_device_is_refused_audited_and_opens_nothing(h: &Harness) {
    let stranger = TestDevice {
        id: Uuid::new_v4(),
        key: jikimi_server::signing::generate_device_key(),
        subscriber_id: Uuid::nil(),
    };
    let body = serde_json::to_vec(&sos(37.5, 127.0)).expect("json");
    let answer = h
        .send(h.alert_request(&stranger, &body, h.now_s(), "nonce-000000000002"))
        .await;
    assert_refused(h, answer, StatusCode::UNAUTHORIZED, "device_unknown").await;
}

pub async fn replayed_nonce_is_refused_audited_and_opens_nothing(h: &Harness) {
    let device = h.device().await;
    let body = serde_json::to_vec(&sos(37.5, 127.0)).expect("json");
    let (status, first) = h
        .send(h.alert_request(&device, &body, h.now_s(), "nonce-000000000003"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    // The exact same signed request again, and the same nonce with another alert.
    let (status, replay) = h
        .send(h.alert_request(&device, &body, h.now_s(), "nonce-000000000003"))
        .await;
    assert_eq!(
        (status, &replay["error"]["code"]),
        (StatusCode::CONFLICT, &json!("nonce_replayed")),
        "{replay}"
    );
    let other = serde_json::to_vec(&sos(37.6, 127.0)).expect("json");
    let (status, _) = h
        .send(h.alert_request(&device, &other, h.now_s(), "nonce-000000000003"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(h.n_incidents().await, 1);
    // Audited once each, by the store, in the transaction that refused them.
    let rejected: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|(a, ..)| a == "alert.rejected")
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        rejected
            .iter()
            .all(|(.., detail)| detail.contains("nonce_replayed")),
        "{rejected:?}"
    );
}

pub async fn malformed_json_is_refused_audited_and_opens_nothing(h: &Harness) {
    let device = h.device().await;
    let answer = h
        .send(h.alert_request(&device, b"{\"alert_id\": ", h.now_s(), "nonce-000000000004"))
        .await;
    assert_refused(h, answer, StatusCode::BAD_REQUEST, "invalid_payload").await;
}

pub async fn out_of_range_coordinate_is_refused_audited_and_opens_nothing(h: &Harness) {
    let device = h.device().await;
    let answer = h.raise(&device, sos(91.0, 127.0)).await;
    assert_refused(h, answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}

pub async fn oversized_body_is_refused_audited_and_opens_nothing(h: &Harness) {
    let device = h.device().await;
    let mut alert = sos(37.5, 127.0);
    alert["padding"] = json!("x".repeat(BODY_LIMIT + 1));
    let body = serde_json::to_vec(&alert).expect("json");
    let answer = h
        .send(h.alert_request(&device, &body, h.now_s(), "nonce-000000000005"))
        .await;
    assert_refused(
        h,
        answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
}

pub async fn stale_timestamp_is_refused_audited_and_opens_nothing(h: &Harness) {
    let device = h.device().await;
    let body = serde_json::to_vec(&sos(37.5, 127.0)).expect("json");
    let answer = h
        .send(h.alert_request(&device, &body, h.now_s() - 3_600, "nonce-000000000006"))
        .await;
    assert_refused(
        h,
        answer,
        StatusCode::UNAUTHORIZED,
        "timestamp_out_of_window",
    )
    .await;
}

pub async fn missing_headers_are_refused_audited_and_open_nothing(h: &Harness) {
    let device = h.device().await;
    let body = serde_json::to_vec(&sos(37.5, 127.0)).expect("json");
    let mut request = h.alert_request(&device, &body, h.now_s(), "nonce-000000000007");
    request.headers_mut().remove("x-jikimi-signature");
    assert_refused(
        h,
        h.send(request).await,
        StatusCode::BAD_REQUEST,
        "missing_header",
    )
    .await;
}

pub async fn retried_alert_is_not_duplicated(h: &Harness) {
    let device = h.device().await;
    let alert = sos(37.5, 127.0);
    let (status, first) = h.raise(&device, alert.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    h.advance_s(5);
    let (status, retry) = h.raise(&device, alert).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retry}");
    assert_eq!(retry["incident_id"], first["incident_id"]);
    assert_eq!(retry["duplicate"], true);
    assert_eq!(h.n_incidents().await, 1);
}

pub async fn concurrent_alerts_are_group_committed_each_once(h: &Harness) {
    // Forty devices, five alerts each: within every device's alert budget, so each alert opens its own incident.
    let admin = h.login_as(jikimi_server::roles::Role::Admin).await;
    let mut devices = Vec::new();
    for _ in 0..40 {
        devices.push(
            h.enrol(
                &admin,
                serde_json::json!({"name": "Test Person", "phone": "010-1234-5678"}),
            )
            .await,
        );
    }
    let mut pending = Vec::new();
    for i in 0..200 {
        let alert = sos(37.5 + i as f64 * 1e-4, 127.0);
        let body = serde_json::to_vec(&alert).expect("json");
        let request = h.alert_request(
            &devices[i % devices.len()],
            &body,
            h.now_s(),
            &format!("concurrent-nonce-{i:05}"),
        );
        let app = h.app.clone();
        pending.push(tokio::spawn(async move {
            use tower::ServiceExt as _;
            app.oneshot(request).await.map(|r| r.status())
        }));
    }
    for task in pending {
        assert_eq!(
            task.await.expect("task").expect("answer"),
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(h.n_incidents().await, 200);
}
