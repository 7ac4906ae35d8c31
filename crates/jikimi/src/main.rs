//! The `jikimi` binary: parses the command line and hands each subcommand to the crate that owns it.
//!
//! Glue only: every subcommand's work lives in a library crate; this file maps errors to exit codes.

mod bench;
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
    /// Benchmarks (`bench intake`).
    Bench(bench::BenchArgs),
    /// Device intake tools (`intake aml`: parse AML payloads from stdin to JSON lines).
    Intake(jikimi_intake::cli::IntakeArgs),
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
        Command::Bench(args) => bench::run(args)?,
        Command::Intake(args) => jikimi_intake::cli::run(args)?,
    }
    Ok(())
}
