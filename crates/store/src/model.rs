//! The records the store keeps, in domain types. Personal fields only ever appear sealed ([`Sealed`]) or as blind
//! digests ([`BlindDigest`]).

use jikimi_privacy::{BlindDigest, Sealed};
use jikimi_respond::{
    Actor, AlertId, Coordinates, DeviceId, Incident, IncidentId, IncidentStatus, LocationFix,
    Priority, SubscriberId, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// Who makes a change, when, and why: every mutating store call takes one and writes it to the audit log in the
/// same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Who.
    pub actor: Actor,
    /// When (server time).
    pub at: Timestamp,
    /// Why, in the actor's words or the system's.
    pub reason: String,
}

impl Change {
    /// Builds a change.
    pub fn new(actor: Actor, at: Timestamp, reason: impl Into<String>) -> Change {
        Change {
            actor,
            at,
            reason: reason.into(),
        }
    }
}

/// An authenticated alert, ready to be made durable. The server has checked the signature, the device and the
/// timestamp window; the store checks the nonce and the idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// The id the incident gets if this alert opens one (ignored for a duplicate).
    pub incident_id: IncidentId,
    /// The device's idempotency key: (device_id, alert_id) opens at most one incident.
    pub alert_id: AlertId,
    /// The signing device.
    pub device_id: DeviceId,
    /// The device's subscriber, if registered.
    pub subscriber_id: Option<SubscriberId>,
    /// The request's nonce as sent; (device_id, nonce) is accepted at most once, ever (until purged).
    pub nonce: String,
    /// When the server accepted it.
    pub received_at: Timestamp,
    /// 112 code.
    pub priority: Priority,
    /// Location sent with the alert.
    pub fix: Option<LocationFix>,
    /// Silent mode.
    pub silent: bool,
}

/// The outcome of one alert of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertAccepted {
    /// The incident the alert opened, or had opened before.
    pub incident_id: IncidentId,
    /// True when the alert was already recorded (a retry): nothing new was written.
    pub duplicate: bool,
}

/// Counts for checking that nothing accepted was lost (`jikimi bench surge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeCounts {
    /// Alerts stored: one row per accepted alert (retries are not counted again).
    pub alerts: u64,
    /// Incidents those alerts opened (clustered alerts share one).
    pub incidents: u64,
}

/// Which incidents to list. Results are ordered by priority (code 0 first), then age (oldest first), then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only incidents in these statuses; empty means all.
    pub statuses: Vec<IncidentStatus>,
    /// Only this subscriber's incidents.
    pub subscriber_id: Option<SubscriberId>,
    /// At most this many (1..=10,000).
    pub limit: u32,
}

impl Default for IncidentFilter {
    fn default() -> Self {
        IncidentFilter {
            statuses: Vec::new(),
            subscriber_id: None,
            limit: 100,
        }
    }
}

impl IncidentFilter {
    /// Every status but closed.
    pub fn open() -> IncidentFilter {
        use IncidentStatus as S;
        IncidentFilter {
            statuses: vec![
                S::Received,
                S::Acknowledged,
                S::Dispatched,
                S::EnRoute,
                S::OnScene,
            ],
            ..IncidentFilter::default()
        }
    }
}

/// A blind-index entry for lookup: a domain (`phone`, `name`) and the keyed digest of the normalised value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndexEntry {
    /// What was indexed.
    pub domain: String,
    /// Its digest.
    pub digest: BlindDigest,
}

/// A subscriber: sealed personal fields by name (`name`, `phone`, `birth_date`, `address`, `notes`) and the blind
/// indexes to find them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberRecord {
    /// The subscriber.
    pub id: SubscriberId,
    /// Sealed fields by field name; sealed with the record id `subscriber/<id>` and the field name as AAD.
    pub fields: BTreeMap<String, Sealed>,
    /// Blind indexes for lookup.
    pub indexes: Vec<IndexEntry>,
    /// When registered.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// A guardian's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GuardianId(pub Uuid);

impl fmt::Display for GuardianId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A guardian of a subscriber, with sealed fields (`name`, `relation`, `channels` as sealed JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianRecord {
    /// The guardian.
    pub id: GuardianId,
    /// Whose guardian.
    pub subscriber_id: SubscriberId,
    /// Sealed fields by field name; sealed with the record id `guardian/<id>`.
    pub fields: BTreeMap<String, Sealed>,
    /// When added.
    pub created_at: Timestamp,
}

/// An enrolled device and the Ed25519 public key that signs its alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device.
    pub id: DeviceId,
    /// Its subscriber, if registered (cleared on erasure).
    pub subscriber_id: Option<SubscriberId>,
    /// Ed25519 public key (32 bytes).
    pub public_key: Vec<u8>,
    /// Kind of device, e.g. `app`, `u-relief`, `aml` (not personal).
    pub kind: String,
    /// When enrolled.
    pub enrolled_at: Timestamp,
    /// When revoked; a revoked device's alerts are refused.
    pub revoked_at: Option<Timestamp>,
}

/// A staff role; each API endpoint names the roles it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes and dispatches incidents.
    Dispatcher,
    /// Dispatcher rights plus oversight (audit, reassignments).
    Supervisor,
    /// Reads statistics and history.
    Analyst,
    /// Manages staff, devices and subscribers.
    Admin,
}

impl Role {
    /// The stable snake_case name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dispatcher => "dispatcher",
            Role::Supervisor => "supervisor",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
    /// Parses [`Role::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "dispatcher" => Role::Dispatcher,
            "supervisor" => Role::Supervisor,
            "analyst" => Role::Analyst,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

/// A staff account. The password is stored only as an argon2 PHC string, computed by the server.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffUser {
    /// Login name.
    pub username: String,
    /// argon2 PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// When created.
    pub created_at: Timestamp,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
}

impl fmt::Debug for StaffUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A login session. Only the SHA-256 of the bearer token is stored, so a database leak does not leak sessions.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the token.
    pub token_hash: [u8; 32],
    /// Whose session.
    pub username: String,
    /// The role at login.
    pub role: Role,
    /// When created.
    pub created_at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Everything stored about a subscriber, for a subject-access export (the server decrypts it).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriberExport {
    /// The subscriber record.
    pub subscriber: SubscriberRecord,
    /// Their devices.
    pub devices: Vec<DeviceRecord>,
    /// Their guardians.
    pub guardians: Vec<GuardianRecord>,
    /// Incidents they raised, by age.
    pub incidents: Vec<Incident>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReport {
    /// Guardians deleted.
    pub n_guardians: u64,
    /// Devices revoked and unlinked.
    pub n_devices: u64,
    /// Incidents kept (they hold no personal field, only the now-dangling subscriber id).
    pub n_incidents_kept: u64,
}

/// A position report for a unit (AVL).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionReport {
    /// Where.
    pub position: Coordinates,
    /// When measured.
    pub at: Timestamp,
}
