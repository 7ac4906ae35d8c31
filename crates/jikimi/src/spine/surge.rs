//! `jikimi bench surge`: an earthquake or crowd crush. Many devices send alerts within a minute, most of them from a
//! few small areas, through HTTP (the 112 app) and MQTT (U-Relief terminals) together, against a real `jikimi serve`
//! child process (this same binary) on SQLite or PostgreSQL, while a dispatcher polls the queue.
//!
//! Reports alerts accepted (202s and positive MQTT acks, retries excluded), alerts stored (the store's own count, one
//! row per accepted alert: must be equal), incidents formed (surge clustering), p50/p99 accept latency per channel
//! (request to 202; publish to the ack, which is sent after the commit) and p99 latency of `GET /api/incidents`.
//!
//! The load is open-loop: alert `k` is due at `k * seconds / alerts`, whatever the server's speed, as in a real surge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jikimi_server::config::KeyMaterial;
use jikimi_server::mqtt::envelope::{self, TopicKind};
use jikimi_server::roles::Role;
use rand::{RngExt as _, SeedableRng as _};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

use super::child::spawn_server;
use super::client::{ApiClient, Device};

/// `jikimi bench surge` options.
#[derive(Debug, clap::Args)]
pub struct SurgeArgs {
    /// Database for the server under test (default: a SQLite file in a temporary directory). For PostgreSQL give a
    /// fresh scratch database (`createdb`): the benchmark leaves its data there.
    #[arg(long)]
    database_url: Option<String>,
    /// Devices (a share of them U-Relief terminals on MQTT, the rest 112 apps on HTTP).
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// Alerts to send.
    #[arg(long, default_value_t = 50_000)]
    alerts: usize,
    /// Seconds over which the alerts are sent.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Share of devices (and alerts) on MQTT.
    #[arg(long, default_value_t = 0.5)]
    mqtt_share: f64,
    /// Share of alerts from the hot spots.
    #[arg(long, default_value_t = 0.8)]
    hotspot_share: f64,
    /// Number of hot spots (200 m across each).
    #[arg(long, default_value_t = 5)]
    hotspots: usize,
    /// MQTT broker.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    mqtt: String,
    /// MQTT connections the terminals share (one per terminal would be thousands of sockets on one machine).
    #[arg(long, default_value_t = 16)]
    mqtt_connections: usize,
    /// Most HTTP requests in flight.
    #[arg(long, default_value_t = 512)]
    http_concurrency: usize,
    /// Milliseconds between two polls of the dispatcher queue.
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
    /// Seed for positions and device choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the result as one JSON object on stdout (the header line goes to stderr) instead of text.
    #[arg(long)]
    json: bool,
}

fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us[idx.min(sorted_us.len() - 1)] as f64 / 1000.0
}

