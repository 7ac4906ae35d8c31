//! The cluster's acceptance test (issue 18): three `jikimi serve` nodes on one PostgreSQL schema, a private
//! `nats-server` and the machine's Mosquitto (1883) for terminals. A surge of alerts is spread over HTTP on all three
//! nodes and over MQTT; node A is killed with `kill -9` a third of the way in and restarted. HTTP clients retry an
//! unanswered alert on the next node (same alert id, fresh nonce), terminals re-publish an alert not acknowledged in
//! time. Then: the alerts answered 202 or acknowledged over MQTT are exactly the alerts stored, one row and one
//! incident each, and exactly the alerts on node C's live feed (by alert id); every guardian notification reaches the
//! test's webhook sink, each id once after the sink drops repeats by `Idempotency-Key` (the raw number of POSTs is
//! printed: a node killed mid-delivery may have sent one before it could record it).
//!
//! `JIKIMI_E2E_ALERTS` sets the number of alerts (default 20,000, the figure; CI runs the default).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use jikimi_server::mqtt::envelope::{self, TopicKind};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cluster::{Device, Feed, Nats, login, node_env, pg_site, stop, stream_name};

const SECRET: &str = "cluster-e2e-webhook-secret-0123";
/// Devices sending over HTTP and over MQTT; every one has a subscriber with one webhook guardian.
const HTTP_DEVICES: usize = 60;
const MQTT_DEVICES: usize = 10;
/// Concurrent HTTP clients.
const HTTP_CLIENTS: usize = 32;
/// One alert in this many goes over MQTT.
const MQTT_EVERY: usize = 10;

