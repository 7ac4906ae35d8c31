//! Rescue teams and the guardians of people in a disaster (issue 20, parts 5 and 2): unit types and capabilities are
//! kept; a dispatch for a need refuses an unsuitable unit unless overridden (audited); a dispatcher's need is set and
//! cleared; the need's facts come from the welfare answers that joined the incident; guardians are told of the
//! disaster, of each answer and of silence, each once, in one stream per guardian.

use super::outbox::subscriber_with_guardians;
use super::{TestStore, accept_one, alert, staff_change, t};
use crate::disaster::{DisasterRecord, NewWelfareAnswer, WelfareRequest};
use crate::{
    Committed, Conflict, DeliveryOutcome, DeliveryReport, DeviceRecord, Entity, Error, NewAlert,
    Notification, WELFARE_ASKED, welfare_event,
};
use jikimi_respond::disaster::{DisasterArea, DisasterKind, WelfareAnswer, WelfareStatus};
use jikimi_respond::{
    Actor, AlertId, Capability, DeviceId, EventKind, IncidentStatus, Unit, UnitId, UnitNeed,
    UnitStatus, UnitType,
};
use std::sync::{Arc, Mutex};

fn unit(id: &str, unit_type: UnitType, capabilities: &[Capability]) -> Unit {
    Unit {
        id: UnitId::new(id),
        status: UnitStatus::Available,
        position: None,
        reported_at: None,
        unit_type,
        capabilities: capabilities.iter().copied().collect(),
    }
}

