//! The cooperation domain: agencies, agreements, cases, leads, entities, events and attachments,
//! and `Record`, the unit that is versioned, signed and federated.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::identifiers::{AccountNumber, Domain, Iban, PhoneE164, Sha256Hex, Wallet};
use crate::marking::{Marking, Tlp};

/// An agency is identified by its Ed25519 public key: the key id is the key's 64 hex digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgencyId(String);

impl AgencyId {
    pub fn from_key(key: &ed25519_dalek::VerifyingKey) -> Self {
        AgencyId(hex::encode(key.as_bytes()))
    }
    pub fn parse(s: &str) -> Result<Self> {
        let key = Self::decode(s)?;
        Ok(AgencyId::from_key(&key))
    }
    fn decode(s: &str) -> Result<ed25519_dalek::VerifyingKey> {
        let bytes = hex::decode(s.trim()).map_err(|_| {
            Error::invalid_id(
                "agency key id",
                "must be 64 hex digits (an Ed25519 public key)",
            )
        })?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::invalid_id("agency key id", "must be 32 bytes (64 hex digits)"))?;
        ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map_err(|_| Error::invalid_id("agency key id", "not a valid Ed25519 public key"))
    }
    /// The public key this id names (always valid: checked on construction).
    pub fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey> {
        Self::decode(&self.0)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// A short form for logs and tables.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}
impl TryFrom<String> for AgencyId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        AgencyId::parse(&s)
    }
}
impl From<AgencyId> for String {
    fn from(a: AgencyId) -> String {
        a.0
    }
}
impl fmt::Debug for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgencyId({})", self.short())
    }
}
impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An agency (one jikimi node) as known to another: its key id, name, country and endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    pub id: AgencyId,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Base URL of its federation endpoint, e.g. `http://127.0.0.1:8701`.
    pub endpoint: Option<String>,
}

/// Crime categories agreements are scoped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseCategory {
    Scam,
    HumanTrafficking,
    MoneyLaundering,
    Csam,
    Drugs,
    Cybercrime,
    Other,
}

impl CaseCategory {
    pub const ALL: [CaseCategory; 7] = [
        CaseCategory::Scam,
        CaseCategory::HumanTrafficking,
        CaseCategory::MoneyLaundering,
        CaseCategory::Csam,
        CaseCategory::Drugs,
        CaseCategory::Cybercrime,
        CaseCategory::Other,
    ];
}

impl std::str::FromStr for CaseCategory {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        serde_json::from_value(serde_json::Value::String(s.replace('-', "_").to_ascii_lowercase()))
            .map_err(|_| Error::invalid("case category", "expected scam, human_trafficking, money_laundering, csam, drugs, cybercrime or other"))
    }
}

/// The classes of field an agreement can allow. Title, category, marks and ids always travel
/// with a record an agreement covers; everything else must be allowed by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldClass {
    Summary,
    Person,
    Phone,
    BankAccount,
    CryptoWallet,
    Website,
    Company,
    Event,
    Attachment,
}

impl FieldClass {
    pub const ALL: [FieldClass; 9] = [
        FieldClass::Summary,
        FieldClass::Person,
        FieldClass::Phone,
        FieldClass::BankAccount,
        FieldClass::CryptoWallet,
        FieldClass::Website,
        FieldClass::Company,
        FieldClass::Event,
        FieldClass::Attachment,
    ];
    /// Fields that identify a natural person (GDPR/LED personal data in the narrow sense).
    pub fn is_personal(self) -> bool {
        matches!(
            self,
            FieldClass::Person | FieldClass::Phone | FieldClass::BankAccount
        )
    }
    pub fn all_non_personal() -> BTreeSet<FieldClass> {
        FieldClass::ALL
            .into_iter()
            .filter(|f| !f.is_personal())
            .collect()
    }
}

