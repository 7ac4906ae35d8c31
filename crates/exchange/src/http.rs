//! The federation HTTP API (axum): the transport edge around `Node`.
//!
//! - `POST /federation/v1/pull`     body `Signed<PullRequest>` → `Page`
//! - `POST /federation/v1/deliver`  body `Page` (pushed by the sender) → `Signed<Receipt>`
//! - `POST /federation/v1/receipts` body `Signed<Receipt>` → 204
//! - `POST /federation/v1/notify`   body `Signed<Notify>` → 202, then this node pulls from the sender
//! - `GET  /federation/v1/agency`   → this node's public `Agency`
//! - `GET  /exchange/v1/records`    → the records held here (local API)
//! - `GET  /healthz`

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{Agency, Record};
use crate::error::Error;
use crate::node::Node;
use crate::protocol::{Notify, Page, PullRequest, Receipt, Rejection, Signed};
use crate::store::ExchangeStore;

/// The API's error: a stable code, an HTTP status and a message without internal detail.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorInner<'a>,
}
#[derive(Serialize)]
struct ErrorInner<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: ErrorInner {
                    code: self.code,
                    message: &self.message,
                },
            }),
        )
            .into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = match &e {
            Error::Rejected(Rejection::BadSignature) => {
                (StatusCode::UNAUTHORIZED, "signature_invalid")
            }
            Error::Rejected(Rejection::UnknownSender) => (StatusCode::FORBIDDEN, "unknown_peer"),
            Error::Rejected(Rejection::ClockSkew) => (StatusCode::UNAUTHORIZED, "clock_skew"),
            Error::Rejected(Rejection::Replay) => (StatusCode::CONFLICT, "replay"),
            Error::Rejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, "rejected"),
            Error::InvalidIdentifier { .. } | Error::Invalid { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload")
            }
            Error::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            Error::Denied(_) => (StatusCode::FORBIDDEN, "denied"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "internal error");
            "internal error".to_string()
        } else {
            e.to_string()
        };
        ApiError {
            status,
            code,
            message,
        }
    }
}

type Shared<S> = Arc<Node<S>>;

/// The federation router for `node`.
pub fn router<S: ExchangeStore>(node: Shared<S>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/federation/v1/agency", get(agency::<S>))
        .route("/federation/v1/pull", post(pull::<S>))
        .route("/federation/v1/deliver", post(deliver::<S>))
        .route("/federation/v1/receipts", post(receipts::<S>))
        .route("/federation/v1/notify", post(notify::<S>))
        .route("/exchange/v1/records", get(records::<S>))
        .route(
            "/exchange/v1/court-bundle/{case_id}",
            get(court_bundle::<S>),
        )
        .with_state(node)
}

async fn agency<S: ExchangeStore>(State(node): State<Shared<S>>) -> Json<Agency> {
    Json(node.me.clone())
}

async fn pull<S: ExchangeStore>(
    State(node): State<Shared<S>>,
    Json(req): Json<Signed<PullRequest>>,
) -> Result<Json<Page>, ApiError> {
    let page = detached(async move { node.serve_pull(&req, Utc::now()).await }).await?;
    Ok(Json(page))
}

/// Runs a handler's store work on its own task: if the client goes away (a peer killed mid-
/// request), hyper drops the handler, but the work still commits or rolls back promptly instead
/// of leaving a pooled connection holding SQLite's write lock.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::spawn(work).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "handler task failed");
            Err(ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: "internal error".into(),
            })
        }
    }
}

async fn deliver<S: ExchangeStore>(
    State(node): State<Shared<S>>,
    Json(page): Json<Page>,
) -> Result<Json<Signed<Receipt>>, ApiError> {
    let sender = page
        .envelopes
        .first()
        .map(|e| e.body.sender.clone())
        .ok_or_else(|| ApiError::from(Error::invalid("page", "empty")))?;
    let (receipt, _) =
        detached(async move { node.accept_page(&sender, &page, false, Utc::now()).await }).await?;
    Ok(Json(receipt))
}

async fn receipts<S: ExchangeStore>(
    State(node): State<Shared<S>>,
    Json(r): Json<Signed<Receipt>>,
) -> Result<StatusCode, ApiError> {
    detached(async move { node.accept_receipt(&r, Utc::now()).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn notify<S: ExchangeStore>(
    State(node): State<Shared<S>>,
    Json(n): Json<Signed<Notify>>,
) -> Result<StatusCode, ApiError> {
    let peer = node.accept_notify(&n, Utc::now()).await?;
    let node = node.clone();
    tokio::spawn(async move {
        if let Err(e) = node.sync_peer(&peer).await {
            tracing::warn!(peer = %peer.name, error = %e, "sync after notify failed");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

async fn records<S: ExchangeStore>(
    State(node): State<Shared<S>>,
) -> Result<Json<Vec<Record>>, ApiError> {
    Ok(Json(
        node.store
            .records()
            .await?
            .into_iter()
            .map(|s| s.record)
            .collect(),
    ))
}

async fn court_bundle<S: ExchangeStore>(
    State(node): State<Shared<S>>,
    Path(case_id): Path<Uuid>,
) -> Result<Json<Vec<Record>>, ApiError> {
    Ok(Json(node.court_bundle(case_id).await?))
}

/// Serves `node` on `listener` until `shutdown` resolves; syncs with every peer every
/// `sync_interval` if given (in addition to syncs triggered by push notifications).
pub async fn serve<S: ExchangeStore>(
    node: Shared<S>,
    listener: tokio::net::TcpListener,
    sync_interval: Option<std::time::Duration>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Some(every) = sync_interval {
        let n = node.clone();
        tokio::spawn(async move {
            loop {
                match n.sync_all().await {
                    Ok(results) => {
                        for (peer, r) in results {
                            if let Err(e) = r {
                                tracing::warn!(peer = %peer.name, error = %e, "periodic sync failed");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "periodic sync failed"),
                }
                tokio::time::sleep(every).await;
            }
        });
    }
    axum::serve(listener, router(node))
        .with_graceful_shutdown(shutdown)
        .await
}
