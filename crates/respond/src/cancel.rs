//! The cancel decision of the 112 app: given which of the subscriber's PIN hashes a PIN matched, whether the
//! incident is already under duress and whether PINs are locked, what the cancel does.
//!
//! A duress PIN must not be told apart from a genuine cancel by whoever holds the phone, so it answers exactly like
//! one (or like a lockout, while PINs are locked) but escalates the incident to code 0 and keeps it open. After a
//! duress signal only staff may close the incident: a later genuine PIN may be coerced as well, so it escalates
//! again. The caller does the I/O: it verifies the PIN against both hashes (always both, in constant time), then
//! records what [`decide_cancel`] says.
//!
//! ```
//! use jikimi_respond::{CancelDecision, PinMatch, decide_cancel};
//! assert_eq!(decide_cancel(PinMatch::Genuine, false, false), CancelDecision::Cancel);
//! assert_eq!(
//!     decide_cancel(PinMatch::Duress, false, false),
//!     CancelDecision::EscalateSilently { answer_locked: false }
//! );
//! ```

use crate::incident::{EscalationReason, EventKind, Priority};

/// Which of the subscriber's PIN hashes a PIN matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinMatch {
    /// The cancel PIN.
    Genuine,
    /// The duress PIN.
    Duress,
    /// Neither.
    Wrong,
}

/// What a cancel with a PIN does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelDecision {
    /// Cancel the incident and answer "cancelled".
    Cancel,
    /// Escalate the incident to code 0 for duress, keep it open, and answer exactly as for a cancel, or, while PINs
    /// are locked (`answer_locked`), exactly as for any PIN under lockout: the answer says nothing either way.
    EscalateSilently {
        /// Answer like a lockout.
        answer_locked: bool,
    },
    /// A wrong PIN: count it against the subscriber's PINs (which may lock them) and refuse it.
    CountWrongPin,
    /// PINs are locked: refuse as locked and record nothing.
    RefuseLocked,
}

impl CancelDecision {
    /// The event to append, if any.
    pub fn event(self) -> Option<EventKind> {
        match self {
            CancelDecision::Cancel => Some(EventKind::Cancelled),
            CancelDecision::EscalateSilently { .. } => Some(EventKind::Escalated {
                priority: Priority::MOST_URGENT,
                reason: EscalationReason::Duress,
            }),
            CancelDecision::CountWrongPin | CancelDecision::RefuseLocked => None,
        }
    }

    /// Whether the appended event counts as a PIN accepted (which resets the wrong-PIN counter): not while PINs are
    /// locked.
    pub fn pin_accepted(self) -> bool {
        matches!(
            self,
            CancelDecision::Cancel
                | CancelDecision::EscalateSilently {
                    answer_locked: false
                }
        )
    }
}

/// Decides a cancel: `matched` is what the PIN matched, `under_duress` whether the incident was escalated for duress
/// already, `pins_locked` whether too many wrong PINs lock them now.
pub fn decide_cancel(matched: PinMatch, under_duress: bool, pins_locked: bool) -> CancelDecision {
    match matched {
        PinMatch::Wrong if pins_locked => CancelDecision::RefuseLocked,
        PinMatch::Wrong => CancelDecision::CountWrongPin,
        // Under lockout a duress PIN still escalates (the person may be in danger).
        PinMatch::Duress => CancelDecision::EscalateSilently {
            answer_locked: pins_locked,
        },
        PinMatch::Genuine if under_duress => CancelDecision::EscalateSilently {
            answer_locked: pins_locked,
        },
        PinMatch::Genuine if pins_locked => CancelDecision::RefuseLocked,
        PinMatch::Genuine => CancelDecision::Cancel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CancelDecision::*;
    use PinMatch::*;

    /// Every case: (matched, under duress, locked) → decision.
    #[test]
    fn every_cancel_decision() {
        let cases = [
            ((Genuine, false, false), Cancel),
            ((Genuine, false, true), RefuseLocked),
            (
                (Genuine, true, false),
                EscalateSilently {
                    answer_locked: false,
                },
            ),
            (
                (Genuine, true, true),
                EscalateSilently {
                    answer_locked: true,
                },
            ),
            (
                (Duress, false, false),
                EscalateSilently {
                    answer_locked: false,
                },
            ),
            (
                (Duress, false, true),
                EscalateSilently {
                    answer_locked: true,
                },
            ),
            (
                (Duress, true, false),
                EscalateSilently {
                    answer_locked: false,
                },
            ),
            ((Wrong, false, false), CountWrongPin),
            ((Wrong, true, false), CountWrongPin),
            ((Wrong, false, true), RefuseLocked),
            ((Wrong, true, true), RefuseLocked),
        ];
        for ((matched, duress, locked), expected) in cases {
            assert_eq!(
                decide_cancel(matched, duress, locked),
                expected,
                "{matched:?} duress={duress} locked={locked}"
            );
        }
    }

    #[test]
    fn a_duress_pin_never_cancels() {
        for duress in [false, true] {
            for locked in [false, true] {
                let decision = decide_cancel(Duress, duress, locked);
                assert_ne!(decision.event(), Some(EventKind::Cancelled));
                assert!(matches!(
                    decision.event(),
                    Some(EventKind::Escalated {
                        reason: EscalationReason::Duress,
                        ..
                    })
                ));
            }
        }
    }

    #[test]
    fn nothing_is_accepted_or_recorded_under_lockout_but_duress() {
        assert!(!decide_cancel(Genuine, false, true).pin_accepted());
        assert_eq!(decide_cancel(Genuine, false, true).event(), None);
        assert!(!decide_cancel(Duress, false, true).pin_accepted());
        assert!(decide_cancel(Duress, false, true).event().is_some());
        assert!(decide_cancel(Genuine, false, false).pin_accepted());
        assert!(decide_cancel(Duress, false, false).pin_accepted());
    }
}
