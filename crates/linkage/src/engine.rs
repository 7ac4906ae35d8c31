//! The whole run: prepare, block, estimate, score, then assign one-to-one (linking) or cluster (de-duplication).

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::blocking::{self, BlockingOptions, BlockingStats};
use crate::compare::{MISSING, NormaliseOptions, level_labels};
use crate::model::{self, EstimationOptions, Model};
use crate::prepare::Prepared;
use crate::schema::Schema;
use crate::table::Table;

/// Receives progress of long stages (the CLI shows a bar; tests ignore it).
pub trait Progress: Sync {
    /// A stage begins with `total` units of work.
    fn stage(&self, name: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Everything that tunes a run.
#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    pub normalise: NormaliseOptions,
    pub blocking: BlockingOptions,
    pub estimation: EstimationOptions,
    /// Minimum match probability for a link (or a clustering edge).
    pub threshold: f64,
    /// Linking only: keep at most one link per record (greedy by weight, best first).
    pub one_to_one: bool,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            normalise: NormaliseOptions::default(),
            blocking: BlockingOptions::default(),
            estimation: EstimationOptions::default(),
            threshold: 0.5,
            one_to_one: true,
        }
    }
}

/// A scored candidate pair (indices into the prepared sides).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPair {
    pub left: u32,
    pub right: u32,
    pub weight: f64,
}

/// One field's part in a pair's weight.
#[derive(Debug, Clone, Serialize)]
pub struct FieldEvidence {
    pub field: String,
    pub level: Option<&'static str>,
    pub weight: f64,
}

/// An analyst's verdict on a pair of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The records are the same entity: always linked, whatever the score.
    Confirmed,
    /// The records are different entities: never linked (nor clustered together).
    Rejected,
}

/// A decision on a pair of records by id; kept (and audited) by the caller and applied to later runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Decision {
    pub left_id: String,
    pub right_id: String,
    pub verdict: Verdict,
}

/// A link between two records, with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub left_id: String,
    pub right_id: String,
    pub weight: f64,
    pub probability: f64,
    pub evidence: Vec<FieldEvidence>,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct LinkRun {
    pub prepared: Prepared,
    pub model: Model,
    pub blocking: BlockingStats,
    /// Every scored candidate pair.
    pub scored: Vec<ScoredPair>,
    /// Accepted links (one-to-one if asked), best first.
    pub links: Vec<ScoredPair>,
    /// The match probability threshold the links were accepted at.
    pub threshold: f64,
    /// Pairs an analyst rejected (as `(left, right)`, for de-duplication `(min, max)`).
    pub rejected: HashSet<(u32, u32)>,
    /// Pairs an analyst confirmed (same form).
    pub confirmed: HashSet<(u32, u32)>,
}

/// Link `left` to `right` or, with `right = None`, find duplicates within `left`.
pub fn run(
    left: &Table,
    right: Option<&Table>,
    schema: &Schema,
    options: &LinkOptions,
    progress: &dyn Progress,
) -> LinkRun {
    run_with_labels(left, right, schema, options, &[], progress)
}

/// [`run`], with pairs of record ids known to match (left id, right id): their comparison levels give m
/// directly instead of EM (labels are optional; the model stays unsupervised for fields they do not cover).
/// Labels naming unknown ids are ignored.
pub fn run_with_labels(
    left: &Table,
    right: Option<&Table>,
    schema: &Schema,
    options: &LinkOptions,
    labels: &[(String, String)],
    progress: &dyn Progress,
) -> LinkRun {
    progress.stage("normalise", 1);
    let prepared = Prepared::new(left, right, schema, &options.normalise);
    progress.advance(1);
    progress.stage("block", 1);
    let (pairs, blocking) = blocking::candidate_pairs(&prepared, &options.blocking);
    progress.advance(1);
    progress.stage("estimate u", 1);
    let u = model::estimate_u(&prepared, &options.estimation);
    progress.advance(1);
    progress.stage("compare", pairs.len() as u64);
    let n_fields = prepared.fields.len();
    let levels = compare_with_progress(&prepared, &pairs, progress);
    progress.stage("estimate m (EM)", 1);
    let mut model = model::estimate(&prepared, &levels, u, &options.estimation);
    if !labels.is_empty() {
        let index = |ids: &[String]| -> HashMap<String, u32> {
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect()
        };
        let left_index = index(&prepared.left_ids);
        let right_index = if prepared.is_dedupe() {
            left_index.clone()
        } else {
            index(&prepared.right_ids)
        };
        let labelled: Vec<(u32, u32)> = labels
            .iter()
            .filter_map(|(l, r)| Some((*left_index.get(l)?, *right_index.get(r)?)))
            .collect();
        model = model.with_labelled_m(&model::comparison_levels(&prepared, &labelled));
    }
    progress.advance(1);
    progress.stage("score", pairs.len() as u64);
    let scored: Vec<ScoredPair> = pairs
        .par_iter()
        .zip(levels.par_chunks(n_fields.max(1)))
        .map(|(&(l, r), lv)| ScoredPair {
            left: l,
            right: r,
            weight: model.weight(&prepared, lv, l as usize),
        })
        .collect();
    progress.advance(pairs.len() as u64);
    let links = select_links(&scored, &prepared, options);
    LinkRun {
        threshold: options.threshold,
        rejected: HashSet::new(),
        confirmed: HashSet::new(),
        prepared,
        model,
        blocking,
        scored,
        links,
    }
}

