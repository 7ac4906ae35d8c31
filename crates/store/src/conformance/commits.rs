//! Publish on commit: an observer is told what each committed transaction changed, after the commit, and nothing
//! of a transaction that was refused and rolled back.

use super::outbox::subscriber_with_guardians;
use super::{TestStore, accept_one, alert, staff_change, subscriber_alert, t};
use crate::{
    ChangeSet, CommitObserver, Committed, DeliveryOutcome, DeliveryReport, DeviceEvent, Error,
    NotificationId, PositionReport,
};
use jikimi_respond::{
    Coordinates, DeviceId, EventKind, IncidentId, Outcome, Unit, UnitId, UnitStatus,
};
use std::sync::{Arc, Mutex};

/// Keeps every change set it is told.
#[derive(Default)]
struct Recorder(Mutex<Vec<ChangeSet>>);

impl CommitObserver for Recorder {
    fn committed(&self, changes: &ChangeSet) {
        self.0.lock().unwrap().push(changes.clone());
    }
}

impl Recorder {
    /// The change sets told since the last call.
    fn take(&self) -> Vec<Vec<Committed>> {
        std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .map(|set| set.changes().to_vec())
            .collect()
    }
}

fn queued(store_ids: &[NotificationId], incident_id: IncidentId) -> Vec<Committed> {
    store_ids
        .iter()
        .map(|&id| Committed::NotificationQueued { id, incident_id })
        .collect()
}

