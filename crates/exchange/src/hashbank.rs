//! Hash banks shared between agencies (issue 19, part 3), pure: offers, signed bank events, the delivery wrapper
//! and its acknowledgement, and the rules both ends run. No I/O and no clock (times are arguments); the node, its
//! push channel and the store are elsewhere.
//!
//! # The model
//! A bank's *origin* (the agency that keeps it) offers it, or one category of it, to a named partner under an
//! agreement ([`BankOffer`], signed by the offering agency). The partner holds it read-only, fed by the origin's
//! signed [`BankEvent`]s: content added (a PDQ hash or vPDQ frame list, with its labels: hashes and labels only,
//! never an image), disabled, enabled again, withdrawn. A partner may offer the bank on (re-share) only when the
//! agreement it received it under permits onward sharing; the events it forwards are still the origin's, signed by
//! the origin, so the next hop verifies them against the origin's key (an agency id is its public key) and a
//! withdrawal at the origin reaches every hop. A partner's review of a match (true or false positive) becomes its
//! own signed feedback event, sent back hop by hop to the origin.
//!
//! # Order and idempotence
//! Every issuer numbers its events of one bank from 1. A sender delivers one issuer's events in order, one peer at
//! a time, and moves its delivery mark only on the receiver's signed [`BankAck`]; the receiver applies an event
//! numbered after the last it holds from that issuer and answers a held one (same digest) as a duplicate. Numbers
//! may skip (a category offer leaves the other categories' events out), never go back.
//!
//! # Policy
//! An agreement allows hash sharing between two agencies when it is active, both are parties and it allows the
//! `attachment` field class (file digests: hashes of media, never the bytes; [`allows_hashes`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{AgencyId, Agreement, FieldClass};
use crate::error::{Error, Result};
use crate::identifiers::Sha256Hex;
use crate::protocol::Signed;

/// Longest label (bank name, category, series), in characters.
pub const MAX_LABEL: usize = 120;
/// Longest signal as text (a vPDQ frame list of an hour at one frame a second, with room).
pub const MAX_SIGNAL: usize = 2_000_000;

/// A bank offered by `from` to `to` under `agreement`: the whole bank, or only its content labelled `category`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankOffer {
    pub protocol: String,
    /// The bank's id at its origin (and at every holder).
    pub bank: Uuid,
    /// The agency that keeps the bank; its events feed every holder.
    pub origin: AgencyId,
    pub name: String,
    /// Largest PDQ distance that matches in the bank.
    pub match_distance: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub from: AgencyId,
    pub to: AgencyId,
    pub agreement: Uuid,
    pub at: DateTime<Utc>,
}

/// A review of a match, as feedback to the bank's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackVerdict {
    TruePositive,
    FalsePositive,
}

impl FeedbackVerdict {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackVerdict::TruePositive => "true_positive",
            FeedbackVerdict::FalsePositive => "false_positive",
        }
    }
}

/// What one bank event changes. Flattened into the event, so no field may be named as one of the event's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum BankChange {
    /// The origin adds content: the signal and its labels.
    Added {
        content: Uuid,
        /// `pdq` or `vpdq`.
        signal_type: String,
        signal: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        series: Option<String>,
    },
    /// The origin disables content (kept; may be enabled again).
    Disabled {
        content: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
    /// The origin enables disabled content again (never withdrawn content).
    Enabled {
        content: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
    /// The origin withdraws content from the share for good: every holder stops matching it.
    Withdrawn {
        content: Uuid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
    /// A holder's review of a match of this content, for the origin.
    Feedback {
        content: Uuid,
        verdict: FeedbackVerdict,
    },
}

impl BankChange {
    /// The change's name, as audit entries and the API show it.
    pub fn name(&self) -> &'static str {
        match self {
            BankChange::Added { .. } => "added",
            BankChange::Disabled { .. } => "disabled",
            BankChange::Enabled { .. } => "enabled",
            BankChange::Withdrawn { .. } => "withdrawn",
            BankChange::Feedback { .. } => "feedback",
        }
    }

    /// The content the change is about.
    pub fn content(&self) -> Uuid {
        match self {
            BankChange::Added { content, .. }
            | BankChange::Disabled { content, .. }
            | BankChange::Enabled { content, .. }
            | BankChange::Withdrawn { content, .. }
            | BankChange::Feedback { content, .. } => *content,
        }
    }

    /// The content's category, for a change the origin issues.
    pub fn category(&self) -> Option<&str> {
        match self {
            BankChange::Added { category, .. }
            | BankChange::Disabled { category, .. }
            | BankChange::Enabled { category, .. }
            | BankChange::Withdrawn { category, .. } => category.as_deref(),
            BankChange::Feedback { .. } => None,
        }
    }

    /// Feedback travels towards the origin; everything else away from it.
    pub fn is_feedback(&self) -> bool {
        matches!(self, BankChange::Feedback { .. })
    }
}

/// One signed event of a shared bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankEvent {
    pub protocol: String,
    pub bank: Uuid,
    /// The bank's origin.
    pub origin: AgencyId,
    /// Who signs: the origin for content changes, a holder for its feedback.
    pub issuer: AgencyId,
    /// The issuer's number of this event in this bank, from 1.
    pub seq: u64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub change: BankChange,
}

