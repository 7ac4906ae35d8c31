//! Each person's state in a disaster and the triage queue over them.
//!
//! Order (issue 20): trapped, then injured, then need_help; within one status the more vulnerable first (child,
//! elderly, disability, medical: the more flags, the sooner), then the longest silent first (time since last
//! contact), then the subscriber id so the queue is the same on every node. A position older than the caller's
//! staleness limit (or only the registered home) is flagged, not hidden: rescuers go to the last known place and know it may be out of date.

use serde::{Deserialize, Serialize};

use super::WelfareStatus;
use crate::{Coordinates, SubscriberId, Timestamp};

/// Vulnerability flags from the subscriber's registration (sealed there and in the disaster's person rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Vulnerability {
    /// A child.
    pub child: bool,
    /// Elderly.
    pub elderly: bool,
    /// Living with a disability.
    pub disability: bool,
    /// A medical condition (dialysis, oxygen, insulin...).
    pub medical: bool,
}

impl Vulnerability {
    /// How many flags are set: the triage ranks more flags sooner.
    pub fn score(self) -> u8 {
        u8::from(self.child)
            + u8::from(self.elderly)
            + u8::from(self.disability)
            + u8::from(self.medical)
    }
}

/// Where a person's position came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    /// Their device's latest fix when the disaster was declared.
    Fix,
    /// Their registered home.
    Home,
    /// Their welfare answer.
    Answer,
}

/// A position with its accuracy and age.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Where.
    pub coords: Coordinates,
    /// Radius in metres (0 when unknown, e.g. a registered home).
    pub accuracy_m: f64,
    /// When measured (for a home: when registered).
    pub at: Timestamp,
    /// Where it came from.
    pub source: PositionSource,
}

/// One person in a disaster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonState {
    /// Who.
    pub subscriber_id: SubscriberId,
    /// Their latest answer, or no answer.
    pub status: WelfareStatus,
    /// When a device of theirs last answered.
    pub last_contact: Option<Timestamp>,
    /// Where they are last known to be.
    pub position: Option<Position>,
    /// Battery percentage their device last reported.
    pub battery_pct: Option<u8>,
    /// How many people are with them (the answer's people count, themselves included).
    pub people: Option<u32>,
    /// From their registration.
    pub vulnerability: Vulnerability,
}

/// One place in the triage queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageEntry {
    /// 1 is rescued first.
    pub rank: usize,
    /// The person.
    pub person: PersonState,
    /// Milliseconds since last contact (`None`: never answered).
    pub silent_ms: Option<i64>,
    /// The position is older than the staleness limit, is only the registered home, or there is none.
    pub stale_position: bool,
}

/// The triage queue: only people in need (trapped, injured, need_help), in rescue order (module header).
pub fn triage(persons: &[PersonState], now: Timestamp, stale_after_ms: i64) -> Vec<TriageEntry> {
    let mut needy: Vec<&PersonState> = persons.iter().filter(|p| p.status.in_need()).collect();
    needy.sort_by_key(|p| key(p));
    needy
        .into_iter()
        .enumerate()
        .map(|(i, p)| TriageEntry {
            rank: i + 1,
            person: p.clone(),
            silent_ms: p
                .last_contact
                .map(|t| now.as_unix_ms().saturating_sub(t.as_unix_ms())),
            stale_position: p.position.is_none_or(|pos| {
                pos.source == PositionSource::Home
                    || now.as_unix_ms().saturating_sub(pos.at.as_unix_ms()) > stale_after_ms
            }),
        })
        .collect()
}

/// The sort key: urgency, more vulnerable first, longest silent (earliest contact; never contacted first), id.
fn key(p: &PersonState) -> (u8, std::cmp::Reverse<u8>, i64, uuid::Uuid) {
    (
        p.status.urgency().unwrap_or(u8::MAX),
        std::cmp::Reverse(p.vulnerability.score()),
        p.last_contact.map_or(i64::MIN, Timestamp::as_unix_ms),
        p.subscriber_id.0,
    )
}

/// How often (seconds) a device should report after this answer: often while in need, less when its battery is low
/// so it lasts until rescuers arrive, rarely when safe.
pub fn reporting_interval_s(status: WelfareStatus, battery_pct: Option<u8>) -> u32 {
    let base: u32 = match status {
        WelfareStatus::Trapped | WelfareStatus::Injured => 60,
        WelfareStatus::NeedHelp => 120,
        WelfareStatus::Safe | WelfareStatus::NoAnswer => return 3_600,
    };
    match battery_pct {
        Some(b) if b < 10 => base * 10,
        Some(b) if b < 20 => base * 5,
        Some(b) if b < 50 => base * 2,
        _ => base,
    }
}
