//! Unit endpoints: list, create, position reports (AVL) and status changes. A unit has a type (police, fire, rescue,
//! medical) and capabilities ([`jikimi_respond::rescue`]), set when it is saved; recommendations honour them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use jikimi_respond::rescue::Capabilities;
use jikimi_respond::{Capability, Unit, UnitId, UnitStatus, UnitType};
use jikimi_store::PositionReport;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Staff;
use crate::dto::{PositionDto, UnitDto};
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

fn unit_id(text: &str) -> Result<UnitId, ApiError> {
    let text = text.trim();
    if text.is_empty()
        || text.len() > 32
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "unit call sign: 1 to 32 characters [A-Za-z0-9_-]",
        ));
    }
    Ok(UnitId::new(text))
}

fn parse_status(text: &str) -> Result<UnitStatus, ApiError> {
    UnitStatus::parse(text).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidField,
            "status: available, dispatched, on_scene or off_duty",
        )
    })
}

/// The most capabilities a request may name (each known one once; repeats are refused as malformed).
pub const MAX_CAPABILITIES: usize = Capability::ALL.len();

/// A unit type from the API.
pub fn parse_unit_type(text: &str) -> Result<UnitType, ApiError> {
    UnitType::parse(text).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidField,
            "unit_type: police, fire, rescue or medical",
        )
    })
}

/// Capabilities from the API: known names, each at most once.
pub fn parse_capabilities(names: &[String]) -> Result<Capabilities, ApiError> {
    let invalid = |m: String| ApiError::new(ErrorCode::InvalidField, m);
    if names.len() > MAX_CAPABILITIES {
        return Err(invalid(format!("capabilities: at most {MAX_CAPABILITIES}")));
    }
    let mut out = Capabilities::new();
    for name in names {
        let capability = Capability::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
            invalid(format!("capabilities: each one of {}", known.join(", ")))
        })?;
        if !out.insert(capability) {
            return Err(invalid(format!("capabilities: {name} named twice")));
        }
    }
    Ok(out)
}

/// All units, by call sign (analysts: positions generalised to H3 resolution-9 cell centres).
#[utoipa::path(get, path = "/api/units", tag = "units", security(("bearer" = [])),
    responses((status = 200, body = Vec<UnitDto>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<UnitDto>>, ApiError> {
    staff.require(Permission::ReadOperations)?;
    let units = state.store.list_units().await?;
    let view = crate::views::View::of(staff.role);
    Ok(Json(
        units
            .iter()
            .map(|u| crate::views::unit(UnitDto::from(u), view))
            .collect(),
    ))
}

/// Body of `PUT /api/units/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutUnitRequest {
    /// available, dispatched, on_scene or off_duty (default off_duty).
    pub status: Option<String>,
    /// Initial position.
    pub position: Option<PositionDto>,
    /// police (default), fire, rescue or medical.
    pub unit_type: Option<String>,
    /// What it can do beyond its type's basics: heavy_rescue, water_rescue, rope_rescue, hazmat, fire_suppression,
    /// medical_advanced, search_dog (default none; each at most once).
    pub capabilities: Option<Vec<String>>,
}

/// Create or replace a unit (supervisor, admin), with its type and capabilities (a replacement without them is a
/// police unit with none, as every unit saved before types existed).
#[utoipa::path(put, path = "/api/units/{id}", tag = "units", security(("bearer" = [])),
    params(("id" = String, Path, description = "call sign, e.g. P-101")), request_body = PutUnitRequest,
    responses((status = 200, body = UnitDto), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: call sign, status, position, unit_type or capabilities")))]
pub async fn put(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Json(body): Json<PutUnitRequest>,
) -> Result<Json<UnitDto>, ApiError> {
    staff.require(Permission::ManageUnits)?;
    let status = match &body.status {
        Some(s) => parse_status(s)?,
        None => UnitStatus::OffDuty,
    };
    let position = body.position.map(PositionDto::to_domain).transpose()?;
    let unit_type = match &body.unit_type {
        Some(t) => parse_unit_type(t)?,
        None => UnitType::Police,
    };
    let capabilities = parse_capabilities(body.capabilities.as_deref().unwrap_or_default())?;
    let now = state.now();
    let unit = Unit {
        id: unit_id(&id)?,
        status,
        position,
        reported_at: position.map(|_| now),
        unit_type,
        capabilities,
    };
    state
        .store
        .put_unit(&unit, &staff.change(&state, "save unit"))
        .await?;
    Ok(Json(UnitDto::from(&unit)))
}

/// Body of a position report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionRequest {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// Report a unit's position (AVL).
#[utoipa::path(post, path = "/api/units/{id}/position", tag = "units", security(("bearer" = [])),
    params(("id" = String, Path, description = "call sign")), request_body = PositionRequest,
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn report_position(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Json(body): Json<PositionRequest>,
) -> Result<StatusCode, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let position = PositionDto {
        lat: body.lat,
        lon: body.lon,
    }
    .to_domain()?;
    let report = PositionReport {
        position,
        at: state.now(),
    };
    state.store.report_position(&unit_id(&id)?, report).await?;
    metrics::counter!("jikimi_unit_positions_total").increment(1);
    Ok(StatusCode::NO_CONTENT)
}

/// Body of a status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// available, dispatched, on_scene or off_duty.
    pub status: String,
}

