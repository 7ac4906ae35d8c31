//! Writing results: the taint table, the flow graph (GraphML or JSON) and the cash-out summary. Everything
//! writes to a `Write` the caller opens; amounts are plain decimals at the currency's decimals, rows sorted by
//! account key, so two tools' outputs compare as text.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use crate::account::{AccountHint, AccountId, Accounts, canonical_key};
use crate::amount::{Units, format_units};
use crate::trace::TraceResult;

/// `account,tainted_received,tainted_balance` for every account that received or holds taint.
pub fn write_taint_csv(
    out: &mut impl Write,
    result: &TraceResult,
    accounts: &Accounts,
    decimals: u32,
) -> std::io::Result<()> {
    let mut rows: Vec<(&str, Units, Units)> = result
        .accounts
        .iter()
        .map(|a| {
            (
                accounts.name(a.account),
                a.tainted_received,
                a.tainted_balance,
            )
        })
        .collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
    writeln!(out, "account,tainted_received,tainted_balance")?;
    for (name, received, balance) in rows {
        // Canonical keys hold no comma or quote (validated identifiers), so no CSV quoting is needed.
        writeln!(
            out,
            "{name},{},{}",
            format_units(received, decimals),
            format_units(balance, decimals)
        )?;
    }
    Ok(())
}

/// A known cash-out point (an exchange's deposit account, an ATM operator's account, ...).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CashoutPoint {
    pub account: String,
    pub kind: String,
    pub name: String,
}

/// Reads `account,kind,name` rows (header required; `kind` and `name` optional). Accounts are canonicalised
/// like transfers; a row that is not an account is returned as an error with its line.
pub fn parse_cashout_csv(text: &str) -> Result<Vec<CashoutPoint>, (u64, String)> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| (1, e.to_string()))?.clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(n))
    };
    let account_col = col("account").ok_or((1, "no account column".to_string()))?;
    let (kind_col, name_col) = (col("kind"), col("name"));
    let mut points = Vec::new();
    for record in rdr.records() {
        let record = record.map_err(|e| (e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let raw = record.get(account_col).unwrap_or_default();
        let account =
            canonical_key(raw, AccountHint::Auto).map_err(|r| (line, format!("account {r}")))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        points.push(CashoutPoint {
            account,
            kind: get(kind_col),
            name: get(name_col),
        });
    }
    Ok(points)
}

/// What reached one cash-out point.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CashoutReached {
    #[serde(flatten)]
    pub point: CashoutPoint,
    pub tainted_received: String,
    pub tainted_balance: String,
}

/// The cash-out summary: every listed point (reached or not), largest received first, and the totals.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CashoutSummary {
    pub points: Vec<CashoutReached>,
    pub total_received: String,
    pub total_balance: String,
    pub points_reached: usize,
}

pub fn cashout_summary(
    points: &[CashoutPoint],
    result: &TraceResult,
    accounts: &Accounts,
    decimals: u32,
) -> CashoutSummary {
    let by_id: HashMap<AccountId, (Units, Units)> = result
        .accounts
        .iter()
        .map(|a| (a.account, (a.tainted_received, a.tainted_balance)))
        .collect();
    let mut rows: Vec<(Units, Units, &CashoutPoint)> = points
        .iter()
        .map(|p| {
            let (r, b) = accounts
                .get(&p.account)
                .and_then(|id| by_id.get(&id).copied())
                .unwrap_or((0, 0));
            (r, b, p)
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.account.cmp(&b.2.account)));
    let total_received: Units = rows.iter().map(|r| r.0).fold(0, Units::saturating_add);
    let total_balance: Units = rows.iter().map(|r| r.1).fold(0, Units::saturating_add);
    CashoutSummary {
        points_reached: rows.iter().filter(|r| r.0 > 0).count(),
        points: rows
            .into_iter()
            .map(|(r, b, p)| CashoutReached {
                point: p.clone(),
                tainted_received: format_units(r, decimals),
                tainted_balance: format_units(b, decimals),
            })
            .collect(),
        total_received: format_units(total_received, decimals),
        total_balance: format_units(total_balance, decimals),
    }
}

/// An account holding taint at the end of the trace: where the money sits, and so what could be frozen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    pub account: String,
    pub tainted_balance: String,
    pub tainted_received: String,
    /// The cash-out point's kind and name when the account is a listed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cashout: Option<String>,
}

/// The `n` accounts holding the most taint at the end, largest first (ties by account key).
pub fn top_holders(
    result: &TraceResult,
    accounts: &Accounts,
    decimals: u32,
    n: usize,
    cashout: &[CashoutPoint],
) -> Vec<Holder> {
    let mut holding: Vec<(Units, &str, Units)> = result
        .accounts
        .iter()
        .filter(|a| a.tainted_balance > 0)
        .map(|a| {
            (
                a.tainted_balance,
                accounts.name(a.account),
                a.tainted_received,
            )
        })
        .collect();
    let by_key = |a: &(Units, &str, Units), b: &(Units, &str, Units)| {
        b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1))
    };
    if holding.len() > n {
        // Partial selection first: the list may hold millions of accounts and only a few are shown.
        holding.select_nth_unstable_by(n, by_key);
        holding.truncate(n);
    }
    holding.sort_unstable_by(by_key);
    holding
        .into_iter()
        .map(|(balance, name, received)| Holder {
            account: name.to_string(),
            tainted_balance: format_units(balance, decimals),
            tainted_received: format_units(received, decimals),
            cashout: cashout
                .iter()
                .find(|p| p.account == name)
                .map(|p| format!("{} {}", p.kind, p.name).trim().to_string()),
        })
        .collect()
}

