//! Freeze and confiscation requests, pure: from a traced account, a request to the agency whose jurisdiction holds
//! it, and that agency's status updates, each signed by its issuer. No I/O and no clock (times are arguments).
//!
//! # The messages
//! - `Signed<FreezeRequest>`, signed by the requesting agency: the account (typed identifiers: IBAN, domestic
//!   account with its country, or a wallet at an exchange), the amount in exact integer minor units, the evidence
//!   (the trace summary JSON and its SHA-256 as an attachment, signed with the request), the legal basis the
//!   agreement states, the deadline and the requesting case.
//! - `Signed<FreezeStatus>`, signed by the receiving agency: `received`, `frozen` (with the amount), `refused`
//!   (with the reason), `released`. Statuses are numbered from 1 per request; [`check_status`] accepts only the
//!   next number in a valid transition, and answers a byte-identical replay as a duplicate (harmless).
//!
//! # Jurisdiction
//! [`resolve_jurisdiction`]: a mapping in an agreement that permits freeze requests wins (an exchange's name, or a
//! country code); otherwise the IBAN's country, the domestic account's country or the exchange's registered
//! country, matched to a partner of that country sharing such an agreement. No match is a clear error.
//!
//! Idempotence rests on ids, not nonces: a request is one id, a status is one (request, number) pair, so replays
//! and retried deliveries change nothing; a different message under a taken id is refused.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Agency, AgencyId, Agreement, Attachment};
use crate::error::{Error, Result};
use crate::identifiers::{AccountNumber, Iban, Sha256Hex, Wallet};
use crate::protocol::{PROTOCOL, Rejection, Signed, canonical};

/// Largest evidence summary carried in a request (canonical JSON bytes): small enough that the signed request still
/// fits a server's default 64 KiB body limit on its way through the federation.
pub const MAX_EVIDENCE_BYTES: usize = 48 * 1024;

/// Freeze (hold the funds) or confiscation (take them, after a court order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreezeKind {
    Freeze,
    Confiscation,
}

impl std::str::FromStr for FreezeKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "freeze" => Ok(FreezeKind::Freeze),
            "confiscation" => Ok(FreezeKind::Confiscation),
            _ => Err(Error::invalid("kind", "expected freeze or confiscation")),
        }
    }
}

/// What an agreement says about freeze requests; an agreement without these terms permits none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeTerms {
    /// The legal basis every request under the agreement cites (e.g. the MLAT article).
    pub legal_basis: String,
    /// The kinds of request the agreement permits.
    pub kinds: BTreeSet<FreezeKind>,
    /// Jurisdiction mapping: an exchange name (lower case) or a country code (ISO 3166-1 alpha-2, upper case) to
    /// the party that handles requests for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub jurisdictions: BTreeMap<String, AgencyId>,
}

/// The account to freeze, typed with the exchange identifier types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountRef {
    Iban {
        iban: Iban,
    },
    BankAccount {
        account: AccountNumber,
        /// ISO 3166-1 alpha-2 country of the bank.
        country: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bank: Option<String>,
    },
    Wallet {
        wallet: Wallet,
        /// The exchange (custodian) holding the wallet, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exchange: Option<String>,
        /// The exchange's registered country (ISO 3166-1 alpha-2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exchange_country: Option<String>,
    },
}

