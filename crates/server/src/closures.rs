//! Road closures (issue 20): dispatchers and supervisors close road segments or whole areas
//! (`POST /api/closures`), list them (`GET /api/closures`) and reopen them (`POST /api/closures/{id}/reopen`).
//!
//! - A closure is stored with its GeoJSON geometry, not with segment ids: a `Point` or `MultiPoint` closes the road
//!   segment nearest each point (within [`POINT_LIMIT_M`]), a `Polygon` or `MultiPolygon` every segment running
//!   through it. Each node resolves the closures in force against the network it loaded, so a re-imported network
//!   keeps them.
//! - The store reports every close and reopen to commit observers ([`jikimi_store::Committed::RoadClosure`]); the
//!   [`ClosureApplier`] follows them and hands the union of the closures in force to
//!   [`jikimi_roads::RoadNetwork::set_closed_segments`], which re-customises the hierarchy (well under a second;
//!   `jikimi bench roads`). The handler also applies before it answers, so ETAs and recommendations on this node
//!   honour the change once the response is out; other nodes follow their commit feed.
//! - Roads are public: nothing here is sealed; who closed and reopened a road is in the audit log.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jikimi_roads::{Area, LatLon, Polygon, RoadNetwork};
use jikimi_store::{ChangeSet, CommitObserver, Committed, RoadClosureRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// A point closes the nearest road segment only if it is at most this far from it.
pub const POINT_LIMIT_M: f64 = 50.0;
/// Most points, polygons, and points per ring in one closure.
pub const MAX_PARTS: usize = 64;
/// See [`MAX_PARTS`].
pub const MAX_RING: usize = 1_000;
/// Longest reason, in characters.
pub const MAX_REASON: usize = 500;

/// Body of `POST /api/closures`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// GeoJSON geometry, coordinates `[lon, lat]`: `Point`/`MultiPoint` close the nearest road segment to each
    /// point (within 50 m), `Polygon`/`MultiPolygon` every segment running through the area (holes excepted).
    #[schema(value_type = Object)]
    pub geometry: Value,
    /// Why: "bridge collapsed", "underpass flooded" (1 to 500 characters; it goes to the audit log).
    pub reason: String,
}

/// A road closure.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClosureDto {
    /// Its id.
    pub id: Uuid,
    /// Why.
    pub reason: String,
    /// The GeoJSON geometry as given.
    #[schema(value_type = Object)]
    pub geometry: Value,
    /// When it was closed (RFC 3339).
    pub closed_at: String,
    /// Who closed it.
    pub closed_by: String,
    /// When it was reopened; absent while in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reopened_at: Option<String>,
    /// Who reopened it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reopened_by: Option<String>,
    /// Road segments it closes on this node's network (none when no network is loaded).
    pub segments: Option<usize>,
}

/// The answer to a new closure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedDto {
    /// Its id.
    pub id: Uuid,
    /// Road segments it closes on this node's network (none when no network is loaded).
    pub segments: Option<usize>,
    /// Road segments closed by all closures in force on this node, after this one.
    pub closed_total: Option<usize>,
}

/// `GET /api/closures` filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Include reopened closures (default: only those in force).
    #[serde(default)]
    pub all: bool,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, message)
}

/// What a geometry closes, before it meets a network.
#[derive(Debug, Clone)]
enum Target {
    Points(Vec<LatLon>),
    Area(Area),
}

fn position(v: &Value) -> Result<LatLon, ApiError> {
    let pair = v
        .as_array()
        .filter(|a| a.len() == 2 || a.len() == 3)
        .ok_or_else(|| invalid("a position is [lon, lat]"))?;
    let (lon, lat) = (pair[0].as_f64(), pair[1].as_f64());
    match (lat, lon) {
        (Some(lat), Some(lon)) => LatLon::new(lat, lon).map_err(|e| invalid(e.to_string())),
        _ => Err(invalid("a position is [lon, lat] in numbers")),
    }
}

fn list<'a>(v: &'a Value, what: &str, max: usize) -> Result<&'a Vec<Value>, ApiError> {
    let items = v
        .as_array()
        .ok_or_else(|| invalid(format!("{what} must be an array")))?;
    if items.is_empty() || items.len() > max {
        return Err(invalid(format!("{what} needs 1 to {max} items")));
    }
    Ok(items)
}

