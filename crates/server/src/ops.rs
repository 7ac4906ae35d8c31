//! Operations endpoints: the audit log for supervisors, `/healthz`, `/readyz`, and Prometheus `/metrics` (served on
//! the operations listener only, see [`crate::web::ops_router`]).

use std::sync::OnceLock;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// Query of `GET /api/audit`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Entries after this seq (default 0: from the start).
    #[param(minimum = 0)]
    pub after_seq: Option<i64>,
    /// At most this many (1..=1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// One audit entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryDto {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When (RFC 3339).
    pub at: String,
    /// `device:<id>`, `staff:<user>`, `system`, `anonymous`.
    pub actor: String,
    /// `noun.verb`, e.g. `alert.received`, `alert.rejected`, `subscriber.revealed`.
    pub action: String,
    /// What it concerns, e.g. `incident/<id>`.
    pub subject: String,
    /// Why.
    pub reason: String,
    /// Extra detail (JSON text, never personal data in clear).
    pub detail: String,
    /// Hex SHA-256 of the previous entry.
    pub prev_hash: String,
    /// Hex SHA-256 of this entry.
    pub hash: String,
}

/// Read the audit log (supervisor, admin).
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntryDto>), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: limit out of range")))]
pub async fn audit_list(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntryDto>>, ApiError> {
    staff.require(Permission::ReadAudit)?;
    let limit = crate::extract::limit(query.limit, 100, 1000)?;
    // Sequence numbers are stored as signed 64-bit integers, so larger ones cannot exist.
    let after_seq = u64::try_from(query.after_seq.unwrap_or(0))
        .map_err(|_| ApiError::new(ErrorCode::InvalidField, "after_seq: 0 or more"))?;
    let entries = state.store.list_audit(after_seq, limit).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| AuditEntryDto {
                seq: e.seq,
                at: crate::dto::rfc3339(jikimi_respond::Timestamp::from_unix_ms(e.at_unix_ms)),
                actor: e.actor,
                action: e.action,
                subject: e.subject,
                reason: e.reason,
                detail: e.detail,
                prev_hash: hex::encode(e.prev_hash),
                hash: hex::encode(e.hash),
            })
            .collect(),
    ))
}

/// Health state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or what is wrong.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Readiness only: each dependency's state. `database` (`ok` or `unavailable`) and, in a cluster, `nats`
    /// (`ok` or `unavailable`) decide readiness; `mqtt` (`subscribed` or `disconnected`, when the intake is
    /// configured) is reported only: HTTP alerts and consoles work without the broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<std::collections::BTreeMap<String, String>>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        backend: state.store.backend().into(),
        checks: None,
    })
}

/// Readiness: the database answers (and, in a cluster, NATS is connected); the body names each dependency's state.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let mut checks = std::collections::BTreeMap::new();
    let mut problems = Vec::new();
    match state.store.ping().await {
        Ok(()) => {
            checks.insert("database".to_string(), "ok".to_string());
        }
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            checks.insert("database".to_string(), "unavailable".to_string());
            problems.push("database unavailable");
        }
    }
    // In a cluster, a node cut off from NATS still commits (its changes wait in the outbox) but its consoles see
    // no other node's changes: not ready, so a load balancer sends consoles elsewhere.
    if let Some(cluster) = &state.cluster {
        let up = cluster.connected();
        checks.insert(
            "nats".to_string(),
            if up { "ok" } else { "unavailable" }.to_string(),
        );
        if !up {
            problems.push("nats unavailable");
        }
    }
    if state.config.mqtt.is_some() {
        let subscribed = state
            .mqtt_subscribed
            .load(std::sync::atomic::Ordering::Relaxed);
        checks.insert(
            "mqtt".to_string(),
            if subscribed {
                "subscribed"
            } else {
                "disconnected"
            }
            .to_string(),
        );
    }
    let status = match problems.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    (
        status,
        Json(Health {
            status: match problems.is_empty() {
                true => "ok".to_string(),
                false => problems.join(", "),
            },
            backend: state.store.backend().into(),
            checks: Some(checks),
        }),
    )
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once (later calls reuse it).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(err) => {
                tracing::warn!(error = %err, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

/// Prometheus text exposition (operations listener).
pub async fn metrics_text() -> impl IntoResponse {
    let body = prometheus().map(|h| h.render()).unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
