//! Shared hash banks on the node (`jikimi_exchange::hashbank`): offering a bank (ours, or one received, when its
//! agreement permits onward sharing), issuing the origin's signed content changes and a holder's signed feedback,
//! the push channel that carries them, and the receiving side that re-checks everything before it keeps anything.
//!
//! # Push and catch-up
//! Items travel one peer at a time, in order, as a POST of a [`BankDelivery`] signed by the sender to
//! `/federation/v1/banks/deliver`; the receiver answers a signed [`BankAck`], which the sender verifies, keeps
//! (audited) and moves that peer's delivery mark with. Downstream (to a peer we offered a bank to) go our offer,
//! then the origin's content events of the offered category; upstream (to the peer that offered us a bank) go the
//! feedback events we hold for it, ours and those our own partners sent us. A failed push leaves the mark where it
//! was and the periodic sync ([`Node::sync_peer`]) pushes again from it, so after a partition a peer gets everything
//! it missed, in order, and nothing twice.
//!
//! # Receiving
//! A delivery is taken from a known peer, addressed to us, signed by it; an offer must be signed by its sender under
//! an agreement we hold allowing hashes; an event must be signed by its issuer (the origin, or for feedback the
//! holder that reviewed), come from the peer that offered us the bank (content) or a peer we offered it to
//! (feedback), and be numbered after the last held from its issuer (an earlier number is answered as a duplicate and
//! changes nothing). Refusals are audited.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use jikimi_exchange::domain::{Agency, AgencyId};
use jikimi_exchange::hashbank::{
    self, BankAck, BankChange, BankDelivery, BankEvent, BankItem, BankOffer, BankOutcome,
    FeedbackVerdict, HeldOffer,
};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::protocol::{PROTOCOL, Rejection, Signed};
use jikimi_exchange::{Error, Result};

use crate::node::Node;

/// The node's bank state: one lock for numbering, one for check-then-store on receipt, one per peer for pushes.
#[derive(Default)]
pub(crate) struct BankLocks {
    issue: tokio::sync::Mutex<()>,
    accept: tokio::sync::Mutex<()>,
    peers: std::sync::Mutex<HashMap<AgencyId, Arc<tokio::sync::Mutex<()>>>>,
}

impl BankLocks {
    fn peer(&self, peer: &AgencyId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(peer.clone()).or_default().clone()
    }
}

/// A bank kept by this agency, as the server describes it for an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBank {
    pub id: Uuid,
    pub name: String,
    pub match_distance: u32,
}

