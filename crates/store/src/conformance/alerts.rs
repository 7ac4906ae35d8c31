//! Alert intake: incident creation, idempotency, replay protection, batching.

use super::{TestStore, accept_one, alert, t};
use crate::{Conflict, Error, IncidentFilter};
use jikimi_respond::{DeviceId, EventKind, IncidentStatus};

/// A signed (authenticated) alert creates an incident with its first event and an audit entry.
pub(crate) async fn signed_alert_creates_incident<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let new = alert(device, 0);
    let incident_id = accept_one(&store, new.clone()).await;
    assert_eq!(incident_id, new.incident_id);
    let incident = store.get_incident(incident_id).await.unwrap();
    assert_eq!(incident.status, IncidentStatus::Received);
    assert_eq!(incident.alert_id, new.alert_id);
    assert_eq!(incident.location, new.fix);
    assert_eq!(incident.last_seq, 1);
    let events = store.load_events(incident_id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(matches!(
        events[0].kind,
        EventKind::AlertReceived { silent: true, .. }
    ));
    let audit = store.list_audit(0, 100).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "alert.received");
    assert_eq!(audit[0].subject, format!("incident/{incident_id}"));
    assert_eq!(audit[0].actor, format!("device:{device}"));
}

/// The same alert id from the same device, retried with a fresh nonce, returns the first incident.
pub(crate) async fn retried_alert_is_not_duplicated<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let first = alert(device, 0);
    let incident_id = accept_one(&store, first.clone()).await;
    let retry = crate::NewAlert {
        incident_id: jikimi_respond::IncidentId::new_v7(),
        nonce: "another-nonce".into(),
        received_at: t(2_000),
        ..first.clone()
    };
    let results = store.record_alerts(vec![retry]).await.unwrap();
    let again = results[0].as_ref().unwrap();
    assert!(again.duplicate);
    assert_eq!(again.incident_id, incident_id);
    // The same alert id from another device is another alert.
    let other = crate::NewAlert {
        device_id: DeviceId::new_v4(),
        ..alert(device, 3_000)
    };
    let other = crate::NewAlert {
        alert_id: first.alert_id,
        ..other
    };
    accept_one(&store, other).await;
    let all = store
        .list_incidents(&IncidentFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
}

/// Two copies of one alert in a single batch: one incident, the second marked duplicate.
pub(crate) async fn duplicate_within_one_batch<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let first = alert(device, 0);
    let copy = crate::NewAlert {
        incident_id: jikimi_respond::IncidentId::new_v7(),
        nonce: "nonce-of-the-copy".into(),
        ..first.clone()
    };
    let results = store
        .record_alerts(vec![first.clone(), copy])
        .await
        .unwrap();
    let a = results[0].as_ref().unwrap();
    let b = results[1].as_ref().unwrap();
    assert!(!a.duplicate);
    assert!(b.duplicate);
    assert_eq!(a.incident_id, b.incident_id);
    assert_eq!(
        store
            .list_incidents(&IncidentFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A nonce the device used before is refused, makes no incident, and is audited; also within one batch.
pub(crate) async fn replayed_nonce_is_refused<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let first = alert(device, 0);
    accept_one(&store, first.clone()).await;
    let replay = crate::NewAlert {
        nonce: first.nonce.clone(),
        ..alert(device, 1_000)
    };
    let results = store.record_alerts(vec![replay]).await.unwrap();
    assert!(matches!(
        results[0],
        Err(Error::Conflict(Conflict::NonceReplayed))
    ));
    // Within one batch: the second use of a nonce is refused, the first accepted.
    let a = alert(device, 2_000);
    let b = crate::NewAlert {
        nonce: a.nonce.clone(),
        ..alert(device, 2_001)
    };
    let results = store.record_alerts(vec![a, b]).await.unwrap();
    assert!(results[0].is_ok());
    assert!(matches!(
        results[1],
        Err(Error::Conflict(Conflict::NonceReplayed))
    ));
    // The same nonce from another device is fine: nonces are per device.
    let other = crate::NewAlert {
        nonce: first.nonce.clone(),
        ..alert(DeviceId::new_v4(), 3_000)
    };
    accept_one(&store, other).await;
    assert_eq!(
        store
            .list_incidents(&IncidentFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );
    let audit = store.list_audit(0, 100).await.unwrap();
    let rejected: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "alert.rejected")
        .collect();
    assert_eq!(rejected.len(), 2);
    assert!(rejected[0].detail.contains("nonce_replayed"));
}

/// Nonces are persisted: a restart does not reopen the replay window.
pub(crate) async fn nonce_replay_protection_survives_reopen<S: TestStore>() {
    let (store, guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let first = alert(device, 0);
    accept_one(&store, first.clone()).await;
    let store = store.reopen(&guard).await;
    let replay = crate::NewAlert {
        nonce: first.nonce.clone(),
        ..alert(device, 1_000)
    };
    let results = store.record_alerts(vec![replay]).await.unwrap();
    assert!(matches!(
        results[0],
        Err(Error::Conflict(Conflict::NonceReplayed))
    ));
    // Purging nonces older than the server's timestamp window forgets them.
    assert_eq!(store.purge_nonces(t(500)).await.unwrap(), 1);
}

/// Hundreds of alerts in one batch, from many devices, with retries mixed in: all committed together.
pub(crate) async fn large_batch_in_one_transaction<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let devices: Vec<DeviceId> = (0..50).map(|_| DeviceId::new_v4()).collect();
    let mut batch: Vec<_> = (0..400)
        .map(|i| alert(devices[i % devices.len()], i as i64))
        .collect();
    let retries: Vec<_> = batch[..20]
        .iter()
        .map(|a| crate::NewAlert {
            nonce: format!("retry-{}", a.nonce),
            ..a.clone()
        })
        .collect();
    batch.extend(retries);
    let results = store.record_alerts(batch).await.unwrap();
    assert_eq!(results.len(), 420);
    let n_new = results
        .iter()
        .filter(|r| matches!(r, Ok(a) if !a.duplicate))
        .count();
    let n_dup = results
        .iter()
        .filter(|r| matches!(r, Ok(a) if a.duplicate))
        .count();
    assert_eq!((n_new, n_dup), (400, 20));
    let filter = IncidentFilter {
        limit: 10_000,
        ..IncidentFilter::default()
    };
    assert_eq!(store.list_incidents(&filter).await.unwrap().len(), 400);
    assert_eq!(crate::verify_audit(&store).await.unwrap(), 420);
}

/// An empty batch writes nothing.
pub(crate) async fn empty_batch_is_a_no_op<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    assert!(store.record_alerts(Vec::new()).await.unwrap().is_empty());
    assert!(store.list_audit(0, 10).await.unwrap().is_empty());
}
