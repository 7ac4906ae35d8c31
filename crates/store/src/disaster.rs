//! Disaster mode's records (issue 20): a declared disaster, the people its welfare check asked, and their answers.
//!
//! The store never sees a person's position or vulnerability in clear: the server seals them (record id
//! `disaster/<id>/person/<subscriber>`, fields `position` and `vulnerability`) and opens them to count per area and to
//! build the triage queue, auditing those reads. The subscriber's own registration keeps the sealed fields `home`
//! (JSON `{"lat","lon"}`) and `vulnerability` (JSON flags) in `sealed_fields`, read here for the welfare check.

use jikimi_privacy::Sealed;
use jikimi_respond::disaster::{DisasterArea, DisasterKind, WelfareAnswer, WelfareStatus};
use jikimi_respond::{DeviceId, LocationFix, SubscriberId, Timestamp};
use uuid::Uuid;

/// The sealed field of a subscriber holding their registered home position.
pub const HOME_FIELD: &str = "home";
/// The sealed field of a subscriber (and of a disaster's person) holding their vulnerability flags.
pub const VULNERABILITY_FIELD: &str = "vulnerability";
/// The sealed field of a disaster's person holding their last known position.
pub const POSITION_FIELD: &str = "position";

/// The sealing record id of a person in a disaster.
pub fn person_record(disaster_id: Uuid, subscriber_id: SubscriberId) -> String {
    format!("disaster/{disaster_id}/person/{subscriber_id}")
}

/// A declared disaster.
#[derive(Debug, Clone, PartialEq)]
pub struct DisasterRecord {
    /// Its id.
    pub id: Uuid,
    /// What happened.
    pub kind: DisasterKind,
    /// A short title ("Pohang earthquake").
    pub title: String,
    /// Where.
    pub area: DisasterArea,
    /// The CAP alert's identifier when declared from one.
    pub cap_identifier: Option<String>,
    /// When declared.
    pub declared_at: Timestamp,
    /// When closed (none while open).
    pub closed_at: Option<Timestamp>,
}

/// A subscriber the welfare check may ask: what it needs to decide whether they are in the area and how to reach
/// them. Their positions arrive sealed or from incidents; the server opens and tests them.
#[derive(Debug, Clone, PartialEq)]
pub struct WelfareCandidate {
    /// Who.
    pub subscriber_id: SubscriberId,
    /// Their language.
    pub language: String,
    /// Their latest fix from an incident of theirs measured at or after the cut-off asked for.
    pub latest_fix: Option<LocationFix>,
    /// Their sealed registered home (`home`), if any.
    pub home: Option<Sealed>,
    /// Their sealed vulnerability flags (`vulnerability`), if any.
    pub vulnerability: Option<Sealed>,
    /// Their devices that are not revoked, with their kind (`app`, `terminal`...).
    pub devices: Vec<(DeviceId, String)>,
}

/// One person to ask, as the server decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct WelfareRequest {
    /// Who.
    pub subscriber_id: SubscriberId,
    /// The position that put them in the area, sealed as [`POSITION_FIELD`] of [`person_record`].
    pub position: Option<Sealed>,
    /// When that position was measured.
    pub position_at: Option<Timestamp>,
    /// Their vulnerability flags, sealed as [`VULNERABILITY_FIELD`] of [`person_record`].
    pub vulnerability: Option<Sealed>,
}

/// A person in a disaster as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct WelfarePerson {
    /// Who.
    pub subscriber_id: SubscriberId,
    /// Latest answer or no answer.
    pub status: WelfareStatus,
    /// When asked.
    pub requested_at: Timestamp,
    /// When a device of theirs last answered.
    pub last_contact: Option<Timestamp>,
    /// Sealed last known position.
    pub position: Option<Sealed>,
    /// When it was measured.
    pub position_at: Option<Timestamp>,
    /// Last reported battery percentage.
    pub battery_pct: Option<u8>,
    /// Last reported people count.
    pub people: Option<u32>,
    /// Sealed vulnerability flags.
    pub vulnerability: Option<Sealed>,
}

/// A device's verified answer to "are you safe?".
#[derive(Debug, Clone, PartialEq)]
pub struct NewWelfareAnswer {
    /// Which disaster.
    pub disaster_id: Uuid,
    /// The signing device.
    pub device_id: DeviceId,
    /// The device's id for this answer: a retry with the same id changes nothing.
    pub answer_id: Uuid,
    /// The signed request's nonce, claimed in the same transaction.
    pub nonce: String,
    /// The answer.
    pub answer: WelfareAnswer,
    /// The position it carries, sealed as [`POSITION_FIELD`] of [`person_record`] (the previous one stays when
    /// none).
    pub position: Option<Sealed>,
    /// When that position was measured.
    pub position_at: Option<Timestamp>,
    /// Battery percentage.
    pub battery_pct: Option<u8>,
    /// People with them, themselves included.
    pub people: Option<u32>,
    /// Server time.
    pub at: Timestamp,
}

/// What recording an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WelfareAnswered {
    /// Whose answer it was.
    pub subscriber_id: SubscriberId,
    /// The status the answer set.
    pub status: WelfareStatus,
    /// `true` when this answer id was recorded before with the same answer: nothing changed.
    pub duplicate: bool,
}

/// An open disaster that asked one device's subscriber, for the device's poll.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingWelfare {
    /// The disaster.
    pub disaster: DisasterRecord,
    /// The person's status so far.
    pub status: WelfareStatus,
}
