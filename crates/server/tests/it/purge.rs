//! The scheduled purge (issue 16, item 9): used nonces and expired sessions are deleted, and the purge never
//! reopens the replay window: a nonce goes only once the clock window refuses its replay by itself.

use axum::http::{Method, StatusCode};
use jikimi_server::purge::{Purged, purge_once};
use jikimi_server::roles::Role;
use serde_json::json;

use crate::support::{Harness, sos};

fn code(body: &serde_json::Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// An alert signed up to a window ahead of the server's clock stays replayable for twice the window: the purge
/// keeps its nonce that long (a purge at one window would let this replay open a second incident), then forgets
/// it, and the clock window refuses the replay. Expired sessions go too; live ones stay.
pub async fn purge_never_reopens_the_replay_window(h: &Harness) {
    let window = h.state.config.alert_window_s;
    let device = h.device().await;
    let body = serde_json::to_vec(&sos(37.5, 127.0)).expect("json");
    let signed_at = h.now_s() + window - 1;
    let replay = || h.alert_request(&device, &body, signed_at, "nonce-purge-0000001");
    let (status, first) = h.send(replay()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");

    // Almost two windows later the signed timestamp is still inside the window: the nonce must still be known.
    h.advance_s(2 * window - 2);
    assert_eq!(purge_once(&h.state).await.expect("purge").nonces, 0);
    let (status, answer) = h.send(replay()).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::CONFLICT, "nonce_replayed"),
        "{answer}"
    );

    // Past two windows and the margin the nonce goes, and the window refuses the replay by itself.
    h.advance_s(jikimi_server::purge::NONCE_MARGIN_S + 3);
    let purged = purge_once(&h.state).await.expect("purge");
    assert_eq!(purged.nonces, 1, "{purged:?}");
    let (status, answer) = h.send(replay()).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNAUTHORIZED, "timestamp_out_of_window"),
        "{answer}"
    );
    assert_eq!(h.n_incidents().await, 1, "one alert, one incident");

    // Sessions: the expired one is deleted, the fresh one kept.
    let old = h.login_as(Role::Dispatcher).await;
    h.advance_s(h.state.config.session_ttl_s + 1);
    let fresh = h.login_as(Role::Dispatcher).await;
    let purged = purge_once(&h.state).await.expect("purge");
    assert!(
        purged.sessions >= 2,
        "the old session and the device's admin: {purged:?}"
    );
    assert_eq!(
        purge_once(&h.state).await.expect("purge"),
        Purged::default(),
        "nothing left to purge"
    );
    let (status, _) = h.call(Method::GET, "/api/auth/me", Some(&old), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, me) = h
        .call(Method::GET, "/api/auth/me", Some(&fresh), None)
        .await;
    assert_eq!(
        (status, me["role"].clone()),
        (StatusCode::OK, json!("dispatcher"))
    );
}
