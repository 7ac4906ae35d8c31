//! Geodesy helpers: validated coordinates, haversine length, and a local metric projection for snapping.

use serde::{Deserialize, Serialize};

use crate::RoadsError;

/// IUGG mean Earth radius, the one the reference lengths use.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 point in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    /// A checked point: finite, latitude in [-90, 90], longitude in [-180, 180].
    pub fn new(lat: f64, lon: f64) -> Result<Self, RoadsError> {
        if lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon)
        {
            Ok(Self { lat, lon })
        } else {
            Err(RoadsError::CoordinateOutOfRange { lat, lon })
        }
    }
}

/// Great-circle distance in metres (haversine, R = 6 371 008.8 m).
pub fn haversine_m(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dphi = p2 - p1;
    let dlmb = (b.lon - a.lon).to_radians();
    let h = (dphi / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dlmb / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.min(1.0).sqrt().asin()
}

/// Equirectangular projection around a reference latitude, in metres.
///
/// Why: nearest-segment search needs a planar metric; at city scale the error against the
/// sphere is far below GPS noise, and the reported snap distance is recomputed with haversine.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_known_value() {
        // One degree of latitude on the mean sphere.
        let d = haversine_m(LatLon { lat: 0.0, lon: 0.0 }, LatLon { lat: 1.0, lon: 0.0 });
        assert!((d - 111_195.08).abs() < 0.1, "{d}");
    }

    #[test]
    fn coordinates_are_checked() {
        assert!(LatLon::new(60.0, 24.0).is_ok());
        assert!(LatLon::new(91.0, 24.0).is_err());
        assert!(LatLon::new(60.0, -181.0).is_err());
        assert!(LatLon::new(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn projection_round_trips() {
        let pr = Projection::new(60.17);
        let p = LatLon {
            lat: 60.171,
            lon: 24.945,
        };
        let q = pr.inverse(pr.forward(p));
        assert!((p.lat - q.lat).abs() < 1e-12 && (p.lon - q.lon).abs() < 1e-12);
    }
}
