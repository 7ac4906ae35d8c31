//! The `jikimi` binary: parses the command line and hands each subcommand to the crate that owns it.
//!
//! Glue only: every subcommand's work lives in a library crate; this file maps errors to exit codes.

use clap::{Parser, Subcommand};

mod analyze;

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
    /// Crime analysis: hot spots (Gi*, Moran's I) and aggregation of incidents.
    Analyze(jikimi_analyze::cli::AnalyzeArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(Bench),
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
        Command::Analyze(args) => analyze::run(args)?,
        Command::Bench(Bench::Analyze(args)) => jikimi_analyze::bench::run_bench(&args)?,
    }
    Ok(())
}
