//! Coordinates and location fixes: checked on construction so no NaN or out-of-range value reaches an incident.

use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// Why a coordinate or fix was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoordinateError {
    /// Latitude not finite or outside [-90, 90].
    #[error("latitude {0} is out of range [-90, 90]")]
    Latitude(f64),
    /// Longitude not finite or outside [-180, 180].
    #[error("longitude {0} is out of range [-180, 180]")]
    Longitude(f64),
    /// Accuracy radius not finite or negative.
    #[error("accuracy {0} m is not a finite non-negative radius")]
    Accuracy(f64),
}

/// A WGS 84 position in degrees. Always finite and in range (checked by [`Coordinates::new`] and by deserialisation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCoordinates")]
pub struct Coordinates {
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
struct RawCoordinates {
    lat: f64,
    lon: f64,
}

impl TryFrom<RawCoordinates> for Coordinates {
    type Error = CoordinateError;
    fn try_from(raw: RawCoordinates) -> Result<Self, Self::Error> {
        Coordinates::new(raw.lat, raw.lon)
    }
}

impl Coordinates {
    /// Checks that both values are finite and in range.
    pub fn new(lat: f64, lon: f64) -> Result<Self, CoordinateError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(CoordinateError::Latitude(lat));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(CoordinateError::Longitude(lon));
        }
        Ok(Self { lat, lon })
    }
    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        self.lat
    }
    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        self.lon
    }
}

/// Great-circle distance in metres (haversine, mean Earth radius 6,371,008.8 m).
pub fn haversine_m(a: Coordinates, b: Coordinates) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// How a fix was obtained; accuracy depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixMethod {
    /// Satellite positioning.
    Gnss,
    /// Wi-Fi access point positioning.
    Wifi,
    /// Cell-tower positioning (carrier network location).
    Cell,
    /// Not stated by the channel.
    Unknown,
}

/// One location report for an incident: where, how precisely (radius in metres), how, and when it was measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawFix")]
pub struct LocationFix {
    /// Where.
    pub coords: Coordinates,
    /// Radius of the 68 % confidence circle in metres; finite and non-negative.
    pub accuracy_m: f64,
    /// How.
    pub method: FixMethod,
    /// When the fix was measured (not when it was received).
    pub at: Timestamp,
}

#[derive(Deserialize)]
struct RawFix {
    coords: Coordinates,
    accuracy_m: f64,
    method: FixMethod,
    at: Timestamp,
}

impl TryFrom<RawFix> for LocationFix {
    type Error = CoordinateError;
    fn try_from(raw: RawFix) -> Result<Self, Self::Error> {
        LocationFix::new(raw.coords, raw.accuracy_m, raw.method, raw.at)
    }
}

impl LocationFix {
    /// Checks the accuracy radius (finite, non-negative).
    pub fn new(
        coords: Coordinates,
        accuracy_m: f64,
        method: FixMethod,
        at: Timestamp,
    ) -> Result<Self, CoordinateError> {
        if !accuracy_m.is_finite() || accuracy_m < 0.0 {
            return Err(CoordinateError::Accuracy(accuracy_m));
        }
        Ok(Self {
            coords,
            accuracy_m,
            method,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_checked() {
        assert!(Coordinates::new(37.5665, 126.978).is_ok());
        assert_eq!(
            Coordinates::new(90.1, 0.0),
            Err(CoordinateError::Latitude(90.1))
        );
        assert_eq!(
            Coordinates::new(0.0, -180.5),
            Err(CoordinateError::Longitude(-180.5))
        );
        assert!(Coordinates::new(f64::NAN, 0.0).is_err());
        assert!(Coordinates::new(0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn deserialisation_checks_range() {
        assert!(serde_json::from_str::<Coordinates>(r#"{"lat":91,"lon":0}"#).is_err());
        let c: Coordinates = serde_json::from_str(r#"{"lat":37.5,"lon":127}"#).unwrap();
        assert_eq!(c.lat(), 37.5);
    }

    #[test]
    fn haversine_seoul_city_hall_to_gangnam_station() {
        // Seoul City Hall to Gangnam Station is about 8.9 km in a straight line.
        let a = Coordinates::new(37.5663, 126.9779).unwrap();
        let b = Coordinates::new(37.4979, 127.0276).unwrap();
        let d = haversine_m(a, b);
        assert!((8_500.0..9_300.0).contains(&d), "{d}");
        assert_eq!(haversine_m(a, a), 0.0);
    }
}
