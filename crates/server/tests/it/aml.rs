//! AML intake (`POST /api/intake/aml`): a valid payload from a registered number opens an incident with the
//! handset's location fix; a re-delivered payload is a duplicate; unknown numbers and malformed payloads are
//! refused, audited, and open nothing; so is anything not signed by a configured operator gateway.

use axum::http::{Method, StatusCode};
use jikimi_respond::{FixMethod, IncidentId};
use serde_json::json;
use uuid::Uuid;

use crate::support::{GATEWAY_ID, GATEWAY_KEY, Harness};

const SEOUL_CITY_HALL: &str = "A\"ML=1;lt=+37.56650;lg=+126.97800;rd=8;top=20260314092653;lc=68;pm=G;si=450050000000000;ei=350000000000014;mcc=450;mnc=05;ml=128";

async fn post_aml(h: &Harness, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    h.send(h.aml_request(&body, GATEWAY_ID, &GATEWAY_KEY, h.now_s()))
        .await
}

fn rejected(audit: &[(String, String, String, String)]) -> Vec<String> {
    audit
        .iter()
        .filter(|(action, ..)| action == "aml.rejected")
        .map(|(_, reason, ..)| reason.clone())
        .collect()
}

pub async fn aml_from_registered_number_opens_incident_with_fix(h: &Harness) {
    let device = h.device().await; // registered with phone 010-1234-5678
    let mut live = h.state.live.subscribe(None);
    let (status, body) = post_aml(
        h,
        json!({"sender": "+82 10-1234-5678", "payload": SEOUL_CITY_HALL}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["duplicate"], false);
    let id =
        Uuid::parse_str(body["incident_id"].as_str().unwrap_or_default()).expect("incident id");
    // The dispatcher's console sees it at once.
    let dto = h.live_incident(&mut live, &id.to_string()).await;
    assert_eq!(dto["status"], "received", "{dto}");
    let incident = h.store.get_incident(IncidentId(id)).await.expect("stored");
    assert_eq!(
        incident.subscriber_id.map(|s| s.0),
        Some(device.subscriber_id)
    );
    let events = h.store.load_events(IncidentId(id)).await.expect("events");
    let fix = match &events[0].kind {
        jikimi_respond::EventKind::AlertReceived { fix, .. } => fix.expect("fix"),
        other => panic!("first event {other:?}"),
    };
    assert_eq!((fix.coords.lat(), fix.coords.lon()), (37.5665, 126.978));
    assert_eq!(fix.accuracy_m, 8.0);
    assert_eq!(fix.method, FixMethod::Gnss);
    // 2026-03-14T09:26:53Z
    assert_eq!(fix.at.as_unix_ms(), 1_773_480_413_000);

    // The gateway re-delivers the same SMS: same incident, no second one.
    let (status, again) = post_aml(
        h,
        json!({"sender": "010-1234-5678", "payload": SEOUL_CITY_HALL}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["incident_id"], body["incident_id"]);
    assert_eq!(h.n_incidents().await, 1);

    // The HTTPS form transport, number taken from device_number.
    let form = "v=3&location_latitude=37.4979&location_longitude=127.0276&location_accuracy=25\
                &location_time=1773480413000&location_source=wifi&device_number=%2B821012345678";
    let (status, body) = post_aml(h, json!({"transport": "https", "payload": form})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(h.n_incidents().await, 2);
}

pub async fn aml_from_unknown_number_is_refused_and_audited(h: &Harness) {
    let _registered = h.device().await;
    let (status, body) = post_aml(
        h,
        json!({"sender": "+82 10-9999-0000", "payload": SEOUL_CITY_HALL}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "device_unknown");
    assert_eq!(h.n_incidents().await, 0);
    let audit = h.audit().await;
    assert_eq!(rejected(&audit), vec!["device_unknown".to_string()]);
    // Nothing identifying reaches the audit log.
    let all = format!("{audit:?}");
    assert!(
        !all.contains("9999") && !all.contains("450050000000000"),
        "{all}"
    );
}

pub async fn malformed_aml_is_refused_and_audited(h: &Harness) {
    let _registered = h.device().await;
    let truncated = &SEOUL_CITY_HALL[..120]; // cut after "mnc=0", as in cases.json
    let (status, body) =
        post_aml(h, json!({"sender": "010-1234-5678", "payload": truncated})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Truncated"),
        "{body}"
    );
    let (status, body) = post_aml(h, json!({"sender": 5})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(h.n_incidents().await, 0);
    assert_eq!(
        rejected(&h.audit().await),
        vec!["invalid_field".to_string(), "invalid_payload".to_string()]
    );
}

pub async fn aml_without_gateway_credential_is_refused_and_audited(h: &Harness) {
    let _registered = h.device().await;
    let body = json!({"sender": "010-1234-5678", "payload": SEOUL_CITY_HALL});
    // No credential at all.
    let (status, answer) = h
        .call(Method::POST, "/api/intake/aml", None, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["error"]["code"], "gateway_unauthenticated");
    // An unknown gateway, a wrong key, a stale timestamp.
    for request in [
        h.aml_request(&body, "other-gw", &GATEWAY_KEY, h.now_s()),
        h.aml_request(&body, GATEWAY_ID, &[6; 32], h.now_s()),
        h.aml_request(&body, GATEWAY_ID, &GATEWAY_KEY, h.now_s() - 3_600),
    ] {
        let (status, answer) = h.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(answer["error"]["code"], "gateway_unauthenticated");
    }
    // A body changed after signing.
    let mut request = h.aml_request(&body, GATEWAY_ID, &GATEWAY_KEY, h.now_s());
    *request.body_mut() = axum::body::Body::from(
        serde_json::to_vec(
            &json!({"sender": "010-1234-5678", "payload": SEOUL_CITY_HALL, "transport": "sms"}),
        )
        .unwrap_or_default(),
    );
    let (status, _) = h.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.n_incidents().await, 0);
    assert_eq!(
        rejected(&h.audit().await),
        vec!["gateway_unauthenticated".to_string(); 5]
    );
    // The right credential still works.
    let (status, answer) = post_aml(h, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}