/// A point uniformly within `radius_m` of (lat, lon).
fn jitter(rng: &mut rand::rngs::StdRng, lat: f64, lon: f64, radius_m: f64) -> (f64, f64) {
    let r = radius_m * rng.random::<f64>().sqrt();
    let theta = rng.random::<f64>() * std::f64::consts::TAU;
    let dlat = r * theta.cos() / 111_195.0;
    let dlon = r * theta.sin() / (111_195.0 * lat.to_radians().cos());
    (lat + dlat, lon + dlon)
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Runs the benchmark.
pub async fn surge(args: SurgeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.devices > 0 && args.alerts > 0,
        "--devices and --alerts must be positive"
    );
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("surge.sqlite").display()));
    let keys = KeyMaterial::generate();
    let password = jikimi_server::password::generate_password();
    let before = {
        let config = jikimi_server::Config {
            database_url: database_url.clone(),
            ..jikimi_server::Config::default()
        };
        let store = super::open_store(&config).await?;
        super::add_staff(store.as_ref(), "surge-admin", &password, Role::Admin).await?;
        super::add_staff(
            store.as_ref(),
            "surge-dispatcher",
            &password,
            Role::Dispatcher,
        )
        .await?;
        store.intake_counts().await?
    };

    // The server under test: this binary's `serve`, as an operator would run it.
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("bench/{run_id}/jikimi/v1");
    let client_id = format!("jikimi-surge-{run_id}");
    let (child, base) = spawn_server(
        &database_url,
        &keys,
        &[
            "--mqtt",
            &args.mqtt,
            "--mqtt-client-id",
            &client_id,
            "--mqtt-topic-prefix",
            &prefix,
        ],
    )
    .await?;
    let backend = if database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };

    // Devices: registered over the API, 64 per subscriber.
    let mut admin = ApiClient::new(&base)?;
    admin.login("surge-admin", &password).await?;
    let mut devices = Vec::with_capacity(args.devices);
    let mut n = 0;
    while devices.len() < args.devices {
        let take = 64.min(args.devices - devices.len());
        let subscriber = json!({"name": format!("Surge Subscriber {n}"), "phone": format!("010-8{:03}-{:04}", n % 1000, n % 10_000)});
        devices.extend(admin.register_devices(&subscriber, take).await?);
        n += 1;
    }
    let n_mqtt_devices = ((args.devices as f64) * args.mqtt_share.clamp(0.0, 1.0)).round() as usize;
    let devices: Arc<Vec<Device>> = Arc::new(devices);

    // MQTT: one connection collects the acks; the terminals publish over a few shared connections.
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let mqtt_results: Arc<Mutex<(Vec<u64>, u64, u64)>> = Arc::new(Mutex::new((Vec::new(), 0, 0)));
    let broker = jikimi_server::mqtt::MqttConfig::from_url(&args.mqtt, "unused".into())
        .map_err(|e| anyhow::anyhow!("--mqtt: {e}"))?;
    let mut publishers = Vec::new();
    let mut mqtt_tasks = Vec::new();
    if n_mqtt_devices > 0 {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready_tx = Some(ready_tx);
        let mut options = MqttOptions::new(
            format!("surge-acks-{run_id}"),
            broker.host.clone(),
            broker.port,
        );
        options
            .set_keep_alive(Duration::from_secs(10))
            .set_clean_session(false);
        let (client, mut eventloop) = AsyncClient::new(options, 10_000);
        let ack_filter = format!("{prefix}/devices/+/ack");
        let ack_sent_at = sent_at.clone();
        let results = mqtt_results.clone();
        mqtt_tasks.push(tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe(ack_filter.clone(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let ack: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                        let nonce = ack["nonce"].as_str().unwrap_or_default().to_string();
                        let started = ack_sent_at.lock().ok().and_then(|mut m| m.remove(&nonce));
                        if let (Some(started), Ok(mut r)) = (started, results.lock()) {
                            if ack["error"].is_null() && ack["duplicate"] == false {
                                r.0.push(started.elapsed().as_micros() as u64);
                            } else if ack["error"].is_null() {
                                r.2 += 1;
                            } else {
                                r.1 += 1;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }));
        tokio::time::timeout(Duration::from_secs(20), ready_rx)
            .await
            .context("the MQTT broker did not confirm the ack subscription")??;
        for c in 0..args.mqtt_connections.max(1) {
            let mut options = MqttOptions::new(
                format!("surge-pub-{run_id}-{c}"),
                broker.host.clone(),
                broker.port,
            );
            options
                .set_keep_alive(Duration::from_secs(10))
                .set_clean_session(false)
                .set_inflight(200);
            let (client, mut eventloop) = AsyncClient::new(options, 20_000);
            mqtt_tasks.push(tokio::spawn(async move {
                loop {
                    if eventloop.poll().await.is_err() {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }));
            publishers.push(client);
        }
        // The server must have subscribed before the first alert: one probe alert, answered, proves it.
        let probe = &devices[0];
        let body = json!({"alert_id": uuid::Uuid::new_v4(), "priority": 4, "location": {"lat": 0.5, "lon": 0.5, "accuracy_m": 5.0, "method": "gnss"}}).to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            sent_at
                .lock()
                .map_err(|_| anyhow::anyhow!("lock"))?
                .insert(nonce.clone(), Instant::now());
            let payload = envelope::sign(
                &probe.key,
                &probe.id,
                TopicKind::Sos,
                now_s(),
                &nonce,
                &body,
            );
            publishers[0]
                .publish(
                    envelope::sos_topic(&prefix, &probe.id),
                    QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let answered = mqtt_results
                .lock()
                .map(|r| r.0.len() + r.2 as usize > 0)
                .unwrap_or(false);
            if answered {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the server's MQTT intake did not answer within 30 s"
            );
        }
        if let Ok(mut r) = mqtt_results.lock() {
            *r = (Vec::new(), 0, 0);
        }
    }
    let probe_alerts = u64::from(n_mqtt_devices > 0);

    // The plan: positions and channels, drawn before the clock starts.
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let city = (37.5665, 126.9780);
    let spots: Vec<(f64, f64)> = (0..args.hotspots.max(1))
        .map(|_| jitter(&mut rng, city.0, city.1, 8_000.0))
        .collect();
    struct Planned {
        device: usize,
        lat: f64,
        lon: f64,
        priority: u8,
    }
    let plan: Vec<Planned> = (0..args.alerts)
        .map(|k| {
            let (lat, lon) = if rng.random::<f64>() < args.hotspot_share {
                let (slat, slon) = spots[rng.random_range(0..spots.len())];
                jitter(&mut rng, slat, slon, 100.0)
            } else {
                jitter(&mut rng, city.0, city.1, 15_000.0)
            };
            Planned {
                // Every device sends in turn; MQTT devices are the first n_mqtt_devices.
                device: k % args.devices,
                lat,
                lon,
                priority: rng.random_range(0..5),
            }
        })
        .collect();

    let header = format!(
        "surge benchmark: jikimi serve on {backend} ({}); {} devices ({} MQTT, {} HTTP), {} alerts in {} s, {:.0}% from {} hot spots of 200 m",
        super::redact_url(&database_url),
        args.devices,
        n_mqtt_devices,
        args.devices - n_mqtt_devices,
        args.alerts,
        args.seconds,
        args.hotspot_share * 100.0,
        spots.len()
    );
    if args.json {
        eprintln!("{header}");
    } else {
        println!("{header}");
    }

    // The dispatcher polls the queue throughout.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut dispatcher = ApiClient::new(&base)?;
    dispatcher.login("surge-dispatcher", &password).await?;
    let poller = {
        let stop = stop.clone();
        let poll = Duration::from_millis(args.poll_ms.max(1));
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                match dispatcher
                    .get_json("/api/incidents?status=open&limit=100")
                    .await
                {
                    Ok(_) => latencies.push(started.elapsed().as_micros() as u64),
                    Err(_) => errors += 1,
                }
                tokio::time::sleep(poll.saturating_sub(started.elapsed())).await;
            }
            (latencies, errors)
        })
    };

    let http = ApiClient::new(&base)?;
    let permits = Arc::new(tokio::sync::Semaphore::new(args.http_concurrency.max(1)));
    let http_results: Arc<Mutex<(Vec<u64>, u64, u64)>> = Arc::new(Mutex::new((Vec::new(), 0, 0)));
    let mut http_tasks = Vec::new();
    let started = Instant::now();
    let step = Duration::from_secs_f64(args.seconds.max(1) as f64 / args.alerts as f64);
    let mut mqtt_sent = 0u64;
    for (k, planned) in plan.iter().enumerate() {
        let due = started + step.mul_f64(k as f64);
        tokio::time::sleep_until(due.into()).await;
        let device = &devices[planned.device];
        let body = json!({
            "alert_id": uuid::Uuid::new_v4(),
            "priority": planned.priority,
            "location": {"lat": planned.lat, "lon": planned.lon, "accuracy_m": 5.0 + (k % 50) as f64, "method": "gnss"},
        });
        if planned.device < n_mqtt_devices {
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let payload = envelope::sign(
                &device.key,
                &device.id,
                TopicKind::Sos,
                now_s(),
                &nonce,
                &body.to_string(),
            );
            sent_at
                .lock()
                .map_err(|_| anyhow::anyhow!("lock"))?
                .insert(nonce, Instant::now());
            publishers[k % publishers.len()]
                .publish(
                    envelope::sos_topic(&prefix, &device.id),
                    QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await?;
            mqtt_sent += 1;
        } else {
            let permit = permits.clone().acquire_owned().await?;
            let http = http.clone();
            let devices = devices.clone();
            let results = http_results.clone();
            let index = planned.device;
            http_tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let answer = http.send_alert(&devices[index], &body).await;
                let elapsed = sent.elapsed().as_micros() as u64;
                drop(permit);
                if let Ok(mut r) = results.lock() {
                    match answer {
                        Ok((202, v)) if v["duplicate"] == false => r.0.push(elapsed),
                        Ok((202, _)) => r.2 += 1,
                        _ => r.1 += 1,
                    }
                }
            }));
        }
    }
    let send_s = started.elapsed().as_secs_f64();
    for task in http_tasks {
        task.await?;
    }
    // Every MQTT alert is answered after its commit; wait for the answers (up to a minute).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answered = mqtt_results
            .lock()
            .map(|r| r.0.len() as u64 + r.1 + r.2)
            .unwrap_or(0);
        if answered >= mqtt_sent || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total_s = started.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut poll_latencies, poll_errors) = poller.await?;
    for task in mqtt_tasks {
        task.abort();
    }

    let after = {
        let store = jikimi_store::connect(&database_url).await?;
        store.intake_counts().await?
    };
    drop(child);

    let (mut http_lat, http_failed, http_dup) = http_results
        .lock()
        .map(|r| r.clone())
        .map_err(|_| anyhow::anyhow!("lock"))?;
    let (mut mqtt_lat, mqtt_failed, mqtt_dup) = mqtt_results
        .lock()
        .map(|r| r.clone())
        .map_err(|_| anyhow::anyhow!("lock"))?;
    http_lat.sort_unstable();
    mqtt_lat.sort_unstable();
    poll_latencies.sort_unstable();
    let mut all: Vec<u64> = http_lat.iter().chain(mqtt_lat.iter()).copied().collect();
    all.sort_unstable();
    let accepted = all.len() as u64;
    let stored = after.alerts.saturating_sub(before.alerts + probe_alerts);
    let incidents = after
        .incidents
        .saturating_sub(before.incidents + probe_alerts);
    let unanswered = mqtt_sent.saturating_sub(mqtt_lat.len() as u64 + mqtt_failed + mqtt_dup);
    if args.json {
        let report = json!({
            "alerts_sent": args.alerts,
            "sent_http": args.alerts as u64 - mqtt_sent,
            "sent_mqtt": mqtt_sent,
            "send_s": send_s,
            "total_s": total_s,
            "accepted": accepted,
            "accepted_http": http_lat.len(),
            "accepted_mqtt": mqtt_lat.len(),
            "stored": stored,
            "incidents": incidents,
            "refused_http": http_failed,
            "refused_mqtt": mqtt_failed,
            "unanswered_mqtt": unanswered,
            "duplicates": http_dup + mqtt_dup,
            "accept_p50_ms": percentile_ms(&all, 0.5),
            "accept_p99_ms": percentile_ms(&all, 0.99),
            "http_p50_ms": percentile_ms(&http_lat, 0.5),
            "http_p99_ms": percentile_ms(&http_lat, 0.99),
            "mqtt_p50_ms": percentile_ms(&mqtt_lat, 0.5),
            "mqtt_p99_ms": percentile_ms(&mqtt_lat, 0.99),
            "queue_polls": poll_latencies.len(),
            "queue_p50_ms": percentile_ms(&poll_latencies, 0.5),
            "queue_p99_ms": percentile_ms(&poll_latencies, 0.99),
            "queue_max_ms": percentile_ms(&poll_latencies, 1.0),
            "queue_poll_errors": poll_errors,
        });
        println!("{report}");
    } else {
        print_surge_text(&SurgeText {
            alerts: args.alerts,
            mqtt_sent,
            send_s,
            total_s,
            accepted,
            http_lat: &http_lat,
            mqtt_lat: &mqtt_lat,
            all: &all,
            stored,
            incidents,
            http_failed,
            mqtt_failed,
            unanswered,
            duplicates: http_dup + mqtt_dup,
            poll_latencies: &poll_latencies,
            poll_errors,
        });
    }
    anyhow::ensure!(
        stored == accepted,
        "alerts stored ({stored}) != alerts accepted ({accepted})"
    );
    Ok(())
}

