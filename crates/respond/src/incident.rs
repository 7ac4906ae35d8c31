//! Incidents: an append-only log of events and the projection folded from it.
//!
//! The lifecycle is received → acknowledged → dispatched → en route → on scene → closed, with location fixes,
//! recommendations and notes allowed at any open stage. Closed is terminal. The fold is the single place where the
//! rules live: the store applies the same [`Incident::apply`] before it appends, so no illegal state is ever written.

use crate::twoway::{self, Answer, AnswerKind, DeviceMessage, Question};
use crate::{
    Actor, AlertId, DeviceId, IncidentId, LocationFix, Recommendation, SubscriberId, Timestamp,
    UnitId,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A Korean 112 priority code: 0 (most urgent, life in danger now) to 4 (least urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Priority(u8);

/// A priority code outside 0..=4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("priority code {0} is out of range 0..=4")]
pub struct PriorityError(pub u8);

impl Priority {
    /// Code 0: the most urgent.
    pub const MOST_URGENT: Priority = Priority(0);

    /// Checks the code is in 0..=4.
    pub fn new(code: u8) -> Result<Self, PriorityError> {
        if code <= 4 {
            Ok(Self(code))
        } else {
            Err(PriorityError(code))
        }
    }
    /// The code, 0..=4.
    pub fn code(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Priority {
    type Error = PriorityError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Priority::new(value)
    }
}

impl From<Priority> for u8 {
    fn from(value: Priority) -> Self {
        value.0
    }
}

/// How an incident ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A suspect was arrested.
    Arrest,
    /// The person was rescued.
    Rescue,
    /// Help was given without arrest or rescue.
    Assistance,
    /// The alert was raised by mistake.
    FalseAlarm,
    /// The service was abused (deliberate false report).
    Abuse,
    /// The subscriber cancelled the alert from their device with their PIN.
    Cancelled,
}

/// Why an incident was escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// The subscriber entered their duress PIN: someone is forcing them to cancel. The device was answered exactly
    /// as for a genuine cancel; only staff learn of the duress.
    Duress,
}

/// The stage an incident is in. Ordered by progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// An alert arrived; no dispatcher has taken it yet.
    Received,
    /// A dispatcher has taken it.
    Acknowledged,
    /// A unit is assigned.
    Dispatched,
    /// The assigned unit is on its way.
    EnRoute,
    /// The assigned unit is there.
    OnScene,
    /// Finished, with an outcome. Terminal.
    Closed,
}

