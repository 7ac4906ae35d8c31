//! MQTT intake for U-Relief terminals: the I/O edge around the pure wire format in [`envelope`].
//!
//! The server connects to the broker with a stable client id and a persistent session (`clean_session = false`), so QoS
//! 1 messages published while it was away are queued by the broker and delivered on reconnect. It subscribes QoS 1 to
//! `{prefix}/devices/+/sos` and `{prefix}/devices/+/location` on every connection (a restarted broker may have lost the
//! subscriptions) and acknowledges each message to the broker by hand (`manual_acks`), only AFTER the alert is
//! committed by the intake service ([`crate::intake_service`]) through the same group commit as `POST /api/alerts` and
//! the "help is on its way" answer is published on `{prefix}/devices/{id}/ack`. A crash before that PUBACK means the
//! broker delivers the message again; the store answers the retry as a duplicate of the same incident, so nothing is
//! lost and nothing is doubled. A location update claims its nonce in the same transaction as the fix, so its
//! redelivery is answered as a duplicate too.
//!
//! Refused messages (unsigned, wrongly signed, unknown device, malformed, outside the clock window, replayed nonce) are
//! audited by the intake service like refused HTTP alerts, open nothing, are answered with the error code on the ack
//! topic and then PUBACKed (a resend would be refused the same way). Location updates have the app's budget (a burst of
//! 5, then one a second per device); those beyond it are refused `rate_limited` and logged, not audited. A database
//! that does not answer is retried; the message is left unacknowledged if it keeps failing, so the broker keeps it.
//!
//! The server logs in to the broker with a user name and password when configured, and speaks TLS for `mqtts://`
//! (rustls with ring), trusting the CA given with `--mqtt-ca` or else the public web roots compiled in. The broker's
//! ACL must let each terminal publish only its own topics and let only the server's user read them all
//! (`docs/mqtt-acl.md`): the signatures stop forged alerts, the ACL stops anyone on the broker from following SOS
//! locations.
//!
//! Silent two-way text ([`twoway`]): committed dispatcher questions are published to `{prefix}/devices/{id}/messages`
//! and terminals answer on `{prefix}/devices/{id}/messages/{message_id}/answer` (subscribed like the others, PUBACKed
//! after the answer's commit).
//!
//! Disaster welfare checks ([`welfare`]): "are you safe?" is published to `{prefix}/devices/{id}/welfare` and
//! terminals answer on `{prefix}/devices/{id}/welfare/{disaster_id}/answer` (PUBACKed after the answer's commit).

pub mod config;
pub mod envelope;
mod takeover;
pub mod twoway;
pub mod welfare;

pub use twoway::Downlink;

use std::time::Duration;

use jikimi_respond::DeviceId;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};

use crate::intake_service::{Against, Channel, Intake, Refusal, Signed};
use crate::state::AppState;
use envelope::{Ack, TopicKind};

/// Where and how to reach the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Client id; keep it stable so the broker keeps this server's session and queue.
    pub client_id: String,
    /// Topic prefix (default `jikimi/v1`).
    pub prefix: String,
    /// The broker login, when the broker asks for one.
    pub credentials: Option<config::MqttCredentials>,
    /// TLS (`mqtts://`), and which CA to trust.
    pub tls: Option<config::MqttTls>,
}

impl MqttConfig {
    /// Parses `mqtt://host[:port]` (also `tcp://`; port 1883 by default) or `mqtts://host[:port]` (also `ssl://`;
    /// TLS, port 8883 by default, trusting the public web roots until [`config::MqttTls::ca`] is set).
    pub fn from_url(url: &str, client_id: String) -> Result<MqttConfig, String> {
        let (rest, tls) = if let Some(rest) = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
        {
            (rest, None)
        } else if let Some(rest) = url
            .strip_prefix("mqtts://")
            .or_else(|| url.strip_prefix("ssl://"))
        {
            (rest, Some(config::MqttTls::default()))
        } else {
            return Err("expected mqtt://host[:port] or mqtts://host[:port]".into());
        };
        let rest = rest.trim_end_matches('/');
        let default_port = if tls.is_some() { 8883 } else { 1883 };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("invalid port {port:?}"))?,
            ),
            None => (rest, default_port),
        };
        if host.is_empty() {
            return Err("missing host".into());
        }
        if client_id.is_empty() || client_id.len() > 64 {
            return Err("client id must be 1 to 64 characters".into());
        }
        Ok(MqttConfig {
            host: host.to_string(),
            port,
            client_id,
            prefix: envelope::DEFAULT_PREFIX.into(),
            credentials: None,
            tls,
        })
    }

    /// The client options: id, persistent session, manual acknowledgements, login and TLS.
    pub fn options(&self, max_packet_bytes: usize) -> Result<MqttOptions, String> {
        let mut options = MqttOptions::new(self.client_id.clone(), self.host.clone(), self.port);
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(max_packet_bytes, max_packet_bytes);
        if let Some(credentials) = &self.credentials {
            options.set_credentials(credentials.username.clone(), credentials.password.clone());
        }
        if let Some(tls) = &self.tls {
            options.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(std::sync::Arc::new(tls.client_config()?)),
            ));
        }
        Ok(options)
    }
}

