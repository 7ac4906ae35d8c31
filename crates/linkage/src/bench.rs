//! `jikimi bench linkage scale|watchlist`: the issue-11 measurements on synthetic people, shared with the
//! `cargo bench` binaries (`benches/scale.rs`, `benches/watchlist.rs`), which call [`scale`] and [`watchlist`].
//!
//! - [`scale`] links N x N records (the left side N synthetic people; the right side noisy re-recordings of the
//!   first N/2 of them and N/2 other people) and reports each stage's time, candidate pairs, precision, recall
//!   and F1 against the known truth, and peak resident memory.
//! - [`watchlist`] checks travellers against a watchlist of N entries: half are noisy re-recordings of listed
//!   persons (romanisation variants, typos, swapped fields, re-issued passports), half are other travellers;
//!   latency is measured per query on one thread, and recall@5 of the listed half shows that the fast path does
//!   not skip candidates.
//!
//! Wall-clock timing belongs here, never in tests. Like [`crate::cli`], an edge: it reads the process's peak
//! memory from `/proc/self/status`.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::Error;
use crate::blocking::BlockingOptions;
use crate::compare::NormaliseOptions;
use crate::engine::{self, LinkOptions, Progress};
use crate::schema::{self, SchemaOptions};
use crate::synthetic::{self, Rng};
use crate::table::Table;
use crate::watchlist::{Query, Watchlist, WatchlistPerson};

/// Arguments of `jikimi bench linkage`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
    /// Print the report as one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The linkage benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Link N x N synthetic records: time per stage, candidate pairs, precision/recall/F1, peak memory.
    Scale {
        /// Records on each side.
        #[arg(long, default_value_t = 1_000_000)]
        n: usize,
        /// A blocking block producing more pairs than this is refined by a further field or dropped.
        #[arg(long, default_value_t = 100)]
        max_block_pairs: usize,
        /// Also print the fitted model and the first false links (stderr).
        #[arg(long)]
        verbose: bool,
    },
    /// Check travellers against a watchlist of N entries: latency p50/p90/p99 and recall@5.
    Watchlist {
        /// Watchlist entries.
        #[arg(long, default_value_t = 1_000_000)]
        n: usize,
        /// Travellers checked (half of them listed).
        #[arg(long, default_value_t = 10_000)]
        queries: usize,
    },
}

/// One stage of the linkage pipeline as measured by [`scale`].
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    pub seconds: f64,
    /// Peak resident memory of the process when the stage ended, MiB.
    pub peak_rss_mib: f64,
}

/// What [`scale`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub n: usize,
    pub max_block_pairs: usize,
    pub generate_s: f64,
    pub stages: Vec<Stage>,
    /// From schema inference to the links, after generation.
    pub link_s: f64,
    pub candidate_pairs: usize,
    pub links: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub peak_rss_mib: f64,
}

/// What [`watchlist`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct WatchlistReport {
    pub n: usize,
    pub queries: usize,
    pub generate_s: f64,
    pub build_s: f64,
    /// First run of each query, milliseconds.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Best of three runs of each query (without the pauses of a shared machine), milliseconds.
    pub best_of_3_p50_ms: f64,
    pub best_of_3_p99_ms: f64,
    pub best_of_3_max_ms: f64,
    /// Listed travellers among the queries, and how many of them were in the top 5.
    pub listed: usize,
    pub found_in_top5: usize,
    pub recall_at_5: f64,
    pub mean_candidates: f64,
    pub peak_rss_mib: f64,
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), or 0 where unavailable.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The `q`-quantile (0..=1) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}

/// Records each stage's duration as it ends, and reports it on stderr while the run goes on.
struct StageTimer {
    current: Mutex<Option<(String, Instant)>>,
    done: Mutex<Vec<Stage>>,
}

impl StageTimer {
    fn end(&self) {
        if let Ok(mut s) = self.current.lock()
            && let Some((name, t)) = s.take()
        {
            let stage = Stage {
                name,
                seconds: t.elapsed().as_secs_f64(),
                peak_rss_mib: peak_rss_mib(),
            };
            eprintln!(
                "  {}: {:.2} s (peak RSS so far {:.0} MiB)",
                stage.name, stage.seconds, stage.peak_rss_mib
            );
            if let Ok(mut done) = self.done.lock() {
                done.push(stage);
            }
        }
    }
}

