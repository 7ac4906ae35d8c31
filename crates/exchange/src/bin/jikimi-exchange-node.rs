//! A stand-alone binary with exactly the cooperation subcommands of `jikimi` (same parser, same
//! `cli::run`), so this crate's end-to-end test can start real node processes via
//! `CARGO_BIN_EXE_jikimi-exchange-node` without depending on the `jikimi` package.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "jikimi-exchange-node",
    version,
    about = "jikimi cooperation subcommands"
)]
struct Cli {
    #[command(subcommand)]
    command: jikimi_exchange::cli::Command,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    match jikimi_exchange::cli::run(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("error: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}
