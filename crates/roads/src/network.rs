//! `RoadNetwork`: the imported graph plus its customisable hierarchy ([`crate::cch`], one topology,
//! customised once per metric), the snapping index, the on-disk format, and the queries dispatch uses
//! (route, many-to-one, one-to-many, matrix). Road closures ([`crate::closure`]) swap in a pair of
//! hierarchies updated incrementally ([`crate::partial`]) from a retired copy; queries read whichever
//! pair is current.

use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock, RwLock};

use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};
use serde::{Deserialize, Serialize};

use crate::RoadsError;
use crate::cch::{Cch, InputArc, InputArcSlot};
use crate::ch::Ch;
use crate::geo::{LatLon, Projection, haversine_m};
use crate::graph::{
    Csr, Metric, Scratch, Seed, WEdge, dedup_edges, dijkstra_one_to_one, dijkstra_to_all,
};
use crate::import::{RoadGraph, Segment};
use crate::partial::{EdgeInput, Lower};
use crate::profile::Profile;

/// File magic of a `.roads` file.
pub const MAGIC: &[u8; 8] = b"JKMROADS";
/// Bumped whenever the serialised layout changes; older files are rejected with a clear error.
/// 2: one metric-independent customisable hierarchy instead of two `fast_paths` hierarchies.
pub const FORMAT_VERSION: u32 = 2;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// Default distance beyond which a point is flagged as off the road network.
pub const DEFAULT_SNAP_LIMIT_M: f64 = 300.0;

/// Where a coordinate lands on the network.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Snap {
    /// Index of the road segment.
    pub segment: u32,
    /// Position along the segment, 0 = at its first node, 1 = at its second.
    pub t: f64,
    /// The snapped point.
    pub point: LatLon,
    /// Haversine distance from the query point to the snapped point.
    pub distance_m: f64,
}

/// Result of one route query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Route {
    pub length_m: f64,
    pub duration_s: f64,
    pub snap_from_m: f64,
    pub snap_to_m: f64,
}

/// Per-pair outcome in batch queries: a route, `None` if unreachable, or an error (e.g. off-road).
pub type RouteResult = Result<Option<Route>, RoadsError>;

#[derive(Serialize, Deserialize)]
struct NetworkData {
    profile: Profile,
    graph: RoadGraph,
    cch: Cch,
}

/// The hierarchies and closures in force; replaced as a whole when closures change, so a query
/// never mixes two closure sets.
pub(crate) struct Live {
    /// Customised hierarchy per metric (index 0 = time, 1 = distance).
    ch: [Ch; 2],
    /// Per segment: closed to all traffic.
    pub(crate) closed: Vec<bool>,
    /// Plain graphs per metric without closed segments, forward and reversed: the Dijkstra baseline,
    /// built on first use.
    base: [OnceLock<(Csr, Csr)>; 2],
}

/// A retired state kept so the next closure update overwrites it in place instead of copying the
/// whole hierarchy (hundreds of MB at 1M nodes): `stale[m]` lists the edges of metric `m` where it
/// differs from the state that replaced it (`None`: any edge may differ).
pub(crate) struct Spare {
    pub(crate) live: std::sync::Arc<Live>,
    pub(crate) stale: Stale,
}

/// Per metric, the edges where two states differ (`None`: any edge may differ).
pub(crate) type Stale = [Option<Vec<u32>>; 2];

/// The road network as loaded by `serve` or the CLI.
pub struct RoadNetwork {
    data: NetworkData,
    pub(crate) projection: Projection,
    pub(crate) rtree: RTree<GeomWithData<Line<[f64; 2]>, u32>>,
    /// Per segment: its hierarchy edge and direction (`None` for a loop).
    slots: Vec<Option<InputArcSlot>>,
    /// `edge_segments[edge_first[e]..edge_first[e + 1]]`: the segments lying on hierarchy edge `e`
    /// (to recompute one edge's input when closures change).
    edge_first: Vec<u32>,
    edge_segments: Vec<u32>,
    /// Downward view of the hierarchy for incremental customisation.
    lower: Lower,
    pub(crate) live: RwLock<std::sync::Arc<Live>>,
    /// Serialises closure updates so the last one asked for is the one in force; holds the state
    /// retired by the last update for reuse by the next.
    pub(crate) updating: Mutex<Option<Spare>>,
    pool: Mutex<Vec<(Scratch, Scratch)>>,
    snap_limit_m: f64,
}

