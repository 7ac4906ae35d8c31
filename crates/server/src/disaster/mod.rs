//! Disaster mode (issue 20) in the server: declaring a disaster, its welfare check, its counts and its triage
//! queue.
//!
//! - `POST /api/disasters` (supervisor, admin): JSON `{kind, title, area}` with a GeoJSON Polygon or MultiPolygon
//!   (holes allowed), or a CAP 1.2 alert (`content-type: application/cap+xml`) whose `<polygon>`s and `<circle>`s
//!   become the area (circles as circumscribing polygons, so nobody inside is missed). An invalid CAP is refused 400
//!   with the parser's reason. The disaster is stored (`disaster.declared`) and the welfare check runs at once
//!   ([`welfare`]); the answer is `201 {id, welfare}`.
//! - `POST /api/disasters/{id}/close` (supervisor, admin): audited `disaster.closed`; answers are refused from then.
//! - `GET /api/disasters`, `GET /api/disasters/{id}` (anyone who reads operations): the area and the counts of
//!   `safe`, `need_help`, `trapped`, `injured`, `no_answer`, in total and per administrative area ([`areas`]). The
//!   per-area counts open the sealed positions; that read is audited (`disaster.positions_read`), though only counts
//!   leave the server.
//! - `GET /api/disasters/{id}/triage` (dispatchers, supervisors: it reveals positions and vulnerability): the queue of
//!   [`jikimi_respond::disaster::triage`], audited `disaster.triage_read` before anything is opened.
//! - Devices: [`device`] (the app's signed poll and answer) and [`crate::mqtt::welfare`] (terminals).
//! - Guardians: [`guardians`] (told through the notification outbox when their person is asked, answers, or stays
//!   silent).
//! - Each triage entry carries the unit its person needs ([`jikimi_respond::rescue::need_for_welfare`]).

pub mod areas;
pub mod device;
pub mod guardians;
pub mod welfare;

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use jikimi_audit::NewAuditEntry;
use jikimi_respond::disaster::{
    DisasterArea, DisasterKind, PersonState, Position, Vulnerability, WelfareStatus, circle_ring,
    triage,
};
use jikimi_standards::cap;
use jikimi_store::disaster::{DisasterRecord, person_record};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::dto::rfc3339;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Sides of the polygon a CAP circle becomes.
pub const CIRCLE_SEGMENTS: usize = 64;
/// A position older than this is flagged stale in the triage queue.
pub const STALE_AFTER_MS: i64 = 15 * 60 * 1000;
/// Disasters listed.
pub const LIST_LIMIT: u32 = 100;

/// `POST /api/disasters` JSON body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareRequest {
    /// earthquake, flood or other.
    pub kind: String,
    /// A short title ("Pohang earthquake"); the welfare question names it.
    pub title: String,
    /// A GeoJSON geometry: `{"type": "Polygon" | "MultiPolygon", "coordinates": ...}` (`[lon, lat]`, holes allowed).
    #[schema(value_type = Object)]
    pub area: serde_json::Value,
}

/// A declared disaster.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeclaredDto {
    /// Its id.
    pub id: Uuid,
    /// What the welfare check did.
    pub welfare: welfare::FanOutDto,
}

/// Counts of people by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CountsDto {
    /// Answered safe.
    pub safe: u64,
    /// Answered need_help.
    pub need_help: u64,
    /// Answered trapped.
    pub trapped: u64,
    /// Answered injured.
    pub injured: u64,
    /// Asked, no answer yet.
    pub no_answer: u64,
    /// Everyone asked.
    pub total: u64,
}

impl CountsDto {
    fn add(&mut self, status: WelfareStatus) {
        self.total += 1;
        match status {
            WelfareStatus::Safe => self.safe += 1,
            WelfareStatus::NeedHelp => self.need_help += 1,
            WelfareStatus::Trapped => self.trapped += 1,
            WelfareStatus::Injured => self.injured += 1,
            WelfareStatus::NoAnswer => self.no_answer += 1,
        }
    }
}

/// The counts of one area.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AreaCountsDto {
    /// The administrative area (`code name`), the H3 cell, `outside` (no loaded area holds the position) or
    /// `unknown` (no position).
    pub area: String,
    /// Its counts.
    pub counts: CountsDto,
    /// Its outline as a GeoJSON geometry (the administrative area's MultiPolygon or the H3 cell's Polygon), for a
    /// choropleth; absent for `outside` and `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub boundary: Option<serde_json::Value>,
}

