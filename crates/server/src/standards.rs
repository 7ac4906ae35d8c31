//! CAP 1.2 and NENA EIDO at the API: an incident exported as a CAP alert (`GET /api/incidents/{id}/cap`) or an
//! EIDO (`GET /api/incidents/{id}/eido`) for partner agencies, and a CAP alert parsed for its areas
//! (`POST /api/cap/import`, stores nothing). The documents are built by `jikimi_standards` (pure); this module
//! chooses the view, fills the export context from the configuration, and maps the crate's errors.
//!
//! What a document says follows the role's view ([`View::of`]): dispatchers, supervisors and admins get the full
//! location; analysts get it generalised to its H3 resolution-9 cell, as on every other endpoint, and the civic
//! address cut to city and country. No export carries personal data (subscriber or device ids, notes) whatever the
//! role: there is no agreement type yet that would allow it.
//!
//! The civic address: when address data is loaded (`--addresses-pbf`), [`civic_address`] reverse-geocodes the
//! incident's full location (before the analyst generalisation; the mapping itself cuts it to city and country for
//! analysts) and both documents carry it (CAP `<areaDesc>`, EIDO civic location).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use jikimi_respond::{Incident, IncidentId};
use jikimi_standards::cap;
use jikimi_standards::mapping::{self, CivicAddress, Detail, ExportContext};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::roles::Permission;
use crate::state::AppState;
use crate::views::{self, View};

/// The media type of CAP documents.
pub const CAP_MEDIA_TYPE: &str = "application/cap+xml";
/// The media type of EIDO documents.
pub const EIDO_MEDIA_TYPE: &str = "application/json";

/// The crate's refusals as API errors: too large is 413, not XML or not JSON is 400, a document that breaks the
/// standard's rules (missing, unexpected, misplaced or invalid element) is 422 naming the element.
impl From<jikimi_standards::Error> for ApiError {
    fn from(err: jikimi_standards::Error) -> ApiError {
        use jikimi_standards::Error as E;
        match err {
            E::TooLarge { .. } => ApiError::new(ErrorCode::PayloadTooLarge, err.to_string()),
            E::Xml { .. } | E::Json(_) => ApiError::new(ErrorCode::InvalidPayload, err.to_string()),
            _ => ApiError::new(ErrorCode::InvalidField, err.to_string()),
        }
    }
}

/// The incident's street address from the loaded address data (`crate::geocode`), when there is one near.
fn civic_address(state: &AppState, incident: &Incident) -> Option<CivicAddress> {
    let index = state.addresses.as_deref()?;
    let fix = incident.location.as_ref()?;
    let a = crate::geocode::address_at(index, fix.coords.lat(), fix.coords.lon())?;
    Some(CivicAddress {
        street: a.street,
        house_number: a.house_number,
        postcode: a.postcode,
        city: a.city,
        country: a.country,
    })
}

fn export_context(state: &AppState, view: View) -> ExportContext {
    let agency = state.config.agency.clone();
    ExportContext {
        sender: format!("jikimi@{agency}"),
        element: format!("jikimi.{agency}"),
        agency,
        now: (state.clock)(),
        detail: match view {
            View::Full => Detail::Full,
            View::Analyst => Detail::Coarse,
        },
    }
}

/// The incident as `view` may see it: for analysts, the location generalised to its resolution-9 cell.
fn in_view(mut incident: Incident, view: View) -> Incident {
    if view == View::Analyst {
        incident.location = incident.location.and_then(|fix| {
            let (lat, lon, radius) = views::generalise_point(fix.coords.lat(), fix.coords.lon())?;
            let coords = jikimi_respond::Coordinates::new(lat, lon).ok()?;
            jikimi_respond::LocationFix::new(
                coords,
                fix.accuracy_m.max(radius).ceil(),
                fix.method,
                fix.at,
            )
            .ok()
        });
    }
    incident
}

async fn load(
    state: &AppState,
    staff: &Staff,
    id: Uuid,
) -> Result<(Incident, Option<CivicAddress>, ExportContext), ApiError> {
    staff.require(Permission::ReadOperations)?;
    let view = View::of(staff.role);
    let incident = state.store.get_incident(IncidentId(id)).await?;
    let civic = civic_address(state, &incident);
    Ok((in_view(incident, view), civic, export_context(state, view)))
}

/// The incident as an OASIS CAP 1.2 alert for partner agencies (scope Restricted), valid against the OASIS schema.
/// Analysts get the analyst view (location generalised to an H3 resolution-9 cell). No personal data.
#[utoipa::path(get, path = "/api/incidents/{id}/cap", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")),
    responses(
        (status = 200, content_type = "application/cap+xml", body = String, description = "CAP 1.2 alert"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: the role may not read incidents"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found"),
    ))]