/// What a delivery carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum BankItem {
    Offer { offer: Signed<BankOffer> },
    Event { event: Signed<BankEvent> },
}

/// One item pushed from `sender` to `recipient`, signed by the sender (who may forward another agency's event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankDelivery {
    pub protocol: String,
    pub sender: AgencyId,
    pub recipient: AgencyId,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub item: BankItem,
}

/// What the receiver did with a delivered item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankOutcome {
    Applied,
    Duplicate,
}

/// The receiver's signed answer to a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankAck {
    pub protocol: String,
    pub receiver: AgencyId,
    pub bank: Uuid,
    /// The event's issuer, or the offer's sender for an offer.
    pub issuer: AgencyId,
    /// The event's number; 0 for an offer.
    pub seq: u64,
    /// The digest of the signed event or offer, as the receiver computed it.
    pub digest: Sha256Hex,
    pub outcome: BankOutcome,
    pub at: DateTime<Utc>,
}

/// An offer as held here, and whether its recipient acknowledged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOffer {
    pub offer: Signed<BankOffer>,
    pub delivered: bool,
}

/// A bank event as held here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldBankEvent {
    pub event: Signed<BankEvent>,
    pub digest: Sha256Hex,
    /// The peer that delivered it (none for an event issued here).
    pub received_from: Option<AgencyId>,
}

/// Whether `agreement` lets `a` and `b` share hashes at `now`: active, both parties, the `attachment` field class.
pub fn allows_hashes(
    agreement: &Agreement,
    a: &AgencyId,
    b: &AgencyId,
    now: DateTime<Utc>,
) -> bool {
    agreement.is_active(now)
        && agreement.parties.contains(a)
        && agreement.parties.contains(b)
        && agreement.fields.contains(&FieldClass::Attachment)
}

/// The sender's check of an offer it is about to sign: the agreement allows hashes between `me` and the partner,
/// the partner is neither us nor the origin, and, for a bank we hold from someone else (`received`), the agreement
/// we received it under is active and permits onward sharing and the category is no wider than what we received.
pub fn check_offer_out(
    agreements: &[Agreement],
    me: &AgencyId,
    offer: &BankOffer,
    received: Option<&BankOffer>,
    now: DateTime<Utc>,
) -> Result<()> {
    check_labels(&offer.name, offer.category.as_deref(), None)?;
    if &offer.to == me || offer.to == offer.origin {
        return Err(Error::invalid(
            "partner",
            "the partner is this agency or the bank's origin",
        ));
    }
    let Some(agreement) = agreements.iter().find(|a| a.id == offer.agreement) else {
        return Err(Error::not_found("agreement", offer.agreement));
    };
    if !allows_hashes(agreement, me, &offer.to, now) {
        return Err(Error::Denied(
            "the agreement does not allow hash sharing with this partner (active, both parties, attachment field)"
                .into(),
        ));
    }
    if &offer.origin != me {
        let Some(received) = received else {
            return Err(Error::Denied("this bank was not received here".into()));
        };
        let onward = agreements
            .iter()
            .any(|a| a.id == received.agreement && a.is_active(now) && a.onward_sharing);
        if !onward {
            return Err(Error::Denied(
                "the agreement this bank was received under does not permit onward sharing".into(),
            ));
        }
        if received.category.is_some() && received.category != offer.category {
            return Err(Error::Denied(
                "a bank received for one category is offered on for that category only".into(),
            ));
        }
    }
    Ok(())
}

/// The receiver's check of an offer delivered by `sender`: signed by its sender, addressed to us, under an
/// agreement we hold that allows hashes between the two, and not our own bank.
pub fn check_offer_in(
    agreements: &[Agreement],
    me: &AgencyId,
    sender: &AgencyId,
    offer: &Signed<BankOffer>,
    now: DateTime<Utc>,
) -> Result<()> {
    let o = &offer.body;
    if &o.from != sender || &o.to != me {
        return Err(Error::Rejected(crate::protocol::Rejection::WrongRecipient));
    }
    offer.verify(sender).map_err(Error::Rejected)?;
    if &o.origin == me {
        return Err(Error::invalid("offer", "this agency is the bank's origin"));
    }
    check_labels(&o.name, o.category.as_deref(), None)?;
    if o.match_distance > 256 {
        return Err(Error::invalid("offer", "match distance above 256"));
    }
    let allowed = agreements
        .iter()
        .any(|a| a.id == o.agreement && allows_hashes(a, sender, me, now));
    if !allowed {
        return Err(Error::Denied(
            "no agreement held here allows hash sharing with the offering agency".into(),
        ));
    }
    Ok(())
}

