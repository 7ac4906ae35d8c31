//! The sending side of the push channel: this agency's events a participant has not acknowledged, as signed batches
//! ([`Node::push_operations`], page after page), and one pusher per participant that coalesces wake-ups
//! ([`Node::wake_pushers`]).
//!
//! A pusher sends as soon as it is woken when it was idle, so a lone change travels at once; while a batch is on
//! its way, and for [`PUSH_PAUSE`] after it, further wake-ups fold into one, so under load each participant gets a
//! few requests a second, each carrying everything pending (up to [`MAX_BATCH_EVENTS`] events and
//! [`MAX_BATCH_BYTES`]). A failed push is retried with back-off (from [`RETRY_FIRST`] to [`RETRY_MAX`]) while it
//! fails; the periodic sync pushes too, from the same marks, so nothing depends on the pusher alone.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use jikimi_exchange::domain::{Agency, AgencyId};
use jikimi_exchange::operation::rules;
use jikimi_exchange::operation::{
    AckOutcome, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, OpBatch, OpBatchAck, OpEvent,
};
use jikimi_exchange::protocol::{PROTOCOL, Rejection, Signed};
use jikimi_exchange::{Error, Result};

use crate::node::{Node, post};

/// The least time between two batches of one pusher: wake-ups meanwhile are coalesced into the next batch.
pub const PUSH_PAUSE: Duration = Duration::from_millis(200);
/// The first wait before a failed push is tried again; it doubles while pushes fail.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between tries of a failing push.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// A participant acknowledged this agency's events of one operation up to `through`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub peer: AgencyId,
    pub operation: Uuid,
    pub through: u64,
}

/// The channel delivery progress is announced on (a lagging watcher loses the oldest, nobody waits for it).
pub(crate) struct Feed(tokio::sync::broadcast::Sender<Delivered>);

impl Default for Feed {
    fn default() -> Self {
        Feed(tokio::sync::broadcast::channel(4096).0)
    }
}

/// This agency's events pending for one participant, as one batch, and the marks they were read from.
struct Pending {
    events: Vec<OpEvent>,
    marks: BTreeMap<Uuid, u64>,
}

/// How a batch went.
enum Sent {
    Acknowledged(Signed<OpBatchAck>),
    /// 413: the receiver's body limit (or its per-source budget) is smaller than the batch.
    TooLarge,
}

impl Node {
    /// Delivery progress from now on: each acknowledged batch announces, per operation, how far the participant
    /// holds this agency's events.
    pub fn deliveries(&self) -> tokio::sync::broadcast::Receiver<Delivered> {
        self.ops.delivered.0.subscribe()
    }

    /// Pushes this agency's events that `peer` has not acknowledged, in batches, until none is pending, a batch
    /// moves no mark (the peer buffers or refuses what is left: the next push tries again) or a push fails (the
    /// error; the marks stay). Returns how many events the peer acknowledged as applied or held.
    pub async fn push_operations(&self, peer: &Agency) -> Result<usize> {
        let lock = self.ops.peer(&peer.id);
        let _guard = lock.lock().await;
        let mut sent = 0;
        let mut limit = MAX_BATCH_EVENTS;
        loop {
            let pending = self.pending_for(peer, limit).await?;
            if pending.events.is_empty() {
                return Ok(sent);
            }
            let n = pending.events.len();
            let batch = self.sign(OpBatch {
                protocol: PROTOCOL.to_string(),
                sender: self.id().clone(),
                recipient: peer.id.clone(),
                at: Utc::now(),
                events: pending.events,
            })?;
            let ack = match self.send_batch(peer, &batch).await? {
                Sent::TooLarge if n > 1 => {
                    limit = n / 2;
                    continue;
                }
                Sent::TooLarge => {
                    return Err(Error::Transport {
                        peer: peer.name.clone(),
                        reason: "one operation event is larger than the partner accepts".into(),
                    });
                }
                Sent::Acknowledged(ack) => ack,
            };
            self.accept_batch_ack(peer, &batch, &ack).await?;
            sent += ack
                .body
                .results
                .iter()
                .filter(|r| matches!(r.outcome, AckOutcome::Applied | AckOutcome::Duplicate))
                .count();
            let moved = ack.body.next_expected.iter().any(|(op, next)| {
                pending
                    .marks
                    .get(op)
                    .is_some_and(|mark| next.saturating_sub(1) > *mark)
            });
            if !moved {
                return Ok(sent);
            }
        }
    }

    /// Pushes to every peer taking part in an operation with us, one after the other; failures are logged (the
    /// sync pushes again).
    pub async fn push_operations_all(&self) -> Result<usize> {
        let mut sent = 0;
        for peer in self.store.peers().await? {
            if peer.endpoint.is_none() {
                continue;
            }
            match self.push_operations(&peer).await {
                Ok(n) => sent += n,
                Err(e) => {
                    tracing::debug!(peer = %peer.name, error = %e, "operation push not delivered yet")
                }
            }
        }
        Ok(sent)
    }

    /// Wakes the pusher of every peer with an endpoint (starting it the first time): what this agency issued is
    /// on its way within a batch's round trip, or after [`PUSH_PAUSE`] under load.
    pub async fn wake_pushers(self: &Arc<Self>) -> Result<()> {
        for peer in self.store.peers().await? {
            if peer.endpoint.is_some() {
                self.wake_pusher(&peer.id);
            }
        }
        Ok(())
    }

    /// Wakes `peer`'s pusher, starting it the first time. A pusher holds the node weakly: it ends once the node is
    /// dropped and it is woken again.
    pub fn wake_pusher(self: &Arc<Self>, peer: &AgencyId) {
        let mut map = self
            .ops
            .pushers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let wake = map.entry(peer.clone()).or_insert_with(|| {
            let wake = Arc::new(tokio::sync::Notify::new());
            tokio::spawn(pusher(Arc::downgrade(self), peer.clone(), wake.clone()));
            wake
        });
        wake.notify_one();
    }