/// Set a unit's status.
#[utoipa::path(post, path = "/api/units/{id}/status", tag = "units", security(("bearer" = [])),
    params(("id" = String, Path, description = "call sign")), request_body = StatusRequest,
    responses((status = 200, body = UnitDto), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field")))]
pub async fn set_status(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Json(body): Json<StatusRequest>,
) -> Result<Json<UnitDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let status = parse_status(&body.status)?;
    let unit = state
        .store
        .set_unit_status(&unit_id(&id)?, status, &staff.change(&state, "unit status"))
        .await?;
    Ok(Json(UnitDto::from(&unit)))
}

/// The most reports one batch may carry.
pub const MAX_BATCH_POSITIONS: usize = 2_000;

/// One report of a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPosition {
    /// The unit's call sign.
    pub unit: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// Body of `POST /api/positions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPositionsRequest {
    /// 1 to 2,000 reports; a unit may appear more than once (the last one wins).
    pub positions: Vec<BatchPosition>,
}

/// Answer of `POST /api/positions`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct BatchPositionsAnswer {
    /// The units as updated, in the order reported.
    pub units: Vec<UnitDto>,
    /// Call signs no unit has (their reports were not recorded).
    pub unknown: Vec<String>,
}

/// Report many units' positions at once (an AVL gateway relaying its fleet; within `--body-limit-bytes`): one
/// transaction, so a city of units reporting every second costs a commit per batch rather than per report. The whole batch is checked first; one
/// malformed report refuses it all (422, naming the report) and nothing is recorded. Reports for unknown call
/// signs are skipped and listed in the answer.
#[utoipa::path(post, path = "/api/positions", tag = "units", security(("bearer" = [])),
    request_body = BatchPositionsRequest,
    responses((status = 200, body = BatchPositionsAnswer), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn report_positions(
    State(state): State<AppState>,
    staff: Staff,
    Json(body): Json<BatchPositionsRequest>,
) -> Result<Json<BatchPositionsAnswer>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    if body.positions.is_empty() || body.positions.len() > MAX_BATCH_POSITIONS {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("positions: 1 to {MAX_BATCH_POSITIONS} reports"),
        ));
    }
    let at = state.now();
    let mut reports = Vec::with_capacity(body.positions.len());
    for (i, p) in body.positions.into_iter().enumerate() {
        let which = |e: ApiError| ApiError::new(e.code, format!("positions[{i}]: {}", e.message));
        let id = unit_id(&p.unit).map_err(which)?;
        let position = PositionDto {
            lat: p.lat,
            lon: p.lon,
        }
        .to_domain()
        .map_err(which)?;
        reports.push((id, PositionReport { position, at }));
    }
    let units = state.store.report_positions(&reports).await?;
    let mut seen: std::collections::HashSet<&str> = units.iter().map(|u| u.id.as_str()).collect();
    let unknown: Vec<String> = reports
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| seen.insert(id))
        .map(str::to_string)
        .collect();
    metrics::counter!("jikimi_unit_positions_total").increment(units.len() as u64);
    Ok(Json(BatchPositionsAnswer {
        units: units.iter().map(UnitDto::from).collect(),
        unknown,
    }))
}
