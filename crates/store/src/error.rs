//! The store's error: what happened, in terms the server can map to a response; the driver error stays a source.

use jikimi_audit::AuditError;
use jikimi_respond::TransitionError;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing asked for does not exist (or an expired session).
    #[error("{entity} {id} not found")]
    NotFound {
        /// What kind of thing: `incident`, `subscriber`, `device`, `unit`, `staff`, `session`, `guardian`.
        entity: &'static str,
        /// Its id as text (never personal data).
        id: String,
    },
    /// The change conflicts with what is stored.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The request itself is malformed (bad limit, stored row that does not parse).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The incident's rules refuse the event.
    #[error("illegal transition: {0}")]
    IllegalTransition(#[from] TransitionError),
    /// The audit chain does not verify.
    #[error(transparent)]
    Tampered(#[from] AuditError),
    /// The database could not be reached or failed; retrying may help.
    #[error("storage unavailable: {message}")]
    Unavailable {
        /// Short lowercase description.
        message: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The kinds of conflict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// The device already used this nonce: a replayed request.
    #[error("nonce already used by this device")]
    NonceReplayed,
    /// Someone else appended first: the incident is at `actual`, the caller expected `expected`.
    #[error("incident is at seq {actual}, expected {expected}")]
    StaleSequence {
        /// The seq the caller based its change on.
        expected: u64,
        /// The seq stored.
        actual: u64,
    },
    /// A record with this key exists already.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A notification's lease expired and another worker claimed it; this worker's outcome is not recorded.
    #[error("notification lease lost")]
    LeaseLost,
}

impl Error {
    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: &'static str, id: impl ToString) -> Error {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

impl From<sqlx::Error> for Error {
    /// Maps by sqlx's portable error kind, never by message text: both backends give the same variant.
    fn from(err: sqlx::Error) -> Error {
        match &err {
            sqlx::Error::RowNotFound => Error::NotFound {
                entity: "row",
                id: String::new(),
            },
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict(Conflict::AlreadyExists("record"))
            }
            sqlx::Error::Database(db)
                if db.is_foreign_key_violation() || db.is_check_violation() =>
            {
                Error::Invalid("a referenced record is missing or a value is out of range".into())
            }
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::TypeNotFound { .. } => {
                Error::Invalid("stored value does not decode".into())
            }
            _ => Error::Unavailable {
                message: "database error".into(),
                source: Box::new(err),
            },
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Error {
        Error::Unavailable {
            message: "migration failed".into(),
            source: Box::new(err),
        }
    }
}

/// Result with the store's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
