//! `jikimi bench disaster`: a disaster's welfare check on one node.
//!
//! Registers N subscribers (default 100,000, one device each, every other a U-Relief terminal) with sealed homes
//! on a grid over Seoul, declares a disaster covering them all and times the welfare check: placing everyone
//! (opening the sealed homes), testing them against the area, sealing and committing the person rows, and, with
//! `--mqtt`, publishing the question to every terminal until the terminals' stand-ins on the broker have received
//! them all ([`count_deliveries`]: many connections, each subscribed to its own terminals' topics, as terminals
//! are; one connection on a wildcard overran the broker's per-client queue and lost questions). Then
//! M devices (default 20,000) answer concurrently through the same path as the app and the terminals (signature
//! checked by the intake, answer committed and audited, an answer in need also committed as an alert): answers per
//! second. Registration is not timed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jikimi_respond::disaster::{DisasterArea, DisasterKind};
use jikimi_respond::{Actor, DeviceId, SubscriberId};
use jikimi_server::config::{Config, KeyMaterial};
use jikimi_server::disaster::welfare::{WelfareAnswerRequest, answer_context, record_answer};
use jikimi_server::intake_service::{Channel, Intake, Signed};
use jikimi_server::state::AppState;
use jikimi_store::disaster::DisasterRecord;
use jikimi_store::{Change, DeviceRecord, SubscriberRecord};
use serde_json::json;
use uuid::Uuid;

/// `jikimi bench disaster` options.
#[derive(Debug, clap::Args)]
pub struct DisasterArgs {
    /// Subscribers in the area.
    #[arg(long, default_value_t = 100_000)]
    subscribers: usize,
    /// Devices that answer (30 % need_help or trapped, the rest safe).
    #[arg(long, default_value_t = 20_000)]
    answers: usize,
    /// Answers in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Database (default: a SQLite file in a temporary directory). Use a scratch PostgreSQL database.
    #[arg(long)]
    database_url: Option<String>,
    /// Broker to publish the terminals' questions through (e.g. mqtt://127.0.0.1:1883); none: apps only poll.
    #[arg(long)]
    mqtt: Option<String>,
    /// With --mqtt: terminals whose topics one counting connection subscribes to. Mosquitto queues at most
    /// `max_queued_messages` (default 1,000) QoS 1 messages per client and drops the rest, so this stays below it.
    #[arg(long, default_value_t = 500)]
    terminals_per_connection: usize,
    /// Print the result as one JSON object on stdout instead of text.
    #[arg(long)]
    json: bool,
}

fn grid(i: usize) -> (f64, f64) {
    // 400 columns, 100 m apart: 100,000 people over 40 x 25 km.
    (
        37.40 + (i / 400) as f64 * 0.0009,
        126.80 + (i % 400) as f64 * 0.0011,
    )
}

