//! The cluster (issue 18): several `jikimi serve` on one PostgreSQL and one NATS JetStream.
//!
//! - **Event bus.** With `--nats`, the store writes a change event with every commit that changed something
//!   ([`jikimi_store::cluster`], the change outbox); the [`relay`] publishes pending events to the JetStream stream
//!   with the event id as `Nats-Msg-Id` (JetStream drops a repeat inside its duplicate window) and marks them
//!   published. A node that dies between commit and publish leaves its events pending; any node's relay publishes
//!   them once their claim's lease expires. A node that cannot reach NATS keeps committing: its events wait in the
//!   outbox and go out when NATS is back.
//! - **Every node's live feed** ([`consumer`]) follows the stream with an ordered consumer and feeds each message's
//!   change set to the [`crate::live::Hub`], which reads the current state from the shared database and publishes it
//!   with a global event id (the stream sequence), so a console on any node sees every change from every node and
//!   resumes on another node.
//! - **Leases** ([`leases`]): work that must run once across the cluster (purges, federation sync) runs on the node
//!   holding its lease; each node also holds `node/<id>`, which lists it as alive.
//! - **Work shared through the store, not memory.** Guardian notifications are claimed row by row under a lease in
//!   the store (`notify::Worker`; one claim wins on PostgreSQL, a crashed claimer's rows come back when the lease
//!   lapses, and a delivery is started only while its lease outlasts it). Surge clustering reads and writes the
//!   anchors in each alert batch's transaction, under the audit head lock, so the incidents are the same whichever
//!   node takes each alert. The per-device alert budget is a counter in the store charged in that same transaction
//!   (`jikimi_store::AlertBudget::Shared`: nothing lost or double-charged with a node killed mid-batch). The
//!   per-source request limits stay in each node's memory, each request charged as many cells as there are live
//!   nodes ([`crate::flood::FloodGuard::set_shares`]), so the nodes together let through what one would.
//!
//! The single-node default (no `--nats`) uses none of this: the hub follows the store's commits in process.

pub mod consumer;
pub mod leases;
pub mod relay;

use futures_util::StreamExt as _;
use std::sync::{Arc, OnceLock};

use jikimi_store::Store;

pub use leases::{LEASE_FEDERATION_SYNC, LEASE_PURGE, LeaseKeeper};

/// The cluster's settings (`--nats`, `--nats-stream`, `--node-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// The JetStream stream's name.
    pub stream: String,
    /// This node's id.
    pub node_id: String,
}

/// The default stream name.
pub const DEFAULT_STREAM: &str = "JIKIMI";

impl ClusterConfig {
    /// The settings from their sources; `None` without a NATS URL. Errors name the setting.
    pub fn resolve(
        url: Option<String>,
        stream: Option<String>,
        node_id: Option<String>,
    ) -> Result<Option<ClusterConfig>, (&'static str, String)> {
        let Some(url) = url else {
            return Ok(None);
        };
        if !(url.starts_with("nats://") || url.starts_with("tls://")) {
            return Err(("nats", "must be nats://HOST:PORT or tls://HOST:PORT".into()));
        }
        let stream = stream.unwrap_or_else(|| DEFAULT_STREAM.into());
        // JetStream names: no dots, wildcards or spaces; kept to letters, digits, `_` so the subject is plain too.
        if stream.is_empty()
            || stream.len() > 64
            || !stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(("nats-stream", "1 to 64 letters, digits or _".into()));
        }
        let node_id = node_id
            .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        if node_id.is_empty()
            || node_id.len() > 64
            || !node_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(("node-id", "1 to 64 letters, digits, _, - or .".into()));
        }
        Ok(Some(ClusterConfig {
            url,
            stream,
            node_id,
        }))
    }

    /// The subject the changes are published on: `<stream in lower case>.changes`.
    pub fn subject(&self) -> String {
        format!("{}.changes", self.stream.to_ascii_lowercase())
    }
}

/// What went wrong talking to NATS or the store (logged and retried by the loops; never fatal).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// NATS or JetStream refused or did not answer.
    #[error("nats: {0}")]
    Nats(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] jikimi_store::Error),
}

pub(crate) fn nats_error(err: impl std::fmt::Display) -> ClusterError {
    ClusterError::Nats(err.to_string())
}

/// What goes on the stream for one change event: its id and what it changed (ids and kinds, no state).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct WireEvent {
    /// The change event's id (also the message id).
    pub id: uuid::Uuid,
    /// When it was committed, ms since the epoch.
    pub at_ms: i64,
    /// What changed.
    pub changes: Vec<jikimi_store::Committed>,
}

/// A running cluster member: the NATS connection, the relay, the live feed's consumer and the leases. Cheap to
/// clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClusterConfig,
    client: OnceLock<async_nats::Client>,
    leases: Arc<LeaseKeeper>,
}

