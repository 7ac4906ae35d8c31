//! Languages (issue 21, part 4): a subscriber's BCP 47 language at registration and on its own endpoint, shown to
//! dispatchers with their incidents (never to analysts), device feedback in the device's `Accept-Language`, and the
//! console's labels served from the Fluent files. Each endpoint as an attacker would try it: no credentials, the
//! wrong role, malformed and oversized tags, an unknown subscriber.

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Harness, sos};

async fn register(h: &Harness, token: &str, body: Value) -> (StatusCode, Value) {
    h.call(Method::POST, "/api/subscribers", Some(token), Some(body))
        .await
}

pub async fn subscriber_language_is_registered_checked_and_changed(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    // Default: Korean.
    let device = h
        .enrol(
            &admin,
            json!({"name": "Kim Default", "phone": "010-2222-0001"}),
        )
        .await;
    let record = h
        .state
        .store
        .get_subscriber(jikimi_respond::SubscriberId(device.subscriber_id))
        .await
        .unwrap();
    assert_eq!(record.language, "ko");

    // Given, and kept in canonical form; a guardian may have their own.
    let (status, body) = register(
        h,
        &admin,
        json!({"name": "Nguyễn Thị Lan", "phone": "010-2222-0002", "language": "VI-vn",
               "guardians": [{"name": "Trần Văn An", "language": "zh-cn", "channels": []}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sid = jikimi_respond::SubscriberId(Uuid::parse_str(body["id"].as_str().unwrap()).unwrap());
    assert_eq!(
        h.state.store.get_subscriber(sid).await.unwrap().language,
        "vi-VN"
    );

    // Malformed or oversized tags, for the subscriber or a guardian, are refused before anything is written.
    let before = h.audit().await.len();
    for (field, bad) in [
        ("language", json!("not a language")),
        ("language", json!("x".repeat(200))),
        ("language", json!("")),
        ("language", json!(7)),
    ] {
        let mut req = json!({"name": "Bad Tag", "phone": "010-2222-0003"});
        req[field] = bad.clone();
        let (status, body) = register(h, &admin, req).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {body}"
        );
    }
    let (status, body) = register(
        h,
        &admin,
        json!({"name": "Bad Guardian", "phone": "010-2222-0004",
               "guardians": [{"name": "G", "language": "<script>", "channels": []}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field");
    assert_eq!(
        h.audit().await.len(),
        before,
        "a refused registration writes nothing"
    );

    // Changed on its own endpoint: supervisor or admin, with a reason; audited with the tag.
    let path = format!("/api/subscribers/{}/language", sid.0);
    let (status, body) = h
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"language": "th", "reason": "asked at the centre"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["language"], "th");
    assert_eq!(body["caller_language"]["english"], "Thai");
    assert_eq!(body["caller_language"]["native"], "ไทย");
    assert_eq!(
        h.state.store.get_subscriber(sid).await.unwrap().language,
        "th"
    );
    assert!(
        h.audit()
            .await
            .iter()
            .any(
                |(action, reason, _, detail)| action == "subscriber.language_set"
                    && reason == "asked at the centre"
                    && detail.contains("\"th\"")
            )
    );
    // A language the service lacks is still the subscriber's language: kept, and named by its tag.
    let (status, body) = h
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"language": "fr-CA", "reason": "moved"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["caller_language"]["supported"], Value::Null);

    // As an attacker: no credentials, the wrong role, a malformed tag, no reason, an unknown subscriber.
    let body = json!({"language": "vi", "reason": "because"});
    let (status, _) = h.call(Method::PUT, &path, None, Some(body.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for role in [Role::Dispatcher, Role::Analyst] {
        let token = h.login_as(role).await;
        let (status, answer) = h
            .call(Method::PUT, &path, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {answer}");
    }
    let (status, answer) = h
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"language": "en_US!", "reason": "because"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = h
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"language": "vi", "reason": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "reason_required");
    let (status, answer) = h
        .call(
            Method::PUT,
            &format!("/api/subscribers/{}/language", Uuid::new_v4()),
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["error"]["code"], "subscriber_not_found");
    let (status, _) = h
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"language": "vi", "reason": "x", "extra": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

pub async fn incident_shows_the_callers_language_to_dispatchers_only(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let device = h
        .enrol(
            &admin,
            json!({"name": "Nguyễn Thị Lan", "phone": "010-3333-0001", "language": "vi"}),
        )
        .await;
    let (status, accepted) = h.raise(&device, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let path = format!(
        "/api/incidents/{}",
        accepted["incident_id"].as_str().unwrap()
    );

    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, detail) = h.call(Method::GET, &path, Some(&dispatcher), None).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(
        detail["caller_language"],
        json!({"tag": "vi", "supported": "vi", "english": "Vietnamese", "native": "Tiếng Việt"})
    );
    // Analysts see nothing that could stand for nationality.
    let analyst = h.login_as(Role::Analyst).await;
    let (status, detail) = h.call(Method::GET, &path, Some(&analyst), None).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["caller_language"], Value::Null);

    // The revealed details carry the language too.
    let (status, details) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{}/reveal", device.subscriber_id),
            Some(&dispatcher),
            Some(json!({"reason": "calling back", "incident_id": accepted["incident_id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{details}");
    assert_eq!(details["language"], "vi");
}

/// An alert that is not silent (silent is the default): the device may show and say what it is told.
fn loud_sos() -> Value {
    let mut alert = sos(37.5665, 126.978);
    alert["silent"] = json!(false);
    alert
}

pub async fn device_feedback_speaks_the_devices_language(h: &Harness) {
    let device = h.device().await;
    let body = serde_json::to_vec(&loud_sos()).unwrap();
    let mut request = h.alert_request(
        &device,
        &body,
        h.now_s(),
        &Uuid::new_v4().simple().to_string(),
    );
    request.headers_mut().insert(
        "accept-language",
        "vi-VN,vi;q=0.9,en;q=0.8".parse().unwrap(),
    );
    let (status, answer) = h.send(request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let feedback = &answer["feedback"];
    assert_eq!(feedback["language"], "vi");
    assert_eq!(feedback["message"], "Sự trợ giúp đang đến.");
    assert_eq!(feedback["message_en"], "Help is on its way.");
    assert_eq!(feedback["message_ko"], "도움이 가고 있습니다.");

    // A language the service lacks reads English; none asked for, no extra message.
    let mut request = h.alert_request(
        &device,
        &serde_json::to_vec(&loud_sos()).unwrap(),
        h.now_s(),
        &Uuid::new_v4().simple().to_string(),
    );
    request
        .headers_mut()
        .insert("accept-language", "fr-FR".parse().unwrap());
    let (_, answer) = h.send(request).await;
    assert_eq!(answer["feedback"]["language"], "en");
    let (_, answer) = h.raise(&device, loud_sos()).await;
    assert_eq!(answer["feedback"]["message"], Value::Null);
}

pub async fn console_labels_come_from_the_fluent_files(h: &Harness) {
    for (lang, title, callers) in [
        ("en", "jikimi dispatch console", "Caller's language"),
        ("ko", "지킴이 상황실 콘솔", "신고자 언어"),
    ] {
        let (status, body) = h
            .call(
                Method::GET,
                &format!("/api/console/i18n/{lang}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["language"], lang);
        assert_eq!(body["labels"]["title"], title);
        assert_eq!(body["labels"]["callerLanguage"], callers);
        assert_eq!(
            body["labels"]["s_received"],
            if lang == "en" { "received" } else { "접수" }
        );
        assert!(body["labels"]["lang-vi"].is_string());
        assert_eq!(
            body["labels"]["d_trapped"],
            if lang == "en" {
                "trapped"
            } else {
                "매몰·고립"
            }
        );
    }
    // Another of the fourteen, and one the service lacks (English).
    let (_, body) = h
        .call(Method::GET, "/api/console/i18n/vi-VN", None, None)
        .await;
    assert_eq!(body["language"], "vi");
    assert_eq!(body["labels"]["lang-vi"], "Tiếng Việt");
    let (_, body) = h
        .call(Method::GET, "/api/console/i18n/fr", None, None)
        .await;
    assert_eq!(body["language"], "en");
    // Malformed and oversized tags.
    for bad in ["not%20a%20tag", &"x".repeat(300), "%3Cscript%3E"] {
        let (status, body) = h
            .send(
                Request::builder()
                    .uri(format!("/api/console/i18n/{bad}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_field");
    }
}
