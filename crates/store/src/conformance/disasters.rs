//! Disaster mode (issue 20): declaring and closing are audited; the welfare candidates carry sealed homes and flags,
//! live devices and recent fixes; asking is idempotent per person; answers are idempotent per (disaster, device,
//! answer id), audited, and refused for people not asked, replayed nonces and closed disasters.

use super::registration::{keyring, sealed_subscriber};
use super::{TestStore, accept_one, staff_change, subscriber_alert, t};
use crate::disaster::{
    DisasterRecord, HOME_FIELD, NewWelfareAnswer, POSITION_FIELD, VULNERABILITY_FIELD,
    WelfareRequest, person_record,
};
use crate::{Committed, Conflict, DeviceRecord, Error};
use jikimi_respond::disaster::{DisasterArea, DisasterKind, WelfareAnswer, WelfareStatus};
use jikimi_respond::{Actor, DeviceId, SubscriberId};
use std::sync::{Arc, Mutex};

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

fn disaster(n: u128, ms: i64) -> DisasterRecord {
    DisasterRecord {
        id: uuid::Uuid::from_u128(n),
        kind: DisasterKind::Earthquake,
        title: format!("quake {n}"),
        area: area(),
        cap_identifier: None,
        declared_at: t(ms),
        closed_at: None,
    }
}

fn answer(
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
        battery_pct: Some(40),
        people: Some(2),
        at: t(ms),
    }
}

