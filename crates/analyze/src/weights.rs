//! Spatial weights: who is a neighbour of whom, and how much each neighbour counts.
//!
//! [`Weights`] stores a sparse row structure (compressed sparse rows, neighbours sorted by index) with
//! the *original* weight of each link, as libpysal's `W` does before a transform. Builders:
//! [`Weights::contiguity`] (queen: a shared vertex, rook: a shared edge; found by hashing exact vertex
//! coordinates, never by comparing all pairs), [`Weights::knn`] and [`Weights::distance_band`] (an R*-tree
//! from `rstar`), and [`Weights::h3_cells`] (H3 grid adjacency). [`Weights::transformed`] applies libpysal's
//! `B` (binary) or `R` (row-standardised) transform, optionally after adding a self-weight as esda's
//! `G_Local(star=True)` does. Areas without neighbours are *islands*: they are kept, reported by
//! [`Weights::islands`], and get documented neutral results in the statistics.

use std::collections::HashMap;

use geo::{MultiPolygon, Point};
use rstar::{RTree, primitives::GeomWithData};

use crate::error::{Error, Result};

/// How contiguity is decided between two polygons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contiguity {
    /// Neighbours share at least one vertex (libpysal `Queen`).
    Queen,
    /// Neighbours share at least one edge, i.e. two consecutive vertices (libpysal `Rook`).
    Rook,
}

/// libpysal's weight transforms that esda's statistics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// `B`: every link weighs 1.
    Binary,
    /// `R`: each row's weights sum to 1 (islands keep an empty row).
    RowStandardised,
}

impl std::str::FromStr for Transform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "B" | "b" => Ok(Transform::Binary),
            "R" | "r" => Ok(Transform::RowStandardised),
            other => Err(Error::Argument(format!(
                "transform '{other}' is not B or R"
            ))),
        }
    }
}

/// A sparse spatial weights matrix without self-links, rows sorted by neighbour index.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    offsets: Vec<usize>,
    neighbours: Vec<u32>,
    values: Vec<f64>,
}

/// Weights after a transform, ready for the statistics: off-diagonal rows plus a diagonal (self-weight).
#[derive(Debug, Clone, PartialEq)]
pub struct TransformedWeights {
    /// Row `i` spans `offsets[i]..offsets[i + 1]` of `neighbours` and `values`.
    pub offsets: Vec<usize>,
    /// Neighbour indices, sorted within each row, never equal to the row.
    pub neighbours: Vec<u32>,
    /// Transformed weight of each link.
    pub values: Vec<f64>,
    /// Transformed self-weight `w_ii` of each row (zero unless a self-weight was added).
    pub diagonal: Vec<f64>,
}

