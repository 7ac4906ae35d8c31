//! Guardian notifications in the incident detail: queued with the alert, shown per role without personal data;
//! dead letters for supervisors only.

use axum::http::{Method, StatusCode};
use jikimi_server::roles::Role;
use serde_json::json;

use crate::support::{Harness, sos};

pub async fn incident_detail_shows_notification_status_without_personal_data(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let device = h
        .enrol(&admin, json!({"name": "김보호", "phone": "010-5555-0111",
            "guardians": [
                {"name": "김어머니", "language": "ko", "channels": [{"kind": "email", "address": "mother@example.org"}]},
                {"name": "Carer", "language": "en", "channels": [{"kind": "webhook", "address": "http://127.0.0.1:9/hook"}]}]}))
        .await;
    let (status, answer) = h.raise(&device, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let path = format!(
        "/api/incidents/{}",
        answer["incident_id"].as_str().expect("id")
    );

    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, detail) = h.call(Method::GET, &path, Some(&dispatcher), None).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let notifications = detail["notifications"].as_array().expect("notifications");
    assert_eq!(notifications.len(), 2);
    for n in notifications {
        assert_eq!(n["event"], "alert_received");
        assert_eq!(n["status"], "pending");
        assert_eq!(n["attempts"], 0);
        assert!(n["guardian_id"].is_string(), "{n}");
    }
    let ordinals: Vec<_> = notifications
        .iter()
        .map(|n| n["guardian"].clone())
        .collect();
    assert_eq!(ordinals, vec![json!(1), json!(2)]);

    let analyst = h.login_as(Role::Analyst).await;
    let (status, detail) = h.call(Method::GET, &path, Some(&analyst), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = detail["notifications"].to_string();
    assert!(
        detail["notifications"][0]["guardian_id"].is_null(),
        "{text}"
    );
    for secret in ["김어머니", "mother@example.org", "127.0.0.1:9", "Carer"] {
        assert!(!text.contains(secret), "{secret} shown to an analyst");
    }

    // A guardian language that is not a BCP 47 tag is refused before anything is stored (any well-formed tag is
    // kept: the service speaks fourteen languages and reads English, then Korean, for the rest).
    let before = h.n_incidents().await;
    let (status, body) = h
        .call(
            Method::POST,
            "/api/subscribers",
            Some(&admin),
            Some(json!({"name": "X", "phone": "010-5555-0112", "guardians": [{"name": "Y", "language": "not a tag"}]})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
        "{body}"
    );
    assert_eq!(h.n_incidents().await, before);

    let (status, _) = h
        .call(
            Method::GET,
            "/api/notifications/dead-letters",
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let supervisor = h.login_as(Role::Supervisor).await;
    let (status, dead) = h
        .call(
            Method::GET,
            "/api/notifications/dead-letters",
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dead}");
    assert_eq!(dead, json!([]));
}
