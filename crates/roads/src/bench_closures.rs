//! The closure part of `jikimi bench roads`: close an area, update the hierarchy incrementally, and
//! answer one incident to 50 units, on the extract and on a synthetic road-like network (1,000,000
//! nodes by default: towns of street grids joined by rural roads, [`towns_graph`]; optionally also a
//! uniform grid, the worst case for nested dissection), against full re-preprocessing of the graph
//! without the closed segments in the same run (our full customisation of both metrics, our hierarchy
//! from scratch, and a classic `fast_paths` contraction of one metric, which is what a closure cost
//! before).
//!
//! Every answer after the closure is checked against plain Dijkstra on the closed graph (the 50 units
//! and sampled one-to-one pairs), and reopening is checked to restore the answers from before;
//! mismatches are counted in the output.

use std::time::Instant;

use serde_json::{Value, json};

use crate::bench::{Rng, round3};
use crate::ch::Ch;
use crate::cli::CliError;
use crate::geo::haversine_m;
use crate::graph::{WEdge, dedup_edges};
use crate::import::{RoadGraph, Segment};
use crate::{Area, LatLon, Metric, Polygon, Profile, RoadNetwork, RouteResult};

/// Close/answer/reopen rounds; the fastest and slowest of each step are reported.
const REPEAT: usize = 3;

/// One-to-one pairs checked against plain Dijkstra with the closure in force.
const ONE_TO_ONE_SAMPLES: usize = 20;

/// A square of about `half_m` metres either side of `c`.
fn square(c: LatLon, half_m: f64) -> Result<Area, CliError> {
    let (dlat, dlon) = (
        half_m / 111_195.0,
        half_m / (111_195.0 * c.lat.to_radians().cos()),
    );
    let p = |a: f64, b: f64| LatLon {
        lat: c.lat + a * dlat,
        lon: c.lon + b * dlon,
    };
    Ok(Area::new(vec![Polygon {
        exterior: vec![
            p(-1.0, -1.0),
            p(-1.0, 1.0),
            p(1.0, 1.0),
            p(1.0, -1.0),
            p(-1.0, -1.0),
        ],
        holes: vec![],
    }])?)
}

/// A city-like grid as an imported road graph (100 m blocks, every 8th street an arterial at
/// 60 km/h, others 30 km/h, ±20 % length jitter, all two-way) around Helsinki's latitude.
pub fn grid_graph(n_target: usize, seed: u64) -> RoadGraph {
    let side = (n_target as f64).sqrt().ceil() as usize;
    let mut rng = Rng(seed | 1);
    let coords: Vec<LatLon> = (0..side * side)
        .map(|i| LatLon {
            lat: 59.5 + (i / side) as f64 * 0.0009,
            lon: 23.0 + (i % side) as f64 * 0.0018,
        })
        .collect();
    let mut segments = Vec::with_capacity(2 * side * side);
    for r in 0..side {
        for c in 0..side {
            for (r2, c2, arterial) in [(r, c + 1, r % 8 == 0), (r + 1, c, c % 8 == 0)] {
                if r2 >= side || c2 >= side {
                    continue;
                }
                let (a, b) = ((r * side + c) as u32, (r2 * side + c2) as u32);
                let length_m = haversine_m(coords[a as usize], coords[b as usize])
                    * (0.8 + rng.below(41) as f64 / 100.0);
                let kmh = if arterial { 60.0 } else { 30.0 };
                segments.push(Segment {
                    a,
                    b,
                    forward: true,
                    backward: true,
                    length_m,
                    duration_s: length_m / (kmh / 3.6),
                });
            }
        }
    }
    RoadGraph::synthetic(coords, segments)
}

