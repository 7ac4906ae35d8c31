//! `jikimi identify triage DIR --banks FILE... --out report.json [--html report.html] [--json] [--threads N]`.
//!
//! Argument parsing and the stderr summary; the work is [`super::run::triage`]. Exit status as `pdq match`:
//! [`Outcome::MatchFound`] (4) when a file matched a bank, [`Outcome::Done`] (0) when none did; the report is
//! written in both cases. Unreadable files do not fail the run (they are in the report, and counted on stderr).

use super::report;
use super::run::{TriageError, TriageOptions, triage};
use crate::cli::Outcome;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `jikimi identify`: identification of known material.
#[derive(Debug, Args)]
pub struct IdentifyArgs {
    #[command(subcommand)]
    command: IdentifyCommand,
}

#[derive(Debug, Subcommand)]
enum IdentifyCommand {
    /// Hash a seized directory tree and sort it by hash banks into known (by category and series) and unknown;
    /// resumable; exits 4 if anything matched (benchmark: `jikimi bench triage`).
    Triage(TriageArgs),
}

/// Arguments of `jikimi identify triage`.
#[derive(Debug, Args)]
pub struct TriageArgs {
    /// The directory tree to triage (walked recursively; files are recognised by content, not by name).
    pub dir: PathBuf,
    /// Hash lists (ThreatExchange / HMA CSV or TSV, labels in `category` and `series` columns or `category:X`
    /// tags). Per bank options after the file name: `FILE:distance=N:dihedral:name=NAME`, or in the list as a
    /// comment line `# jikimi-bank: distance=N dihedral=true name=NAME`.
    #[arg(long, required = true, num_args = 1..)]
    pub banks: Vec<String>,
    /// Match distance of banks that set none (31 is the usual PDQ threshold).
    #[arg(long, default_value_t = crate::triage::bank::DEFAULT_DISTANCE)]
    pub distance: u32,
    /// The JSON report. The resumable journal is written next to it as `<out>.journal`.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the report as one self-contained HTML page (no image content).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Print the summary (totals, banks, categories) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Hashing threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl TriageArgs {
    /// The run these arguments ask for.
    pub fn options(&self) -> TriageOptions {
        TriageOptions {
            root: self.dir.clone(),
            banks: self.banks.clone(),
            default_distance: self.distance,
            out: self.out.clone(),
            html: self.html.clone(),
            threads: self.threads,
            progress: true,
        }
    }
}

/// Runs `jikimi identify ...`.
pub fn run(args: IdentifyArgs) -> Result<Outcome, TriageError> {
    match args.command {
        IdentifyCommand::Triage(a) => run_triage(&a),
    }
}

fn run_triage(args: &TriageArgs) -> Result<Outcome, TriageError> {
    let done = triage(&args.options())?;
    let t = &done.report.totals;
    if done.damaged_journal_lines > 0 {
        eprintln!(
            "journal {}: {} damaged line(s) ignored (an interrupted run); those files were hashed again",
            done.journal.display(),
            done.damaged_journal_lines
        );
    }
    eprintln!(
        "{} files: {} known, {} unknown ({:.1}% pre-categorised), {} unreadable, {} not images or videos; \
         hashed now {}, from the journal {}",
        t.files,
        t.known,
        t.unknown,
        t.share_precategorised * 100.0,
        t.unreadable,
        t.not_media,
        done.hashed_now,
        done.from_journal
    );
    if t.videos_not_hashed > 0 {
        eprintln!("{} {}", t.videos_not_hashed, report::VIDEO_NOT_BUILT);
    }
    if args.json {
        println!("{}", serde_json::to_string(&report::summary(&done.report))?);
    }
    Ok(if t.known > 0 {
        Outcome::MatchFound
    } else {
        Outcome::Done
    })
}
