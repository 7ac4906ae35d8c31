//! Public warnings (issue 21): a supervisor issues one (`POST /api/warnings`), and anyone reads the Atom feed of the
//! latest ones (`GET /api/warnings.atom`), each entry carrying the warning as a public CAP 1.2 alert valid against
//! the OASIS schema (built by `jikimi_standards::atom`).
//!
//! The warning is checked by building its CAP alert before it is stored, so the feed never holds one that does not
//! write. The store keeps this module's JSON of it ([`WarningRequest`]) and the `warning.issued` audit entry names
//! the supervisor; the feed names no one.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jikimi_respond::{Actor, Timestamp};
use jikimi_standards::atom::{Feed, PublicWarning, atom_feed, warning_to_cap};
use jikimi_standards::cap;
use jikimi_store::{Change, WarningRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::standards::LatLonDto;
use crate::state::AppState;

/// Entries in the feed.
pub const FEED_ENTRIES: u32 = 50;
/// Longest headline, description or instruction, in characters.
pub const MAX_TEXT: usize = 2_000;
/// Most polygons plus circles in a warning's area, and points per polygon.
pub const MAX_SHAPES: usize = 16;
/// See [`MAX_SHAPES`].
pub const MAX_RING: usize = 500;

/// Where a warning applies.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningAreaDto {
    /// Plain words: "Yeouido, Seoul".
    pub area_desc: String,
    /// Closed rings of `[lat, lon]` (first point repeated last, at least 4 points).
    #[serde(default)]
    #[schema(value_type = Vec<Vec<Vec<f64>>>)]
    pub polygons: Vec<Vec<LatLonDto>>,
    /// Circles: centre `[lat, lon]` and radius in km.
    #[serde(default)]
    pub circles: Vec<CircleInDto>,
}

/// A circle in a request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CircleInDto {
    /// `[lat, lon]`.
    #[schema(value_type = Vec<f64>)]
    pub centre: LatLonDto,
    /// Radius in km.
    pub radius_km: f64,
}

/// Body of `POST /api/warnings`; CAP's values for category, urgency, severity and certainty (e.g. `Met`,
/// `Immediate`, `Severe`, `Observed`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningRequest {
    /// One line.
    pub headline: String,
    /// What is happening.
    pub description: String,
    /// What to do.
    #[serde(default)]
    pub instruction: Option<String>,
    /// CAP category: Geo, Met, Safety, Security, Rescue, Fire, Health, Env, Transport, Infra, CBRNE, Other.
    pub category: String,
    /// CAP urgency: Immediate, Expected, Future, Past, Unknown.
    pub urgency: String,
    /// CAP severity: Extreme, Severe, Moderate, Minor, Unknown.
    pub severity: String,
    /// CAP certainty: Observed, Likely, Possible, Unlikely, Unknown.
    pub certainty: String,
    /// Where.
    pub area: WarningAreaDto,
    /// Seconds from issue until it expires (1 to 30 days); none: no expiry.
    #[serde(default)]
    pub expires_in_s: Option<i64>,
    /// Language of the text (`ko` by default).
    #[serde(default)]
    pub language: Option<String>,
}

/// The answer to an issued warning.
#[derive(Debug, Serialize, ToSchema)]
pub struct WarningIssuedDto {
    /// Its id.
    pub id: Uuid,
    /// Its CAP identifier.
    pub cap_identifier: String,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, message)
}

fn point(p: LatLonDto) -> Result<cap::LatLon, ApiError> {
    cap::LatLon::new(p[0], p[1]).map_err(ApiError::from)
}

/// The request as a warning issued at `at` with `id`; every field checked.
fn to_warning(r: &WarningRequest, id: Uuid, at: Timestamp) -> Result<PublicWarning, ApiError> {
    for (name, text) in [
        ("headline", &r.headline),
        ("description", &r.description),
        ("area_desc", &r.area.area_desc),
    ] {
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
            return Err(invalid(format!(
                "{name} must be 1 to {MAX_TEXT} characters"
            )));
        }
    }
    if r.instruction
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT)
    {
        return Err(invalid(format!(
            "instruction must be at most {MAX_TEXT} characters"
        )));
    }
    if r.area.polygons.len() + r.area.circles.len() > MAX_SHAPES
        || r.area.polygons.iter().any(|p| p.len() > MAX_RING)
    {
        return Err(invalid(format!(
            "at most {MAX_SHAPES} shapes of at most {MAX_RING} points"
        )));
    }
    let polygons = r
        .area
        .polygons
        .iter()
        .map(|ring| {
            cap::Polygon::new(ring.iter().map(|p| point(*p)).collect::<Result<_, _>>()?)
                .map_err(ApiError::from)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let circles = r
        .area
        .circles
        .iter()
        .map(|c| cap::Circle::new(point(c.centre)?, c.radius_km).map_err(ApiError::from))
        .collect::<Result<Vec<_>, _>>()?;
    let expires = match r.expires_in_s {
        None => None,
        Some(s) if (1..=30 * 86_400).contains(&s) => {
            Some(Timestamp::from_unix_ms(at.as_unix_ms() + s * 1000))
        }
        Some(_) => return Err(invalid("expires_in_s must be 1 to 2592000")),
    };
    let language = r.language.clone().unwrap_or_else(|| "ko".into());
    if language.is_empty()
        || language.len() > 35
        || !language
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(invalid(
            "language must be a language tag such as ko or en-US",
        ));
    }
    Ok(PublicWarning {
        id,
        issued_at: at,
        headline: r.headline.clone(),
        description: r.description.clone(),
        instruction: r.instruction.clone(),
        category: cap::Category::parse(&r.category)?,
        urgency: cap::Urgency::parse(&r.urgency)?,
        severity: cap::Severity::parse(&r.severity)?,
        certainty: cap::Certainty::parse(&r.certainty)?,
        area: cap::Area {
            area_desc: r.area.area_desc.clone(),
            polygons,
            circles,
            ..cap::Area::default()
        },
        expires,
        language,
    })
}

