//! One trace from sorted transfers to a result: marks seeds, drops exact duplicates (counted), folds with the
//! [`Tracer`]. The sorted stream comes from [`crate::sort`]; no file is opened here.

use std::collections::HashSet;

use rustc_hash::FxHashSet;

use crate::Error;
use crate::account::AccountId;
use crate::amount::Units;
use crate::sort::Sorted;
use crate::trace::{Policy, Step, TraceResult, Tracer};

/// What the trace saw besides the taint.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TraceStats {
    /// Rows identical in every field to the previous one in trace order (the same transfer exported twice,
    /// e.g. from the sender's and the recipient's wallet page): traced once.
    pub duplicates: u64,
    /// Seed tx ids found among the transfers.
    pub seeds_found: usize,
    /// Seed tx ids never seen (listed: tx ids are not personal data).
    pub seeds_missing: Vec<String>,
    /// Senders of seed transfers (the victims), for the layered view of the flow graph.
    #[serde(skip)]
    pub seed_senders: Vec<AccountId>,
}

/// Transfers handed to the tracer at a time (see [`Tracer::step_batch`]).
const BATCH: usize = 64;

/// Traces `sorted` (transfers in [`crate::sort::trace_order`]) under `policy`.
pub fn trace_sorted(
    mut sorted: Sorted<'_>,
    seeds: &HashSet<String>,
    policy: Policy,
    record_edges: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<(TraceResult, TraceStats), Error> {
    let mut tracer = Tracer::new(policy, record_edges);
    let mut stats = TraceStats::default();
    // Looked up once per transfer: a fast hash (the ids are the investigator's, not an adversary's).
    let seed_ids: FxHashSet<&str> = seeds.iter().map(String::as_str).collect();
    let mut found: FxHashSet<&str> = FxHashSet::default();
    let mut senders: FxHashSet<AccountId> = FxHashSet::default();
    // The previous transfer, kept to drop exact duplicates (equal rows are adjacent in trace order).
    let mut previous: Option<(i64, AccountId, AccountId, Units)> = None;
    let mut previous_tx = String::new();
    let mut n: u64 = 0;
    let mut batch: Vec<Step> = Vec::with_capacity(BATCH);
    while let Some(t) = sorted.next_transfer() {
        let t = t?;
        n += 1;
        if n.is_multiple_of(262_144) {
            progress(n);
        }
        let fields = (t.timestamp_ns, t.from, t.to, t.amount);
        if previous == Some(fields) && previous_tx == t.tx_id {
            stats.duplicates += 1;
            continue;
        }
        previous = Some(fields);
        previous_tx.clear();
        previous_tx.push_str(t.tx_id);
        let seed = if seed_ids.is_empty() {
            None
        } else {
            seed_ids.get(t.tx_id).copied()
        };
        if let Some(s) = seed {
            found.insert(s);
            senders.insert(t.from);
        }
        batch.push(Step {
            from: t.from,
            to: t.to,
            amount: t.amount,
            is_seed: seed.is_some(),
        });
        if batch.len() == BATCH {
            tracer.step_batch(&batch)?;
            batch.clear();
        }
    }
    tracer.step_batch(&batch)?;
    progress(n);
    stats.seeds_found = found.len();
    let mut missing: Vec<String> = seeds
        .iter()
        .filter(|s| !found.contains(s.as_str()))
        .cloned()
        .collect();
    missing.sort();
    stats.seeds_missing = missing;
    let mut senders: Vec<AccountId> = senders.into_iter().collect();
    senders.sort_unstable();
    stats.seed_senders = senders;
    Ok((tracer.finish(), stats))
}

/// Reads a seeds file's text: one tx id per line; blank lines and lines starting with `#` are ignored, and a
/// first line `tx_id` is taken as a header.
pub fn parse_seeds(text: &str) -> HashSet<String> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim()))
        .filter(|(i, l)| !l.is_empty() && !l.starts_with('#') && (*i != 0 || *l != "tx_id"))
        .map(|(_, l)| l.to_string())
        .collect()
}
