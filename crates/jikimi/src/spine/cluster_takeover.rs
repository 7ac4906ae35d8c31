//! `jikimi bench cluster`, last part: how long after a `kill -9` of a node its work moves to another (issue 18).
//! Node A starts first and takes every work lease; node B joins; A is killed. Timed from the kill: until node B
//! holds every work lease (read from the store's lease table, as `jikimi cluster status` reads it), and, with
//! `--mqtt`, until the terminals' shared subscription is served by B alone: a terminal publishes a signed SOS every
//! 50 ms from the kill on, and the figure is the publish time of the first of a run of 20 consecutive alerts each
//! answered within a second (a message the broker still routes to A's offline session waits there until a live node
//! takes that session over, `server::mqtt::takeover`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::child::spawn_server;
use super::client::Device;
use jikimi_server::config::KeyMaterial;

/// Consecutive answered probes that count as the share taken over.
const RUN: usize = 20;
/// Longest wait for each takeover.
const LIMIT: Duration = Duration::from_secs(60);

/// What was measured, in ms from the kill; `None`: not within [`LIMIT`].
pub struct Takeover {
    pub leases_ms: Option<f64>,
    pub mqtt_ms: Option<Option<f64>>,
}

impl Takeover {
    pub fn json(&self) -> Value {
        json!({"leases_ms": self.leases_ms, "mqtt_share_ms": self.mqtt_ms.flatten(),
            "mqtt_measured": self.mqtt_ms.is_some()})
    }
}

