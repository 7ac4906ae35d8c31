//! `jikimi bench analyze`: times Gi* and local Moran with permutations on rook lattices (growth from
//! 10^4 to 10^6 cells), single-threaded and on all threads, the Toronto aggregation to H3, and, when a
//! Python script is given, esda on the same 100x100 lattice and the same values in the same run.

use std::path::PathBuf;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::aggregate::{
    self, IncidentColumns, IncidentCounter, IncidentFilter, Target, TimeWindow,
};
use crate::error::{Error, Result};
use crate::stats::Permutations;
use crate::stats::getis_ord::g_local;
use crate::stats::moran::moran_local;
use crate::weights::{Transform, Weights};

/// Arguments of `jikimi bench analyze`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Lattice sides to time (n = side^2 cells).
    #[arg(long, value_delimiter = ',', default_values_t = [100usize, 316, 1000])]
    pub sides: Vec<usize>,
    /// Largest side also timed single-threaded.
    #[arg(long, default_value_t = 100)]
    pub single_thread_max_side: usize,
    /// Permutations per statistic.
    #[arg(long, default_value_t = 999)]
    pub permutations: usize,
    /// Seed of values and permutations.
    #[arg(long, default_value_t = 12345)]
    pub seed: u64,
    /// Toronto MCI CSV (gzip) to aggregate to H3 (skipped if absent).
    #[arg(
        long,
        default_value = "../shared/data/toronto_mci/mci_2014_2021.csv.gz"
    )]
    pub toronto: PathBuf,
    /// H3 resolution of the Toronto aggregation.
    #[arg(long, default_value_t = 9)]
    pub h3_resolution: u8,
    /// Python script timing esda on the 100x100 lattice (e.g. crates/analyze/benches/esda_compare.py).
    #[arg(long)]
    pub esda_script: Option<PathBuf>,
    /// Python interpreter used to run the script (the script makes its own venv).
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Write all figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Rook contiguity on a `side x side` lattice, row-major (libpysal `lat2W(side, side, rook=True)`).
pub fn rook_lattice(side: usize) -> Result<Weights> {
    let lists: Vec<Vec<usize>> = (0..side * side)
        .map(|i| {
            let (r, c) = (i / side, i % side);
            let mut nb = Vec::with_capacity(4);
            if r > 0 {
                nb.push(i - side);
            }
            if c > 0 {
                nb.push(i - 1);
            }
            if c + 1 < side {
                nb.push(i + 1);
            }
            if r + 1 < side {
                nb.push(i + side);
            }
            nb
        })
        .collect();
    Weights::from_neighbour_lists(&lists)
}

/// Positive values with spatial structure: a smooth trend plus noise (seeded).
pub fn lattice_values(side: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..side * side)
        .map(|i| {
            let (r, c) = (
                (i / side) as f64 / side as f64,
                (i % side) as f64 / side as f64,
            );
            10.0 + 5.0 * (6.0 * r).sin() * (4.0 * c).cos() + rng.random_range(0.0..4.0)
        })
        .collect()
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn time_stats(y: &[f64], w: &Weights, perms: Permutations) -> Result<(f64, f64)> {
    let t = Instant::now();
    g_local(y, w, Transform::Binary, true, perms)?;
    let gi = secs(t);
    let t = Instant::now();
    moran_local(y, &w.transformed(Transform::RowStandardised, None), perms)?;
    Ok((gi, secs(t)))
}

