//! Freeze and confiscation requests in the staff API (`/api/exchange/freeze*`), over the node's
//! `jikimi_federation::freeze`: analysts and supervisors ([`Permission::RequestFreeze`]) ask the agency with
//! jurisdiction over a traced account and read the requests in and out (each read audited: they name accounts); only a
//! supervisor ([`Permission::DecideFreeze`]) records the status of a request a partner sent to this agency.
//!
//! Evidence: the body carries the trace summary JSON (`evidence`), whose digest is signed with the request, or names
//! a stored trace run (`trace_run`) and one of its endpoints (`endpoint`): then the evidence, the account and the
//! default amount come from the run ([`crate::freeze_evidence`]).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use jikimi_exchange::freeze::{
    AccountRef, Amount, Direction, Evidence, FreezeKind, FreezeState, HeldRequest,
};
use jikimi_federation::freeze::NewFreeze;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::exchange::{detached, service};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// `POST /api/exchange/freeze`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFreezeBody {
    /// `freeze` (default) or `confiscation`.
    pub kind: Option<String>,
    /// The account: `{"type":"iban","iban":...}`, `{"type":"bank_account","account":...,"country":"KR"}` or
    /// `{"type":"wallet","wallet":{"chain":...,"address":...},"exchange":...,"exchange_country":...}`.
    /// Required unless `trace_run` is given (then the endpoint's account is taken, with its jurisdiction).
    #[schema(value_type = Object)]
    pub account: Option<AccountRef>,
    /// The amount in the currency's smallest unit, as a string of digits (exact). With `trace_run`, defaults to
    /// the endpoint's tainted holding.
    pub amount_minor: Option<String>,
    /// ISO 4217 code or crypto ticker (with `trace_run`, defaults to the run's currency).
    pub currency: Option<String>,
    /// Decimals of the smallest unit (default 2).
    pub decimals: Option<u8>,
    /// The requesting case (held here).
    pub case_id: Uuid,
    /// Deadline (RFC 3339, in the future).
    pub deadline: DateTime<Utc>,
    /// The trace summary JSON (an object).
    #[schema(value_type = Object)]
    pub evidence: Option<serde_json::Value>,
    /// A trace run of this case to take the evidence, account and amount from (instead of `evidence`).
    pub trace_run: Option<Uuid>,
    /// With `trace_run`: the endpoint's account as the run shows it (`iban:...`, `acct:...`, `tron:...`).
    pub endpoint: Option<String>,
}

/// `POST /api/exchange/freeze/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// `frozen`, `refused` or `released` (`received` is recorded on arrival).
    pub state: String,
    /// With `frozen`: the amount frozen, minor units as a string of digits.
    pub amount_minor: Option<String>,
    /// With `frozen`: its currency (default the request's).
    pub currency: Option<String>,
    /// With `frozen`: decimals (default the request's).
    pub decimals: Option<u8>,
    /// With `refused` and `released`: why.
    pub reason: Option<String>,
}

/// Query of `GET /api/exchange/freeze`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// `incoming` or `outgoing` (default both).
    pub direction: Option<String>,
}

fn minor_units(text: &str) -> Result<u128, ApiError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "amount_minor: a string of decimal digits",
        ));
    }
    text.parse()
        .map_err(|_| ApiError::new(ErrorCode::InvalidField, "amount_minor: too large"))
}

/// Asks the agency with jurisdiction over the account (IBAN country, the exchange's registered country, or an
/// agreement's mapping) to freeze or confiscate: signed, kept, audited and delivered (again after each sync if the
/// partner cannot be reached now: `delivered` says which).
#[utoipa::path(post, path = "/api/exchange/freeze", tag = "exchange", security(("bearer" = [])), request_body = NewFreezeBody,
    responses((status = 201, body = Object, description = "HeldRequest"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: a trace run of another case"),
        (status = 404, body = crate::error::ErrorBody, description = "record_not_found: the case; trace_run_not_found"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: amount, deadline, evidence, jurisdiction, not an endpoint of the run")))]
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    Json(body): Json<NewFreezeBody>,
) -> Result<(StatusCode, Json<HeldRequest>), ApiError> {
    staff.require(Permission::RequestFreeze)?;
    let node = service(&state)?.node().await?;
    let (evidence, account, amount) = match (body.evidence, body.trace_run) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "give evidence (the trace summary JSON) or trace_run, not both",
            ));
        }
        (Some(summary), None) => {
            let account = body
                .account
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "account is required"))?;
            let amount = Amount {
                minor_units: minor_units(body.amount_minor.as_deref().ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidField, "amount_minor is required")
                })?)?,
                currency: body.currency.ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidField, "currency is required")
                })?,
                decimals: body.decimals.unwrap_or(2),
            };
            (Evidence::from_summary(summary, None)?, account, amount)
        }
        (None, Some(run)) => {
            if body.account.is_some() {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    "with trace_run, name the endpoint (the account is the run's)",
                ));
            }
            let endpoint = body.endpoint.as_deref().ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidField,
                    "endpoint is required with trace_run",
                )
            })?;
            let found =
                crate::freeze_evidence::from_trace_run(&state, &staff, run, body.case_id, endpoint)
                    .await?;
            let mut amount = found.holding;
            if let Some(text) = body.amount_minor.as_deref() {
                amount.minor_units = minor_units(text)?;
            }
            if let Some(currency) = body.currency {
                amount.currency = currency;
            }
            if let Some(decimals) = body.decimals {
                amount.decimals = decimals;
            }
            (found.evidence, found.account, amount)
        }
        (None, None) => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "give evidence (the trace summary JSON) or trace_run",
            ));
        }
    };
    let kind: FreezeKind = body.kind.as_deref().unwrap_or("freeze").parse()?;
    let new = NewFreeze {
        kind,
        account,
        amount,
        evidence,
        case_id: body.case_id,
        deadline: body.deadline,
    };
    let by = staff.username.clone();
    let held = detached(async move {
        let held = node.request_freeze(new, Utc::now()).await?;
        node.store
            .audit(
                "freeze_request_created",
                None,
                Some(held.request.body.id),
                &format!("staff:{by}"),
            )
            .await?;
        Ok::<_, jikimi_exchange::Error>(held)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(held)))
}

