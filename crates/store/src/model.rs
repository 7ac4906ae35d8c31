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

/// How a batch's per-device alert budget is decided ([`crate::IncidentStore::record_alerts_with_budget`]).
#[derive(Debug, Clone, PartialEq)]
pub enum AlertBudget {
    /// Decided by the caller (a single node's limiter in memory), matched to the batch by position (missing
    /// entries are `false`: within budget).
    Marked(Vec<bool>),
    /// Decided by the store in the batch's own transaction from a per-device counter it keeps (a GCRA token
    /// bucket: `burst` alerts at once, one more every `refill_ms`), so every node of a cluster on one database
    /// charges the same bucket, and a charge commits or is lost with its alert (a node killed mid-batch charged
    /// nothing). Only a new alert is charged: a retry or a replayed nonce is not.
    Shared {
        /// Alerts a device may raise at once.
        burst: u32,
        /// Milliseconds for one more.
        refill_ms: i64,
    },
}

impl AlertBudget {
    /// Nobody is over budget.
    pub fn none(n: usize) -> AlertBudget {
        AlertBudget::Marked(vec![false; n])
    }
}

impl From<Vec<bool>> for AlertBudget {
    fn from(marks: Vec<bool>) -> AlertBudget {
        AlertBudget::Marked(marks)
    }
}

/// An incident referred by another CAD (an imported EIDO), in the store's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReferral {
    /// The id the incident gets when this referral is new.
    pub incident_id: IncidentId,
    /// The referrer's id of the incident (EIDO `$id`): the idempotency key, at most one incident per value.
    pub external_id: String,
    /// The referring agency.
    pub from_agency: String,
    /// The referring CAD.
    pub from_element: String,
    /// The incident type as the referrer registered it.
    pub incident_type: Option<String>,
    /// The 112 code the referral maps to.
    pub priority: jikimi_respond::Priority,
    /// The referred location, when it carried a point.
    pub fix: Option<jikimi_respond::LocationFix>,
    /// The referred street address on one line.
    pub address: Option<String>,
}

/// The outcome of [`crate::IncidentStore::open_referral`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralOpened {
    /// The incident the referral opened, or had opened before.
    pub incident: jikimi_respond::Incident,
    /// True when the external id was imported before: nothing new was written.
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

/// Which incidents to list, in which order, and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only incidents in these statuses; empty means all.
    pub statuses: Vec<IncidentStatus>,
    /// Only this subscriber's incidents.
    pub subscriber_id: Option<SubscriberId>,
    /// Only the incidents this device opened (the device's silent-message poll).
    pub device_id: Option<jikimi_respond::DeviceId>,
    /// At most this many (1..=10,000).
    pub limit: u32,
    /// The order, and where a page starts.
    pub order: IncidentOrder,
}

/// The order of an incident listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IncidentOrder {
    /// The dispatch queue: priority (code 0 first), then age (oldest first), then id.
    #[default]
    Queue,
    /// By id, starting after `after` when given: a complete scan, page by page, for reports that read every
    /// incident. Priority can change while a scan runs, so a queue-ordered scan could skip or repeat an incident;
    /// an id never changes. Ids are UUID v7, so this is also roughly the order of creation.
    ById {
        /// The last id of the previous page.
        after: Option<IncidentId>,
    },
}

impl Default for IncidentFilter {
    fn default() -> Self {
        IncidentFilter {
            statuses: Vec::new(),
            subscriber_id: None,
            device_id: None,
            limit: 100,
            order: IncidentOrder::Queue,
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
    /// Their language, a canonical BCP 47 tag (`ko`, `vi`, `zh-Hans`, ...); the server checks it. Not sealed: the
    /// dispatcher is shown it with every incident they raise.
    pub language: String,
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
    /// Checks travellers against the border watchlist.
    BorderOfficer,
}

impl Role {
    /// The stable snake_case name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dispatcher => "dispatcher",
            Role::Supervisor => "supervisor",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::BorderOfficer => "border_officer",
        }
    }
    /// Parses [`Role::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "dispatcher" => Role::Dispatcher,
            "supervisor" => Role::Supervisor,
            "analyst" => Role::Analyst,
            "admin" => Role::Admin,
            "border_officer" => Role::BorderOfficer,
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
    /// The role: at login when stored; the account's current role when read back ([`crate::Store::get_session`]).
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

/// A one-time enrolment code as stored: a handle to find it and the SHA-256 of the whole code, never the code.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrolmentCode {
    /// The code's public prefix; locates the row and its attempt counter.
    pub handle: String,
    /// SHA-256 of the whole normalised code.
    pub code_hash: [u8; 32],
    /// Whose device may enrol with it.
    pub subscriber_id: SubscriberId,
    /// When issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// A supervisor allowed this code to replace the subscriber's existing PINs; without it, an enrolment that
    /// brings PINs is refused when PINs are already set.
    pub replace_pins: bool,
}

