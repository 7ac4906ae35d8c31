//! Scaling run: synthetic linkage of N x N records (issue 11: 1,000,000 x 1,000,000), time and memory.
//!
//! `cargo bench -p jikimi-linkage --bench scale` (size `JIKIMI_SCALE_N`, default 1,000,000; block cap
//! `JIKIMI_SCALE_MAX_BLOCK_PAIRS`, default 100; `JIKIMI_SCALE_VERBOSE` prints the model and false links).
//! The measurement is [`jikimi_linkage::bench::scale`], also `jikimi bench linkage scale`.

/// A size from an environment variable, else the default.
fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = jikimi_linkage::bench::scale(
        env_size("JIKIMI_SCALE_N", 1_000_000),
        env_size("JIKIMI_SCALE_MAX_BLOCK_PAIRS", 100),
        std::env::var("JIKIMI_SCALE_VERBOSE").is_ok(),
    )?;
    print!("{}", report.text());
    Ok(())
}
