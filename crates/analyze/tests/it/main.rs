//! Integration tests of `jikimi-analyze`: esda reference values, bad inputs, loaders, the CLI pipeline.
#![allow(clippy::unwrap_used)] // Tests fail loudly on broken fixtures; that is the point.

mod bad_inputs;
mod columbus;
mod pipeline;
mod properties;

/// A FeatureCollection of unit squares at the given lower-left corners with a numeric property `v`.
pub fn squares(corners: &[(f64, f64)], values: &[serde_json::Value]) -> String {
    let features: Vec<serde_json::Value> = corners
        .iter()
        .zip(values)
        .map(|(&(x, y), v)| {
            serde_json::json!({
                "type": "Feature",
                "properties": {"v": v},
                "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 1.0, y], [x + 1.0, y + 1.0], [x, y + 1.0], [x, y]]]}
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

/// A `side x side` grid of unit squares (row-major) with values.
pub fn grid(side: usize, values: &[f64]) -> String {
    let corners: Vec<(f64, f64)> = (0..side * side)
        .map(|i| ((i % side) as f64, (i / side) as f64))
        .collect();
    let vals: Vec<serde_json::Value> = values.iter().map(|v| serde_json::json!(v)).collect();
    squares(&corners, &vals)
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("jikimi-analyze-it-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
