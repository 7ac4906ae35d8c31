//! The change relay: claims pending change events from the store's outbox, publishes them to JetStream with the event
//! id as `Nats-Msg-Id`, and marks what JetStream acknowledged as published.
//!
//! It wakes on every local commit (an observer on the store) and every [`POLL`] (for events other nodes left
//! behind when they died, and for a NATS that came back). A claim is leased for [`LEASE`]: a relay that dies
//! mid-batch leaves its events to be claimed again after that, and a repeat publish inside JetStream's duplicate
//! window is dropped by the stream, so each committed change is on the stream exactly once.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use jikimi_respond::Timestamp;
use jikimi_store::{ChangeSet, CommitObserver, Store};
use tokio::sync::Notify;

use super::{ClusterConfig, ClusterError, LeaseKeeper, WireEvent, nats_error};

/// How often the relay looks for pending events without being woken.
pub const POLL: Duration = Duration::from_millis(250);
/// How long a claim is leased: a crashed relay's events are published by another node after this.
pub const LEASE: Duration = Duration::from_secs(5);
/// Events per claim.
pub const BATCH: u32 = 512;
/// Published events are kept this long (for `jikimi cluster status` and inspection), then purged.
pub const KEEP_PUBLISHED: Duration = Duration::from_secs(600);

/// Wakes the relay when this node commits a change.
#[derive(Clone)]
pub struct Wake(Arc<Notify>);

struct WakeObserver(Arc<Notify>);

impl CommitObserver for WakeObserver {
    fn committed(&self, _changes: &ChangeSet) {
        self.0.notify_one();
    }
}

impl Wake {
    /// Attaches the waking observer to `store`.
    pub fn attach(store: &dyn Store) -> Wake {
        let notify = Arc::new(Notify::new());
        store.observe_commits(Arc::new(WakeObserver(notify.clone())));
        Wake(notify)
    }
}

fn now() -> Timestamp {
    Timestamp::from(std::time::SystemTime::now())
}

fn later(at: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_unix_ms(at.as_unix_ms() + by.as_millis() as i64)
}

/// The relay loop, for the life of the process.
pub async fn run(
    store: Arc<dyn Store>,
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    config: ClusterConfig,
    wake: Wake,
    leases: Arc<LeaseKeeper>,
) {
    let subject = config.subject();
    let mut stream_ready = false;
    let mut last_purge = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = wake.0.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        if client.connection_state() != async_nats::connection::State::Connected {
            stream_ready = false;
            continue;
        }
        if !stream_ready {
            match super::ensure_stream(&js, &config).await {
                Ok(_) => stream_ready = true,
                Err(err) => {
                    tracing::warn!(error = %err, "cluster: the stream is not ready");
                    continue;
                }
            }
        }
        loop {
            match publish_batch(store.as_ref(), &js, &subject).await {
                Ok(full) if full => continue,
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "cluster: relay failed; the events stay in the outbox");
                    break;
                }
            }
        }
        record_depth(store.as_ref()).await;
        if last_purge.elapsed() > Duration::from_secs(60) && leases.holds(super::LEASE_PURGE) {
            last_purge = std::time::Instant::now();
            let before =
                Timestamp::from_unix_ms(now().as_unix_ms() - KEEP_PUBLISHED.as_millis() as i64);
            if let Err(err) = store.purge_published_change_events(before).await {
                tracing::warn!(error = %err, "cluster: cannot purge published change events");
            }
        }
    }
}

/// Claims, publishes and marks one batch; true when the batch was full and all of it went out (so more may wait).
pub async fn publish_batch(
    store: &dyn Store,
    js: &async_nats::jetstream::Context,
    subject: &str,
) -> Result<bool, ClusterError> {
    let at = now();
    let (token, events) = store
        .claim_change_events(at, later(at, LEASE), BATCH)
        .await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(false);
    };
    // Sent one after another without waiting, then the acknowledgements awaited in order: what is marked is the
    // prefix JetStream confirmed, and the rest is claimed again once the lease lapses.
    let mut acks = Vec::with_capacity(events.len());
    for event in &events {
        let wire = WireEvent {
            id: event.id,
            at_ms: event.at.as_unix_ms(),
            changes: event.changes.clone(),
        };
        let payload = serde_json::to_vec(&wire).map_err(nats_error)?;
        let message = PublishMessage::build()
            .message_id(event.id.to_string())
            .payload(payload.into());
        match js.send_publish(subject.to_string(), message).await {
            Ok(ack) => acks.push((event.seq, ack)),
            Err(err) => {
                tracing::warn!(error = %err, "cluster: publish failed");
                break;
            }
        }
    }
    let mut through = None;
    for (seq, ack) in acks {
        match ack.await {
            Ok(_) => through = Some(seq),
            Err(err) => {
                tracing::warn!(error = %err, "cluster: publish not acknowledged");
                break;
            }
        }
    }
    let Some(through) = through else {
        return Err(ClusterError::Nats("no event was acknowledged".into()));
    };
    store
        .mark_change_events_published(token, through, now())
        .await?;
    metrics::counter!("jikimi_cluster_events_published_total")
        .increment(events.iter().filter(|e| e.seq <= through).count() as u64);
    Ok(through == last && events.len() == BATCH as usize)
}

async fn record_depth(store: &dyn Store) {
    if let Ok(depth) = store.change_outbox_depth().await {
        metrics::gauge!("jikimi_cluster_outbox_pending").set(depth.pending as f64);
    }
}
