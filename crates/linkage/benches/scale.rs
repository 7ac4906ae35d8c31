//! Scaling run: synthetic linkage of N x N records (issue 11: 1,000,000 x 1,000,000), time and memory.
//!
//! `cargo bench -p jikimi-linkage --bench scale` (size `JIKIMI_SCALE_N`, default 1,000,000; block cap
//! `JIKIMI_SCALE_MAX_BLOCK_PAIRS`, default 100). The left side holds N synthetic people; the right side
//! holds noisy re-recordings of the first N/2 of them and N/2 other people. Prints each stage's time,
//! candidate pairs, precision/recall/F1 against the known truth, and peak resident memory.

#[path = "common.rs"]
mod common;

use std::sync::Mutex;
use std::time::Instant;

use jikimi_linkage::blocking::BlockingOptions;
use jikimi_linkage::compare::NormaliseOptions;
use jikimi_linkage::engine::{self, LinkOptions, Progress};
use jikimi_linkage::schema::{self, SchemaOptions};
use jikimi_linkage::synthetic::{self, Rng};
use jikimi_linkage::table::Table;

/// Prints each stage's duration as it ends.
struct StageTimer(Mutex<Option<(String, Instant)>>);

impl StageTimer {
    fn end(&self) {
        if let Ok(mut s) = self.0.lock()
            && let Some((name, t)) = s.take()
        {
            println!(
                "  {name}: {:.2} s (peak RSS so far {:.0} MiB)",
                t.elapsed().as_secs_f64(),
                common::peak_rss_mib()
            );
        }
    }
}

impl Progress for StageTimer {
    fn stage(&self, name: &str, _: u64) {
        self.end();
        if let Ok(mut s) = self.0.lock() {
            *s = Some((name.to_string(), Instant::now()));
        }
    }
    fn advance(&self, _: u64) {}
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = common::env_size("JIKIMI_SCALE_N", 1_000_000);
    let cap = common::env_size("JIKIMI_SCALE_MAX_BLOCK_PAIRS", 100);
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
    println!(
        "generated {n} x {n} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let schema = schema::infer_schema(&left, Some(&right), &SchemaOptions::default())?;
    let options = LinkOptions {
        normalise: NormaliseOptions {
            korean_names: true,
            ..NormaliseOptions::default()
        },
        blocking: BlockingOptions {
            max_block_pairs: cap,
            ..BlockingOptions::default()
        },
        ..LinkOptions::default()
    };
    let timer = StageTimer(Mutex::new(None));
    let started = Instant::now();
    let run = engine::run(&left, Some(&right), &schema, &options, &timer);
    timer.end();
    let elapsed = started.elapsed().as_secs_f64();
    if std::env::var("JIKIMI_SCALE_VERBOSE").is_ok() {
        print!("{}", run.model.summary());
        let false_links = run
            .links
            .iter()
            .filter(|p| p.left != p.right || (p.right as usize) >= n / 2);
        for pair in false_links.take(5) {
            let link = run.explain(pair);
            println!(
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
    println!(
        "linked {n} x {n}: {:.1} s end to end (after generation), {} candidate pairs, {} links",
        elapsed,
        run.blocking.candidate_pairs,
        run.links.len()
    );
    println!(
        "precision {precision:.4} recall {recall:.4} F1 {:.4}; peak RSS {:.0} MiB",
        2.0 * precision * recall / (precision + recall).max(1e-12),
        common::peak_rss_mib()
    );
    Ok(())
}