/// Freeze requests held here (ours and partners'), newest first, with their signed status timelines. Audited.
#[utoipa::path(get, path = "/api/exchange/freeze", tag = "exchange", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<Object>, description = "HeldRequest list"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: direction")))]
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<HeldRequest>>, ApiError> {
    staff.require(Permission::RequestFreeze)?;
    let direction = query
        .direction
        .as_deref()
        .map(|d| {
            Direction::parse(d).ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidField, "direction: incoming or outgoing")
            })
        })
        .transpose()?;
    let node = service(&state)?.node().await?;
    let held = node.freeze_list(direction).await?;
    node.store
        .audit(
            "freeze_read",
            None,
            None,
            &format!(
                "staff:{} read {} freeze requests",
                staff.username,
                held.len()
            ),
        )
        .await?;
    Ok(Json(held))
}

/// One freeze request with its signed status timeline. Audited.
#[utoipa::path(get, path = "/api/exchange/freeze/{id}", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Request id")),
    responses((status = 200, body = Object, description = "HeldRequest"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role"),
        (status = 404, body = crate::error::ErrorBody, description = "record_not_found")))]
pub async fn get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<HeldRequest>, ApiError> {
    staff.require(Permission::RequestFreeze)?;
    let node = service(&state)?.node().await?;
    let held = node.held_freeze(id).await?;
    node.store
        .audit(
            "freeze_read",
            None,
            Some(id),
            &format!("staff:{}", staff.username),
        )
        .await?;
    Ok(Json(held))
}

/// Records the status of a request a partner sent to this agency: frozen (with the amount), refused or released
/// (with a reason); signed by this agency, kept, audited and delivered to the requester.
#[utoipa::path(post, path = "/api/exchange/freeze/{id}/status", tag = "exchange", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Request id")), request_body = StatusBody,
    responses((status = 200, body = Object, description = "HeldRequest"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role, or a request this agency sent"),
        (status = 404, body = crate::error::ErrorBody, description = "record_not_found"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: state, amount, reason or transition")))]
pub async fn record_status(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<StatusBody>,
) -> Result<Json<HeldRequest>, ApiError> {
    staff.require(Permission::DecideFreeze)?;
    let node = service(&state)?.node().await?;
    let held = node.held_freeze(id).await?;
    let reason = || {
        body.reason
            .clone()
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "reason is required"))
    };
    let freeze_state = match body.state.as_str() {
        "frozen" => {
            let asked = &held.request.body.amount;
            FreezeState::Frozen {
                amount: Amount {
                    minor_units: minor_units(body.amount_minor.as_deref().ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidField, "amount_minor is required")
                    })?)?,
                    currency: body
                        .currency
                        .clone()
                        .unwrap_or_else(|| asked.currency.clone()),
                    decimals: body.decimals.unwrap_or(asked.decimals),
                },
            }
        }
        "refused" => FreezeState::Refused { reason: reason()? },
        "released" => FreezeState::Released { reason: reason()? },
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "state: frozen, refused or released",
            ));
        }
    };
    let by = staff.username.clone();
    let held = detached(async move {
        let held = node
            .record_freeze_status(id, freeze_state, Utc::now())
            .await?;
        node.store
            .audit(
                "freeze_status_recorded",
                None,
                Some(id),
                &format!("staff:{by}"),
            )
            .await?;
        Ok::<_, jikimi_exchange::Error>(held)
    })
    .await?;
    Ok(Json(held))
}

/// A partner agency that may be asked for a freeze: one of the active agreements it shares with this node permits
/// freeze requests.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct FreezePartner {
    /// Key id.
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2: requests for accounts of this country go to it.
    pub country: String,
    /// `freeze` and/or `confiscation`.
    #[schema(value_type = Vec<String>)]
    pub kinds: Vec<FreezeKind>,
}

/// The partners freeze requests can go to (the recipient is resolved from the account's jurisdiction), for the
/// console's request dialog. Names agencies, no account: not audited.
#[utoipa::path(get, path = "/api/exchange/freeze/partners", tag = "exchange", security(("bearer" = [])),
    responses((status = 200, body = Vec<FreezePartner>),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role")))]
pub async fn partners(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<FreezePartner>>, ApiError> {
    staff.require(Permission::RequestFreeze)?;
    let store = service(&state)?.store().clone();
    let (peers, agreements) = (store.peers().await?, store.agreements().await?);
    let now = Utc::now();
    let mut out = Vec::new();
    for peer in peers {
        let mut kinds: Vec<FreezeKind> = agreements
            .iter()
            .filter(|a| a.is_active(now) && a.parties.contains(&peer.id))
            .filter_map(|a| a.freeze.as_ref())
            .flat_map(|t| t.kinds.iter().copied())
            .collect();
        kinds.sort();
        kinds.dedup();
        if !kinds.is_empty() {
            out.push(FreezePartner {
                id: peer.id.to_string(),
                name: peer.name,
                country: peer.country,
                kinds,
            });
        }
    }
    out.sort_by(|a, b| (&a.country, &a.name).cmp(&(&b.country, &b.name)));
    Ok(Json(out))
}
