//! The crate's error type: what went wrong reading inputs or writing outputs.

/// Errors of jikimi-forecast; messages are lowercase and carry no personal data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be parsed.
    #[error("csv error in {path}: {source}")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    /// A record had an invalid value.
    #[error("invalid input at {location}: {message}")]
    Invalid { location: String, message: String },
    /// A column that analytics must never read (nationality, ethnicity, religion) was present.
    #[error(
        "refusing protected column {column:?}: analytics never reads protected personal attributes"
    )]
    ProtectedColumn { column: String },
    /// The projection library failed.
    #[error("projection error: {0}")]
    Projection(String),
    /// The integer-programming solver failed.
    #[error("solver error: {0}")]
    Solver(String),
    /// Rendering or encoding a map failed.
    #[error("render error: {0}")]
    Render(String),
    /// The incident store failed.
    #[cfg(feature = "store")]
    #[error("store error: {0}")]
    Store(#[from] jikimi_store::Error),
    /// JSON serialisation failed.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
}
