//! Where a disaster's counts are broken down: administrative areas from a GeoJSON FeatureCollection (`--areas`, e.g.
//! Seoul's dongs), else H3 cells at resolution 7 (about 5 km²).
//!
//! Each feature's Polygon or MultiPolygon becomes a [`DisasterArea`] (the same point-in-area test as the welfare
//! check's). Geometries that are invalid by OGC rules (self-intersecting rings, as six of the Seoul outlines are)
//! are kept and tested as published: the test is a crossing-number test, which answers for any ring, and the
//! loader logs each such area by code so an operator can repair the file. A feature with no usable geometry is an
//! error naming it, never silently dropped.

use std::path::Path;
use std::sync::Arc;

use h3o::{LatLng, Resolution};
use jikimi_respond::Coordinates;
use jikimi_respond::disaster::DisasterArea;

/// Cells of this resolution stand in for areas when none are loaded.
pub const H3_RESOLUTION: Resolution = Resolution::Seven;

/// Why the areas file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AreasError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a GeoJSON FeatureCollection of polygons.
    #[error("{0}")]
    Invalid(String),
}

/// One administrative area.
#[derive(Debug, Clone)]
pub struct AdminArea {
    /// Its code (`code` property, else its position in the file).
    pub code: String,
    /// Its name (`emd`, `sigungu`, `name`, else the code).
    pub name: String,
    /// Its outline.
    pub shape: DisasterArea,
}

/// The loaded areas, searched in file order.
#[derive(Debug, Clone, Default)]
pub struct AdminAreas {
    areas: Vec<AdminArea>,
}

impl AdminAreas {
    /// Parses a GeoJSON FeatureCollection whose features are Polygons or MultiPolygons.
    pub fn from_geojson(text: &str) -> Result<AdminAreas, AreasError> {
        let doc: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| AreasError::Invalid(format!("not JSON: {e}")))?;
        let features = doc
            .get("features")
            .and_then(|f| f.as_array())
            .ok_or_else(|| AreasError::Invalid("not a GeoJSON FeatureCollection".into()))?;
        let mut areas = Vec::with_capacity(features.len());
        for (i, feature) in features.iter().enumerate() {
            let props = feature.get("properties");
            let prop = |k: &str| {
                props
                    .and_then(|p| p.get(k))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let code = prop("code").unwrap_or_else(|| i.to_string());
            let name = prop("emd")
                .or_else(|| prop("sigungu"))
                .or_else(|| prop("name"))
                .unwrap_or_else(|| code.clone());
            let geometry = feature.get("geometry").cloned().unwrap_or_default();
            let shape = geometry_area(&geometry)
                .map_err(|e| AreasError::Invalid(format!("feature {i} ({code}): {e}")))?;
            areas.push(AdminArea { code, name, shape });
        }
        Ok(AdminAreas { areas })
    }

    /// The first area containing the point.
    pub fn locate(&self, at: Coordinates) -> Option<&AdminArea> {
        self.areas.iter().find(|a| a.shape.contains(at))
    }

    /// How many areas.
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Whether none are loaded.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }
}

/// A GeoJSON geometry (Polygon or MultiPolygon) as an area.
pub fn geometry_area(geometry: &serde_json::Value) -> Result<DisasterArea, String> {
    let kind = geometry
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("geometry: no type")?;
    let coordinates = geometry
        .get("coordinates")
        .cloned()
        .ok_or("geometry: no coordinates")?;
    let polygons: Vec<Vec<Vec<[f64; 2]>>> = match kind {
        "Polygon" => vec![
            serde_json::from_value(coordinates).map_err(|e| format!("Polygon coordinates: {e}"))?,
        ],
        "MultiPolygon" => serde_json::from_value(coordinates)
            .map_err(|e| format!("MultiPolygon coordinates: {e}"))?,
        other => {
            return Err(format!(
                "geometry type {other}: only Polygon and MultiPolygon"
            ));
        }
    };
    DisasterArea::new(polygons).map_err(|e| e.to_string())
}