/// The numbers of a surge run, for the text report.
struct SurgeText<'a> {
    alerts: usize,
    mqtt_sent: u64,
    send_s: f64,
    total_s: f64,
    accepted: u64,
    http_lat: &'a [u64],
    mqtt_lat: &'a [u64],
    all: &'a [u64],
    stored: u64,
    incidents: u64,
    http_failed: u64,
    mqtt_failed: u64,
    unanswered: u64,
    duplicates: u64,
    poll_latencies: &'a [u64],
    poll_errors: u64,
}

/// The text report of a surge run.
fn print_surge_text(r: &SurgeText<'_>) {
    let SurgeText {
        alerts,
        mqtt_sent,
        send_s,
        total_s,
        accepted,
        http_lat,
        mqtt_lat,
        all,
        stored,
        incidents,
        http_failed,
        mqtt_failed,
        unanswered,
        duplicates,
        poll_latencies,
        poll_errors,
    } = *r;
    println!(
        "sent {} alerts in {send_s:.1} s ({} HTTP, {mqtt_sent} MQTT); all answered after {total_s:.1} s",
        alerts,
        alerts as u64 - mqtt_sent
    );
    println!(
        "alerts accepted  {accepted} (HTTP {}, MQTT {})",
        http_lat.len(),
        mqtt_lat.len()
    );
    println!(
        "alerts stored    {stored} ({})",
        if stored == accepted {
            "equal: zero loss"
        } else {
            "NOT EQUAL"
        }
    );
    println!("incidents formed {incidents}");
    println!(
        "not accepted     HTTP {http_failed}, MQTT {mqtt_failed} refused + {unanswered} unanswered; duplicates {duplicates}"
    );
    println!(
        "accept latency   p50 {:.1} ms, p99 {:.1} ms (HTTP p50 {:.1} / p99 {:.1} ms; MQTT publish-to-ack p50 {:.1} / p99 {:.1} ms)",
        percentile_ms(all, 0.5),
        percentile_ms(all, 0.99),
        percentile_ms(http_lat, 0.5),
        percentile_ms(http_lat, 0.99),
        percentile_ms(mqtt_lat, 0.5),
        percentile_ms(mqtt_lat, 0.99),
    );
    println!(
        "dispatcher queue GET /api/incidents: {} polls, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {poll_errors} errors (target p99 < 100 ms)",
        poll_latencies.len(),
        percentile_ms(poll_latencies, 0.5),
        percentile_ms(poll_latencies, 0.99),
        percentile_ms(poll_latencies, 1.0),
    );
}
