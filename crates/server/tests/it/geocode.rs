//! Civic addresses over the shipped central-Helsinki extract: every incident with a location shows its street
//! address (REST and live feed, not for analysts), and dispatchers look addresses up both ways, tested as an
//! attacker would (no session, wrong roles, malformed and oversized queries).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use jikimi_geocode::AddressIndex;
use jikimi_server::roles::Role;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::support::{Harness, recorded, sos};

/// The index `serve --addresses-pbf data/helsinki.osm.pbf` would load, built once per test binary.
fn helsinki() -> Arc<AddressIndex> {
    static INDEX: OnceLock<Arc<AddressIndex>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/helsinki.osm.pbf");
            match jikimi_geocode::import::import_path(std::path::Path::new(path)) {
                Ok(data) => Arc::new(AddressIndex::new(data)),
                Err(e) => panic!("importing {path}: {e}"),
            }
        })
        .clone()
}

async fn get(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut builder = Request::builder().method(Method::GET).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let request = builder.body(Body::empty()).expect("request");
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

async fn get_text(app: &Router, path: &str, token: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// An addressed feature with a street and number, and its pin.
fn some_address(index: &AddressIndex) -> (String, String, f64, f64) {
    index
        .features()
        .iter()
        .find_map(|f| {
            Some((
                f.address.street.clone()?,
                f.address.house_number.clone()?,
                f.point.lat,
                f.point.lon,
            ))
        })
        .expect("an addressed feature in the extract")
}

pub async fn incidents_show_their_street_address(h: &Harness) {
    let index = helsinki();
    let state = h.state.clone().with_addresses(index.clone());
    let app = recorded(jikimi_server::router(state));
    let (street, number, lat, lon) = some_address(&index);
    let mut live = h.state.live.subscribe(None);
    let device = h.device().await;
    let (status, body) = h.raise(&device, sos(lat, lon)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["incident_id"].as_str().unwrap_or_default().to_string();

    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, body) = get(&app, &format!("/api/incidents/{id}"), Some(&dispatcher)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let address = &body["incident"]["address"];
    assert_eq!(address["method"], "address", "{body}");
    // The pin of a feature answers that feature's address (or an overlapping one at distance zero).
    assert_eq!(address["distance_m"], 0.0, "{address}");
    let label = address["label"].as_str().unwrap_or_default();
    // The first feature is a node (nodes are imported first), and its own pin is exactly at it.
    assert_eq!(address["street"], street.as_str(), "{address}");
    assert!(
        label.starts_with(&format!("{street} {number}")),
        "{address}"
    );
    assert!(
        address["osm"].as_str().is_some_and(|o| o.contains('/')),
        "{address}"
    );

    // The alert's fix in the event log carries the same address.
    assert_eq!(
        body["events"][0]["event"]["fix"]["address"], *address,
        "{body}"
    );
    let (status, list) = get(&app, "/api/incidents", Some(&dispatcher)).await;
    assert_eq!(status, StatusCode::OK);
    let listed = list
        .as_array()
        .and_then(|l| l.iter().find(|i| i["id"] == id.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(listed["address"], *address, "{listed}");

    // The live feed carries what the REST API answers.
    let event = h.live_incident(&mut live, &id).await;
    assert_eq!(event["address"]["label"], address["label"], "{event}");

    // Analysts: no address at all (finer than their H3 cell, and it says who called).
    let analyst = h.login_as(Role::Analyst).await;
    let (status, body) = get(&app, &format!("/api/incidents/{id}"), Some(&analyst)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["incident"]["address"], Value::Null, "{body}");
    assert_eq!(
        body["events"][0]["event"]["fix"].get("address"),
        None,
        "{body}"
    );

    // CAP and EIDO exports carry the street address for dispatchers, and at most the city for analysts.
    for path in ["cap", "eido"] {
        let (status, document) =
            get_text(&app, &format!("/api/incidents/{id}/{path}"), &dispatcher).await;
        assert_eq!(status, StatusCode::OK, "{document}");
        assert!(document.contains(street.as_str()), "{path}: {document}");
        let (status, document) =
            get_text(&app, &format!("/api/incidents/{id}/{path}"), &analyst).await;
        assert_eq!(status, StatusCode::OK, "{document}");
        assert!(!document.contains(street.as_str()), "{path}: {document}");
    }

    // Without address data: null, not an error.
    let (status, body) = h
        .call(
            Method::GET,
            &format!("/api/incidents/{id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["incident"]["address"], Value::Null);
}

pub async fn dispatchers_geocode_both_ways(h: &Harness) {
    let index = helsinki();
    let app = recorded(jikimi_server::router(
        h.state.clone().with_addresses(index.clone()),
    ));
    let (street, number, lat, lon) = some_address(&index);
    let dispatcher = h.login_as(Role::Dispatcher).await;

    // Forward: typed in lower case, found; the hit's point is the feature's pin.
    let q = format!("{} {number}", street.to_lowercase());
    let path = format!("/api/geocode?q={}&limit=5", urlencode(&q));
    let (status, body) = get(&app, &path, Some(&dispatcher)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["loaded"], true);
    let first = &body["results"][0];
    assert_eq!(first["address"]["street"], street.as_str(), "{body}");
    assert_eq!(first["address"]["house_number"], number.as_str(), "{body}");
    assert!(
        body["attribution"]
            .as_str()
            .is_some_and(|a| a.contains("OpenStreetMap"))
    );

    // Reverse at the pin.
    let (status, body) = get(
        &app,
        &format!("/api/geocode/reverse?lat={lat}&lon={lon}"),
        Some(&dispatcher),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["address"]["method"], "address", "{body}");
    // In the sea south of the extract: nothing near, an empty answer.
    let (status, body) = get(
        &app,
        "/api/geocode/reverse?lat=60.10&lon=24.90",
        Some(&dispatcher),
    )
    .await;
    assert_eq!((status, &body["address"]), (StatusCode::OK, &Value::Null));

    // No session; roles that do not dispatch.
    for path in [
        "/api/geocode?q=a",
        "/api/geocode/reverse?lat=60.17&lon=24.94",
    ] {
        let (status, _) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        for role in [Role::Analyst, Role::BorderOfficer, Role::Admin] {
            let token = h.login_as(role).await;
            let (status, body) = get(&app, path, Some(&token)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} {role:?}: {body}");
        }
    }

    // Malformed and oversized.
    let long = "a".repeat(201);
    for path in [
        "/api/geocode".to_string(),
        "/api/geocode?q=".to_string(),
        "/api/geocode?q=%20%20".to_string(),
        format!("/api/geocode?q={long}"),
        "/api/geocode?q=a&limit=0".to_string(),
        "/api/geocode?q=a&limit=51".to_string(),
        "/api/geocode/reverse".to_string(),
        "/api/geocode/reverse?lat=abc&lon=24.9".to_string(),
        "/api/geocode/reverse?lat=91&lon=24.9".to_string(),
        "/api/geocode/reverse?lat=60.1&lon=NaN".to_string(),
        "/api/geocode/reverse?lat=60.1&lon=inf".to_string(),
    ] {
        let (status, body) = get(&app, &path, Some(&dispatcher)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_field", "{path}: {body}");
    }
    // A query string axum cannot parse into the documented shape: the 400 of every query.
    let (status, _) = get(&app, "/api/geocode?q=a&limit=many", Some(&dispatcher)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Without address data: loaded false, no results, not an error.
    let bare = recorded(jikimi_server::router(h.state.clone()));
    let (status, body) = get(&bare, "/api/geocode?q=mannerheimintie", Some(&dispatcher)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&body["loaded"], body["results"].as_array().map(Vec::len)),
        (&Value::Bool(false), Some(0))
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
