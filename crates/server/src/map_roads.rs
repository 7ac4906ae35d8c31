//! `GET /api/map/roads`: the loaded road network as GeoJSON, for the console's base map.
//!
//! One GeoJSON Feature whose geometry is a MultiLineString of every drivable segment (`[lon, lat]` pairs, 6 decimals,
//! about 0.1 m), so the console draws the streets the road ETAs were computed on. Without a loaded network the
//! MultiLineString is empty and `properties.loaded` is false: the console just shows no road layer.

use axum::extract::State;
use serde_json::{Value, json};

use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// Map data attribution required by the ODbL for OpenStreetMap-derived networks.
pub const ATTRIBUTION: &str = "© OpenStreetMap contributors (ODbL 1.0)";

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The GeoJSON Feature for a network (or an empty one).
pub fn roads_geojson(network: Option<&jikimi_roads::RoadNetwork>) -> Value {
    let Some(network) = network else {
        return json!({
            "type": "Feature",
            "geometry": {"type": "MultiLineString", "coordinates": []},
            "properties": {"loaded": false, "segments": 0},
        });
    };
    let lines = network.road_lines();
    let coordinates: Vec<[[f64; 2]; 2]> = lines
        .iter()
        .map(|l| {
            [
                [round6(l.from.lon), round6(l.from.lat)],
                [round6(l.to.lon), round6(l.to.lat)],
            ]
        })
        .collect();
    let bbox = network
        .bounds()
        .map(|(sw, ne)| json!([sw.lon, sw.lat, ne.lon, ne.lat]));
    json!({
        "type": "Feature",
        "bbox": bbox,
        "geometry": {"type": "MultiLineString", "coordinates": coordinates},
        "properties": {
            "loaded": true,
            "segments": lines.len(),
            "oneway_segments": lines.iter().filter(|l| l.oneway).count(),
            "attribution": ATTRIBUTION,
        },
    })
}

/// The loaded road network as a GeoJSON Feature with a MultiLineString geometry (any staff role).
#[utoipa::path(get, path = "/api/map/roads", tag = "units", security(("bearer" = [])),
    responses((status = 200, description = "GeoJSON Feature, MultiLineString geometry ([lon, lat]), \
        properties.loaded false when no network is configured"),
        (status = 401, body = crate::error::ErrorBody)))]
pub async fn roads(State(state): State<AppState>, staff: Staff) -> Result<Json<Value>, ApiError> {
    staff.require(Permission::ReadOperations)?;
    Ok(Json(roads_geojson(state.roads.as_deref())))
}
