//! The guardian-notification outbox: rows written in the same transaction as the incident event that causes them,
//! claimed with a lease and finished by the `notify` worker.
//!
//! - [`Store::record_alerts`](crate::Store::record_alerts) and [`Store::append_event`](crate::Store::append_event)
//!   write one [`Notification`] per guardian of the incident's subscriber for the events [`notifies_guardians`]
//!   names, in the event's own transaction: a committed event always has its notifications, and a rolled-back one
//!   has none.
//! - A declared disaster queues, in the welfare check's transactions, one `welfare_asked` notice per guardian of each
//!   person asked; a recorded answer queues `welfare_<status>` and [`crate::DisasterStore::queue_silent_welfare`]
//!   `welfare_no_answer`, each at most once per (disaster, guardian) (a unique index), so the same worker delivers
//!   them in order, in the guardian's language.
//! - A row holds ids only. The guardian's contact data stays sealed; the worker unseals and renders at delivery.
//! - [`Outbox::claim_notifications`] leases due rows; a crashed worker's lease simply expires and the row is claimed
//!   again. Only the head of each (incident, guardian) stream is claimable, so notification n+1 of an incident is
//!   never delivered to a guardian before n was delivered or dead-lettered.
//! - [`Outbox::finish_notification`] records an attempt's outcome and audits it in one transaction; a worker whose
//!   lease was lost (expired and re-claimed) gets [`Conflict::LeaseLost`](crate::Conflict::LeaseLost) and changes
//!   nothing.

use crate::Result;
use jikimi_respond::{EventKind, IncidentId, SubscriberId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use crate::GuardianId;

/// A notification's id: stable across retries, sent as the idempotency key so a receiver can drop repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotificationId(pub Uuid);

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a notification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    /// Not yet delivered; due at `next_attempt_at`.
    Pending,
    /// Every deliverable channel accepted it.
    Delivered,
    /// Given up after the attempt limit or a permanent failure.
    DeadLettered,
}

impl NotificationState {
    /// The stable snake_case name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::Pending => "pending",
            NotificationState::Delivered => "delivered",
            NotificationState::DeadLettered => "dead_lettered",
        }
    }

    /// Parses [`NotificationState::as_str`]'s output.
    pub fn parse(text: &str) -> Option<NotificationState> {
        Some(match text {
            "pending" => NotificationState::Pending,
            "delivered" => NotificationState::Delivered,
            "dead_lettered" => NotificationState::DeadLettered,
            _ => return None,
        })
    }
}

/// One guardian to tell about one incident event, or about their person in a declared disaster. Holds no personal
/// data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Stable id (the idempotency key).
    pub id: NotificationId,
    /// The incident, for an incident's notification (exactly one of `incident_id` and `disaster_id` is set).
    pub incident_id: Option<IncidentId>,
    /// The disaster, for a welfare notification ([`WELFARE_ASKED`], [`welfare_event`]).
    pub disaster_id: Option<Uuid>,
    /// The guardian to tell (their contact data is sealed elsewhere).
    pub guardian_id: GuardianId,
    /// Whose guardian.
    pub subscriber_id: SubscriberId,
    /// The seq of the incident event that caused it; orders an incident's notifications (for a disaster: the
    /// guardian's notices about it, numbered from 0).
    pub event_seq: u64,
    /// The event's kind name (`alert_received`, `dispatched`, `closed`; `welfare_asked`, `welfare_<status>`).
    pub event: String,
    /// When the event was committed.
    pub created_at: Timestamp,
    /// Pending, delivered or dead-lettered.
    pub state: NotificationState,
    /// Attempts finished so far.
    pub attempts: u32,
    /// When the next attempt is due (pending rows).
    pub next_attempt_at: Timestamp,
    /// The last failure's class (`http_503`, `connect`, ...), never an address.
    pub last_error: Option<String>,
    /// Indexes of the guardian's channels already delivered, so a retry skips them.
    pub delivered_channels: Vec<u32>,
    /// When delivered.
    pub delivered_at: Option<Timestamp>,
    /// When dead-lettered.
    pub dead_lettered_at: Option<Timestamp>,
    /// The lease of the claim that returned this row (claimed rows only).
    pub lease_token: Option<Uuid>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Every channel has it now.
    Delivered,
    /// Try again at `retry_at`.
    Retry {
        /// Failure class, no personal data.
        error: String,
        /// When to try next.
        retry_at: Timestamp,
    },
    /// Give up.
    DeadLettered {
        /// Failure class, no personal data.
        error: String,
    },
}

