//! The node's leases: `node/<id>` (this node is alive) and the leases of work that runs once across the cluster,
//! taken and renewed every [`RENEW`] for [`TTL`]; a crashed holder's lease lapses and another node takes it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jikimi_respond::Timestamp;
use jikimi_store::Store;

/// The scheduled purge (nonces, sessions, published change events).
pub const LEASE_PURGE: &str = "purge";
/// The federation's periodic pull from partners.
pub const LEASE_FEDERATION_SYNC: &str = "federation-sync";
/// Every lease a node competes for.
pub const WORK: [&str; 2] = [LEASE_PURGE, LEASE_FEDERATION_SYNC];
/// Prefix of the lease a node holds while its MQTT client is subscribed to the terminals' shared subscription
/// (`mqtt-share/<node id>`): the broker does not tell who is in a share group, so each member says so itself.
pub const MQTT_SHARE_PREFIX: &str = "mqtt-share/";

/// Prefix of the lease each live node holds (`node/<node id>`).
pub const NODE_PREFIX: &str = "node/";

/// How often leases are renewed.
pub const RENEW: Duration = Duration::from_secs(2);
/// How long a lease lasts unless renewed: a crashed holder's work moves within about this long.
pub const TTL: Duration = Duration::from_secs(10);

/// Now, and when a lease taken or renewed now expires.
pub fn lease_window() -> (Timestamp, Timestamp) {
    let now = Timestamp::from(std::time::SystemTime::now());
    (
        now,
        Timestamp::from_unix_ms(now.as_unix_ms() + TTL.as_millis() as i64),
    )
}

/// Told how many nodes are alive (their `node/<id>` leases unexpired, this one included) after each renewal.
pub type OnLiveNodes = Arc<dyn Fn(u32) + Send + Sync>;

/// Holds and renews this node's leases.
pub struct LeaseKeeper {
    node_id: String,
    held: Mutex<HashSet<&'static str>>,
    on_live_nodes: OnLiveNodes,
    /// Whether this node's MQTT client is subscribed now (set by the MQTT intake).
    mqtt_member: std::sync::atomic::AtomicBool,
}

impl LeaseKeeper {
    /// Starts renewing (the first round at once). Must be called inside a Tokio runtime.
    pub fn spawn(
        store: Arc<dyn Store>,
        node_id: String,
        on_live_nodes: OnLiveNodes,
    ) -> Arc<LeaseKeeper> {
        let keeper = Arc::new(LeaseKeeper {
            node_id,
            held: Mutex::new(HashSet::new()),
            on_live_nodes,
            mqtt_member: std::sync::atomic::AtomicBool::new(false),
        });
        let me = Arc::downgrade(&keeper);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RENEW);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(keeper) = me.upgrade() else { return };
                keeper.renew(store.as_ref()).await;
            }
        });
        keeper
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Records whether this node's MQTT client is in the terminals' share group (subscribed) now; the next renewal
    /// holds or gives up its `mqtt-share/<id>` lease accordingly.
    pub fn set_mqtt_member(&self, on: bool) {
        self.mqtt_member
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this node holds `name` now.
    pub fn holds(&self, name: &str) -> bool {
        self.held.lock().map(|h| h.contains(name)).unwrap_or(false)
    }

    async fn renew(&self, store: &dyn Store) {
        let (now, until) = lease_window();
        let node = format!("{NODE_PREFIX}{}", self.node_id);
        if let Err(err) = store.acquire_lease(&node, &self.node_id, now, until).await {
            tracing::warn!(error = %err, "cluster: cannot renew this node's lease");
        }
        // The live nodes share the per-source limits; unknown (store down), the last count stands.
        match store.list_leases().await {
            Ok(leases) => {
                let live = leases
                    .iter()
                    .filter(|l| l.name.starts_with(NODE_PREFIX) && l.expires_at > now)
                    .count();
                let live = u32::try_from(live).unwrap_or(u32::MAX).max(1);
                metrics::gauge!("jikimi_cluster_live_nodes").set(f64::from(live));
                (self.on_live_nodes)(live);
            }
            Err(err) => tracing::warn!(error = %err, "cluster: cannot count the live nodes"),
        }
        let share = format!("{MQTT_SHARE_PREFIX}{}", self.node_id);
        let shared = match self.mqtt_member.load(std::sync::atomic::Ordering::Relaxed) {
            true => store.acquire_lease(&share, &self.node_id, now, until).await,
            false => store.release_lease(&share, &self.node_id).await,
        };
        if let Err(err) = shared {
            tracing::warn!(error = %err, "cluster: cannot record this node's MQTT share membership");
        }
        for name in WORK {
            // A lease that cannot be confirmed is treated as lost: better no run than two.
            let held = match store.acquire_lease(name, &self.node_id, now, until).await {
                Ok(held) => held,
                Err(err) => {
                    tracing::warn!(lease = name, error = %err, "cluster: cannot renew a lease");
                    false
                }
            };
            metrics::gauge!("jikimi_cluster_lease_held", "lease" => name).set(if held {
                1.0
            } else {
                0.0
            });
            if let Ok(mut set) = self.held.lock() {
                let had = set.contains(name);
                if held && !had {
                    tracing::info!(lease = name, node = %self.node_id, "cluster: lease taken");
                    set.insert(name);
                } else if !held && had {
                    tracing::info!(lease = name, node = %self.node_id, "cluster: lease lost");
                    set.remove(name);
                }
            }
        }
    }
}
