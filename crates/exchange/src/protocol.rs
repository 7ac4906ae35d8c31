//! The federation protocol, pure: canonical encoding, signed envelopes, receipts, signed
//! requests, and the receiver's decision on each inbound envelope. No I/O and no clock.
//!
//! # Canonical encoding
//! Everything signed is first encoded with the JSON Canonicalization Scheme (RFC 8785, via
//! `serde_jcs`): UTF-8, object keys sorted by UTF-16 code units, no insignificant whitespace,
//! numbers in their shortest ECMAScript form. The signature is Ed25519 (RFC 8032) over exactly
//! those bytes, and the envelope digest (how receipts and audit rows name an envelope) is
//! SHA-256 of the same bytes. A receiver re-encodes what it parsed; since every identifier is
//! stored in its normal form, any change on the way changes the bytes and fails verification.
//!
//! # Messages
//! - `Signed<Envelope>`: one record (case, lead, withdrawal, restriction) from `sender` to
//!   `recipient`, citing the agreement that allowed it, with a fresh `nonce` (replay protection)
//!   and the sender's log position `seq` (the pull cursor).
//! - `Signed<PullRequest>`: "give me what you may give me after `cursor`", signed by the puller so
//!   the responder knows whose policy to apply.
//! - `Signed<Receipt>`: the receiver's signed statement of what it applied, per envelope digest.
//! - `Signed<Notify>`: "I have news for you": the receiver pulls.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use uuid::Uuid;

use crate::domain::{Agency, AgencyId, Agreement, FieldClass, Provenance, Record};
use crate::error::{Error, Result};
use crate::identifiers::Sha256Hex;
use crate::policy;

/// Protocol identifier carried in every envelope.
pub const PROTOCOL: &str = "jikimi-federation/1";
/// How far a signed request's clock may be from ours.
pub const MAX_SKEW_S: i64 = 300;

/// RFC 8785 canonical bytes of `value`.
pub fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_jcs::to_vec(value).map_err(Error::Encoding)
}

/// A message and the Ed25519 signature of its canonical encoding (hex).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signed<T> {
    pub body: T,
    pub signature: String,
}

impl<T: Serialize> Signed<T> {
    pub fn sign(body: T, key: &SigningKey) -> Result<Self> {
        let bytes = canonical(&body)?;
        let signature = hex::encode(key.sign(&bytes).to_bytes());
        Ok(Signed { body, signature })
    }
    /// Verifies the signature with `signer`'s key; returns the digest of the canonical body.
    pub fn verify(&self, signer: &AgencyId) -> Result<Sha256Hex, Rejection> {
        let key = signer
            .verifying_key()
            .map_err(|_| Rejection::UnknownSender)?;
        let sig_bytes: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(Rejection::BadSignature)?;
        let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
        let bytes = canonical(&self.body).map_err(|_| Rejection::Malformed)?;
        key.verify(&bytes, &sig)
            .map_err(|_| Rejection::BadSignature)?;
        Ok(digest_bytes(&bytes))
    }
    /// SHA-256 of the canonical body.
    pub fn digest(&self) -> Result<Sha256Hex> {
        Ok(digest_bytes(&canonical(&self.body)?))
    }
}

fn digest_bytes(bytes: &[u8]) -> Sha256Hex {
    Sha256Hex::parse(&hex::encode(sha2::Sha256::digest(bytes)))
        .unwrap_or_else(|_| Sha256Hex::of(bytes))
}

/// One record on its way from `sender` to `recipient`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub protocol: String,
    pub sender: AgencyId,
    pub recipient: AgencyId,
    /// Position in the sender's log; the recipient's next pull cursor.
    pub seq: u64,
    pub nonce: Uuid,
    pub issued_at: DateTime<Utc>,
    /// The agreement that allowed this disclosure (`None` for withdrawals and restrictions,
    /// which go to every earlier recipient of their target whatever the agreements say now).
    pub agreement: Option<Uuid>,
    pub purpose: Option<String>,
    pub record: Record,
}