impl fmt::Debug for EnrolmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrolmentCode")
            .field("handle", &self.handle)
            .field("subscriber_id", &self.subscriber_id)
            .field("expires_at", &self.expires_at)
            .field("replace_pins", &self.replace_pins)
            .finish_non_exhaustive()
    }
}

/// A device asking to enrol with a code.
#[derive(Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The handle part of the presented code.
    pub handle: String,
    /// SHA-256 of the whole presented code.
    pub code_hash: [u8; 32],
    /// The device to enrol; its `subscriber_id` is ignored (the code's subscriber is used).
    pub device: DeviceRecord,
    /// PINs to set for the subscriber with the enrolment, if the device sets them.
    pub pins: Option<PinHashes>,
    /// After this many wrong codes for a handle, the code is locked for good.
    pub max_attempts: u32,
}

impl fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrolment")
            .field("handle", &self.handle)
            .field("device", &self.device.id)
            .finish_non_exhaustive()
    }
}

/// Why an enrolment code was refused. The refusal and the attempt are committed and audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentRefusal {
    /// No code has this handle.
    Unknown,
    /// The handle exists but the code does not match; `attempts_left` more tries before the code locks.
    WrongCode {
        /// Tries left.
        attempts_left: u32,
    },
    /// Too many wrong tries: the code is dead; the registrar issues a new one.
    Locked,
    /// Past its expiry.
    Expired,
    /// Already used to enrol a device.
    AlreadyUsed,
    /// The enrolment brings PINs, the subscriber has PINs already, and the code does not allow replacing them
    /// (only a supervisor issues such a code). The code stays usable: the device may enrol without PINs.
    PinsAlreadySet,
}

/// What a valid, unused enrolment code allows, learnt before the expensive part of an enrolment (hashing PINs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrolmentCheck {
    /// Whose code it is.
    pub subscriber_id: SubscriberId,
    /// The subscriber has PINs set now.
    pub pins_set: bool,
    /// The code may replace existing PINs.
    pub replace_pins: bool,
}

/// A device request's nonce, claimed (single use) in the transaction that acts on the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceClaim {
    /// The signing device.
    pub device_id: DeviceId,
    /// The request's nonce.
    pub nonce: String,
    /// When it was seen (server time).
    pub at: Timestamp,
}

impl EnrolmentRefusal {
    /// Stable snake_case name (audit detail, API error choice).
    pub fn as_str(self) -> &'static str {
        match self {
            EnrolmentRefusal::Unknown => "unknown",
            EnrolmentRefusal::WrongCode { .. } => "wrong_code",
            EnrolmentRefusal::Locked => "locked",
            EnrolmentRefusal::Expired => "expired",
            EnrolmentRefusal::AlreadyUsed => "already_used",
            EnrolmentRefusal::PinsAlreadySet => "pins_already_set",
        }
    }
}

/// A subscriber's PINs as argon2id PHC strings, computed by the server.
#[derive(Clone, PartialEq, Eq)]
pub struct PinHashes {
    /// The PIN that cancels an alert.
    pub pin_hash: String,
    /// The duress PIN: answered like a cancel, escalates instead.
    pub duress_pin_hash: Option<String>,
}

impl fmt::Debug for PinHashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinHashes")
            .field("has_duress_pin", &self.duress_pin_hash.is_some())
            .finish_non_exhaustive()
    }
}

/// A subscriber's stored PINs and their guessing counter.
#[derive(Clone, PartialEq, Eq)]
pub struct PinRecord {
    /// Whose.
    pub subscriber_id: SubscriberId,
    /// The hashes.
    pub pins: PinHashes,
    /// Wrong PINs since the last right one (or the last lockout).
    pub failed_attempts: u32,
    /// Until when every PIN is refused, after too many wrong ones.
    pub locked_until: Option<Timestamp>,
}

