//! Small transfer sets held in memory: import from bytes, trace, and lay the flow out in layers. This is the
//! API the server uses for the transfer sets analysts attach to a case (at most a few hundred thousand rows),
//! where the CLI's file pipeline (spill directory, progress bars) has no place.
//!
//! Transfers here name accounts by canonical key ([`crate::account::canonical_key`]) rather than by interned
//! id, so a set can be stored, sealed and read back independently of any interner. [`trace_transfers`] runs
//! the same engine as `jikimi trace funds` ([`crate::pipeline::trace_sorted`] over [`crate::sort::Sorter`],
//! whose memory budget is set so that it never spills: no file is opened), so the server's and the CLI's
//! results agree to the unit. [`layered_flow`] assigns every node of the flow graph a column for a layered
//! drawing: victims, then mule layers by distance from the victims, then endpoints.

use std::collections::{BTreeMap, HashSet, VecDeque};

use jikimi_exchange::identifiers::Chain;

use crate::Error;
use crate::account::{AccountHint, AccountId, Accounts};
use crate::amount::{Units, format_units};
use crate::ingest::{CurrencyOptions, ImportReport, Ingest};
use crate::pipeline::{TraceStats, trace_sorted};
use crate::sort::{SortOptions, Sorter};
use crate::trace::{Policy, TraceResult};

/// What an uploaded byte string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// The plain transfer CSV (`tx_id,timestamp,from_account,to_account,amount,currency`).
    Csv,
    /// An ISO 20022 camt.053 statement.
    Camt053,
    /// A block-explorer token-transfer export of a TRON wallet.
    TronExport,
    /// A block-explorer token-transfer export of an Ethereum wallet.
    EthereumExport,
    /// A block-explorer token-transfer export of a Bitcoin wallet.
    BitcoinExport,
}

impl SourceFormat {
    /// Parses the wire name (`csv`, `camt053`, `tron_export`, `ethereum_export`, `bitcoin_export`).
    pub fn parse(text: &str) -> Option<SourceFormat> {
        Some(match text {
            "csv" => SourceFormat::Csv,
            "camt053" => SourceFormat::Camt053,
            "tron_export" => SourceFormat::TronExport,
            "ethereum_export" => SourceFormat::EthereumExport,
            "bitcoin_export" => SourceFormat::BitcoinExport,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Csv => "csv",
            SourceFormat::Camt053 => "camt053",
            SourceFormat::TronExport => "tron_export",
            SourceFormat::EthereumExport => "ethereum_export",
            SourceFormat::BitcoinExport => "bitcoin_export",
        }
    }
}

/// One transfer with its accounts as canonical keys (`iban:...`, `acct:...`, `tron:...`).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyedTransfer {
    pub tx_id: String,
    pub timestamp_ns: i64,
    pub from: String,
    pub to: String,
    pub amount: Units,
}

impl std::fmt::Debug for KeyedTransfer {
    // Account identifiers are personal data: never in a log through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedTransfer")
            .field("tx_id", &self.tx_id)
            .field("timestamp_ns", &self.timestamp_ns)
            .field("amount", &self.amount)
            .finish_non_exhaustive()
    }
}

/// An imported set: its transfers in input order, the report of every row, the currency traced.
#[derive(Debug, Clone)]
pub struct Imported {
    pub transfers: Vec<KeyedTransfer>,
    pub report: ImportReport,
    pub currency: String,
    pub decimals: u32,
}

/// Imports `data` of `format`. Bad rows are in the report with their line; an input that is unusable as a whole
/// (not CSV, no tx id column, mixed currencies without `currency` chosen) is an error.
pub fn import_bytes(
    data: &[u8],
    format: SourceFormat,
    source_name: &str,
    currency: &CurrencyOptions,
) -> Result<Imported, Error> {
    use crate::import::csv::{CsvFlavour, CsvOptions, read_csv};
    let mut ingest = Ingest::new(currency);
    ingest.set_source(source_name);
    let mut transfers = Vec::new();
    let mut sink = |t: crate::ingest::TransferRef<'_>, ingest: &Ingest| {
        transfers.push(KeyedTransfer {
            tx_id: t.tx_id.to_string(),
            timestamp_ns: t.timestamp_ns,
            from: ingest.accounts.name(t.from).to_string(),
            to: ingest.accounts.name(t.to).to_string(),
            amount: t.amount,
        });
        Ok::<(), Error>(())
    };
    let chain = |c| CsvOptions {
        flavour: CsvFlavour::Chain(c),
        ..CsvOptions::default()
    };
    match format {
        SourceFormat::Csv => read_csv(
            data,
            &CsvOptions::default(),
            &mut ingest,
            &mut sink,
            &mut |_| {},
        )?,
        SourceFormat::TronExport => read_csv(
            data,
            &chain(Chain::Tron),
            &mut ingest,
            &mut sink,
            &mut |_| {},
        )?,
        SourceFormat::EthereumExport => read_csv(
            data,
            &chain(Chain::Ethereum),
            &mut ingest,
            &mut sink,
            &mut |_| {},
        )?,
        SourceFormat::BitcoinExport => read_csv(
            data,
            &chain(Chain::Bitcoin),
            &mut ingest,
            &mut sink,
            &mut |_| {},
        )?,
        SourceFormat::Camt053 => {
            crate::import::camt053::read_camt053(data, &mut ingest, &mut sink)?
        }
    }
    let currency = ingest.currency().unwrap_or_default().to_string();
    let decimals = ingest.decimals().unwrap_or(2);
    Ok(Imported {
        transfers,
        report: ingest.report,
        currency,
        decimals,
    })
}

