//! Sessions against the staff row (issue 16, item 6), written as the attacks that used to work: a token keeps its
//! old role after a demotion, a disabled user's token still works, a password reset leaves the thief's token alive,
//! `bearer` in lower case logs out nothing, an open live feed outlives its logout.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use jikimi_respond::{Actor, Timestamp};
use jikimi_server::roles::Role;
use jikimi_store::Change;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::Harness;

const PASSWORD: &str = "correct horse battery";

/// A staff account with `role`, logged in over HTTP: (username, token).
async fn account(h: &Harness, role: Role) -> (String, String) {
    let username = format!(
        "{}-{}",
        role.as_str(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let change = Change::new(
        Actor::System,
        Timestamp::from_unix_ms(h.now_s() * 1000),
        "test",
    );
    jikimi_server::auth::create_staff_account(&h.state, &username, PASSWORD, role, &change)
        .await
        .expect("create staff");
    let token = login(h, &username, PASSWORD).await.expect("login");
    (username, token)
}

async fn login(h: &Harness, username: &str, password: &str) -> Result<String, Value> {
    let (status, body) = h
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await;
    match (status, body["token"].as_str()) {
        (StatusCode::OK, Some(token)) => Ok(token.to_string()),
        _ => Err(body),
    }
}

async fn me(h: &Harness, token: &str) -> (StatusCode, Value) {
    h.call(Method::GET, "/api/auth/me", Some(token), None).await
}

async fn change(h: &Harness, admin: &str, username: &str, body: Value) -> (StatusCode, Value) {
    h.call(
        Method::PATCH,
        &format!("/api/staff/{username}"),
        Some(admin),
        Some(body),
    )
    .await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// A supervisor demoted to analyst: the token taken as supervisor no longer reads the audit log (it is ended), and
/// the next login sees the new role. Audited with the number of sessions ended.
pub async fn role_change_ends_the_sessions_taken_under_the_old_role(h: &Harness) {
    let (_, admin) = account(h, Role::Admin).await;
    let (user, token) = account(h, Role::Supervisor).await;
    let (status, _) = h.call(Method::GET, "/api/audit", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "a supervisor reads the audit log");

    let (status, body) = change(h, &admin, &user, json!({"role": "analyst"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"username": user, "role": "analyst", "disabled": false})
    );

    let (status, body) = h.call(Method::GET, "/api/audit", Some(&token), None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated"),
        "the supervisor's token died with the demotion: {body}"
    );
    let token = login(h, &user, PASSWORD).await.expect("login again");
    let (status, body) = me(h, &token).await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("analyst"))
    );
    let (status, body) = h.call(Method::GET, "/api/audit", Some(&token), None).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));

    let audit = h.audit().await;
    let updated: Vec<_> = audit
        .iter()
        .filter(|(action, ..)| action == "staff.updated")
        .collect();
    assert_eq!(updated.len(), 1, "{updated:?}");
    let (_, reason, actor, detail) = updated[0];
    assert!(reason.contains("role analyst"), "{reason}");
    assert!(actor.contains("admin-"), "{actor}");
    assert!(detail.contains("\"sessions_ended\":1"), "{detail}");
}

