//! The live feed's consumer: an ordered JetStream consumer from the stream's end at start, feeding each message's
//! change set with its stream sequence to the [`crate::live::Hub`]. When it fails (NATS restarted, the connection
//! dropped), it starts again from the next sequence it has not seen, so the hub misses nothing.

use futures_util::StreamExt as _;

use super::{ClusterConfig, ClusterError, WireEvent, nats_error};
use crate::live::Hub;

/// The consumer loop, for the life of the process.
pub async fn run(js: async_nats::jetstream::Context, config: ClusterConfig, hub: Hub) {
    // The stream's epoch and the next sequence to read, kept across restarts of the consumer.
    let mut position: Option<(String, u64)> = None;
    loop {
        if let Err(err) = consume(&js, &config, &hub, &mut position).await {
            tracing::warn!(error = %err, "cluster: live feed consumer stopped; restarting");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn consume(
    js: &async_nats::jetstream::Context,
    config: &ClusterConfig,
    hub: &Hub,
    position: &mut Option<(String, u64)>,
) -> Result<(), ClusterError> {
    let mut stream = super::ensure_stream(js, config).await?;
    let info = stream.info().await.map_err(nats_error)?;
    let epoch = super::epoch_of(&config.stream, info.created.unix_timestamp_nanos());
    let start = match position {
        Some((e, next)) if *e == epoch => *next,
        // First start, or the stream was recreated: from its end.
        _ => info.state.last_sequence + 1,
    };
    *position = Some((epoch.clone(), start));
    hub.start_stream(&epoch, start);
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            // `jikimi cluster status` finds each node's consumer, and its lag, by this.
            description: Some(super::consumer_description(&config.node_id)),
            filter_subject: config.subject(),
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        })
        .await
        .map_err(nats_error)?;
    let mut messages = consumer.messages().await.map_err(nats_error)?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(nats_error)?;
        let seq = message.info().map_err(nats_error)?.stream_sequence;
        *position = Some((epoch.clone(), seq + 1));
        match serde_json::from_slice::<WireEvent>(&message.payload) {
            Ok(wire) => {
                metrics::histogram!("jikimi_cluster_event_lag_seconds").record(
                    (jikimi_respond::Timestamp::from(std::time::SystemTime::now()).as_unix_ms()
                        - wire.at_ms) as f64
                        / 1000.0,
                );
                hub.feed(seq, wire.changes);
            }
            Err(err) => {
                tracing::warn!(seq, error = %err, "cluster: a stream message does not parse")
            }
        }
    }
    Err(ClusterError::Nats("the consumer ended".into()))
}
