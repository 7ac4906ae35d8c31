//! `jikimi bench roads`: one run measuring import/preprocessing, one-to-one p50/p99, one incident to
//! 50 units, the plain-Dijkstra baseline, growth on synthetic grids (1M nodes behind `--large`), and
//! road closures against full re-preprocessing ([`crate::bench_closures`]).
//!
//! Wall-clock timing belongs here, never in tests. Pseudo-random choices use a fixed xorshift seed
//! so runs are comparable.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};

use crate::ch::Ch;
use crate::cli::CliError;
use crate::graph::{Csr, Scratch, Seed, WEdge, dedup_edges, dijkstra_one_to_one, dijkstra_to_all};
use crate::{LatLon, Metric, Profile, RoadNetwork};

/// Arguments of `jikimi bench roads`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// PBF extract to benchmark on.
    #[arg(long, default_value = "data/helsinki.osm.pbf")]
    pub pbf: PathBuf,
    /// One-to-one queries on the extract.
    #[arg(long, default_value_t = 2000)]
    pub queries: usize,
    /// One-to-50 rounds on the extract.
    #[arg(long, default_value_t = 300)]
    pub rounds: usize,
    /// Synthetic grid sizes (nodes, comma separated) for the growth table.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub grid: Vec<usize>,
    /// Skip the synthetic growth table (extract only).
    #[arg(long)]
    pub skip_grid: bool,
    /// Also run the 1M-node grid (about 4.5 minutes of preprocessing on a busy 2-core machine).
    #[arg(long)]
    pub large: bool,
    /// Write the extract's time-metric edges and the one-to-50 sets as CSV/JSON into this
    /// directory (input for `benches/pgrouting.sh`).
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Skip the closure experiments (area closed, hierarchy re-customised, ETAs updated, against full
    /// re-preprocessing) on the extract and on the synthetic grid.
    #[arg(long)]
    pub skip_closures: bool,
    /// Nodes of the synthetic road-like network (towns joined by rural roads) for the closure
    /// experiment (target: closure applied and ETAs updated in under a second at 1,000,000).
    #[arg(long, default_value_t = 1_000_000)]
    pub closure_nodes: usize,
    /// Also run the closure experiment on a uniform grid of as many nodes (the worst case for a
    /// nested-dissection order: no small separators; its full customisation takes minutes at 1M).
    #[arg(long)]
    pub closure_uniform_grid: bool,
    /// Print JSON (the only output: one document on stdout); accepted so that every command takes `--json`.
    #[arg(long)]
    pub json: bool,
}

/// Deterministic xorshift64*.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Repetitions per measured query; the minimum is kept. Why: the machine is shared with other
/// builds, and the minimum filters out preemption (as `make_pairs.py --timings-out` does).
const REPEAT: usize = 3;

/// Time `f` REPEAT times; returns the fastest wall time in µs and the last result.
fn timed<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..REPEAT {
        let s = Instant::now();
        let r = f();
        best = best.min(us(s.elapsed()));
        out = Some(r);
    }
    match out {
        Some(r) => (best, r),
        None => (best, f()),
    }
}

/// (p50, p99, mean) in microseconds.
fn stats(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    json!({"n": v.len(), "p50_us": round1(p(0.5)), "p99_us": round1(p(0.99)), "mean_us": round1(mean)})
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn node_seed(node: u32) -> Vec<Seed> {
    vec![Seed {
        node,
        w: 0,
        other: 0,
    }]
}

/// One incident, its units, and our CH durations (for the pgRouting agreement check).
type QuerySet = (LatLon, Vec<LatLon>, Vec<Option<f64>>);

/// Run the benchmark and print one JSON document.
pub fn run(a: &BenchArgs) -> Result<(), CliError> {
    let mut report = serde_json::Map::new();
    report.insert("extract".into(), bench_extract(a)?);
    let mut sizes = if a.skip_grid {
        Vec::new()
    } else {
        a.grid.clone()
    };
    if a.large {
        sizes.push(1_000_000);
    }
    let growth: Vec<Value> = sizes
        .iter()
        .map(|&n| bench_grid(n))
        .collect::<Result<_, _>>()?;
    report.insert("growth_grid".into(), Value::Array(growth));
    if !a.skip_closures {
        let mut closures = vec![
            crate::bench_closures::extract(&a.pbf)?,
            crate::bench_closures::synthetic(a.closure_nodes, false)?,
        ];
        if a.closure_uniform_grid {
            closures.push(crate::bench_closures::synthetic(a.closure_nodes, true)?);
        }
        report.insert("closures".into(), Value::Array(closures));
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&Value::Object(report))
            .map_err(|e| CliError::Usage(e.to_string()))?
    );
    Ok(())
}

