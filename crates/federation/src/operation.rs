//! Joint operations on the node: issuing this agency's changes (checked by the same sovereignty rules every receiver
//! runs, signed, kept and audited), the push channel that carries each change to every participant allowed to see
//! it, and the receiving side that re-checks signature, agreement, rules and order before it applies anything.
//!
//! # Push and catch-up
//! Only an event's origin sends it: to each participant, in its own numbering order, redacted to the parts an
//! agreement lets that participant have, as a POST to `/federation/v1/operations/events`; the receiver answers a
//! signed acknowledgement naming the next number it expects, and the origin keeps it (audited) and moves that
//! participant's delivery mark. A push that fails leaves the mark where it was; the periodic sync with that peer
//! ([`Node::sync_peer`]) pushes again from the mark, so after a partition a participant gets everything it missed, in
//! order, and nothing twice (events are idempotent by (operation, origin, seq) and digest).
//!
//! # Order on the receiving side
//! An event is applied when it is the next of its origin and what it refers to is held (the creation, an invitation,
//! a task); otherwise it is kept buffered and applied as soon as it can be ([`Node::drain_buffered`]). One lock per
//! node serialises check-then-store, so two pushes cannot both take the same place.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use jikimi_exchange::domain::{Agency, AgencyId, FieldClass};
use jikimi_exchange::marking::Marking;
use jikimi_exchange::operation::rules::{self, OperationView, Verdict};
use jikimi_exchange::operation::{
    AckOutcome, Change, CourtBundle, EventHead, OpAck, OpEvent, Part, Participant, Role,
};
use jikimi_exchange::protocol::{PROTOCOL, Rejection, Signed};
use jikimi_exchange::store::HeldEvent;
use jikimi_exchange::{Error, Result};

use crate::node::Node;

/// The node's operation state: a lock for check-then-store, one per peer so pushes to it go one at a time, in
/// order, and the applied events of each operation read so far (only what was applied since is read again).
#[derive(Default)]
pub(crate) struct OpLocks {
    apply: tokio::sync::Mutex<()>,
    peers: std::sync::Mutex<HashMap<AgencyId, Arc<tokio::sync::Mutex<()>>>>,
    cache: tokio::sync::Mutex<HashMap<Uuid, OpCache>>,
}

/// The applied events of one operation as read so far, in the order applied, and their fold.
#[derive(Default)]
struct OpCache {
    last: u64,
    applied: Vec<Arc<HeldEvent>>,
    /// Shared with the snapshots taken since it last changed (changed in place when none is held: no copy).
    view: Arc<Option<OperationView>>,
}

/// One operation as held at one moment.
pub(crate) struct Snapshot {
    applied: Vec<Arc<HeldEvent>>,
    buffered: Vec<HeldEvent>,
    view: Arc<Option<OperationView>>,
}

impl Snapshot {
    fn view(&self) -> Option<&OperationView> {
        Option::as_ref(&self.view)
    }

    fn find(&self, origin: &AgencyId, seq: u64) -> Option<&HeldEvent> {
        self.applied
            .iter()
            .map(Arc::as_ref)
            .chain(self.buffered.iter())
            .find(|h| &h.event.head.body.origin == origin && h.event.head.body.seq == seq)
    }
}

impl OpLocks {
    fn peer(&self, peer: &AgencyId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(peer.clone()).or_default().clone()
    }
}

/// An operation as held here: its view and every event (applied, then buffered).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeldOperation {
    pub view: OperationView,
    pub events: Vec<HeldEvent>,
}

/// A change this agency makes, before it is numbered and signed.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub change: Change,
    pub parts: BTreeMap<FieldClass, Part>,
    pub marking: Marking,
}

impl NewChange {
    /// A change without content parts, marked by default.
    pub fn plain(change: Change) -> NewChange {
        NewChange {
            change,
            parts: BTreeMap::new(),
            marking: Marking::default(),
        }
    }
}

/// A fresh salt for a part, from the operating system's generator.
pub fn salt() -> Uuid {
    Uuid::new_v4()
}

impl Node {
    /// `operation` as held now: what was applied since the last read is read and folded in; buffered events are
    /// read every time (they are few).
    pub(crate) async fn snapshot(&self, operation: Uuid) -> Result<Snapshot> {
        let mut cache = self.ops.cache.lock().await;
        let entry = cache.entry(operation).or_default();
        let mut buffered = Vec::new();
        for h in self.store.op_events_since(operation, entry.last).await? {
            let Some(n) = h.applied else {
                buffered.push(h);
                continue;
            };
            entry.last = entry.last.max(n);
            rules::apply(Arc::make_mut(&mut entry.view), &h.event);
            if let Some((origin, seq)) = rules::erases(&h.event.head.body) {
                // The store erased the withdrawn parts in the same transaction: so does this copy.
                for e in entry.applied.iter_mut() {
                    let b = &e.event.head.body;
                    if b.origin == origin && b.seq == seq {
                        let mut erased = HeldEvent::clone(e);
                        erased.event.parts.clear();
                        *e = Arc::new(erased);
                    }
                }
            }
            entry.applied.push(Arc::new(h));
        }
        Ok(Snapshot {
            applied: entry.applied.clone(),
            buffered,
            view: entry.view.clone(),
        })
    }

