//! Registration: sealed subscribers and guardians, blind-index lookup, devices, export and erasure, units, staff.

use super::{TestStore, accept_one, staff_change, subscriber_alert, t};
use crate::{
    Conflict, DeviceRecord, Error, GuardianId, GuardianRecord, IndexEntry, PositionReport, Role,
    SessionRecord, StaffUser, SubscriberRecord,
};
use jikimi_privacy::{BlindIndex, Keyring, normalise_phone};
use jikimi_respond::{Coordinates, DeviceId, SubscriberId, Unit, UnitId, UnitStatus};
use std::collections::BTreeMap;

/// A name and phone nobody else uses, so finding them in the database bytes means a leak.
pub(crate) const KNOWN_NAME: &str = "Hong Gildong-XJQ";
pub(crate) const KNOWN_PHONE: &str = "010-9876-5432";

pub(crate) fn keyring() -> Keyring {
    Keyring::new("k1", [("k1".to_owned(), [7; 32])]).unwrap()
}

pub(crate) fn blind_index() -> BlindIndex {
    BlindIndex::new([9; 32])
}

/// A sealed subscriber record as the server would build it.
pub(crate) fn sealed_subscriber(id: SubscriberId, name: &str, phone: &str) -> SubscriberRecord {
    let ring = keyring();
    let record = format!("subscriber/{id}");
    let phone = normalise_phone(phone).unwrap();
    let mut fields = BTreeMap::new();
    for (field, value) in [
        ("name", name),
        ("phone", phone.as_str()),
        ("birth_date", "1950-03-01"),
        ("address", "서울특별시 중구 세종대로 110"),
        ("notes", "hard of hearing"),
    ] {
        fields.insert(
            field.to_owned(),
            ring.seal_str(&record, field, value).unwrap(),
        );
    }
    let indexes = vec![IndexEntry {
        domain: "phone".into(),
        digest: blind_index().digest("phone", &phone),
    }];
    SubscriberRecord {
        id,
        fields,
        indexes,
        language: "ko".into(),
        created_at: t(0),
        updated_at: t(0),
    }
}

pub(crate) fn sealed_guardian(id: GuardianId, subscriber_id: SubscriberId) -> GuardianRecord {
    let ring = keyring();
    let record = format!("guardian/{id}");
    let mut fields = BTreeMap::new();
    fields.insert(
        "name".to_owned(),
        ring.seal_str(&record, "name", "Hong Guardian-QZV").unwrap(),
    );
    fields.insert(
        "channels".to_owned(),
        ring.seal_str(&record, "channels", r#"[{"sms":"+821055554444"}]"#)
            .unwrap(),
    );
    GuardianRecord {
        id,
        subscriber_id,
        fields,
        created_at: t(1),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Personal fields are stored sealed: the name and phone do not appear in the database bytes (SQLite file and WAL),
/// yet open again with the key.
pub(crate) async fn personal_fields_are_not_readable_in_storage<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let id = SubscriberId::new_v4();
    store
        .put_subscriber(
            &sealed_subscriber(id, KNOWN_NAME, KNOWN_PHONE),
            &staff_change("admin", 0, "enrol"),
        )
        .await
        .unwrap();
    store
        .put_guardian(
            &sealed_guardian(GuardianId(uuid::Uuid::new_v4()), id),
            &staff_change("admin", 1, "enrol"),
        )
        .await
        .unwrap();
    let stored = store.get_subscriber(id).await.unwrap();
    let ring = keyring();
    let name = ring
        .open_str(&format!("subscriber/{id}"), "name", &stored.fields["name"])
        .unwrap();
    assert_eq!(name, KNOWN_NAME);
    if let Some(bytes) = store.database_bytes().await {
        assert!(bytes.len() > 4096);
        for needle in [
            KNOWN_NAME,
            "Hong",
            "+821098765432",
            "01098765432",
            "9876",
            "Guardian-QZV",
            "55554444",
            "세종대로",
        ] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{needle:?} is readable in the database file"
            );
        }
    }
    let audit = store.list_audit(0, 100).await.unwrap();
    for entry in &audit {
        let text = format!("{entry:?}");
        assert!(
            !text.contains("Hong") && !text.contains("9876"),
            "personal data in audit: {text}"
        );
    }
}

