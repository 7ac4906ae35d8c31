//! The one federation router: the endpoints partner nodes call under `/federation/v1/*`, served by `jikimi serve`
//! (merged into the whole application, [`crate::router`]) and by `jikimi federation serve` (alone on a
//! partner-facing listener, [`app`]). One set of handlers, one set of error codes ([`crate::error::ErrorCode`]).
//!
//! Partners present no session: every message they send is an Ed25519-signed pull request, page of envelopes,
//! receipt or notification that `jikimi_federation::Node` verifies against the peer's pinned key (and, for pulls,
//! checks for clock skew and a fresh nonce) before anything is read or stored; what a pull returns is only what
//! the agreements let the policy disclose to that peer, each disclosure recorded and audited before it leaves.
//! Nothing here returns records to an unauthenticated caller: staff read records through the authenticated,
//! role-checked and audited `/api/exchange/*` of `jikimi serve` ([`crate::exchange`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::Utc;
use jikimi_exchange::domain::Agency;
use jikimi_exchange::freeze::{FreezeRequest, FreezeStatus};
use jikimi_exchange::hashbank::{BankAck, BankDelivery};
use jikimi_exchange::operation::{MAX_BATCH_EVENTS, OpAck, OpBatch, OpBatchAck, OpEvent};
use jikimi_exchange::protocol::{Notify, Page, PullRequest, Receipt, Signed};
use jikimi_federation::Federation;

use crate::error::{ApiError, ErrorCode};
use crate::exchange::detached;
use crate::extract::Json;

/// The federation routes over `service`, for any outer state (they carry their own).
pub fn router<S: Clone + Send + Sync + 'static>(service: Arc<Federation>) -> Router<S> {
    Router::new()
        .route("/federation/v1/agency", get(federation_agency))
        .route("/federation/v1/pull", post(federation_pull))
        .route("/federation/v1/deliver", post(federation_deliver))
        .route("/federation/v1/receipts", post(federation_receipts))
        .route("/federation/v1/notify", post(federation_notify))
        .route(
            "/federation/v1/freeze/requests",
            post(federation_freeze_request),
        )
        .route(
            "/federation/v1/freeze/statuses",
            post(federation_freeze_status),
        )
        .route(
            "/federation/v1/operations/events",
            post(federation_operation_event),
        )
        .route(
            "/federation/v1/operations/batches",
            post(federation_operation_batch),
        )
        .route(
            "/federation/v1/banks/deliver",
            post(federation_bank_delivery),
        )
        // The per-source federation limit in front of the signature checks is layered by `crate::router` (the
        // limiter lives in the server's state); `jikimi federation serve` layers its own ([`app_with`]).
        .with_state(service)
}

/// The partner-facing application of `jikimi federation serve`: the federation routes and `/healthz`, nothing else
/// (no staff API, no console, no records), with the same body limit and request ids as `jikimi serve`, and the
/// default per-source federation limit ([`app_with`]).
pub fn app(service: Arc<Federation>, body_limit_bytes: usize) -> Router {
    app_with(
        service,
        body_limit_bytes,
        &crate::flood::FloodConfig::default(),
    )
}

/// [`app`] with the operator's flood settings: the per-source federation limit of `jikimi serve`
/// (`--flood-federation-per-min`) in front of every envelope, before its body is read or its signature checked.
pub fn app_with(
    service: Arc<Federation>,
    body_limit_bytes: usize,
    flood: &crate::flood::FloodConfig,
) -> Router {
    guarded_app(
        service,
        body_limit_bytes,
        Arc::new(crate::flood::FloodGuard::new(flood)),
    )
}

fn guarded_app(
    service: Arc<Federation>,
    body_limit_bytes: usize,
    guard: Arc<crate::flood::FloodGuard>,
) -> Router {
    Router::new()
        .merge(router(service))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(crate::not_found)
        .layer(DefaultBodyLimit::max(body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(guard, limit))
        .layer(axum::middleware::from_fn(crate::request_id_layer))
}

/// Middleware of the partner-facing application: a source past its federation budget is answered 429 with
/// `Retry-After` before any work. Logged at a bounded rate; this listener has no audit coalescer, so these
/// refusals are counted in the log only (`jikimi serve` audits them as summaries).
async fn limit(
    State(guard): State<Arc<crate::flood::FloodGuard>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if request.uri().path().starts_with("/federation/") {
        let source = crate::flood::Source::from_parts(request.extensions());
        if let Err(err) = guard.check(crate::flood::Guarded::Federation, source) {
            crate::flood::log_refusal("federation request limited", err.code, None);
            return err.into_response();
        }
        request
            .extensions_mut()
            .insert(crate::flood::FederationBudget::new(guard.clone(), source));
    }
    next.run(request).await
}

/// Serves [`app`] on `listener` until `shutdown` resolves, with the default flood settings.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Federation>,
    body_limit_bytes: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        service,
        body_limit_bytes,
        &crate::flood::FloodConfig::default(),
        shutdown,
    )
    .await
}

