//! Integration tests of jikimi-forecast: projection, metrics invariants, placement optimality,
//! equity flags (from CSV and from the incident store), the protected-field rule and a smoke run on the Toronto data.

mod cli;
mod data;
mod equity;
mod metrics;
mod place;
mod protected;
mod store_equity;

/// Path of the shared data directory (`JIKIMI_SHARED` or `../shared` beside the clone).
pub fn shared() -> std::path::PathBuf {
    std::env::var("JIKIMI_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
        })
}
