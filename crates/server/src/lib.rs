//! jikimi's HTTP API: the only crate that knows HTTP and JSON.
//!
//! - [`router`] builds the whole axum application from an [`AppState`]; tests drive it with `oneshot`, the binary
//!   serves it with [`serve`].
//! - Devices raise alerts at `POST /api/alerts`, authenticated by an Ed25519 signature ([`signing`]); the alert is
//!   made durable by a group committer ([`group_commit`]) and answered 202 only after the commit.
//! - The 112 app ([`app`]) enrols devices with one-time codes, streams locations for an open alert, and cancels
//!   with the subscriber's PIN, where a duress PIN answers like a cancel but escalates.
//! - U-Relief terminals send signed alerts over MQTT ([`mqtt`]), committed through the same group commit.
//! - Every way an alert comes in (the device API, the app, MQTT, AML) hands it to the intake service
//!   ([`intake_service::Intake`]), which checks, commits and audits refusals in one place, and knows no HTTP.
//! - Staff log in ([`auth`]) and act on incidents, units and subscribers; each endpoint checks a [`roles::Permission`].
//! - Border officers check travellers against the watchlist ([`border`]); analysts link the entities of shared
//!   cases and confirm or reject links ([`links`]). Both read the federation's cases through
//!   [`border::CaseSource`].
//! - Cooperation: staff use `/api/exchange/*` ([`exchange`], freeze requests in [`exchange_freeze`]) and
//!   `/api/operations/*` (joint operations, [`joint_operations`]); partner nodes use the one federation router
//!   ([`federation`]), merged here and served alone by `jikimi federation serve`.
//! - Disaster mode ([`disaster`]): a declared disaster asks everyone in its area whether they are safe (the app
//!   polls, terminals hear it over MQTT), tracks each person in need and orders them for rescue.
//! - Every failure is an [`error::ApiError`] with a closed [`error::ErrorCode`].
//! - Every answer carries the security headers ([`web`]); `/metrics` and the Swagger UI are on a separate
//!   operations listener ([`web::ops_router`]), never on this router.
//! - Personal fields are sealed ([`jikimi_privacy`]) before the store sees them and are never logged.
//! - The console ([`console`], plain ES modules under `console/`) costs what the screen shows, not what the city
//!   holds: feed events are applied once per animation frame, the incident queue is virtualised and the map
//!   redraws cached canvas layers (see the headers of `console/app.js` and `console/map.js`); `e2e/bench.mjs`
//!   measures it in Chromium.
//!
//! Must not depend on sqlx or on a store backend: it holds an `Arc<dyn Store>`.

pub mod alerts;
pub mod aml;
pub mod app;
pub mod auth;
pub mod border;
pub mod closures;
pub mod cluster;
pub mod config;
pub mod console;
pub mod disaster;
pub mod dto;
pub mod error;
pub mod exchange;
pub mod exchange_freeze;
pub mod extract;
pub mod federation;
pub mod flood;
pub mod freeze_evidence;
pub mod funds;
pub mod funds_links;
pub mod funds_run;
pub mod geocode;
pub mod group_commit;
pub mod identify;
pub mod identify_browse;
pub mod identify_index;
pub mod identify_lookup;
pub mod identify_share;
pub mod identify_triage;
pub mod identify_video;
pub mod incidents;
pub mod intake_service;
pub mod joint_operations;
pub mod keyfile;
pub mod links;
pub mod live;
pub mod map_roads;
pub mod mqtt;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod password;
pub mod purge;
pub mod referrals;
pub mod reindex;
pub mod rescue;
pub mod road_eta;
pub mod roles;
pub mod sessions;
pub mod signing;
pub mod staff;
pub mod standards;
pub mod state;
pub mod subscribers;
pub mod twoway;
pub mod twoway_text;
pub mod units;
pub mod views;
pub mod warnings;
pub mod web;

use std::future::Future;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, patch, post, put};
use utoipa::OpenApi as _;

