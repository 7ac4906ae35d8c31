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
    /// Link records across two files, or de-duplicate one (probabilistic record linkage).
    Link(jikimi_linkage::cli::LinkArgs),
    /// Border control: check travellers against a watchlist.
    Border(jikimi_linkage::cli::BorderArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("jikimi {}", env!("CARGO_PKG_VERSION"));
        }
        Command::Link(args) => jikimi_linkage::cli::run_link(&args)?,
        Command::Border(args) => jikimi_linkage::cli::run_border(&args)?,
    }
    Ok(())
}
