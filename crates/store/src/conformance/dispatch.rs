//! Dispatch as one transaction: the unit's availability is re-checked, the incident event appended and the unit set
//! in one commit, so a busy unit is refused without a trace and two dispatchers racing for one unit cannot both win.
//! On scene and close move the assigned unit in the event's own transaction too.

use super::{TestStore, accept_one, alert, staff_change};
use crate::{ChangeSet, CommitObserver, Committed, Conflict, Entity, Error};
use jikimi_respond::{
    DeviceId, EventKind, IncidentId, IncidentStatus, Outcome, Unit, UnitId, UnitStatus,
};
use std::sync::{Arc, Mutex};

/// Keeps every change set it is told.
#[derive(Default)]
struct Recorder(Mutex<Vec<Vec<Committed>>>);

impl CommitObserver for Recorder {
    fn committed(&self, changes: &ChangeSet) {
        self.0.lock().unwrap().push(changes.changes().to_vec());
    }
}

/// An acknowledged incident (dispatchable) and a unit with `status`.
async fn incident_and_unit<S: TestStore>(store: &S, unit: &str, status: UnitStatus) -> IncidentId {
    let id = accept_one(store, alert(DeviceId::new_v4(), 0)).await;
    store
        .append_event(
            id,
            1,
            EventKind::Acknowledged,
            &staff_change("kim", 10, "took the call"),
        )
        .await
        .unwrap();
    let unit = Unit {
        id: UnitId::new(unit),
        status,
        position: None,
        reported_at: None,
        unit_type: jikimi_respond::UnitType::Police,
        capabilities: Default::default(),
    };
    if store.get_unit(&unit.id).await.is_err() {
        store
            .put_unit(&unit, &staff_change("admin", 5, "fleet"))
            .await
            .unwrap();
    }
    id
}

/// A dispatch appends the event, sets the unit dispatched and audits both, in one commit reporting both.
pub(crate) async fn dispatch_changes_incident_and_unit_in_one_commit<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let id = incident_and_unit(&store, "P-1", UnitStatus::Available).await;
    let unit = UnitId::new("P-1");
    let recorder = Arc::new(Recorder::default());
    store.observe_commits(recorder.clone());
    let incident = store
        .dispatch(id, Some(2), &unit, &staff_change("kim", 20, "send P-1"))
        .await
        .unwrap();
    assert_eq!(incident.status, IncidentStatus::Dispatched);
    assert_eq!(incident.assigned_unit, Some(unit.clone()));
    assert_eq!(incident.last_seq, 3);
    assert_eq!(store.get_incident(id).await.unwrap(), incident);
    assert_eq!(
        store.get_unit(&unit).await.unwrap().status,
        UnitStatus::Dispatched
    );
    let audit = store.list_audit(0, 100).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .rev()
        .take(2)
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(actions, ["unit.status", "incident.dispatched"]);
    assert_eq!(
        *recorder.0.lock().unwrap(),
        vec![vec![
            Committed::IncidentUpdated(id),
            Committed::UnitUpdated(unit)
        ]]
    );
    crate::verify_audit(&store).await.unwrap();
}

/// A unit that is not available is refused with [`Conflict::UnitBusy`]; neither the incident nor the unit changes,
/// nothing is audited. An unknown unit is not found; a stale seq leaves the unit available.
pub(crate) async fn dispatching_a_busy_unit_changes_nothing<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let first = incident_and_unit(&store, "P-1", UnitStatus::Available).await;
    let unit = UnitId::new("P-1");
    store
        .dispatch(first, None, &unit, &staff_change("kim", 20, "send P-1"))
        .await
        .unwrap();
    let second = incident_and_unit(&store, "P-1", UnitStatus::Available).await;
    let n_audit = store.list_audit(0, 1_000).await.unwrap().len();
    let err = store
        .dispatch(
            second,
            None,
            &unit,
            &staff_change("lee", 30, "send P-1 too"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Conflict(Conflict::UnitBusy { unit: u, status: UnitStatus::Dispatched }) if *u == unit
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "conflict: unit P-1 is dispatched, not available"
    );
    let untouched = store.get_incident(second).await.unwrap();
    assert_eq!(
        (untouched.status, untouched.last_seq),
        (IncidentStatus::Acknowledged, 2)
    );
    assert_eq!(
        store.get_incident(first).await.unwrap().assigned_unit,
        Some(unit.clone())
    );
    assert_eq!(store.list_audit(0, 1_000).await.unwrap().len(), n_audit);

    let err = store
        .dispatch(
            second,
            None,
            &UnitId::new("nobody"),
            &staff_change("lee", 40, "x"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                entity: Entity::Unit,
                ..
            }
        ),
        "{err}"
    );
    // A stale seq rolls the whole dispatch back: the unit stays available.
    let spare = incident_and_unit(&store, "P-2", UnitStatus::Available).await;
    let err = store
        .dispatch(
            spare,
            Some(1),
            &UnitId::new("P-2"),
            &staff_change("lee", 50, "stale"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(Conflict::StaleSequence { .. })),
        "{err}"
    );
    assert_eq!(
        store.get_unit(&UnitId::new("P-2")).await.unwrap().status,
        UnitStatus::Available
    );
    assert_eq!(store.list_audit(0, 1_000).await.unwrap().len(), n_audit + 3);
}

