//! The forecasting subcommands of `jikimi analyze` without building the whole binary (its server,
//! codecs and routing): the same parser and runner, for evaluation runs on a busy machine.
//!
//! usage: cargo run --release -p jikimi-forecast --example analyze -- forecast-eval --data … --out … --doc …

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "jikimi analyze")]
struct Cli {
    #[command(subcommand)]
    command: jikimi_forecast::cli::AnalyzeCommand,
}

fn main() -> Result<(), jikimi_forecast::Error> {
    jikimi_forecast::cli::run(Cli::parse().command)
}
