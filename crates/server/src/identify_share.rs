//! Hash banks shared with partner agencies in the staff API (issue 19, part 3), over the node's
//! `jikimi_federation::hashbank`: a supervisor offers a bank (or one category of it) to a named partner under an
//! agreement that allows hash sharing, or offers on a partner's bank when the agreement it came under permits
//! onward sharing; withdraws content from every holder; and reads who holds the bank and the partners' signed
//! feedback. Partners receive hashes and labels only.
//!
//! The origin's content changes become signed bank events where they are made: [`published`] is called by the
//! identify handlers after every add, disable and enable of content in a bank this agency has offered, and
//! [`crate::identify_lookup::review`] calls [`reviewed`] so a review of a partner's content travels back to its
//! origin as signed feedback. Every issued and received item is audited by the store (`exchange.bank_*`); delivery
//! is pushed in the background and repeated by the periodic sync until acknowledged.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use jikimi_exchange::domain::AgencyId;
use jikimi_exchange::hashbank::{BankChange, FeedbackVerdict};
use jikimi_federation::Node;
use jikimi_federation::hashbank::LocalBank;
use jikimi_store::identify::{Content, Verdict};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::exchange::{detached, service};
use crate::extract::Json;
use crate::identify::{ContentView, invalid};
use crate::roles::Permission;
use crate::state::AppState;

/// Contents read per page when a bank is first offered.
const PAGE: u32 = 1_000;

/// A bank to offer to a partner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferBody {
    /// The partner's agency key id (64 hex digits).
    pub partner: String,
    /// The agreement to share under: active, both agencies parties, allowing the `attachment` field class.
    pub agreement: Uuid,
    /// Only content with this category label (default: the whole bank, or what this agency received of it).
    pub category: Option<String>,
}

/// An offer as held here.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferView {
    pub bank: Uuid,
    /// The agency that keeps the bank (key id).
    pub origin: String,
    pub from: String,
    pub to: String,
    pub agreement: Uuid,
    pub category: Option<String>,
    /// The recipient acknowledged it (signed).
    pub delivered: bool,
    /// RFC 3339.
    pub at: String,
}

/// A partner's signed feedback on content of a bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackView {
    pub content: Uuid,
    /// `true_positive` or `false_positive`.
    pub verdict: String,
    /// The reviewing agency (key id): it signed the feedback.
    pub issuer: String,
    /// The peer that delivered it here (none when this agency reviewed).
    pub received_from: Option<String>,
    /// SHA-256 of the signed feedback.
    pub digest: String,
    pub signature: String,
    /// RFC 3339.
    pub at: String,
}

/// How a bank is shared: the offers held here and the feedback.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharingView {
    pub bank: Uuid,
    pub offers: Vec<OfferView>,
    pub feedback: Vec<FeedbackView>,
}

fn node_error(e: jikimi_exchange::Error) -> ApiError {
    ApiError::from(e)
}

/// The node when cooperation is enabled and this agency has an identity; `None` otherwise (nothing is shared).
async fn node_if_any(state: &AppState) -> Option<Arc<Node>> {
    let service = state.exchange.as_ref()?;
    service.node().await.ok()
}

fn push_in_background(node: Arc<Node>) {
    tokio::spawn(async move {
        if let Err(e) = node.push_banks_all().await {
            tracing::warn!(error = %e, "bank push failed");
        }
    });
}

/// Issues the signed event for a change of content in a bank this agency keeps and has offered (nothing for a bank
/// not offered). `change` is `added`, `disabled` or `enabled`; an enable of withdrawn content stays local.
pub(crate) async fn published(
    state: &AppState,
    content: &Content,
    change: &str,
) -> Result<(), ApiError> {
    let Some(node) = node_if_any(state).await else {
        return Ok(());
    };
    if !node
        .bank_is_offered(content.bank_id)
        .await
        .map_err(node_error)?
    {
        return Ok(());
    }
    let event = match change {
        "added" => added(content),
        "disabled" => BankChange::Disabled {
            content: content.id,
            category: content.category.clone(),
        },
        _ => {
            if withdrawn(&node, content.bank_id, content.id).await? {
                return Ok(());
            }
            BankChange::Enabled {
                content: content.id,
                category: content.category.clone(),
            }
        }
    };
    node.bank_change(content.bank_id, event, Utc::now())
        .await
        .map_err(node_error)?;
    push_in_background(node);
    Ok(())
}

