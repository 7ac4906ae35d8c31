//! The pure core of jikimi's SOS-to-dispatch spine.
//!
//! This crate owns the domain of the respond flow:
//! - identifiers ([`IncidentId`], [`AlertId`], [`DeviceId`], [`SubscriberId`], [`UnitId`]) and time ([`Timestamp`]);
//! - locations ([`Coordinates`], [`LocationFix`]) and Korean 112 priority codes ([`Priority`]);
//! - incidents as an append-only log of [`IncidentEvent`]s whose current state, [`Incident`], is a fold over them
//!   ([`Incident::apply`], [`Incident::replay`]); illegal transitions are a [`TransitionError`];
//! - patrol [`Unit`]s and the recommendation of the nearest available ones ([`recommend`]) through an [`EtaProvider`]
//!   ([`StraightLineEta`] until road travel time plugs in);
//! - the 112 app's cancel with a PIN, where a duress PIN answers like a cancel but escalates ([`decide_cancel`]);
//! - surge clustering ([`surge`]): alerts close in space and time join one open incident as more reports, found
//!   through a grid index ([`ClusterIndex`]);
//! - disaster mode ([`disaster`]): a disaster's area, welfare answers, each person's state and the triage queue;
//! - rescue teams ([`rescue`]): unit types and capabilities, the [`UnitNeed`] of a person or an incident, and the
//!   recommendation that offers only units satisfying it ([`rescue::recommend_for`]).
//!
//! It does no I/O: no async, no database, no HTTP, no clock. Time is always a parameter.
//!
//! Architecture Invariant: the fold is the one place the lifecycle rules live; closed is terminal, and a refused
//! event leaves the incident unchanged (property-tested in `tests/it/fold.rs`).
//!
//! ```
//! use jikimi_respond::*;
//! let t0 = Timestamp::from_unix_ms(1_700_000_000_000);
//! let received = IncidentEvent {
//!     seq: 1,
//!     at: t0,
//!     actor: Actor::Device(DeviceId::new_v4()),
//!     kind: EventKind::AlertReceived {
//!         alert_id: AlertId::new_v4(),
//!         device_id: DeviceId::new_v4(),
//!         subscriber_id: None,
//!         priority: Priority::new(0).unwrap(),
//!         fix: None,
//!         silent: true,
//!     },
//! };
//! let mut incident = Incident::start(IncidentId::new_v4(), &received).unwrap();
//! let ack = IncidentEvent { seq: 2, at: t0, actor: Actor::Staff("kim".into()), kind: EventKind::Acknowledged };
//! incident.apply(&ack).unwrap();
//! assert_eq!(incident.status, IncidentStatus::Acknowledged);
//! ```

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cancel;
pub mod disaster;
mod geo;
mod ids;
mod incident;
pub mod rescue;
pub mod surge;
pub mod twoway;
mod unit;

pub use cancel::{CancelDecision, PinMatch, decide_cancel};
pub use geo::{CoordinateError, Coordinates, FixMethod, LocationFix, haversine_m};
pub use ids::{Actor, AlertId, DeviceId, IncidentId, SubscriberId, Timestamp, UnitId};
pub use incident::{
    EscalationReason, EventKind, Incident, IncidentEvent, IncidentStatus, Outcome, Priority,
    PriorityError, TransitionError, better_fix,
};
pub use rescue::{Capability, UnitNeed, UnitType};
pub use surge::{ClusterIndex, Placement, SurgeConfig};
pub use twoway::{Answer, AnswerKind, DeviceMessage, Question};
pub use unit::{Eta, EtaProvider, Recommendation, StraightLineEta, Unit, UnitStatus, recommend};
