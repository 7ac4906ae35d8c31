//! Disaster mode through the API (issue 20), on both backends: declaration from JSON and from CAP (an invalid CAP
//! refused with its reason); the welfare check reaches exactly the subscribers in the area (just inside, just
//! outside, a multipolygon with a hole, a recent fix overriding the home); answers are idempotent and audited;
//! people trapped in one building stay individually tracked while surge clustering groups their alerts into one
//! site incident; every documented refusal.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jikimi_server::roles::Role;
use jikimi_server::signing;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{BODY_LIMIT, Harness, TestDevice};

/// Just over a metre, in degrees: the points "just inside" and "just outside" an edge.
const EPS: f64 = 0.000_02;

fn rect(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> Value {
    json!([
        [min_lon, min_lat],
        [max_lon, min_lat],
        [max_lon, max_lat],
        [min_lon, max_lat],
        [min_lon, min_lat]
    ])
}

/// Two polygons; the first has a hole.
fn area() -> Value {
    json!({"type": "MultiPolygon", "coordinates": [
        [rect(126.90, 37.50, 127.00, 37.60), rect(126.94, 37.54, 126.96, 37.56)],
        [rect(127.10, 37.50, 127.20, 37.60)],
    ]})
}

/// Registers a subscriber with one device of `kind`, a home and flags.
pub async fn register(
    h: &Harness,
    token: &str,
    home: Option<(f64, f64)>,
    vulnerability: Option<Value>,
    kind: &str,
) -> TestDevice {
    let key = signing::generate_device_key();
    let mut body = json!({
        "name": "Test Person", "phone": "010-1234-5678",
        "devices": [{"public_key": hex::encode(key.verifying_key().to_bytes()), "kind": kind}],
    });
    if let Some((lat, lon)) = home {
        body["home"] = json!({"lat": lat, "lon": lon});
    }
    if let Some(flags) = vulnerability {
        body["vulnerability"] = flags;
    }
    let (status, answer) = h
        .call(Method::POST, "/api/subscribers", Some(token), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    TestDevice {
        id: Uuid::parse_str(answer["device_ids"][0].as_str().expect("device id")).expect("uuid"),
        key,
        subscriber_id: Uuid::parse_str(answer["id"].as_str().expect("id")).expect("uuid"),
    }
}

/// The device's welfare poll.
pub async fn poll(h: &Harness, device: &TestDevice) -> (StatusCode, Value) {
    let nonce = Uuid::new_v4().simple().to_string();
    let headers = signing::sign_in(
        &jikimi_server::disaster::welfare::poll_context(&device.id),
        &device.key,
        &device.id,
        h.now_s(),
        &nonce,
        b"",
    );
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/devices/{}/welfare", device.id));
    for (name, value) in headers.pairs() {
        builder = builder.header(name, value);
    }
    h.send(builder.body(Body::empty()).expect("request")).await
}

/// The device answers.
pub async fn answer(
    h: &Harness,
    device: &TestDevice,
    disaster: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let id = Uuid::parse_str(disaster).expect("uuid");
    h.signed(
        device,
        &format!("/api/devices/{}/welfare/{disaster}/answer", device.id),
        &jikimi_server::disaster::welfare::answer_context(&id),
        body,
    )
    .await
}

async fn declare(h: &Harness, token: &str, body: Value) -> Value {
    let (status, declared) = h
        .call(Method::POST, "/api/disasters", Some(token), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    declared
}

/// Raw POST with a content type.
async fn post_raw(
    h: &Harness,
    token: Option<&str>,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/api/disasters")
        .header("content-type", content_type);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    h.send(builder.body(Body::from(body)).expect("request"))
        .await
}

fn cap_alert(area: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KMA-EQ-2026-0001</identifier>
  <sender>kma@weather.go.kr</sender>
  <sent>2026-12-06T12:00:00+09:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Geo</category>
    <event>Earthquake</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>Seoul earthquake M5.8</headline>
    <area><areaDesc>Jung-gu, Seoul</areaDesc>{area}</area>
  </info>
</alert>"#
    )
}

/// JSON declaration: exactly the subscribers whose place lies in the multipolygon are asked, in their language.
pub async fn welfare_check_reaches_exactly_the_area(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let inside_points = [
        (37.55, 126.90 + EPS), // just inside the west edge
        (37.60 - EPS, 126.97), // just inside the north edge
        (37.54 - EPS, 126.95), // just south of the hole
        (37.55, 127.15),       // the second polygon
    ];
    let outside_points = [
        (37.55, 126.90 - EPS), // just outside the west edge
        (37.60 + EPS, 126.97), // just outside the north edge
        (37.55, 126.95),       // in the hole
        (37.55, 127.05),       // between the polygons
    ];
    let mut inside = Vec::new();
    for p in inside_points {
        inside.push(register(h, &admin, Some(p), None, "app").await);
    }
    let mut outside = Vec::new();
    for p in outside_points {
        outside.push(register(h, &admin, Some(p), None, "app").await);
    }
    let homeless = register(h, &admin, None, None, "app").await;
    // Home outside, but a recent SOS inside: placed by the fix. Home inside, recent fix outside: not asked.
    let moved_in = register(h, &admin, Some((37.55, 127.05)), None, "app").await;
    let (status, _) = h.raise(&moved_in, crate::support::sos(37.52, 126.92)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let moved_out = register(h, &admin, Some((37.52, 126.92)), None, "app").await;
    let (status, _) = h
        .raise(&moved_out, crate::support::sos(37.55, 127.05))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let declared = declare(
        h,
        &supervisor,
        json!({"kind": "earthquake", "title": "Seoul earthquake", "area": area()}),
    )
    .await;
    let id = declared["id"].as_str().expect("id").to_string();
    assert_eq!(declared["welfare"]["asked"], 5, "{declared}");
    assert_eq!(declared["welfare"]["by_fix"], 1, "{declared}");
    assert_eq!(declared["welfare"]["by_home"], 4, "{declared}");

    for device in inside.iter().chain([&moved_in]) {
        let (status, polled) = poll(h, device).await;
        assert_eq!(status, StatusCode::OK, "{polled}");
        let checks = polled["checks"].as_array().expect("checks");
        assert_eq!(checks.len(), 1, "{polled}");
        assert_eq!(checks[0]["disaster_id"], id.as_str());
        assert_eq!(checks[0]["status"], "no_answer");
        assert_eq!(checks[0]["language"], "ko");
        assert!(
            checks[0]["text"]
                .as_str()
                .expect("text")
                .contains("Seoul earthquake"),
            "{polled}"
        );
    }
    for device in outside.iter().chain([&homeless, &moved_out]) {
        let (status, polled) = poll(h, device).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(polled["checks"], json!([]), "{polled}");
    }

    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, detail) = h
        .call(
            Method::GET,
            &format!("/api/disasters/{id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["kind"], "earthquake");
    assert_eq!(detail["area"]["type"], "MultiPolygon");
    assert_eq!(
        detail["counts"],
        json!({"safe": 0, "need_help": 0, "trapped": 0, "injured": 0, "no_answer": 5, "total": 5})
    );
    assert_eq!(detail["area_kind"], "h3");
    let per_area: u64 = detail["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .map(|a| a["counts"]["total"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(per_area, 5);
    // Each cell comes with its hexagon, for the console's choropleth.
    for area in detail["areas"].as_array().expect("areas") {
        assert_eq!(area["boundary"]["type"], "Polygon", "{area}");
        assert_eq!(
            area["boundary"]["coordinates"][0].as_array().map(Vec::len),
            Some(7)
        );
    }
    let (status, listed) = h
        .call(Method::GET, "/api/disasters", Some(&dispatcher), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["disasters"][0]["id"], id.as_str());

    let actions: Vec<String> = h.audit().await.into_iter().map(|(a, ..)| a).collect();
    for action in [
        "disaster.declared",
        "disaster.positions_read",
        "disaster.welfare_requested",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} audited");
    }
}

/// CAP declaration: the circle becomes the area and the event the kind; an invalid CAP is refused 400 with why.
pub async fn disasters_are_declared_from_cap(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let near = register(h, &admin, Some((37.5665, 126.978)), None, "app").await;
    // 950 m north: inside the 1 km circle; 1.2 km north: outside.
    let edge = register(
        h,
        &admin,
        Some((37.5665 + 0.95 / 111.195, 126.978)),
        None,
        "app",
    )
    .await;
    let far = register(
        h,
        &admin,
        Some((37.5665 + 1.2 / 111.195, 126.978)),
        None,
        "app",
    )
    .await;
    let xml = cap_alert("<circle>37.5665,126.978 1.0</circle>");
    let (status, declared) =
        post_raw(h, Some(&supervisor), "application/cap+xml", xml.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    assert_eq!(declared["welfare"]["asked"], 2, "{declared}");
    let id = declared["id"].as_str().expect("id");
    let (_, detail) = h
        .call(
            Method::GET,
            &format!("/api/disasters/{id}"),
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(detail["kind"], "earthquake", "{detail}");
    assert_eq!(detail["title"], "Seoul earthquake M5.8");
    assert_eq!(detail["cap_identifier"], "KMA-EQ-2026-0001");
    for (device, asked) in [(&near, 1), (&edge, 1), (&far, 0)] {
        let (_, polled) = poll(h, device).await;
        assert_eq!(
            polled["checks"].as_array().map(Vec::len),
            Some(asked),
            "{polled}"
        );
    }
    // A polygon area works too (a separate disaster; the same people are asked again for it).
    let polygon =
        cap_alert("<polygon>37.5,126.9 37.6,126.9 37.6,127.0 37.5,127.0 37.5,126.9</polygon>");
    let (status, declared) = post_raw(h, Some(&supervisor), "application/cap+xml", polygon).await;
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    assert_eq!(declared["welfare"]["asked"], 3, "{declared}");

    for (bad, why) in [
        ("<alert".to_string(), "invalid CAP"),
        (
            xml.replace("<sender>kma@weather.go.kr</sender>", ""),
            "sender",
        ),
        (
            cap_alert("<polygon>37.5,126.9 37.6,126.9 37.6,127.0</polygon>"),
            "polygon",
        ),
        (cap_alert(""), "no <polygon> or <circle>"),
    ] {
        let (status, refused) = post_raw(h, Some(&supervisor), "application/cap+xml", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"]["code"], "invalid_payload");
        let message = refused["error"]["message"].as_str().expect("message");
        assert!(message.contains(why), "{message} names {why}");
    }
}

/// Answers are idempotent per answer id and audited; people trapped in one building are tracked one by one (the
/// triage queue holds each, the more vulnerable first) while surge clustering puts their alerts in one incident.
pub async fn trapped_people_stay_individuals_within_one_site(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let building = (37.5512, 126.9881);
    let mut people = Vec::new();
    for i in 0..5 {
        let flags = (i == 3).then(|| json!({"elderly": true, "medical": true}));
        people.push(register(h, &admin, Some(building), flags, "app").await);
    }
    let safe = register(h, &admin, Some((37.56, 126.99)), None, "app").await;
    let declared = declare(h, &supervisor, json!({"kind": "earthquake", "title": "quake", "area": {"type": "Polygon", "coordinates": [rect(126.9, 37.5, 127.1, 37.6)]}})).await;
    let id = declared["id"].as_str().expect("id").to_string();
    let before = h.n_incidents().await;
    let mut answer_ids = Vec::new();
    for (i, device) in people.iter().enumerate() {
        let answer_id = Uuid::new_v4();
        answer_ids.push(answer_id);
        let battery = if i == 0 { 5 } else { 80 };
        let body = json!({"answer_id": answer_id, "answer": "trapped", "battery_pct": battery, "people": 1,
            "location": {"lat": building.0 + i as f64 * 0.00001, "lon": building.1, "accuracy_m": 8.0, "method": "gnss"}});
        let (status, recorded) = answer(h, device, &id, &body).await;
        assert_eq!(status, StatusCode::OK, "{recorded}");
        assert_eq!(recorded["status"], "trapped");
        assert_eq!(recorded["duplicate"], false);
        assert_eq!(
            recorded["report_interval_s"],
            if i == 0 { 600 } else { 60 },
            "{recorded}"
        );
        assert!(recorded["incident_id"].is_string(), "{recorded}");
        h.advance_s(1);
    }
    let (status, recorded) = answer(
        h,
        &safe,
        &id,
        &json!({"answer_id": Uuid::new_v4(), "answer": "safe"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{recorded}");
    assert_eq!(recorded["report_interval_s"], 3600);
    assert_eq!(recorded["incident_id"], Value::Null);

    // A retry (fresh nonce, same answer id) is a duplicate; a different answer under that id is a conflict.
    let retry = json!({"answer_id": answer_ids[1], "answer": "trapped", "battery_pct": 80});
    let (status, again) = answer(h, &people[1], &id, &retry).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["duplicate"], true);
    let (status, changed) = answer(
        h,
        &people[1],
        &id,
        &json!({"answer_id": answer_ids[1], "answer": "safe"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{changed}");

    // Surge clustering (200 m) folded the five answers into one site incident with five reports.
    let incidents = h.n_incidents().await - before;
    assert_eq!(incidents, 1, "one site incident");
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, triage) = h
        .call(
            Method::GET,
            &format!("/api/disasters/{id}/triage"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{triage}");
    let queue = triage["queue"].as_array().expect("queue");
    assert_eq!(queue.len(), 5, "each trapped person is in the queue");
    assert_eq!(
        queue[0]["subscriber_id"],
        people[3].subscriber_id.to_string(),
        "the vulnerable first"
    );
    assert_eq!(queue[0]["vulnerability"]["elderly"], true);
    // Then the longest silent.
    assert_eq!(
        queue[1]["subscriber_id"],
        people[0].subscriber_id.to_string()
    );
    assert_eq!(queue[1]["battery_pct"], 5);
    assert!(queue.iter().all(|e| e["status"] == "trapped"
        && e["stale_position"] == false
        && e["position"]["source"] == "answer"));
    let (_, detail) = h
        .call(
            Method::GET,
            &format!("/api/disasters/{id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(
        detail["counts"],
        json!({"safe": 1, "need_help": 0, "trapped": 5, "injured": 0, "no_answer": 0, "total": 6})
    );

    let audit = h.audit().await;
    assert_eq!(
        audit
            .iter()
            .filter(|(a, ..)| a == "welfare.answered")
            .count(),
        6,
        "every answer once"
    );
    assert!(
        audit
            .iter()
            .any(|(a, _, actor, _)| a == "disaster.triage_read" && actor.starts_with("staff:"))
    );

    // Closed: answers are refused; closing again is a conflict.
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/disasters/{id}/close"),
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/disasters/{id}/close"),
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, refused) = answer(
        h,
        &people[2],
        &id,
        &json!({"answer_id": Uuid::new_v4(), "answer": "injured"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (_, polled) = poll(h, &people[2]).await;
    assert_eq!(polled["checks"], json!([]));
}

/// Every documented refusal of the disaster endpoints, as an attacker would try them.
pub async fn disaster_endpoints_refuse_attacks(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let analyst = h.login_as(Role::Analyst).await;
    let body = json!({"kind": "flood", "title": "flood", "area": {"type": "Polygon", "coordinates": [rect(126.9, 37.5, 127.1, 37.6)]}});
    let (status, _) = h
        .call(Method::POST, "/api/disasters", None, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .call(
            Method::POST,
            "/api/disasters",
            Some(&dispatcher),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post_raw(h, Some(&supervisor), "application/json", "{not json".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post_raw(
        h,
        Some(&supervisor),
        "application/json",
        "x".repeat(BODY_LIMIT + 10),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    for bad in [
        json!({"kind": "meteor", "title": "x", "area": body["area"]}),
        json!({"kind": "flood", "title": "", "area": body["area"]}),
        json!({"kind": "flood", "title": "x", "area": {"type": "Point", "coordinates": [127.0, 37.5]}}),
        json!({"kind": "flood", "title": "x", "area": {"type": "Polygon", "coordinates": [[[127.0, 37.5], [127.1, 37.5], [127.0, 37.5]]]}}),
    ] {
        let (status, refused) = h
            .call(Method::POST, "/api/disasters", Some(&supervisor), Some(bad))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    }
    let device = register(h, &admin, Some((37.55, 127.0)), None, "app").await;
    let other = register(h, &admin, Some((37.55, 127.0)), None, "app").await;
    let declared = declare(h, &admin, body).await;
    let id = declared["id"].as_str().expect("id").to_string();
    let unknown = Uuid::new_v4();
    for path in [
        format!("/api/disasters/{unknown}"),
        format!("/api/disasters/{unknown}/triage"),
    ] {
        let (status, refused) = h.call(Method::GET, &path, Some(&dispatcher), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
        assert_eq!(refused["error"]["code"], "disaster_not_found");
    }
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/disasters/{unknown}/close"),
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in ["/api/disasters/nope", "/api/disasters/nope/triage"] {
        let (status, _) = h.call(Method::GET, path, Some(&dispatcher), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
    let (status, _) = h
        .call(
            Method::POST,
            "/api/disasters/nope/close",
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for (method, path) in [
        (Method::GET, "/api/disasters".to_string()),
        (Method::GET, format!("/api/disasters/{id}")),
        (Method::GET, format!("/api/disasters/{id}/triage")),
        (Method::POST, format!("/api/disasters/{id}/close")),
    ] {
        let (status, _) = h.call(method, &path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _) = h
        .call(
            Method::GET,
            &format!("/api/disasters/{id}/triage"),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "analysts never see positions"
    );
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/disasters/{id}/close"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let border = h.login_as(Role::BorderOfficer).await;
    let (status, _) = h
        .call(Method::GET, "/api/disasters", Some(&border), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Devices: unsigned, wrongly signed, another device's path, a disaster that did not ask them, malformed.
    let ok = json!({"answer_id": Uuid::new_v4(), "answer": "need_help"});
    let path = format!("/api/devices/{}/welfare/{id}/answer", device.id);
    let (status, _) = h.call(Method::POST, &path, None, Some(ok.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "missing headers");
    let impostor = TestDevice {
        id: device.id,
        key: signing::generate_device_key(),
        subscriber_id: device.subscriber_id,
    };
    let (status, _) = answer(h, &impostor, &id, &ok).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .signed(
            &other,
            &path,
            &jikimi_server::disaster::welfare::answer_context(&Uuid::parse_str(&id).expect("uuid")),
            &ok,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, refused) = answer(h, &device, &unknown.to_string(), &ok).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    let (status, _) = answer(
        h,
        &device,
        &id,
        &json!({"answer_id": Uuid::new_v4(), "answer": "no_answer"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = answer(
        h,
        &device,
        &id,
        &json!({"answer_id": Uuid::new_v4(), "answer": "safe", "battery_pct": 101}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = answer(h, &device, &id, &json!({"answer": "safe"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = answer(h, &device, &id, &json!({"pad": "x".repeat(BODY_LIMIT)})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A replayed request (same nonce) is refused 409.
    let bytes = serde_json::to_vec(&ok).expect("json");
    let nonce = Uuid::new_v4().simple().to_string();
    let headers = signing::sign_in(
        &jikimi_server::disaster::welfare::answer_context(&Uuid::parse_str(&id).expect("uuid")),
        &device.key,
        &device.id,
        h.now_s(),
        &nonce,
        &bytes,
    );
    let replayed = json!({"answer_id": Uuid::new_v4(), "answer": "need_help"});
    let replay_bytes = serde_json::to_vec(&replayed).expect("json");
    for (body, expected) in [(bytes.clone(), StatusCode::OK), (bytes, StatusCode::OK)] {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(&path)
            .header("content-type", "application/json");
        for (name, value) in headers.pairs() {
            builder = builder.header(name, value);
        }
        let (status, answered) = h
            .send(builder.body(Body::from(body)).expect("request"))
            .await;
        assert_eq!(
            status, expected,
            "the same answer again is a duplicate: {answered}"
        );
    }
    let headers = signing::sign_in(
        &jikimi_server::disaster::welfare::answer_context(&Uuid::parse_str(&id).expect("uuid")),
        &device.key,
        &device.id,
        h.now_s(),
        &nonce,
        &replay_bytes,
    );
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header("content-type", "application/json");
    for (name, value) in headers.pairs() {
        builder = builder.header(name, value);
    }
    let (status, replay) = h
        .send(builder.body(Body::from(replay_bytes)).expect("request"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{replay}");
    assert_eq!(replay["error"]["code"], "nonce_replayed");
    // Polls: another device's, unsigned.
    let (status, _) = h
        .call(
            Method::GET,
            &format!("/api/devices/{}/welfare", device.id),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let nonce = Uuid::new_v4().simple().to_string();
    let headers = signing::sign_in(
        &jikimi_server::disaster::welfare::poll_context(&device.id),
        &other.key,
        &other.id,
        h.now_s(),
        &nonce,
        b"",
    );
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/devices/{}/welfare", device.id));
    for (name, value) in headers.pairs() {
        builder = builder.header(name, value);
    }
    let (status, _) = h.send(builder.body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = poll(h, &impostor).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
