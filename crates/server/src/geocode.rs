//! Civic addresses: the loaded [`AddressIndex`], the `address` of every incident, and the dispatchers' look-ups
//! `GET /api/geocode` (what they type, to addresses and points) and `GET /api/geocode/reverse` (a point to its
//! address).
//!
//! An incident's address is computed when its DTO is made (a reverse query takes microseconds, see
//! `jikimi bench geocode`), not stored: it follows the latest fix, and a better address file at the next start
//! improves every incident, old ones too. Analysts see no address at all: a house number with a time says who
//! called, and even a street alone is finer than the H3 cell their view is limited to (see [`crate::views`]).
//!
//! Map data © OpenStreetMap contributors (ODbL 1.0).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use jikimi_geocode::index::ReverseOptions;
use jikimi_geocode::{AddressIndex, CivicAddress, LatLon, Method, Reverse, format};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Staff;
use crate::config::Config;
use crate::dto::{EventDto, IncidentDto};
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// Longest search text accepted (an address is far shorter; longer is a mistake or an attack).
pub const MAX_QUERY_CHARS: usize = 200;

/// A civic address as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AddressDto {
    /// One line in the country's order ("Mannerheimintie 5, 00100 Helsinki"; "서울특별시 중구 세종대로 110").
    pub label: String,
    /// Street (Korean: 도로명).
    pub street: Option<String>,
    /// House number (Korean: 건물번호).
    pub house_number: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// City.
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2 country code, when the data says.
    pub country: Option<String>,
    /// Province or state (Korean: 시/도).
    pub state: Option<String>,
    /// District (Korean: 시군구).
    pub district: Option<String>,
    /// `address`: the nearest feature with an OpenStreetMap address; `street`: no address near, the nearest named
    /// street (no house number).
    #[schema(example = "address")]
    pub method: String,
    /// Metres from the point to the addressed feature (0 inside a building) or to the street.
    pub distance_m: f64,
    /// The street crossing this one nearest the point (`street` method only).
    pub cross_street: Option<String>,
    /// The OpenStreetMap element (`way/123`), `address` method only.
    pub osm: Option<String>,
}

impl AddressDto {
    /// The wire form of a reverse answer.
    pub fn from_reverse(r: &Reverse) -> Self {
        let mut dto = Self::from_address(&r.address);
        dto.method = match r.method {
            Method::Address => "address",
            Method::Street => "street",
        }
        .into();
        dto.distance_m = (r.distance_m * 10.0).round() / 10.0;
        dto.cross_street = r.cross_street.clone();
        dto.osm = r.osm.map(|o| o.to_string());
        dto
    }

    fn from_address(a: &CivicAddress) -> Self {
        Self {
            label: format(a),
            street: a.street.clone(),
            house_number: a.house_number.clone(),
            postcode: a.postcode.clone(),
            city: a.city.clone(),
            country: a.country.clone(),
            state: a.state.clone(),
            district: a.district.clone(),
            method: "address".into(),
            distance_m: 0.0,
            cross_street: None,
            osm: None,
        }
    }
}

/// The address of a point, if the index has one near.
pub fn address_at(index: &AddressIndex, lat: f64, lon: f64) -> Option<AddressDto> {
    let point = LatLon::new(lat, lon).ok()?;
    index
        .reverse(point, ReverseOptions::default())
        .map(|r| AddressDto::from_reverse(&r))
}

/// Fills the incident's `address` from its latest location (full view; [`crate::views`] removes it for analysts).
pub fn annotate(dto: &mut IncidentDto, index: Option<&AddressIndex>) {
    dto.address = match (index, &dto.location) {
        (Some(index), Some(fix)) => address_at(index, fix.lat, fix.lon),
        _ => None,
    };
}

/// Adds `address` to the fix of an event that carries one (`event.fix.coords`), in place.
pub fn annotate_event(dto: &mut EventDto, index: Option<&AddressIndex>) {
    let Some(index) = index else {
        return;
    };
    let Some(fix) = dto.event.get_mut("fix").and_then(|f| f.as_object_mut()) else {
        return;
    };
    let coords = fix.get("coords");
    let lat = coords
        .and_then(|c| c.get("lat"))
        .and_then(serde_json::Value::as_f64);
    let lon = coords
        .and_then(|c| c.get("lon"))
        .and_then(serde_json::Value::as_f64);
    if let (Some(lat), Some(lon)) = (lat, lon)
        && let Some(address) = address_at(index, lat, lon)
        && let Ok(value) = serde_json::to_value(address)
    {
        fix.insert("address".into(), value);
    }
}