fn n_alerts() -> usize {
    std::env::var("JIKIMI_E2E_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// The guardians' webhook endpoint: checks signatures, counts POSTs and distinct notification ids.
#[derive(Default)]
struct Sink {
    posts: AtomicUsize,
    bad: AtomicUsize,
    keys: Mutex<HashSet<String>>,
}

async fn hook(
    axum::extract::State(sink): axum::extract::State<Arc<Sink>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp: i64 = header("x-jikimi-timestamp").parse().unwrap_or(0);
    if !jikimi_notify::signing::verify(
        SECRET.as_bytes(),
        timestamp,
        &body,
        &header("x-jikimi-signature"),
    ) {
        sink.bad.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    sink.posts.fetch_add(1, Ordering::SeqCst);
    sink.keys
        .lock()
        .expect("lock")
        .insert(header("idempotency-key"));
    StatusCode::OK
}

async fn start_sink() -> (String, Arc<Sink>) {
    let sink = Arc::new(Sink::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let addr = listener.local_addr().expect("sink addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), sink)
}

async fn register_with_guardian(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    hook: &str,
) -> Device {
    let key = jikimi_server::signing::generate_device_key();
    let registered: Value = client
        .post(format!("{base}/api/subscribers"))
        .bearer_auth(token)
        .json(&json!({"name": "Cluster E2E", "phone": "010-0000-0002",
            "devices": [{"public_key": hex::encode(key.verifying_key().to_bytes())}],
            "guardians": [{"name": "Parent", "language": "en",
                "channels": [{"kind": "webhook", "address": hook}]}]}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("register json");
    let id = registered["device_ids"][0].as_str().expect("device id");
    Device {
        id: Uuid::parse_str(id).expect("uuid"),
        key,
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn alert_body(alert_id: Uuid) -> String {
    json!({"alert_id": alert_id, "priority": 1, "silent": true,
        "location": {"lat": 37.56, "lon": 126.97, "accuracy_m": 10.0, "method": "gnss"}})
    .to_string()
}

/// The nodes' current base URLs; `None` while a node is down.
pub(crate) type Bases = Arc<RwLock<Vec<Option<String>>>>;

/// Sends one alert over HTTP, starting at node `first` (of three slots; an empty one is skipped) and moving to the next node on any failure, until a node
/// answers 202. Returns how many attempts failed.
pub(crate) async fn send_http(
    client: &reqwest::Client,
    bases: &Bases,
    device: &Device,
    alert_id: Uuid,
    first: usize,
) -> usize {
    let body = alert_body(alert_id);
    let mut failed = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    for k in 0.. {
        assert!(Instant::now() < deadline, "alert {alert_id} never accepted");
        // Once round all three slots: a pause before the next round.
        if k >= 3 && k % 3 == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // A slot that is None is a node that is down: the next one.
        let base = bases.read().expect("bases")[(first + k) % 3].clone();
        if let Some(base) = base {
            let headers = jikimi_server::signing::sign_alert(
                &device.key,
                &device.id,
                now_s(),
                body.as_bytes(),
            );
            let mut request = client
                .post(format!("{base}/api/alerts"))
                .header("content-type", "application/json")
                .timeout(Duration::from_secs(60))
                .body(body.clone());
            for (name, value) in headers.pairs() {
                request = request.header(name, value);
            }
            match request.send().await {
                Ok(response) if response.status().as_u16() == 202 => return failed,
                Ok(response) if response.status().is_server_error() => failed += 1,
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    panic!("alert {alert_id} refused {status}: {text}");
                }
                // Connection refused or reset (the killed node): the next node.
                Err(_) => failed += 1,
            }
        }
    }
    failed
}

/// Node C's live feed: the alert ids of every `incident` event, following `resync` by resuming after the last id.
pub(crate) async fn follow_feed(
    client: reqwest::Client,
    base: String,
    token: String,
    seen: Arc<Mutex<HashSet<Uuid>>>,
    lost: Arc<AtomicBool>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut last: Option<String> = None;
    loop {
        // A node that is down or cut off answers nothing or 503: the console tries again shortly.
        let opened = Feed::try_open(&client, &base, &token, last.as_deref()).await;
        if opened.is_none() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if let Some(mut feed) = opened {
            while let Some((event, id, data)) = feed.next(Duration::from_secs(600)).await {
                match event.as_str() {
                    "hello" => {
                        let hello: Value = serde_json::from_str(&data).unwrap_or_default();
                        if hello["resync"] == true && last.is_some() {
                            lost.store(true, Ordering::SeqCst);
                        }
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    "resync" => break,
                    "incident" => {
                        let v: Value = serde_json::from_str(&data).unwrap_or_default();
                        if let Some(alert) =
                            v["alert_id"].as_str().and_then(|s| Uuid::parse_str(s).ok())
                        {
                            seen.lock().expect("lock").insert(alert);
                        }
                        last = Some(id);
                    }
                    _ => {
                        if !id.is_empty() {
                            last = Some(id);
                        }
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_and_duplicate_nothing_when_one_is_killed_mid_surge() {
    let n = n_alerts();
    let nats = Nats::started();
    let stream = stream_name();
    let (site, pg) = pg_site().await;
    let url = nats.url();
    let run = Uuid::new_v4().simple().to_string();
    let prefix = format!("jikimi-e2e/{run}");
    let client_id = format!("je{}", &run[..8]);
    let env = |node: &'static str| {
        let mut env: Vec<(&str, &str)> = node_env(&url, &stream, node).to_vec();
        env.extend([
            ("JIKIMI_MQTT", "mqtt://127.0.0.1:1883"),
            ("JIKIMI_MQTT_TOPIC_PREFIX", prefix.as_str()),
            ("JIKIMI_MQTT_CLIENT_ID", client_id.as_str()),
            ("JIKIMI_NOTIFY_WEBHOOK_SECRET", SECRET),
            ("JIKIMI_NOTIFY_BACKOFF_BASE_MS", "100"),
            ("JIKIMI_NOTIFY_BACKOFF_MAX_S", "2"),
            ("JIKIMI_NOTIFY_POLL_MS", "100"),
            ("JIKIMI_NOTIFY_LEASE_S", "11"),
        ]);
        env
    };
    let names = ["node-a", "node-b", "node-c"];
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for name in names {
        let (child, base) = site.serve_with(&env(name));
        children.push(Some(child));
        urls.push(Some(base));
    }
    let bases: Bases = Arc::new(RwLock::new(urls.clone()));
    let base_c = urls[2].clone().expect("node C");
    let client = reqwest::Client::new();
    let token = login(&client, &base_c).await;
    let (hook_url, sink) = start_sink().await;
    let mut http_devices = Vec::new();
    for _ in 0..HTTP_DEVICES {
        http_devices.push(register_with_guardian(&client, &base_c, &token, &hook_url).await);
    }
    let mut mqtt_devices = Vec::new();
    for _ in 0..MQTT_DEVICES {
        mqtt_devices.push(register_with_guardian(&client, &base_c, &token, &hook_url).await);
    }
    let http_devices = Arc::new(http_devices);

    // Node C's console, following the feed from before the surge.
    let seen: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let lost = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let feed_task = tokio::spawn(follow_feed(
        client.clone(),
        base_c.clone(),
        token.clone(),
        seen.clone(),
        lost.clone(),
        ready_tx,
    ));
    ready_rx.await.expect("feed hello");

    // The terminals: one MQTT client for every MQTT device, reading every device's acks.
    let mut options = MqttOptions::new(format!("e2e{}", &run[..8]), "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(10));
    let (terminal, mut eventloop) = AsyncClient::new(options, 1024);
    terminal
        .subscribe(format!("{prefix}/devices/+/ack"), QoS::AtLeastOnce)
        .await
        .expect("subscribe to acks");
    // nonce -> alert id of every publish; alert ids acknowledged without error.
    let nonces: Arc<Mutex<HashMap<String, Uuid>>> = Arc::default();
    let mqtt_acked: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let ack_errors: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let pump = {
        let (nonces, acked, errors) = (nonces.clone(), mqtt_acked.clone(), ack_errors.clone());
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let ack = serde_json::from_slice::<envelope::Ack>(&p.payload).ok();
                        match ack.as_ref().map(|a| (&a.error, &a.nonce)) {
                            Some((None, Some(nonce))) => {
                                if let Some(alert) = nonces.lock().expect("lock").get(nonce) {
                                    acked.lock().expect("lock").insert(*alert);
                                }
                            }
                            Some((Some(error), _)) => {
                                *errors
                                    .lock()
                                    .expect("lock")
                                    .entry(error.clone())
                                    .or_default() += 1;
                            }
                            _ => {}
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        })
    };
    let publish = {
        let terminal = terminal.clone();
        let nonces = nonces.clone();
        let prefix = prefix.clone();
        move |device: &Device, alert_id: Uuid| {
            let nonce = Uuid::new_v4().simple().to_string();
            nonces.lock().expect("lock").insert(nonce.clone(), alert_id);
            let payload = envelope::sign(
                &device.key,
                &device.id,
                TopicKind::Sos,
                now_s(),
                &nonce,
                &alert_body(alert_id),
            );
            let terminal = terminal.clone();
            let topic = envelope::sos_topic(&prefix, &device.id);
            async move {
                terminal
                    .publish(topic, QoS::AtLeastOnce, false, payload)
                    .await
                    .expect("publish");
            }
        }
    };
    // Until the nodes' shared subscriptions are in place: probes, counted like any other MQTT alert.
    let mut mqtt_alerts: Vec<(usize, Uuid)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while mqtt_acked.lock().expect("lock").is_empty() {
        assert!(Instant::now() < deadline, "no node answered over MQTT");
        let id = Uuid::new_v4();
        publish(&mqtt_devices[0], id).await;
        mqtt_alerts.push((0, id));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The surge.
    let started = Instant::now();
    let accepted_http: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let failures = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..HTTP_CLIENTS {
        let (client, bases, devices) = (client.clone(), bases.clone(), http_devices.clone());
        let (next, accepted, failures) = (next.clone(), accepted_http.clone(), failures.clone());
        senders.spawn(async move {
            let mut i = next.fetch_add(1, Ordering::SeqCst);
            while i < n {
                // Every MQTT_EVERY-th alert goes over MQTT (the MQTT sender below).
                if i % MQTT_EVERY != 0 {
                    let alert_id = Uuid::new_v4();
                    let device = &devices[i % devices.len()];
                    let failed = send_http(&client, &bases, device, alert_id, i % 3).await;
                    failures.fetch_add(failed, Ordering::SeqCst);
                    accepted.lock().expect("lock").insert(alert_id);
                }
                i = next.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let mqtt_sender = {
        let publish = publish.clone();
        let (next, devices) = (
            next.clone(),
            mqtt_devices
                .iter()
                .map(|d| Device {
                    id: d.id,
                    key: d.key.clone(),
                })
                .collect::<Vec<_>>(),
        );
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in (0..n).step_by(MQTT_EVERY) {
                // Keep pace with the HTTP clients, so MQTT alerts are in flight when the node is killed.
                while next.load(Ordering::SeqCst) < i && next.load(Ordering::SeqCst) < n {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let d = (i / MQTT_EVERY) % devices.len();
                let id = Uuid::new_v4();
                publish(&devices[d], id).await;
                sent.push((d, id));
            }
            sent
        })
    };

    // kill -9 of node A a third of the way in, then a restart with the same node id (and MQTT session).
    while next.load(Ordering::SeqCst) < n / 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bases.write().expect("bases")[0] = None;
    if let Some(child) = children[0].take() {
        stop(child); // SIGKILL on Unix.
    }
    let killed_at = next.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (child, base_a) = tokio::task::block_in_place(|| site.serve_with(&env(names[0])));
    children[0] = Some(child);
    bases.write().expect("bases")[0] = Some(base_a);

    while senders.join_next().await.is_some() {}
    let http_done = started.elapsed();
    mqtt_alerts.extend(mqtt_sender.await.expect("mqtt sender"));
    // Terminals re-publish (fresh nonce, same alert id) what is not acknowledged within 20 s.
    let mut last_sent: HashMap<Uuid, Instant> = mqtt_alerts
        .iter()
        .map(|(_, id)| (*id, Instant::now()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut republished = 0usize;
    loop {
        let missing: Vec<(usize, Uuid)> = {
            let acked = mqtt_acked.lock().expect("lock");
            mqtt_alerts
                .iter()
                .filter(|(_, id)| !acked.contains(id))
                .copied()
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} MQTT alerts never acknowledged",
            missing.len()
        );
        for (d, id) in missing {
            if last_sent
                .get(&id)
                .is_some_and(|t| t.elapsed() > Duration::from_secs(20))
            {
                publish(&mqtt_devices[d], id).await;
                last_sent.insert(id, Instant::now());
                republished += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let accept_done = started.elapsed();

    let mut accepted: HashSet<Uuid> = accepted_http.lock().expect("lock").clone();
    let n_http = accepted.len();
    accepted.extend(mqtt_acked.lock().expect("lock").iter().copied());
    assert_eq!(
        n_http,
        n - n.div_ceil(MQTT_EVERY),
        "every HTTP alert answered 202"
    );
    assert_eq!(
        accepted.len(),
        n_http + mqtt_alerts.len(),
        "every alert accepted once"
    );

    // Stored: one row and one incident per accepted alert (clustering is off), and no other.
    let store = pg.store().await;
    use jikimi_store::prelude::*;
    let counts = store.intake_counts().await.expect("counts");
    let mut stored = HashSet::new();
    let mut after = None;
    loop {
        let page = store
            .list_incidents(&jikimi_store::IncidentFilter {
                statuses: Vec::new(),
                subscriber_id: None,
                device_id: None,
                limit: 10_000,
                order: jikimi_store::IncidentOrder::ById { after },
            })
            .await
            .expect("scan");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for incident in &page {
            assert!(stored.insert(incident.alert_id.0), "alert stored twice");
        }
    }
    assert_eq!(
        counts.alerts as usize,
        accepted.len(),
        "alert rows = accepted alerts"
    );
    assert_eq!(
        counts.incidents as usize,
        accepted.len(),
        "incidents = accepted alerts"
    );
    assert!(
        stored == accepted,
        "stored alerts differ from the accepted ones"
    );

    // On node C's live feed, by id.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n_seen = accepted.intersection(&seen.lock().expect("lock")).count();
        if n_seen == accepted.len() {
            break;
        }
        assert!(
            !lost.load(Ordering::SeqCst),
            "node C's feed had to resync: events were lost"
        );
        assert!(
            Instant::now() < deadline,
            "{n_seen} of {} alerts on node C's live feed",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let feed_done = started.elapsed();
    assert!(
        *seen.lock().expect("lock") == accepted,
        "node C's live feed shows alerts nobody was answered for"
    );

    // Every guardian notification (one per alert: each subscriber has one guardian) once at the sink.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let delivered = sink.keys.lock().expect("lock").len();
        if delivered >= accepted.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} of {} notifications delivered",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let notify_done = started.elapsed();
    // A moment for any late repeat to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let distinct = sink.keys.lock().expect("lock").len();
    let posts = sink.posts.load(Ordering::SeqCst);
    assert_eq!(distinct, accepted.len(), "each notification id once");
    assert_eq!(
        sink.bad.load(Ordering::SeqCst),
        0,
        "a badly signed notification"
    );
    eprintln!(
        "cluster e2e: {} alerts ({} HTTP, {} MQTT), node A killed after {killed_at} and restarted; \
         {} HTTP attempts failed over to another node, {republished} MQTT re-publishes, MQTT error acks {:?}; \
         all accepted {:.1?} (HTTP {:.1?}), all on C's feed {:.1?}, all notified {:.1?}; \
         {posts} webhook POSTs for {distinct} notifications",
        accepted.len(),
        n_http,
        mqtt_alerts.len(),
        failures.load(Ordering::SeqCst),
        ack_errors.lock().expect("lock"),
        accept_done,
        http_done,
        feed_done,
        notify_done,
    );
    jikimi_store::verify_audit(&store)
        .await
        .expect("audit chain");
    pump.abort();
    feed_task.abort();
    for child in children.into_iter().flatten() {
        stop(child);
    }
}
