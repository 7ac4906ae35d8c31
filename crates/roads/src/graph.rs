//! Integer-weighted directed graphs per metric, and plain Dijkstra (the in-run baseline and the oracle
//! the contraction hierarchy is tested against).
//!
//! Weights are integers (millimetres or milliseconds) so that the hierarchy and Dijkstra agree exactly;
//! every arc also carries the other metric ("secondary") so a time-optimal route still reports its
//! length and vice versa.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

/// What a query minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
pub enum Metric {
    /// Travel time (milliseconds internally).
    Time,
    /// Length along the road (millimetres internally).
    Distance,
}

/// One directed arc in a compressed adjacency list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arc {
    /// Head (or tail, in a backward list) node.
    pub node: u32,
    /// Weight in the primary metric (>= 1).
    pub w: u32,
    /// The same arc in the other metric.
    pub other: u32,
}

/// A weighted directed edge before it goes into a [`Csr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WEdge {
    pub from: u32,
    pub to: u32,
    pub w: u32,
    pub other: u32,
}

/// Keep one edge per (from, to): the least primary weight, then the least secondary; drop loops.
pub fn dedup_edges(mut edges: Vec<WEdge>) -> Vec<WEdge> {
    edges.retain(|e| e.from != e.to);
    edges.sort_unstable_by_key(|e| (e.from, e.to, e.w, e.other));
    edges.dedup_by_key(|e| (e.from, e.to));
    edges
}

/// Compressed sparse rows: `arcs[first[v]..first[v + 1]]` are the arcs of `v`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Csr {
    pub first: Vec<u32>,
    pub arcs: Vec<Arc>,
}

impl Csr {
    /// Build from edges; `reverse` stores each edge under its head, pointing to its tail.
    pub fn build(n: usize, edges: &[WEdge], reverse: bool) -> Self {
        let key = |e: &WEdge| if reverse { e.to } else { e.from } as usize;
        let mut count = vec![0u32; n + 1];
        for e in edges {
            count[key(e) + 1] += 1;
        }
        for i in 0..n {
            count[i + 1] += count[i];
        }
        let mut pos = count.clone();
        let mut arcs = vec![
            Arc {
                node: 0,
                w: 0,
                other: 0
            };
            edges.len()
        ];
        for e in edges {
            let k = key(e);
            let node = if reverse { e.from } else { e.to };
            arcs[pos[k] as usize] = Arc {
                node,
                w: e.w,
                other: e.other,
            };
            pos[k] += 1;
        }
        Self { first: count, arcs }
    }

    pub fn num_nodes(&self) -> usize {
        self.first.len().saturating_sub(1)
    }

    pub fn arcs(&self, v: u32) -> &[Arc] {
        let v = v as usize;
        &self.arcs[self.first[v] as usize..self.first[v + 1] as usize]
    }

    /// Structural check for data read from disk: offsets monotone and in range, heads valid.
    pub fn is_consistent(&self, n: usize) -> bool {
        self.first.len() == n + 1
            && self.first.first() == Some(&0)
            && self.first.windows(2).all(|w| w[0] <= w[1])
            && self.first.last().map(|&l| l as usize) == Some(self.arcs.len())
            && self.arcs.iter().all(|a| (a.node as usize) < n)
    }
}

/// A starting (or ending) node with the cost already spent to reach it (primary, secondary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    pub node: u32,
    pub w: u64,
    pub other: u64,
}