impl IncidentStatus {
    /// The stable snake_case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Received => "received",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Dispatched => "dispatched",
            IncidentStatus::EnRoute => "en_route",
            IncidentStatus::OnScene => "on_scene",
            IncidentStatus::Closed => "closed",
        }
    }
    /// Parses [`IncidentStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => IncidentStatus::Received,
            "acknowledged" => IncidentStatus::Acknowledged,
            "dispatched" => IncidentStatus::Dispatched,
            "en_route" => IncidentStatus::EnRoute,
            "on_scene" => IncidentStatus::OnScene,
            "closed" => IncidentStatus::Closed,
            _ => return None,
        })
    }
    /// Everything but [`IncidentStatus::Closed`].
    pub fn is_open(self) -> bool {
        self != IncidentStatus::Closed
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The alert that opens the incident; always the first event (seq 1) and only there.
    AlertReceived {
        /// The device's idempotency key.
        alert_id: AlertId,
        /// The device that signed the alert.
        device_id: DeviceId,
        /// The device's subscriber, when registered.
        subscriber_id: Option<SubscriberId>,
        /// The 112 code given at intake.
        priority: Priority,
        /// The location sent with the alert, if any.
        fix: Option<LocationFix>,
        /// Silent mode: the device must not ring or show anything.
        silent: bool,
    },
    /// An incident referred by another CAD (an EIDO, issue 21): the first event (seq 1) of an incident that has no
    /// device and no alert. Its `device_id` is the nil id and its `alert_id` the incident's own id.
    Referred {
        /// The referring agency (EIDO `updatedByAgencyReference`).
        from_agency: String,
        /// The referring CAD (EIDO `issuingElementIdentification`).
        from_element: String,
        /// The referrer's id of the incident (EIDO `$id`): the idempotency key of the import.
        external_id: String,
        /// The incident type as the referrer registered it, when given.
        incident_type: Option<String>,
        /// The 112 code the referral maps to.
        priority: Priority,
        /// The referred location, when it carried a point.
        fix: Option<LocationFix>,
        /// The referred street address on one line, when given.
        address: Option<String>,
    },
    /// Another alert (another device, or the same device's new alert id) clustered into this open incident because
    /// it came from close by within the surge window (see [`crate::surge`]): one more report of the same emergency.
    ReportAdded {
        /// The reporting device's idempotency key.
        alert_id: AlertId,
        /// The device that signed the alert.
        device_id: DeviceId,
        /// The device's subscriber, when registered.
        subscriber_id: Option<SubscriberId>,
        /// The 112 code given at intake; a more urgent code raises the incident's priority.
        priority: Priority,
        /// The location sent with the alert, if any.
        fix: Option<LocationFix>,
        /// Silent mode of this report.
        silent: bool,
    },
    /// A later location fix.
    LocationAdded {
        /// The fix.
        fix: LocationFix,
    },
    /// A dispatcher took the incident.
    Acknowledged,
    /// Ranked candidate units, with their explanation, at this moment.
    UnitRecommended {
        /// Best first.
        recommendations: Vec<Recommendation>,
    },
    /// A unit was assigned (or reassigned to another unit).
    Dispatched {
        /// The assigned unit.
        unit: UnitId,
    },
    /// The assigned unit reports it is on its way.
    EnRoute {
        /// Must be the assigned unit.
        unit: UnitId,
    },
    /// The assigned unit reports it is there.
    OnScene {
        /// Must be the assigned unit.
        unit: UnitId,
    },
    /// Free text from staff. Must not contain personal data beyond what the case needs.
    NoteAdded {
        /// The note.
        text: String,
    },
    /// The incident is finished.
    Closed {
        /// How it ended.
        outcome: Outcome,
    },
    /// The subscriber cancelled the alert with their PIN: closes the incident with [`Outcome::Cancelled`].
    Cancelled,
    /// The incident became more urgent: its priority is raised (never lowered) and it stays open.
    Escalated {
        /// The new priority; must be at least as urgent as the current one.
        priority: Priority,
        /// Why.
        reason: EscalationReason,
    },
    /// A dispatcher sent a silent question to the device that raised the incident (see [`crate::twoway`]).
    QuestionSent {
        /// Chosen by the server; the device answers by it.
        message_id: uuid::Uuid,
        /// Canned (id and arguments) or free text.
        question: Question,
        /// The taps the device offers.
        answer_kind: AnswerKind,
        /// Show it as written even under duress: the dispatcher's explicit, audited choice.
        #[serde(default)]
        reveal: bool,
    },
    /// The device tapped an answer to a question (the device and time are the event's actor and time).
    AnswerReceived {
        /// The question answered.
        message_id: uuid::Uuid,
        /// The tap.
        answer: Answer,
    },
}

impl EventKind {
    /// The stable snake_case name of the event, used in errors and audit actions.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::AlertReceived { .. } => "alert_received",
            EventKind::Referred { .. } => "referred",
            EventKind::ReportAdded { .. } => "report_added",
            EventKind::LocationAdded { .. } => "location_added",
            EventKind::Acknowledged => "acknowledged",
            EventKind::UnitRecommended { .. } => "unit_recommended",
            EventKind::Dispatched { .. } => "dispatched",
            EventKind::EnRoute { .. } => "en_route",
            EventKind::OnScene { .. } => "on_scene",
            EventKind::NoteAdded { .. } => "note_added",
            EventKind::Closed { .. } => "closed",
            EventKind::Cancelled => "cancelled",
            EventKind::Escalated { .. } => "escalated",
            EventKind::QuestionSent { .. } => "question_sent",
            EventKind::AnswerReceived { .. } => "answer_received",
        }
    }
}

/// One entry of an incident's log. `seq` starts at 1 and has no gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    /// Position in the incident's log, from 1.
    pub seq: u64,
    /// When it happened (server time at acceptance).
    pub at: Timestamp,
    /// Who caused it.
    pub actor: Actor,
    /// What happened.
    pub kind: EventKind,
}

