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
mod tests;
