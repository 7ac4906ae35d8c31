//! Follow the money ([`crate::FundsStore`]): the domain types of transfer sets attached to a cooperation case,
//! their transfers, and trace runs.
//!
//! Account identifiers are personal data. The server seals them before the store sees them (as it does for
//! subscribers) and gives a keyed blind digest per account, so the store can answer "which sets name this
//! account" without holding a key; a run's result names accounts too and is one sealed document. What stays in
//! clear is not personal: tx ids, times, amounts, counts, the policy, the seed tx ids and the run's totals.

use jikimi_privacy::{BlindDigest, Sealed};
use jikimi_respond::Timestamp;
use uuid::Uuid;

/// A transfer set to store: what was uploaded to a case and what the import made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransferSet {
    pub id: Uuid,
    /// The cooperation case (a record of the case store) the set is attached to.
    pub case_id: Uuid,
    /// A label for analysts (a file name), not personal data by convention of the upload form.
    pub name: String,
    /// `csv`, `camt053`, `tron_export`, `ethereum_export` or `bitcoin_export`.
    pub format: String,
    pub currency: String,
    pub decimals: u32,
    /// Rows the import read (transfers, bad rows and other-currency rows together).
    pub rows: u64,
    pub bad_rows: u64,
    /// The import report as JSON (counts and bad rows by line with a reason; reasons never name an account).
    pub report: String,
}

/// One stored transfer: accounts sealed, with their blind digests.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedTransfer {
    pub tx_id: String,
    pub timestamp_ns: i64,
    /// Integer units of the set's currency.
    pub amount: u128,
    pub from: Sealed,
    pub to: Sealed,
    pub from_digest: BlindDigest,
    pub to_digest: BlindDigest,
}

impl std::fmt::Debug for SealedTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedTransfer")
            .field("tx_id", &self.tx_id)
            .field("timestamp_ns", &self.timestamp_ns)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

/// A stored transfer set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferSet {
    pub id: Uuid,
    pub case_id: Uuid,
    pub name: String,
    pub format: String,
    pub currency: String,
    pub decimals: u32,
    pub rows: u64,
    /// Transfers stored.
    pub transfers: u64,
    pub bad_rows: u64,
    pub report: String,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// A trace run to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTraceRun {
    pub id: Uuid,
    pub set_id: Uuid,
    /// `haircut` or `fifo`.
    pub policy: String,
    /// The seed tx ids (not personal data).
    pub seeds: Vec<String>,
    /// The run's totals and counts as JSON (no account).
    pub summary: String,
    /// The result (per-account taint, flow edges, endpoints, cash-out list) as sealed JSON.
    pub result: Sealed,
}

/// A stored trace run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRun {
    pub id: Uuid,
    pub set_id: Uuid,
    pub case_id: Uuid,
    pub policy: String,
    pub seeds: Vec<String>,
    pub summary: String,
    pub result: Sealed,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// The associated-data subject of a stored transfer's sealed accounts (fields `from` and `to`): a sealed account
/// moved to another row does not open.
pub fn transfer_subject(set_id: Uuid, seq: u64) -> String {
    format!("funds/set/{set_id}/transfer/{seq}")
}

/// The associated-data subject of a run's sealed result (field `result`).
pub fn run_subject(run_id: Uuid) -> String {
    format!("funds/run/{run_id}")
}

/// The blind-index domain of account keys (`iban:...`, `acct:...`, `tron:...`).
pub const ACCOUNT_DIGEST_DOMAIN: &str = "funds.account";
