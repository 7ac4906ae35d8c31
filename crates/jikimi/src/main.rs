//! The `jikimi` binary: parses the command line and hands each subcommand to the crate that owns it.
//!
//! Glue only: every subcommand's work lives in a library crate; this file maps errors to exit codes.

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
    /// Crime analysis: hot spots, aggregation, forecasts, device placement, response-time equity.
    #[command(subcommand)]
    Analyze(AnalyzeCommand),
    /// PDQ perceptual hashes: hash images, match them against hash lists, convert lists, benchmark.
    Pdq(jikimi_mediahash::cli::PdqArgs),
    /// Road network: import OpenStreetMap, route, benchmark.
    Roads(jikimi_roads::cli::RoadsArgs),
    /// Link records across two files, or de-duplicate one (probabilistic record linkage).
    Link(jikimi_linkage::cli::LinkArgs),
    /// Border control: check travellers against a watchlist.
    Border(jikimi_linkage::cli::BorderArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(Bench),
}

/// `jikimi analyze`: the hot-spot commands of `jikimi-analyze` and the forecasting commands of `jikimi-forecast`.
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
    /// Gi* and local Moran on lattices, Toronto aggregation to H3, esda comparison.
    Analyze(jikimi_analyze::bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("jikimi {}", env!("CARGO_PKG_VERSION"));
        }
        Command::Analyze(AnalyzeCommand::HotSpots(command)) => {
            jikimi_analyze::cli::run(jikimi_analyze::cli::AnalyzeArgs { command })?
        }
        Command::Analyze(AnalyzeCommand::Forecast(command)) => jikimi_forecast::cli::run(command)?,
        Command::Bench(Bench::Analyze(args)) => jikimi_analyze::bench::run_bench(&args)?,
        Command::Pdq(args) => jikimi_mediahash::cli::run(args)?,
        Command::Roads(args) => jikimi_roads::cli::run(args)?,
        Command::Link(args) => jikimi_linkage::cli::run_link(&args)?,
        Command::Border(args) => jikimi_linkage::cli::run_border(&args)?,
    }
    Ok(())
}
