//! A disaster's area: one or more polygons with holes (GeoJSON's MultiPolygon), and the point-in-area test the
//! welfare check runs for every subscriber.
//!
//! Coordinates are GeoJSON's `[lon, lat]`. A point on a boundary counts as inside (asking one person too many is
//! better than missing one). CAP circles become polygons circumscribing the circle ([`circle_ring`]), for the same
//! reason: every point of the circle is inside the polygon.

use ::geo::{BoundingRect, Intersects};
use serde::{Deserialize, Serialize};

use crate::Coordinates;

/// Most points in one area (all rings together): a declaration is a request body, and the welfare check tests every
/// subscriber against it.
pub const MAX_AREA_POINTS: usize = 20_000;

/// Why an area was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AreaError {
    /// No polygon at all.
    #[error("the area has no polygon")]
    Empty,
    /// A ring with fewer than four points or whose first and last points differ.
    #[error(
        "polygon {polygon}, ring {ring}: a ring needs at least 4 points, the first repeated last"
    )]
    Ring {
        /// Which polygon (0-based).
        polygon: usize,
        /// Which ring (0 is the outer ring).
        ring: usize,
    },
    /// A coordinate that is not a WGS 84 `[lon, lat]`.
    #[error("polygon {polygon}: [{lon}, {lat}] is not a WGS 84 [longitude, latitude]")]
    Point {
        /// Which polygon.
        polygon: usize,
        /// The longitude given.
        lon: f64,
        /// The latitude given.
        lat: f64,
    },
    /// More than [`MAX_AREA_POINTS`] points.
    #[error("the area has more than {MAX_AREA_POINTS} points")]
    TooLarge,
}

/// GeoJSON MultiPolygon coordinates: polygons, each an outer ring and holes, each ring `[lon, lat]` points.
type Rings = Vec<Vec<Vec<[f64; 2]>>>;

/// A checked area. Serialised as its GeoJSON MultiPolygon coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Rings", into = "Rings")]
pub struct DisasterArea {
    polygons: Rings,
    shape: ::geo::MultiPolygon<f64>,
    bbox: Option<::geo::Rect<f64>>,
}

impl TryFrom<Rings> for DisasterArea {
    type Error = AreaError;
    fn try_from(polygons: Rings) -> Result<Self, AreaError> {
        DisasterArea::new(polygons)
    }
}

impl From<DisasterArea> for Rings {
    fn from(area: DisasterArea) -> Rings {
        area.polygons
    }
}

impl DisasterArea {
    /// Checks every ring (closed, at least four points, WGS 84) and the size.
    pub fn new(polygons: Rings) -> Result<DisasterArea, AreaError> {
        if polygons.is_empty() {
            return Err(AreaError::Empty);
        }
        let points: usize = polygons.iter().flatten().map(Vec::len).sum();
        if points > MAX_AREA_POINTS {
            return Err(AreaError::TooLarge);
        }
        let mut shapes = Vec::with_capacity(polygons.len());
        for (p, rings) in polygons.iter().enumerate() {
            if rings.is_empty() {
                return Err(AreaError::Ring {
                    polygon: p,
                    ring: 0,
                });
            }
            let mut lines = Vec::with_capacity(rings.len());
            for (r, ring) in rings.iter().enumerate() {
                if ring.len() < 4 || ring.first() != ring.last() {
                    return Err(AreaError::Ring {
                        polygon: p,
                        ring: r,
                    });
                }
                for &[lon, lat] in ring {
                    if Coordinates::new(lat, lon).is_err() {
                        return Err(AreaError::Point {
                            polygon: p,
                            lon,
                            lat,
                        });
                    }
                }
                lines.push(::geo::LineString::from(
                    ring.iter().map(|&[x, y]| (x, y)).collect::<Vec<_>>(),
                ));
            }
            let outer = lines.remove(0);
            shapes.push(::geo::Polygon::new(outer, lines));
        }
        let shape = ::geo::MultiPolygon::new(shapes);
        let bbox = shape.bounding_rect();
        Ok(DisasterArea {
            polygons,
            shape,
            bbox,
        })
    }

    /// One polygon from CAP-style rings of `(lat, lon)` (closed), each its own polygon without holes: CAP's
    /// `<polygon>`s are separate areas, never holes of one another.
    pub fn from_lat_lon_rings(rings: &[Vec<(f64, f64)>]) -> Result<DisasterArea, AreaError> {
        DisasterArea::new(
            rings
                .iter()
                .map(|ring| vec![ring.iter().map(|&(lat, lon)| [lon, lat]).collect()])
                .collect(),
        )
    }

    /// Whether the point lies in the area (a boundary counts as inside; a hole's interior does not).
    pub fn contains(&self, at: Coordinates) -> bool {
        let point = ::geo::Point::new(at.lon(), at.lat());
        match &self.bbox {
            Some(bbox) if !bbox.intersects(&point) => false,
            _ => self.shape.intersects(&point),
        }
    }

    /// The GeoJSON MultiPolygon coordinates.
    pub fn polygons(&self) -> &[Vec<Vec<[f64; 2]>>] {
        &self.polygons
    }

    /// The bounding box as `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn bbox(&self) -> Option<[f64; 4]> {
        self.bbox
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
    }
}

/// A closed ring of `(lat, lon)` circumscribing the circle of `radius_m` metres around `centre` with `segments`
/// sides (at least 8): every point of the circle lies inside it, so a welfare check over a CAP circle misses no
/// one. Uses a spherical Earth (mean radius), as [`crate::haversine_m`] does.
pub fn circle_ring(centre: Coordinates, radius_m: f64, segments: usize) -> Vec<(f64, f64)> {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let n = segments.max(8);
    // The polygon's edges touch the circle at their midpoints when the vertices lie at r / cos(pi / n).
    let r = radius_m.max(0.0) / (std::f64::consts::PI / n as f64).cos();
    let delta = r / EARTH_RADIUS_M;
    let (lat1, lon1) = (centre.lat().to_radians(), centre.lon().to_radians());
    let mut ring: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let bearing = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            let lat2 = (lat1.sin() * delta.cos() + lat1.cos() * delta.sin() * bearing.cos()).asin();
            let lon2 = lon1
                + (bearing.sin() * delta.sin() * lat1.cos())
                    .atan2(delta.cos() - lat1.sin() * lat2.sin());
            let lon = (lon2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
            (lat2.to_degrees().clamp(-90.0, 90.0), lon)
        })
        .collect();
    if let Some(first) = ring.first().copied() {
        ring.push(first);
    }
    ring
}
