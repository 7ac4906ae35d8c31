//! Patrol units and the recommendation of the nearest available ones.
//!
//! Candidates are prefiltered with an R-tree ([`rstar`]) on a local equirectangular projection, then ranked by the
//! travel time an [`EtaProvider`] gives. [`StraightLineEta`] is the stand-in until road travel time plugs in.

use crate::rescue::{Capabilities, UnitType};
use crate::{Coordinates, Timestamp, UnitId, haversine_m};
use rstar::{RTree, primitives::GeomWithData};
use serde::{Deserialize, Serialize};

/// What a unit is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    /// On patrol, can be dispatched.
    Available,
    /// Assigned to an incident, on its way.
    Dispatched,
    /// At an incident.
    OnScene,
    /// Not working.
    OffDuty,
}

impl UnitStatus {
    /// The stable snake_case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Available => "available",
            UnitStatus::Dispatched => "dispatched",
            UnitStatus::OnScene => "on_scene",
            UnitStatus::OffDuty => "off_duty",
        }
    }
    /// Parses [`UnitStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "available" => UnitStatus::Available,
            "dispatched" => UnitStatus::Dispatched,
            "on_scene" => UnitStatus::OnScene,
            "off_duty" => UnitStatus::OffDuty,
            _ => return None,
        })
    }
}

/// A patrol unit (vehicle or officer) with its last reported position (AVL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Call sign.
    pub id: UnitId,
    /// What it is doing.
    pub status: UnitStatus,
    /// Last reported position.
    pub position: Option<Coordinates>,
    /// When the position was reported.
    pub reported_at: Option<Timestamp>,
    /// What kind of service it is (police for units saved before unit types existed).
    #[serde(default)]
    pub unit_type: UnitType,
    /// What it can do beyond its type's basics.
    #[serde(default)]
    pub capabilities: Capabilities,
}

/// An estimated travel from a unit to an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Eta {
    /// Travel time in seconds.
    pub duration_s: f64,
    /// Travel distance in metres.
    pub distance_m: f64,
    /// Distance from the points to the network they were snapped to, when a network is used.
    pub snap_m: Option<f64>,
    /// How it was computed, e.g. `straight_line` or `road`.
    pub method: &'static str,
}

/// Travel time from units to an incident. Implemented by [`StraightLineEta`] here and by the road engine later.
pub trait EtaProvider: Send + Sync {
    /// One answer per unit in `from`, in the same order; `None` when the unit cannot reach `to` (off the network).
    fn etas(&self, to: Coordinates, from: &[(UnitId, Coordinates)]) -> Vec<Option<Eta>>;
}

/// Straight-line travel time: haversine distance times a detour factor, at a constant speed.
///
/// The defaults (detour 1.4, 30 km/h) model urban driving with lights on; they are a stand-in, not a prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StraightLineEta {
    /// Road distance over straight-line distance (1.3–1.5 in Korean cities).
    pub detour_factor: f64,
    /// Average speed in metres per second.
    pub speed_m_s: f64,
}

impl Default for StraightLineEta {
    fn default() -> Self {
        Self {
            detour_factor: 1.4,
            speed_m_s: 30.0 / 3.6,
        }
    }
}

impl EtaProvider for StraightLineEta {
    fn etas(&self, to: Coordinates, from: &[(UnitId, Coordinates)]) -> Vec<Option<Eta>> {
        from.iter()
            .map(|(_, at)| {
                let distance_m = haversine_m(*at, to) * self.detour_factor;
                Some(Eta {
                    duration_s: distance_m / self.speed_m_s,
                    distance_m,
                    snap_m: None,
                    method: "straight_line",
                })
            })
            .collect()
    }
}

/// A ranked candidate unit for an incident, with the explanation the dispatcher sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The unit.
    pub unit: UnitId,
    /// Estimated travel time in seconds.
    pub eta_s: f64,
    /// Estimated travel distance in metres.
    pub distance_m: f64,
    /// Snap distance to the road network, if one was used.
    pub snap_m: Option<f64>,
    /// How the ETA was computed.
    pub method: String,
}

/// How many straight-line candidates are ranked by ETA per requested unit: road travel time can reorder neighbours,
/// so we look past the first `k`.
const CANDIDATES_PER_RESULT: usize = 4;
/// At least this many candidates are ranked, however small `k` is.
const MIN_CANDIDATES: usize = 16;

/// The `k` best *available* units with a known position for an incident at `incident`, ranked by ETA.
///
/// Units the ETA provider cannot route are left out. Ties are broken by call sign so the answer is deterministic.
pub fn recommend(
    incident: Coordinates,
    units: &[Unit],
    eta: &dyn EtaProvider,
    k: usize,
) -> Vec<Recommendation> {
    recommend_where(incident, units, eta, k, |_| true)
}

