//! The `jikimi` binary: parses the command line and hands each subcommand to the crate that owns it.
//!
//! Glue only: every subcommand's work lives in a library crate; this file maps outcomes and errors to the exit
//! codes of [`exit::Exit`].

mod analyze;
mod exit;
mod spine;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Exit;
use jikimi_mediahash::cli::Outcome as PdqOutcome;

/// jikimi (지킴이): silent SOS dispatch, crime analysis, cross-border cooperation, perceptual hashing.
#[derive(Debug, Parser)]
#[command(name = "jikimi", version, about, long_about = None, after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version.
    Version {
        /// Print `{"name": "jikimi", "version": ...}` instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve the respond API (alerts, incidents, units, subscribers, audit).
    Serve(spine::ServeArgs),
    /// Run a demo server on SQLite with a simulated city; prints the URL and staff logins.
    Demo(spine::demo::DemoArgs),
    /// Apply database migrations.
    Migrate(spine::MigrateArgs),
    /// Several nodes on one database and one NATS: `status`.
    #[command(subcommand)]
    Cluster(spine::cluster::ClusterCommand),
    /// Audit log tools (`audit verify`).
    Audit(spine::AuditArgs),
    /// Staff accounts (`staff add`).
    Staff(spine::StaffArgs),
    /// Store maintenance (`store reindex`: re-derive blind indexes from the sealed values).
    Store(spine::StoreArgs),
    /// Crime analysis: hot spots, aggregation, forecasts, device placement, response-time equity.
    #[command(subcommand)]
    Analyze(AnalyzeCommand),
    /// Road network: import OpenStreetMap, route (benchmark: `jikimi bench roads`).
    Roads(jikimi_roads::cli::RoadsArgs),
    /// PDQ perceptual hashes: hash images, match them against hash lists, convert lists (benchmark: `jikimi bench pdq`).
    Pdq(jikimi_mediahash::cli::PdqArgs),
    /// Identify known material: `identify triage` sorts a seized directory by hash banks (benchmark: `jikimi bench triage`).
    Identify(jikimi_mediahash::triage::cli::IdentifyArgs),
    /// Link records across two files, or de-duplicate one (probabilistic record linkage).
    Link(LinkCommand),
    /// Border control: check travellers against a watchlist.
    Border(jikimi_linkage::cli::BorderArgs),
    /// Cooperation between agencies: agency, peer, agreement, case, sync, freeze, operation.
    #[command(flatten)]
    Exchange(jikimi_federation::cli::Command),
    /// Device intake tools (`intake aml`: parse AML payloads from stdin to JSON lines).
    Intake(jikimi_intake::cli::IntakeArgs),
    /// Tracing: follow money through transfers (`trace funds`).
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Benchmarks, one per subsystem (`jikimi bench --help` lists them).
    #[command(subcommand)]
    Bench(Bench),
}

/// `jikimi link`: the linkage crate's arguments, and how to print what it did. (Not named `LinkArgs`: clap names
/// an argument group after the struct, and the flattened one already is.)
#[derive(Debug, clap::Args)]
struct LinkCommand {
    #[command(flatten)]
    link: jikimi_linkage::cli::LinkArgs,
    /// Also print a summary (candidate pairs per blocking pass, links, seconds) as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// `jikimi trace`: following things through data.
#[derive(Debug, Subcommand)]
enum TraceCommand {
    /// Trace victims' money through mule accounts and wallets (haircut or FIFO taint) to where it sits now.
    Funds(jikimi_funds::cli::FundsArgs),
}

/// `jikimi analyze`: the hot-spot commands of `jikimi-analyze` and the forecasting commands of `jikimi-forecast`.
// Parsed once at start; the size of a command-line enum does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum AnalyzeCommand {
    #[command(flatten)]
    HotSpots(jikimi_analyze::cli::AnalyzeCommand),
    #[command(flatten)]
    Forecast(jikimi_forecast::cli::AnalyzeCommand),
}