/// Serves [`app_with`] on `listener` until `shutdown` resolves. Each request knows its peer address, which the
/// per-source limit keys on; sources whose budget is full again are forgotten every minute.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    service: Arc<Federation>,
    body_limit_bytes: usize,
    flood: &crate::flood::FloodConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = Arc::new(crate::flood::FloodGuard::new(flood));
    let housekeeping = Arc::downgrade(&guard);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            match housekeeping.upgrade() {
                Some(guard) => guard.forget_idle(),
                None => return,
            }
        }
    });
    let app = guarded_app(service, body_limit_bytes, guard)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// This node's public identity (key id, name, country, endpoint), for `peer add --endpoint`.
#[utoipa::path(get, path = "/federation/v1/agency", tag = "federation",
    responses((status = 200, body = Object, description = "Agency"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_agency(
    State(service): State<Arc<Federation>>,
) -> Result<Json<Agency>, ApiError> {
    Ok(Json(service.node().await?.me.clone()))
}

/// A peer pulls by cursor: body `Signed<PullRequest>`, answer a `Page` of signed envelopes redacted by policy.
#[utoipa::path(post, path = "/federation/v1/pull", tag = "federation",
    request_body(content = Object, description = "Signed<PullRequest> (jikimi-federation/1)"),
    responses((status = 200, body = Object, description = "Page"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, timestamp_out_of_window"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: unknown peer or wrong recipient"),
        (status = 409, body = crate::error::ErrorBody, description = "nonce_replayed, agency_not_initialised"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_pull(
    State(service): State<Arc<Federation>>,
    Json(request): Json<Signed<PullRequest>>,
) -> Result<Json<Page>, ApiError> {
    let node = service.node().await?;
    Ok(Json(
        detached(async move { node.serve_pull(&request, Utc::now()).await }).await?,
    ))
}

/// A peer pushes a page of signed envelopes; each is verified and re-checked; answer a signed receipt.
#[utoipa::path(post, path = "/federation/v1/deliver", tag = "federation",
    request_body(content = Object, description = "Page"),
    responses((status = 200, body = Object, description = "Signed<Receipt>"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: empty page"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_deliver(
    State(service): State<Arc<Federation>>,
    Json(page): Json<Page>,
) -> Result<Json<Signed<Receipt>>, ApiError> {
    let node = service.node().await?;
    let sender = page
        .envelopes
        .first()
        .map(|e| e.body.sender.clone())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "empty page"))?;
    let (receipt, _) =
        detached(async move { node.accept_page(&sender, &page, false, Utc::now()).await }).await?;
    Ok(Json(receipt))
}

/// A peer's signed receipt for envelopes we disclosed: linked to those disclosures in our audit.
#[utoipa::path(post, path = "/federation/v1/receipts", tag = "federation",
    request_body(content = Object, description = "Signed<Receipt>"),
    responses((status = 204),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: unknown peer"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_receipts(
    State(service): State<Arc<Federation>>,
    Json(receipt): Json<Signed<Receipt>>,
) -> Result<StatusCode, ApiError> {
    let node = service.node().await?;
    detached(async move { node.accept_receipt(&receipt, Utc::now()).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A peer says it has news: verified, then this node pulls from it in the background.
#[utoipa::path(post, path = "/federation/v1/notify", tag = "federation",
    request_body(content = Object, description = "Signed<Notify>"),
    responses((status = 202),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, timestamp_out_of_window"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: unknown peer or wrong recipient"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_notify(
    State(service): State<Arc<Federation>>,
    Json(notify): Json<Signed<Notify>>,
) -> Result<StatusCode, ApiError> {
    let node = service.node().await?;
    let peer = node.accept_notify(&notify, Utc::now()).await?;
    tokio::spawn(async move {
        if let Err(e) = node.sync_peer(&peer).await {
            tracing::warn!(peer = %peer.name, error = %e, "sync after notify failed");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// A partner's signed freeze or confiscation request: verified against the partner's pinned key, re-checked against
/// the agreement it cites (freeze terms, legal basis), its evidence digest and our jurisdiction, kept and audited;
/// answered with our signed `received` status. A request held already is answered with the same status.
#[utoipa::path(post, path = "/federation/v1/freeze/requests", tag = "federation",
    request_body(content = Object, description = "Signed<FreezeRequest> (jikimi-federation/1)"),
    responses((status = 200, body = Object, description = "Signed<FreezeStatus>: received"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: unknown peer or wrong recipient"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: agreement, evidence or jurisdiction"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_freeze_request(
    State(service): State<Arc<Federation>>,
    Json(request): Json<Signed<FreezeRequest>>,
) -> Result<Json<Signed<FreezeStatus>>, ApiError> {
    let node = service.node().await?;
    Ok(Json(
        detached(async move { node.accept_freeze_request(&request, Utc::now()).await }).await?,
    ))
}

/// The status of one of our freeze requests, signed by the agency we sent it to: verified, checked against the
/// request's timeline (numbered next, a valid transition; a replay changes nothing), kept and audited.
#[utoipa::path(post, path = "/federation/v1/freeze/statuses", tag = "federation",
    request_body(content = Object, description = "Signed<FreezeStatus> (jikimi-federation/1)"),
    responses((status = 204),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: unknown peer, wrong recipient, not the request's recipient"),
        (status = 404, body = crate::error::ErrorBody, description = "record_not_found: no such request of ours"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: out of order or not a valid transition"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_freeze_status(
    State(service): State<Arc<Federation>>,
    Json(status): Json<Signed<FreezeStatus>>,
) -> Result<StatusCode, ApiError> {
    let node = service.node().await?;
    detached(async move { node.accept_freeze_status(&status).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A participant's signed operation event (pushed by its origin): verified against the origin's pinned key and the
/// signed digests of its parts, re-checked against the operation's agreements (no field the agreements keep from
/// us), the sovereignty rules (its own tasks and entries only, consent for another jurisdiction) and the order
/// (applied in the origin's numbering, buffered when early); a replay changes nothing. Refusals are audited.
#[utoipa::path(post, path = "/federation/v1/operations/events", tag = "federation",
    request_body(content = Object, description = "OpEvent: Signed<EventHead> and parts (jikimi-federation/1)"),
    responses((status = 200, body = Object, description = "Signed<OpAck>: applied, duplicate or buffered, and the next number expected"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: unknown origin, a sovereignty rule, fields beyond the agreements, or another event under a number already held"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: a part does not match the signed head"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_operation_event(
    State(service): State<Arc<Federation>>,
    Json(event): Json<OpEvent>,
) -> Result<Json<Signed<OpAck>>, ApiError> {
    let node = service.node().await?;
    Ok(Json(
        detached(async move { node.accept_op_event(&event, Utc::now()).await }).await?,
    ))
}

/// A participant's signed batch of its own operation events (what it pushes in one request): counted by the
/// per-source federation limit as one request per event before anything is checked (413 when the batch is more than
/// that budget ever holds, so the sender halves it); then refused whole, audited, when its sender is unknown, its
/// signature does not check, it is meant for another node or out of the clock window; else every event is checked
/// as one pushed alone is (the origin's signature, parts, agreements, sovereignty rules, order) and the batch is
/// stored in one transaction. Answers a signed acknowledgement with each event's outcome (applied, duplicate,
/// buffered, refused with its reason) and the next number expected per operation; a replay changes nothing.
#[utoipa::path(post, path = "/federation/v1/operations/batches", tag = "federation",
    request_body(content = Object, description = "Signed<OpBatch>: sender, recipient, at and up to 256 OpEvents (jikimi-federation/1)"),
    responses((status = 200, body = Object, description = "Signed<OpBatchAck>: each event's outcome and the next number expected per operation"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, timestamp_out_of_window"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: unknown sender or wrong recipient"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large: the body, or more events than the source's budget holds"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: more than 256 events, or another protocol"),
        (status = 429, body = crate::error::ErrorBody, description = "rate_limited: the source's federation budget is spent"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_operation_batch(
    State(service): State<Arc<Federation>>,
    budget: Option<axum::Extension<crate::flood::FederationBudget>>,
    Json(batch): Json<Signed<OpBatch>>,
) -> Result<Json<Signed<OpBatchAck>>, ApiError> {
    if let Some(axum::Extension(budget)) = budget {
        budget.charge(batch.body.events.len())?;
    }
    if batch.body.events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("events: at most {MAX_BATCH_EVENTS} in one batch"),
        ));
    }
    let node = service.node().await?;
    Ok(Json(
        detached(async move { node.accept_op_batch(&batch, Utc::now()).await }).await?,
    ))
}

/// A partner's signed delivery of a shared hash bank's offer or event: the delivery verified against the sender's
/// pinned key; an offer against the agreement it cites (hash sharing allowed between the two); an event against its
/// issuer's signature (the origin's for content, the reviewing holder's for feedback) and the way the bank travels
/// (content from the agency that offered it to us, feedback from one we offered it to), and its order (an earlier
/// number changes nothing). Kept and audited; refusals audited. Items newly held are forwarded in the background.
#[utoipa::path(post, path = "/federation/v1/banks/deliver", tag = "federation",
    request_body(content = Object, description = "Signed<BankDelivery>: an offer or a bank event (jikimi-federation/1)"),
    responses((status = 200, body = Object, description = "Signed<BankAck>: applied or duplicate"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: unknown sender, wrong recipient, no agreement allowing hashes, not on the bank's way"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: a malformed event, or another event under a number already held"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn federation_bank_delivery(
    State(service): State<Arc<Federation>>,
    Json(delivery): Json<Signed<BankDelivery>>,
) -> Result<Json<Signed<BankAck>>, ApiError> {
    let node = service.node().await?;
    let work = node.clone();
    let ack =
        detached(async move { work.accept_bank_delivery(&delivery, Utc::now()).await }).await?;
    if ack.body.outcome == jikimi_exchange::hashbank::BankOutcome::Applied {
        // Forwarded at once (content to the partners we offered the bank to, feedback to where it came from).
        tokio::spawn(async move {
            if let Err(e) = node.push_banks_all().await {
                tracing::warn!(error = %e, "bank forward failed");
            }
        });
    }
    Ok(Json(ack))
}
