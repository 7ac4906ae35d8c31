//! The one error type of `jikimi-analyze`: every way an input can be unusable, said in words an analyst can act on.

use std::path::PathBuf;

/// Everything that can go wrong while building weights, computing statistics or reading inputs.
///
/// Messages are lowercase, name the offending feature or column, and never contain personal data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input has no features or rows.
    #[error("empty input: {0}")]
    Empty(String),
    /// Fewer observations than the statistic needs.
    #[error("too few observations: {n} given, at least {needed} needed for {what}")]
    TooFew {
        /// Observations given.
        n: usize,
        /// Observations needed.
        needed: usize,
        /// The statistic or structure that needs them.
        what: &'static str,
    },
    /// A value is NaN or infinite.
    #[error("value of observation {index} is not finite ({value})")]
    NonFinite {
        /// Position of the observation.
        index: usize,
        /// The value found.
        value: f64,
    },
    /// The variable has the same value everywhere, so autocorrelation is undefined.
    #[error(
        "the variable is constant (every value is {value}); spatial autocorrelation is undefined"
    )]
    ConstantVariable {
        /// The constant value.
        value: f64,
    },
    /// Getis-Ord G needs a non-negative variable with a positive sum.
    #[error("getis-ord g needs non-negative values with a positive sum: {0}")]
    NegativeForG(String),
    /// A property is missing or not a number.
    #[error("feature {feature}: property '{field}' {problem}")]
    Field {
        /// Feature position in the collection.
        feature: usize,
        /// Property name.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A geometry cannot be used for the requested operation.
    #[error("feature {feature}: {problem}")]
    Geometry {
        /// Feature position in the collection.
        feature: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// The weights and the data disagree in length, or a weights parameter is invalid.
    #[error("weights: {0}")]
    Weights(String),
    /// A command-line or configuration value is invalid.
    #[error("invalid argument: {0}")]
    Argument(String),
    /// A CSV row or column is unusable.
    #[error("{path}: row {row}: {problem}")]
    Row {
        /// File read.
        path: String,
        /// 1-based data row (header excluded).
        row: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// A CSV file lacks a required column.
    #[error("{path}: no column {wanted} (columns: {found})")]
    MissingColumn {
        /// File read.
        path: String,
        /// The column(s) looked for.
        wanted: String,
        /// The header found.
        found: String,
    },
    /// GeoJSON could not be parsed.
    #[error("geojson: {0}")]
    GeoJson(String),
    /// CSV could not be parsed.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    /// JSON could not be written.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Map rendering failed.
    #[error("map: {0}")]
    Map(#[from] jikimi_maps::Error),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
