//! The computing half of follow the money: opening a set's sealed transfers, tracing them with the funds
//! crate's engine ([`jikimi_funds::memory`]), and shaping the result (endpoints with holding amounts, the layered
//! flow graph) that the store keeps sealed and the API shows. No HTTP and no store calls here: [`crate::funds`]
//! does both, and runs this on a blocking thread.

use std::collections::{BTreeMap, HashSet};

use jikimi_funds::amount::{Units, format_units};
use jikimi_funds::memory::{KeyedTransfer, LayeredFlow, NodeRole, layered_flow, trace_transfers};
use jikimi_funds::trace::Policy;
use jikimi_privacy::{BlindIndex, Keyring};
use jikimi_store::funds::{ACCOUNT_DIGEST_DOMAIN, SealedTransfer, transfer_subject};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A known cash-out point named with a run: an exchange's deposit wallet, an ATM operator's account.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashoutPoint {
    /// The account or wallet (`iban:...`, `acct:...`, `tron:...`, or detected as in uploads).
    pub account: String,
    /// What it is (`exchange`, `atm`, ...).
    #[serde(default)]
    pub kind: Option<String>,
    /// Its operator's name (an exchange's name).
    #[serde(default)]
    pub name: Option<String>,
    /// ISO 3166 alpha-2 country where the operator is registered: the jurisdiction of a freeze request.
    #[serde(default)]
    pub country: Option<String>,
}

impl std::fmt::Debug for CashoutPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CashoutPoint")
            .field("kind", &self.kind)
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

/// One account holding taint at the end of the run: where the money sits.
///
/// The hook for freeze and confiscation requests: `account_type` says which registry to ask (a bank for `iban`
/// and `account`, an exchange or chain analytics for `wallet`) and `country` the jurisdiction where derivable.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    /// The canonical key: `iban:...`, `acct:...`, `bitcoin:...`, `ethereum:...`, `tron:...`.
    pub account: String,
    /// `iban`, `account` (a domestic account number) or `wallet`.
    pub account_type: String,
    /// The chain of a wallet: `bitcoin`, `ethereum` or `tron`.
    pub chain: Option<String>,
    /// ISO 3166 alpha-2 country of the account: an IBAN's country code, else the cash-out list's country.
    pub country: Option<String>,
    /// Where `country` comes from: `iban` or `cashout_list`.
    pub country_source: Option<String>,
    /// `endpoint` (passed nothing on) or `mule` (passed some on and kept some).
    pub role: String,
    /// The column of the flow graph.
    pub layer: u32,
    /// Tainted money it holds now (decimal at the set's currency).
    pub holding: String,
    /// Tainted money it received in all.
    pub tainted_received: String,
    /// The cash-out point's kind and name when the run's cash-out list names it.
    pub cashout: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("account_type", &self.account_type)
            .field("holding", &self.holding)
            .finish_non_exhaustive()
    }
}

/// What a run found, as stored sealed (it names accounts).
#[derive(Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub currency: String,
    pub decimals: u32,
    pub endpoints: Vec<Endpoint>,
    pub flow: LayeredFlow,
    pub cashout: Vec<CashoutPoint>,
}

/// The run's figures that name no account, kept in clear and put in the audit entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunSummary {
    pub currency: String,
    /// Transfers traced (exact duplicates counted once).
    pub transfers: u64,
    pub duplicates: u64,
    pub seed_transfers: u64,
    /// Seed tx ids not found in the set.
    pub seeds_missing: Vec<String>,
    /// Sum of the seed transfers.
    pub seeded: String,
    /// Taint seed transfers took from senders that already held some.
    pub reabsorbed: String,
    /// Sum of tainted balances at the end.
    pub tainted_balances: String,
    /// Taint seeded = balances + reabsorbed, to the unit.
    pub conserved: bool,
    pub accounts: usize,
    pub edges: usize,
    pub endpoints: usize,
}

/// Why a run could not be computed (the caller maps it to an API error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("a stored transfer does not open: {0}")]
    Unsealing(String),
    #[error("none of the seed tx ids is in this transfer set")]
    NoSeedFound,
    #[error("the trace failed: {0}")]
    Trace(#[from] jikimi_funds::Error),
}

/// Opens a set's transfers (accounts sealed per row).
pub fn open_transfers(
    keys: &Keyring,
    set_id: Uuid,
    sealed: &[SealedTransfer],
) -> Result<Vec<KeyedTransfer>, RunError> {
    sealed
        .iter()
        .enumerate()
        .map(|(seq, t)| {
            let subject = transfer_subject(set_id, seq as u64);
            let open = |field: &str, s: &jikimi_privacy::Sealed| {
                keys.open_str(&subject, field, s)
                    .map_err(|e| RunError::Unsealing(e.to_string()))
            };
            Ok(KeyedTransfer {
                tx_id: t.tx_id.clone(),
                timestamp_ns: t.timestamp_ns,
                from: open("from", &t.from)?,
                to: open("to", &t.to)?,
                amount: t.amount,
            })
        })
        .collect()
}

