//! The `jikimi trace funds` subcommand: arguments, files, progress bars and the summary. The only module of
//! the crate that opens named files (the sorter's anonymous spill files aside).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use jikimi_exchange::identifiers::Chain;

use crate::Error;
use crate::import::csv::{CsvColumns, CsvFlavour, CsvOptions};
use crate::ingest::{CurrencyOptions, ImportReport, Ingest, TransferRef};
use crate::output::{self, CashoutPoint, CashoutSummary, Holder};
use crate::pipeline::{self, TraceStats};
use crate::sort::{SortOptions, Sorter};
use crate::trace::{Policy, Totals};

/// Input format of `--transactions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `.xml` is camt.053, anything else the plain CSV.
    Auto,
    /// `tx_id,timestamp,from_account,to_account,amount,currency` (columns renamable with --col-*).
    Csv,
    /// ISO 20022 camt.053 bank statement (XML).
    Camt053,
    /// A block explorer's token-transfer CSV export (USDT on TRON or Ethereum); needs --chain.
    Chain,
}

/// Chain of a `--format chain` export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChainArg {
    Tron,
    Ethereum,
    Bitcoin,
}

impl From<ChainArg> for Chain {
    fn from(c: ChainArg) -> Chain {
        match c {
            ChainArg::Tron => Chain::Tron,
            ChainArg::Ethereum => Chain::Ethereum,
            ChainArg::Bitcoin => Chain::Bitcoin,
        }
    }
}

/// Trace victims' money through transfers: which accounts received it and where it sits now.
#[derive(Debug, Clone, clap::Args)]
pub struct FundsArgs {
    /// Transfers file (repeatable; all files are traced together).
    #[arg(long, required = true)]
    pub transactions: Vec<PathBuf>,
    /// Seed transfers, the victims' payments: one tx id per line.
    #[arg(long)]
    pub seeds: PathBuf,
    /// How taint divides when an account sends part of what it holds.
    #[arg(long, value_enum)]
    pub policy: Policy,
    /// Output CSV: `account,tainted_received,tainted_balance` for every account that got taint.
    #[arg(long)]
    pub out: PathBuf,
    /// Known cash-out points, CSV `account,kind,name` (exchanges, ATMs): what reached them is summarised.
    #[arg(long)]
    pub cashout: Option<PathBuf>,
    /// Write the flow graph (tainted amount per account pair): `.graphml`, or JSON for any other extension.
    #[arg(long)]
    pub graph: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// List this many accounts holding the most taint at the end (the candidates for a freeze request).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Input format.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Chain of a `--format chain` export.
    #[arg(long, value_enum, required_if_eq("format", "chain"))]
    pub chain: Option<ChainArg>,
    /// Trace only this currency (rows in others are counted, not traced); needed if the input has several.
    #[arg(long)]
    pub currency: Option<String>,
    /// Decimals of the traced currency (default: 0 for KRW and JPY, 6 for USDT, 2 for most, ...).
    #[arg(long)]
    pub decimals: Option<u32>,
    /// Go on when rows are bad (they are counted and listed); by default any bad row stops the trace.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Write the bad rows (file, line, reason; the first 1000) to this CSV.
    #[arg(long)]
    pub bad_rows: Option<PathBuf>,
    /// Header of the tx id column.
    #[arg(long)]
    pub col_tx_id: Option<String>,
    /// Header of the timestamp column.
    #[arg(long)]
    pub col_timestamp: Option<String>,
    /// Header of the sender column.
    #[arg(long)]
    pub col_from: Option<String>,
    /// Header of the recipient column.
    #[arg(long)]
    pub col_to: Option<String>,
    /// Header of the amount column.
    #[arg(long)]
    pub col_amount: Option<String>,
    /// Header of the currency column.
    #[arg(long)]
    pub col_currency: Option<String>,
    /// CSV field delimiter.
    #[arg(long, default_value_t = ',')]
    pub delimiter: char,
    /// Memory for sorting transfers before spilling sorted runs to disk, in MiB.
    #[arg(long, default_value_t = 512)]
    pub memory_mb: usize,
    /// Directory for the sort's spill files (default: the system's temporary directory).
    #[arg(long)]
    pub spill_dir: Option<PathBuf>,
}

/// What a run did, printed at the end (`--json` prints it as JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FundsSummary {
    pub policy: Policy,
    pub currency: String,
    pub decimals: u32,
    pub import: ImportReport,
    pub trace: TraceStats,
    pub totals: TotalsText,
    pub accounts_with_taint: usize,
    pub spilled_runs: usize,
    pub cashout: Option<CashoutSummary>,
    /// The accounts holding the most taint at the end, largest first (`--top`).
    pub top_holders: Vec<Holder>,
    pub seconds_import: f64,
    pub seconds_trace: f64,
    /// Peak resident memory of this process (Linux `VmHWM`), if known.
    pub peak_rss_mb: Option<f64>,
}

