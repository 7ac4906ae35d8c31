//! Incident endpoints: list (by priority, then age), get with the event log, and one endpoint per transition.
//!
//! Every transition is an event appended with optimistic concurrency: the caller may pass the `expected_seq` it
//! saw; without it the current seq is used. Illegal transitions answer `illegal_transition` (409).

use axum::extract::{Path, Query, State};
use jikimi_respond::{
    EventKind, Incident, IncidentId, IncidentStatus, Outcome, UnitId, UnitStatus,
};
use jikimi_store::{Change, IncidentFilter, IncidentOrder};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Staff;
use crate::dto::{IncidentDetailDto, IncidentDto};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Json, OptionalJson};
use crate::roles::Permission;
use crate::state::AppState;
use crate::views::{self, View};

/// Query of `GET /api/incidents`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Comma-separated statuses (received, acknowledged, dispatched, en_route, on_scene, closed); `open` for all
    /// but closed; default all.
    pub status: Option<String>,
    /// At most this many (1..=10000, default 100).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
    /// `queue` (default): by priority, then age. `id`: by id, a stable order for reading every incident page by
    /// page (priorities change, ids do not).
    pub order: Option<String>,
    /// With `order=id` (implied when given): list the incidents after this id, the last of the previous page.
    pub after: Option<Uuid>,
}

/// Incidents by priority (code 0 first), then age (oldest first); or by id, page by page (`order=id`, `after`).
/// Analysts get the analyst view (no subscriber or device ids, generalised locations).
#[utoipa::path(get, path = "/api/incidents", tag = "incidents", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<IncidentDto>), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: limit, order, after or status")))]
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<IncidentDto>>, ApiError> {
    staff.require(Permission::ReadOperations)?;
    let order = match (query.order.as_deref(), query.after) {
        (None | Some("queue"), None) => IncidentOrder::Queue,
        (None | Some("id"), after) => IncidentOrder::ById {
            after: after.map(IncidentId),
        },
        (Some("queue"), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "after= pages an id-ordered listing: use order=id",
            ));
        }
        (Some(other), _) => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                format!("unknown order {other:?}: queue or id"),
            ));
        }
    };
    let mut filter = IncidentFilter {
        limit: crate::extract::limit(query.limit, 100, 10_000)?,
        order,
        ..IncidentFilter::default()
    };
    if let Some(status) = &query.status {
        for part in status.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "open" {
                filter.statuses.extend(IncidentFilter::open().statuses);
            } else {
                filter
                    .statuses
                    .push(IncidentStatus::parse(part).ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidField, format!("unknown status {part:?}"))
                    })?);
            }
        }
    }
    let incidents = state.store.list_incidents(&filter).await?;
    let view = View::of(staff.role);
    Ok(Json(
        incidents
            .iter()
            .map(|i| views::incident(state.incident_dto(i), view))
            .collect(),
    ))
}

/// One incident with its event log and its guardian notifications' status. Analysts get the analyst view (no
/// subscriber, device or guardian ids, no note text, generalised locations).
#[utoipa::path(get, path = "/api/incidents/{id}", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")),
    responses((status = 200, body = IncidentDetailDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<IncidentDetailDto>, ApiError> {
    staff.require(Permission::ReadOperations)?;
    let incident = state.store.get_incident(IncidentId(id)).await?;
    let events = state.store.load_events(IncidentId(id)).await?;
    let notifications = state.store.list_notifications(IncidentId(id)).await?;
    let view = View::of(staff.role);
    // The caller's language is an operational fact for the dispatcher (answer in it, call an interpreter); the
    // analyst view never carries it, nor anything that could stand for nationality.
    let caller_language = match (view, incident.subscriber_id) {
        (View::Full, Some(sid)) => match state.store.get_subscriber(sid).await {
            Ok(record) => Some(crate::dto::CallerLanguageDto::of(&record.language)),
            Err(err) if err.is_not_found() => None,
            Err(err) => return Err(err.into()),
        },
        _ => None,
    };
    Ok(Json(IncidentDetailDto {
        incident: views::incident(state.incident_dto(&incident), view),
        events: events
            .iter()
            .map(|e| {
                let mut dto = views::event(e, view);
                // Each fix in the log gets its address too; analysts get none (see `crate::geocode`).
                if view == View::Full {
                    crate::geocode::annotate_event(&mut dto, state.addresses.as_deref());
                }
                dto
            })
            .collect(),
        notifications: crate::notifications::notification_dtos(&staff, &notifications),
        caller_language,
    }))
}

/// Body of the simple transitions (acknowledge, recommend, en route, on scene).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// The seq you last saw; a concurrent change makes the call fail with `conflict` instead of acting on stale
    /// state. Omit to act on the current state.
    pub expected_seq: Option<u64>,
}

/// Body of `dispatch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    /// Call sign of the unit to send.
    pub unit: String,
    /// Send the unit although it does not satisfy what the incident needs (type or capabilities; see
    /// `GET /api/incidents/{id}/recommendations`). Audited `incident.dispatch_override`. Default false: such a
    /// unit is refused `unit_unsuitable`.
    #[serde(default)]
    pub override_need: bool,
    /// As in [`TransitionRequest`].
    pub expected_seq: Option<u64>,
}