impl Weights {
    /// Builds weights from per-row neighbour lists with weight 1 (binary), sorting and de-duplicating
    /// each row and dropping self-links.
    pub fn from_neighbour_lists(lists: &[Vec<usize>]) -> Result<Self> {
        let n = lists.len();
        let mut offsets = Vec::with_capacity(n + 1);
        let mut neighbours = Vec::new();
        offsets.push(0);
        for (i, row) in lists.iter().enumerate() {
            let mut row: Vec<u32> = row
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| {
                    if j >= n {
                        Err(Error::Weights(format!(
                            "row {i} names neighbour {j} but there are only {n} areas"
                        )))
                    } else {
                        u32::try_from(j).map_err(|_| Error::Weights("more than 2^32 areas".into()))
                    }
                })
                .collect::<Result<_>>()?;
            row.sort_unstable();
            row.dedup();
            neighbours.extend_from_slice(&row);
            offsets.push(neighbours.len());
        }
        let values = vec![1.0; neighbours.len()];
        Ok(Weights {
            offsets,
            neighbours,
            values,
        })
    }

    /// Number of areas (rows).
    pub fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Neighbours of area `i`, sorted.
    pub fn neighbours(&self, i: usize) -> &[u32] {
        &self.neighbours[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Number of neighbours of each area.
    pub fn cardinalities(&self) -> Vec<usize> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Areas with no neighbour at all.
    pub fn islands(&self) -> Vec<usize> {
        (0..self.n())
            .filter(|&i| self.offsets[i] == self.offsets[i + 1])
            .collect()
    }

    /// Total number of (directed) links.
    pub fn n_links(&self) -> usize {
        self.neighbours.len()
    }

    /// Contiguity weights from polygons, by hashing exact vertex coordinates (libpysal's rule).
    ///
    /// Two polygons are queen neighbours if any vertex coordinate pair is bit-identical, rook neighbours
    /// if any edge (two consecutive vertices, either direction) is. Polygons with no shared vertex become
    /// islands. Cost is linear in the number of vertices plus the number of pairs per shared vertex.
    pub fn contiguity(polygons: &[MultiPolygon<f64>], kind: Contiguity) -> Result<Self> {
        let n = polygons.len();
        if n == 0 {
            return Err(Error::Empty(
                "no polygons to build contiguity weights from".into(),
            ));
        }
        // Adding 0.0 folds -0.0 into 0.0 so that both hash alike.
        let key = |c: geo::Coord<f64>| ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits());
        let mut lists: Vec<Vec<usize>> = vec![Vec::new(); n];
        match kind {
            Contiguity::Queen => {
                let mut by_vertex: HashMap<(u64, u64), Vec<u32>> = HashMap::new();
                for (idx, mp) in polygons.iter().enumerate() {
                    let idx = idx as u32;
                    for poly in &mp.0 {
                        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                            for c in ring.coords() {
                                let owners = by_vertex.entry(key(*c)).or_default();
                                if owners.last() != Some(&idx) && !owners.contains(&idx) {
                                    owners.push(idx);
                                }
                            }
                        }
                    }
                }
                link_owners(by_vertex.into_values(), &mut lists);
            }
            Contiguity::Rook => {
                let mut by_edge: HashMap<(VertexKey, VertexKey), Vec<u32>> = HashMap::new();
                for (idx, mp) in polygons.iter().enumerate() {
                    let idx = idx as u32;
                    for poly in &mp.0 {
                        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                            for line in ring.lines() {
                                let (a, b) = (key(line.start), key(line.end));
                                if a == b {
                                    continue;
                                }
                                let edge = if a < b { (a, b) } else { (b, a) };
                                let owners = by_edge.entry(edge).or_default();
                                if !owners.contains(&idx) {
                                    owners.push(idx);
                                }
                            }
                        }
                    }
                }
                link_owners(by_edge.into_values(), &mut lists);
            }
        }
        Self::from_neighbour_lists(&lists)
    }

    /// The `k` nearest neighbours of each point (Euclidean, planar coordinates), via an R*-tree.
    ///
    /// Ties at the k-th distance are broken by the tree's order, as scipy's KD-tree does by its own.
    pub fn knn(points: &[Point<f64>], k: usize) -> Result<Self> {
        let n = points.len();
        if k == 0 {
            return Err(Error::Argument("knn needs k >= 1".into()));
        }
        if n <= k {
            return Err(Error::TooFew {
                n,
                needed: k + 1,
                what: "k nearest neighbours",
            });
        }
        let tree = point_tree(points)?;
        let lists: Vec<Vec<usize>> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                tree.nearest_neighbor_iter([p.x(), p.y()])
                    .map(|g| g.data as usize)
                    .filter(|&j| j != i)
                    .take(k)
                    .collect()
            })
            .collect();
        Self::from_neighbour_lists(&lists)
    }

    /// Binary distance-band weights: `j` neighbours `i` iff `0 < d_ij <= threshold` (libpysal
    /// `DistanceBand(binary=True)`; coincident points are not neighbours, as in libpysal).
    pub fn distance_band(points: &[Point<f64>], threshold: f64) -> Result<Self> {
        if !(threshold.is_finite() && threshold > 0.0) {
            return Err(Error::Argument(format!(
                "distance threshold {threshold} must be positive"
            )));
        }
        let tree = point_tree(points)?;
        let lists: Vec<Vec<usize>> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                // The tree's squared-distance query is padded slightly; the exact test is on d itself.
                tree.locate_within_distance([p.x(), p.y()], threshold * threshold * (1.0 + 1e-9))
                    .filter_map(|g| {
                        let j = g.data as usize;
                        let (dx, dy) = (g.geom()[0] - p.x(), g.geom()[1] - p.y());
                        let d = (dx * dx + dy * dy).sqrt();
                        (j != i && d > 0.0 && d <= threshold).then_some(j)
                    })
                    .collect()
            })
            .collect();
        Self::from_neighbour_lists(&lists)
    }

    /// Adjacency of H3 cells (each cell's ring at grid distance 1 that is present in the list).
    ///
    /// For hexagons queen and rook contiguity coincide; pentagons have five neighbours.
    pub fn h3_cells(cells: &[h3o::CellIndex]) -> Result<Self> {
        let index: HashMap<h3o::CellIndex, usize> =
            cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        if index.len() != cells.len() {
            return Err(Error::Weights("duplicate H3 cells".into()));
        }
        let lists: Vec<Vec<usize>> = cells
            .iter()
            .map(|c| {
                let ring: Vec<h3o::CellIndex> = c.grid_disk(1);
                ring.into_iter()
                    .filter(|r| r != c)
                    .filter_map(|r| index.get(&r).copied())
                    .collect()
            })
            .collect();
        Self::from_neighbour_lists(&lists)
    }

    /// Applies a transform, after optionally giving every row a self-weight.
    ///
    /// `self_weight = Some(w)` mirrors esda's Gi* preparation: the diagonal is set to `w` (1 for binary
    /// weights) *before* the transform, so with `R` the row including itself sums to 1.
    pub fn transformed(
        &self,
        transform: Transform,
        self_weight: Option<f64>,
    ) -> TransformedWeights {
        let n = self.n();
        let mut values = self.values.clone();
        let mut diagonal = vec![self_weight.unwrap_or(0.0); n];
        if transform == Transform::Binary {
            values.iter_mut().for_each(|v| *v = 1.0);
            if self_weight.is_some() {
                diagonal.iter_mut().for_each(|d| *d = 1.0);
            }
        }
        if transform == Transform::RowStandardised {
            for (i, d) in diagonal.iter_mut().enumerate() {
                let row = self.offsets[i]..self.offsets[i + 1];
                let sum: f64 = values[row.clone()].iter().sum::<f64>() + *d;
                if sum > 0.0 {
                    values[row].iter_mut().for_each(|v| *v /= sum);
                    *d /= sum;
                }
            }
        }
        TransformedWeights {
            offsets: self.offsets.clone(),
            neighbours: self.neighbours.clone(),
            values,
            diagonal,
        }
    }
}