/// The running intake: its task, and how many times the broker confirmed the subscriptions (once per connection).
#[derive(Debug)]
pub struct MqttIntake {
    /// The task; abort it to stop the intake.
    pub task: tokio::task::JoinHandle<()>,
    /// Counts SUBACKs; tests and the benchmark wait for the first before publishing.
    pub subscribed: tokio::sync::watch::Receiver<u64>,
}

impl MqttIntake {
    /// Waits until the broker has confirmed the subscriptions at least once.
    pub async fn ready(&mut self) {
        let _ = self.subscribed.wait_for(|n| *n > 0).await;
    }
}

/// Starts the MQTT intake task. It runs until aborted or the runtime stops, reconnecting whenever the broker goes
/// away.
pub fn spawn(state: AppState, config: MqttConfig) -> MqttIntake {
    let (tx, subscribed) = tokio::sync::watch::channel(0u64);
    MqttIntake {
        task: tokio::spawn(run(state, config, tx)),
        subscribed,
    }
}

async fn run(state: AppState, mut config: MqttConfig, subscribed: tokio::sync::watch::Sender<u64>) {
    // In a cluster each node has its own stable client id (its persistent session is its own: two nodes with one id
    // would keep disconnecting each other) and reads the terminals' topics through a shared subscription, so each
    // message is handled by one node. A dead node's session is drained by a live one ([`takeover`]).
    if let Some(cluster) = &state.cluster {
        tokio::spawn(takeover::watch(state.clone(), config.clone()));
        config.client_id = format!("{}-{}", config.client_id, cluster.config().node_id);
    }
    connection(state, config, Some(subscribed)).await;
}