/// Why an event cannot be applied. The message names the event and the state so a dispatcher understands it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// There are no events to replay.
    #[error("an incident needs at least its alert_received event")]
    Empty,
    /// The first event was not `alert_received`.
    #[error("an incident must start with alert_received or referred, not {event}")]
    NotStarted {
        /// The offending event.
        event: &'static str,
    },
    /// `alert_received` after the first event.
    #[error("alert_received and referred can only be the first event of an incident")]
    AlreadyReceived,
    /// The event's sequence number is not the next one.
    #[error("event seq {got} does not follow {expected_prev}; expected {}", expected_prev + 1)]
    OutOfSequence {
        /// The last applied seq.
        expected_prev: u64,
        /// The offending seq.
        got: u64,
    },
    /// Anything after closed.
    #[error("cannot apply {event}: the incident is closed")]
    Closed {
        /// The offending event.
        event: &'static str,
    },
    /// The event is not allowed in the current status.
    #[error("cannot apply {event} to an incident that is {from}")]
    Illegal {
        /// Current status.
        from: IncidentStatus,
        /// The offending event.
        event: &'static str,
    },
    /// A unit other than the assigned one reports progress.
    #[error("unit {got} is not the assigned unit {assigned}")]
    WrongUnit {
        /// The assigned unit.
        assigned: UnitId,
        /// The reporting unit.
        got: UnitId,
    },
    /// Dispatching the unit that is already assigned.
    #[error("unit {0} is already assigned to this incident")]
    AlreadyAssigned(UnitId),
    /// A question reuses a message id.
    #[error("message {0} was already sent")]
    DuplicateMessage(uuid::Uuid),
    /// An answer to a question this incident never asked.
    #[error("no question {0} in this incident")]
    UnknownMessage(uuid::Uuid),
    /// A second answer to one question.
    #[error("question {0} is already answered")]
    AlreadyAnswered(uuid::Uuid),
    /// An answer the question did not offer.
    #[error("the answer does not fit question {0}")]
    AnswerMismatch(uuid::Uuid),
}

/// The current state of an incident: a projection of its events, rebuildable at any time with [`Incident::replay`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The incident.
    pub id: IncidentId,
    /// The alert that opened it.
    pub alert_id: AlertId,
    /// The device that raised it.
    pub device_id: DeviceId,
    /// The subscriber, when registered.
    pub subscriber_id: Option<SubscriberId>,
    /// 112 code.
    pub priority: Priority,
    /// Silent mode.
    pub silent: bool,
    /// Current stage.
    pub status: IncidentStatus,
    /// When the alert was received.
    pub opened_at: Timestamp,
    /// When the last event happened.
    pub updated_at: Timestamp,
    /// When a dispatcher acknowledged it.
    pub acknowledged_at: Option<Timestamp>,
    /// The latest location fix (by measurement time).
    pub location: Option<LocationFix>,
    /// How many fixes were received in total.
    pub n_fixes: u32,
    /// How many alerts this incident gathers: the opening one plus every clustered report (surge).
    #[serde(default = "one")]
    pub report_count: u32,
    /// The latest recommendation, best first.
    pub recommendations: Vec<Recommendation>,
    /// The assigned unit, from dispatch on.
    pub assigned_unit: Option<UnitId>,
    /// When the assigned unit arrived.
    pub on_scene_at: Option<Timestamp>,
    /// How it ended, once closed.
    pub outcome: Option<Outcome>,
    /// When it was closed.
    pub closed_at: Option<Timestamp>,
    /// How many notes were added.
    pub n_notes: u32,
    /// The subscriber signalled duress (a duress PIN at cancel): the incident was escalated, never cancelled.
    /// Defaults to false so projections stored before this field existed still parse.
    #[serde(default)]
    pub duress: bool,
    /// Questions sent to the device, oldest first, with their answers (empty in projections stored before them).
    #[serde(default)]
    pub messages: Vec<DeviceMessage>,
    /// The seq of the last applied event: the version for optimistic concurrency.
    pub last_seq: u64,
}

