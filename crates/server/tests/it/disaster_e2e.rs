//! End to end (issue 20): a disaster over 2,000 subscribers, half with U-Relief terminals on the house Mosquitto
//! (127.0.0.1:1883), half with the app. Every terminal hears "are you safe?" over MQTT; 30 % of the people answer
//! `need_help` or `trapped` over a compressed minute (terminals over MQTT, some messages delivered twice as a broker
//! does after a lost PUBACK; apps over HTTP, some retried) while SOS alerts keep arriving. Every answer is stored
//! once, the triage queue holds exactly the people in need in rescue order, and no alert is lost.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jikimi_privacy::Sealed;
use jikimi_respond::disaster::WelfareStatus;
use jikimi_respond::{Actor, DeviceId, SubscriberId, Timestamp};
use jikimi_server::mqtt::welfare::{answer_topic, sign_answer};
use jikimi_server::roles::Role;
use jikimi_server::signing;
use jikimi_store::{Change, DeviceRecord, SubscriberRecord};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::mqtt::{Peer, start_intake};
use crate::support::{Harness, send_to};

const PEOPLE: usize = 2_000;
/// Every tenth person of ten answers (30 %): 0..3 of each ten.
fn answers(i: usize) -> Option<&'static str> {
    match i % 10 {
        0 => Some("trapped"),
        1 | 2 => Some("need_help"),
        _ => None,
    }
}

struct Person {
    subscriber: SubscriberId,
    device: Uuid,
    key: ed25519_dalek::SigningKey,
    terminal: bool,
}

