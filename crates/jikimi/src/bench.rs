//! `jikimi bench <name>`: benchmarks that measure speed outside the test suite. Each engineer adds a variant.

use crate::spine;

/// `jikimi bench` options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Signed alerts over loopback HTTP: sustained accepted alerts/s and p50/p99 accept latency.
    Intake(spine::bench::IntakeArgs),
}

/// Runs a benchmark.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Intake(args) => spine::block_on(spine::bench::intake(args)),
    }
}
