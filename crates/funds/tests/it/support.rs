//! Shared helpers: build transfers from short names, trace them through the real sort and pipeline.

use std::collections::HashSet;

use jikimi_funds::account::{AccountHint, Accounts};
use jikimi_funds::ingest::Transfer;
use jikimi_funds::pipeline::{TraceStats, trace_sorted};
use jikimi_funds::sort::{SortOptions, Sorter};
use jikimi_funds::trace::{Policy, TraceResult};

/// `(timestamp_s, tx_id, from, to, amount_units)`; names are short and become `acct:NAME0000`.
pub type Row<'a> = (i64, &'a str, &'a str, &'a str, u128);

pub fn key(name: &str) -> String {
    format!("acct:{}0000", name.to_ascii_uppercase())
}

/// Traces `rows` (in the given order; the sorter orders them) with `seeds`, spilling every `spill_every`
/// transfers with a budget in bytes when given (1 spills every transfer, to exercise the merge).
pub fn run(
    policy: Policy,
    rows: &[Row<'_>],
    seeds: &[&str],
    budget_bytes: Option<usize>,
) -> (TraceResult, TraceStats, Accounts) {
    let mut accounts = Accounts::new();
    let mut sorter = Sorter::new(SortOptions {
        memory_budget_bytes: budget_bytes.unwrap_or(1 << 30),
        spill_dir: None,
    });
    for (ts, tx, from, to, amount) in rows {
        let from = accounts.intern(&key(from), AccountHint::Auto).unwrap();
        let to = accounts.intern(&key(to), AccountHint::Auto).unwrap();
        let t = Transfer {
            timestamp_ns: ts * 1_000_000_000,
            tx_id: (*tx).into(),
            from,
            to,
            amount: *amount,
        };
        sorter.push(t.view(), &accounts).unwrap();
    }
    let seeds: HashSet<String> = seeds.iter().map(|s| s.to_string()).collect();
    let sorted = sorter.finish(&accounts).unwrap();
    let (result, stats) = trace_sorted(sorted, &seeds, policy, true, &mut |_| {}).unwrap();
    (result, stats, accounts)
}

/// `(name, tainted_received, tainted_balance)` for every account with taint, sorted by name.
pub fn table(result: &TraceResult, accounts: &Accounts) -> Vec<(String, u128, u128)> {
    let mut rows: Vec<(String, u128, u128)> = result
        .accounts
        .iter()
        .map(|a| {
            let name = accounts.name(a.account);
            let short = name
                .trim_start_matches("acct:")
                .trim_end_matches("0000")
                .to_ascii_lowercase();
            (short, a.tainted_received, a.tainted_balance)
        })
        .collect();
    rows.sort();
    rows
}

/// The `check` of every policy test: trace, compare the table, and check conservation.
#[track_caller]
pub fn check(policy: Policy, rows: &[Row<'_>], seeds: &[&str], expected: &[(&str, u128, u128)]) {
    let (result, _, accounts) = run(policy, rows, seeds, None);
    let got = table(&result, &accounts);
    let want: Vec<(String, u128, u128)> = expected
        .iter()
        .map(|(n, r, b)| (n.to_string(), *r, *b))
        .collect();
    assert_eq!(got, want, "{policy:?}");
    assert!(result.totals.conserved(), "{policy:?}: {:?}", result.totals);
    // The same rows in reverse input order and through the on-disk merge give the same table.
    let reversed: Vec<Row<'_>> = rows.iter().rev().copied().collect();
    let (again, _, accounts) = run(policy, &reversed, seeds, Some(1));
    assert_eq!(
        table(&again, &accounts),
        want,
        "{policy:?} (reversed input, spilled runs)"
    );
}