impl AccountRef {
    /// The country whose agency has jurisdiction, as the identifier itself says.
    pub fn country(&self) -> Option<String> {
        match self {
            AccountRef::Iban { iban } => Some(iban.as_str()[..2].to_string()),
            AccountRef::BankAccount { country, .. } => Some(country.to_ascii_uppercase()),
            AccountRef::Wallet {
                exchange_country, ..
            } => exchange_country.as_ref().map(|c| c.to_ascii_uppercase()),
        }
    }
    /// The exchange's name in the form agreements map it by (lower case).
    pub fn exchange(&self) -> Option<String> {
        match self {
            AccountRef::Wallet {
                exchange: Some(e), ..
            } => Some(e.trim().to_ascii_lowercase()),
            _ => None,
        }
    }
    /// Parses `iban=DE89...`, `account=KR:110-123-456789` or `wallet=0x...[@exchange[:CC]]` (command line).
    pub fn parse_spec(spec: &str) -> Result<AccountRef> {
        let (kind, value) = spec
            .split_once('=')
            .ok_or_else(|| Error::invalid("account", "expected kind=value"))?;
        match kind {
            "iban" => Ok(AccountRef::Iban {
                iban: Iban::parse(value)?,
            }),
            "account" => {
                let (country, number) = value.split_once(':').ok_or_else(|| {
                    Error::invalid("account", "a domestic account is COUNTRY:number")
                })?;
                Ok(AccountRef::BankAccount {
                    account: AccountNumber::parse(number)?,
                    country: country_code(country)?,
                    bank: None,
                })
            }
            "wallet" => {
                let (address, at) = match value.split_once('@') {
                    Some((a, e)) => (a, Some(e)),
                    None => (value, None),
                };
                let (exchange, exchange_country) = match at.map(|e| e.split_once(':')) {
                    Some(Some((e, c))) => (Some(e.to_string()), Some(country_code(c)?)),
                    Some(None) => (at.map(str::to_string), None),
                    None => (None, None),
                };
                Ok(AccountRef::Wallet {
                    wallet: Wallet::detect(address)?,
                    exchange,
                    exchange_country,
                })
            }
            _ => Err(Error::invalid(
                "account",
                "kind must be iban, account or wallet",
            )),
        }
    }
}

fn country_code(s: &str) -> Result<String> {
    let c = s.trim().to_ascii_uppercase();
    if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
        return Err(Error::invalid("country", "expected ISO 3166-1 alpha-2"));
    }
    Ok(c)
}

/// An exact amount: a count of the currency's smallest unit (`10^-decimals`). Carried as a decimal string so the
/// canonical encoding keeps every digit (JSON numbers past 2^53 would not survive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    #[serde(with = "units_text")]
    pub minor_units: u128,
    /// ISO 4217 code or a crypto ticker, upper case.
    pub currency: String,
    pub decimals: u8,
}

impl Amount {
    pub fn validate(&self) -> Result<()> {
        let c = &self.currency;
        if !(3..=10).contains(&c.len())
            || !c
                .chars()
                .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit())
        {
            return Err(Error::invalid(
                "currency",
                "3 to 10 upper-case letters or digits (ISO 4217 or a ticker)",
            ));
        }
        if self.decimals > 30 {
            return Err(Error::invalid("amount", "at most 30 decimals"));
        }
        if self.minor_units == 0 {
            return Err(Error::invalid("amount", "must be more than zero"));
        }
        Ok(())
    }
}

mod units_text {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(
                "minor_units must be a string of decimal digits",
            ));
        }
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The evidence: the trace summary JSON and an attachment naming its digest (SHA-256 of its canonical encoding).
/// It is signed with the request, so the receiver can show exactly what the requester relied on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub attachment: Attachment,
    pub summary: serde_json::Value,
    /// The server-side trace run it came from, once trace runs exist (see the server's evidence seam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_run: Option<Uuid>,
}

impl Evidence {
    /// Evidence from a trace summary: the attachment is computed from the canonical bytes.
    pub fn from_summary(summary: serde_json::Value, trace_run: Option<Uuid>) -> Result<Evidence> {
        let bytes = canonical(&summary)?;
        if bytes.len() > MAX_EVIDENCE_BYTES {
            return Err(Error::invalid("evidence", "the trace summary is too large"));
        }
        if !summary.is_object() {
            return Err(Error::invalid(
                "evidence",
                "the trace summary is a JSON object",
            ));
        }
        Ok(Evidence {
            attachment: Attachment {
                sha256: Sha256Hex::of(&bytes),
                media_type: "application/json".into(),
                size_bytes: bytes.len() as u64,
                name: Some("trace-summary.json".into()),
            },
            summary,
            trace_run,
        })
    }
    /// Whether the attachment names exactly this summary.
    pub fn check(&self) -> Result<()> {
        let bytes = canonical(&self.summary)?;
        if Sha256Hex::of(&bytes) != self.attachment.sha256
            || self.attachment.size_bytes != bytes.len() as u64
        {
            return Err(Error::invalid(
                "evidence",
                "the attachment's digest does not match the trace summary",
            ));
        }
        Ok(())
    }
}