/// A pull request, signed by the puller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub requester: AgencyId,
    pub responder: AgencyId,
    pub cursor: u64,
    pub limit: u32,
    pub issued_at: DateTime<Utc>,
    pub nonce: Uuid,
}

/// One page of a pull: envelopes in `seq` order and where to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub envelopes: Vec<Signed<Envelope>>,
    /// The cursor to send next time (the last log position examined, even if nothing was
    /// disclosable there).
    pub next_cursor: u64,
    pub more: bool,
}

/// A push notification: the recipient should pull from `sender`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    pub sender: AgencyId,
    pub recipient: AgencyId,
    pub head: u64,
    pub issued_at: DateTime<Utc>,
    pub nonce: Uuid,
}

/// What the receiver did with one envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Duplicate,
    Rejected { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptItem {
    pub envelope: Sha256Hex,
    pub record: Uuid,
    pub version: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The receiver's signed acknowledgement of a page of envelopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: Uuid,
    pub receiver: AgencyId,
    pub sender: AgencyId,
    pub issued_at: DateTime<Utc>,
    pub items: Vec<ReceiptItem>,
}

/// Why an inbound message was refused. Every rejection is audited by the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rejection", rename_all = "snake_case")]
pub enum Rejection {
    UnknownSender,
    BadSignature,
    WrongRecipient,
    WrongProtocol,
    Replay,
    ClockSkew,
    Malformed,
    UnknownAgreement,
    AgreementInactive,
    NotAParty,
    CategoryNotAllowed,
    FieldsNotAllowed {
        fields: Vec<FieldClass>,
    },
    /// The record's marks are looser than the agreement's floor or stricter than its max TLP.
    MarkingViolation,
    OnwardSharingNotPermitted,
    /// A withdrawal or restriction from someone who is neither the owner nor our source.
    NotOwner,
    /// The record was withdrawn by its owner; an older copy arriving late is dropped.
    Withdrawn,
    /// The cited agreement permits no freeze request of this kind, or with another legal basis.
    FreezeNotPermitted,
    /// The account of a freeze request is not in the receiver's jurisdiction.
    NotOurJurisdiction,
    /// A freeze request's evidence digest or amount does not check.
    EvidenceMismatch,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::FieldsNotAllowed { fields } => {
                write!(f, "fields not allowed by the agreement: {fields:?}")
            }
            other => {
                let s = serde_json::to_value(other)
                    .ok()
                    .and_then(|v| {
                        v.get("rejection")
                            .and_then(|r| r.as_str().map(str::to_string))
                    })
                    .unwrap_or_else(|| "rejected".to_string());
                f.write_str(&s)
            }
        }
    }
}

/// What the receiver already knows about an envelope's record (looked up by the caller).
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// This (sender, nonce) pair was seen before.
    pub nonce_seen: bool,
    /// Version, origin and provenance of our copy of `record.id`, if any.
    pub stored: Option<(u64, AgencyId, Provenance)>,
    /// For control records: origin and provenance of our copy of the target, if any.
    pub target: Option<(AgencyId, Provenance)>,
    /// `record.id` (or, for a control record, its target) was withdrawn here.
    pub withdrawn: bool,
}

/// The receiver's decision on an authentic envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Store this version (new or newer than ours).
    Upsert {
        record: Record,
        provenance: Provenance,
    },
    /// We already have this version or a newer one: nothing to do (idempotent).
    Duplicate,
    /// Apply a withdrawal or restriction and keep it as a tombstone to pass on.
    Control {
        record: Record,
        provenance: Provenance,
    },
}