/// [`Totals`] with amounts as decimals.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TotalsText {
    pub transfers: u64,
    pub seed_transfers: u64,
    pub seeded: String,
    pub reabsorbed: String,
    pub tainted_balances: String,
    pub conserved: bool,
}

fn totals_text(t: &Totals, decimals: u32) -> TotalsText {
    use crate::amount::format_units;
    TotalsText {
        transfers: t.transfers,
        seed_transfers: t.seed_transfers,
        seeded: format_units(t.seeded, decimals),
        reabsorbed: format_units(t.reabsorbed, decimals),
        tainted_balances: format_units(t.tainted_balances, decimals),
        conserved: t.conserved(),
    }
}

fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|e| Error::io(path.display().to_string(), e))
}

fn create(path: &Path) -> Result<BufWriter<File>, Error> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| Error::io(path.display().to_string(), e))
}

fn read_text(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path.display().to_string(), e))
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{percent:>3}}% {{human_pos}}/{{human_len}} {{per_sec}} eta {{eta}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// Peak resident set size of this process in MiB (Linux only).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs `jikimi trace funds`.
pub fn run_funds(args: &FundsArgs) -> Result<FundsSummary, Error> {
    let seeds: HashSet<String> = pipeline::parse_seeds(&read_text(&args.seeds)?);
    let cashout: Vec<CashoutPoint> = match &args.cashout {
        Some(p) => output::parse_cashout_csv(&read_text(p)?).map_err(|(line, reason)| {
            Error::Invalid(format!("{} line {line}: {reason}", p.display()))
        })?,
        None => Vec::new(),
    };
    let started = Instant::now();
    let mut ingest = Ingest::new(&CurrencyOptions {
        currency: args.currency.clone(),
        decimals: args.decimals,
    });
    let mut sorter = Sorter::new(SortOptions {
        memory_budget_bytes: args.memory_mb.max(1) << 20,
        spill_dir: args.spill_dir.clone(),
    });
    let delimiter = u8::try_from(args.delimiter)
        .map_err(|_| Error::Invalid("the delimiter must be one ASCII character".into()))?;
    for path in &args.transactions {
        ingest.set_source(path.display().to_string());
        let format = match args.format {
            Format::Auto
                if path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("xml")) =>
            {
                Format::Camt053
            }
            Format::Auto => Format::Csv,
            f => f,
        };
        let mut sink = |t: TransferRef<'_>, ingest: &Ingest| sorter.push(t, &ingest.accounts);
        if format == Format::Camt053 {
            let data = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
            crate::import::camt053::read_camt053(&data, &mut ingest, &mut sink)?;
            continue;
        }
        let file = open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let pb = bar(size, "import");
        let flavour = match (format, args.chain) {
            (Format::Chain, Some(c)) => CsvFlavour::Chain(c.into()),
            (Format::Chain, None) => {
                return Err(Error::Invalid("--format chain needs --chain".into()));
            }
            _ => CsvFlavour::Plain,
        };
        let options = CsvOptions {
            flavour,
            columns: CsvColumns {
                tx_id: args.col_tx_id.clone(),
                timestamp: args.col_timestamp.clone(),
                from: args.col_from.clone(),
                to: args.col_to.clone(),
                amount: args.col_amount.clone(),
                currency: args.col_currency.clone(),
            },
            delimiter,
        };
        crate::import::csv::read_csv(
            BufReader::with_capacity(1 << 20, file),
            &options,
            &mut ingest,
            &mut sink,
            &mut |bytes| pb.set_position(bytes),
        )?;
        pb.finish_and_clear();
    }
    let report = ingest.report.clone();
    if let Some(path) = &args.bad_rows {
        let mut w = csv::Writer::from_writer(create(path)?);
        for b in &report.bad_row_samples {
            w.serialize(b).map_err(|e| Error::Csv {
                path: path.display().to_string(),
                source: e,
            })?;
        }
        w.flush()
            .map_err(|e| Error::io(path.display().to_string(), e))?;
    }
    if report.bad_rows > 0 {
        eprintln!(
            "{} bad rows of {} read{}",
            report.bad_rows,
            report.rows,
            if args.skip_bad_rows {
                " (skipped, --skip-bad-rows)"
            } else {
                ""
            }
        );
        for b in report.bad_row_samples.iter().take(10) {
            eprintln!("  {}:{}: {}", b.source, b.line, b.reason);
        }
        if !args.skip_bad_rows {
            let first = report.bad_row_samples.first();
            return Err(Error::BadRows {
                count: report.bad_rows,
                first_line: first.map_or(0, |b| b.line),
                first_reason: first.map(|b| b.reason.clone()).unwrap_or_default(),
            });
        }
    }
    let seconds_import = started.elapsed().as_secs_f64();
    let currency = ingest.currency().unwrap_or("").to_string();
    let decimals = ingest.decimals().unwrap_or(2);
    let traced = Instant::now();
    let spilled_runs = sorter.spilled_runs();
    let accounts = &ingest.accounts;
    let sorted = sorter.finish(accounts)?;
    let pb = bar(report.transfers, "trace ");
    let (result, stats) = pipeline::trace_sorted(
        sorted,
        &seeds,
        args.policy,
        args.graph.is_some(),
        &mut |n| pb.set_position(n),
    )?;
    pb.finish_and_clear();
    let mut out = create(&args.out)?;
    output::write_taint_csv(&mut out, &result, accounts, decimals)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(args.out.display().to_string(), e))?;
    if let Some(path) = &args.graph {
        let graph = output::flow_graph(
            &result,
            accounts,
            &currency,
            decimals,
            &stats.seed_senders,
            &cashout,
        );
        let mut w = create(path)?;
        let written = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("graphml"))
        {
            output::write_graphml(&mut w, &graph)
        } else {
            serde_json::to_writer_pretty(&mut w, &graph).map_err(std::io::Error::other)
        };
        written
            .and_then(|()| w.flush())
            .map_err(|e| Error::io(path.display().to_string(), e))?;
    }
    let cashout_summary = args
        .cashout
        .as_ref()
        .map(|_| output::cashout_summary(&cashout, &result, accounts, decimals));
    let summary = FundsSummary {
        policy: args.policy,
        currency,
        decimals,
        import: ImportReport {
            bad_row_samples: report.bad_row_samples.iter().take(20).cloned().collect(),
            ..report
        },
        accounts_with_taint: result.accounts.len(),
        totals: totals_text(&result.totals, decimals),
        trace: stats,
        spilled_runs,
        cashout: cashout_summary,
        top_holders: output::top_holders(&result, accounts, decimals, args.top, &cashout),
        seconds_import,
        seconds_trace: traced.elapsed().as_secs_f64(),
        peak_rss_mb: peak_rss_mb(),
    };
    if !summary.totals.conserved {
        return Err(Error::Arithmetic(
            "taint was not conserved (a bug: please report the input)",
        ));
    }
    Ok(summary)
}