/// Seals a set's transfers for the store, with a blind digest per account.
pub fn seal_transfers(
    keys: &Keyring,
    blind: &BlindIndex,
    set_id: Uuid,
    transfers: &[KeyedTransfer],
) -> Result<Vec<SealedTransfer>, jikimi_privacy::Error> {
    transfers
        .iter()
        .enumerate()
        .map(|(seq, t)| {
            let subject = transfer_subject(set_id, seq as u64);
            Ok(SealedTransfer {
                tx_id: t.tx_id.clone(),
                timestamp_ns: t.timestamp_ns,
                amount: t.amount,
                from: keys.seal_str(&subject, "from", &t.from)?,
                to: keys.seal_str(&subject, "to", &t.to)?,
                from_digest: blind.digest(ACCOUNT_DIGEST_DOMAIN, &t.from),
                to_digest: blind.digest(ACCOUNT_DIGEST_DOMAIN, &t.to),
            })
        })
        .collect()
}

/// The type, chain and (IBAN) country of a canonical key.
pub fn account_type(key: &str) -> (&'static str, Option<&'static str>, Option<String>) {
    let (kind, value) = key.split_once(':').unwrap_or(("", key));
    match kind {
        "iban" => (
            "iban",
            None,
            value
                .get(..2)
                .filter(|c| c.bytes().all(|b| b.is_ascii_uppercase()))
                .map(str::to_string),
        ),
        "bitcoin" => ("wallet", Some("bitcoin"), None),
        "ethereum" => ("wallet", Some("ethereum"), None),
        "tron" => ("wallet", Some("tron"), None),
        _ => ("account", None, None),
    }
}

/// Traces `transfers` and shapes the result.
pub fn run_trace(
    transfers: &[KeyedTransfer],
    seeds: &[String],
    policy: Policy,
    cashout: Vec<CashoutPoint>,
    currency: &str,
    decimals: u32,
) -> Result<(RunResult, RunSummary), RunError> {
    let seed_set: HashSet<String> = seeds.iter().cloned().collect();
    let trace = trace_transfers(transfers, &seed_set, policy)?;
    if trace.stats.seeds_found == 0 {
        return Err(RunError::NoSeedFound);
    }
    let cashout_keys: Vec<String> = cashout.iter().map(|c| c.account.clone()).collect();
    let flow = layered_flow(&trace, &cashout_keys, decimals);
    let by_key: BTreeMap<&str, &CashoutPoint> =
        cashout.iter().map(|c| (c.account.as_str(), c)).collect();
    let mut holders: Vec<(Units, Endpoint)> = flow
        .nodes
        .iter()
        .filter(|n| {
            n.role != NodeRole::Victim && (n.balance_units > 0 || n.role == NodeRole::Endpoint)
        })
        .map(|n| {
            let (kind, chain, iban_country) = account_type(&n.account);
            let point = by_key.get(n.account.as_str());
            let listed_country = point.and_then(|p| p.country.clone());
            let (country, country_source) = match (iban_country, listed_country) {
                (Some(c), _) => (Some(c), Some("iban".to_string())),
                (None, Some(c)) => (Some(c), Some("cashout_list".to_string())),
                (None, None) => (None, None),
            };
            let cashout = point.map(|p| {
                format!(
                    "{} {}",
                    p.kind.as_deref().unwrap_or_default(),
                    p.name.as_deref().unwrap_or_default()
                )
                .trim()
                .to_string()
            });
            (
                n.balance_units,
                Endpoint {
                    account: n.account.clone(),
                    account_type: kind.to_string(),
                    chain: chain.map(str::to_string),
                    country,
                    country_source,
                    role: match n.role {
                        NodeRole::Mule => "mule",
                        _ => "endpoint",
                    }
                    .to_string(),
                    layer: n.layer,
                    holding: n.tainted_balance.clone(),
                    tainted_received: n.tainted_received.clone(),
                    cashout,
                },
            )
        })
        .collect();
    holders.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.account.cmp(&b.1.account)));
    let totals = trace.result.totals;
    let summary = RunSummary {
        currency: currency.to_string(),
        transfers: totals.transfers,
        duplicates: trace.stats.duplicates,
        seed_transfers: totals.seed_transfers,
        seeds_missing: trace.stats.seeds_missing.clone(),
        seeded: format_units(totals.seeded, decimals),
        reabsorbed: format_units(totals.reabsorbed, decimals),
        tainted_balances: format_units(totals.tainted_balances, decimals),
        conserved: totals.conserved(),
        accounts: trace.result.accounts.len(),
        edges: flow.edges.len(),
        endpoints: holders.len(),
    };
    Ok((
        RunResult {
            currency: currency.to_string(),
            decimals,
            endpoints: holders.into_iter().map(|(_, e)| e).collect(),
            flow,
            cashout,
        },
        summary,
    ))
}
