//! Surge clustering: nearby alerts from different devices join one open incident as reports, each alert still
//! stored and audited on its own, in the same transaction; closed incidents and stale clusters take no reports.

use super::{TestStore, alert, seoul, staff_change, t};
use crate::{IncidentFilter, NewAlert};
use jikimi_respond::{
    Coordinates, DeviceId, EventKind, FixMethod, IncidentId, LocationFix, Outcome, Priority,
    SurgeConfig,
};

/// An alert from a new device at `position` with the given accuracy and priority.
fn alert_at(position: Coordinates, accuracy_m: f64, priority: u8, ms: i64) -> NewAlert {
    NewAlert {
        priority: Priority::new(priority).unwrap(),
        fix: Some(LocationFix::new(position, accuracy_m, FixMethod::Gnss, t(ms - 100)).unwrap()),
        ..alert(DeviceId::new_v4(), ms)
    }
}

/// About `east_m` metres east of Seoul city hall.
fn east_of_seoul(east_m: f64) -> Coordinates {
    let c = seoul();
    Coordinates::new(
        c.lat(),
        c.lon() + east_m / (111_195.0 * c.lat().to_radians().cos()),
    )
    .unwrap()
}

async fn accept<S: TestStore>(store: &S, batch: Vec<NewAlert>) -> Vec<IncidentId> {
    store
        .record_alerts_clustered(batch, SurgeConfig::DEFAULT)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let accepted = r.unwrap();
            assert!(!accepted.duplicate);
            accepted.incident_id
        })
        .collect()
}

/// Alerts within 200 m and 10 minutes, across batches and within one, make one incident with a report count, the
/// most precise fix and the most urgent priority; a far alert makes its own; every alert has its own row and audit
/// entry; a retried clustered alert is a duplicate of the cluster.
pub(crate) async fn surge_alerts_close_together_share_one_incident<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let first = alert_at(seoul(), 30.0, 2, 0);
    let [opened] = accept(&store, vec![first.clone()]).await[..] else {
        panic!("one result")
    };
    let precise = alert_at(east_of_seoul(120.0), 4.0, 2, 30_000);
    let batch = vec![
        alert_at(east_of_seoul(80.0), 25.0, 1, 20_000),
        precise.clone(),
        alert_at(east_of_seoul(1_000.0), 10.0, 3, 30_500),
        alert_at(east_of_seoul(1_050.0), 10.0, 3, 31_000),
    ];
    let ids = accept(&store, batch).await;
    assert_eq!(ids[0], opened);
    assert_eq!(ids[1], opened);
    assert_ne!(ids[2], opened);
    assert_eq!(
        ids[3], ids[2],
        "a cluster opened within the batch takes later alerts of the batch"
    );

    let incident = store.get_incident(opened).await.unwrap();
    assert_eq!(incident.report_count, 3);
    assert_eq!(incident.priority, Priority::new(1).unwrap());
    assert_eq!(incident.location, precise.fix);
    assert_eq!(incident.last_seq, 3);
    let events = store.load_events(opened).await.unwrap();
    assert!(matches!(events[1].kind, EventKind::ReportAdded { .. }));
    assert!(matches!(events[2].kind, EventKind::ReportAdded { .. }));
    assert_eq!(store.get_incident(ids[2]).await.unwrap().report_count, 2);

    let counts = store.intake_counts().await.unwrap();
    assert_eq!((counts.alerts, counts.incidents), (5, 2));
    let audit = store.list_audit(0, 100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "alert.received")
            .count(),
        5
    );
    crate::verify_audit(&store).await.unwrap();

    // The retry of a clustered alert answers with the cluster, and stores nothing new.
    let retry = NewAlert {
        nonce: "retry-of-the-precise-one".into(),
        incident_id: IncidentId::new_v7(),
        ..precise
    };
    let results = store
        .record_alerts_clustered(vec![retry], SurgeConfig::DEFAULT)
        .await
        .unwrap();
    let again = results[0].as_ref().unwrap();
    assert!(again.duplicate);
    assert_eq!(again.incident_id, opened);
    assert_eq!(store.intake_counts().await.unwrap().alerts, 5);

    // The queue stays ordered by priority then age and carries the counts.
    let queue = store.list_incidents(&IncidentFilter::open()).await.unwrap();
    let order: Vec<(IncidentId, u32)> = queue.iter().map(|i| (i.id, i.report_count)).collect();
    assert_eq!(order, vec![(opened, 3), (ids[2], 2)]);

    // The projection refolds to the same state.
    assert_eq!(store.rebuild_projections().await.unwrap(), 2);
    assert_eq!(store.get_incident(opened).await.unwrap(), incident);
}