/// Runs the benchmark and prints its report.
pub async fn disaster(args: DisasterArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.sqlite").display()));
    let store = jikimi_store::connect(&database_url).await?;
    store.migrate().await?;
    let config = Config {
        database_url: database_url.clone(),
        surge: jikimi_respond::SurgeConfig::DEFAULT,
        ..Config::default()
    };
    let state = AppState::new(
        store.clone(),
        &KeyMaterial::generate(),
        config,
        jikimi_server::state::system_clock(),
    )?;
    let n = args.subscribers.max(1);
    let started = Instant::now();
    let change = Change::new(Actor::System, state.now(), "bench registration");
    let mut devices = Vec::with_capacity(n);
    for i in 0..n {
        let subscriber = SubscriberId(Uuid::now_v7());
        let record = format!("subscriber/{subscriber}");
        let (lat, lon) = grid(i);
        let mut fields = BTreeMap::new();
        fields.insert(
            "home".to_string(),
            state.keyring.seal_str(
                &record,
                "home",
                &json!({"lat": lat, "lon": lon}).to_string(),
            )?,
        );
        store
            .put_subscriber(
                &SubscriberRecord {
                    id: subscriber,
                    fields,
                    indexes: Vec::new(),
                    language: "ko".into(),
                    created_at: change.at,
                    updated_at: change.at,
                },
                &change,
            )
            .await?;
        let key = jikimi_server::signing::generate_device_key();
        let device = DeviceId(Uuid::new_v4());
        store
            .put_device(
                &DeviceRecord {
                    id: device,
                    subscriber_id: Some(subscriber),
                    public_key: key.verifying_key().to_bytes().to_vec(),
                    kind: if i % 2 == 0 { "u-relief" } else { "app" }.into(),
                    enrolled_at: change.at,
                    revoked_at: None,
                },
                &change,
            )
            .await?;
        devices.push((device, key));
    }
    let registration_s = started.elapsed().as_secs_f64();

    // The terminals' broker, and the terminals' stand-ins counting what it delivers.
    let mut delivered = None;
    if let Some(url) = &args.mqtt {
        let prefix = format!("bench/{}/jikimi/v1", Uuid::new_v4().simple());
        let mut mqtt = jikimi_server::mqtt::MqttConfig::from_url(
            url,
            format!("jikimi-bench-{}", Uuid::new_v4().simple()),
        )
        .map_err(anyhow::Error::msg)?;
        mqtt.prefix = prefix.clone();
        let mut intake = jikimi_server::mqtt::spawn(state.clone(), mqtt.clone());
        tokio::time::timeout(Duration::from_secs(20), intake.ready())
            .await
            .context("the broker did not confirm the subscriptions")?;
        let topics: Vec<String> = devices
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, (device, _))| jikimi_server::mqtt::welfare::welfare_topic(&prefix, &device.0))
            .collect();
        delivered = Some(
            count_deliveries(&mqtt, topics, args.terminals_per_connection.clamp(1, 900)).await?,
        );
    }

    let (lat_max, lon_max) = grid(n - 1);
    let area = DisasterArea::new(vec![vec![vec![
        [126.79, 37.39],
        [lon_max.max(127.24) + 0.01, 37.39],
        [lon_max.max(127.24) + 0.01, lat_max + 0.01],
        [126.79, lat_max + 0.01],
        [126.79, 37.39],
    ]]])?;
    let declared = Change::new(Actor::Staff("bench".into()), state.now(), "bench disaster");
    let disaster = DisasterRecord {
        id: Uuid::now_v7(),
        kind: DisasterKind::Earthquake,
        title: "bench earthquake".into(),
        area,
        cap_identifier: None,
        declared_at: declared.at,
        closed_at: None,
    };
    store.declare_disaster(&disaster, &declared).await?;
    let t0 = Instant::now();
    let fan_out = jikimi_server::disaster::welfare::welfare_check(&state, &disaster, &declared)
        .await
        .map_err(|e| anyhow::anyhow!("welfare check: {e}"))?;
    let committed_s = t0.elapsed().as_secs_f64();
    anyhow::ensure!(
        fan_out.asked as usize == n,
        "asked {} of {n}",
        fan_out.asked
    );
    let mut published_s = None;
    if let Some(count) = &delivered {
        let want = fan_out.terminals as usize;
        let deadline = Instant::now() + Duration::from_secs(600);
        while count.received() < want {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the terminals did not all hear the question: {} of {want} in 600 s",
                count.received()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        published_s = Some(t0.elapsed().as_secs_f64());
    }

    // Answers, through the intake's signature check and the one answer service.
    let m = args.answers.min(n);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let t1 = Instant::now();
    for (i, (device, key)) in devices.iter().take(m).enumerate() {
        let answer = match i % 10 {
            0 => "trapped",
            1 | 2 => "need_help",
            _ => "safe",
        };
        let body =
            json!({"answer_id": Uuid::new_v4(), "answer": answer, "battery_pct": 50}).to_string();
        let nonce = Uuid::new_v4().simple().to_string();
        let now_s = state.now().as_unix_ms() / 1000;
        let signature = jikimi_server::signing::sign_in(
            &answer_context(&disaster.id),
            key,
            &device.0,
            now_s,
            &nonce,
            body.as_bytes(),
        )
        .signature;
        let state = state.clone();
        let device = *device;
        let disaster_id = disaster.id;
        let permit = semaphore.clone().acquire_owned().await?;
        tasks.spawn(async move {
            let _permit = permit;
            let intake = Intake::new(&state);
            let channel = Channel::App {
                source: jikimi_server::flood::Source(None),
                request_id: nonce.clone(),
            };
            let signed = Signed {
                device_id: device,
                timestamp_s: now_s,
                nonce: &nonce,
                signature: &signature,
                body: body.as_bytes(),
            };
            let cached = intake
                .verify(&answer_context(&disaster_id), &signed, &channel)
                .await
                .map_err(|r| anyhow::anyhow!("refused: {:?}", r.code()))?;
            let request: WelfareAnswerRequest = serde_json::from_str(&body)?;
            record_answer(
                &state,
                device,
                cached.subscriber_id,
                &nonce,
                disaster_id,
                &request,
            )
            .await
            .map_err(|e| anyhow::anyhow!("answer: {e}"))?;
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let answers_s = t1.elapsed().as_secs_f64();
    let persons = store.welfare_persons(disaster.id).await?;
    let answered = persons
        .iter()
        .filter(|p| p.status != jikimi_respond::disaster::WelfareStatus::NoAnswer)
        .count();
    anyhow::ensure!(answered == m, "{answered} answers stored of {m}");

    let report = json!({
        "backend": store.backend(),
        "subscribers": n,
        "registration_s": registration_s,
        "welfare_check": {
            "asked": fan_out.asked,
            "terminals": fan_out.terminals,
            "committed_s": committed_s,
            "asked_per_s": n as f64 / committed_s,
            "all_terminals_delivered_s": published_s,
        },
        "answers": {
            "count": m,
            "concurrency": args.concurrency,
            "seconds": answers_s,
            "per_s": m as f64 / answers_s,
        },
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "disaster welfare check on {} ({n} subscribers, one node)",
            store.backend()
        );
        println!("  registration (not timed): {registration_s:.1} s");
        println!(
            "  welfare check committed: {committed_s:.2} s ({:.0} people/s)",
            n as f64 / committed_s
        );
        if let Some(s) = published_s {
            println!(
                "  all {} terminals received the question over MQTT: {s:.2} s",
                fan_out.terminals
            );
        }
        println!(
            "  answers: {m} in {answers_s:.2} s = {:.0} answers/s (concurrency {})",
            m as f64 / answers_s,
            args.concurrency
        );
    }
    Ok(())
}

/// The terminals' stand-ins: connections of `per_connection` terminals each, every one subscribed (QoS 1, as a
/// terminal is) to exactly its terminals' welfare topics, so no connection is sent more than the broker will queue
/// for it. Each counts the distinct topics it heard (a QoS 1 redelivery is not counted twice).
struct Deliveries {
    count: Arc<std::sync::atomic::AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Deliveries {
    fn received(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Deliveries {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Filters per SUBSCRIBE packet (about 90 bytes each: well under the broker's packet limit).
const FILTERS_PER_SUBSCRIBE: usize = 100;

async fn count_deliveries(
    config: &jikimi_server::mqtt::MqttConfig,
    topics: Vec<String>,
    per_connection: usize,
) -> anyhow::Result<Deliveries> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeFilter};
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let mut readies = Vec::new();
    for chunk in topics.chunks(per_connection.max(1)) {
        let mut options = MqttOptions::new(
            format!("bench-terminals-{}", Uuid::new_v4().simple()),
            config.host.clone(),
            config.port,
        );
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 1_000);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        readies.push(ready_rx);
        let mut ready_tx = Some(ready_tx);
        let counted = count.clone();
        let filters: Vec<Vec<SubscribeFilter>> = chunk
            .chunks(FILTERS_PER_SUBSCRIBE)
            .map(|c| {
                c.iter()
                    .map(|t| SubscribeFilter::new(t.clone(), QoS::AtLeastOnce))
                    .collect()
            })
            .collect();
        let mut seen = std::collections::HashSet::with_capacity(chunk.len());
        tasks.push(tokio::spawn(async move {
            let mut acks_due = 0usize;
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        acks_due = filters.len();
                        for f in &filters {
                            let _ = client.subscribe_many(f.clone()).await;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        acks_due = acks_due.saturating_sub(1);
                        if acks_due == 0
                            && let Some(tx) = ready_tx.take()
                        {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if seen.insert(p.topic) {
                            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }));
    }
    let deliveries = Deliveries { count, tasks };
    for ready in readies {
        tokio::time::timeout(Duration::from_secs(60), ready)
            .await
            .context("a counting connection did not subscribe")??;
    }
    Ok(deliveries)
}
