//! Identify ([`IdentifyStore`], issue 19): hash banks, their content (PDQ hashes, vPDQ frame lists) with labels,
//! the matches lookups answered and their reviews.
//!
//! Only hashes and labels are stored, never an image or a video. Every change is audited in its own transaction
//! and told to commit observers ([`crate::Committed::IdentifyBank`], [`crate::Committed::IdentifyContent`]), so
//! the server's in-memory index follows commits, its own and later a federation's. A bank has an `origin`
//! (`local`, or the exchange that feeds it) so a partner's bank can arrive read-only; content carries the
//! exchange's `signal_id` when it came from one.

use crate::{Change, Result};
use jikimi_respond::Timestamp;
use uuid::Uuid;

/// A bank's origin when this agency keeps it.
pub const LOCAL_ORIGIN: &str = "local";

/// A bank to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBank {
    pub id: Uuid,
    /// Unique among banks, 1 to 120 characters.
    pub name: String,
    /// Largest PDQ Hamming distance that matches in this bank (0..=256).
    pub match_distance: u32,
    /// A negative bank (known false positives): its matches suppress matches of `suppresses`.
    pub negative: bool,
    /// The banks a negative bank suppresses (must exist; empty for a positive bank).
    pub suppresses: Vec<Uuid>,
    /// [`LOCAL_ORIGIN`] or the exchange feeding the bank (then it is read-only here).
    pub origin: String,
}

/// A stored bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bank {
    pub id: Uuid,
    pub name: String,
    pub match_distance: u32,
    pub negative: bool,
    pub suppresses: Vec<Uuid>,
    pub enabled: bool,
    pub origin: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

impl Bank {
    /// Whether content may be added or disabled here (not a partner's exchange-backed bank).
    pub fn is_local(&self) -> bool {
        self.origin == LOCAL_ORIGIN
    }
}

/// What kind of signal a content is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalType {
    /// A PDQ hash, 64 hex digits.
    Pdq,
    /// A vPDQ frame list: the reference's `frame,quality,hash,timestamp` lines.
    Vpdq,
}

impl SignalType {
    /// The stored and wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalType::Pdq => "pdq",
            SignalType::Vpdq => "vpdq",
        }
    }

    /// Parses the stored and wire string.
    pub fn parse(text: &str) -> Option<SignalType> {
        match text {
            "pdq" => Some(SignalType::Pdq),
            "vpdq" => Some(SignalType::Vpdq),
            _ => None,
        }
    }
}

/// Content to add to a bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContent {
    pub id: Uuid,
    pub bank_id: Uuid,
    pub signal_type: SignalType,
    /// The signal as text (the server validated it): PDQ hex, or vPDQ lines.
    pub signal: String,
    pub category: Option<String>,
    pub series: Option<String>,
    /// The exchange's id of the signal, for content a partner shared.
    pub signal_id: Option<String>,
}

/// A stored content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub id: Uuid,
    pub bank_id: Uuid,
    pub signal_type: SignalType,
    pub signal: String,
    pub category: Option<String>,
    pub series: Option<String>,
    pub signal_id: Option<String>,
    pub enabled: bool,
    /// When the signal was quarantined for flooding matches (pending review), if it is.
    pub quarantined_at: Option<Timestamp>,
    pub added_at: Timestamp,
    pub added_by: String,
    pub changed_at: Timestamp,
}

/// A match a lookup answered, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMatch {
    pub id: Uuid,
    pub content_id: Uuid,
    pub bank_id: Uuid,
    pub distance: u32,
}

/// A lookup to audit: who asked (the change's actor), which banks were searched, what matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRecord {
    pub id: Uuid,
    /// `pdq`, `vpdq`, `photo` or `video`: what was looked up (never the query itself).
    pub kind: String,
    /// The banks searched.
    pub banks: Vec<Uuid>,
    pub matches: Vec<NewMatch>,
    /// Matches suppressed by a negative bank or answered as quarantined, by content id (audited, not stored as
    /// matches to review).
    pub withheld: Vec<Uuid>,
}

/// A review of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    TruePositive,
    FalsePositive,
}