/// A disaster as listed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DisasterSummaryDto {
    /// Its id.
    pub id: Uuid,
    /// earthquake, flood, other.
    pub kind: String,
    /// Its title.
    pub title: String,
    /// The CAP alert it was declared from.
    pub cap_identifier: Option<String>,
    /// When declared (RFC 3339).
    pub declared_at: String,
    /// When closed.
    pub closed_at: Option<String>,
}

impl From<&DisasterRecord> for DisasterSummaryDto {
    fn from(d: &DisasterRecord) -> Self {
        DisasterSummaryDto {
            id: d.id,
            kind: d.kind.as_str().into(),
            title: d.title.clone(),
            cap_identifier: d.cap_identifier.clone(),
            declared_at: rfc3339(d.declared_at),
            closed_at: d.closed_at.map(rfc3339),
        }
    }
}

/// Disasters, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DisasterListDto {
    /// At most 100.
    pub disasters: Vec<DisasterSummaryDto>,
}

/// A disaster with its area and counts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DisasterDto {
    /// What it is.
    #[serde(flatten)]
    pub summary: DisasterSummaryDto,
    /// A GeoJSON MultiPolygon.
    #[schema(value_type = Object)]
    pub area: serde_json::Value,
    /// Everyone asked.
    pub counts: CountsDto,
    /// Per area, by name.
    pub areas: Vec<AreaCountsDto>,
    /// What the areas are: `admin` (`--areas`) or `h3` (resolution 7 cells).
    pub area_kind: String,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, message)
}

fn content_type_is_cap(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            matches!(
                v.as_str(),
                "application/cap+xml" | "application/xml" | "text/xml"
            )
        })
}

fn check_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(invalid(format!("title: 1 to {MAX_TITLE} characters")));
    }
    Ok(title.to_string())
}

/// A CAP alert's kind, from its events and categories.
fn kind_of(alert: &cap::Alert) -> DisasterKind {
    let text: String = alert
        .infos
        .iter()
        .map(|i| i.event.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    if ["earthquake", "지진", "quake"]
        .iter()
        .any(|w| text.contains(w))
    {
        DisasterKind::Earthquake
    } else if ["flood", "홍수", "침수", "tsunami", "해일"]
        .iter()
        .any(|w| text.contains(w))
    {
        DisasterKind::Flood
    } else {
        DisasterKind::Other
    }
}

/// The disaster a CAP alert declares: its polygons and circles, its headline or event, its identifier.
fn from_cap(body: &[u8]) -> Result<(DisasterKind, String, DisasterArea, String), ApiError> {
    let bad = |m: String| ApiError::new(ErrorCode::InvalidPayload, m);
    let text = std::str::from_utf8(body).map_err(|_| bad("the CAP alert is not UTF-8".into()))?;
    let alert = cap::parse(text).map_err(|e| match e {
        jikimi_standards::Error::TooLarge { .. } => ApiError::from(e),
        other => bad(format!("invalid CAP 1.2: {other}")),
    })?;
    let mut rings: Vec<Vec<(f64, f64)>> = Vec::new();
    for area in alert.areas() {
        for polygon in &area.polygons {
            rings.push(polygon.ring().iter().map(|p| (p.lat, p.lon)).collect());
        }
        for circle in &area.circles {
            let centre = jikimi_respond::Coordinates::new(circle.centre().lat, circle.centre().lon)
                .map_err(|e| bad(format!("invalid CAP circle: {e}")))?;
            rings.push(circle_ring(
                centre,
                circle.radius_km() * 1000.0,
                CIRCLE_SEGMENTS,
            ));
        }
    }
    if rings.is_empty() {
        return Err(bad(
            "the CAP alert has no <polygon> or <circle>: a disaster needs an area".into(),
        ));
    }
    let area = DisasterArea::from_lat_lon_rings(&rings)
        .map_err(|e| bad(format!("invalid CAP area: {e}")))?;
    let info = alert.infos.first();
    let title = info
        .and_then(|i| i.headline.clone())
        .or_else(|| info.map(|i| i.event.clone()))
        .unwrap_or_else(|| alert.identifier.clone());
    let title: String = title.trim().chars().take(MAX_TITLE).collect();
    let title = if title.is_empty() {
        alert.identifier.clone()
    } else {
        title
    };
    Ok((kind_of(&alert), title, area, alert.identifier.clone()))
}

/// Declare a disaster (supervisor, admin) from JSON or a CAP 1.2 alert; everyone whose last known position lies in
/// its area is asked at once whether they are safe. Audited (`disaster.declared`, `disaster.positions_read`,
/// `disaster.welfare_requested`).
#[utoipa::path(post, path = "/api/disasters", tag = "disasters", security(("bearer" = [])),
    request_body(content = DeclareRequest, description = "JSON, or a CAP 1.2 alert as application/cap+xml"),
    responses(
        (status = 201, body = DeclaredDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: not JSON of this shape, or an invalid CAP alert (the message says why)"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: supervisors and admins only"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: kind, title or area"),
    ))]
