//! The guardian-notification outbox: rows written with their event, claimed in order per (incident, guardian)
//! stream under a lease, finished and audited.

use super::registration::{sealed_guardian, sealed_subscriber};
use super::{TestStore, accept_one, alert, staff_change, subscriber_alert, t};
use crate::{
    Conflict, DeliveryOutcome, DeliveryReport, Error, GuardianId, Notification, NotificationState,
    Store,
};
use jikimi_respond::{DeviceId, EventKind, IncidentId, Outcome, SubscriberId, UnitId};

/// A subscriber with `n_guardians` guardians; returns the subscriber and the guardians in creation order.
pub(crate) async fn subscriber_with_guardians<S: Store>(
    store: &S,
    n_guardians: usize,
) -> (SubscriberId, Vec<GuardianId>) {
    let sid = SubscriberId::new_v7();
    store
        .put_subscriber(
            &sealed_subscriber(sid, "Kim Minji", "010-1111-2222"),
            &staff_change("sup", 0, "register"),
        )
        .await
        .unwrap();
    let mut gids = Vec::new();
    for i in 0..n_guardians {
        let gid = GuardianId(uuid::Uuid::now_v7());
        let mut record = sealed_guardian(gid, sid);
        record.created_at = t(i as i64);
        store
            .put_guardian(&record, &staff_change("sup", 0, "guardian"))
            .await
            .unwrap();
        gids.push(gid);
    }
    (sid, gids)
}

async fn close<S: Store>(store: &S, id: IncidentId, seq: u64, ms: i64) {
    store
        .append_event(
            id,
            seq,
            EventKind::Closed {
                outcome: Outcome::Assistance,
            },
            &staff_change("disp", ms, "closed"),
        )
        .await
        .unwrap();
}

fn report(outcome: DeliveryOutcome, ms: i64) -> DeliveryReport {
    DeliveryReport {
        outcome,
        delivered_channels: vec![0],
        at: t(ms),
    }
}

pub(crate) async fn decisive_events_queue_notifications_in_their_transaction<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let (sid, gids) = subscriber_with_guardians(&store, 2).await;

    // Opening: one row per guardian, seq 1, in the alert's transaction.
    let incident = accept_one(&store, subscriber_alert(DeviceId::new_v4(), sid, 1_000)).await;
    let rows = store.list_notifications(incident).await.unwrap();
    assert_eq!(rows.len(), 2);
    for (row, gid) in rows.iter().zip({
        let mut sorted = gids.clone();
        sorted.sort();
        sorted
    }) {
        assert_eq!(row.guardian_id, gid);
        assert_eq!(row.event, "alert_received");
        assert_eq!(row.event_seq, 1);
        assert_eq!(row.state, NotificationState::Pending);
        assert_eq!(row.attempts, 0);
        assert_eq!(row.next_attempt_at, t(1_000));
    }

    // Acknowledging tells nobody; dispatching and closing do.
    store
        .append_event(
            incident,
            1,
            EventKind::Acknowledged,
            &staff_change("disp", 2_000, "ack"),
        )
        .await
        .unwrap();
    assert_eq!(store.list_notifications(incident).await.unwrap().len(), 2);
    store
        .append_event(
            incident,
            2,
            EventKind::Dispatched {
                unit: UnitId("P-1".into()),
            },
            &staff_change("disp", 3_000, "dispatch"),
        )
        .await
        .unwrap();
    // A refused event (stale seq) writes no notification.
    let stale = store
        .append_event(
            incident,
            2,
            EventKind::Closed {
                outcome: Outcome::Assistance,
            },
            &staff_change("disp", 3_500, "late"),
        )
        .await;
    assert!(matches!(
        stale,
        Err(Error::Conflict(Conflict::StaleSequence { .. }))
    ));
    close(&store, incident, 3, 4_000).await;
    let events: Vec<(u64, String)> = store
        .list_notifications(incident)
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.event_seq, n.event))
        .collect();
    assert_eq!(
        events,
        vec![
            (1, "alert_received".to_string()),
            (1, "alert_received".to_string()),
            (3, "dispatched".to_string()),
            (3, "dispatched".to_string()),
            (4, "closed".to_string()),
            (4, "closed".to_string()),
        ]
    );

    // The queueing is audited, with ids only.
    let audit = store.list_audit(0, 1_000).await.unwrap();
    let queued: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "notification.queued")
        .collect();
    assert_eq!(queued.len(), 3);
    assert!(queued.iter().all(|e| !e.detail.contains("Kim")));

    // No guardians, or no subscriber: nothing queued.
    let (lonely, _) = subscriber_with_guardians(&store, 0).await;
    let a = accept_one(&store, subscriber_alert(DeviceId::new_v4(), lonely, 5_000)).await;
    let b = accept_one(&store, alert(DeviceId::new_v4(), 5_000)).await;
    assert!(store.list_notifications(a).await.unwrap().is_empty());
    assert!(store.list_notifications(b).await.unwrap().is_empty());
    crate::verify_audit(&store).await.unwrap();
}

