//! Disaster mode's pure core (issue 20): a declared disaster and its area, the welfare check's answers, each person's
//! state, the triage order and the reporting interval told to devices in need.
//!
//! A disaster is not a surge of ordinary alerts: every subscriber whose last known position lies in its area is asked
//! "are you safe?", and each person who answers `need_help`, `trapped` or `injured` is tracked individually (even
//! when surge clustering folds their alerts into one site incident). This module decides what the server and the
//! store only carry out: which points lie in the area ([`DisasterArea::contains`], holes and several polygons
//! included), which answers exist ([`WelfareAnswer`]), who is rescued first ([`triage`]) and how often a device in
//! need should report ([`reporting_interval_s`]). It does no I/O and reads no clock.

mod area;
mod triage;

#[cfg(test)]
mod tests;

pub use area::{AreaError, DisasterArea, MAX_AREA_POINTS, circle_ring};
pub use triage::{
    PersonState, Position, PositionSource, TriageEntry, Vulnerability, reporting_interval_s, triage,
};

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisasterKind {
    /// An earthquake: people trapped under buildings.
    Earthquake,
    /// A flood: people stranded in isolated places.
    Flood,
    /// Anything else that strands many people at once.
    Other,
}

impl DisasterKind {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            DisasterKind::Earthquake => "earthquake",
            DisasterKind::Flood => "flood",
            DisasterKind::Other => "other",
        }
    }

    /// Parses the wire string.
    pub fn parse(text: &str) -> Option<DisasterKind> {
        match text {
            "earthquake" => Some(DisasterKind::Earthquake),
            "flood" => Some(DisasterKind::Flood),
            "other" => Some(DisasterKind::Other),
            _ => None,
        }
    }
}

/// A person's welfare as last known: an answer, or [`WelfareStatus::NoAnswer`] while their devices stay silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WelfareStatus {
    /// Trapped (under rubble, cut off by water): rescued first.
    Trapped,
    /// Injured.
    Injured,
    /// Needs help (food, water, evacuation) but is neither trapped nor injured.
    NeedHelp,
    /// Safe.
    Safe,
    /// Asked, has not answered.
    NoAnswer,
}

impl WelfareStatus {
    /// Every status, in the order the counts are shown.
    pub const ALL: [WelfareStatus; 5] = [
        WelfareStatus::Safe,
        WelfareStatus::NeedHelp,
        WelfareStatus::Trapped,
        WelfareStatus::Injured,
        WelfareStatus::NoAnswer,
    ];

    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            WelfareStatus::Trapped => "trapped",
            WelfareStatus::Injured => "injured",
            WelfareStatus::NeedHelp => "need_help",
            WelfareStatus::Safe => "safe",
            WelfareStatus::NoAnswer => "no_answer",
        }
    }

    /// Parses the wire string.
    pub fn parse(text: &str) -> Option<WelfareStatus> {
        WelfareStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether this person needs rescuers (in the triage queue).
    pub fn in_need(self) -> bool {
        self.urgency().is_some()
    }

    /// Rank in the triage queue: trapped 0, injured 1, need_help 2; `None` for safe and no answer.
    pub fn urgency(self) -> Option<u8> {
        match self {
            WelfareStatus::Trapped => Some(0),
            WelfareStatus::Injured => Some(1),
            WelfareStatus::NeedHelp => Some(2),
            WelfareStatus::Safe | WelfareStatus::NoAnswer => None,
        }
    }
}

/// What a device may answer to "are you safe?" (never `no_answer`: that is silence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WelfareAnswer {
    /// Safe.
    Safe,
    /// Needs help.
    NeedHelp,
    /// Trapped.
    Trapped,
    /// Injured.
    Injured,
}

impl WelfareAnswer {
    /// The status it sets.
    pub fn status(self) -> WelfareStatus {
        match self {
            WelfareAnswer::Safe => WelfareStatus::Safe,
            WelfareAnswer::NeedHelp => WelfareStatus::NeedHelp,
            WelfareAnswer::Trapped => WelfareStatus::Trapped,
            WelfareAnswer::Injured => WelfareStatus::Injured,
        }
    }

    /// Parses the wire string (`safe`, `need_help`, `trapped`, `injured`).
    pub fn parse(text: &str) -> Option<WelfareAnswer> {
        match text {
            "safe" => Some(WelfareAnswer::Safe),
            "need_help" => Some(WelfareAnswer::NeedHelp),
            "trapped" => Some(WelfareAnswer::Trapped),
            "injured" => Some(WelfareAnswer::Injured),
            _ => None,
        }
    }
}
