//! Linked entities across agencies: run linkage over the persons, phones, accounts and wallets of shared cases,
//! list the links with their evidence, and let an analyst confirm or reject one.
//!
//! A run reads the cases from the [`CaseSource`](crate::border::CaseSource), links them with
//! [`jikimi_linkage::shared::link_shared_entities`] (applying earlier decisions), and stores the result with
//! [`jikimi_store::Store::record_link_run`], which keeps every decision: a rejected pair is never proposed again,
//! a confirmed one stays whatever later scores say. Runs and decisions are audited in the store's transaction.
//! Links carry entity ids and per-field evidence levels, never names or numbers, so analysts may see them.

use axum::extract::{Path, Query, State};
use jikimi_linkage::engine::{Decision, Verdict};
use jikimi_linkage::shared::{SharedLinkOptions, link_shared_entities};
use jikimi_store::{EntityLink, LinkRunReport, LinkStatus, NewEntityLink};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// What a run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkRunResult {
    /// Cases and leads read.
    pub cases: usize,
    /// Links the run found (including confirmed ones kept).
    pub links: usize,
    /// Newly proposed pairs.
    pub added: u64,
    /// Pairs already known (score and evidence refreshed, decision kept).
    pub refreshed: u64,
    /// Proposals the run no longer finds, removed.
    pub withdrawn: u64,
}

/// A link between two entities.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    /// The link's id (for decisions).
    pub id: Uuid,
    /// `person`, `phone`, `account` or `wallet`.
    pub kind: String,
    /// One entity's id in the case store.
    pub left_ref: String,
    /// The other entity's id.
    pub right_ref: String,
    /// Match probability of the latest run.
    pub probability: f64,
    /// Match weight in bits.
    pub weight: f64,
    /// Per-field evidence: `[{"field", "level", "weight"}]`, plus the cases naming either entity.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// `proposed`, `confirmed` or `rejected`.
    #[schema(value_type = String, example = "proposed")]
    pub status: LinkStatus,
    /// Who decided, if anyone.
    pub decided_by: Option<String>,
    /// When, RFC 3339.
    pub decided_at: Option<String>,
    /// When a run last scored it, RFC 3339.
    pub last_run: String,
}

impl From<EntityLink> for LinkView {
    fn from(link: EntityLink) -> LinkView {
        LinkView {
            id: link.id,
            kind: link.kind,
            left_ref: link.left_ref,
            right_ref: link.right_ref,
            probability: link.probability,
            weight: link.weight,
            evidence: serde_json::from_str(&link.evidence).unwrap_or(serde_json::Value::Null),
            status: link.status,
            decided_by: link.decided_by,
            decided_at: link.decided_at.map(crate::dto::rfc3339),
            last_run: crate::dto::rfc3339(link.last_run),
        }
    }
}

/// Run linkage over the entities of all shared cases (analysts, supervisors; audited).
#[utoipa::path(post, path = "/api/linkage/run", tag = "linkage", security(("bearer" = [])),
    responses((status = 200, body = LinkRunResult), (status = 403, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<LinkRunResult>, ApiError> {
    staff.require(Permission::LinkEntities)?;
    let source = state.cases.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotEnabled,
            "no case store is configured for this server (cooperation is off)",
        )
    })?;
    let cases = source.shared_cases().await.map_err(ApiError::unavailable)?;
    let decided = state.store.list_entity_links(None).await?;
    let decisions: Vec<(String, Decision)> = decided
        .into_iter()
        .filter_map(|link| {
            let verdict = match link.status {
                LinkStatus::Confirmed => Verdict::Confirmed,
                LinkStatus::Rejected => Verdict::Rejected,
                LinkStatus::Proposed => return None,
            };
            Some((
                link.kind,
                Decision {
                    left_id: link.left_ref,
                    right_id: link.right_ref,
                    verdict,
                },
            ))
        })
        .collect();
    let n_cases = cases.len();
    let (cases, proposals) = tokio::task::spawn_blocking(move || {
        let proposals = link_shared_entities(&cases, &decisions, &SharedLinkOptions::default());
        (cases, proposals)
    })
    .await
    .map_err(ApiError::internal)?;
    let n_links = proposals.len();
    let links = proposals
        .into_iter()
        .map(|p| {
            let evidence = serde_json::json!({"fields": p.evidence, "cases": p.cases});
            NewEntityLink {
                kind: p.kind,
                left_ref: p.left_id,
                right_ref: p.right_id,
                probability: p.probability,
                weight: p.weight,
                evidence: evidence.to_string(),
            }
        })
        .collect();
    let report: LinkRunReport = state
        .store
        .record_link_run(
            links,
            &staff.change(&state, "linkage run over shared cases"),
        )
        .await?;
    // The cases were just read: bring the watchlist up to date with them too.
    crate::border::refresh_from(&state, &cases).await?;
    Ok(Json(LinkRunResult {
        cases: n_cases,
        links: n_links,
        added: report.added,
        refreshed: report.refreshed,
        withdrawn: report.withdrawn,
    }))
}

/// Query of `GET /api/linkage/links`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LinkFilter {
    /// Only links with this status: `proposed`, `confirmed` or `rejected`.
    pub status: Option<String>,
}

/// List entity links with their evidence (analysts, supervisors).
#[utoipa::path(get, path = "/api/linkage/links", tag = "linkage", security(("bearer" = [])), params(LinkFilter),
    responses((status = 200, body = Vec<LinkView>), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(filter): Query<LinkFilter>,
) -> Result<Json<Vec<LinkView>>, ApiError> {
    staff.require(Permission::LinkEntities)?;
    let status = match filter.status.as_deref() {
        None => None,
        Some(text) => Some(LinkStatus::parse(text).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidField,
                "status: proposed, confirmed or rejected",
            )
        })?),
    };
    let links = state.store.list_entity_links(status).await?;
    Ok(Json(links.into_iter().map(LinkView::from).collect()))
}

/// An analyst's decision on a link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkDecision {
    /// `confirmed` (same entity), `rejected` (different entities) or `proposed` (undo a decision).
    #[schema(value_type = String, example = "confirmed")]
    pub status: LinkStatus,
    /// Why, at least 3 characters; it goes to the audit log.
    pub reason: String,
}

/// Confirm or reject a link (analysts, supervisors; audited with the reason). Later runs respect it.
#[utoipa::path(post, path = "/api/linkage/links/{id}/decision", tag = "linkage", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "link id")), request_body = LinkDecision,
    responses((status = 200, body = LinkView), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<LinkDecision>,
) -> Result<Json<LinkView>, ApiError> {
    staff.require(Permission::LinkEntities)?;
    if req.reason.trim().len() < 3 {
        return Err(ApiError::new(
            ErrorCode::ReasonRequired,
            "say why (at least 3 characters); it goes to the audit log / 사유를 입력하세요",
        ));
    }
    let link = state
        .store
        .decide_entity_link(id, req.status, &staff.change(&state, req.reason.trim()))
        .await?;
    Ok(Json(LinkView::from(link)))
}