/// The outcome of an attempt and the channels delivered so far (including earlier attempts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// Channel indexes delivered so far.
    pub delivered_channels: Vec<u32>,
    /// When the attempt ended.
    pub at: Timestamp,
}

/// The events guardians are told about: the alert that opens an incident, a unit dispatched, the incident closed.
pub fn notifies_guardians(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::AlertReceived { .. }
            | EventKind::ReportAdded { .. }
            | EventKind::Dispatched { .. }
            | EventKind::Closed { .. }
    )
}

/// The event of a guardian's first notice about a disaster: their person is in the declared area and is being asked
/// whether they are safe.
pub const WELFARE_ASKED: &str = "welfare_asked";

/// The event of a guardian's notice that their person answered `status` (or, for
/// [`WelfareStatus::NoAnswer`](jikimi_respond::disaster::WelfareStatus::NoAnswer), stayed silent past the configured
/// age): `welfare_safe`, `welfare_need_help`, `welfare_trapped`, `welfare_injured`, `welfare_no_answer`. Each is
/// queued at most once per (disaster, guardian).
pub fn welfare_event(status: jikimi_respond::disaster::WelfareStatus) -> &'static str {
    use jikimi_respond::disaster::WelfareStatus as S;
    match status {
        S::Safe => "welfare_safe",
        S::NeedHelp => "welfare_need_help",
        S::Trapped => "welfare_trapped",
        S::Injured => "welfare_injured",
        S::NoAnswer => "welfare_no_answer",
    }
}

/// The outbox's side of the store, implemented by both backends; every [`crate::Store`] is an `Outbox`.
#[async_trait::async_trait]
pub trait Outbox: Send + Sync {
    /// Leases up to `limit` due notifications until `lease_until`: pending, due at `now`, not leased (or the lease
    /// expired), and first pending of their (incident or disaster, guardian) stream. Each claim gets a fresh lease token.
    async fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Notification>>;

    /// Records an attempt's outcome under the lease `lease_token` and audits it (`notification.delivered`,
    /// `notification.failed`, `notification.dead_lettered`) in the same transaction. Returns the updated row.
    ///
    /// Errors: [`crate::Conflict::LeaseLost`] when the row is no longer leased with that token.
    async fn finish_notification(
        &self,
        id: NotificationId,
        lease_token: Uuid,
        report: &DeliveryReport,
    ) -> Result<Notification>;

    /// An incident's notifications, by event seq then guardian id.
    async fn list_notifications(&self, incident_id: IncidentId) -> Result<Vec<Notification>>;

    /// A disaster's guardian notifications, by guardian id then seq.
    async fn list_disaster_notifications(&self, disaster_id: Uuid) -> Result<Vec<Notification>>;

    /// Dead-lettered notifications, newest first.
    async fn list_dead_letters(&self, limit: u32) -> Result<Vec<Notification>>;
}

pub(crate) fn channels_json(channels: &[u32]) -> Result<String> {
    serde_json::to_string(channels)
        .map_err(|e| crate::Error::Invalid(format!("channels do not serialise: {e}")))
}

pub(crate) fn channels_from(text: &str) -> Result<Vec<u32>> {
    serde_json::from_str(text).map_err(|e| {
        crate::Error::corrupt(format!(
            "stored channels do not parse: {}",
            crate::sql::json_position(&e)
        ))
    })
}

pub(crate) fn state_from(text: &str) -> Result<NotificationState> {
    NotificationState::parse(text).ok_or_else(|| {
        crate::Error::corrupt(format!("unknown notification state {text:?} in storage"))
    })
}

/// The columns every notification query reads, in the SQL backends' row decoder's terms.
pub(crate) const COLUMNS: &str = "id, incident_id, disaster_id, guardian_id, subscriber_id, event_seq, event, created_at, state, \
     attempts, next_attempt_at, last_error, delivered_channels, delivered_at, dead_lettered_at, lease_token";
