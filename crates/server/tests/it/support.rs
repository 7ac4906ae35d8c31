//! The test harness: a fresh store per test (SQLite temp file or a PostgreSQL schema), the router, a pinned clock,
//! staff logins, enrolled devices and signed alert requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt as _;
use jikimi_respond::{Actor, Timestamp};
use jikimi_server::config::{Config, KeyMaterial};
use jikimi_server::roles::Role;
use jikimi_server::state::AppState;
use jikimi_server::{router, signing};
use jikimi_store::{Change, Store};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;

/// Which store backs a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh schema on the house PostgreSQL.
    Postgres,
}

/// A device enrolled for tests.
pub struct TestDevice {
    pub id: Uuid,
    pub key: SigningKey,
    pub subscriber_id: Uuid,
}

pub struct Harness {
    pub backend: Backend,
    pub app: Router,
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub now_ms: Arc<AtomicI64>,
    pub sqlite_dir: Option<tempfile::TempDir>,
    /// Drops the PostgreSQL schema with the harness.
    _pg: Option<jikimi_store::testing::PgSchema>,
}

pub const BODY_LIMIT: usize = 4096;
/// The AML gateway the harness trusts, and its shared key.
pub const GATEWAY_ID: &str = "test-gw";
pub const GATEWAY_KEY: [u8; 32] = [5; 32];

impl Harness {
    /// Waits (up to 5 s) for the console's live feed to publish incident `id`; returns the published DTO.
    pub async fn live_incident(
        &self,
        sub: &mut jikimi_server::live::Subscription,
        id: &str,
    ) -> serde_json::Value {
        self.live_incident_where(sub, id, |_| true).await
    }

    /// Waits (up to 5 s) for the live feed to publish incident `id` in a state `want` accepts; returns its DTO.
    pub async fn live_incident_where(
        &self,
        sub: &mut jikimi_server::live::Subscription,
        id: &str,
        want: impl Fn(&Value) -> bool,
    ) -> serde_json::Value {
        let event = self
            .live_event(sub, "incident", |dto| dto["id"] == id && want(dto))
            .await;
        serde_json::from_str(&event.data).expect("incident json")
    }

    /// Waits (up to 5 s) for a live event of `kind` whose full view `want` accepts; returns the event (both views).
    pub async fn live_event(
        &self,
        sub: &mut jikimi_server::live::Subscription,
        kind: &str,
        want: impl Fn(&Value) -> bool,
    ) -> Arc<jikimi_server::live::LiveEvent> {
        let wait = async {
            loop {
                match sub.rx.recv().await {
                    Ok(event) if event.kind == kind => {
                        let dto: Value = serde_json::from_str(&event.data).expect("event json");
                        if want(&dto) {
                            return event;
                        }
                    }
                    Ok(_) => {}
                    Err(err) => panic!("live feed: {err}"),
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), wait)
            .await
            .unwrap_or_else(|_| panic!("no {kind} event as wanted reached the live feed"))
    }

    /// A harness with surge clustering off, so tests that raise many alerts at one place see one incident each.
    pub async fn new(backend: Backend) -> Harness {
        Harness::with_config(backend, |_| {}).await
    }

    /// A harness whose configuration `tweak` adjusts (after the test defaults).
    pub async fn with_config(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Harness {
        let (store, sqlite_dir, pg): (Arc<dyn Store>, _, _) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = jikimi_store::connect(&format!(
                    "sqlite://{}",
                    dir.path().join("t.sqlite").display()
                ))
                .await
                .expect("open sqlite");
                (store, Some(dir), None)
            }
            Backend::Postgres => {
                let schema = jikimi_store::testing::PgSchema::create("server_test").await;
                let store = schema.store().await;
                (Arc::new(store) as Arc<dyn Store>, None, Some(schema))
            }
        };
        store.migrate().await.expect("migrate");
        let now_ms = Arc::new(AtomicI64::new(1_790_000_000_000));
        let clock_ms = now_ms.clone();
        let mut config = Config {
            body_limit_bytes: BODY_LIMIT,
            aml_gateways: jikimi_server::config::AmlGateways(
                [(GATEWAY_ID.to_string(), GATEWAY_KEY)]
                    .into_iter()
                    .collect(),
            ),
            surge: jikimi_respond::SurgeConfig::DISABLED,
            ..Config::default()
        };
        tweak(&mut config);
        let state = AppState::new(
            store.clone(),
            &KeyMaterial::generate(),
            config,
            Arc::new(move || Timestamp::from_unix_ms(clock_ms.load(Ordering::SeqCst))),
        )
        .expect("state");
        Harness {
            backend,
            app: recorded(router(state.clone())),
            state,
            store,
            now_ms,
            sqlite_dir,
            _pg: pg,
        }
    }

