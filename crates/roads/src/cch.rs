//! Customisable contraction hierarchy (CCH; Dibbelt, Strasser, Wagner, "Customizable Contraction
//! Hierarchies", ACM JEA 2016): the metric-independent topology, and customisation that turns a set of
//! arc weights into a queryable [`Ch`] in one pass over the lower triangles.
//!
//! Why: road closures change weights at run time. A classic CH (`fast_paths`, [`Ch::build`]) drops
//! shortcuts whose witness path may run over a closed road, so re-weighting it is wrong and only a full
//! re-contraction (tens of seconds to minutes) is correct. A CCH keeps every shortcut of the chordal
//! completion of a nested-dissection order ([`crate::nd`]), so any metric, including "closed = absent",
//! is applied by the basic customisation: for every node `v` in ascending rank and every pair of upward
//! neighbours `x`, `y`, `w(x→y) = min(w(x→y), w(x→v) + w(v→y))` (and the reverse arc). The result is an
//! ordinary upward/downward graph, so the existing one-to-one and bucket many-to-many queries of
//! [`Ch`] (with stall-on-demand) run on it unchanged and still equal plain Dijkstra.
//!
//! Why hand-written: crates.io has no pure-Rust CCH (`routingkit-cch` 0.1 binds the C++ RoutingKit
//! through FFI and needs a C++ toolchain; KIT's `rust_road_router` is not published) and neither
//! carries our secondary metric per arc, which the queries need to report length and time together.
//!
//! Closed arcs have weight [`INF`] and are skipped by the queries. Path weights above `INF - 1`
//! milli-units (49 days of travel) are treated as unreachable.

use serde::{Deserialize, Serialize};

use crate::RoadsError;
use crate::ch::Ch;
use crate::graph::{Arc, Csr};
use crate::partial::relax;

/// Weight of an absent (closed or never existing) arc.
pub const INF: u32 = u32::MAX;

/// Metric-independent hierarchy: node ranks and the upward arcs of the chordal completion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cch {
    /// Rank per node (position in the nested-dissection order).
    rank: Vec<u32>,
    /// `head[first[v]..first[v + 1]]`: the upward neighbours of `v`, ascending in rank.
    first: Vec<u32>,
    head: Vec<u32>,
}

/// One input arc for [`Cch::customize`]: the hierarchy edge it lies on, its direction, and weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputArc {
    pub edge: u32,
    /// True when the arc runs from the lower-ranked endpoint to the higher one.
    pub upward: bool,
    pub w: u32,
    pub other: u32,
}

impl Cch {
    /// Order the nodes (nested dissection on `xy`) and compute the chordal completion of the
    /// undirected graph given by `pairs` (loops ignored, duplicates allowed).
    pub fn build(
        xy: &[[f64; 2]],
        pairs: impl Iterator<Item = (u32, u32)> + Clone,
    ) -> Result<Self, RoadsError> {
        let n = xy.len();
        if pairs
            .clone()
            .any(|(a, b)| a as usize >= n || b as usize >= n)
        {
            return Err(RoadsError::Internal("arc endpoint out of range".into()));
        }
        let (afirst, ahead) = crate::nd::undirected(n, pairs);
        let order = crate::nd::order(xy, &afirst, &ahead);
        let mut rank = vec![0u32; n];
        for (r, &v) in order.iter().enumerate() {
            rank[v as usize] = r as u32;
        }
        // Elimination in rank space: the upward neighbours of r, minus the lowest (its parent p in
        // the elimination tree), become neighbours of p. Lists are sorted when their node's turn comes,
        // after every lower node has contributed.
        let mut up: Vec<Vec<u32>> = vec![Vec::new(); n];
        for v in 0..n {
            for &w in &ahead[afirst[v] as usize..afirst[v + 1] as usize] {
                let (rv, rw) = (rank[v], rank[w as usize]);
                if rv < rw {
                    up[rv as usize].push(rw);
                }
            }
        }
        drop((afirst, ahead));
        let mut total = 0usize;
        for r in 0..n {
            let mut list = std::mem::take(&mut up[r]);
            list.sort_unstable();
            list.dedup();
            if let Some((&p, rest)) = list.split_first() {
                up[p as usize].extend_from_slice(rest);
            }
            total += list.len();
            up[r] = list;
        }
        if total >= INF as usize {
            return Err(RoadsError::TooLarge);
        }
        let mut first = Vec::with_capacity(n + 1);
        let mut head = Vec::with_capacity(total);
        first.push(0u32);
        for v in 0..n {
            head.extend(up[rank[v] as usize].iter().map(|&r| order[r as usize]));
            first.push(head.len() as u32);
        }
        Ok(Self { rank, first, head })
    }

