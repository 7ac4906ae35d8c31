//! Shared set-up: stores on both backends, sealed subscribers and guardians as the server writes them, alerts and
//! events, worker configuration, and waiting on outbox state.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jikimi_notify::{Backoff, Worker, WorkerConfig};
use jikimi_privacy::Keyring;
use jikimi_respond::{
    AlertId, DeviceId, EventKind, IncidentId, Outcome, Priority, SubscriberId, Timestamp, UnitId,
};
use jikimi_store::{
    Change, GuardianId, GuardianRecord, NewAlert, Notification, NotificationState, SqliteStore,
    Store, SubscriberRecord,
};

pub const SECRET: &[u8] = b"test-webhook-secret-0123456789";

pub fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::new("k1", [("k1".to_owned(), [7; 32])]).unwrap())
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Keeps a test database alive and removes it afterwards; can reopen the same database (a restart).
pub enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(jikimi_store::testing::PgSchema),
}

impl Db {
    pub async fn fresh(backend: Backend) -> (Arc<dyn Store>, Db) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let db = Db::Sqlite(dir);
                let store = db.open().await;
                (store, db)
            }
            Backend::Postgres => {
                let db =
                    Db::Postgres(jikimi_store::testing::PgSchema::create("jikimi_notify").await);
                let store = db.open().await;
                (store, db)
            }
        }
    }

    /// Opens (again) the same database, migrated.
    pub async fn open(&self) -> Arc<dyn Store> {
        let store: Arc<dyn Store> = match self {
            Db::Sqlite(dir) => Arc::new(
                SqliteStore::open(&dir.path().join("t.sqlite"))
                    .await
                    .unwrap(),
            ),
            Db::Postgres(schema) => Arc::new(schema.store().await),
        };
        store.migrate().await.unwrap();
        store
    }
}

pub fn now() -> Timestamp {
    Timestamp::from(std::time::SystemTime::now())
}

fn change(reason: &str) -> Change {
    Change::new(jikimi_respond::Actor::Staff("sup".into()), now(), reason)
}

/// A guardian as the server registers it: sealed name, channels (`[{kind, address}]`) and language.
pub struct GuardianSpec<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub channels: Vec<(&'a str, String)>,
}

/// Registers a subscriber named `name` with guardians; returns the ids.
pub async fn register(
    store: &dyn Store,
    ring: &Keyring,
    name: &str,
    guardians: &[GuardianSpec<'_>],
) -> (SubscriberId, Vec<GuardianId>) {
    let sid = SubscriberId::new_v7();
    let record = format!("subscriber/{sid}");
    let mut fields = BTreeMap::new();
    fields.insert(
        "name".to_owned(),
        ring.seal_str(&record, "name", name).unwrap(),
    );
    store
        .put_subscriber(
            &SubscriberRecord {
                id: sid,
                fields,
                indexes: Vec::new(),
                language: "ko".into(),
                created_at: now(),
                updated_at: now(),
            },
            &change("register"),
        )
        .await
        .unwrap();
    let mut gids = Vec::new();
    for g in guardians {
        let gid = GuardianId(uuid::Uuid::now_v7());
        let record = format!("guardian/{gid}");
        let channels: Vec<serde_json::Value> = g
            .channels
            .iter()
            .map(|(kind, address)| serde_json::json!({"kind": kind, "address": address}))
            .collect();
        let mut fields = BTreeMap::new();
        fields.insert(
            "name".to_owned(),
            ring.seal_str(&record, "name", g.name).unwrap(),
        );
        fields.insert(
            "language".to_owned(),
            ring.seal_str(&record, "language", g.language).unwrap(),
        );
        fields.insert(
            "channels".to_owned(),
            ring.seal_str(
                &record,
                "channels",
                &serde_json::to_string(&channels).unwrap(),
            )
            .unwrap(),
        );
        store
            .put_guardian(
                &GuardianRecord {
                    id: gid,
                    subscriber_id: sid,
                    fields,
                    created_at: now(),
                },
                &change("guardian"),
            )
            .await
            .unwrap();
        gids.push(gid);
    }
    (sid, gids)
}

/// Raises an alert for the subscriber; returns the new incident.
pub async fn raise(store: &dyn Store, sid: SubscriberId) -> IncidentId {
    let result = store
        .record_alerts(vec![NewAlert {
            incident_id: IncidentId::new_v7(),
            alert_id: AlertId::new_v4(),
            device_id: DeviceId::new_v4(),
            subscriber_id: Some(sid),
            nonce: uuid::Uuid::new_v4().simple().to_string(),
            received_at: now(),
            priority: Priority::new(1).unwrap(),
            fix: None,
            silent: true,
        }])
        .await
        .unwrap();
    result[0].as_ref().unwrap().incident_id
}

/// Acknowledges (seq 2, tells nobody), dispatches (seq 3) and closes (seq 4) an incident opened by [`raise`].
pub async fn dispatch_and_close(store: &dyn Store, id: IncidentId) {
    store
        .append_event(id, 1, EventKind::Acknowledged, &change("ack"))
        .await
        .unwrap();
    store
        .append_event(
            id,
            2,
            EventKind::Dispatched {
                unit: UnitId("P-1".into()),
            },
            &change("dispatch"),
        )
        .await
        .unwrap();
    store
        .append_event(
            id,
            3,
            EventKind::Closed {
                outcome: Outcome::Assistance,
            },
            &change("close"),
        )
        .await
        .unwrap();
}

/// Fast retries for tests; the lease is short so a dropped worker's claims come back quickly.
pub fn fast_config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(3),
        batch: 16,
        backoff: Backoff {
            base: Duration::from_millis(40),
            max: Duration::from_millis(300),
            max_attempts: 10_000,
        },
        webhook_secret: Some(SECRET.to_vec()),
        webhook_timeout: Duration::from_secs(1),
        smtp: None,
        utc_offset_s: 9 * 3600,
    }
}

/// Starts a worker; dropping (or aborting) the handle stops it as a crash would.
pub fn spawn_worker(store: Arc<dyn Store>, config: WorkerConfig) -> tokio::task::JoinHandle<()> {
    let worker = Worker::new(store, keyring(), config, jikimi_notify::system_clock()).unwrap();
    tokio::spawn(worker.run(std::future::pending::<()>()))
}

/// Polls `check` until it returns `Some`, failing after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// All notifications of these incidents.
pub async fn outbox(store: &dyn Store, incidents: &[IncidentId]) -> Vec<Notification> {
    let mut all = Vec::new();
    for id in incidents {
        all.extend(store.list_notifications(*id).await.unwrap());
    }
    all
}

/// Waits until none of these incidents' notifications is pending.
pub async fn wait_settled(
    store: &dyn Store,
    incidents: &[IncidentId],
    limit: Duration,
) -> Vec<Notification> {
    wait_for("the outbox to settle", limit, || async {
        let rows = outbox(store, incidents).await;
        rows.iter()
            .all(|n| n.state != NotificationState::Pending)
            .then_some(rows)
    })
    .await
}
