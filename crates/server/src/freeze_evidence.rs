//! A freeze request made from a traced endpoint (issue 22 part 4): the evidence, the account and the default amount
//! are taken from a stored trace run, so what the partner receives is exactly what the run found.
//!
//! The evidence summary is canonical JSON (the freeze core hashes it; its SHA-256 is the signed attachment): the
//! run's parameters (policy, seeds, set, case), its clear totals, the endpoint's tainted received and holding, and
//! the tainted flow edges that reach the endpoint (every edge into an account from which the endpoint is reached;
//! only the edges straight into it when the whole path would not fit the evidence limit). Reading the run is
//! audited as any run read (`funds.run_read`).

use std::collections::{BTreeSet, VecDeque};

use jikimi_exchange::freeze::{AccountRef, Amount, Evidence, MAX_EVIDENCE_BYTES};
use jikimi_exchange::identifiers::{AccountNumber, Chain, Iban, Wallet};
use jikimi_funds::memory::LayeredEdge;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::funds_run::{Endpoint, RunResult};
use crate::roles::Permission;
use crate::state::AppState;

/// What a trace run gives a freeze request.
#[derive(Debug)]
pub struct FromRun {
    pub evidence: Evidence,
    pub account: AccountRef,
    /// The endpoint's tainted holding, in the set's currency.
    pub holding: Amount,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, message)
}

/// Reads run `run_id` (of case `case_id`) for the endpoint `endpoint` (an account key as the run shows it) and builds
/// the request's evidence, account and default amount. 404 for an unknown run, 403 for a run of another case or a
/// caller who may not read runs, 422 for an account that is not one of the run's endpoints.
pub async fn from_trace_run(
    state: &AppState,
    staff: &Staff,
    run_id: Uuid,
    case_id: Uuid,
    endpoint: &str,
) -> Result<FromRun, ApiError> {
    staff.require(Permission::TraceFunds)?;
    let run = state.store.get_trace_run(run_id).await?;
    if run.case_id != case_id {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("trace run {run_id} belongs to another case than the request's"),
        ));
    }
    let key =
        jikimi_funds::account::canonical_key(endpoint, jikimi_funds::account::AccountHint::Auto)
            .map_err(|why| invalid(format!("endpoint {why}")))?;
    let result = crate::funds::open_result(state, &run)?;
    let Some(found) = result.endpoints.iter().find(|e| e.account == key) else {
        return Err(invalid(format!(
            "endpoint: the account is not an endpoint of trace run {run_id}"
        )));
    };
    crate::funds::audit_read(
        state,
        staff,
        "funds.run_read",
        format!("trace_run/{run_id}"),
        json!({"case_id": run.case_id, "set_id": run.set_id, "endpoints": 1, "purpose": "freeze request evidence"}),
    )
    .await?;
    let account = account_of(found, &result)?;
    let decimals = u8::try_from(result.decimals).map_err(|_| invalid("the set's decimals"))?;
    let holding = Amount {
        minor_units: minor_units(&found.holding, result.decimals)?,
        currency: result.currency.to_ascii_uppercase(),
        decimals,
    };
    let run_summary: Value = serde_json::from_str(&run.summary).map_err(ApiError::internal)?;
    let summary = |edges: Vec<&LayeredEdge>, scope: &str| {
        json!({
            "kind": "jikimi.trace_run_evidence",
            "version": 1,
            "trace_run": run.id,
            "case_id": run.case_id,
            "set_ids": [run.set_id],
            "policy": run.policy,
            "seeds": run.seeds,
            "run_created_at": crate::dto::rfc3339(run.created_at),
            "totals": run_summary,
            "currency": result.currency,
            "decimals": result.decimals,
            "endpoint": {
                "account": found.account,
                "account_type": found.account_type,
                "chain": found.chain,
                "country": found.country,
                "country_source": found.country_source,
                "role": found.role,
                "layer": found.layer,
                "tainted_received": found.tainted_received,
                "balance": found.holding,
                "cashout": found.cashout,
            },
            "edges_scope": scope,
            "edges": edges,
        })
    };
    let reaching = edges_reaching(&result.flow.edges, &key);
    let full = summary(reaching, "paths");
    let fits = jikimi_exchange::protocol::canonical(&full)
        .map(|b| b.len() <= MAX_EVIDENCE_BYTES)
        .unwrap_or(false);
    let chosen = if fits {
        full
    } else {
        summary(
            result.flow.edges.iter().filter(|e| e.to == key).collect(),
            "direct",
        )
    };
    let evidence = Evidence::from_summary(chosen, Some(run_id))?;
    Ok(FromRun {
        evidence,
        account,
        holding,
    })
}