fn bench_extract(a: &BenchArgs) -> Result<Value, CliError> {
    let t0 = Instant::now();
    let graph = crate::import::import_path(&a.pbf, Profile::Civilian)?;
    let t_import = t0.elapsed();
    let t1 = Instant::now();
    let net = RoadNetwork::build(graph, Profile::Civilian)?;
    let t_prep = t1.elapsed();
    let coords = &net.graph().coords;
    let n = coords.len();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let metric = Metric::Time;

    // One-to-one through the public API (snapping included), CH versus plain Dijkstra, same pairs.
    let pairs: Vec<(LatLon, LatLon)> = (0..a.queries)
        .map(|_| (coords[rng.below(n)], coords[rng.below(n)]))
        .collect();
    let mut ch_t = Vec::with_capacity(pairs.len());
    let mut dj_t = Vec::with_capacity(pairs.len());
    let mut mismatches = 0usize;
    for &(from, to) in &pairs {
        let (t, r1) = timed(|| net.route(from, to, metric));
        ch_t.push(t);
        let (t, r2) = timed(|| net.route_dijkstra(from, to, metric));
        dj_t.push(t);
        let d = |r: &crate::RouteResult| r.as_ref().ok().copied().flatten().map(|x| x.duration_s);
        if d(&r1) != d(&r2) {
            mismatches += 1;
        }
    }

    // One incident, 50 units: bucket CH, one backward Dijkstra, and 50 separate CH queries.
    let mut bucket_t = Vec::new();
    let mut dj50_t = Vec::new();
    let mut sep_t = Vec::new();
    let mut sets = Vec::new();
    for _ in 0..a.rounds {
        let incident = coords[rng.below(n)];
        let units: Vec<LatLon> = (0..50).map(|_| coords[rng.below(n)]).collect();
        let (t, r1) = timed(|| net.many_to_one(&units, incident, metric));
        bucket_t.push(t);
        let (t, r2) = timed(|| net.many_to_one_dijkstra(&units, incident, metric));
        dj50_t.push(t);
        let (t, r3) = timed(|| {
            units
                .iter()
                .map(|&u| net.route(u, incident, metric))
                .collect::<Vec<_>>()
        });
        sep_t.push(t);
        let d = |r: &crate::RouteResult| r.as_ref().ok().copied().flatten().map(|x| x.duration_s);
        mismatches += r1.iter().zip(&r2).filter(|(x, y)| d(x) != d(y)).count();
        mismatches += r1.iter().zip(&r3).filter(|(x, y)| d(x) != d(y)).count();
        let ours: Vec<Option<f64>> = r1.iter().map(d).collect();
        sets.push((incident, units, ours));
    }
    if let Some(dir) = &a.export {
        export(&net, &pairs, &sets, dir)?;
    }
    Ok(json!({
        "pbf": a.pbf.display().to_string(),
        "nodes": n,
        "segments": net.num_segments(),
        "cch_arcs": net.num_hierarchy_arcs(),
        "import_s": round3(t_import.as_secs_f64()),
        "preprocess_both_metrics_s": round3(t_prep.as_secs_f64()),
        "metric": "time",
        "one_to_one_ch": stats(ch_t),
        "one_to_one_dijkstra": stats(dj_t),
        "one_to_50_bucket_ch": stats(bucket_t),
        "one_to_50_single_backward_dijkstra": stats(dj50_t),
        "one_to_50_as_50_separate_ch_queries": stats(sep_t),
        "result_mismatches_ch_vs_dijkstra": mismatches,
    }))
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Write edges (time metric, seconds and metres) and query sets for the pgRouting comparison.
fn export(
    net: &RoadNetwork,
    pairs: &[(LatLon, LatLon)],
    sets: &[QuerySet],
    dir: &std::path::Path,
) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Usage(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut csv = String::from("id,source,target,cost,reverse_cost,length_m\n");
    for (i, s) in net.graph().segments.iter().enumerate() {
        let cost = if s.forward { s.duration_s } else { -1.0 };
        let rev = if s.backward { s.duration_s } else { -1.0 };
        csv.push_str(&format!(
            "{},{},{},{cost},{rev},{}\n",
            i + 1,
            s.a + 1,
            s.b + 1,
            s.length_m
        ));
    }
    std::fs::write(dir.join("edges.csv"), csv).map_err(io)?;
    // Query sets by node id (1-based, as in edges.csv): points are graph nodes by construction.
    let id = |p: &LatLon| {
        net.nearest(*p).ok().map(|s| {
            let seg = &net.graph().segments[s.segment as usize];
            if s.t < 0.5 { seg.a + 1 } else { seg.b + 1 }
        })
    };
    let sets_json: Vec<Value> = sets
        .iter()
        .map(|(inc, units, ours)| {
            json!({"incident": id(inc), "units": units.iter().map(id).collect::<Vec<_>>(), "ch_duration_s": ours})
        })
        .collect();
    let pairs_json: Vec<Value> = pairs.iter().map(|(f, t)| json!([id(f), id(t)])).collect();
    let doc = json!({"one_to_50": sets_json, "pairs": pairs_json});
    std::fs::write(dir.join("queries.json"), doc.to_string()).map_err(io)?;
    Ok(())
}

/// A city-like synthetic grid: ~100 m blocks, residential streets at 30 km/h, every 8th row and
/// column an arterial at 60 km/h, ±20 % jitter on lengths, all two-way.
pub fn grid_edges(n_target: usize, seed: u64) -> (usize, Vec<WEdge>) {
    let side = (n_target as f64).sqrt().ceil() as usize;
    let n = side * side;
    let mut rng = Rng(seed | 1);
    let mut edges = Vec::with_capacity(4 * n);
    let id = |r: usize, c: usize| (r * side + c) as u32;
    for r in 0..side {
        for c in 0..side {
            for (r2, c2, arterial) in [(r, c + 1, r % 8 == 0), (r + 1, c, c % 8 == 0)] {
                if r2 >= side || c2 >= side {
                    continue;
                }
                let len_m = 80.0 + rng.below(41) as f64; // 80..120 m
                let kmh = if arterial { 60.0 } else { 30.0 };
                let mm = (len_m * 1000.0) as u32;
                let ms = (len_m / (kmh / 3.6) * 1000.0) as u32;
                for (a, b) in [(id(r, c), id(r2, c2)), (id(r2, c2), id(r, c))] {
                    edges.push(WEdge {
                        from: a,
                        to: b,
                        w: ms,
                        other: mm,
                    });
                }
            }
        }
    }
    (n, dedup_edges(edges))
}

fn bench_grid(n_target: usize) -> Result<Value, CliError> {
    let (n, edges) = grid_edges(n_target, 42);
    let t0 = Instant::now();
    let ch = Ch::build(n, &edges)?;
    let t_prep = t0.elapsed();
    let g = Csr::build(n, &edges, false);
    let rev = Csr::build(n, &edges, true);
    let (mut a, mut b) = (Scratch::new(n), Scratch::new(n));
    let mut rng = Rng(7);
    let q_ch = 1000;
    // Plain Dijkstra is slow on big graphs: fewer samples, same distribution.
    let q_dj = if n > 200_000 { 20 } else { 100 };
    let mut ch_t = Vec::new();
    let mut dj_t = Vec::new();
    let mut mismatches = 0usize;
    for i in 0..q_ch {
        let (src, dst) = (
            node_seed(rng.below(n) as u32),
            node_seed(rng.below(n) as u32),
        );
        let (t, r1) = timed(|| ch.one_to_one(&mut a, &mut b, &src, &dst));
        ch_t.push(t);
        if i < q_dj {
            let (t, r2) = timed(|| dijkstra_one_to_one(&g, &mut a, &src, &dst));
            dj_t.push(t);
            mismatches += usize::from(r1.map(|x| x.0) != r2.map(|x| x.0));
        }
    }
    let mut b50 = Vec::new();
    let mut d50 = Vec::new();
    for i in 0..100 {
        let target = node_seed(rng.below(n) as u32);
        let units: Vec<Vec<Seed>> = (0..50).map(|_| node_seed(rng.below(n) as u32)).collect();
        let (t, m) = timed(|| ch.many_to_many(&mut a, &units, std::slice::from_ref(&target)));
        b50.push(t);
        if i < q_dj / 5 {
            let flat: Vec<Seed> = units.iter().map(|u| u[0]).collect();
            let (t, r) = timed(|| dijkstra_to_all(&rev, &mut b, &target, &flat));
            d50.push(t);
            mismatches += m
                .iter()
                .zip(&r)
                .filter(|(x, y)| x[0].map(|v| v.0) != y.map(|v| v.0))
                .count();
        }
    }
    let p50 = |v: &Value| v.get("p50_us").and_then(Value::as_f64).unwrap_or(f64::NAN);
    let (sc, sd) = (stats(ch_t), stats(dj_t));
    let speedup = p50(&sd) / p50(&sc);
    Ok(json!({
        "nodes": n,
        "arcs": edges.len(),
        "ch_arcs": ch.num_arcs(),
        "preprocess_s": round3(t_prep.as_secs_f64()),
        "one_to_one_ch": sc,
        "one_to_one_dijkstra": sd,
        "speedup_p50": round1(speedup),
        "one_to_50_bucket_ch": stats(b50),
        "one_to_50_single_backward_dijkstra": stats(d50),
        "result_mismatches_ch_vs_dijkstra": mismatches,
    }))
}
