//! Rescue teams and the guardians of people in a disaster (issue 20, parts 5 and 2) through the API, on both
//! backends: unit types and capabilities are saved, listed and refused when malformed; recommendations offer only
//! units of the needed kind, say so when there is none and list the others apart; an unsuitable dispatch needs an
//! override, audited; a welfare answer decides an incident's need; guardians are told once when their person is
//! asked, answers or stays silent. Every new or changed endpoint is tried as an attacker.

use axum::http::{Method, StatusCode};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{BODY_LIMIT, Harness, sos};

async fn put_unit(h: &Harness, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    h.call(
        Method::PUT,
        &format!("/api/units/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

/// Whether the audit log has an entry `action` about `subject`.
async fn audited(h: &Harness, action: &str, subject: &str) -> bool {
    h.store
        .list_audit(0, 10_000)
        .await
        .expect("audit")
        .iter()
        .any(|e| e.action == action && e.subject == subject)
}

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

/// Saves the fleet of the recommendation tests, all near Seoul City Hall.
async fn fleet(h: &Harness, supervisor: &str) {
    for (id, lat, unit_type, capabilities) in [
        ("P-1", 37.5666, "police", json!([])),
        ("R-1", 37.60, "rescue", json!(["heavy_rescue"])),
        ("R-2", 37.567, "rescue", json!(["water_rescue"])),
        ("M-1", 37.58, "medical", json!(["medical_advanced"])),
    ] {
        let (status, body) = put_unit(
            h,
            supervisor,
            id,
            json!({"status": "available", "position": {"lat": lat, "lon": 126.978},
                   "unit_type": unit_type, "capabilities": capabilities}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Unit types and capabilities are saved, answered and listed (live feed included); old-style saves are police;
/// malformed ones are refused before anything is stored.
pub async fn unit_types_are_saved_listed_and_refused_when_malformed(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, unit) = put_unit(
        h,
        &supervisor,
        "R-9",
        json!({"status": "available", "unit_type": "rescue", "capabilities": ["water_rescue", "heavy_rescue"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{unit}");
    assert_eq!(unit["unit_type"], "rescue");
    assert_eq!(
        unit["capabilities"],
        json!(["heavy_rescue", "water_rescue"])
    );
    let (status, unit) = put_unit(h, &supervisor, "P-9", json!({"status": "available"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (unit["unit_type"].clone(), unit["capabilities"].clone()),
        (json!("police"), json!([]))
    );
    let (status, units) = h
        .call(Method::GET, "/api/units", Some(&dispatcher), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(units[1]["id"], "R-9", "{units}");
    assert_eq!(
        units[1]["capabilities"],
        json!(["heavy_rescue", "water_rescue"])
    );
    let analyst = h.login_as(Role::Analyst).await;
    let (_, units) = h
        .call(Method::GET, "/api/units", Some(&analyst), None)
        .await;
    assert_eq!(
        units[1]["unit_type"], "rescue",
        "analysts see the kind of a unit: {units}"
    );

    // Attacks: no credentials, wrong role, malformed type and capabilities, wrong JSON types, unknown fields.
    let body = json!({"unit_type": "rescue"});
    let (status, _) = h
        .call(Method::PUT, "/api/units/X-1", None, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, refused) = put_unit(h, &dispatcher, "X-1", body).await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    for (body, want) in [
        (
            json!({"unit_type": "swat"}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ),
        (
            json!({"unit_type": "Police"}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ),
        (
            json!({"unit_type": ""}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ),
        (
            json!({"capabilities": ["laser"]}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ),
        (
            json!({"capabilities": ["hazmat", "hazmat"]}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ),
        (
            json!({"capabilities": vec!["hazmat"; 50]}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ),
        (
            json!({"unit_type": 3}),
            (StatusCode::BAD_REQUEST, "invalid_payload"),
        ),
        (
            json!({"capabilities": "hazmat"}),
            (StatusCode::BAD_REQUEST, "invalid_payload"),
        ),
        (
            json!({"unit_type": "rescue", "rank": 1}),
            (StatusCode::BAD_REQUEST, "invalid_payload"),
        ),
    ] {
        let (status, refused) = put_unit(h, &supervisor, "X-1", body.clone()).await;
        assert_eq!(
            (status, code(&refused)),
            (want.0, Some(want.1)),
            "{body}: {refused}"
        );
    }
    let (status, refused) = put_unit(
        h,
        &supervisor,
        "X-1",
        json!({"unit_type": "rescue", "capabilities": ["x".repeat(BODY_LIMIT)]}),
    )
    .await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (_, units) = h
        .call(Method::GET, "/api/units", Some(&dispatcher), None)
        .await;
    assert_eq!(
        units.as_array().map(Vec::len),
        Some(2),
        "nothing refused was stored: {units}"
    );
}

/// Recommendations follow the incident's need: only suitable units, `none_suitable` with nothing in their place,
/// the others apart and labelled; the need is set and cleared by dispatchers; an unsuitable dispatch needs an
/// override, which is audited.
pub async fn recommendations_and_dispatch_honour_the_needed_type(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    fleet(h, &supervisor).await;
    let device = h.device().await;
    let (status, raised) = h.raise(&device, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{raised}");
    let id = raised["incident_id"].as_str().expect("id").to_string();
    let base = format!("/api/incidents/{id}");
    let rec_path = format!("{base}/recommendations");

    // An ordinary SOS needs police.
    let (status, rec) = h
        .call(Method::GET, &rec_path, Some(&dispatcher), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    assert_eq!(rec["need"]["unit_type"], "police");
    assert_eq!(rec["need"]["source"], "default");
    assert_eq!(rec["units"][0]["unit"], "P-1");
    assert_eq!(rec["units"].as_array().map(Vec::len), Some(1), "{rec}");
    assert_eq!(rec["none_suitable"], false);

    // The dispatcher says: a heavy rescue team.
    let need_path = format!("{base}/need");
    let (status, need) = h
        .call(
            Method::PUT,
            &need_path,
            Some(&dispatcher),
            Some(json!({"unit_type": "rescue", "capabilities": ["heavy_rescue"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{need}");
    assert_eq!(need["source"], "dispatcher");
    assert_eq!(need["text"], "rescue with heavy_rescue");
    let (_, rec) = h
        .call(Method::GET, &rec_path, Some(&dispatcher), None)
        .await;
    let units: Vec<&str> = rec["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| u["unit"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        units,
        ["R-1"],
        "only the heavy rescue team, though it is the farthest: {rec}"
    );
    let others = rec["other_units"].as_array().expect("others");
    assert_eq!(others[0]["unit"], "P-1", "{rec}");
    assert_eq!(others[0]["wrong_type"], true);
    assert_eq!(others[1]["unit"], "R-2");
    assert_eq!(
        (
            others[1]["wrong_type"].clone(),
            others[1]["missing"].clone()
        ),
        (json!(false), json!(["heavy_rescue"]))
    );
    // The recorded recommendation holds the suitable unit only.
    let (status, incident) = h
        .call(
            Method::POST,
            &format!("{base}/recommend"),
            Some(&dispatcher),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{incident}");
    assert_eq!(
        incident["recommendations"].as_array().map(Vec::len),
        Some(1),
        "{incident}"
    );
    assert_eq!(incident["recommendations"][0]["unit"], "R-1");

    // No fire unit exists: said plainly, nobody offered in its place.
    let (status, _) = h
        .call(
            Method::PUT,
            &need_path,
            Some(&dispatcher),
            Some(json!({"unit_type": "fire"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, rec) = h
        .call(Method::GET, &rec_path, Some(&dispatcher), None)
        .await;
    assert_eq!(
        (rec["none_suitable"].clone(), rec["units"].clone()),
        (json!(true), json!([])),
        "{rec}"
    );
    assert_eq!(rec["message"], "no available fire unit");
    assert_eq!(rec["other_units"].as_array().map(Vec::len), Some(3));

    // Back to the derived need.
    let (status, need) = h
        .call(Method::DELETE, &need_path, Some(&dispatcher), None)
        .await;
    assert_eq!(
        (status, need["source"].clone()),
        (StatusCode::OK, json!("default")),
        "{need}"
    );

    // Dispatch: a patrol car for a heavy-rescue need is refused without an override, then sent with one.
    let (status, _) = h
        .call(
            Method::PUT,
            &need_path,
            Some(&dispatcher),
            Some(json!({"unit_type": "rescue", "capabilities": ["heavy_rescue"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call(
            Method::POST,
            &format!("{base}/acknowledge"),
            Some(&dispatcher),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let dispatch = format!("{base}/dispatch");
    let (status, refused) = h
        .call(
            Method::POST,
            &dispatch,
            Some(&dispatcher),
            Some(json!({"unit": "P-1"})),
        )
        .await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::CONFLICT, Some("unit_unsuitable")),
        "{refused}"
    );
    let (status, refused) = h
        .call(
            Method::POST,
            &dispatch,
            Some(&dispatcher),
            Some(json!({"unit": "P-1", "override_need": "yes"})),
        )
        .await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::BAD_REQUEST, Some("invalid_payload"))
    );
    let (status, refused) = h
        .call(
            Method::POST,
            &dispatch,
            Some(&dispatcher),
            Some(json!({"unit": "NOPE", "override_need": true})),
        )
        .await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::NOT_FOUND, Some("unit_not_found"))
    );
    let (status, sent) = h
        .call(
            Method::POST,
            &dispatch,
            Some(&dispatcher),
            Some(json!({"unit": "P-1", "override_need": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(sent["assigned_unit"], "P-1");
    let subject = format!("incident/{id}");
    assert!(audited(h, "incident.dispatch_override", &subject).await);
    assert!(audited(h, "incident.need_set", &subject).await);
    assert!(audited(h, "incident.need_cleared", &subject).await);

    // Attacks on the new endpoints: no credentials, wrong role, unknown and malformed ids, malformed needs,
    // oversized bodies; a replayed PUT changes nothing but answers the same.
    let analyst = h.login_as(Role::Analyst).await;
    let unknown = format!("/api/incidents/{}", Uuid::now_v7());
    for (method, path, body) in [
        (Method::GET, rec_path.clone(), None),
        (
            Method::PUT,
            need_path.clone(),
            Some(json!({"unit_type": "medical"})),
        ),
        (Method::DELETE, need_path.clone(), None),
    ] {
        let (status, _) = h.call(method.clone(), &path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let (status, refused) = h
            .call(method.clone(), &path, Some(&analyst), body.clone())
            .await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{method} {path}"
        );
        let other = path.replace(&base, &unknown);
        let (status, refused) = h
            .call(method.clone(), &other, Some(&dispatcher), body.clone())
            .await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::NOT_FOUND, Some("incident_not_found")),
            "{method} {other}"
        );
        let bad = path.replace(&id, "not-a-uuid");
        let (status, refused) = h.call(method.clone(), &bad, Some(&dispatcher), body).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::BAD_REQUEST, Some("invalid_payload")),
            "{method} {bad}"
        );
    }
    for (body, want) in [
        (
            json!({"unit_type": "ambulance"}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ),
        (
            json!({"unit_type": "rescue", "capabilities": ["jetpack"]}),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ),
        (
            json!({"capabilities": ["hazmat"]}),
            (StatusCode::BAD_REQUEST, "invalid_payload"),
        ),
        (
            json!({"unit_type": "rescue", "why": "x"}),
            (StatusCode::BAD_REQUEST, "invalid_payload"),
        ),
        (
            json!({"unit_type": "x".repeat(BODY_LIMIT)}),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ),
    ] {
        let (status, refused) = h
            .call(
                Method::PUT,
                &need_path,
                Some(&dispatcher),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, code(&refused)),
            (want.0, Some(want.1)),
            "{body}: {refused}"
        );
    }
    // An incident without a location cannot be ranked.
    let (status, raised) = h
        .raise(
            &h.device().await,
            json!({"alert_id": Uuid::new_v4(), "priority": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{raised}");
    let nowhere = format!(
        "/api/incidents/{}/recommendations",
        raised["incident_id"].as_str().expect("id")
    );
    let (status, refused) = h.call(Method::GET, &nowhere, Some(&dispatcher), None).await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::CONFLICT, Some("illegal_transition")),
        "{refused}"
    );
    let once = json!({"unit_type": "medical", "capabilities": ["medical_advanced"]});
    let (_, first) = h
        .call(
            Method::PUT,
            &need_path,
            Some(&dispatcher),
            Some(once.clone()),
        )
        .await;
    let (status, again) = h
        .call(Method::PUT, &need_path, Some(&dispatcher), Some(once))
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &first));
}

async fn declare(h: &Harness, token: &str, kind: &str) -> String {
    let area = json!({"type": "Polygon", "coordinates": [[
        [126.90, 37.50], [127.10, 37.50], [127.10, 37.60], [126.90, 37.60], [126.90, 37.50]]]});
    let (status, declared) = h
        .call(
            Method::POST,
            "/api/disasters",
            Some(token),
            Some(json!({"kind": kind, "title": "한강 홍수", "area": area})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    declared["id"].as_str().expect("id").to_string()
}

/// A subscriber at home in the area, with one app device and one guardian (Korean, e-mail).
async fn with_guardian(h: &Harness, admin: &str) -> crate::support::TestDevice {
    let key = jikimi_server::signing::generate_device_key();
    let (status, answer) = h
        .call(Method::POST, "/api/subscribers", Some(admin), Some(json!({
            "name": "김민지", "phone": "010-2222-3333",
            "home": {"lat": 37.55, "lon": 127.0},
            "devices": [{"public_key": hex::encode(key.verifying_key().to_bytes()), "kind": "app"}],
            "guardians": [{"name": "김어머니", "language": "ko",
                           "channels": [{"kind": "email", "address": "mother@example.org"}]}],
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    crate::support::TestDevice {
        id: Uuid::parse_str(answer["device_ids"][0].as_str().expect("device")).expect("uuid"),
        key,
        subscriber_id: Uuid::parse_str(answer["id"].as_str().expect("id")).expect("uuid"),
    }
}

/// A trapped answer in a flood makes its incident need a water rescue team, and the triage entry says so; the
/// person's guardian is told of the declaration, of the answer and, for a silent person, of the silence, each once.
pub async fn welfare_answers_set_the_need_and_guardians_are_told(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    fleet(h, &supervisor).await;
    let trapped = with_guardian(h, &admin).await;
    let silent = with_guardian(h, &admin).await;
    let id = declare(h, &supervisor, "flood").await;
    let disaster = Uuid::parse_str(&id).expect("uuid");
    let rows = h
        .store
        .list_disaster_notifications(disaster)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2, "one guardian each");
    assert!(
        rows.iter()
            .all(|n| n.event == "welfare_asked" && n.incident_id.is_none())
    );

    let body = json!({"answer_id": Uuid::new_v4(), "answer": "trapped",
        "location": {"lat": 37.5665, "lon": 126.978, "accuracy_m": 8.0, "method": "gnss"}});
    let (status, answered) = crate::disasters::answer(h, &trapped, &id, &body).await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    // A retry tells nobody again.
    let (status, _) = crate::disasters::answer(h, &trapped, &id, &body).await;
    assert_eq!(status, StatusCode::OK);
    let incident = answered["incident_id"]
        .as_str()
        .expect("incident")
        .to_string();
    let (status, rec) = h
        .call(
            Method::GET,
            &format!("/api/incidents/{incident}/recommendations"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    assert_eq!(rec["need"]["source"], "welfare");
    assert_eq!(rec["need"]["welfare_status"], "trapped");
    assert_eq!(rec["need"]["text"], "rescue with water_rescue");
    let units: Vec<&str> = rec["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| u["unit"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(units, ["R-2"], "{rec}");

    let (status, triage) = h
        .call(
            Method::GET,
            &format!("/api/disasters/{id}/triage"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{triage}");
    assert_eq!(
        triage["queue"][0]["need"]["text"], "rescue with water_rescue",
        "{triage}"
    );

    let rows = h
        .store
        .list_disaster_notifications(disaster)
        .await
        .expect("rows");
    let told: Vec<(String, u64)> = rows
        .iter()
        .filter(|n| n.subscriber_id.0 == trapped.subscriber_id)
        .map(|n| (n.event.clone(), n.event_seq))
        .collect();
    assert_eq!(
        told,
        [
            ("welfare_asked".to_string(), 0),
            ("welfare_trapped".to_string(), 1)
        ]
    );

    // Silence: nothing before the configured age, one notice for the silent person's guardian after it.
    assert_eq!(
        jikimi_server::disaster::guardians::sweep_silent(&h.state)
            .await
            .expect("sweep"),
        0
    );
    h.advance_s(h.state.config.welfare_silence_ms / 1000 + 1);
    assert_eq!(
        jikimi_server::disaster::guardians::sweep_silent(&h.state)
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(
        jikimi_server::disaster::guardians::sweep_silent(&h.state)
            .await
            .expect("sweep"),
        0
    );
    let rows = h
        .store
        .list_disaster_notifications(disaster)
        .await
        .expect("rows");
    let silence: Vec<&jikimi_store::Notification> = rows
        .iter()
        .filter(|n| n.event == "welfare_no_answer")
        .collect();
    assert_eq!(silence.len(), 1);
    assert_eq!(silence[0].subscriber_id.0, silent.subscriber_id);
    // Nothing personal is in the outbox rows; the audit says what was queued, by count.
    assert!(audited(h, "notification.queued", &format!("disaster/{id}")).await);
}
