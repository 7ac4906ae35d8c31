//! The operation's rules, pure: the fold of applied events into an [`OperationView`], the sovereignty check of the
//! next event ([`check`]), who receives an event and which of its parts ([`recipients`], [`allowed_parts`]), and
//! which events a court bundle may hold ([`court_items`]). The sender runs the same check before it signs as every
//! receiver runs before it applies, so a refused change is refused everywhere.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Change, EventHead, MAX_PARTICIPANTS, MAX_TEXT, OpEvent, Participant, RefusedItem, Role,
    TaskKind, TaskStatus,
};
use crate::domain::{AgencyId, Agreement, FieldClass};
use crate::protocol::PROTOCOL;

/// A participant as the operation stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub participant: Participant,
    /// Took part (the lead from the start; others by their join event).
    pub joined: bool,
    /// Left: for each origin, the last of its events applied before the leave. An origin delivers to a member that
    /// left only its events up to that number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_after: Option<BTreeMap<AgencyId, u64>>,
}

impl Member {
    /// Invited or joined, and not left.
    pub fn active(&self) -> bool {
        self.left_after.is_none()
    }
}

/// Whether a task's jurisdiction agreed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "consent", rename_all = "snake_case")]
pub enum Consent {
    /// In the owner's own jurisdiction.
    NotNeeded,
    /// Waiting for the agency whose jurisdiction it is in: the task does not exist yet.
    Pending,
    Accepted,
    Refused {
        reason: String,
    },
}

/// A target as the operation holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetView {
    pub id: Uuid,
    pub kind: String,
    pub source_case: Option<Uuid>,
    pub origin: AgencyId,
    pub seq: u64,
    /// The entity, if this holder may have it (else only its kind is known here).
    pub entity: Option<serde_json::Value>,
}

/// A task as the operation holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: Uuid,
    pub owner: AgencyId,
    pub seq: u64,
    pub kind: TaskKind,
    pub jurisdiction: AgencyId,
    pub deadline: DateTime<Utc>,
    pub status: TaskStatus,
    #[serde(flatten)]
    pub consent: Consent,
    /// The description, if this holder may have it.
    pub description: Option<serde_json::Value>,
}

impl TaskView {
    /// The task exists: in its owner's jurisdiction, or accepted by the agency whose jurisdiction it is in.
    pub fn exists(&self) -> bool {
        matches!(self.consent, Consent::NotNeeded | Consent::Accepted)
    }
}

/// A situation log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogView {
    pub entry: Uuid,
    pub origin: AgencyId,
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The text, if this holder may have it.
    pub text: Option<serde_json::Value>,
}

/// The operation as the events applied so far make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationView {
    pub id: Uuid,
    pub title: String,
    pub lead: AgencyId,
    pub created_at: DateTime<Utc>,
    pub agreements: BTreeSet<Uuid>,
    pub participants: BTreeMap<AgencyId, Member>,
    pub day_of_action: Option<DateTime<Utc>>,
    pub targets: BTreeMap<Uuid, TargetView>,
    pub tasks: BTreeMap<Uuid, TaskView>,
    pub log: Vec<LogView>,
    /// The last applied number of each origin.
    pub heads: BTreeMap<AgencyId, u64>,
    /// Events whose content can still be withdrawn: (origin, seq) to what they added.
    #[serde(skip)]
    withdrawable: BTreeMap<(AgencyId, u64), Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Target(Uuid),
    Task(Uuid),
    Log(Uuid),
}

impl OperationView {
    /// The next number `origin` issues (or a receiver expects from it).
    pub fn next_seq(&self, origin: &AgencyId) -> u64 {
        self.heads.get(origin).copied().unwrap_or(0) + 1
    }
}

/// The receiver's (and the sender's) decision on the next event of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it now.
    Apply,
    /// Its number is applied already (the caller compares digests: same is a replay, different a conflict).
    Duplicate,
    /// Not yet: it needs an earlier event (named); keep it and try again after the next one applied.
    Wait(&'static str),
    /// Never: it breaks a rule (why, in words without personal data).
    Refuse(String),
}

fn refuse(why: &str) -> Verdict {
    Verdict::Refuse(why.to_string())
}

/// The field classes an event of `change` may carry.
pub fn part_classes(change: &Change) -> BTreeSet<FieldClass> {
    match change {
        Change::Target { .. } => FieldClass::ALL
            .into_iter()
            .filter(|c| {
                !matches!(
                    c,
                    FieldClass::Summary | FieldClass::Event | FieldClass::Attachment
                )
            })
            .collect(),
        Change::Task { .. } => BTreeSet::from([FieldClass::Summary]),
        Change::Log { .. } => BTreeSet::from([FieldClass::Event]),
        _ => BTreeSet::new(),
    }
}

