//! U-Relief terminals over MQTT, against the house Mosquitto (127.0.0.1:1883): replays are not second alerts,
//! unsigned or wrongly signed messages are refused and audited; and, against a private Mosquitto the test starts
//! and restarts (that process only), a broker restart during a burst loses nothing.
//!
//! Every test uses its own topic prefix and client ids, so tests (ours and other engineers') can share the broker.

use std::time::Duration;

use jikimi_server::mqtt::envelope::{self, TopicKind};
use jikimi_server::mqtt::{self, MqttConfig, MqttIntake};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::mqtt_broker::Broker;
use crate::support::{Harness, TestDevice, sos};

/// A test client: QoS 1 with a persistent session, so what it had no PUBACK for is resent after a reconnect, and
/// what was published to it while away is delivered.
pub struct Peer {
    pub client: AsyncClient,
    pub received: mpsc::UnboundedReceiver<(String, Value)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    pub async fn connect(client_id: &str, subscribe: Option<String>) -> Peer {
        Peer::connect_to(1883, client_id, subscribe).await
    }

    /// [`Peer::connect`] to the broker on `port` of 127.0.0.1.
    pub async fn connect_to(port: u16, client_id: &str, subscribe: Option<String>) -> Peer {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
        options
            .set_clean_session(false)
            .set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 10_000);
        let (tx, received) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready_tx = Some(ready_tx);
        let sub_client = client.clone();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(topic) = &subscribe {
                            let _ = sub_client.try_subscribe(topic.clone(), QoS::AtLeastOnce);
                        } else if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                        let _ = tx.send((p.topic.clone(), value));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(20), ready_rx)
            .await
            .expect("mosquitto answers")
            .expect("peer ready");
        Peer {
            client,
            received,
            task,
        }
    }

    pub async fn publish(&self, topic: String, payload: Vec<u8>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("queue publish");
    }

    /// The next message received, within 30 s.
    pub async fn next(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(30), self.received.recv())
            .await
            .expect("an ack within 30 s")
            .expect("peer running")
            .1
    }
}

/// A unique topic prefix and the server's MQTT intake on it.
pub async fn start_intake(h: &Harness) -> (String, MqttIntake) {
    start_intake_on(h, 1883).await
}

/// [`start_intake`] against the broker on `port` of 127.0.0.1.
pub async fn start_intake_on(h: &Harness, port: u16) -> (String, MqttIntake) {
    let prefix = format!("test/{}/jikimi/v1", Uuid::new_v4().simple());
    let mut config = MqttConfig::from_url(
        &format!("mqtt://127.0.0.1:{port}"),
        format!("jikimi-test-{}", Uuid::new_v4().simple()),
    )
    .expect("url");
    config.prefix = prefix.clone();
    let mut intake = mqtt::spawn(h.state.clone(), config);
    tokio::time::timeout(Duration::from_secs(20), intake.ready())
        .await
        .expect("server subscribed on mosquitto");
    (prefix, intake)
}

pub(crate) fn signed_sos(h: &Harness, device: &TestDevice, body: &Value, nonce: &str) -> Vec<u8> {
    envelope::sign(
        &device.key,
        &device.id,
        TopicKind::Sos,
        h.now_s(),
        nonce,
        &body.to_string(),
    )
}

/// A signed location update for the alert `alert_id`, with a fresh nonce.
fn signed_location(
    h: &Harness,
    device: &TestDevice,
    alert_id: &Value,
    lat: f64,
    at: &str,
) -> Vec<u8> {
    let update = json!({"alert_id": alert_id, "location": {"lat": lat, "lon": 126.9781, "accuracy_m": 5.0, "method": "gnss", "at": at}}).to_string();
    envelope::sign(
        &device.key,
        &device.id,
        TopicKind::Location,
        h.now_s(),
        &nonce(),
        &update,
    )
}