impl TransformedWeights {
    /// Number of rows.
    pub fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Off-diagonal neighbours and weights of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.offsets[i]..self.offsets[i + 1];
        (&self.neighbours[r.clone()], &self.values[r])
    }

    /// Spatial lag `sum_j w_ij x_j` including the diagonal.
    pub fn lag(&self, x: &[f64]) -> Vec<f64> {
        (0..self.n())
            .map(|i| {
                let (nb, w) = self.row(i);
                nb.iter()
                    .zip(w)
                    .map(|(&j, &wij)| wij * x[j as usize])
                    .sum::<f64>()
                    + self.diagonal[i] * x[i]
            })
            .collect()
    }

    /// Row sums including the diagonal.
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.n())
            .map(|i| self.row(i).1.iter().sum::<f64>() + self.diagonal[i])
            .collect()
    }

    /// Weight `w_ij` (0 when absent), by binary search in the sorted row.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        if i == j {
            return self.diagonal[i];
        }
        let (nb, w) = self.row(i);
        nb.binary_search(&(j as u32)).map(|k| w[k]).unwrap_or(0.0)
    }

    /// libpysal's `s0`, `s1`, `s2` (sums used by Moran's analytic moments).
    pub fn s0_s1_s2(&self) -> (f64, f64, f64) {
        let n = self.n();
        let mut s0 = 0.0;
        let mut s1 = 0.0;
        let mut col_sums = vec![0.0; n];
        for i in 0..n {
            let (nb, w) = self.row(i);
            for (&j, &wij) in nb.iter().zip(w) {
                let j = j as usize;
                s0 += wij;
                col_sums[j] += wij;
                let wji = self.get(j, i);
                s1 += (wij + wji) * (wij + wji);
            }
            let d = self.diagonal[i];
            s0 += d;
            col_sums[i] += d;
            s1 += 4.0 * d * d;
        }
        // s1 sums (w_ij + w_ji)^2 over *ordered* pairs, then halves. The loop above visited every stored
        // link; a link stored in one direction only (kNN) also has a mirror pair (j, i) worth w_ij^2.
        for i in 0..n {
            let (nb, w) = self.row(i);
            for (&j, &wij) in nb.iter().zip(w) {
                if self.get(j as usize, i) == 0.0 {
                    s1 += wij * wij;
                }
            }
        }
        let s1 = s1 / 2.0;
        let row_sums = self.row_sums();
        let s2 = row_sums
            .iter()
            .zip(&col_sums)
            .map(|(r, c)| (r + c) * (r + c))
            .sum();
        (s0, s1, s2)
    }
}

