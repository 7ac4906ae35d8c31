//! Tests of the shared-bank rules: who may offer what to whom, what a receiver takes, the shape of events, the
//! category filter, and that a signature covers every field (a forwarded event cannot be altered on the way).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone as _, Utc};
use ed25519_dalek::SigningKey;

use super::*;
use crate::domain::CaseCategory;
use crate::marking::{Marking, Tlp};
use crate::protocol::PROTOCOL;

struct Agency {
    id: AgencyId,
    key: SigningKey,
}

fn agency(seed: u8) -> Agency {
    let key = SigningKey::from_bytes(&[seed; 32]);
    Agency {
        id: AgencyId::from_key(&key.verifying_key()),
        key,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

const BANK: Uuid = Uuid::from_u128(42);

fn agreement(id: u128, parties: &[&AgencyId], fields: &[FieldClass], onward: bool) -> Agreement {
    Agreement {
        id: Uuid::from_u128(id),
        title: "t".into(),
        parties: parties.iter().map(|p| (*p).clone()).collect(),
        categories: BTreeSet::from([CaseCategory::Csam]),
        fields: fields.iter().copied().collect(),
        max_tlp: Tlp::Amber,
        floor: Marking::default(),
        purpose: "p".into(),
        valid_from: now() - Duration::days(1),
        expires_at: now() + Duration::days(100),
        onward_sharing: onward,
        revoked_at: None,
        freeze: None,
    }
}

fn offer(origin: &AgencyId, from: &AgencyId, to: &AgencyId, agreement: u128) -> BankOffer {
    BankOffer {
        protocol: PROTOCOL.into(),
        bank: BANK,
        origin: origin.clone(),
        name: "known material".into(),
        match_distance: 31,
        category: None,
        from: from.clone(),
        to: to.clone(),
        agreement: Uuid::from_u128(agreement),
        at: now(),
    }
}

fn added(origin: &AgencyId, seq: u64, category: Option<&str>) -> BankEvent {
    BankEvent {
        protocol: PROTOCOL.into(),
        bank: BANK,
        origin: origin.clone(),
        issuer: origin.clone(),
        seq,
        at: now(),
        change: BankChange::Added {
            content: Uuid::from_u128(u128::from(seq)),
            signal_type: "pdq".into(),
            signal: "f".repeat(64),
            category: category.map(str::to_owned),
            series: None,
        },
    }
}

#[test]
fn an_origin_offers_only_under_an_agreement_allowing_hashes() {
    let (a, b) = (agency(1), agency(2));
    let with = [agreement(
        1,
        &[&a.id, &b.id],
        &[FieldClass::Attachment],
        false,
    )];
    let without = [agreement(1, &[&a.id, &b.id], &[FieldClass::Summary], false)];
    let o = offer(&a.id, &a.id, &b.id, 1);
    check_offer_out(&with, &a.id, &o, None, now()).unwrap();
    assert!(matches!(
        check_offer_out(&without, &a.id, &o, None, now()),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        check_offer_out(&with, &a.id, &o, None, now() + Duration::days(200)),
        Err(Error::Denied(_))
    ));
    let unknown = offer(&a.id, &a.id, &b.id, 9);
    assert!(matches!(
        check_offer_out(&with, &a.id, &unknown, None, now()),
        Err(Error::NotFound { .. })
    ));
    let to_self = offer(&a.id, &a.id, &a.id, 1);
    assert!(check_offer_out(&with, &a.id, &to_self, None, now()).is_err());
}

#[test]
fn a_holder_reshares_only_when_its_agreement_permits_onward_sharing() {
    let (a, b, c) = (agency(1), agency(2), agency(3));
    let received = offer(&a.id, &a.id, &b.id, 1);
    let onward = offer(&a.id, &b.id, &c.id, 2);
    let bc = agreement(2, &[&b.id, &c.id], &[FieldClass::Attachment], false);
    let closed = [
        agreement(1, &[&a.id, &b.id], &[FieldClass::Attachment], false),
        bc.clone(),
    ];
    let open = [
        agreement(1, &[&a.id, &b.id], &[FieldClass::Attachment], true),
        bc,
    ];
    assert!(matches!(
        check_offer_out(&closed, &b.id, &onward, Some(&received), now()),
        Err(Error::Denied(_))
    ));
    check_offer_out(&open, &b.id, &onward, Some(&received), now()).unwrap();
    assert!(matches!(
        check_offer_out(&open, &b.id, &onward, None, now()),
        Err(Error::Denied(_))
    ));
    // Back to the origin: never.
    let back = offer(&a.id, &b.id, &a.id, 1);
    assert!(check_offer_out(&open, &b.id, &back, Some(&received), now()).is_err());
    // A category received is the widest that goes on.
    let narrow = BankOffer {
        category: Some("series-x".into()),
        ..received.clone()
    };
    assert!(check_offer_out(&open, &b.id, &onward, Some(&narrow), now()).is_err());
    let same = BankOffer {
        category: Some("series-x".into()),
        ..onward.clone()
    };
    check_offer_out(&open, &b.id, &same, Some(&narrow), now()).unwrap();
}

#[test]
fn a_receiver_takes_an_offer_signed_by_its_sender_under_an_agreement_it_holds() {
    let (a, b, m) = (agency(1), agency(2), agency(9));
    let agreements = [agreement(
        1,
        &[&a.id, &b.id],
        &[FieldClass::Attachment],
        false,
    )];
    let signed = Signed::sign(offer(&a.id, &a.id, &b.id, 1), &a.key).unwrap();
    check_offer_in(&agreements, &b.id, &a.id, &signed, now()).unwrap();
    // Forged by another key, delivered by someone else, addressed to someone else.
    let forged = Signed::sign(offer(&a.id, &a.id, &b.id, 1), &m.key).unwrap();
    assert!(matches!(
        check_offer_in(&agreements, &b.id, &a.id, &forged, now()),
        Err(Error::Rejected(_))
    ));
    assert!(check_offer_in(&agreements, &b.id, &m.id, &signed, now()).is_err());
    assert!(check_offer_in(&agreements, &m.id, &a.id, &signed, now()).is_err());
    // Tampered on the way: the signature no longer holds.
    let mut tampered = signed.clone();
    tampered.body.match_distance = 200;
    assert!(check_offer_in(&agreements, &b.id, &a.id, &tampered, now()).is_err());
    // No agreement of ours.
    assert!(check_offer_in(&[], &b.id, &a.id, &signed, now()).is_err());
}

#[test]
fn content_changes_come_from_the_origin_and_feedback_from_partners() {
    let (a, c) = (agency(1), agency(3));
    check_event(&added(&a.id, 1, None)).unwrap();
    let mut by_partner = added(&a.id, 1, None);
    by_partner.issuer = c.id.clone();
    assert!(check_event(&by_partner).is_err());
    let feedback = BankEvent {
        issuer: c.id.clone(),
        change: BankChange::Feedback {
            content: Uuid::from_u128(1),
            verdict: FeedbackVerdict::FalsePositive,
        },
        ..added(&a.id, 1, None)
    };
    check_event(&feedback).unwrap();
    let self_feedback = BankEvent {
        issuer: a.id.clone(),
        ..feedback.clone()
    };
    assert!(check_event(&self_feedback).is_err());
    let mut bad_hash = added(&a.id, 1, None);
    if let BankChange::Added { signal, .. } = &mut bad_hash.change {
        *signal = "xyz".into();
    }
    assert!(check_event(&bad_hash).is_err());
    assert!(check_event(&added(&a.id, 0, None)).is_err());
    assert!(check_event(&added(&a.id, 1, Some(&"x".repeat(121)))).is_err());
}

#[test]
fn a_category_offer_passes_only_that_category() {
    let a = agency(1);
    let labelled = added(&a.id, 1, Some("series-x")).change;
    let other = added(&a.id, 2, Some("series-y")).change;
    let none = added(&a.id, 3, None).change;
    assert!(passes(None, &labelled) && passes(None, &none));
    assert!(passes(Some("series-x"), &labelled));
    assert!(!passes(Some("series-x"), &other));
    assert!(!passes(Some("series-x"), &none));
}

#[test]
fn a_forwarded_event_keeps_the_origins_signature_and_round_trips() {
    let (a, b) = (agency(1), agency(2));
    let event = Signed::sign(added(&a.id, 1, Some("series-x")), &a.key).unwrap();
    let delivery = Signed::sign(
        BankDelivery {
            protocol: PROTOCOL.into(),
            sender: b.id.clone(),
            recipient: agency(3).id,
            at: now(),
            item: BankItem::Event {
                event: event.clone(),
            },
        },
        &b.key,
    )
    .unwrap();
    let text = serde_json::to_string(&delivery).unwrap();
    let back: Signed<BankDelivery> = serde_json::from_str(&text).unwrap();
    back.verify(&b.id).unwrap();
    let BankItem::Event { event: inner } = &back.body.item else {
        panic!("an event");
    };
    inner.verify(&a.id).unwrap();
    assert!(inner.verify(&b.id).is_err(), "only the origin signed it");
    assert_eq!(inner.digest().unwrap(), event.digest().unwrap());
}