    /// Opens an operation led by this agency under `agreements`, inviting `invited` (agency, role, proposed legal
    /// basis); this agency cites `legal_basis`. Every invitee must share one of the agreements with us.
    pub async fn operation_create(
        &self,
        title: String,
        agreements: BTreeSet<Uuid>,
        legal_basis: String,
        invited: Vec<Participant>,
        day_of_action: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<HeldOperation> {
        let held = self.store.agreements().await?;
        for id in &agreements {
            if !held.iter().any(|a| a.id == *id && a.is_active(now)) {
                return Err(Error::not_found("agreement", *id));
            }
        }
        for p in &invited {
            let shares = held.iter().any(|a| {
                agreements.contains(&a.id)
                    && a.parties.contains(&p.agency)
                    && a.parties.contains(self.id())
            });
            if !shares {
                return Err(Error::Denied(format!(
                    "agency {} is party to none of the operation's agreements",
                    p.agency.short()
                )));
            }
        }
        let mut participants = vec![Participant {
            agency: self.id().clone(),
            role: Role::Lead,
            legal_basis,
        }];
        participants.extend(invited);
        let id = Uuid::now_v7();
        let change = Change::Create {
            title,
            agreements,
            participants,
            day_of_action,
        };
        self.operation_change_at(id, NewChange::plain(change), now)
            .await?;
        self.operation(id).await
    }

    /// Issues this agency's next change to `operation`: checked by the rules every receiver runs, numbered, signed,
    /// kept and audited. Delivery is the caller's next step ([`Node::push_operations`]).
    pub async fn operation_change(
        &self,
        operation: Uuid,
        new: NewChange,
        now: DateTime<Utc>,
    ) -> Result<OpEvent> {
        if matches!(new.change, Change::Create { .. }) {
            return Err(Error::invalid("change", "create opens a new operation"));
        }
        self.operation_change_at(operation, new, now).await
    }

    async fn operation_change_at(
        &self,
        operation: Uuid,
        new: NewChange,
        now: DateTime<Utc>,
    ) -> Result<OpEvent> {
        let _guard = self.ops.apply.lock().await;
        let snap = self.snapshot(operation).await?;
        let view = snap.view();
        let is_create = matches!(new.change, Change::Create { .. });
        if view.is_none() && !is_create {
            return Err(Error::not_found("operation", operation));
        }
        let seq = view.map_or(1, |v| v.next_seq(self.id()));
        let head = EventHead {
            protocol: PROTOCOL.to_string(),
            operation,
            origin: self.id().clone(),
            seq,
            at: now,
            marking: new.marking,
            change: new.change,
            parts: BTreeMap::new(),
        };
        let event = OpEvent::issue(head, new.parts, self.signing_key())?;
        match rules::check(view, &event.head.body) {
            Verdict::Apply => {}
            Verdict::Refuse(why) => return Err(Error::Denied(why)),
            Verdict::Wait(what) => {
                return Err(Error::invalid(
                    "change",
                    format!("not yet: it needs {what}"),
                ));
            }
            Verdict::Duplicate => return Err(Error::invalid("change", "numbered twice")),
        }
        self.store.put_op_event(&event, true).await?;
        Ok(event)
    }

    /// An operation held here ([`Error::NotFound`] otherwise).
    pub async fn operation(&self, operation: Uuid) -> Result<HeldOperation> {
        let snap = self.snapshot(operation).await?;
        let view =
            Option::clone(&snap.view).ok_or_else(|| Error::not_found("operation", operation))?;
        let events = snap
            .applied
            .iter()
            .map(|h| HeldEvent::clone(h))
            .chain(snap.buffered)
            .collect();
        Ok(HeldOperation { view, events })
    }

    /// Every operation held here, newest first.
    pub async fn operations(&self) -> Result<Vec<OperationView>> {
        let mut out = Vec::new();
        for id in self.store.operations().await? {
            if let Some(view) = Option::clone(&self.snapshot(id).await?.view) {
                out.push(view);
            }
        }
        Ok(out)
    }

    /// Pushes this agency's events that `peer` has not acknowledged, operation by operation, in order; stops at the
    /// first failure (the next sync starts again from the peer's mark). Returns how many were delivered.
    pub async fn push_operations(&self, peer: &Agency) -> Result<usize> {
        let lock = self.ops.peer(&peer.id);
        let _guard = lock.lock().await;
        let agreements = self.store.agreements().await?;
        let mut sent = 0;
        for op in self.store.operations().await? {
            let snap = self.snapshot(op).await?;
            let Some(view) = snap.view() else {
                continue;
            };
            if !view.participants.contains_key(&peer.id) {
                continue;
            }
            let mark = self.store.op_delivered(op, &peer.id).await?;
            let mut own: Vec<&OpEvent> = snap
                .applied
                .iter()
                .map(|h| &h.event)
                .filter(|e| &e.head.body.origin == self.id() && e.head.body.seq > mark)
                .collect();
            own.sort_by_key(|e| e.head.body.seq);
            let now = Utc::now();
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
                let out = event.redacted(&allowed);
                let ack: Signed<OpAck> = self.send(peer, "operations/events", &out).await?;
                self.accept_op_ack(peer, event, &ack).await?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Pushes to every peer taking part in an operation with us; failures are logged (the sync pushes again).
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

    /// The origin's side: a receiver's acknowledgement, verified and kept.
    async fn accept_op_ack(
        &self,
        peer: &Agency,
        event: &OpEvent,
        ack: &Signed<OpAck>,
    ) -> Result<()> {
        let a = &ack.body;
        let h = &event.head.body;
        let checked = if a.receiver != peer.id
            || &a.origin != self.id()
            || a.operation != h.operation
            || a.seq != h.seq
        {
            Err(Rejection::WrongRecipient)
        } else {
            ack.verify(&peer.id).map(|_| ())
        };
        self.refuse_audited(checked, "operation_ack_rejected", &peer.id)
            .await?;
        self.store.op_acknowledged(ack).await
    }

    /// The receiving side of the push channel: a participant's signed event, re-checked (a known origin, its
    /// signature, its parts against the signed digests and against the agreements, the sovereignty rules, the order)
    /// and applied, buffered, or refused (audited). Answers a signed acknowledgement.
    pub async fn accept_op_event(
        &self,
        event: &OpEvent,
        now: DateTime<Utc>,
    ) -> Result<Signed<OpAck>> {
        let h = &event.head.body;
        let peers = self.store.peers().await?;
        let checked = if !peers.iter().any(|p| p.id == h.origin) {
            Err(Rejection::UnknownSender)
        } else {
            event.head.verify(&h.origin)
        };
        let digest = self
            .refuse_audited(checked, "operation_event_rejected", &h.origin)
            .await?;
        if let Err(e) = event.check_parts() {
            // A part changed on the way: invalid (422), not a rule of the operation.
            let _ = self.op_refused(h, &e.to_string()).await;
            return Err(e);
        }
        let _guard = self.ops.apply.lock().await;
        let snap = self.snapshot(h.operation).await?;
        if let Some(same) = snap.find(&h.origin, h.seq) {
            if same.digest != digest {
                return Err(self
                    .op_refused(h, "another event with this number is held")
                    .await);
            }
            let outcome = if same.applied.is_some() {
                AckOutcome::Duplicate
            } else {
                AckOutcome::Buffered
            };
            let next = snap.view().map_or(1, |v| v.next_seq(&h.origin));
            return self.op_ack(h, digest, outcome, next, now);
        }
        let had_buffered = !snap.buffered.is_empty();
        let view = snap.view();
        let outcome = match rules::check(view, h) {
            Verdict::Refuse(why) => return Err(self.op_refused(h, &why).await),
            Verdict::Duplicate => AckOutcome::Duplicate,
            Verdict::Wait(_) => {
                self.store.put_op_event(event, false).await?;
                AckOutcome::Buffered
            }
            Verdict::Apply => {
                if let Some(why) = self.receivable(view, event, now).await? {
                    return Err(self.op_refused(h, &why).await);
                }
                self.store.put_op_event(event, true).await?;
                AckOutcome::Applied
            }
        };
        let next = if had_buffered || outcome == AckOutcome::Buffered {
            self.drain_buffered(h.operation, now)
                .await?
                .map_or(1, |v| v.next_seq(&h.origin))
        } else {
            let now_held = self.snapshot(h.operation).await?;
            now_held.view().map_or(1, |v| v.next_seq(&h.origin))
        };
        self.op_ack(h, digest, outcome, next, now)
    }

    /// Why this node may not take `event` (with the operation as it stands before it), if it may not: an agreement
    /// of the operation binds its origin and us, and it carries no part the agreements keep from us. (Whom an event
    /// goes to is its origin's decision; an agency invited later gets the history from the creation on.)
    async fn receivable(
        &self,
        view: Option<&OperationView>,
        event: &OpEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let h = &event.head.body;
        let of_operation = match (&h.change, view) {
            (Change::Create { agreements, .. }, _) => agreements,
            (_, Some(v)) => &v.agreements,
            (_, None) => return Ok(Some("no such operation".into())),
        };
        let agreements = self.store.agreements().await?;
        let bound = agreements.iter().any(|a| {
            of_operation.contains(&a.id)
                && a.is_active(now)
                && a.parties.contains(&h.origin)
                && a.parties.contains(self.id())
        });
        if !bound {
            return Ok(Some(
                "no active agreement of the operation binds its origin and this agency".into(),
            ));
        }
        let beyond = view
            .map(|v| rules::parts_beyond(&agreements, v, event, self.id(), now))
            .unwrap_or_default();
        if !beyond.is_empty() {
            return Ok(Some(format!(
                "fields not allowed by the agreements: {beyond:?}"
            )));
        }
        Ok(None)
    }

    /// Applies every buffered event of `operation` that can be applied now (refusing those a rule refuses), until
    /// none moves; returns the operation as it then stands. The caller holds the apply lock.
    async fn drain_buffered(
        &self,
        operation: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<OperationView>> {
        loop {
            let snap = self.snapshot(operation).await?;
            let mut view = Option::clone(&snap.view);
            let mut moved = false;
            for b in &snap.buffered {
                let h = &b.event.head.body;
                match rules::check(view.as_ref(), h) {
                    Verdict::Apply => {
                        match self.receivable(view.as_ref(), &b.event, now).await? {
                            Some(why) => {
                                self.store
                                    .refuse_op_event(operation, &h.origin, h.seq, &why)
                                    .await?;
                            }
                            None => {
                                self.store
                                    .apply_op_event(operation, &h.origin, h.seq)
                                    .await?;
                                rules::apply(&mut view, &b.event);
                            }
                        }
                        moved = true;
                    }
                    Verdict::Refuse(why) => {
                        self.store
                            .refuse_op_event(operation, &h.origin, h.seq, &why)
                            .await?;
                        moved = true;
                    }
                    Verdict::Duplicate | Verdict::Wait(_) => {}
                }
            }
            if !moved {
                return Ok(view);
            }
        }
    }

    /// Audits a refused event and returns the error to answer with.
    async fn op_refused(&self, h: &EventHead, why: &str) -> Error {
        let detail = format!(
            "event {}/{} {} refused: {why}",
            h.origin.short(),
            h.seq,
            h.change.name()
        );
        if let Err(e) = self
            .store
            .audit(
                "operation_event_rejected",
                Some(&h.origin),
                Some(h.operation),
                &detail,
            )
            .await
        {
            return e;
        }
        Error::Denied(why.to_string())
    }

    fn op_ack(
        &self,
        h: &EventHead,
        digest: jikimi_exchange::identifiers::Sha256Hex,
        outcome: AckOutcome,
        next_expected: u64,
        now: DateTime<Utc>,
    ) -> Result<Signed<OpAck>> {
        self.sign(OpAck {
            protocol: PROTOCOL.to_string(),
            receiver: self.id().clone(),
            operation: h.operation,
            origin: h.origin.clone(),
            seq: h.seq,
            digest,
            outcome,
            next_expected,
            at: now,
        })
    }

    /// The operation's full history as a bundle for court, signed by this agency: every event held (with the
    /// signatures of their origins), except those whose handling code forbids court use, listed as refused. The
    /// export is audited, naming what was refused.
    pub async fn operation_export(
        &self,
        operation: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Signed<CourtBundle>> {
        let held = self.operation(operation).await?;
        let applied: Vec<OpEvent> = held
            .events
            .into_iter()
            .filter(|h| h.applied.is_some())
            .map(|h| h.event)
            .collect();
        let (events, refused) = rules::court_items(&applied, self.id());
        self.store
            .audit(
                "operation_court_export",
                None,
                Some(operation),
                &format!(
                    "{} events exported, {} refused by handling code: {}",
                    events.len(),
                    refused.len(),
                    refused
                        .iter()
                        .map(|r| format!("{}/{}", r.origin.short(), r.seq))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .await?;
        self.sign(CourtBundle {
            protocol: PROTOCOL.to_string(),
            operation,
            exporter: self.id().clone(),
            exported_at: now,
            events,
            refused,
        })
    }
}

/// The operation made by the applied events among `held` (in the order applied).
pub fn fold_applied(held: &[HeldEvent]) -> Option<OperationView> {
    rules::fold(
        held.iter()
            .filter(|h| h.applied.is_some())
            .map(|h| &h.event),
    )
}
