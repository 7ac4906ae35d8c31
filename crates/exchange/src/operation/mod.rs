//! Joint operations, pure: several agencies run one operation together, each within its own law. No I/O and no
//! clock (times are arguments); the node, its push channel and the store are elsewhere.
//!
//! # The model
//! An operation is the fold of signed events ([`OpEvent`]). Every agency numbers the events it issues for one
//! operation from 1 (`seq`, per origin), so a receiver applies each origin's events in order, buffers what comes
//! early and recognises a replay by (operation, origin, seq) and digest: idempotent without nonces.
//!
//! An event is a signed head ([`EventHead`]) and its parts. The head carries the operation's structure (who takes
//! part in which role, which task of which kind in whose jurisdiction by when, consents, statuses, withdrawals)
//! and goes to every participant; each part is one field class (a target's entity, a task's description, a log
//! entry's text) and travels only to participants an agreement allows it to (`rules::allowed_parts`). The head
//! signs each part's digest, salted so that a receiver without the part cannot guess it from the digest; a part
//! left out on the way leaves the signature valid, and a part that is present must match.
//!
//! # Sovereignty (`rules`)
//! Enforced by the sender and re-checked by every receiver: an agency changes only its own tasks and entries; a task
//! in another agency's jurisdiction is active only after that agency's explicit consent event; only the lead invites
//! and sets the day of action; observers read; an agency that left sends and receives nothing new, but may still
//! withdraw what it shared (a withdrawal erases the parts of its own earlier event everywhere).
//!
//! # Court
//! [`rules::court_items`] picks the events a court bundle may hold: everything of ours, and of other agencies only
//! what their handling code allows in court (H0); the others are listed as refused, without their content.

pub mod batch;
pub mod rules;

pub use batch::{MAX_BATCH_BYTES, MAX_BATCH_EVENTS, OpBatch, OpBatchAck, OpResult};

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{AgencyId, Entity, FieldClass};
use crate::error::{Error, Result};
use crate::identifiers::Sha256Hex;
use crate::marking::Marking;
use crate::protocol::{Signed, canonical};

/// Longest free text (title, description, log entry, reason) an event carries.
pub const MAX_TEXT: usize = 4_000;
/// Most participants one operation has.
pub const MAX_PARTICIPANTS: usize = 64;

/// A participant's role in the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Leads: invites agencies and sets the day of action.
    Lead,
    /// Takes part: adds targets, tasks and log entries of its own.
    Participant,
    /// Reads only.
    Observer,
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "lead" => Ok(Role::Lead),
            "participant" => Ok(Role::Participant),
            "observer" => Ok(Role::Observer),
            _ => Err(Error::invalid(
                "role",
                "expected lead, participant or observer",
            )),
        }
    }
}

/// An agency in the operation, with the legal basis it cites for taking part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub agency: AgencyId,
    pub role: Role,
    /// For the lead and for an agency that joined, the basis it stated itself; for an invitation, the basis the
    /// lead proposes (the invitee states its own when it joins).
    pub legal_basis: String,
}

/// What a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Surveillance,
    Search,
    Arrest,
    Rescue,
    FreezeRequest,
}

impl std::str::FromStr for TaskKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.replace('-', "_").to_ascii_lowercase().as_str() {
            "surveillance" => Ok(TaskKind::Surveillance),
            "search" => Ok(TaskKind::Search),
            "arrest" => Ok(TaskKind::Arrest),
            "rescue" => Ok(TaskKind::Rescue),
            "freeze_request" => Ok(TaskKind::FreezeRequest),
            _ => Err(Error::invalid(
                "task kind",
                "expected surveillance, search, arrest, rescue or freeze_request",
            )),
        }
    }
}

/// Where a task stands, as its owner states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Planned,
    InProgress,
    Done,
    Cancelled,
}

impl std::str::FromStr for TaskStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.replace('-', "_").to_ascii_lowercase().as_str() {
            "planned" => Ok(TaskStatus::Planned),
            "in_progress" => Ok(TaskStatus::InProgress),
            "done" => Ok(TaskStatus::Done),
            "cancelled" => Ok(TaskStatus::Cancelled),
            _ => Err(Error::invalid(
                "task status",
                "expected planned, in_progress, done or cancelled",
            )),
        }
    }
}

/// What one event changes: the operation's structure (its content is in the parts). Flattened into the head, so no
/// field of a change may share a name with one of the head's (`seq`, `at`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The lead (the origin) opens the operation under `agreements` and invites `participants`.
    Create {
        title: String,
        agreements: BTreeSet<Uuid>,
        participants: Vec<Participant>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        day_of_action: Option<DateTime<Utc>>,
    },
    /// The lead invites another agency.
    Invite { participant: Participant },
    /// An invited agency takes part, citing its own legal basis.
    Join { legal_basis: String },
    /// An agency leaves: it sends and receives nothing new (what it shared stays withdrawable).
    Leave { reason: String },
    /// The lead sets (or clears) the coordinated day of action.
    DayOfAction {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        day: Option<DateTime<Utc>>,
    },
    /// A target: a reference to a shared entity (the entity itself is the part of its field class).
    Target {
        target: Uuid,
        /// The entity's type (`person`, `phone`, `iban`, ...), structural.
        kind: String,
        /// The shared case it comes from, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_case: Option<Uuid>,
    },
    /// A task owned by the origin, carried out in `jurisdiction`'s territory (its description is the summary part).
    Task {
        task: Uuid,
        kind: TaskKind,
        jurisdiction: AgencyId,
        deadline: DateTime<Utc>,
    },
    /// The owner states where its task stands.
    TaskStatus { task: Uuid, status: TaskStatus },
    /// The agency in whose jurisdiction a task lies accepts or refuses it.
    Consent {
        task: Uuid,
        accept: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// A situation log entry (its text is the event part).
    Log { entry: Uuid },
    /// The origin withdraws one of its earlier events (by number): its parts are erased everywhere.
    Withdraw { event: u64 },
}