impl Verdict {
    /// The stored and wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::TruePositive => "true_positive",
            Verdict::FalsePositive => "false_positive",
        }
    }

    /// Parses the stored and wire string.
    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "true_positive" => Some(Verdict::TruePositive),
            "false_positive" => Some(Verdict::FalsePositive),
            _ => None,
        }
    }
}

/// A stored match and its review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchRecord {
    pub id: Uuid,
    pub lookup_id: Uuid,
    pub content_id: Uuid,
    pub bank_id: Uuid,
    pub distance: u32,
    pub matched_at: Timestamp,
    pub matched_by: String,
    pub verdict: Option<Verdict>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<Timestamp>,
}

/// Banks, content, matches and reviews. Every write is audited in its own transaction.
#[async_trait::async_trait]
pub trait IdentifyStore: Send + Sync {
    /// Creates a bank (`identify.bank_created`). [`crate::Conflict::AlreadyExists`] if the id or the name is
    /// taken; [`crate::Error::Invalid`] if a suppressed bank does not exist or a positive bank names one.
    async fn create_bank(&self, bank: &NewBank, change: &Change) -> Result<Bank>;
    /// Every bank, by name.
    async fn list_banks(&self) -> Result<Vec<Bank>>;
    /// One bank; [`crate::Error::NotFound`] ([`crate::Entity::Bank`]) if unknown.
    async fn get_bank(&self, id: Uuid) -> Result<Bank>;
    /// Adds content to a local, enabled bank (`identify.content_added`, with bank, type and labels, never the
    /// signal). Unknown bank: not found; an exchange-backed bank: [`crate::Error::Invalid`]; an id taken:
    /// conflict.
    async fn add_content(&self, content: &NewContent, change: &Change) -> Result<Content>;
    /// Adds many contents to one local bank in one transaction with one audit entry (`identify.content_imported`:
    /// bank, count, signal type), as a hash list is imported. Tells observers the bank changed
    /// ([`crate::Committed::IdentifyBankContent`]) rather than each content. Same refusals as
    /// [`IdentifyStore::add_content`]; every content must name `bank_id`.
    async fn import_content(
        &self,
        bank_id: Uuid,
        contents: &[NewContent],
        change: &Change,
    ) -> Result<u64>;
    /// Up to `limit` contents of one bank with id greater than `after`, by id.
    async fn bank_content_page(
        &self,
        bank_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Content>>;
    /// One content; not found ([`crate::Entity::Content`]) if unknown.
    async fn get_content(&self, id: Uuid) -> Result<Content>;
    /// Enables or disables content (kept either way; `identify.content_disabled` / `identify.content_enabled`).
    /// Content of an exchange-backed bank: [`crate::Error::Invalid`].
    async fn set_content_enabled(
        &self,
        id: Uuid,
        enabled: bool,
        change: &Change,
    ) -> Result<Content>;
    /// Up to `limit` contents with id greater than `after` (all when `None`), by id: loads the index page by page.
    async fn content_page(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Content>>;
    /// Records a lookup: its matches (to review) and one `identify.lookup` audit entry naming the banks searched
    /// and the content ids matched and withheld, in one transaction.
    async fn record_lookup(&self, lookup: &LookupRecord, change: &Change) -> Result<()> {
        self.record_lookups(&[(lookup.clone(), change.clone())])
            .await
    }
    /// Records many lookups in one transaction (the server's group commit of concurrent lookups): each exactly as
    /// [`IdentifyStore::record_lookup`] records it, in order, with its own audit entry; all or none.
    async fn record_lookups(&self, lookups: &[(LookupRecord, Change)]) -> Result<()>;
    /// Quarantines (or releases, `quarantined` false) a content's signal (`identify.quarantined` /
    /// `identify.released`). Quarantining one already quarantined changes nothing and audits nothing.
    async fn set_quarantine(&self, id: Uuid, quarantined: bool, change: &Change)
    -> Result<Content>;
    /// Records a review of a match (`identify.reviewed`); a second review replaces the first (audited too).
    /// Not found ([`crate::Entity::Match`]) for an unknown match.
    async fn review_match(
        &self,
        id: Uuid,
        verdict: Verdict,
        change: &Change,
    ) -> Result<MatchRecord>;
    /// One match; not found if unknown.
    async fn get_match(&self, id: Uuid) -> Result<MatchRecord>;
}