/// A node's role in the layered view: victims send seeds, cash-out points are listed, the rest are
/// intermediaries (mules and bystanders alike: the trace cannot tell them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Victim,
    Intermediary,
    Cashout,
}

/// The flow graph as plain data: nodes are the endpoints of tainted edges and the accounts holding taint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FlowGraph {
    pub policy: crate::trace::Policy,
    pub currency: String,
    pub nodes: Vec<FlowNode>,
    pub edges: Vec<FlowEdge>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FlowNode {
    pub id: String,
    pub role: Role,
    pub tainted_received: String,
    pub tainted_balance: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FlowEdge {
    pub from: String,
    pub to: String,
    pub tainted: String,
    pub amount: String,
    pub transfers: u64,
}

/// Builds the flow graph (edges must have been recorded by the tracer).
pub fn flow_graph(
    result: &TraceResult,
    accounts: &Accounts,
    currency: &str,
    decimals: u32,
    victims: &[AccountId],
    cashout: &[CashoutPoint],
) -> FlowGraph {
    let taint: HashMap<AccountId, (Units, Units)> = result
        .accounts
        .iter()
        .map(|a| (a.account, (a.tainted_received, a.tainted_balance)))
        .collect();
    let cashout_ids: std::collections::HashSet<AccountId> = cashout
        .iter()
        .filter_map(|p| accounts.get(&p.account))
        .collect();
    let victims: std::collections::HashSet<AccountId> = victims.iter().copied().collect();
    let mut ids: BTreeMap<&str, AccountId> = BTreeMap::new();
    for e in &result.edges {
        ids.insert(accounts.name(e.from), e.from);
        ids.insert(accounts.name(e.to), e.to);
    }
    for a in &result.accounts {
        ids.insert(accounts.name(a.account), a.account);
    }
    let nodes = ids
        .into_iter()
        .map(|(name, id)| {
            let (r, b) = taint.get(&id).copied().unwrap_or((0, 0));
            let role = if cashout_ids.contains(&id) {
                Role::Cashout
            } else if victims.contains(&id) {
                Role::Victim
            } else {
                Role::Intermediary
            };
            FlowNode {
                id: name.to_string(),
                role,
                tainted_received: format_units(r, decimals),
                tainted_balance: format_units(b, decimals),
            }
        })
        .collect();
    let mut edges: Vec<FlowEdge> = result
        .edges
        .iter()
        .map(|e| FlowEdge {
            from: accounts.name(e.from).to_string(),
            to: accounts.name(e.to).to_string(),
            tainted: format_units(e.tainted, decimals),
            amount: format_units(e.amount, decimals),
            transfers: e.transfers,
        })
        .collect();
    edges.sort_by(|a, b| (a.from.as_str(), a.to.as_str()).cmp(&(b.from.as_str(), b.to.as_str())));
    FlowGraph {
        policy: result.policy,
        currency: currency.to_string(),
        nodes,
        edges,
    }
}

/// The graph as GraphML (readable by Gephi, yEd, Cytoscape, NetworkX); amounts are strings to stay exact.
pub fn write_graphml(out: &mut impl Write, g: &FlowGraph) -> std::io::Result<()> {
    use quick_xml::escape::escape;
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<graphml xmlns="http://graphml.graphdrawing.org/xmlns">"#
    )?;
    for (id, target, name) in [
        ("role", "node", "role"),
        ("tr", "node", "tainted_received"),
        ("tb", "node", "tainted_balance"),
        ("t", "edge", "tainted"),
        ("a", "edge", "amount"),
        ("n", "edge", "transfers"),
    ] {
        let ty = if id == "n" { "long" } else { "string" };
        writeln!(
            out,
            r#"  <key id="{id}" for="{target}" attr.name="{name}" attr.type="{ty}"/>"#
        )?;
    }
    writeln!(
        out,
        r#"  <graph id="flow" edgedefault="directed"><!-- policy {:?}, currency {} -->"#,
        g.policy,
        escape(g.currency.as_str())
    )?;
    for n in &g.nodes {
        let role = match n.role {
            Role::Victim => "victim",
            Role::Intermediary => "intermediary",
            Role::Cashout => "cashout",
        };
        writeln!(
            out,
            r#"    <node id="{}"><data key="role">{role}</data><data key="tr">{}</data><data key="tb">{}</data></node>"#,
            escape(n.id.as_str()),
            n.tainted_received,
            n.tainted_balance
        )?;
    }
    for e in &g.edges {
        writeln!(
            out,
            r#"    <edge source="{}" target="{}"><data key="t">{}</data><data key="a">{}</data><data key="n">{}</data></edge>"#,
            escape(e.from.as_str()),
            escape(e.to.as_str()),
            e.tainted,
            e.amount,
            e.transfers
        )?;
    }
    writeln!(out, "  </graph>")?;
    writeln!(out, "</graphml>")
}
