//! Glue for `jikimi analyze ...`: with the `datafusion` feature, aggregation can use the DataFusion
//! engine (`jikimi-analyze-engine`); without it (the default, to keep builds fast) the streaming counter
//! of `jikimi-analyze` is used and `--engine datafusion` says how to get the engine.

/// Runs `jikimi analyze ...`.
#[cfg(feature = "datafusion")]
pub fn run(args: jikimi_analyze::cli::AnalyzeArgs) -> anyhow::Result<()> {
    Ok(jikimi_analyze_engine::run(args)?)
}

/// Runs `jikimi analyze ...`.
#[cfg(not(feature = "datafusion"))]
pub fn run(args: jikimi_analyze::cli::AnalyzeArgs) -> anyhow::Result<()> {
    Ok(jikimi_analyze::cli::run(args)?)
}