fn added(content: &Content) -> BankChange {
    BankChange::Added {
        content: content.id,
        signal_type: content.signal_type.as_str().to_string(),
        signal: content.signal.clone(),
        category: content.category.clone(),
        series: content.series.clone(),
    }
}

async fn withdrawn(node: &Node, bank: Uuid, content: Uuid) -> Result<bool, ApiError> {
    Ok(node
        .store
        .bank_events(bank)
        .await
        .map_err(node_error)?
        .iter()
        .any(|h| {
            matches!(h.event.body.change, BankChange::Withdrawn { .. })
                && h.event.body.change.content() == content
        }))
}

/// After a review of a match: when the content is in a bank held from a partner, the review goes back to the bank's
/// origin as this agency's signed feedback.
pub(crate) async fn reviewed(
    state: &AppState,
    content: &Content,
    verdict: Verdict,
) -> Result<(), ApiError> {
    let bank = state.store.get_bank(content.bank_id).await?;
    if bank.is_local() {
        return Ok(());
    }
    let Some(node) = node_if_any(state).await else {
        return Ok(());
    };
    let verdict = match verdict {
        Verdict::TruePositive => FeedbackVerdict::TruePositive,
        Verdict::FalsePositive => FeedbackVerdict::FalsePositive,
    };
    let (bank_id, content_id) = (bank.id, content.id);
    let work = node.clone();
    detached(async move {
        work.bank_feedback(bank_id, content_id, verdict, Utc::now())
            .await
    })
    .await?;
    push_in_background(node);
    Ok(())
}

/// Offer a bank to a partner agency under an agreement (supervisors; audited on both sides): the whole bank or one
/// category; for a partner's bank held here, only when the agreement it came under permits onward sharing. The
/// partner receives hashes and labels only, as a read-only bank.
#[utoipa::path(post, path = "/api/identify/banks/{id}/offers", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the bank")), request_body = OfferBody,
    responses((status = 201, body = OfferView),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role, or the agreement does not allow hash sharing (or onward sharing) with this partner"),
        (status = 404, body = crate::error::ErrorBody, description = "bank_not_found, record_not_found (agreement), not_enabled (cooperation)"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised"),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: partner, category")))]
pub async fn offer(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<OfferBody>,
) -> Result<(StatusCode, Json<OfferView>), ApiError> {
    staff.require(Permission::ManageBanks)?;
    let partner = AgencyId::parse(&body.partner)
        .map_err(|_| invalid("partner: an agency key id (64 hex digits)"))?;
    let node = service(&state)?.node().await?;
    let bank = state.store.get_bank(id).await?;
    if bank.negative {
        return Err(invalid("a negative bank is not shared"));
    }
    let local = bank.is_local().then(|| LocalBank {
        id: bank.id,
        name: bank.name.clone(),
        match_distance: bank.match_distance,
    });
    // The stream of a bank offered for the first time starts with its live content.
    let mut first = Vec::new();
    if local.is_some() && !node.bank_has_events(id).await.map_err(node_error)? {
        let mut after = None;
        loop {
            let page = state.store.bank_content_page(id, after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id);
            first.extend(page.iter().filter(|c| c.enabled).map(added));
        }
    }
    let by = staff.username.clone();
    let work = node.clone();
    let category = body.category.filter(|c| !c.trim().is_empty());
    let held = detached(async move {
        let now = Utc::now();
        let offer = work
            .bank_offer(id, local, partner, body.agreement, category, now)
            .await?;
        for change in first {
            work.bank_change(id, change, now).await?;
        }
        work.store
            .audit(
                "bank_offered",
                Some(&offer.body.to),
                Some(id),
                &format!("staff:{by}"),
            )
            .await?;
        Ok::<_, jikimi_exchange::Error>(offer)
    })
    .await?;
    push_in_background(node);
    let o = held.body;
    Ok((
        StatusCode::CREATED,
        Json(OfferView {
            bank: o.bank,
            origin: o.origin.to_string(),
            from: o.from.to_string(),
            to: o.to.to_string(),
            agreement: o.agreement,
            category: o.category,
            delivered: false,
            at: o.at.to_rfc3339(),
        }),
    ))
}

