//! Fuzzes the unauthenticated bodies an attacker controls most: staff login (`POST /api/auth/login`) and device
//! enrolment (`POST /api/devices/enrol`), through the real router on a real (SQLite) store.
//!
//! The first byte picks the endpoint and the content type, the rest is the body. Any panic, and any 5xx answer,
//! is a finding: bad input must end in a 4xx with the API's error body. One valid enrolment code and one staff
//! account exist, so well-formed bodies reach the argon2 and store paths, not only the JSON parser.
//!
//! Run: `cd crates/server/fuzz && cargo +nightly fuzz run bodies -- -max_total_time=600`
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request};
use jikimi_respond::{Actor, Timestamp};
use jikimi_server::config::{Config, KeyMaterial};
use jikimi_server::roles::Role;
use jikimi_server::state::AppState;
use jikimi_store::{Change, Store};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

struct World {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("fuzz.sqlite").display());
        let app = runtime.block_on(async {
            let store: Arc<dyn Store> = jikimi_store::connect(&url).await.expect("store");
            store.migrate().await.expect("migrate");
            let state = AppState::new(
                store,
                &KeyMaterial::generate(),
                Config::default(),
                jikimi_server::state::system_clock(),
            )
            .expect("state");
            let change = Change::new(Actor::System, Timestamp::from(std::time::SystemTime::now()), "fuzz");
            jikimi_server::auth::create_staff_account(&state, "fuzz", "correct horse battery", Role::Admin, &change)
                .await
                .expect("staff");
            jikimi_server::router(state)
        });
        World { runtime, app, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let world = world();
    let path = match selector % 2 {
        0 => "/api/auth/login",
        _ => "/api/devices/enrol",
    };
    let content_type = match (selector / 2) % 3 {
        0 => "application/json",
        1 => "application/json; charset=utf-8",
        _ => "text/plain",
    };
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .expect("request");
    let response = world
        .runtime
        .block_on(world.app.clone().oneshot(request))
        .expect("infallible");
    let status = response.status();
    assert!(
        !status.is_server_error() || status.as_u16() == 503 || status.as_u16() == 429,
        "{path} answered {status} to a body of {} bytes",
        body.len()
    );
});
