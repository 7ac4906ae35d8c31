//! Linkage over the entities of shared cases (own and received): which persons, phones, accounts and wallets
//! named by different agencies are the same, and which persons the border watchlist holds.
//!
//! The case store hands over plain [`SharedCase`]s (the federation's adapter builds them); this module links
//! their entities and returns [`EntityLinkProposal`]s with evidence, applying analysts' [`Decision`]s so that a
//! rejected pair is never proposed again and a confirmed pair is always kept. Persistence and audit are the
//! caller's (the store keeps links and decisions; the server audits who decided).
//!
//! - Phones, accounts and wallets are linked when they agree exactly after normalisation (E.164, IBAN or
//!   account digits, wallet address): the evidence names the normalisation, never the value.
//! - Persons are scored with the watchlist's fixed Fellegi-Sunter weights ([`crate::watchlist`]): a few
//!   hundred persons from shared cases are too few for EM and there are no labelled pairs, while the fixed
//!   weights were read off EM on the Korean-name sample. Names fold Korean romanisation variants; dates allow
//!   day/month swaps; passport numbers are exact identifiers.
//!
//! Nationality is a border-control input only: it is carried to the watchlist ([`watchlist_persons`]) and
//! never compared when linking entities, nor used in any analytics.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::engine::{Decision, Verdict};
use crate::ident;
use crate::model;
use crate::watchlist::{Query, Watchlist, WatchlistPerson, split_full_name};

/// A person named in a shared case.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SharedPerson {
    /// The entity's id in the case store (stable across agencies).
    pub id: String,
    /// The full name as written ("Lee Min-jun", "RHEE MIN JUN", "이민준").
    pub name: String,
    /// `YYYY-MM-DD` or a partial date.
    pub date_of_birth: Option<String>,
    /// ISO 3166 code; for the border watchlist only.
    pub nationality: Option<String>,
    /// Passport or travel document number.
    pub passport_no: Option<String>,
    /// Flagged for border control by the agency that owns the case.
    pub border_control: bool,
}

impl std::fmt::Debug for SharedPerson {
    // Personal data never reaches a log through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPerson")
            .field("id", &self.id)
            .field("border_control", &self.border_control)
            .finish_non_exhaustive()
    }
}

/// What kind of identifier an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Phone,
    /// A bank account number or an IBAN.
    Account,
    Wallet,
}

impl IdentifierKind {
    /// The wire string, also the link kind.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Phone => "phone",
            IdentifierKind::Account => "account",
            IdentifierKind::Wallet => "wallet",
        }
    }
}

/// A phone, account or wallet named in a shared case.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedIdentifier {
    /// The entity's id in the case store.
    pub id: String,
    pub kind: IdentifierKind,
    /// As written (already E.164 for phones from the federation).
    pub value: String,
}

impl std::fmt::Debug for SharedIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedIdentifier")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A case or lead of the case store, own or received, with the entities it names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SharedCase {
    /// The record's id.
    pub case_ref: String,
    /// The originating agency's id.
    pub agency: String,
    /// True if received from another agency.
    pub received: bool,
    pub persons: Vec<SharedPerson>,
    pub identifiers: Vec<SharedIdentifier>,
}

/// One field's part in a link's weight (no values, so the evidence may be shown to analysts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkEvidence {
    pub field: String,
    pub level: String,
    pub weight: f64,
}

/// A link between two entities found (or confirmed) by a run. `left_id < right_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityLinkProposal {
    /// `person`, `phone`, `account` or `wallet`.
    pub kind: String,
    pub left_id: String,
    pub right_id: String,
    /// Match weight in bits.
    pub weight: f64,
    /// Match probability.
    pub probability: f64,
    pub evidence: Vec<LinkEvidence>,
    /// The cases naming either entity.
    pub cases: Vec<String>,
}