/// A closed incident takes no reports, nor does a cluster whose last report is older than the window; clusters
/// survive a reopen; with clustering disabled every alert opens its own incident.
pub(crate) async fn surge_skips_closed_and_stale_incidents<S: TestStore>() {
    let (store, guard) = S::fresh().await;
    let [a] = accept(&store, vec![alert_at(seoul(), 10.0, 1, 0)]).await[..] else {
        panic!("one result")
    };
    let store = store.reopen(&guard).await;
    let [b] = accept(&store, vec![alert_at(seoul(), 10.0, 1, 60_000)]).await[..] else {
        panic!("one result")
    };
    assert_eq!(a, b, "the cluster is durable across reopen");
    store
        .append_event(
            a,
            2,
            EventKind::Closed {
                outcome: Outcome::Rescue,
            },
            &staff_change("kim", 61_000, "resolved"),
        )
        .await
        .unwrap();
    let [c] = accept(&store, vec![alert_at(seoul(), 10.0, 1, 62_000)]).await[..] else {
        panic!("one result")
    };
    assert_ne!(c, a, "a closed incident takes no more reports");
    // Eleven minutes after c's last report: a new incident.
    let [d] = accept(&store, vec![alert_at(seoul(), 10.0, 1, 62_000 + 660_000)]).await[..] else {
        panic!("one result")
    };
    assert_ne!(d, c);
    // Disabled: two alerts at the same place and time are two incidents.
    let x = store
        .record_alerts(vec![
            alert_at(seoul(), 10.0, 1, 800_000),
            alert_at(seoul(), 10.0, 1, 800_000),
        ])
        .await
        .unwrap();
    assert_ne!(
        x[0].as_ref().unwrap().incident_id,
        x[1].as_ref().unwrap().incident_id
    );
    let counts = store.intake_counts().await.unwrap();
    assert_eq!((counts.alerts, counts.incidents), (6, 5));
}

/// Issue 16 (item 9): past its budget a device's alerts join the open incident of its latest alert as counted
/// reports, within a batch and across batches, even with clustering off and far apart; each is still stored and
/// audited. Once that incident is closed, an over-budget alert opens a new one: it is never refused.
pub(crate) async fn over_budget_alerts_join_their_device_incident<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let own = |ms: i64, east_m: f64| NewAlert {
        fix: Some(LocationFix::new(east_of_seoul(east_m), 10.0, FixMethod::Gnss, t(ms)).unwrap()),
        ..alert(device, ms)
    };
    let record = |batch: Vec<NewAlert>, over: Vec<bool>| {
        let store = &store;
        async move {
            store
                .record_alerts_budgeted(batch, SurgeConfig::DISABLED, over)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.unwrap().incident_id)
                .collect::<Vec<_>>()
        }
    };
    // Within budget: its own incident. Then, in one batch, one over budget 5 km away and another device's alert.
    let [first] = record(vec![own(0, 0.0)], vec![false]).await[..] else {
        panic!("one result")
    };
    let other = alert(DeviceId::new_v4(), 1_500);
    let ids = record(vec![own(1_000, 5_000.0), other], vec![true, false]).await;
    assert_eq!(
        ids[0], first,
        "an over-budget alert joins its device's open incident"
    );
    assert_ne!(ids[1], first);
    // Within one batch: the first opens (in budget), the rest join it.
    let device_b = DeviceId::new_v4();
    let b = |ms| alert(device_b, ms);
    let ids = record(vec![b(2_000), b(2_100), b(2_200)], vec![false, true, true]).await;
    assert_eq!((ids[1], ids[2]), (ids[0], ids[0]));
    assert_eq!(store.get_incident(first).await.unwrap().report_count, 2);
    assert_eq!(store.get_incident(ids[0]).await.unwrap().report_count, 3);
    let counts = store.intake_counts().await.unwrap();
    assert_eq!((counts.alerts, counts.incidents), (6, 3));

    // Closed: the next over-budget alert opens a new incident rather than being refused.
    store
        .append_event(
            first,
            2,
            EventKind::Closed {
                outcome: Outcome::Rescue,
            },
            &staff_change("kim", 3_000, "resolved"),
        )
        .await
        .unwrap();
    let [after] = record(vec![own(4_000, 0.0)], vec![true]).await[..] else {
        panic!("one result")
    };
    assert_ne!(after, first);
    let audit = store.list_audit(0, 1_000).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "alert.received")
            .count(),
        7
    );
    crate::verify_audit(&store).await.unwrap();
}