/// Prints the summary for a person (or as JSON with `--json`).
pub fn print_summary(args: &FundsArgs, s: &FundsSummary) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut o = stdout.lock();
    let io = |e| Error::io("stdout", e);
    if args.json {
        serde_json::to_writer_pretty(&mut o, s)
            .map_err(|e| Error::io("stdout", std::io::Error::other(e)))?;
        return writeln!(o).map_err(io);
    }
    let t = &s.totals;
    writeln!(
        o,
        "{} transfers traced ({} seeds, {} duplicates dropped, {} rows in other currencies, {} bad rows) with {:?}",
        t.transfers, t.seed_transfers, s.trace.duplicates, s.import.other_currency, s.import.bad_rows, s.policy
    )
    .map_err(io)?;
    writeln!(
        o,
        "taint seeded {} {cur}, reabsorbed {} {cur}, held at the end {} {cur} by {} accounts (conserved: {})",
        t.seeded,
        t.reabsorbed,
        t.tainted_balances,
        s.accounts_with_taint,
        t.conserved,
        cur = s.currency
    )
    .map_err(io)?;
    if !s.trace.seeds_missing.is_empty() {
        writeln!(
            o,
            "{} seed tx ids not found among the transfers",
            s.trace.seeds_missing.len()
        )
        .map_err(io)?;
    }
    if let Some(c) = &s.cashout {
        writeln!(
            o,
            "cash-out points: {} of {} reached; taint received {} {cur}, still held {} {cur}",
            c.points_reached,
            c.points.len(),
            c.total_received,
            c.total_balance,
            cur = s.currency
        )
        .map_err(io)?;
        for p in c
            .points
            .iter()
            .filter(|p| p.tainted_received != crate::amount::format_units(0, s.decimals))
            .take(20)
        {
            writeln!(
                o,
                "  {:<12} {:<24} received {:>16} held {:>16}",
                p.point.kind, p.point.name, p.tainted_received, p.tainted_balance
            )
            .map_err(io)?;
        }
    }
    if !s.top_holders.is_empty() {
        writeln!(o, "largest holders of taint at the end:").map_err(io)?;
        for h in &s.top_holders {
            writeln!(
                o,
                "  {:<48} holds {:>16} {cur} (received {}){}",
                h.account,
                h.tainted_balance,
                h.tainted_received,
                h.cashout
                    .as_ref()
                    .map_or(String::new(), |c| format!(", cash-out point: {c}")),
                cur = s.currency
            )
            .map_err(io)?;
        }
    }
    writeln!(
        o,
        "import {:.1} s, sort and trace {:.1} s",
        s.seconds_import, s.seconds_trace
    )
    .map_err(io)?;
    Ok(())
}
