//! The network's road lines for maps: every drivable segment as a WGS84 line string.
//!
//! Consumers (the web console's base map, `GET /api/map/roads`) draw these under incidents and units so a
//! dispatcher sees the streets the ETAs were computed on. Pure: no I/O, no serialisation format imposed.

use crate::geo::LatLon;
use crate::network::RoadNetwork;

/// One drivable road segment as drawn on a map.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RoadLine {
    /// First end.
    pub from: LatLon,
    /// Second end.
    pub to: LatLon,
    /// Travel allowed in one direction only (from -> to, or to -> from when imported reversed).
    pub oneway: bool,
}

impl RoadNetwork {
    /// Every segment of the network as a two-point line, in segment order (deterministic).
    ///
    /// Segments are kept as they are (not merged into ways): the console draws them as one
    /// MultiLineString and merging would only save bytes, at the cost of hiding one-way changes.
    pub fn road_lines(&self) -> Vec<RoadLine> {
        let g = self.graph();
        g.segments
            .iter()
            .filter_map(|s| {
                let from = *g.coords.get(s.a as usize)?;
                let to = *g.coords.get(s.b as usize)?;
                let (from, to) = if !s.forward && s.backward {
                    (to, from)
                } else {
                    (from, to)
                };
                Some(RoadLine {
                    from,
                    to,
                    oneway: s.forward != s.backward,
                })
            })
            .collect()
    }

    /// The bounding box of the network's nodes as (south-west, north-east), `None` when empty.
    pub fn bounds(&self) -> Option<(LatLon, LatLon)> {
        let coords = &self.graph().coords;
        let first = *coords.first()?;
        Some(coords.iter().fold((first, first), |(sw, ne), c| {
            (
                LatLon {
                    lat: sw.lat.min(c.lat),
                    lon: sw.lon.min(c.lon),
                },
                LatLon {
                    lat: ne.lat.max(c.lat),
                    lon: ne.lon.max(c.lon),
                },
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::import::{RoadGraph, Segment};
    use crate::{LatLon, Profile, RoadNetwork};

    #[test]
    fn lines_follow_segments_and_direction() {
        let coords = vec![
            LatLon {
                lat: 60.0,
                lon: 24.0,
            },
            LatLon {
                lat: 60.001,
                lon: 24.0,
            },
            LatLon {
                lat: 60.001,
                lon: 24.002,
            },
        ];
        let seg = |a, b, forward, backward| Segment {
            a,
            b,
            forward,
            backward,
            length_m: 100.0,
            duration_s: 10.0,
        };
        let graph = RoadGraph {
            osm_ids: vec![1, 2, 3],
            coords: coords.clone(),
            segments: vec![seg(0, 1, true, true), seg(1, 2, false, true)],
            ..RoadGraph::default()
        };
        let net = match RoadNetwork::build(graph, Profile::Civilian) {
            Ok(n) => n,
            Err(e) => panic!("build: {e}"),
        };
        let lines = net.road_lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].from, lines[0].to, lines[0].oneway),
            (coords[0], coords[1], false)
        );
        // Backward-only: drawn in the direction of travel.
        assert_eq!(
            (lines[1].from, lines[1].to, lines[1].oneway),
            (coords[2], coords[1], true)
        );
        assert_eq!(
            net.bounds(),
            Some((
                coords[0],
                LatLon {
                    lat: 60.001,
                    lon: 24.002
                }
            ))
        );
    }
}
