//! Re-deriving subscribers' blind indexes from their sealed values, after the rule that normalises them changed.
//!
//! Issue 17 moved phone normalisation to libphonenumber's rules (`jikimi-ident`). The old hand-written rule kept the
//! trunk `0` written after a country code (`+82 010-1234-5678` became `+8201012345678`), so a subscriber registered
//! that way is indexed under a digest no search produces any more. [`reindex`] opens each subscriber's sealed phone
//! and name with the keyring, normalises them with today's functions, and has the store rewrite the digests (and
//! the phone, sealed again in its new normal form) where they changed, audited, in one transaction with the job's
//! marker ([`jikimi_store::Maintenance`]).
//!
//! [`reindex_once`] runs it when `jikimi serve` and `jikimi demo` start, until it has completed once; `jikimi store
//! reindex` runs it on demand. Running it again changes nothing. A sealed phone today's rule refuses (no valid
//! number in its country's plan) keeps its old digest and is counted as `kept`: nothing is lost.
//!
//! Which blind indexes a subscriber has is decided once, by [`subscriber_indexes`], for registration and here.
//! Guardians have no blind index (their contact channels are only sealed), and no other stored digest is a lookup
//! of a normalised value: the staff-login, flood-source and border-check digests are pseudonyms in audit entries.

use std::collections::BTreeMap;

use jikimi_privacy::{BlindIndex, Keyring, normalise_phone, normalise_text};
use jikimi_respond::{Actor, SubscriberId, Timestamp};
use jikimi_store::{Change, IndexEntry, Reindexed, Store};
use serde::Serialize;

/// The job's marker: a new normalisation rule gets a new name, so it runs once more.
pub const JOB: &str = "subscriber-blind-indexes/phonenumber-v1";

/// What a run found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReindexReport {
    /// The job's marker name.
    pub job: &'static str,
    /// False when [`reindex_once`] found the job done and did nothing.
    pub ran: bool,
    /// Subscribers read.
    pub checked: u64,
    /// Subscribers whose digests or sealed phone were rewritten.
    pub changed: u64,
    /// Subscribers saved or erased while the job ran (already derived the new way, or gone), left alone.
    pub superseded: u64,
    /// Subscribers whose sealed phone today's rule refuses; their old phone digest stays.
    pub kept: u64,
}

/// Why a run failed; nothing was written then (the rewrite is one transaction).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReindexError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] jikimi_store::Error),
    /// A sealed field did not open (wrong key material?) or could not be sealed again.
    #[error("cannot open or seal the fields of subscriber {id}: {source}")]
    Sealing {
        /// The subscriber.
        id: SubscriberId,
        /// What the keyring said (never the value).
        #[source]
        source: jikimi_privacy::Error,
    },
}

/// The blind indexes of a subscriber with this phone (already normalised by [`normalise_phone`]) and this name.
pub fn subscriber_indexes(blind: &BlindIndex, phone: &str, name: &str) -> Vec<IndexEntry> {
    vec![
        phone_index(blind, phone),
        IndexEntry {
            domain: "name".into(),
            digest: blind.digest("name", &normalise_text(name)),
        },
    ]
}

fn phone_index(blind: &BlindIndex, phone: &str) -> IndexEntry {
    IndexEntry {
        domain: "phone".into(),
        digest: blind.digest("phone", phone),
    }
}

/// Runs [`reindex`] unless the job has completed before.
pub async fn reindex_once(
    store: &dyn Store,
    keyring: &Keyring,
    blind: &BlindIndex,
    at: Timestamp,
) -> Result<ReindexReport, ReindexError> {
    if store.maintenance_done(JOB).await? {
        return Ok(ReindexReport {
            job: JOB,
            ran: false,
            checked: 0,
            changed: 0,
            superseded: 0,
            kept: 0,
        });
    }
    reindex(store, keyring, blind, at).await
}

/// Re-derives every subscriber's blind indexes from the sealed values and rewrites those that changed.
pub async fn reindex(
    store: &dyn Store,
    keyring: &Keyring,
    blind: &BlindIndex,
    at: Timestamp,
) -> Result<ReindexReport, ReindexError> {
    let mut report = ReindexReport {
        job: JOB,
        ran: true,
        checked: 0,
        changed: 0,
        superseded: 0,
        kept: 0,
    };
    let mut rows = Vec::new();
    for id in store.subscriber_ids().await? {
        let record = match store.get_subscriber(id).await {
            Ok(record) => record,
            // Erased since the ids were listed.
            Err(err) if err.is_not_found() => {
                report.superseded += 1;
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        report.checked += 1;
        let owner = format!("subscriber/{}", id.0);
        let sealing = |source| ReindexError::Sealing { id, source };
        let open = |field: &str| {
            record
                .fields
                .get(field)
                .map(|sealed| keyring.open_str(&owner, field, sealed))
                .transpose()
                .map_err(sealing)
        };
        let mut fields = BTreeMap::new();
        let mut derived = Vec::new();
        if let Some(stored) = open("phone")? {
            match normalise_phone(&stored) {
                Ok(phone) => {
                    if phone != stored {
                        let sealed = keyring.seal_str(&owner, "phone", &phone).map_err(sealing)?;
                        fields.insert("phone".to_string(), sealed);
                    }
                    derived.push(phone_index(blind, &phone));
                }
                Err(_) => report.kept += 1,
            }
        }
        if let Some(name) = open("name")? {
            derived.push(IndexEntry {
                domain: "name".into(),
                digest: blind.digest("name", &normalise_text(&name)),
            });
        }
        // Domains not derived here (and a phone kept as it was) stay as stored.
        let mut indexes: Vec<IndexEntry> = record
            .indexes
            .iter()
            .filter(|old| !derived.iter().any(|new| new.domain == old.domain))
            .cloned()
            .collect();
        indexes.extend(derived);
        indexes.sort();
        indexes.dedup();
        let mut stored = record.indexes.clone();
        stored.sort();
        stored.dedup();
        if indexes != stored || !fields.is_empty() {
            rows.push(Reindexed {
                id,
                read_updated_at: record.updated_at,
                fields,
                indexes,
            });
        }
    }
    let change = Change::new(
        Actor::System,
        at,
        "blind indexes re-derived from the sealed values after the phone normalisation change",
    );
    let applied = store
        .apply_reindex(JOB, rows, report.checked, &change)
        .await?;
    report.changed = applied.changed;
    report.superseded += applied.superseded;
    if report.changed > 0 || report.kept > 0 {
        tracing::warn!(
            changed = report.changed,
            kept = report.kept,
            superseded = report.superseded,
            "re-derived subscribers' blind indexes"
        );
    }
    Ok(report)
}
