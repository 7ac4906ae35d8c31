//! Properties: taint is conserved, the engine agrees with a naive twin written from the rules (no lot
//! merging, no interning), the on-disk merge agrees with the in-memory sort, amounts round-trip.

use std::collections::{HashMap, VecDeque};

use jikimi_funds::amount::{format_units, parse_units};
use jikimi_funds::trace::Policy;
use proptest::prelude::*;

use crate::support::{Row, run, table};

const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const IDS: [&str; 8] = ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"];

fn rows() -> impl Strategy<Value = Vec<(i64, usize, usize, usize, u128)>> {
    prop::collection::vec(
        (
            0i64..12,
            0usize..IDS.len(),
            0usize..6,
            0usize..6,
            0u128..1_000,
        ),
        0..60,
    )
}

fn as_rows(raw: &[(i64, usize, usize, usize, u128)]) -> Vec<Row<'static>> {
    raw.iter()
        .map(|&(ts, id, f, t, a)| (ts, IDS[id], NAMES[f], NAMES[t], a))
        .collect()
}

/// The rules, as plainly as possible.
fn naive(policy: Policy, rows: &[Row<'_>], seeds: &[&str]) -> Vec<(String, u128, u128)> {
    let mut sorted: Vec<Row<'_>> = rows.to_vec();
    // Keys are `acct:NAME0000`; ordering by the short name is the same order.
    sorted.sort_by(|x, y| (x.0, x.1, x.2, x.3, x.4).cmp(&(y.0, y.1, y.2, y.3, y.4)));
    sorted.dedup();
    let mut bal: HashMap<&str, (u128, u128, u128)> = HashMap::new();
    let mut lots: HashMap<&str, VecDeque<(u128, u128)>> = HashMap::new();
    for (_, tx, from, to, amount) in sorted {
        let (b, bt, r) = bal.get(from).copied().unwrap_or_default();
        let known = amount.min(b);
        let taken = match policy {
            Policy::Haircut => (known * bt).checked_div(b).unwrap_or(0),
            Policy::Fifo => {
                let q = lots.entry(from).or_default();
                let (mut left, mut taken) = (known, 0);
                while left > 0 {
                    let (la, lt) = q[0];
                    if la <= left {
                        left -= la;
                        taken += lt;
                        q.pop_front();
                    } else {
                        let share = left * lt / la;
                        q[0] = (la - left, lt - share);
                        taken += share;
                        left = 0;
                    }
                }
                taken
            }
        };
        bal.insert(from, (b - known, bt - taken, r));
        let carried = if seeds.contains(&tx) { amount } else { taken };
        let (b, bt, r) = bal.get(to).copied().unwrap_or_default();
        bal.insert(to, (b + amount, bt + carried, r + carried));
        if amount > 0 {
            lots.entry(to).or_default().push_back((amount, carried));
        }
    }
    let mut out: Vec<(String, u128, u128)> = bal
        .into_iter()
        .filter(|(_, (_, bt, r))| *bt > 0 || *r > 0)
        .map(|(n, (_, bt, r))| (n.to_string(), r, bt))
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn taint_is_conserved_and_matches_the_naive_twin(raw in rows(), seed_mask in 0u8..=255) {
        let rows = as_rows(&raw);
        let seeds: Vec<&str> = IDS.iter().enumerate().filter(|(i, _)| seed_mask & (1 << i) != 0).map(|(_, s)| *s).collect();
        for policy in [Policy::Haircut, Policy::Fifo] {
            let (result, _, accounts) = run(policy, &rows, &seeds, None);
            prop_assert!(result.totals.conserved(), "{:?}", result.totals);
            let got = table(&result, &accounts);
            prop_assert_eq!(&got, &naive(policy, &rows, &seeds));
            let (spilled, _, accounts) = run(policy, &rows, &seeds, Some(64));
            prop_assert_eq!(table(&spilled, &accounts), got);
        }
    }

    #[test]
    fn amounts_round_trip(units in any::<u64>(), decimals in 0u32..=18) {
        let text = format_units(u128::from(units), decimals);
        prop_assert_eq!(parse_units(&text, decimals), Ok(u128::from(units)));
    }

    #[test]
    fn amount_parser_never_panics(text in "\\PC{0,30}", decimals in 0u32..=30) {
        let _ = parse_units(&text, decimals);
    }
}