fn compare_with_progress(
    prepared: &Prepared,
    pairs: &[(u32, u32)],
    progress: &dyn Progress,
) -> Vec<u8> {
    let chunk = 100_000;
    let mut out = Vec::with_capacity(pairs.len() * prepared.fields.len());
    for part in pairs.chunks(chunk) {
        out.extend(model::comparison_levels(prepared, part));
        progress.advance(part.len() as u64);
    }
    out
}

/// Keep pairs above the threshold; for linking with `one_to_one`, greedily take the best pair of each record.
/// Confirmed pairs come first and take their records; rejected pairs are never accepted.
fn select_links(
    scored: &[ScoredPair],
    prepared: &Prepared,
    options: &LinkOptions,
) -> Vec<ScoredPair> {
    select_links_with_decisions(scored, prepared, options, &[], &HashSet::new())
}

fn select_links_with_decisions(
    scored: &[ScoredPair],
    prepared: &Prepared,
    options: &LinkOptions,
    confirmed: &[ScoredPair],
    rejected: &HashSet<(u32, u32)>,
) -> Vec<ScoredPair> {
    let confirmed_keys: HashSet<(u32, u32)> = confirmed.iter().map(|p| (p.left, p.right)).collect();
    let mut accepted: Vec<ScoredPair> = scored
        .iter()
        .copied()
        .filter(|p| model::probability(p.weight) >= options.threshold)
        .filter(|p| {
            !rejected.contains(&(p.left, p.right)) && !confirmed_keys.contains(&(p.left, p.right))
        })
        .collect();
    // Best first; ties broken by indices so that runs are deterministic.
    accepted.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then(a.left.cmp(&b.left))
            .then(a.right.cmp(&b.right))
    });
    if prepared.is_dedupe() || !options.one_to_one {
        return confirmed.iter().copied().chain(accepted).collect();
    }
    let mut left_used = vec![false; prepared.n_left()];
    let mut right_used = vec![false; prepared.n_right()];
    for p in confirmed {
        left_used[p.left as usize] = true;
        right_used[p.right as usize] = true;
    }
    confirmed
        .iter()
        .copied()
        .chain(accepted.into_iter().filter(|p| {
            let (l, r) = (p.left as usize, p.right as usize);
            if left_used[l] || right_used[r] {
                return false;
            }
            left_used[l] = true;
            right_used[r] = true;
            true
        }))
        .collect()
}

impl LinkRun {
    /// Apply analysts' decisions: confirmed pairs become links (taking their records in one-to-one
    /// linking), rejected pairs are dropped and their records may link elsewhere. Decisions naming unknown
    /// ids are ignored (the records may have been deleted since).
    pub fn apply_decisions(&mut self, decisions: &[Decision], options: &LinkOptions) {
        let p = &self.prepared;
        let index = |ids: &[String]| -> HashMap<String, u32> {
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect()
        };
        let left_index = index(&p.left_ids);
        let right_index = if p.is_dedupe() {
            left_index.clone()
        } else {
            index(&p.right_ids)
        };
        let key = |l: u32, r: u32| {
            if p.is_dedupe() {
                (l.min(r), l.max(r))
            } else {
                (l, r)
            }
        };
        let weights: HashMap<(u32, u32), f64> = self
            .scored
            .iter()
            .map(|s| ((s.left, s.right), s.weight))
            .collect();
        let mut confirmed = Vec::new();
        let mut rejected = HashSet::new();
        for decision in decisions {
            let (Some(&l), Some(&r)) = (
                left_index.get(&decision.left_id),
                right_index.get(&decision.right_id),
            ) else {
                continue;
            };
            if p.is_dedupe() && l == r {
                continue;
            }
            let (l, r) = key(l, r);
            match decision.verdict {
                Verdict::Rejected => {
                    rejected.insert((l, r));
                }
                Verdict::Confirmed => {
                    let weight = weights.get(&(l, r)).copied().unwrap_or_else(|| {
                        let mut levels = vec![0u8; p.fields.len()];
                        p.levels_into(l as usize, r as usize, &mut levels);
                        self.model.weight(p, &levels, l as usize)
                    });
                    confirmed.push(ScoredPair {
                        left: l,
                        right: r,
                        weight,
                    });
                }
            }
        }
        self.links = select_links_with_decisions(&self.scored, p, options, &confirmed, &rejected);
        self.rejected = rejected;
        self.confirmed = confirmed.iter().map(|c| (c.left, c.right)).collect();
    }

