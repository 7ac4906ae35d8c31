//! Joint operations on the node: issuing this agency's changes (checked by the same sovereignty rules every receiver
//! runs, signed, kept and audited), the push channel that carries each change to every participant allowed to see
//! it, and the receiving side that re-checks signature, agreement, rules and order before it applies anything.
//!
//! # Push and catch-up (`push`)
//! Only an event's origin sends it: to each participant, in its own numbering order, redacted to the parts an
//! agreement lets that participant have. One pusher per participant sends everything that participant has not
//! acknowledged as one batch signed by this agency (bounded in events and bytes) to
//! `/federation/v1/operations/batches`; wake-ups while a batch is on its way, or within the pause after it, are
//! coalesced, so 100 changes a second become a few requests. The receiver answers one signed acknowledgement naming
//! each event's outcome and the next number it expects per operation; the origin keeps it (audited) and moves that
//! participant's delivery marks. A push that fails leaves the marks where they were; the pusher retries with
//! back-off and the periodic sync with that peer ([`Node::sync_peer`]) pushes again from the marks, page after page,
//! so after a partition a participant gets everything it missed, in order, and nothing twice (events are
//! idempotent by (operation, origin, seq) and digest).
//!
//! # Order on the receiving side (`accept`)
//! An event is applied when it is the next of its origin and what it refers to is held (the creation, an invitation,
//! a task); otherwise it is kept buffered and applied as soon as it can be. One lock per node serialises
//! check-then-store, so two pushes cannot both take the same place; a batch is decided in memory and stored in one
//! transaction. A single event (`/federation/v1/operations/events`) is checked the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use jikimi_exchange::domain::{AgencyId, FieldClass};
use jikimi_exchange::marking::Marking;
use jikimi_exchange::operation::rules::{self, OperationView, Verdict};
use jikimi_exchange::operation::{
    Change, CourtBundle, EventHead, OpEvent, Part, Participant, Role,
};
use jikimi_exchange::protocol::{PROTOCOL, Signed};
use jikimi_exchange::store::{HeldEvent, OpStep};
use jikimi_exchange::{Error, Result};

use crate::node::Node;

mod accept;
mod push;

pub use push::Delivered;

/// The node's operation state: a lock for check-then-store, one per peer so pushes to it go one at a time, in
/// order, the applied events of each operation read so far (only what was applied since is read again), and the
/// pushers.
#[derive(Default)]
pub(crate) struct OpLocks {
    apply: tokio::sync::Mutex<()>,
    peers: std::sync::Mutex<HashMap<AgencyId, Arc<tokio::sync::Mutex<()>>>>,
    cache: tokio::sync::Mutex<HashMap<Uuid, OpCache>>,
    /// Each peer's pusher, by the wake-up it waits on.
    pushers: std::sync::Mutex<HashMap<AgencyId, Arc<tokio::sync::Notify>>>,
    /// Delivery progress, for whoever watches it (benchmarks, metrics).
    delivered: push::Feed,
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

    /// The applied event `seq` of `origin`, if held (searched from the newest: a replay is usually recent, and
    /// only when the view says it is applied).
    fn applied_of(&self, origin: &AgencyId, seq: u64) -> Option<&HeldEvent> {
        if self.view().is_none_or(|v| seq >= v.next_seq(origin)) {
            return None;
        }
        self.applied
            .iter()
            .rev()
            .map(Arc::as_ref)
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
        self.operation_change_at(id, NewChange::plain(change), now, None)
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
        self.operation_change_at(operation, new, now, None).await
    }

    /// [`Node::operation_change`] made by `actor` (`staff:<name>`): the `operation_changed` audit entry naming it is
    /// written in the transaction that keeps the event, so a change costs one commit.
    pub async fn operation_change_as(
        &self,
        operation: Uuid,
        new: NewChange,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<OpEvent> {
        if matches!(new.change, Change::Create { .. }) {
            return Err(Error::invalid("change", "create opens a new operation"));
        }
        self.operation_change_at(operation, new, now, Some(actor))
            .await
    }

    async fn operation_change_at(
        &self,
        operation: Uuid,
        new: NewChange,
        now: DateTime<Utc>,
        actor: Option<&str>,
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
        match actor {
            None => {
                self.store.put_op_event(&event, true).await?;
            }
            Some(actor) => {
                let h = &event.head.body;
                let note = OpStep::Note {
                    operation,
                    action: "operation_changed".into(),
                    detail: format!("{actor} issued #{} {}", h.seq, h.change.name()),
                };
                self.store
                    .op_steps(&[
                        OpStep::Put {
                            event: event.clone(),
                            applied: true,
                        },
                        note,
                    ])
                    .await?;
            }
        }
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