fn text_ok(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= MAX_TEXT
}

/// Checks the next event `head` against the operation as it stands (`None`: not held here yet).
pub fn check(view: Option<&OperationView>, head: &EventHead) -> Verdict {
    if head.protocol != PROTOCOL {
        return refuse("unknown protocol");
    }
    let allowed = part_classes(&head.change);
    if head.parts.len() > 1 || head.parts.keys().any(|c| !allowed.contains(c)) {
        return refuse("the event carries parts its change does not have");
    }
    let Some(view) = view else {
        return match &head.change {
            Change::Create { .. } if head.seq == 1 => check_create(head),
            Change::Create { .. } => refuse("an operation is created by its lead's first event"),
            _ => Verdict::Wait("the operation's creation"),
        };
    };
    if head.operation != view.id {
        return refuse("another operation");
    }
    let next = view.next_seq(&head.origin);
    if head.seq < next {
        return Verdict::Duplicate;
    }
    if head.seq > next {
        return Verdict::Wait("an earlier event of this origin");
    }
    let Some(member) = view.participants.get(&head.origin) else {
        // An invitee's join can overtake the lead's invitation on its way here.
        return match head.change {
            Change::Join { .. } => Verdict::Wait("the invitation"),
            _ => refuse("the origin does not take part in this operation"),
        };
    };
    if let Change::Withdraw { event: seq } = &head.change {
        // Also after leaving: what an agency shared stays withdrawable.
        return if *seq < head.seq && view.withdrawable.contains_key(&(head.origin.clone(), *seq)) {
            Verdict::Apply
        } else {
            refuse("only the origin's own target, task or log entry can be withdrawn")
        };
    }
    if !member.active() {
        return refuse("the origin left this operation");
    }
    if !member.joined && !matches!(head.change, Change::Join { .. } | Change::Leave { .. }) {
        return refuse("an invited agency acts only after it joins");
    }
    let role = member.participant.role;
    let writes = !matches!(
        head.change,
        Change::Join { .. } | Change::Leave { .. } | Change::Consent { .. }
    );
    if role == Role::Observer && writes {
        return refuse("observers read only");
    }
    check_change(view, head, member)
}

fn check_create(head: &EventHead) -> Verdict {
    let Change::Create {
        title,
        agreements,
        participants,
        ..
    } = &head.change
    else {
        return refuse("not a creation");
    };
    if !text_ok(title) || agreements.is_empty() {
        return refuse("an operation needs a title and at least one agreement");
    }
    if participants.len() > MAX_PARTICIPANTS {
        return refuse("too many participants");
    }
    let leads: Vec<&Participant> = participants
        .iter()
        .filter(|p| p.role == Role::Lead)
        .collect();
    if leads.len() != 1 || leads[0].agency != head.origin {
        return refuse("the creator is the operation's one lead");
    }
    let distinct: BTreeSet<&AgencyId> = participants.iter().map(|p| &p.agency).collect();
    if distinct.len() != participants.len() || participants.len() < 2 {
        return refuse("an operation has at least two distinct participants");
    }
    if participants.iter().any(|p| !text_ok(&p.legal_basis)) {
        return refuse("every participant cites a legal basis");
    }
    Verdict::Apply
}