pub async fn incident_cap(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let (incident, civic, ctx) = load(&state, &staff, id).await?;
    let alert =
        mapping::incident_to_cap(&incident, civic.as_ref(), &ctx).map_err(ApiError::internal)?;
    let xml = cap::write(&alert).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, CAP_MEDIA_TYPE)], xml).into_response())
}

/// The incident as a NENA EIDO (NENA-STA-021 JSON) for another CAD. Analysts get the analyst view. No personal
/// data: no person, call, callback or notes components.
#[utoipa::path(get, path = "/api/incidents/{id}/eido", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")),
    responses(
        (status = 200, content_type = "application/json", body = Object, description = "EIDO (NENA-STA-021)"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: the role may not read incidents"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found"),
    ))]
pub async fn incident_eido(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let (incident, civic, ctx) = load(&state, &staff, id).await?;
    let eido = mapping::incident_to_eido(&incident, civic.as_ref(), &ctx);
    Ok(([(header::CONTENT_TYPE, EIDO_MEDIA_TYPE)], eido.to_json()).into_response())
}

/// A point as `[lat, lon]`.
pub type LatLonDto = [f64; 2];

/// A circle: centre and radius in kilometres.
#[derive(Debug, Serialize, ToSchema)]
pub struct CircleDto {
    /// `[lat, lon]`.
    #[schema(value_type = Vec<f64>)]
    pub centre: LatLonDto,
    /// Radius in km.
    pub radius_km: f64,
}

/// One CAP `<area>`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapAreaDto {
    /// `<areaDesc>`.
    pub area_desc: String,
    /// Closed rings of `[lat, lon]`, first point repeated last.
    #[schema(value_type = Vec<Vec<Vec<f64>>>)]
    pub polygons: Vec<Vec<LatLonDto>>,
    /// Circles.
    pub circles: Vec<CircleDto>,
    /// `<geocode>` pairs as `[valueName, value]`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub geocodes: Vec<[String; 2]>,
}

/// A parsed CAP alert: its identity and its areas.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapImportDto {
    /// `<identifier>`.
    pub identifier: String,
    /// `<sender>`.
    pub sender: String,
    /// `<sent>` as written.
    pub sent: String,
    /// `<status>`.
    pub status: String,
    /// `<msgType>`.
    pub msg_type: String,
    /// `<scope>`.
    pub scope: String,
    /// `<event>` of each `<info>`.
    pub events: Vec<String>,
    /// Every `<area>` of every `<info>`.
    pub areas: Vec<CapAreaDto>,
}

fn is_xml(headers: &HeaderMap) -> bool {
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

/// Parses a CAP 1.2 alert strictly (schema order and values, no DTD or entities) and returns its areas; nothing is
/// stored. Dispatchers and supervisors.
#[utoipa::path(post, path = "/api/cap/import", tag = "incidents", security(("bearer" = [])),
    request_body(content = String, content_type = "application/cap+xml", description = "a CAP 1.2 alert"),
    responses(
        (status = 200, body = CapImportDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: not XML, a DOCTYPE, or not application/cap+xml"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: dispatchers and supervisors only"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: the alert breaks CAP 1.2 (the message names the element)"),
    ))]
pub async fn import_cap(
    staff: Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CapImportDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    if !is_xml(&headers) {
        return Err(ApiError::new(
            ErrorCode::InvalidPayload,
            "send the alert as application/cap+xml",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(ErrorCode::InvalidPayload, "the alert is not UTF-8"))?;
    let alert = cap::parse(text)?;
    let point = |p: &cap::LatLon| [p.lat, p.lon];
    Ok(Json(CapImportDto {
        identifier: alert.identifier.clone(),
        sender: alert.sender.clone(),
        sent: alert.sent.as_str().to_string(),
        status: alert.status.as_str().into(),
        msg_type: alert.msg_type.as_str().into(),
        scope: alert.scope.as_str().into(),
        events: alert.infos.iter().map(|i| i.event.clone()).collect(),
        areas: alert
            .areas()
            .map(|a| CapAreaDto {
                area_desc: a.area_desc.clone(),
                polygons: a
                    .polygons
                    .iter()
                    .map(|p| p.ring().iter().map(point).collect())
                    .collect(),
                circles: a
                    .circles
                    .iter()
                    .map(|c| CircleDto {
                        centre: point(&c.centre()),
                        radius_km: c.radius_km(),
                    })
                    .collect(),
                geocodes: a
                    .geocodes
                    .iter()
                    .map(|g| [g.name.clone(), g.value.clone()])
                    .collect(),
            })
            .collect(),
    }))
}