impl std::str::FromStr for FieldClass {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        serde_json::from_value(serde_json::Value::String(s.replace('-', "_").to_ascii_lowercase()))
            .map_err(|_| Error::invalid("field class", "expected summary, person, phone, bank_account, crypto_wallet, website, company, event or attachment"))
    }
}

/// A sharing agreement between two (bilateral) or more (multilateral) agencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub id: Uuid,
    pub title: String,
    pub parties: BTreeSet<AgencyId>,
    pub categories: BTreeSet<CaseCategory>,
    pub fields: BTreeSet<FieldClass>,
    /// Records marked more restrictively than this are not shared under the agreement.
    pub max_tlp: Tlp,
    /// Marks every disclosure under this agreement at least this strictly.
    pub floor: Marking,
    /// The purpose the data may be used for (purpose limitation), stated in every disclosure.
    pub purpose: String,
    pub valid_from: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether a recipient may pass records received under this agreement to a third party
    /// that is covered by an agreement including the originator.
    pub onward_sharing: bool,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether and how parties may send each other freeze and confiscation requests (absent: they may not).
    /// Absent from the encoding when unset, so agreements stored before the field existed read the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<crate::freeze::FreezeTerms>,
}

impl Agreement {
    pub fn is_bilateral(&self) -> bool {
        self.parties.len() == 2
    }
    /// Active means: started, not expired, not revoked (at `now`).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now >= self.valid_from && now < self.expires_at && self.revoked_at.is_none_or(|r| now < r)
    }
    pub fn validate(&self) -> Result<()> {
        if self.parties.len() < 2 {
            return Err(Error::invalid("agreement", "needs at least two parties"));
        }
        if self.categories.is_empty() {
            return Err(Error::invalid(
                "agreement",
                "needs at least one case category",
            ));
        }
        if self.expires_at <= self.valid_from {
            return Err(Error::invalid("agreement", "expires before it starts"));
        }
        if self.purpose.trim().is_empty() {
            return Err(Error::invalid("agreement", "needs a purpose"));
        }
        Ok(())
    }
}

/// A place: a name and/or coordinates (WGS84) and a country.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub name: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub country: Option<String>,
}

/// Something that happened, at a time and place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub place: Option<Place>,
    pub description: String,
}

/// A file referenced by its SHA-256 digest; the bytes are never federated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub sha256: Sha256Hex,
    pub media_type: String,
    pub size_bytes: u64,
    pub name: Option<String>,
}

/// An entity in a case or lead. Every entity has its own UUID so relationships (and STIX ids)
/// stay stable across agencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entity {
    Person {
        id: Uuid,
        name: String,
        nationality: Option<String>,
        born: Option<chrono::NaiveDate>,
        /// Passport or travel document number (absent from the encoding when unknown, so records signed
        /// before the field existed keep their signatures).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passport: Option<String>,
        /// Flagged for border control by the agency that owns the record: receiving nodes put the person on
        /// their border watchlist.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        border_control: bool,
    },
    Phone {
        id: Uuid,
        number: PhoneE164,
    },
    BankAccount {
        id: Uuid,
        bank: Option<String>,
        country: Option<String>,
        account: AccountNumber,
    },
    Iban {
        id: Uuid,
        iban: Iban,
    },
    CryptoWallet {
        id: Uuid,
        wallet: Wallet,
    },
    Website {
        id: Uuid,
        domain: Domain,
    },
    Company {
        id: Uuid,
        name: String,
        country: Option<String>,
        registration: Option<String>,
    },
}

