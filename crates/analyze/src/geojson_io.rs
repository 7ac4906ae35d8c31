//! GeoJSON edge: parse a FeatureCollection, pull out polygons, points and a numeric property, check
//! geometry validity, and add result properties to features. Text in, text out; no file access here.

use geo::{Centroid, MultiPolygon, Point, Validation};
use geojson::{FeatureCollection, GeoJson, JsonValue};
use serde::Serialize;

use crate::error::{Error, Result};

/// Parses GeoJSON text that must be a FeatureCollection with at least one feature.
pub fn parse_feature_collection(text: &str) -> Result<FeatureCollection> {
    let gj: GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| Error::GeoJson(e.to_string()))?;
    let fc = match gj {
        GeoJson::FeatureCollection(fc) => fc,
        GeoJson::Feature(_) => {
            return Err(Error::GeoJson(
                "expected a FeatureCollection, found a single Feature".into(),
            ));
        }
        GeoJson::Geometry(_) => {
            return Err(Error::GeoJson(
                "expected a FeatureCollection, found a bare Geometry".into(),
            ));
        }
    };
    if fc.features.is_empty() {
        return Err(Error::Empty("the FeatureCollection has no features".into()));
    }
    Ok(fc)
}

fn geometry(fc: &FeatureCollection, i: usize) -> Result<geo::Geometry<f64>> {
    let g = fc.features[i]
        .geometry
        .as_ref()
        .ok_or_else(|| Error::Geometry {
            feature: i,
            problem: "has no geometry".into(),
        })?;
    geo::Geometry::<f64>::try_from(&g.value).map_err(|e| Error::Geometry {
        feature: i,
        problem: e.to_string(),
    })
}

/// Every feature's geometry as a MultiPolygon; points, lines and missing geometries are errors.
pub fn polygons(fc: &FeatureCollection) -> Result<Vec<MultiPolygon<f64>>> {
    (0..fc.features.len())
        .map(|i| match geometry(fc, i)? {
            geo::Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
            geo::Geometry::MultiPolygon(mp) => Ok(mp),
            other => Err(Error::Geometry {
                feature: i,
                problem: format!(
                    "is a {} but contiguity needs polygons",
                    geometry_name(&other)
                ),
            }),
        })
        .collect()
}

/// One point per feature: the point itself, or the area-weighted centroid of a polygon (as shapely).
pub fn representative_points(fc: &FeatureCollection) -> Result<Vec<Point<f64>>> {
    (0..fc.features.len())
        .map(|i| {
            let g = geometry(fc, i)?;
            match &g {
                geo::Geometry::Point(p) => Some(*p),
                geo::Geometry::Polygon(_) | geo::Geometry::MultiPolygon(_) => g.centroid(),
                _ => None,
            }
            .ok_or_else(|| Error::Geometry {
                feature: i,
                problem: format!("{} has no usable centroid", geometry_name(&g)),
            })
        })
        .collect()
}

fn geometry_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "Point",
        geo::Geometry::Line(_) => "Line",
        geo::Geometry::LineString(_) => "LineString",
        geo::Geometry::Polygon(_) => "Polygon",
        geo::Geometry::MultiPoint(_) => "MultiPoint",
        geo::Geometry::MultiLineString(_) => "MultiLineString",
        geo::Geometry::MultiPolygon(_) => "MultiPolygon",
        geo::Geometry::GeometryCollection(_) => "GeometryCollection",
        geo::Geometry::Rect(_) => "Rect",
        geo::Geometry::Triangle(_) => "Triangle",
    }
}

/// The numeric property `field` of every feature. Missing, null, string and boolean values are errors
/// naming the feature; numbers must be finite.
pub fn numeric_field(fc: &FeatureCollection, field: &str) -> Result<Vec<f64>> {
    fc.features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let err = |problem: String| Error::Field {
                feature: i,
                field: field.to_string(),
                problem,
            };
            match f.properties.as_ref().and_then(|p| p.get(field)) {
                None => Err(err("is missing".into())),
                Some(JsonValue::Null) => Err(err("is null".into())),
                Some(JsonValue::Number(num)) => num
                    .as_f64()
                    .ok_or_else(|| err("is not representable as f64".into())),
                Some(JsonValue::String(s)) => {
                    Err(err(format!("is the string {s:?}, not a number")))
                }
                Some(other) => Err(err(format!("is {other}, not a number"))),
            }
        })
        .collect()
}

/// A geometry that breaks OGC validity rules (reported, not fatal: contiguity only needs vertices).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidGeometry {
    /// Feature position.
    pub feature: usize,
    /// What is wrong, from `geo`'s validation.
    pub reason: String,
}

/// Lists polygons that are invalid by OGC rules (self-intersecting rings, too few points, ...).
pub fn invalid_polygons(polys: &[MultiPolygon<f64>]) -> Vec<InvalidGeometry> {
    polys
        .iter()
        .enumerate()
        .filter_map(|(i, mp)| {
            mp.check_validation().err().map(|e| InvalidGeometry {
                feature: i,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Sets `properties[name] = value` on feature `i`, creating the property map if absent.
pub fn set_property(fc: &mut FeatureCollection, i: usize, name: &str, value: JsonValue) {
    fc.features[i]
        .properties
        .get_or_insert_with(Default::default)
        .insert(name.to_string(), value);
}

/// A finite float as JSON; non-finite values become null (callers document when that can happen).
pub fn json_f64(v: f64) -> JsonValue {
    serde_json::Number::from_f64(v)
        .map(JsonValue::Number)
        .unwrap_or(JsonValue::Null)
}