/// Body of `note`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The note (at most 4,000 characters; no personal data beyond what the case needs).
    pub text: String,
    /// As in [`TransitionRequest`].
    pub expected_seq: Option<u64>,
}

/// Body of `close`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// arrest, rescue, assistance, false_alarm or abuse.
    #[schema(example = "rescue")]
    pub outcome: String,
    /// As in [`TransitionRequest`].
    pub expected_seq: Option<u64>,
}

async fn append(
    state: &AppState,
    id: Uuid,
    expected_seq: Option<u64>,
    kind: EventKind,
    change: &Change,
) -> Result<Incident, ApiError> {
    let id = IncidentId(id);
    let expected = match expected_seq {
        Some(seq) => seq,
        None => state.store.get_incident(id).await?.last_seq,
    };
    state
        .store
        .append_event(id, expected, kind, change)
        .await
        .map_err(ApiError::from)
}

fn body_or_default(body: Option<TransitionRequest>) -> TransitionRequest {
    body.unwrap_or_default()
}

/// A dispatcher takes the incident.
#[utoipa::path(post, path = "/api/incidents/{id}/acknowledge", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body(content = Option<TransitionRequest>, description = "optional: an empty body is allowed"),
    responses((status = 200, body = IncidentDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition or conflict")))]
pub async fn acknowledge(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    OptionalJson(body): OptionalJson<TransitionRequest>,
) -> Result<Json<IncidentDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let body = body_or_default(body);
    let incident = append(
        &state,
        id,
        body.expected_seq,
        EventKind::Acknowledged,
        &staff.change(&state, "acknowledge"),
    )
    .await?;
    Ok(Json(state.incident_dto(&incident)))
}

/// Rank the nearest available units that satisfy the incident's need (unit type and capabilities, see
/// `GET /api/incidents/{id}/recommendations`) by ETA and record the recommendation; none when none satisfies it.
#[utoipa::path(post, path = "/api/incidents/{id}/recommend", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body(content = Option<TransitionRequest>, description = "optional: an empty body is allowed"),
    responses((status = 200, body = IncidentDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition or conflict")))]
pub async fn recommend(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    OptionalJson(body): OptionalJson<TransitionRequest>,
) -> Result<Json<IncidentDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let body = body_or_default(body);
    let incident = state.store.get_incident(IncidentId(id)).await?;
    // Only units of the needed kind are recorded: a patrol car is never recommended for a trapped person.
    let (ranked, _) = crate::rescue::rank(&state, id).await?;
    let recommendations = ranked.suitable;
    let expected = body.expected_seq.unwrap_or(incident.last_seq);
    let incident = append(
        &state,
        id,
        Some(expected),
        EventKind::UnitRecommended { recommendations },
        &staff.change(&state, "recommend units"),
    )
    .await?;
    Ok(Json(state.incident_dto(&incident)))
}

/// Assign an available unit (the unit becomes dispatched). A unit that does not satisfy the incident's need is
/// refused `unit_unsuitable` unless `override_need` is set (audited).
#[utoipa::path(post, path = "/api/incidents/{id}/dispatch", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body = DispatchRequest,
    responses((status = 200, body = IncidentDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition, conflict, or unit_unsuitable: the unit lacks the needed type or capabilities")))]
pub async fn dispatch(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<DispatchRequest>,
) -> Result<Json<IncidentDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let unit = UnitId::new(body.unit.trim());
    let (need, _) = crate::rescue::incident_need(&state, id).await?;
    // One store transaction re-checks the unit is available and suits the need, appends the event and sets the
    // unit: two dispatchers racing for one unit cannot both win (a busy unit is 409 `illegal_transition`).
    let change = staff.change(
        &state,
        if body.override_need {
            "dispatch, overriding the unit needed"
        } else {
            "dispatch"
        },
    );
    let incident = state
        .store
        .dispatch_for_need(
            IncidentId(id),
            body.expected_seq,
            &unit,
            &need,
            body.override_need,
            &change,
        )
        .await?;
    Ok(Json(state.incident_dto(&incident)))
}

fn assigned(incident: &Incident) -> Result<UnitId, ApiError> {
    incident.assigned_unit.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::IllegalTransition,
            "no unit is assigned to this incident",
        )
    })
}