/// Lookup by phone goes through the keyed blind index.
pub(crate) async fn subscriber_lookup_by_blind_index<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let a = SubscriberId::new_v4();
    let b = SubscriberId::new_v4();
    store
        .put_subscriber(
            &sealed_subscriber(a, "A", "010-1111-2222"),
            &staff_change("admin", 0, "enrol"),
        )
        .await
        .unwrap();
    store
        .put_subscriber(
            &sealed_subscriber(b, "B", "010-3333-4444"),
            &staff_change("admin", 0, "enrol"),
        )
        .await
        .unwrap();
    let digest = blind_index().digest("phone", &normalise_phone("+82 10 1111 2222").unwrap());
    assert_eq!(store.find_subscribers("phone", &digest).await.unwrap(), [a]);
    let unknown = blind_index().digest("phone", "+821000000000");
    assert!(
        store
            .find_subscribers("phone", &unknown)
            .await
            .unwrap()
            .is_empty()
    );
    // Replacing the record replaces its indexes.
    store
        .put_subscriber(
            &sealed_subscriber(a, "A", "010-5555-6666"),
            &staff_change("admin", 5, "new phone"),
        )
        .await
        .unwrap();
    assert!(
        store
            .find_subscribers("phone", &digest)
            .await
            .unwrap()
            .is_empty()
    );
    let stored = store.get_subscriber(a).await.unwrap();
    assert_eq!(stored.indexes.len(), 1);
    assert!(
        store
            .get_subscriber(SubscriberId::new_v4())
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Export gathers everything about a subscriber; erasure removes the personal data and keeps the incidents.
pub(crate) async fn export_and_erase_subscriber<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = SubscriberId::new_v4();
    let record = sealed_subscriber(sid, KNOWN_NAME, KNOWN_PHONE);
    store
        .put_subscriber(&record, &staff_change("admin", 0, "enrol"))
        .await
        .unwrap();
    let gid = GuardianId(uuid::Uuid::new_v4());
    store
        .put_guardian(
            &sealed_guardian(gid, sid),
            &staff_change("admin", 1, "enrol"),
        )
        .await
        .unwrap();
    let device = DeviceRecord {
        id: DeviceId::new_v4(),
        subscriber_id: Some(sid),
        public_key: vec![3; 32],
        kind: "app".into(),
        enrolled_at: t(2),
        revoked_at: None,
    };
    store
        .put_device(&device, &staff_change("admin", 2, "enrol"))
        .await
        .unwrap();
    let incident = accept_one(&store, subscriber_alert(device.id, sid, 100)).await;

    let export = store
        .export_subscriber(sid, &staff_change("admin", 200, "subject access request"))
        .await
        .unwrap();
    assert_eq!(export.subscriber, record);
    assert_eq!(export.devices, std::slice::from_ref(&device));
    assert_eq!(export.guardians.len(), 1);
    assert_eq!(export.guardians[0].id, gid);
    assert_eq!(export.incidents.len(), 1);
    assert_eq!(export.incidents[0].id, incident);

    let report = store
        .erase_subscriber(sid, &staff_change("admin", 300, "erasure request"))
        .await
        .unwrap();
    assert_eq!(
        (
            report.n_guardians,
            report.n_devices,
            report.n_incidents_kept
        ),
        (1, 1, 1)
    );
    assert!(store.get_subscriber(sid).await.unwrap_err().is_not_found());
    assert!(store.list_guardians(sid).await.unwrap().is_empty());
    let digest = record.indexes[0].digest;
    assert!(
        store
            .find_subscribers("phone", &digest)
            .await
            .unwrap()
            .is_empty()
    );
    let device_after = store.get_device(device.id).await.unwrap();
    assert_eq!(device_after.subscriber_id, None);
    assert_eq!(device_after.revoked_at, Some(t(300)));
    assert_eq!(store.get_incident(incident).await.unwrap().id, incident);
    assert!(
        store
            .erase_subscriber(sid, &staff_change("admin", 301, "again"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let actions: Vec<String> = store
        .list_audit(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"subscriber.exported".to_owned()));
    assert!(actions.contains(&"subscriber.erased".to_owned()));
    if let Some(bytes) = store.database_bytes().await {
        assert!(!contains(&bytes, KNOWN_NAME.as_bytes()));
    }
}

/// Devices are enrolled, listed per subscriber and revoked.
/// A subscriber's language is kept as given, replaced by `put_subscriber`, set on its own (audited with the tag,
/// the record's time moved), refused for an unknown subscriber, and survives a re-put of the record (issue 21).
pub(crate) async fn subscriber_language_is_kept_and_set<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = SubscriberId::new_v4();
    let mut record = sealed_subscriber(sid, KNOWN_NAME, KNOWN_PHONE);
    record.language = "vi".into();
    store
        .put_subscriber(&record, &staff_change("admin", 0, "enrol"))
        .await
        .unwrap();
    assert_eq!(store.get_subscriber(sid).await.unwrap().language, "vi");

    store
        .set_subscriber_language(sid, "zh-Hans", &staff_change("admin", 50, "caller asked"))
        .await
        .unwrap();
    let read = store.get_subscriber(sid).await.unwrap();
    assert_eq!(read.language, "zh-Hans");
    assert_eq!(read.updated_at, t(50));
    assert_eq!(read.fields, record.fields);
    let audit = store.list_audit(0, 1_000).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "subscriber.language_set")
        .expect("the change is audited");
    assert_eq!(entry.subject, format!("subscriber/{sid}"));
    assert!(entry.detail.contains("zh-Hans"));

    // A re-put (the re-index job does one) writes the record's language, whatever it is.
    let mut again = read.clone();
    again.language = "th".into();
    store
        .put_subscriber(&again, &staff_change("admin", 60, "re-put"))
        .await
        .unwrap();
    assert_eq!(store.get_subscriber(sid).await.unwrap().language, "th");

    let unknown = store
        .set_subscriber_language(
            SubscriberId::new_v4(),
            "en",
            &staff_change("admin", 70, "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound { .. }), "{unknown:?}");
}

pub(crate) async fn devices_enrol_and_revoke<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = SubscriberId::new_v4();
    store
        .put_subscriber(
            &sealed_subscriber(sid, "A", "010-1111-2222"),
            &staff_change("admin", 0, "enrol"),
        )
        .await
        .unwrap();
    let mk = |ms: i64, subscriber_id| DeviceRecord {
        id: DeviceId::new_v4(),
        subscriber_id,
        public_key: vec![1; 32],
        kind: "u-relief".into(),
        enrolled_at: t(ms),
        revoked_at: None,
    };
    let d1 = mk(10, Some(sid));
    let d2 = mk(5, Some(sid));
    let unlinked = mk(1, None);
    for d in [&d1, &d2, &unlinked] {
        store
            .put_device(d, &staff_change("admin", 20, "enrol"))
            .await
            .unwrap();
    }
    let listed: Vec<DeviceId> = store
        .list_devices(sid)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, [d2.id, d1.id]);
    store
        .revoke_device(d1.id, &staff_change("admin", 30, "lost phone"))
        .await
        .unwrap();
    assert_eq!(
        store.get_device(d1.id).await.unwrap().revoked_at,
        Some(t(30))
    );
    assert!(
        store
            .get_device(DeviceId::new_v4())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .revoke_device(DeviceId::new_v4(), &staff_change("admin", 31, "x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    let orphan = mk(40, Some(SubscriberId::new_v4()));
    assert!(
        store
            .put_device(&orphan, &staff_change("admin", 40, "x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// The attack: registering a device under an id that exists, with the attacker's key, to take the device over or
/// to bring a revoked one back. Refused as a conflict; the stored device keeps its key, subscriber and revocation.
pub(crate) async fn existing_device_is_never_replaced<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let victim = SubscriberId::new_v4();
    let attacker = SubscriberId::new_v4();
    for (sid, name) in [(victim, "Victim"), (attacker, "Attacker")] {
        store
            .put_subscriber(
                &sealed_subscriber(sid, name, "010-1111-2222"),
                &staff_change("admin", 0, "enrol"),
            )
            .await
            .unwrap();
    }
    let device = DeviceRecord {
        id: DeviceId::new_v4(),
        subscriber_id: Some(victim),
        public_key: vec![1; 32],
        kind: "app".into(),
        enrolled_at: t(10),
        revoked_at: None,
    };
    store
        .put_device(&device, &staff_change("admin", 10, "enrol"))
        .await
        .unwrap();
    let takeover = DeviceRecord {
        subscriber_id: Some(attacker),
        public_key: vec![9; 32],
        enrolled_at: t(20),
        ..device.clone()
    };
    assert!(matches!(
        store
            .put_device(&takeover, &staff_change("admin", 20, "enrol"))
            .await,
        Err(Error::Conflict(Conflict::AlreadyExists(_)))
    ));
    assert_eq!(store.get_device(device.id).await.unwrap(), device);

    // Revocation sticks: the same id, un-revoked, is refused too.
    store
        .revoke_device(device.id, &staff_change("admin", 30, "lost phone"))
        .await
        .unwrap();
    let revive = DeviceRecord {
        enrolled_at: t(40),
        ..device.clone()
    };
    assert!(matches!(
        store
            .put_device(&revive, &staff_change("admin", 40, "enrol"))
            .await,
        Err(Error::Conflict(Conflict::AlreadyExists(_)))
    ));
    assert_eq!(
        store.get_device(device.id).await.unwrap().revoked_at,
        Some(t(30))
    );
    let saved = store
        .list_audit(0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "device.saved")
        .count();
    assert_eq!(saved, 1);
    crate::verify_audit(&store).await.unwrap();
}

/// Guardians belong to an existing subscriber; listed by creation; deleted with their sealed fields.
pub(crate) async fn guardians_are_saved_listed_and_deleted<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = SubscriberId::new_v4();
    store
        .put_subscriber(
            &sealed_subscriber(sid, "A", "010-1111-2222"),
            &staff_change("admin", 0, "enrol"),
        )
        .await
        .unwrap();
    let g = sealed_guardian(GuardianId(uuid::Uuid::new_v4()), sid);
    store
        .put_guardian(&g, &staff_change("admin", 1, "add"))
        .await
        .unwrap();
    assert_eq!(
        store.list_guardians(sid).await.unwrap(),
        std::slice::from_ref(&g)
    );
    let orphan = sealed_guardian(GuardianId(uuid::Uuid::new_v4()), SubscriberId::new_v4());
    assert!(
        store
            .put_guardian(&orphan, &staff_change("admin", 2, "x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    store
        .delete_guardian(g.id, &staff_change("admin", 3, "removed"))
        .await
        .unwrap();
    assert!(store.list_guardians(sid).await.unwrap().is_empty());
    assert!(
        store
            .delete_guardian(g.id, &staff_change("admin", 4, "again"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Units: upsert, AVL position reports, status changes, listing by call sign.
pub(crate) async fn units_positions_and_status<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    for id in ["P-2", "P-1"] {
        let unit = Unit {
            id: UnitId::new(id),
            status: UnitStatus::Available,
            position: None,
            reported_at: None,
            unit_type: jikimi_respond::UnitType::Police,
            capabilities: Default::default(),
        };
        store
            .put_unit(&unit, &staff_change("admin", 0, "fleet"))
            .await
            .unwrap();
    }
    let here = Coordinates::new(37.5, 127.0).unwrap();
    store
        .report_position(
            &UnitId::new("P-1"),
            PositionReport {
                position: here,
                at: t(5),
            },
        )
        .await
        .unwrap();
    let updated = store
        .set_unit_status(
            &UnitId::new("P-2"),
            UnitStatus::Dispatched,
            &staff_change("kim", 6, "x"),
        )
        .await
        .unwrap();
    assert_eq!(updated.status, UnitStatus::Dispatched);
    let units = store.list_units().await.unwrap();
    assert_eq!(
        units.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["P-1", "P-2"]
    );
    assert_eq!(units[0].position, Some(here));
    assert_eq!(units[0].reported_at, Some(t(5)));
    assert_eq!(store.get_unit(&UnitId::new("P-2")).await.unwrap(), updated);
    let missing = UnitId::new("P-404");
    assert!(store.get_unit(&missing).await.unwrap_err().is_not_found());
    assert!(
        store
            .report_position(
                &missing,
                PositionReport {
                    position: here,
                    at: t(7)
                }
            )
            .await
            .unwrap_err()
            .is_not_found()
    );
    // A batch: known units updated in one transaction, in the order given; unknown ones skipped.
    let there = Coordinates::new(37.6, 127.1).unwrap();
    let batch = store
        .report_positions(&[
            (
                UnitId::new("P-2"),
                PositionReport {
                    position: there,
                    at: t(9),
                },
            ),
            (
                missing.clone(),
                PositionReport {
                    position: there,
                    at: t(9),
                },
            ),
            (
                UnitId::new("P-1"),
                PositionReport {
                    position: there,
                    at: t(9),
                },
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        batch.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["P-2", "P-1"]
    );
    assert_eq!(batch[0].status, UnitStatus::Dispatched, "status kept");
    for unit in &batch {
        assert_eq!(unit.position, Some(there));
        assert_eq!(unit.reported_at, Some(t(9)));
        assert_eq!(&store.get_unit(&unit.id).await.unwrap(), unit);
    }
    assert!(store.report_positions(&[]).await.unwrap().is_empty());
    assert!(
        store
            .set_unit_status(&missing, UnitStatus::OffDuty, &staff_change("kim", 8, "x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// Staff accounts and expiring sessions.
pub(crate) async fn staff_and_sessions<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let user = StaffUser {
        username: "kim".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::Dispatcher,
        created_at: t(0),
        disabled: false,
    };
    store
        .create_staff(&user, &staff_change("admin", 0, "hire"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_staff(&user, &staff_change("admin", 1, "again"))
            .await,
        Err(crate::Error::Conflict(crate::Conflict::AlreadyExists(_)))
    ));
    assert_eq!(store.get_staff("kim").await.unwrap(), user);
    let promoted = StaffUser {
        role: Role::Supervisor,
        ..user.clone()
    };
    store
        .update_staff(&promoted, &staff_change("admin", 2, "promotion"))
        .await
        .unwrap();
    assert_eq!(store.list_staff().await.unwrap(), [promoted]);
    assert!(store.get_staff("nobody").await.unwrap_err().is_not_found());

    let session = SessionRecord {
        token_hash: [4; 32],
        username: "kim".into(),
        role: Role::Supervisor,
        created_at: t(10),
        expires_at: t(1_000),
    };
    store
        .create_session(&session, &staff_change("kim", 10, "login"))
        .await
        .unwrap();
    assert_eq!(store.get_session(&[4; 32], t(999)).await.unwrap(), session);
    assert!(
        store
            .get_session(&[4; 32], t(1_000))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .get_session(&[5; 32], t(0))
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(store.purge_sessions(t(2_000)).await.unwrap(), 1);
    let other = SessionRecord {
        token_hash: [6; 32],
        ..session
    };
    store
        .create_session(&other, &staff_change("kim", 11, "login"))
        .await
        .unwrap();
    store
        .delete_session(&[6; 32], &staff_change("kim", 12, "logout"))
        .await
        .unwrap();
    assert!(
        store
            .get_session(&[6; 32], t(12))
            .await
            .unwrap_err()
            .is_not_found()
    );
}
