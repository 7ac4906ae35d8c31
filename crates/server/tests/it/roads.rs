//! Road-travel-time dispatch over the shipped central-Helsinki extract: the recommendation ranks units by road ETA
//! (not straight-line distance), leaves out units off the road network, explains each rank, and
//! `GET /api/map/roads` serves the network as GeoJSON.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use jikimi_respond::{Coordinates, haversine_m};
use jikimi_roads::{LatLon, Metric, Profile, RoadNetwork};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{Harness, sos};

/// The network `serve --roads-pbf data/helsinki.osm.pbf` would load, built once per test binary.
fn helsinki() -> Arc<RoadNetwork> {
    static NET: OnceLock<Arc<RoadNetwork>> = OnceLock::new();
    NET.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/helsinki.osm.pbf");
        match RoadNetwork::from_pbf(std::path::Path::new(path), Profile::Emergency) {
            Ok(n) => Arc::new(n),
            Err(e) => panic!("importing {path}: {e}"),
        }
    })
    .clone()
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let request = match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request");
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn coords(p: LatLon) -> Coordinates {
    Coordinates::new(p.lat, p.lon).expect("graph coordinates are valid")
}

/// Finds, on the real graph, an incident and two unit positions where the unit nearer in a straight line is clearly
/// slower by road (one-way streets, the harbour, blocks): `(incident, near_but_slow, far_but_fast)`.
fn straight_line_and_road_disagree(net: &RoadNetwork) -> (LatLon, LatLon, LatLon) {
    let nodes = &net.graph().coords;
    let step = (nodes.len() / 60).max(1);
    let candidates: Vec<LatLon> = nodes.iter().step_by(step).copied().collect();
    for incident in nodes.iter().step_by(step * 3 + 1).copied() {
        if net.snap(incident).is_err() {
            continue;
        }
        let etas = net.many_to_one(&candidates, incident, Metric::Time);
        let reachable: Vec<(LatLon, f64, f64)> = candidates
            .iter()
            .zip(etas)
            .filter_map(|(&p, r)| {
                let r = r.ok()??;
                let straight = haversine_m(coords(p), coords(incident));
                (straight > 100.0).then_some((p, straight, r.duration_s))
            })
            .collect();
        for &(a, da, ta) in &reachable {
            for &(b, db, tb) in &reachable {
                // a is nearer in a straight line (by a real margin) but at least 30 s and 30 % slower by road.
                if da + 50.0 < db && ta > tb * 1.3 + 30.0 {
                    return (incident, a, b);
                }
            }
        }
    }
    panic!("no pair where straight-line and road order differ in the Helsinki extract");
}

pub async fn road_eta_ranks_units_by_travel_time_not_distance(h: &Harness) {
    let net = helsinki();
    let (incident, near_slow, far_fast) = straight_line_and_road_disagree(&net);
    let app = crate::support::recorded(jikimi_server::router(
        h.state.clone().with_roads(net.clone()),
    ));
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    // A unit out in the harbour, a kilometre south of the extract: beyond the snap limit, so not recommendable.
    let at_sea = LatLon {
        lat: 60.154,
        lon: 24.944,
    };
    for (unit, p) in [
        ("NEAR-SLOW", near_slow),
        ("FAR-FAST", far_fast),
        ("AT-SEA", at_sea),
    ] {
        let (status, body) = call(
            &app,
            Method::PUT,
            &format!("/api/units/{unit}"),
            &supervisor,
            Some(json!({"status": "available", "position": {"lat": p.lat, "lon": p.lon}})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let device = h.device().await;
    let (status, body) = h.raise(&device, sos(incident.lat, incident.lon)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["incident_id"].as_str().unwrap_or_default().to_string();
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/incidents/{id}/recommend"),
        &dispatcher,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recs = body["recommendations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let order: Vec<&str> = recs.iter().filter_map(|r| r["unit"].as_str()).collect();
    assert_eq!(
        order,
        ["FAR-FAST", "NEAR-SLOW"],
        "road ETA ranks, the unit at sea is left out: {body}"
    );
    for r in &recs {
        assert_eq!(r["method"], "road", "{r}");
        let (eta, dist, snap) = (
            r["eta_s"].as_f64().unwrap_or(-1.0),
            r["distance_m"].as_f64().unwrap_or(-1.0),
            r["snap_m"].as_f64().unwrap_or(-1.0),
        );
        assert!(eta > 0.0 && dist > 0.0, "{r}");
        // Units stand on graph nodes, the incident on one too: nothing is off-road.
        assert!((0.0..1.0).contains(&snap), "{r}");
    }
    // The explanation matches the engine's own answer for the fast unit.
    let direct = net
        .route(far_fast, incident, Metric::Time)
        .ok()
        .flatten()
        .expect("reachable");
    let eta0 = recs[0]["eta_s"].as_f64().unwrap_or_default();
    assert!(
        (eta0 - direct.duration_s).abs() < 0.01,
        "{eta0} vs {direct:?}"
    );
}

pub async fn incident_off_road_falls_back_to_straight_line(h: &Harness) {
    let app = crate::support::recorded(jikimi_server::router(
        h.state.clone().with_roads(helsinki()),
    ));
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/units/P-1",
        &supervisor,
        Some(json!({"status": "available", "position": {"lat": 60.1699, "lon": 24.9384}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // In the harbour, far beyond the snap limit.
    let device = h.device().await;
    let (status, body) = h.raise(&device, sos(60.154, 24.944)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["incident_id"].as_str().unwrap_or_default().to_string();
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/incidents/{id}/recommend"),
        &dispatcher,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recommendations"][0]["unit"], "P-1", "{body}");
    assert_eq!(
        body["recommendations"][0]["method"], "straight_line_incident_off_road",
        "{body}"
    );
}

pub async fn map_roads_serves_the_network_as_geojson(h: &Harness) {
    let net = helsinki();
    let app = crate::support::recorded(jikimi_server::router(
        h.state.clone().with_roads(net.clone()),
    ));
    let analyst = h.login_as(Role::Analyst).await;
    let (status, body) = call(&app, Method::GET, "/api/map/roads", &analyst, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["type"], "Feature");
    assert_eq!(body["geometry"]["type"], "MultiLineString");
    let lines = body["geometry"]["coordinates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(lines.len(), net.num_segments());
    assert_eq!(body["properties"]["loaded"], true);
    // [lon, lat] order, inside central Helsinki.
    let first = &lines[0][0];
    let (lon, lat) = (
        first[0].as_f64().unwrap_or(0.0),
        first[1].as_f64().unwrap_or(0.0),
    );
    assert!(
        (24.9..25.0).contains(&lon) && (60.1..60.2).contains(&lat),
        "{first}"
    );
    // Without a network: an empty layer, not an error; without a session: refused.
    let (status, body) = h
        .call(Method::GET, "/api/map/roads", Some(&analyst), None)
        .await;
    assert_eq!(
        (status, &body["properties"]["loaded"]),
        (StatusCode::OK, &json!(false))
    );
    let (status, _) = h.call(Method::GET, "/api/map/roads", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
