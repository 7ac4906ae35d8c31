//! Incremental (partial) customisation of the hierarchy ([`crate::cch`]): when some input arcs change
//! (a closure or a reopening), re-weight only the hierarchy edges whose weight can change, instead of
//! running the basic customisation over every lower triangle again.
//!
//! Why it is exact: after customisation, the weight of edge `{x, y}` (x below y) is the least of its
//! input weight and of `w(x → z) + w(z → y)` over its lower triangles `{z, x, y}` (z below x, adjacent
//! to both). Recomputing an edge from that formula gives the same (weight, secondary) pair the basic
//! customisation gives, because both take the lexicographic minimum of the same candidates. An edge's
//! weight can only change if its input changed or one of the two lower edges of one of its triangles
//! changed; and a changed edge `{x, y}` is a lower edge only of the triangles `{x, y, y'}` with `y'`
//! another upward neighbour of `x`, whose top edge `{y, y'}` has a lower endpoint above `x`. So a
//! worklist ordered by the rank of each edge's lower endpoint settles every edge after all the edges
//! it depends on, and stops where recomputed weights come out unchanged (Dibbelt, Strasser, Wagner,
//! "Customizable Contraction Hierarchies", ACM JEA 2016, section on partial updates). Reopening is the
//! same update with the old inputs back, so it restores the earlier weights bit for bit (unit test in
//! [`crate::closure`] against full customisation).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::RoadsError;
use crate::cch::{Cch, INF};
use crate::ch::Ch;
use crate::graph::Arc;

/// Downward view of the hierarchy: for every node, its lower neighbours ascending in rank, each with
/// the edge that joins them. Derived from [`Cch`] at load time, never stored.
#[derive(Debug, Clone, Default)]
pub struct Lower {
    first: Vec<u32>,
    /// (rank of the lower neighbour, edge index).
    entries: Vec<(u32, u32)>,
    /// Node per rank.
    order: Vec<u32>,
    /// Lower endpoint (tail) per edge.
    tail: Vec<u32>,
    /// Rank of the upper endpoint (head) per edge: upward lists searched without chasing `rank`.
    head_rank: Vec<u32>,
}

impl Lower {
    fn of(&self, v: u32) -> &[(u32, u32)] {
        &self.entries[self.first[v as usize] as usize..self.first[v as usize + 1] as usize]
    }
}

/// The two input arcs of one hierarchy edge: lower → upper (`up`) and upper → lower (`down`).
/// An absent arc has weight [`INF`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeInput {
    pub up: (u32, u32),
    pub down: (u32, u32),
}

impl EdgeInput {
    pub const ABSENT: Self = Self {
        up: (INF, INF),
        down: (INF, INF),
    };

    /// Keep the lexicographically least (weight, secondary) per direction, as full customisation does.
    pub fn add(&mut self, upward: bool, w: u32, other: u32) {
        let slot = if upward { &mut self.up } else { &mut self.down };
        if (w, other) < *slot {
            *slot = (w, other);
        }
    }
}

impl Cch {
    /// Build the downward view used by [`Cch::update`].
    pub fn lower(&self) -> Lower {
        let n = self.num_nodes();
        let rank = self.rank();
        let (first, head) = self.up_lists();
        let mut order = vec![0u32; n];
        for (v, &r) in rank.iter().enumerate() {
            order[r as usize] = v as u32;
        }
        let mut tail = vec![0u32; head.len()];
        let mut lfirst = vec![0u32; n + 1];
        for &h in head {
            lfirst[h as usize + 1] += 1;
        }
        for i in 0..n {
            lfirst[i + 1] += lfirst[i];
        }
        let mut pos = lfirst.clone();
        let mut entries = vec![(0u32, 0u32); head.len()];
        // Tails in ascending rank, so every node's list comes out sorted by rank.
        for (r, &v) in order.iter().enumerate() {
            for e in first[v as usize]..first[v as usize + 1] {
                tail[e as usize] = v;
                let h = head[e as usize] as usize;
                entries[pos[h] as usize] = (r as u32, e);
                pos[h] += 1;
            }
        }
        let head_rank = head.iter().map(|&h| rank[h as usize]).collect();
        Lower {
            first: lfirst,
            entries,
            order,
            tail,
            head_rank,
        }
    }

    /// Index of the edge from `lo` up to the node of rank `rhi`, by binary search in `lo`'s list.
    fn edge_index(&self, lower: &Lower, lo: u32, rhi: u32) -> Option<u32> {
        let (first, _) = self.up_lists();
        let (b, e) = (first[lo as usize] as usize, first[lo as usize + 1] as usize);
        let list = &lower.head_rank[b..e];
        let i = list.partition_point(|&r| r < rhi);
        (list.get(i) == Some(&rhi)).then_some((b + i) as u32)
    }

