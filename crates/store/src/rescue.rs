//! Rescue teams (issue 20, part 5) in the store: what an incident needs, as facts for the pure core to decide.
//!
//! The store does not decide a need: [`UnitStore::incident_need_facts`](crate::UnitStore::incident_need_facts) reads
//! the dispatcher's choice (table `incident_needs`) and the welfare statuses of the people whose answers joined the
//! incident, and the server hands both to `jikimi_respond::rescue::derived_need`.

use jikimi_respond::UnitNeed;
use jikimi_respond::disaster::{DisasterKind, WelfareStatus};

/// What decides an incident's need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncidentNeedFacts {
    /// The need a dispatcher set, if any.
    pub dispatcher: Option<UnitNeed>,
    /// The current welfare status of each person whose answer joined the incident, with their disaster's kind.
    pub people: Vec<(WelfareStatus, DisasterKind)>,
}
