//! The 112 app: one-time enrolment codes (single use, expiry, bounded guessing), subscriber PINs with a wrong-PIN
//! lockout, and device events on the device's own incident (location stream, cancel, duress escalation).

use super::{TestStore, accept_one, staff_change, subscriber_alert, t};
use super::{registration::sealed_subscriber, seoul};
use crate::{
    Change, Conflict, DeviceEvent, DeviceRecord, Enrolment, EnrolmentCheck, EnrolmentCode,
    EnrolmentRefusal, Error, NonceClaim, PinHashes, Store,
};
use jikimi_respond::{
    Actor, DeviceId, EscalationReason, EventKind, FixMethod, IncidentStatus, LocationFix, Outcome,
    Priority, SubscriberId, TransitionError,
};

async fn subscriber<S: Store>(store: &S) -> SubscriberId {
    let sid = SubscriberId::new_v4();
    store
        .put_subscriber(
            &sealed_subscriber(sid, "App User", "010-3333-4444"),
            &staff_change("registrar", 0, "register"),
        )
        .await
        .unwrap();
    sid
}

fn code(handle: &str, secret: u8, sid: SubscriberId, expires_ms: i64) -> EnrolmentCode {
    EnrolmentCode {
        handle: handle.into(),
        code_hash: [secret; 32],
        subscriber_id: sid,
        created_at: t(0),
        expires_at: t(expires_ms),
        replace_pins: false,
    }
}

fn enrolment(handle: &str, secret: u8) -> Enrolment {
    Enrolment {
        handle: handle.into(),
        code_hash: [secret; 32],
        device: DeviceRecord {
            id: DeviceId::new_v4(),
            subscriber_id: None,
            public_key: vec![3; 32],
            kind: "app".into(),
            enrolled_at: t(100),
            revoked_at: None,
        },
        pins: Some(PinHashes {
            pin_hash: "$argon2id$pin".into(),
            duress_pin_hash: Some("$argon2id$duress".into()),
        }),
        max_attempts: 3,
    }
}

fn device_change(ms: i64) -> Change {
    Change::new(Actor::System, t(ms), "device enrolment")
}

fn actions(entries: &[jikimi_audit::AuditEntry], action: &str) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.action == action)
        .map(|e| e.detail.clone())
        .collect()
}

