//! The incident log: transitions, optimistic concurrency, projection rebuild, listing order.

use super::{TestStore, accept_one, alert, staff_change, t};
use crate::{Conflict, Entity, Error, IncidentFilter, IncidentOrder};
use jikimi_respond::{
    DeviceId, EscalationReason, EventKind, FixMethod, Incident, IncidentId, IncidentStatus,
    LocationFix, Outcome, Priority, TransitionError, UnitId,
};

/// An illegal transition is refused with the fold's error; nothing is written.
pub(crate) async fn illegal_transition_is_refused<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let id = accept_one(&store, alert(DeviceId::new_v4(), 0)).await;
    let unit = UnitId::new("P-101");
    let err = store
        .append_event(
            id,
            1,
            EventKind::OnScene { unit: unit.clone() },
            &staff_change("kim", 10, "arrived"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::IllegalTransition(TransitionError::Illegal {
                from: IncidentStatus::Received,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "illegal transition: cannot apply on_scene to an incident that is received"
    );
    store
        .append_event(
            id,
            1,
            EventKind::Closed {
                outcome: Outcome::FalseAlarm,
            },
            &staff_change("kim", 20, "x"),
        )
        .await
        .unwrap();
    let err = store
        .append_event(
            id,
            2,
            EventKind::Dispatched { unit },
            &staff_change("kim", 30, "too late"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::IllegalTransition(TransitionError::Closed { .. })
        ),
        "{err}"
    );
    assert_eq!(store.load_events(id).await.unwrap().len(), 2);
    let incident = store.get_incident(id).await.unwrap();
    assert_eq!(incident.status, IncidentStatus::Closed);
    assert_eq!(incident.last_seq, 2);
    // Two audit entries: the alert and the close; refusals change nothing.
    assert_eq!(store.list_audit(0, 100).await.unwrap().len(), 2);
}

/// Appending on a stale version is a conflict naming both seqs.
pub(crate) async fn stale_sequence_is_refused<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let id = accept_one(&store, alert(DeviceId::new_v4(), 0)).await;
    store
        .append_event(
            id,
            1,
            EventKind::Acknowledged,
            &staff_change("kim", 10, "mine"),
        )
        .await
        .unwrap();
    let err = store
        .append_event(
            id,
            1,
            EventKind::NoteAdded {
                text: "late".into(),
            },
            &staff_change("lee", 11, "note"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Conflict(Conflict::StaleSequence {
                expected: 1,
                actual: 2
            })
        ),
        "{err}"
    );
}

/// Unknown incidents are `NotFound` for every read and write.
pub(crate) async fn unknown_incident_is_not_found<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let id = IncidentId::new_v4();
    assert!(store.get_incident(id).await.unwrap_err().is_not_found());
    assert!(store.load_events(id).await.unwrap_err().is_not_found());
    let err = store
        .append_event(id, 1, EventKind::Acknowledged, &staff_change("kim", 0, "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                entity: Entity::Incident,
                ..
            }
        ),
        "{err}"
    );
}

/// A stored row that does not decode is `Corrupt` (a server fault), never `Invalid` (the caller's fault); the
/// message names what is damaged, not the stored value.
pub(crate) async fn corrupt_stored_rows_are_corrupt_not_invalid<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let id = accept_one(&store, alert(DeviceId::new_v4(), 0)).await;
    let n = store
        .raw_update(
            "UPDATE incidents SET state = '{\"secret\": \"kim\"' WHERE id = $1",
            &id.0.to_string(),
        )
        .await;
    assert_eq!(n, 1);
    let err = store.get_incident(id).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
    assert!(!err.to_string().contains("kim"), "{err}");
    let listed = store.list_incidents(&IncidentFilter::default()).await;
    assert!(matches!(listed, Err(Error::Corrupt(_))), "{listed:?}");

    store
        .put_unit(
            &jikimi_respond::Unit {
                id: UnitId::new("P-7"),
                status: jikimi_respond::UnitStatus::Available,
                position: None,
                reported_at: None,
                unit_type: jikimi_respond::UnitType::Police,
                capabilities: Default::default(),
            },
            &staff_change("kim", 1, "unit"),
        )
        .await
        .expect("unit stored");
    let n = store
        .raw_update(
            "UPDATE units SET status = 'teleported' WHERE id = $1",
            "P-7",
        )
        .await;
    assert_eq!(n, 1);
    let err = store.get_unit(&UnitId::new("P-7")).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
}