/// The shape of an event, checked by its issuer and every receiver: content changes come from the origin,
/// feedback from anyone else; labels are bounded; a signal is a PDQ hash (64 hex digits) or a vPDQ frame list.
pub fn check_event(event: &BankEvent) -> Result<()> {
    let from_origin = event.issuer == event.origin;
    if event.change.is_feedback() == from_origin {
        return Err(Error::invalid(
            "bank event",
            "content changes come from the bank's origin, feedback from its partners",
        ));
    }
    if event.seq == 0 {
        return Err(Error::invalid("bank event", "numbers start at 1"));
    }
    if let BankChange::Added {
        signal_type,
        signal,
        category,
        series,
        ..
    } = &event.change
    {
        check_labels("bank", category.as_deref(), series.as_deref())?;
        match signal_type.as_str() {
            "pdq" => {
                if signal.len() != 64 || !signal.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::invalid("signal", "a PDQ hash is 64 hex digits"));
                }
            }
            "vpdq" => {
                if signal.trim().is_empty() || signal.len() > MAX_SIGNAL {
                    return Err(Error::invalid("signal", "a vPDQ frame list of 1 to 2 MB"));
                }
            }
            _ => return Err(Error::invalid("signal type", "expected pdq or vpdq")),
        }
    }
    Ok(())
}

fn check_labels(name: &str, category: Option<&str>, series: Option<&str>) -> Result<()> {
    let bad = |s: &str| s.trim().is_empty() || s.chars().count() > MAX_LABEL;
    if bad(name) || category.is_some_and(bad) || series.is_some_and(bad) {
        return Err(Error::invalid("label", "1 to 120 characters"));
    }
    Ok(())
}

/// Whether an origin's event goes to a holder offered `filter` (every category when `None`).
pub fn passes(filter: Option<&str>, change: &BankChange) -> bool {
    filter.is_none_or(|f| change.category() == Some(f))
}

/// The `origin` of an exchange-backed bank as the identify store names it.
pub fn exchange_origin(origin: &AgencyId) -> String {
    format!("exchange:{origin}")
}

/// Shared banks held by one node: offers (ours going out and those addressed to us), every bank event issued here
/// or received, and how far each peer acknowledged each issuer's events. Implemented by the store crate for SQLite
/// and PostgreSQL; every write chains an `exchange.bank_*` audit entry naming the signed item's digest and
/// signature, so both sides' audit chains hold every offer, change and feedback. Writes are idempotent.
#[async_trait::async_trait]
pub trait HashBankStore: Send + Sync + 'static {
    /// Keeps an offer, ours (`received` false) or addressed to us. A received offer materialises the read-only
    /// bank (same id, origin [`exchange_origin`]) in the same transaction when it is not held yet. False when the
    /// same offer is held; a changed offer of the same (bank, from, to) replaces it (and is delivered again).
    async fn put_bank_offer(&self, offer: &Signed<BankOffer>, received: bool) -> Result<bool>;
    /// Every offer held here.
    async fn bank_offers(&self) -> Result<Vec<HeldOffer>>;
    /// Keeps a bank event issued here (`from` None) or delivered by `from`. A content change received for a bank
    /// held read-only here is applied to it in the same transaction (content added, disabled, enabled, withdrawn;
    /// withdrawn content is never enabled again). False when held with this digest; an error when its number is
    /// held with another.
    async fn put_bank_event(
        &self,
        event: &Signed<BankEvent>,
        from: Option<&AgencyId>,
    ) -> Result<bool>;
    /// Every event of `bank` held here, by issuer and number.
    async fn bank_events(&self, bank: Uuid) -> Result<Vec<HeldBankEvent>>;
    /// The highest number of `issuer`'s events of `bank` held here (0: none).
    async fn bank_last_seq(&self, bank: Uuid, issuer: &AgencyId) -> Result<u64>;
    /// The last of `issuer`'s events of `bank` that `peer` acknowledged (0: none).
    async fn bank_delivered(&self, bank: Uuid, issuer: &AgencyId, peer: &AgencyId) -> Result<u64>;
    /// Keeps a peer's signed acknowledgement (audited with its signature): an offer's (`seq` 0) marks the offer
    /// delivered; an event's moves the peer's mark for that issuer forward, never back.
    async fn bank_acknowledged(&self, ack: &Signed<BankAck>) -> Result<()>;
}

#[cfg(test)]
mod tests;