/// The assigned unit is on its way.
#[utoipa::path(post, path = "/api/incidents/{id}/en-route", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body(content = Option<TransitionRequest>, description = "optional: an empty body is allowed"),
    responses((status = 200, body = IncidentDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition or conflict")))]
pub async fn en_route(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    OptionalJson(body): OptionalJson<TransitionRequest>,
) -> Result<Json<IncidentDto>, ApiError> {
    let (unit, expected) = assigned_step(&state, &staff, id, body).await?;
    let change = staff.change(&state, "en route");
    let incident = append(
        &state,
        id,
        Some(expected),
        EventKind::EnRoute { unit },
        &change,
    )
    .await?;
    Ok(Json(state.incident_dto(&incident)))
}

/// The unit's next step (en route, on scene): checks the role and finds the assigned unit and the seq to act at.
async fn assigned_step(
    state: &AppState,
    staff: &Staff,
    id: Uuid,
    body: Option<TransitionRequest>,
) -> Result<(UnitId, u64), ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let body = body_or_default(body);
    let current = state.store.get_incident(IncidentId(id)).await?;
    let unit = assigned(&current)?;
    Ok((unit, body.expected_seq.unwrap_or(current.last_seq)))
}

/// The assigned unit is there (the unit becomes on scene).
#[utoipa::path(post, path = "/api/incidents/{id}/on-scene", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body(content = Option<TransitionRequest>, description = "optional: an empty body is allowed"),
    responses((status = 200, body = IncidentDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition or conflict")))]
pub async fn on_scene(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    OptionalJson(body): OptionalJson<TransitionRequest>,
) -> Result<Json<IncidentDto>, ApiError> {
    let (unit, expected) = assigned_step(&state, &staff, id, body).await?;
    let change = staff.change(&state, "on scene");
    // The event and the unit's new status in one store transaction.
    let incident = state
        .store
        .append_event_moving_unit(
            IncidentId(id),
            Some(expected),
            EventKind::OnScene { unit },
            UnitStatus::OnScene,
            &change,
        )
        .await?;
    Ok(Json(state.incident_dto(&incident)))
}

/// Add a note.
#[utoipa::path(post, path = "/api/incidents/{id}/notes", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body = NoteRequest,
    responses((status = 200, body = IncidentDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition or conflict"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field")))]
pub async fn note(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<NoteRequest>,
) -> Result<Json<IncidentDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    if body.text.trim().is_empty() || body.text.chars().count() > 4_000 {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "text: 1 to 4000 characters",
        ));
    }
    let incident = append(
        &state,
        id,
        body.expected_seq,
        EventKind::NoteAdded { text: body.text },
        &staff.change(&state, "note"),
    )
    .await?;
    Ok(Json(state.incident_dto(&incident)))
}

fn parse_outcome(text: &str) -> Result<Outcome, ApiError> {
    Ok(match text {
        "arrest" => Outcome::Arrest,
        "rescue" => Outcome::Rescue,
        "assistance" => Outcome::Assistance,
        "false_alarm" => Outcome::FalseAlarm,
        "abuse" => Outcome::Abuse,
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "outcome: one of arrest, rescue, assistance, false_alarm, abuse",
            ));
        }
    })
}

/// Close with an outcome (the assigned unit becomes available).
#[utoipa::path(post, path = "/api/incidents/{id}/close", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body = CloseRequest,
    responses((status = 200, body = IncidentDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition or conflict"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field")))]
pub async fn close(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<CloseRequest>,
) -> Result<Json<IncidentDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let outcome = parse_outcome(&body.outcome)?;
    let change = staff.change(&state, "close");
    // The close and the assigned unit's release in one store transaction.
    let incident = state
        .store
        .append_event_moving_unit(
            IncidentId(id),
            body.expected_seq,
            EventKind::Closed { outcome },
            UnitStatus::Available,
            &change,
        )
        .await?;
    Ok(Json(state.incident_dto(&incident)))
}