/// Benchmarks, one per subsystem. Each help line fits one line; `jikimi bench <subsystem> --help` says more.
#[derive(Debug, Subcommand)]
enum Bench {
    /// Signed alerts over loopback HTTP: sustained accepted alerts/s and p50/p99 accept latency.
    Intake(spine::bench::IntakeArgs),
    /// Thousands of devices in a few hot spots over HTTP and MQTT: zero loss, accept and queue latency.
    ///
    /// A surge: thousands of devices, most in a few small areas, over HTTP and MQTT against `jikimi serve`; checks
    /// alerts stored equal alerts accepted and measures accept and dispatcher-queue latency.
    Surge(spine::surge::SurgeArgs),
    /// Nodes on one PostgreSQL and NATS: alerts/s and p99 with and without NATS, accept-to-other-node latency.
    Cluster(spine::cluster_bench::ClusterBenchArgs),
    /// Alerts under a junk-alert flood against an equal `/healthz` flood; logins a login flood can force.
    ///
    /// Signed alerts under a junk-alert flood against the same under an equal `GET /healthz` flood (throughput ratio,
    /// p99, audit rows per junk request), and the argon2 logins a login flood can force with and without limits.
    Flood(spine::flood::FloodArgs),
    /// Gi* and local Moran on lattices, Toronto aggregation to H3, esda comparison.
    Analyze(jikimi_analyze::bench::BenchArgs),
    /// Money tracing on a synthetic scam network: both policies, and the Python cross-check.
    ///
    /// Money tracing on a synthetic scam network (10M transfers by default): both policies, and the Python
    /// cross-check on the same files.
    Funds(jikimi_funds::bench::BenchArgs),
    /// Road routing: preprocessing, one-to-one and one-to-50 latency, Dijkstra baseline, growth on grids.
    ///
    /// Road routing: import and preprocessing, one-to-one p50/p99, one incident to 50 units, the plain-Dijkstra
    /// baseline, and growth on synthetic grids (1M nodes with `--large`). Prints one JSON document.
    Roads(jikimi_roads::bench::BenchArgs),
    /// Civic addresses: reverse geocodes/s and p99 on an OSM extract against a brute-force scan, forward search.
    ///
    /// Civic addresses on an OpenStreetMap extract (default the shipped central-Helsinki one): import and index
    /// time, reverse geocodes per second with p50/p99 and the same run's brute-force scan as the reference (their
    /// answers must agree), and forward search of every address as typed. `--json` for one JSON document.
    Geocode(jikimi_geocode::bench::BenchArgs),
    /// Hash banks over HTTP: lookups/s, p50/p99, memory and time-to-matchable with an N-hash bank.
    ///
    /// Hash banks (issue 19) against a `jikimi serve` child: an N-hash bank (default 1,000,000; `--hashes
    /// 10000000`) imported, loaded by the server (time, memory), looked up by concurrent clients (lookups/s,
    /// p50/p99; every lookup audited), and the time for a hash added over HTTP to become matchable.
    Identify(spine::identify_bench::IdentifyArgs),
    /// PDQ, single thread: index search against a linear scan, index memory, hashing throughput.
    Pdq(jikimi_mediahash::bench::BenchArgs),
    /// Evidence triage of 10,000 generated images: images/s, with the reference `pdqhash` when its venv exists.
    Triage(jikimi_mediahash::triage::bench::BenchTriageArgs),
    /// Record linkage of N x N synthetic people, and watchlist check latency over N entries.
    ///
    /// `scale`: time per stage, memory and precision/recall of linking N x N synthetic people. `watchlist`: check
    /// latency (p50/p99) and recall@5 over a watchlist of N entries.
    Linkage(jikimi_linkage::bench::BenchArgs),
    /// Cooperation sync: node B pulls N signed leads from node A over HTTP; leads/s against A's own store writes.
    ///
    /// Cooperation sync: node B pulls N leads (default 100,000) from node A over loopback HTTP through the federation
    /// router, verifying every signature and re-checking policy; leads/s, bytes per lead, peak RSS, and the ratio to
    /// A's store writing the same leads in batches (measured in the same run). `--interrupt` stops and resumes B.
    Exchange(spine::exchange_bench::ExchangeArgs),
    /// Joint operations across three nodes: propagation p50/p99 under load, catch-up after a partition.
    ///
    /// Joint operations: three nodes on loopback (SQLite, as `jikimi serve`), A and B issuing changes at `--rate`
    /// per second, each pushed as it commits; propagation p50/p99 (commit to the receiver's signed acknowledgement),
    /// then C cut off for `--partition-s` and the time it takes to catch up, with what it holds twice or lacks.
    Operations(spine::operations_bench::OperationsArgs),
    /// CAP 1.2 and NENA EIDO documents produced and parsed per second, against the incident's own JSON.
    Standards(spine::standards_bench::StandardsArgs),
    /// A disaster's welfare check: fan-out to 100,000 subscribers in the area, then answers per second.
    ///
    /// A disaster's welfare check on one node: the time to place, ask and commit 100,000 subscribers in the area
    /// (and, with `--mqtt`, until every terminal has the question), then answers per second through the signature
    /// check and the answer service.
    Disaster(spine::disaster_bench::DisasterArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are not errors; everything else clap refuses is a usage error (2).
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("Error: {err:?}");
            Exit::Error.into()
        }
    }
}