    /// Re-customise `ch` (customised from this hierarchy) after the inputs of the `changed` edges
    /// changed; `input(e)` returns the new input arcs of any edge (shortcuts: [`EdgeInput::ABSENT`]).
    /// Returns the number of edges recomputed and appends the edges whose weights changed to
    /// `written`; gives up with `None` (and `ch` partly updated) once more than `limit` edges were
    /// recomputed, where a full customisation is cheaper. On error `ch` must be dropped.
    pub fn update(
        &self,
        lower: &Lower,
        ch: &mut Ch,
        changed: &[u32],
        input: impl Fn(u32) -> EdgeInput,
        written: &mut Vec<u32>,
        limit: usize,
    ) -> Result<Option<usize>, RoadsError> {
        let (first, head) = self.up_lists();
        let rank = self.rank();
        let m = head.len();
        if ch.up.arcs.len() != m || ch.down.arcs.len() != m || lower.tail.len() != m {
            return Err(RoadsError::Internal(
                "hierarchy and customisation differ".into(),
            ));
        }
        let not_chordal = || RoadsError::CorruptFile("hierarchy is not chordal".into());
        // Edge-sized flag vector: calloc'd, so only the pages of touched edges are ever written.
        let mut queued = vec![false; m];
        let mut heap: BinaryHeap<Reverse<(u32, u32)>> = BinaryHeap::new();
        for &e in changed {
            let slot = queued
                .get_mut(e as usize)
                .ok_or_else(|| RoadsError::Internal("changed edge out of range".into()))?;
            if !*slot {
                *slot = true;
                heap.push(Reverse((rank[lower.tail[e as usize] as usize], e)));
            }
        }
        let mut recomputed = 0usize;
        while let Some(Reverse((rx, e))) = heap.pop() {
            queued[e as usize] = false;
            recomputed += 1;
            if recomputed > limit {
                return Ok(None);
            }
            let x = lower.order[rx as usize];
            let y = head[e as usize];
            let inp = input(e);
            let mut up = Arc {
                node: y,
                w: inp.up.0,
                other: inp.up.1,
            };
            let mut down = Arc {
                node: y,
                w: inp.down.0,
                other: inp.down.1,
            };
            // Lower triangles: common lower neighbours z of x and y. Both lists ascend in rank; a
            // merge costs both lengths, so when y's list is much longer (y high in the hierarchy)
            // each z of x's list looks y up in its own short upward list instead.
            let (lx, ly) = (lower.of(x), lower.of(y));
            if ly.len() > 8 * lx.len() {
                let ry = rank[y as usize];
                for &(rz, ezx) in lx {
                    let z = lower.order[rz as usize] as usize;
                    let (b, end) = (first[z] as usize, first[z + 1] as usize);
                    let list = &head[b..end];
                    let i = list.partition_point(|&h| rank[h as usize] < ry);
                    if list.get(i) == Some(&y) {
                        let (ezx, ezy) = (ezx as usize, b + i);
                        relax(&mut up, ch.down.arcs[ezx], ch.up.arcs[ezy]);
                        relax(&mut down, ch.down.arcs[ezy], ch.up.arcs[ezx]);
                    }
                }
            } else {
                let (mut i, mut j) = (0, 0);
                while i < lx.len() && j < ly.len() {
                    let (rz, ezx) = lx[i];
                    let (rz2, ezy) = ly[j];
                    if rz2 >= rx {
                        break;
                    }
                    if rz < rz2 {
                        i += 1;
                    } else if rz2 < rz {
                        j += 1;
                    } else {
                        let (ezx, ezy) = (ezx as usize, ezy as usize);
                        // x → z → y, and y → z → x.
                        relax(&mut up, ch.down.arcs[ezx], ch.up.arcs[ezy]);
                        relax(&mut down, ch.down.arcs[ezy], ch.up.arcs[ezx]);
                        i += 1;
                        j += 1;
                    }
                }
            }
            let (old_up, old_down) = (ch.up.arcs[e as usize], ch.down.arcs[e as usize]);
            if (up.w, up.other) == (old_up.w, old_up.other)
                && (down.w, down.other) == (old_down.w, old_down.other)
            {
                continue;
            }
            ch.up.arcs[e as usize] = up;
            ch.down.arcs[e as usize] = down;
            written.push(e);
            // Every triangle {x, y, y'} with x lowest has {y, y'} as its top edge. For y' above y
            // that edge is in y's upward list, which holds all of them (chordality) in the same
            // rank order: one merge. For y' below y it is in the list of y': a binary search each.
            let ry = rank[y as usize];
            let mut push = |top: u32, lo_rank: u32| {
                if !queued[top as usize] {
                    queued[top as usize] = true;
                    heap.push(Reverse((lo_rank, top)));
                }
            };
            let (bx, ex) = (first[x as usize], first[x as usize + 1]);
            for k in bx..e {
                let y2 = head[k as usize];
                let top = self.edge_index(lower, y2, ry).ok_or_else(not_chordal)?;
                push(top, lower.head_rank[k as usize]);
            }
            let (mut j, ey) = (first[y as usize], first[y as usize + 1]);
            for k in e + 1..ex {
                let r2 = lower.head_rank[k as usize];
                while j < ey && lower.head_rank[j as usize] < r2 {
                    j += 1;
                }
                if j == ey || lower.head_rank[j as usize] != r2 {
                    return Err(not_chordal());
                }
                push(j, ry);
            }
        }
        Ok(Some(recomputed))
    }
}

/// `slot = min(slot, a + b)` in (weight, secondary) order; absent parts or overflow contribute nothing.
/// The same rule as the basic customisation, so both reach identical weights.
#[inline]
pub(crate) fn relax(slot: &mut Arc, a: Arc, b: Arc) {
    if a.w == INF || b.w == INF {
        return;
    }
    let w = u64::from(a.w) + u64::from(b.w);
    if w >= u64::from(INF) {
        return;
    }
    let w = w as u32;
    let other = a.other.saturating_add(b.other);
    if (w, other) < (slot.w, slot.other) {
        slot.w = w;
        slot.other = other;
    }
}
