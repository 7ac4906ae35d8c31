//! Reveal and phone search are tied to an open incident of that subscriber (issue 16, item 4); a supervisor may
//! override with a real reason, audited as an override.
//!
//! The attack: a dispatcher looks up any phone number and decrypts the record with a three-character reason.

use axum::http::{Method, StatusCode};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Harness, sos};

async fn post(h: &Harness, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    h.call(Method::POST, path, Some(token), Some(body)).await
}

fn refused(answer: (StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(
        (answer.0, answer.1["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        answer.1
    );
}

fn actions(audit: &[(String, String, String, String)], action: &str) -> Vec<(String, String)> {
    audit
        .iter()
        .filter(|(a, ..)| a == action)
        .map(|(_, reason, _, detail)| (reason.clone(), detail.clone()))
        .collect()
}

pub async fn reveal_and_search_need_an_open_incident_of_that_subscriber(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let caller = h
        .enrol(&admin, json!({"name": "Caller", "phone": "010-5555-1001"}))
        .await;
    let stranger = h
        .enrol(
            &admin,
            json!({"name": "Stranger", "phone": "010-5555-1002"}),
        )
        .await;
    let reveal_caller = format!("/api/subscribers/{}/reveal", caller.subscriber_id);
    let reveal_stranger = format!("/api/subscribers/{}/reveal", stranger.subscriber_id);

    // No incident: what used to answer 200 with the decrypted record is refused.
    refused(
        post(h, &dispatcher, &reveal_stranger, json!({"reason": "why"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    refused(
        post(
            h,
            &dispatcher,
            "/api/subscribers/search",
            json!({"phone": "010-5555-1002", "reason": "who"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    refused(
        post(
            h,
            &dispatcher,
            &reveal_stranger,
            json!({"reason": "why", "incident_id": Uuid::new_v4()}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "incident_not_found",
    );

    // An open incident of the caller does not open the stranger's record, nor find the stranger by phone.
    let (status, body) = h.raise(&caller, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let incident = body["incident_id"].as_str().expect("incident").to_string();
    refused(
        post(
            h,
            &dispatcher,
            &reveal_stranger,
            json!({"reason": "why", "incident_id": incident}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, found) = post(
        h,
        &dispatcher,
        "/api/subscribers/search",
        json!({"phone": "010-5555-1002", "reason": "who", "incident_id": incident}),
    )
    .await;
    assert_eq!((status, &found), (StatusCode::OK, &json!({"ids": []})));
    // A dispatcher cannot override.
    refused(
        post(
            h,
            &dispatcher,
            &reveal_stranger,
            json!({"reason": "a long and serious reason", "override": true}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // The caller's own record, for the caller's open incident: revealed, and found by phone.
    let (status, revealed) = post(
        h,
        &dispatcher,
        &reveal_caller,
        json!({"reason": "calling back", "incident_id": incident}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revealed}");
    assert_eq!(revealed["fields"]["name"], "Caller");
    let (status, found) = post(
        h,
        &dispatcher,
        "/api/subscribers/search",
        json!({"phone": "+82 10 5555 1001", "reason": "caller id", "incident_id": incident}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found, json!({"ids": [caller.subscriber_id]}));

    // Once the incident is closed, it no longer opens the record.
    let (status, body) = post(
        h,
        &dispatcher,
        &format!("/api/incidents/{incident}/close"),
        json!({"outcome": "false_alarm"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    refused(
        post(
            h,
            &dispatcher,
            &reveal_caller,
            json!({"reason": "calling back", "incident_id": incident}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    refused(
        post(
            h,
            &dispatcher,
            "/api/subscribers/search",
            json!({"phone": "010-5555-1001", "reason": "who", "incident_id": incident}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // A supervisor may override, with a real reason, audited as an override.
    let supervisor = h.login_as(Role::Supervisor).await;
    refused(
        post(
            h,
            &supervisor,
            &reveal_stranger,
            json!({"reason": "check", "override": true}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "reason_required",
    );
    let why = "welfare check requested by the guardian";
    let (status, revealed) = post(
        h,
        &supervisor,
        &reveal_stranger,
        json!({"reason": why, "override": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revealed}");
    assert_eq!(revealed["fields"]["name"], "Stranger");
    let (status, found) = post(
        h,
        &supervisor,
        "/api/subscribers/search",
        json!({"phone": "010-5555-1002", "reason": why, "override": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found, json!({"ids": [stranger.subscriber_id]}));

    let audit = h.audit().await;
    let revealed = actions(&audit, "subscriber.revealed");
    assert_eq!(revealed.len(), 1, "{revealed:?}");
    assert!(revealed[0].1.contains(&incident), "{revealed:?}");
    let overrides = actions(&audit, "subscriber.reveal_override");
    assert_eq!(overrides.len(), 1, "{overrides:?}");
    assert_eq!(overrides[0].0, why);
    assert_eq!(actions(&audit, "subscriber.search_override").len(), 1);
    // Two searches under the incident (one found nobody), none of the refused ones.
    let searched = actions(&audit, "subscriber.searched");
    assert_eq!(searched.len(), 2, "{searched:?}");
    assert!(searched.iter().all(|(_, d)| d.contains(&incident)));
    // Every refused lookup is on record too, with its error code as the reason.
    let refusals = actions(&audit, "subscriber.lookup_refused");
    let codes: Vec<&str> = refusals.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "invalid_field",
            "invalid_field",
            "incident_not_found",
            "forbidden",
            "forbidden",
            "forbidden",
            "forbidden",
            "reason_required"
        ]
    );
}
