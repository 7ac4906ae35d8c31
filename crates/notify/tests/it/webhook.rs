//! Webhook delivery: a receiver that is down for a while still gets every notification once, in order per incident
//! and guardian; a receiver that never recovers dead-letters after the limit; a worker dropped mid-delivery is
//! replaced by a restarted one that delivers with the same idempotency key.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jikimi_notify::signing::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use jikimi_notify::webhook::WebhookBody;
use jikimi_store::NotificationState;

use crate::support::*;

const UP: u8 = 0;
const UNAVAILABLE: u8 = 1;
const HANG: u8 = 2;

/// A webhook receiver as a guardian's service would run it: checks the signature, drops repeats by idempotency key.
#[derive(Default)]
struct Receiver {
    mode: AtomicU8,
    requests: AtomicUsize,
    bad_signatures: AtomicUsize,
    duplicates: AtomicUsize,
    seen: Mutex<HashSet<String>>,
    /// (path name, body) of each first delivery, in arrival order.
    delivered: Mutex<Vec<(String, WebhookBody)>>,
}

async fn hook(
    State(r): State<Arc<Receiver>>,
    Path(who): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    r.requests.fetch_add(1, Ordering::SeqCst);
    match r.mode.load(Ordering::SeqCst) {
        UNAVAILABLE => return StatusCode::SERVICE_UNAVAILABLE,
        HANG => std::future::pending::<()>().await,
        _ => {}
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp: i64 = header(TIMESTAMP_HEADER).parse().unwrap_or(0);
    if !verify(SECRET, timestamp, &body, &header(SIGNATURE_HEADER))
        || (timestamp - now().as_unix_ms() / 1000).abs() > 300
    {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(parsed) = serde_json::from_slice::<WebhookBody>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let key = header(IDEMPOTENCY_HEADER);
    assert_eq!(key, parsed.notification_id.to_string());
    if r.seen.lock().unwrap().insert(key) {
        r.delivered.lock().unwrap().push((who, parsed));
    } else {
        r.duplicates.fetch_add(1, Ordering::SeqCst);
    }
    StatusCode::OK
}

/// A free port nobody listens on yet.
fn reserve_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

async fn start_receiver(addr: SocketAddr, receiver: Arc<Receiver>) {
    let app = axum::Router::new()
        .route("/hook/{who}", axum::routing::post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
}

fn webhook_guardian(addr: SocketAddr, who: &str) -> GuardianSpec<'static> {
    GuardianSpec {
        name: "Guardian",
        language: "en",
        channels: vec![("webhook", format!("http://{addr}/hook/{who}"))],
    }
}

async fn down_receiver_gets_everything_once_in_order(backend: Backend) {
    let (store, _db) = Db::fresh(backend).await;
    let ring = keyring();
    let addr = reserve_port();
    let (a, _) = register(
        store.as_ref(),
        &ring,
        "Kim A",
        &[webhook_guardian(addr, "a")],
    )
    .await;
    let (b, _) = register(
        store.as_ref(),
        &ring,
        "Lee B",
        &[webhook_guardian(addr, "b1"), webhook_guardian(addr, "b2")],
    )
    .await;
    let (c, _) = register(
        store.as_ref(),
        &ring,
        "Park C",
        &[webhook_guardian(addr, "c")],
    )
    .await;
    let mut incidents = Vec::new();
    for sid in [a, a, b, c] {
        let id = raise(store.as_ref(), sid).await;
        dispatch_and_close(store.as_ref(), id).await;
        incidents.push(id);
    }
    let expected = outbox(store.as_ref(), &incidents).await;
    assert_eq!(expected.len(), 15);

    // Phase 1: nobody listens.
    let worker = spawn_worker(store.clone(), fast_config());
    wait_for("connection failures", Duration::from_secs(30), || async {
        let rows = outbox(store.as_ref(), &incidents).await;
        rows.iter()
            .any(|n| n.last_error.as_deref() == Some("webhook_connect"))
            .then_some(())
    })
    .await;
    // Phase 2: the receiver answers 503.
    let receiver = Arc::new(Receiver::default());
    receiver.mode.store(UNAVAILABLE, Ordering::SeqCst);
    start_receiver(addr, receiver.clone()).await;
    wait_for("503 answers", Duration::from_secs(30), || async {
        let rows = outbox(store.as_ref(), &incidents).await;
        rows.iter()
            .any(|n| n.last_error.as_deref() == Some("http_503"))
            .then_some(())
    })
    .await;
    assert!(receiver.delivered.lock().unwrap().is_empty());
    // Nothing of a stream went ahead of its first notification while it failed.
    for n in outbox(store.as_ref(), &incidents).await {
        if n.event_seq > 1 {
            assert_eq!(
                n.attempts, 0,
                "a later notification was attempted before the first"
            );
        }
    }
    // Phase 3: up.
    receiver.mode.store(UP, Ordering::SeqCst);
    let settled = wait_settled(store.as_ref(), &incidents, Duration::from_secs(60)).await;
    worker.abort();

    assert!(
        settled
            .iter()
            .all(|n| n.state == NotificationState::Delivered)
    );
    assert_eq!(receiver.bad_signatures.load(Ordering::SeqCst), 0);
    assert_eq!(receiver.duplicates.load(Ordering::SeqCst), 0);
    let delivered = receiver.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 15, "every notification exactly once");
    let ids: HashSet<_> = delivered.iter().map(|(_, b)| b.notification_id).collect();
    assert_eq!(ids, expected.iter().map(|n| n.id.0).collect());
    // In order per incident, for each guardian: alert received, dispatched, closed.
    let mut streams: BTreeMap<(String, Option<uuid::Uuid>), Vec<u64>> = BTreeMap::new();
    for (who, body) in &delivered {
        streams
            .entry((who.clone(), body.incident_id))
            .or_default()
            .push(body.event_seq);
    }
    assert_eq!(streams.len(), 5);
    for (stream, seqs) in streams {
        assert_eq!(seqs, vec![1, 3, 4], "{stream:?} out of order");
    }
    let first = delivered
        .iter()
        .find(|(_, b)| b.event == "alert_received")
        .unwrap();
    assert!(first.1.subject.starts_with("jikimi: SOS alert from "));

    // Every outcome is audited; the chain verifies.
    let audit = store.list_audit(0, 10_000).await.unwrap();
    let n_delivered = audit
        .iter()
        .filter(|e| e.action == "notification.delivered")
        .count();
    assert_eq!(n_delivered, 15);
    assert!(audit.iter().any(|e| e.action == "notification.failed"));
    assert!(
        audit.iter().all(|e| !e.detail.contains("hook/")),
        "no address in the audit log"
    );
    jikimi_store::verify_audit(store.as_ref()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_receiver_gets_everything_once_in_order_sqlite() {
    down_receiver_gets_everything_once_in_order(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_receiver_gets_everything_once_in_order_postgres() {
    down_receiver_gets_everything_once_in_order(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettered_after_the_attempt_limit_in_order() {
    let (store, _db) = Db::fresh(Backend::Sqlite).await;
    let ring = keyring();
    let receiver = Arc::new(Receiver::default());
    receiver.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let addr = reserve_port();
    start_receiver(addr, receiver.clone()).await;
    let (sid, _) = register(
        store.as_ref(),
        &ring,
        "Choi D",
        &[webhook_guardian(addr, "d")],
    )
    .await;
    let incident = raise(store.as_ref(), sid).await;
    dispatch_and_close(store.as_ref(), incident).await;

    let mut config = fast_config();
    config.backoff.max_attempts = 3;
    let worker = spawn_worker(store.clone(), config);
    let settled = wait_settled(store.as_ref(), &[incident], Duration::from_secs(60)).await;
    worker.abort();

    assert_eq!(settled.len(), 3);
    for n in &settled {
        assert_eq!(n.state, NotificationState::DeadLettered);
        assert_eq!(n.attempts, 3);
        assert_eq!(n.last_error.as_deref(), Some("http_503"));
    }
    // Dead-lettering releases the next of the stream, so they died in event order.
    let times: Vec<_> = settled
        .iter()
        .map(|n| n.dead_lettered_at.unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 9);
    assert_eq!(store.list_dead_letters(10).await.unwrap().len(), 3);
    let audit = store.list_audit(0, 10_000).await.unwrap();
    let count = |action: &str| audit.iter().filter(|e| e.action == action).count();
    assert_eq!(count("notification.dead_lettered"), 3);
    assert_eq!(count("notification.failed"), 6);
}

async fn dropped_worker_is_redelivered_after_restart(backend: Backend) {
    let (store, db) = Db::fresh(backend).await;
    let ring = keyring();
    let receiver = Arc::new(Receiver::default());
    receiver.mode.store(HANG, Ordering::SeqCst);
    let addr = reserve_port();
    start_receiver(addr, receiver.clone()).await;
    let (sid, _) = register(
        store.as_ref(),
        &ring,
        "Jung E",
        &[webhook_guardian(addr, "e")],
    )
    .await;
    let incident = raise(store.as_ref(), sid).await;

    // The worker is mid-delivery (the request is open) when it dies with its store handle.
    let mut config = fast_config();
    config.webhook_timeout = Duration::from_secs(30);
    config.lease = Duration::from_secs(31);
    let worker = spawn_worker(store.clone(), config);
    wait_for("the first request", Duration::from_secs(30), || async {
        (receiver.requests.load(Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    worker.abort();
    let _ = worker.await;
    drop(store);

    // Restart on the same database with a short lease; the receiver is healthy now.
    receiver.mode.store(UP, Ordering::SeqCst);
    let store = db.open().await;
    let pending = store.list_notifications(incident).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state, NotificationState::Pending);
    assert!(
        pending[0].lease_token.is_some(),
        "still leased by the dead worker"
    );
    // The restarted worker's clock runs past the dead worker's lease, as it would after the lease time.
    let ahead: jikimi_notify::Clock =
        Arc::new(|| jikimi_respond::Timestamp::from_unix_ms(now().as_unix_ms() + 32_000));
    let worker =
        jikimi_notify::Worker::new(store.clone(), keyring(), fast_config(), ahead).unwrap();
    let handle = tokio::spawn(worker.run(std::future::pending::<()>()));
    let settled = wait_settled(store.as_ref(), &[incident], Duration::from_secs(30)).await;
    handle.abort();

    assert_eq!(settled[0].state, NotificationState::Delivered);
    assert_eq!(
        settled[0].attempts, 1,
        "the crashed attempt was never recorded"
    );
    assert!(receiver.requests.load(Ordering::SeqCst) >= 2);
    let delivered = receiver.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].1.notification_id, settled[0].id.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_worker_is_redelivered_after_restart_sqlite() {
    dropped_worker_is_redelivered_after_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_worker_is_redelivered_after_restart_postgres() {
    dropped_worker_is_redelivered_after_restart(Backend::Postgres).await;
}

/// A declared disaster's notices go through the same outbox and worker: each guardian is told, in their own
/// language, that their person is in the area and asked, then what they answered, once each and in that order.
async fn disaster_notices_reach_guardians_once_in_order_in_their_language(backend: Backend) {
    use jikimi_respond::disaster::{DisasterArea, DisasterKind, WelfareAnswer};
    use jikimi_store::disaster::{DisasterRecord, NewWelfareAnswer, WelfareRequest};
    let (store, _db) = Db::fresh(backend).await;
    let ring = keyring();
    let addr = reserve_port();
    let korean = GuardianSpec {
        name: "어머니",
        language: "ko",
        channels: vec![("webhook", format!("http://{addr}/hook/ko"))],
    };
    let (sid, _) = register(
        store.as_ref(),
        &ring,
        "김민지",
        &[korean, webhook_guardian(addr, "en")],
    )
    .await;
    let device = jikimi_respond::DeviceId::new_v4();
    let staff = |reason: &str| {
        jikimi_store::Change::new(jikimi_respond::Actor::Staff("sup".into()), now(), reason)
    };
    store
        .put_device(
            &jikimi_store::DeviceRecord {
                id: device,
                subscriber_id: Some(sid),
                public_key: vec![7; 32],
                kind: "app".into(),
                enrolled_at: now(),
                revoked_at: None,
            },
            &staff("enrol"),
        )
        .await
        .unwrap();
    let disaster = DisasterRecord {
        id: uuid::Uuid::now_v7(),
        kind: DisasterKind::Earthquake,
        title: "포항 지진".into(),
        area: DisasterArea::new(vec![vec![vec![
            [129.0, 36.0],
            [129.5, 36.0],
            [129.5, 36.2],
            [129.0, 36.0],
        ]]])
        .unwrap(),
        cap_identifier: None,
        declared_at: now(),
        closed_at: None,
    };
    store
        .declare_disaster(&disaster, &staff("quake"))
        .await
        .unwrap();
    let request = WelfareRequest {
        subscriber_id: sid,
        position: None,
        position_at: None,
        vulnerability: None,
    };
    store
        .request_welfare(disaster.id, &[request], &staff("ask"))
        .await
        .unwrap();
    store
        .record_welfare_answer(
            &NewWelfareAnswer {
                disaster_id: disaster.id,
                device_id: device,
                answer_id: uuid::Uuid::new_v4(),
                nonce: uuid::Uuid::new_v4().simple().to_string(),
                answer: WelfareAnswer::Trapped,
                position: None,
                position_at: None,
                battery_pct: None,
                people: None,
                at: now(),
            },
            &jikimi_store::Change::new(jikimi_respond::Actor::Device(device), now(), "answer"),
        )
        .await
        .unwrap();
    let receiver = Arc::new(Receiver::default());
    start_receiver(addr, receiver.clone()).await;
    let worker = spawn_worker(store.clone(), fast_config());
    let rows = wait_for(
        "the disaster's notices",
        Duration::from_secs(30),
        || async {
            let rows = store
                .list_disaster_notifications(disaster.id)
                .await
                .unwrap();
            rows.iter()
                .all(|n| n.state == NotificationState::Delivered)
                .then_some(rows)
        },
    )
    .await;
    worker.abort();
    assert_eq!(rows.len(), 4);
    let delivered = receiver.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 4, "each notice exactly once");
    for who in ["ko", "en"] {
        let mine: Vec<&WebhookBody> = delivered
            .iter()
            .filter(|(w, _)| w == who)
            .map(|(_, b)| b)
            .collect();
        let events: Vec<&str> = mine.iter().map(|b| b.event.as_str()).collect();
        assert_eq!(events, ["welfare_asked", "welfare_trapped"], "{who}");
        assert!(
            mine.iter()
                .all(|b| b.disaster_id == Some(disaster.id) && b.incident_id.is_none())
        );
        assert!(
            mine.iter()
                .all(|b| b.language == who && b.text.contains("포항 지진"))
        );
    }
    let ko = delivered
        .iter()
        .find(|(w, b)| w == "ko" && b.event == "welfare_asked")
        .unwrap();
    assert_eq!(
        ko.1.subject,
        "[지킴이] 김민지님이 재난 지역(포항 지진)에 있을 수 있습니다"
    );
    let en = delivered
        .iter()
        .find(|(w, b)| w == "en" && b.event == "welfare_trapped")
        .unwrap();
    assert_eq!(
        en.1.subject,
        "jikimi: 김민지 answered that they are trapped"
    );
    let audit = store.list_audit(0, 10_000).await.unwrap();
    let told = audit
        .iter()
        .filter(|e| {
            e.action == "notification.delivered" && e.subject == format!("disaster/{}", disaster.id)
        })
        .count();
    assert_eq!(told, 4);
    jikimi_store::verify_audit(store.as_ref()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_notices_reach_guardians_once_in_order_in_their_language_sqlite() {
    disaster_notices_reach_guardians_once_in_order_in_their_language(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_notices_reach_guardians_once_in_order_in_their_language_postgres() {
    disaster_notices_reach_guardians_once_in_order_in_their_language(Backend::Postgres).await;
}
/// Issue 18: the nodes of a cluster each run a worker on one PostgreSQL database (each its own pool, as separate
/// processes would); every notification is delivered once, by one of them, still in order per stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_of_several_nodes_deliver_each_notification_once() {
    let (store, db) = Db::fresh(Backend::Postgres).await;
    let ring = keyring();
    let receiver = Arc::new(Receiver::default());
    let addr = reserve_port();
    start_receiver(addr, receiver.clone()).await;
    let mut incidents = Vec::new();
    for i in 0..10 {
        let who = format!("g{i}");
        let spec = GuardianSpec {
            name: "Guardian",
            language: "en",
            channels: vec![("webhook", format!("http://{addr}/hook/{who}"))],
        };
        let (sid, _) = register(store.as_ref(), &ring, "Cluster Subscriber", &[spec]).await;
        for _ in 0..2 {
            let id = raise(store.as_ref(), sid).await;
            dispatch_and_close(store.as_ref(), id).await;
            incidents.push(id);
        }
    }
    let expected = outbox(store.as_ref(), &incidents).await;
    assert_eq!(expected.len(), 60);
    let mut workers = Vec::new();
    for _ in 0..3 {
        let mut config = fast_config();
        // Small batches, so the three compete for rows rather than one taking everything at once.
        config.batch = 4;
        workers.push(spawn_worker(db.open().await, config));
    }
    let settled = wait_settled(store.as_ref(), &incidents, Duration::from_secs(60)).await;
    for worker in workers {
        worker.abort();
    }
    assert!(
        settled
            .iter()
            .all(|n| n.state == NotificationState::Delivered && n.attempts == 1),
        "each delivered at its first attempt"
    );
    assert_eq!(receiver.duplicates.load(Ordering::SeqCst), 0);
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 60);
    let delivered = receiver.delivered.lock().unwrap().clone();
    let ids: HashSet<_> = delivered.iter().map(|(_, b)| b.notification_id).collect();
    assert_eq!(ids, expected.iter().map(|n| n.id.0).collect());
    let mut streams: BTreeMap<(String, Option<uuid::Uuid>), Vec<u64>> = BTreeMap::new();
    for (who, body) in &delivered {
        streams
            .entry((who.clone(), body.incident_id))
            .or_default()
            .push(body.event_seq);
    }
    for (stream, seqs) in streams {
        assert_eq!(seqs, vec![1, 3, 4], "{stream:?} out of order");
    }
    jikimi_store::verify_audit(store.as_ref()).await.unwrap();
}
