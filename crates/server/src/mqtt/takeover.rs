//! Taking over a dead node's MQTT session (issue 18).
//!
//! Each node reads the terminals' topics through the shared subscription `$share/jikimi/...` on a persistent session
//! of its own (`clean_session = false`). When a node dies, the broker keeps its session, and with it its place in the
//! share group: Mosquitto goes on routing that node's share of the terminals' messages to the session, queued until
//! the node returns. So a live node takes the session over: once a node's `mqtt-share/<id>` lease has lapsed and its
//! `node/<id>` lease too, the holder of the lease `mqtt-takeover/<id>` connects with the dead node's client id and
//! runs the same intake on it (the queued messages first), acknowledging each after its commit as usual. When the
//! dead node is alive again the drain stops, and the node's own connection finds its session as it left it.

use std::collections::HashMap;

use super::MqttConfig;
use crate::cluster::leases::{MQTT_SHARE_PREFIX, NODE_PREFIX, RENEW, lease_window};
use crate::state::AppState;

/// Prefix of the lease whose holder drains a dead node's session.
const TAKEOVER_PREFIX: &str = "mqtt-takeover/";

/// Watches the leases for lapsed share members and drains their sessions, for the life of the process. `base` is the
/// MQTT configuration with the cluster's base client id (each node's is `<base>-<node id>`).
pub(super) async fn watch(state: AppState, base: MqttConfig) {
    let Some(cluster) = state.cluster.clone() else {
        return;
    };
    let me = cluster.config().node_id.clone();
    let mut draining: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(RENEW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (now, until) = lease_window();
        let leases = match state.store.list_leases().await {
            Ok(leases) => leases,
            Err(err) => {
                tracing::warn!(error = %err, "mqtt takeover: cannot read the leases");
                Vec::new()
            }
        };
        let live = |name: &str| leases.iter().any(|l| l.name == name && l.expires_at > now);
        let mut wanted = Vec::new();
        for lease in &leases {
            let Some(node) = lease.name.strip_prefix(MQTT_SHARE_PREFIX) else {
                continue;
            };
            if node == me || lease.expires_at > now || live(&format!("{NODE_PREFIX}{node}")) {
                continue;
            }
            let takeover = format!("{TAKEOVER_PREFIX}{node}");
            match state.store.acquire_lease(&takeover, &me, now, until).await {
                Ok(true) => wanted.push(node.to_string()),
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(error = %err, node, "mqtt takeover: cannot take the lease")
                }
            }
        }
        // Stop draining a node that is alive again (or whose drain another node holds now).
        draining.retain(|node, task| {
            let keep = wanted.contains(node);
            if !keep {
                tracing::info!(node, "mqtt takeover: the node's session is its own again");
                task.abort();
            }
            keep
        });
        for node in wanted {
            if let std::collections::hash_map::Entry::Vacant(slot) = draining.entry(node) {
                let node = slot.key().clone();
                tracing::warn!(
                    node,
                    "mqtt takeover: draining the session of a node that is gone"
                );
                metrics::counter!("jikimi_mqtt_takeovers_total").increment(1);
                let mut config = base.clone();
                config.client_id = format!("{}-{node}", base.client_id);
                slot.insert(tokio::spawn(super::connection(state.clone(), config, None)));
            }
        }
    }
}