/// Issue 18: the budget the store keeps ([`crate::AlertBudget::Shared`]) for a cluster: two alerts at once, then one
/// more a minute. A new alert past it joins its device's open incident like a marked one; a retry (same alert id,
/// fresh nonce) and a replayed nonce are not charged; the bucket is in the database, so it holds across batches
/// (and across nodes on one database) and refills with time.
pub(crate) async fn shared_budget_is_charged_in_the_alerts_transaction<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let budget = crate::AlertBudget::Shared {
        burst: 2,
        refill_ms: 60_000,
    };
    let device = DeviceId::new_v4();
    let far = |ms: i64, east_m: f64| NewAlert {
        fix: Some(LocationFix::new(east_of_seoul(east_m), 10.0, FixMethod::Gnss, t(ms)).unwrap()),
        ..alert(device, ms)
    };
    let record = |batch: Vec<NewAlert>| {
        let store = &store;
        let budget = budget.clone();
        async move {
            store
                .record_alerts_with_budget(batch, SurgeConfig::DISABLED, budget)
                .await
                .unwrap()
        }
    };
    let first = far(0, 0.0);
    let mut retry = first.clone();
    retry.nonce = "retried-nonce".into();
    let replayed = far(150, 9_000.0);
    let mut replay = replayed.clone();
    replay.alert_id = jikimi_respond::AlertId::new_v4();
    // One batch: the first two within budget (two incidents), a retry of the first (a duplicate, not charged),
    // a third past the budget (joins the second's incident), a replayed nonce (refused, not charged).
    let results = record(vec![first, far(100, 5_000.0), retry, replayed, replay]).await;
    let ids: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().map(|a| (a.incident_id, a.duplicate)).ok())
        .collect();
    let (a, b) = (ids[0].unwrap().0, ids[1].unwrap().0);
    assert_ne!(a, b, "within the burst each alert opens its own incident");
    assert_eq!(ids[2], Some((a, true)), "a retry is a duplicate");
    assert_eq!(
        ids[3],
        Some((b, false)),
        "past the budget it joins the latest"
    );
    assert!(ids[4].is_none(), "a replayed nonce is refused");
    // The next batch (another node, say) meets the same bucket.
    let next = record(vec![far(1_000, 20_000.0)]).await;
    assert_eq!(next[0].as_ref().unwrap().incident_id, b);
    // A minute later one more fits.
    let later = record(vec![far(61_000, 30_000.0)]).await;
    let c = later[0].as_ref().unwrap().incident_id;
    assert!(c != a && c != b);
    let counts = store.intake_counts().await.unwrap();
    assert_eq!((counts.alerts, counts.incidents), (5, 3));
    crate::verify_audit(&store).await.unwrap();
}
