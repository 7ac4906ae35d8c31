//! The case store as input to linkage and the border watchlist: every live case and lead, own and received,
//! with the persons, phones, accounts and wallets it names, as the linkage crate's plain
//! [`SharedCase`]s.
//!
//! This is the one place that reads the case store for linkage ([`shared_cases`], through any `ExchangeStore`:
//! the binary hands it the one `Arc<dyn Store>`). It is pure but for that read, yet lives here rather than in the
//! exchange core: the linkage crate carries its command line (clap), which the core and the store must not.

use jikimi_linkage::shared::{IdentifierKind, SharedCase, SharedIdentifier, SharedPerson};

use jikimi_exchange::Result;
use jikimi_exchange::domain::{Entity, Record};
use jikimi_exchange::store::{ExchangeStore, StoredRecord};

/// All live cases and leads of `store` as linkage input, in log order.
pub async fn shared_cases(store: &dyn ExchangeStore) -> Result<Vec<SharedCase>> {
    Ok(store
        .records()
        .await?
        .iter()
        .filter_map(shared_case)
        .collect())
}

/// One stored record as linkage input; control records (withdrawals, restrictions) carry no entities.
pub fn shared_case(stored: &StoredRecord) -> Option<SharedCase> {
    let record: &Record = &stored.record;
    let content = record.content()?;
    let mut case = SharedCase {
        case_ref: record.id.to_string(),
        agency: record.origin.to_string(),
        received: stored.provenance.received_from.is_some(),
        ..SharedCase::default()
    };
    for entity in &content.entities {
        let identifier = |id: &uuid::Uuid, kind, value: String| SharedIdentifier {
            id: id.to_string(),
            kind,
            value,
        };
        match entity {
            Entity::Person {
                id,
                name,
                nationality,
                born,
                passport,
                border_control,
            } => case.persons.push(SharedPerson {
                id: id.to_string(),
                name: name.clone(),
                date_of_birth: born.map(|d| d.format("%Y-%m-%d").to_string()),
                nationality: nationality.clone(),
                passport_no: passport.clone(),
                border_control: *border_control,
            }),
            Entity::Phone { id, number } => case.identifiers.push(identifier(
                id,
                IdentifierKind::Phone,
                number.as_str().to_string(),
            )),
            Entity::BankAccount { id, account, .. } => case.identifiers.push(identifier(
                id,
                IdentifierKind::Account,
                account.as_str().to_string(),
            )),
            Entity::Iban { id, iban } => case.identifiers.push(identifier(
                id,
                IdentifierKind::Account,
                iban.as_str().to_string(),
            )),
            Entity::CryptoWallet { id, wallet } => case.identifiers.push(identifier(
                id,
                IdentifierKind::Wallet,
                wallet.address().to_string(),
            )),
            Entity::Website { .. } | Entity::Company { .. } => {}
        }
    }
    Some(case)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jikimi_exchange::domain::{AgencyId, CaseCategory, Content, Provenance, RecordBody};
    use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};

    #[test]
    fn flagged_person_and_identifiers_become_linkage_input() -> Result<()> {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let person = Entity::parse_spec(
            "person=Lee Min-jun;born=1990-03-04;nationality=KR;passport=M12345678;border",
            None,
        )?;
        let phone = Entity::parse_spec("phone=010-1234-5678", Some("KR"))?;
        assert!(Entity::parse_spec("person=Lee;born=1990-13-01", None).is_err());
        assert!(Entity::parse_spec("person=Lee;religion=x", None).is_err());
        let stored = StoredRecord {
            record: Record {
                id: uuid::Uuid::now_v7(),
                version: 1,
                origin: AgencyId::from_key(&key.verifying_key()),
                category: CaseCategory::Scam,
                marking: Marking {
                    tlp: Tlp::Green,
                    handling: HandlingCode::H0,
                    source: SourceGrade::A,
                    information: InfoGrade::One,
                },
                updated_at: chrono::Utc::now(),
                redacted: Default::default(),
                body: RecordBody::Case(Content {
                    title: "recruiter".into(),
                    entities: vec![person, phone],
                    ..Content::default()
                }),
            },
            provenance: Provenance::local(),
            seq: 1,
        };
        let case =
            shared_case(&stored).ok_or_else(|| jikimi_exchange::Error::invalid("case", "none"))?;
        assert!(!case.received);
        assert_eq!(case.persons.len(), 1);
        let p = &case.persons[0];
        assert!(p.border_control);
        assert_eq!(p.date_of_birth.as_deref(), Some("1990-03-04"));
        assert_eq!(p.passport_no.as_deref(), Some("M12345678"));
        assert_eq!(case.identifiers.len(), 1);
        assert_eq!(case.identifiers[0].value, "+821012345678");
        // A person without the new fields encodes exactly as before (signatures of old records still verify).
        let plain = Entity::parse_spec("person=Kim", None)?;
        let text = serde_json::to_string(&plain).map_err(jikimi_exchange::Error::Encoding)?;
        assert!(
            !text.contains("passport") && !text.contains("border_control"),
            "{text}"
        );
        Ok(())
    }
}