/// How a bank is shared: the offers held here (ours and the one it came with) and the partners' signed feedback
/// on its content, visible at the origin (analysts, supervisors).
#[utoipa::path(get, path = "/api/identify/banks/{id}/sharing", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the bank")),
    responses((status = 200, body = SharingView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "bank_not_found, not_enabled (cooperation)"),
        (status = 409, body = crate::error::ErrorBody, description = "agency_not_initialised")))]
pub async fn sharing(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<SharingView>, ApiError> {
    staff.require(Permission::Identify)?;
    let node = service(&state)?.node().await?;
    state.store.get_bank(id).await?;
    let offers = node
        .store
        .bank_offers()
        .await
        .map_err(node_error)?
        .into_iter()
        .filter(|h| h.offer.body.bank == id)
        .map(|h| {
            let o = h.offer.body;
            OfferView {
                bank: o.bank,
                origin: o.origin.to_string(),
                from: o.from.to_string(),
                to: o.to.to_string(),
                agreement: o.agreement,
                category: o.category,
                delivered: h.delivered,
                at: o.at.to_rfc3339(),
            }
        })
        .collect();
    let feedback = node
        .store
        .bank_events(id)
        .await
        .map_err(node_error)?
        .into_iter()
        .filter_map(|h| match h.event.body.change {
            BankChange::Feedback { content, verdict } => Some(FeedbackView {
                content,
                verdict: verdict.as_str().to_string(),
                issuer: h.event.body.issuer.to_string(),
                received_from: h.received_from.map(|f| f.to_string()),
                digest: h.digest.as_str().to_string(),
                signature: h.event.signature,
                at: h.event.body.at.to_rfc3339(),
            }),
            _ => None,
        })
        .collect();
    Ok(Json(SharingView {
        bank: id,
        offers,
        feedback,
    }))
}

/// Withdraw a content from every partner holding its bank, across hops (supervisors; audited on every side): the
/// holders stop matching it for good, and it is disabled here (kept, as every disabled content).
#[utoipa::path(post, path = "/api/identify/content/{id}/withdraw", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the content")),
    responses((status = 200, body = ContentView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "content_not_found"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: content of a partner's bank (withdrawn at its origin)")))]
pub async fn withdraw(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<ContentView>, ApiError> {
    staff.require(Permission::ManageBanks)?;
    let content = state.store.get_content(id).await?;
    let bank = state.store.get_bank(content.bank_id).await?;
    if !bank.is_local() {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "content of a partner's bank is withdrawn at its origin",
        ));
    }
    if let Some(node) = node_if_any(&state).await
        && node.bank_is_offered(bank.id).await.map_err(node_error)?
        && !withdrawn(&node, bank.id, id).await?
    {
        node.bank_change(
            bank.id,
            BankChange::Withdrawn {
                content: id,
                category: content.category.clone(),
            },
            Utc::now(),
        )
        .await
        .map_err(node_error)?;
        push_in_background(node);
    }
    let content = if content.enabled {
        let c = state
            .store
            .set_content_enabled(
                id,
                false,
                &staff.change(&state, "bank content withdrawn from partners"),
            )
            .await?;
        state
            .identify
            .refresh_content(state.store.as_ref(), id)
            .await?;
        c
    } else {
        content
    };
    Ok(Json(content.into()))
}