/// The receiver's state machine step for one envelope: authenticate, check replay, then
/// re-enforce the agreement (parties, category, fields, marks) the sender cited.
pub fn assess(
    me: &AgencyId,
    peers: &[Agency],
    agreements: &[Agreement],
    now: DateTime<Utc>,
    known: &Known,
    signed: &Signed<Envelope>,
) -> Result<(Action, Sha256Hex), Rejection> {
    let env = &signed.body;
    if !peers.iter().any(|p| p.id == env.sender) {
        return Err(Rejection::UnknownSender);
    }
    let digest = signed.verify(&env.sender)?;
    if env.protocol != PROTOCOL {
        return Err(Rejection::WrongProtocol);
    }
    if &env.recipient != me {
        return Err(Rejection::WrongRecipient);
    }
    if known.nonce_seen {
        return Err(Rejection::Replay);
    }
    let record = &env.record;
    let provenance = Provenance {
        received_from: Some(env.sender.clone()),
        received_under: env.agreement,
    };

    if let Some(target) = record.target() {
        // Only the owner may withdraw or restrict `target`; it reaches us from the owner or from
        // the peer we got the target from.
        tracing::debug!(%target, "control record");
        match &known.target {
            Some((target_origin, target_prov)) => {
                if target_origin != &record.origin {
                    return Err(Rejection::NotOwner);
                }
                let from_source = target_prov.received_from.as_ref() == Some(&env.sender);
                if env.sender != record.origin && !from_source {
                    // We got the target by another path; that path (ultimately the owner, who
                    // alone can sign a control record for its own disclosures) brings the
                    // withdrawal too. A third party cannot act on it: nothing changes here.
                    return Ok((Action::Duplicate, digest));
                }
            }
            None => {
                if env.sender != record.origin && !known.withdrawn {
                    // We never had the target and cannot check ownership: keep nothing.
                    return Ok((Action::Duplicate, digest));
                }
            }
        }
        if let Some((v, _, _)) = &known.stored
            && *v >= record.version
        {
            return Ok((Action::Duplicate, digest));
        }
        return Ok((
            Action::Control {
                record: record.clone(),
                provenance,
            },
            digest,
        ));
    }

    if known.withdrawn {
        return Err(Rejection::Withdrawn);
    }
    let agreement_id = env.agreement.ok_or(Rejection::UnknownAgreement)?;
    let agreement = agreements
        .iter()
        .find(|a| a.id == agreement_id)
        .ok_or(Rejection::UnknownAgreement)?;
    if !agreement.is_active(now) {
        return Err(Rejection::AgreementInactive);
    }
    if !agreement.parties.contains(me)
        || !agreement.parties.contains(&env.sender)
        || !agreement.parties.contains(&record.origin)
    {
        return Err(Rejection::NotAParty);
    }
    if !agreement.categories.contains(&record.category) {
        return Err(Rejection::CategoryNotAllowed);
    }
    let beyond: BTreeSet<FieldClass> = policy::fields_beyond(agreement, record);
    if !beyond.is_empty() {
        return Err(Rejection::FieldsNotAllowed {
            fields: beyond.into_iter().collect(),
        });
    }
    if record.marking.tlp > agreement.max_tlp || !record.marking.at_least(agreement.floor) {
        return Err(Rejection::MarkingViolation);
    }
    if env.sender != record.origin
        && (!record.marking.tlp.allows_onward() || !record.marking.handling.allows_onward())
    {
        return Err(Rejection::OnwardSharingNotPermitted);
    }
    if let Some((v, _, _)) = &known.stored
        && *v >= record.version
    {
        return Ok((Action::Duplicate, digest));
    }
    Ok((
        Action::Upsert {
            record: record.clone(),
            provenance,
        },
        digest,
    ))
}

/// Checks a signed request's sender, recipient and clock; returns its digest.
pub fn check_request(
    signer: &AgencyId,
    recipient: &AgencyId,
    me: &AgencyId,
    issued_at: DateTime<Utc>,
    now: DateTime<Utc>,
    peers: &[Agency],
    signature_check: impl FnOnce() -> Result<Sha256Hex, Rejection>,
) -> Result<Sha256Hex, Rejection> {
    if !peers.iter().any(|p| &p.id == signer) {
        return Err(Rejection::UnknownSender);
    }
    let digest = signature_check()?;
    if recipient != me {
        return Err(Rejection::WrongRecipient);
    }
    if (now - issued_at).abs() > Duration::seconds(MAX_SKEW_S) {
        return Err(Rejection::ClockSkew);
    }
    Ok(digest)
}
