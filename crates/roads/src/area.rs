//! Areas for road closures: (multi)polygons with holes, and the test "does this road segment run
//! through the area".
//!
//! Why a segment counts when any part of it is inside (an endpoint inside, or the segment crossing a
//! ring): a flooded underpass or a collapsed block closes every road that enters it, not only those
//! lying wholly within. Tests are planar in the network's local projection, which at city scale is far
//! more precise than the polygons dispatchers draw.

use crate::RoadsError;
use crate::geo::{LatLon, Projection};

/// One polygon: an exterior ring and optional holes, each a ring of at least three distinct points
/// (a closing point equal to the first is accepted and ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    pub exterior: Vec<LatLon>,
    pub holes: Vec<Vec<LatLon>>,
}

/// A closed area: the union of its polygons.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    polygons: Vec<Polygon>,
}

impl Area {
    /// Checked area: at least one polygon, every coordinate in range, every ring with ≥ 3 points.
    pub fn new(polygons: Vec<Polygon>) -> Result<Self, RoadsError> {
        if polygons.is_empty() {
            return Err(RoadsError::InvalidArea("no polygon".into()));
        }
        for p in &polygons {
            for ring in std::iter::once(&p.exterior).chain(&p.holes) {
                for c in ring {
                    LatLon::new(c.lat, c.lon)?;
                }
                let open = ring.len() - usize::from(ring.len() > 1 && ring.first() == ring.last());
                if open < 3 {
                    return Err(RoadsError::InvalidArea(
                        "a ring needs at least three distinct points".into(),
                    ));
                }
            }
        }
        Ok(Self { polygons })
    }

    pub fn polygons(&self) -> &[Polygon] {
        &self.polygons
    }

    /// The area in planar coordinates, for repeated segment tests.
    pub(crate) fn project(&self, pr: &Projection) -> Planar {
        let ring = |r: &[LatLon]| r.iter().map(|&c| pr.forward(c)).collect::<Vec<_>>();
        Planar {
            polygons: self
                .polygons
                .iter()
                .map(|p| {
                    std::iter::once(ring(&p.exterior))
                        .chain(p.holes.iter().map(|h| ring(h)))
                        .collect()
                })
                .collect(),
        }
    }
}

/// A projected area: per polygon, its rings (exterior first).
pub(crate) struct Planar {
    polygons: Vec<Vec<Vec<[f64; 2]>>>,
}

impl Planar {
    /// Bounding box (min, max), or `None` for an empty area.
    pub(crate) fn bbox(&self) -> Option<([f64; 2], [f64; 2])> {
        let mut pts = self.polygons.iter().flat_map(|p| p.first()).flatten();
        let first = *pts.next()?;
        Some(pts.fold((first, first), |(lo, hi), p| {
            (
                [lo[0].min(p[0]), lo[1].min(p[1])],
                [hi[0].max(p[0]), hi[1].max(p[1])],
            )
        }))
    }

    /// Inside the union (inside an exterior ring and outside that polygon's holes).
    pub(crate) fn contains(&self, p: [f64; 2]) -> bool {
        self.polygons.iter().any(|rings| {
            rings
                .split_first()
                .is_some_and(|(ext, holes)| in_ring(ext, p) && !holes.iter().any(|h| in_ring(h, p)))
        })
    }

    /// Any part of the segment a–b inside the area.
    pub(crate) fn touches_segment(&self, a: [f64; 2], b: [f64; 2]) -> bool {
        self.contains(a)
            || self.contains(b)
            || self
                .polygons
                .iter()
                .flatten()
                .any(|ring| edges(ring).any(|(c, d)| crosses(a, b, c, d)))
    }
}

/// Consecutive edges of a ring, closing it if the data did not.
fn edges(ring: &[[f64; 2]]) -> impl Iterator<Item = ([f64; 2], [f64; 2])> + '_ {
    (0..ring.len()).map(move |i| (ring[i], ring[(i + 1) % ring.len()]))
}

/// Even-odd rule.
fn in_ring(ring: &[[f64; 2]], p: [f64; 2]) -> bool {
    let mut inside = false;
    for (a, b) in edges(ring) {
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/// Segments a–b and c–d share a point (touching counts).
fn crosses(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (o1, o2, o3, o4) = (
        orient(a, b, c),
        orient(a, b, d),
        orient(c, d, a),
        orient(c, d, b),
    );
    let on = |p: [f64; 2], q: [f64; 2], r: [f64; 2]| {
        r[0] >= p[0].min(q[0])
            && r[0] <= p[0].max(q[0])
            && r[1] >= p[1].min(q[1])
            && r[1] <= p[1].max(q[1])
    };
    if ((o1 > 0.0 && o2 < 0.0) || (o1 < 0.0 && o2 > 0.0))
        && ((o3 > 0.0 && o4 < 0.0) || (o3 < 0.0 && o4 > 0.0))
    {
        return true;
    }
    (o1 == 0.0 && on(a, b, c))
        || (o2 == 0.0 && on(a, b, d))
        || (o3 == 0.0 && on(c, d, a))
        || (o4 == 0.0 && on(c, d, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, s: f64) -> Vec<[f64; 2]> {
        vec![
            [x0, y0],
            [x0 + s, y0],
            [x0 + s, y0 + s],
            [x0, y0 + s],
            [x0, y0],
        ]
    }

    #[test]
    fn segments_inside_crossing_and_in_holes() {
        let area = Planar {
            polygons: vec![vec![square(0.0, 0.0, 10.0), square(4.0, 4.0, 2.0)]],
        };
        assert!(area.touches_segment([1.0, 1.0], [2.0, 2.0]), "inside");
        assert!(area.touches_segment([-5.0, 5.0], [15.0, 5.0]), "through");
        assert!(area.touches_segment([-5.0, 1.0], [1.0, 1.0]), "one end in");
        assert!(
            !area.touches_segment([4.5, 4.5], [5.5, 5.5]),
            "inside the hole"
        );
        assert!(
            area.touches_segment([5.0, 5.0], [8.0, 5.0]),
            "from the hole out into the area"
        );
        assert!(!area.touches_segment([11.0, 0.0], [11.0, 10.0]), "outside");
        assert!(!area.contains([5.0, 5.0]));
        assert!(area.contains([1.0, 9.0]));
    }

    #[test]
    fn rings_are_checked() {
        let p = |lat, lon| LatLon { lat, lon };
        let tri = vec![p(0.0, 0.0), p(0.0, 1.0), p(1.0, 0.0), p(0.0, 0.0)];
        assert!(
            Area::new(vec![Polygon {
                exterior: tri.clone(),
                holes: vec![]
            }])
            .is_ok()
        );
        assert!(Area::new(vec![]).is_err());
        let two = vec![p(0.0, 0.0), p(0.0, 1.0), p(0.0, 0.0)];
        assert!(
            Area::new(vec![Polygon {
                exterior: two,
                holes: vec![]
            }])
            .is_err()
        );
        assert!(
            Area::new(vec![Polygon {
                exterior: vec![p(0.0, 0.0), p(0.0, 1.0), p(95.0, 0.0)],
                holes: vec![]
            }])
            .is_err()
        );
    }
}
