//! The 112 app (issue 5, part 2): enrolment with a one-time code (wrong, expired, used and guessed codes fail and are
//! audited), silent mode end to end, the location stream of an open alert, and cancel with the PIN, where the
//! duress PIN answers exactly like a cancel but escalates the incident.

use axum::http::{Method, StatusCode};
use jikimi_server::roles::Role;
use jikimi_server::signing;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Harness, TestDevice, sos};

/// Registers a subscriber with PINs (no device), issues a code as a dispatcher, enrols a fresh key with it.
pub(crate) async fn enrolled(h: &Harness, pins: Value) -> TestDevice {
    let admin = h.login_as(Role::Admin).await;
    let mut subscriber = json!({"name": "App User", "phone": "010-2222-3333"});
    if let Some(obj) = pins.as_object() {
        for (k, v) in obj {
            subscriber[k] = v.clone();
        }
    }
    let (status, registered) = h
        .call(
            Method::POST,
            "/api/subscribers",
            Some(&admin),
            Some(subscriber),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let sid = registered["id"].as_str().expect("id").to_string();
    let code = issue(h, &sid).await;
    let key = signing::generate_device_key();
    let (status, body) = enrol(h, &code, &key, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    TestDevice {
        id: Uuid::parse_str(body["device_id"].as_str().expect("device id")).expect("uuid"),
        key,
        subscriber_id: Uuid::parse_str(&sid).expect("uuid"),
    }
}

async fn issue(h: &Harness, subscriber_id: &str) -> String {
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{subscriber_id}/enrolment-codes"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["code"].as_str().expect("code").to_string()
}

async fn enrol(
    h: &Harness,
    code: &str,
    key: &ed25519_dalek::SigningKey,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({"code": code, "public_key": hex::encode(key.verifying_key().to_bytes())});
    if let Some(obj) = extra.as_object() {
        for (k, v) in obj {
            body[k] = v.clone();
        }
    }
    h.call(Method::POST, "/api/devices/enrol", None, Some(body))
        .await
}

pub(crate) async fn raise(h: &Harness, device: &TestDevice, silent: bool, priority: u8) -> String {
    let mut alert = sos(37.5665, 126.978);
    alert["silent"] = json!(silent);
    alert["priority"] = json!(priority);
    let (status, body) = h.raise(device, alert).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["incident_id"].as_str().expect("incident").to_string()
}

pub(crate) async fn cancel(
    h: &Harness,
    device: &TestDevice,
    incident: &str,
    pin: &str,
) -> (StatusCode, Value) {
    let id = Uuid::parse_str(incident).expect("uuid");
    h.signed(
        device,
        &format!("/api/alerts/{incident}/cancel"),
        &signing::cancel_context(&id),
        &json!({"pin": pin}),
    )
    .await
}

async fn locate(h: &Harness, device: &TestDevice, incident: &str, lat: f64) -> (StatusCode, Value) {
    let id = Uuid::parse_str(incident).expect("uuid");
    h.signed(
        device,
        &format!("/api/alerts/{incident}/location"),
        &signing::location_context(&id),
        &json!({"location": {"lat": lat, "lon": 126.978, "accuracy_m": 5.0, "method": "gnss"}}),
    )
    .await
}

async fn incident(h: &Harness, id: &str) -> Value {
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, body) = h
        .call(
            Method::GET,
            &format!("/api/incidents/{id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["incident"].clone()
}

fn count(audit: &[(String, String, String, String)], action: &str) -> usize {
    audit.iter().filter(|(a, ..)| a == action).count()
}

pub async fn enrolment_with_a_code_then_signed_alert(h: &Harness) {
    let device = enrolled(h, json!({"pin": "1234"})).await;
    let incident = raise(h, &device, true, 1).await;
    let shown = incident_json(h, &incident).await;
    assert_eq!(shown["subscriber_id"], json!(device.subscriber_id));
    assert_eq!(shown["device_id"], json!(device.id));
    // Analysts may not issue codes; an unknown subscriber is 404.
    let analyst = h.login_as(Role::Analyst).await;
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{}/enrolment-codes", device.subscriber_id),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{}/enrolment-codes", Uuid::new_v4()),
            Some(&dispatcher),
            Some(json!({"ttl_s": 120})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let code = issue(h, &device.subscriber_id.to_string()).await;
    let audit = h.audit().await;
    assert_eq!(count(&audit, "enrolment.issued"), 2);
    assert_eq!(count(&audit, "device.enrolled"), 1);
    // The code's secret part (after the six-character handle) is never stored or audited in clear.
    let secret: String = code.replace('-', "")[6..].to_string();
    assert!(!format!("{audit:?}").contains(&secret), "{audit:?}");
}

async fn incident_json(h: &Harness, id: &str) -> Value {
    incident(h, id).await
}

pub async fn enrolment_with_a_wrong_or_expired_code_fails(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let (_, registered) = h
        .call(
            Method::POST,
            "/api/subscribers",
            Some(&admin),
            Some(json!({"name": "App User", "phone": "010-2222-3333"})),
        )
        .await;
    let sid = registered["id"].as_str().expect("id").to_string();
    let key = signing::generate_device_key();

    // Malformed and unknown codes.
    let (status, body) = enrol(h, "not a code", &key, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "enrolment_code_invalid");
    let (status, body) = enrol(h, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", &key, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "enrolment_code_invalid");

    // Expired: the clock moves past the 15-minute default.
    let expiring = issue(h, &sid).await;
    h.advance_s(15 * 60 + 1);
    let (status, body) = enrol(h, &expiring, &key, json!({})).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["error"]["code"], "enrolment_code_expired");

    // Wrong secret for a live handle: counted, then locked; the right code is refused once locked.
    let code = issue(h, &sid).await;
    let mut wrong: Vec<char> = code.chars().collect();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == '0' { '1' } else { '0' };
    let wrong: String = wrong.into_iter().collect();
    for left in (1..=3).rev() {
        let (status, body) = enrol(h, &wrong, &key, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "enrolment_code_invalid");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("{left} tries left")),
            "{body}"
        );
    }
    let (status, body) = enrol(h, &wrong, &key, json!({})).await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    assert_eq!(body["error"]["code"], "enrolment_code_locked");
    let (status, body) = enrol(h, &code, &key, json!({})).await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");

    // A good code works once (typed in lower case without dashes), then is used.
    let good = issue(h, &sid).await;
    let typed = good.replace('-', "").to_lowercase();
    let (status, body) = enrol(
        h,
        &typed,
        &key,
        json!({"pin": "1234", "duress_pin": "9876"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = enrol(h, &good, &signing::generate_device_key(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "enrolment_code_used");
    // A bad PIN shape is refused before the code is spent.
    let another = issue(h, &sid).await;
    let (status, body) = enrol(h, &another, &key, json!({"pin": "12"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let audit = h.audit().await;
    // unknown x2 (one malformed, audited by the server), expired, 3 wrong, 2 locked, used, bad pin.
    assert_eq!(count(&audit, "enrolment.refused"), 10, "{audit:?}");
    assert_eq!(count(&audit, "device.enrolled"), 1);
    let dispatcher = h.login_as(Role::Supervisor).await;
    let (_, revealed) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{sid}/reveal"),
            Some(&dispatcher),
            Some(json!({"reason": "check the devices enrolled for this subscriber", "override": true})),
        )
        .await;
    assert_eq!(
        revealed["devices"].as_array().map(Vec::len),
        Some(1),
        "{revealed}"
    );
}

pub async fn silent_mode_is_honoured_end_to_end(h: &Harness) {
    let device = enrolled(h, json!({"pin": "1234"})).await;
    // Silent (the default): the answer carries nothing to show or say.
    let mut alert = sos(37.5, 127.0);
    alert.as_object_mut().map(|o| o.remove("silent"));
    let (status, body) = h.raise(&device, alert).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let silent_feedback = json!({"silent": true, "message_en": null, "message_ko": null, "language": null, "message": null});
    assert_eq!(body["feedback"], silent_feedback);
    let silent_incident = body["incident_id"].as_str().expect("id").to_string();
    assert_eq!(incident(h, &silent_incident).await["silent"], true);
    let (status, body) = locate(h, &device, &silent_incident, 37.51).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["feedback"], silent_feedback);
    let (status, body) = cancel(h, &device, &silent_incident, "1234").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["feedback"], silent_feedback);

    // Audible: the device may say help is coming, in English and Korean.
    let loud = raise(h, &device, false, 1).await;
    assert_eq!(incident(h, &loud).await["silent"], false);
    let (_, body) = locate(h, &device, &loud, 37.52).await;
    assert_eq!(body["feedback"]["silent"], false);
    assert_eq!(body["feedback"]["message_ko"], "위치를 보냈습니다.");
    let (_, body) = cancel(h, &device, &loud, "1234").await;
    assert_eq!(body["feedback"]["message_en"], "Your alert was cancelled.");
}

pub async fn location_stream_until_closed_and_rate_limited(h: &Harness) {
    let device = enrolled(h, json!({"pin": "1234"})).await;
    let mut live = h.state.live.subscribe(None);
    let id = raise(h, &device, true, 1).await;
    // Every step of the app's path reaches the console's live feed by itself: the alert, the fixes, the cancel.
    h.live_incident_where(&mut live, &id, |i| i["status"] == "received")
        .await;
    for i in 0..5 {
        let (status, body) = locate(h, &device, &id, 37.5 + f64::from(i) / 100.0).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    // The sixth within the same second is shed, not stored.
    let (status, body) = locate(h, &device, &id, 37.6).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    h.advance_s(1);
    let (status, _) = locate(h, &device, &id, 37.61).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let shown = incident(h, &id).await;
    assert_eq!(shown["n_fixes"], 7, "{shown}"); // the alert's own fix and six updates
    assert_eq!(shown["location"]["lat"], 37.61);
    h.live_incident_where(&mut live, &id, |i| {
        i["n_fixes"] == 7 && i["location"]["lat"] == 37.61
    })
    .await;

    // A signature for another incident, a bad coordinate, another device: refused and audited.
    let other = Uuid::new_v4();
    let (status, body) = h
        .signed(
            &device,
            &format!("/api/alerts/{id}/location"),
            &signing::location_context(&other),
            &json!({"location": {"lat": 37.5, "lon": 127.0}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "signature_invalid");
    h.advance_s(1);
    let (status, body) = locate(h, &device, &id, 137.0).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let stranger = h.device().await;
    let (status, body) = locate(h, &stranger, &id, 37.5).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Once cancelled, the stream is refused and nothing more is stored.
    h.advance_s(1);
    let (status, _) = cancel(h, &device, &id, "1234").await;
    assert_eq!(status, StatusCode::OK);
    h.live_incident_where(&mut live, &id, |i| {
        i["status"] == "closed" && i["outcome"] == "cancelled"
    })
    .await;
    let (status, body) = locate(h, &device, &id, 37.7).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "illegal_transition");
    let shown = incident(h, &id).await;
    assert_eq!(
        (shown["status"].clone(), shown["outcome"].clone()),
        (json!("closed"), json!("cancelled"))
    );
    assert_eq!(shown["n_fixes"], 7);
    let audit = h.audit().await;
    assert_eq!(count(&audit, "incident.location_added"), 6);
    assert_eq!(count(&audit, "app.rejected"), 4, "{audit:?}");
}

pub async fn duress_pin_escalates_while_answering_like_a_cancel(h: &Harness) {
    let device = enrolled(h, json!({"pin": "1234", "duress_pin": "9876"})).await;
    let genuine = raise(h, &device, true, 2).await;
    let coerced = raise(h, &device, true, 2).await;

    let (status_genuine, body_genuine) = cancel(h, &device, &genuine, "1234").await;
    let (status_duress, body_duress) = cancel(h, &device, &coerced, "9876").await;
    // The same answer: status, shape and every field but the incident id.
    assert_eq!(status_genuine, StatusCode::OK, "{body_genuine}");
    assert_eq!(status_duress, status_genuine);
    let strip = |mut body: Value| {
        body.as_object_mut().map(|o| o.remove("incident_id"));
        body
    };
    assert_eq!(strip(body_duress.clone()), strip(body_genuine.clone()));
    assert_eq!(body_duress["status"], "cancelled");
    assert_eq!(body_duress["incident_id"], json!(coerced));

    // The genuine cancel closed its incident; the coerced one is open, code 0, marked duress, first in the queue.
    let closed = incident(h, &genuine).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["outcome"], "cancelled");
    assert_eq!(closed["duress"], false);
    let open = incident(h, &coerced).await;
    assert_eq!(open["status"], "received");
    assert_eq!(open["priority"], 0);
    assert_eq!(open["duress"], true);
    assert_eq!(open["outcome"], Value::Null);
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (_, queue) = h
        .call(
            Method::GET,
            "/api/incidents?status=open",
            Some(&dispatcher),
            None,
        )
        .await;
    let queue = queue.as_array().cloned().unwrap_or_default();
    assert_eq!(
        queue.first().map(|i| i["id"].clone()),
        Some(json!(coerced)),
        "{queue:?}"
    );
    let audit = h.audit().await;
    let escalated: Vec<_> = audit
        .iter()
        .filter(|(a, ..)| a == "incident.escalated")
        .collect();
    assert_eq!(escalated.len(), 1);
    assert!(escalated[0].3.contains("duress"), "{escalated:?}");
    assert_eq!(count(&audit, "incident.cancelled"), 1);

    // The phone keeps streaming its location into the open incident.
    let (status, _) = locate(h, &device, &coerced, 37.55).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Forced to "cancel" again, even with the genuine PIN: answered like a cancel, the incident stays open.
    let (status, again) = cancel(h, &device, &coerced, "1234").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(strip(again), strip(body_genuine));
    assert_eq!(incident(h, &coerced).await["status"], "received");
}

pub async fn wrong_pin_is_refused_audited_and_bounded(h: &Harness) {
    let device = enrolled(h, json!({"pin": "1234", "duress_pin": "9876"})).await;
    let id = raise(h, &device, true, 1).await;
    for left in (1..=4).rev() {
        let (status, body) = cancel(h, &device, &id, "0000").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "pin_invalid");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("{left} tries left")),
            "{body}"
        );
    }
    let (status, body) = cancel(h, &device, &id, "0000").await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    assert_eq!(body["error"]["code"], "pin_locked");
    // Locked: the genuine PIN is refused too, and the incident stays open.
    let (status, _) = cancel(h, &device, &id, "1234").await;
    assert_eq!(status, StatusCode::LOCKED);
    assert_eq!(incident(h, &id).await["status"], "received");
    // The duress PIN gets the same refusal, but the incident is escalated all the same.
    let (status, body) = cancel(h, &device, &id, "9876").await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    let shown = incident(h, &id).await;
    assert_eq!(
        (shown["duress"].clone(), shown["priority"].clone()),
        (json!(true), json!(0))
    );
    let audit = h.audit().await;
    assert_eq!(count(&audit, "subscriber.pin_failed"), 5);
    // The PIN itself is never in the audit log.
    assert!(!format!("{audit:?}").contains("0000\""));

    // After the lockout, the genuine PIN works again (on another alert; this one is under duress).
    h.advance_s(15 * 60 + 1);
    let other = raise(h, &device, true, 1).await;
    let (status, body) = cancel(h, &device, &other, "1234").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Without a PIN set, a device cannot cancel.
    let plain = h.device().await;
    let mine = raise(h, &plain, true, 1).await;
    let (status, body) = cancel(h, &plain, &mine, "1234").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "pin_not_set");
}

/// Issue 16: a login flood that holds every shared argon2 slot cannot make a duress PIN wait; the cancel takes the
/// reserved slot, answers like a cancel and escalates. (Were it queued behind the logins it would never finish:
/// the shared slots are held until after it.)
pub async fn duress_cancel_gets_an_argon2_slot_while_logins_hold_them_all(h: &Harness) {
    use jikimi_server::password::Priority;
    let device = enrolled(h, json!({"pin": "1234", "duress_pin": "9876"})).await;
    let coerced = raise(h, &device, true, 2).await;
    let mut held = Vec::new();
    while h.state.argon2.shared_available() > 0 {
        held.push(
            h.state
                .argon2
                .acquire(Priority::Normal)
                .await
                .expect("slot"),
        );
    }
    let (status, body) = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        cancel(h, &device, &coerced, "9876"),
    )
    .await
    .expect("the duress cancel must not wait for a shared argon2 slot");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");
    drop(held);
    let open = incident(h, &coerced).await;
    assert_eq!(open["duress"], true);
    assert_eq!(open["priority"], 0);
}
