//! Silent two-way text with a U-Relief terminal over MQTT, against the house Mosquitto (127.0.0.1:1883): the
//! dispatcher's question is published to the terminal's messages topic, the terminal's signed answer over MQTT is
//! committed (timeline, live feed) and acknowledged; a wrongly signed answer changes nothing.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use jikimi_respond::IncidentId;
use jikimi_server::mqtt::envelope;
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::mqtt::{Peer, nonce, start_intake};
use crate::support::Harness;

/// The next message the peer receives, with its topic, within 30 s.
async fn next_on(peer: &mut Peer) -> (String, Value) {
    tokio::time::timeout(Duration::from_secs(30), peer.received.recv())
        .await
        .expect("a message within 30 s")
        .expect("peer running")
}

/// The dispatcher asks; the terminal receives the question on its messages topic, a wrongly signed answer is
/// refused and changes nothing, the signed answer is recorded once (its redelivery is a duplicate) and reaches the
/// timeline and the live feed.
pub async fn mqtt_terminal_receives_the_question_and_answers_it(h: &Harness) {
    let (prefix, intake) = start_intake(h).await;
    let device = h.device().await;
    let incident = crate::app::raise(h, &device, true, 1).await;
    let incident_id = IncidentId(Uuid::parse_str(&incident).expect("uuid"));
    // One level below the device: its messages and its acks, not its own answers.
    let mut terminal = Peer::connect(
        &format!("terminal-{}", Uuid::new_v4().simple()),
        Some(format!("{prefix}/devices/{}/+", device.id)),
    )
    .await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, sent) = h
        .call(
            Method::POST,
            &format!("/api/incidents/{incident}/messages"),
            Some(&dispatcher),
            Some(json!({"canned": "attacker-present"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let message_id = sent["message_id"].as_str().expect("message id").to_string();
    let message_uuid = Uuid::parse_str(&message_id).expect("uuid");

    // The same JSON the app's poll answers, holding this question.
    let (topic, question) = next_on(&mut terminal).await;
    assert_eq!(topic, envelope::messages_topic(&prefix, &device.id));
    assert_eq!(question["language"], "ko", "{question}");
    let shown = &question["messages"][0];
    assert_eq!(shown["message_id"], message_id.as_str());
    assert_eq!(shown["incident_id"], incident.as_str());
    assert_eq!(shown["text"], "가해자가 아직 그곳에 있습니까?");
    let yes = shown["options"][0]["answer"].clone();
    assert_eq!(yes, json!({"kind": "yes_no", "value": true}));

    let answer_topic = envelope::answer_topic(&prefix, &device.id, &message_uuid);
    let body = json!({"incident_id": incident, "answer": yes}).to_string();
    // Signed by another key: refused, audited, nothing recorded.
    let impostor = jikimi_server::signing::generate_device_key();
    terminal
        .publish(
            answer_topic.clone(),
            envelope::sign_answer(
                &impostor,
                &device.id,
                &message_uuid,
                h.now_s(),
                &nonce(),
                &body,
            ),
        )
        .await;
    let (topic, refused) = next_on(&mut terminal).await;
    assert_eq!(topic, envelope::ack_topic(&prefix, &device.id));
    assert_eq!(refused["kind"], "answer", "{refused}");
    assert_eq!(refused["error"], "signature_invalid", "{refused}");
    let unchanged = h.store.get_incident(incident_id).await.expect("incident");
    assert_eq!(unchanged.last_seq, 2);
    assert!(unchanged.messages.iter().all(|m| m.answer.is_none()));
    assert!(
        h.audit()
            .await
            .iter()
            .any(|(action, reason, actor, _)| action == "alert.rejected"
                && reason == "signature_invalid"
                && *actor == format!("device:{}", device.id))
    );

    // Signed by the terminal: recorded, acknowledged, on the live feed.
    let mut live = h.state.live.subscribe(None);
    let signed = envelope::sign_answer(
        &device.key,
        &device.id,
        &message_uuid,
        h.now_s(),
        &nonce(),
        &body,
    );
    terminal.publish(answer_topic.clone(), signed.clone()).await;
    let (_, recorded) = next_on(&mut terminal).await;
    assert_eq!(recorded["error"], Value::Null, "{recorded}");
    assert_eq!(recorded["message_id"], message_id.as_str());
    assert_eq!(recorded["duplicate"], false);
    h.live_incident_where(&mut live, &incident, |dto| dto["last_seq"] == 3)
        .await;
    // The very same bytes again (the broker's redelivery after a lost PUBACK): a duplicate, nothing new.
    terminal.publish(answer_topic, signed).await;
    let (_, again) = next_on(&mut terminal).await;
    assert_eq!(again["duplicate"], true, "{again}");

    let (status, detail) = h
        .call(
            Method::GET,
            &format!("/api/incidents/{incident}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = detail["events"].as_array().expect("events");
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[1]["event"]["type"], "question_sent");
    assert_eq!(events[2]["event"]["type"], "answer_received");
    assert_eq!(events[2]["event"]["answer"], yes);
    assert_eq!(events[2]["actor"], format!("device:{}", device.id));
    intake.task.abort();
}

/// After a duress PIN the terminal is sent what the app would show: the canned question's neutral form under a
/// neutral title, never the dispatcher's words.
pub async fn mqtt_questions_are_discreet_after_a_duress_pin(h: &Harness) {
    let (prefix, intake) = start_intake(h).await;
    let device = crate::app::enrolled(h, json!({"pin": "2468", "duress_pin": "1357"})).await;
    let incident = crate::app::raise(h, &device, true, 2).await;
    let (status, _) = crate::app::cancel(h, &device, &incident, "1357").await;
    assert_eq!(status, StatusCode::OK);
    let mut terminal = Peer::connect(
        &format!("terminal-{}", Uuid::new_v4().simple()),
        Some(envelope::messages_topic(&prefix, &device.id)),
    )
    .await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let (status, sent) = h
        .call(
            Method::POST,
            &format!("/api/incidents/{incident}/messages"),
            Some(&dispatcher),
            Some(json!({"canned": "help-coming", "args": {"minutes": "4"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["discreet"], true);
    let (_, question) = next_on(&mut terminal).await;
    let shown = &question["messages"][0];
    assert_eq!(shown["message_id"], sent["message_id"], "{question}");
    assert_eq!(shown["title"], "새 메시지");
    assert_eq!(shown["text"], "알림: 약 4분.");
    intake.task.abort();
}
