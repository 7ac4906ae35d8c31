//! Hash banks shared with partners through the API, as an attacker would try them: the staff routes (no session,
//! wrong roles, malformed, oversized, unknown ids, an agreement without hashes, a partner's read-only bank) and the
//! federation delivery route (unknown sender, forged signature, wrong recipient, an offer under an agreement without
//! hashes, a content change not from the origin or not from the agency that offered the bank, another event under a
//! held number, feedback on a bank never offered to its sender, replays). Partners are test keys; what they would
//! deliver is signed here. A partner's bank arrives read-only and matchable; its withdrawal stops the match; a review
//! of its content becomes this agency's signed feedback.

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::AgencyId;
use jikimi_exchange::hashbank::{
    BankChange, BankDelivery, BankEvent, BankItem, BankOffer, FeedbackVerdict,
};
use jikimi_exchange::marking::Marking;
use jikimi_exchange::protocol::{PROTOCOL, Signed};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::Harness;

const HASH: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn id_of(key: &SigningKey) -> AgencyId {
    AgencyId::from_key(&key.verifying_key())
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

pub fn delivery(by: &SigningKey, to: &AgencyId, item: BankItem) -> Value {
    json!(
        Signed::sign(
            BankDelivery {
                protocol: PROTOCOL.into(),
                sender: id_of(by),
                recipient: to.clone(),
                at: Utc::now(),
                item,
            },
            by,
        )
        .expect("sign")
    )
}

pub fn offer(by: &SigningKey, to: &AgencyId, bank: Uuid, agreement: Uuid) -> BankItem {
    BankItem::Offer {
        offer: Signed::sign(
            BankOffer {
                protocol: PROTOCOL.into(),
                bank,
                origin: id_of(by),
                name: "TH known material".into(),
                match_distance: 31,
                category: None,
                from: id_of(by),
                to: to.clone(),
                agreement,
                at: Utc::now(),
            },
            by,
        )
        .expect("sign"),
    }
}

fn event(by: &SigningKey, origin: &AgencyId, bank: Uuid, seq: u64, change: BankChange) -> BankItem {
    BankItem::Event {
        event: Signed::sign(
            BankEvent {
                protocol: PROTOCOL.into(),
                bank,
                origin: origin.clone(),
                issuer: id_of(by),
                seq,
                at: Utc::now(),
                change,
            },
            by,
        )
        .expect("sign"),
    }
}

/// Whether a PDQ lookup of `HASH` matches bank `bank`, asked until it is `expected` (the index follows the store's
/// commits, a few milliseconds after a delivery is answered) or 10 s passed.
async fn matched_becomes(
    h: &Harness,
    app: &axum::Router,
    token: &str,
    bank: Uuid,
    expected: bool,
) -> Value {
    let lookup = format!("/api/identify/lookup?signal_type=pdq&signal={HASH}");
    let start = std::time::Instant::now();
    loop {
        let (status, found) = h
            .call_on(app, Method::GET, &lookup, Some(token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let hit = found["banks"]
            .as_array()
            .expect("banks")
            .iter()
            .find(|b| b["bank_id"] == bank.to_string())
            .cloned();
        if hit.is_some() == expected {
            return hit.unwrap_or(Value::Null);
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "lookup never became {expected}: {found}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub async fn bank_sharing_as_an_attacker_would_try_it(h: &Harness) {
    let app = h.cooperating().await;
    let admin = h.login_as(Role::Admin).await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let call = |method: Method, path: String, token: Option<&str>, body: Option<Value>| {
        let app = app.clone();
        let token = token.map(str::to_owned);
        async move { h.call_on(&app, method, &path, token.as_deref(), body).await }
    };
    let (status, bank) = call(
        Method::POST,
        "/api/identify/banks".into(),
        Some(&supervisor),
        Some(json!({"name": "known"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bank}");
    let bank: Uuid = bank["id"].as_str().expect("id").parse().expect("uuid");
    let (status, content) = call(
        Method::POST,
        format!("/api/identify/banks/{bank}/content"),
        Some(&analyst),
        Some(json!({"signal_type": "pdq", "signal": HASH, "category": "A1"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{content}");
    let content: Uuid = content["id"].as_str().expect("id").parse().expect("uuid");

    // Before this node has an agency identity nothing is shared.
    let th = key(7);
    let offer_path = format!("/api/identify/banks/{bank}/offers");
    let (status, answer) = call(
        Method::POST,
        offer_path.clone(),
        Some(&supervisor),
        Some(json!({"partner": id_of(&th), "agreement": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::CONFLICT, "agency_not_initialised"),
        "{answer}"
    );
    let (status, answer) = call(
        Method::GET,
        format!("/api/identify/banks/{bank}/sharing"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (status, answer) = call(
        Method::POST,
        "/federation/v1/banks/deliver".into(),
        None,
        Some(delivery(
            &th,
            &id_of(&key(1)),
            offer(&th, &id_of(&key(1)), bank, Uuid::nil()),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");

    let (status, me) = call(
        Method::POST,
        "/api/exchange/agency".into(),
        Some(&admin),
        Some(json!({"name": "KNPA", "country": "KR"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{me}");
    let me = AgencyId::parse(me["id"].as_str().expect("id")).expect("id");
    let kh = key(8);
    for (k, country) in [(&th, "TH"), (&kh, "KH")] {
        let (status, answer) = call(
            Method::POST,
            "/api/exchange/peers".into(),
            Some(&admin),
            Some(json!({"id": id_of(k), "name": country, "country": country})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let now = Utc::now();
    let mut agreements = Vec::new();
    for fields in [json!(["attachment"]), json!(["summary"])] {
        let id = Uuid::now_v7();
        let (status, answer) = call(
            Method::POST,
            "/api/exchange/agreements".into(),
            Some(&admin),
            Some(json!({
                "id": id, "title": "hashes", "parties": [me, id_of(&th)],
                "categories": ["csam"], "fields": fields, "max_tlp": "TLP:AMBER",
                "floor": Marking::default(), "purpose": "victim identification",
                "valid_from": now - Duration::days(1), "expires_at": now + Duration::days(30),
                "onward_sharing": false, "revoked_at": null,
            })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        agreements.push(id);
    }
    let (hashes, summaries) = (agreements[0], agreements[1]);

    // The offer route as an attacker would try it.
    let good = json!({"partner": id_of(&th), "agreement": hashes});
    let (status, _) = call(Method::POST, offer_path.clone(), None, Some(good.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for token in [&analyst, &dispatcher] {
        let (status, _) = call(
            Method::POST,
            offer_path.clone(),
            Some(token),
            Some(good.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "only supervisors offer");
    }
    let (status, _) = call(
        Method::POST,
        offer_path.clone(),
        Some(&supervisor),
        Some(json!({"partner": id_of(&th), "agreement": hashes, "extra": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown field");
    let (status, _) = call(
        Method::POST,
        offer_path.clone(),
        Some(&supervisor),
        Some(json!({"partner": "not a key", "agreement": hashes})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "bad partner");
    let (status, _) = call(
        Method::POST,
        offer_path.clone(),
        Some(&supervisor),
        Some(json!({"partner": id_of(&th), "agreement": hashes, "category": "x".repeat(200_000)})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, answer) = call(
        Method::POST,
        format!("/api/identify/banks/{}/offers", Uuid::now_v7()),
        Some(&supervisor),
        Some(good.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown bank: {answer}");
    let (status, answer) = call(
        Method::POST,
        offer_path.clone(),
        Some(&supervisor),
        Some(json!({"partner": id_of(&th), "agreement": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown agreement: {answer}");
    let (status, answer) = call(
        Method::POST,
        offer_path.clone(),
        Some(&supervisor),
        Some(json!({"partner": id_of(&th), "agreement": summaries})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no hash sharing: {answer}");
    let (status, answer) = call(
        Method::POST,
        offer_path.clone(),
        Some(&supervisor),
        Some(json!({"partner": me, "agreement": hashes})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "to ourselves: {answer}"
    );
    let (status, offered) = call(
        Method::POST,
        offer_path.clone(),
        Some(&supervisor),
        Some(good.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{offered}");
    assert_eq!(offered["to"], id_of(&th).to_string());

    // The sharing view and the withdrawal.
    let sharing_path = format!("/api/identify/banks/{bank}/sharing");
    let (status, _) = call(Method::GET, sharing_path.clone(), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(Method::GET, sharing_path.clone(), Some(&dispatcher), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        Method::GET,
        format!("/api/identify/banks/{}/sharing", Uuid::now_v7()),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, sharing) = call(Method::GET, sharing_path.clone(), Some(&analyst), None).await;
    assert_eq!(status, StatusCode::OK, "{sharing}");
    assert_eq!(sharing["offers"].as_array().map(Vec::len), Some(1));
    let withdraw_path = format!("/api/identify/content/{content}/withdraw");
    let (status, _) = call(Method::POST, withdraw_path.clone(), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(Method::POST, withdraw_path.clone(), Some(&analyst), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only supervisors withdraw");
    let (status, _) = call(
        Method::POST,
        format!("/api/identify/content/{}/withdraw", Uuid::now_v7()),
        Some(&supervisor),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, withdrawn) =
        call(Method::POST, withdraw_path.clone(), Some(&supervisor), None).await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["enabled"], false);
    let events = h
        .store
        .bank_events(bank)
        .await
        .expect("events")
        .iter()
        .map(|e| e.event.body.change.name())
        .collect::<Vec<_>>();
    assert_eq!(
        events,
        ["added", "withdrawn"],
        "issued on the offer and the withdrawal"
    );

    // The federation route: TH offers its own bank to us.
    let deliver = |body: Value| {
        call(
            Method::POST,
            "/federation/v1/banks/deliver".into(),
            None,
            Some(body),
        )
    };
    let theirs = Uuid::now_v7();
    let (status, answer) = deliver(json!({"not": "a delivery"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let stranger = key(9);
    let (status, _) = deliver(delivery(
        &stranger,
        &me,
        offer(&stranger, &me, theirs, hashes),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "unknown sender");
    let mut forged = delivery(&th, &me, offer(&th, &me, theirs, hashes));
    forged["signature"] = json!(hex::encode([7u8; 64]));
    let (status, _) = deliver(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "forged signature");
    let (status, _) = deliver(delivery(
        &th,
        &id_of(&kh),
        offer(&th, &id_of(&kh), theirs, hashes),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "wrong recipient");
    let (status, _) = deliver(delivery(&th, &me, offer(&th, &me, theirs, summaries))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an agreement without hashes");
    let their_offer = delivery(&th, &me, offer(&th, &me, theirs, hashes));
    let (status, ack) = deliver(their_offer.clone()).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["body"]["outcome"], "applied");
    let (status, ack) = deliver(their_offer).await;
    assert_eq!(
        (status, ack["body"]["outcome"].as_str()),
        (StatusCode::OK, Some("duplicate")),
        "replay"
    );
    let (_, banks) = call(
        Method::GET,
        "/api/identify/banks".into(),
        Some(&analyst),
        None,
    )
    .await;
    let held = banks
        .as_array()
        .expect("banks")
        .iter()
        .find(|b| b["id"] == theirs.to_string())
        .expect("their bank held")
        .clone();
    assert_eq!(held["origin"], format!("exchange:{}", id_of(&th)));

    // Their content: matchable at once; read-only here.
    let their_content = Uuid::now_v7();
    let added = |signal: &str| BankChange::Added {
        content: their_content,
        signal_type: "pdq".into(),
        signal: signal.into(),
        category: None,
        series: None,
    };
    let first = delivery(&th, &me, event(&th, &id_of(&th), theirs, 1, added(HASH)));
    let (status, ack) = deliver(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    let (status, ack) = deliver(first).await;
    assert_eq!(
        (status, ack["body"]["outcome"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    let (status, answer) = deliver(delivery(
        &th,
        &me,
        event(&th, &id_of(&th), theirs, 1, added(&"0".repeat(64))),
    ))
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another event under a held number: {answer}"
    );
    let (status, _) = deliver(delivery(
        &th,
        &me,
        event(&th, &id_of(&th), Uuid::now_v7(), 1, added(HASH)),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a bank never offered");
    let (status, _) = deliver(delivery(
        &kh,
        &me,
        event(&kh, &id_of(&th), theirs, 5, added(HASH)),
    ))
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a content change not from the origin"
    );
    let (status, _) = deliver(delivery(
        &kh,
        &me,
        event(&th, &id_of(&th), theirs, 5, added(HASH)),
    ))
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "delivered by an agency that did not offer it"
    );
    let (status, _) = deliver(delivery(
        &kh,
        &me,
        event(
            &kh,
            &me,
            bank,
            1,
            BankChange::Feedback {
                content,
                verdict: FeedbackVerdict::TruePositive,
            },
        ),
    ))
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "feedback on a bank never offered to its sender"
    );
    let (status, _) = call(
        Method::POST,
        format!("/api/identify/banks/{theirs}/content"),
        Some(&analyst),
        Some(json!({"signal_type": "pdq", "signal": HASH})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "their bank is read-only"
    );
    let (status, _) = call(
        Method::POST,
        format!("/api/identify/content/{their_content}/withdraw"),
        Some(&supervisor),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "withdrawn at its origin only"
    );
    let theirs_matched = matched_becomes(h, &app, &analyst, theirs, true).await;
    let match_id = theirs_matched["matches"][0]["match_id"]
        .as_str()
        .expect("match")
        .to_owned();

    // A review of their content becomes our signed feedback for them.
    let (status, reviewed) = call(
        Method::POST,
        format!("/api/identify/matches/{match_id}/review"),
        Some(&analyst),
        Some(json!({"verdict": "false_positive"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    let (_, sharing) = call(
        Method::GET,
        format!("/api/identify/banks/{theirs}/sharing"),
        Some(&analyst),
        None,
    )
    .await;
    let feedback = sharing["feedback"].as_array().expect("feedback");
    assert_eq!(feedback.len(), 1, "{sharing}");
    assert_eq!(feedback[0]["issuer"], me.to_string());
    assert_eq!(feedback[0]["verdict"], "false_positive");

    // Their withdrawal: no longer matched.
    let (status, _) = deliver(delivery(
        &th,
        &me,
        event(
            &th,
            &id_of(&th),
            theirs,
            2,
            BankChange::Withdrawn {
                content: their_content,
                category: None,
            },
        ),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    matched_becomes(h, &app, &analyst, theirs, false).await;
    let (status, _) = deliver(json!({"signature": "x".repeat(200_000)})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
