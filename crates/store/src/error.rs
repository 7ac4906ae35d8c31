//! The store's error: what happened, in terms the server can map to a response; the driver error stays a source.

use jikimi_audit::AuditError;
use jikimi_respond::TransitionError;

/// A store operation failed. Exhaustive on purpose: the server's one mapping to API errors must name every case.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist (or an expired session).
    #[error("{entity} {id} not found")]
    NotFound {
        /// What kind of thing.
        entity: Entity,
        /// Its id as text (never personal data).
        id: String,
    },
    /// The change conflicts with what is stored.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The request itself is malformed (bad limit, a value out of range, a referenced record missing).
    #[error("invalid: {0}")]
    Invalid(String),
    /// A stored row does not decode (bad uuid, bad JSON, unknown enum text, wrong digest length) or a row the
    /// schema guarantees is missing: the database is damaged, not the request. Says what, never the stored value.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
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

/// What kind of thing was not found: closed (and exhaustive), so callers match on it instead of on text, and a new
/// kind cannot reach the API without a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// An incident.
    Incident,
    /// An accepted alert (device, alert id).
    Alert,
    /// A subscriber.
    Subscriber,
    /// A subscriber's guardian.
    Guardian,
    /// A registered device.
    Device,
    /// A subscriber's PINs (none set).
    Pins,
    /// A response unit.
    Unit,
    /// A staff account.
    Staff,
    /// A staff session (unknown, ended or expired).
    Session,
    /// A linkage result between two entities.
    EntityLink,
    /// A transfer set attached to a case (follow the money).
    TransferSet,
    /// A trace run over a transfer set.
    TraceRun,
    /// A hash bank (identify).
    Bank,
    /// A content of a hash bank.
    Content,
    /// A match a lookup answered.
    Match,
    /// A road closure.
    RoadClosure,
    /// A declared disaster (or a person it did not ask).
    Disaster,
}

impl Entity {
    /// The lowercase name, as in messages: `incident`, `entity link`.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Incident => "incident",
            Entity::Alert => "alert",
            Entity::Subscriber => "subscriber",
            Entity::Guardian => "guardian",
            Entity::Device => "device",
            Entity::Pins => "pins",
            Entity::Unit => "unit",
            Entity::Staff => "staff",
            Entity::Session => "session",
            Entity::EntityLink => "entity link",
            Entity::TransferSet => "transfer set",
            Entity::TraceRun => "trace run",
            Entity::Bank => "bank",
            Entity::Content => "content",
            Entity::Match => "match",
            Entity::RoadClosure => "road closure",
            Entity::Disaster => "disaster",
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// The unit to dispatch is not available (another incident has it, or it is off duty).
    #[error("unit {} is {}, not available", unit.as_str(), status.as_str())]
    UnitBusy {
        /// The unit.
        unit: jikimi_respond::UnitId,
        /// Its status when the dispatch was refused.
        status: jikimi_respond::UnitStatus,
    },
    #[error("notification lease lost")]
    LeaseLost,
    /// The unit to dispatch does not satisfy what the incident needs, and no override was given.
    #[error("unit {} is not {need}; dispatch it with an override if you mean to", unit.as_str())]
    UnitUnsuitable {
        /// The unit.
        unit: jikimi_respond::UnitId,
        /// The need it fails, as text (`rescue with heavy_rescue`).
        need: String,
    },
    /// The road closure was reopened already.
    #[error("road closure already reopened")]
    AlreadyReopened,
    /// The disaster is closed: it asks no one and records no answer any more.
    #[error("the disaster is closed")]
    DisasterClosed,
}

impl Error {
    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: Entity, id: impl ToString) -> Error {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Shorthand for [`Error::Corrupt`]: `what` names the column or value kind, never its content.
    pub fn corrupt(what: impl Into<String>) -> Error {
        Error::Corrupt(what.into())
    }
}

impl From<sqlx::Error> for Error {
    /// Maps by sqlx's portable error kind, never by message text: both backends give the same variant.
    fn from(err: sqlx::Error) -> Error {
        match &err {
            // Only `fetch_one` on a row the schema guarantees (the audit head, a COUNT) gives this: it is damage.
            sqlx::Error::RowNotFound => Error::corrupt("an expected row is missing"),
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
            | sqlx::Error::TypeNotFound { .. } => Error::corrupt("stored value does not decode"),
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
