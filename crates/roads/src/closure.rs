//! Road closures: which segments are closed, and applying a new closure set by re-customising the
//! hierarchy incrementally ([`crate::partial`]: only the edges a changed segment can affect; no
//! re-import, no re-contraction).
//!
//! The set is replaced as a whole ([`RoadNetwork::set_closed_segments`]): callers (the server) keep
//! the closures themselves, resolve each to segments ([`RoadNetwork::segments_in_area`],
//! [`RoadNetwork::nearest_segment`]) and hand over the union, so reopening is the same call with a
//! smaller set and restores exactly the original hierarchy. A closed segment is absent for routing
//! and for snapping: units and incidents snap to the nearest open road.

use std::sync::Arc;

use crate::area::Area;
use crate::network::Spare;
use crate::{RoadNetwork, RoadsError};

impl RoadNetwork {
    /// Close exactly these segments (all others open) and make every later query honour it.
    /// Returns the number of distinct closed segments. Unknown ids are refused and change nothing.
    pub fn set_closed_segments(&self, segments: &[u32]) -> Result<usize, RoadsError> {
        self.apply_closures(segments).map(|(count, _)| count)
    }

    /// [`Self::set_closed_segments`], also returning how many hierarchy edges were recomputed
    /// (both metrics; for the benchmark).
    pub(crate) fn apply_closures(&self, segments: &[u32]) -> Result<(usize, usize), RoadsError> {
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
        let mut spare = self
            .updating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.live();
        // Reuse the state the previous update retired if no query holds it any more.
        let mut next = match spare.take().map(|s| (Arc::try_unwrap(s.live), s.stale)) {
            Some((Ok(mut old), stale)) => {
                old.catch_up(&current, &stale);
                old
            }
            _ => current.copy(),
        };
        let (stale, recomputed) = self.update_live(&current, &mut next, closed)?;
        let retired = std::mem::replace(
            &mut *self
                .live
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            Arc::new(next),
        );
        drop(retired);
        *spare = Some(Spare {
            live: current,
            stale,
        });
        Ok((count, recomputed))
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::import::{RoadGraph, Segment};
    use crate::{LatLon, Metric, Profile, RoadNetwork};

    /// A side×side street grid with some one-way streets and a few parallel duplicate segments
    /// (several segments on one hierarchy edge), weights from `w`.
    fn graph(side: u32, w: &[u8], kinds: &[u8]) -> RoadGraph {
        let coords: Vec<LatLon> = (0..side * side)
            .map(|i| LatLon {
                lat: 60.0 + f64::from(i / side) * 0.001,
                lon: 24.0 + f64::from(i % side) * 0.002,
            })
            .collect();
        let mut segments = Vec::new();
        for r in 0..side {
            for c in 0..side {
                for (r2, c2) in [(r, c + 1), (r + 1, c)] {
                    if r2 >= side || c2 >= side {
                        continue;
                    }
                    let k = segments.len();
                    let kind = kinds[k % kinds.len()] % 7;
                    let length_m = 50.0 + f64::from(w[k % w.len()]);
                    let seg = Segment {
                        a: r * side + c,
                        b: r2 * side + c2,
                        forward: kind != 3,
                        backward: kind != 4,
                        length_m,
                        duration_s: length_m / if kind == 0 { 16.7 } else { 8.3 },
                    };
                    segments.push(seg);
                    if kind == 5 {
                        // A parallel, slower road between the same two nodes.
                        segments.push(Segment {
                            length_m: length_m * 1.5,
                            ..seg
                        });
                    }
                }
            }
        }
        RoadGraph::synthetic(coords, segments)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// After any sequence of closure sets (closing, reopening some, reopening all), the
        /// incrementally updated hierarchies equal a full customisation for the same set, arc for arc.
        #[test]
        fn incremental_customisation_equals_full_after_any_close_reopen_sequence(
            side in 3u32..9,
            w in proptest::collection::vec(0u8..255, 1..40),
            kinds in proptest::collection::vec(0u8..255, 1..40),
            steps in proptest::collection::vec(proptest::collection::vec(0usize..10_000, 0..25), 1..6),
        ) {
            let net = RoadNetwork::build(graph(side, &w, &kinds), Profile::Civilian)
                .unwrap_or_else(|e| panic!("{e}"));
            let total = net.num_segments();
            let initial = net.live();
            let mut sets: Vec<Vec<u32>> = steps
                .iter()
                .map(|s| s.iter().map(|&i| (i % total) as u32).collect())
                .collect();
            sets.push(Vec::new());
            for set in sets {
                net.set_closed_segments(&set).unwrap_or_else(|e| panic!("{e}"));
                let live = net.live();
                let full = net.customise(live.closed.clone()).unwrap_or_else(|e| panic!("{e}"));
                for m in [Metric::Time, Metric::Distance] {
                    prop_assert_eq!(&live.ch(m).up.arcs, &full.ch(m).up.arcs);
                    prop_assert_eq!(&live.ch(m).down.arcs, &full.ch(m).down.arcs);
                }
            }
            // Everything reopened: exactly the hierarchy the network started with.
            let live = net.live();
            for m in [Metric::Time, Metric::Distance] {
                prop_assert_eq!(&live.ch(m).up.arcs, &initial.ch(m).up.arcs);
                prop_assert_eq!(&live.ch(m).down.arcs, &initial.ch(m).down.arcs);
            }
        }
    }
}
