//! The receiving side of the push channel: a participant's events, one ([`Node::accept_op_event`]) or a signed batch
//! ([`Node::accept_op_batch`]), each re-checked on its own (a known origin and its signature, its parts against the
//! signed digests and against the agreements, the sovereignty rules, the order) and applied, buffered or refused.
//!
//! # One transaction per batch
//! The checks run in memory under the node's apply lock, on the operation as held (read once per batch) and as the
//! batch's earlier events change it; early events are buffered and applied as soon as they can be, as before. What
//! was decided is then written in one store transaction ([`OpStep`]s), every step audited as its single counterpart
//! (received, buffered, applied, refused, rejected), so 100 events cost one commit, not 100.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use jikimi_exchange::domain::{Agency, AgencyId, Agreement};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::operation::rules::{self, OperationView, Verdict};
use jikimi_exchange::operation::{
    AckOutcome, Change, EventHead, MAX_BATCH_EVENTS, OpAck, OpBatch, OpBatchAck, OpEvent, OpResult,
};
use jikimi_exchange::protocol::{PROTOCOL, Rejection, Signed};
use jikimi_exchange::store::OpStep;
use jikimi_exchange::{Error, Result};

use crate::node::Node;

/// Why one received event was refused (audited in the same transaction).
enum Refusal {
    /// Unknown origin or bad signature: answered as a rejected message.
    Rejected(Rejection),
    /// A part does not match the signed head: invalid, not a rule of the operation.
    Invalid(Error),
    /// A rule, an agreement, another event under its number, or sent by another agency than its origin.
    Denied(String),
}

/// The fate of one received event.
struct Received {
    digest: Option<Sha256Hex>,
    outcome: std::result::Result<AckOutcome, Refusal>,
}

/// A buffered event while a batch is decided: held already, or put by this batch.
struct Waiting {
    event: OpEvent,
    done: bool,
}

/// The audit detail of a refused event.
fn refused_detail(h: &EventHead, why: &str) -> String {
    format!(
        "event {}/{} {} refused: {why}",
        h.origin.short(),
        h.seq,
        h.change.name()
    )
}

