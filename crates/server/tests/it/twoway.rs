//! Silent two-way text (issue 21, part 5): a dispatcher's question, the device's signed poll and tapped answer, both
//! in the timeline and on the live feed; attackers (no credentials, wrong role, another device, replays, oversized
//! text, unknown questions, floods) are refused; after a duress PIN the device sees only neutral wording.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jikimi_server::roles::Role;
use jikimi_server::signing;
use jikimi_server::twoway::{answer_context, messages_context};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Harness, TestDevice};

/// The device's signed poll, as `device` (which may sign for another path id).
async fn poll_as(h: &Harness, device: &TestDevice, path_id: Uuid) -> (StatusCode, Value) {
    let nonce = Uuid::new_v4().simple().to_string();
    let headers = signing::sign_in(
        &messages_context(&path_id),
        &device.key,
        &device.id,
        h.now_s(),
        &nonce,
        b"",
    );
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/devices/{path_id}/messages"));
    for (name, value) in headers.pairs() {
        builder = builder.header(name, value);
    }
    h.send(builder.body(Body::empty()).expect("request")).await
}

async fn poll(h: &Harness, device: &TestDevice) -> Value {
    let (status, body) = poll_as(h, device, device.id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A signed answer request with a given nonce (so a test can replay it).
fn answer_request(
    h: &Harness,
    device: &TestDevice,
    path_id: Uuid,
    message_id: &str,
    body: &Value,
    nonce: &str,
) -> Request<Body> {
    let message = Uuid::parse_str(message_id).expect("uuid");
    let body = serde_json::to_vec(body).expect("json");
    let headers = signing::sign_in(
        &answer_context(&message),
        &device.key,
        &device.id,
        h.now_s(),
        nonce,
        &body,
    );
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(format!(
            "/api/devices/{path_id}/messages/{message_id}/answer"
        ))
        .header("content-type", "application/json");
    for (name, value) in headers.pairs() {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).expect("request")
}

async fn tap(
    h: &Harness,
    device: &TestDevice,
    incident: &str,
    message_id: &str,
    answer: Value,
) -> (StatusCode, Value) {
    let nonce = Uuid::new_v4().simple().to_string();
    let body = json!({"incident_id": incident, "answer": answer});
    h.send(answer_request(
        h, device, device.id, message_id, &body, &nonce,
    ))
    .await
}

async fn ask(h: &Harness, token: Option<&str>, incident: &str, body: Value) -> (StatusCode, Value) {
    h.call(
        Method::POST,
        &format!("/api/incidents/{incident}/messages"),
        token,
        Some(body),
    )
    .await
}

/// The dispatcher asks; the device polls it in Korean, taps an answer once (a retry is a duplicate, a replay is
/// refused); both are in the timeline, the audit log and on the live feed.
pub async fn question_and_tapped_answer_reach_timeline_and_feed(h: &Harness) {
    let device = h.device().await;
    let incident = crate::app::raise(h, &device, true, 1).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let mut live = h.state.live.subscribe(None);

    let (status, sent) = ask(
        h,
        Some(&dispatcher),
        &incident,
        json!({"canned": "attacker-present"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["discreet"], false);
    assert_eq!(sent["device_text"], "가해자가 아직 그곳에 있습니까?");
    let message_id = sent["message_id"].as_str().expect("message id").to_string();
    h.live_incident_where(&mut live, &incident, |dto| dto["last_seq"] == 2)
        .await;

    let polled = poll(h, &device).await;
    assert_eq!(polled["language"], "ko");
    let message = &polled["messages"][0];
    assert_eq!(message["message_id"], message_id.as_str());
    assert_eq!(message["incident_id"], incident.as_str());
    assert_eq!(message["title"], "112 메시지");
    assert_eq!(message["text"], "가해자가 아직 그곳에 있습니까?");
    assert_eq!(
        message["options"],
        json!([
            {"label": "예", "answer": {"kind": "yes_no", "value": true}},
            {"label": "아니요", "answer": {"kind": "yes_no", "value": false}},
        ])
    );

    let yes = json!({"kind": "yes_no", "value": true});
    let body = json!({"incident_id": incident, "answer": yes});
    let nonce = Uuid::new_v4().simple().to_string();
    let (status, recorded) = h
        .send(answer_request(
            h,
            &device,
            device.id,
            &message_id,
            &body,
            &nonce,
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{recorded}");
    assert_eq!(recorded["duplicate"], false);
    h.live_incident_where(&mut live, &incident, |dto| dto["last_seq"] == 3)
        .await;
    // The same signed request again: a replay.
    let (status, replayed) = h
        .send(answer_request(
            h,
            &device,
            device.id,
            &message_id,
            &body,
            &nonce,
        ))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{replayed}");
    assert_eq!(replayed["error"]["code"], "nonce_replayed");
    // A retry with a fresh nonce: the same answer is a duplicate, another one a conflict; nothing changes.
    let (status, again) = tap(h, &device, &incident, &message_id, yes.clone()).await;
    assert_eq!(
        (status, &again["duplicate"]),
        (StatusCode::OK, &json!(true))
    );
    let (status, other) = tap(
        h,
        &device,
        &incident,
        &message_id,
        json!({"kind": "yes_no", "value": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{other}");
    assert_eq!(other["error"]["code"], "illegal_transition");
    assert_eq!(poll(h, &device).await["messages"], json!([]));

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
    assert_eq!(events[1]["event"]["question"]["id"], "attacker-present");
    assert_eq!(events[2]["event"]["type"], "answer_received");
    assert_eq!(events[2]["event"]["answer"], yes);
    assert_eq!(events[2]["actor"], format!("device:{}", device.id));
    let audit = h.audit().await;
    for action in ["incident.question_sent", "incident.answer_received"] {
        assert_eq!(
            audit.iter().filter(|e| e.0 == action).count(),
            1,
            "{action}"
        );
    }
    // Analysts see that a question was asked and answered, not the answer.
    let analyst = h.login_as(Role::Analyst).await;
    let (_, seen) = h
        .call(
            Method::GET,
            &format!("/api/incidents/{incident}"),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(
        seen["events"][2]["event"],
        json!({"type": "answer_received", "message_id": message_id})
    );
}

/// Every way an attacker or a mistake might try: refused with the documented status, nothing recorded.
pub async fn attackers_and_mistakes_are_refused(h: &Harness) {
    let device = h.device().await;
    let stranger = h.device().await;
    let incident = crate::app::raise(h, &device, true, 1).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let analyst = h.login_as(Role::Analyst).await;
    let admin = h.login_as(Role::Admin).await;
    let canned = json!({"canned": "safe-now"});

    let (status, _) = ask(h, None, &incident, canned.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for token in [&analyst, &admin] {
        let (status, body) = ask(h, Some(token), &incident, canned.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let cases = [
        json!({"text": "가".repeat(161)}),
        json!({"text": "   "}),
        json!({"canned": "safe-now", "text": "both"}),
        json!({}),
        json!({"canned": "no-such-question"}),
        json!({"canned": "help-coming"}),
        json!({"canned": "help-coming", "args": {"minutes": "<script>"}}),
        json!({"text": "How many?", "answer": {"kind": "number", "min": 0, "max": 100000}}),
        json!({"text": "Where?", "answer": {"kind": "preset", "options": ["police"]}}),
    ];
    for body in cases {
        let (status, answer) = ask(h, Some(&dispatcher), &incident, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field");
    }
    let (status, _) = h
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/api/incidents/{incident}/messages"))
                .header("authorization", format!("Bearer {dispatcher}"))
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = ask(
        h,
        Some(&dispatcher),
        &Uuid::new_v4().to_string(),
        canned.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = ask(
        h,
        Some(&dispatcher),
        &incident,
        json!({"canned": "safe-now", "expected_seq": 99}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The refused question above took a token: start the burst with a full bucket.
    h.advance_s(60);

    // Three at once, then the incident's bucket is empty until time passes.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, sent) = ask(h, Some(&dispatcher), &incident, canned.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        ids.push(sent["message_id"].as_str().expect("id").to_string());
    }
    let (status, limited) = ask(h, Some(&dispatcher), &incident, canned.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{limited}");
    h.advance_s(10);
    let (status, _) = ask(h, Some(&dispatcher), &incident, canned.clone()).await;
    assert_eq!(status, StatusCode::CREATED);

    // Device side: another device can neither read nor answer this device's questions.
    let (status, body) = poll_as(h, &stranger, device.id).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(poll(h, &stranger).await["messages"], json!([]));
    let yes = json!({"kind": "yes_no", "value": true});
    let (status, body) = tap(h, &stranger, &incident, &ids[0], yes.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "incident_not_found");
    let nonce = Uuid::new_v4().simple().to_string();
    let forged = json!({"incident_id": incident, "answer": yes});
    let (status, _) = h
        .send(answer_request(
            h, &stranger, device.id, &ids[0], &forged, &nonce,
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Unknown question, an answer not offered, a malformed body.
    let (status, body) = tap(
        h,
        &device,
        &incident,
        &Uuid::new_v4().to_string(),
        yes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "message_not_found");
    let (status, body) = tap(
        h,
        &device,
        &incident,
        &ids[0],
        json!({"kind": "number", "value": 3}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let nonce = Uuid::new_v4().simple().to_string();
    let (status, _) = h
        .send(answer_request(
            h,
            &device,
            device.id,
            &ids[0],
            &json!({"answer": "yes"}),
            &nonce,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Unsigned and wrongly signed polls.
    let (status, _) = h
        .send(
            Request::builder()
                .uri(format!("/api/devices/{}/messages", device.id))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let wrong_key = TestDevice {
        id: device.id,
        key: signing::generate_device_key(),
        subscriber_id: device.subscriber_id,
    };
    let (status, _) = poll_as(h, &wrong_key, device.id).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = tap(h, &wrong_key, &incident, &ids[0], yes.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // None of it was answered.
    assert_eq!(
        poll(h, &device).await["messages"].as_array().map(Vec::len),
        Some(4)
    );

    // A closed incident takes no question and no answer.
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/incidents/{incident}/close"),
            Some(&dispatcher),
            Some(json!({"outcome": "false_alarm"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    h.advance_s(60);
    let (status, _) = ask(h, Some(&dispatcher), &incident, canned).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = tap(h, &device, &incident, &ids[0], yes).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(poll(h, &device).await["messages"], json!([]));
}

/// After a duress PIN the device shows the neutral wording and no free text; the dispatcher may reveal, audited.
pub async fn duress_questions_are_discreet_unless_revealed(h: &Harness) {
    let device = crate::app::enrolled(h, json!({"pin": "2468", "duress_pin": "1357"})).await;
    let incident = crate::app::raise(h, &device, true, 2).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    // A free-text question before the duress PIN, still unanswered when it comes.
    let (status, early) = ask(
        h,
        Some(&dispatcher),
        &incident,
        json!({"text": "Police are outside. Can you open the door?"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{early}");
    let (status, _) = crate::app::cancel(h, &device, &incident, "1357").await;
    assert_eq!(status, StatusCode::OK);

    let (status, sent) = ask(
        h,
        Some(&dispatcher),
        &incident,
        json!({"canned": "help-coming", "args": {"minutes": "4"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["discreet"], true);
    assert_eq!(sent["device_text"], "알림: 약 4분.");
    let polled = poll(h, &device).await;
    let messages = polled["messages"].as_array().expect("messages");
    // The early free text is withheld now; the canned one is neutral.
    assert_eq!(messages.len(), 1, "{polled}");
    assert_eq!(messages[0]["title"], "새 메시지");
    assert_eq!(messages[0]["text"], "알림: 약 4분.");
    // Everything the device can show (ids and times aside).
    let shown: Vec<String> = messages
        .iter()
        .flat_map(|m| {
            let labels = m["options"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| o["label"].to_string());
            [m["title"].to_string(), m["text"].to_string()]
                .into_iter()
                .chain(labels)
        })
        .collect();
    let shown = shown.join(" ");
    for word in ["경찰", "112", "police", "Police", "duress", "discreet"] {
        assert!(!shown.contains(word), "the device sees {word:?}: {shown}");
    }

    // Free text under duress needs an explicit reveal, which is audited.
    let free = json!({"text": "문을 두 번 두드릴 수 있나요?"});
    let (status, body) = ask(h, Some(&dispatcher), &incident, free.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let mut revealed = free;
    revealed["reveal"] = json!(true);
    let (status, sent) = ask(h, Some(&dispatcher), &incident, revealed).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["discreet"], false);
    let polled = poll(h, &device).await;
    let texts: Vec<&str> = polled["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["알림: 약 4분.", "문을 두 번 두드릴 수 있나요?"]);
    assert!(
        h.audit()
            .await
            .iter()
            .any(|e| e.0 == "incident.question_sent"
                && e.1 == "ask the device, revealed under duress"),
        "the reveal is audited with its reason"
    );
    // The device answers the discreet one like any other.
    let message_id = messages[0]["message_id"].as_str().expect("id");
    let (status, body) = tap(
        h,
        &device,
        &incident,
        message_id,
        json!({"kind": "preset", "value": "ok"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A Vietnamese-speaking subscriber's device reads the question, its title and its buttons in Vietnamese; after a
/// duress PIN, the Vietnamese discreet forms, which name neither the police nor 112.
pub async fn questions_speak_the_subscribers_language(h: &Harness) {
    let device = crate::app::enrolled(
        h,
        json!({"pin": "2468", "duress_pin": "1357", "language": "vi-VN"}),
    )
    .await;
    let incident = crate::app::raise(h, &device, true, 2).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;

    let (status, sent) = ask(
        h,
        Some(&dispatcher),
        &incident,
        json!({"canned": "safe-now"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["device_text"], "Bây giờ bạn có an toàn không?");
    let polled = poll(h, &device).await;
    assert_eq!(polled["language"], "vi");
    let message = &polled["messages"][0];
    assert_eq!(message["title"], "Tin nhắn từ 112");
    assert_eq!(message["text"], "Bây giờ bạn có an toàn không?");
    assert_eq!(
        message["options"],
        json!([
            {"label": "Có", "answer": {"kind": "yes_no", "value": true}},
            {"label": "Không", "answer": {"kind": "yes_no", "value": false}},
        ])
    );

    let (status, _) = crate::app::cancel(h, &device, &incident, "1357").await;
    assert_eq!(status, StatusCode::OK);
    let (status, sent) = ask(
        h,
        Some(&dispatcher),
        &incident,
        json!({"canned": "help-coming", "args": {"minutes": "4"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["discreet"], true);
    assert_eq!(sent["device_text"], "Nhắc nhở: khoảng 4 phút.");
    let polled = poll(h, &device).await;
    assert_eq!(polled["language"], "vi");
    let messages = polled["messages"].as_array().expect("messages");
    // The question sent before the duress PIN, still unanswered, turns discreet too.
    let shown: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["title"].as_str().unwrap_or_default(),
                m["text"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("Tin nhắn mới", "Bạn ổn chứ?"),
            ("Tin nhắn mới", "Nhắc nhở: khoảng 4 phút.")
        ]
    );
    let all = polled.to_string().to_lowercase();
    for word in ["cảnh sát", "112", "police", "kẻ tấn công"] {
        assert!(!all.contains(word), "the device sees {word:?}: {all}");
    }
}