fn check_change(view: &OperationView, head: &EventHead, member: &Member) -> Verdict {
    let origin = &head.origin;
    let lead_only = |ok: bool| {
        if member.participant.role != Role::Lead {
            refuse("only the lead does this")
        } else if ok {
            Verdict::Apply
        } else {
            refuse("invalid")
        }
    };
    match &head.change {
        Change::Create { .. } => refuse("the operation exists"),
        Change::Invite { participant } => lead_only(
            participant.role != Role::Lead
                && text_ok(&participant.legal_basis)
                && view.participants.len() < MAX_PARTICIPANTS
                && view
                    .participants
                    .get(&participant.agency)
                    .is_none_or(|m| !m.active()),
        ),
        Change::DayOfAction { .. } => lead_only(true),
        Change::Join { legal_basis } => {
            if member.joined {
                refuse("already joined")
            } else if !text_ok(legal_basis) {
                refuse("a joining agency cites its legal basis")
            } else {
                Verdict::Apply
            }
        }
        Change::Leave { reason } => {
            if member.participant.role == Role::Lead {
                refuse("the lead does not leave its operation")
            } else if !text_ok(reason) {
                refuse("a reason is required")
            } else {
                Verdict::Apply
            }
        }
        Change::Target { target, kind, .. } => {
            if view.targets.contains_key(target) || kind.trim().is_empty() || kind.len() > 40 {
                refuse("a new target with its kind")
            } else {
                Verdict::Apply
            }
        }
        Change::Task {
            task,
            jurisdiction,
            deadline,
            ..
        } => {
            if view.tasks.contains_key(task) {
                refuse("the task exists")
            } else if view
                .participants
                .get(jurisdiction)
                .is_none_or(|m| !m.active())
            {
                refuse("a task's jurisdiction is a participating agency")
            } else if *deadline <= head.at {
                refuse("the deadline is in the past")
            } else {
                Verdict::Apply
            }
        }
        Change::TaskStatus { task, .. } => match view.tasks.get(task) {
            None => Verdict::Wait("the task"),
            Some(t) if &t.owner != origin => refuse("only the owning agency changes its task"),
            // The owner changes it only once the consent is applied at its node, and the consent can arrive here
            // after the change: wait for it.
            Some(t) if t.consent == Consent::Pending => Verdict::Wait("the task's consent"),
            Some(t) if !t.exists() => {
                refuse("the agency whose jurisdiction the task is in refused it")
            }
            Some(_) => Verdict::Apply,
        },
        Change::Consent {
            task,
            accept,
            reason,
        } => match view.tasks.get(task) {
            None => Verdict::Wait("the task"),
            Some(t) if &t.jurisdiction != origin => {
                refuse("only the agency whose jurisdiction the task is in consents to it")
            }
            Some(t) if t.consent != Consent::Pending => refuse("consent is given once"),
            Some(_) if !accept && !text_ok(reason) => refuse("a refusal states its reason"),
            Some(_) if reason.chars().count() > MAX_TEXT => refuse("the reason is too long"),
            Some(_) => Verdict::Apply,
        },
        Change::Log { entry } => {
            if view.log.iter().any(|l| l.entry == *entry) {
                refuse("the entry exists")
            } else {
                Verdict::Apply
            }
        }
        Change::Withdraw { .. } => refuse("checked before"),
    }
}

/// Applies an event [`check`] answered [`Verdict::Apply`] for.
pub fn apply(view: &mut Option<OperationView>, event: &OpEvent) {
    let head = &event.head.body;
    let part = || event.parts.values().next().map(|p| p.value.clone());
    let key = (head.origin.clone(), head.seq);
    if let Change::Create {
        title,
        agreements,
        participants,
        day_of_action,
    } = &head.change
    {
        *view = Some(OperationView {
            id: head.operation,
            title: title.clone(),
            lead: head.origin.clone(),
            created_at: head.at,
            agreements: agreements.clone(),
            participants: participants
                .iter()
                .map(|p| {
                    let member = Member {
                        participant: p.clone(),
                        joined: p.role == Role::Lead,
                        left_after: None,
                    };
                    (p.agency.clone(), member)
                })
                .collect(),
            day_of_action: *day_of_action,
            targets: BTreeMap::new(),
            tasks: BTreeMap::new(),
            log: Vec::new(),
            heads: BTreeMap::from([(head.origin.clone(), head.seq)]),
            withdrawable: BTreeMap::new(),
        });
        return;
    }
    let Some(v) = view.as_mut() else {
        return;
    };
    match &head.change {
        Change::Create { .. } => {}
        Change::Invite { participant } => {
            v.participants.insert(
                participant.agency.clone(),
                Member {
                    participant: participant.clone(),
                    joined: false,
                    left_after: None,
                },
            );
        }
        Change::Join { legal_basis } => {
            if let Some(m) = v.participants.get_mut(&head.origin) {
                m.joined = true;
                m.participant.legal_basis = legal_basis.clone();
            }
        }
        Change::Leave { .. } => {
            let heads = v.heads.clone();
            if let Some(m) = v.participants.get_mut(&head.origin) {
                m.left_after = Some(heads);
            }
        }
        Change::DayOfAction { day: at } => v.day_of_action = *at,
        Change::Target {
            target,
            kind,
            source_case,
        } => {
            v.targets.insert(
                *target,
                TargetView {
                    id: *target,
                    kind: kind.clone(),
                    source_case: *source_case,
                    origin: head.origin.clone(),
                    seq: head.seq,
                    entity: part(),
                },
            );
            v.withdrawable.insert(key.clone(), Item::Target(*target));
        }
        Change::Task {
            task,
            kind,
            jurisdiction,
            deadline,
        } => {
            let consent = if jurisdiction == &head.origin {
                Consent::NotNeeded
            } else {
                Consent::Pending
            };
            v.tasks.insert(
                *task,
                TaskView {
                    id: *task,
                    owner: head.origin.clone(),
                    seq: head.seq,
                    kind: *kind,
                    jurisdiction: jurisdiction.clone(),
                    deadline: *deadline,
                    status: TaskStatus::Planned,
                    consent,
                    description: part(),
                },
            );
            v.withdrawable.insert(key.clone(), Item::Task(*task));
        }
        Change::TaskStatus { task, status } => {
            if let Some(t) = v.tasks.get_mut(task) {
                t.status = *status;
            }
        }
        Change::Consent {
            task,
            accept,
            reason,
        } => {
            if let Some(t) = v.tasks.get_mut(task) {
                t.consent = if *accept {
                    Consent::Accepted
                } else {
                    Consent::Refused {
                        reason: reason.clone(),
                    }
                };
            }
        }
        Change::Log { entry } => {
            v.log.push(LogView {
                entry: *entry,
                origin: head.origin.clone(),
                seq: head.seq,
                at: head.at,
                text: part(),
            });
            v.withdrawable.insert(key.clone(), Item::Log(*entry));
        }
        Change::Withdraw { event: seq } => {
            match v.withdrawable.remove(&(head.origin.clone(), *seq)) {
                Some(Item::Target(id)) => {
                    v.targets.remove(&id);
                }
                Some(Item::Task(id)) => {
                    v.tasks.remove(&id);
                }
                Some(Item::Log(id)) => v.log.retain(|l| l.entry != id),
                None => {}
            }
        }
    }
    v.heads.insert(head.origin.clone(), head.seq);
}