/// Tuning of a run.
#[derive(Debug, Clone, Copy)]
pub struct SharedLinkOptions {
    /// Minimum person match weight (bits) for a link; 10 bits is strong evidence with the watchlist weights
    /// (a rare name in full, or a common name and the date of birth).
    pub min_person_weight: f64,
    /// At most this many candidates are scored per person.
    pub max_candidates: usize,
}

impl Default for SharedLinkOptions {
    fn default() -> Self {
        SharedLinkOptions {
            min_person_weight: 10.0,
            max_candidates: 50,
        }
    }
}

/// The border watchlist's persons: every person flagged for border control in any shared case, once per
/// entity id (the first mention with the most fields wins).
pub fn watchlist_persons(cases: &[SharedCase]) -> Vec<WatchlistPerson> {
    let mut by_id: BTreeMap<&str, WatchlistPerson> = BTreeMap::new();
    for person in cases
        .iter()
        .flat_map(|c| &c.persons)
        .filter(|p| p.border_control)
    {
        let candidate = watchlist_person(person, true);
        let filled = |p: &WatchlistPerson| {
            [&p.date_of_birth, &p.nationality, &p.passport_no]
                .iter()
                .filter(|v| !v.is_empty())
                .count()
        };
        match by_id.get(person.id.as_str()) {
            Some(existing) if filled(existing) >= filled(&candidate) => {}
            _ => {
                by_id.insert(person.id.as_str(), candidate);
            }
        }
    }
    by_id.into_values().collect()
}

fn watchlist_person(person: &SharedPerson, with_nationality: bool) -> WatchlistPerson {
    let (given_name, surname) = split_full_name(&person.name);
    WatchlistPerson {
        id: person.id.clone(),
        given_name,
        surname,
        date_of_birth: person.date_of_birth.clone().unwrap_or_default(),
        nationality: if with_nationality {
            person.nationality.clone().unwrap_or_default()
        } else {
            String::new()
        },
        passport_no: person.passport_no.clone().unwrap_or_default(),
    }
}

/// Normalised key of an identifier, so that spellings of one number meet.
pub fn identifier_key(kind: IdentifierKind, value: &str) -> Option<(String, &'static str)> {
    match kind {
        IdentifierKind::Phone => ident::phone_e164(value, jikimi_ident::Region::KR)
            .map(|v| (v, "exact after E.164 normalisation")),
        IdentifierKind::Account => ident::iban(value)
            .map(|v| (v, "exact after IBAN normalisation"))
            .or_else(|| ident::account(value).map(|v| (v, "exact account digits"))),
        IdentifierKind::Wallet => {
            ident::wallet(value).map(|v| (v, "exact after wallet address normalisation"))
        }
    }
}

/// Weight of an exact identifier agreement (bits): the watchlist's weight for an exact passport number.
const IDENTIFIER_WEIGHT: f64 = 16.0;