/// The key a person's position is counted under: the administrative area's `code name`, else the H3 cell.
pub fn area_key(areas: Option<&AdminAreas>, at: Coordinates) -> String {
    match areas {
        Some(areas) => areas.locate(at).map_or_else(
            || "outside".to_string(),
            |a| format!("{} {}", a.code, a.name),
        ),
        None => LatLng::new(at.lat(), at.lon())
            .map(|ll| ll.to_cell(H3_RESOLUTION).to_string())
            .unwrap_or_else(|_| "outside".to_string()),
    }
}

/// The outline of the area counted under `key` ([`area_key`]), as a GeoJSON geometry for the console's choropleth:
/// the administrative area's MultiPolygon, or the H3 cell's hexagon; `None` for `outside` and `unknown`.
pub fn area_boundary(areas: Option<&AdminAreas>, key: &str) -> Option<serde_json::Value> {
    match areas {
        Some(areas) => areas
            .areas
            .iter()
            .find(|a| format!("{} {}", a.code, a.name) == key)
            .map(
                |a| serde_json::json!({"type": "MultiPolygon", "coordinates": a.shape.polygons()}),
            ),
        None => {
            let cell: h3o::CellIndex = key.parse().ok()?;
            let mut ring: Vec<[f64; 2]> = cell
                .boundary()
                .iter()
                .map(|ll| [ll.lng(), ll.lat()])
                .collect();
            let first = *ring.first()?;
            ring.push(first);
            Some(serde_json::json!({"type": "Polygon", "coordinates": [ring]}))
        }
    }
}

/// Loads the areas named by the configuration (`areas`); `None` when none is configured.
pub fn load_configured(
    config: &crate::config::Config,
) -> Result<Option<Arc<AdminAreas>>, AreasError> {
    let Some(path) = &config.areas else {
        return Ok(None);
    };
    load(path).map(|a| Some(Arc::new(a)))
}

/// Loads a GeoJSON file of areas.
pub fn load(path: &Path) -> Result<AdminAreas, AreasError> {
    let text = std::fs::read_to_string(path).map_err(|source| AreasError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let areas = AdminAreas::from_geojson(&text)?;
    tracing::info!(
        areas = areas.len(),
        "administrative areas loaded; disaster counts are per area"
    );
    Ok(areas)
}

impl crate::state::AppState {
    /// Disaster counts are broken down by `areas` instead of H3 cells.
    pub fn with_admin_areas(mut self, areas: Arc<AdminAreas>) -> Self {
        self.admin_areas = Some(areas);
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_found_by_point_and_cells_stand_in() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"code":"1","emd":"A"},"geometry":{"type":"Polygon",
             "coordinates":[[[127.0,37.0],[127.1,37.0],[127.1,37.1],[127.0,37.1],[127.0,37.0]]]}},
            {"type":"Feature","properties":{"code":"2","name":"B"},"geometry":{"type":"MultiPolygon",
             "coordinates":[[[[127.2,37.0],[127.3,37.0],[127.3,37.1],[127.2,37.1],[127.2,37.0]]]]}}]}"#;
        let areas = AdminAreas::from_geojson(text).unwrap();
        assert_eq!(areas.len(), 2);
        let at = |lat, lon| Coordinates::new(lat, lon).unwrap();
        assert_eq!(area_key(Some(&areas), at(37.05, 127.05)), "1 A");
        assert_eq!(area_key(Some(&areas), at(37.05, 127.25)), "2 B");
        assert_eq!(area_key(Some(&areas), at(37.05, 127.15)), "outside");
        assert_eq!(area_key(None, at(37.05, 127.05)).len(), 15);
        let boundary = area_boundary(Some(&areas), "2 B").unwrap();
        assert_eq!(boundary["type"], "MultiPolygon");
        assert_eq!(boundary["coordinates"][0][0][1][0], 127.3);
        assert!(area_boundary(Some(&areas), "outside").is_none());
        let cell = area_key(None, at(37.05, 127.05));
        let hexagon = area_boundary(None, &cell).unwrap();
        assert_eq!(hexagon["coordinates"][0].as_array().unwrap().len(), 7);
        assert!(area_boundary(None, "unknown").is_none());
        assert!(
            AdminAreas::from_geojson(
                r#"{"features":[{"geometry":{"type":"Point","coordinates":[1,2]}}]}"#
            )
            .is_err()
        );
    }
}