impl Entity {
    pub fn id(&self) -> Uuid {
        match self {
            Entity::Person { id, .. }
            | Entity::Phone { id, .. }
            | Entity::BankAccount { id, .. }
            | Entity::Iban { id, .. }
            | Entity::CryptoWallet { id, .. }
            | Entity::Website { id, .. }
            | Entity::Company { id, .. } => *id,
        }
    }
    pub fn field_class(&self) -> FieldClass {
        match self {
            Entity::Person { .. } => FieldClass::Person,
            Entity::Phone { .. } => FieldClass::Phone,
            Entity::BankAccount { .. } | Entity::Iban { .. } => FieldClass::BankAccount,
            Entity::CryptoWallet { .. } => FieldClass::CryptoWallet,
            Entity::Website { .. } => FieldClass::Website,
            Entity::Company { .. } => FieldClass::Company,
        }
    }
    /// Parses `kind=value` as typed on the command line (`phone=+8210...`, `iban=...`,
    /// `wallet=0x...`, `website=...`, `person=Name`, `company=Name`, `account=...`). A person may
    /// carry `;born=YYYY-MM-DD`, `;nationality=KR`, `;passport=M123...` and `;border` (flag for
    /// border control): `person=Lee Min-jun;born=1990-03-04;passport=M12345678;border`.
    pub fn parse_spec(spec: &str, default_region: Option<&str>) -> Result<Entity> {
        let (kind, value) = spec
            .split_once('=')
            .ok_or_else(|| Error::invalid("entity", "expected kind=value"))?;
        let id = Uuid::new_v4();
        Ok(match kind {
            "person" => parse_person(id, value)?,
            "phone" => Entity::Phone {
                id,
                number: PhoneE164::parse(value, default_region)?,
            },
            "account" => Entity::BankAccount {
                id,
                bank: None,
                country: None,
                account: AccountNumber::parse(value)?,
            },
            "iban" => Entity::Iban {
                id,
                iban: Iban::parse(value)?,
            },
            "wallet" => Entity::CryptoWallet {
                id,
                wallet: Wallet::detect(value)?,
            },
            "website" | "domain" => Entity::Website {
                id,
                domain: Domain::parse(value)?,
            },
            "company" => Entity::Company {
                id,
                name: value.to_string(),
                country: None,
                registration: None,
            },
            _ => {
                return Err(Error::invalid(
                    "entity",
                    "kind must be person, phone, account, iban, wallet, website or company",
                ));
            }
        })
    }
}

fn parse_person(id: Uuid, spec: &str) -> Result<Entity> {
    let mut parts = spec.split(';');
    let name = parts.next().unwrap_or_default().trim().to_string();
    let (mut nationality, mut born, mut passport, mut border_control) = (None, None, None, false);
    for part in parts {
        match part.trim().split_once('=') {
            Some(("born", v)) => {
                born = Some(
                    chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                        .map_err(|_| Error::invalid("person", "born must be YYYY-MM-DD"))?,
                );
            }
            Some(("nationality", v)) => nationality = Some(v.trim().to_string()),
            Some(("passport", v)) => passport = Some(v.trim().to_string()),
            None if part.trim() == "border" => border_control = true,
            _ => {
                return Err(Error::invalid(
                    "person",
                    "after the name expected ;born=, ;nationality=, ;passport= or ;border",
                ));
            }
        }
    }
    Ok(Entity::Person {
        id,
        name,
        nationality,
        born,
        passport,
        border_control,
    })
}

/// What a record carries: a case, a lead, or a control record that acts on another record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordBody {
    Case(Content),
    Lead(LeadContent),
    /// The owner withdrew `target` (and everything of theirs attached to it): delete it everywhere.
    Withdrawal {
        target: Uuid,
        reason: String,
    },
    /// The owner narrowed `target`: drop `remove_fields` and mark at least `marking`, everywhere.
    Restriction {
        target: Uuid,
        remove_fields: BTreeSet<FieldClass>,
        marking: Marking,
    },
}

/// The shareable content of a case or lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Content {
    pub title: String,
    pub summary: Option<String>,
    pub entities: Vec<Entity>,
    pub events: Vec<Event>,
    pub attachments: Vec<Attachment>,
}

