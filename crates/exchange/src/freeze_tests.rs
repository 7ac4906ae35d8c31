//! Unit tests of the freeze core: jurisdiction, the receiver's check, the status timeline, exact amounts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cloned_ref_to_slice_refs
)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, TimeZone as _, Utc};
use ed25519_dalek::SigningKey;

use super::*;
use crate::domain::CaseCategory;
use crate::marking::{Marking, Tlp};

const IBAN_DE: &str = "DE89370400440532013000";

fn agency(seed: u8, country: &str) -> (Agency, SigningKey) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    (
        Agency {
            id: AgencyId::from_key(&key.verifying_key()),
            name: format!("agency {seed}"),
            country: country.into(),
            endpoint: None,
        },
        key,
    )
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

fn agreement(parties: &[&AgencyId], terms: Option<FreezeTerms>) -> Agreement {
    Agreement {
        id: Uuid::from_u128(7),
        title: "t".into(),
        parties: parties.iter().map(|p| (*p).clone()).collect(),
        categories: BTreeSet::from([CaseCategory::Scam]),
        fields: BTreeSet::new(),
        max_tlp: Tlp::Amber,
        floor: Marking::default(),
        purpose: "p".into(),
        valid_from: now() - Duration::days(1),
        expires_at: now() + Duration::days(100),
        onward_sharing: false,
        revoked_at: None,
        freeze: terms,
    }
}

fn terms() -> FreezeTerms {
    FreezeTerms {
        legal_basis: "MLAT art. 18".into(),
        kinds: BTreeSet::from([FreezeKind::Freeze]),
        jurisdictions: BTreeMap::new(),
    }
}

fn amount(units: u128) -> Amount {
    Amount {
        minor_units: units,
        currency: "EUR".into(),
        decimals: 2,
    }
}

fn request(a: &Agency, b: &Agency, account: AccountRef) -> FreezeRequest {
    FreezeRequest {
        protocol: PROTOCOL.into(),
        id: Uuid::from_u128(1),
        kind: FreezeKind::Freeze,
        requester: a.id.clone(),
        recipient: b.id.clone(),
        agreement: Uuid::from_u128(7),
        legal_basis: "MLAT art. 18".into(),
        account,
        amount: amount(100_000),
        evidence: Evidence::from_summary(serde_json::json!({"hops": 3, "reached": "x"}), None)
            .unwrap(),
        case_id: Uuid::from_u128(9),
        deadline: now() + Duration::days(3),
        issued_at: now(),
    }
}

fn iban() -> AccountRef {
    AccountRef::parse_spec(&format!("iban={IBAN_DE}")).unwrap()
}

#[test]
fn jurisdiction_follows_the_iban_country_then_the_agreement_mapping() {
    let (a, _) = agency(1, "KR");
    let (b, _) = agency(2, "DE");
    let (c, _) = agency(3, "SG");
    let ag = [agreement(&[&a.id, &b.id, &c.id], Some(terms()))];
    let peers = [b.clone(), c.clone()];
    let (to, _) =
        resolve_jurisdiction(&iban(), FreezeKind::Freeze, &a.id, &peers, &ag, now()).unwrap();
    assert_eq!(to, b.id);
    // A wallet at an exchange: its registered country, or the agreement's mapping of the exchange's name.
    let wallet =
        AccountRef::parse_spec("wallet=0x52908400098527886E0F7030069857D2E4169EE7@Upbit:SG")
            .unwrap();
    let (to, _) =
        resolve_jurisdiction(&wallet, FreezeKind::Freeze, &a.id, &peers, &ag, now()).unwrap();
    assert_eq!(to, c.id);
    let mut mapped = terms();
    mapped.jurisdictions.insert("upbit".into(), b.id.clone());
    let ag_mapped = [agreement(&[&a.id, &b.id, &c.id], Some(mapped))];
    let (to, _) = resolve_jurisdiction(
        &wallet,
        FreezeKind::Freeze,
        &a.id,
        &peers,
        &ag_mapped,
        now(),
    )
    .unwrap();
    assert_eq!(to, b.id);
}

#[test]
fn no_jurisdiction_is_a_clear_error() {
    let (a, _) = agency(1, "KR");
    let (b, _) = agency(2, "TH");
    let ag = [agreement(&[&a.id, &b.id], Some(terms()))];
    let e = resolve_jurisdiction(&iban(), FreezeKind::Freeze, &a.id, &[b.clone()], &ag, now())
        .unwrap_err();
    assert!(
        e.to_string().contains("no partner agency of country DE"),
        "{e}"
    );
    // An agreement without freeze terms, or not for this kind, permits nothing.
    let (de, _) = agency(4, "DE");
    let plain = [agreement(&[&a.id, &de.id], None)];
    assert!(
        resolve_jurisdiction(
            &iban(),
            FreezeKind::Freeze,
            &a.id,
            &[de.clone()],
            &plain,
            now()
        )
        .is_err()
    );
    let ag = [agreement(&[&a.id, &de.id], Some(terms()))];
    assert!(
        resolve_jurisdiction(&iban(), FreezeKind::Confiscation, &a.id, &[de], &ag, now()).is_err()
    );
    let bare = AccountRef::parse_spec("wallet=0x52908400098527886E0F7030069857D2E4169EE7").unwrap();
    let e = resolve_jurisdiction(&bare, FreezeKind::Freeze, &a.id, &[], &ag, now()).unwrap_err();
    assert!(e.to_string().contains("registered country"), "{e}");
}

