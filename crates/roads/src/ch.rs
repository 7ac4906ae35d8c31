//! Contraction hierarchy: built with `fast_paths`, queried by our own code (one-to-one and bucket
//! many-to-many).
//!
//! Why our own queries: `fast_paths` answers point-to-point only and its weights carry a single
//! metric. Dispatch needs one incident against many units in one go (bucket many-to-many) and both
//! time and length of the chosen route. So `fast_paths` does the node ordering and shortcut creation
//! (the hard, well-tested part), and we copy its result into upward graphs that carry a secondary
//! weight per arc. Its `FastGraph` fields are crate-private but the type is serde-serialisable
//! (that is its documented file format), so we read it through a field-for-field serde twin; the
//! dependency is pinned with `=` and the CH-equals-Dijkstra property tests guard the layout.

use std::cmp::Reverse;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::RoadsError;
use crate::graph::{Csr, Scratch, Seed, WEdge};

/// Serde twin of `fast_paths::FastGraph` 1.0.0 (same field order and types).
#[derive(Deserialize)]
struct FgTwin {
    num_nodes: usize,
    ranks: Vec<usize>,
    edges_fwd: Vec<FgEdgeTwin>,
    first_edge_ids_fwd: Vec<usize>,
    edges_bwd: Vec<FgEdgeTwin>,
    first_edge_ids_bwd: Vec<usize>,
}

/// Serde twin of `fast_paths::FastGraphEdge` 1.0.0.
#[derive(Deserialize, Clone, Copy)]
struct FgEdgeTwin {
    base_node: usize,
    adj_node: usize,
    weight: usize,
    replaced_in_edge: usize,
    replaced_out_edge: usize,
}

const INVALID: usize = usize::MAX;
const INF_W: u32 = crate::cch::INF;

/// The preprocessed graph for one metric.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ch {
    /// Contraction rank per node (higher = more important).
    pub rank: Vec<u32>,
    /// Upward forward arcs: for `u`, arcs `u -> v` with `rank[v] > rank[u]`.
    pub up: Csr,
    /// Upward backward arcs: for `u`, arcs `v -> u` with `rank[v] > rank[u]`, stored as `v`.
    pub down: Csr,
}

impl Ch {
    /// Contract a graph of `n` nodes. `edges` must be deduplicated, loop-free, with weights >= 1.
    pub fn build(n: usize, edges: &[WEdge]) -> Result<Self, RoadsError> {
        if n == 0 {
            return Ok(Self {
                rank: Vec::new(),
                up: Csr::build(0, &[], false),
                down: Csr::build(0, &[], false),
            });
        }
        let mut input = fast_paths::InputGraph::new();
        let mut original: HashMap<(usize, usize), u32> = HashMap::with_capacity(edges.len());
        for e in edges {
            input.add_edge(e.from as usize, e.to as usize, e.w as usize);
            original.insert((e.from as usize, e.to as usize), e.other);
        }
        input.freeze();
        // fast_paths sizes the graph by the largest node id seen; isolated high ids would be lost.
        if input.get_num_nodes() != n {
            return Err(RoadsError::Internal(format!(
                "graph has {n} nodes but edges only reach {}",
                input.get_num_nodes()
            )));
        }
        let fg = fast_paths::prepare(&input);
        let bytes = postcard::to_allocvec(&fg)
            .map_err(|e| RoadsError::Internal(format!("serialising contraction: {e}")))?;
        drop(fg);
        let tw: FgTwin = postcard::from_bytes(&bytes)
            .map_err(|e| RoadsError::Internal(format!("reading contraction: {e}")))?;
        drop(bytes);
        Self::from_twin(n, &tw, &original)
    }

