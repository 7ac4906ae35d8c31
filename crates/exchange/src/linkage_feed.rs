//! The case store as input to linkage and the border watchlist: every live case and lead, own and received,
//! with the persons, phones, accounts and wallets it names, as the linkage crate's plain
//! [`SharedCase`]s.
//!
//! This is the one place that reads the case store for linkage ([`shared_cases`]), so moving the store (to
//! `crates/store`, PostgreSQL) changes this function and nothing behind it.

use jikimi_linkage::shared::{IdentifierKind, SharedCase, SharedIdentifier, SharedPerson};

use crate::domain::{Entity, Record};
use crate::error::Result;
use crate::store::{ExchangeStore, StoredRecord};

/// All live cases and leads of `store` as linkage input, in log order.
pub async fn shared_cases(store: &impl ExchangeStore) -> Result<Vec<SharedCase>> {
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