impl Cluster {
    /// Starts this node's part: switches the store's change outbox on, connects to NATS in the background (retrying
    /// for ever, so a node starts and accepts while NATS is down), and runs the relay, the consumer feeding `hub`,
    /// and the lease keeper. Must be called inside a Tokio runtime.
    ///
    /// `on_live_nodes` is told the number of live nodes after each lease renewal (the flood limits divide by it).
    pub fn spawn(
        store: Arc<dyn Store>,
        hub: crate::live::Hub,
        config: ClusterConfig,
        on_live_nodes: leases::OnLiveNodes,
    ) -> Cluster {
        store.record_change_events(true);
        let leases = LeaseKeeper::spawn(store.clone(), config.node_id.clone(), on_live_nodes);
        let cluster = Cluster {
            inner: Arc::new(Inner {
                config: config.clone(),
                client: OnceLock::new(),
                leases,
            }),
        };
        let wake = relay::Wake::attach(store.as_ref());
        let me = cluster.clone();
        tokio::spawn(async move {
            let client = match async_nats::ConnectOptions::new()
                .name(format!("jikimi {}", config.node_id))
                .retry_on_initial_connect()
                .max_reconnects(None)
                .connect(config.url.as_str())
                .await
            {
                Ok(client) => client,
                Err(err) => {
                    tracing::error!(error = %err, "cluster: cannot start the NATS client");
                    return;
                }
            };
            let _ = me.inner.client.set(client.clone());
            let js = async_nats::jetstream::new(client.clone());
            tokio::spawn(consumer::run(js.clone(), config.clone(), hub));
            relay::run(store, client, js, config, wake, me.inner.leases.clone()).await;
        });
        cluster
    }

    /// The settings.
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.config
    }

    /// Whether the NATS connection is up now.
    pub fn connected(&self) -> bool {
        self.inner
            .client
            .get()
            .is_some_and(|c| c.connection_state() == async_nats::connection::State::Connected)
    }

    /// Records whether this node's MQTT client is subscribed to the terminals' shared subscription now.
    pub fn set_mqtt_member(&self, on: bool) {
        self.inner.leases.set_mqtt_member(on);
    }

    /// Whether this node holds the lease `name` (renewed in the background).
    pub fn holds(&self, name: &str) -> bool {
        self.inner.leases.holds(name)
    }
}

/// The stream's epoch for event ids: its name and creation time, so a recreated stream starts a new epoch. Letters
/// and digits only (the id's `-` separates it from the position).
pub fn epoch_of(stream: &str, created_unix_nanos: i128) -> String {
    format!(
        "{}{:x}",
        stream.to_ascii_lowercase().replace('_', ""),
        created_unix_nanos.max(0)
    )
}

/// Creates the stream when missing (subject `<stream>.changes`, file storage, a 2-minute duplicate window).
pub async fn ensure_stream(
    js: &async_nats::jetstream::Context,
    config: &ClusterConfig,
) -> Result<async_nats::jetstream::stream::Stream, ClusterError> {
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: config.stream.clone(),
        subjects: vec![config.subject()],
        storage: async_nats::jetstream::stream::StorageType::File,
        duplicate_window: std::time::Duration::from_secs(120),
        max_age: std::time::Duration::from_secs(7 * 24 * 3600),
        ..Default::default()
    })
    .await
    .map_err(nats_error)
}

/// The description of node `node_id`'s live-feed consumer on the stream.
pub(crate) fn consumer_description(node_id: &str) -> String {
    format!("{CONSUMER_PREFIX}{node_id}")
}

const CONSUMER_PREFIX: &str = "jikimi live feed of node ";

/// The stream as JetStream reports it (`jikimi cluster status`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamStatus {
    /// The stream's name.
    pub name: String,
    /// Its subject.
    pub subject: String,
    /// Messages held.
    pub messages: u64,
    /// The last sequence written.
    pub last_seq: u64,
    /// Each node's live-feed consumer and how far behind the stream it is.
    pub consumers: Vec<ConsumerStatus>,
}

/// One node's live-feed consumer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsumerStatus {
    /// The node it feeds.
    pub node: String,
    /// The last stream sequence delivered to it.
    pub delivered_seq: u64,
    /// Messages on the stream it has not been delivered yet (its lag).
    pub pending: u64,
}

/// Connects once (giving up after `timeout`) and reads the stream's state.
pub async fn stream_status(
    config: &ClusterConfig,
    timeout: std::time::Duration,
) -> Result<StreamStatus, ClusterError> {
    let read = async {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(timeout)
            .connect(config.url.as_str())
            .await
            .map_err(nats_error)?;
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream(&config.stream).await.map_err(nats_error)?;
        let (messages, last_seq) = {
            let info = stream.info().await.map_err(nats_error)?;
            (info.state.messages, info.state.last_sequence)
        };
        let mut consumers = Vec::new();
        let mut listed = stream.consumers();
        while let Some(consumer) = listed.next().await {
            let consumer = consumer.map_err(nats_error)?;
            if let Some(node) = consumer
                .config
                .description
                .as_deref()
                .and_then(|d| d.strip_prefix(CONSUMER_PREFIX))
            {
                consumers.push(ConsumerStatus {
                    node: node.to_string(),
                    delivered_seq: consumer.delivered.stream_sequence,
                    pending: consumer.num_pending,
                });
            }
        }
        consumers.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(StreamStatus {
            name: config.stream.clone(),
            subject: config.subject(),
            messages,
            last_seq,
            consumers,
        })
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ClusterError::Nats("timed out".into()))?
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert_eq!(ClusterConfig::resolve(None, None, None), Ok(None));
        let c = ClusterConfig::resolve(
            Some("nats://127.0.0.1:4222".into()),
            None,
            Some("a-1".into()),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.stream.as_str(), c.subject()),
            ("JIKIMI", "jikimi.changes".into())
        );
        assert!(ClusterConfig::resolve(Some("http://x".into()), None, None).is_err());
        assert!(
            ClusterConfig::resolve(Some("nats://x:1".into()), Some("a.b".into()), None).is_err()
        );
        assert!(
            ClusterConfig::resolve(Some("nats://x:1".into()), None, Some("a b".into())).is_err()
        );
        assert!(!epoch_of("T_1", 5).contains('-'));
    }
}