/// Exact coordinate bits of a vertex.
type VertexKey = (u64, u64);

fn link_owners(groups: impl Iterator<Item = Vec<u32>>, lists: &mut [Vec<usize>]) {
    for owners in groups {
        if owners.len() < 2 {
            continue;
        }
        for &a in &owners {
            for &b in &owners {
                if a != b {
                    lists[a as usize].push(b as usize);
                }
            }
        }
    }
}

fn point_tree(points: &[Point<f64>]) -> Result<RTree<GeomWithData<[f64; 2], u32>>> {
    if points.is_empty() {
        return Err(Error::Empty("no points to build weights from".into()));
    }
    let items = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if !(p.x().is_finite() && p.y().is_finite()) {
                return Err(Error::Geometry {
                    feature: i,
                    problem: "point coordinates are not finite".into(),
                });
            }
            Ok(GeomWithData::new([p.x(), p.y()], i as u32))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RTree::bulk_load(items))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        let ring = vec![
            (x, y),
            (x + 1.0, y),
            (x + 1.0, y + 1.0),
            (x, y + 1.0),
            (x, y),
        ];
        MultiPolygon(vec![geo::Polygon::new(ring.into(), vec![])])
    }

    #[test]
    fn queen_and_rook_differ_on_a_diagonal() {
        let polys = vec![
            square(0.0, 0.0),
            square(1.0, 0.0),
            square(1.0, 1.0),
            square(5.0, 5.0),
        ];
        let q = Weights::contiguity(&polys, Contiguity::Queen).unwrap();
        let r = Weights::contiguity(&polys, Contiguity::Rook).unwrap();
        assert_eq!(q.neighbours(0), &[1, 2]);
        assert_eq!(r.neighbours(0), &[1]);
        assert_eq!(q.islands(), vec![3]);
    }

    #[test]
    fn row_standardised_rows_sum_to_one() {
        let w = Weights::from_neighbour_lists(&[vec![1, 2], vec![0], vec![0], vec![]]).unwrap();
        let t = w.transformed(Transform::RowStandardised, None);
        assert_eq!(t.row_sums(), vec![1.0, 1.0, 1.0, 0.0]);
        let star = w.transformed(Transform::RowStandardised, Some(1.0));
        assert!((star.diagonal[0] - 1.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn s1_counts_asymmetric_links() {
        // One link 0 -> 1 only: s1 = 0.5 * ((1+0)^2 + (0+1)^2) = 1.
        let w = Weights::from_neighbour_lists(&[vec![1], vec![]]).unwrap();
        let (s0, s1, s2) = w.transformed(Transform::Binary, None).s0_s1_s2();
        assert_eq!((s0, s1, s2), (1.0, 1.0, 2.0));
    }
}
