//! Road closures over the API: a closed bridge changes the recommended unit's road ETA at once and reopening it
//! restores the ETA; areas close what runs through them; every close and reopen is audited; and the endpoints
//! refuse what an attacker would try (no credentials, wrong role, malformed, oversized, unknown, replayed).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jikimi_roads::geo::haversine_m;
use jikimi_roads::import::{RoadGraph, Segment};
use jikimi_roads::{LatLon, Metric, Profile, RoadNetwork};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{BODY_LIMIT, Harness, recorded, request, send_to, sos};

const A: LatLon = LatLon {
    lat: 60.17,
    lon: 24.93,
};
const B: LatLon = LatLon {
    lat: 60.17,
    lon: 24.95,
};
const C: LatLon = LatLon {
    lat: 60.18,
    lon: 24.93,
};
const D: LatLon = LatLon {
    lat: 60.18,
    lon: 24.95,
};
/// The middle of the bridge A–B.
const BRIDGE: LatLon = LatLon {
    lat: 60.17,
    lon: 24.94,
};

/// A bridge A–B (about 1.1 km) and a detour A–C–D–B (about 3.3 km), all two-way at 36 km/h. Built per test: the
/// closures of one test must not reach another's network.
fn network() -> Arc<RoadNetwork> {
    let pts = [A, B, C, D];
    let seg = |a: u32, b: u32| {
        let length_m = haversine_m(pts[a as usize], pts[b as usize]);
        Segment {
            a,
            b,
            forward: true,
            backward: true,
            length_m,
            duration_s: length_m / 10.0,
        }
    };
    let graph = RoadGraph {
        coords: pts.to_vec(),
        osm_ids: vec![1, 2, 3, 4],
        segments: vec![seg(0, 1), seg(0, 2), seg(2, 3), seg(3, 1)],
        drivable_ways: 4,
        refs_without_coords: 0,
    };
    Arc::new(RoadNetwork::build(graph, Profile::Emergency).expect("network"))
}

fn point(p: LatLon) -> Value {
    json!({"type": "Point", "coordinates": [p.lon, p.lat]})
}