pub use config::{Config, ConfigArgs, KeyMaterial};
pub use error::{ApiError, ErrorCode};
pub use state::AppState;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    ops::prometheus();
    let body_limit = state.config.body_limit_bytes;
    let upload_limit = state.config.identify.upload_limit_bytes;
    let hub = state.live.clone();
    let exchange = state.exchange.clone();
    let federation_state = state.clone();
    let trusted_proxies: std::sync::Arc<[std::net::IpAddr]> =
        state.config.flood.trusted_proxies.clone().into();
    let api = Router::new()
        .route("/api/alerts", post(alerts::raise_alert))
        .route("/api/intake/aml", post(aml::intake_aml))
        .route("/api/alerts/{id}/location", post(app::location_update))
        .route("/api/alerts/{id}/cancel", post(app::cancel))
        .route("/api/devices/enrol", post(app::enrol_device))
        .route(
            "/api/subscribers/{id}/enrolment-codes",
            post(app::issue_enrolment_code),
        )
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/me", get(auth::me))
        .route("/api/staff", post(auth::create_staff))
        .route("/api/staff/{username}", patch(staff::update_staff))
        .route("/api/incidents", get(incidents::list))
        .route("/api/incidents/{id}", get(incidents::get))
        .route(
            "/api/incidents/{id}/acknowledge",
            post(incidents::acknowledge),
        )
        .route("/api/incidents/{id}/recommend", post(incidents::recommend))
        .route("/api/incidents/{id}/dispatch", post(incidents::dispatch))
        .route(
            "/api/incidents/{id}/recommendations",
            get(rescue::recommendations),
        )
        .route(
            "/api/incidents/{id}/need",
            put(rescue::set_need).delete(rescue::clear_need),
        )
        .route("/api/incidents/{id}/en-route", post(incidents::en_route))
        .route("/api/incidents/{id}/on-scene", post(incidents::on_scene))
        .route("/api/incidents/{id}/notes", post(incidents::note))
        .route("/api/incidents/{id}/close", post(incidents::close))
        .route("/api/incidents/{id}/messages", post(twoway::ask))
        .route("/api/devices/{id}/messages", get(twoway::device_messages))
        .route(
            "/api/devices/{id}/messages/{message_id}/answer",
            post(twoway::answer),
        )
        .route("/api/incidents/{id}/cap", get(standards::incident_cap))
        .route("/api/incidents/{id}/eido", get(standards::incident_eido))
        .route("/api/cap/import", post(standards::import_cap))
        .route("/api/incidents/import/eido", post(referrals::import_eido))
        .route("/api/warnings", post(warnings::issue))
        .route("/api/warnings.atom", get(warnings::feed))
        .route(
            "/api/closures",
            post(closures::close).get(closures::list_closures),
        )
        .route("/api/closures/{id}/reopen", post(closures::reopen))
        .route(
            "/api/disasters",
            post(disaster::declare).get(disaster::list),
        )
        .route("/api/disasters/{id}", get(disaster::get))
        .route("/api/disasters/{id}/close", post(disaster::close))
        .route("/api/disasters/{id}/triage", get(disaster::triage_queue))
        .route("/api/devices/{id}/welfare", get(disaster::device::poll))
        .route(
            "/api/devices/{id}/welfare/{disaster_id}/answer",
            post(disaster::device::answer),
        )
        .route("/api/units", get(units::list))
        .route("/api/units/{id}", put(units::put))
        .route("/api/units/{id}/position", post(units::report_position))
        .route("/api/units/{id}/status", post(units::set_status))
        .route("/api/positions", post(units::report_positions))
        .route("/api/subscribers", post(subscribers::register))
        .route("/api/subscribers/search", post(subscribers::search))
        .route("/api/subscribers/{id}/reveal", post(subscribers::reveal))
        .route("/api/subscribers/{id}/export", post(subscribers::export))
        .route("/api/subscribers/{id}/erase", post(subscribers::erase))
        .route(
            "/api/subscribers/{id}/language",
            put(subscribers::set_language),
        )
        .route("/api/border/check", post(border::check))
        .route("/api/linkage/run", post(links::run))
        .route("/api/linkage/links", get(links::list))
        .route("/api/linkage/links/{id}/decision", post(links::decide))
        .route("/api/funds/cases", get(funds::list_cases))
        .route(
            "/api/funds/cases/{case_id}/sets",
            get(funds::list_sets)
                .post(funds::upload)
                .layer(DefaultBodyLimit::max(funds::UPLOAD_LIMIT_BYTES)),
        )
        .route("/api/funds/cases/{case_id}/runs", get(funds::list_runs))
        .route(
            "/api/funds/sets/{set_id}/transfers",
            get(funds::list_transfers),
        )
        .route("/api/funds/sets/{set_id}/runs", post(funds::run))
        .route("/api/funds/runs/{run_id}", get(funds::get_run))
        .route(
            "/api/funds/runs/{run_id}/controllers",
            get(funds_links::controllers),
        )
        .route(
            "/api/identify/banks",
            get(identify::list_banks).post(identify::create_bank),
        )
        .route(
            "/api/identify/banks/{id}/content",
            post(identify::add_signal).get(identify_browse::bank_content),
        )
        .route(
            "/api/identify/quarantine",
            get(identify_browse::quarantined),
        )
        .route("/api/identify/triage", post(identify_triage::start))
        .route("/api/identify/triage/{id}", get(identify_triage::get))
        .route(
            "/api/identify/triage/{id}/report",
            get(identify_triage::report),
        )
        .route(
            "/api/identify/banks/{id}/content/photo",
            post(identify::add_photo).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/api/identify/banks/{id}/content/video",
            post(identify::add_video).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/api/identify/content/{id}/disable",
            post(identify::disable),
        )
        .route("/api/identify/content/{id}/enable", post(identify::enable))
        .route(
            "/api/identify/content/{id}/withdraw",
            post(identify_share::withdraw),
        )
        .route(
            "/api/identify/banks/{id}/offers",
            post(identify_share::offer),
        )
        .route(
            "/api/identify/banks/{id}/sharing",
            get(identify_share::sharing),
        )
        .route(
            "/api/identify/lookup",
            get(identify_lookup::lookup_signal)
                .post(identify_lookup::lookup_upload)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/api/identify/hash",
            post(identify_lookup::hash).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/api/identify/matches/{id}/review",
            post(identify_lookup::review),
        )
        .route("/api/audit", get(ops::audit_list))
        .route(
            "/api/notifications/dead-letters",
            get(notifications::dead_letters),
        )
        .route("/api/map/roads", get(map_roads::roads))
        .route("/api/geocode", get(geocode::search))
        .route("/api/geocode/reverse", get(geocode::reverse))
        .route(
            "/api/exchange/agency",
            get(exchange::get_agency).post(exchange::init_agency),
        )
        .route(
            "/api/exchange/peers",
            get(exchange::list_peers).post(exchange::add_peer),
        )
        .route(
            "/api/exchange/agreements",
            get(exchange::list_agreements).post(exchange::put_agreement),
        )
        .route(
            "/api/exchange/agreements/{id}/revoke",
            post(exchange::revoke_agreement),
        )
        .route("/api/exchange/records", get(exchange::list_records))
        .route("/api/exchange/cases", post(exchange::create_case))
        .route("/api/exchange/cases/{id}", get(exchange::get_case))
        .route("/api/exchange/cases/{id}/leads", post(exchange::add_lead))
        .route("/api/exchange/cases/{id}/stix", get(exchange::export_stix))
        .route(
            "/api/exchange/cases/{id}/court-bundle",
            get(exchange::court_bundle),
        )
        .route(
            "/api/exchange/records/{id}/withdraw",
            post(exchange::withdraw),
        )
        .route(
            "/api/exchange/records/{id}/restrict",
            post(exchange::restrict),
        )
        .route("/api/exchange/sync", post(exchange::sync))
        .route(
            "/api/exchange/freeze",
            get(exchange_freeze::list).post(exchange_freeze::create),
        )
        .route(
            "/api/exchange/freeze/partners",
            get(exchange_freeze::partners),
        )
        .route("/api/exchange/freeze/{id}", get(exchange_freeze::get))
        .route(
            "/api/exchange/freeze/{id}/status",
            post(exchange_freeze::record_status),
        )
        .route(
            "/api/operations",
            get(joint_operations::list).post(joint_operations::create),
        )
        .route("/api/operations/{id}", get(joint_operations::get))
        .route(
            "/api/operations/{id}/events",
            post(joint_operations::change),
        )
        .route("/api/operations/{id}/export", get(joint_operations::export))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/live", get(live::stream))
        .route("/api/map/base", get(console::base_map))
        .route("/api/console/config", get(console::config))
        .route("/api/console/i18n/{lang}", get(console::labels))
        .route("/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            flood::guard,
        ))
        .layer(axum::Extension(hub))
        .with_state(state);
    // The one federation router (also served alone by `jikimi federation serve`), when cooperation is enabled.
    let federation = match exchange {
        Some(service) => federation::router(service),
        // Partners get a clear, final answer from a node that does not cooperate (not the generic fallback). The
        // documented federation paths are routed by name, so logs and the status log of the API tests name the
        // operation a partner called; anything else under the prefix gets the same answer.
        None => {
            let not_enabled = axum::routing::any(|| async {
                ApiError::new(
                    ErrorCode::NotEnabled,
                    "cooperation is not enabled on this server",
                )
            });
            openapi::ApiDoc::openapi()
                .paths
                .paths
                .keys()
                .filter(|path| path.starts_with("/federation/"))
                .fold(
                    Router::new().route("/federation/v1/{*rest}", not_enabled.clone()),
                    |federation, path| federation.route(path, not_enabled.clone()),
                )
        }
    }
    // The per-source federation limit (`flood`), before any envelope is read or verified: the `api` router's own
    // layers do not reach these merged routes.
    .layer(axum::middleware::from_fn_with_state(
        federation_state,
        flood::guard,
    ));
    // The security headers go on last (outermost): the request-id layer rebuilds error answers. The client behind
    // a trusted proxy is resolved before anything counts it.
    web::with_security_headers(
        Router::new()
            .merge(federation)
            .merge(api)
            .layer(DefaultBodyLimit::max(body_limit))
            .layer(axum::middleware::from_fn_with_state(
                (body_limit, upload_limit),
                refuse_declared_oversize,
            ))
            .layer(axum::middleware::from_fn(request_id_layer))
            .layer(axum::middleware::from_fn_with_state(
                trusted_proxies,
                flood::resolve_source,
            )),
    )
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi::ApiDoc::openapi())
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEndpoint,
        "no such endpoint; see /api/openapi.json",
    )
}