pub(crate) fn nonce() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A signed SOS is acknowledged after commit ("help is on its way", with the incident id); the same message
/// replayed, and the same alert id re-sent with a fresh nonce, answer the same incident and store nothing new.
/// Tests that use the house broker share it; the one that restarts a broker restarts its own.
pub async fn mqtt_sos_is_acknowledged_and_a_replay_is_not_a_second_alert(h: &Harness) {
    let (prefix, intake) = start_intake(h).await;
    let device = h.device().await;
    let mut terminal = Peer::connect(
        &format!("terminal-{}", Uuid::new_v4().simple()),
        Some(envelope::ack_topic(&prefix, &device.id)),
    )
    .await;
    let body = sos(37.5665, 126.978);
    let message = signed_sos(h, &device, &body, &nonce());
    let mut live = h.state.live.subscribe(None);
    terminal
        .publish(envelope::sos_topic(&prefix, &device.id), message.clone())
        .await;
    let ack = terminal.next().await;
    assert_eq!(ack["message_en"], "Help is on its way.", "{ack}");
    assert_eq!(ack["message_ko"], "도움이 가고 있습니다.");
    assert_eq!(ack["duplicate"], false);
    let incident_id = ack["incident_id"]
        .as_str()
        .expect("incident id")
        .to_string();
    assert_eq!(ack["alert_id"], body["alert_id"]);
    // The dispatcher's console sees the terminal's alert at once, as it sees an HTTP one.
    let dto = h.live_incident(&mut live, &incident_id).await;
    assert_eq!(dto["status"], "received", "{dto}");

    // The very same bytes again (a replay, or the broker's redelivery).
    terminal
        .publish(envelope::sos_topic(&prefix, &device.id), message)
        .await;
    let again = terminal.next().await;
    assert_eq!(again["incident_id"], incident_id.as_str(), "{again}");
    assert_eq!(again["duplicate"], true);
    // The same alert id, freshly signed.
    terminal
        .publish(
            envelope::sos_topic(&prefix, &device.id),
            signed_sos(h, &device, &body, &nonce()),
        )
        .await;
    let retry = terminal.next().await;
    assert_eq!(retry["incident_id"], incident_id.as_str(), "{retry}");
    assert_eq!(retry["duplicate"], true);

    let counts = h.store.intake_counts().await.expect("counts");
    assert_eq!((counts.alerts, counts.incidents), (1, 1));

    // A signed location update adds a fix to the incident, once.
    let location = signed_location(
        h,
        &device,
        &body["alert_id"],
        37.5666,
        "2026-09-21T12:00:00Z",
    );
    for expected_duplicate in [false, true] {
        terminal
            .publish(
                envelope::location_topic(&prefix, &device.id),
                location.clone(),
            )
            .await;
        let ack = terminal.next().await;
        assert_eq!(ack["kind"], "location", "{ack}");
        assert_eq!(ack["duplicate"], expected_duplicate, "{ack}");
    }
    let incident = h
        .store
        .get_incident(jikimi_respond::IncidentId(
            Uuid::parse_str(&incident_id).expect("uuid"),
        ))
        .await
        .expect("incident");
    assert_eq!(incident.n_fixes, 2);
    // The terminal's location update reaches the console too (it used to be published for alerts only, by hand).
    h.live_incident_where(&mut live, &incident_id, |i| i["n_fixes"] == 2)
        .await;

    // A terminal flooding location updates gets the app's budget: 5 at once (two used above), then one a second.
    let mut codes = Vec::new();
    for k in 0..5 {
        let lat = 37.5667 + f64::from(k) * 1e-4;
        let message = signed_location(h, &device, &body["alert_id"], lat, "2026-09-21T12:00:00Z");
        terminal
            .publish(envelope::location_topic(&prefix, &device.id), message)
            .await;
        let ack = terminal.next().await;
        codes.push(ack["error"].as_str().unwrap_or("accepted").to_string());
    }
    assert_eq!(
        codes,
        [
            "accepted",
            "accepted",
            "accepted",
            "rate_limited",
            "rate_limited"
        ]
    );
    h.advance_s(1);
    let message = signed_location(
        h,
        &device,
        &body["alert_id"],
        37.5677,
        "2026-09-21T12:00:01Z",
    );
    terminal
        .publish(envelope::location_topic(&prefix, &device.id), message)
        .await;
    let ack = terminal.next().await;
    assert!(ack["error"].is_null(), "a second later: {ack}");
    // Shed, not audited: the audit log does not grow with a flood.
    let rejected = h
        .audit()
        .await
        .into_iter()
        .filter(|(action, reason, _, _)| action == "alert.rejected" && reason == "rate_limited")
        .count();
    assert_eq!(rejected, 0);
    intake.task.abort();
}