/// One MQTT session's connection loop: this node's own (`subscribed` given: it publishes downlink messages through
/// it and reports its subscription), or a dead node's session drained by this one ([`takeover`]).
async fn connection(
    state: AppState,
    config: MqttConfig,
    subscribed: Option<tokio::sync::watch::Sender<u64>>,
) {
    let limit = state.config.body_limit_bytes + 1024;
    let shared = state.cluster.is_some();
    let own = subscribed.is_some();
    // The CA file was read when the configuration was resolved; reading it again can only fail if it changed since.
    let options = match config.options(limit) {
        Ok(options) => options,
        Err(err) => {
            tracing::error!(error = %err, "mqtt intake not started");
            return;
        }
    };
    let (client, mut eventloop) = AsyncClient::new(options, 4096);
    // A second adapter on the same state (tests) keeps the first handle: either publishes to the same broker.
    if own {
        let _ = state
            .mqtt_downlink
            .set(Downlink::new(client.clone(), config.prefix.clone()));
    }
    let mut backoff = Duration::from_millis(100);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(connack))) => {
                backoff = Duration::from_millis(100);
                tracing::info!(
                    host = %config.host,
                    port = config.port,
                    session_present = connack.session_present,
                    "mqtt connected; subscribing"
                );
                let filters = if shared {
                    envelope::shared_subscriptions(&config.prefix)
                } else {
                    envelope::subscriptions(&config.prefix)
                };
                for filter in filters {
                    if let Err(err) = client.try_subscribe(filter, QoS::AtLeastOnce) {
                        tracing::error!(error = %err, "mqtt subscribe could not be queued");
                    }
                }
            }
            Ok(Event::Incoming(Packet::SubAck(suback))) => {
                // A broker whose ACL does not let this user read the terminals' topics refuses the subscription
                // in its SUBACK; the intake would then hear nothing, so say so loudly instead of counting it.
                if suback
                    .return_codes
                    .iter()
                    .all(|code| matches!(code, rumqttc::SubscribeReasonCode::Success(_)))
                {
                    if let Some(subscribed) = &subscribed {
                        subscribed.send_modify(|n| *n += 1);
                        state
                            .mqtt_subscribed
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        if let Some(cluster) = &state.cluster {
                            cluster.set_mqtt_member(true);
                        }
                    }
                } else {
                    tracing::error!(
                        host = %config.host,
                        "mqtt broker refused the subscription: its ACL must let this user read {}/devices/+/sos, \
                         /location and /messages/+/answer (see docs/mqtt-acl.md)",
                        config.prefix
                    );
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                metrics::counter!("jikimi_mqtt_messages_total").increment(1);
                let state = state.clone();
                let client = client.clone();
                let prefix = config.prefix.clone();
                tokio::spawn(async move { handle(&state, &client, &prefix, publish).await });
            }
            Ok(_) => {}
            Err(err) => {
                if own {
                    state
                        .mqtt_subscribed
                        .store(false, std::sync::atomic::Ordering::Relaxed);
                    if let Some(cluster) = &state.cluster {
                        cluster.set_mqtt_member(false);
                    }
                }
                tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "mqtt connection lost; reconnecting");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn handle(state: &AppState, client: &AsyncClient, prefix: &str, publish: Publish) {
    if let Some((device, message_id)) = envelope::parse_answer_topic(prefix, &publish.topic) {
        return twoway::answer(state, client, prefix, device, message_id, publish).await;
    }
    if let Some((device, disaster_id)) = welfare::parse_answer_topic(prefix, &publish.topic) {
        return welfare::answer(state, client, prefix, device, disaster_id, publish).await;
    }
    let intake = Intake::new(state);
    let topic = match envelope::parse_topic(prefix, &publish.topic) {
        Ok(topic) => topic,
        Err(err) => {
            // Named "topic", not the topic itself: a topic that is not a device topic may carry anything.
            let channel = Channel::Mqtt {
                topic: "topic".into(),
            };
            let refusal = intake
                .refuse(&channel, Against::default(), refusal_of(err))
                .await;
            crate::flood::log_refusal("mqtt message refused: bad topic", refusal.code(), None);
            let _ = client.ack(&publish).await;
            return;
        }
    };
    let channel = Channel::Mqtt {
        topic: publish.topic.clone(),
    };
    let envelope =
        envelope::parse_envelope(&topic, &publish.payload, state.config.body_limit_bytes);
    let nonce = envelope.as_ref().ok().map(|e| e.nonce.clone());
    let mut attempt = 0u32;
    let result = loop {
        let result = match &envelope {
            Ok(envelope) => {
                let signed = Signed {
                    device_id: DeviceId(envelope.device),
                    timestamp_s: envelope.timestamp,
                    nonce: &envelope.nonce,
                    signature: &envelope.signature,
                    body: envelope.body.as_bytes(),
                };
                match topic.kind {
                    TopicKind::Sos => intake.accept(&signed, &channel).await,
                    TopicKind::Location => intake.accept_location(&signed, &channel).await,
                }
            }
            Err(err) => Err(intake
                .refuse(&channel, Against::default(), refusal_of(err.clone()))
                .await),
        };
        match &result {
            Err(Refusal::Unavailable { .. }) if attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt.min(8)))).await;
            }
            _ => break result,
        }
    };
    let ack_topic = envelope::ack_topic(prefix, &topic.device);
    let ack = match result {
        Ok(accepted) => {
            metrics::counter!("jikimi_alerts_accepted_total", "channel" => "mqtt").increment(1);
            Ack::accepted(
                topic.kind,
                accepted.alert_id,
                accepted.incident_id.0,
                accepted.duplicate,
                nonce.as_deref().unwrap_or_default(),
            )
        }
        Err(refusal) if refusal.is_server_fault() => {
            // Not PUBACKed: the broker keeps the message and delivers it again after a reconnect (this includes a
            // refusal whose audit entry could not be written).
            tracing::error!(
                code = refusal.code().as_str(),
                "mqtt message not committed; left for redelivery"
            );
            return;
        }
        Err(refusal) => {
            let code = refusal.code();
            metrics::counter!("jikimi_alerts_rejected_total", "code" => code.as_str()).increment(1);
            crate::flood::log_refusal("mqtt message refused", code, None);
            Ack::refused(topic.kind, nonce.as_deref(), code)
        }
    };
    match serde_json::to_vec(&ack) {
        Ok(bytes) => {
            if let Err(err) = client
                .publish(ack_topic, QoS::AtLeastOnce, false, bytes)
                .await
            {
                tracing::warn!(error = %err, "mqtt ack could not be queued");
            }
        }
        Err(err) => tracing::error!(error = %err, "mqtt ack could not be encoded"),
    }
    if let Err(err) = client.ack(&publish).await {
        tracing::warn!(error = %err, "mqtt puback could not be queued");
    }
}

/// The intake's refusal of a message whose topic or envelope does not decode.
fn refusal_of(err: envelope::EnvelopeError) -> Refusal {
    Refusal::new(err.code, err.detail)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let c = MqttConfig::from_url("mqtt://127.0.0.1:1883", "jikimi".into()).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 1883));
        let c = MqttConfig::from_url("tcp://broker", "jikimi".into()).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("broker", 1883));
        let c = MqttConfig::from_url("mqtts://broker", "j".into()).unwrap();
        assert_eq!((c.port, c.tls.is_some()), (8883, true));
        assert!(
            MqttConfig::from_url("mqtt://broker", "j".into())
                .unwrap()
                .tls
                .is_none()
        );
        assert!(MqttConfig::from_url("http://broker", "j".into()).is_err());
        assert!(MqttConfig::from_url("mqtt://broker:x", "j".into()).is_err());
        assert!(MqttConfig::from_url("mqtt://broker", String::new()).is_err());
    }
}