    pub fn num_nodes(&self) -> usize {
        self.rank.len()
    }

    /// Number of hierarchy edges (each carries one upward and one downward arc).
    pub fn num_edges(&self) -> usize {
        self.head.len()
    }

    pub fn rank(&self) -> &[u32] {
        &self.rank
    }

    /// Upward lists in compressed rows: `(first, head)`, edge `i` joins its row's node to `head[i]`.
    pub fn up_lists(&self) -> (&[u32], &[u32]) {
        (&self.first, &self.head)
    }

    /// The hierarchy edge between `a` and `b`, and whether `a → b` runs upward.
    pub fn edge(&self, a: u32, b: u32) -> Option<InputArcSlot> {
        let (ra, rb) = (*self.rank.get(a as usize)?, *self.rank.get(b as usize)?);
        if ra == rb {
            return None;
        }
        let (lo, hi, upward) = if ra < rb { (a, b, true) } else { (b, a, false) };
        let range = self.first[lo as usize] as usize..self.first[lo as usize + 1] as usize;
        let list = &self.head[range.clone()];
        let rhi = self.rank[hi as usize];
        let i = list.partition_point(|&x| self.rank[x as usize] < rhi);
        (list.get(i) == Some(&hi)).then_some(InputArcSlot {
            edge: (range.start + i) as u32,
            upward,
        })
    }

    /// Structural check for data read from disk: ranks a permutation, offsets monotone, heads in
    /// range, strictly ascending in rank and above their tail. Chordality is checked by customisation.
    pub fn is_consistent(&self) -> bool {
        let n = self.rank.len();
        let mut seen = vec![false; n];
        for &r in &self.rank {
            match seen.get_mut(r as usize) {
                Some(s) if !*s => *s = true,
                _ => return false,
            }
        }
        self.first.len() == n + 1
            && self.first.first() == Some(&0)
            && self.first.windows(2).all(|w| w[0] <= w[1])
            && self.first.last().map(|&l| l as usize) == Some(self.head.len())
            && self.head.iter().all(|&h| (h as usize) < n)
            && (0..n).all(|v| {
                let list = &self.head[self.first[v] as usize..self.first[v + 1] as usize];
                let mut prev = self.rank[v];
                list.iter().all(|&h| {
                    let ok = self.rank[h as usize] > prev;
                    prev = self.rank[h as usize];
                    ok
                })
            })
    }

    /// Basic customisation: input arcs (several on one edge keep the least (weight, other)), then
    /// lower triangles in ascending rank. Returns the queryable hierarchy; absent arcs weigh [`INF`].
    pub fn customize(&self, input: impl IntoIterator<Item = InputArc>) -> Result<Ch, RoadsError> {
        let absent = |&node: &u32| Arc {
            node,
            w: INF,
            other: INF,
        };
        let mut up: Vec<Arc> = self.head.iter().map(absent).collect();
        let mut down = up.clone();
        for a in input {
            let slot = if a.upward {
                up.get_mut(a.edge as usize)
            } else {
                down.get_mut(a.edge as usize)
            }
            .ok_or_else(|| RoadsError::Internal("input arc on an unknown edge".into()))?;
            if (a.w, a.other) < (slot.w, slot.other) {
                slot.w = a.w;
                slot.other = a.other;
            }
        }
        let mut order = vec![0u32; self.rank.len()];
        for (v, &r) in self.rank.iter().enumerate() {
            order[r as usize] = v as u32;
        }
        let not_chordal = || RoadsError::CorruptFile("hierarchy is not chordal".into());
        for &v in &order {
            let (b, end) = (
                self.first[v as usize] as usize,
                self.first[v as usize + 1] as usize,
            );
            for i in b..end {
                let x = self.head[i] as usize;
                // up[i] = v → x, down[i] = x → v
                let (vx, xv) = (up[i], down[i]);
                if vx.w == INF && xv.w == INF {
                    continue;
                }
                let (mut k, kend) = (self.first[x] as usize, self.first[x + 1] as usize);
                for j in i + 1..end {
                    let y = self.head[j];
                    while k < kend && self.head[k] != y {
                        k += 1;
                    }
                    if k == kend {
                        return Err(not_chordal());
                    }
                    let (vy, yv) = (up[j], down[j]);
                    // x → y through v, and y → x through v
                    relax(&mut up[k], xv, vy);
                    relax(&mut down[k], yv, vx);
                }
            }
        }
        Ok(Ch {
            rank: self.rank.clone(),
            up: Csr {
                first: self.first.clone(),
                arcs: up,
            },
            down: Csr {
                first: self.first.clone(),
                arcs: down,
            },
        })
    }
}