/// A road-like network: a square lattice of towns, each a street grid of 32–64 nodes a side (100 m
/// blocks, ±20 % lengths, every 8th street an arterial at 50 km/h, others 30 km/h, one street in ten
/// missing), neighbouring towns joined by two winding rural roads at 80 km/h (a node every ~250 m,
/// about 3 km between towns). Why not a uniform grid: real road networks have small separators
/// between settlements, a uniform grid has none (its top separator alone is a 1,000-node clique at
/// 1M nodes).
pub fn towns_graph(n_target: usize, seed: u64) -> RoadGraph {
    const BLOCK_M: f64 = 100.0;
    const GAP_M: f64 = 3_000.0;
    const MIN_SIDE: usize = 32;
    const MAX_SIDE: usize = 64;
    // Mean town: 48² + 48 = 2,352 nodes (streets plus its share of rural-road nodes).
    let t = ((n_target as f64 / 2_352.0).sqrt().round() as usize).max(1);
    let mut rng = Rng(seed | 1);
    let pitch_m = MAX_SIDE as f64 * BLOCK_M + GAP_M;
    let to_ll = |x_m: f64, y_m: f64| LatLon {
        lat: 59.5 + y_m / 111_195.0,
        lon: 23.0 + x_m / (111_195.0 * 59.5f64.to_radians().cos()),
    };
    let seg = |coords: &[LatLon], a: u32, b: u32, kmh: f64, factor: f64| {
        let length_m = haversine_m(coords[a as usize], coords[b as usize]) * factor;
        Segment {
            a,
            b,
            forward: true,
            backward: true,
            length_m,
            duration_s: length_m / (kmh / 3.6),
        }
    };
    let mut coords: Vec<LatLon> = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    // Per town: first node id and side.
    let mut towns: Vec<(u32, usize)> = Vec::with_capacity(t * t);
    for ty in 0..t {
        for tx in 0..t {
            let side = MIN_SIDE + rng.below(MAX_SIDE - MIN_SIDE + 1);
            let base = coords.len() as u32;
            let (ox, oy) = (tx as f64 * pitch_m, ty as f64 * pitch_m);
            for r in 0..side {
                for c in 0..side {
                    coords.push(to_ll(ox + c as f64 * BLOCK_M, oy + r as f64 * BLOCK_M));
                }
            }
            for r in 0..side {
                for c in 0..side {
                    for (r2, c2, arterial) in [(r, c + 1, r % 8 == 0), (r + 1, c, c % 8 == 0)] {
                        if r2 >= side || c2 >= side || (!arterial && rng.below(10) == 0) {
                            continue;
                        }
                        let (a, b) = (base + (r * side + c) as u32, base + (r2 * side + c2) as u32);
                        let factor = 0.8 + rng.below(41) as f64 / 100.0;
                        let kmh = if arterial { 50.0 } else { 30.0 };
                        segments.push(seg(&coords, a, b, kmh, factor));
                    }
                }
            }
            towns.push((base, side));
        }
    }
    // Rural roads to the right-hand and the upper neighbour, leaving at a quarter and at three
    // quarters of the town's edge.
    for ty in 0..t {
        for tx in 0..t {
            let (base, side) = towns[ty * t + tx];
            for (nx, ny) in [(tx + 1, ty), (tx, ty + 1)] {
                if nx >= t || ny >= t {
                    continue;
                }
                let (nbase, nside) = towns[ny * t + nx];
                for q in [side / 4, 3 * side / 4] {
                    let nq = q * nside / side;
                    let (from, to) = if nx > tx {
                        (
                            base + (q * side + side - 1) as u32,
                            nbase + (nq * nside) as u32,
                        )
                    } else {
                        (base + ((side - 1) * side + q) as u32, nbase + nq as u32)
                    };
                    let (p, r) = (coords[from as usize], coords[to as usize]);
                    let hops = ((haversine_m(p, r) / 250.0).ceil() as usize).max(2);
                    let mut prev = from;
                    for h in 1..hops {
                        let f = h as f64 / hops as f64;
                        let wiggle = (rng.below(201) as f64 - 100.0) / 111_195.0;
                        coords.push(LatLon {
                            lat: p.lat + (r.lat - p.lat) * f + wiggle,
                            lon: p.lon + (r.lon - p.lon) * f + wiggle,
                        });
                        let id = coords.len() as u32 - 1;
                        segments.push(seg(&coords, prev, id, 80.0, 1.05));
                        prev = id;
                    }
                    segments.push(seg(&coords, prev, to, 80.0, 1.05));
                }
            }
        }
    }
    RoadGraph::synthetic(coords, segments)
}

fn duration(r: &RouteResult) -> Option<i64> {
    r.as_ref()
        .ok()
        .copied()
        .flatten()
        .map(|x| (x.duration_s * 1000.0).round() as i64)
}