/// A right code enrols the device for the code's subscriber, once; PINs come with it; it is audited.
pub(crate) async fn enrolment_code_enrols_a_device_once<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = subscriber(&store).await;
    store
        .issue_enrolment_code(
            &code("ABC123", 7, sid, 60_000),
            &staff_change("kim", 1, "new phone"),
        )
        .await
        .unwrap();
    let request = enrolment("ABC123", 7);
    let device = store
        .redeem_enrolment_code(&request, &device_change(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device.subscriber_id, Some(sid));
    assert_eq!(store.get_device(request.device.id).await.unwrap(), device);
    let pins = store.get_pins(sid).await.unwrap();
    assert_eq!(pins.pins, request.pins.clone().unwrap());
    assert_eq!(pins.failed_attempts, 0);

    // Single use: the same code again (another device) is refused as used, and nothing is enrolled.
    let again = enrolment("ABC123", 7);
    assert_eq!(
        store
            .redeem_enrolment_code(&again, &device_change(200))
            .await
            .unwrap(),
        Err(EnrolmentRefusal::AlreadyUsed)
    );
    assert!(
        store
            .get_device(again.device.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let audit = store.list_audit(0, 1_000).await.unwrap();
    assert_eq!(actions(&audit, "enrolment.issued").len(), 1);
    assert_eq!(actions(&audit, "device.enrolled").len(), 1);
    let refused = actions(&audit, "enrolment.refused");
    assert_eq!(refused.len(), 1);
    assert!(refused[0].contains("already_used"), "{refused:?}");
    // The code is never in the audit log, only its handle.
    assert!(!format!("{audit:?}").contains("[7, 7, 7"));
    crate::verify_audit(&store).await.unwrap();
}

/// Unknown, expired and wrong codes are refused and audited; wrong codes lock the handle after `max_attempts`,
/// after which even the right code is refused.
pub(crate) async fn enrolment_code_refusals_and_lockout<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = subscriber(&store).await;
    store
        .issue_enrolment_code(&code("EXP001", 1, sid, 1_000), &staff_change("kim", 1, "x"))
        .await
        .unwrap();
    store
        .issue_enrolment_code(
            &code("GUESS1", 2, sid, 60_000),
            &staff_change("kim", 2, "x"),
        )
        .await
        .unwrap();
    // The handle is unique.
    assert!(matches!(
        store
            .issue_enrolment_code(
                &code("GUESS1", 9, sid, 60_000),
                &staff_change("kim", 3, "x")
            )
            .await,
        Err(Error::Conflict(Conflict::AlreadyExists(_)))
    ));
    // Unknown subscriber.
    assert!(
        store
            .issue_enrolment_code(
                &code("NOSUB1", 2, SubscriberId::new_v4(), 60_000),
                &staff_change("kim", 3, "x")
            )
            .await
            .unwrap_err()
            .is_not_found()
    );

    let redeem = |handle: &'static str, secret: u8, ms: i64| {
        let store = &store;
        async move {
            store
                .redeem_enrolment_code(&enrolment(handle, secret), &device_change(ms))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        redeem("NOPE00", 1, 10).await,
        Err(EnrolmentRefusal::Unknown)
    );
    assert_eq!(
        redeem("EXP001", 1, 1_000).await,
        Err(EnrolmentRefusal::Expired)
    );
    assert_eq!(
        redeem("GUESS1", 3, 10).await,
        Err(EnrolmentRefusal::WrongCode { attempts_left: 2 })
    );
    assert_eq!(
        redeem("GUESS1", 4, 11).await,
        Err(EnrolmentRefusal::WrongCode { attempts_left: 1 })
    );
    assert_eq!(redeem("GUESS1", 5, 12).await, Err(EnrolmentRefusal::Locked));
    assert_eq!(redeem("GUESS1", 2, 13).await, Err(EnrolmentRefusal::Locked));
    assert!(store.list_devices(sid).await.unwrap().is_empty());
    assert!(store.get_pins(sid).await.unwrap_err().is_not_found());
    let audit = store.list_audit(0, 1_000).await.unwrap();
    let refused = actions(&audit, "enrolment.refused");
    assert_eq!(refused.len(), 6, "{refused:?}");
    for (detail, word) in refused.iter().zip([
        "unknown",
        "expired",
        "wrong_code",
        "wrong_code",
        "locked",
        "locked",
    ]) {
        assert!(detail.contains(word), "{detail} should say {word}");
    }
    crate::verify_audit(&store).await.unwrap();
}

/// PINs are set, read, counted when wrong, locked at the limit (counter restarts), and reset by a new set.
pub(crate) async fn pins_count_failures_and_lock<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = subscriber(&store).await;
    assert!(store.get_pins(sid).await.unwrap_err().is_not_found());
    let pins = PinHashes {
        pin_hash: "$argon2id$a".into(),
        duress_pin_hash: None,
    };
    assert!(
        store
            .set_pins(SubscriberId::new_v4(), &pins, &staff_change("kim", 1, "x"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    store
        .set_pins(sid, &pins, &staff_change("kim", 1, "pins"))
        .await
        .unwrap();
    let r1 = store
        .record_pin_failure(sid, 2, 60_000, None, &device_change(10))
        .await
        .unwrap();
    assert_eq!((r1.failed_attempts, r1.locked_until), (1, None));
    let r2 = store
        .record_pin_failure(sid, 2, 60_000, None, &device_change(20))
        .await
        .unwrap();
    assert_eq!((r2.failed_attempts, r2.locked_until), (0, Some(t(60_020))));
    assert_eq!(
        store.get_pins(sid).await.unwrap().locked_until,
        Some(t(60_020))
    );
    store
        .set_pins(sid, &pins, &staff_change("kim", 30, "reset"))
        .await
        .unwrap();
    let reset = store.get_pins(sid).await.unwrap();
    assert_eq!((reset.failed_attempts, reset.locked_until), (0, None));
    let audit = store.list_audit(0, 1_000).await.unwrap();
    assert_eq!(actions(&audit, "subscriber.pin_failed").len(), 2);
    assert_eq!(actions(&audit, "subscriber.pins_set").len(), 2);
    // Erasure removes the PINs with the subscriber.
    store
        .erase_subscriber(sid, &staff_change("kim", 40, "erase"))
        .await
        .unwrap();
    assert!(store.get_pins(sid).await.unwrap_err().is_not_found());
}

fn device_event(
    incident_id: jikimi_respond::IncidentId,
    device_id: DeviceId,
    kind: EventKind,
    ms: i64,
) -> DeviceEvent {
    DeviceEvent {
        incident_id,
        device_id,
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        kind,
        pin_accepted: false,
        at: t(ms),
        reason: "device request".into(),
    }
}

fn fix(ms: i64) -> LocationFix {
    LocationFix::new(seoul(), 8.0, FixMethod::Gnss, t(ms)).unwrap()
}

/// The device's own incident takes location updates, refuses replays and other devices, escalates on duress
/// (staying open at code 0), and after a cancel refuses further updates.
pub(crate) async fn device_events_on_own_incident<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = subscriber(&store).await;
    let device = DeviceId::new_v4();
    let incident_id = accept_one(&store, subscriber_alert(device, sid, 1_000)).await;

    let located = device_event(
        incident_id,
        device,
        EventKind::LocationAdded { fix: fix(1_500) },
        2_000,
    );
    let incident = store.append_device_event(&located).await.unwrap();
    assert_eq!(incident.n_fixes, 2);
    assert_eq!(incident.last_seq, 2);
    // The same nonce again is a replay.
    assert!(matches!(
        store.append_device_event(&located).await,
        Err(Error::Conflict(Conflict::NonceReplayed))
    ));
    // Another device cannot touch it: it looks like a missing incident.
    let stranger = device_event(incident_id, DeviceId::new_v4(), EventKind::Cancelled, 2_100);
    assert!(
        store
            .append_device_event(&stranger)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Duress: escalated to code 0, still open, the wrong-PIN counter reset.
    store
        .set_pins(
            sid,
            &PinHashes {
                pin_hash: "p".into(),
                duress_pin_hash: Some("d".into()),
            },
            &staff_change("kim", 2_200, "pins"),
        )
        .await
        .unwrap();
    store
        .record_pin_failure(sid, 5, 60_000, None, &device_change(2_300))
        .await
        .unwrap();
    let duress = DeviceEvent {
        pin_accepted: true,
        ..device_event(
            incident_id,
            device,
            EventKind::Escalated {
                priority: Priority::MOST_URGENT,
                reason: EscalationReason::Duress,
            },
            3_000,
        )
    };
    let incident = store.append_device_event(&duress).await.unwrap();
    assert_eq!(incident.priority, Priority::MOST_URGENT);
    assert!(incident.duress);
    assert_eq!(incident.status, IncidentStatus::Received);
    assert_eq!(store.get_pins(sid).await.unwrap().failed_attempts, 0);
    assert_eq!(store.get_incident(incident_id).await.unwrap(), incident);
    // Listed first in the queue.
    let queue = store
        .list_incidents(&crate::IncidentFilter::open())
        .await
        .unwrap();
    assert_eq!(queue[0].id, incident_id);

    // A genuine cancel closes it; later updates are refused and leave it unchanged.
    let incident = store
        .append_device_event(&device_event(
            incident_id,
            device,
            EventKind::Cancelled,
            4_000,
        ))
        .await
        .unwrap();
    assert_eq!(incident.status, IncidentStatus::Closed);
    assert_eq!(incident.outcome, Some(Outcome::Cancelled));
    let late = device_event(
        incident_id,
        device,
        EventKind::LocationAdded { fix: fix(4_500) },
        5_000,
    );
    assert!(matches!(
        store.append_device_event(&late).await,
        Err(Error::IllegalTransition(TransitionError::Closed { .. }))
    ));
    assert_eq!(store.get_incident(incident_id).await.unwrap(), incident);
    // The log holds every accepted event; the projection refolds to the same state.
    assert_eq!(store.load_events(incident_id).await.unwrap().len(), 4);
    store.rebuild_projections().await.unwrap();
    assert_eq!(store.get_incident(incident_id).await.unwrap(), incident);
    let audit = store.list_audit(0, 1_000).await.unwrap();
    let escalated = actions(&audit, "incident.escalated");
    assert_eq!(escalated.len(), 1);
    assert!(escalated[0].contains("duress"), "{escalated:?}");
    assert_eq!(actions(&audit, "incident.cancelled").len(), 1);
    crate::verify_audit(&store).await.unwrap();
}

/// Checking a code before the expensive work: a wrong code counts and is audited like a redeem; a right one
/// writes nothing, stays usable, and says whether PINs are set and whether the code may replace them.
pub(crate) async fn enrolment_code_is_checked_before_use<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = subscriber(&store).await;
    store
        .issue_enrolment_code(
            &code("CHK001", 4, sid, 60_000),
            &staff_change("kim", 1, "x"),
        )
        .await
        .unwrap();
    let before = store.list_audit(0, 1_000).await.unwrap().len();
    assert_eq!(
        store
            .check_enrolment_code("CHK001", &[4; 32], 3, &device_change(10))
            .await
            .unwrap(),
        Ok(EnrolmentCheck {
            subscriber_id: sid,
            pins_set: false,
            replace_pins: false
        })
    );
    assert_eq!(store.list_audit(0, 1_000).await.unwrap().len(), before);
    assert_eq!(
        store
            .check_enrolment_code("CHK001", &[5; 32], 3, &device_change(20))
            .await
            .unwrap(),
        Err(EnrolmentRefusal::WrongCode { attempts_left: 2 })
    );
    assert_eq!(
        store
            .check_enrolment_code("NOPE00", &[5; 32], 3, &device_change(20))
            .await
            .unwrap(),
        Err(EnrolmentRefusal::Unknown)
    );
    let audit = store.list_audit(0, 1_000).await.unwrap();
    assert_eq!(actions(&audit, "enrolment.refused").len(), 2);
    // The wrong try counted against the handle: two more wrong redeems lock it.
    let mut wrong = enrolment("CHK001", 5);
    wrong.pins = None;
    store
        .redeem_enrolment_code(&wrong, &device_change(30))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        store
            .redeem_enrolment_code(&wrong, &device_change(40))
            .await
            .unwrap(),
        Err(EnrolmentRefusal::Locked)
    );
    crate::verify_audit(&store).await.unwrap();
}

/// The attack: a code holder enrols a phone with new PINs for a subscriber who has PINs. Refused (the code stays
/// usable without PINs); only a code issued with `replace_pins` replaces them, audited as a replacement.
pub(crate) async fn enrolment_never_replaces_pins_without_approval<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = subscriber(&store).await;
    let old = PinHashes {
        pin_hash: "$argon2id$old".into(),
        duress_pin_hash: Some("$argon2id$old-duress".into()),
    };
    store
        .set_pins(sid, &old, &staff_change("kim", 1, "pins"))
        .await
        .unwrap();
    store
        .issue_enrolment_code(
            &code("PLAIN1", 6, sid, 60_000),
            &staff_change("kim", 2, "x"),
        )
        .await
        .unwrap();
    let check = store
        .check_enrolment_code("PLAIN1", &[6; 32], 3, &device_change(5))
        .await
        .unwrap()
        .unwrap();
    assert!(check.pins_set && !check.replace_pins);
    let with_pins = enrolment("PLAIN1", 6);
    assert_eq!(
        store
            .redeem_enrolment_code(&with_pins, &device_change(10))
            .await
            .unwrap(),
        Err(EnrolmentRefusal::PinsAlreadySet)
    );
    assert_eq!(store.get_pins(sid).await.unwrap().pins, old);
    assert!(
        store
            .get_device(with_pins.device.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // The same code without PINs still enrols the device and leaves the PINs alone.
    let without = Enrolment {
        pins: None,
        ..enrolment("PLAIN1", 6)
    };
    store
        .redeem_enrolment_code(&without, &device_change(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get_pins(sid).await.unwrap().pins, old);

    // A supervisor's code may replace them.
    store
        .issue_enrolment_code(
            &EnrolmentCode {
                replace_pins: true,
                ..code("SUPER1", 8, sid, 60_000)
            },
            &staff_change("supervisor", 30, "lost PIN"),
        )
        .await
        .unwrap();
    let replacing = enrolment("SUPER1", 8);
    store
        .redeem_enrolment_code(&replacing, &device_change(40))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.get_pins(sid).await.unwrap().pins,
        replacing.pins.clone().unwrap()
    );
    let audit = store.list_audit(0, 1_000).await.unwrap();
    let issued = actions(&audit, "enrolment.issued");
    assert!(
        issued.iter().any(|d| d.contains("\"replace_pins\":true")),
        "{issued:?}"
    );
    let enrolled = actions(&audit, "device.enrolled");
    assert_eq!(enrolled.len(), 2);
    assert!(
        enrolled[1].contains("\"pins_replaced\":true"),
        "{enrolled:?}"
    );
    let refused = actions(&audit, "enrolment.refused");
    assert!(
        refused.iter().any(|d| d.contains("pins_already_set")),
        "{refused:?}"
    );
    crate::verify_audit(&store).await.unwrap();
}

/// The attack: a captured wrong-PIN request replayed to lock the subscriber's PINs. The nonce is claimed with the
/// failure, so the replay is refused and counts nothing.
pub(crate) async fn wrong_pin_burns_its_nonce<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let sid = subscriber(&store).await;
    store
        .set_pins(
            sid,
            &PinHashes {
                pin_hash: "p".into(),
                duress_pin_hash: None,
            },
            &staff_change("kim", 1, "pins"),
        )
        .await
        .unwrap();
    let claim = NonceClaim {
        device_id: DeviceId::new_v4(),
        nonce: "n-1".into(),
        at: t(10),
    };
    let first = store
        .record_pin_failure(sid, 5, 60_000, Some(&claim), &device_change(10))
        .await
        .unwrap();
    assert_eq!(first.failed_attempts, 1);
    for ms in [20, 30, 40, 50, 60] {
        assert!(matches!(
            store
                .record_pin_failure(sid, 5, 60_000, Some(&claim), &device_change(ms))
                .await,
            Err(Error::Conflict(Conflict::NonceReplayed))
        ));
    }
    let pins = store.get_pins(sid).await.unwrap();
    assert_eq!((pins.failed_attempts, pins.locked_until), (1, None));
    let audit = store.list_audit(0, 1_000).await.unwrap();
    assert_eq!(actions(&audit, "subscriber.pin_failed").len(), 1);
}