/// [`recommend`] among the units `eligible` accepts: the others are left out before the nearest-neighbour search,
/// so they never take a candidate's place (a unit of the wrong type is never ranked instead of a right one).
pub(crate) fn recommend_where(
    incident: Coordinates,
    units: &[Unit],
    eta: &dyn EtaProvider,
    k: usize,
    eligible: impl Fn(&Unit) -> bool,
) -> Vec<Recommendation> {
    if k == 0 {
        return Vec::new();
    }
    // A local equirectangular projection in metres around the incident: accurate enough to order neighbours.
    let cos_lat = incident.lat().to_radians().cos();
    let project = |c: Coordinates| [c.lon() * 111_320.0 * cos_lat, c.lat() * 110_574.0];
    let points: Vec<GeomWithData<[f64; 2], usize>> = units
        .iter()
        .enumerate()
        .filter(|(_, unit)| unit.status == UnitStatus::Available && eligible(unit))
        .filter_map(|(idx, unit)| unit.position.map(|p| GeomWithData::new(project(p), idx)))
        .collect();
    let tree = RTree::bulk_load(points);
    let n_candidates = k.saturating_mul(CANDIDATES_PER_RESULT).max(MIN_CANDIDATES);
    let candidates: Vec<(UnitId, Coordinates)> = tree
        .nearest_neighbor_iter(project(incident))
        .take(n_candidates)
        .filter_map(|point| {
            let unit = &units[point.data];
            unit.position.map(|p| (unit.id.clone(), p))
        })
        .collect();
    let etas = eta.etas(incident, &candidates);
    let mut ranked: Vec<Recommendation> = candidates
        .into_iter()
        .zip(etas)
        .filter_map(|((unit, _), eta)| {
            eta.map(|e| Recommendation {
                unit,
                eta_s: e.duration_s,
                distance_m: e.distance_m,
                snap_m: e.snap_m,
                method: e.method.to_owned(),
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        a.eta_s
            .total_cmp(&b.eta_s)
            .then_with(|| a.unit.cmp(&b.unit))
    });
    ranked.truncate(k);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, status: UnitStatus, lat: f64, lon: f64) -> Unit {
        Unit {
            id: UnitId::new(id),
            status,
            position: Some(Coordinates::new(lat, lon).unwrap()),
            reported_at: Some(Timestamp::from_unix_ms(0)),
            unit_type: UnitType::Police,
            capabilities: Capabilities::new(),
        }
    }

    #[test]
    fn nearest_available_units_first() {
        let incident = Coordinates::new(37.5665, 126.9780).unwrap();
        let units = vec![
            unit("P-101", UnitStatus::Available, 37.60, 126.98),
            unit("P-102", UnitStatus::Dispatched, 37.5666, 126.9781),
            unit("P-103", UnitStatus::Available, 37.57, 126.98),
            unit("P-104", UnitStatus::OffDuty, 37.5665, 126.9780),
            Unit {
                id: UnitId::new("P-105"),
                status: UnitStatus::Available,
                position: None,
                reported_at: None,
                unit_type: UnitType::Police,
                capabilities: Capabilities::new(),
            },
            unit("P-106", UnitStatus::Available, 37.40, 127.10),
        ];
        let recs = recommend(incident, &units, &StraightLineEta::default(), 2);
        let ids: Vec<&str> = recs.iter().map(|r| r.unit.as_str()).collect();
        assert_eq!(ids, ["P-103", "P-101"]);
        assert_eq!(recs[0].method, "straight_line");
        assert!(recs[0].eta_s < recs[1].eta_s);
    }

    /// An ETA provider that cannot route to one unit and makes another one fast: ETA, not distance, ranks.
    struct Custom;
    impl EtaProvider for Custom {
        fn etas(&self, _to: Coordinates, from: &[(UnitId, Coordinates)]) -> Vec<Option<Eta>> {
            from.iter()
                .map(|(id, _)| match id.as_str() {
                    "near" => None,
                    "far" => Some(Eta {
                        duration_s: 10.0,
                        distance_m: 100.0,
                        snap_m: Some(3.0),
                        method: "road",
                    }),
                    _ => Some(Eta {
                        duration_s: 60.0,
                        distance_m: 50.0,
                        snap_m: Some(1.0),
                        method: "road",
                    }),
                })
                .collect()
        }
    }

    #[test]
    fn ranking_follows_the_eta_provider() {
        let incident = Coordinates::new(37.5, 127.0).unwrap();
        let units = vec![
            unit("near", UnitStatus::Available, 37.5001, 127.0),
            unit("mid", UnitStatus::Available, 37.501, 127.0),
            unit("far", UnitStatus::Available, 37.51, 127.0),
        ];
        let recs = recommend(incident, &units, &Custom, 5);
        let ids: Vec<&str> = recs.iter().map(|r| r.unit.as_str()).collect();
        assert_eq!(ids, ["far", "mid"]);
        assert_eq!(recs[0].snap_m, Some(3.0));
    }

    #[test]
    fn zero_or_no_units() {
        let incident = Coordinates::new(37.5, 127.0).unwrap();
        assert!(recommend(incident, &[], &StraightLineEta::default(), 3).is_empty());
        let units = vec![unit("a", UnitStatus::Available, 37.5, 127.0)];
        assert!(recommend(incident, &units, &StraightLineEta::default(), 0).is_empty());
    }
}