/// A freeze or confiscation request, from `requester` to `recipient` under `agreement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeRequest {
    pub protocol: String,
    pub id: Uuid,
    pub kind: FreezeKind,
    pub requester: AgencyId,
    pub recipient: AgencyId,
    pub agreement: Uuid,
    /// Copied from the agreement's freeze terms.
    pub legal_basis: String,
    pub account: AccountRef,
    pub amount: Amount,
    pub evidence: Evidence,
    /// The requesting agency's case.
    pub case_id: Uuid,
    pub deadline: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
}

/// Where a request stands, as its recipient states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FreezeState {
    Received,
    Frozen { amount: Amount },
    Refused { reason: String },
    Released { reason: String },
}

impl FreezeState {
    pub fn name(&self) -> &'static str {
        match self {
            FreezeState::Received => "received",
            FreezeState::Frozen { .. } => "frozen",
            FreezeState::Refused { .. } => "refused",
            FreezeState::Released { .. } => "released",
        }
    }
}

/// One status update, numbered from 1 per request, signed by the request's recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeStatus {
    pub protocol: String,
    pub request: Uuid,
    pub seq: u64,
    /// The request's recipient, who alone issues its statuses.
    pub issuer: AgencyId,
    /// The request's requester, to whom the status goes.
    pub requester: AgencyId,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub state: FreezeState,
}

/// Which side of a request this node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// We requested it.
    Outgoing,
    /// A partner asked us.
    Incoming,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        }
    }
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "outgoing" => Some(Direction::Outgoing),
            "incoming" => Some(Direction::Incoming),
            _ => None,
        }
    }
}

/// A status as held: the signed message and whether its addressee has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldStatus {
    pub status: Signed<FreezeStatus>,
    pub digest: Sha256Hex,
    /// Issued here and acknowledged by the requester (always true for statuses we received).
    pub delivered: bool,
}

/// A request as held on one side, with its status timeline in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldRequest {
    pub direction: Direction,
    pub request: Signed<FreezeRequest>,
    pub digest: Sha256Hex,
    /// Sent here and acknowledged by the recipient (always true for requests we received).
    pub delivered: bool,
    pub statuses: Vec<HeldStatus>,
}

impl HeldRequest {
    /// The latest state, if any status is held.
    pub fn state(&self) -> Option<&FreezeState> {
        self.statuses.last().map(|s| &s.status.body.state)
    }
}

/// The agency with jurisdiction over `account` and the agreement (permitting `kind`) under which `me` may ask it.
/// `agencies` are the partners this node knows (with their countries).
pub fn resolve_jurisdiction<'a>(
    account: &AccountRef,
    kind: FreezeKind,
    me: &AgencyId,
    agencies: &[Agency],
    agreements: &'a [Agreement],
    now: DateTime<Utc>,
) -> Result<(AgencyId, &'a Agreement)> {
    let usable = |a: &&'a Agreement| {
        a.is_active(now)
            && a.parties.contains(me)
            && a.freeze.as_ref().is_some_and(|t| t.kinds.contains(&kind))
    };
    let country = account.country();
    // 1. A mapping in an agreement (exchange name first, then country).
    for key in [account.exchange(), country.clone()].into_iter().flatten() {
        let mapped = agreements.iter().filter(usable).find_map(|a| {
            let to = a.freeze.as_ref()?.jurisdictions.get(&key)?;
            (to != me && a.parties.contains(to)).then(|| (to.clone(), a))
        });
        if let Some(found) = mapped {
            return Ok(found);
        }
    }
    // 2. The identifier's country, matched to a partner of that country under a permitting agreement.
    let Some(country) = country else {
        return Err(Error::invalid(
            "jurisdiction",
            "the wallet names no exchange country and no agreement maps its exchange: give the exchange's registered country",
        ));
    };
    for agency in agencies
        .iter()
        .filter(|p| p.country == country && &p.id != me)
    {
        if let Some(a) = agreements
            .iter()
            .filter(usable)
            .find(|a| a.parties.contains(&agency.id))
        {
            return Ok((agency.id.clone(), a));
        }
    }
    Err(Error::invalid(
        "jurisdiction",
        format!(
            "no partner agency of country {country} shares an active agreement permitting {kind:?} requests with this node"
        ),
    ))
}