    /// Runs one raw `UPDATE` (one text parameter, `$1`) on the harness's database behind the store's back, as a
    /// failed disk or a bad manual edit would; returns the rows changed.
    pub async fn raw_update(&self, sql: &'static str, arg: &str) -> u64 {
        jikimi_store::testing::raw_update(&self.database_url(), sql, arg).await
    }

    pub async fn finish(self) {
        // Dropping the schema guard removes the test's schema (see `jikimi_store::testing`).
        drop(self);
    }

    /// The harness's database URL (SQLite file or PostgreSQL schema).
    pub fn database_url(&self) -> String {
        match (&self.sqlite_dir, &self._pg) {
            (Some(dir), _) => format!("sqlite://{}", dir.path().join("t.sqlite").display()),
            (None, Some(pg)) => pg.store_url(),
            (None, None) => panic!("harness without a database"),
        }
    }

    /// A router over this harness's state with cooperation on (`/api/exchange/*`, `/federation/v1/*`), recorded as
    /// `app` is: the same database, opened with the test data keys that seal the cooperation tables, as the binary
    /// wires it. The database has no agency identity until a test creates one.
    pub async fn cooperating(&self) -> Router {
        let store = jikimi_store::connect_with_keyring(
            &self.database_url(),
            jikimi_store::testing::test_keyring(),
        )
        .await
        .expect("reopen with the data keys");
        let mut state = self.state.clone();
        // The index follows its store's commits: this store's, so federation imports reach it as in the binary.
        state.identify = jikimi_server::identify_index::Banks::spawn(store.clone());
        state.store = store;
        let state = state.with_exchange(
            jikimi_federation::DEFAULT_PAGE,
            jikimi_federation::Transport::default(),
        );
        recorded(router(state))
    }

