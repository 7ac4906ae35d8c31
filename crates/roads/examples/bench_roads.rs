//! `jikimi bench roads` as a crate example, so the benchmark builds in release with this crate's dependencies only
//! (the `jikimi` binary pulls in the whole workspace): `cargo run --release -p jikimi-roads --example bench_roads --
//! --skip-grid`. Same arguments, same JSON.

use std::process::ExitCode;

use clap::Parser;
use jikimi_roads::bench::{BenchArgs, run};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn main() -> ExitCode {
    match run(&Cli::parse().args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench roads: {e}");
            ExitCode::FAILURE
        }
    }
}