impl Incident {
    /// Opens an incident from its first event, which must be `alert_received` with seq 1.
    pub fn start(id: IncidentId, first: &IncidentEvent) -> Result<Incident, TransitionError> {
        let (alert_id, device_id, subscriber_id, priority, fix, silent) = match &first.kind {
            EventKind::AlertReceived {
                alert_id,
                device_id,
                subscriber_id,
                priority,
                fix,
                silent,
            } => (
                *alert_id,
                *device_id,
                *subscriber_id,
                *priority,
                *fix,
                *silent,
            ),
            // A referral has no device: the nil device and the incident's own id keep the projection's columns
            // filled without matching any real device's alert.
            EventKind::Referred { priority, fix, .. } => (
                AlertId(id.0),
                DeviceId(uuid::Uuid::nil()),
                None,
                *priority,
                *fix,
                false,
            ),
            _ => {
                return Err(TransitionError::NotStarted {
                    event: first.kind.name(),
                });
            }
        };
        if first.seq != 1 {
            return Err(TransitionError::OutOfSequence {
                expected_prev: 0,
                got: first.seq,
            });
        }
        Ok(Incident {
            id,
            alert_id,
            device_id,
            subscriber_id,
            priority,
            silent,
            status: IncidentStatus::Received,
            opened_at: first.at,
            updated_at: first.at,
            acknowledged_at: None,
            location: fix,
            n_fixes: u32::from(fix.is_some()),
            report_count: 1,
            recommendations: Vec::new(),
            assigned_unit: None,
            on_scene_at: None,
            outcome: None,
            closed_at: None,
            n_notes: 0,
            duress: false,
            messages: Vec::new(),
            last_seq: 1,
        })
    }

    /// Folds all events of an incident, in order, into its current state.
    pub fn replay(id: IncidentId, events: &[IncidentEvent]) -> Result<Incident, TransitionError> {
        let (first, rest) = events.split_first().ok_or(TransitionError::Empty)?;
        let mut incident = Incident::start(id, first)?;
        for event in rest {
            incident.apply(event)?;
        }
        Ok(incident)
    }

    /// Checks whether `event` may follow the current state, without changing it.
    pub fn check(&self, event: &IncidentEvent) -> Result<(), TransitionError> {
        use IncidentStatus as S;
        let name = event.kind.name();
        if event.seq != self.last_seq + 1 {
            return Err(TransitionError::OutOfSequence {
                expected_prev: self.last_seq,
                got: event.seq,
            });
        }
        if self.status == S::Closed {
            return Err(TransitionError::Closed { event: name });
        }
        let illegal = || TransitionError::Illegal {
            from: self.status,
            event: name,
        };
        match &event.kind {
            EventKind::AlertReceived { .. } | EventKind::Referred { .. } => {
                Err(TransitionError::AlreadyReceived)
            }
            EventKind::LocationAdded { .. }
            | EventKind::ReportAdded { .. }
            | EventKind::UnitRecommended { .. }
            | EventKind::NoteAdded { .. }
            | EventKind::Closed { .. }
            | EventKind::Cancelled => Ok(()),
            EventKind::QuestionSent { message_id, .. } => {
                twoway::check_question(&self.messages, *message_id)
            }
            EventKind::AnswerReceived { message_id, answer } => {
                twoway::check_answer(&self.messages, *message_id, answer)
            }
            // Escalation only ever raises urgency (a lower code is more urgent): lowering is a staff decision
            // with its own audit trail, not something a device or a duress signal may do.
            EventKind::Escalated { priority, .. } => {
                if *priority <= self.priority {
                    Ok(())
                } else {
                    Err(illegal())
                }
            }
            EventKind::Acknowledged => match self.status {
                S::Received => Ok(()),
                _ => Err(illegal()),
            },
            EventKind::Dispatched { unit } => match self.status {
                S::Received => Err(illegal()),
                S::Acknowledged => Ok(()),
                // Reassignment to another unit before arrival (the first unit broke down, a nearer one freed up).
                S::Dispatched | S::EnRoute => match &self.assigned_unit {
                    Some(assigned) if assigned == unit => {
                        Err(TransitionError::AlreadyAssigned(unit.clone()))
                    }
                    _ => Ok(()),
                },
                S::OnScene | S::Closed => Err(illegal()),
            },
            EventKind::EnRoute { unit } => match self.status {
                S::Dispatched => self.check_unit(unit),
                _ => Err(illegal()),
            },
            EventKind::OnScene { unit } => match self.status {
                S::Dispatched | S::EnRoute => self.check_unit(unit),
                _ => Err(illegal()),
            },
        }
    }

