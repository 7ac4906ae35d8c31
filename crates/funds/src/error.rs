//! The crate's one error type: lowercase messages that never contain an account identifier (personal data).

/// Everything that can fail in `jikimi_funds`. Bad input rows are not errors: they are reported as
/// [`crate::ingest::BadRow`] values and the caller decides whether to go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file (or a spill file of the external sort) failed.
    #[error("i/o failed on {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be read as CSV at all (not a bad row: the reader itself failed).
    #[error("csv reading failed on {path}")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    /// An XML document is not well-formed or is not a camt.053 statement.
    #[error("xml of {path} is unusable: {reason}")]
    Xml { path: String, reason: String },
    /// The input names a column that does not exist, lacks a required one, or mixes currencies.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A balance left the 128-bit range or a division by zero was attempted (a bug or absurd input).
    #[error("arithmetic failed: {0}")]
    Arithmetic(&'static str),
    /// Bad rows were found and the caller asked to stop on them.
    #[error("{count} bad rows (first: line {first_line}: {first_reason})")]
    BadRows {
        count: u64,
        first_line: u64,
        first_reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
