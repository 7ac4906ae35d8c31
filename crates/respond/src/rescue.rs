//! Rescue teams (issue 20, part 5): unit types and capabilities, what a person or an incident needs, and the
//! recommendation that honours it.
//!
//! A patrol car is not a heavy-rescue team. Each [`Unit`] has a [`UnitType`] (police, fire, rescue, medical) and a
//! set of [`Capability`]s; an incident needs a [`UnitNeed`] (a type and the capabilities it must have). The need is
//! derived from the disaster's welfare answers ([`need_for_welfare`], [`derived_need`]) unless a dispatcher set it;
//! an ordinary SOS needs police. [`recommend_for`] ranks only the units that satisfy the need and, separately and
//! labelled, the nearest units that do not, so a dispatcher sees at once that no suitable unit is free instead of
//! being offered the wrong kind in its place. Pure: no I/O, no clock.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Coordinates;
use crate::disaster::{DisasterKind, WelfareStatus};
use crate::unit::{EtaProvider, Recommendation, Unit, recommend_where};

/// What kind of service a unit is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum UnitType {
    /// A police patrol (the default: every unit before unit types existed was one).
    #[default]
    Police,
    /// A fire engine or ladder.
    Fire,
    /// A rescue team (collapsed structures, water, rope).
    Rescue,
    /// An ambulance or medical team.
    Medical,
}

impl UnitType {
    /// Every type, in the order listed.
    pub const ALL: [UnitType; 4] = [
        UnitType::Police,
        UnitType::Fire,
        UnitType::Rescue,
        UnitType::Medical,
    ];

    /// The stable snake_case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitType::Police => "police",
            UnitType::Fire => "fire",
            UnitType::Rescue => "rescue",
            UnitType::Medical => "medical",
        }
    }

    /// Parses [`UnitType::as_str`]'s output (exactly: no case folding, so storage and API agree).
    pub fn parse(text: &str) -> Option<UnitType> {
        UnitType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for UnitType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a unit can do beyond its type's basics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Collapsed structures: lifting, cutting, shoring.
    HeavyRescue,
    /// Flood water and swift water: boats, dry suits.
    WaterRescue,
    /// Heights and confined spaces.
    RopeRescue,
    /// Hazardous materials.
    Hazmat,
    /// Fire suppression.
    FireSuppression,
    /// Advanced life support (paramedics).
    MedicalAdvanced,
    /// Search dogs (finding people under rubble).
    SearchDog,
}

impl Capability {
    /// Every capability, in the order listed.
    pub const ALL: [Capability; 7] = [
        Capability::HeavyRescue,
        Capability::WaterRescue,
        Capability::RopeRescue,
        Capability::Hazmat,
        Capability::FireSuppression,
        Capability::MedicalAdvanced,
        Capability::SearchDog,
    ];

    /// The stable snake_case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::HeavyRescue => "heavy_rescue",
            Capability::WaterRescue => "water_rescue",
            Capability::RopeRescue => "rope_rescue",
            Capability::Hazmat => "hazmat",
            Capability::FireSuppression => "fire_suppression",
            Capability::MedicalAdvanced => "medical_advanced",
            Capability::SearchDog => "search_dog",
        }
    }

    /// Parses [`Capability::as_str`]'s output.
    pub fn parse(text: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of capabilities, ordered (so storage, audit details and answers are deterministic).
pub type Capabilities = BTreeSet<Capability>;

/// Capabilities as stored: their names joined by commas, in order (`""` for none).
pub fn capabilities_to_text(capabilities: &Capabilities) -> String {
    capabilities
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses [`capabilities_to_text`]'s output; `None` names the first unknown capability's absence of meaning.
pub fn capabilities_from_text(text: &str) -> Option<Capabilities> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(Capability::parse)
        .collect()
}

/// What an incident or a person needs: a unit of `unit_type` with at least `capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnitNeed {
    /// The type the unit must be.
    pub unit_type: UnitType,
    /// Capabilities the unit must all have (it may have more).
    pub capabilities: Capabilities,
}

impl UnitNeed {
    /// A unit of `unit_type` with these capabilities.
    pub fn new(
        unit_type: UnitType,
        capabilities: impl IntoIterator<Item = Capability>,
    ) -> UnitNeed {
        UnitNeed {
            unit_type,
            capabilities: capabilities.into_iter().collect(),
        }
    }

    /// What an ordinary SOS needs: police.
    pub fn police() -> UnitNeed {
        UnitNeed::new(UnitType::Police, [])
    }

    /// Whether `unit` is of the needed type and has every needed capability (its status is not looked at).
    pub fn satisfied_by(&self, unit: &Unit) -> bool {
        unit.unit_type == self.unit_type && self.capabilities.is_subset(&unit.capabilities)
    }

    /// What `unit` lacks: whether its type is wrong, and the needed capabilities it does not have.
    pub fn shortfall(&self, unit: &Unit) -> Shortfall {
        Shortfall {
            wrong_type: unit.unit_type != self.unit_type,
            missing: self
                .capabilities
                .difference(&unit.capabilities)
                .copied()
                .collect(),
        }
    }
}