impl std::fmt::Debug for RoadNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoadNetwork")
            .field("nodes", &self.num_nodes())
            .field("segments", &self.data.graph.segments.len())
            .field("profile", &self.data.profile)
            .finish_non_exhaustive()
    }
}

/// Integer weight of a segment in milli-units (mm or ms), at least 1 (the hierarchy needs > 0).
fn milli(x: f64) -> Result<u32, RoadsError> {
    let v = (x * 1000.0).round().max(1.0);
    if x.is_finite() && x >= 0.0 && v <= f64::from(u32::MAX / 4) {
        Ok(v as u32)
    } else {
        Err(RoadsError::TooLarge)
    }
}

fn segment_weights(s: &Segment, metric: Metric) -> Result<(u32, u32), RoadsError> {
    let (mm, ms) = (milli(s.length_m)?, milli(s.duration_s)?);
    Ok(match metric {
        Metric::Time => (ms, mm),
        Metric::Distance => (mm, ms),
    })
}

/// Arcs of the open segments (weights were validated when the network was built or loaded).
fn metric_edges(g: &RoadGraph, metric: Metric, closed: &[bool]) -> Vec<WEdge> {
    let mut edges = Vec::with_capacity(g.segments.len() * 2);
    for (i, s) in g.segments.iter().enumerate() {
        if closed.get(i).copied().unwrap_or(false) {
            continue;
        }
        let Ok((w, other)) = segment_weights(s, metric) else {
            continue;
        };
        if s.forward {
            edges.push(WEdge {
                from: s.a,
                to: s.b,
                w,
                other,
            });
        }
        if s.backward {
            edges.push(WEdge {
                from: s.b,
                to: s.a,
                w,
                other,
            });
        }
    }
    dedup_edges(edges)
}

fn metric_index(metric: Metric) -> usize {
    match metric {
        Metric::Time => 0,
        Metric::Distance => 1,
    }
}

/// Turn an integer (primary, secondary) pair back into metres and seconds.
fn to_route(metric: Metric, (p, o): (u64, u64), snap_from_m: f64, snap_to_m: f64) -> Route {
    let (ms, mm) = match metric {
        Metric::Time => (p, o),
        Metric::Distance => (o, p),
    };
    Route {
        length_m: mm as f64 / 1000.0,
        duration_s: ms as f64 / 1000.0,
        snap_from_m,
        snap_to_m,
    }
}