impl Node {
    /// A participant's signed event, on its own: applied, buffered or refused (audited; the refusal is the error).
    /// Answers a signed acknowledgement.
    pub async fn accept_op_event(
        &self,
        event: &OpEvent,
        now: DateTime<Utc>,
    ) -> Result<Signed<OpAck>> {
        let peers = self.store.peers().await?;
        let (mut received, next) = self
            .receive(std::slice::from_ref(event), None, &peers, now)
            .await?;
        let r = received
            .pop()
            .ok_or_else(|| Error::invalid("operation event", "none received"))?;
        let h = &event.head.body;
        let outcome = match r.outcome {
            Ok(o) => o,
            Err(Refusal::Rejected(rejection)) => return Err(Error::Rejected(rejection)),
            Err(Refusal::Invalid(e)) => return Err(e),
            Err(Refusal::Denied(why)) => return Err(Error::Denied(why)),
        };
        let digest = r
            .digest
            .ok_or_else(|| Error::invalid("operation event", "no digest"))?;
        let next_expected = next
            .get(&(h.operation, h.origin.clone()))
            .copied()
            .unwrap_or(1);
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

    /// A participant's signed batch of its own events: the batch is refused whole (audited) when its sender is
    /// unknown, its signature does not check, it is meant for another node, out of the clock window or longer than
    /// [`MAX_BATCH_EVENTS`]; otherwise each event is checked as [`Node::accept_op_event`] checks one (an event of
    /// another origin is refused: only an event's origin sends it) and the batch is stored in one transaction.
    /// Answers a signed acknowledgement with each event's outcome and the next number expected per operation.
    pub async fn accept_op_batch(
        &self,
        batch: &Signed<OpBatch>,
        now: DateTime<Utc>,
    ) -> Result<Signed<OpBatchAck>> {
        let b = &batch.body;
        let (peers, checked) = self
            .check_signed(&b.sender, &b.recipient, b.at, now, || {
                batch.verify(&b.sender)
            })
            .await?;
        let checked = checked.and_then(|d| {
            if b.protocol == PROTOCOL {
                Ok(d)
            } else {
                Err(Rejection::WrongProtocol)
            }
        });
        let digest = self
            .refuse_audited(checked, "operation_batch_rejected", &b.sender)
            .await?;
        if b.events.len() > MAX_BATCH_EVENTS {
            return Err(Error::invalid(
                "batch",
                format!("at most {MAX_BATCH_EVENTS} events"),
            ));
        }
        let (received, next) = self
            .receive(&b.events, Some(&b.sender), &peers, now)
            .await?;
        let results = b
            .events
            .iter()
            .zip(received)
            .map(|(e, r)| {
                let (outcome, reason) = match r.outcome {
                    Ok(o) => (o, None),
                    Err(Refusal::Rejected(rejection)) => {
                        (AckOutcome::Refused, Some(rejection.to_string()))
                    }
                    Err(Refusal::Invalid(e)) => (AckOutcome::Refused, Some(e.to_string())),
                    Err(Refusal::Denied(why)) => (AckOutcome::Refused, Some(why)),
                };
                OpResult {
                    operation: e.head.body.operation,
                    seq: e.head.body.seq,
                    outcome,
                    reason,
                }
            })
            .collect();
        let next_expected = next
            .into_iter()
            .filter(|((_, origin), _)| *origin == b.sender)
            .map(|((op, _), n)| (op, n))
            .collect();
        self.sign(OpBatchAck {
            protocol: PROTOCOL.to_string(),
            receiver: self.id().clone(),
            sender: b.sender.clone(),
            batch: digest,
            results,
            next_expected,
            at: now,
        })
    }

    /// Decides every event of `events` (sent by `sender`, when known) and stores the decisions in one transaction;
    /// returns each event's fate, in order, and the next number expected of each (operation, origin) seen.
    async fn receive(
        &self,
        events: &[OpEvent],
        sender: Option<&AgencyId>,
        peers: &[Agency],
        now: DateTime<Utc>,
    ) -> Result<(Vec<Received>, BTreeMap<(Uuid, AgencyId), u64>)> {
        let mut steps = Vec::new();
        let mut out: Vec<Received> = Vec::with_capacity(events.len());
        let rejected = |steps: &mut Vec<OpStep>, h: &EventHead, detail: String| {
            steps.push(OpStep::Rejected {
                operation: h.operation,
                origin: h.origin.clone(),
                detail,
            });
        };
        // Signatures and parts first: they need no lock and no read of the operation.
        for event in events {
            let h = &event.head.body;
            let checked = if sender.is_some_and(|s| *s != h.origin) {
                Err(Refusal::Denied(
                    "sent by another agency than its origin".into(),
                ))
            } else if !peers.iter().any(|p| p.id == h.origin) {
                Err(Refusal::Rejected(Rejection::UnknownSender))
            } else {
                event.head.verify(&h.origin).map_err(Refusal::Rejected)
            };
            let received = match checked {
                Err(refusal) => {
                    let why = match &refusal {
                        Refusal::Rejected(r) => r.to_string(),
                        Refusal::Denied(why) => why.clone(),
                        Refusal::Invalid(e) => e.to_string(),
                    };
                    rejected(&mut steps, h, refused_detail(h, &why));
                    Received {
                        digest: None,
                        outcome: Err(refusal),
                    }
                }
                Ok(digest) => match event.check_parts() {
                    Err(e) => {
                        rejected(&mut steps, h, refused_detail(h, &e.to_string()));
                        Received {
                            digest: Some(digest),
                            outcome: Err(Refusal::Invalid(e)),
                        }
                    }
                    // Decided below, under the lock.
                    Ok(()) => Received {
                        digest: Some(digest),
                        outcome: Ok(AckOutcome::Duplicate),
                    },
                },
            };
            out.push(received);
        }
        let mut operations: Vec<Uuid> = Vec::new();
        for (e, r) in events.iter().zip(&out) {
            let op = e.head.body.operation;
            if r.outcome.is_ok() && !operations.contains(&op) {
                operations.push(op);
            }
        }
        let mut next = BTreeMap::new();
        let _guard = self.ops.apply.lock().await;
        let agreements = if operations.is_empty() {
            Vec::new()
        } else {
            self.store.agreements().await?
        };
        for op in operations {
            let snap = self.snapshot(op).await?;
            let mut view = Option::clone(&snap.view);
            let mut waiting: Vec<Waiting> = snap
                .buffered
                .iter()
                .map(|b| Waiting {
                    event: b.event.clone(),
                    done: false,
                })
                .collect();
            // What this batch put, by (origin, seq): its digest.
            let mut put: HashMap<(AgencyId, u64), Sha256Hex> = HashMap::new();
            for (i, event) in events.iter().enumerate() {
                let h = &event.head.body;
                if h.operation != op || out[i].outcome.is_err() {
                    continue;
                }
                let Some(digest) = out[i].digest.clone() else {
                    continue;
                };
                let held = put.get(&(h.origin.clone(), h.seq)).cloned().or_else(|| {
                    snap.buffered
                        .iter()
                        .chain(snap.applied_of(&h.origin, h.seq))
                        .find(|b| {
                            b.event.head.body.origin == h.origin && b.event.head.body.seq == h.seq
                        })
                        .map(|b| b.digest.clone())
                });
                if let Some(same) = held {
                    out[i].outcome = if same != digest {
                        let why = "another event with this number is held";
                        rejected(&mut steps, h, refused_detail(h, why));
                        Err(Refusal::Denied(why.into()))
                    } else if view.as_ref().is_some_and(|v| h.seq < v.next_seq(&h.origin)) {
                        Ok(AckOutcome::Duplicate)
                    } else {
                        Ok(AckOutcome::Buffered)
                    };
                    continue;
                }
                out[i].outcome = match rules::check(view.as_ref(), h) {
                    Verdict::Refuse(why) => {
                        rejected(&mut steps, h, refused_detail(h, &why));
                        Err(Refusal::Denied(why))
                    }
                    Verdict::Duplicate => Ok(AckOutcome::Duplicate),
                    Verdict::Wait(_) => {
                        steps.push(OpStep::Put {
                            event: event.clone(),
                            applied: false,
                        });
                        put.insert((h.origin.clone(), h.seq), digest);
                        waiting.push(Waiting {
                            event: event.clone(),
                            done: false,
                        });
                        Ok(AckOutcome::Buffered)
                    }
                    Verdict::Apply => {
                        match self.receivable(view.as_ref(), event, &agreements, now) {
                            Some(why) => {
                                rejected(&mut steps, h, refused_detail(h, &why));
                                Err(Refusal::Denied(why))
                            }
                            None => {
                                steps.push(OpStep::Put {
                                    event: event.clone(),
                                    applied: true,
                                });
                                put.insert((h.origin.clone(), h.seq), digest);
                                rules::apply(&mut view, event);
                                Ok(AckOutcome::Applied)
                            }
                        }
                    }
                };
            }
            self.drain(&mut view, &mut waiting, &agreements, &mut steps, now);
            for event in events {
                let h = &event.head.body;
                if h.operation == op {
                    let n = view.as_ref().map_or(1, |v| v.next_seq(&h.origin));
                    next.insert((op, h.origin.clone()), n);
                }
            }
        }
        self.store.op_steps(&steps).await?;
        Ok((out, next))
    }

    /// Applies every waiting event that can be applied now (refusing those a rule refuses), until none moves.
    fn drain(
        &self,
        view: &mut Option<OperationView>,
        waiting: &mut [Waiting],
        agreements: &[Agreement],
        steps: &mut Vec<OpStep>,
        now: DateTime<Utc>,
    ) {
        loop {
            let mut moved = false;
            for w in waiting.iter_mut().filter(|w| !w.done) {
                let h = &w.event.head.body;
                let refuse = |why: String| OpStep::Refuse {
                    operation: h.operation,
                    origin: h.origin.clone(),
                    seq: h.seq,
                    reason: why,
                };
                match rules::check(view.as_ref(), h) {
                    Verdict::Apply => {
                        match self.receivable(view.as_ref(), &w.event, agreements, now) {
                            Some(why) => steps.push(refuse(why)),
                            None => {
                                steps.push(OpStep::Apply {
                                    operation: h.operation,
                                    origin: h.origin.clone(),
                                    seq: h.seq,
                                });
                                rules::apply(view, &w.event);
                            }
                        }
                        w.done = true;
                        moved = true;
                    }
                    Verdict::Refuse(why) => {
                        steps.push(refuse(why));
                        w.done = true;
                        moved = true;
                    }
                    Verdict::Duplicate | Verdict::Wait(_) => {}
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Why this node may not take `event` (with the operation as it stands before it), if it may not: an agreement
    /// of the operation binds its origin and us, and it carries no part the agreements keep from us. (Whom an event
    /// goes to is its origin's decision; an agency invited later gets the history from the creation on.)
    fn receivable(
        &self,
        view: Option<&OperationView>,
        event: &OpEvent,
        agreements: &[Agreement],
        now: DateTime<Utc>,
    ) -> Option<String> {
        let h = &event.head.body;
        let of_operation = match (&h.change, view) {
            (Change::Create { agreements, .. }, _) => agreements,
            (_, Some(v)) => &v.agreements,
            (_, None) => return Some("no such operation".into()),
        };
        let bound = agreements.iter().any(|a| {
            of_operation.contains(&a.id)
                && a.is_active(now)
                && a.parties.contains(&h.origin)
                && a.parties.contains(self.id())
        });
        if !bound {
            return Some(
                "no active agreement of the operation binds its origin and this agency".into(),
            );
        }
        let beyond = view
            .map(|v| rules::parts_beyond(agreements, v, event, self.id(), now))
            .unwrap_or_default();
        if !beyond.is_empty() {
            return Some(format!("fields not allowed by the agreements: {beyond:?}"));
        }
        None
    }
}