    /// Up to `limit` events (and [`MAX_BATCH_BYTES`]) of ours that `peer` has not acknowledged, operation by
    /// operation, in numbering order, each redacted to the parts the agreements let `peer` have.
    async fn pending_for(&self, peer: &Agency, limit: usize) -> Result<Pending> {
        let mut out = Pending {
            events: Vec::new(),
            marks: BTreeMap::new(),
        };
        let mut bytes = 0;
        let agreements = self.store.agreements().await?;
        let now = Utc::now();
        for op in self.store.operations().await? {
            let snap = self.snapshot(op).await?;
            let Some(view) = snap.view() else {
                continue;
            };
            let head = view.heads.get(self.id()).copied().unwrap_or(0);
            if head == 0 || !view.participants.contains_key(&peer.id) {
                continue;
            }
            let mark = self.store.op_delivered(op, &peer.id).await?;
            if head <= mark {
                continue;
            }
            out.marks.insert(op, mark);
            // Ours are applied in numbering order: from the newest back to the mark.
            let mut own: Vec<&OpEvent> = snap
                .applied
                .iter()
                .rev()
                .map(|h| &h.event)
                .filter(|e| &e.head.body.origin == self.id())
                .take_while(|e| e.head.body.seq > mark)
                .collect();
            own.reverse();
            for event in own {
                let h = &event.head.body;
                if !rules::recipients(view, self.id(), h.seq).contains(&peer.id) {
                    break;
                }
                let allowed = rules::allowed_parts(
                    &agreements,
                    view,
                    self.id(),
                    &peer.id,
                    h.marking.tlp,
                    now,
                );
                let redacted = event.redacted(&allowed);
                let size = serde_json::to_vec(&redacted)
                    .map_err(Error::Encoding)?
                    .len();
                if !out.events.is_empty()
                    && (out.events.len() >= limit || bytes + size > MAX_BATCH_BYTES)
                {
                    return Ok(out);
                }
                bytes += size;
                out.events.push(redacted);
            }
        }
        Ok(out)
    }

    /// Posts a batch to `peer`'s `/federation/v1/operations/batches`.
    async fn send_batch(&self, peer: &Agency, batch: &Signed<OpBatch>) -> Result<Sent> {
        let t = |reason: String| Error::Transport {
            peer: peer.name.clone(),
            reason,
        };
        let endpoint = peer
            .endpoint
            .as_deref()
            .ok_or_else(|| t("no endpoint".into()))?;
        let response = post(&self.http, endpoint, "operations/batches", batch)
            .await
            .map_err(|e| t(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
            return Ok(Sent::TooLarge);
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(t(format!("operations/batches answered {status}: {text}")));
        }
        let bytes = response.bytes().await.map_err(|e| t(e.to_string()))?;
        serde_json::from_slice(&bytes)
            .map(Sent::Acknowledged)
            .map_err(|e| t(format!("bad answer: {e}")))
    }

    /// The origin's side: a receiver's acknowledgement of `batch`, verified (its signer, addressed to us, naming
    /// this batch and only operations in it, no number beyond what was sent), kept, and announced.
    async fn accept_batch_ack(
        &self,
        peer: &Agency,
        batch: &Signed<OpBatch>,
        ack: &Signed<OpBatchAck>,
    ) -> Result<()> {
        let a = &ack.body;
        let mut last: BTreeMap<Uuid, u64> = BTreeMap::new();
        for e in &batch.body.events {
            let h = &e.head.body;
            let n = last.entry(h.operation).or_default();
            *n = (*n).max(h.seq);
        }
        let checked = if a.receiver != peer.id || &a.sender != self.id() {
            Err(Rejection::WrongRecipient)
        } else if a.results.len() != batch.body.events.len()
            || a.next_expected
                .iter()
                .any(|(op, next)| last.get(op).is_none_or(|l| *next > l + 1))
        {
            Err(Rejection::Malformed)
        } else {
            match batch.digest() {
                Ok(d) if d == a.batch => ack.verify(&peer.id).map(|_| ()),
                _ => Err(Rejection::Malformed),
            }
        };
        self.refuse_audited(checked, "operation_ack_rejected", &peer.id)
            .await?;
        self.store.op_batch_acknowledged(ack).await?;
        for (op, next) in &a.next_expected {
            // Nobody watching is not an error.
            let _ = self.ops.delivered.0.send(Delivered {
                peer: peer.id.clone(),
                operation: *op,
                through: next.saturating_sub(1),
            });
        }
        Ok(())
    }
}

/// One peer's pusher: waits to be woken, pushes until nothing is pending (retrying with back-off while it fails),
/// pauses, and waits again; wake-ups meanwhile are one.
async fn pusher(node: Weak<Node>, peer: AgencyId, wake: Arc<tokio::sync::Notify>) {
    loop {
        wake.notified().await;
        let mut retry = RETRY_FIRST;
        loop {
            let Some(n) = node.upgrade() else {
                return;
            };
            let pushed = match n.store.peers().await {
                Ok(peers) => match peers.into_iter().find(|p| p.id == peer) {
                    Some(p) => n.push_operations(&p).await.map(|_| ()),
                    None => Ok(()),
                },
                Err(e) => Err(e),
            };
            drop(n);
            match pushed {
                Ok(()) => break,
                Err(e) => {
                    tracing::debug!(peer = %peer.short(), error = %e, "operation push failed; trying again");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(RETRY_MAX);
                }
            }
        }
        tokio::time::sleep(PUSH_PAUSE).await;
    }
}