    pub fn now_s(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst) / 1000
    }

    pub fn advance_s(&self, s: i64) {
        self.now_ms.fetch_add(s * 1000, Ordering::SeqCst);
    }

    /// Sends a request; returns status and JSON body (Null when empty or not JSON).
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        send_to(&self.app, request).await
    }

    /// [`Harness::call`] on another router (e.g. one whose state has a case source).
    pub async fn call_on(
        &self,
        app: &Router,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        send_to(app, request(method, path, token, body)).await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send(request(method, path, token, body)).await
    }

    /// Creates a staff account with `role` and logs in over HTTP; returns the token.
    pub async fn login_as(&self, role: Role) -> String {
        let username = format!(
            "{}-{}",
            role.as_str(),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let change = Change::new(
            Actor::System,
            Timestamp::from_unix_ms(self.now_ms.load(Ordering::SeqCst)),
            "test",
        );
        jikimi_server::auth::create_staff_account(
            &self.state,
            &username,
            "correct horse battery",
            role,
            &change,
        )
        .await
        .expect("create staff");
        let (status, body) = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"username": username, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// Registers a subscriber with one device over HTTP.
    pub async fn enrol(&self, token: &str, subscriber: Value) -> TestDevice {
        let key = signing::generate_device_key();
        let mut body = subscriber;
        body["devices"] =
            json!([{"public_key": hex::encode(key.verifying_key().to_bytes()), "kind": "app"}]);
        let (status, answer) = self
            .call(Method::POST, "/api/subscribers", Some(token), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        TestDevice {
            id: Uuid::parse_str(answer["device_ids"][0].as_str().expect("device id"))
                .expect("uuid"),
            key,
            subscriber_id: Uuid::parse_str(answer["id"].as_str().expect("id")).expect("uuid"),
        }
    }

    /// A device with a throwaway subscriber.
    pub async fn device(&self) -> TestDevice {
        let admin = self.login_as(Role::Admin).await;
        self.enrol(
            &admin,
            json!({"name": "Test Person", "phone": "010-1234-5678"}),
        )
        .await
    }

    /// A signed alert request for raw body bytes.
    pub fn alert_request(
        &self,
        device: &TestDevice,
        body: &[u8],
        timestamp_s: i64,
        nonce: &str,
    ) -> Request<Body> {
        let headers =
            signing::sign_alert_with_nonce(&device.key, &device.id, timestamp_s, nonce, body);
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/api/alerts")
            .header("content-type", "application/json");
        for (name, value) in headers.pairs() {
            builder = builder.header(name, value);
        }
        builder.body(Body::from(body.to_vec())).expect("request")
    }

    /// Sends a well-formed signed alert with a fresh nonce.
    pub async fn raise(&self, device: &TestDevice, alert: Value) -> (StatusCode, Value) {
        let body = serde_json::to_vec(&alert).expect("json");
        let nonce = Uuid::new_v4().simple().to_string();
        self.send(self.alert_request(device, &body, self.now_s(), &nonce))
            .await
    }

    /// Sends a signed device request (location, cancel) to `path` under `context`, with a fresh nonce.
    pub async fn signed(
        &self,
        device: &TestDevice,
        path: &str,
        context: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let body = serde_json::to_vec(body).expect("json");
        let nonce = Uuid::new_v4().simple().to_string();
        let headers = signing::sign_in(
            context,
            &device.key,
            &device.id,
            self.now_s(),
            &nonce,
            &body,
        );
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json");
        for (name, value) in headers.pairs() {
            builder = builder.header(name, value);
        }
        self.send(builder.body(Body::from(body)).expect("request"))
            .await
    }

    /// An AML request signed by the harness's gateway at `timestamp_s` with `key`.
    pub fn aml_request(
        &self,
        body: &Value,
        gateway: &str,
        key: &[u8; 32],
        timestamp_s: i64,
    ) -> Request<Body> {
        let body = serde_json::to_vec(body).expect("json");
        let signature = jikimi_server::aml::sign_gateway_request(key, gateway, timestamp_s, &body);
        Request::builder()
            .method(Method::POST)
            .uri("/api/intake/aml")
            .header("content-type", "application/json")
            .header("x-jikimi-gateway", gateway)
            .header("x-jikimi-timestamp", timestamp_s.to_string())
            .header("x-jikimi-signature", signature)
            .body(Body::from(body))
            .expect("request")
    }

    pub async fn n_incidents(&self) -> usize {
        self.store
            .list_incidents(&jikimi_store::IncidentFilter {
                limit: 10_000,
                ..Default::default()
            })
            .await
            .expect("list")
            .len()
    }

    /// Every audit entry as (action, reason, actor, detail).
    pub async fn audit(&self) -> Vec<(String, String, String, String)> {
        self.store
            .list_audit(0, 10_000)
            .await
            .expect("audit")
            .into_iter()
            .map(|e| (e.action, e.reason, e.actor, e.detail))
            .collect()
    }
}

pub fn sos(lat: f64, lon: f64) -> Value {
    json!({"alert_id": Uuid::new_v4(), "priority": 1, "location": {"lat": lat, "lon": lon, "accuracy_m": 10.0, "method": "gnss"}})
}

/// `app` that, when `JIKIMI_STATUS_LOG` names a file, appends `METHOD<TAB>route<TAB>status` for every answer of a
/// matched route (the route as the OpenAPI document writes it, e.g. `/api/incidents/{id}`). `.ci/run` sets it and
/// `.ci/st_coverage.py` joins these with Schemathesis's answers: every documented error status must be answered by
/// one or the other.
pub fn recorded(app: Router) -> Router {
    let Some(path) = std::env::var_os("JIKIMI_STATUS_LOG") else {
        return app;
    };
    app.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let path = path.clone();
            async move {
                let method = request.method().clone();
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map(|m| m.as_str().to_owned());
                let response = next.run(request).await;
                if let Some(route) = route {
                    use std::io::Write as _;
                    // One short line per write on an O_APPEND file: concurrent tests never interleave within a line.
                    let line = format!("{method}\t{route}\t{}\n", response.status().as_u16());
                    if let Ok(mut file) = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                    {
                        let _ = file.write_all(line.as_bytes());
                    }
                }
                response
            }
        },
    ))
}

/// Sends a request to `app`; returns status and JSON body (Null when empty or not JSON).
pub async fn send_to(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A request with an optional bearer token and JSON body.
pub fn request(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).expect("json")))
            .expect("request"),
        None => builder.body(Body::empty()).expect("request"),
    }
}