/// The edges on some tainted path to `target`: every edge whose head reaches `target` (itself included).
fn edges_reaching<'a>(edges: &'a [LayeredEdge], target: &str) -> Vec<&'a LayeredEdge> {
    let mut reaches: BTreeSet<&str> = BTreeSet::from([target]);
    let mut queue = VecDeque::from([target]);
    while let Some(node) = queue.pop_front() {
        for e in edges.iter().filter(|e| e.to == node) {
            if reaches.insert(e.from.as_str()) {
                queue.push_back(e.from.as_str());
            }
        }
    }
    edges
        .iter()
        .filter(|e| reaches.contains(e.to.as_str()))
        .collect()
}

/// The typed account of an endpoint, with what the freeze core resolves the jurisdiction from: an IBAN's own
/// country, a domestic account's country from the cash-out list, a wallet's exchange and its registered country.
fn account_of(endpoint: &Endpoint, result: &RunResult) -> Result<AccountRef, ApiError> {
    let (_, value) = endpoint
        .account
        .split_once(':')
        .ok_or_else(|| ApiError::internal("an endpoint key without its kind"))?;
    match endpoint.account_type.as_str() {
        "iban" => Ok(AccountRef::Iban {
            iban: Iban::parse(value)?,
        }),
        "account" => Ok(AccountRef::BankAccount {
            account: AccountNumber::parse(value)?,
            country: endpoint.country.clone().ok_or_else(|| {
                invalid("jurisdiction: the run knows no country for this account (name it in the run's cash-out list)")
            })?,
            bank: None,
        }),
        "wallet" => {
            let chain = match endpoint.chain.as_deref() {
                Some("bitcoin") => Chain::Bitcoin,
                Some("ethereum") => Chain::Ethereum,
                Some("tron") => Chain::Tron,
                _ => return Err(ApiError::internal("a wallet endpoint without its chain")),
            };
            let exchange = result
                .cashout
                .iter()
                .find(|p| p.account == endpoint.account)
                .and_then(|p| p.name.clone());
            Ok(AccountRef::Wallet {
                wallet: Wallet::parse(chain, value)?,
                exchange,
                exchange_country: endpoint.country.clone(),
            })
        }
        _ => Err(ApiError::internal("an endpoint of an unknown account type")),
    }
}

/// Minor units of a decimal string with at most `decimals` fraction digits (as the run writes holdings).
fn minor_units(text: &str, decimals: u32) -> Result<u128, ApiError> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let d = decimals as usize;
    if int.is_empty()
        || frac.len() > d
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(ApiError::internal("a holding that is not a decimal amount"));
    }
    let digits = format!("{int}{frac}{}", "0".repeat(d - frac.len()));
    digits
        .parse()
        .map_err(|_| invalid("amount: the holding is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: &str, to: &str) -> LayeredEdge {
        LayeredEdge {
            from: from.into(),
            to: to.into(),
            tainted: "1".into(),
            amount: "1".into(),
            transfers: 1,
        }
    }

    #[test]
    fn only_edges_on_paths_to_the_endpoint() {
        let edges = [
            edge("v", "a"),
            edge("a", "b"),
            edge("a", "c"),
            edge("b", "c"),
        ];
        let to_b: Vec<_> = edges_reaching(&edges, "b")
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        assert_eq!(to_b, [("v", "a"), ("a", "b")]);
        assert_eq!(edges_reaching(&edges, "c").len(), 4);
    }

    #[test]
    fn holdings_become_exact_minor_units() {
        assert_eq!(minor_units("800.000000", 6).ok(), Some(800_000_000));
        assert_eq!(minor_units("0.5", 2).ok(), Some(50));
        assert_eq!(minor_units("12", 0).ok(), Some(12));
        assert!(minor_units("1.234", 2).is_err());
        assert!(minor_units("-1", 2).is_err());
    }
}
