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
    /// PDQ perceptual hashes: hash images, match them against hash lists, convert lists, benchmark.
    Pdq(jikimi_mediahash::cli::PdqArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("jikimi {}", env!("CARGO_PKG_VERSION"));
        }
        Command::Pdq(args) => jikimi_mediahash::cli::run(args)?,
    }
    Ok(())
}