impl Progress for StageTimer {
    fn stage(&self, name: &str, _: u64) {
        self.end();
        if let Ok(mut s) = self.current.lock() {
            *s = Some((name.to_string(), Instant::now()));
        }
    }
    fn advance(&self, _: u64) {}
}

/// Links `n` x `n` synthetic records with blocks capped at `max_block_pairs`; with `verbose`, prints the model
/// and the first false links on stderr.
pub fn scale(n: usize, max_block_pairs: usize, verbose: bool) -> Result<ScaleReport, Error> {
    let mut rng = Rng::new(2026);
    let started = Instant::now();
    let left_people: Vec<synthetic::Person> = (0..n)
        .map(|i| synthetic::person(&mut rng, format!("L{i}")))
        .collect();
    let mut right_rows = Vec::with_capacity(n);
    for (i, original) in left_people.iter().enumerate() {
        let person = if i < n / 2 {
            synthetic::variant(&mut rng, original, format!("R{i}"))
        } else {
            synthetic::person(&mut rng, format!("R{i}"))
        };
        right_rows.push(synthetic::to_row(person));
    }
    let columns: Vec<String> = synthetic::COLUMNS.iter().map(|c| c.to_string()).collect();
    let left = Table::new(
        columns.clone(),
        left_people.into_iter().map(synthetic::to_row).collect(),
    )?;
    let right = Table::new(columns, right_rows)?;
    let generate_s = started.elapsed().as_secs_f64();
    eprintln!("generated {n} x {n} records in {generate_s:.1} s");
    let schema = schema::infer_schema(&left, Some(&right), &SchemaOptions::default())?;
    let options = LinkOptions {
        normalise: NormaliseOptions {
            korean_names: true,
            ..NormaliseOptions::default()
        },
        blocking: BlockingOptions {
            max_block_pairs,
            ..BlockingOptions::default()
        },
        ..LinkOptions::default()
    };
    let timer = StageTimer {
        current: Mutex::new(None),
        done: Mutex::new(Vec::new()),
    };
    let started = Instant::now();
    let run = engine::run(&left, Some(&right), &schema, &options, &timer);
    timer.end();
    let link_s = started.elapsed().as_secs_f64();
    if verbose {
        eprint!("{}", run.model.summary());
        let false_links = run
            .links
            .iter()
            .filter(|p| p.left != p.right || (p.right as usize) >= n / 2);
        for pair in false_links.take(5) {
            let link = run.explain(pair);
            eprintln!(
                "false link {:.2}: {:?} {:?}",
                link.weight, left.rows[pair.left as usize], right.rows[pair.right as usize]
            );
        }
    }
    // Truth: right record i (i < n/2) is left record i.
    let true_positives = run
        .links
        .iter()
        .filter(|p| p.left == p.right && (p.right as usize) < n / 2)
        .count();
    let precision = true_positives as f64 / run.links.len().max(1) as f64;
    let recall = true_positives as f64 / (n / 2).max(1) as f64;
    let stages = timer.done.into_inner().unwrap_or_default();
    Ok(ScaleReport {
        n,
        max_block_pairs,
        generate_s,
        stages,
        link_s,
        candidate_pairs: run.blocking.candidate_pairs,
        links: run.links.len(),
        precision,
        recall,
        f1: 2.0 * precision * recall / (precision + recall).max(1e-12),
        peak_rss_mib: peak_rss_mib(),
    })
}

impl ScaleReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let n = self.n;
        format!(
            "linked {n} x {n}: {:.1} s end to end (after generation), {} candidate pairs, {} links\n\
             precision {:.4} recall {:.4} F1 {:.4}; peak RSS {:.0} MiB\n",
            self.link_s,
            self.candidate_pairs,
            self.links,
            self.precision,
            self.recall,
            self.f1,
            self.peak_rss_mib
        )
    }
}