/// Runs the benchmark and prints a table (and JSON when asked).
pub fn run_bench(a: &BenchArgs) -> Result<()> {
    let perms = Permutations {
        count: a.permutations,
        seed: a.seed,
    };
    let threads = rayon::current_num_threads();
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::Argument(format!("thread pool: {e}")))?;
    println!(
        "jikimi bench analyze: {} permutations, {threads} threads available",
        a.permutations
    );
    println!(
        "{:>9} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "cells", "weights_s", "threads", "gi_star_s", "lisa_s", "both_s", "ns/cell/perm"
    );
    let mut rows = Vec::new();
    for &side in &a.sides {
        let n = side * side;
        let t = Instant::now();
        let w = rook_lattice(side)?;
        let w_s = secs(t);
        let y = lattice_values(side, a.seed);
        let mut runs = vec![(threads, time_stats(&y, &w, perms)?)];
        if side <= a.single_thread_max_side {
            runs.push((1, single.install(|| time_stats(&y, &w, perms))?));
        }
        for (th, (gi, lisa)) in runs {
            let per = (gi + lisa) * 1e9 / (n as f64 * a.permutations.max(1) as f64);
            println!(
                "{n:>9} {w_s:>10.4} {th:>10} {gi:>12.4} {lisa:>12.4} {:>12.4} {per:>12.2}",
                gi + lisa
            );
            rows.push(json!({"cells": n, "side": side, "weights_s": w_s, "threads": th, "gi_star_s": gi, "lisa_s": lisa}));
        }
    }
    let mut toronto = serde_json::Value::Null;
    if a.toronto.exists() {
        let t = Instant::now();
        let mut counter = IncidentCounter::new(
            Target::H3(aggregate::resolution(a.h3_resolution)?),
            TimeWindow::All,
            IncidentFilter::default(),
        );
        let source = a.toronto.display().to_string();
        aggregate::count_incidents_csv(
            crate::cli::open_maybe_gz(&a.toronto)?,
            &source,
            &IncidentColumns::default(),
            &mut counter,
        )?;
        let count_s = secs(t);
        let cells = counter.h3_totals().len();
        let fc = counter.h3_feature_collection(1)?;
        let total_s = secs(t);
        println!(
            "toronto: {} incidents -> {cells} occupied H3 r{} cells ({} with padding): count {count_s:.3} s, with hexagons {total_s:.3} s",
            counter.stats.counted,
            a.h3_resolution,
            fc.features.len()
        );
        toronto = json!({"incidents": counter.stats.counted, "cells": cells, "padded_cells": fc.features.len(), "count_s": count_s, "total_s": total_s});
    } else {
        println!("toronto: {} not found, skipped", a.toronto.display());
    }
    let mut esda = serde_json::Value::Null;
    if let Some(script) = &a.esda_script {
        esda = run_esda(a, script, threads, &single, perms)?;
    }
    if let Some(path) = &a.json {
        let all = json!({"permutations": a.permutations, "threads": threads, "lattices": rows, "toronto": toronto, "esda": esda});
        std::fs::write(path, serde_json::to_string_pretty(&all)?)
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Writes the 100x100 values to a file, runs the esda script on them, checks the numbers agree and
/// compares timings against ours on the same values.
fn run_esda(
    a: &BenchArgs,
    script: &std::path::Path,
    threads: usize,
    single: &rayon::ThreadPool,
    perms: Permutations,
) -> Result<serde_json::Value> {
    let side = 100;
    let y = lattice_values(side, a.seed);
    let w = rook_lattice(side)?;
    let dir = std::env::temp_dir().join(format!("jikimi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let y_path = dir.join("y.txt");
    let text: String = y.iter().map(|v| format!("{v:.17e}\n")).collect();
    std::fs::write(&y_path, text).map_err(|e| Error::io(&y_path, e))?;
    let out = std::process::Command::new(&a.python)
        .arg(script)
        .args([
            "--side",
            "100",
            "--permutations",
            &a.permutations.to_string(),
            "--y",
        ])
        .arg(&y_path)
        .output()
        .map_err(|e| Error::io(script, e))?;
    if !out.status.success() {
        return Err(Error::Argument(format!(
            "esda script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or("{}");
    let e: serde_json::Value = serde_json::from_str(last)?;
    // Same numbers: compare the analytic quantities esda reported with ours.
    let gi = g_local(
        &y,
        &w,
        Transform::Binary,
        true,
        Permutations { count: 0, seed: 0 },
    )?;
    let lisa = moran_local(
        &y,
        &w.transformed(Transform::RowStandardised, None),
        Permutations { count: 0, seed: 0 },
    )?;
    let max_diff = |ours: &[f64], key: &str| -> f64 {
        e[key].as_array().map_or(f64::NAN, |v| {
            ours.iter()
                .zip(v)
                .map(|(a, b)| (a - b.as_f64().unwrap_or(f64::NAN)).abs())
                .fold(0.0, f64::max)
        })
    };
    let diff_z = max_diff(&gi.zs, "gi_star_z_first100");
    let diff_i = max_diff(&lisa.is, "lisa_is_first100");
    let (ours_gi_1, ours_lisa_1) = single.install(|| time_stats(&y, &w, perms))?;
    let (ours_gi_n, ours_lisa_n) = time_stats(&y, &w, perms)?;
    let esda_gi = e["gi_star_s"].as_f64().unwrap_or(f64::NAN);
    let esda_lisa = e["lisa_s"].as_f64().unwrap_or(f64::NAN);
    println!(
        "esda {} (numba {}), 100x100 rook, {} permutations, n_jobs=1: gi* {esda_gi:.3} s, local moran {esda_lisa:.3} s",
        e["esda_version"], e["numba"], a.permutations
    );
    println!(
        "jikimi 1 thread: gi* {ours_gi_1:.4} s ({:.0}x), local moran {ours_lisa_1:.4} s ({:.0}x); {threads} threads: gi* {ours_gi_n:.4} s ({:.0}x), local moran {ours_lisa_n:.4} s ({:.0}x)",
        esda_gi / ours_gi_1,
        esda_lisa / ours_lisa_1,
        esda_gi / ours_gi_n,
        esda_lisa / ours_lisa_n
    );
    println!(
        "same values: max |gi* z diff| = {diff_z:.2e}, max |local I diff| = {diff_i:.2e} (first 100 cells)"
    );
    std::fs::remove_dir_all(&dir).map_err(|err| Error::io(&dir, err))?;
    Ok(json!({
        "esda": e, "ours_1_thread": {"gi_star_s": ours_gi_1, "lisa_s": ours_lisa_1},
        "ours_all_threads": {"gi_star_s": ours_gi_n, "lisa_s": ours_lisa_n},
        "speedup_1_thread": {"gi_star": esda_gi / ours_gi_1, "lisa": esda_lisa / ours_lisa_1},
        "max_abs_diff": {"gi_star_z": diff_z, "lisa_is": diff_i},
    }))
}