impl Content {
    /// The field classes present.
    pub fn field_classes(&self) -> BTreeSet<FieldClass> {
        let mut s: BTreeSet<FieldClass> = self.entities.iter().map(Entity::field_class).collect();
        if self.summary.is_some() {
            s.insert(FieldClass::Summary);
        }
        if !self.events.is_empty() {
            s.insert(FieldClass::Event);
        }
        if !self.attachments.is_empty() {
            s.insert(FieldClass::Attachment);
        }
        s
    }
    /// Keeps only the field classes in `allowed`; returns the classes removed.
    pub fn redact(&mut self, allowed: &BTreeSet<FieldClass>) -> BTreeSet<FieldClass> {
        let before = self.field_classes();
        if !allowed.contains(&FieldClass::Summary) {
            self.summary = None;
        }
        self.entities.retain(|e| allowed.contains(&e.field_class()));
        if !allowed.contains(&FieldClass::Event) {
            self.events.clear();
        }
        if !allowed.contains(&FieldClass::Attachment) {
            self.attachments.clear();
        }
        before.difference(&self.field_classes()).copied().collect()
    }
}

/// A lead: new information on a case, possibly from another agency than the case's owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadContent {
    pub case_id: Uuid,
    #[serde(flatten)]
    pub content: Content,
}

/// The unit of federation: identified by UUID, versioned by its origin, marked, categorised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: Uuid,
    /// Bumped by the origin on every change; receivers keep only the highest.
    pub version: u64,
    /// The agency that created the record and alone may change, restrict or withdraw it.
    pub origin: AgencyId,
    pub category: CaseCategory,
    pub marking: Marking,
    pub updated_at: DateTime<Utc>,
    /// Field classes removed by policy on the way here (so the receiver knows it has a part).
    #[serde(default)]
    pub redacted: BTreeSet<FieldClass>,
    pub body: RecordBody,
}

impl Record {
    pub fn content(&self) -> Option<&Content> {
        match &self.body {
            RecordBody::Case(c) => Some(c),
            RecordBody::Lead(l) => Some(&l.content),
            _ => None,
        }
    }
    pub fn content_mut(&mut self) -> Option<&mut Content> {
        match &mut self.body {
            RecordBody::Case(c) => Some(c),
            RecordBody::Lead(l) => Some(&mut l.content),
            _ => None,
        }
    }
    /// For control records, the record they act on.
    pub fn target(&self) -> Option<Uuid> {
        match &self.body {
            RecordBody::Withdrawal { target, .. } | RecordBody::Restriction { target, .. } => {
                Some(*target)
            }
            _ => None,
        }
    }
    /// The case this record belongs to (itself for a case).
    pub fn case_id(&self) -> Option<Uuid> {
        match &self.body {
            RecordBody::Case(_) => Some(self.id),
            RecordBody::Lead(l) => Some(l.case_id),
            _ => None,
        }
    }
    pub fn kind(&self) -> &'static str {
        match &self.body {
            RecordBody::Case(_) => "case",
            RecordBody::Lead(_) => "lead",
            RecordBody::Withdrawal { .. } => "withdrawal",
            RecordBody::Restriction { .. } => "restriction",
        }
    }
    pub fn is_control(&self) -> bool {
        self.target().is_some()
    }
}

/// How a record came to this node: created here, or received from a peer under an agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub received_from: Option<AgencyId>,
    pub received_under: Option<Uuid>,
}

impl Provenance {
    pub fn local() -> Self {
        Provenance {
            received_from: None,
            received_under: None,
        }
    }
}

/// Court bundle check: may this node put `record` into evidence for a court?
/// H1-H3 need the provider's permission, which the node does not have on file.
pub fn court_export_allowed(record: &Record, me: &AgencyId) -> Result<()> {
    if &record.origin == me {
        return Ok(());
    }
    if !record.marking.handling.allows_court() {
        return Err(Error::Denied(format!(
            "record {} is marked {:?}: it may not be used in court without the provider's permission",
            record.id, record.marking.handling
        )));
    }
    Ok(())
}
