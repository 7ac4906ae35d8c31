//! Rescue teams (issue 20, part 5) in the server: what an incident needs, and recommendations that honour it.
//!
//! - An incident's need is the dispatcher's choice when set (`PUT`/`DELETE /api/incidents/{id}/need`, audited
//!   `incident.need_set`, `incident.need_cleared`), else derived by [`jikimi_respond::rescue::derived_need`] from the
//!   welfare answers that became its alerts (trapped: rescue with heavy_rescue, or water_rescue in a flood; injured:
//!   medical; need_help: rescue, with water_rescue in a flood), else police.
//! - `GET /api/incidents/{id}/recommendations` ranks by road travel time only the available units that satisfy the
//!   need; when none does it says so (`none_suitable`, `message`) and never puts another kind in their place. The
//!   nearest units that do not satisfy it are listed apart (`other_units`), each labelled with what it lacks, for a
//!   dispatcher who decides to send one anyway. `POST /api/incidents/{id}/recommend` records the suitable ones only.
//! - Dispatching a unit that does not satisfy the need is refused `unit_unsuitable` (409) unless the request says
//!   `override_need: true`; the override is audited `incident.dispatch_override` in the dispatch's transaction.

use axum::extract::{Path, State};
use jikimi_respond::rescue::{NeedRecommendation, NeedSource, derived_need, recommend_for};
use jikimi_respond::{IncidentId, Recommendation, UnitNeed};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;
use crate::units::{parse_capabilities, parse_unit_type};

/// Suitable units ranked per recommendation.
pub const SUITABLE: usize = 5;
/// Units of other kinds listed apart.
pub const OTHERS: usize = 3;

/// What an incident needs, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NeedDto {
    /// police, fire, rescue or medical.
    pub unit_type: String,
    /// Capabilities the unit must all have.
    pub capabilities: Vec<String>,
    /// `dispatcher` (set on the incident), `welfare` (derived from the answers of the people in it) or `default`
    /// (an ordinary SOS: police).
    pub source: String,
    /// For `welfare`: the most urgent status it was derived from (trapped, injured, need_help).
    pub welfare_status: Option<String>,
    /// For people: "rescue with heavy_rescue".
    pub text: String,
}

impl NeedDto {
    /// The need and where it came from.
    pub fn new(need: &UnitNeed, source: NeedSource) -> NeedDto {
        NeedDto {
            unit_type: need.unit_type.as_str().into(),
            capabilities: need
                .capabilities
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            source: source.as_str().into(),
            welfare_status: match source {
                NeedSource::Welfare(status) => Some(status.as_str().into()),
                _ => None,
            },
            text: need.to_string(),
        }
    }
}

/// Body of `PUT /api/incidents/{id}/need`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedRequest {
    /// police, fire, rescue or medical.
    pub unit_type: String,
    /// Capabilities the unit must all have (default none; each at most once).
    pub capabilities: Option<Vec<String>>,
}

/// A ranked unit that satisfies the need.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CandidateDto {
    /// Call sign.
    pub unit: String,
    /// Estimated travel time in seconds.
    pub eta_s: f64,
    /// Travel distance in metres.
    pub distance_m: f64,
    /// How the ETA was computed: road, straight_line, or straight_line_incident_off_road.
    pub method: String,
    /// Metres off the road network at both ends; null without roads.
    pub snap_m: Option<f64>,
}

impl From<&Recommendation> for CandidateDto {
    fn from(r: &Recommendation) -> Self {
        CandidateDto {
            unit: r.unit.as_str().into(),
            eta_s: r.eta_s,
            distance_m: r.distance_m,
            method: r.method.clone(),
            snap_m: r.snap_m,
        }
    }
}

/// A ranked unit that does NOT satisfy the need, labelled with what it lacks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OtherUnitDto {
    /// Call sign.
    pub unit: String,
    /// Estimated travel time in seconds.
    pub eta_s: f64,
    /// Travel distance in metres.
    pub distance_m: f64,
    /// How the ETA was computed.
    pub method: String,
    /// Its type.
    pub unit_type: String,
    /// Its capabilities.
    pub capabilities: Vec<String>,
    /// It is of another type than needed.
    pub wrong_type: bool,
    /// Needed capabilities it lacks.
    pub missing: Vec<String>,
}

/// Recommendations for an incident's need.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecommendationsDto {
    /// The incident.
    pub incident_id: Uuid,
    /// What it needs.
    pub need: NeedDto,
    /// Available units that satisfy the need, best first (by road travel time when roads are loaded).
    pub units: Vec<CandidateDto>,
    /// No available unit satisfies the need: `units` is empty and nothing of another kind was put in its place.
    pub none_suitable: bool,
    /// For people, when `none_suitable`: "no available rescue unit with heavy_rescue".
    pub message: Option<String>,
    /// NOT suitable: the nearest available units of other types or lacking capabilities, best first. Sending one
    /// needs `override_need: true` on dispatch (audited).
    pub other_units: Vec<OtherUnitDto>,
}