/// Unsigned, wrongly signed, unknown-device and malformed messages are refused with their code on the ack topic,
/// audited as `alert.rejected` from the mqtt channel, and open nothing.
pub async fn mqtt_unsigned_or_wrongly_signed_is_refused_and_audited(h: &Harness) {
    let (prefix, intake) = start_intake(h).await;
    let device = h.device().await;
    let mut terminal = Peer::connect(
        &format!("terminal-{}", Uuid::new_v4().simple()),
        Some(format!("{prefix}/devices/+/ack")),
    )
    .await;
    let topic = envelope::sos_topic(&prefix, &device.id);
    let body = sos(37.5, 127.0).to_string();
    let unsigned = json!({"device": device.id, "timestamp": h.now_s(), "nonce": nonce(), "body": body, "signature": ""});
    let impostor = jikimi_server::signing::generate_device_key();
    let wrongly_signed = envelope::sign(
        &impostor,
        &device.id,
        TopicKind::Sos,
        h.now_s(),
        &nonce(),
        &body,
    );
    let stranger = Uuid::new_v4();
    let unknown_device = envelope::sign(
        &impostor,
        &stranger,
        TopicKind::Sos,
        h.now_s(),
        &nonce(),
        &body,
    );
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (
            topic.clone(),
            unsigned.to_string().into_bytes(),
            "signature_invalid",
        ),
        (topic.clone(), wrongly_signed, "signature_invalid"),
        (
            envelope::sos_topic(&prefix, &stranger),
            unknown_device,
            "device_unknown",
        ),
        (topic.clone(), b"{not json".to_vec(), "invalid_payload"),
    ];
    for (topic, payload, code) in cases {
        terminal.publish(topic, payload).await;
        let ack = terminal.next().await;
        assert_eq!(ack["error"], code, "{ack}");
        assert!(ack["incident_id"].is_null());
    }
    let counts = h.store.intake_counts().await.expect("counts");
    assert_eq!((counts.alerts, counts.incidents), (0, 0));
    let rejected: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|(action, _, _, detail)| action == "alert.rejected" && detail.contains("\"mqtt\""))
        .collect();
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    assert!(
        rejected
            .iter()
            .any(|(_, reason, actor, _)| reason == "signature_invalid"
                && *actor == format!("device:{}", device.id))
    );
    assert!(
        rejected
            .iter()
            .any(|(_, reason, _, _)| reason == "device_unknown")
    );
    jikimi_store::verify_audit(h.store.as_ref())
        .await
        .expect("chain intact");
    intake.task.abort();
}

/// 300 alerts from 30 terminals, with Mosquitto restarted in the middle of the burst: every alert is stored once.
/// The publishing client resends what it had no PUBACK for; the server's persistent session gets what the broker
/// queued while it reconnected, and the server PUBACKs only after the commit.
pub async fn mqtt_broker_restart_during_a_burst_loses_no_alert(h: &Harness) {
    let broker = std::sync::Arc::new(std::sync::Mutex::new(Broker::start_persistent()));
    let port = broker.lock().expect("broker").port();
    let (prefix, intake) = start_intake_on(h, port).await;
    let mut devices = Vec::new();
    for _ in 0..30 {
        devices.push(h.device().await);
    }
    let publisher =
        Peer::connect_to(port, &format!("burst-{}", Uuid::new_v4().simple()), None).await;
    let total = 300usize;
    for i in 0..total {
        let device = &devices[i % devices.len()];
        // Far apart, so surge clustering (if on) cannot hide a loss.
        let body = sos(33.0 + (i as f64) * 0.01, 127.0);
        publisher
            .publish(
                envelope::sos_topic(&prefix, &device.id),
                signed_sos(h, device, &body, &nonce()),
            )
            .await;
        if i == total / 2 {
            let broker = broker.clone();
            tokio::task::spawn_blocking(move || broker.lock().expect("broker").restart())
                .await
                .expect("restart");
        }
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut stored = 0;
    for _ in 0..600 {
        stored = h.store.intake_counts().await.expect("counts").alerts;
        if stored as usize >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        stored as usize, total,
        "alerts lost across the broker restart"
    );
    assert_eq!(
        h.store.intake_counts().await.expect("counts").incidents as usize,
        total
    );
    intake.task.abort();
    drop(publisher);
}
