//! Device takeover and PIN attacks (issue 16, items 5 and 9): registration refuses an existing device id, revoked
//! devices stay revoked, enrolment never replaces PINs without a supervisor's code, a wrong-PIN cancel burns its
//! nonce, and failed requests leave no phone number or typed user name in clear in the audit log.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jikimi_respond::{DeviceId, SubscriberId};
use jikimi_server::roles::Role;
use jikimi_server::signing;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{GATEWAY_ID, GATEWAY_KEY, Harness, TestDevice, sos};

fn refused(answer: (StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(
        (answer.0, answer.1["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        answer.1
    );
}

fn count(audit: &[(String, String, String, String)], action: &str) -> usize {
    audit.iter().filter(|(a, ..)| a == action).count()
}

async fn register(h: &Harness, token: &str, body: Value) -> (StatusCode, Value) {
    h.call(Method::POST, "/api/subscribers", Some(token), Some(body))
        .await
}

pub async fn registration_refuses_an_existing_device_id_and_revocation_sticks(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let victim = h
        .enrol(
            &supervisor,
            json!({"name": "Victim", "phone": "010-6000-0001"}),
        )
        .await;
    let stored = h
        .store
        .get_device(DeviceId(victim.id))
        .await
        .expect("device");
    let attacker_key = signing::generate_device_key();
    let takeover = json!({"name": "Attacker", "phone": "010-6000-0002",
        "devices": [{"id": victim.id, "public_key": hex::encode(attacker_key.verifying_key().to_bytes())}]});

    // The attack used to re-key the victim's device: now a conflict, and nothing of the registration is kept.
    refused(
        register(h, &supervisor, takeover.clone()).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_eq!(
        h.store
            .get_device(DeviceId(victim.id))
            .await
            .expect("device"),
        stored
    );
    let phone = jikimi_privacy::normalise_phone("010-6000-0002").expect("phone");
    let attackers = h
        .store
        .find_subscribers("phone", &h.state.blind.digest("phone", &phone))
        .await
        .expect("search");
    assert!(attackers.is_empty(), "{attackers:?}");
    // The victim's phone still raises alerts; the attacker's key signing as that device does not.
    let (status, body) = h.raise(&victim, sos(37.5, 127.0)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let impostor = TestDevice {
        id: victim.id,
        key: attacker_key.clone(),
        subscriber_id: victim.subscriber_id,
    };
    refused(
        h.raise(&impostor, sos(37.5, 127.0)).await,
        StatusCode::UNAUTHORIZED,
        "signature_invalid",
    );
    // One request naming the same new id twice is refused too.
    let fresh = Uuid::now_v7();
    let key = hex::encode(attacker_key.verifying_key().to_bytes());
    refused(
        register(
            h,
            &supervisor,
            json!({"name": "Twice", "phone": "010-6000-0003",
                "devices": [{"id": fresh, "public_key": key}, {"id": fresh, "public_key": key}]}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );

    // Revocation sticks: after erasure the device is revoked, and registering its id again does not revive it.
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{}/erase", victim.subscriber_id),
            Some(&supervisor),
            Some(json!({"reason": "erasure request"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revive = json!({"name": "Victim Again", "phone": "010-6000-0001",
        "devices": [{"id": victim.id, "public_key": hex::encode(victim.key.verifying_key().to_bytes())}]});
    refused(
        register(h, &supervisor, revive).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert!(
        h.store
            .get_device(DeviceId(victim.id))
            .await
            .expect("device")
            .revoked_at
            .is_some()
    );
    refused(
        h.raise(&victim, sos(37.5, 127.0)).await,
        StatusCode::UNAUTHORIZED,
        "device_unknown",
    );
    let audit = h.audit().await;
    // The victim's device was saved once, when it was registered.
    assert_eq!(count(&audit, "device.saved"), 1, "{audit:?}");
}

async fn issue(
    h: &Harness,
    token: &str,
    subscriber: Uuid,
    body: Option<Value>,
) -> (StatusCode, Value) {
    h.call(
        Method::POST,
        &format!("/api/subscribers/{subscriber}/enrolment-codes"),
        Some(token),
        body,
    )
    .await
}

async fn enrol(h: &Harness, code: &str, pins: Value) -> (StatusCode, Value) {
    let key = signing::generate_device_key();
    let mut body = json!({"code": code, "public_key": hex::encode(key.verifying_key().to_bytes())});
    if let Some(obj) = pins.as_object() {
        for (k, v) in obj {
            body[k] = v.clone();
        }
    }
    h.call(Method::POST, "/api/devices/enrol", None, Some(body))
        .await
}

pub async fn enrolment_never_replaces_pins_without_a_supervisor(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let (status, registered) = register(
        h,
        &admin,
        json!({"name": "Pin Owner", "phone": "010-6100-0001", "pin": "1234", "duress_pin": "9876"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let sid = Uuid::parse_str(registered["id"].as_str().expect("id")).expect("uuid");
    let pins = h
        .store
        .get_pins(SubscriberId(sid))
        .await
        .expect("pins")
        .pins;

    // The attack: a registrar's code (or one read over a shoulder) enrols a phone with new PINs. It used to
    // replace the PIN and the duress PIN silently; now it is refused and the code stays usable.
    let (status, code) = issue(h, &dispatcher, sid, None).await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let code = code["code"].as_str().expect("code").to_string();
    refused(
        enrol(h, &code, json!({"pin": "5555", "duress_pin": "6666"})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_eq!(
        h.store
            .get_pins(SubscriberId(sid))
            .await
            .expect("pins")
            .pins,
        pins
    );
    // A wrong code is refused as such, before any PIN is looked at.
    refused(
        enrol(h, "0000-0000-0000-0000", json!({"pin": "5555"})).await,
        StatusCode::UNAUTHORIZED,
        "enrolment_code_invalid",
    );
    // Without PINs the same code enrols the phone and leaves the PINs alone.
    let (status, body) = enrol(h, &code, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        h.store
            .get_pins(SubscriberId(sid))
            .await
            .expect("pins")
            .pins,
        pins
    );

    // Only a supervisor issues a code that replaces PINs.
    for token in [&dispatcher, &admin] {
        refused(
            issue(h, token, sid, Some(json!({"replace_pins": true}))).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    let (status, code) = issue(h, &supervisor, sid, Some(json!({"replace_pins": true}))).await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let code = code["code"].as_str().expect("code").to_string();
    let (status, body) = enrol(h, &code, json!({"pin": "5555"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let replaced = h
        .store
        .get_pins(SubscriberId(sid))
        .await
        .expect("pins")
        .pins;
    assert_ne!(replaced, pins);
    assert!(replaced.duress_pin_hash.is_none());

    let audit = h.audit().await;
    let issued: Vec<_> = audit
        .iter()
        .filter(|(a, ..)| a == "enrolment.issued")
        .collect();
    assert_eq!(issued.len(), 2);
    assert!(issued[1].2.starts_with("staff:supervisor-"), "{issued:?}");
    assert!(issued[1].3.contains("\"replace_pins\":true"), "{issued:?}");
    let enrolled: Vec<_> = audit
        .iter()
        .filter(|(a, ..)| a == "device.enrolled")
        .map(|(.., d)| d.clone())
        .collect();
    assert_eq!(enrolled.len(), 2);
    assert!(
        enrolled[0].contains("\"pins_replaced\":false"),
        "{enrolled:?}"
    );
    assert!(
        enrolled[1].contains("\"pins_replaced\":true"),
        "{enrolled:?}"
    );
}

/// A signed cancel with a fixed nonce, so the very same request can be sent again.
fn cancel_request(
    h: &Harness,
    device: &TestDevice,
    incident: &str,
    pin: &str,
    nonce: &str,
) -> Request<Body> {
    let id = Uuid::parse_str(incident).expect("uuid");
    let body = serde_json::to_vec(&json!({"pin": pin})).expect("json");
    let headers = signing::sign_in(
        &signing::cancel_context(&id),
        &device.key,
        &device.id,
        h.now_s(),
        nonce,
        &body,
    );
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/alerts/{incident}/cancel"))
        .header("content-type", "application/json");
    for (name, value) in headers.pairs() {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).expect("request")
}

pub async fn a_replayed_wrong_pin_cancel_cannot_lock_the_pins(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let device = h
        .enrol(
            &admin,
            json!({"name": "Pin Victim", "phone": "010-6200-0001", "pin": "1234"}),
        )
        .await;
    let (status, body) = h.raise(&device, sos(37.5, 127.0)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let incident = body["incident_id"].as_str().expect("incident").to_string();
    // One captured wrong-PIN cancel, sent once and then replayed: it used to count each time and lock the PINs
    // after five.
    let (status, body) = h
        .send(cancel_request(
            h,
            &device,
            &incident,
            "0000",
            "captured-nonce-0001",
        ))
        .await;
    refused((status, body), StatusCode::UNAUTHORIZED, "pin_invalid");
    for _ in 0..6 {
        refused(
            h.send(cancel_request(
                h,
                &device,
                &incident,
                "0000",
                "captured-nonce-0001",
            ))
            .await,
            StatusCode::CONFLICT,
            "nonce_replayed",
        );
    }
    let pins = h
        .store
        .get_pins(SubscriberId(device.subscriber_id))
        .await
        .expect("pins");
    assert_eq!((pins.failed_attempts, pins.locked_until), (1, None));
    // The subscriber can still cancel.
    let (status, body) = h
        .send(cancel_request(
            h,
            &device,
            &incident,
            "1234",
            "genuine-nonce-00001",
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(count(&h.audit().await, "subscriber.pin_failed"), 1);
}

pub async fn failed_requests_leave_no_clear_personal_data_in_the_audit_log(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let phone_digits = "1098765432";
    let device = h
        .enrol(
            &admin,
            json!({"name": "Kim Minji", "phone": "010-9876-5432", "pin": "1234"}),
        )
        .await;

    // Failed logins: typed user names (one is a phone number, one an e-mail address).
    for username in [
        "kim.minji@example.kr",
        "010-9876-5432",
        "kim.minji@example.kr",
    ] {
        let (status, _) = h
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"username": username, "password": "not the password"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Failed AML payloads that quote the caller's number in what the parsers report.
    for body in [
        json!({"sender": "010-9876-5432", "payload": "garbage"}),
        json!({"sender": "010-9876-5432", "transport": "https",
            "payload": "01098765432=1&01098765432=2&location_source=gps"}),
        json!({"sender": "010-9876-5432", "payload": 1_098_765_432_u64}),
        json!({"sender": "010-9876-5432", "payload": "x", "01098765432": true}),
        json!({"sender": "010-1111-5432", "payload": "A\"ML=1;lt=+37.56650;lg=+126.97800;rd=8;top=20260314092653;lc=68;pm=G;si=450050000000000;ei=350000000000014;mcc=450;mnc=05;ml=128"}),
    ] {
        let (status, answer) = h
            .send(h.aml_request(&body, GATEWAY_ID, &GATEWAY_KEY, h.now_s()))
            .await;
        assert!(status.is_client_error(), "{status} {answer}");
    }
    // Lookups refused for want of an incident.
    for _ in 0..2 {
        let (status, _) = h
            .call(
                Method::POST,
                "/api/subscribers/search",
                Some(&dispatcher),
                Some(json!({"phone": "010-9876-5432", "reason": "who is it"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // A wrong PIN and a malformed cancel.
    let (status, body) = h.raise(&device, sos(37.5, 127.0)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let incident = body["incident_id"].as_str().expect("incident").to_string();
    let (status, _) = h
        .send(cancel_request(
            h,
            &device,
            &incident,
            "0000",
            "wrong-pin-nonce-001",
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let audit = h.store.list_audit(0, 10_000).await.expect("audit");
    assert!(count(&h.audit().await, "staff.login_failed") == 3);
    assert!(count(&h.audit().await, "aml.rejected") >= 4);
    // Repeated failures against one name are still told apart from others, by a keyed digest.
    let subjects: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "staff.login_failed")
        .map(|e| e.subject.as_str())
        .collect();
    assert_eq!(subjects[0], subjects[2]);
    assert_ne!(subjects[0], subjects[1]);
    for entry in &audit {
        let text = format!(
            "{} {} {} {} {}",
            entry.actor, entry.action, entry.subject, entry.reason, entry.detail
        );
        for clear in [
            phone_digits,
            "98765432",
            "9876-5432",
            "kim.minji",
            "example.kr",
            "Kim Minji",
            "1115432",
        ] {
            assert!(!text.contains(clear), "audit entry holds {clear:?}: {text}");
        }
    }
}