pub async fn disaster_over_two_thousand_subscribers_loses_nothing(h: &Harness) {
    let (prefix, _intake) = start_intake(h).await;
    let now = Timestamp::from_unix_ms(h.now_s() * 1000);
    let change = Change::new(Actor::System, now, "e2e registration");
    let mut people = Vec::with_capacity(PEOPLE);
    for i in 0..PEOPLE {
        let subscriber = SubscriberId(Uuid::now_v7());
        let record = format!("subscriber/{subscriber}");
        // A 50 x 40 grid over central Seoul, 100 m apart.
        let (lat, lon) = (
            37.55 + (i / 50) as f64 * 0.0009,
            126.95 + (i % 50) as f64 * 0.0011,
        );
        let seal = |field: &str, value: &str| -> Sealed {
            h.state
                .keyring
                .seal_str(&record, field, value)
                .expect("seal")
        };
        let mut fields = BTreeMap::new();
        fields.insert("name".to_string(), seal("name", &format!("Person {i}")));
        fields.insert(
            "home".to_string(),
            seal("home", &json!({"lat": lat, "lon": lon}).to_string()),
        );
        if i % 7 == 0 {
            fields.insert(
                "vulnerability".to_string(),
                seal("vulnerability", r#"{"elderly":true}"#),
            );
        }
        h.store
            .put_subscriber(
                &SubscriberRecord {
                    id: subscriber,
                    fields,
                    indexes: Vec::new(),
                    language: if i % 2 == 0 { "ko" } else { "en" }.into(),
                    created_at: now,
                    updated_at: now,
                },
                &change,
            )
            .await
            .expect("subscriber");
        let key = signing::generate_device_key();
        let device = Uuid::new_v4();
        let terminal = i % 2 == 0;
        h.store
            .put_device(
                &DeviceRecord {
                    id: DeviceId(device),
                    subscriber_id: Some(subscriber),
                    public_key: key.verifying_key().to_bytes().to_vec(),
                    kind: if terminal { "u-relief" } else { "app" }.into(),
                    enrolled_at: now,
                    revoked_at: None,
                },
                &change,
            )
            .await
            .expect("device");
        people.push(Person {
            subscriber,
            device,
            key,
            terminal,
        });
    }
    let n_terminals = people.iter().filter(|p| p.terminal).count();
    // One peer plays every terminal: it hears the questions and the acks.
    let mut terminals = Peer::connect(
        &format!("terminals-{}", Uuid::new_v4().simple()),
        Some(format!("{prefix}/devices/+/+")),
    )
    .await;

    let supervisor = h.login_as(Role::Supervisor).await;
    let area = json!({"type": "Polygon", "coordinates": [[[126.94, 37.54], [127.01, 37.54], [127.01, 37.59], [126.94, 37.59], [126.94, 37.54]]]});
    let (status, declared) = h
        .call(
            Method::POST,
            "/api/disasters",
            Some(&supervisor),
            Some(json!({"kind": "earthquake", "title": "Seoul M6.1", "area": area})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{declared}");
    assert_eq!(declared["welfare"]["asked"], PEOPLE as u64, "{declared}");
    assert_eq!(declared["welfare"]["terminals"], n_terminals as u64);
    let disaster = Uuid::parse_str(declared["id"].as_str().expect("id")).expect("uuid");

    // Every terminal hears the question.
    let mut heard = std::collections::HashSet::new();
    while heard.len() < n_terminals {
        let (topic, message) =
            tokio::time::timeout(Duration::from_secs(60), terminals.received.recv())
                .await
                .expect("questions within 60 s")
                .expect("peer running");
        if topic.ends_with("/welfare") {
            assert_eq!(message["disaster_id"], disaster.to_string());
            heard.insert(topic);
        }
    }

    // A compressed minute: answers and SOS alerts interleaved, 60 rounds.
    let mut expected: BTreeMap<SubscriberId, &str> = BTreeMap::new();
    let mut mqtt_sent = 0usize;
    let mut sos_sent = 0usize;
    let rounds = 60;
    for round in 0..rounds {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, person) in people
            .iter()
            .enumerate()
            .filter(|(i, _)| i % rounds == round)
        {
            let (lat, lon) = (
                37.55 + (i / 50) as f64 * 0.0009,
                126.95 + (i % 50) as f64 * 0.0011,
            );
            if let Some(answer) = answers(i) {
                expected.insert(person.subscriber, answer);
                let body = json!({"answer_id": Uuid::new_v4(), "answer": answer, "battery_pct": (i % 100) as u8, "people": 1,
                    "location": {"lat": lat, "lon": lon, "accuracy_m": 15.0, "method": "gnss"}})
                .to_string();
                if person.terminal {
                    let signed = sign_answer(
                        &person.key,
                        &person.device,
                        &disaster,
                        h.now_s(),
                        &Uuid::new_v4().simple().to_string(),
                        &body,
                    );
                    let topic = answer_topic(&prefix, &person.device, &disaster);
                    terminals.publish(topic.clone(), signed.clone()).await;
                    mqtt_sent += 1;
                    if i % 3 == 0 {
                        // The broker delivers it again (a lost PUBACK): a duplicate.
                        terminals.publish(topic, signed).await;
                        mqtt_sent += 1;
                    }
                } else {
                    let app = h.app.clone();
                    let request = signed_post(h, person, &disaster, body.as_bytes());
                    let retry =
                        (i % 3 == 0).then(|| signed_post(h, person, &disaster, body.as_bytes()));
                    tasks.spawn(async move {
                        let (status, answered) = send_to(&app, request).await;
                        assert_eq!(status, StatusCode::OK, "{answered}");
                        if let Some(retry) = retry {
                            let (status, again) = send_to(&app, retry).await;
                            assert_eq!(status, StatusCode::OK, "{again}");
                            assert_eq!(again["duplicate"], true, "{again}");
                        }
                    });
                }
            } else if i % 10 == 5 && !person.terminal {
                // Meanwhile ordinary SOS alerts keep arriving.
                let app = h.app.clone();
                let body = serde_json::to_vec(&crate::support::sos(lat, lon)).expect("json");
                let nonce = Uuid::new_v4().simple().to_string();
                let headers = signing::sign_alert_with_nonce(
                    &person.key,
                    &person.device,
                    h.now_s(),
                    &nonce,
                    &body,
                );
                let mut builder = Request::builder()
                    .method(Method::POST)
                    .uri("/api/alerts")
                    .header("content-type", "application/json");
                for (name, value) in headers.pairs() {
                    builder = builder.header(name, value);
                }
                let request = builder.body(Body::from(body)).expect("request");
                sos_sent += 1;
                tasks.spawn(async move {
                    let (status, accepted) = send_to(&app, request).await;
                    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
                });
            }
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("task");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Every MQTT answer is acknowledged (duplicates too), none refused.
    let mut acks = 0usize;
    while acks < mqtt_sent {
        let (topic, message) =
            tokio::time::timeout(Duration::from_secs(60), terminals.received.recv())
                .await
                .expect("acks within 60 s")
                .expect("peer running");
        if topic.ends_with("/ack") && message["kind"] == "welfare" {
            assert_eq!(message["error"], Value::Null, "{message}");
            acks += 1;
        }
    }

    // Every answer stored once, nothing else changed.
    let persons = h.store.welfare_persons(disaster).await.expect("persons");
    assert_eq!(persons.len(), PEOPLE);
    for p in &persons {
        let want = expected
            .get(&p.subscriber_id)
            .map_or(WelfareStatus::NoAnswer, |a| {
                WelfareStatus::parse(a).expect("status")
            });
        assert_eq!(p.status, want);
    }
    let answered = h
        .audit()
        .await
        .iter()
        .filter(|(a, ..)| a == "welfare.answered")
        .count();
    assert_eq!(answered, expected.len(), "each answer audited once");
    assert_eq!(expected.len(), PEOPLE * 3 / 10);

    // The triage queue: exactly the people in need, trapped first, then need_help; the elderly first within each.
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, triage) = h
        .call(
            Method::GET,
            &format!("/api/disasters/{disaster}/triage"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let queue = triage["queue"].as_array().expect("queue");
    assert_eq!(queue.len(), expected.len());
    let trapped = expected.values().filter(|a| **a == "trapped").count();
    assert!(queue[..trapped].iter().all(|e| e["status"] == "trapped"));
    assert!(queue[trapped..].iter().all(|e| e["status"] == "need_help"));
    for window in queue.windows(2) {
        if window[0]["status"] == window[1]["status"] {
            assert!(
                window[0]["vulnerability"]["elderly"].as_bool()
                    >= window[1]["vulnerability"]["elderly"].as_bool()
            );
        }
    }
    let (_, detail) = h
        .call(
            Method::GET,
            &format!("/api/disasters/{disaster}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(
        detail["counts"]["no_answer"],
        (PEOPLE - expected.len()) as u64,
        "{}",
        detail["counts"]
    );

    // No alert lost: every SOS and every answer in need is one stored alert.
    let counts = h.store.intake_counts().await.expect("counts");
    assert_eq!(counts.alerts, (sos_sent + expected.len()) as u64);
}

fn signed_post(h: &Harness, person: &Person, disaster: &Uuid, body: &[u8]) -> Request<Body> {
    let nonce = Uuid::new_v4().simple().to_string();
    let headers = signing::sign_in(
        &jikimi_server::disaster::welfare::answer_context(disaster),
        &person.key,
        &person.device,
        h.now_s(),
        &nonce,
        body,
    );
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(format!(
            "/api/devices/{}/welfare/{disaster}/answer",
            person.device
        ))
        .header("content-type", "application/json");
    for (name, value) in headers.pairs() {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body.to_vec())).expect("request")
}
