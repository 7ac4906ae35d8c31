//! The incident fold's unit tests: transitions, duress, surge reports, silent questions and referrals.

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
    let err =
        Incident::replay(IncidentId::new_v4(), &[event(1, EventKind::Acknowledged)]).unwrap_err();
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
    let fix = |acc: f64, ms: i64| LocationFix::new(c, acc, crate::FixMethod::Gnss, at(ms)).unwrap();
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
