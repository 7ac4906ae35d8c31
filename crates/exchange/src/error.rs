//! The crate's one error type: what went wrong, in lowercase, never containing personal data.

use uuid::Uuid;

/// Everything that can fail in `jikimi_exchange`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An identifier (phone, IBAN, wallet, domain, hash) failed validation; `reason` says why.
    #[error("invalid {kind}: {reason}")]
    InvalidIdentifier { kind: &'static str, reason: String },
    /// A domain value is inconsistent (e.g. an agreement with one party).
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// A referenced object does not exist.
    #[error("{what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    /// The policy engine refused a disclosure or export.
    #[error("denied: {0}")]
    Denied(String),
    /// An inbound envelope was rejected (signature, replay, policy, ...).
    #[error("rejected: {0}")]
    Rejected(crate::protocol::Rejection),
    /// The node has not been initialised with `agency init`.
    #[error("this node has no agency identity yet (run `jikimi agency init`)")]
    NoIdentity,
    /// Canonical encoding failed.
    #[error("encoding failed")]
    Encoding(#[source] serde_json::Error),
    /// A storage operation failed (the store crate's error is the source).
    #[error("storage failed during {during}")]
    Store {
        during: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A peer could not be reached or answered badly.
    #[error("transport to {peer} failed: {reason}")]
    Transport { peer: String, reason: String },
    /// Reading or writing a local file failed.
    #[error("i/o failed on {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid_id(kind: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidIdentifier {
            kind,
            reason: reason.into(),
        }
    }
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            reason: reason.into(),
        }
    }
    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(what: &'static str, id: Uuid) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