    /// Explain one scored pair: its ids, weight, probability and each field's contribution.
    pub fn explain(&self, pair: &ScoredPair) -> Link {
        let p = &self.prepared;
        let (l, r) = (pair.left as usize, pair.right as usize);
        let evidence = (0..p.fields.len())
            .map(|f| {
                let level = p.level(f, l, r);
                FieldEvidence {
                    field: p.fields[f].name.clone(),
                    level: (level != MISSING)
                        .then(|| level_labels(p.fields[f].kind)[usize::from(level)]),
                    weight: self.model.field_weight(p, f, level, l),
                }
            })
            .collect();
        Link {
            left_id: p.left_ids[l].clone(),
            right_id: p.right_id(r).to_string(),
            weight: pair.weight,
            probability: model::probability(pair.weight),
            evidence,
        }
    }

    /// Clusters for de-duplication; every record appears once.
    ///
    /// Accepted links are merged best first (agglomerative clustering), but two clusters are merged only
    /// if the **average** match probability over their scored cross pairs reaches the threshold. Plain
    /// connected components would chain: one false link joins two people's records. Pairs never compared
    /// (not in any block) do not count either way.
    ///
    /// Returns `(id, cluster_id)` in input order; a cluster is named by the id of its first record.
    pub fn clusters(&self) -> Vec<(String, String)> {
        let n = self.prepared.n_left();
        let probability: HashMap<(u32, u32), f64> = self
            .scored
            .iter()
            .map(|p| {
                (
                    (p.left.min(p.right), p.left.max(p.right)),
                    model::probability(p.weight),
                )
            })
            .collect();
        let mut parent: Vec<usize> = (0..n).collect();
        let mut members: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i]).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for pair in &self.links {
            let a = find(&mut parent, pair.left as usize);
            let b = find(&mut parent, pair.right as usize);
            if a == b {
                continue;
            }
            let (mut sum, mut known) = (0.0, 0usize);
            for &x in &members[a] {
                for &y in &members[b] {
                    if let Some(p) = probability.get(&(x.min(y), x.max(y))) {
                        sum += p;
                        known += 1;
                    }
                }
            }
            let crosses_rejection = members[a].iter().any(|&x| {
                members[b]
                    .iter()
                    .any(|&y| self.rejected.contains(&(x.min(y), x.max(y))))
            });
            let is_confirmed = self
                .confirmed
                .contains(&(pair.left.min(pair.right), pair.left.max(pair.right)));
            let too_weak = known > 0 && sum / (known as f64) < self.threshold;
            if crosses_rejection || (too_weak && !is_confirmed) {
                continue;
            }
            // The smaller index becomes the root, so the cluster is named by its first record.
            let (root, child) = if a < b { (a, b) } else { (b, a) };
            parent[child] = root;
            let moved = std::mem::take(&mut members[child]);
            members[root].extend(moved);
        }
        (0..n)
            .map(|i| {
                let root = find(&mut parent, i);
                (
                    self.prepared.left_ids[i].clone(),
                    self.prepared.left_ids[root].clone(),
                )
            })
            .collect()
    }
}

/// Precision, recall and F1 of predicted pairs against true pairs (pairs compared unordered for dedupe).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quality {
    pub true_positives: usize,
    pub predicted: usize,
    pub actual: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Score predicted pairs against the truth.
pub fn quality(
    predicted: &[(String, String)],
    truth: &[(String, String)],
    unordered: bool,
) -> Quality {
    use std::collections::HashSet;
    let norm = |(a, b): &(String, String)| {
        if unordered && b < a {
            (b.clone(), a.clone())
        } else {
            (a.clone(), b.clone())
        }
    };
    let truth: HashSet<(String, String)> = truth.iter().map(norm).collect();
    let predicted: HashSet<(String, String)> = predicted.iter().map(norm).collect();
    let tp = predicted.iter().filter(|p| truth.contains(*p)).count();
    let precision = if predicted.is_empty() {
        0.0
    } else {
        tp as f64 / predicted.len() as f64
    };
    let recall = if truth.is_empty() {
        0.0
    } else {
        tp as f64 / truth.len() as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Quality {
        true_positives: tp,
        predicted: predicted.len(),
        actual: truth.len(),
        precision,
        recall,
        f1,
    }
}

/// All within-cluster pairs implied by a clustering (for scoring de-duplication pairwise).
pub fn cluster_pairs(clusters: &[(String, String)]) -> Vec<(String, String)> {
    use std::collections::BTreeMap;
    let mut members: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, cluster) in clusters {
        members.entry(cluster).or_default().push(id);
    }
    let mut pairs = Vec::new();
    for ids in members.values() {
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                pairs.push((a.to_string(), b.to_string()));
            }
        }
    }
    pairs
}