/// Loads the address index named by the configuration (`addresses_pbf`); `None` when none is configured.
pub fn load_configured(
    config: &Config,
) -> Result<Option<Arc<AddressIndex>>, jikimi_geocode::GeocodeError> {
    let Some(path) = &config.addresses_pbf else {
        return Ok(None);
    };
    let started = Instant::now();
    let index = AddressIndex::new(jikimi_geocode::import::import_path(path)?);
    tracing::info!(
        features = index.n_features(),
        streets = index.n_streets(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "address index loaded; incidents show civic addresses"
    );
    Ok(Some(Arc::new(index)))
}

impl AppState {
    /// Incidents carry civic addresses from `index`, and the geocoding endpoints answer from it.
    pub fn with_addresses(mut self, index: Arc<AddressIndex>) -> Self {
        self.live.set_addresses(index.clone());
        self.addresses = Some(index);
        self
    }

    /// The full-view DTO of an incident, with its address.
    pub fn incident_dto(&self, incident: &jikimi_respond::Incident) -> IncidentDto {
        let mut dto = IncidentDto::from(incident);
        annotate(&mut dto, self.addresses.as_deref());
        dto
    }
}

/// Query of `GET /api/geocode`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// What the dispatcher typed: a street (or its first letters) and a house number ("mannerh 5",
    /// "세종대로 110"); case and Latin diacritics do not matter; text after a comma is ignored. 1 to 200 characters.
    pub q: Option<String>,
    /// At most this many results (1..=50, default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

/// One search result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GeocodeHitDto {
    /// The address (`method` is `address`, `distance_m` 0).
    pub address: AddressDto,
    /// Where to move the map: the building's centroid or the address node; a point on the street for a street.
    pub lat: f64,
    /// Longitude of that point.
    pub lon: f64,
}

/// The answer of `GET /api/geocode`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GeocodeResultsDto {
    /// False when the server has no address data (`--addresses-pbf`): then `results` is always empty.
    pub loaded: bool,
    /// Best first: exact matches, then by street and house number.
    pub results: Vec<GeocodeHitDto>,
    /// The data's licence attribution.
    pub attribution: String,
}

/// Query of `GET /api/geocode/reverse`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ReverseQuery {
    /// Latitude in degrees, -90..=90.
    pub lat: Option<String>,
    /// Longitude in degrees, -180..=180.
    pub lon: Option<String>,
}

/// The answer of `GET /api/geocode/reverse`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReverseResultDto {
    /// False when the server has no address data.
    pub loaded: bool,
    /// The point's address; null when nothing is near (no address within 50 m, no street within 300 m).
    pub address: Option<AddressDto>,
    /// The data's licence attribution.
    pub attribution: String,
}

fn coordinate(value: Option<&str>, name: &str) -> Result<f64, ApiError> {
    value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidField,
                format!("{name}: a number is required"),
            )
        })
}

/// Addresses matching what a dispatcher typed, best first, for the console's address search (dispatchers and
/// supervisors: it is a dispatching tool).
#[utoipa::path(get, path = "/api/geocode", tag = "incidents", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, body = GeocodeResultsDto),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: q missing, empty or too long; limit")))]
pub async fn search(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<SearchQuery>,
) -> Result<Json<GeocodeResultsDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let limit = crate::extract::limit(query.limit, 10, 50)?;
    let q = query.q.as_deref().map(str::trim).unwrap_or("");
    if q.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("q: 1 to {MAX_QUERY_CHARS} characters"),
        ));
    }
    let results = state
        .addresses
        .as_deref()
        .map(|index| {
            index
                .search(q, limit as usize)
                .into_iter()
                .map(|hit| GeocodeHitDto {
                    address: AddressDto::from_address(&hit.address),
                    lat: hit.point.lat,
                    lon: hit.point.lon,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(GeocodeResultsDto {
        loaded: state.addresses.is_some(),
        results,
        attribution: crate::map_roads::ATTRIBUTION.into(),
    }))
}

/// The civic address of a point (dispatchers and supervisors).
#[utoipa::path(get, path = "/api/geocode/reverse", tag = "incidents", security(("bearer" = [])), params(ReverseQuery),
    responses((status = 200, body = ReverseResultDto),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: lat or lon missing or out of range")))]
pub async fn reverse(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<ReverseQuery>,
) -> Result<Json<ReverseResultDto>, ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let lat = coordinate(query.lat.as_deref(), "lat")?;
    let lon = coordinate(query.lon.as_deref(), "lon")?;
    if LatLon::new(lat, lon).is_err() {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "lat -90..=90 and lon -180..=180 are required",
        ));
    }
    Ok(Json(ReverseResultDto {
        loaded: state.addresses.is_some(),
        address: state
            .addresses
            .as_deref()
            .and_then(|index| address_at(index, lat, lon)),
        attribution: crate::map_roads::ATTRIBUTION.into(),
    }))
}
