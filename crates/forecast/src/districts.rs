//! Districts: which named area an incident location falls in, for the equity report.
//!
//! A [`DistrictLayout`] is a list of named (multi)polygons in WGS84 degrees, read from a GeoJSON
//! FeatureCollection ([`DistrictLayout::from_geojson`]) or taken from the demo city
//! ([`DistrictLayout::demo`]). Only geometry and the name property are read; any other property is
//! ignored, so a district file cannot bring people's attributes into the analysis.

use serde_json::Value;

use crate::Error;

/// One district: a name and polygons (each a list of rings of (lon, lat); the first ring is the
/// outline, the others holes).
#[derive(Debug, Clone, PartialEq)]
pub struct District {
    /// Name shown in the report.
    pub name: String,
    /// Polygons of rings of (longitude, latitude) degrees.
    pub polygons: Vec<Vec<Vec<(f64, f64)>>>,
}

/// Named districts; a point belongs to the first district containing it.
#[derive(Debug, Clone, PartialEq)]
pub struct DistrictLayout {
    /// Districts in file order.
    pub districts: Vec<District>,
}

/// Centre of the demo city (central Helsinki, between the Esplanadi and the Central Station), the
/// same point `jikimi demo` simulates around.
pub const DEMO_CENTRE: (f64, f64) = (60.1716, 24.9443);
/// Half-extent (latitude, longitude degrees) of the box in which `jikimi demo` raises alerts.
pub const DEMO_HALF_EXTENT: (f64, f64) = (0.006, 0.008);

/// Even-odd rule over all rings (holes included) for a point (lon, lat).
fn in_rings(rings: &[Vec<(f64, f64)>], lon: f64, lat: f64) -> bool {
    let mut inside = false;
    for ring in rings {
        let n = ring.len();
        if n < 3 {
            continue;
        }
        let mut j = n - 1;
        for i in 0..n {
            let (xi, yi) = ring[i];
            let (xj, yj) = ring[j];
            if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
    }
    inside
}

fn rectangle(name: &str, south: f64, west: f64, north: f64, east: f64) -> District {
    District {
        name: name.to_string(),
        polygons: vec![vec![vec![
            (west, south),
            (east, south),
            (east, north),
            (west, north),
            (west, south),
        ]]],
    }
}

impl DistrictLayout {
    /// The district containing (lat, lon), if any.
    pub fn locate(&self, lat: f64, lon: f64) -> Option<&str> {
        self.districts
            .iter()
            .find(|d| d.polygons.iter().any(|p| in_rings(p, lon, lat)))
            .map(|d| d.name.as_str())
    }

    /// The demo city's six districts: the box `jikimi demo` raises alerts in, split into three
    /// columns and two rows named after the central Helsinki neighbourhoods they roughly cover;
    /// the outer edges reach 0.02° beyond the box so road-snapped locations stay inside.
    pub fn demo() -> Self {
        let (lat0, lon0) = DEMO_CENTRE;
        let (dlat, dlon) = DEMO_HALF_EXTENT;
        let margin = 0.02;
        let lats = [lat0 - dlat - margin, lat0, lat0 + dlat + margin];
        let third = 2.0 * dlon / 3.0;
        let lons = [
            lon0 - dlon - margin,
            lon0 - dlon + third,
            lon0 + dlon - third,
            lon0 + dlon + margin,
        ];
        let names = [
            ["Punavuori", "Kaartinkaupunki", "Ullanlinna"],
            ["Kamppi", "Kluuvi", "Kruununhaka"],
        ];
        let mut districts = Vec::new();
        for (r, row) in names.iter().enumerate() {
            for (c, name) in row.iter().enumerate() {
                districts.push(rectangle(name, lats[r], lons[c], lats[r + 1], lons[c + 1]));
            }
        }
        Self { districts }
    }

    /// Reads a GeoJSON FeatureCollection of Polygon / MultiPolygon features, naming each district by
    /// the string (or number) property `name_property`.
    pub fn from_geojson(text: &str, name_property: &str, source: &str) -> Result<Self, Error> {
        let bad = |message: String| Error::Invalid {
            location: source.to_string(),
            message,
        };
        let v: Value = serde_json::from_str(text)?;
        let features = v
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("not a GeoJSON FeatureCollection".into()))?;
        let ring = |r: &Value| -> Option<Vec<(f64, f64)>> {
            r.as_array()?
                .iter()
                .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                .collect()
        };
        let polygon = |p: &Value| -> Option<Vec<Vec<(f64, f64)>>> {
            p.as_array()?.iter().map(ring).collect()
        };
        let mut districts = Vec::new();
        for (i, f) in features.iter().enumerate() {
            let name = match f.get("properties").and_then(|p| p.get(name_property)) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(bad(format!(
                        "feature {i} has no {name_property:?} property"
                    )));
                }
            };
            let geometry = f
                .get("geometry")
                .ok_or_else(|| bad(format!("feature {i} has no geometry")))?;
            let coords = geometry.get("coordinates");
            let polygons = match geometry.get("type").and_then(Value::as_str) {
                Some("Polygon") => coords.and_then(polygon).map(|p| vec![p]),
                Some("MultiPolygon") => coords
                    .and_then(Value::as_array)
                    .and_then(|ps| ps.iter().map(polygon).collect()),
                other => {
                    return Err(bad(format!(
                        "feature {i}: geometry {other:?} is not a Polygon or MultiPolygon"
                    )));
                }
            }
            .ok_or_else(|| bad(format!("feature {i}: malformed coordinates")))?;
            districts.push(District { name, polygons });
        }
        if districts.is_empty() {
            return Err(bad("no districts".into()));
        }
        Ok(Self { districts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_layout_covers_the_demo_box_with_six_districts() {
        let l = DistrictLayout::demo();
        assert_eq!(l.districts.len(), 6);
        let (lat0, lon0) = DEMO_CENTRE;
        assert_eq!(l.locate(lat0 + 0.003, lon0 - 0.007), Some("Kamppi"));
        assert_eq!(l.locate(lat0 - 0.003, lon0 + 0.007), Some("Ullanlinna"));
        assert_eq!(l.locate(lat0 + 0.001, lon0), Some("Kluuvi"));
        assert_eq!(l.locate(lat0 + 1.0, lon0), None);
    }

    #[test]
    fn geojson_polygons_with_holes_and_multipolygons() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"name":"ring"},"geometry":{"type":"Polygon","coordinates":[
            [[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]}},
          {"type":"Feature","properties":{"name":7},"geometry":{"type":"MultiPolygon","coordinates":[
            [[[4,4],[6,4],[6,6],[4,6],[4,4]]],[[[20,20],[21,20],[21,21],[20,21],[20,20]]]]}}]}"#;
        let l = DistrictLayout::from_geojson(text, "name", "t");
        let l = l.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.locate(1.0, 1.0), Some("ring"));
        assert_eq!(l.locate(5.0, 5.0), Some("7"));
        assert_eq!(l.locate(20.5, 20.5), Some("7"));
        assert_eq!(l.locate(30.0, 30.0), None);
        assert!(DistrictLayout::from_geojson("{}", "name", "t").is_err());
    }
}
