//! The cluster's store (issue 18): change events written with the commit that makes them and claimed, published
//! and re-claimed after a lost lease; named leases held by one holder until they expire.

use super::{TestStore, accept_one, alert, staff_change, t};
use crate::Committed;
use jikimi_respond::{DeviceId, Unit, UnitId, UnitStatus};

pub(crate) async fn change_events_are_written_with_their_commit<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    // Off by default: a commit writes no event.
    accept_one(&store, alert(DeviceId::new_v4(), 0)).await;
    assert_eq!(store.change_outbox_depth().await.unwrap().pending, 0);

    store.record_change_events(true);
    let first = alert(DeviceId::new_v4(), 1_000);
    let incident = accept_one(&store, first.clone()).await;
    // A retried alert (same alert id, a new nonce) commits nothing new: no event.
    let retry = crate::NewAlert {
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        ..first
    };
    let again = store.record_alerts(vec![retry]).await.unwrap();
    assert!(again[0].as_ref().unwrap().duplicate);
    let unit = Unit {
        id: UnitId::new("P-7"),
        status: UnitStatus::Available,
        position: None,
        reported_at: None,
        unit_type: jikimi_respond::UnitType::Police,
        capabilities: Default::default(),
    };
    store
        .put_unit(&unit, &staff_change("admin", 2_000, "new unit"))
        .await
        .unwrap();
    let depth = store.change_outbox_depth().await.unwrap();
    assert_eq!(depth.pending, 2, "{depth:?}");
    assert!(depth.oldest_at.is_some());

    let (token, events) = store
        .claim_change_events(t(3_000), t(13_000), 100)
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0].seq < events[1].seq);
    assert_ne!(events[0].id, events[1].id);
    assert_eq!(events[0].changes, vec![Committed::IncidentOpened(incident)]);
    assert_eq!(
        events[1].changes,
        vec![Committed::UnitUpdated(UnitId::new("P-7"))]
    );
    // Leased: another relay gets nothing until the lease expires.
    let (_, none) = store
        .claim_change_events(t(4_000), t(14_000), 100)
        .await
        .unwrap();
    assert!(none.is_empty());

    // The relay died after publishing the first: its lease expires and another claims both again, same ids.
    let (token2, again) = store
        .claim_change_events(t(13_000), t(23_000), 100)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|e| e.id).collect::<Vec<_>>(),
        events.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    // The lost lease marks nothing; the new one marks what it published.
    assert_eq!(
        store
            .mark_change_events_published(token, events[1].seq, t(14_000))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .mark_change_events_published(token2, again[0].seq, t(14_000))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.change_outbox_depth().await.unwrap().pending, 1);
    assert_eq!(
        store
            .mark_change_events_published(token2, again[1].seq, t(15_000))
            .await
            .unwrap(),
        1
    );
    let depth = store.change_outbox_depth().await.unwrap();
    assert_eq!((depth.pending, depth.oldest_at), (0, None));
    assert_eq!(depth.last_seq, again[1].seq);
    // Published: never claimed again, and purged once old.
    let (_, none) = store
        .claim_change_events(t(60_000), t(70_000), 100)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(
        store
            .purge_published_change_events(t(14_500))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .purge_published_change_events(t(60_000))
            .await
            .unwrap(),
        1
    );
}

pub(crate) async fn a_rolled_back_change_writes_no_event<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    store.record_change_events(true);
    let device = DeviceId::new_v4();
    let first = alert(device, 0);
    accept_one(&store, first.clone()).await;
    // The same nonce under a new alert id is refused: nothing commits, no event.
    let replay = crate::NewAlert {
        alert_id: jikimi_respond::AlertId::new_v4(),
        incident_id: jikimi_respond::IncidentId::new_v7(),
        ..first
    };
    let results = store.record_alerts(vec![replay]).await.unwrap();
    assert!(results[0].is_err());
    assert_eq!(store.change_outbox_depth().await.unwrap().pending, 1);
}

pub(crate) async fn a_lease_has_one_holder_until_it_expires<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    assert!(
        store
            .acquire_lease("purge", "a", t(0), t(10_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_lease("purge", "b", t(1_000), t(11_000))
            .await
            .unwrap()
    );
    // Renewed by its holder, which keeps its start.
    assert!(
        store
            .acquire_lease("purge", "a", t(5_000), t(15_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_lease("purge", "b", t(14_999), t(20_000))
            .await
            .unwrap()
    );
    // Another lease is independent.
    assert!(
        store
            .acquire_lease("federation-sync", "b", t(1_000), t(9_000))
            .await
            .unwrap()
    );
    let leases = store.list_leases().await.unwrap();
    assert_eq!(leases.len(), 2);
    assert_eq!(leases[1].name, "purge");
    assert_eq!(
        (
            leases[1].holder.as_str(),
            leases[1].acquired_at,
            leases[1].expires_at
        ),
        ("a", t(0), t(15_000))
    );
    // Expired: taken by another, and the old holder can no longer renew or release it.
    assert!(
        store
            .acquire_lease("purge", "b", t(15_000), t(25_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_lease("purge", "a", t(16_000), t(26_000))
            .await
            .unwrap()
    );
    assert!(!store.release_lease("purge", "a").await.unwrap());
    let purge = store.list_leases().await.unwrap().pop().unwrap();
    assert_eq!((purge.holder.as_str(), purge.acquired_at), ("b", t(15_000)));
    // Released: free for anyone at once.
    assert!(store.release_lease("purge", "b").await.unwrap());
    assert!(
        store
            .acquire_lease("purge", "a", t(16_000), t(26_000))
            .await
            .unwrap()
    );
}

/// A rolling upgrade: a node of the previous release restarts after a newer one migrated the database. Its store
/// starts (the newer migration is left alone) and works; a changed migration it knows would still be refused.
pub(crate) async fn a_migration_newer_than_the_binary_is_accepted<S: TestStore>() {
    let (store, guard) = S::fresh().await;
    let added = store
        .raw_update(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             SELECT 99990101000000, $1, success, checksum, execution_time FROM _sqlx_migrations \
             WHERE version = (SELECT MIN(version) FROM _sqlx_migrations)",
            "from the next release",
        )
        .await;
    assert_eq!(added, 1);
    let store = store.reopen(&guard).await;
    store
        .migrate()
        .await
        .expect("a newer migration in the database does not stop an older binary");
    accept_one(&store, alert(DeviceId::new_v4(), 0)).await;
    // What `jikimi cluster status` shows of the database: a test's server takes writes, or it is SQLite.
    let role = store.database_role().await.unwrap();
    match role.server {
        Some(server) => {
            assert_eq!(role.role, "primary");
            assert!(server.contains("PostgreSQL"), "{server}");
        }
        None => assert_eq!(role.role, "embedded"),
    }
}