/// Time-metric arcs of the open segments (the input a classic re-contraction would get).
fn open_edges(g: &RoadGraph, closed: &[u32]) -> Vec<WEdge> {
    let mut edges = Vec::with_capacity(2 * g.segments.len());
    for (i, s) in g.segments.iter().enumerate() {
        if closed.binary_search(&(i as u32)).is_ok() {
            continue;
        }
        let ms = ((s.duration_s * 1000.0).round() as u32).max(1);
        let mm = ((s.length_m * 1000.0).round() as u32).max(1);
        if s.forward {
            edges.push(WEdge {
                from: s.a,
                to: s.b,
                w: ms,
                other: mm,
            });
        }
        if s.backward {
            edges.push(WEdge {
                from: s.b,
                to: s.a,
                w: ms,
                other: mm,
            });
        }
    }
    dedup_edges(edges)
}

fn keys(v: &[RouteResult]) -> Vec<Option<i64>> {
    v.iter().map(duration).collect()
}

fn differ(a: &[Option<i64>], b: &[Option<i64>]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

/// One closure experiment on `graph`: an area of `half_m` around `centre`, one incident just outside
/// it and 50 units spread over the graph.
pub fn run(name: &str, graph: RoadGraph, centre: LatLon, half_m: f64) -> Result<Value, CliError> {
    let t = Instant::now();
    let net = RoadNetwork::build(graph.clone(), Profile::Civilian)?;
    let build_s = t.elapsed().as_secs_f64();
    let area = square(centre, half_m)?;
    let closed = net.segments_in_area(&area);
    let coords = &net.graph().coords;
    let n = coords.len();
    let incident = LatLon {
        lat: centre.lat + 1.5 * half_m / 111_195.0,
        lon: centre.lon,
    };
    let mut rng = Rng(0x05EE_D0FC_1050);
    let units: Vec<LatLon> = (0..50).map(|_| coords[rng.below(n)]).collect();
    let pairs: Vec<(LatLon, LatLon)> = (0..ONE_TO_ONE_SAMPLES)
        .map(|_| (coords[rng.below(n)], coords[rng.below(n)]))
        .collect();
    let m = Metric::Time;
    let before = keys(&net.many_to_one(&units, incident, m));

    // Closure applied (both metrics updated incrementally), the dispatch query on the new weights,
    // then everything reopened; REPEAT rounds, the fastest and slowest of each step reported.
    let (mut apply, mut eta, mut reopen) = (Vec::new(), Vec::new(), Vec::new());
    let (mut recomputed_close, mut recomputed_reopen) = (0, 0);
    let mut reopen_mismatches = 0;
    let mut after = Vec::new();
    for round in 0..REPEAT {
        let t = Instant::now();
        recomputed_close = net.apply_closures(&closed)?.1;
        apply.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        after = net.many_to_one(&units, incident, m);
        eta.push(t.elapsed().as_secs_f64());
        if round + 1 < REPEAT {
            let t = Instant::now();
            recomputed_reopen = net.apply_closures(&[])?.1;
            reopen.push(t.elapsed().as_secs_f64());
            reopen_mismatches += differ(&keys(&net.many_to_one(&units, incident, m)), &before);
        }
    }
    // Correctness with the closure in force: the 50 units and sampled one-to-one pairs against
    // plain Dijkstra on the graph without the closed segments.
    let after = keys(&after);
    let mut mismatches = differ(
        &after,
        &keys(&net.many_to_one_dijkstra(&units, incident, m)),
    );
    for &(a, b) in &pairs {
        mismatches +=
            usize::from(duration(&net.route(a, b, m)) != duration(&net.route_dijkstra(a, b, m)));
    }
    let changed = differ(&after, &before);

    // Full re-preprocessing in the same run: our full customisation (both metrics, same closures),
    // our hierarchy from scratch on the graph without the closed segments, and `fast_paths`.
    let mut flags = vec![false; net.num_segments()];
    for &s in &closed {
        flags[s as usize] = true;
    }
    let t = Instant::now();
    let full = net.customise(flags)?;
    let full_customise_s = t.elapsed().as_secs_f64();
    drop(full);
    let mut without = graph;
    let keep: Vec<Segment> = without
        .segments
        .iter()
        .enumerate()
        .filter(|(i, _)| closed.binary_search(&(*i as u32)).is_err())
        .map(|(_, s)| *s)
        .collect();
    let edges = open_edges(&without, &closed);
    without.segments = keep;
    let t = Instant::now();
    let rebuilt = RoadNetwork::build(without, Profile::Civilian)?;
    let rebuild_cch_s = t.elapsed().as_secs_f64();
    mismatches += differ(&keys(&rebuilt.many_to_one(&units, incident, m)), &after);
    drop(rebuilt);
    let t = Instant::now();
    let classic = Ch::build(n, &edges)?;
    let fast_paths_one_metric_s = t.elapsed().as_secs_f64();
    drop(classic);

    let t = Instant::now();
    net.set_closed_segments(&[])?;
    reopen.push(t.elapsed().as_secs_f64());
    reopen_mismatches += differ(&keys(&net.many_to_one(&units, incident, m)), &before);

    let lo = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let applied = lo(&apply) + lo(&eta);
    let ratio = |x: f64| (x / applied * 10.0).round() / 10.0;
    Ok(json!({
        "network": name,
        "nodes": n,
        "segments": net.num_segments(),
        "cch_arcs": net.num_hierarchy_arcs(),
        "cch_arcs_per_node": round3(net.num_hierarchy_arcs() as f64 / n.max(1) as f64),
        "area_half_side_m": half_m,
        "closed_segments": closed.len(),
        "initial_preprocess_cch_s": round3(build_s),
        "closure_apply_incremental_both_metrics_s": {"min": round3(lo(&apply)), "max": round3(hi(&apply))},
        "hierarchy_edges_recomputed_on_close_both_metrics": recomputed_close,
        "one_to_50_after_closure_s": {"min": round3(lo(&eta)), "max": round3(hi(&eta))},
        "closure_applied_and_etas_updated_s": round3(applied),
        "under_1_s": applied < 1.0,
        "etas_changed_by_closure": changed,
        "full_customisation_both_metrics_s": round3(full_customise_s),
        "full_repreprocess_cch_s": round3(rebuild_cch_s),
        "full_repreprocess_fast_paths_time_metric_only_s": round3(fast_paths_one_metric_s),
        "ratio_full_customisation_to_closure": ratio(full_customise_s),
        "ratio_full_cch_to_closure": ratio(rebuild_cch_s),
        "ratio_full_fast_paths_to_closure": ratio(fast_paths_one_metric_s),
        "reopen_incremental_s": {"min": round3(lo(&reopen)), "max": round3(hi(&reopen))},
        "hierarchy_edges_recomputed_on_reopen_both_metrics": recomputed_reopen,
        "sampled_one_to_one_pairs": pairs.len(),
        "result_mismatches_vs_dijkstra_and_rebuilt": mismatches,
        "reopen_mismatches_vs_before": reopen_mismatches,
    }))
}

/// The extract's experiment: a 600 m square centred on the node nearest the extract's centroid.
pub fn extract(pbf: &std::path::Path) -> Result<Value, CliError> {
    let graph = crate::import::import_path(pbf, Profile::Civilian)?;
    let n = graph.coords.len().max(1) as f64;
    let (lat, lon) = graph
        .coords
        .iter()
        .fold((0.0, 0.0), |(a, b), c| (a + c.lat / n, b + c.lon / n));
    run("extract", graph, LatLon { lat, lon }, 300.0)
}

/// The synthetic experiment: a 2 km square around the node nearest the middle of the road-like
/// network ([`towns_graph`]) or, with `uniform`, of a uniform grid ([`grid_graph`]).
pub fn synthetic(nodes: usize, uniform: bool) -> Result<Value, CliError> {
    let (name, graph) = if uniform {
        ("synthetic_uniform_grid", grid_graph(nodes, 42))
    } else {
        ("synthetic_towns", towns_graph(nodes, 42))
    };
    let (lo, hi) = graph.coords.iter().fold(
        ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN)),
        |(lo, hi), c| {
            (
                (lo.0.min(c.lat), lo.1.min(c.lon)),
                (hi.0.max(c.lat), hi.1.max(c.lon)),
            )
        },
    );
    let mid = LatLon {
        lat: (lo.0 + hi.0) / 2.0,
        lon: (lo.1 + hi.1) / 2.0,
    };
    let centre = graph
        .coords
        .iter()
        .copied()
        .min_by(|a, b| haversine_m(*a, mid).total_cmp(&haversine_m(*b, mid)))
        .unwrap_or(mid);
    run(name, graph, centre, 1_000.0)
}