impl Change {
    /// The change's name, as audit entries and the console show it.
    pub fn name(&self) -> &'static str {
        match self {
            Change::Create { .. } => "create",
            Change::Invite { .. } => "invite",
            Change::Join { .. } => "join",
            Change::Leave { .. } => "leave",
            Change::DayOfAction { .. } => "day_of_action",
            Change::Target { .. } => "target",
            Change::Task { .. } => "task",
            Change::TaskStatus { .. } => "task_status",
            Change::Consent { .. } => "consent",
            Change::Log { .. } => "log",
            Change::Withdraw { .. } => "withdraw",
        }
    }
}

/// One part of an event: a value of one field class, salted so that its digest in the head tells nothing about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// 32 hex digits from the issuer's random generator.
    pub salt: String,
    pub value: serde_json::Value,
}

impl Part {
    /// A part holding `value`, salted with `salt` (the caller's random bytes: this crate has no generator).
    pub fn new(value: serde_json::Value, salt: Uuid) -> Part {
        Part {
            salt: salt.simple().to_string(),
            value,
        }
    }
    /// SHA-256 of the part's canonical encoding: what the head signs.
    pub fn digest(&self) -> Result<Sha256Hex> {
        Ok(Sha256Hex::of(&canonical(self)?))
    }
}

/// The signed head of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventHead {
    pub protocol: String,
    pub operation: Uuid,
    /// The issuing agency: it alone signs, and numbers its events of this operation from 1.
    pub origin: AgencyId,
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The marks of the event's content (handling codes decide court use).
    pub marking: Marking,
    #[serde(flatten)]
    pub change: Change,
    /// The digest of each part, by field class.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parts: BTreeMap<FieldClass, Sha256Hex>,
}

/// An event as held and sent: the signed head and the parts this holder may have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpEvent {
    pub head: Signed<EventHead>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parts: BTreeMap<FieldClass, Part>,
}

impl OpEvent {
    /// Signs a new event: the head names the digest of every part.
    pub fn issue(
        mut head: EventHead,
        parts: BTreeMap<FieldClass, Part>,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<OpEvent> {
        head.parts = parts
            .iter()
            .map(|(class, part)| Ok((*class, part.digest()?)))
            .collect::<Result<_>>()?;
        Ok(OpEvent {
            head: Signed::sign(head, key)?,
            parts,
        })
    }
    /// Every part held matches the digest the head signs (a part may be missing: redacted on the way).
    pub fn check_parts(&self) -> Result<()> {
        for (class, part) in &self.parts {
            match self.head.body.parts.get(class) {
                Some(d) if *d == part.digest()? => {}
                _ => {
                    return Err(Error::invalid(
                        "operation event",
                        format!("part {class:?} does not match the signed head"),
                    ));
                }
            }
        }
        Ok(())
    }
    /// This event with only the parts of the classes in `allowed`.
    pub fn redacted(&self, allowed: &BTreeSet<FieldClass>) -> OpEvent {
        OpEvent {
            head: self.head.clone(),
            parts: self
                .parts
                .iter()
                .filter(|(c, _)| allowed.contains(c))
                .map(|(c, p)| (*c, p.clone()))
                .collect(),
        }
    }
    /// Which operation, origin and number.
    pub fn key(&self) -> (Uuid, &AgencyId, u64) {
        let h = &self.head.body;
        (h.operation, &h.origin, h.seq)
    }
}

/// The receiver's signed answer to a pushed event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpAck {
    pub protocol: String,
    pub receiver: AgencyId,
    pub operation: Uuid,
    pub origin: AgencyId,
    pub seq: u64,
    /// The head's digest, as the receiver computed it.
    pub digest: Sha256Hex,
    pub outcome: AckOutcome,
    /// The next number of this origin the receiver expects (its events before that are applied there).
    pub next_expected: u64,
    pub at: DateTime<Utc>,
}

/// What the receiver did with a pushed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckOutcome {
    /// Checked and applied.
    Applied,
    /// Already held: nothing changed.
    Duplicate,
    /// Held, waiting for an earlier event (of this origin, or the one it refers to).
    Buffered,
    /// Refused (audited): a signature, a part, an agreement or a sovereignty rule. Only in a batch's results; a
    /// single event is refused with an error.
    Refused,
}

/// A court bundle of one operation, signed by the exporting agency: the events it may put before a court (each
/// still signed by its origin) and those it had to leave out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourtBundle {
    pub protocol: String,
    pub operation: Uuid,
    pub exporter: AgencyId,
    pub exported_at: DateTime<Utc>,
    pub events: Vec<OpEvent>,
    pub refused: Vec<RefusedItem>,
}

/// An event left out of a court bundle: which, and why (no content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedItem {
    pub origin: AgencyId,
    pub seq: u64,
    pub digest: Sha256Hex,
    pub reason: String,
}

/// A part from an entity: its field class and its value.
pub fn entity_part(entity: &Entity, salt: Uuid) -> Result<(FieldClass, Part)> {
    let value = serde_json::to_value(entity).map_err(Error::Encoding)?;
    Ok((entity.field_class(), Part::new(value, salt)))
}

/// Checks a free text's length (1 to [`MAX_TEXT`] characters).
pub fn check_text(what: &'static str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
        return Err(Error::invalid(what, "1 to 4,000 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