/// After a mix of events, folding the log gives the stored projection, and a full rebuild changes nothing.
pub(crate) async fn projection_rebuilt_from_events_equals_stored_state<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(accept_one(&store, alert(device, i * 100)).await);
    }
    let unit = UnitId::new("P-7");
    let steps: Vec<Vec<EventKind>> = vec![
        vec![],
        vec![EventKind::Acknowledged],
        vec![
            EventKind::Acknowledged,
            EventKind::Dispatched { unit: unit.clone() },
        ],
        vec![
            EventKind::LocationAdded {
                fix: LocationFix::new(super::seoul(), 5.0, FixMethod::Wifi, t(50)).unwrap(),
            },
            EventKind::Acknowledged,
            EventKind::Dispatched { unit: unit.clone() },
            EventKind::EnRoute { unit: unit.clone() },
            EventKind::OnScene { unit: unit.clone() },
        ],
        vec![
            EventKind::NoteAdded {
                text: "caller silent".into(),
            },
            EventKind::Closed {
                outcome: Outcome::Abuse,
            },
        ],
        vec![
            EventKind::Acknowledged,
            EventKind::Dispatched { unit: unit.clone() },
            EventKind::Dispatched {
                unit: UnitId::new("P-8"),
            },
            EventKind::OnScene {
                unit: UnitId::new("P-8"),
            },
            EventKind::Closed {
                outcome: Outcome::Arrest,
            },
        ],
    ];
    for (id, kinds) in ids.iter().zip(steps) {
        for (k, kind) in kinds.into_iter().enumerate() {
            let seq = k as u64 + 1;
            store
                .append_event(
                    *id,
                    seq,
                    kind,
                    &staff_change("kim", 1_000 + k as i64, "step"),
                )
                .await
                .unwrap();
        }
    }
    let filter = IncidentFilter {
        limit: 100,
        ..IncidentFilter::default()
    };
    let before = store.list_incidents(&filter).await.unwrap();
    for incident in &before {
        let events = store.load_events(incident.id).await.unwrap();
        assert_eq!(&Incident::replay(incident.id, &events).unwrap(), incident);
    }
    assert_eq!(store.rebuild_projections().await.unwrap(), 6);
    let after = store.list_incidents(&filter).await.unwrap();
    assert_eq!(before, after);
}

/// The queue order: priority code 0 first, then oldest first; status filters apply.
pub(crate) async fn incidents_are_listed_by_priority_then_age<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let mk = |priority: u8, ms: i64| crate::NewAlert {
        priority: Priority::new(priority).unwrap(),
        ..alert(device, ms)
    };
    let late_urgent = accept_one(&store, mk(0, 5_000)).await;
    let early_low = accept_one(&store, mk(3, 1_000)).await;
    let early_urgent = accept_one(&store, mk(0, 2_000)).await;
    let closed = accept_one(&store, mk(0, 0)).await;
    store
        .append_event(
            closed,
            1,
            EventKind::Closed {
                outcome: Outcome::FalseAlarm,
            },
            &staff_change("kim", 9, "x"),
        )
        .await
        .unwrap();
    let all: Vec<IncidentId> = store
        .list_incidents(&IncidentFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(all, [closed, early_urgent, late_urgent, early_low]);
    let open: Vec<IncidentId> = store
        .list_incidents(&IncidentFilter::open())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, [early_urgent, late_urgent, early_low]);
    let only_closed = IncidentFilter {
        statuses: vec![IncidentStatus::Closed],
        ..IncidentFilter::default()
    };
    assert_eq!(store.list_incidents(&only_closed).await.unwrap().len(), 1);
    let limited = IncidentFilter {
        limit: 2,
        ..IncidentFilter::default()
    };
    assert_eq!(store.list_incidents(&limited).await.unwrap().len(), 2);
    let bad = IncidentFilter {
        limit: 0,
        ..IncidentFilter::default()
    };
    assert!(matches!(
        store.list_incidents(&bad).await,
        Err(Error::Invalid(_))
    ));
}

/// A scan by id, page by page, lists every incident exactly once in id order, honours the status
/// filter, and is not disturbed by a priority change in the middle of the scan.
pub(crate) async fn incidents_can_be_scanned_by_id_page_by_page<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let mut ids = Vec::new();
    for k in 0..23 {
        let device = DeviceId::new_v4();
        let a = crate::NewAlert {
            priority: Priority::new((k % 4) as u8).unwrap(),
            ..alert(device, 1_000 * k)
        };
        ids.push(accept_one(&store, a).await);
    }
    // Close every third one: the scan below asks for closed incidents only.
    for id in ids.iter().step_by(3) {
        store
            .append_event(
                *id,
                1,
                EventKind::Closed {
                    outcome: Outcome::FalseAlarm,
                },
                &staff_change("kim", 50_000, "x"),
            )
            .await
            .unwrap();
    }
    let scan = |statuses: Vec<IncidentStatus>| {
        let (store, ids) = (&store, &ids);
        async move {
            let mut seen: Vec<IncidentId> = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let page = store
                    .list_incidents(&IncidentFilter {
                        statuses: statuses.clone(),
                        limit: 5,
                        order: IncidentOrder::ById { after },
                        ..IncidentFilter::default()
                    })
                    .await
                    .unwrap();
                pages += 1;
                if pages == 2 && statuses.is_empty() {
                    // Escalate an incident the scan has not reached yet: it must still be listed once.
                    let last = *ids
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| k % 3 != 0)
                        .map(|(_, i)| i)
                        .max_by_key(|i| i.to_string())
                        .unwrap();
                    store
                        .append_event(
                            last,
                            1,
                            EventKind::Escalated {
                                priority: Priority::new(0).unwrap(),
                                reason: EscalationReason::Duress,
                            },
                            &staff_change("kim", 60_000, "duress"),
                        )
                        .await
                        .unwrap();
                }
                let short = page.len() < 5;
                after = page.last().map(|i| i.id);
                seen.extend(page.into_iter().map(|i| i.id));
                if short {
                    break;
                }
            }
            seen
        }
    };
    let all = scan(Vec::new()).await;
    let mut expected = ids.clone();
    expected.sort_by_key(|i| i.to_string());
    assert_eq!(all, expected);
    let closed = scan(vec![IncidentStatus::Closed]).await;
    let mut expected_closed: Vec<IncidentId> = ids.iter().step_by(3).copied().collect();
    expected_closed.sort_by_key(|i| i.to_string());
    assert_eq!(closed, expected_closed);
}
