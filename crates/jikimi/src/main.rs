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
    #[command(flatten)]
    Exchange(jikimi_exchange::cli::Command),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("jikimi {}", env!("CARGO_PKG_VERSION"));
        }
        Command::Exchange(cmd) => jikimi_exchange::cli::run(cmd)?,
    }
    Ok(())
}