/// The receiver's check of an authentic request's content: it is for us, cites an active agreement between the two
/// of us that permits its kind with this legal basis, its evidence is intact, and the account is in our jurisdiction.
pub fn check_request(
    me: &Agency,
    agencies: &[Agency],
    agreements: &[Agreement],
    now: DateTime<Utc>,
    request: &FreezeRequest,
) -> Result<(), Rejection> {
    if request.protocol != PROTOCOL {
        return Err(Rejection::WrongProtocol);
    }
    if request.recipient != me.id {
        return Err(Rejection::WrongRecipient);
    }
    let agreement = agreements
        .iter()
        .find(|a| a.id == request.agreement)
        .ok_or(Rejection::UnknownAgreement)?;
    if !agreement.is_active(now) {
        return Err(Rejection::AgreementInactive);
    }
    if !agreement.parties.contains(&me.id) || !agreement.parties.contains(&request.requester) {
        return Err(Rejection::NotAParty);
    }
    let terms = agreement
        .freeze
        .as_ref()
        .filter(|t| t.kinds.contains(&request.kind))
        .ok_or(Rejection::FreezeNotPermitted)?;
    if terms.legal_basis != request.legal_basis {
        return Err(Rejection::FreezeNotPermitted);
    }
    if request.amount.validate().is_err() || request.evidence.check().is_err() {
        return Err(Rejection::EvidenceMismatch);
    }
    // The account must be ours to act on: resolved from our side, with us among the agencies.
    let mut all = agencies.to_vec();
    all.push(me.clone());
    let requester_view = resolve_jurisdiction(
        &request.account,
        request.kind,
        &request.requester,
        &all,
        std::slice::from_ref(agreement),
        now,
    );
    match requester_view {
        Ok((to, _)) if to == me.id => Ok(()),
        _ => Err(Rejection::NotOurJurisdiction),
    }
}

/// The outcome of checking a status against the timeline held for its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusVerdict {
    /// The next status: store it.
    Next,
    /// This exact status is already held (a replay or a retried delivery).
    Duplicate,
}

/// Checks `status` (with `digest`) against `request` and the statuses held so far (in order): issued by the request's
/// recipient to its requester, numbered next, and a valid transition (received first; then frozen or refused;
/// frozen may be re-stated with a new amount or released; refused and released end it).
pub fn check_status(
    request: &FreezeRequest,
    held: &[(FreezeStatus, Sha256Hex)],
    status: &FreezeStatus,
    digest: &Sha256Hex,
) -> Result<StatusVerdict> {
    if status.request != request.id
        || status.issuer != request.recipient
        || status.requester != request.requester
    {
        return Err(Error::Denied(
            "only the request's recipient issues its statuses, to its requester".into(),
        ));
    }
    if status.protocol != PROTOCOL {
        return Err(Error::invalid("status", "unknown protocol"));
    }
    if let Some((_, d)) = held.iter().find(|(s, _)| s.seq == status.seq) {
        return if d == digest {
            Ok(StatusVerdict::Duplicate)
        } else {
            Err(Error::invalid(
                "status",
                format!(
                    "status {} of this request is already held and differs",
                    status.seq
                ),
            ))
        };
    }
    let last = held.last().map(|(s, _)| s);
    if status.seq != last.map_or(1, |s| s.seq + 1) {
        return Err(Error::invalid(
            "status",
            "out of order: statuses are numbered one after another",
        ));
    }
    let allowed = matches!(
        (last.map(|s| &s.state), &status.state),
        (None, FreezeState::Received)
            | (
                Some(FreezeState::Received),
                FreezeState::Frozen { .. } | FreezeState::Refused { .. }
            )
            | (
                Some(FreezeState::Frozen { .. }),
                FreezeState::Frozen { .. } | FreezeState::Released { .. }
            )
    );
    if !allowed {
        return Err(Error::invalid(
            "status",
            format!(
                "{} cannot follow {}",
                status.state.name(),
                last.map_or("nothing", |s| s.state.name())
            ),
        ));
    }
    match &status.state {
        FreezeState::Frozen { amount } => amount.validate()?,
        FreezeState::Refused { reason } | FreezeState::Released { reason }
            if reason.trim().is_empty() || reason.len() > 2_000 =>
        {
            return Err(Error::invalid("reason", "1 to 2,000 characters"));
        }
        _ => {}
    }
    Ok(StatusVerdict::Next)
}

#[cfg(test)]
#[path = "freeze_tests.rs"]
mod tests;