/// A finished in-memory trace: the engine's result over the interner that names its ids.
#[derive(Debug)]
pub struct MemoryTrace {
    pub accounts: Accounts,
    pub result: TraceResult,
    pub stats: TraceStats,
}

/// Traces `transfers` (any order) from the transfers whose tx id is in `seeds`, recording the flow edges.
pub fn trace_transfers(
    transfers: &[KeyedTransfer],
    seeds: &HashSet<String>,
    policy: Policy,
) -> Result<MemoryTrace, Error> {
    let mut accounts = Accounts::new();
    let mut ids = Vec::with_capacity(transfers.len());
    for t in transfers {
        let from = accounts
            .intern(&t.from, AccountHint::Auto)
            .map_err(|r| Error::Invalid(format!("tx {}: from_account {r}", t.tx_id)))?;
        let to = accounts
            .intern(&t.to, AccountHint::Auto)
            .map_err(|r| Error::Invalid(format!("tx {}: to_account {r}", t.tx_id)))?;
        ids.push((from, to));
    }
    // The budget is never reached, so the sorter never spills: the trace opens no file.
    let mut sorter = Sorter::new(SortOptions {
        memory_budget_bytes: usize::MAX,
        spill_dir: None,
    });
    for (t, (from, to)) in transfers.iter().zip(&ids) {
        sorter.push(
            crate::ingest::TransferRef {
                timestamp_ns: t.timestamp_ns,
                tx_id: &t.tx_id,
                from: *from,
                to: *to,
                amount: t.amount,
            },
            &accounts,
        )?;
    }
    let sorted = sorter.finish(&accounts)?;
    let (result, stats) = trace_sorted(sorted, seeds, policy, true, &mut |_| {})?;
    Ok(MemoryTrace {
        accounts,
        result,
        stats,
    })
}

/// A node's place in the layered drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Sent a seed transfer.
    Victim,
    /// Received taint and passed some on.
    Mule,
    /// Received taint and passed none on, or is a listed cash-out point.
    Endpoint,
}

/// A node of the layered flow: `layer` 0 is the victims, 1.. the mule layers, and endpoints take the last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayeredNode {
    pub account: String,
    pub role: NodeRole,
    pub layer: u32,
    pub tainted_received: String,
    pub tainted_balance: String,
    /// Raw units, for sorting without parsing the decimal text.
    #[serde(skip)]
    pub balance_units: Units,
}

/// A tainted edge: the sums over the transfers from one account to another that carried taint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayeredEdge {
    pub from: String,
    pub to: String,
    pub tainted: String,
    pub amount: String,
    pub transfers: u64,
}

/// The flow graph laid out in layers; nodes are ordered by layer, then account key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayeredFlow {
    pub layers: u32,
    pub nodes: Vec<LayeredNode>,
    pub edges: Vec<LayeredEdge>,
}