fn better(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Option<(u64, u64)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.0 < x.0 { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Snapped points closer than this to a segment end are treated as being at that node.
const AT_NODE_M: f64 = 0.01;

impl RoadNetwork {
    /// Preprocess an imported graph: nested-dissection order and chordal completion (metric
    /// independent), then customisation for time and distance.
    pub fn build(graph: RoadGraph, profile: Profile) -> Result<Self, RoadsError> {
        let projection = projection_of(&graph);
        let xy: Vec<[f64; 2]> = graph
            .coords
            .iter()
            .map(|&c| projection.forward(c))
            .collect();
        let cch = Cch::build(&xy, graph.segments.iter().map(|s| (s.a, s.b)))?;
        Self::from_data(NetworkData {
            profile,
            graph,
            cch,
        })
    }

    /// Import a PBF file and preprocess it.
    pub fn from_pbf(path: &Path, profile: Profile) -> Result<Self, RoadsError> {
        Self::build(crate::import::import_path(path, profile)?, profile)
    }

    fn from_data(data: NetworkData) -> Result<Self, RoadsError> {
        let g = &data.graph;
        let projection = projection_of(g);
        let lines = g
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let a = projection.forward(g.coords[s.a as usize]);
                let b = projection.forward(g.coords[s.b as usize]);
                GeomWithData::new(Line::new(a, b), i as u32)
            })
            .collect();
        let rtree = RTree::bulk_load(lines);
        let mut slots = Vec::with_capacity(g.segments.len());
        for seg in &g.segments {
            // Both metrics' weights must fit, so customisation can rely on them.
            segment_weights(seg, Metric::Time)?;
            if seg.a == seg.b {
                slots.push(None);
            } else {
                let slot = data.cch.edge(seg.a, seg.b).ok_or_else(|| {
                    RoadsError::CorruptFile("a segment is missing from the hierarchy".into())
                })?;
                slots.push(Some(slot));
            }
        }
        let m = data.cch.num_edges();
        let mut edge_first = vec![0u32; m + 1];
        for slot in slots.iter().flatten() {
            edge_first[slot.edge as usize + 1] += 1;
        }
        for i in 0..m {
            edge_first[i + 1] += edge_first[i];
        }
        let mut pos = edge_first.clone();
        let mut edge_segments = vec![0u32; edge_first[m] as usize];
        for (i, slot) in slots.iter().enumerate() {
            if let Some(slot) = slot {
                edge_segments[pos[slot.edge as usize] as usize] = i as u32;
                pos[slot.edge as usize] += 1;
            }
        }
        let lower = data.cch.lower();
        let mut net = Self {
            data,
            projection,
            rtree,
            slots,
            edge_first,
            edge_segments,
            lower,
            live: RwLock::new(std::sync::Arc::new(Live {
                ch: [Ch::default(), Ch::default()],
                closed: Vec::new(),
                base: [OnceLock::new(), OnceLock::new()],
            })),
            updating: Mutex::new(None),
            pool: Mutex::new(Vec::new()),
            snap_limit_m: DEFAULT_SNAP_LIMIT_M,
        };
        let closed = vec![false; net.num_segments()];
        let live = net.customise(closed)?;
        // The spare copy is made now, at load, so that the first closure is as fast as the others
        // (copying the hierarchies takes seconds at 1M nodes); it costs a second copy in memory.
        net.updating = Mutex::new(Some(Spare {
            live: std::sync::Arc::new(live.copy()),
            stale: [Some(Vec::new()), Some(Vec::new())],
        }));
        net.live = RwLock::new(std::sync::Arc::new(live));
        Ok(net)
    }

    /// Customise both metrics for a closure set (in parallel: one thread per metric).
    pub(crate) fn customise(&self, closed: Vec<bool>) -> Result<Live, RoadsError> {
        let run = |m: Metric| self.customise_metric(m, &closed);
        let (time, distance) = std::thread::scope(|s| {
            let d = s.spawn(|| run(Metric::Distance));
            let t = run(Metric::Time);
            (t, d.join())
        });
        let distance =
            distance.map_err(|_| RoadsError::Internal("customisation thread failed".into()))?;
        Ok(Live {
            ch: [time?, distance?],
            closed,
            base: [OnceLock::new(), OnceLock::new()],
        })
    }

    /// Basic customisation of one metric with the `closed` segments absent.
    fn customise_metric(&self, m: Metric, closed: &[bool]) -> Result<Ch, RoadsError> {
        let g = &self.data.graph;
        let input = g
            .segments
            .iter()
            .zip(&self.slots)
            .enumerate()
            .filter(|(i, _)| !closed[*i])
            .filter_map(|(_, (seg, slot))| {
                let slot = (*slot)?;
                let (w, other) = segment_weights(seg, m).ok()?;
                Some((seg, slot, w, other))
            })
            .flat_map(|(seg, slot, w, other)| {
                let arc = |upward| InputArc {
                    edge: slot.edge,
                    upward,
                    w,
                    other,
                };
                let fwd = seg.forward.then(|| arc(slot.upward));
                let bwd = seg.backward.then(|| arc(!slot.upward));
                fwd.into_iter().chain(bwd)
            });
        self.data.cch.customize(input)
    }

    /// The input arcs of hierarchy edge `e` in metric `m` with the `closed` segments absent: the least
    /// weight per direction over the open segments on it, as [`Cch::customize`] takes them.
    fn edge_input(&self, e: u32, m: Metric, closed: &[bool]) -> EdgeInput {
        let mut inp = EdgeInput::ABSENT;
        let (b, end) = (
            self.edge_first[e as usize] as usize,
            self.edge_first[e as usize + 1] as usize,
        );
        for &s in &self.edge_segments[b..end] {
            let s = s as usize;
            if closed.get(s).copied().unwrap_or(false) {
                continue;
            }
            let seg = &self.data.graph.segments[s];
            let (Some(slot), Ok((w, other))) = (self.slots[s], segment_weights(seg, m)) else {
                continue;
            };
            if seg.forward {
                inp.add(slot.upward, w, other);
            }
            if seg.backward {
                inp.add(!slot.upward, w, other);
            }
        }
        inp
    }

    /// Incremental customisation: turn `next` (a copy of `current`'s hierarchies) into the state
    /// for `closed`, re-weighting only where the segments whose state differs between
    /// `current.closed` and `closed` can change anything ([`Cch::update`]; one thread per metric).
    /// Returns, per metric, the edges whose weights changed (`None`: possibly all), and the number
    /// of edges recomputed. A metric whose update spreads over more than a quarter of the edges (a
    /// closure across the top separators of a uniform grid) is customised in full instead, which
    /// bounds the worst case near the cost of a full customisation.
    pub(crate) fn update_live(
        &self,
        current: &Live,
        next: &mut Live,
        closed: Vec<bool>,
    ) -> Result<(Stale, usize), RoadsError> {
        let mut changed: Vec<u32> = (0..closed.len())
            .filter(|&i| closed[i] != current.closed.get(i).copied().unwrap_or(false))
            .filter_map(|i| self.slots[i].map(|s| s.edge))
            .collect();
        changed.sort_unstable();
        changed.dedup();
        let run = |m: Metric, ch: &mut Ch| {
            let closed = &closed;
            let mut written = Vec::new();
            let limit = self.data.cch.num_edges() / 4;
            let done = self.data.cch.update(
                &self.lower,
                ch,
                &changed,
                |e| self.edge_input(e, m, closed),
                &mut written,
                limit,
            )?;
            Ok::<_, RoadsError>(match done {
                Some(n) => (Some(written), n),
                None => {
                    *ch = self.customise_metric(m, closed)?;
                    (None, self.data.cch.num_edges())
                }
            })
        };
        let [time_ch, distance_ch] = &mut next.ch;
        let (time, distance) = std::thread::scope(|s| {
            let d = s.spawn(|| run(Metric::Distance, distance_ch));
            let t = run(Metric::Time, time_ch);
            (t, d.join())
        });
        let distance =
            distance.map_err(|_| RoadsError::Internal("customisation thread failed".into()))?;
        let ((wt, nt), (wd, nd)) = (time?, distance?);
        next.closed = closed;
        next.base = [OnceLock::new(), OnceLock::new()];
        Ok(([wt, wd], nt + nd))
    }

    /// The hierarchies and closures in force now.
    pub(crate) fn live(&self) -> std::sync::Arc<Live> {
        self.live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Write the `.roads` file: header (magic, version, payload length, CRC-32) + postcard payload.
    pub fn save(&self, path: &Path) -> Result<(), RoadsError> {
        let io = |e: std::io::Error| RoadsError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let payload = postcard::to_allocvec(&self.data)
            .map_err(|e| RoadsError::Internal(format!("serialising network: {e}")))?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        f.write_all(MAGIC).map_err(io)?;
        f.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
        f.write_all(&(payload.len() as u64).to_le_bytes())
            .map_err(io)?;
        f.write_all(&crc32fast::hash(&payload).to_le_bytes())
            .map_err(io)?;
        f.write_all(&payload).map_err(io)?;
        f.flush().map_err(io)
    }

    /// Read and verify a `.roads` file.
    pub fn load(path: &Path) -> Result<Self, RoadsError> {
        let bytes = std::fs::read(path).map_err(|e| RoadsError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes)
    }

    /// Verify and decode the bytes of a `.roads` file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RoadsError> {
        let corrupt = |why: &str| RoadsError::CorruptFile(why.to_owned());
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(corrupt("not a jikimi .roads file (bad magic)"));
        }
        let u32_at = |i: usize| bytes[i..i + 4].try_into().map(u32::from_le_bytes);
        let version = u32_at(8).map_err(|_| corrupt("header"))?;
        if version != FORMAT_VERSION {
            return Err(RoadsError::UnsupportedVersion {
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        let len = bytes[12..20]
            .try_into()
            .map(u64::from_le_bytes)
            .map_err(|_| corrupt("header"))?;
        let crc = u32_at(20).map_err(|_| corrupt("header"))?;
        let payload = &bytes[HEADER_LEN..];
        if payload.len() as u64 != len {
            return Err(corrupt("payload length does not match header (truncated?)"));
        }
        if crc32fast::hash(payload) != crc {
            return Err(corrupt("checksum mismatch"));
        }
        let data: NetworkData =
            postcard::from_bytes(payload).map_err(|e| corrupt(&format!("payload: {e}")))?;
        let g = &data.graph;
        let n = g.coords.len();
        let ok = g.osm_ids.len() == n
            && g.coords.iter().all(|c| LatLon::new(c.lat, c.lon).is_ok())
            && g.segments.iter().all(|s| {
                (s.a as usize) < n
                    && (s.b as usize) < n
                    && s.length_m.is_finite()
                    && s.duration_s.is_finite()
                    && s.length_m >= 0.0
                    && s.duration_s >= 0.0
            })
            && data.cch.num_nodes() == n
            && data.cch.is_consistent();
        if !ok {
            return Err(corrupt("inconsistent graph data"));
        }
        Self::from_data(data)
    }

    /// Points farther than this from any road are flagged (`RoadsError::OffRoad`).
    pub fn with_snap_limit_m(mut self, limit_m: f64) -> Self {
        self.snap_limit_m = limit_m;
        self
    }

    pub fn snap_limit_m(&self) -> f64 {
        self.snap_limit_m
    }

    pub fn profile(&self) -> Profile {
        self.data.profile
    }

    pub fn num_nodes(&self) -> usize {
        self.data.graph.coords.len()
    }

    pub fn num_segments(&self) -> usize {
        self.data.graph.segments.len()
    }

    pub fn graph(&self) -> &RoadGraph {
        &self.data.graph
    }

    /// Arcs of the customisable hierarchy (upward and downward, shortcuts included; the same for
    /// both metrics).
    pub fn num_hierarchy_arcs(&self) -> usize {
        2 * self.data.cch.num_edges()
    }

    /// Nearest point on an open drivable segment, without applying the distance limit.
    pub fn nearest(&self, p: LatLon) -> Result<Snap, RoadsError> {
        self.nearest_in(&self.live(), p)
    }

    /// Nearest point on any segment, closed or not (to pick a segment to close or reopen).
    pub fn nearest_segment(&self, p: LatLon) -> Result<Snap, RoadsError> {
        self.nearest_in(&Live::none_closed(), p)
    }

    fn nearest_in(&self, live: &Live, p: LatLon) -> Result<Snap, RoadsError> {
        let p = LatLon::new(p.lat, p.lon)?;
        let q = self.projection.forward(p);
        // Segments exactly as near as the nearest (a point equidistant from two roads) are broken by
        // geometry, not by the tree's order: the tree's order depends on how it was built, and the same
        // roads must snap the same way whether a segment is closed here or absent from the graph.
        let mut open = self
            .rtree
            .nearest_neighbor_iter_with_distance_2(q)
            .filter(|(h, _)| !live.is_closed(h.data));
        let (mut hit, d2) = open.next().ok_or(RoadsError::NoRoads)?;
        let key = |h: &GeomWithData<Line<[f64; 2]>, u32>| {
            let (a, b) = (h.geom().from, h.geom().to);
            [a[0], a[1], b[0], b[1]]
        };
        for (h, _) in open.take_while(|(_, d)| *d <= d2) {
            if key(h) < key(hit) {
                hit = h;
            }
        }
        let (a, b) = (hit.geom().from, hit.geom().to);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((q[0] - a[0]) * dx + (q[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let point = self.projection.inverse([a[0] + t * dx, a[1] + t * dy]);
        Ok(Snap {
            segment: hit.data,
            t,
            point,
            distance_m: haversine_m(p, point),
        })
    }

    /// Snap a point to an open segment, flagging it as off-road if it is beyond the configured limit.
    pub fn snap(&self, p: LatLon) -> Result<Snap, RoadsError> {
        self.snap_in(&self.live(), p)
    }

    fn snap_in(&self, live: &Live, p: LatLon) -> Result<Snap, RoadsError> {
        let s = self.nearest_in(live, p)?;
        if s.distance_m > self.snap_limit_m {
            return Err(RoadsError::OffRoad {
                lat: p.lat,
                lon: p.lon,
                distance_m: s.distance_m,
                limit_m: self.snap_limit_m,
            });
        }
        Ok(s)
    }

    /// Seeds for a journey that starts at a snapped point.
    fn source_seeds(&self, s: &Snap, m: Metric) -> Result<Vec<Seed>, RoadsError> {
        let seg = &self.data.graph.segments[s.segment as usize];
        let (w, o) = segment_weights(seg, m)?;
        let part = |f: f64| Seed {
            node: 0,
            w: (f * f64::from(w)).round() as u64,
            other: (f * f64::from(o)).round() as u64,
        };
        let mut seeds = Vec::with_capacity(3);
        if seg.forward {
            seeds.push(Seed {
                node: seg.b,
                ..part(1.0 - s.t)
            });
        }
        if seg.backward {
            seeds.push(Seed {
                node: seg.a,
                ..part(s.t)
            });
        }
        self.at_node_seeds(s, seg, &mut seeds);
        Ok(seeds)
    }

    /// Seeds for a journey that ends at a snapped point (costs from each node to the point).
    fn target_seeds(&self, s: &Snap, m: Metric) -> Result<Vec<Seed>, RoadsError> {
        let seg = &self.data.graph.segments[s.segment as usize];
        let (w, o) = segment_weights(seg, m)?;
        let part = |f: f64| Seed {
            node: 0,
            w: (f * f64::from(w)).round() as u64,
            other: (f * f64::from(o)).round() as u64,
        };
        let mut seeds = Vec::with_capacity(3);
        if seg.forward {
            seeds.push(Seed {
                node: seg.a,
                ..part(s.t)
            });
        }
        if seg.backward {
            seeds.push(Seed {
                node: seg.b,
                ..part(1.0 - s.t)
            });
        }
        self.at_node_seeds(s, seg, &mut seeds);
        Ok(seeds)
    }

    /// A point sitting on a node can leave or reach it in any direction at zero cost, whatever the
    /// direction of the segment it was snapped to.
    fn at_node_seeds(&self, s: &Snap, seg: &Segment, seeds: &mut Vec<Seed>) {
        let zero = |node| Seed {
            node,
            w: 0,
            other: 0,
        };
        if s.t * seg.length_m <= AT_NODE_M {
            seeds.push(zero(seg.a));
        }
        if (1.0 - s.t) * seg.length_m <= AT_NODE_M {
            seeds.push(zero(seg.b));
        }
    }

    /// Travel along a single segment when both points are on it, in an allowed direction.
    fn same_segment(
        &self,
        from: &Snap,
        to: &Snap,
        m: Metric,
    ) -> Result<Option<(u64, u64)>, RoadsError> {
        if from.segment != to.segment {
            return Ok(None);
        }
        let seg = &self.data.graph.segments[from.segment as usize];
        let (w, o) = segment_weights(seg, m)?;
        let cost = |f: f64| {
            (
                (f * f64::from(w)).round() as u64,
                (f * f64::from(o)).round() as u64,
            )
        };
        let mut best = None;
        if seg.forward && from.t <= to.t {
            best = better(best, Some(cost(to.t - from.t)));
        }
        if seg.backward && from.t >= to.t {
            best = better(best, Some(cost(from.t - to.t)));
        }
        Ok(best)
    }

    fn with_scratch<T>(&self, f: impl FnOnce(&mut Scratch, &mut Scratch) -> T) -> T {
        let n = self.num_nodes();
        let taken = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let (mut a, mut b) = taken.unwrap_or_else(|| (Scratch::new(n), Scratch::new(n)));
        let out = f(&mut a, &mut b);
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((a, b));
        out
    }

    /// Shortest route between two coordinates (contraction hierarchy). `Ok(None)` = unreachable.
    pub fn route(&self, from: LatLon, to: LatLon, metric: Metric) -> RouteResult {
        self.route_with(from, to, metric, false)
    }

    /// The same with plain Dijkstra on the uncontracted graph (baseline and test oracle).
    pub fn route_dijkstra(&self, from: LatLon, to: LatLon, metric: Metric) -> RouteResult {
        self.route_with(from, to, metric, true)
    }

    fn route_with(&self, from: LatLon, to: LatLon, metric: Metric, plain: bool) -> RouteResult {
        let live = self.live();
        let sf = self.snap_in(&live, from)?;
        let st = self.snap_in(&live, to)?;
        let (src, tgt) = (
            self.source_seeds(&sf, metric)?,
            self.target_seeds(&st, metric)?,
        );
        let direct = self.same_segment(&sf, &st, metric)?;
        let via = self.with_scratch(|a, b| {
            if plain {
                dijkstra_one_to_one(&live.base(&self.data.graph, metric).0, a, &src, &tgt)
            } else {
                live.ch(metric).one_to_one(a, b, &src, &tgt)
            }
        });
        Ok(better(direct, via).map(|r| to_route(metric, r, sf.distance_m, st.distance_m)))
    }

    /// Routes from every source to every target (bucket many-to-many). The outer error is never
    /// used for per-point problems: an off-road or invalid point only fails its own row/column.
    pub fn matrix(
        &self,
        sources: &[LatLon],
        targets: &[LatLon],
        metric: Metric,
    ) -> Vec<Vec<RouteResult>> {
        let live = self.live();
        let snap_all = |pts: &[LatLon], tgt: bool| -> Vec<Result<(Snap, Vec<Seed>), RoadsError>> {
            pts.iter()
                .map(|&p| {
                    let s = self.snap_in(&live, p)?;
                    let seeds = if tgt {
                        self.target_seeds(&s, metric)?
                    } else {
                        self.source_seeds(&s, metric)?
                    };
                    Ok((s, seeds))
                })
                .collect()
        };
        let srcs = snap_all(sources, false);
        let tgts = snap_all(targets, true);
        // Failed points search from nowhere (empty seeds) and are reported as errors below.
        let seeds_of = |v: &[Result<(Snap, Vec<Seed>), RoadsError>]| -> Vec<Vec<Seed>> {
            v.iter()
                .map(|r| r.as_ref().map(|(_, s)| s.clone()).unwrap_or_default())
                .collect()
        };
        let table = self.with_scratch(|a, _| {
            live.ch(metric)
                .many_to_many(a, &seeds_of(&srcs), &seeds_of(&tgts))
        });
        srcs.iter()
            .zip(table)
            .map(|(s, row)| {
                tgts.iter()
                    .zip(row)
                    .map(|(t, cell)| {
                        let (sf, _) = s.as_ref().map_err(Clone::clone)?;
                        let (st, _) = t.as_ref().map_err(Clone::clone)?;
                        let best = better(self.same_segment(sf, st, metric)?, cell);
                        Ok(best.map(|r| to_route(metric, r, sf.distance_m, st.distance_m)))
                    })
                    .collect()
            })
            .collect()
    }

    /// Dispatch query: travel from each unit (`sources`) TO one incident (`target`), one-way streets
    /// honoured in that direction. One backward search from the incident plus one forward search
    /// per unit.
    pub fn many_to_one(
        &self,
        sources: &[LatLon],
        target: LatLon,
        metric: Metric,
    ) -> Vec<RouteResult> {
        self.matrix(sources, &[target], metric)
            .into_iter()
            .map(|row| row.into_iter().next().unwrap_or(Ok(None)))
            .collect()
    }

    /// From one origin to many destinations.
    pub fn one_to_many(
        &self,
        source: LatLon,
        targets: &[LatLon],
        metric: Metric,
    ) -> Vec<RouteResult> {
        self.matrix(&[source], targets, metric)
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    /// Baseline for `many_to_one`: a single plain Dijkstra backward from the incident until every
    /// unit is settled.
    pub fn many_to_one_dijkstra(
        &self,
        sources: &[LatLon],
        target: LatLon,
        metric: Metric,
    ) -> Vec<RouteResult> {
        let live = self.live();
        let st = match self
            .snap_in(&live, target)
            .and_then(|s| Ok((s, self.target_seeds(&s, metric)?)))
        {
            Ok(x) => x,
            Err(e) => return sources.iter().map(|_| Err(e.clone())).collect(),
        };
        let srcs: Vec<Result<(Snap, Vec<Seed>), RoadsError>> = sources
            .iter()
            .map(|&p| {
                let s = self.snap_in(&live, p)?;
                Ok((s, self.source_seeds(&s, metric)?))
            })
            .collect();
        let flat: Vec<Seed> = srcs
            .iter()
            .flat_map(|r| r.as_ref().map(|(_, s)| s.clone()).unwrap_or_default())
            .collect();
        let reached = self.with_scratch(|a, _| {
            dijkstra_to_all(&live.base(&self.data.graph, metric).1, a, &st.1, &flat)
        });
        let mut k = 0;
        srcs.iter()
            .map(|r| {
                let (sf, seeds) = r.as_ref().map_err(Clone::clone)?;
                let mut best = None;
                for _ in seeds {
                    best = better(best, reached.get(k).copied().flatten());
                    k += 1;
                }
                let best = better(best, self.same_segment(sf, &st.0, metric)?);
                Ok(best.map(|x| to_route(metric, x, sf.distance_m, st.0.distance_m)))
            })
            .collect()
    }
}

fn projection_of(g: &RoadGraph) -> Projection {
    let n = g.coords.len();
    let lat0 = if n == 0 {
        0.0
    } else {
        g.coords.iter().map(|c| c.lat).sum::<f64>() / n as f64
    };
    Projection::new(lat0)
}

impl Live {
    /// A copy of the hierarchies and closures (the Dijkstra baselines are rebuilt on demand).
    pub(crate) fn copy(&self) -> Self {
        Self {
            ch: self.ch.clone(),
            closed: self.closed.clone(),
            base: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// Bring a retired state back in line with `current`: copy over the edges where they differ.
    pub(crate) fn catch_up(&mut self, current: &Self, stale: &Stale) {
        for ((ch, cur), edges) in self.ch.iter_mut().zip(&current.ch).zip(stale) {
            match edges {
                Some(edges) => {
                    for &e in edges {
                        let e = e as usize;
                        ch.up.arcs[e] = cur.up.arcs[e];
                        ch.down.arcs[e] = cur.down.arcs[e];
                    }
                }
                None => ch.clone_from(cur),
            }
        }
        self.closed.clone_from(&current.closed);
    }

    /// A view with nothing closed (for picking segments regardless of closures).
    fn none_closed() -> Self {
        Self {
            ch: [Ch::default(), Ch::default()],
            closed: Vec::new(),
            base: [OnceLock::new(), OnceLock::new()],
        }
    }

    pub(crate) fn is_closed(&self, segment: u32) -> bool {
        self.closed.get(segment as usize).copied().unwrap_or(false)
    }

    pub(crate) fn ch(&self, metric: Metric) -> &Ch {
        &self.ch[metric_index(metric)]
    }

    fn base(&self, g: &RoadGraph, metric: Metric) -> &(Csr, Csr) {
        self.base[metric_index(metric)].get_or_init(|| {
            let e = metric_edges(g, metric, &self.closed);
            let n = g.coords.len();
            (Csr::build(n, &e, false), Csr::build(n, &e, true))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_is_shareable_across_threads() {
        // The server keeps one network behind an Arc and queries it from many tasks.
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RoadNetwork>();
    }

    #[test]
    fn milli_units_are_positive_and_bounded() {
        assert_eq!(milli(0.0), Ok(1));
        assert_eq!(milli(1.2345), Ok(1235));
        assert_eq!(milli(f64::NAN), Err(RoadsError::TooLarge));
        assert_eq!(milli(1e12), Err(RoadsError::TooLarge));
    }
}
