//! Locating and loading the shared reference data (`../shared/data`).

use std::path::PathBuf;

use jikimi_linkage::table::Table;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The shared data directory: `$JIKIMI_SHARED/data` or `../../../shared/data` from this crate.
pub fn shared_data() -> PathBuf {
    let root = std::env::var("JIKIMI_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").to_string());
    PathBuf::from(root).join("data")
}

/// Read a CSV from the shared data directory.
pub fn load(relative: &str) -> Result<Table, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(shared_data().join(relative))?;
    Ok(Table::from_csv(file)?)
}

/// Read a two-column pairs file (header skipped).
pub fn load_pairs(relative: &str) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let table = load(relative)?;
    Ok(table
        .rows
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect())
}