fn square(c: LatLon, d: f64) -> Value {
    let ring = json!([
        [c.lon - d, c.lat - d],
        [c.lon + d, c.lat - d],
        [c.lon + d, c.lat + d],
        [c.lon - d, c.lat + d],
        [c.lon - d, c.lat - d]
    ]);
    json!({"type": "Polygon", "coordinates": [ring]})
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    send_to(app, request(method, path, token, body)).await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// The recommended unit's ETA (s) for the incident.
async fn eta(app: &Router, token: &str, incident: &str) -> f64 {
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/api/incidents/{incident}/recommend"),
        Some(token),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rec = &body["recommendations"][0];
    assert_eq!(rec["unit"], "RESCUE-1", "{body}");
    assert_eq!(rec["method"], "road", "{body}");
    rec["eta_s"].as_f64().expect("eta")
}

/// A unit at A and an incident at B.
async fn scene(h: &Harness, app: &Router) -> (String, String) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let (status, body) = call(
        app,
        Method::PUT,
        "/api/units/RESCUE-1",
        Some(&supervisor),
        Some(json!({"status": "available", "position": {"lat": A.lat, "lon": A.lon}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let device = h.device().await;
    let (status, body) = h.raise(&device, sos(B.lat, B.lon)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let incident = body["incident_id"].as_str().unwrap_or_default().to_owned();
    (h.login_as(Role::Dispatcher).await, incident)
}

pub async fn road_closures_change_etas_at_once_and_reopening_restores_them(h: &Harness) {
    let net = network();
    let app = recorded(jikimi_server::router(
        h.state.clone().with_roads(net.clone()),
    ));
    let (dispatcher, incident) = scene(h, &app).await;
    let open = eta(&app, &dispatcher, &incident).await;
    let bridge_s = net
        .route(A, B, Metric::Time)
        .ok()
        .flatten()
        .expect("route")
        .duration_s;
    assert!((open - bridge_s).abs() < 0.01, "{open} vs {bridge_s}");

    // Close the bridge by a point on it: the very next recommendation takes the detour.
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/closures",
        Some(&dispatcher),
        Some(json!({"geometry": point(BRIDGE), "reason": "bridge collapsed"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["segments"], 1, "{body}");
    assert_eq!(body["closed_total"], 1, "{body}");
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    let closed = eta(&app, &dispatcher, &incident).await;
    let detour_s = [(A, C), (C, D), (D, B)]
        .iter()
        .map(|&(x, y)| haversine_m(x, y) / 10.0)
        .sum::<f64>();
    assert!(
        (closed - detour_s).abs() < 0.05,
        "closed {closed}, detour {detour_s}"
    );
    assert_eq!(net.closed_segments(), vec![0]);

    // Listed with who closed it and what it closes here.
    let (status, body) = call(&app, Method::GET, "/api/closures", Some(&dispatcher), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body[0]["id"], id.as_str());
    assert_eq!(body[0]["segments"], 1);
    assert_eq!(body[0]["reason"], "bridge collapsed");
    assert!(
        body[0]["closed_by"]
            .as_str()
            .unwrap_or_default()
            .starts_with("dispatcher-")
    );

    // An area over the detour's corner C closes A–C and C–D too: the incident is now unreachable from A by road.
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/closures",
        Some(&dispatcher),
        Some(json!({"geometry": square(C, 0.001), "reason": "flooded"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["segments"], 2, "{body}");
    assert_eq!(body["closed_total"], 3, "{body}");
    let flood = body["id"].as_str().unwrap_or_default().to_owned();
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/incidents/{incident}/recommend"),
        Some(&dispatcher),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["recommendations"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "cut off: {body}"
    );

    // Reopen both: the original ETA is back, exactly.
    for (closure, why) in [(&id, "bridge cleared"), (&flood, "water receded")] {
        let (status, body) = call(
            &app,
            Method::POST,
            &format!("/api/closures/{closure}/reopen"),
            Some(&dispatcher),
            Some(json!({"reason": why})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["reopened_at"].is_string(), "{body}");
    }
    assert_eq!(eta(&app, &dispatcher, &incident).await, open);
    assert!(net.closed_segments().is_empty());
    let (_, body) = call(&app, Method::GET, "/api/closures", Some(&dispatcher), None).await;
    assert_eq!(body, json!([]));
    let (_, body) = call(
        &app,
        Method::GET,
        "/api/closures?all=true",
        Some(&dispatcher),
        None,
    )
    .await;
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");

    // A second reopen is a conflict and changes nothing.
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/closures/{id}/reopen"),
        Some(&dispatcher),
        Some(json!({"reason": "again"})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );

    let audit = h.audit().await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.0.as_str())
        .filter(|a| a.starts_with("road."))
        .collect();
    assert_eq!(
        actions,
        [
            "road.closed",
            "road.closed",
            "road.reopened",
            "road.reopened"
        ]
    );
    assert!(
        audit
            .iter()
            .any(|e| e.0 == "road.closed" && e.1 == "bridge collapsed")
    );
}

pub async fn road_closures_made_elsewhere_reach_this_node_through_the_commit_feed(h: &Harness) {
    // A closure committed straight to the store (another node, the same database) is applied here by the follower.
    let net = network();
    let _state = h.state.clone().with_roads(net.clone());
    let record = jikimi_store::RoadClosureRecord {
        id: Uuid::now_v7(),
        closed_at: h.state.now(),
        closed_by: "other-node".into(),
        reason: "bridge collapsed".into(),
        geometry: point(BRIDGE).to_string(),
        reopened_at: None,
        reopened_by: None,
    };
    let change = jikimi_store::Change::new(
        jikimi_respond::Actor::Staff("other-node".into()),
        h.state.now(),
        "x",
    );
    h.store.close_road(&record, &change).await.expect("close");
    for _ in 0..100 {
        if net.closed_segments() == vec![0] {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the closure did not reach the network within 2 s");
}

pub async fn road_closures_refuse_attackers(h: &Harness) {
    let app = recorded(jikimi_server::router(h.state.clone().with_roads(network())));
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let analyst = h.login_as(Role::Analyst).await;
    let border = h.login_as(Role::BorderOfficer).await;
    let good = json!({"geometry": point(BRIDGE), "reason": "bridge collapsed"});
    let unknown = format!("/api/closures/{}/reopen", Uuid::now_v7());
    let reason = json!({"reason": "cleared"});

    // No credentials.
    for (method, path, body) in [
        (Method::POST, "/api/closures", Some(good.clone())),
        (Method::GET, "/api/closures", None),
        (Method::POST, unknown.as_str(), Some(reason.clone())),
    ] {
        let (status, answer) = call(&app, method, path, None, body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{path}"
        );
    }
    // Wrong roles: analysts read but do not close; border officers do neither.
    for (token, method, path, body) in [
        (&analyst, Method::POST, "/api/closures", Some(good.clone())),
        (
            &analyst,
            Method::POST,
            unknown.as_str(),
            Some(reason.clone()),
        ),
        (&border, Method::GET, "/api/closures", None),
    ] {
        let (status, answer) = call(&app, method, path, Some(token), body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
    }
    let (status, _) = call(&app, Method::GET, "/api/closures", Some(&analyst), None).await;
    assert_eq!(status, StatusCode::OK);

    // Malformed: not JSON, unknown fields, a bad query, a malformed id.
    let raw = Request::builder()
        .method(Method::POST)
        .uri("/api/closures")
        .header("authorization", format!("Bearer {dispatcher}"))
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    let (status, answer) = send_to(&app, raw).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid_payload")
    );
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/closures",
        Some(&dispatcher),
        Some(json!({"geometry": point(BRIDGE), "reason": "x", "segments": [1, 2]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/closures?all=maybe",
        Some(&dispatcher),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/closures/not-a-uuid/reopen",
        Some(&dispatcher),
        Some(reason.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Well-formed but unacceptable: a line, a point in the sea, an area with no road, a bad coordinate, no reason.
    for body in [
        json!({"geometry": {"type": "LineString", "coordinates": [[24.93, 60.17], [24.95, 60.17]]}, "reason": "x"}),
        json!({"geometry": point(LatLon { lat: 60.10, lon: 24.94 }), "reason": "x"}),
        json!({"geometry": square(LatLon { lat: 60.10, lon: 24.94 }, 0.001), "reason": "x"}),
        json!({"geometry": {"type": "Point", "coordinates": [24.94, 91.0]}, "reason": "x"}),
        json!({"geometry": point(BRIDGE), "reason": "  "}),
    ] {
        let (status, answer) = call(
            &app,
            Method::POST,
            "/api/closures",
            Some(&dispatcher),
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{body}: {answer}"
        );
    }
    let (status, answer) = call(
        &app,
        Method::POST,
        &unknown,
        Some(&dispatcher),
        Some(json!({"reason": ""})),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "{answer}"
    );

    // Oversized.
    let huge = json!({"geometry": point(BRIDGE), "reason": "x".repeat(BODY_LIMIT * 2)});
    for path in ["/api/closures", unknown.as_str()] {
        let (status, answer) = call(
            &app,
            Method::POST,
            path,
            Some(&dispatcher),
            Some(huge.clone()),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            "{path}"
        );
    }

    // Unknown id; nothing was closed by any of the above.
    let (status, answer) = call(
        &app,
        Method::POST,
        &unknown,
        Some(&dispatcher),
        Some(reason.clone()),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "closure_not_found"),
        "{answer}"
    );
    let (_, listed) = call(
        &app,
        Method::GET,
        "/api/closures?all=true",
        Some(&dispatcher),
        None,
    )
    .await;
    assert_eq!(listed, json!([]));
    assert!(h.audit().await.iter().all(|e| !e.0.starts_with("road.")));
}