pub(crate) async fn commits_are_told_to_observers_and_rollbacks_are_not<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let seen = Arc::new(Recorder::default());
    store.observe_commits(seen.clone());

    // Registration commits, but changes no incident, unit or notification: nothing to tell.
    let (sid, _gids) = subscriber_with_guardians(&store, 2).await;
    assert_eq!(seen.take(), Vec::<Vec<Committed>>::new());

    // An alert: the incident it opened and the notifications queued with it, as one set.
    let device = DeviceId::new_v4();
    let first = subscriber_alert(device, sid, 1_000);
    let incident = accept_one(&store, first.clone()).await;
    let rows = store.list_notifications(incident).await.unwrap();
    let mut ids: Vec<_> = rows.iter().map(|n| n.id).collect();
    let mut expected = vec![Committed::IncidentOpened(incident)];
    let told = seen.take();
    assert_eq!(told.len(), 1, "{told:?}");
    // Notification ids are told in the order they were queued; compare as sets.
    let mut told_queued: Vec<_> = told[0][1..].to_vec();
    told_queued.sort_by_key(|c| format!("{c:?}"));
    ids.sort();
    let mut want_queued = queued(&ids, incident);
    want_queued.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(told[0][..1], expected[..]);
    assert_eq!(told_queued, want_queued);

    // A retry of the same alert is a duplicate: its transaction writes an audit entry only.
    store
        .record_alerts(vec![super::alert(device, 1_100)])
        .await
        .unwrap();
    let told = seen.take();
    assert_eq!(
        told.len(),
        1,
        "a new alert id from the device opens another incident"
    );
    let mut retry = first.clone();
    retry.nonce = uuid::Uuid::new_v4().simple().to_string();
    let again = store.record_alerts(vec![retry]).await.unwrap();
    assert!(again[0].as_ref().unwrap().duplicate);
    assert_eq!(seen.take(), Vec::<Vec<Committed>>::new());

    // Refused transactions roll back and are never told: a stale seq, an illegal transition, a replayed nonce.
    let stale = store
        .append_event(
            incident,
            7,
            EventKind::Acknowledged,
            &staff_change("kim", 1_200, "ack"),
        )
        .await;
    assert!(stale.is_err());
    let illegal = store
        .append_event(
            incident,
            1,
            EventKind::OnScene {
                unit: UnitId::new("P-1"),
            },
            &staff_change("kim", 1_200, "there"),
        )
        .await;
    assert!(matches!(illegal, Err(Error::IllegalTransition(_))));
    let replayed = store
        .append_device_event(&DeviceEvent {
            incident_id: incident,
            device_id: device,
            nonce: first.nonce.clone(),
            at: t(1_300),
            kind: EventKind::Cancelled,
            pin_accepted: true,
            reason: "cancel".into(),
        })
        .await;
    assert!(replayed.is_err());
    assert!(
        store
            .set_unit_status(
                &UnitId::new("nobody"),
                UnitStatus::Dispatched,
                &staff_change("kim", 1_300, "x")
            )
            .await
            .is_err()
    );
    assert_eq!(seen.take(), Vec::<Vec<Committed>>::new());
    assert_eq!(
        store.get_incident(incident).await.unwrap().last_seq,
        1,
        "nothing was committed"
    );

    // Units: saved, moved (alone or in a batch), status changed.
    let unit = Unit {
        id: UnitId::new("P-1"),
        status: UnitStatus::Available,
        position: None,
        reported_at: None,
        unit_type: jikimi_respond::UnitType::Police,
        capabilities: Default::default(),
    };
    store
        .put_unit(&unit, &staff_change("admin", 1_400, "fleet"))
        .await
        .unwrap();
    let here = PositionReport {
        position: Coordinates::new(37.5, 127.0).unwrap(),
        at: t(1_500),
    };
    store.report_position(&unit.id, here).await.unwrap();
    store
        .report_positions(&[(unit.id.clone(), here), (UnitId::new("unknown"), here)])
        .await
        .unwrap();
    store
        .set_unit_status(
            &unit.id,
            UnitStatus::Dispatched,
            &staff_change("kim", 1_600, "x"),
        )
        .await
        .unwrap();
    let p1 = vec![Committed::UnitUpdated(unit.id.clone())];
    assert_eq!(seen.take(), vec![p1.clone(), p1.clone(), p1.clone(), p1]);

    // Transitions: an update, then the close (which notifies the guardians again).
    store
        .append_event(
            incident,
            1,
            EventKind::Acknowledged,
            &staff_change("kim", 1_700, "ack"),
        )
        .await
        .unwrap();
    expected = vec![Committed::IncidentUpdated(incident)];
    assert_eq!(seen.take(), vec![expected]);
    store
        .append_event(
            incident,
            2,
            EventKind::Closed {
                outcome: Outcome::Assistance,
            },
            &staff_change("kim", 1_800, "done"),
        )
        .await
        .unwrap();
    let told = seen.take();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0][0], Committed::IncidentClosed(incident));
    assert_eq!(
        told[0].len(),
        3,
        "closed, and one notification per guardian: {told:?}"
    );

    // A delivery attempt changes its notification.
    let claimed = store
        .claim_notifications(t(2_000), t(62_000), 1)
        .await
        .unwrap();
    assert_eq!(
        seen.take(),
        Vec::<Vec<Committed>>::new(),
        "a lease is not a change"
    );
    let n = &claimed[0];
    store
        .finish_notification(
            n.id,
            n.lease_token.unwrap(),
            &DeliveryReport {
                outcome: DeliveryOutcome::Delivered,
                delivered_channels: vec![0],
                at: t(2_100),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        seen.take(),
        vec![vec![Committed::NotificationUpdated {
            id: n.id,
            incident_id: n.incident_id.unwrap()
        }]]
    );
    // A lost lease changes nothing.
    let lost = store
        .finish_notification(
            n.id,
            n.lease_token.unwrap(),
            &DeliveryReport {
                outcome: DeliveryOutcome::Delivered,
                delivered_channels: vec![0],
                at: t(2_200),
            },
        )
        .await;
    assert!(lost.is_err());
    assert_eq!(seen.take(), Vec::<Vec<Committed>>::new());
}

/// An observer attached to a store sees the commits of its clones (the server hands clones around).
pub(crate) async fn observers_see_the_commits_of_every_clone<S: TestStore + Clone>() {
    let (store, _guard) = S::fresh().await;
    let seen = Arc::new(Recorder::default());
    store.observe_commits(seen.clone());
    let clone = store.clone();
    let id = accept_one(&clone, alert(DeviceId::new_v4(), 0)).await;
    assert_eq!(seen.take(), vec![vec![Committed::IncidentOpened(id)]]);
}
