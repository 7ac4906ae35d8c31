//! Properties of the incident fold, over arbitrary event sequences:
//! closed is terminal; replaying the accepted events equals applying them one by one; refused events change
//! nothing; priority only rises (escalation); and no sequence reaches a state that breaks the lifecycle's invariants.

use jikimi_respond::{
    Actor, AlertId, Coordinates, DeviceId, EscalationReason, EventKind, FixMethod, Incident,
    IncidentEvent, IncidentId, IncidentStatus, LocationFix, Outcome, Priority, Recommendation,
    Timestamp, UnitId,
};
use proptest::prelude::*;

fn unit() -> impl Strategy<Value = UnitId> {
    prop_oneof![Just(UnitId::new("P-1")), Just(UnitId::new("P-2"))]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Arrest),
        Just(Outcome::Rescue),
        Just(Outcome::Assistance),
        Just(Outcome::FalseAlarm),
        Just(Outcome::Abuse),
        Just(Outcome::Cancelled),
    ]
}

fn fix() -> impl Strategy<Value = LocationFix> {
    (
        33.0f64..39.0,
        124.0f64..132.0,
        0.0f64..5_000.0,
        0i64..1_000_000,
    )
        .prop_map(|(lat, lon, acc, at)| {
            LocationFix::new(
                Coordinates::new(lat, lon).unwrap(),
                acc,
                FixMethod::Cell,
                Timestamp::from_unix_ms(at),
            )
            .unwrap()
        })
}

fn kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        fix().prop_map(|fix| EventKind::LocationAdded { fix }),
        (proptest::option::of(fix()), 0u8..5).prop_map(|(fix, code)| EventKind::ReportAdded {
            alert_id: AlertId::new_v4(),
            device_id: DeviceId::new_v4(),
            subscriber_id: None,
            priority: Priority::new(code).unwrap(),
            fix,
            silent: true,
        }),
        Just(EventKind::Acknowledged),
        unit().prop_map(|unit| EventKind::UnitRecommended {
            recommendations: vec![Recommendation {
                unit,
                eta_s: 60.0,
                distance_m: 500.0,
                snap_m: None,
                method: "straight_line".into(),
            }],
        }),
        unit().prop_map(|unit| EventKind::Dispatched { unit }),
        unit().prop_map(|unit| EventKind::EnRoute { unit }),
        unit().prop_map(|unit| EventKind::OnScene { unit }),
        "[a-z ]{0,8}".prop_map(|text| EventKind::NoteAdded { text }),
        outcome().prop_map(|outcome| EventKind::Closed { outcome }),
        Just(EventKind::Cancelled),
        (0u8..=4).prop_map(|code| EventKind::Escalated {
            priority: Priority::new(code).unwrap(),
            reason: EscalationReason::Duress,
        }),
        Just(EventKind::AlertReceived {
            alert_id: AlertId(uuid::Uuid::nil()),
            device_id: DeviceId(uuid::Uuid::nil()),
            subscriber_id: None,
            priority: Priority::MOST_URGENT,
            fix: None,
            silent: false,
        }),
    ]
}

/// A step: an event kind, and whether to give it a wrong sequence number.
fn steps() -> impl Strategy<Value = Vec<(EventKind, bool)>> {
    proptest::collection::vec((kind(), proptest::bool::weighted(0.1)), 0..40)
}

fn opening() -> IncidentEvent {
    IncidentEvent {
        seq: 1,
        at: Timestamp::from_unix_ms(0),
        actor: Actor::System,
        kind: EventKind::AlertReceived {
            alert_id: AlertId::new_v4(),
            device_id: DeviceId::new_v4(),
            subscriber_id: None,
            priority: Priority::new(2).unwrap(),
            fix: None,
            silent: true,
        },
    }
}

/// The lifecycle's invariants, checked after every accepted event.
fn check_invariants(incident: &Incident, n_accepted: u64) -> Result<(), TestCaseError> {
    use IncidentStatus as S;
    prop_assert_eq!(incident.last_seq, n_accepted);
    if matches!(incident.status, S::Dispatched | S::EnRoute | S::OnScene) {
        prop_assert!(
            incident.assigned_unit.is_some(),
            "a unit is assigned from dispatch on"
        );
        prop_assert!(
            incident.acknowledged_at.is_some(),
            "dispatch needs acknowledgement"
        );
    }
    if incident.status == S::OnScene {
        prop_assert!(incident.on_scene_at.is_some());
    }
    let closed = incident.status == S::Closed;
    prop_assert_eq!(closed, incident.outcome.is_some());
    prop_assert_eq!(closed, incident.closed_at.is_some());
    if incident.status > S::Received && !closed {
        prop_assert!(incident.acknowledged_at.is_some());
    }
    prop_assert!(incident.updated_at >= incident.opened_at);
    prop_assert!(incident.report_count >= 1);
    prop_assert!(incident.n_fixes >= u32::from(incident.location.is_some()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_fold_keeps_its_invariants(steps in steps()) {
        let id = IncidentId::new_v4();
        let first = opening();
        let mut incident = Incident::start(id, &first).unwrap();
        let mut accepted = vec![first];
        let mut was_closed = false;
        for (i, (kind, wrong_seq)) in steps.into_iter().enumerate() {
            let seq = if wrong_seq { incident.last_seq + 2 } else { incident.last_seq + 1 };
            let event = IncidentEvent {
                seq,
                at: Timestamp::from_unix_ms(1_000 * (i as i64 + 1)),
                actor: Actor::Staff("kim".into()),
                kind,
            };
            let before = incident.clone();
            match incident.apply(&event) {
                Ok(()) => {
                    prop_assert!(!was_closed, "an event was accepted after close: {:?}", event.kind);
                    prop_assert!(!wrong_seq, "a gap in seq was accepted");
                    prop_assert!(
                        before.status <= incident.status || before.status == IncidentStatus::EnRoute
                            && incident.status == IncidentStatus::Dispatched,
                        "status went back from {} to {} (only reassignment may)", before.status, incident.status
                    );
                    prop_assert!(incident.priority <= before.priority, "priority was lowered");
                    prop_assert!(incident.duress || !before.duress, "duress was forgotten");
                    accepted.push(event);
                    check_invariants(&incident, accepted.len() as u64)?;
                }
                Err(_) => prop_assert_eq!(&incident, &before, "a refused event changed the state"),
            }
            was_closed = incident.status == IncidentStatus::Closed;
        }
        // Replaying the accepted events gives the incrementally built state.
        prop_assert_eq!(Incident::replay(id, &accepted).unwrap(), incident.clone());
        // Replaying every prefix agrees with the invariants too.
        for n in 1..=accepted.len() {
            let prefix = Incident::replay(id, &accepted[..n]).unwrap();
            check_invariants(&prefix, n as u64)?;
        }
        // Closed is terminal: nothing applies afterwards.
        if incident.status == IncidentStatus::Closed {
            let late = IncidentEvent {
                seq: incident.last_seq + 1,
                at: Timestamp::from_unix_ms(i64::MAX / 2),
                actor: Actor::System,
                kind: EventKind::NoteAdded { text: "late".into() },
            };
            prop_assert!(incident.clone().apply(&late).is_err());
        }
    }

    #[test]
    fn events_survive_json(steps in steps()) {
        for (kind, _) in steps {
            let event = IncidentEvent { seq: 2, at: Timestamp::from_unix_ms(5), actor: Actor::System, kind };
            let json = serde_json::to_string(&event).unwrap();
            let back: IncidentEvent = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, event);
        }
    }
}
