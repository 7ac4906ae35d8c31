//! The `jikimi link` and `jikimi border` subcommands: argument structs and the file I/O around the engine.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::Error;
use crate::compare::NormaliseOptions;
use crate::engine::{self, LinkOptions, Progress};
use crate::ident;
use crate::korean;
use crate::schema::{self, FieldKind, SchemaOptions};
use crate::table::Table;
use crate::watchlist::{self, Query, Watchlist};

/// When to fold Korean romanisation variants in name fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KoreanMode {
    /// On when most surnames are known Korean surnames.
    Auto,
    /// Always fold romanisation variants.
    On,
    /// Never fold them.
    Off,
}

/// Link two files of records (`--left`, `--right`) or de-duplicate one (`--dedupe`).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["left", "dedupe"])))]
pub struct LinkArgs {
    /// Left CSV file (linking).
    #[arg(long, requires = "right")]
    pub left: Option<PathBuf>,
    /// Right CSV file (linking).
    #[arg(long, requires = "left")]
    pub right: Option<PathBuf>,
    /// CSV file to de-duplicate.
    #[arg(long, conflicts_with_all = ["left", "right"])]
    pub dedupe: Option<PathBuf>,
    /// Output CSV: `left_id,right_id,weight,probability,evidence` or `id,cluster_id`.
    #[arg(long)]
    pub out: PathBuf,
    /// Record id column (default: the first column).
    #[arg(long)]
    pub id: Option<String>,
    /// Leave a column out of the comparison (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Compare a column as the given kind, `COLUMN=KIND` (repeatable); kinds: given_name, surname, text,
    /// date, postcode, numeric, phone, identifier, category.
    #[arg(long = "map", value_name = "COLUMN=KIND")]
    pub map: Vec<String>,
    /// Minimum match probability for a link or a clustering edge.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Keep every pair above the threshold instead of the best one per record (linking only).
    #[arg(long)]
    pub many_to_many: bool,
    /// Korean name normalisation.
    #[arg(long, value_enum, default_value_t = KoreanMode::Auto)]
    pub korean: KoreanMode,
    /// Region for national phone numbers (ISO 3166 alpha-2).
    #[arg(long, default_value = "KR")]
    pub phone_region: String,
    /// A blocking block producing more pairs than this is refined by a further field or dropped.
    #[arg(long, default_value_t = crate::blocking::BlockingOptions::default().max_block_pairs)]
    pub max_block_pairs: usize,
    /// Window of the sorted-neighbourhood blocking passes.
    #[arg(long, default_value_t = crate::blocking::BlockingOptions::default().window)]
    pub window: usize,
    /// Random pairs drawn to estimate the u probabilities.
    #[arg(long, default_value_t = crate::model::EstimationOptions::default().u_sample_pairs)]
    pub u_sample_pairs: usize,
    /// CSV of record pairs known to match (left id, right id; header row): m is taken from them
    /// instead of EM where they cover a field.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// CSV of analysts' decisions (`left_id,right_id,verdict` with verdict `confirmed` or `rejected`):
    /// confirmed pairs are always linked and teach m, rejected pairs are never linked.
    #[arg(long)]
    pub decisions: Option<PathBuf>,
    /// Write the estimated model (m/u per field and level) as JSON to this file.
    #[arg(long)]
    pub model_json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What `jikimi link` did (its results are in `--out`); the binary prints it with `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkSummary {
    /// `link` (two files) or `dedupe` (one).
    pub mode: &'static str,
    /// Whether Korean name normalisation was on.
    pub korean_names: bool,
    /// Candidate pairs after blocking, in all.
    pub candidate_pairs: usize,
    /// Pairs per blocking pass.
    pub passes: Vec<(String, usize)>,
    /// Links written (linking), or links between duplicates (de-duplication).
    pub links: usize,
    /// Wall-clock seconds of the linkage, after reading the files.
    pub seconds: f64,
    /// The output file.
    pub out: PathBuf,
}

/// A progress bar on stderr; also reports how long each stage took.
struct Bar {
    bar: ProgressBar,
    stage: std::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl Bar {
    fn new(bar: ProgressBar) -> Bar {
        Bar {
            bar,
            stage: std::sync::Mutex::new(None),
        }
    }

    /// Print the duration of the stage that just ended.
    fn end_stage(&self) {
        if let Ok(mut stage) = self.stage.lock()
            && let Some((name, start)) = stage.take()
        {
            self.bar
                .suspend(|| eprintln!("  {name}: {:.3} s", start.elapsed().as_secs_f64()));
        }
    }
}

impl Progress for Bar {
    fn stage(&self, name: &str, total: u64) {
        self.end_stage();
        if let Ok(mut stage) = self.stage.lock() {
            *stage = Some((name.to_string(), std::time::Instant::now()));
        }
        let bar = &self.bar;
        bar.set_length(total);
        bar.set_position(0);
        bar.set_message(name.to_string());
    }
    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }
}

fn read_table(path: &Path) -> Result<Table, Error> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Table::from_csv(std::io::BufReader::new(file))
}

fn create(path: &Path) -> Result<BufWriter<File>, Error> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Decide whether Korean normalisation applies: most surnames are known Korean surnames.
pub fn looks_korean(tables: &[&Table], schema: &schema::Schema) -> bool {
    let Some(field) = schema.fields.iter().find(|f| f.kind == FieldKind::Surname) else {
        return false;
    };
    let (mut known, mut total) = (0usize, 0usize);
    for (i, table) in tables.iter().enumerate() {
        let column = if i == 0 {
            field.left_column
        } else {
            field.right_column
        };
        for value in table
            .column_values(column)
            .filter(|v| !v.is_empty())
            .take(2_000)
        {
            total += 1;
            known += usize::from(korean::is_known_korean_surname(value));
        }
    }
    total > 0 && known * 2 > total
}

/// Run `jikimi link`: writes the links or clusters to `--out` and reports what it did.
pub fn run_link(args: &LinkArgs) -> Result<LinkSummary, Error> {
    let (left, right) = match (&args.left, &args.right, &args.dedupe) {
        (Some(l), Some(r), None) => (read_table(l)?, Some(read_table(r)?)),
        (None, None, Some(d)) => (read_table(d)?, None),
        _ => return Err(Error::Input("give --left and --right, or --dedupe".into())),
    };
    let overrides = args
        .map
        .iter()
        .map(|m| schema::parse_override(m))
        .collect::<Result<Vec<_>, _>>()?;
    let schema_options = SchemaOptions {
        id: args.id.clone(),
        exclude: args.exclude.clone(),
        overrides,
    };
    let schema = schema::infer_schema(&left, right.as_ref(), &schema_options)?;
    let tables: Vec<&Table> = std::iter::once(&left).chain(right.as_ref()).collect();
    let korean_names = match args.korean {
        KoreanMode::On => true,
        KoreanMode::Off => false,
        KoreanMode::Auto => looks_korean(&tables, &schema),
    };
    let phone_region = ident::region(&args.phone_region)
        .ok_or_else(|| Error::Input(format!("unknown phone region {:?}", args.phone_region)))?;
    let options = LinkOptions {
        normalise: NormaliseOptions {
            korean_names,
            phone_region,
        },
        threshold: args.threshold,
        one_to_one: !args.many_to_many,
        blocking: crate::blocking::BlockingOptions {
            max_block_pairs: args.max_block_pairs,
            window: args.window,
        },
        estimation: crate::model::EstimationOptions {
            u_sample_pairs: args.u_sample_pairs,
            ..crate::model::EstimationOptions::default()
        },
    };
    eprintln!(
        "compared fields (korean names: {}):",
        if korean_names { "on" } else { "off" }
    );
    for field in &schema.fields {
        eprintln!("  {} as {}", field.name, field.kind);
    }
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let progress = Bar::new(bar.clone());
    let labels: Vec<(String, String)> = match &args.labels {
        Some(path) => {
            let table = read_table(path)?;
            if table.columns.len() < 2 {
                return Err(Error::Input(format!(
                    "{}: labels need two id columns",
                    path.display()
                )));
            }
            table
                .rows
                .into_iter()
                .map(|r| (r[0].clone(), r[1].clone()))
                .collect()
        }
        None => Vec::new(),
    };
    let decisions: Vec<engine::Decision> = match &args.decisions {
        Some(path) => {
            let table = read_table(path)?;
            let verdict_column = table.column_index("verdict").unwrap_or(2);
            if table.columns.len() <= verdict_column {
                return Err(Error::Input(format!(
                    "{}: decisions need left_id,right_id,verdict",
                    path.display()
                )));
            }
            table
                .rows
                .iter()
                .map(|r| {
                    let verdict = match r[verdict_column].to_ascii_lowercase().as_str() {
                        "confirmed" | "confirm" | "match" => engine::Verdict::Confirmed,
                        "rejected" | "reject" | "non_match" => engine::Verdict::Rejected,
                        other => {
                            return Err(Error::Input(format!(
                                "{}: unknown verdict {other:?}",
                                path.display()
                            )));
                        }
                    };
                    Ok(engine::Decision {
                        left_id: r[0].clone(),
                        right_id: r[1].clone(),
                        verdict,
                    })
                })
                .collect::<Result<_, Error>>()?
        }
        None => Vec::new(),
    };
    let labels: Vec<(String, String)> = labels
        .into_iter()
        .chain(
            decisions
                .iter()
                .filter(|d| d.verdict == engine::Verdict::Confirmed)
                .map(|d| (d.left_id.clone(), d.right_id.clone())),
        )
        .collect();
    let mut run =
        engine::run_with_labels(&left, right.as_ref(), &schema, &options, &labels, &progress);
    if !decisions.is_empty() {
        run.apply_decisions(&decisions, &options);
    }
    progress.end_stage();
    bar.finish_and_clear();
    let elapsed_s = started.elapsed().as_secs_f64();
    eprintln!("linkage took {elapsed_s:.3} s");
    eprintln!(
        "{} candidate pairs from {} blocking passes; {} links",
        run.blocking.candidate_pairs,
        run.blocking.passes.len(),
        run.links.len()
    );
    for (pass, n_pairs) in &run.blocking.passes {
        eprintln!("  {pass}: {n_pairs} pairs");
    }
    eprint!("{}", run.model.summary());
    if let Some(path) = &args.model_json {
        let mut out = create(path)?;
        serde_json::to_writer_pretty(&mut out, &run.model)
            .map_err(|e| Error::Input(format!("model json: {e}")))?;
        out.flush().map_err(io_error(path))?;
    }
    let mut writer = csv::Writer::from_writer(create(&args.out)?);
    let csv_error = |e: csv::Error| Error::Input(format!("{}: {e}", args.out.display()));
    if run.prepared.is_dedupe() {
        writer
            .write_record(["id", "cluster_id"])
            .map_err(csv_error)?;
        for (id, cluster) in run.clusters() {
            writer.write_record([id, cluster]).map_err(csv_error)?;
        }
    } else {
        writer
            .write_record(["left_id", "right_id", "weight", "probability", "evidence"])
            .map_err(csv_error)?;
        for pair in &run.links {
            let link = run.explain(pair);
            let evidence: Vec<String> = link
                .evidence
                .iter()
                .map(|e| {
                    format!(
                        "{}: {} ({:+.2})",
                        e.field,
                        e.level.unwrap_or("missing"),
                        e.weight
                    )
                })
                .collect();
            writer
                .write_record([
                    link.left_id,
                    link.right_id,
                    format!("{:.3}", link.weight),
                    format!("{:.6}", link.probability),
                    evidence.join("; "),
                ])
                .map_err(csv_error)?;
        }
    }
    writer.flush().map_err(io_error(&args.out))?;
    Ok(LinkSummary {
        mode: if run.prepared.is_dedupe() {
            "dedupe"
        } else {
            "link"
        },
        korean_names,
        candidate_pairs: run.blocking.candidate_pairs,
        passes: run.blocking.passes.clone(),
        links: run.links.len(),
        seconds: elapsed_s,
        out: args.out.clone(),
    })
}

/// `jikimi border …`
#[derive(Debug, clap::Args)]
pub struct BorderArgs {
    #[command(subcommand)]
    pub command: BorderCommand,
}

/// Border subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BorderCommand {
    /// Check a traveller against a watchlist CSV; exits 4 when a candidate is found.
    ///
    /// Columns by name: given_name, surname, date_of_birth, nationality, passport_no; the first column is the entry
    /// id. Prints `{"candidates": [...]}`; the exit code is 4 when there is at least one candidate at or above
    /// `--min-score`, 0 when there is none.
    Check(BorderCheckArgs),
}

/// Arguments of `jikimi border check`.
#[derive(Debug, clap::Args)]
pub struct BorderCheckArgs {
    /// Watchlist CSV.
    #[arg(long)]
    pub watchlist: PathBuf,
    /// Full name ("Lee Min-jun", "MINJUN LEE", "이민준"); or give --given-name and --surname.
    #[arg(long)]
    pub name: Option<String>,
    /// Given name (with --surname, instead of --name).
    #[arg(long)]
    pub given_name: Option<String>,
    /// Surname (with --given-name, instead of --name).
    #[arg(long)]
    pub surname: Option<String>,
    /// Date of birth.
    #[arg(long)]
    pub dob: Option<String>,
    /// Nationality (ISO 3166 alpha-3).
    #[arg(long)]
    pub nationality: Option<String>,
    /// Passport number.
    #[arg(long)]
    pub passport: Option<String>,
    /// Number of candidates to show.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// Minimum score (bits) of a candidate.
    #[arg(long, default_value_t = 0.0)]
    pub min_score: f64,
    /// Print JSON (the only output: `{"candidates": [...]}`); accepted so that every command takes `--json`.
    #[arg(long)]
    pub json: bool,
}

/// What a command found, for the exit status: a script branches on whether `border check` found a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command ran; nothing to signal.
    Done,
    /// `border check` found at least one watchlist candidate at or above `--min-score`.
    MatchFound,
}

/// Run `jikimi border …`.
pub fn run_border(args: &BorderArgs) -> Result<Outcome, Error> {
    match &args.command {
        BorderCommand::Check(check) => {
            let table = read_table(&check.watchlist)?;
            let list = Watchlist::from_table(&table)?;
            let query = Query::new(
                check.name.as_deref(),
                check.given_name.as_deref(),
                check.surname.as_deref(),
                check.dob.as_deref(),
                check.nationality.as_deref(),
                check.passport.as_deref(),
            );
            let hits = list.check(&query, check.limit, check.min_score);
            let outcome = if hits.is_empty() {
                Outcome::Done
            } else {
                Outcome::MatchFound
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let json = serde_json::to_string_pretty(&watchlist::CheckResponse { candidates: hits })
                .map_err(|e| Error::Input(format!("json: {e}")))?;
            writeln!(out, "{json}").map_err(io_error(Path::new("stdout")))?;
            Ok(outcome)
        }
    }
}
