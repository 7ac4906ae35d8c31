//! One trace from sorted transfers to a result: marks seeds, drops exact duplicates (counted), folds with the
//! [`Tracer`]. The sorted stream comes from [`crate::sort`]; no file is opened here.

use std::collections::HashSet;

use crate::Error;
use crate::account::AccountId;
use crate::ingest::Transfer;
use crate::trace::{Policy, TraceResult, Tracer};

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

/// Traces `sorted` (which must be in [`crate::sort::trace_order`]) under `policy`.
pub fn trace_sorted(
    sorted: impl Iterator<Item = Result<Transfer, Error>>,
    seeds: &HashSet<String>,
    policy: Policy,
    record_edges: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<(TraceResult, TraceStats), Error> {
    let mut tracer = Tracer::new(policy, record_edges);
    let mut stats = TraceStats::default();
    let mut found: HashSet<&str> = HashSet::new();
    let mut senders: HashSet<AccountId> = HashSet::new();
    let mut previous: Option<Transfer> = None;
    let mut n: u64 = 0;
    for t in sorted {
        let t = t?;
        n += 1;
        if n.is_multiple_of(262_144) {
            progress(n);
        }
        if previous.as_ref() == Some(&t) {
            stats.duplicates += 1;
            continue;
        }
        let is_seed = !seeds.is_empty() && seeds.contains(&*t.tx_id);
        if is_seed {
            if let Some(s) = seeds.get(&*t.tx_id) {
                found.insert(s.as_str());
            }
            senders.insert(t.from);
        }
        tracer.apply(&t, is_seed)?;
        previous = Some(t);
    }
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