    fn from_twin(
        n: usize,
        tw: &FgTwin,
        original: &HashMap<(usize, usize), u32>,
    ) -> Result<Self, RoadsError> {
        let bad =
            |what: &str| RoadsError::Internal(format!("unexpected contraction layout: {what}"));
        if tw.num_nodes != n
            || tw.ranks.len() != n
            || tw.first_edge_ids_fwd.len() != n + 1
            || tw.first_edge_ids_bwd.len() != n + 1
        {
            return Err(bad("sizes"));
        }
        // Secondary weight of every arc. Edges are stored in rank order and a shortcut's replaced
        // arcs belong to a lower-ranked node, so one pass over ranks resolves all of them.
        let mut sec_fwd = vec![0u64; tw.edges_fwd.len()];
        let mut sec_bwd = vec![0u64; tw.edges_bwd.len()];
        let lookup = |from: usize, to: usize| original.get(&(from, to)).copied().map(u64::from);
        for r in 0..n {
            for i in tw.first_edge_ids_fwd[r]..tw.first_edge_ids_fwd[r + 1] {
                let e = tw.edges_fwd.get(i).ok_or_else(|| bad("fwd index"))?;
                sec_fwd[i] = if e.replaced_in_edge == INVALID {
                    lookup(e.base_node, e.adj_node).ok_or_else(|| bad("fwd original"))?
                } else {
                    let a = sec_bwd
                        .get(e.replaced_in_edge)
                        .ok_or_else(|| bad("fwd in"))?;
                    let b = sec_fwd
                        .get(e.replaced_out_edge)
                        .ok_or_else(|| bad("fwd out"))?;
                    a + b
                };
            }
            for i in tw.first_edge_ids_bwd[r]..tw.first_edge_ids_bwd[r + 1] {
                let e = tw.edges_bwd.get(i).ok_or_else(|| bad("bwd index"))?;
                sec_bwd[i] = if e.replaced_in_edge == INVALID {
                    lookup(e.adj_node, e.base_node).ok_or_else(|| bad("bwd original"))?
                } else {
                    let a = sec_bwd
                        .get(e.replaced_in_edge)
                        .ok_or_else(|| bad("bwd in"))?;
                    let b = sec_fwd
                        .get(e.replaced_out_edge)
                        .ok_or_else(|| bad("bwd out"))?;
                    a + b
                };
            }
        }
        let to_u32 = |x: u64| u32::try_from(x).map_err(|_| bad("weight exceeds u32"));
        let mut up = Vec::with_capacity(tw.edges_fwd.len());
        for (e, &s) in tw.edges_fwd.iter().zip(&sec_fwd) {
            up.push(WEdge {
                from: to_u32(e.base_node as u64)?,
                to: to_u32(e.adj_node as u64)?,
                w: to_u32(e.weight as u64)?,
                other: to_u32(s)?,
            });
        }
        // `down` is indexed by the lower node and points to the higher one (the tail of the arc).
        let mut down = Vec::with_capacity(tw.edges_bwd.len());
        for (e, &s) in tw.edges_bwd.iter().zip(&sec_bwd) {
            down.push(WEdge {
                from: to_u32(e.base_node as u64)?,
                to: to_u32(e.adj_node as u64)?,
                w: to_u32(e.weight as u64)?,
                other: to_u32(s)?,
            });
        }
        let rank = tw
            .ranks
            .iter()
            .map(|&r| to_u32(r as u64))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rank,
            up: Csr::build(n, &up, false),
            down: Csr::build(n, &down, false),
        })
    }

    pub fn num_nodes(&self) -> usize {
        self.rank.len()
    }

    /// Number of arcs including shortcuts (both directions).
    pub fn num_arcs(&self) -> usize {
        self.up.arcs.len() + self.down.arcs.len()
    }

    /// Structural check for data read from disk (prevents out-of-bounds panics on crafted files).
    pub fn is_consistent(&self) -> bool {
        let n = self.rank.len();
        let upward = |g: &Csr| {
            (0..n as u32).all(|v| {
                g.arcs(v)
                    .iter()
                    .all(|a| self.rank[a.node as usize] > self.rank[v as usize])
            })
        };
        self.up.is_consistent(n)
            && self.down.is_consistent(n)
            && upward(&self.up)
            && upward(&self.down)
    }

    /// Upward search step shared by all queries: pops the next node, applies stall-on-demand, and
    /// relaxes its upward arcs. Returns the settled (not stalled) node and its labels.
    #[inline]
    fn step(graph: &Csr, stall: &Csr, s: &mut Scratch) -> Option<Option<(u32, u64, u64)>> {
        let Reverse((d, v)) = s.heap.pop()?;
        let vi = v as usize;
        if s.settled[vi] || d > s.dist[vi] {
            return Some(None);
        }
        s.settled[vi] = true;
        // Stall on demand: if a higher node already reaches v more cheaply through an arc that
        // points down to v, v's label is not a shortest distance and nothing beyond it matters.
        // Arcs of weight `INF` are closed (customisable hierarchy, `crate::cch`) and never used.
        for a in stall.arcs(v) {
            let du = s.dist[a.node as usize];
            if du != u64::MAX && a.w != INF_W && du + u64::from(a.w) < d {
                return Some(None);
            }
        }
        let o = s.other[vi];
        for a in graph.arcs(v) {
            if a.w != INF_W {
                s.relax(a.node, d + u64::from(a.w), o + u64::from(a.other));
            }
        }
        Some(Some((v, d, o)))
    }

    /// Shortest (primary, secondary) from any source seed to any target seed.
    pub fn one_to_one(
        &self,
        fwd: &mut Scratch,
        bwd: &mut Scratch,
        sources: &[Seed],
        targets: &[Seed],
    ) -> Option<(u64, u64)> {
        fwd.seed(sources);
        bwd.seed(targets);
        let mut best: Option<(u64, u64)> = None;
        let min = |s: &Scratch| s.heap.peek().map(|Reverse((d, _))| *d);
        loop {
            let bound = best.map_or(u64::MAX, |b| b.0);
            let f_open = min(fwd).is_some_and(|d| d < bound);
            let b_open = min(bwd).is_some_and(|d| d < bound);
            if !f_open && !b_open {
                break;
            }
            if f_open && let Some(Some((v, d, o))) = Self::step(&self.up, &self.down, fwd) {
                let db = bwd.dist[v as usize];
                if db != u64::MAX && best.is_none_or(|b| d + db < b.0) {
                    best = Some((d + db, o + bwd.other[v as usize]));
                }
            }
            if b_open && let Some(Some((v, d, o))) = Self::step(&self.down, &self.up, bwd) {
                let df = fwd.dist[v as usize];
                if df != u64::MAX && best.is_none_or(|b| d + df < b.0) {
                    best = Some((d + df, o + fwd.other[v as usize]));
                }
            }
        }
        best
    }

    /// Bucket many-to-many (Knopp et al. 2007): one backward upward search per target fills buckets,
    /// one forward upward search per source scans them. Cost: |S| + |T| upward searches, not |S|·|T|
    /// point-to-point queries. `result[i][j]` is the best (primary, secondary) from source i to target j.
    pub fn many_to_many(
        &self,
        s: &mut Scratch,
        sources: &[Vec<Seed>],
        targets: &[Vec<Seed>],
    ) -> Vec<Vec<Option<(u64, u64)>>> {
        // bucket entries: (node, target index, dist, other), sorted by node for lookup
        let mut buckets: Vec<(u32, u32, u64, u64)> = Vec::new();
        for (j, t) in targets.iter().enumerate() {
            s.seed(t);
            while let Some(settled) = Self::step(&self.down, &self.up, s) {
                if let Some((v, d, o)) = settled {
                    buckets.push((v, j as u32, d, o));
                }
            }
        }
        buckets.sort_unstable_by_key(|b| b.0);
        let mut result = vec![vec![None; targets.len()]; sources.len()];
        for (i, src) in sources.iter().enumerate() {
            let row = &mut result[i];
            s.seed(src);
            while let Some(settled) = Self::step(&self.up, &self.down, s) {
                let Some((v, d, o)) = settled else { continue };
                let start = buckets.partition_point(|b| b.0 < v);
                for &(_, j, db, ob) in buckets[start..].iter().take_while(|b| b.0 == v) {
                    let cell: &mut Option<(u64, u64)> = &mut row[j as usize];
                    if cell.is_none_or(|c| d + db < c.0) {
                        *cell = Some((d + db, o + ob));
                    }
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{dedup_edges, dijkstra_one_to_one};

    fn seed(node: u32) -> Vec<Seed> {
        vec![Seed {
            node,
            w: 0,
            other: 0,
        }]
    }

    /// Deterministic pseudo-random graph (xorshift) so the unit test needs no extra crates.
    fn random_graph(n: u32, m: usize, mut x: u64) -> Vec<WEdge> {
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut edges: Vec<WEdge> = (0..n - 1)
            .map(|i| WEdge {
                from: i,
                to: i + 1,
                w: 5,
                other: 1,
            })
            .collect();
        for _ in 0..m {
            let (a, b) = ((next() % n as u64) as u32, (next() % n as u64) as u32);
            let w = (next() % 20 + 1) as u32;
            edges.push(WEdge {
                from: a,
                to: b,
                w,
                other: w * 3 + 1,
            });
        }
        dedup_edges(edges)
    }

    #[test]
    fn matches_dijkstra_on_random_graphs() {
        for seed_x in 1..6u64 {
            let n = 60;
            let edges = random_graph(n, 150, seed_x * 7919);
            let ch = Ch::build(n as usize, &edges);
            let Ok(ch) = ch else {
                panic!("build failed: {ch:?}")
            };
            assert!(ch.is_consistent());
            let g = Csr::build(n as usize, &edges, false);
            let (mut a, mut b, mut c) = (
                Scratch::new(n as usize),
                Scratch::new(n as usize),
                Scratch::new(n as usize),
            );
            let srcs: Vec<Vec<Seed>> = (0..n).step_by(7).map(seed).collect();
            let tgts: Vec<Vec<Seed>> = (0..n).step_by(5).map(seed).collect();
            let m = ch.many_to_many(&mut a, &srcs, &tgts);
            for (i, s) in srcs.iter().enumerate() {
                for (j, t) in tgts.iter().enumerate() {
                    let want = dijkstra_one_to_one(&g, &mut c, s, t);
                    let got = ch.one_to_one(&mut a, &mut b, s, t);
                    assert_eq!(got.map(|x| x.0), want.map(|x| x.0), "one_to_one {i} {j}");
                    assert_eq!(m[i][j].map(|x| x.0), want.map(|x| x.0), "bucket {i} {j}");
                }
            }
        }
    }
}