/// A body declared (`Content-Length`) larger than the limit is refused before anything else runs: no session
/// look-up, no signature check, no limiter token. Undeclared (chunked) bodies meet the same limit when read.
async fn refuse_declared_oversize(
    axum::extract::State((limit, upload_limit)): axum::extract::State<(usize, usize)>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A transfer-set upload is a statement or export file, not an API body: it has its own, larger limit.
    let limit = if funds::is_upload(request.method(), request.uri().path()) {
        limit.max(funds::UPLOAD_LIMIT_BYTES)
    } else if identify::is_upload(request.method(), request.uri().path()) {
        limit.max(upload_limit)
    } else {
        limit
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            "request body is larger than the limit",
        )
        .into_response();
    }
    next.run(request).await
}

/// Gives every request an id (the caller's `x-request-id` if sane, else a UUIDv7), logs the request with it, and
/// fills it into error bodies.
pub(crate) async fn request_id_layer(mut request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    request
        .extensions_mut()
        .insert(extract::RequestId(request_id.clone()));
    let method = request.method().clone();
    // Paths carry ids only, never personal data (lookups by phone are POST bodies).
    let path = request.uri().path().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::debug!(%method, %path, status, request_id = %request_id, elapsed_ms = started.elapsed().as_millis() as u64, "request");
    match response.extensions().get::<error::ErrorMarker>() {
        Some(marker) => error::error_response(marker, &request_id),
        None if error::is_framework_rejection(&response) => {
            // An extractor of axum's (path, query) refused the request with plain text: give it the API's shape.
            let marker = error::rejection_marker(response).await;
            error::error_response(&marker, &request_id)
        }
        None => {
            let mut response = response;
            if let Ok(value) = axum::http::HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-request-id", value);
            }
            response
        }
    }
}