pub async fn declare(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<DeclaredDto>), ApiError> {
    staff.require(Permission::DeclareDisasters)?;
    let (kind, title, area, cap_identifier) = if content_type_is_cap(&headers) {
        let (kind, title, area, identifier) = from_cap(&body)?;
        (kind, title, area, Some(identifier))
    } else {
        let request: DeclareRequest = serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidPayload, format!("invalid json: {e}")))?;
        let kind = DisasterKind::parse(&request.kind)
            .ok_or_else(|| invalid("kind: earthquake, flood or other"))?;
        let title = check_title(&request.title)?;
        let area =
            areas::geometry_area(&request.area).map_err(|e| invalid(format!("area: {e}")))?;
        (kind, title, area, None)
    };
    let change = staff.change(&state, "declare a disaster");
    let disaster = DisasterRecord {
        id: Uuid::now_v7(),
        kind,
        title,
        area,
        cap_identifier,
        declared_at: change.at,
        closed_at: None,
    };
    state.store.declare_disaster(&disaster, &change).await?;
    let welfare =
        welfare::welfare_check(&state, &disaster, &staff.change(&state, "welfare check")).await?;
    tracing::info!(disaster_id = %disaster.id, asked = welfare.asked, "disaster declared; welfare check sent");
    Ok((
        StatusCode::CREATED,
        Json(DeclaredDto {
            id: disaster.id,
            welfare,
        }),
    ))
}

/// Close a disaster (supervisor, admin); audited. Answers are refused from then on.
#[utoipa::path(post, path = "/api/disasters/{id}/close", tag = "disasters", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "disaster id")),
    responses(
        (status = 200, body = DisasterSummaryDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: the id is not a uuid"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: supervisors and admins only"),
        (status = 404, body = crate::error::ErrorBody, description = "disaster_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "conflict: closed already"),
    ))]
