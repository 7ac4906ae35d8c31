//! Multi-pass blocking: which pairs are compared at all.
//!
//! Comparing every pair is quadratic, so candidate pairs are the union of several cheap passes, each of
//! which misses some true pairs that another pass catches:
//!
//! - **exact passes**, one per informative field, on its normalised key (a Korean name key, a date, an
//!   E.164 phone). A block that would produce more than `max_block_pairs` pairs (the value is too common,
//!   e.g. the surname Kim) is split by the next field in a fixed order of selectivity, recursively; if no
//!   field is left it is dropped, because a pair sharing only a common value is rarely a match;
//! - **sorted neighbourhood** passes over concatenated name keys (surname+given and given+surname), which
//!   catch pairs whose keys differ by a typo after the first characters.
//!
//! Pairs are returned sorted and unique as `(left, right)`; when de-duplicating, `left < right`.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::prepare::Prepared;
use crate::schema::FieldKind;

/// Tuning of the blocking passes.
#[derive(Debug, Clone, Copy)]
pub struct BlockingOptions {
    /// A block producing more pairs than this is refined by a further field or dropped.
    pub max_block_pairs: usize,
    /// Window of the sorted-neighbourhood passes (records compared with the next `window - 1`).
    pub window: usize,
}

impl Default for BlockingOptions {
    fn default() -> Self {
        BlockingOptions {
            max_block_pairs: 2_500,
            window: 4,
        }
    }
}

/// Counts per pass, for the run summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BlockingStats {
    pub passes: Vec<(String, usize)>,
    pub dropped_blocks: usize,
    pub candidate_pairs: usize,
}

/// Fields in the order in which they refine an oversized block (most selective first).
fn refinement_order(prepared: &Prepared) -> Vec<usize> {
    let rank = |kind: FieldKind| match kind {
        FieldKind::Date => 0,
        FieldKind::Identifier => 1,
        FieldKind::Phone => 2,
        FieldKind::Surname => 3,
        FieldKind::GivenName => 4,
        FieldKind::Postcode => 5,
        FieldKind::Text => 6,
        FieldKind::Numeric => 7,
        FieldKind::Category => 8,
    };
    let mut order: Vec<usize> = (0..prepared.fields.len()).collect();
    order.sort_by_key(|&f| rank(prepared.fields[f].kind));
    order
}

/// The blocking key of a record's field value (`None` when missing).
fn key_of(prepared: &Prepared, right_side: bool, f: usize, index: usize) -> Option<&str> {
    let columns = if right_side {
        prepared.right_columns()
    } else {
        &prepared.left
    };
    columns[f][index].as_ref().map(|c| &*c.key)
}

/// Generate the candidate pairs of all passes.
pub fn candidate_pairs(
    prepared: &Prepared,
    options: &BlockingOptions,
) -> (Vec<(u32, u32)>, BlockingStats) {
    let order = refinement_order(prepared);
    let exact_fields: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&f| {
            !matches!(
                prepared.fields[f].kind,
                FieldKind::Category | FieldKind::Numeric
            )
        })
        .collect();
    let mut stats = BlockingStats::default();
    let results: Vec<(String, Vec<u64>, usize)> = exact_fields
        .par_iter()
        .map(|&f| {
            let rest: Vec<usize> = order.iter().copied().filter(|&g| g != f).collect();
            let mut out = Vec::new();
            let mut dropped = 0;
            let left: Vec<u32> = (0..prepared.n_left() as u32).collect();
            let right: Vec<u32> = if prepared.is_dedupe() {
                Vec::new()
            } else {
                (0..prepared.n_right() as u32).collect()
            };
            block_by(
                prepared,
                options,
                f,
                &rest,
                &left,
                &right,
                &mut out,
                &mut dropped,
            );
            (format!("exact {}", prepared.fields[f].name), out, dropped)
        })
        .collect();
    let mut all: Vec<u64> = Vec::new();
    for (name, pairs, dropped) in results {
        stats.passes.push((name, pairs.len()));
        stats.dropped_blocks += dropped;
        all.extend(pairs);
    }
    let given = prepared
        .fields
        .iter()
        .position(|f| f.kind == FieldKind::GivenName);
    let surname = prepared
        .fields
        .iter()
        .position(|f| f.kind == FieldKind::Surname);
    let mut neighbourhoods: Vec<(String, Vec<usize>)> = Vec::new();
    match (surname, given) {
        (Some(s), Some(g)) => {
            neighbourhoods.push(("sorted surname+given".into(), vec![s, g]));
            neighbourhoods.push(("sorted given+surname".into(), vec![g, s]));
        }
        (Some(n), None) | (None, Some(n)) => neighbourhoods.push(("sorted name".into(), vec![n])),
        (None, None) => {}
    }
    if let Some(d) = prepared
        .fields
        .iter()
        .position(|f| f.kind == FieldKind::Date)
        && let Some(s) = surname.or(given)
    {
        neighbourhoods.push(("sorted date+name".into(), vec![d, s]));
    }
    for (name, fields) in neighbourhoods {
        let pairs = sorted_neighbourhood(prepared, &fields, options.window);
        stats.passes.push((name, pairs.len()));
        all.extend(pairs);
    }
    all.par_sort_unstable();
    all.dedup();
    stats.candidate_pairs = all.len();
    let pairs = all
        .into_iter()
        .map(|p| ((p >> 32) as u32, p as u32))
        .collect();
    (pairs, stats)
}