/// A disabled account: its open token is refused at once, and it cannot log in; re-enabled, it can.
pub async fn disabled_users_token_is_refused(h: &Harness) {
    let (_, admin) = account(h, Role::Admin).await;
    let (user, token) = account(h, Role::Dispatcher).await;
    assert_eq!(me(h, &token).await.0, StatusCode::OK);
    let (status, body) = change(h, &admin, &user, json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = me(h, &token).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (status, body) = h
        .call(Method::GET, "/api/incidents", Some(&token), None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let refused = login(h, &user, PASSWORD).await.expect_err("disabled");
    assert_eq!(code(&refused), "login_failed");
    let (status, _) = change(h, &admin, &user, json!({"disabled": false})).await;
    assert_eq!(status, StatusCode::OK);
    let token = login(h, &user, PASSWORD).await.expect("re-enabled");
    assert_eq!(me(h, &token).await.0, StatusCode::OK);
}

/// A password reset (a stolen token, a leaked password): every session of the account ends, the old password stops
/// working, the new one works. `jikimi staff add` on an existing account does the same through the store.
pub async fn password_reset_ends_every_session(h: &Harness) {
    let (_, admin) = account(h, Role::Admin).await;
    let (user, stolen) = account(h, Role::Dispatcher).await;
    let second = login(h, &user, PASSWORD).await.expect("second device");
    let (status, body) = change(
        h,
        &admin,
        &user,
        json!({"password": "a new long passphrase"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for token in [&stolen, &second] {
        let (status, body) = me(h, token).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );
    }
    assert!(login(h, &user, PASSWORD).await.is_err(), "old password");
    let token = login(h, &user, "a new long passphrase")
        .await
        .expect("new password");
    assert_eq!(me(h, &token).await.0, StatusCode::OK);
    // The audit entry says what changed, never the password.
    let audit = h.audit().await;
    assert!(
        audit
            .iter()
            .any(|(action, reason, ..)| action == "staff.updated"
                && reason.contains("password reset"))
    );
    assert!(!audit.iter().any(
        |(_, reason, _, detail)| reason.contains("a new long passphrase")
            || detail.contains("a new long passphrase")
    ));
}

/// Only admins change accounts; an unknown name, an empty change or a short password are refused.
pub async fn staff_changes_are_admin_only_and_checked(h: &Harness) {
    let (_, admin) = account(h, Role::Admin).await;
    let (user, supervisor) = account(h, Role::Supervisor).await;
    let (status, body) = change(h, &supervisor, &user, json!({"role": "admin"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "no self-promotion"
    );
    let (status, body) = change(h, &admin, "nobody", json!({"disabled": true})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "staff_not_found")
    );
    let (status, body) = change(h, &admin, &user, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
    let (status, body) = change(h, &admin, &user, json!({"password": "short"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );
    let (status, body) = change(h, &admin, &user, json!({"rol": "admin"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_payload")
    );
    // None of the refusals touched the account or its session.
    let (status, body) = me(h, &supervisor).await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("supervisor"))
    );
}

fn with_authorization(method: Method, path: &str, value: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", value)
        .body(Body::empty())
        .expect("request")
}

/// `Authorization: bearer <token>` (the scheme is case-insensitive) used to authenticate the logout but revoke
/// nothing, answering 204 while the token lived on.
pub async fn logout_with_a_lowercase_scheme_revokes(h: &Harness) {
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let (_, token) = account(h, Role::Dispatcher).await;
        let (status, _) = h
            .send(with_authorization(
                Method::POST,
                "/api/auth/logout",
                &format!("{scheme} {token}"),
            ))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{scheme}");
        let (status, body) = me(h, &token).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "logged out with {scheme:?}"
        );
    }
    // Other schemes are not bearer tokens.
    let (_, token) = account(h, Role::Dispatcher).await;
    let (status, _) = h
        .send(with_authorization(
            Method::GET,
            "/api/auth/me",
            &format!("Basic {token}"),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// An open `/api/live` stream: its body and the next frame, or `None` when the stream has ended.
struct Feed {
    body: Body,
}

impl Feed {
    async fn open(h: &Harness, token: &str) -> Feed {
        let response = h
            .app
            .clone()
            .oneshot(with_authorization(
                Method::GET,
                "/api/live",
                &format!("Bearer {token}"),
            ))
            .await
            .expect("router answers");
        assert_eq!(response.status(), StatusCode::OK);
        let mut feed = Feed {
            body: response.into_body(),
        };
        let hello = feed.next().await.expect("hello");
        assert!(hello.contains("event: hello"), "{hello}");
        feed
    }

    /// The next SSE frame's text, or `None` at the end of the stream. Waits at most 10 s, so a stream that never
    /// ends fails the test instead of hanging it.
    async fn next(&mut self) -> Option<String> {
        loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(10), self.body.frame())
                .await
                .expect("the feed answers or ends");
            let frame = frame?.expect("frame");
            let data = frame.into_data().expect("data frame");
            let text = String::from_utf8_lossy(&data).into_owned();
            // Keep-alive comments are not events.
            if !text.starts_with(':') {
                return Some(text);
            }
        }
    }
}

/// A console's live feed used to stream on after its logout (or expiry, or the account's disabling): the feed now
/// re-checks its session and ends instead of delivering the next event, while a valid session's feed gets it.
pub async fn open_live_stream_ends_after_logout(h: &Harness) {
    let (_, admin) = account(h, Role::Admin).await;
    let (_, watcher) = account(h, Role::Dispatcher).await;
    let (_, leaver) = account(h, Role::Dispatcher).await;
    let (disabled_user, disabled) = account(h, Role::Dispatcher).await;
    let mut kept = Feed::open(h, &watcher).await;
    let mut logged_out = Feed::open(h, &leaver).await;
    let mut disabled_feed = Feed::open(h, &disabled).await;

    let (status, _) = h
        .call(Method::POST, "/api/auth/logout", Some(&leaver), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = change(h, &admin, &disabled_user, json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::OK);
    // A second later, an event: each feed checks its session before sending it.
    h.advance_s(2);
    h.state
        .live
        .publish("unit", json!({"id": "P-7"}).to_string());
    let event = kept.next().await.expect("the valid feed goes on");
    assert!(event.contains("P-7"), "{event}");
    assert_eq!(logged_out.next().await, None, "the logged-out feed ended");
    assert_eq!(
        disabled_feed.next().await,
        None,
        "the disabled user's feed ended"
    );

    // Expiry: the same for the session that was still valid.
    h.advance_s(8 * 3600);
    h.state
        .live
        .publish("unit", json!({"id": "P-8"}).to_string());
    assert_eq!(kept.next().await, None, "the expired session's feed ended");
}