pub async fn close(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<DisasterSummaryDto>, ApiError> {
    staff.require(Permission::DeclareDisasters)?;
    let closed = state
        .store
        .close_disaster(id, &staff.change(&state, "close the disaster"))
        .await?;
    Ok(Json(DisasterSummaryDto::from(&closed)))
}

/// Disasters, newest first (at most 100).
#[utoipa::path(get, path = "/api/disasters", tag = "disasters", security(("bearer" = [])),
    responses(
        (status = 200, body = DisasterListDto),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<DisasterListDto>, ApiError> {
    staff.require(Permission::ReadOperations)?;
    let disasters = state.store.list_disasters(LIST_LIMIT).await?;
    Ok(Json(DisasterListDto {
        disasters: disasters.iter().map(DisasterSummaryDto::from).collect(),
    }))
}

/// Opens every person of a disaster, after auditing the read (`action`).
async fn persons(
    state: &AppState,
    staff: &Staff,
    disaster: &DisasterRecord,
    action: &str,
    reason: &str,
) -> Result<Vec<PersonState>, ApiError> {
    let stored = state.store.welfare_persons(disaster.id).await?;
    let entry = NewAuditEntry::new(
        state.now().as_unix_ms(),
        staff.actor().to_string(),
        action,
        format!("disaster/{}", disaster.id),
        reason,
    )
    .with_detail(&serde_json::json!({ "persons": stored.len() }));
    state.store.append_audit(vec![entry]).await?;
    stored
        .iter()
        .map(|p| {
            let record = person_record(disaster.id, p.subscriber_id);
            Ok(PersonState {
                subscriber_id: p.subscriber_id,
                status: p.status,
                last_contact: p.last_contact,
                position: welfare::open_position(state, &record, p.position.as_ref())?,
                battery_pct: p.battery_pct,
                people: p.people,
                vulnerability: welfare::open_vulnerability(
                    state,
                    &record,
                    p.vulnerability.as_ref(),
                )?,
            })
        })
        .collect()
}

/// A disaster: its area and the counts of safe, need_help, trapped, injured and no_answer, in total and per
/// administrative area (or H3 cell). Binning opens the sealed positions: audited `disaster.positions_read`.
#[utoipa::path(get, path = "/api/disasters/{id}", tag = "disasters", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "disaster id")),
    responses(
        (status = 200, body = DisasterDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: the id is not a uuid"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden"),
        (status = 404, body = crate::error::ErrorBody, description = "disaster_not_found"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<DisasterDto>, ApiError> {
    staff.require(Permission::ReadOperations)?;
    let disaster = state.store.get_disaster(id).await?;
    let people = persons(
        &state,
        &staff,
        &disaster,
        "disaster.positions_read",
        "count per area",
    )
    .await?;
    let admin = state.admin_areas.as_deref();
    let mut counts = CountsDto::default();
    let mut by_area: BTreeMap<String, CountsDto> = BTreeMap::new();
    for p in &people {
        counts.add(p.status);
        let key = p.position.map_or_else(
            || "unknown".to_string(),
            |pos| areas::area_key(admin, pos.coords),
        );
        by_area.entry(key).or_default().add(p.status);
    }
    Ok(Json(DisasterDto {
        summary: DisasterSummaryDto::from(&disaster),
        area: serde_json::json!({"type": "MultiPolygon", "coordinates": disaster.area.polygons()}),
        counts,
        areas: by_area
            .into_iter()
            .map(|(area, counts)| AreaCountsDto {
                boundary: areas::area_boundary(admin, &area),
                area,
                counts,
            })
            .collect(),
        area_kind: if admin.is_some() { "admin" } else { "h3" }.into(),
    }))
}

/// One person in the triage queue.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TriageEntryDto {
    /// 1 is rescued first.
    pub rank: usize,
    /// The subscriber (reveal their details through `/api/subscribers/{id}/reveal` with the site's incident).
    pub subscriber_id: Uuid,
    /// trapped, injured or need_help.
    pub status: String,
    /// When a device of theirs last answered (RFC 3339).
    pub last_contact: Option<String>,
    /// Seconds since then.
    pub silent_s: Option<i64>,
    /// Last known position: lat, lon, accuracy_m, at (Unix ms), source (fix, home, answer).
    #[schema(value_type = Option<Object>)]
    pub position: Option<Position>,
    /// The position is old, only the registered home, or missing.
    pub stale_position: bool,
    /// Battery percentage last reported.
    pub battery_pct: Option<u8>,
    /// People with them.
    pub people: Option<u32>,
    /// child, elderly, disability, medical.
    #[schema(value_type = Object)]
    pub vulnerability: Vulnerability,
    /// The administrative area or H3 cell of the position.
    pub area: Option<String>,
    /// The unit this person needs (trapped: rescue with heavy_rescue, or water_rescue in a flood; injured: medical;
    /// need_help: rescue, with water_rescue in a flood).
    pub need: Option<crate::rescue::NeedDto>,
}

/// The triage queue.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TriageDto {
    /// The disaster.
    pub disaster_id: Uuid,
    /// Trapped, then injured, then need_help; within each, the more vulnerable, then the longest silent first.
    pub queue: Vec<TriageEntryDto>,
}

/// The disaster's triage queue (dispatchers, supervisors): everyone in need, in rescue order, with positions and
/// vulnerability. Audited (`disaster.triage_read`) before anything is opened.
#[utoipa::path(get, path = "/api/disasters/{id}/triage", tag = "disasters", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "disaster id")),
    responses(
        (status = 200, body = TriageDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: the id is not a uuid"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: dispatchers and supervisors only"),
        (status = 404, body = crate::error::ErrorBody, description = "disaster_not_found"),
    ))]
pub async fn triage_queue(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<TriageDto>, ApiError> {
    staff.require(Permission::RevealPersonalData)?;
    let disaster = state.store.get_disaster(id).await?;
    let people = persons(
        &state,
        &staff,
        &disaster,
        "disaster.triage_read",
        "triage queue",
    )
    .await?;
    let admin = state.admin_areas.as_deref();
    let now = state.now();
    let queue = triage(&people, now, STALE_AFTER_MS)
        .into_iter()
        .map(|e| TriageEntryDto {
            rank: e.rank,
            subscriber_id: e.person.subscriber_id.0,
            status: e.person.status.as_str().into(),
            last_contact: e.person.last_contact.map(rfc3339),
            silent_s: e.silent_ms.map(|ms| ms / 1000),
            area: e.person.position.map(|p| areas::area_key(admin, p.coords)),
            position: e.person.position,
            stale_position: e.stale_position,
            battery_pct: e.person.battery_pct,
            people: e.person.people,
            vulnerability: e.person.vulnerability,
            need: jikimi_respond::rescue::need_for_welfare(e.person.status, disaster.kind).map(
                |n| {
                    crate::rescue::NeedDto::new(
                        &n,
                        jikimi_respond::rescue::NeedSource::Welfare(e.person.status),
                    )
                },
            ),
        })
        .collect();
    Ok(Json(TriageDto {
        disaster_id: id,
        queue,
    }))
}