/// Link the entities of shared cases; decisions are applied (rejected pairs dropped, confirmed pairs kept
/// even if no longer scored). The result is ordered by kind, then ids.
pub fn link_shared_entities(
    cases: &[SharedCase],
    decisions: &[(String, Decision)],
    options: &SharedLinkOptions,
) -> Vec<EntityLinkProposal> {
    let mut cases_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for case in cases {
        for id in case
            .persons
            .iter()
            .map(|p| p.id.as_str())
            .chain(case.identifiers.iter().map(|i| i.id.as_str()))
        {
            cases_of
                .entry(id)
                .or_default()
                .insert(case.case_ref.as_str());
        }
    }
    let mut out: BTreeMap<(String, String, String), EntityLinkProposal> = BTreeMap::new();
    let add = |out: &mut BTreeMap<(String, String, String), EntityLinkProposal>,
               kind: &str,
               a: &str,
               b: &str,
               weight: f64,
               evidence: Vec<LinkEvidence>| {
        if a == b {
            return;
        }
        let (left, right) = if a < b { (a, b) } else { (b, a) };
        let key = (kind.to_string(), left.to_string(), right.to_string());
        if out.get(&key).is_some_and(|l| l.weight >= weight) {
            return;
        }
        let cases: BTreeSet<&str> = [left, right]
            .iter()
            .flat_map(|id| cases_of.get(id).into_iter().flatten().copied())
            .collect();
        out.insert(
            key,
            EntityLinkProposal {
                kind: kind.to_string(),
                left_id: left.to_string(),
                right_id: right.to_string(),
                weight,
                probability: model::probability(weight),
                evidence,
                cases: cases.into_iter().map(str::to_string).collect(),
            },
        );
    };

    // Identifiers: a star from the first entity of each normalised value to the others (n - 1 links, not
    // n(n - 1)/2; the components are the same).
    let mut by_key: BTreeMap<(IdentifierKind, String), (Vec<&str>, &'static str)> = BTreeMap::new();
    for identifier in cases.iter().flat_map(|c| &c.identifiers) {
        if let Some((key, how)) = identifier_key(identifier.kind, &identifier.value) {
            let entry = by_key
                .entry((identifier.kind, key))
                .or_insert((Vec::new(), how));
            if !entry.0.contains(&identifier.id.as_str()) {
                entry.0.push(identifier.id.as_str());
            }
        }
    }
    for ((kind, _), (ids, how)) in &by_key {
        let mut ids = ids.clone();
        ids.sort_unstable();
        for other in &ids[1.min(ids.len())..] {
            let evidence = vec![LinkEvidence {
                field: kind.as_str().to_string(),
                level: (*how).to_string(),
                weight: IDENTIFIER_WEIGHT,
            }];
            add(
                &mut out,
                kind.as_str(),
                ids[0],
                other,
                IDENTIFIER_WEIGHT,
                evidence,
            );
        }
    }

    // Persons: every person is checked against an index of all persons (nationality left out).
    let mut persons: BTreeMap<&str, WatchlistPerson> = BTreeMap::new();
    for person in cases.iter().flat_map(|c| &c.persons) {
        persons
            .entry(person.id.as_str())
            .or_insert_with(|| watchlist_person(person, false));
    }
    let list: Vec<WatchlistPerson> = persons.into_values().collect();
    let index = Watchlist::new(&list);
    for person in &list {
        let query = Query {
            given_name: Some(person.given_name.clone()),
            surname: Some(person.surname.clone()),
            date_of_birth: Some(person.date_of_birth.clone()),
            nationality: None,
            passport_no: Some(person.passport_no.clone()),
        };
        for candidate in index.check(&query, options.max_candidates, options.min_person_weight) {
            let evidence = candidate
                .evidence
                .iter()
                .map(|e| LinkEvidence {
                    field: e.field.clone(),
                    level: e.level.clone(),
                    weight: e.weight,
                })
                .collect();
            add(
                &mut out,
                "person",
                &person.id,
                &candidate.id,
                candidate.score,
                evidence,
            );
        }
    }

    // Decisions: the analyst's word over the score.
    for (kind, decision) in decisions {
        let (a, b) = (decision.left_id.as_str(), decision.right_id.as_str());
        let (left, right) = if a < b { (a, b) } else { (b, a) };
        let key = (kind.clone(), left.to_string(), right.to_string());
        match decision.verdict {
            Verdict::Rejected => {
                out.remove(&key);
            }
            Verdict::Confirmed if !out.contains_key(&key) && left != right => {
                let evidence = vec![LinkEvidence {
                    field: "analyst".into(),
                    level: "confirmed".into(),
                    weight: 64.0,
                }];
                add(&mut out, kind, left, right, 64.0, evidence);
            }
            Verdict::Confirmed => {}
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, name: &str, dob: &str) -> SharedPerson {
        SharedPerson {
            id: id.into(),
            name: name.into(),
            date_of_birth: Some(dob.into()),
            ..SharedPerson::default()
        }
    }

    fn identifier(id: &str, kind: IdentifierKind, value: &str) -> SharedIdentifier {
        SharedIdentifier {
            id: id.into(),
            kind,
            value: value.into(),
        }
    }

    fn cases() -> Vec<SharedCase> {
        vec![
            SharedCase {
                case_ref: "case-kr".into(),
                agency: "knpa".into(),
                received: false,
                persons: vec![
                    person("p1", "Lee Min-jun", "1990-03-04"),
                    person("p4", "Kim Seo-yeon", "1988-11-02"),
                ],
                identifiers: vec![
                    identifier("ph1", IdentifierKind::Phone, "010-1234-5678"),
                    identifier("ac1", IdentifierKind::Account, "110-234-567890"),
                ],
            },
            SharedCase {
                case_ref: "case-kh".into(),
                agency: "khm".into(),
                received: true,
                persons: vec![SharedPerson {
                    nationality: Some("KOR".into()),
                    border_control: true,
                    passport_no: Some("M12345678".into()),
                    ..person("p2", "RHEE MIN JUN", "1990-04-03")
                }],
                identifiers: vec![
                    identifier("ph2", IdentifierKind::Phone, "+82 10 1234 5678"),
                    identifier("ac2", IdentifierKind::Account, "110234567890"),
                    identifier("ph3", IdentifierKind::Phone, "+63 917 555 0101"),
                ],
            },
            SharedCase {
                case_ref: "case-ph".into(),
                agency: "pnp".into(),
                received: true,
                persons: vec![person("p3", "Park Ji-ho", "1975-01-01")],
                identifiers: vec![identifier(
                    "ph4",
                    IdentifierKind::Phone,
                    "(+82) 10-1234-5678",
                )],
            },
        ]
    }

    fn pairs(links: &[EntityLinkProposal]) -> Vec<(&str, &str, &str)> {
        links
            .iter()
            .map(|l| (l.kind.as_str(), l.left_id.as_str(), l.right_id.as_str()))
            .collect()
    }

    #[test]
    fn romanisation_variants_and_identifier_spellings_are_linked() {
        let links = link_shared_entities(&cases(), &[], &SharedLinkOptions::default());
        assert_eq!(
            pairs(&links),
            [
                ("account", "ac1", "ac2"),
                ("person", "p1", "p2"),
                ("phone", "ph1", "ph2"),
                ("phone", "ph1", "ph4"),
            ]
        );
        let person = &links[1];
        assert!(person.weight >= 10.0, "{person:?}");
        assert!(person.evidence.iter().all(|e| e.field != "nationality"));
        assert_eq!(person.cases, ["case-kh", "case-kr"]);
    }

    #[test]
    fn decisions_override_scores() {
        let decisions = vec![
            (
                "person".to_string(),
                Decision {
                    left_id: "p2".into(),
                    right_id: "p1".into(),
                    verdict: Verdict::Rejected,
                },
            ),
            (
                "person".to_string(),
                Decision {
                    left_id: "p3".into(),
                    right_id: "p4".into(),
                    verdict: Verdict::Confirmed,
                },
            ),
        ];
        let links = link_shared_entities(&cases(), &decisions, &SharedLinkOptions::default());
        let persons: Vec<_> = pairs(&links)
            .into_iter()
            .filter(|(kind, _, _)| *kind == "person")
            .collect();
        assert_eq!(persons, [("person", "p3", "p4")]);
    }

    #[test]
    fn watchlist_holds_flagged_persons_only_with_nationality() {
        let persons = watchlist_persons(&cases());
        assert_eq!(persons.len(), 1);
        assert_eq!(persons[0].id, "p2");
        assert_eq!(persons[0].surname, "RHEE");
        assert_eq!(persons[0].nationality, "KOR");
        assert_eq!(persons[0].passport_no, "M12345678");
    }
}
