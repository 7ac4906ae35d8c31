//! Geodesy helpers: checked coordinates, haversine, and a local equirectangular projection for planar search.
//!
//! Why planar: nearest-feature search at city scale needs a metric the R-tree understands; the error of an
//! equirectangular projection against the sphere is far below GPS noise over a few kilometres.

use serde::{Deserialize, Serialize};

use crate::GeocodeError;

/// IUGG mean Earth radius.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 point in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    /// A checked point: finite, latitude in [-90, 90], longitude in [-180, 180].
    pub fn new(lat: f64, lon: f64) -> Result<Self, GeocodeError> {
        if lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon)
        {
            Ok(Self { lat, lon })
        } else {
            Err(GeocodeError::CoordinateOutOfRange { lat, lon })
        }
    }
}

/// Great-circle distance in metres.
pub fn haversine_m(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dphi = p2 - p1;
    let dlmb = (b.lon - a.lon).to_radians();
    let h = (dphi / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dlmb / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.min(1.0).sqrt().asin()
}

/// Equirectangular projection around a reference latitude, in metres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    cos_lat0: f64,
}

impl Projection {
    pub fn new(lat0: f64) -> Self {
        Self {
            cos_lat0: lat0.to_radians().cos().max(1e-6),
        }
    }

    pub fn forward(&self, p: LatLon) -> [f64; 2] {
        [
            p.lon.to_radians() * EARTH_RADIUS_M * self.cos_lat0,
            p.lat.to_radians() * EARTH_RADIUS_M,
        ]
    }

    pub fn inverse(&self, xy: [f64; 2]) -> LatLon {
        LatLon {
            lat: (xy[1] / EARTH_RADIUS_M).to_degrees(),
            lon: (xy[0] / (EARTH_RADIUS_M * self.cos_lat0)).to_degrees(),
        }
    }
}

/// Squared distance from `p` to the segment `a`-`b` (planar).
pub fn segment_distance2(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    qx * qx + qy * qy
}

/// Whether `p` is inside the closed ring (even-odd rule).
pub fn in_ring(p: [f64; 2], ring: &[[f64; 2]]) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// Area centroid of a closed ring; the vertex mean when the area is degenerate. `None` for no vertices.
pub fn ring_centroid(ring: &[[f64; 2]]) -> Option<[f64; 2]> {
    let first = *ring.first()?;
    let (mut a2, mut cx, mut cy) = (0.0, 0.0, 0.0);
    for w in ring.windows(2) {
        // Relative to the first vertex, so large projected coordinates do not cancel badly.
        let (x0, y0) = (w[0][0] - first[0], w[0][1] - first[1]);
        let (x1, y1) = (w[1][0] - first[0], w[1][1] - first[1]);
        let cross = x0 * y1 - x1 * y0;
        a2 += cross;
        cx += (x0 + x1) * cross;
        cy += (y0 + y1) * cross;
    }
    if a2.abs() > 1e-9 {
        Some([first[0] + cx / (3.0 * a2), first[1] + cy / (3.0 * a2)])
    } else {
        let n = ring.len() as f64;
        let (sx, sy) = ring
            .iter()
            .fold((0.0, 0.0), |(sx, sy), p| (sx + p[0], sy + p[1]));
        Some([sx / n, sy / n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_geometry() {
        let ring = [
            [0.0, 0.0],
            [10.0, 0.0],
            [10.0, 10.0],
            [0.0, 10.0],
            [0.0, 0.0],
        ];
        assert!(in_ring([5.0, 5.0], &ring));
        assert!(!in_ring([15.0, 5.0], &ring));
        assert_eq!(ring_centroid(&ring), Some([5.0, 5.0]));
        assert_eq!(segment_distance2([5.0, 3.0], [0.0, 0.0], [10.0, 0.0]), 9.0);
        assert_eq!(
            segment_distance2([13.0, 4.0], [0.0, 0.0], [10.0, 0.0]),
            25.0
        );
    }

    #[test]
    fn coordinates_are_checked() {
        assert!(LatLon::new(60.0, 24.0).is_ok());
        assert!(LatLon::new(f64::NAN, 0.0).is_err());
        assert!(LatLon::new(0.0, 181.0).is_err());
    }
}