/// Where an input arc lies in the hierarchy ([`Cch::edge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputArcSlot {
    pub edge: u32,
    pub upward: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Scratch, Seed, WEdge, dedup_edges, dijkstra_one_to_one};

    fn seed(node: u32) -> Vec<Seed> {
        vec![Seed {
            node,
            w: 0,
            other: 0,
        }]
    }

    /// A jittered grid with random one-way streets and weights (xorshift, no extra crates).
    fn grid(side: u32, mut x: u64) -> (Vec<[f64; 2]>, Vec<WEdge>) {
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let id = |r: u32, c: u32| r * side + c;
        let xy = (0..side * side)
            .map(|i| [f64::from(i % side), f64::from(i / side)])
            .collect();
        let mut edges = Vec::new();
        for r in 0..side {
            for c in 0..side {
                for (r2, c2) in [(r, c + 1), (r + 1, c)] {
                    if r2 < side && c2 < side {
                        let w = 1 + (next() % 50) as u32;
                        let dir = next() % 4;
                        if dir != 1 {
                            edges.push(WEdge {
                                from: id(r, c),
                                to: id(r2, c2),
                                w,
                                other: w * 3,
                            });
                        }
                        if dir != 2 {
                            edges.push(WEdge {
                                from: id(r2, c2),
                                to: id(r, c),
                                w,
                                other: w * 3,
                            });
                        }
                    }
                }
            }
        }
        (xy, dedup_edges(edges))
    }

    fn customise(cch: &Cch, edges: &[WEdge]) -> Ch {
        let input: Vec<InputArc> = edges
            .iter()
            .map(|e| {
                let s = cch
                    .edge(e.from, e.to)
                    .unwrap_or_else(|| panic!("edge missing"));
                InputArc {
                    edge: s.edge,
                    upward: s.upward,
                    w: e.w,
                    other: e.other,
                }
            })
            .collect();
        cch.customize(input).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn customised_hierarchy_equals_dijkstra_before_and_after_closing_arcs() {
        let (xy, edges) = grid(12, 0x1234_5678);
        let n = xy.len();
        let cch =
            Cch::build(&xy, edges.iter().map(|e| (e.from, e.to))).unwrap_or_else(|e| panic!("{e}"));
        assert!(cch.is_consistent());
        // Close every fifth arc, then reopen all: each metric must match Dijkstra on its own graph.
        let closed: Vec<WEdge> = edges
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 5 != 0)
            .map(|(_, e)| *e)
            .collect();
        for graph in [&edges, &closed, &edges] {
            let ch = customise(&cch, graph);
            assert!(ch.is_consistent());
            let plain = Csr::build(n, graph, false);
            let (mut a, mut b) = (Scratch::new(n), Scratch::new(n));
            for s in (0..n as u32).step_by(7) {
                for t in (0..n as u32).step_by(5) {
                    let got = ch
                        .one_to_one(&mut a, &mut b, &seed(s), &seed(t))
                        .map(|r| r.0);
                    let want = dijkstra_one_to_one(&plain, &mut a, &seed(s), &seed(t)).map(|r| r.0);
                    assert_eq!(got, want, "{s} -> {t}");
                }
            }
        }
    }

    #[test]
    fn unchordal_topology_from_disk_is_an_error_not_a_panic() {
        // 0 is below 1 and 2 and adjacent to both, so the fill edge 1–2 must exist; it does not.
        let cch = Cch {
            rank: vec![0, 1, 2],
            first: vec![0, 2, 2, 2],
            head: vec![1, 2],
        };
        assert!(cch.is_consistent());
        let arc = |edge, upward| InputArc {
            edge,
            upward,
            w: 1,
            other: 1,
        };
        assert!(matches!(
            cch.customize([arc(0, true), arc(1, false)]),
            Err(RoadsError::CorruptFile(_))
        ));
    }
}
