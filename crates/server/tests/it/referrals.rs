//! EIDO referrals from another CAD (issue 21, part 2): `POST /api/incidents/import/eido` opens an incident without
//! a device, once per EIDO `$id` (a replay and a concurrent post answer the same incident with 200), published on
//! the live feed and audited; an incident exported as an EIDO and imported back keeps its mapped fields. Tried as
//! an attacker would: no credentials, wrong role, malformed JSON, JSON that is not an EIDO, oversized, no location.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jikimi_respond::{Actor, EventKind, IncidentId};
use jikimi_server::roles::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::support::{BODY_LIMIT, Harness, sos};

const PATH: &str = "/api/incidents/import/eido";
const LAT: f64 = 37.567_1;
const LON: f64 = 126.978_3;

fn post(token: Option<&str>, body: String) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(PATH)
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string());
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::from(body)).expect("request")
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// An incident raised over HTTP at (LAT, LON), exported as an EIDO by a supervisor.
async fn exported(h: &Harness, supervisor: &str) -> (Uuid, Value) {
    let device = h.device().await;
    let (status, body) = h.raise(&device, sos(LAT, LON)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id: Uuid = body["incident_id"]
        .as_str()
        .expect("incident id")
        .parse()
        .expect("uuid");
    let (status, eido) = h
        .call(
            Method::GET,
            &format!("/api/incidents/{id}/eido"),
            Some(supervisor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{eido}");
    (id, eido)
}

/// The exported document as another CAD would send it: its own `$id` and agency.
fn as_referral(mut eido: Value, id: &str, agency: &str) -> Value {
    eido["$id"] = Value::from(id);
    eido["updatedByAgencyReference"]["$ref"] = Value::from(agency);
    eido["issuingElementIdentification"] = Value::from(format!("cad.{agency}"));
    eido
}

pub async fn eido_referral_round_trips_once_per_id_on_the_feed(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (source, eido) = exported(h, &supervisor).await;
    let source = h
        .store
        .get_incident(IncidentId(source))
        .await
        .expect("source");
    let mut live = h.state.live.subscribe(None);
    let before = h.n_incidents().await;

    // The export imported back as it is: the same server acts as the receiving CAD.
    let (status, first) = h.send(post(Some(&dispatcher), eido.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["duplicate"], false);
    let id = first["incident_id"].as_str().expect("id").to_string();
    assert_ne!(id, source.id.to_string(), "a referral is a new incident");
    assert_eq!(first["external_id"], eido["$id"]);
    let dto = h.live_incident(&mut live, &id).await;
    assert_eq!(dto["status"], "received", "{dto}");

    let imported = h
        .store
        .get_incident(IncidentId(id.parse().expect("uuid")))
        .await
        .expect("imported");
    assert_eq!(imported.priority, source.priority);
    let (a, b) = (
        imported.location.expect("location"),
        source.location.expect("location"),
    );
    assert!(
        (a.coords.lat() - b.coords.lat()).abs() < 1e-6,
        "{a:?} {b:?}"
    );
    assert!(
        (a.coords.lon() - b.coords.lon()).abs() < 1e-6,
        "{a:?} {b:?}"
    );
    assert!((a.accuracy_m - b.accuracy_m).abs() < 1.0, "{a:?} {b:?}");
    let events = h.store.load_events(imported.id).await.expect("events");
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0].actor, Actor::Staff(_)));
    match &events[0].kind {
        EventKind::Referred {
            from_agency,
            external_id,
            incident_type,
            priority,
            ..
        } => {
            assert_eq!(
                Some(from_agency.as_str()),
                eido["updatedByAgencyReference"]["$ref"].as_str()
            );
            assert_eq!(Some(external_id.as_str()), eido["$id"].as_str());
            assert_eq!(incident_type.as_deref(), Some("Police"));
            assert_eq!(*priority, source.priority);
        }
        other => panic!("the first event must be referred: {other:?}"),
    }

    // A replay, by anyone allowed: the same incident, 200, nothing new.
    for token in [&dispatcher, &supervisor] {
        let (status, again) = h.send(post(Some(token), eido.to_string())).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["duplicate"], true);
        assert_eq!(again["incident_id"], first["incident_id"]);
    }
    assert_eq!(h.n_incidents().await, before + 1);

    // Two posts of a new referral at once: one incident, one 201 and one 200.
    let other = as_referral(
        eido.clone(),
        "urn:emergency:uid:incidentid:77:busan.police.example",
        "busan.police.example",
    );
    let (ra, rb) = tokio::join!(
        h.send(post(Some(&dispatcher), other.to_string())),
        h.send(post(Some(&supervisor), other.to_string())),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CREATED],
        "{} {}",
        ra.1,
        rb.1
    );
    assert_eq!(ra.1["incident_id"], rb.1["incident_id"]);
    assert_eq!(ra.1["from_agency"], "busan.police.example");
    assert_eq!(h.n_incidents().await, before + 2);

    let audit = h.store.list_audit(0, 10_000).await.expect("audit");
    let referred: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "incident.referred")
        .collect();
    assert_eq!(
        referred.len(),
        2,
        "one entry per incident, none for replays"
    );
    jikimi_store::verify_audit(&*h.store).await.expect("chain");
}

pub async fn eido_import_refuses_attacks(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (_, eido) = exported(h, &supervisor).await;
    let referral = as_referral(
        eido,
        "urn:emergency:uid:incidentid:9:daegu.police.example",
        "daegu.police.example",
    );
    let before = h.n_incidents().await;

    let (status, body) = h.send(post(None, referral.to_string())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = h.send(post(Some(&analyst), referral.to_string())).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{body}"
    );

    let (status, body) = h.send(post(Some(&dispatcher), "{\"$id\": ".into())).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_payload"),
        "{body}"
    );
    let (status, body) = h
        .send(post(Some(&dispatcher), "{\"hello\": \"world\"}".into()))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "{body}"
    );
    let mut wrong_version = referral.clone();
    wrong_version["eidoVersion"] = Value::from("9.9");
    let (status, body) = h
        .send(post(Some(&dispatcher), wrong_version.to_string()))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "{body}"
    );

    let mut nowhere = referral.clone();
    nowhere["locationComponent"] = Value::Array(Vec::new());
    nowhere["incidentComponent"]["locationReference"] = Value::Array(Vec::new());
    let (status, body) = h.send(post(Some(&dispatcher), nowhere.to_string())).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "{body}"
    );
    assert!(body.to_string().contains("locationComponent"), "{body}");

    let mut big = referral.clone();
    big["padding"] = Value::from("a".repeat(BODY_LIMIT));
    let (status, body) = h.send(post(Some(&dispatcher), big.to_string())).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{body}"
    );

    assert_eq!(
        h.n_incidents().await,
        before,
        "no refusal opens an incident"
    );
    let (status, body) = h.send(post(Some(&dispatcher), referral.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