    fn check_unit(&self, unit: &UnitId) -> Result<(), TransitionError> {
        match &self.assigned_unit {
            Some(assigned) if assigned == unit => Ok(()),
            Some(assigned) => Err(TransitionError::WrongUnit {
                assigned: assigned.clone(),
                got: unit.clone(),
            }),
            None => Err(TransitionError::Illegal {
                from: self.status,
                event: "unit_report",
            }),
        }
    }

    /// Applies one event, or refuses it and leaves the incident unchanged.
    pub fn apply(&mut self, event: &IncidentEvent) -> Result<(), TransitionError> {
        self.check(event)?;
        match &event.kind {
            // `check` refuses it; kept explicit so a new variant forces a decision here.
            EventKind::AlertReceived { .. } | EventKind::Referred { .. } => {
                return Err(TransitionError::AlreadyReceived);
            }
            EventKind::ReportAdded { priority, fix, .. } => {
                self.report_count = self.report_count.saturating_add(1);
                self.priority = self.priority.min(*priority);
                if let Some(fix) = fix {
                    self.n_fixes = self.n_fixes.saturating_add(1);
                    // Many phones report the same place: keep the most precise fix, the most recent among equals.
                    if self
                        .location
                        .is_none_or(|current| better_fix(fix, &current))
                    {
                        self.location = Some(*fix);
                    }
                }
            }
            EventKind::LocationAdded { fix } => {
                self.n_fixes = self.n_fixes.saturating_add(1);
                // Fixes can arrive out of order (SMS is slow); keep the most recently measured one.
                if self.location.is_none_or(|current| fix.at >= current.at) {
                    self.location = Some(*fix);
                }
            }
            EventKind::Acknowledged => {
                self.status = IncidentStatus::Acknowledged;
                self.acknowledged_at = Some(event.at);
            }
            EventKind::UnitRecommended { recommendations } => {
                self.recommendations = recommendations.clone();
            }
            EventKind::Dispatched { unit } => {
                self.status = IncidentStatus::Dispatched;
                self.assigned_unit = Some(unit.clone());
            }
            EventKind::EnRoute { .. } => self.status = IncidentStatus::EnRoute,
            EventKind::OnScene { .. } => {
                self.status = IncidentStatus::OnScene;
                self.on_scene_at = Some(event.at);
            }
            EventKind::NoteAdded { .. } => self.n_notes = self.n_notes.saturating_add(1),
            EventKind::Closed { outcome } => {
                self.status = IncidentStatus::Closed;
                self.outcome = Some(*outcome);
                self.closed_at = Some(event.at);
            }
            EventKind::Cancelled => {
                self.status = IncidentStatus::Closed;
                self.outcome = Some(Outcome::Cancelled);
                self.closed_at = Some(event.at);
            }
            EventKind::Escalated { priority, reason } => {
                self.priority = *priority;
                match reason {
                    EscalationReason::Duress => self.duress = true,
                }
            }
            EventKind::QuestionSent {
                message_id,
                question,
                answer_kind,
                reveal,
            } => self.messages.push(DeviceMessage {
                message_id: *message_id,
                seq: event.seq,
                sent_at: event.at,
                question: question.clone(),
                answer_kind: answer_kind.clone(),
                reveal: *reveal,
                answer: None,
                answered_at: None,
            }),
            EventKind::AnswerReceived { message_id, answer } => {
                if let Some(m) = self
                    .messages
                    .iter_mut()
                    .find(|m| m.message_id == *message_id)
                {
                    m.answer = Some(answer.clone());
                    m.answered_at = Some(event.at);
                }
            }
        }
        self.last_seq = event.seq;
        self.updated_at = self.updated_at.max(event.at);
        Ok(())
    }
}

fn one() -> u32 {
    1
}