impl Node {
    /// Offers a bank to `to` under `agreement` (the whole bank, or its content labelled `category`): `local` for a
    /// bank kept here, `None` to offer on a bank received from a partner. Checked by the sharing policy, signed,
    /// kept and audited; delivery is the caller's next step ([`Node::push_banks_all`]).
    pub async fn bank_offer(
        &self,
        bank: Uuid,
        local: Option<LocalBank>,
        to: AgencyId,
        agreement: Uuid,
        category: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Signed<BankOffer>> {
        let agreements = self.store.agreements().await?;
        let offers = self.store.bank_offers().await?;
        let received = received_offer(&offers, bank, self.id());
        let (origin, name, match_distance) = match (&local, received) {
            (Some(l), _) => (self.id().clone(), l.name.clone(), l.match_distance),
            (None, Some(r)) => (r.origin.clone(), r.name.clone(), r.match_distance),
            (None, None) => return Err(Error::not_found("shared bank", bank)),
        };
        let category = match (&local, category) {
            (None, None) => received.and_then(|r| r.category.clone()),
            (_, c) => c,
        };
        let offer = BankOffer {
            protocol: PROTOCOL.to_string(),
            bank,
            origin,
            name,
            match_distance,
            category,
            from: self.id().clone(),
            to,
            agreement,
            at: now,
        };
        hashbank::check_offer_out(&agreements, self.id(), &offer, received, now)?;
        let signed = self.sign(offer)?;
        self.store.put_bank_offer(&signed, false).await?;
        Ok(signed)
    }

    /// Whether this agency has offered its own bank `bank` to anyone (then its content changes are issued as
    /// events).
    pub async fn bank_is_offered(&self, bank: Uuid) -> Result<bool> {
        Ok(self.store.bank_offers().await?.iter().any(|h| {
            let o = &h.offer.body;
            o.bank == bank && &o.from == self.id() && &o.origin == self.id()
        }))
    }

    /// Whether this agency has issued any event of `bank` yet.
    pub async fn bank_has_events(&self, bank: Uuid) -> Result<bool> {
        Ok(self.store.bank_last_seq(bank, self.id()).await? > 0)
    }

    /// Issues this agency's next change of its own bank `bank`: checked, numbered, signed, kept and audited.
    pub async fn bank_change(
        &self,
        bank: Uuid,
        change: BankChange,
        now: DateTime<Utc>,
    ) -> Result<Signed<BankEvent>> {
        let origin = self.id().clone();
        self.bank_issue(bank, origin, change, now).await
    }

    /// A review of a match of `content`, in a bank held from a partner, as signed feedback for the bank's origin
    /// (delivered through the partner that offered us the bank).
    pub async fn bank_feedback(
        &self,
        bank: Uuid,
        content: Uuid,
        verdict: FeedbackVerdict,
        now: DateTime<Utc>,
    ) -> Result<Signed<BankEvent>> {
        let offers = self.store.bank_offers().await?;
        let origin = received_offer(&offers, bank, self.id())
            .map(|o| o.origin.clone())
            .ok_or_else(|| Error::not_found("shared bank", bank))?;
        self.bank_issue(bank, origin, BankChange::Feedback { content, verdict }, now)
            .await
    }

    async fn bank_issue(
        &self,
        bank: Uuid,
        origin: AgencyId,
        change: BankChange,
        now: DateTime<Utc>,
    ) -> Result<Signed<BankEvent>> {
        let _guard = self.banks.issue.lock().await;
        let seq = self.store.bank_last_seq(bank, self.id()).await? + 1;
        let event = BankEvent {
            protocol: PROTOCOL.to_string(),
            bank,
            origin,
            issuer: self.id().clone(),
            seq,
            at: now,
            change,
        };
        hashbank::check_event(&event)?;
        let signed = self.sign(event)?;
        self.store.put_bank_event(&signed, None).await?;
        Ok(signed)
    }

    /// Pushes to `peer` what it has not acknowledged: downstream our offers to it and the origin's events of the
    /// offered category, upstream the feedback of banks it offered us. Stops at the first failure (the next sync
    /// starts again from the marks). Returns how many items were delivered.
    pub async fn push_banks(&self, peer: &Agency) -> Result<usize> {
        let lock = self.banks.peer(&peer.id);
        let _guard = lock.lock().await;
        let mut sent = 0;
        for held in self.store.bank_offers().await? {
            let o = &held.offer.body;
            if &o.from == self.id() && o.to == peer.id {
                if !held.delivered {
                    let item = BankItem::Offer {
                        offer: held.offer.clone(),
                    };
                    self.bank_deliver(peer, o.bank, &o.from, 0, item).await?;
                    sent += 1;
                }
                let mark = self
                    .store
                    .bank_delivered(o.bank, &o.origin, &peer.id)
                    .await?;
                for h in self.store.bank_events(o.bank).await? {
                    let e = &h.event.body;
                    if e.issuer != o.origin
                        || e.change.is_feedback()
                        || e.seq <= mark
                        || !hashbank::passes(o.category.as_deref(), &e.change)
                    {
                        continue;
                    }
                    let item = BankItem::Event {
                        event: h.event.clone(),
                    };
                    self.bank_deliver(peer, o.bank, &e.issuer, e.seq, item)
                        .await?;
                    sent += 1;
                }
            } else if &o.to == self.id() && o.from == peer.id {
                let mut by_issuer: BTreeMap<AgencyId, Vec<Signed<BankEvent>>> = BTreeMap::new();
                for h in self.store.bank_events(o.bank).await? {
                    let e = &h.event.body;
                    if e.change.is_feedback() && e.issuer != peer.id {
                        by_issuer.entry(e.issuer.clone()).or_default().push(h.event);
                    }
                }
                for (issuer, events) in by_issuer {
                    let mark = self.store.bank_delivered(o.bank, &issuer, &peer.id).await?;
                    for event in events.into_iter().filter(|e| e.body.seq > mark) {
                        let seq = event.body.seq;
                        self.bank_deliver(peer, o.bank, &issuer, seq, BankItem::Event { event })
                            .await?;
                        sent += 1;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Pushes to every peer with an endpoint; failures are logged (the sync pushes again).
    pub async fn push_banks_all(&self) -> Result<usize> {
        let mut sent = 0;
        for peer in self.store.peers().await? {
            if peer.endpoint.is_none() {
                continue;
            }
            match self.push_banks(&peer).await {
                Ok(n) => sent += n,
                Err(e) => {
                    tracing::debug!(peer = %peer.name, error = %e, "bank push not delivered yet")
                }
            }
        }
        Ok(sent)
    }

    /// Sends one item and keeps the peer's verified acknowledgement.
    async fn bank_deliver(
        &self,
        peer: &Agency,
        bank: Uuid,
        issuer: &AgencyId,
        seq: u64,
        item: BankItem,
    ) -> Result<()> {
        let digest = item_digest(&item)?;
        let delivery = self.sign(BankDelivery {
            protocol: PROTOCOL.to_string(),
            sender: self.id().clone(),
            recipient: peer.id.clone(),
            at: Utc::now(),
            item,
        })?;
        let ack: Signed<BankAck> = self.send(peer, "banks/deliver", &delivery).await?;
        let a = &ack.body;
        let checked = if a.receiver != peer.id
            || a.bank != bank
            || &a.issuer != issuer
            || a.seq != seq
            || a.digest != digest
        {
            Err(Rejection::WrongRecipient)
        } else {
            ack.verify(&peer.id).map(|_| ())
        };
        self.refuse_audited(checked, "bank_ack_rejected", &peer.id)
            .await?;
        self.store.bank_acknowledged(&ack).await
    }

    /// The receiving side: a peer's signed delivery of an offer or a bank event, re-checked (see the module
    /// documentation), kept and answered with a signed acknowledgement. Refusals are audited.
    pub async fn accept_bank_delivery(
        &self,
        delivery: &Signed<BankDelivery>,
        now: DateTime<Utc>,
    ) -> Result<Signed<BankAck>> {
        let d = &delivery.body;
        let peers = self.store.peers().await?;
        let checked = if !peers.iter().any(|p| p.id == d.sender) {
            Err(Rejection::UnknownSender)
        } else if &d.recipient != self.id() {
            Err(Rejection::WrongRecipient)
        } else if d.protocol != PROTOCOL {
            Err(Rejection::WrongProtocol)
        } else {
            delivery.verify(&d.sender).map(|_| ())
        };
        self.refuse_audited(checked, "bank_delivery_rejected", &d.sender)
            .await?;
        let _guard = self.banks.accept.lock().await;
        match &d.item {
            BankItem::Offer { offer } => {
                let agreements = self.store.agreements().await?;
                if let Err(e) =
                    hashbank::check_offer_in(&agreements, self.id(), &d.sender, offer, now)
                {
                    return Err(self
                        .bank_refused(&d.sender, offer.body.bank, "offer", e)
                        .await);
                }
                let fresh = self.store.put_bank_offer(offer, true).await?;
                self.bank_ack(offer.body.bank, &d.sender, 0, offer.digest()?, fresh, now)
            }
            BankItem::Event { event } => {
                let e = &event.body;
                let digest = match self.bank_receivable(&d.sender, event).await? {
                    Ok(digest) => digest,
                    Err(err) => {
                        return Err(self.bank_refused(&d.sender, e.bank, "event", err).await);
                    }
                };
                let last = self.store.bank_last_seq(e.bank, &e.issuer).await?;
                let fresh = if e.seq > last {
                    self.store.put_bank_event(event, Some(&d.sender)).await?
                } else {
                    // Held, or an earlier number skipped here: storing it now could undo a later change.
                    let held = self.store.bank_events(e.bank).await?;
                    let other = held.iter().any(|h| {
                        h.event.body.issuer == e.issuer
                            && h.event.body.seq == e.seq
                            && h.digest != digest
                    });
                    if other {
                        let err =
                            Error::invalid("bank event", "another event with this number is held");
                        return Err(self.bank_refused(&d.sender, e.bank, "event", err).await);
                    }
                    false
                };
                self.bank_ack(e.bank, &e.issuer, e.seq, digest, fresh, now)
            }
        }
    }

    /// Whether `sender` may deliver `event` here: signed by its issuer, well formed, and on the way the bank
    /// travels (content from the peer that offered it to us, feedback from a peer we offered it to, about content
    /// held here). Answers the event's digest, or why not.
    async fn bank_receivable(
        &self,
        sender: &AgencyId,
        event: &Signed<BankEvent>,
    ) -> Result<std::result::Result<Sha256Hex, Error>> {
        let e = &event.body;
        let digest = match event.verify(&e.issuer) {
            Ok(d) => d,
            Err(r) => return Ok(Err(Error::Rejected(r))),
        };
        if let Err(err) = hashbank::check_event(e) {
            return Ok(Err(err));
        }
        let offers = self.store.bank_offers().await?;
        let on_the_way = offers.iter().any(|h| {
            let o = &h.offer.body;
            o.bank == e.bank
                && o.origin == e.origin
                && if e.change.is_feedback() {
                    &o.from == self.id() && &o.to == sender
                } else {
                    &o.to == self.id() && &o.from == sender
                }
        });
        if !on_the_way {
            return Ok(Err(Error::Denied(
                "this bank was not shared between the sender and this agency".into(),
            )));
        }
        if e.change.is_feedback() {
            let content = e.change.content();
            let known = self.store.bank_events(e.bank).await?.iter().any(|h| {
                matches!(h.event.body.change, BankChange::Added { .. })
                    && h.event.body.change.content() == content
            });
            if !known {
                return Ok(Err(Error::invalid(
                    "feedback",
                    "no such content in the bank here",
                )));
            }
        }
        Ok(Ok(digest))
    }

    /// Audits a refused item and returns the error to answer with.
    async fn bank_refused(&self, sender: &AgencyId, bank: Uuid, what: &str, err: Error) -> Error {
        let detail = format!("bank {bank} {what} refused: {err}");
        if let Err(e) = self
            .store
            .audit("bank_item_rejected", Some(sender), Some(bank), &detail)
            .await
        {
            return e;
        }
        err
    }

    fn bank_ack(
        &self,
        bank: Uuid,
        issuer: &AgencyId,
        seq: u64,
        digest: Sha256Hex,
        fresh: bool,
        now: DateTime<Utc>,
    ) -> Result<Signed<BankAck>> {
        self.sign(BankAck {
            protocol: PROTOCOL.to_string(),
            receiver: self.id().clone(),
            bank,
            issuer: issuer.clone(),
            seq,
            digest,
            outcome: if fresh {
                BankOutcome::Applied
            } else {
                BankOutcome::Duplicate
            },
            at: now,
        })
    }
}

/// The offer through which this agency holds `bank` from a partner, if it does.
fn received_offer<'a>(offers: &'a [HeldOffer], bank: Uuid, me: &AgencyId) -> Option<&'a BankOffer> {
    offers
        .iter()
        .map(|h| &h.offer.body)
        .find(|o| o.bank == bank && &o.to == me)
}

fn item_digest(item: &BankItem) -> Result<Sha256Hex> {
    match item {
        BankItem::Offer { offer } => offer.digest(),
        BankItem::Event { event } => event.digest(),
    }
}