fn polygon(v: &Value) -> Result<Polygon, ApiError> {
    let rings = list(v, "a polygon's rings", MAX_PARTS)?
        .iter()
        .map(|r| {
            list(r, "a ring", MAX_RING)?
                .iter()
                .map(position)
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut rings = rings.into_iter();
    Ok(Polygon {
        exterior: rings.next().unwrap_or_default(),
        holes: rings.collect(),
    })
}

/// Parses and checks a GeoJSON geometry.
fn parse_geometry(g: &Value) -> Result<Target, ApiError> {
    let kind = g
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("geometry needs a type"))?;
    let coords = g
        .get("coordinates")
        .ok_or_else(|| invalid("geometry needs coordinates"))?;
    match kind {
        "Point" => Ok(Target::Points(vec![position(coords)?])),
        "MultiPoint" => Ok(Target::Points(
            list(coords, "points", MAX_PARTS)?
                .iter()
                .map(position)
                .collect::<Result<_, _>>()?,
        )),
        "Polygon" => Ok(Target::Area(
            Area::new(vec![polygon(coords)?]).map_err(|e| invalid(e.to_string()))?,
        )),
        "MultiPolygon" => Ok(Target::Area(
            Area::new(
                list(coords, "polygons", MAX_PARTS)?
                    .iter()
                    .map(polygon)
                    .collect::<Result<_, _>>()?,
            )
            .map_err(|e| invalid(e.to_string()))?,
        )),
        other => Err(invalid(format!(
            "geometry type {other} cannot close roads; use Point, MultiPoint, Polygon or MultiPolygon"
        ))),
    }
}

/// The segments a target closes on `net`; a point farther than [`POINT_LIMIT_M`] from any road is refused.
fn resolve(net: &RoadNetwork, target: &Target) -> Result<Vec<u32>, ApiError> {
    let mut out = match target {
        Target::Area(area) => net.segments_in_area(area),
        Target::Points(points) => points
            .iter()
            .map(|&p| match net.nearest_segment(p) {
                Ok(s) if s.distance_m <= POINT_LIMIT_M => Ok(s.segment),
                Ok(s) => Err(invalid(format!(
                    "no road within {POINT_LIMIT_M} m of a point (nearest {:.0} m)",
                    s.distance_m
                ))),
                Err(e) => Err(invalid(e.to_string())),
            })
            .collect::<Result<_, _>>()?,
    };
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Applies the closures in force to a network, one update at a time: the store is read under the lock, so the
/// last update applied is always from the latest read.
#[derive(Clone, Default)]
pub struct ClosureApplier {
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for ClosureApplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClosureApplier")
    }
}

impl ClosureApplier {
    /// Reads the closures in force and closes exactly their segments on `net`; returns how many segments are
    /// closed. A stored geometry this node cannot resolve (a point off its network) closes nothing here and is
    /// logged by id.
    pub async fn apply(
        &self,
        store: &dyn Store,
        net: &Arc<RoadNetwork>,
    ) -> Result<usize, ApiError> {
        let _one = self.lock.lock().await;
        let closures = store.list_road_closures(false).await?;
        let net = net.clone();
        tokio::task::spawn_blocking(move || {
            let mut segments = Vec::new();
            for c in &closures {
                let resolved = serde_json::from_str::<Value>(&c.geometry)
                    .map_err(|e| invalid(e.to_string()))
                    .and_then(|g| parse_geometry(&g))
                    .and_then(|t| resolve(&net, &t));
                match resolved {
                    Ok(s) => segments.extend(s),
                    Err(e) => {
                        tracing::warn!(closure = %c.id, error = %e, "road closure closes nothing on this network")
                    }
                }
            }
            segments.sort_unstable();
            segments.dedup();
            net.set_closed_segments(&segments)
                .map_err(ApiError::internal)
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// Follows the store's commits and re-applies the closures whenever they change (closes and reopens on any node
/// sharing the store, or on the cluster bus feeding it). Applies once at start. Needs a Tokio runtime; without
/// one (a synchronous test) it does nothing.
pub fn follow(store: &Arc<dyn Store>, net: Arc<RoadNetwork>, applier: ClosureApplier) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    store.observe_commits(Arc::new(Follower { tx: tx.clone() }));
    let _ = tx.send(());
    // Weakly: the store holds the follower's sender, so a strong reference here would keep both alive forever.
    let weak = Arc::downgrade(store);
    runtime.spawn(async move {
        while rx.recv().await.is_some() {
            // Coalesce what piled up while the last apply ran.
            while rx.try_recv().is_ok() {}
            let Some(store) = weak.upgrade() else { break };
            if let Err(e) = applier.apply(&*store, &net).await {
                tracing::warn!(error = %e, "cannot apply road closures");
            }
        }
    });
}

struct Follower {
    tx: mpsc::UnboundedSender<()>,
}

impl CommitObserver for Follower {
    fn committed(&self, changes: &ChangeSet) {
        if changes
            .changes()
            .iter()
            .any(|c| matches!(c, Committed::RoadClosure(_)))
        {
            let _ = self.tx.send(());
        }
    }
}

fn dto(c: RoadClosureRecord, net: Option<&RoadNetwork>) -> ClosureDto {
    let geometry: Value = serde_json::from_str(&c.geometry).unwrap_or(Value::Null);
    let segments = net.and_then(|n| {
        parse_geometry(&geometry)
            .and_then(|t| resolve(n, &t))
            .ok()
            .map(|s| s.len())
    });
    ClosureDto {
        id: c.id,
        reason: c.reason,
        geometry,
        closed_at: crate::dto::rfc3339(c.closed_at),
        closed_by: c.closed_by,
        reopened_at: c.reopened_at.map(crate::dto::rfc3339),
        reopened_by: c.reopened_by,
        segments,
    }
}

/// Close roads: the nearest segment to each point, or every segment through an area. Dispatchers and
/// supervisors; audited (`road.closed`). ETAs and recommendations on this node honour it when the answer is sent.
#[utoipa::path(post, path = "/api/closures", tag = "units", security(("bearer" = [])),
    request_body = CloseRequest,
    responses(
        (status = 201, body = ClosedDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: not JSON of this shape"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: dispatchers and supervisors only"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: a geometry that closes no road, a point off the network, an empty reason"),
    ))]
pub async fn close(
    State(state): State<AppState>,
    staff: Staff,
    Json(request): Json<CloseRequest>,
) -> Result<Response, ApiError> {
    staff.require(Permission::CloseRoads)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(invalid(format!(
            "reason must be 1 to {MAX_REASON} characters"
        )));
    }
    let target = parse_geometry(&request.geometry)?;
    let segments = match &state.roads {
        Some(net) => {
            let s = resolve(net, &target)?;
            if s.is_empty() {
                return Err(invalid("no road runs through this area"));
            }
            Some(s.len())
        }
        None => None,
    };
    let now = state.now();
    let id = Uuid::now_v7();
    let record = RoadClosureRecord {
        id,
        closed_at: now,
        closed_by: staff.username.clone(),
        reason: reason.to_owned(),
        geometry: request.geometry.to_string(),
        reopened_at: None,
        reopened_by: None,
    };
    let change = staff.change(&state, reason);
    state.store.close_road(&record, &change).await?;
    let closed_total = match &state.roads {
        Some(net) => Some(state.closures.apply(&*state.store, net).await?),
        None => None,
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(ClosedDto {
            id,
            segments,
            closed_total,
        }),
    )
        .into_response())
}

/// Road closures in force (or all with `all=true`), by closing time, with the segments each closes here.
#[utoipa::path(get, path = "/api/closures", tag = "units", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = Vec<ClosureDto>),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: a bad query"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden"),
    ))]