fn device_change(device: DeviceId, ms: i64) -> crate::Change {
    crate::Change::new(Actor::Device(device), t(ms), "welfare answer")
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

pub(crate) async fn disasters_ask_people_and_record_answers_once<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let seen = Arc::new(Seen(Mutex::new(Vec::new())));
    store.observe_commits(seen.clone());
    let keys = keyring();
    let (alice, bob) = (
        SubscriberId(uuid::Uuid::from_u128(1)),
        SubscriberId(uuid::Uuid::from_u128(2)),
    );
    let mut record = sealed_subscriber(alice, "Alice", "010-1111-2222");
    let sid = format!("subscriber/{alice}");
    record.fields.insert(
        HOME_FIELD.into(),
        keys.seal_str(&sid, HOME_FIELD, r#"{"lat":37.55,"lon":127.0}"#)
            .unwrap(),
    );
    record.fields.insert(
        VULNERABILITY_FIELD.into(),
        keys.seal_str(&sid, VULNERABILITY_FIELD, r#"{"elderly":true}"#)
            .unwrap(),
    );
    store
        .put_subscriber(&record, &staff_change("sup", 0, "register"))
        .await
        .unwrap();
    store
        .put_subscriber(
            &sealed_subscriber(bob, "Bob", "010-3333-4444"),
            &staff_change("sup", 0, "register"),
        )
        .await
        .unwrap();
    let (phone, terminal, revoked, bobs) = (
        DeviceId::new_v4(),
        DeviceId::new_v4(),
        DeviceId::new_v4(),
        DeviceId::new_v4(),
    );
    for (id, sub, kind) in [
        (phone, alice, "app"),
        (terminal, alice, "u-relief"),
        (revoked, alice, "app"),
        (bobs, bob, "app"),
    ] {
        store
            .put_device(
                &DeviceRecord {
                    id,
                    subscriber_id: Some(sub),
                    public_key: vec![7; 32],
                    kind: kind.into(),
                    enrolled_at: t(1),
                    revoked_at: None,
                },
                &staff_change("sup", 1, "enrol"),
            )
            .await
            .unwrap();
    }
    store
        .revoke_device(revoked, &staff_change("sup", 2, "lost"))
        .await
        .unwrap();
    // Bob raised an alert: his fix is recent; an old cut-off keeps it, a later one drops it.
    accept_one(&store, subscriber_alert(bobs, bob, 10_000)).await;

    let candidates = store.welfare_candidates(t(0)).await.unwrap();
    assert_eq!(candidates.len(), 2);
    let a = candidates
        .iter()
        .find(|c| c.subscriber_id == alice)
        .unwrap();
    assert_eq!(
        keys.open_str(&sid, HOME_FIELD, a.home.as_ref().unwrap())
            .unwrap(),
        r#"{"lat":37.55,"lon":127.0}"#
    );
    assert!(a.vulnerability.is_some());
    assert!(a.latest_fix.is_none());
    let mut devices: Vec<_> = a.devices.iter().map(|(d, _)| *d).collect();
    devices.sort();
    let mut expected = vec![phone, terminal];
    expected.sort();
    assert_eq!(devices, expected, "revoked devices are not asked");
    let b = candidates.iter().find(|c| c.subscriber_id == bob).unwrap();
    assert!(b.latest_fix.is_some());
    assert!(
        store
            .welfare_candidates(t(20_000))
            .await
            .unwrap()
            .iter()
            .all(|c| c.latest_fix.is_none())
    );

    let d = disaster(7, 20_000);
    store
        .declare_disaster(&d, &staff_change("sup", 20_000, "earthquake"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .declare_disaster(&d, &staff_change("sup", 20_000, "again"))
            .await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.get_disaster(d.id).await.unwrap(), d);
    assert!(
        store
            .get_disaster(uuid::Uuid::from_u128(99))
            .await
            .unwrap_err()
            .is_not_found()
    );

    let prec = person_record(d.id, alice);
    let request = WelfareRequest {
        subscriber_id: alice,
        position: Some(keys.seal_str(&prec, POSITION_FIELD, "{}").unwrap()),
        position_at: Some(t(5)),
        vulnerability: Some(
            keys.seal_str(&prec, VULNERABILITY_FIELD, r#"{"elderly":true}"#)
                .unwrap(),
        ),
    };
    assert_eq!(
        store
            .request_welfare(
                d.id,
                std::slice::from_ref(&request),
                &staff_change("sup", 20_001, "welfare check")
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .request_welfare(d.id, &[request], &staff_change("sup", 20_002, "again"))
            .await
            .unwrap(),
        0
    );
    let pending = store.pending_welfare(phone).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, WelfareStatus::NoAnswer);
    assert!(store.pending_welfare(bobs).await.unwrap().is_empty());

    let first = answer(d.id, phone, 1, WelfareAnswer::Trapped, 21_000);
    let done = store
        .record_welfare_answer(&first, &device_change(phone, 21_000))
        .await
        .unwrap();
    assert_eq!(
        (done.subscriber_id, done.status, done.duplicate),
        (alice, WelfareStatus::Trapped, false)
    );
    // A retry with a fresh nonce, and a redelivery with the same one, change nothing.
    let retry = NewWelfareAnswer {
        nonce: "fresh-nonce-0000000".into(),
        ..first.clone()
    };
    assert!(
        store
            .record_welfare_answer(&retry, &device_change(phone, 21_001))
            .await
            .unwrap()
            .duplicate
    );
    assert!(
        store
            .record_welfare_answer(&first, &device_change(phone, 21_002))
            .await
            .unwrap()
            .duplicate
    );
    let changed = NewWelfareAnswer {
        answer: WelfareAnswer::Safe,
        ..retry
    };
    assert!(matches!(
        store
            .record_welfare_answer(&changed, &device_change(phone, 21_003))
            .await,
        Err(Error::Conflict(_))
    ));
    // A new answer id with a spent nonce is a replay.
    let replay = NewWelfareAnswer {
        answer_id: uuid::Uuid::from_u128(2),
        ..first.clone()
    };
    assert!(matches!(
        store
            .record_welfare_answer(&replay, &device_change(phone, 21_004))
            .await,
        Err(Error::Conflict(Conflict::NonceReplayed))
    ));
    // Bob was not asked; the revoked device answers nothing.
    assert!(
        store
            .record_welfare_answer(
                &answer(d.id, bobs, 3, WelfareAnswer::Safe, 21_005),
                &device_change(bobs, 21_005)
            )
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .record_welfare_answer(
                &answer(d.id, revoked, 4, WelfareAnswer::Safe, 21_006),
                &device_change(revoked, 21_006)
            )
            .await
            .unwrap_err()
            .is_not_found()
    );
    // The terminal answers later: injured, with a new position.
    let mut later = answer(d.id, terminal, 5, WelfareAnswer::Injured, 22_000);
    later.position = Some(
        keys.seal_str(&prec, POSITION_FIELD, r#"{"lat":37.56}"#)
            .unwrap(),
    );
    later.position_at = Some(t(21_900));
    later.battery_pct = Some(9);
    store
        .record_welfare_answer(&later, &device_change(terminal, 22_000))
        .await
        .unwrap();

    let persons = store.welfare_persons(d.id).await.unwrap();
    assert_eq!(persons.len(), 1);
    let p = &persons[0];
    assert_eq!(p.status, WelfareStatus::Injured);
    assert_eq!(p.last_contact, Some(t(22_000)));
    assert_eq!(p.position_at, Some(t(21_900)));
    assert_eq!((p.battery_pct, p.people), (Some(9), Some(2)));
    assert_eq!(
        keys.open_str(&prec, POSITION_FIELD, p.position.as_ref().unwrap())
            .unwrap(),
        r#"{"lat":37.56}"#
    );
    assert!(p.vulnerability.is_some());

    let closed = store
        .close_disaster(d.id, &staff_change("sup", 30_000, "over"))
        .await
        .unwrap();
    assert_eq!(closed.closed_at, Some(t(30_000)));
    assert!(matches!(
        store
            .close_disaster(d.id, &staff_change("sup", 30_001, "again"))
            .await,
        Err(Error::Conflict(Conflict::DisasterClosed))
    ));
    assert!(matches!(
        store
            .record_welfare_answer(
                &answer(d.id, phone, 6, WelfareAnswer::Safe, 30_002),
                &device_change(phone, 30_002)
            )
            .await,
        Err(Error::Conflict(Conflict::DisasterClosed))
    ));
    assert!(store.pending_welfare(phone).await.unwrap().is_empty());
    assert_eq!(store.list_disasters(10).await.unwrap(), vec![closed]);

    let audit = store.list_audit(0, 1_000).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("disaster.") || a.starts_with("welfare."))
        .collect();
    assert_eq!(
        actions,
        vec![
            "disaster.declared",
            "disaster.welfare_requested",
            "disaster.welfare_requested",
            "welfare.answered",
            "welfare.answered",
            "disaster.closed"
        ]
    );
    let n = seen
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|c| **c == Committed::DisasterUpdated(d.id))
        .count();
    assert_eq!(
        n, 5,
        "declared, asked, two answers, closed: told once per commit that changed something"
    );
    crate::verify_audit(&store).await.unwrap();

    // Erasing the subscriber erases their person rows.
    store
        .erase_subscriber(alice, &staff_change("sup", 40_000, "erase"))
        .await
        .unwrap();
    assert!(store.welfare_persons(d.id).await.unwrap().is_empty());
}