/// A supervisor issues a public warning; it is published at once in the Atom feed as a public CAP alert. Audited
/// (`warning.issued`).
#[utoipa::path(post, path = "/api/warnings", tag = "incidents", security(("bearer" = [])),
    request_body = WarningRequest,
    responses(
        (status = 201, body = WarningIssuedDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: not JSON of this shape"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: supervisors only"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: a value CAP does not allow (the message names it)"),
    ))]
pub async fn issue(
    State(state): State<AppState>,
    staff: Staff,
    Json(request): Json<WarningRequest>,
) -> Result<Response, ApiError> {
    staff.require(Permission::IssueWarnings)?;
    let now = (state.clock)();
    let id = Uuid::now_v7();
    let warning = to_warning(&request, id, now)?;
    let agency = &state.config.agency;
    let alert = warning_to_cap(&warning, agency, &format!("jikimi@{agency}"))?;
    let body = serde_json::to_string(&request).map_err(ApiError::internal)?;
    let change = Change::new(
        Actor::Staff(staff.username.clone()),
        now,
        "public warning issued",
    );
    state
        .store
        .issue_warning(
            &WarningRecord {
                id,
                issued_at: now,
                body,
            },
            &change,
        )
        .await?;
    state.warning_feed.clear().await;
    Ok((
        StatusCode::CREATED,
        axum::Json(WarningIssuedDto {
            id,
            cap_identifier: alert.identifier,
        }),
    )
        .into_response())
}

/// How long a rendered feed is served again before the store is read anew (state-clock milliseconds).
const FEED_TTL_MS: i64 = 2_000;

/// The public feed as last rendered, with when (state clock). The feed needs no credentials, so without this every
/// anonymous request would cost a store read; with it, a flood of feed requests costs one read per
/// [`FEED_TTL_MS`] (the lock is held while rendering, so concurrent misses wait for one read). Issuing a warning on
/// this node clears it; one issued through another node shows within the TTL.
#[derive(Clone, Default)]
pub struct FeedCache(Arc<tokio::sync::Mutex<Option<(i64, String)>>>);

impl FeedCache {
    async fn clear(&self) {
        *self.0.lock().await = None;
    }
}

/// The Atom feed of the latest 50 public warnings, newest first, each entry carrying its CAP 1.2 alert inline
/// (`application/cap+xml` content). Public: no credentials.
#[utoipa::path(get, path = "/api/warnings.atom", tag = "incidents",
    responses((status = 200, content_type = "application/atom+xml", body = String, description = "Atom feed")))]
pub async fn feed(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now_ms = state.now().as_unix_ms();
    let mut cached = state.warning_feed.0.lock().await;
    let xml = match cached.as_ref() {
        Some((at, xml)) if now_ms.saturating_sub(*at) < FEED_TTL_MS => xml.clone(),
        _ => {
            let xml = render_feed(&state).await?;
            *cached = Some((now_ms, xml.clone()));
            xml
        }
    };
    drop(cached);
    Ok(([(header::CONTENT_TYPE, "application/atom+xml")], xml).into_response())
}

/// Reads the latest warnings and renders the feed.
async fn render_feed(state: &AppState) -> Result<String, ApiError> {
    let records = state.store.list_warnings(FEED_ENTRIES).await?;
    let mut warnings = Vec::with_capacity(records.len());
    for record in records {
        let request: WarningRequest =
            serde_json::from_str(&record.body).map_err(ApiError::internal)?;
        warnings.push(
            to_warning(&request, record.id, record.issued_at)
                .map_err(|e| ApiError::internal(format!("{e:?}")))?,
        );
    }
    let agency = &state.config.agency;
    let feed = Feed {
        id: format!("tag:{agency},2026:warnings"),
        title: format!("Public warnings from {agency}"),
        self_url: "/api/warnings.atom".into(),
        author: agency.clone(),
    };
    let xml = atom_feed(
        &feed,
        &warnings,
        agency,
        &format!("jikimi@{agency}"),
        (state.clock)(),
    )
    .map_err(ApiError::internal)?;
    Ok(xml)
}
