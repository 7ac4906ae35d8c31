//! Publish on commit, every way in at once (issue 17): the console's live feed follows the store's commits, so an
//! alert over HTTP, over MQTT (the house Mosquitto), over AML, the 112 app's duress cancel and a staff action all
//! reach one subscription with no publishing code of their own; a refusal commits nothing and so publishes
//! nothing.

use axum::http::{Method, StatusCode};
use jikimi_server::mqtt::envelope;
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::mqtt::{Peer, nonce, signed_sos, start_intake};
use crate::support::{GATEWAY_ID, GATEWAY_KEY, Harness, TestDevice, sos};

/// The next incident event on the feed, whatever incident it is about.
async fn next_incident(h: &Harness, live: &mut jikimi_server::live::Subscription) -> Value {
    let event = h.live_event(live, "incident", |_| true).await;
    serde_json::from_str(&event.data).expect("incident json")
}

pub async fn every_way_in_reaches_the_live_feed(h: &Harness) {
    let device = h.device().await;
    let mut live = h.state.live.subscribe(None);

    // A refused alert (signed by another key) first: the next incident event is the accepted alert's.
    let impostor = TestDevice {
        id: device.id,
        key: jikimi_server::signing::generate_device_key(),
        subscriber_id: device.subscriber_id,
    };
    let (status, body) = h.raise(&impostor, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // HTTP.
    let (status, body) = h.raise(&device, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let http_incident = body["incident_id"].as_str().expect("id").to_string();
    let first = next_incident(h, &mut live).await;
    assert_eq!(first["id"], http_incident.as_str(), "{first}");
    assert_eq!(first["status"], "received");

    // MQTT, through the house broker.
    let (prefix, intake) = start_intake(h).await;
    let terminal_device = h.device().await;
    let mut terminal = Peer::connect(
        &format!("terminal-{}", Uuid::new_v4().simple()),
        Some(envelope::ack_topic(&prefix, &terminal_device.id)),
    )
    .await;
    let message = signed_sos(h, &terminal_device, &sos(37.57, 126.98), &nonce());
    terminal
        .publish(envelope::sos_topic(&prefix, &terminal_device.id), message)
        .await;
    let ack = terminal.next().await;
    let mqtt_incident = ack["incident_id"]
        .as_str()
        .expect("incident id")
        .to_string();
    let dto = h.live_incident(&mut live, &mqtt_incident).await;
    assert_eq!(dto["status"], "received", "{dto}");
    intake.task.abort();

    // AML, relayed by the operator gateway (the harness's subscribers are registered with 010-1234-5678).
    let payload = "A\"ML=1;lt=+37.56650;lg=+126.97800;rd=8;top=20260314092653;lc=68;pm=G;si=450050000000000;ei=350000000000014;mcc=450;mnc=05;ml=128";
    let (status, body) = h
        .send(h.aml_request(
            &json!({"sender": "+82 10-1234-5678", "payload": payload}),
            GATEWAY_ID,
            &GATEWAY_KEY,
            h.now_s(),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let aml_incident = body["incident_id"].as_str().expect("id").to_string();
    let dto = h.live_incident(&mut live, &aml_incident).await;
    assert_eq!(dto["status"], "received", "{dto}");

    // The 112 app: a cancel with the duress PIN answers like a cancel; the console sees the escalation.
    let app_device = crate::app::enrolled(h, json!({"pin": "1234", "duress_pin": "9876"})).await;
    let app_incident = crate::app::raise(h, &app_device, true, 2).await;
    h.live_incident_where(&mut live, &app_incident, |i| i["status"] == "received")
        .await;
    let (status, body) = crate::app::cancel(h, &app_device, &app_incident, "9876").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.live_incident_where(&mut live, &app_incident, |i| {
        i["duress"] == true && i["priority"] == 0 && i["status"] != "closed"
    })
    .await;

    // A staff action: the dispatcher acknowledges and closes the HTTP incident.
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let base = format!("/api/incidents/{http_incident}");
    let (status, body) = h
        .call(
            Method::POST,
            &format!("{base}/acknowledge"),
            Some(&dispatcher),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.live_incident_where(&mut live, &http_incident, |i| i["status"] == "acknowledged")
        .await;
    let (status, body) = h
        .call(
            Method::POST,
            &format!("{base}/close"),
            Some(&dispatcher),
            Some(json!({"outcome": "assistance"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.live_incident_where(&mut live, &http_incident, |i| {
        i["status"] == "closed" && i["outcome"] == "assistance"
    })
    .await;
}