fn recommendations_dto(
    incident_id: Uuid,
    r: &NeedRecommendation,
    source: NeedSource,
) -> RecommendationsDto {
    let names = |set: &jikimi_respond::rescue::Capabilities| -> Vec<String> {
        set.iter().map(|c| c.as_str().to_string()).collect()
    };
    RecommendationsDto {
        incident_id,
        need: NeedDto::new(&r.need, source),
        units: r.suitable.iter().map(CandidateDto::from).collect(),
        none_suitable: r.none_suitable(),
        message: r.none_suitable().then(|| no_suitable_message(&r.need)),
        other_units: r
            .others
            .iter()
            .map(|o| OtherUnitDto {
                unit: o.recommendation.unit.as_str().into(),
                eta_s: o.recommendation.eta_s,
                distance_m: o.recommendation.distance_m,
                method: o.recommendation.method.clone(),
                unit_type: o.unit_type.as_str().into(),
                capabilities: names(&o.capabilities),
                wrong_type: o.shortfall.wrong_type,
                missing: names(&o.shortfall.missing),
            })
            .collect(),
    }
}

/// "no available rescue unit with heavy_rescue".
fn no_suitable_message(need: &UnitNeed) -> String {
    let mut text = format!("no available {} unit", need.unit_type);
    if !need.capabilities.is_empty() {
        text.push_str(" with ");
        text.push_str(
            &jikimi_respond::rescue::capabilities_to_text(&need.capabilities).replace(',', ", "),
        );
    }
    text
}

/// The need of incident `id` and where it came from ([`ErrorCode::IncidentNotFound`] if unknown).
pub async fn incident_need(state: &AppState, id: Uuid) -> Result<(UnitNeed, NeedSource), ApiError> {
    let facts = state.store.incident_need_facts(IncidentId(id)).await?;
    Ok(derived_need(facts.dispatcher.as_ref(), &facts.people))
}

/// Ranks the units for incident `id`'s need (no event is recorded).
pub async fn rank(
    state: &AppState,
    id: Uuid,
) -> Result<(NeedRecommendation, NeedSource), ApiError> {
    let (need, source) = incident_need(state, id).await?;
    let incident = state.store.get_incident(IncidentId(id)).await?;
    let location = incident.location.ok_or_else(|| {
        ApiError::new(
            ErrorCode::IllegalTransition,
            "incident has no location to recommend from",
        )
    })?;
    let units = state.store.list_units().await?;
    let ranked = recommend_for(
        location.coords,
        &units,
        &need,
        state.eta.as_ref(),
        SUITABLE,
        OTHERS,
    );
    Ok((ranked, source))
}

/// The units to send to an incident for what it needs (dispatchers, supervisors): suitable units ranked by travel
/// time, `none_suitable` when there is none, and apart from them the nearest units of other kinds, labelled. Records
/// nothing (`POST /recommend` records).
#[utoipa::path(get, path = "/api/incidents/{id}/recommendations", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")),
    responses(
        (status = 200, body = RecommendationsDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: the id is not a uuid"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: dispatchers and supervisors only"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition: the incident has no location"),
    ))]
pub async fn recommendations(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<RecommendationsDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let (ranked, source) = rank(&state, id).await?;
    Ok(Json(recommendations_dto(id, &ranked, source)))
}

/// Set the unit type and capabilities an incident needs, over the one derived from its welfare answers
/// (dispatchers, supervisors). Audited `incident.need_set`.
#[utoipa::path(put, path = "/api/incidents/{id}/need", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body = NeedRequest,
    responses(
        (status = 200, body = NeedDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: not JSON of this shape"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: dispatchers and supervisors only"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: unit_type or capabilities"),
    ))]
pub async fn set_need(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<NeedRequest>,
) -> Result<Json<NeedDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let need = UnitNeed {
        unit_type: parse_unit_type(&body.unit_type)?,
        capabilities: parse_capabilities(body.capabilities.as_deref().unwrap_or_default())?,
    };
    state
        .store
        .set_incident_need(
            IncidentId(id),
            Some(&need),
            &staff.change(&state, "set the unit needed"),
        )
        .await?;
    Ok(Json(NeedDto::new(&need, NeedSource::Dispatcher)))
}

/// Go back to the need derived from the incident's welfare answers (or police) (dispatchers, supervisors).
/// Audited `incident.need_cleared`.
#[utoipa::path(delete, path = "/api/incidents/{id}/need", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")),
    responses(
        (status = 200, body = NeedDto, description = "the derived need now in force"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: the id is not a uuid"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: dispatchers and supervisors only"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found"),
    ))]
pub async fn clear_need(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<NeedDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    state
        .store
        .set_incident_need(
            IncidentId(id),
            None,
            &staff.change(&state, "derive the unit needed"),
        )
        .await?;
    let (need, source) = incident_need(&state, id).await?;
    Ok(Json(NeedDto::new(&need, source)))
}