pub(crate) async fn notifications_are_claimed_in_order_under_a_lease<S: TestStore>() {
    let (store, guard) = S::fresh().await;
    let (sid, gids) = subscriber_with_guardians(&store, 1).await;
    let gid = gids[0];
    let incident = accept_one(&store, subscriber_alert(DeviceId::new_v4(), sid, 1_000)).await;
    store
        .append_event(
            incident,
            1,
            EventKind::Acknowledged,
            &staff_change("disp", 1_050, "ack"),
        )
        .await
        .unwrap();
    store
        .append_event(
            incident,
            2,
            EventKind::Dispatched {
                unit: UnitId("P-1".into()),
            },
            &staff_change("disp", 1_100, "dispatch"),
        )
        .await
        .unwrap();
    close(&store, incident, 3, 1_200).await;

    // Only the head of the stream is claimable, and only once while leased.
    let claimed = store
        .claim_notifications(t(2_000), t(62_000), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let first = &claimed[0];
    assert_eq!((first.event_seq, first.guardian_id), (1, gid));
    let token = first.lease_token.unwrap();
    assert!(
        store
            .claim_notifications(t(3_000), t(63_000), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The lease expires (a crashed worker): the row is claimed again with a new token, and the old one is refused.
    let store = store.reopen(&guard).await;
    let again = store
        .claim_notifications(t(62_000), t(122_000), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first.id);
    let token2 = again[0].lease_token.unwrap();
    assert_ne!(token, token2);
    let lost = store
        .finish_notification(first.id, token, &report(DeliveryOutcome::Delivered, 62_500))
        .await;
    assert!(matches!(lost, Err(Error::Conflict(Conflict::LeaseLost))));

    // A failure schedules a retry; nothing of the stream is due before it.
    let failed = store
        .finish_notification(
            first.id,
            token2,
            &report(
                DeliveryOutcome::Retry {
                    error: "http_503".into(),
                    retry_at: t(70_000),
                },
                63_000,
            ),
        )
        .await
        .unwrap();
    assert_eq!(failed.state, NotificationState::Pending);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("http_503"));
    assert_eq!(failed.delivered_channels, vec![0]);
    assert!(
        store
            .claim_notifications(t(69_999), t(129_999), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retry = store
        .claim_notifications(t(70_000), t(130_000), 10)
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    let delivered = store
        .finish_notification(
            retry[0].id,
            retry[0].lease_token.unwrap(),
            &report(DeliveryOutcome::Delivered, 70_100),
        )
        .await
        .unwrap();
    assert_eq!(delivered.state, NotificationState::Delivered);
    assert_eq!(delivered.delivered_at, Some(t(70_100)));
    assert_eq!(delivered.attempts, 2);

    // Now the dispatch notification is the head; dead-lettering it frees the closing one.
    let next = store
        .claim_notifications(t(70_200), t(130_200), 10)
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event, "dispatched");
    store
        .finish_notification(
            next[0].id,
            next[0].lease_token.unwrap(),
            &report(
                DeliveryOutcome::DeadLettered {
                    error: "attempts_exhausted".into(),
                },
                70_300,
            ),
        )
        .await
        .unwrap();
    let last = store
        .claim_notifications(t(70_400), t(130_400), 10)
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].event, "closed");

    let dead: Vec<Notification> = store.list_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].dead_lettered_at, Some(t(70_300)));
    assert_eq!(dead[0].last_error.as_deref(), Some("attempts_exhausted"));

    let actions: Vec<String> = store
        .list_audit(0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("notification.") && a != "notification.queued")
        .collect();
    assert_eq!(
        actions,
        vec![
            "notification.failed",
            "notification.delivered",
            "notification.dead_lettered"
        ]
    );
    crate::verify_audit(&store).await.unwrap();
}

pub(crate) async fn streams_of_different_guardians_do_not_block_each_other<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let (sid, _gids) = subscriber_with_guardians(&store, 2).await;
    let incident = accept_one(&store, subscriber_alert(DeviceId::new_v4(), sid, 1_000)).await;
    close(&store, incident, 1, 1_100).await;
    // Both guardians' first notifications are claimable; neither's second.
    let claimed = store
        .claim_notifications(t(2_000), t(62_000), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|n| n.event_seq == 1));
    assert_ne!(claimed[0].guardian_id, claimed[1].guardian_id);
    // A limit is respected.
    let store2 = &store;
    let (sid2, _) = subscriber_with_guardians(store2, 3).await;
    accept_one(store2, subscriber_alert(DeviceId::new_v4(), sid2, 1_500)).await;
    assert_eq!(
        store
            .claim_notifications(t(2_000), t(62_000), 2)
            .await
            .unwrap()
            .len(),
        2
    );
}