pub async fn list_closures(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Vec<ClosureDto>>, ApiError> {
    staff.require(Permission::ReadOperations)?;
    let closures = state.store.list_road_closures(query.all).await?;
    let net = state.roads.clone();
    let out = tokio::task::spawn_blocking(move || {
        closures
            .into_iter()
            .map(|c| dto(c, net.as_deref()))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(axum::Json(out))
}

/// Body of `POST /api/closures/{id}/reopen`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// Why (1 to 500 characters; it goes to the audit log).
    pub reason: String,
}

/// Reopen a closure in force. Dispatchers and supervisors; audited (`road.reopened`). A closure reopens once.
#[utoipa::path(post, path = "/api/closures/{id}/reopen", tag = "units", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "closure id")), request_body = ReopenRequest,
    responses(
        (status = 200, body = ClosureDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: a malformed id or body"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: dispatchers and supervisors only"),
        (status = 404, body = crate::error::ErrorBody, description = "closure_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "conflict: reopened already"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: an empty reason"),
    ))]
pub async fn reopen(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(request): Json<ReopenRequest>,
) -> Result<axum::Json<ClosureDto>, ApiError> {
    staff.require(Permission::CloseRoads)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(invalid(format!(
            "reason must be 1 to {MAX_REASON} characters"
        )));
    }
    let change = staff.change(&state, reason);
    let record = state
        .store
        .reopen_road(id, &staff.username, &change)
        .await?;
    if let Some(net) = &state.roads {
        state.closures.apply(&*state.store, net).await?;
    }
    let net = state.roads.clone();
    let out = tokio::task::spawn_blocking(move || dto(record, net.as_deref()))
        .await
        .map_err(ApiError::internal)?;
    Ok(axum::Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn geometries_are_checked() {
        assert!(matches!(
            parse_geometry(&json!({"type": "Point", "coordinates": [24.9, 60.1]})),
            Ok(Target::Points(p)) if p.len() == 1
        ));
        let ring = json!([[24.9, 60.1], [24.95, 60.1], [24.95, 60.15], [24.9, 60.1]]);
        assert!(matches!(
            parse_geometry(&json!({"type": "MultiPolygon", "coordinates": [[ring]]})),
            Ok(Target::Area(_))
        ));
        for bad in [
            json!({"type": "Point", "coordinates": [24.9, 95.0]}),
            json!({"type": "Point", "coordinates": "x"}),
            json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}),
            json!({"type": "MultiPoint", "coordinates": []}),
            json!({"coordinates": [0, 0]}),
            json!(null),
        ] {
            assert!(parse_geometry(&bad).is_err(), "{bad}");
        }
    }
}