impl fmt::Display for UnitNeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.unit_type.as_str())?;
        if !self.capabilities.is_empty() {
            write!(f, " with {}", capabilities_to_text(&self.capabilities))?;
        }
        Ok(())
    }
}

/// How a unit falls short of a need.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Shortfall {
    /// The unit is of another type.
    pub wrong_type: bool,
    /// Needed capabilities it lacks.
    pub missing: Capabilities,
}

/// The need a person's welfare status makes in a disaster of `kind`; `None` for safe and no answer (nobody to send).
///
/// Trapped people need a rescue team: heavy rescue after an earthquake (rubble), water rescue in a flood (cut off by
/// water). The injured need a medical team. Those who need help need water rescue in a flood (stranded) and, in
/// other disasters, a rescue team without special equipment (evacuation, supplies).
pub fn need_for_welfare(status: WelfareStatus, kind: DisasterKind) -> Option<UnitNeed> {
    let flood = kind == DisasterKind::Flood;
    Some(match status {
        WelfareStatus::Trapped if flood => {
            UnitNeed::new(UnitType::Rescue, [Capability::WaterRescue])
        }
        WelfareStatus::Trapped => UnitNeed::new(UnitType::Rescue, [Capability::HeavyRescue]),
        WelfareStatus::Injured => UnitNeed::new(UnitType::Medical, []),
        WelfareStatus::NeedHelp if flood => {
            UnitNeed::new(UnitType::Rescue, [Capability::WaterRescue])
        }
        WelfareStatus::NeedHelp => UnitNeed::new(UnitType::Rescue, []),
        WelfareStatus::Safe | WelfareStatus::NoAnswer => return None,
    })
}

/// Where an incident's need came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedSource {
    /// A dispatcher set it.
    Dispatcher,
    /// Derived from the most urgent welfare status of the people whose answers joined the incident.
    Welfare(WelfareStatus),
    /// An ordinary SOS: police.
    Default,
}

impl NeedSource {
    /// The wire name: `dispatcher`, `welfare` or `default`.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedSource::Dispatcher => "dispatcher",
            NeedSource::Welfare(_) => "welfare",
            NeedSource::Default => "default",
        }
    }
}

/// An incident's need: the dispatcher's when set, else the one the most urgent person in need makes (trapped, then
/// injured, then need_help; `people` are their statuses with their disaster's kind), else police.
pub fn derived_need(
    dispatcher: Option<&UnitNeed>,
    people: &[(WelfareStatus, DisasterKind)],
) -> (UnitNeed, NeedSource) {
    if let Some(need) = dispatcher {
        return (need.clone(), NeedSource::Dispatcher);
    }
    people
        .iter()
        .filter_map(|&(status, kind)| Some((status.urgency()?, status, kind)))
        .min_by_key(|&(urgency, status, kind)| (urgency, status, kind as u8))
        .and_then(|(_, status, kind)| {
            need_for_welfare(status, kind).map(|n| (n, NeedSource::Welfare(status)))
        })
        .unwrap_or_else(|| (UnitNeed::police(), NeedSource::Default))
}

/// A candidate that does not satisfy the need, offered apart and labelled with what it lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherCandidate {
    /// The ranked unit.
    pub recommendation: Recommendation,
    /// Its type.
    pub unit_type: UnitType,
    /// Its capabilities.
    pub capabilities: Capabilities,
    /// How it falls short.
    pub shortfall: Shortfall,
}

/// A recommendation for a need.
#[derive(Debug, Clone, PartialEq)]
pub struct NeedRecommendation {
    /// The need ranked for.
    pub need: UnitNeed,
    /// Available units that satisfy the need, best first; empty when none is available (never filled with others).
    pub suitable: Vec<Recommendation>,
    /// The nearest available units that do not satisfy it, best first, each labelled with its shortfall.
    pub others: Vec<OtherCandidate>,
}

impl NeedRecommendation {
    /// Whether no unit satisfying the need could be recommended.
    pub fn none_suitable(&self) -> bool {
        self.suitable.is_empty()
    }
}

/// The `k` best available units that satisfy `need`, ranked by ETA like [`crate::recommend`], and apart from them the
/// `k_others` best available units that do not.
pub fn recommend_for(
    incident: Coordinates,
    units: &[Unit],
    need: &UnitNeed,
    eta: &dyn EtaProvider,
    k: usize,
    k_others: usize,
) -> NeedRecommendation {
    let suitable = recommend_where(incident, units, eta, k, |u| need.satisfied_by(u));
    let others = recommend_where(incident, units, eta, k_others, |u| !need.satisfied_by(u));
    let others = others
        .into_iter()
        .filter_map(|recommendation| {
            let unit = units.iter().find(|u| u.id == recommendation.unit)?;
            Some(OtherCandidate {
                unit_type: unit.unit_type,
                capabilities: unit.capabilities.clone(),
                shortfall: need.shortfall(unit),
                recommendation,
            })
        })
        .collect();
    NeedRecommendation {
        need: need.clone(),
        suitable,
        others,
    }
}

#[cfg(test)]
mod tests;
