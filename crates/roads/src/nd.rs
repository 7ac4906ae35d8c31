//! Metric-independent node order for the customisable hierarchy ([`crate::cch`]): nested dissection
//! by recursive geometric bisection.
//!
//! Why nested dissection: a customisable contraction hierarchy (Dibbelt, Strasser, Wagner 2014/2016)
//! contracts without witness searches, so its size depends only on the order; separators ranked above
//! the two halves they separate keep the fill-in small on road networks (which have small balanced
//! separators). Why geometric: road nodes carry coordinates, and cutting a cell at the median of its
//! projection on one of four directions (as inertial flow does before its flow step) finds short
//! separators on city grids and extracts without a flow solver. Each cell picks the direction whose
//! cut needs the fewest separator nodes; disconnected cells are split into components first (no
//! separator needed). Quality is below FlowCutter/KaHIP orders but the hierarchy stays correct for any
//! order; only its size and customisation time depend on it.

/// Cells this small are ordered as they come; dissecting further gains nothing measurable.
const LEAF: usize = 8;

/// Undirected adjacency in compressed rows.
struct Adj<'a> {
    first: &'a [u32],
    head: &'a [u32],
}

impl Adj<'_> {
    fn of(&self, v: u32) -> &[u32] {
        &self.head[self.first[v as usize] as usize..self.first[v as usize + 1] as usize]
    }
}

struct Nd<'a> {
    xy: &'a [[f64; 2]],
    adj: Adj<'a>,
    /// Cell stamp per node: a neighbour belongs to the current cell iff its stamp matches.
    cell: Vec<u32>,
    /// Side per node within the current cell's bisection (1 = low, 2 = high).
    side: Vec<u8>,
    stamp: u32,
    /// Nodes in ascending rank.
    order: Vec<u32>,
}

/// Undirected adjacency (compressed rows) of `n` nodes from edge endpoints; loops are dropped.
pub fn undirected(
    n: usize,
    pairs: impl Iterator<Item = (u32, u32)> + Clone,
) -> (Vec<u32>, Vec<u32>) {
    let mut first = vec![0u32; n + 1];
    for (a, b) in pairs.clone() {
        if a != b {
            first[a as usize + 1] += 1;
            first[b as usize + 1] += 1;
        }
    }
    for i in 0..n {
        first[i + 1] += first[i];
    }
    let mut pos = first.clone();
    let mut head = vec![0u32; first[n] as usize];
    for (a, b) in pairs {
        if a != b {
            head[pos[a as usize] as usize] = b;
            pos[a as usize] += 1;
            head[pos[b as usize] as usize] = a;
            pos[b as usize] += 1;
        }
    }
    (first, head)
}

/// Nodes in ascending rank (separators last). `xy` are planar coordinates per node.
pub fn order(xy: &[[f64; 2]], first: &[u32], head: &[u32]) -> Vec<u32> {
    let n = xy.len();
    let mut nd = Nd {
        xy,
        adj: Adj { first, head },
        cell: vec![u32::MAX; n],
        side: vec![0; n],
        stamp: 0,
        order: Vec::with_capacity(n),
    };
    nd.dissect((0..n as u32).collect());
    nd.order
}

