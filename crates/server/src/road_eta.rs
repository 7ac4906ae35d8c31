//! Road travel time for recommendations: [`RoadEta`] implements [`EtaProvider`] over a
//! [`jikimi_roads::RoadNetwork`], and [`load_configured`] loads the network `serve` was configured with.
//!
//! It lives in the server (not in `respond`, which stays pure, nor in `roads`, which knows nothing of units) because
//! the server is where configuration meets both: the dependency edge is `server -> roads`, and `roads` depends on no
//! jikimi crate.

use std::sync::Arc;
use std::time::Instant;

use jikimi_respond::{Coordinates, Eta, EtaProvider, StraightLineEta, UnitId};
use jikimi_roads::{LatLon, Metric, Profile, RoadNetwork, RoadsError};

use crate::config::Config;
use crate::state::AppState;

/// Method of an ETA computed on the road network.
pub const METHOD_ROAD: &str = "road";
/// Method when the incident itself is off the road network: every unit gets a straight-line ETA instead.
pub const METHOD_STRAIGHT_LINE_OFF_ROAD: &str = "straight_line_incident_off_road";

/// Travel time from each unit TO the incident over the road network (time metric, one-way streets honoured).
///
/// - Units that cannot reach the incident (no path, or farther than the snap limit from any road) get `None` and are
///   left out of the recommendation; the log says why, by call sign only.
/// - If the incident itself is beyond the snap limit, the whole answer falls back to [`StraightLineEta`] and the
///   method says so ([`METHOD_STRAIGHT_LINE_OFF_ROAD`]), so a dispatcher is never left with no candidate.
/// - `snap_m` is the sum of both off-road legs (unit to its road, incident to its road): they are not part of the
///   road ETA, so a large value warns that the ETA is optimistic.
#[derive(Debug, Clone)]
pub struct RoadEta {
    network: Arc<RoadNetwork>,
    fallback: StraightLineEta,
}

impl RoadEta {
    /// Road ETAs over `network`, straight-line fallback with the default detour and speed.
    pub fn new(network: Arc<RoadNetwork>) -> Self {
        Self {
            network,
            fallback: StraightLineEta::default(),
        }
    }

    /// The network queried.
    pub fn network(&self) -> &Arc<RoadNetwork> {
        &self.network
    }
}

fn lat_lon(c: Coordinates) -> LatLon {
    // `Coordinates` is checked on construction, so this is always in range.
    LatLon {
        lat: c.lat(),
        lon: c.lon(),
    }
}

impl EtaProvider for RoadEta {
    fn etas(&self, to: Coordinates, from: &[(UnitId, Coordinates)]) -> Vec<Option<Eta>> {
        let target = lat_lon(to);
        if let Err(err) = self.network.snap(target) {
            // No coordinates in the log: only how far off the road the incident was.
            let off_road_m = match err {
                RoadsError::OffRoad { distance_m, .. } => distance_m,
                _ => f64::NAN,
            };
            tracing::warn!(
                off_road_m,
                limit_m = self.network.snap_limit_m(),
                "incident is off the road network; ranking units by straight-line ETA"
            );
            return self
                .fallback
                .etas(to, from)
                .into_iter()
                .map(|eta| {
                    eta.map(|e| Eta {
                        method: METHOD_STRAIGHT_LINE_OFF_ROAD,
                        ..e
                    })
                })
                .collect();
        }
        let sources: Vec<LatLon> = from.iter().map(|(_, c)| lat_lon(*c)).collect();
        let routes = self.network.many_to_one(&sources, target, Metric::Time);
        from.iter()
            .zip(routes)
            .map(|((unit, _), route)| match route {
                Ok(Some(r)) => Some(Eta {
                    duration_s: r.duration_s,
                    distance_m: r.length_m,
                    snap_m: Some(r.snap_from_m + r.snap_to_m),
                    method: METHOD_ROAD,
                }),
                Ok(None) => {
                    tracing::info!(unit = %unit.as_str(), "unit cannot reach the incident by road; not recommended");
                    None
                }
                Err(RoadsError::OffRoad { distance_m, .. }) => {
                    tracing::info!(unit = %unit.as_str(), off_road_m = distance_m, "unit is off the road network; not recommended");
                    None
                }
                Err(err) => {
                    tracing::warn!(unit = %unit.as_str(), error = %err, "no road ETA for unit; not recommended");
                    None
                }
            })
            .collect()
    }
}

/// Loads the road network named by the configuration: `roads` (a `.roads` file from `jikimi roads import`) wins
/// over `roads_pbf` (an OpenStreetMap extract imported at start, emergency profile). `None` when neither is set.
pub fn load_configured(config: &Config) -> Result<Option<Arc<RoadNetwork>>, RoadsError> {
    let started = Instant::now();
    let network = if let Some(path) = &config.roads {
        RoadNetwork::load(path)?
    } else if let Some(path) = &config.roads_pbf {
        RoadNetwork::from_pbf(path, Profile::Emergency)?
    } else {
        return Ok(None);
    };
    tracing::info!(
        nodes = network.num_nodes(),
        segments = network.num_segments(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "road network loaded; recommendations use road ETAs"
    );
    Ok(Some(Arc::new(network)))
}

impl AppState {
    /// Recommendations use road ETAs over `network`, and `GET /api/map/roads` serves its lines. The road closures in
    /// force are applied to it now and whenever they change ([`crate::closures::follow`]).
    pub fn with_roads(mut self, network: Arc<RoadNetwork>) -> Self {
        crate::closures::follow(&self.store, network.clone(), self.closures.clone());
        self.eta = Arc::new(RoadEta::new(network.clone()));
        self.roads = Some(network);
        self
    }
}
