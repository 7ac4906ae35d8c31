//! The closure part of `jikimi bench roads`: close an area, re-customise, and answer one incident to
//! 50 units, on the extract and on a synthetic road-like grid (1,000,000 nodes by default), against
//! full re-preprocessing of the graph without the closed segments in the same run (our hierarchy from
//! scratch, and a classic `fast_paths` contraction of one metric, which is what a closure cost before).
//!
//! Every answer after the closure is checked against plain Dijkstra on the closed graph, and reopening
//! is checked to restore the answers from before; mismatches are counted in the output.

use std::time::Instant;

use serde_json::{Value, json};

use crate::bench::{Rng, round3};
use crate::ch::Ch;
use crate::cli::CliError;
use crate::geo::haversine_m;
use crate::graph::{WEdge, dedup_edges};
use crate::import::{RoadGraph, Segment};
use crate::{Area, LatLon, Metric, Polygon, Profile, RoadNetwork, RouteResult};

/// Repetitions of each measured step; minimum and maximum are reported.
const REPEAT: usize = 3;

fn secs(f: &mut dyn FnMut() -> Result<(), CliError>) -> Result<(f64, f64), CliError> {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for _ in 0..REPEAT {
        let t = Instant::now();
        f()?;
        let s = t.elapsed().as_secs_f64();
        lo = lo.min(s);
        hi = hi.max(s);
    }
    Ok((lo, hi))
}

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
    RoadGraph {
        osm_ids: (0..coords.len() as i64).collect(),
        drivable_ways: segments.len(),
        coords,
        segments,
        refs_without_coords: 0,
    }
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
    let m = Metric::Time;
    let before: Vec<Option<i64>> = net
        .many_to_one(&units, incident, m)
        .iter()
        .map(duration)
        .collect();

    // Closure applied (both metrics re-customised), then the dispatch query on the new weights.
    let (apply_min, apply_max) = secs(&mut || {
        net.set_closed_segments(&closed)?;
        Ok(())
    })?;
    let mut after = Vec::new();
    let (eta_min, eta_max) = secs(&mut || {
        after = net.many_to_one(&units, incident, m);
        Ok(())
    })?;
    let dijkstra = net.many_to_one_dijkstra(&units, incident, m);
    let mut mismatches = after
        .iter()
        .zip(&dijkstra)
        .filter(|(x, y)| duration(x) != duration(y))
        .count();
    let changed = after
        .iter()
        .zip(&before)
        .filter(|(x, y)| duration(x) != **y)
        .count();

    // Full re-preprocessing of the graph without the closed segments, same run.
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
    let t = Instant::now();
    let classic = Ch::build(n, &edges)?;
    let fast_paths_one_metric_s = t.elapsed().as_secs_f64();
    mismatches += rebuilt
        .many_to_one(&units, incident, m)
        .iter()
        .zip(&after)
        .filter(|(x, y)| duration(x) != duration(y))
        .count();
    drop((rebuilt, classic));

    let t = Instant::now();
    net.set_closed_segments(&[])?;
    let reopen_s = t.elapsed().as_secs_f64();
    let restored: Vec<Option<i64>> = net
        .many_to_one(&units, incident, m)
        .iter()
        .map(duration)
        .collect();
    let reopen_mismatches = restored.iter().zip(&before).filter(|(x, y)| x != y).count();

    let applied = apply_min + eta_min;
    let ratio = |x: f64| (x / applied * 10.0).round() / 10.0;
    Ok(json!({
        "network": name,
        "nodes": n,
        "segments": net.num_segments(),
        "cch_arcs": net.num_hierarchy_arcs(),
        "area_half_side_m": half_m,
        "closed_segments": closed.len(),
        "initial_preprocess_cch_s": round3(build_s),
        "closure_apply_both_metrics_s": {"min": round3(apply_min), "max": round3(apply_max)},
        "one_to_50_after_closure_s": {"min": round3(eta_min), "max": round3(eta_max)},
        "closure_applied_and_etas_updated_s": round3(applied),
        "under_1_s": applied < 1.0,
        "etas_changed_by_closure": changed,
        "full_repreprocess_cch_s": round3(rebuild_cch_s),
        "full_repreprocess_fast_paths_time_metric_only_s": round3(fast_paths_one_metric_s),
        "ratio_full_cch_to_closure": ratio(rebuild_cch_s),
        "ratio_full_fast_paths_to_closure": ratio(fast_paths_one_metric_s),
        "reopen_s": round3(reopen_s),
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

/// The synthetic experiment: a 2 km square in the middle of the grid.
pub fn synthetic(nodes: usize) -> Result<Value, CliError> {
    let graph = grid_graph(nodes, 42);
    let last = graph.coords.last().copied().unwrap_or(LatLon {
        lat: 59.5,
        lon: 23.0,
    });
    let centre = LatLon {
        lat: (59.5 + last.lat) / 2.0,
        lon: (23.0 + last.lon) / 2.0,
    };
    run("synthetic_grid", graph, centre, 1_000.0)
}