/// Reusable Dijkstra state; reset costs O(touched), not O(n).
#[derive(Debug, Default)]
pub struct Scratch {
    pub dist: Vec<u64>,
    pub other: Vec<u64>,
    pub settled: Vec<bool>,
    pub touched: Vec<u32>,
    pub heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Scratch {
    pub fn new(n: usize) -> Self {
        Self {
            dist: vec![u64::MAX; n],
            other: vec![0; n],
            settled: vec![false; n],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    pub fn reset(&mut self) {
        for &v in &self.touched {
            self.dist[v as usize] = u64::MAX;
            self.settled[v as usize] = false;
        }
        self.touched.clear();
        self.heap.clear();
    }

    /// Relax `v` to (d, o) if better; returns whether it improved.
    #[inline]
    pub fn relax(&mut self, v: u32, d: u64, o: u64) -> bool {
        let i = v as usize;
        if d < self.dist[i] {
            if self.dist[i] == u64::MAX {
                self.touched.push(v);
            }
            self.dist[i] = d;
            self.other[i] = o;
            self.heap.push(Reverse((d, v)));
            true
        } else {
            false
        }
    }

    pub fn seed(&mut self, seeds: &[Seed]) {
        self.reset();
        for s in seeds {
            self.relax(s.node, s.w, s.other);
        }
    }
}

/// Plain Dijkstra from `sources` over `g` until every node in `targets` is settled (or the graph is
/// exhausted). Returns (primary, secondary) per target, `None` if unreachable. With `g` the reversed
/// graph this is the many-to-one baseline: one backward search from the incident.
pub fn dijkstra_to_all(
    g: &Csr,
    scratch: &mut Scratch,
    sources: &[Seed],
    targets: &[Seed],
) -> Vec<Option<(u64, u64)>> {
    scratch.seed(sources);
    let mut remaining: usize = targets.len();
    let mut is_target = std::collections::HashMap::<u32, usize>::new();
    for t in targets {
        *is_target.entry(t.node).or_default() += 1;
    }
    while remaining > 0 {
        let Some(Reverse((d, v))) = scratch.heap.pop() else {
            break;
        };
        let vi = v as usize;
        if scratch.settled[vi] || d > scratch.dist[vi] {
            continue;
        }
        scratch.settled[vi] = true;
        if let Some(c) = is_target.get(&v) {
            remaining = remaining.saturating_sub(*c);
        }
        let o = scratch.other[vi];
        for a in g.arcs(v) {
            scratch.relax(a.node, d + u64::from(a.w), o + u64::from(a.other));
        }
    }
    targets
        .iter()
        .map(|t| {
            let i = t.node as usize;
            (scratch.settled[i]).then(|| (scratch.dist[i] + t.w, scratch.other[i] + t.other))
        })
        .collect()
}

/// Plain Dijkstra, multi-source to multi-target (each target seed carries its own end cost):
/// the least total over all (source seed, target seed) combinations.
pub fn dijkstra_one_to_one(
    g: &Csr,
    scratch: &mut Scratch,
    sources: &[Seed],
    targets: &[Seed],
) -> Option<(u64, u64)> {
    scratch.seed(sources);
    let mut best: Option<(u64, u64)> = None;
    while let Some(Reverse((d, v))) = scratch.heap.pop() {
        let vi = v as usize;
        if scratch.settled[vi] || d > scratch.dist[vi] {
            continue;
        }
        if best.is_some_and(|(b, _)| d >= b) {
            break;
        }
        scratch.settled[vi] = true;
        let o = scratch.other[vi];
        for t in targets.iter().filter(|t| t.node == v) {
            let cand = (d + t.w, o + t.other);
            if best.is_none_or(|b| cand.0 < b.0) {
                best = Some(cand);
            }
        }
        for a in g.arcs(v) {
            scratch.relax(a.node, d + u64::from(a.w), o + u64::from(a.other));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(from: u32, to: u32, w: u32) -> WEdge {
        WEdge {
            from,
            to,
            w,
            other: w * 10,
        }
    }

    #[test]
    fn dedup_keeps_lightest() {
        let d = dedup_edges(vec![e(0, 1, 5), e(0, 1, 3), e(1, 1, 1), e(1, 0, 2)]);
        assert_eq!(d, vec![e(0, 1, 3), e(1, 0, 2)]);
    }

    #[test]
    fn dijkstra_small() {
        // 0 -> 1 -> 2 (2 + 2) beats 0 -> 2 (5); 3 unreachable
        let edges = vec![e(0, 1, 2), e(1, 2, 2), e(0, 2, 5), e(3, 0, 1)];
        let g = Csr::build(4, &edges, false);
        let mut s = Scratch::new(4);
        let seed = |node| Seed {
            node,
            w: 0,
            other: 0,
        };
        assert_eq!(
            dijkstra_one_to_one(&g, &mut s, &[seed(0)], &[seed(2)]),
            Some((4, 40))
        );
        assert_eq!(
            dijkstra_one_to_one(&g, &mut s, &[seed(0)], &[seed(3)]),
            None
        );
        let r = Csr::build(4, &edges, true);
        let all = dijkstra_to_all(&r, &mut s, &[seed(2)], &[seed(0), seed(3), seed(1)]);
        assert_eq!(all, vec![Some((4, 40)), Some((5, 50)), Some((2, 20))]);
    }
}