/// The view after `events` (applied ones, in the order they were applied).
pub fn fold<'a>(events: impl IntoIterator<Item = &'a OpEvent>) -> Option<OperationView> {
    let mut view = None;
    for e in events {
        apply(&mut view, e);
    }
    view
}

/// The event a withdrawal erases the parts of: (origin, seq), when `head` is a withdrawal.
pub fn erases(head: &EventHead) -> Option<(AgencyId, u64)> {
    match head.change {
        Change::Withdraw { event: seq } => Some((head.origin.clone(), seq)),
        _ => None,
    }
}

/// Whom `origin`'s event number `seq` goes to: every other participant that has not left, and one that left if
/// the event came before its leave.
pub fn recipients(view: &OperationView, origin: &AgencyId, seq: u64) -> Vec<AgencyId> {
    view.participants
        .iter()
        .filter(|(id, _)| *id != origin)
        .filter(|(_, m)| {
            m.left_after
                .as_ref()
                .is_none_or(|h| seq <= h.get(origin).copied().unwrap_or(0))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// The field classes of `origin`'s events (marked `marking`) that `recipient` may have: those of every active
/// agreement the operation runs under that has both as parties and allows the marking's TLP.
pub fn allowed_parts(
    agreements: &[Agreement],
    view: &OperationView,
    origin: &AgencyId,
    recipient: &AgencyId,
    tlp: crate::marking::Tlp,
    now: DateTime<Utc>,
) -> BTreeSet<FieldClass> {
    agreements
        .iter()
        .filter(|a| {
            view.agreements.contains(&a.id)
                && a.is_active(now)
                && a.parties.contains(origin)
                && a.parties.contains(recipient)
                && tlp <= a.max_tlp
        })
        .flat_map(|a| a.fields.iter().copied())
        .collect()
}

/// The receiver's check of what it got: the classes of parts present that no agreement allows it (empty = fine).
pub fn parts_beyond(
    agreements: &[Agreement],
    view: &OperationView,
    event: &OpEvent,
    me: &AgencyId,
    now: DateTime<Utc>,
) -> BTreeSet<FieldClass> {
    let head = &event.head.body;
    let allowed = allowed_parts(agreements, view, &head.origin, me, head.marking.tlp, now);
    event
        .parts
        .keys()
        .filter(|c| !allowed.contains(c))
        .copied()
        .collect()
}

/// The events a court bundle of this node may hold, and those refused: ours all; another agency's only if its
/// handling code allows court use without asking (H0).
pub fn court_items(events: &[OpEvent], me: &AgencyId) -> (Vec<OpEvent>, Vec<RefusedItem>) {
    let mut included = Vec::new();
    let mut refused = Vec::new();
    for e in events {
        let head = &e.head.body;
        if &head.origin == me || head.marking.handling.allows_court() {
            included.push(e.clone());
        } else {
            refused.push(RefusedItem {
                origin: head.origin.clone(),
                seq: head.seq,
                digest: match e.head.digest() {
                    Ok(d) => d,
                    Err(_) => continue,
                },
                reason: format!(
                    "marked {:?}: not for court without the provider's permission",
                    head.marking.handling
                ),
            });
        }
    }
    (included, refused)
}