#[test]
fn the_receiver_checks_agreement_basis_evidence_and_jurisdiction() {
    let (a, _) = agency(1, "KR");
    let (b, _) = agency(2, "DE");
    let ag = [agreement(&[&a.id, &b.id], Some(terms()))];
    let req = request(&a, &b, iban());
    assert_eq!(check_request(&b, &[a.clone()], &ag, now(), &req), Ok(()));
    let mut other = req.clone();
    other.legal_basis = "something else".into();
    assert_eq!(
        check_request(&b, &[a.clone()], &ag, now(), &other),
        Err(Rejection::FreezeNotPermitted)
    );
    let mut tampered = req.clone();
    tampered.evidence.summary = serde_json::json!({"hops": 4, "reached": "x"});
    assert_eq!(
        check_request(&b, &[a.clone()], &ag, now(), &tampered),
        Err(Rejection::EvidenceMismatch)
    );
    let elsewhere = request(
        &a,
        &b,
        AccountRef::parse_spec("account=TH:110-123-456789").unwrap(),
    );
    assert_eq!(
        check_request(&b, &[a.clone()], &ag, now(), &elsewhere),
        Err(Rejection::NotOurJurisdiction)
    );
    assert_eq!(
        check_request(&b, &[a.clone()], &ag, now() + Duration::days(200), &req),
        Err(Rejection::AgreementInactive)
    );
    let (c, _) = agency(3, "DE");
    assert_eq!(
        check_request(&c, &[a.clone()], &ag, now(), &req),
        Err(Rejection::WrongRecipient)
    );
}

fn status(req: &FreezeRequest, seq: u64, state: FreezeState) -> (FreezeStatus, Sha256Hex) {
    let s = FreezeStatus {
        protocol: PROTOCOL.into(),
        request: req.id,
        seq,
        issuer: req.recipient.clone(),
        requester: req.requester.clone(),
        at: now(),
        state,
    };
    let d = Sha256Hex::of(&canonical(&s).unwrap());
    (s, d)
}

#[test]
fn statuses_are_ordered_idempotent_and_follow_the_lifecycle() {
    let (a, _) = agency(1, "KR");
    let (b, key_b) = agency(2, "DE");
    let req = request(&a, &b, iban());
    let mut held: Vec<(FreezeStatus, Sha256Hex)> = Vec::new();
    let steps = [
        FreezeState::Received,
        FreezeState::Frozen {
            amount: amount(40_000),
        },
        FreezeState::Released {
            reason: "court order lapsed".into(),
        },
    ];
    for (i, state) in steps.into_iter().enumerate() {
        let (s, d) = status(&req, i as u64 + 1, state);
        assert_eq!(
            check_status(&req, &held, &s, &d).unwrap(),
            StatusVerdict::Next
        );
        // A replay of the same status is harmless.
        held.push((s.clone(), d.clone()));
        assert_eq!(
            check_status(&req, &held, &s, &d).unwrap(),
            StatusVerdict::Duplicate
        );
    }
    // Nothing follows a release; a differing status under a taken number is refused.
    let (late, d) = status(&req, 4, FreezeState::Refused { reason: "x".into() });
    assert!(check_status(&req, &held, &late, &d).is_err());
    let (clash, d) = status(&req, 2, FreezeState::Refused { reason: "x".into() });
    assert!(check_status(&req, &held, &clash, &d).is_err());
    // Out of order, or frozen before received, is refused.
    let (s, d) = status(&req, 2, FreezeState::Received);
    assert!(check_status(&req, &[], &s, &d).is_err());
    let (s, d) = status(&req, 1, FreezeState::Frozen { amount: amount(1) });
    assert!(check_status(&req, &[], &s, &d).is_err());
    // Only the recipient issues statuses.
    let (mut s, d) = status(&req, 1, FreezeState::Received);
    s.issuer = a.id.clone();
    assert!(matches!(
        check_status(&req, &[], &s, &d),
        Err(Error::Denied(_))
    ));
    // Signed by the recipient, the status verifies with its key only.
    let (s, _) = status(&req, 1, FreezeState::Received);
    let signed = Signed::sign(s, &key_b).unwrap();
    assert!(signed.verify(&b.id).is_ok());
    assert_eq!(signed.verify(&a.id), Err(Rejection::BadSignature));
}

#[test]
fn amounts_are_exact_beyond_double_precision() {
    let big = Amount {
        minor_units: 123_456_789_012_345_678_901_234_567u128,
        currency: "ETH".into(),
        decimals: 18,
    };
    let text = String::from_utf8(canonical(&big).unwrap()).unwrap();
    assert!(text.contains("\"123456789012345678901234567\""), "{text}");
    let back: Amount = serde_json::from_str(&text).unwrap();
    assert_eq!(back, big);
    assert!(
        serde_json::from_str::<Amount>(r#"{"minor_units":"-1","currency":"EUR","decimals":2}"#)
            .is_err()
    );
    assert!(amount(0).validate().is_err());
    assert!(
        Amount {
            currency: "eur".into(),
            ..amount(1)
        }
        .validate()
        .is_err()
    );
}