/// Two dispatches of one available unit to two incidents at once: exactly one wins, the other is refused busy and
/// its incident is untouched.
pub(crate) async fn concurrent_dispatches_of_one_unit_one_wins<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let a = incident_and_unit(&store, "P-1", UnitStatus::Available).await;
    let b = incident_and_unit(&store, "P-1", UnitStatus::Available).await;
    let unit = UnitId::new("P-1");
    let (kim, lee) = (
        staff_change("kim", 20, "send P-1"),
        staff_change("lee", 20, "send P-1"),
    );
    let (ra, rb) = tokio::join!(
        store.dispatch(a, None, &unit, &kim),
        store.dispatch(b, None, &unit, &lee),
    );
    let (won, lost, err) = match (ra, rb) {
        (Ok(_), Err(e)) => (a, b, e),
        (Err(e), Ok(_)) => (b, a, e),
        (ra, rb) => panic!("exactly one dispatch must win: {ra:?} / {rb:?}"),
    };
    assert!(
        matches!(err, Error::Conflict(Conflict::UnitBusy { .. })),
        "{err}"
    );
    assert_eq!(
        store.get_incident(won).await.unwrap().assigned_unit,
        Some(unit.clone())
    );
    let lost = store.get_incident(lost).await.unwrap();
    assert_eq!(
        (lost.status, lost.assigned_unit),
        (IncidentStatus::Acknowledged, None)
    );
    assert_eq!(
        store.get_unit(&unit).await.unwrap().status,
        UnitStatus::Dispatched
    );
    crate::verify_audit(&store).await.unwrap();
}

/// On scene and close set the assigned unit (on scene, then available) in the event's own transaction.
pub(crate) async fn on_scene_and_close_move_the_assigned_unit<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let id = incident_and_unit(&store, "P-1", UnitStatus::Available).await;
    let unit = UnitId::new("P-1");
    store
        .dispatch(id, None, &unit, &staff_change("kim", 20, "send P-1"))
        .await
        .unwrap();
    let incident = store
        .append_event_moving_unit(
            id,
            Some(3),
            EventKind::OnScene { unit: unit.clone() },
            UnitStatus::OnScene,
            &staff_change("kim", 30, "arrived"),
        )
        .await
        .unwrap();
    assert_eq!(incident.status, IncidentStatus::OnScene);
    assert_eq!(
        store.get_unit(&unit).await.unwrap().status,
        UnitStatus::OnScene
    );
    // A refused event moves no unit.
    let err = store
        .append_event_moving_unit(
            id,
            Some(3),
            EventKind::Closed {
                outcome: Outcome::Rescue,
            },
            UnitStatus::Available,
            &staff_change("kim", 40, "stale"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(Conflict::StaleSequence { .. })),
        "{err}"
    );
    assert_eq!(
        store.get_unit(&unit).await.unwrap().status,
        UnitStatus::OnScene
    );
    let incident = store
        .append_event_moving_unit(
            id,
            None,
            EventKind::Closed {
                outcome: Outcome::Rescue,
            },
            UnitStatus::Available,
            &staff_change("kim", 50, "done"),
        )
        .await
        .unwrap();
    assert_eq!(incident.status, IncidentStatus::Closed);
    assert_eq!(
        store.get_unit(&unit).await.unwrap().status,
        UnitStatus::Available
    );
    crate::verify_audit(&store).await.unwrap();
}