/// Runs one command; `Ok` carries the outcome a script branches on, `Err` is exit code 1.
fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Version { json } => {
            if json {
                let version =
                    serde_json::json!({ "name": "jikimi", "version": env!("CARGO_PKG_VERSION") });
                println!("{version}");
            } else {
                println!("jikimi {}", env!("CARGO_PKG_VERSION"));
            }
        }
        Command::Serve(args) => spine::serve(args)?,
        Command::Demo(args) => spine::demo(args)?,
        Command::Migrate(args) => spine::migrate(args)?,
        Command::Cluster(command) => spine::cluster::run(command)?,
        Command::Audit(args) => return spine::audit(args),
        Command::Staff(args) => spine::staff(args)?,
        Command::Store(args) => spine::store(args)?,
        Command::Analyze(AnalyzeCommand::HotSpots(command)) => {
            analyze::run(jikimi_analyze::cli::AnalyzeArgs { command })?
        }
        Command::Analyze(AnalyzeCommand::Forecast(command)) => jikimi_forecast::cli::run(command)?,
        Command::Roads(args) => jikimi_roads::cli::run(args)?,
        Command::Pdq(args) => return pdq_exit(jikimi_mediahash::cli::run(args)),
        Command::Identify(args) => return Ok(jikimi_mediahash::triage::cli::run(args)?.into()),
        Command::Link(args) => {
            let summary = jikimi_linkage::cli::run_link(&args.link)?;
            if args.json {
                println!("{}", serde_json::to_string(&summary)?);
            }
        }
        Command::Border(args) => return Ok(jikimi_linkage::cli::run_border(&args)?.into()),
        Command::Bench(Bench::Intake(args)) => spine::block_on(spine::bench::intake(args))?,
        Command::Bench(Bench::Surge(args)) => spine::block_on(spine::surge::surge(args))?,
        Command::Bench(Bench::Cluster(args)) => {
            spine::block_on(spine::cluster_bench::cluster(args))?
        }
        Command::Bench(Bench::Flood(args)) => spine::block_on(spine::flood::flood(args))?,
        Command::Bench(Bench::Identify(args)) => spine::block_on(spine::identify_bench::run(args))?,
        Command::Bench(Bench::Analyze(args)) => jikimi_analyze::bench::run_bench(&args)?,
        Command::Bench(Bench::Funds(args)) => jikimi_funds::bench::run_bench(&args)?,
        Command::Bench(Bench::Roads(args)) => jikimi_roads::bench::run(&args)?,
        Command::Bench(Bench::Geocode(args)) => {
            let report = jikimi_geocode::bench::run(&args)?;
            anyhow::ensure!(
                report.disagreements == 0,
                "the index and the brute-force scan disagree on {} points",
                report.disagreements
            );
        }
        Command::Bench(Bench::Pdq(args)) => {
            return pdq_exit(jikimi_mediahash::bench::run(args).map(|()| PdqOutcome::Done));
        }
        Command::Bench(Bench::Triage(args)) => jikimi_mediahash::triage::bench::run(&args)?,
        Command::Bench(Bench::Linkage(args)) => jikimi_linkage::bench::run(&args)?,
        Command::Bench(Bench::Standards(args)) => spine::standards_bench::standards(args)?,
        Command::Bench(Bench::Disaster(args)) => {
            spine::block_on(spine::disaster_bench::disaster(args))?
        }
        Command::Bench(Bench::Exchange(args)) => {
            spine::block_on(spine::exchange_bench::exchange(args))?
        }
        Command::Bench(Bench::Operations(args)) => {
            spine::block_on(spine::operations_bench::operations(args))?
        }
        Command::Trace(TraceCommand::Funds(args)) => {
            let summary = jikimi_funds::cli::run_funds(&args)?;
            jikimi_funds::cli::print_summary(&args, &summary)?;
        }
        Command::Exchange(cmd) => spine::exchange(cmd)?,
        Command::Intake(args) => jikimi_intake::cli::run(args)?,
    }
    Ok(Exit::Ok)
}

/// Maps a `pdq` command's result to its exit: a command left out of this build (a cargo feature) is exit 5, not 1.
fn pdq_exit(result: Result<PdqOutcome, jikimi_mediahash::cli::CliError>) -> anyhow::Result<Exit> {
    match result {
        Ok(outcome) => Ok(outcome.into()),
        Err(err @ jikimi_mediahash::cli::CliError::NotBuilt { .. }) => {
            eprintln!("Error: {err}");
            Ok(Exit::Unavailable)
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own consistency checks (unique names and groups, valid defaults) over every subcommand, which
    /// otherwise fire only when that subcommand is parsed.
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    /// `--help` is the manual: every command, flag and argument says what it is for.
    #[test]
    fn every_command_and_argument_has_help() {
        fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none() && arg.get_long_help().is_none() && !arg.is_hide_set() {
                    out.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    out.push(path.clone());
                }
                undocumented(sub, &path, out);
            }
        }
        let mut cmd = super::Cli::command();
        cmd.build();
        let mut out = Vec::new();
        undocumented(&cmd, "jikimi", &mut out);
        assert!(out.is_empty(), "without help text: {out:#?}");
    }
}
