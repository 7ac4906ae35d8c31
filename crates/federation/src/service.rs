//! [`Federation`]: the node of a running server (`jikimi serve`, `jikimi federation serve`), over the server's own
//! database handle, opened on first use so that an identity created after the server started (`jikimi agency
//! init` on the same database) is picked up by the next request; and the one periodic sync loop.

use std::sync::Arc;
use std::time::Duration;

use jikimi_exchange::Result;
use jikimi_exchange::store::ExchangeStore;

use crate::node::Node;
use crate::transport::Transport;

/// The cooperation node of a server, opened lazily.
pub struct Federation {
    store: Arc<dyn ExchangeStore>,
    page_limit: u32,
    transport: Transport,
    node: tokio::sync::OnceCell<Arc<Node>>,
}

impl Federation {
    /// The node over `store` (the server's database), pulling `page_limit` envelopes per page from partners
    /// reached through `transport`.
    pub fn new(store: Arc<dyn ExchangeStore>, page_limit: u32, transport: Transport) -> Federation {
        Federation {
            store,
            page_limit,
            transport,
            node: tokio::sync::OnceCell::new(),
        }
    }

    /// The store (for the identity, peer and agreement calls that need no node).
    pub fn store(&self) -> &Arc<dyn ExchangeStore> {
        &self.store
    }

    /// How the node reaches partners.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The node, once this database has an agency identity ([`jikimi_exchange::Error::NoIdentity`] before).
    pub async fn node(&self) -> Result<Arc<Node>> {
        let node = self
            .node
            .get_or_try_init(|| async {
                let mut node = Node::open_with(self.store.clone(), &self.transport).await?;
                node.page_limit = self.page_limit;
                Ok::<_, jikimi_exchange::Error>(Arc::new(node))
            })
            .await?;
        Ok(node.clone())
    }

    /// Pulls from every peer with an endpoint every `every`, for as long as the process runs; failures are
    /// logged and the next round tries again.
    pub fn spawn_periodic_sync(self: &Arc<Self>, every: Duration) {
        self.spawn_periodic_sync_when(every, || true);
    }

    /// As [`Federation::spawn_periodic_sync`], each round only when `turn()` says so (in a cluster: this node holds
    /// the sync's lease, so partners are pulled once, not once per node).
    pub fn spawn_periodic_sync_when(
        self: &Arc<Self>,
        every: Duration,
        turn: impl Fn() -> bool + Send + 'static,
    ) {
        let federation = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if !turn() {
                    continue;
                }
                let Ok(node) = federation.node().await else {
                    continue;
                };
                match node.sync_all().await {
                    Ok(results) => {
                        for (peer, r) in results {
                            if let Err(e) = r {
                                tracing::warn!(peer = %peer.name, error = %e, "periodic sync failed");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "periodic sync failed"),
                }
            }
        });
    }
}