/// Runs it on `database_url` with NATS at `nats` (a stream of its own), the terminals on `mqtt` when given.
pub async fn measure(
    database_url: &str,
    keys: &KeyMaterial,
    nats: &str,
    mqtt: Option<&str>,
    device: &Device,
) -> anyhow::Result<Takeover> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let stream = format!("TAKE{}", &run[..12]);
    let prefix = format!("jikimi-bench/{run}");
    let client_id = format!("bt{}", &run[..8]);
    let flags = |node: &'static str| {
        let mut flags = vec![
            "--nats".to_string(),
            nats.to_string(),
            "--nats-stream".into(),
            stream.clone(),
            "--node-id".into(),
            node.to_string(),
            "--surge-radius-m".into(),
            "0".into(),
            "--alert-budget-burst".into(),
            "1000000".into(),
        ];
        if let Some(url) = mqtt {
            flags.extend([
                "--mqtt".to_string(),
                url.to_string(),
                "--mqtt-topic-prefix".into(),
                prefix.clone(),
                "--mqtt-client-id".into(),
                client_id.clone(),
            ]);
        }
        flags
    };
    let store = jikimi_store::connect(database_url).await?;
    let work = jikimi_server::cluster::leases::WORK;
    let holders = async || -> anyhow::Result<HashMap<String, String>> {
        let now = jikimi_respond::Timestamp::from(std::time::SystemTime::now());
        Ok(store
            .list_leases()
            .await?
            .into_iter()
            .filter(|l| l.expires_at > now)
            .map(|l| (l.name, l.holder))
            .collect())
    };
    let a_flags = flags("take-a");
    let a_args: Vec<&str> = a_flags.iter().map(String::as_str).collect();
    let (a, _) = spawn_server(database_url, keys, &a_args).await?;
    let deadline = Instant::now() + LIMIT;
    loop {
        let h = holders().await.unwrap_or_default();
        if work
            .iter()
            .all(|w| h.get(*w).map(String::as_str) == Some("take-a"))
        {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "node A never took the work leases"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b_flags = flags("take-b");
    let b_args: Vec<&str> = b_flags.iter().map(String::as_str).collect();
    let (_b, _) = spawn_server(database_url, keys, &b_args).await?;
    // Both nodes in the share group before the kill.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let terminal = match mqtt {
        Some(url) => Some(Terminal::connect(url, &prefix, device).await?),
        None => None,
    };
    drop(a); // SIGKILL
    let killed = Instant::now();
    let prober = terminal
        .map(|t| tokio::spawn(t.probe(device.id, device.key.clone(), prefix.clone(), killed)));
    let mut leases_ms = None;
    while killed.elapsed() < LIMIT {
        if let Ok(h) = holders().await
            && work
                .iter()
                .all(|w| h.get(*w).map(String::as_str) == Some("take-b"))
        {
            leases_ms = Some(killed.elapsed().as_secs_f64() * 1000.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mqtt_ms = match prober {
        Some(task) => Some(task.await.context("the MQTT prober failed")??),
        None => None,
    };
    Ok(Takeover { leases_ms, mqtt_ms })
}

/// A terminal on the broker, reading its device's acks.
struct Terminal {
    client: rumqttc::AsyncClient,
    acked: Arc<Mutex<HashMap<String, Instant>>>,
    pump: tokio::task::JoinHandle<()>,
}

impl Terminal {
    async fn connect(url: &str, prefix: &str, device: &Device) -> anyhow::Result<Terminal> {
        use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
        let config = jikimi_server::mqtt::MqttConfig::from_url(url, "bench-terminal".into())
            .map_err(|e| anyhow::anyhow!("--mqtt: {e}"))?;
        let mut options = MqttOptions::new(
            format!(
                "bench-term-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            config.host.clone(),
            config.port,
        );
        options.set_keep_alive(Duration::from_secs(10));
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        client
            .subscribe(
                jikimi_server::mqtt::envelope::ack_topic(prefix, &device.id),
                QoS::AtLeastOnce,
            )
            .await?;
        let acked: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let sink = acked.clone();
        let pump = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Ok(ack) =
                            serde_json::from_slice::<jikimi_server::mqtt::envelope::Ack>(&p.payload)
                            && ack.error.is_none()
                            && let Some(nonce) = ack.nonce
                            && let Ok(mut acked) = sink.lock()
                        {
                            acked.insert(nonce, Instant::now());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Ok(Terminal {
            client,
            acked,
            pump,
        })
    }

    /// Publishes a signed SOS every 50 ms from `since`; the ms from `since` to the first of [`RUN`] consecutive
    /// probes all answered, `None` when none within [`LIMIT`].
    async fn probe(
        self,
        device: uuid::Uuid,
        key: ed25519_dalek::SigningKey,
        prefix: String,
        since: Instant,
    ) -> anyhow::Result<Option<f64>> {
        use jikimi_server::mqtt::envelope::{TopicKind, sign, sos_topic};
        let mut sent: Vec<(String, Instant)> = Vec::new();
        let result = loop {
            if since.elapsed() > LIMIT {
                break None;
            }
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let body = json!({"alert_id": uuid::Uuid::new_v4(), "priority": 1,
                "location": {"lat": 37.56, "lon": 126.97, "accuracy_m": 10.0, "method": "gnss"}})
            .to_string();
            let now_s =
                jikimi_respond::Timestamp::from(std::time::SystemTime::now()).as_unix_ms() / 1000;
            let payload = sign(&key, &device, TopicKind::Sos, now_s, &nonce, &body);
            self.client
                .publish(
                    sos_topic(&prefix, &device),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await?;
            sent.push((nonce, Instant::now()));
            tokio::time::sleep(Duration::from_millis(50)).await;
            // The latest run of probes all answered, with each answered: the share is served.
            // Only probes given a second to be answered count.
            let acked = self.acked.lock().map(|a| a.clone()).unwrap_or_default();
            // Answered within a second of its publish: one queued in the dead node's session and answered only
            // when a live node drains it does not count as served.
            let answered: Vec<bool> = sent
                .iter()
                .take_while(|(_, at)| at.elapsed() > Duration::from_secs(1))
                .map(|(n, at)| {
                    acked
                        .get(n)
                        .is_some_and(|t| t.saturating_duration_since(*at) < Duration::from_secs(1))
                })
                .collect();
            if let Some(start) = first_run(&answered, RUN) {
                break Some(sent[start].1.saturating_duration_since(since).as_secs_f64() * 1000.0);
            }
        };
        self.pump.abort();
        Ok(result)
    }
}

/// The start of the first run of `n` `true`s after which everything is `true`, once such a run exists.
fn first_run(answered: &[bool], n: usize) -> Option<usize> {
    let last_false = answered.iter().rposition(|a| !a);
    let start = last_false.map_or(0, |i| i + 1);
    (answered.len() - start >= n).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::first_run;

    #[test]
    fn a_run_is_counted_from_after_the_last_unanswered_probe() {
        assert_eq!(first_run(&[true, false, true, true], 2), Some(2));
        assert_eq!(first_run(&[true, false, true], 2), None);
        assert_eq!(first_run(&[true, true], 2), Some(0));
    }
}