/// Lays out `trace`'s flow graph: victims (senders of seeds) in layer 0, every other account at its shortest
/// distance along tainted edges from a victim, and endpoints (no tainted edge out, or listed in `cashout`)
/// moved to one last layer so that the money's destinations line up in one column.
pub fn layered_flow(trace: &MemoryTrace, cashout: &[String], decimals: u32) -> LayeredFlow {
    let result = &trace.result;
    let victims: HashSet<AccountId> = trace.stats.seed_senders.iter().copied().collect();
    let cashout: HashSet<AccountId> = cashout
        .iter()
        .filter_map(|k| trace.accounts.get(k))
        .collect();
    let mut out: BTreeMap<AccountId, Vec<AccountId>> = BTreeMap::new();
    let mut nodes: BTreeMap<AccountId, (Units, Units)> = BTreeMap::new();
    for e in &result.edges {
        out.entry(e.from).or_default().push(e.to);
        nodes.entry(e.from).or_default();
        nodes.entry(e.to).or_default();
    }
    for a in &result.accounts {
        nodes.insert(a.account, (a.tainted_received, a.tainted_balance));
    }
    // Breadth-first from every victim at once: the shortest number of hops is the layer.
    let mut depth: BTreeMap<AccountId, u32> = BTreeMap::new();
    let mut queue: VecDeque<AccountId> = VecDeque::new();
    for &v in &victims {
        if nodes.contains_key(&v) {
            depth.insert(v, 0);
            queue.push_back(v);
        }
    }
    while let Some(a) = queue.pop_front() {
        let d = depth[&a];
        for &b in out.get(&a).map(Vec::as_slice).unwrap_or(&[]) {
            if let std::collections::btree_map::Entry::Vacant(slot) = depth.entry(b) {
                slot.insert(d + 1);
                queue.push_back(b);
            }
        }
    }
    let role_of = |a: AccountId| {
        if victims.contains(&a) {
            NodeRole::Victim
        } else if cashout.contains(&a) || !out.contains_key(&a) {
            NodeRole::Endpoint
        } else {
            NodeRole::Mule
        }
    };
    let max_mule = nodes
        .keys()
        .filter(|a| role_of(**a) == NodeRole::Mule)
        .filter_map(|a| depth.get(a).copied())
        .max()
        .unwrap_or(0);
    let endpoint_layer = max_mule + 1;
    let mut laid: Vec<LayeredNode> = nodes
        .iter()
        .map(|(&a, &(received, balance))| {
            let role = role_of(a);
            let layer = match role {
                NodeRole::Victim => 0,
                // An account reached by no victim (taint came from a seed it did not send) sits in layer 1.
                NodeRole::Mule => depth.get(&a).copied().unwrap_or(1).max(1),
                NodeRole::Endpoint => endpoint_layer,
            };
            LayeredNode {
                account: trace.accounts.name(a).to_string(),
                role,
                layer,
                tainted_received: format_units(received, decimals),
                tainted_balance: format_units(balance, decimals),
                balance_units: balance,
            }
        })
        .collect();
    laid.sort_by(|a, b| (a.layer, &a.account).cmp(&(b.layer, &b.account)));
    let mut edges: Vec<LayeredEdge> = result
        .edges
        .iter()
        .map(|e| LayeredEdge {
            from: trace.accounts.name(e.from).to_string(),
            to: trace.accounts.name(e.to).to_string(),
            tainted: format_units(e.tainted, decimals),
            amount: format_units(e.amount, decimals),
            transfers: e.transfers,
        })
        .collect();
    edges.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
    LayeredFlow {
        layers: endpoint_layer + 1,
        nodes: laid,
        edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(tx: &str, ts: i64, from: &str, to: &str, amount: Units) -> KeyedTransfer {
        KeyedTransfer {
            tx_id: tx.into(),
            timestamp_ns: ts,
            from: from.into(),
            to: to.into(),
            amount,
        }
    }

    #[test]
    fn a_chain_is_laid_out_victim_mules_endpoint() {
        let transfers = vec![
            t("c", 3, "acct:3000003", "acct:4000004", 100),
            t("a", 1, "acct:1000001", "acct:2000002", 100),
            t("b", 2, "acct:2000002", "acct:3000003", 100),
        ];
        let seeds: HashSet<String> = ["a".to_string()].into();
        let trace = trace_transfers(&transfers, &seeds, Policy::Haircut).expect("trace");
        let flow = layered_flow(&trace, &[], 0);
        let layers: Vec<(&str, NodeRole, u32)> = flow
            .nodes
            .iter()
            .map(|n| (n.account.as_str(), n.role, n.layer))
            .collect();
        assert_eq!(
            layers,
            vec![
                ("acct:1000001", NodeRole::Victim, 0),
                ("acct:2000002", NodeRole::Mule, 1),
                ("acct:3000003", NodeRole::Mule, 2),
                ("acct:4000004", NodeRole::Endpoint, 3),
            ]
        );
        assert_eq!(flow.layers, 4);
        assert_eq!(flow.edges.len(), 3);
        assert_eq!(flow.nodes[3].tainted_balance, "100");
    }

    #[test]
    fn import_reports_bad_rows_by_line() {
        let csv = "tx_id,timestamp,from_account,to_account,amount,currency\n\
                   a,1700000000,acct:1000001,acct:2000002,10.00,EUR\n\
                   b,yesterday,acct:1000001,acct:2000002,10.00,EUR\n";
        let imported = import_bytes(
            csv.as_bytes(),
            SourceFormat::Csv,
            "upload",
            &CurrencyOptions::default(),
        )
        .expect("import");
        assert_eq!(imported.transfers.len(), 1);
        assert_eq!(imported.report.bad_rows, 1);
        assert_eq!(imported.report.bad_row_samples[0].line, 3);
        assert_eq!(imported.currency, "EUR");
        assert_eq!(imported.transfers[0].amount, 1000);
    }
}