fn actions(entries: &[jikimi_audit::AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

/// Types and capabilities are stored and read back on every read path; a need refuses an unsuitable unit without a
/// trace, and an override sends it with an `incident.dispatch_override` entry.
pub(crate) async fn unit_types_are_kept_and_dispatch_honours_the_need<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let heavy = unit(
        "R-1",
        UnitType::Rescue,
        &[Capability::WaterRescue, Capability::HeavyRescue],
    );
    let patrol = unit("P-1", UnitType::Police, &[]);
    for u in [&heavy, &patrol] {
        store
            .put_unit(u, &staff_change("admin", 0, "fleet"))
            .await
            .unwrap();
    }
    assert_eq!(store.get_unit(&heavy.id).await.unwrap(), heavy);
    assert_eq!(
        store.list_units().await.unwrap(),
        vec![patrol.clone(), heavy.clone()]
    );
    // Every path that returns a unit keeps its type.
    let moved = store
        .set_unit_status(
            &heavy.id,
            UnitStatus::Available,
            &staff_change("d", 1, "ok"),
        )
        .await
        .unwrap();
    assert_eq!(moved.capabilities, heavy.capabilities);
    let audit = store.list_audit(0, 100).await.unwrap();
    let saved = audit.iter().find(|e| e.action == "unit.saved").unwrap();
    assert!(saved.detail.contains("heavy_rescue"), "{}", saved.detail);
    // A re-save replaces the type (PUT semantics).
    let retyped = unit("P-1", UnitType::Medical, &[Capability::MedicalAdvanced]);
    store
        .put_unit(&retyped, &staff_change("admin", 2, "now an ambulance"))
        .await
        .unwrap();
    assert_eq!(store.get_unit(&retyped.id).await.unwrap(), retyped);

    let id = accept_one(&store, alert(DeviceId::new_v4(), 0)).await;
    store
        .append_event(
            id,
            1,
            EventKind::Acknowledged,
            &staff_change("kim", 10, "took it"),
        )
        .await
        .unwrap();
    let need = UnitNeed::new(UnitType::Rescue, [Capability::HeavyRescue]);
    let n_audit = store.list_audit(0, 1_000).await.unwrap().len();
    let refused = store
        .dispatch_for_need(
            id,
            None,
            &retyped.id,
            &need,
            false,
            &staff_change("kim", 20, "x"),
        )
        .await;
    assert!(
        matches!(refused, Err(Error::Conflict(Conflict::UnitUnsuitable { ref unit, .. })) if unit == &retyped.id),
        "{refused:?}"
    );
    assert_eq!(store.list_audit(0, 1_000).await.unwrap().len(), n_audit);
    assert_eq!(store.get_incident(id).await.unwrap().last_seq, 2);
    assert_eq!(
        store.get_unit(&retyped.id).await.unwrap().status,
        UnitStatus::Available
    );
    // An unknown unit is not found, whatever the need.
    assert!(matches!(
        store
            .dispatch_for_need(
                id,
                None,
                &UnitId::new("nobody"),
                &need,
                true,
                &staff_change("kim", 20, "x")
            )
            .await,
        Err(Error::NotFound {
            entity: Entity::Unit,
            ..
        })
    ));
    // Overridden: sent, and the override is audited with what the unit lacks.
    let incident = store
        .dispatch_for_need(
            id,
            Some(2),
            &retyped.id,
            &need,
            true,
            &staff_change("kim", 21, "only one near"),
        )
        .await
        .unwrap();
    assert_eq!(incident.status, IncidentStatus::Dispatched);
    let audit = store.list_audit(0, 1_000).await.unwrap();
    let new: Vec<&str> = actions(&audit[n_audit..]);
    assert_eq!(
        new,
        [
            "incident.dispatch_override",
            "incident.dispatched",
            "unit.status"
        ]
    );
    let entry = &audit[n_audit];
    assert_eq!(entry.subject, format!("incident/{id}"));
    assert!(
        entry.detail.contains("heavy_rescue") && entry.detail.contains("medical"),
        "{}",
        entry.detail
    );

    // A suitable unit needs no override and leaves no override entry.
    let other = accept_one(&store, alert(DeviceId::new_v4(), 100)).await;
    store
        .append_event(
            other,
            1,
            EventKind::Acknowledged,
            &staff_change("kim", 110, "took it"),
        )
        .await
        .unwrap();
    let n_audit = store.list_audit(0, 1_000).await.unwrap().len();
    store
        .dispatch_for_need(
            other,
            None,
            &heavy.id,
            &need,
            false,
            &staff_change("kim", 120, "go"),
        )
        .await
        .unwrap();
    let audit = store.list_audit(0, 1_000).await.unwrap();
    assert_eq!(
        actions(&audit[n_audit..]),
        ["incident.dispatched", "unit.status"]
    );
}

fn area() -> DisasterArea {
    DisasterArea::new(vec![vec![vec![
        [126.9, 37.5],
        [127.1, 37.5],
        [127.1, 37.6],
        [126.9, 37.6],
        [126.9, 37.5],
    ]]])
    .unwrap()
}

fn disaster(n: u128, kind: DisasterKind, ms: i64) -> DisasterRecord {
    DisasterRecord {
        id: uuid::Uuid::from_u128(n),
        kind,
        title: format!("disaster {n}"),
        area: area(),
        cap_identifier: None,
        declared_at: t(ms),
        closed_at: None,
    }
}

fn request(subscriber_id: jikimi_respond::SubscriberId) -> WelfareRequest {
    WelfareRequest {
        subscriber_id,
        position: None,
        position_at: None,
        vulnerability: None,
    }
}

fn welfare(
    disaster_id: uuid::Uuid,
    device: DeviceId,
    answer_id: u128,
    what: WelfareAnswer,
    ms: i64,
) -> NewWelfareAnswer {
    NewWelfareAnswer {
        disaster_id,
        device_id: device,
        answer_id: uuid::Uuid::from_u128(answer_id),
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        answer: what,
        position: None,
        position_at: None,
        battery_pct: None,
        people: None,
        at: t(ms),
    }
}

async fn device_of<S: TestStore>(store: &S, subscriber: jikimi_respond::SubscriberId) -> DeviceId {
    let id = DeviceId::new_v4();
    store
        .put_device(
            &DeviceRecord {
                id,
                subscriber_id: Some(subscriber),
                public_key: vec![7; 32],
                kind: "app".into(),
                enrolled_at: t(1),
                revoked_at: None,
            },
            &staff_change("sup", 1, "enrol"),
        )
        .await
        .unwrap();
    id
}

/// A dispatcher's need is set, replaced and cleared (audited); without it, the facts are the current statuses of
/// the people whose answers became the incident's alerts.
pub(crate) async fn incident_needs_are_set_cleared_and_derived_from_answers<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let unknown = jikimi_respond::IncidentId::new_v7();
    assert!(
        store
            .incident_need_facts(unknown)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .set_incident_need(unknown, None, &staff_change("kim", 0, "x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let (sid, _) = subscriber_with_guardians(&store, 0).await;
    let device = device_of(&store, sid).await;
    let d = disaster(41, DisasterKind::Flood, 1_000);
    store
        .declare_disaster(&d, &staff_change("sup", 1_000, "flood"))
        .await
        .unwrap();
    store
        .request_welfare(d.id, &[request(sid)], &staff_change("sup", 1_001, "ask"))
        .await
        .unwrap();
    store
        .record_welfare_answer(
            &welfare(d.id, device, 9, WelfareAnswer::Trapped, 2_000),
            &crate::Change::new(Actor::Device(device), t(2_000), "answer"),
        )
        .await
        .unwrap();
    // The server raises the answer as an alert whose id is the answer id.
    let incident = accept_one(
        &store,
        NewAlert {
            alert_id: AlertId(uuid::Uuid::from_u128(9)),
            subscriber_id: Some(sid),
            ..alert(device, 2_001)
        },
    )
    .await;
    let facts = store.incident_need_facts(incident).await.unwrap();
    assert_eq!(facts.dispatcher, None);
    assert_eq!(
        facts.people,
        vec![(WelfareStatus::Trapped, DisasterKind::Flood)]
    );
    // An ordinary alert has no people.
    let plain = accept_one(&store, alert(DeviceId::new_v4(), 3_000)).await;
    assert!(
        store
            .incident_need_facts(plain)
            .await
            .unwrap()
            .people
            .is_empty()
    );

    let need = UnitNeed::new(UnitType::Fire, [Capability::Hazmat]);
    store
        .set_incident_need(
            incident,
            Some(&need),
            &staff_change("kim", 4_000, "gas leak"),
        )
        .await
        .unwrap();
    let other = UnitNeed::new(UnitType::Medical, []);
    store
        .set_incident_need(
            incident,
            Some(&other),
            &staff_change("kim", 4_001, "no, injured"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .incident_need_facts(incident)
            .await
            .unwrap()
            .dispatcher,
        Some(other)
    );
    store
        .set_incident_need(incident, None, &staff_change("kim", 4_002, "as derived"))
        .await
        .unwrap();
    assert_eq!(
        store
            .incident_need_facts(incident)
            .await
            .unwrap()
            .dispatcher,
        None
    );
    let audit = store.list_audit(0, 1_000).await.unwrap();
    let needs: Vec<&str> = audit
        .iter()
        .filter(|e| {
            e.subject == format!("incident/{incident}") && e.action.starts_with("incident.need")
        })
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        needs,
        [
            "incident.need_set",
            "incident.need_set",
            "incident.need_cleared"
        ]
    );
}

struct Seen(Mutex<Vec<Committed>>);
impl crate::CommitObserver for Seen {
    fn committed(&self, changes: &crate::ChangeSet) {
        self.0
            .lock()
            .unwrap()
            .extend(changes.changes().iter().cloned());
    }
}

fn events(rows: &[Notification], guardian: crate::GuardianId) -> Vec<(u64, String)> {
    rows.iter()
        .filter(|n| n.guardian_id == guardian)
        .map(|n| (n.event_seq, n.event.clone()))
        .collect()
}

/// Guardians are told their person was asked (in the asking transaction), then each distinct answer, then silence
/// past the age, each once per (disaster, guardian); the worker claims them in order per guardian.
pub(crate) async fn guardians_are_told_of_a_disaster_once_per_event<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let (alice, alice_guardians) = subscriber_with_guardians(&store, 2).await;
    let (bob, bob_guardians) = subscriber_with_guardians(&store, 1).await;
    let (_carol, carol_guardians) = subscriber_with_guardians(&store, 1).await;
    let phone = device_of(&store, alice).await;
    let d = disaster(42, DisasterKind::Earthquake, 10_000);
    store
        .declare_disaster(&d, &staff_change("sup", 10_000, "quake"))
        .await
        .unwrap();
    let seen = Arc::new(Seen(Mutex::new(Vec::new())));
    store.observe_commits(seen.clone());
    assert_eq!(
        store
            .request_welfare(
                d.id,
                &[request(alice), request(bob)],
                &staff_change("sup", 10_001, "ask")
            )
            .await
            .unwrap(),
        2
    );
    assert!(
        seen.0
            .lock()
            .unwrap()
            .contains(&Committed::DisasterUpdated(d.id))
    );
    let rows = store.list_disaster_notifications(d.id).await.unwrap();
    assert_eq!(
        rows.len(),
        3,
        "two guardians of alice, one of bob, none of carol"
    );
    assert!(
        rows.iter()
            .all(|n| n.event == WELFARE_ASKED && n.event_seq == 0 && n.incident_id.is_none())
    );
    assert!(rows.iter().all(|n| n.disaster_id == Some(d.id)));
    assert!(events(&rows, carol_guardians[0]).is_empty());
    // Asking again (a re-run) tells nobody twice.
    store
        .request_welfare(
            d.id,
            &[request(alice), request(bob)],
            &staff_change("sup", 10_002, "again"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.list_disaster_notifications(d.id).await.unwrap().len(),
        3
    );

    // Alice answers trapped; a retry and a second "trapped" answer tell nobody again; "safe" does.
    let change = |ms| crate::Change::new(Actor::Device(phone), t(ms), "answer");
    store
        .record_welfare_answer(
            &welfare(d.id, phone, 1, WelfareAnswer::Trapped, 11_000),
            &change(11_000),
        )
        .await
        .unwrap();
    store
        .record_welfare_answer(
            &welfare(d.id, phone, 1, WelfareAnswer::Trapped, 11_001),
            &change(11_001),
        )
        .await
        .unwrap();
    store
        .record_welfare_answer(
            &welfare(d.id, phone, 2, WelfareAnswer::Trapped, 11_002),
            &change(11_002),
        )
        .await
        .unwrap();
    store
        .record_welfare_answer(
            &welfare(d.id, phone, 3, WelfareAnswer::Safe, 12_000),
            &change(12_000),
        )
        .await
        .unwrap();
    let rows = store.list_disaster_notifications(d.id).await.unwrap();
    for g in &alice_guardians {
        assert_eq!(
            events(&rows, *g),
            [
                (0, WELFARE_ASKED.to_string()),
                (1, welfare_event(WelfareStatus::Trapped).to_string()),
                (2, welfare_event(WelfareStatus::Safe).to_string()),
            ]
        );
    }

    // Silence: nobody before the age; bob's guardian after it, once; alice answered, so not hers.
    assert_eq!(
        store
            .queue_silent_welfare(t(10_000), t(20_000), 100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .queue_silent_welfare(t(10_001), t(20_000), 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .queue_silent_welfare(t(10_001), t(20_001), 100)
            .await
            .unwrap(),
        0
    );
    let rows = store.list_disaster_notifications(d.id).await.unwrap();
    assert_eq!(
        events(&rows, bob_guardians[0]),
        [
            (0, WELFARE_ASKED.to_string()),
            (1, "welfare_no_answer".to_string())
        ]
    );
    let audit = store.list_audit(0, 10_000).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "notification.queued"
        && e.subject == format!("disaster/{}", d.id)
        && e.detail.contains("welfare_no_answer")));

    // The worker claims the head of each guardian's stream only, and finishing one is audited on the disaster.
    let claimed = store
        .claim_notifications(t(30_000), t(90_000), 100)
        .await
        .unwrap();
    let mine: Vec<&Notification> = claimed
        .iter()
        .filter(|n| n.disaster_id == Some(d.id))
        .collect();
    assert_eq!(mine.len(), 3, "one per guardian: {mine:?}");
    assert!(mine.iter().all(|n| n.event == WELFARE_ASKED));
    let first = mine
        .iter()
        .find(|n| n.guardian_id == alice_guardians[0])
        .unwrap();
    seen.0.lock().unwrap().clear();
    let done = store
        .finish_notification(
            first.id,
            first.lease_token.unwrap(),
            &DeliveryReport {
                outcome: DeliveryOutcome::Delivered,
                delivered_channels: vec![0],
                at: t(30_001),
            },
        )
        .await
        .unwrap();
    assert_eq!(done.disaster_id, Some(d.id));
    assert_eq!(
        *seen.0.lock().unwrap(),
        vec![Committed::DisasterUpdated(d.id)]
    );
    let audit = store.list_audit(0, 10_000).await.unwrap();
    let last = audit.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.subject.clone()),
        ("notification.delivered", format!("disaster/{}", d.id))
    );
    let next = store
        .claim_notifications(t(30_002), t(90_000), 100)
        .await
        .unwrap();
    let next: Vec<&Notification> = next
        .iter()
        .filter(|n| n.guardian_id == alice_guardians[0])
        .collect();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event, welfare_event(WelfareStatus::Trapped));

    // A closed disaster tells no more silence.
    let (dave, _) = subscriber_with_guardians(&store, 1).await;
    let d2 = disaster(43, DisasterKind::Flood, 40_000);
    store
        .declare_disaster(&d2, &staff_change("sup", 40_000, "flood"))
        .await
        .unwrap();
    store
        .request_welfare(d2.id, &[request(dave)], &staff_change("sup", 40_000, "ask"))
        .await
        .unwrap();
    store
        .close_disaster(d2.id, &staff_change("sup", 40_001, "over"))
        .await
        .unwrap();
    assert_eq!(
        store
            .queue_silent_welfare(t(50_000), t(50_000), 100)
            .await
            .unwrap(),
        0
    );
    crate::verify_audit(&store).await.unwrap();
}
