//! Sample content and markings, pure values shared by this crate's tests and the federation crate's (which include
//! this file by path), so both suites test against the same case.
// Each suite uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;

use jikimi_exchange::domain::{Attachment, Content, Entity, Event, FieldClass, Place};
use jikimi_exchange::identifiers::{Chain, Domain, Iban, PhoneE164, Sha256Hex, Wallet};
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use uuid::Uuid;

pub fn all_fields() -> BTreeSet<FieldClass> {
    FieldClass::ALL.into_iter().collect()
}

pub const PHONE: &str = "+821012345678";
pub const IBAN: &str = "DE89370400440532013000";

pub fn scam_content(title: &str) -> Content {
    Content {
        title: title.into(),
        summary: Some("call-centre fraud run from a compound".into()),
        entities: vec![
            Entity::Person {
                id: Uuid::new_v4(),
                name: "Kim Minsu".into(),
                nationality: Some("KR".into()),
                born: None,
                passport: None,
                border_control: false,
            },
            Entity::Phone {
                id: Uuid::new_v4(),
                number: PhoneE164::parse(PHONE, None).unwrap(),
            },
            Entity::Iban {
                id: Uuid::new_v4(),
                iban: Iban::parse(IBAN).unwrap(),
            },
            Entity::CryptoWallet {
                id: Uuid::new_v4(),
                wallet: Wallet::parse(Chain::Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap(),
            },
            Entity::Website {
                id: Uuid::new_v4(),
                domain: Domain::parse("https://invest-gold.example.com/login").unwrap(),
            },
            Entity::Company {
                id: Uuid::new_v4(),
                name: "Golden Compass Trading".into(),
                country: Some("KH".into()),
                registration: None,
            },
        ],
        events: vec![Event {
            id: Uuid::new_v4(),
            at: "2025-03-01T12:00:00Z".parse().unwrap(),
            place: Some(Place {
                name: Some("compound".into()),
                lat: Some(10.6),
                lon: Some(103.5),
                country: Some("KH".into()),
            }),
            description: "victim transferred funds".into(),
        }],
        attachments: vec![Attachment {
            sha256: Sha256Hex::of(b"chat export"),
            media_type: "text/plain".into(),
            size_bytes: 11,
            name: None,
        }],
    }
}

pub fn amber() -> Marking {
    Marking {
        tlp: Tlp::Amber,
        handling: HandlingCode::H0,
        source: SourceGrade::B,
        information: InfoGrade::Two,
    }
}