/// Serves the application on `listener` until `shutdown` resolves. Each request knows its peer address
/// (`ConnectInfo`), which the per-source limits of [`flood`] key on. On shutdown the refusals counted since the last
/// summary are written to the audit log.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    load_known_devices(&state).await;
    let app = router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(closing_feeds(&state, shutdown))
        .await;
    flush_refusals(&state).await;
    served
}

/// `shutdown`, then the live feeds end: a graceful shutdown waits for every response to finish, and a console's
/// feed never does by itself.
fn closing_feeds(
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let live = state.live.clone();
    async move {
        shutdown.await;
        live.close();
    }
}

/// Loads the known device ids before the first request (see [`state::DeviceCache::is_known`]). Without them the
/// server still serves: ids become known as they are looked up.
async fn load_known_devices(state: &AppState) {
    match state.load_known_devices().await {
        Ok(n) => tracing::info!(devices = n, "known device ids loaded"),
        Err(err) => tracing::warn!(error = %err, "known device ids could not be loaded"),
    }
}

/// Writes the refusal summaries still counted in memory (at shutdown).
pub async fn flush_refusals(state: &AppState) {
    if let Err(err) = state
        .refusals
        .flush(state.store.as_ref(), state.now().as_unix_ms())
        .await
    {
        tracing::warn!(error = %err, "refusal summaries could not be written at shutdown");
    }
}

/// A PEM certificate chain and private key for serving HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain (PEM), the server's certificate first.
    pub cert: std::path::PathBuf,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: std::path::PathBuf,
}

/// Loads the certificate and key (TLS 1.2 and 1.3, rustls with ring). Fails at start on a bad file.
pub async fn tls_config(
    files: &TlsFiles,
) -> std::io::Result<axum_server::tls_rustls::RustlsConfig> {
    // The first provider installed wins; reqwest's client uses the same one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key).await
}

/// [`serve`] over HTTPS: staff passwords, personal data and partners' case data never cross the network in clear,
/// without a proxy in front. On `shutdown`, open requests get 10 s to finish.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: axum_server::tls_rustls::RustlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    load_known_devices(&state).await;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    let shutdown = closing_feeds(&state, shutdown);
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let served = axum_server::from_tcp_rustls(listener.into_std()?, tls)?
        .handle(handle)
        .serve(
            web::https(router(state.clone()))
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    flush_refusals(&state).await;
    served
}