/// Checks `n_queries` travellers against a watchlist of `n` synthetic entries.
pub fn watchlist(n: usize, n_queries: usize) -> WatchlistReport {
    let mut rng = Rng::new(11);
    let started = Instant::now();
    let people: Vec<synthetic::Person> = (0..n)
        .map(|i| synthetic::person(&mut rng, format!("W{i:07}")))
        .collect();
    let persons: Vec<WatchlistPerson> = people
        .iter()
        .map(|p| WatchlistPerson {
            id: p.id.clone(),
            given_name: p.given_name.clone(),
            surname: p.surname.clone(),
            date_of_birth: p.date_of_birth.clone(),
            nationality: p.nationality.clone(),
            passport_no: p.passport_no.clone(),
        })
        .collect();
    let generate_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let list = Watchlist::new(&persons);
    let build_s = started.elapsed().as_secs_f64();
    drop(persons);
    let mut latencies_ms = Vec::with_capacity(n_queries);
    let mut best_of_3_ms = Vec::with_capacity(n_queries);
    let (mut listed, mut found, mut candidates) = (0usize, 0usize, 0usize);
    for q in 0..n_queries {
        let (traveller, expected) = if q % 2 == 0 && !people.is_empty() {
            let target = &people[rng.below(people.len())];
            (
                synthetic::variant(&mut rng, target, format!("Q{q}")),
                Some(target.id.clone()),
            )
        } else {
            (synthetic::person(&mut rng, format!("Q{q}")), None)
        };
        let query = Query {
            given_name: Some(traveller.given_name),
            surname: Some(traveller.surname),
            date_of_birth: Some(traveller.date_of_birth),
            nationality: Some(traveller.nationality),
            passport_no: Some(traveller.passport_no),
        };
        let t = Instant::now();
        let hits = list.check(&query, 5, 0.0);
        let first = t.elapsed().as_secs_f64() * 1e3;
        latencies_ms.push(first);
        // Repeats show the work without the pauses of a shared machine (caches are warm on repeats).
        let mut best = first;
        for _ in 0..2 {
            let t = Instant::now();
            std::hint::black_box(list.check(&query, 5, 0.0));
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        best_of_3_ms.push(best);
        candidates += hits.len();
        if let Some(id) = expected {
            listed += 1;
            found += usize::from(hits.iter().any(|h| h.id == id));
        }
    }
    latencies_ms.sort_by(f64::total_cmp);
    best_of_3_ms.sort_by(f64::total_cmp);
    WatchlistReport {
        n,
        queries: n_queries,
        generate_s,
        build_s,
        p50_ms: quantile(&latencies_ms, 0.5),
        p90_ms: quantile(&latencies_ms, 0.9),
        p99_ms: quantile(&latencies_ms, 0.99),
        max_ms: quantile(&latencies_ms, 1.0),
        best_of_3_p50_ms: quantile(&best_of_3_ms, 0.5),
        best_of_3_p99_ms: quantile(&best_of_3_ms, 0.99),
        best_of_3_max_ms: quantile(&best_of_3_ms, 1.0),
        listed,
        found_in_top5: found,
        recall_at_5: found as f64 / listed.max(1) as f64,
        mean_candidates: candidates as f64 / n_queries.max(1) as f64,
        peak_rss_mib: peak_rss_mib(),
    }
}

impl WatchlistReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        format!(
            "watchlist entries: {}; generated in {:.1} s, index built in {:.1} s\n\
             check latency over {} queries: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n\
             best of 3 runs per query: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n\
             listed travellers found in top 5: {}/{} ({:.4}); mean candidates returned {:.2}\n\
             peak RSS: {:.0} MiB\n",
            self.n,
            self.generate_s,
            self.build_s,
            self.queries,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms,
            self.best_of_3_p50_ms,
            self.best_of_3_p99_ms,
            self.best_of_3_max_ms,
            self.found_in_top5,
            self.listed,
            self.recall_at_5,
            self.mean_candidates,
            self.peak_rss_mib
        )
    }
}

/// Runs `jikimi bench linkage ...` and prints the report (text, or JSON with `--json`) on stdout.
pub fn run(args: &BenchArgs) -> Result<(), Error> {
    let (text, json) = match args.command {
        BenchCommand::Scale {
            n,
            max_block_pairs,
            verbose,
        } => {
            let report = scale(n, max_block_pairs, verbose)?;
            (report.text(), serde_json::to_string(&report))
        }
        BenchCommand::Watchlist { n, queries } => {
            let report = watchlist(n, queries);
            (report.text(), serde_json::to_string(&report))
        }
    };
    let out = if args.json {
        json.map_err(|e| Error::Input(format!("json: {e}")))? + "\n"
    } else {
        text
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|source| Error::Io {
            path: "stdout".into(),
            source,
        })
}
