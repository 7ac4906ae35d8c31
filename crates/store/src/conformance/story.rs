//! Whole-lifecycle tests: durability across reopen, and one story from alert to erasure.

use super::registration::{KNOWN_NAME, KNOWN_PHONE, keyring, sealed_guardian, sealed_subscriber};
use super::{TestStore, accept_one, alert, staff_change, subscriber_alert, t};
use crate::{DeviceRecord, GuardianId, IncidentFilter, verify_audit};
use jikimi_respond::{
    Coordinates, DeviceId, EventKind, IncidentStatus, Outcome, StraightLineEta, SubscriberId, Unit,
    UnitId, UnitStatus, recommend,
};

/// Everything committed is there after closing and reopening the database.
pub(crate) async fn durable_across_reopen<S: TestStore>() {
    let (store, guard) = S::fresh().await;
    let id = accept_one(&store, alert(DeviceId::new_v4(), 0)).await;
    let before = store
        .append_event(
            id,
            1,
            EventKind::Acknowledged,
            &staff_change("kim", 10, "mine"),
        )
        .await
        .unwrap();
    let unit = Unit {
        id: UnitId::new("P-9"),
        status: UnitStatus::Available,
        position: None,
        reported_at: None,
        unit_type: jikimi_respond::UnitType::Police,
        capabilities: Default::default(),
    };
    store
        .put_unit(&unit, &staff_change("admin", 20, "fleet"))
        .await
        .unwrap();
    let store = store.reopen(&guard).await;
    assert_eq!(store.get_incident(id).await.unwrap(), before);
    assert_eq!(store.load_events(id).await.unwrap().len(), 2);
    assert_eq!(store.get_unit(&unit.id).await.unwrap(), unit);
    assert_eq!(verify_audit(&store).await.unwrap(), 3);
    // The chain continues where it stopped.
    store
        .append_event(
            id,
            2,
            EventKind::NoteAdded {
                text: "after restart".into(),
            },
            &staff_change("kim", 30, "note"),
        )
        .await
        .unwrap();
    assert_eq!(verify_audit(&store).await.unwrap(), 4);
}

/// The story: a registered subscriber's alert is received, acknowledged, a unit recommended and dispatched, en route,
/// on scene, closed; the subscriber's data is exported and erased; the audit chain verifies throughout.
pub(crate) async fn story_alert_to_erasure<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = SubscriberId::new_v4();
    store
        .put_subscriber(
            &sealed_subscriber(sid, KNOWN_NAME, KNOWN_PHONE),
            &staff_change("admin", 0, "enrol"),
        )
        .await
        .unwrap();
    store
        .put_guardian(
            &sealed_guardian(GuardianId(uuid::Uuid::new_v4()), sid),
            &staff_change("admin", 1, "enrol"),
        )
        .await
        .unwrap();
    let device = DeviceRecord {
        id: DeviceId::new_v4(),
        subscriber_id: Some(sid),
        public_key: vec![8; 32],
        kind: "app".into(),
        enrolled_at: t(2),
        revoked_at: None,
    };
    store
        .put_device(&device, &staff_change("admin", 2, "enrol"))
        .await
        .unwrap();
    for (id, lat) in [("P-101", 37.60), ("P-102", 37.57)] {
        let unit = Unit {
            id: UnitId::new(id),
            status: UnitStatus::Available,
            position: Some(Coordinates::new(lat, 126.98).unwrap()),
            reported_at: Some(t(3)),
            unit_type: jikimi_respond::UnitType::Police,
            capabilities: Default::default(),
        };
        store
            .put_unit(&unit, &staff_change("admin", 3, "fleet"))
            .await
            .unwrap();
    }

    // Received.
    let id = accept_one(&store, subscriber_alert(device.id, sid, 1_000)).await;
    let open = store.list_incidents(&IncidentFilter::open()).await.unwrap();
    assert_eq!(open.len(), 1);
    let incident = &open[0];
    assert_eq!(incident.subscriber_id, Some(sid));
    // Acknowledged.
    store
        .append_event(
            id,
            1,
            EventKind::Acknowledged,
            &staff_change("kim", 2_000, "took the call"),
        )
        .await
        .unwrap();
    // Recommended: the nearest available unit.
    let location = incident.location.expect("alert had a fix").coords;
    let units = store.list_units().await.unwrap();
    let recommendations = recommend(location, &units, &StraightLineEta::default(), 2);
    assert_eq!(recommendations[0].unit, UnitId::new("P-102"));
    store
        .append_event(
            id,
            2,
            EventKind::UnitRecommended { recommendations },
            &staff_change("kim", 2_100, "ranked"),
        )
        .await
        .unwrap();
    // Dispatched, en route, on scene.
    let p102 = UnitId::new("P-102");
    store
        .append_event(
            id,
            3,
            EventKind::Dispatched { unit: p102.clone() },
            &staff_change("kim", 2_200, "nearest"),
        )
        .await
        .unwrap();
    store
        .set_unit_status(
            &p102,
            UnitStatus::Dispatched,
            &staff_change("kim", 2_200, "assigned"),
        )
        .await
        .unwrap();
    store
        .append_event(
            id,
            4,
            EventKind::EnRoute { unit: p102.clone() },
            &staff_change("p102", 2_300, "moving"),
        )
        .await
        .unwrap();
    store
        .append_event(
            id,
            5,
            EventKind::OnScene { unit: p102.clone() },
            &staff_change("p102", 300_000, "arrived"),
        )
        .await
        .unwrap();
    // Closed.
    let closed = store
        .append_event(
            id,
            6,
            EventKind::Closed {
                outcome: Outcome::Rescue,
            },
            &staff_change("kim", 400_000, "resolved"),
        )
        .await
        .unwrap();
    assert_eq!(closed.status, IncidentStatus::Closed);
    assert_eq!(closed.outcome, Some(Outcome::Rescue));
    assert_eq!(closed.assigned_unit, Some(p102));
    assert!(
        store
            .list_incidents(&IncidentFilter::open())
            .await
            .unwrap()
            .is_empty()
    );

    // Exported: the server decrypts with the keyring.
    let export = store
        .export_subscriber(
            sid,
            &staff_change("admin", 500_000, "subject access request"),
        )
        .await
        .unwrap();
    let name = keyring()
        .open_str(
            &format!("subscriber/{sid}"),
            "name",
            &export.subscriber.fields["name"],
        )
        .unwrap();
    assert_eq!(name, KNOWN_NAME);
    assert_eq!(export.incidents, std::slice::from_ref(&closed));
    // Erased.
    store
        .erase_subscriber(sid, &staff_change("admin", 600_000, "erasure request"))
        .await
        .unwrap();
    assert!(store.get_subscriber(sid).await.unwrap_err().is_not_found());
    assert_eq!(store.get_incident(id).await.unwrap(), closed);

    let entries = store.list_audit(0, 1_000).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for expected in [
        "subscriber.saved",
        "guardian.saved",
        "device.saved",
        "alert.received",
        "incident.acknowledged",
        "incident.unit_recommended",
        "incident.dispatched",
        "incident.en_route",
        "incident.on_scene",
        "incident.closed",
        "subscriber.exported",
        "subscriber.erased",
    ] {
        assert!(
            actions.contains(&expected),
            "missing {expected} in {actions:?}"
        );
    }
    assert_eq!(verify_audit(&store).await.unwrap(), entries.len() as u64);
}
