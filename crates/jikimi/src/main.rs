//! The `jikimi` binary: parses the command line and hands each subcommand to the crate that owns it.
//!
//! Glue only: every subcommand's work lives in a library crate; this file maps errors to exit codes.

mod analyze;
mod spine;

use clap::{Parser, Subcommand};

/// jikimi (지킴이): silent SOS dispatch, crime analysis, cross-border cooperation, perceptual hashing.
#[derive(Debug, Parser)]
#[command(name = "jikimi", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version and the crates compiled in.
    Version,
    /// Serve the respond API (alerts, incidents, units, subscribers, audit).
    Serve(spine::ServeArgs),
    /// Run a demo server on SQLite with a simulated city; prints the URL and staff logins.
    Demo(spine::demo::DemoArgs),
    /// Apply database migrations.
    Migrate(spine::MigrateArgs),
    /// Audit log tools (`audit verify`).
    Audit(spine::AuditArgs),
    /// Staff accounts (`staff add`).
    Staff(spine::StaffArgs),
    /// Crime analysis: hot spots, aggregation, forecasts, device placement, response-time equity.
    #[command(subcommand)]
    Analyze(AnalyzeCommand),
    /// Road network: import OpenStreetMap, route, benchmark.
    Roads(jikimi_roads::cli::RoadsArgs),
    /// PDQ perceptual hashes: hash images, match them against hash lists, convert lists, benchmark.
    Pdq(jikimi_mediahash::cli::PdqArgs),
    /// Link records across two files, or de-duplicate one (probabilistic record linkage).
    Link(jikimi_linkage::cli::LinkArgs),
    /// Border control: check travellers against a watchlist.
    Border(jikimi_linkage::cli::BorderArgs),
    /// Cooperation between agencies: agency, peer, agreement, case, sync.
    #[command(flatten)]
    Exchange(jikimi_federation::cli::Command),
    /// Device intake tools (`intake aml`: parse AML payloads from stdin to JSON lines).
    Intake(jikimi_intake::cli::IntakeArgs),
    /// Tracing: follow money through transfers (`trace funds`).
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(Bench),
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

/// Benchmarks, one per subsystem.
#[derive(Debug, Subcommand)]
enum Bench {
    /// Signed alerts over loopback HTTP: sustained accepted alerts/s and p50/p99 accept latency.
    Intake(spine::bench::IntakeArgs),
    /// A surge: thousands of devices, most in a few small areas, over HTTP and MQTT against `jikimi serve`; checks
    /// alerts stored equal alerts accepted and measures accept and dispatcher-queue latency.
    Surge(spine::surge::SurgeArgs),
    /// Signed alerts under a junk-alert flood against the same under an equal `GET /healthz` flood (throughput ratio,
    /// p99, audit rows per junk request), and the argon2 logins a login flood can force with and without limits.
    Flood(spine::flood::FloodArgs),
    /// Gi* and local Moran on lattices, Toronto aggregation to H3, esda comparison.
    Analyze(jikimi_analyze::bench::BenchArgs),
    /// Money tracing on a synthetic scam network (10M transfers by default): both policies, and the Python
    /// cross-check on the same files.
    Funds(jikimi_funds::bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("jikimi {}", env!("CARGO_PKG_VERSION"));
        }
        Command::Serve(args) => spine::serve(args)?,
        Command::Demo(args) => spine::demo(args)?,
        Command::Migrate(args) => spine::migrate(args)?,
        Command::Audit(args) => spine::audit(args)?,
        Command::Staff(args) => spine::staff(args)?,
        Command::Analyze(AnalyzeCommand::HotSpots(command)) => {
            analyze::run(jikimi_analyze::cli::AnalyzeArgs { command })?
        }
        Command::Analyze(AnalyzeCommand::Forecast(command)) => jikimi_forecast::cli::run(command)?,
        Command::Roads(args) => jikimi_roads::cli::run(args)?,
        Command::Pdq(args) => jikimi_mediahash::cli::run(args)?,
        Command::Link(args) => jikimi_linkage::cli::run_link(&args)?,
        Command::Border(args) => jikimi_linkage::cli::run_border(&args)?,
        Command::Bench(Bench::Intake(args)) => spine::block_on(spine::bench::intake(args))?,
        Command::Bench(Bench::Surge(args)) => spine::block_on(spine::surge::surge(args))?,
        Command::Bench(Bench::Flood(args)) => spine::block_on(spine::flood::flood(args))?,
        Command::Bench(Bench::Analyze(args)) => jikimi_analyze::bench::run_bench(&args)?,
        Command::Bench(Bench::Funds(args)) => jikimi_funds::bench::run_bench(&args)?,
        Command::Trace(TraceCommand::Funds(args)) => {
            let summary = jikimi_funds::cli::run_funds(&args)?;
            jikimi_funds::cli::print_summary(&args, &summary)?;
        }
        Command::Exchange(cmd) => spine::exchange(cmd)?,
        Command::Intake(args) => jikimi_intake::cli::run(args)?,
    }
    Ok(())
}
