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

/// How often leases are renewed.
pub const RENEW: Duration = Duration::from_secs(2);
/// How long a lease lasts unless renewed: a crashed holder's work moves within about this long.
pub const TTL: Duration = Duration::from_secs(10);

/// Holds and renews this node's leases.
pub struct LeaseKeeper {
    node_id: String,
    held: Mutex<HashSet<&'static str>>,
}

impl LeaseKeeper {
    /// Starts renewing (the first round at once). Must be called inside a Tokio runtime.
    pub fn spawn(store: Arc<dyn Store>, node_id: String) -> Arc<LeaseKeeper> {
        let keeper = Arc::new(LeaseKeeper {
            node_id,
            held: Mutex::new(HashSet::new()),
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

    /// Whether this node holds `name` now.
    pub fn holds(&self, name: &str) -> bool {
        self.held.lock().map(|h| h.contains(name)).unwrap_or(false)
    }

    async fn renew(&self, store: &dyn Store) {
        let now = Timestamp::from(std::time::SystemTime::now());
        let until = Timestamp::from_unix_ms(now.as_unix_ms() + TTL.as_millis() as i64);
        let node = format!("node/{}", self.node_id);
        if let Err(err) = store.acquire_lease(&node, &self.node_id, now, until).await {
            tracing::warn!(error = %err, "cluster: cannot renew this node's lease");
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
