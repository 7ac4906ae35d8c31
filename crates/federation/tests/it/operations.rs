//! The push channel of joint operations over HTTP (the server crate's federation router): batches page through a
//! backlog, a receiver with a small body limit makes the sender halve its batches, the pusher coalesces the wake-ups
//! of many changes into few requests, and the receiver holds every event once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use jikimi_exchange::domain::FieldClass;
use jikimi_exchange::operation::{Change, Part, Participant, Role};
use jikimi_federation::Node;
use jikimi_federation::operation::{NewChange, fold_applied};
use uuid::Uuid;

use crate::support::*;

fn log(i: usize) -> NewChange {
    NewChange {
        change: Change::Log {
            entry: Uuid::now_v7(),
        },
        parts: [(
            FieldClass::Event,
            Part::new(
                serde_json::json!(format!("situation report {i}: the team is in position")),
                Uuid::new_v4(),
            ),
        )]
        .into(),
        marking: Default::default(),
    }
}

/// (events B holds of the operation, distinct (origin, seq) among them, log entries in B's view).
async fn at(b: &TestNode, op: Uuid) -> (usize, usize, usize) {
    let held = b.store.op_events(op).await.unwrap();
    let mut keys: Vec<_> = held
        .iter()
        .map(|h| (h.event.head.body.origin.clone(), h.event.head.body.seq))
        .collect();
    keys.sort();
    keys.dedup();
    let logs = fold_applied(&held).map_or(0, |v| v.log.len());
    (held.len(), keys.len(), logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_page_through_a_backlog_halve_for_a_small_body_limit_and_coalesce_wake_ups() {
    let dir = tempfile::tempdir().unwrap();
    let lb = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = node(dir.path(), "a", "KR").await;
    let mut b = node(dir.path(), "b", "TH").await;
    b.me.endpoint = Some(format!("http://{}", lb.local_addr().unwrap()));
    mesh(&[&a, &b]).await;
    let agreement = share(&[&a, &b], all_fields(), false).await;
    // B takes at most 8 KiB a request: a full batch (48 KiB) is refused with 413 and halved until it fits.
    tokio::spawn(jikimi_server::federation::serve(
        lb,
        federation_service(&b),
        8 * 1024,
        std::future::pending(),
    ));
    let a = Arc::new(Node::open(a.store.clone()).await.unwrap());
    let held = a
        .operation_create(
            "Operation Lantern".into(),
            BTreeSet::from([agreement.id]),
            "art. 5".into(),
            vec![Participant {
                agency: b.id().clone(),
                role: Role::Participant,
                legal_basis: "invited".into(),
            }],
            None,
            Utc::now(),
        )
        .await
        .unwrap();
    let op = held.view.id;

    // A backlog of 300 changes (as after a partition) goes in batches: more than one, far fewer than 300.
    for i in 0..300 {
        a.operation_change(op, log(i), Utc::now()).await.unwrap();
    }
    let mut feed = a.deliveries();
    let sent = a.push_operations(&b.me).await.unwrap();
    assert_eq!(sent, 301);
    let mut batches = 0;
    while let Ok(d) = feed.try_recv() {
        assert_eq!(d.operation, op);
        batches += 1;
    }
    assert!(
        (2..=100).contains(&batches),
        "{batches} batches for 301 events"
    );
    assert_eq!(at(&b, op).await, (301, 301, 300));
    assert_eq!(a.store.op_delivered(op, b.id()).await.unwrap(), 301);
    // Pushing again sends nothing.
    assert_eq!(a.push_operations(&b.me).await.unwrap(), 0);

    // Fifty changes, each waking the pusher: B gets them all, once, in fewer requests than changes.
    let start = Instant::now();
    for i in 300..350 {
        a.operation_change(op, log(i), Utc::now()).await.unwrap();
        a.wake_pusher(b.id());
    }
    let mut batches = 0;
    loop {
        while let Ok(d) = feed.try_recv() {
            batches += 1;
            if d.through == 351 {
                let (held, distinct, logs) = at(&b, op).await;
                assert_eq!((held, distinct, logs), (351, 351, 350));
                assert!(batches < 50, "{batches} requests for 50 changes");
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the pusher did not deliver"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
