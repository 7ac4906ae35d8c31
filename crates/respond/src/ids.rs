//! Identifiers, actors and timestamps shared by every part of the respond flow.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random identifier (UUID v4).
            pub fn new_v4() -> Self {
                Self(Uuid::new_v4())
            }
            /// A fresh time-ordered identifier (UUID v7): sorts by creation time, good for index locality.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

uuid_id!(
    /// An incident: created by the first alert, then a log of events.
    IncidentId
);
uuid_id!(
    /// An alert, chosen by the device: the idempotency key, so a retried alert never makes a second incident.
    AlertId
);
uuid_id!(
    /// An enrolled device (112 app, U-Relief terminal) whose key signs alerts.
    DeviceId
);
uuid_id!(
    /// A registered subscriber; their personal fields live sealed in the store, never in events.
    SubscriberId
);

/// A patrol unit's call sign, such as `P-101`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnitId(pub String);

impl UnitId {
    /// Wraps a call sign.
    pub fn new(call_sign: impl Into<String>) -> Self {
        Self(call_sign.into())
    }
    /// The call sign.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A point in time as milliseconds since the Unix epoch (UTC).
///
/// One encoding everywhere (events, store columns, audit entries) so both store backends agree to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_unix_ms(unix_ms: i64) -> Self {
        Self(unix_ms)
    }
    /// Milliseconds since the Unix epoch.
    pub const fn as_unix_ms(self) -> i64 {
        self.0
    }
    /// Seconds elapsed from `earlier` to `self` (negative if `earlier` is later).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1000.0
    }
}

impl From<std::time::SystemTime> for Timestamp {
    /// Converts a wall-clock reading taken at the edge (server, CLI); times before 1970 clamp to the epoch.
    fn from(value: std::time::SystemTime) -> Self {
        let ms = value
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self(ms)
    }
}

/// Who caused an event or change: a device, a staff member (by user name), or the system itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// An enrolled device, e.g. raising an alert.
    Device(DeviceId),
    /// A logged-in staff member (dispatcher, supervisor, analyst, admin).
    Staff(String),
    /// jikimi itself (simulation, maintenance, recommendation engine).
    System,
}

impl fmt::Display for Actor {
    /// The audit log's form: `device:<uuid>`, `staff:<user>`, `system`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Device(id) => write!(f, "device:{id}"),
            Actor::Staff(user) => write!(f, "staff:{user}"),
            Actor::System => f.write_str("system"),
        }
    }
}
