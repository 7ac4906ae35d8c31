//! Watchlist check latency at scale (issue 11: p99 under 20 ms with 1,000,000 entries).
//!
//! `cargo bench -p jikimi-linkage --bench watchlist` (sizes: `JIKIMI_WATCHLIST_N`, default 1,000,000;
//! `JIKIMI_WATCHLIST_QUERIES`, default 10,000). The measurement is [`jikimi_linkage::bench::watchlist`], also
//! `jikimi bench linkage watchlist`.

/// A size from an environment variable, else the default.
fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let report = jikimi_linkage::bench::watchlist(
        env_size("JIKIMI_WATCHLIST_N", 1_000_000),
        env_size("JIKIMI_WATCHLIST_QUERIES", 10_000),
    );
    print!("{}", report.text());
}