impl Nd<'_> {
    fn mark(&mut self, nodes: &[u32]) -> u32 {
        self.stamp = self.stamp.wrapping_add(1);
        for &v in nodes {
            self.cell[v as usize] = self.stamp;
        }
        self.stamp
    }

    /// Connected components of a cell (breadth-first, within the cell only).
    fn components(&mut self, nodes: &[u32]) -> Vec<Vec<u32>> {
        let s = self.mark(nodes);
        let mut out = Vec::new();
        let mut queue = Vec::new();
        for &start in nodes {
            if self.cell[start as usize] != s {
                continue;
            }
            // Visited nodes leave the cell stamp so they are not found twice.
            self.cell[start as usize] = s.wrapping_sub(1);
            queue.clear();
            queue.push(start);
            let mut i = 0;
            while i < queue.len() {
                let v = queue[i];
                i += 1;
                for &w in self.adj.of(v) {
                    if self.cell[w as usize] == s {
                        self.cell[w as usize] = s.wrapping_sub(1);
                        queue.push(w);
                    }
                }
            }
            out.push(queue.clone());
        }
        out
    }

    fn dissect(&mut self, nodes: Vec<u32>) {
        if nodes.len() <= LEAF {
            self.order.extend(nodes);
            return;
        }
        let comps = self.components(&nodes);
        if comps.len() > 1 {
            drop(nodes);
            for c in comps {
                self.dissect(c);
            }
            return;
        }
        let (low, high, sep) = self.bisect(nodes);
        self.dissect(low);
        self.dissect(high);
        self.order.extend(sep);
    }

    /// Split a connected cell at the median along the best of four directions; returns
    /// (low side, high side, separator), the separator taken from the side with fewer cut endpoints.
    fn bisect(&mut self, nodes: Vec<u32>) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let s = self.mark(&nodes);
        let half = nodes.len() / 2;
        let mut best: Option<(usize, Vec<u32>, bool)> = None;
        let mut keyed: Vec<(f64, u32)> = Vec::with_capacity(nodes.len());
        for (dx, dy) in [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, -1.0)] {
            keyed.clear();
            keyed.extend(nodes.iter().map(|&v| {
                let p = self.xy[v as usize];
                (p[0] * dx + p[1] * dy, v)
            }));
            keyed.select_nth_unstable_by(half, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (i, &(_, v)) in keyed.iter().enumerate() {
                self.side[v as usize] = if i < half { 1 } else { 2 };
            }
            let (mut low_cut, mut high_cut) = (0usize, 0usize);
            for &v in &nodes {
                let sv = self.side[v as usize];
                let crosses = self
                    .adj
                    .of(v)
                    .iter()
                    .any(|&w| self.cell[w as usize] == s && self.side[w as usize] != sv);
                if crosses {
                    if sv == 1 {
                        low_cut += 1;
                    } else {
                        high_cut += 1;
                    }
                }
            }
            let size = low_cut.min(high_cut);
            if best.as_ref().is_none_or(|b| size < b.0) {
                let split: Vec<u32> = keyed.iter().map(|&(_, v)| v).collect();
                best = Some((size, split, low_cut <= high_cut));
            }
        }
        let Some((_, split, sep_low)) = best else {
            return (Vec::new(), Vec::new(), nodes);
        };
        for (i, &v) in split.iter().enumerate() {
            self.side[v as usize] = if i < half { 1 } else { 2 };
        }
        let sep_side = if sep_low { 1 } else { 2 };
        let (mut low, mut high, mut sep) = (Vec::new(), Vec::new(), Vec::new());
        for &v in &split {
            let sv = self.side[v as usize];
            let in_sep = sv == sep_side
                && self
                    .adj
                    .of(v)
                    .iter()
                    .any(|&w| self.cell[w as usize] == s && self.side[w as usize] != sv);
            if in_sep {
                sep.push(v);
            } else if sv == 1 {
                low.push(v);
            } else {
                high.push(v);
            }
        }
        (low, high, sep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_a_permutation_with_the_middle_column_last_on_a_path() {
        // A path of 20 nodes on a line: the first separator is a single node near the middle.
        let n = 20u32;
        let xy: Vec<[f64; 2]> = (0..n).map(|i| [f64::from(i), 0.0]).collect();
        let (first, head) = undirected(n as usize, (0..n - 1).map(|i| (i, i + 1)));
        let o = order(&xy, &first, &head);
        let mut sorted = o.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..n).collect::<Vec<_>>());
        let top = o[o.len() - 1];
        assert!((8..=11).contains(&top), "top separator {top}");
    }
}
