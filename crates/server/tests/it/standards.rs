//! CAP 1.2 and EIDO at the API (issue 21, parts 1 and 2): incident exports in each role's view, validated against
//! the OASIS schema with xmllint, and the CAP import, each tried as an attacker would (no credentials, wrong role,
//! malformed, oversized, a DTD with external entities, replayed).

use std::io::Write as _;
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use jikimi_server::roles::Role;
use jikimi_server::views::generalise_point;
use serde_json::Value;
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::support::{BODY_LIMIT, Harness, sos};

const CAP_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../standards/tests/data/cap");
const LAT: f64 = 37.567_1;
const LON: f64 = 126.978_3;

/// Sends a request with a raw body; returns status, content type and body text.
async fn raw(
    h: &Harness,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: String,
) -> (StatusCode, String, String) {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .header("content-length", body.len().to_string());
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let response = h
        .app
        .clone()
        .oneshot(builder.body(Body::from(body)).expect("request"))
        .await
        .expect("answer");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn get(h: &Harness, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    raw(
        h,
        Method::GET,
        path,
        token,
        "application/json",
        String::new(),
    )
    .await
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .map(|v| v["error"]["code"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// Validates against the vendored OASIS schema; a missing xmllint is a failure (`.ci/setup-xmllint.sh`).
fn assert_valid_cap(document: &str) {
    let mut child = Command::new("xmllint")
        .args([
            "--noout",
            "--nonet",
            "--schema",
            &format!("{CAP_DATA}/CAP-v1.2.xsd"),
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint is needed (Debian: libxml2-utils; .ci/setup-xmllint.sh installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(document.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("xmllint");
    assert!(
        out.status.success(),
        "{}\n{document}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn incident(h: &Harness) -> (String, Uuid) {
    let device = h.device().await;
    let (status, body) = h.raise(&device, sos(LAT, LON)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    (
        body["incident_id"]
            .as_str()
            .expect("incident id")
            .to_string(),
        device.id,
    )
}

/// Exports in each role's view: dispatchers and supervisors get the exact location, analysts the H3 cell centre;
/// neither carries the device or subscriber; border officers and strangers get nothing.
pub async fn incident_exports_follow_the_role_view(h: &Harness) {
    let (id, device) = incident(h).await;
    let (cell_lat, cell_lon, _) = generalise_point(LAT, LON).expect("cell");
    for (role, exact) in [
        (Role::Dispatcher, true),
        (Role::Supervisor, true),
        (Role::Analyst, false),
    ] {
        let token = h.login_as(role).await;
        let (status, content_type, xml) =
            get(h, &format!("/api/incidents/{id}/cap"), Some(&token)).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "application/cap+xml"),
            "{xml}"
        );
        assert_valid_cap(&xml);
        let alert = jikimi_standards::cap::parse(&xml).expect("our own CAP reads back");
        let circle = alert.areas().next().expect("area").circles[0];
        let expected = if exact {
            (LAT, LON)
        } else {
            (cell_lat, cell_lon)
        };
        assert_eq!(
            (circle.centre().lat, circle.centre().lon),
            expected,
            "{role:?}"
        );
        assert!(!xml.contains(&device.to_string()));

        let (status, content_type, json) =
            get(h, &format!("/api/incidents/{id}/eido"), Some(&token)).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "application/json"),
            "{json}"
        );
        let eido = jikimi_standards::eido::Eido::from_json(&json).expect("our own EIDO reads back");
        let referral = jikimi_standards::mapping::eido_to_referral(&eido).expect("referral");
        assert_eq!(referral.point, Some(expected), "{role:?}");
        assert_eq!(referral.referring_agency, "jikimi.invalid");
        assert_eq!(referral.priority.code(), 1);
        assert!(!json.contains(&device.to_string()));
    }
    let border = h.login_as(Role::BorderOfficer).await;
    for kind in ["cap", "eido"] {
        let path = format!("/api/incidents/{id}/{kind}");
        let (status, _, body) = get(h, &path, Some(&border)).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let (status, _, body) = get(h, &path, None).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );
        let (status, _, body) = get(h, &path, Some("not-a-session")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
}

/// 404 for an unknown incident, 400 for a malformed id, on both exports.
pub async fn incident_exports_refuse_unknown_and_malformed_ids(h: &Harness) {
    let dispatcher = h.login_as(Role::Dispatcher).await;
    for kind in ["cap", "eido"] {
        let (status, _, body) = get(
            h,
            &format!("/api/incidents/{}/{kind}", Uuid::new_v4()),
            Some(&dispatcher),
        )
        .await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::NOT_FOUND, "incident_not_found")
        );
        let (status, _, body) = get(
            h,
            &format!("/api/incidents/not-a-uuid/{kind}"),
            Some(&dispatcher),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

/// The CAP import parses an OASIS example into typed areas, stores nothing, answers a replay the same, and refuses
/// strangers, analysts, other media types, DTDs with external entities, schema breaches and oversized bodies.
pub async fn cap_import_parses_areas_and_refuses_attacks(h: &Harness) {
    let example =
        std::fs::read_to_string(format!("{CAP_DATA}/oasis-example-a2.xml")).expect("example");
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let before = h.n_incidents().await;
    let mut answers = Vec::new();
    for token in [&supervisor, &dispatcher, &supervisor] {
        let (status, _, body) = raw(
            h,
            Method::POST,
            "/api/cap/import",
            Some(token),
            "application/cap+xml",
            example.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        answers.push(body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "a replay answers the same"
    );
    let parsed: Value = serde_json::from_str(&answers[0]).expect("json");
    assert_eq!(parsed["identifier"], "KSTO1055887203");
    assert_eq!(
        parsed["areas"][0]["polygons"][0][0],
        serde_json::json!([38.47, -120.14])
    );
    assert_eq!(
        parsed["areas"][0]["polygons"][0]
            .as_array()
            .expect("ring")
            .len(),
        5
    );
    assert_eq!(
        parsed["areas"][0]["geocodes"][0],
        serde_json::json!(["SAME", "006109"])
    );
    assert_eq!(h.n_incidents().await, before, "the import stores nothing");

    let post = |token: Option<String>, content_type: &'static str, body: String| async move {
        let (status, _, answer) = raw(
            h,
            Method::POST,
            "/api/cap/import",
            token.as_deref(),
            content_type,
            body,
        )
        .await;
        (status, code(&answer), answer)
    };
    let (status, c, _) = post(None, "application/cap+xml", example.clone()).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    for role in [Role::Analyst, Role::BorderOfficer] {
        let token = h.login_as(role).await;
        let (status, c, _) = post(Some(token), "application/cap+xml", example.clone()).await;
        assert_eq!(
            (status, c.as_str()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{role:?}"
        );
    }
    let (status, c, _) = post(
        Some(supervisor.clone()),
        "application/json",
        example.clone(),
    )
    .await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_payload")
    );
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        example
            .replacen("<?xml version = \"1.0\" encoding = \"UTF-8\"?>", "", 1)
            .replace("SEVERE THUNDERSTORM<", "&x;<")
    );
    let (status, c, answer) = post(Some(supervisor.clone()), "application/cap+xml", xxe).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_payload"),
        "{answer}"
    );
    assert!(!answer.contains("root:"), "no file content leaks");
    let (status, c, _) = post(Some(supervisor.clone()), "application/xml", "<alert".into()).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_payload")
    );
    let no_sender = example.replace("<sender>KSTO@NWS.NOAA.GOV</sender>", "");
    let (status, c, answer) =
        post(Some(supervisor.clone()), "application/cap+xml", no_sender).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
    assert!(answer.contains("sender"), "{answer}");
    let open_ring = example.replace("38.62,-119.89 38.47,-120.14", "38.62,-119.89 38.47,-120.15");
    let (status, c, answer) =
        post(Some(supervisor.clone()), "application/cap+xml", open_ring).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
    assert!(answer.contains("polygon"), "{answer}");
    let big = example.replace(
        "<contact>",
        &format!("<note>{}</note><contact>", "a".repeat(BODY_LIMIT)),
    );
    let (status, c, _) = post(Some(supervisor), "application/cap+xml", big).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

fn warning_body() -> Value {
    serde_json::json!({
        "headline": "Flooding on the Han <river> & roads",
        "description": "Stay away from the riverbanks.",
        "instruction": "Move to higher ground.",
        "category": "Met", "urgency": "Immediate", "severity": "Severe", "certainty": "Observed",
        "area": {
            "area_desc": "Yeouido, Seoul",
            "polygons": [[[37.52, 126.91], [37.53, 126.94], [37.51, 126.94], [37.52, 126.91]]],
            "circles": [{"centre": [37.52, 126.92], "radius_km": 1.5}],
        },
        "expires_in_s": 21_600,
        "language": "ko",
    })
}

/// Supervisors issue public warnings; the public Atom feed carries each as a CAP alert valid against the OASIS
/// schema, newest first. Everyone else is refused, and so are malformed, invalid and oversized warnings.
pub async fn warnings_are_issued_by_supervisors_and_published_in_the_feed(h: &Harness) {
    let (status, content_type, feed) = get(h, "/api/warnings.atom", None).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/atom+xml")
    );
    assert!(!feed.contains("<entry>"));

    let supervisor = h.login_as(Role::Supervisor).await;
    let (status, first) = h
        .call(
            Method::POST,
            "/api/warnings",
            Some(&supervisor),
            Some(warning_body()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    h.advance_s(60);
    let mut second_body = warning_body();
    second_body["headline"] = "Second warning".into();
    let (status, second) = h
        .call(
            Method::POST,
            "/api/warnings",
            Some(&supervisor),
            Some(second_body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let audit = h.audit().await;
    assert_eq!(
        audit
            .iter()
            .filter(|entry| format!("{entry:?}").contains("warning.issued"))
            .count(),
        2
    );

    let (status, _, feed) = get(h, "/api/warnings.atom", None).await;
    assert_eq!(status, StatusCode::OK);
    let alerts: Vec<&str> = feed
        .match_indices("<alert ")
        .map(|(start, _)| {
            let end = feed[start..].find("</alert>").expect("end") + start + "</alert>".len();
            &feed[start..end]
        })
        .collect();
    assert_eq!(alerts.len(), 2);
    for xml in &alerts {
        assert_valid_cap(xml);
    }
    let newest = jikimi_standards::cap::parse(alerts[0]).expect("cap");
    assert_eq!(newest.infos[0].headline.as_deref(), Some("Second warning"));
    assert_eq!(
        newest.identifier,
        second["cap_identifier"].as_str().expect("identifier")
    );
    assert_eq!(newest.scope, jikimi_standards::cap::Scope::Public);
    let oldest = jikimi_standards::cap::parse(alerts[1]).expect("cap");
    assert_eq!(
        oldest.infos[0].headline.as_deref(),
        Some("Flooding on the Han <river> & roads")
    );
    assert_eq!(
        oldest.areas().next().expect("area").polygons[0]
            .ring()
            .len(),
        4
    );
    assert!(!feed.contains("supervisor-"), "the feed names no one");

    let (status, body) = h
        .call(Method::POST, "/api/warnings", None, Some(warning_body()))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    for role in [
        Role::Dispatcher,
        Role::Analyst,
        Role::Admin,
        Role::BorderOfficer,
    ] {
        let token = h.login_as(role).await;
        let (status, body) = h
            .call(
                Method::POST,
                "/api/warnings",
                Some(&token),
                Some(warning_body()),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{role:?}"
        );
    }
    let (status, _, body) = raw(
        h,
        Method::POST,
        "/api/warnings",
        Some(&supervisor),
        "application/json",
        "{\"headline\":".into(),
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_payload")
    );
    let invalid = [
        ("category", serde_json::json!("Weather")),
        ("urgency", serde_json::json!("Now")),
        ("headline", serde_json::json!(" ")),
        ("expires_in_s", serde_json::json!(0)),
        ("language", serde_json::json!("ko kr")),
    ];
    for (field, value) in invalid {
        let mut body = warning_body();
        body[field] = value;
        let (status, answer) = h
            .call(Method::POST, "/api/warnings", Some(&supervisor), Some(body))
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")),
            "{field}"
        );
    }
    let mut open_ring = warning_body();
    open_ring["area"]["polygons"][0][3] = serde_json::json!([37.0, 126.0]);
    let (status, answer) = h
        .call(
            Method::POST,
            "/api/warnings",
            Some(&supervisor),
            Some(open_ring),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("polygon")
    );
    let mut big = warning_body();
    big["description"] = "a".repeat(BODY_LIMIT).into();
    let (status, answer) = h
        .call(Method::POST, "/api/warnings", Some(&supervisor), Some(big))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (_, _, feed) = get(h, "/api/warnings.atom", None).await;
    assert_eq!(
        feed.matches("<entry>").count(),
        2,
        "refused warnings are not published"
    );
}

/// The feed needs no credentials, so it is read from the store at most once per TTL: a warning that reaches the
/// store another way (as through another node) shows once the TTL has passed, not on the very next request.
pub async fn the_public_feed_reads_the_store_at_most_once_per_ttl(h: &Harness) {
    let (_, _, feed) = get(h, "/api/warnings.atom", None).await;
    assert!(!feed.contains("<entry>"));
    let now = h.state.now();
    h.state
        .store
        .issue_warning(
            &jikimi_store::WarningRecord {
                id: Uuid::now_v7(),
                issued_at: now,
                body: warning_body().to_string(),
            },
            &jikimi_store::Change::new(
                jikimi_respond::Actor::Staff("another-node".into()),
                now,
                "public warning issued",
            ),
        )
        .await
        .expect("stored");
    let (_, _, feed) = get(h, "/api/warnings.atom", None).await;
    assert!(!feed.contains("<entry>"), "served again within the TTL");
    h.advance_s(3);
    let (status, _, feed) = get(h, "/api/warnings.atom", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(feed.contains("<entry>"), "{feed}");
}