/// Whether `candidate` is a better location for a clustered incident than `current`: a smaller accuracy radius, or
/// the same radius measured later.
pub fn better_fix(candidate: &LocationFix, current: &LocationFix) -> bool {
    match candidate.accuracy_m.total_cmp(&current.accuracy_m) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => candidate.at > current.at,
        std::cmp::Ordering::Greater => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_ms(ms)
    }

    fn event(seq: u64, kind: EventKind) -> IncidentEvent {
        IncidentEvent {
            seq,
            at: at(seq as i64 * 1000),
            actor: Actor::Staff("kim".into()),
            kind,
        }
    }

    fn received() -> IncidentEvent {
        event(
            1,
            EventKind::AlertReceived {
                alert_id: AlertId::new_v4(),
                device_id: DeviceId::new_v4(),
                subscriber_id: None,
                priority: Priority::MOST_URGENT,
                fix: None,
                silent: true,
            },
        )
    }

    fn p101() -> UnitId {
        UnitId::new("P-101")
    }

    #[test]
    fn full_lifecycle() {
        let events = vec![
            received(),
            event(2, EventKind::Acknowledged),
            event(3, EventKind::Dispatched { unit: p101() }),
            event(4, EventKind::EnRoute { unit: p101() }),
            event(5, EventKind::OnScene { unit: p101() }),
            event(
                6,
                EventKind::Closed {
                    outcome: Outcome::Rescue,
                },
            ),
        ];
        let incident = Incident::replay(IncidentId::new_v4(), &events).unwrap();
        assert_eq!(incident.status, IncidentStatus::Closed);
        assert_eq!(incident.outcome, Some(Outcome::Rescue));
        assert_eq!(incident.assigned_unit, Some(p101()));
        assert_eq!(incident.last_seq, 6);
        assert_eq!(incident.on_scene_at, Some(at(5000)));
    }

    #[test]
    fn illegal_transitions_are_refused_with_a_clear_message() {
        let mut incident = Incident::start(IncidentId::new_v4(), &received()).unwrap();
        let err = incident
            .apply(&event(2, EventKind::OnScene { unit: p101() }))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot apply on_scene to an incident that is received"
        );
        let err = incident
            .apply(&event(2, EventKind::Dispatched { unit: p101() }))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot apply dispatched to an incident that is received"
        );
        incident
            .apply(&event(
                2,
                EventKind::Closed {
                    outcome: Outcome::FalseAlarm,
                },
            ))
            .unwrap();
        let before = incident.clone();
        let err = incident
            .apply(&event(3, EventKind::Dispatched { unit: p101() }))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot apply dispatched: the incident is closed"
        );
        assert_eq!(incident, before);
    }

    #[test]
    fn sequence_must_not_skip() {
        let mut incident = Incident::start(IncidentId::new_v4(), &received()).unwrap();
        let err = incident
            .apply(&event(3, EventKind::Acknowledged))
            .unwrap_err();
        assert_eq!(
            err,
            TransitionError::OutOfSequence {
                expected_prev: 1,
                got: 3
            }
        );
    }

    #[test]
    fn only_the_assigned_unit_reports_progress() {
        let events = [
            received(),
            event(2, EventKind::Acknowledged),
            event(3, EventKind::Dispatched { unit: p101() }),
        ];
        let mut incident = Incident::replay(IncidentId::new_v4(), &events).unwrap();
        let err = incident
            .apply(&event(
                4,
                EventKind::EnRoute {
                    unit: UnitId::new("P-202"),
                },
            ))
            .unwrap_err();
        assert!(matches!(err, TransitionError::WrongUnit { .. }));
        let err = incident
            .apply(&event(4, EventKind::Dispatched { unit: p101() }))
            .unwrap_err();
        assert_eq!(err, TransitionError::AlreadyAssigned(p101()));
        incident
            .apply(&event(
                4,
                EventKind::Dispatched {
                    unit: UnitId::new("P-202"),
                },
            ))
            .unwrap();
        assert_eq!(incident.assigned_unit, Some(UnitId::new("P-202")));
    }

    #[test]
    fn first_event_must_be_the_alert() {
        let err = Incident::replay(IncidentId::new_v4(), &[event(1, EventKind::Acknowledged)])
            .unwrap_err();
        assert_eq!(
            err,
            TransitionError::NotStarted {
                event: "acknowledged"
            }
        );
        assert_eq!(
            Incident::replay(IncidentId::new_v4(), &[]).unwrap_err(),
            TransitionError::Empty
        );
    }

    #[test]
    fn a_referral_opens_an_incident_without_a_device_and_only_first() {
        let id = IncidentId::new_v4();
        let referred = EventKind::Referred {
            from_agency: "busan.police.example".into(),
            from_element: "cad.busan".into(),
            external_id: "urn:emergency:uid:incidentid:1:busan".into(),
            incident_type: Some("Police".into()),
            priority: Priority::new(1).unwrap(),
            fix: Some(fix(5)),
            address: None,
        };
        let incident = Incident::replay(id, &[event(1, referred.clone())]).unwrap();
        assert_eq!(incident.device_id, DeviceId(uuid::Uuid::nil()));
        assert_eq!(incident.alert_id, AlertId(id.0));
        assert_eq!(incident.priority.code(), 1);
        assert_eq!(incident.location, Some(fix(5)));
        assert_eq!(incident.status, IncidentStatus::Received);
        assert_eq!(
            Incident::replay(id, &[received(), event(2, referred)]).unwrap_err(),
            TransitionError::AlreadyReceived
        );
    }

    fn at_priority(code: u8) -> Incident {
        let mut first = received();
        if let EventKind::AlertReceived { priority, .. } = &mut first.kind {
            *priority = Priority::new(code).unwrap();
        }
        Incident::start(IncidentId::new_v4(), &first).unwrap()
    }

    #[test]
    fn cancel_closes_with_the_cancelled_outcome_and_is_terminal() {
        let mut incident = at_priority(2);
        incident
            .apply(&event(2, EventKind::LocationAdded { fix: fix(2000) }))
            .unwrap();
        incident.apply(&event(3, EventKind::Cancelled)).unwrap();
        assert_eq!(incident.status, IncidentStatus::Closed);
        assert_eq!(incident.outcome, Some(Outcome::Cancelled));
        assert_eq!(incident.closed_at, Some(at(3000)));
        assert!(!incident.duress);
        let before = incident.clone();
        for kind in [
            EventKind::LocationAdded { fix: fix(4000) },
            EventKind::Cancelled,
            EventKind::Escalated {
                priority: Priority::MOST_URGENT,
                reason: EscalationReason::Duress,
            },
        ] {
            let name = kind.name();
            let err = incident.apply(&event(4, kind)).unwrap_err();
            assert_eq!(err, TransitionError::Closed { event: name });
            assert_eq!(incident, before);
        }
    }

    #[test]
    fn duress_escalates_to_code_0_and_keeps_the_incident_open() {
        let mut incident = at_priority(3);
        incident.apply(&event(2, EventKind::Acknowledged)).unwrap();
        incident
            .apply(&event(
                3,
                EventKind::Escalated {
                    priority: Priority::MOST_URGENT,
                    reason: EscalationReason::Duress,
                },
            ))
            .unwrap();
        assert_eq!(incident.priority, Priority::MOST_URGENT);
        assert!(incident.duress);
        assert_eq!(incident.status, IncidentStatus::Acknowledged);
        assert_eq!(incident.outcome, None);
        // Still open: later fixes and a second duress signal are accepted.
        incident
            .apply(&event(4, EventKind::LocationAdded { fix: fix(4000) }))
            .unwrap();
        incident
            .apply(&event(
                5,
                EventKind::Escalated {
                    priority: Priority::MOST_URGENT,
                    reason: EscalationReason::Duress,
                },
            ))
            .unwrap();
        assert_eq!(incident.n_fixes, 1);
    }

    #[test]
    fn escalation_never_lowers_priority() {
        let mut incident = at_priority(1);
        let before = incident.clone();
        let err = incident
            .apply(&event(
                2,
                EventKind::Escalated {
                    priority: Priority::new(3).unwrap(),
                    reason: EscalationReason::Duress,
                },
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot apply escalated to an incident that is received"
        );
        assert_eq!(incident, before);
    }

    #[test]
    fn projections_stored_before_the_duress_flag_still_parse() {
        let incident = at_priority(1);
        let mut json = serde_json::to_value(&incident).unwrap();
        json.as_object_mut().unwrap().remove("duress");
        let back: Incident = serde_json::from_value(json).unwrap();
        assert_eq!(back, incident);
    }

    fn fix(ms: i64) -> LocationFix {
        LocationFix::new(
            crate::Coordinates::new(37.5665, 126.978).unwrap(),
            10.0,
            crate::FixMethod::Gnss,
            at(ms),
        )
        .unwrap()
    }

    #[test]
    fn reports_count_raise_priority_and_keep_the_most_precise_fix() {
        let c = crate::Coordinates::new(37.5, 127.0).unwrap();
        let fix =
            |acc: f64, ms: i64| LocationFix::new(c, acc, crate::FixMethod::Gnss, at(ms)).unwrap();
        let report = |seq: u64, code: u8, f: Option<LocationFix>| {
            event(
                seq,
                EventKind::ReportAdded {
                    alert_id: AlertId::new_v4(),
                    device_id: DeviceId::new_v4(),
                    subscriber_id: None,
                    priority: Priority::new(code).unwrap(),
                    fix: f,
                    silent: true,
                },
            )
        };
        let mut first = received();
        if let EventKind::AlertReceived {
            priority, fix: f, ..
        } = &mut first.kind
        {
            *priority = Priority::new(3).unwrap();
            *f = Some(fix(20.0, 0));
        }
        let mut incident = Incident::start(IncidentId::new_v4(), &first).unwrap();
        incident.apply(&report(2, 4, Some(fix(50.0, 9)))).unwrap();
        assert_eq!(
            incident.location,
            Some(fix(20.0, 0)),
            "a vaguer fix does not replace"
        );
        incident.apply(&report(3, 1, Some(fix(5.0, 1)))).unwrap();
        assert_eq!(incident.location, Some(fix(5.0, 1)));
        incident.apply(&report(4, 2, None)).unwrap();
        incident.apply(&report(5, 2, Some(fix(5.0, 7)))).unwrap();
        assert_eq!(
            incident.location,
            Some(fix(5.0, 7)),
            "equal precision: the later one"
        );
        assert_eq!(incident.report_count, 5);
        assert_eq!(incident.n_fixes, 4);
        assert_eq!(incident.priority, Priority::new(1).unwrap());
        incident
            .apply(&event(
                6,
                EventKind::Closed {
                    outcome: Outcome::Rescue,
                },
            ))
            .unwrap();
        assert!(
            incident.apply(&report(7, 0, None)).is_err(),
            "a closed incident takes no report"
        );
    }

    #[test]
    fn a_question_is_answered_once_with_a_tap_it_offered() {
        let id = uuid::Uuid::from_u128(7);
        let mut incident = at_priority(1);
        let ask = EventKind::QuestionSent {
            message_id: id,
            question: Question::Canned {
                id: "attacker-present".into(),
                args: Default::default(),
            },
            answer_kind: AnswerKind::YesNo,
            reveal: false,
        };
        incident.apply(&event(2, ask.clone())).unwrap();
        assert_eq!(
            incident.apply(&event(3, ask)).unwrap_err(),
            TransitionError::DuplicateMessage(id)
        );
        let before = incident.clone();
        let wrong = EventKind::AnswerReceived {
            message_id: id,
            answer: Answer::Number(2),
        };
        assert_eq!(
            incident.apply(&event(3, wrong)).unwrap_err(),
            TransitionError::AnswerMismatch(id)
        );
        let other = uuid::Uuid::from_u128(8);
        assert_eq!(
            incident
                .apply(&event(
                    3,
                    EventKind::AnswerReceived {
                        message_id: other,
                        answer: Answer::YesNo(true),
                    }
                ))
                .unwrap_err(),
            TransitionError::UnknownMessage(other)
        );
        assert_eq!(incident, before);
        let yes = EventKind::AnswerReceived {
            message_id: id,
            answer: Answer::YesNo(true),
        };
        incident.apply(&event(3, yes.clone())).unwrap();
        assert_eq!(incident.messages[0].answer, Some(Answer::YesNo(true)));
        assert_eq!(incident.messages[0].answered_at, Some(at(3000)));
        assert_eq!(
            incident.apply(&event(4, yes)).unwrap_err(),
            TransitionError::AlreadyAnswered(id)
        );
        // Under duress the device shows it discreetly, unless the dispatcher revealed it.
        assert!(incident.messages[0].discreet(true));
        assert!(!incident.messages[0].discreet(false));
    }

    #[test]
    fn priority_is_checked() {
        assert!(Priority::new(4).is_ok());
        assert_eq!(Priority::new(5), Err(PriorityError(5)));
        assert!(serde_json::from_str::<Priority>("7").is_err());
    }

    #[test]
    fn events_round_trip_through_json() {
        let e = received();
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""type":"alert_received""#), "{json}");
        let back: IncidentEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
    }
}