impl fmt::Debug for PinRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinRecord")
            .field("subscriber_id", &self.subscriber_id)
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// An event a device sends about its own incident (a location update, a cancel, a duress escalation).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvent {
    /// The incident; it must have been opened by `device_id`.
    pub incident_id: IncidentId,
    /// The signing device.
    pub device_id: DeviceId,
    /// The request's nonce; claimed with the event, so a replay is refused.
    pub nonce: String,
    /// What happened.
    pub kind: jikimi_respond::EventKind,
    /// The device's subscriber gave a right PIN (cancel or duress): their wrong-PIN counter is reset with the event.
    pub pin_accepted: bool,
    /// When (server time) and why; the actor is the device.
    pub at: Timestamp,
    /// Why, for the audit entry.
    pub reason: String,
}

/// Where a link between two entities stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Found by a linkage run; nobody has looked at it yet.
    Proposed,
    /// An analyst said the two entities are the same; later runs keep it whatever the score.
    Confirmed,
    /// An analyst said they differ; later runs never propose it again.
    Rejected,
}

impl LinkStatus {
    /// The stable snake_case name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Proposed => "proposed",
            LinkStatus::Confirmed => "confirmed",
            LinkStatus::Rejected => "rejected",
        }
    }
    /// Parses [`LinkStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<LinkStatus> {
        Some(match s {
            "proposed" => LinkStatus::Proposed,
            "confirmed" => LinkStatus::Confirmed,
            "rejected" => LinkStatus::Rejected,
            _ => return None,
        })
    }
}

/// A link found by a linkage run, to be stored. `left_ref < right_ref` (the store orders them if not).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntityLink {
    /// What is linked: `person`, `phone`, `account`, `wallet`.
    pub kind: String,
    /// One entity's id (a UUID as text in the case store).
    pub left_ref: String,
    /// The other entity's id.
    pub right_ref: String,
    /// Match probability, 0 to 1.
    pub probability: f64,
    /// Match weight in bits.
    pub weight: f64,
    /// The evidence as JSON text (fields, levels, weights; never the compared values).
    pub evidence: String,
}

/// A public warning as stored: its id, when it was issued, and the server's JSON of it (opaque to the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningRecord {
    /// Its id.
    pub id: uuid::Uuid,
    /// When it was issued.
    pub issued_at: jikimi_respond::Timestamp,
    /// The warning as JSON.
    pub body: String,
}

/// A road closure as stored: the area or points closed (GeoJSON text, resolved to road segments by the server
/// against the network it loaded), who closed it and why, and when and by whom it was reopened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoadClosureRecord {
    /// Its id.
    pub id: uuid::Uuid,
    /// When it was closed.
    pub closed_at: jikimi_respond::Timestamp,
    /// The staff user who closed it.
    pub closed_by: String,
    /// Why (a collapsed bridge, a flooded underpass).
    pub reason: String,
    /// The GeoJSON geometry as JSON text.
    pub geometry: String,
    /// When it was reopened; `None` while it is in force.
    pub reopened_at: Option<jikimi_respond::Timestamp>,
    /// The staff user who reopened it.
    pub reopened_by: Option<String>,
}

/// A stored link with its decision.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityLink {
    /// Stable id of the pair.
    pub id: Uuid,
    /// What is linked.
    pub kind: String,
    /// One entity's id.
    pub left_ref: String,
    /// The other entity's id.
    pub right_ref: String,
    /// Match probability of the latest run that scored the pair.
    pub probability: f64,
    /// Match weight in bits, same run.
    pub weight: f64,
    /// Evidence as JSON text, same run.
    pub evidence: String,
    /// Proposed, confirmed or rejected.
    pub status: LinkStatus,
    /// When a run first proposed it.
    pub first_seen: Timestamp,
    /// When a run last scored it.
    pub last_run: Timestamp,
    /// Who decided (`staff:<user>`), if anyone.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
}

/// What a linkage run changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinkRunReport {
    /// Pairs proposed for the first time.
    pub added: u64,
    /// Pairs already stored (their score and evidence refreshed; a decision kept).
    pub refreshed: u64,
    /// Proposed pairs the run no longer finds, removed (decided pairs are never removed).
    pub withdrawn: u64,
}