fn pack(l: u32, r: u32) -> u64 {
    (u64::from(l) << 32) | u64::from(r)
}

/// Group `left`/`right` by field `f`, emit small blocks, refine large ones by `rest`.
/// When de-duplicating, `right` is empty and pairs are formed within `left`.
#[allow(clippy::too_many_arguments)]
fn block_by(
    prepared: &Prepared,
    options: &BlockingOptions,
    f: usize,
    rest: &[usize],
    left: &[u32],
    right: &[u32],
    out: &mut Vec<u64>,
    dropped: &mut usize,
) {
    let dedupe = prepared.is_dedupe();
    let mut blocks: HashMap<&str, (Vec<u32>, Vec<u32>)> = HashMap::new();
    for &l in left {
        if let Some(key) = key_of(prepared, false, f, l as usize) {
            blocks.entry(key).or_default().0.push(l);
        }
    }
    for &r in right {
        if let Some(key) = key_of(prepared, true, f, r as usize) {
            blocks.entry(key).or_default().1.push(r);
        }
    }
    for (_, (ls, rs)) in blocks {
        let n_pairs = if dedupe {
            ls.len() * ls.len().saturating_sub(1) / 2
        } else {
            ls.len() * rs.len()
        };
        if n_pairs == 0 {
            continue;
        }
        if n_pairs <= options.max_block_pairs {
            if dedupe {
                for (i, &a) in ls.iter().enumerate() {
                    for &b in &ls[i + 1..] {
                        out.push(pack(a.min(b), a.max(b)));
                    }
                }
            } else {
                for &a in &ls {
                    for &b in &rs {
                        out.push(pack(a, b));
                    }
                }
            }
        } else if let Some((&next, remaining)) = rest.split_first() {
            block_by(prepared, options, next, remaining, &ls, &rs, out, dropped);
        } else {
            *dropped += 1;
        }
    }
}

/// Sort both sides together by the concatenated keys of `fields` and pair records within the window.
fn sorted_neighbourhood(prepared: &Prepared, fields: &[usize], window: usize) -> Vec<u64> {
    let concat = |right_side: bool, index: usize| -> Option<String> {
        let mut key = String::new();
        for &f in fields {
            key.push_str(key_of(prepared, right_side, f, index)?);
            key.push('|');
        }
        Some(key)
    };
    let mut entries: Vec<(String, bool, u32)> = (0..prepared.n_left())
        .into_par_iter()
        .filter_map(|i| concat(false, i).map(|k| (k, false, i as u32)))
        .collect();
    if !prepared.is_dedupe() {
        entries.par_extend(
            (0..prepared.n_right())
                .into_par_iter()
                .filter_map(|i| concat(true, i).map(|k| (k, true, i as u32))),
        );
    }
    entries.par_sort_unstable();
    let dedupe = prepared.is_dedupe();
    let mut out = Vec::new();
    for i in 0..entries.len() {
        for j in i + 1..(i + window).min(entries.len()) {
            let (a, b) = (&entries[i], &entries[j]);
            if dedupe {
                out.push(pack(a.2.min(b.2), a.2.max(b.2)));
            } else if a.1 != b.1 {
                let (l, r) = if a.1 { (b.2, a.2) } else { (a.2, b.2) };
                out.push(pack(l, r));
            }
        }
    }
    out
}
