//! Road closures: which segments are closed, and applying a new closure set by re-customising the
//! hierarchy (no re-import, no re-contraction).
//!
//! The set is replaced as a whole ([`RoadNetwork::set_closed_segments`]): callers (the server) keep
//! the closures themselves, resolve each to segments ([`RoadNetwork::segments_in_area`],
//! [`RoadNetwork::nearest_segment`]) and hand over the union, so reopening is the same call with a
//! smaller set and restores exactly the original hierarchy. A closed segment is absent for routing
//! and for snapping: units and incidents snap to the nearest open road.

use crate::area::Area;
use crate::{RoadNetwork, RoadsError};

impl RoadNetwork {
    /// Close exactly these segments (all others open) and make every later query honour it.
    /// Returns the number of distinct closed segments. Unknown ids are refused and change nothing.
    pub fn set_closed_segments(&self, segments: &[u32]) -> Result<usize, RoadsError> {
        let total = self.num_segments();
        let mut closed = vec![false; total];
        for &s in segments {
            *closed
                .get_mut(s as usize)
                .ok_or(RoadsError::UnknownSegment {
                    segment: s,
                    segments: total,
                })? = true;
        }
        let count = closed.iter().filter(|&&c| c).count();
        let _serial = self
            .updating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let live = self.customise(closed)?;
        *self
            .live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = std::sync::Arc::new(live);
        Ok(count)
    }

    /// Segments closed now, ascending.
    pub fn closed_segments(&self) -> Vec<u32> {
        let live = self.live();
        (0..live.closed.len() as u32)
            .filter(|&s| live.is_closed(s))
            .collect()
    }

    /// Every segment with any part inside the area (closed or not), ascending.
    pub fn segments_in_area(&self, area: &Area) -> Vec<u32> {
        let planar = area.project(&self.projection);
        let Some((lo, hi)) = planar.bbox() else {
            return Vec::new();
        };
        let env = rstar::AABB::from_corners(lo, hi);
        let mut out: Vec<u32> = self
            .rtree
            .locate_in_envelope_intersecting(env)
            .filter(|h| planar.touches_segment(h.geom().from, h.geom().to))
            .map(|h| h.data)
            .collect();
        out.sort_unstable();
        out
    }
}
