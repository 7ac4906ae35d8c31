//! `trace funds` and `bench funds` without the rest of jikimi: the same arguments as `jikimi trace funds` and
//! `jikimi bench funds`, in a binary that builds in a fraction of the time (profiling and measuring the engine
//! with `cargo run --release -p jikimi-funds --example funds -- bench funds` needs no server, database or
//! federation crates compiled in release mode).

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "jikimi's money tracing alone")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start; the size of a command-line enum does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// `trace funds`, as in jikimi.
    #[command(subcommand)]
    Trace(Trace),
    /// `bench funds`, as in jikimi (it runs this binary's `trace funds` as its child processes).
    #[command(subcommand)]
    Bench(Bench),
}

#[derive(Debug, Subcommand)]
enum Trace {
    Funds(jikimi_funds::cli::FundsArgs),
}

#[derive(Debug, Subcommand)]
enum Bench {
    Funds(jikimi_funds::bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Trace(Trace::Funds(args)) => jikimi_funds::cli::run_funds(&args)
            .and_then(|summary| jikimi_funds::cli::print_summary(&args, &summary)),
        Command::Bench(Bench::Funds(args)) => jikimi_funds::bench::run_bench(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
