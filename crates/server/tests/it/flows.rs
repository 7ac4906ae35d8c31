//! Staff flows: the incident lifecycle, illegal transitions, ordering, roles, error shapes, sessions.

use axum::http::{Method, StatusCode};
use jikimi_server::roles::Role;
use serde_json::{Value, json};

use crate::support::{Harness, sos};

async fn open_incident(h: &Harness, priority: u8) -> String {
    let device = h.device().await;
    let mut alert = sos(37.5665, 126.978);
    alert["priority"] = json!(priority);
    let (status, body) = h.raise(&device, alert).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["incident_id"].as_str().unwrap_or_default().to_string()
}

async fn post(h: &Harness, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    h.call(Method::POST, path, Some(token), Some(body)).await
}

pub async fn incident_lifecycle_and_projection_rebuild(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    for (unit, lat) in [("P-101", 37.567), ("P-102", 37.60)] {
        let (status, body) = h
            .call(
                Method::PUT,
                &format!("/api/units/{unit}"),
                Some(&supervisor),
                Some(json!({"status": "available", "position": {"lat": lat, "lon": 126.978}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = post(
        h,
        &dispatcher,
        "/api/units/P-102/position",
        json!({"lat": 37.61, "lon": 126.98}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let id = open_incident(h, 0).await;
    let base = format!("/api/incidents/{id}");

    let (status, body) = post(h, &dispatcher, &format!("{base}/acknowledge"), json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("acknowledged")),
        "{body}"
    );
    let (status, body) = post(h, &dispatcher, &format!("{base}/recommend"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["recommendations"][0]["unit"], "P-101",
        "nearest available first: {body}"
    );
    let (status, body) = post(
        h,
        &dispatcher,
        &format!("{base}/dispatch"),
        json!({"unit": "P-101"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("dispatched")),
        "{body}"
    );
    let (_, units) = h
        .call(Method::GET, "/api/units", Some(&dispatcher), None)
        .await;
    assert_eq!(units[0]["status"], "dispatched", "{units}");
    // Dispatching the busy unit again is a conflict (409), never a second assignment.
    let (status, body) = post(
        h,
        &dispatcher,
        &format!("{base}/dispatch"),
        json!({"unit": "P-101"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A stale expected_seq is a conflict, not a silent overwrite.
    let (status, body) = post(
        h,
        &dispatcher,
        &format!("{base}/en-route"),
        json!({"expected_seq": 1}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "{body}"
    );
    for (step, want) in [("en-route", "en_route"), ("on-scene", "on_scene")] {
        let (status, body) = post(h, &dispatcher, &format!("{base}/{step}"), json!({})).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some(want)),
            "{body}"
        );
    }
    let (status, _) = post(
        h,
        &dispatcher,
        &format!("{base}/notes"),
        json!({"text": "subject calm, escorted home"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(
        h,
        &dispatcher,
        &format!("{base}/close"),
        json!({"outcome": "rescue"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str(), body["outcome"].as_str()),
        (StatusCode::OK, Some("closed"), Some("rescue"))
    );
    let (_, units) = h
        .call(Method::GET, "/api/units", Some(&dispatcher), None)
        .await;
    assert_eq!(
        units[0]["status"], "available",
        "the unit is free again: {units}"
    );

    let (status, detail) = h.call(Method::GET, &base, Some(&dispatcher), None).await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<_> = detail["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"]["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![
            json!("alert_received"),
            json!("acknowledged"),
            json!("unit_recommended"),
            json!("dispatched"),
            json!("en_route"),
            json!("on_scene"),
            json!("note_added"),
            json!("closed")
        ]
    );

    // The projection rebuilt from the events equals the stored state.
    let incident_id = jikimi_respond::IncidentId(uuid::Uuid::parse_str(&id).expect("uuid"));
    let stored = h.store.get_incident(incident_id).await.expect("stored");
    let events = h.store.load_events(incident_id).await.expect("events");
    assert_eq!(
        jikimi_respond::Incident::replay(incident_id, &events).expect("replay"),
        stored
    );
    h.store.rebuild_projections().await.expect("rebuild");
    assert_eq!(
        h.store.get_incident(incident_id).await.expect("rebuilt"),
        stored
    );
    let actions: Vec<_> = h.audit().await.into_iter().map(|(a, ..)| a).collect();
    assert!(
        actions.iter().any(|a| a == "incident.closed"),
        "{actions:?}"
    );
    jikimi_store::verify_audit(h.store.as_ref())
        .await
        .expect("chain verifies");
}

pub async fn illegal_transitions_are_refused(h: &Harness) {
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let id = open_incident(h, 1).await;
    let base = format!("/api/incidents/{id}");
    let (status, body) = post(h, &dispatcher, &format!("{base}/on-scene"), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("illegal_transition")),
        "{body}"
    );
    let (status, _) = post(
        h,
        &dispatcher,
        &format!("{base}/close"),
        json!({"outcome": "false_alarm"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(h, &dispatcher, &format!("{base}/acknowledge"), json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("illegal_transition")),
        "{body}"
    );
    let (status, body) = post(
        h,
        &dispatcher,
        &format!("{base}/close"),
        json!({"outcome": "nonsense"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field"))
    );
    let (status, body) = post(
        h,
        &dispatcher,
        "/api/incidents/00000000-0000-0000-0000-000000000000/acknowledge",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("incident_not_found"))
    );
}

/// A stored row that does not decode is the server's fault: 500 `internal` with the usual error body, never a 422
/// that blames the caller, and nothing of the damaged row in the answer.
pub async fn corrupt_stored_incident_answers_500(h: &Harness) {
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let id = open_incident(h, 1).await;
    let changed = h
        .raw_update(
            "UPDATE incidents SET state = '{\"note\": \"kim-ji-woo\"' WHERE id = $1",
            &id,
        )
        .await;
    assert_eq!(changed, 1);
    for path in [format!("/api/incidents/{id}"), "/api/incidents".to_string()] {
        let (status, body) = h.call(Method::GET, &path, Some(&dispatcher), None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {body}");
        assert_eq!(body["error"]["code"], "internal", "{body}");
        assert!(
            body["error"]["request_id"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{body}"
        );
        assert!(!body.to_string().contains("kim-ji-woo"), "{body}");
    }
}

pub async fn incidents_are_listed_by_priority_then_age(h: &Harness) {
    let analyst = h.login_as(Role::Analyst).await;
    let low = open_incident(h, 3).await;
    h.advance_s(1);
    let urgent = open_incident(h, 0).await;
    h.advance_s(1);
    let low_later = open_incident(h, 3).await;
    let (status, list) = h
        .call(
            Method::GET,
            "/api/incidents?status=open",
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<_> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, vec![urgent.clone(), low.clone(), low_later.clone()]);

    // A report reads every incident page by page in id order (ids are UUID v7: creation order).
    let mut paged = Vec::new();
    let mut path = "/api/incidents?order=id&limit=2".to_string();
    loop {
        let (status, page) = h.call(Method::GET, &path, Some(&analyst), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page: Vec<String> = page
            .as_array()
            .expect("page")
            .iter()
            .map(|i| i["id"].as_str().unwrap_or_default().to_string())
            .collect();
        let Some(last) = page.last().cloned() else {
            break;
        };
        paged.extend(page);
        path = format!("/api/incidents?limit=2&after={last}");
    }
    let mut by_id = vec![low, urgent, low_later];
    by_id.sort();
    assert_eq!(paged, by_id);
    for bad in [
        "/api/incidents?order=age",
        "/api/incidents?order=queue&after=00000000-0000-0000-0000-000000000000",
    ] {
        let (status, body) = h.call(Method::GET, bad, Some(&analyst), None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
            "{bad}: {body}"
        );
    }
}

pub async fn roles_are_checked_per_endpoint(h: &Harness) {
    let analyst = h.login_as(Role::Analyst).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let device = h.device().await;
    let id = open_incident(h, 1).await;
    let forbidden = |(status, body): (StatusCode, Value)| {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{body}"
        );
    };
    forbidden(
        post(
            h,
            &analyst,
            &format!("/api/incidents/{id}/acknowledge"),
            json!({}),
        )
        .await,
    );
    forbidden(
        post(
            h,
            &analyst,
            &format!("/api/subscribers/{}/reveal", device.subscriber_id),
            json!({"reason": "curious"}),
        )
        .await,
    );
    forbidden(
        post(
            h,
            &analyst,
            "/api/subscribers",
            json!({"name": "x", "phone": "010-1111-2222"}),
        )
        .await,
    );
    forbidden(
        h.call(Method::GET, "/api/audit", Some(&analyst), None)
            .await,
    );
    forbidden(
        h.call(Method::GET, "/api/audit", Some(&dispatcher), None)
            .await,
    );
    forbidden(
        post(
            h,
            &dispatcher,
            &format!("/api/subscribers/{}/erase", device.subscriber_id),
            json!({"reason": "asked"}),
        )
        .await,
    );
    forbidden(
        post(
            h,
            &dispatcher,
            "/api/staff",
            json!({"username": "eve", "password": "12345678", "role": "admin"}),
        )
        .await,
    );
    // Analysts read incidents, which carry no personal field.
    let (status, list) = h
        .call(Method::GET, "/api/incidents", Some(&analyst), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(
        !text.contains("Test Person") && !text.contains("1234-5678"),
        "{text}"
    );
    let (status, body) = h.call(Method::GET, "/api/incidents", None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (status, body) = h
        .call(Method::GET, "/api/incidents", Some("not-a-token"), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (status, body) = h
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "nobody", "password": "wrong password"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("login_failed"))
    );
    assert!(
        h.audit()
            .await
            .iter()
            .any(|(a, ..)| a == "staff.login_failed")
    );
}

pub async fn malformed_staff_json_gets_the_api_error_shape(h: &Harness) {
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/auth/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .expect("request");
    let (status, body) = h.send(request).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_payload")),
        "{body}"
    );
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    let (status, body) = post(
        h,
        &dispatcher,
        "/api/units/P-1/position",
        json!({"lat": "north"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_payload")),
        "{body}"
    );
    let (status, body) = post(
        h,
        &dispatcher,
        "/api/units/P-1/position",
        json!({"lat": 37.5, "lon": 200.0}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
        "{body}"
    );
    let (status, body) = h.call(Method::GET, "/api/nothing-here", None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_such_endpoint")),
        "{body}"
    );
}

pub async fn sessions_expire_and_logout_ends_them(h: &Harness) {
    let token = h.login_as(Role::Dispatcher).await;
    let (status, me) = h
        .call(Method::GET, "/api/auth/me", Some(&token), None)
        .await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("dispatcher"))
    );
    // The console reads what it may offer from here, never from a copy of the role table.
    assert_eq!(
        me["permissions"],
        json!([
            "read_operations",
            "change_operations",
            "reveal_personal_data",
            "issue_enrolment_codes",
            "close_roads"
        ])
    );
    let analyst = h.login_as(Role::Analyst).await;
    let (_, me) = h
        .call(Method::GET, "/api/auth/me", Some(&analyst), None)
        .await;
    assert_eq!(
        me["permissions"],
        json!([
            "read_operations",
            "link_entities",
            "trace_funds",
            "request_freeze",
            "identify"
        ])
    );
    h.advance_s(8 * 3600 + 1);
    let (status, _) = h
        .call(Method::GET, "/api/auth/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired");
    let token = h.login_as(Role::Dispatcher).await;
    let (status, _) = h
        .call(Method::POST, "/api/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .call(Method::GET, "/api/auth/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logged out");
}

/// `POST /api/positions`: a batch in one transaction; unknown call signs listed; one bad report refuses the batch
/// and records nothing; analysts may not report.
pub async fn batched_positions_are_recorded_together(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    for unit in ["P-1", "P-2"] {
        let (status, body) = h
            .call(
                Method::PUT,
                &format!("/api/units/{unit}"),
                Some(&supervisor),
                Some(json!({"status": "available", "position": {"lat": 37.5, "lon": 127.0}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = post(
        h,
        &dispatcher,
        "/api/positions",
        json!({"positions": [
            {"unit": "P-2", "lat": 37.52, "lon": 127.02},
            {"unit": "X-9", "lat": 37.52, "lon": 127.02},
            {"unit": "P-1", "lat": 37.51, "lon": 127.01},
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<&str> = body["units"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["P-2", "P-1"], "{body}");
    assert_eq!(body["unknown"], json!(["X-9"]));
    let (_, units) = h
        .call(Method::GET, "/api/units", Some(&dispatcher), None)
        .await;
    assert_eq!(units[0]["position"]["lat"], json!(37.51), "{units}");

    // One out-of-range report refuses the batch, naming it; the good report before it is not recorded.
    let (status, body) = post(
        h,
        &dispatcher,
        "/api/positions",
        json!({"positions": [
            {"unit": "P-1", "lat": 37.6, "lon": 127.1},
            {"unit": "P-2", "lat": 137.0, "lon": 127.0},
        ]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("positions[1]")),
        "{body}"
    );
    let (_, units) = h
        .call(Method::GET, "/api/units", Some(&dispatcher), None)
        .await;
    assert_eq!(units[0]["position"]["lat"], json!(37.51), "{units}");
    let (status, _) = post(h, &dispatcher, "/api/positions", json!({"positions": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let analyst = h.login_as(Role::Analyst).await;
    let (status, _) = post(
        h,
        &analyst,
        "/api/positions",
        json!({"positions": [{"unit": "P-1", "lat": 37.5, "lon": 127.0}]}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Publish on commit: staff actions reach the console's live feed with no code of their own (the store tells the
/// hub what each commit changed): a unit saved and moved, a dispatch (the incident and the unit), a close (the
/// incident and the freed unit), a batch of positions; every event also in the analyst view.
pub async fn staff_actions_reach_the_live_feed(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let mut live = h.state.live.subscribe(None);
    let (status, body) = h
        .call(
            Method::PUT,
            "/api/units/P-7",
            Some(&supervisor),
            Some(json!({"status": "available", "position": {"lat": 37.5665, "lon": 126.978}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.live_event(&mut live, "unit", |u| {
        u["id"] == "P-7" && u["status"] == "available"
    })
    .await;
    let (status, _) = post(
        h,
        &dispatcher,
        "/api/units/P-7/position",
        json!({"lat": 37.5671, "lon": 126.9791}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let moved = h
        .live_event(&mut live, "unit", |u| {
            u["id"] == "P-7" && u["position"]["lat"] == json!(37.5671)
        })
        .await;
    // The analyst view of a unit on the feed is generalised, as in the REST API.
    let analyst: Value = serde_json::from_str(&moved.analyst).expect("analyst json");
    assert_eq!(analyst["id"], "P-7");
    assert_ne!(analyst["position"]["lat"], json!(37.5671), "{analyst}");

    let id = open_incident(h, 1).await;
    h.live_incident_where(&mut live, &id, |i| i["status"] == "received")
        .await;
    let base = format!("/api/incidents/{id}");
    let (status, body) = post(h, &dispatcher, &format!("{base}/acknowledge"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.live_incident_where(&mut live, &id, |i| i["status"] == "acknowledged")
        .await;
    let (status, body) = post(
        h,
        &dispatcher,
        &format!("{base}/dispatch"),
        json!({"unit": "P-7"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dispatched = h
        .live_event(&mut live, "incident", |i| {
            i["id"] == id.as_str() && i["status"] == "dispatched"
        })
        .await;
    let full: Value = serde_json::from_str(&dispatched.data).expect("full json");
    assert_eq!(full["assigned_unit"], "P-7", "{full}");
    assert!(full["device_id"].is_string(), "{full}");
    let analyst: Value = serde_json::from_str(&dispatched.analyst).expect("analyst json");
    assert!(
        analyst["device_id"].is_null(),
        "analysts get no device id: {analyst}"
    );
    assert!(analyst["subscriber_id"].is_null(), "{analyst}");
    h.live_event(&mut live, "unit", |u| {
        u["id"] == "P-7" && u["status"] == "dispatched"
    })
    .await;

    let (status, body) = post(
        h,
        &dispatcher,
        &format!("{base}/close"),
        json!({"outcome": "assistance"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.live_incident_where(&mut live, &id, |i| {
        i["status"] == "closed" && i["outcome"] == "assistance"
    })
    .await;
    h.live_event(&mut live, "unit", |u| {
        u["id"] == "P-7" && u["status"] == "available"
    })
    .await;

    // An AVL gateway's batch: every unit it moved.
    let (status, body) = post(
        h,
        &dispatcher,
        "/api/positions",
        json!({"positions": [{"unit": "P-7", "lat": 37.52, "lon": 127.02}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.live_event(&mut live, "unit", |u| {
        u["id"] == "P-7" && u["position"]["lat"] == json!(37.52)
    })
    .await;
}
