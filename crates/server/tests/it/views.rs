//! What each role sees (issue 16, item 3), field by field, in the REST API and the live feed alike, on an incident
//! with fixes, a note, a subscriber with a guardian, a device and a recommended unit.
//!
//! The attack: an analyst reads `GET /api/incidents`, `GET /api/incidents/{id}` or `/api/live` and used to get the
//! subscriber and device ids, every exact fix and the notes. Now they get the analyst view; dispatchers,
//! supervisors and admins get the full view; border officers get nothing.

use axum::http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use jikimi_respond::IncidentId;
use jikimi_server::dto::IncidentDto;
use jikimi_server::roles::Role;
use jikimi_server::signing;
use jikimi_server::views::generalise_point;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::support::{Harness, TestDevice, request, sos};

/// The latest fix of the scene, exact.
const LAT: f64 = 37.567_1;
const LON: f64 = 126.978_3;
const NOTE: &str = "caller whispers: door code 4411";

struct Scene {
    incident_id: String,
    device: TestDevice,
    guardian_id: String,
    /// `?after=` for the live feed: every event of the scene.
    cursor: String,
    /// The incident's seq once every change of the scene is made.
    last_seq: u64,
}

/// Registers a subscriber with a guardian and a device, places a unit, raises an alert with a fix, sends a second
/// fix, adds a note and asks for a recommendation; waits until the live feed has the final state.
async fn scene(h: &Harness) -> Scene {
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let key = signing::generate_device_key();
    let (status, registered) = h
        .call(
            Method::POST,
            "/api/subscribers",
            Some(&supervisor),
            Some(json!({
                "name": "Views Person", "phone": "010-4444-0001",
                "devices": [{"public_key": hex::encode(key.verifying_key().to_bytes())}],
                "guardians": [{"name": "Views Guardian", "channels": [{"kind": "sms", "address": "010-4444-0002"}]}],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let device = TestDevice {
        id: Uuid::parse_str(registered["device_ids"][0].as_str().expect("device")).expect("uuid"),
        key,
        subscriber_id: Uuid::parse_str(registered["id"].as_str().expect("id")).expect("uuid"),
    };
    let guardian_id = registered["guardian_ids"][0]
        .as_str()
        .expect("guardian")
        .to_string();
    let (status, body) = h
        .call(
            Method::PUT,
            "/api/units/P-7",
            Some(&supervisor),
            Some(json!({"status": "available", "position": {"lat": 37.571, "lon": 126.982}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let cursor = format!("{}-0", h.state.live.epoch());
    let mut sub = h.state.live.subscribe(None);
    let (status, body) = h.raise(&device, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let incident_id = body["incident_id"].as_str().expect("incident").to_string();
    let id = Uuid::parse_str(&incident_id).expect("uuid");
    let (status, body) = h
        .signed(
            &device,
            &format!("/api/alerts/{incident_id}/location"),
            &signing::location_context(&id),
            &json!({"location": {"lat": LAT, "lon": LON, "accuracy_m": 5.0, "method": "gnss"}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let base = format!("/api/incidents/{incident_id}");
    let (status, body) = h
        .call(
            Method::POST,
            &format!("{base}/notes"),
            Some(&dispatcher),
            Some(json!({"text": NOTE})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h
        .call(
            Method::POST,
            &format!("{base}/recommend"),
            Some(&dispatcher),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recommendations"][0]["unit"], "P-7", "{body}");
    let last_seq = body["last_seq"].as_u64().expect("seq");
    // The alert and the location update are published by spawned tasks: wait until the feed has caught up.
    loop {
        let dto = h.live_incident(&mut sub, &incident_id).await;
        if dto["last_seq"].as_u64() == Some(last_seq) {
            break;
        }
    }
    Scene {
        incident_id,
        device,
        guardian_id,
        cursor,
        last_seq,
    }
}

/// The full view of the incident as stored now: what dispatchers, supervisors and admins are sent.
async fn full_view(h: &Harness, scene: &Scene) -> Value {
    let incident = h
        .store
        .get_incident(IncidentId(
            Uuid::parse_str(&scene.incident_id).expect("uuid"),
        ))
        .await
        .expect("incident");
    serde_json::to_value(IncidentDto::from(&incident)).expect("json")
}

/// The SSE events of `/api/live?after=cursor` for `token`, until the scene's incident at its last seq; or the
/// refusal's status.
async fn live(h: &Harness, token: &str, scene: &Scene) -> Result<Vec<(String, Value)>, StatusCode> {
    let response = h
        .app
        .clone()
        .oneshot(request(
            Method::GET,
            &format!("/api/live?after={}", scene.cursor),
            Some(token),
            None,
        ))
        .await
        .expect("router answers");
    if response.status() != StatusCode::OK {
        return Err(response.status());
    }
    let mut body = response.into_body();
    let mut text = String::new();
    let mut events = Vec::new();
    let read = async {
        loop {
            let frame = body.frame().await.expect("stream open").expect("frame");
            if let Some(bytes) = frame.data_ref() {
                text.push_str(std::str::from_utf8(bytes).expect("utf-8"));
            }
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let kind = block
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or_default()
                    .to_string();
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                let Ok(value) = serde_json::from_str::<Value>(&data) else {
                    continue;
                };
                let done = kind == "incident"
                    && value["id"] == scene.incident_id.as_str()
                    && value["last_seq"].as_u64() == Some(scene.last_seq);
                events.push((kind, value));
                if done {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), read)
        .await
        .expect("the live feed delivers the scene");
    Ok(events)
}

async fn get(h: &Harness, token: &str, path: &str) -> (StatusCode, Value) {
    h.call(Method::GET, path, Some(token), None).await
}

/// Dispatchers, supervisors and admins: the full view, the same in the list, the detail and the live feed.
async fn sees_the_full_view(h: &Harness, role: Role) {
    let scene = scene(h).await;
    let token = h.login_as(role).await;
    let expected = full_view(h, &scene).await;
    let device_id = scene.device.id.to_string();
    let subscriber_id = scene.device.subscriber_id.to_string();
    assert_eq!(expected["view"], "full");
    assert_eq!(expected["device_id"], device_id.as_str());
    assert_eq!(expected["subscriber_id"], subscriber_id.as_str());
    assert_eq!(
        (
            &expected["location"]["lat"],
            &expected["location"]["lon"],
            &expected["location"]["accuracy_m"]
        ),
        (&json!(LAT), &json!(LON), &json!(5.0))
    );
    assert_eq!(expected["n_notes"], 1);

    let (status, list) = get(h, &token, "/api/incidents").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([expected.clone()]));

    let (status, detail) = get(h, &token, &format!("/api/incidents/{}", scene.incident_id)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["incident"], expected);
    let events = detail["events"].as_array().expect("events");
    assert_eq!(events.len() as u64, scene.last_seq);
    assert_eq!(events[0]["actor"], format!("device:{device_id}"));
    assert_eq!(events[0]["event"]["device_id"], device_id.as_str());
    assert_eq!(events[0]["event"]["subscriber_id"], subscriber_id.as_str());
    assert_eq!(
        events[0]["event"]["fix"]["coords"],
        json!({"lat": 37.5665, "lon": 126.978})
    );
    assert_eq!(
        events[1]["event"]["fix"]["coords"],
        json!({"lat": LAT, "lon": LON})
    );
    assert_eq!(
        events[2]["event"],
        json!({"type": "note_added", "text": NOTE})
    );
    for n in detail["notifications"].as_array().expect("notifications") {
        assert_eq!(n["guardian_id"], scene.guardian_id.as_str());
    }

    let feed = live(h, &token, &scene).await.expect("feed");
    let (_, last) = feed.last().expect("an event");
    assert_eq!(*last, expected);
    for (kind, value) in &feed {
        if kind == "incident" {
            assert_eq!(value["view"], "full");
            assert_eq!(value["device_id"], device_id.as_str());
        }
    }
    let (_, units) = get(h, &token, "/api/units").await;
    assert_eq!(units[0]["position"], json!({"lat": 37.571, "lon": 126.982}));
}

pub async fn dispatcher_sees_the_full_view(h: &Harness) {
    sees_the_full_view(h, Role::Dispatcher).await;
}

pub async fn supervisor_sees_the_full_view(h: &Harness) {
    sees_the_full_view(h, Role::Supervisor).await;
}

pub async fn admin_sees_the_full_view(h: &Harness) {
    sees_the_full_view(h, Role::Admin).await;
}

fn centre(lat: f64, lon: f64) -> (Value, f64) {
    let (c_lat, c_lon, radius) = generalise_point(lat, lon).expect("cell");
    // Generalised to a cell at least 100 m across, and not the exact point.
    assert!(radius >= 100.0, "{radius}");
    assert_ne!((c_lat, c_lon), (lat, lon));
    (json!({"lat": c_lat, "lon": c_lon}), radius)
}

/// Analysts: no subscriber, device or guardian ids, no note text, every location a cell centre, rounded
/// recommendations; the same in the list, the detail and the live feed.
pub async fn analyst_sees_no_ids_notes_or_exact_locations(h: &Harness) {
    let scene = scene(h).await;
    let token = h.login_as(Role::Analyst).await;
    let full = full_view(h, &scene).await;
    let (cell, radius) = centre(LAT, LON);
    let mut expected = full.clone();
    expected["view"] = json!("analyst");
    expected["device_id"] = Value::Null;
    expected["subscriber_id"] = Value::Null;
    expected["location"]["lat"] = cell["lat"].clone();
    expected["location"]["lon"] = cell["lon"].clone();
    expected["location"]["accuracy_m"] = json!(radius.max(5.0).ceil());
    let rec = &mut expected["recommendations"][0];
    let (distance, eta) = (
        rec["distance_m"].as_f64().expect("distance"),
        rec["eta_s"].as_f64().expect("eta"),
    );
    rec["distance_m"] = json!((distance / 500.0).round() * 500.0);
    rec["eta_s"] = json!((eta / 60.0).round() * 60.0);
    rec["snap_m"] = Value::Null;
    // Everything else (status, priority, times, counts, unit) is as in the full view.
    assert_eq!(expected["n_notes"], 1);
    assert_eq!(expected["n_fixes"], 2);

    let (status, list) = get(h, &token, "/api/incidents").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([expected.clone()]));

    let (status, detail) = get(h, &token, &format!("/api/incidents/{}", scene.incident_id)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["incident"], expected);
    let events = detail["events"].as_array().expect("events");
    assert_eq!(events.len() as u64, scene.last_seq);
    let (first_cell, _) = centre(37.5665, 126.978);
    let first = &events[0]["event"];
    let keys: Vec<&str> = first
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["alert_id", "fix", "priority", "silent", "type"]);
    assert_eq!(first["fix"]["coords"], first_cell);
    assert_eq!(events[0]["actor"], "device");
    assert_eq!(events[1]["event"]["fix"]["coords"], cell);
    assert_eq!(events[1]["actor"], "device");
    assert_eq!(events[2]["event"], json!({"type": "note_added"}));
    assert!(
        events[2]["actor"]
            .as_str()
            .expect("actor")
            .starts_with("staff:dispatcher-")
    );
    let recommended = &events[3]["event"]["recommendations"][0];
    assert_eq!(
        recommended["distance_m"],
        expected["recommendations"][0]["distance_m"]
    );
    assert_eq!(recommended["snap_m"], Value::Null);
    for n in detail["notifications"].as_array().expect("notifications") {
        assert_eq!(n["guardian_id"], Value::Null);
    }

    let feed = live(h, &token, &scene).await.expect("feed");
    let (_, last) = feed.last().expect("an event");
    assert_eq!(*last, expected);
    for (kind, value) in &feed {
        if kind == "incident" {
            assert_eq!(value["view"], "analyst", "{value}");
            assert_eq!(value["device_id"], Value::Null);
            assert_eq!(value["subscriber_id"], Value::Null);
        }
    }
    let (_, units) = get(h, &token, "/api/units").await;
    let (unit_cell, _) = centre(37.571, 126.982);
    assert_eq!(units[0]["position"], unit_cell);

    // Nothing identifying anywhere in what the analyst was sent.
    let sent: Vec<&Value> = feed.iter().map(|(_, v)| v).collect();
    let everything = format!("{list}{detail}{}{units}", json!(sent));
    for secret in [
        scene.device.id.to_string(),
        scene.device.subscriber_id.to_string(),
        scene.guardian_id.clone(),
        NOTE.to_string(),
        format!("{LAT},"),
        format!("{LAT}}}"),
        "37.5665,".to_string(),
        "37.5665}".to_string(),
    ] {
        assert!(
            !everything.contains(&secret),
            "the analyst was sent {secret}"
        );
    }
    // The full view still holds them: the test would notice if the scene lacked them.
    assert_eq!(full["device_id"], scene.device.id.to_string().as_str());
}

/// Border officers read no incidents or units, in the REST API or the live feed.
pub async fn border_officer_sees_no_incidents(h: &Harness) {
    let scene = scene(h).await;
    let token = h.login_as(Role::BorderOfficer).await;
    for path in [
        "/api/incidents".to_string(),
        format!("/api/incidents/{}", scene.incident_id),
        "/api/units".to_string(),
    ] {
        let (status, body) = get(h, &token, &path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{path}"
        );
    }
    assert_eq!(
        live(h, &token, &scene).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
}
