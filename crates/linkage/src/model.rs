//! The Fellegi-Sunter model: m and u probabilities per field and level, estimated without labels.
//!
//! - **u** (probability of each level among non-matches) is estimated from uniformly random record pairs,
//!   almost all of which are non-matches; this is more accurate than EM's u on blocked pairs, which blocking
//!   biases towards agreement (the approach Splink takes too).
//! - **m** (probability among matches) and the match proportion λ are estimated by expectation
//!   maximisation over the comparison patterns of the blocked pairs, with u held fixed. Patterns are
//!   counted first, so each EM iteration costs the number of distinct patterns, not of pairs.
//! - A pair's **match weight** is log2(λ/(1-λ)) + Σ log2(m/u) over non-missing fields; for name fields
//!   agreeing exactly, u is replaced by the value's own frequency (term-frequency adjustment), so that
//!   agreeing on "Kim Minjun" counts for less than agreeing on a rare name.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::compare::{MISSING, level_labels, n_levels};
use crate::prepare::Prepared;
use crate::schema::FieldKind;

/// Smallest probability a level may take, so that no single field can veto or force a match.
const FLOOR: f64 = 1e-6;

/// m and u of one field.
#[derive(Debug, Clone, Serialize)]
pub struct FieldParameters {
    pub name: String,
    pub kind: FieldKind,
    /// m[level]: probability of the level among matches.
    pub m: Vec<f64>,
    /// u[level]: probability of the level among non-matches.
    pub u: Vec<f64>,
    /// Whether exact agreement is weighed by the value's frequency.
    pub term_frequency: bool,
}

impl FieldParameters {
    /// log2(m/u) of a level.
    pub fn level_weight(&self, level: u8) -> f64 {
        let l = usize::from(level);
        (self.m[l].max(FLOOR) / self.u[l].max(FLOOR)).log2()
    }
}

/// A fitted model.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub fields: Vec<FieldParameters>,
    /// Prior probability that two records drawn at random are a match.
    pub lambda: f64,
    /// EM iterations run.
    pub iterations: usize,
    /// Estimated number of matching pairs (λ times all pairs).
    pub expected_matches: f64,
}

/// Tuning of the estimation.
#[derive(Debug, Clone, Copy)]
pub struct EstimationOptions {
    /// Random pairs drawn to estimate u.
    pub u_sample_pairs: usize,
    pub max_iterations: usize,
    /// Stop when no parameter moves more than this.
    pub tolerance: f64,
    /// Seed of the u sample (runs are reproducible).
    pub seed: u64,
}

impl Default for EstimationOptions {
    fn default() -> Self {
        EstimationOptions {
            u_sample_pairs: 100_000,
            max_iterations: 50,
            tolerance: 1e-6,
            seed: 0x6a696b696d69,
        }
    }
}

/// SplitMix64: a tiny, well-studied generator; enough for sampling pairs, and avoids a dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Estimate u from random pairs.
pub fn estimate_u(prepared: &Prepared, options: &EstimationOptions) -> Vec<Vec<f64>> {
    let n_fields = prepared.fields.len();
    let (n_left, n_right) = (prepared.n_left(), prepared.n_right());
    let total_pairs = if prepared.is_dedupe() {
        n_left * n_left.saturating_sub(1) / 2
    } else {
        n_left * n_right
    };
    let n_samples = options.u_sample_pairs.min(total_pairs).max(1);
    let chunk = 10_000;
    let n_chunks = n_samples.div_ceil(chunk);
    let counts: Vec<Vec<u64>> = (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            let mut rng = SplitMix64(options.seed ^ (c as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let mut counts: Vec<Vec<u64>> = prepared
                .fields
                .iter()
                .map(|f| vec![0u64; n_levels(f.kind)])
                .collect();
            let mut levels = vec![0u8; n_fields];
            let todo = chunk.min(n_samples - c * chunk);
            let mut done = 0;
            while done < todo {
                let l = rng.below(n_left);
                let r = rng.below(n_right);
                if prepared.is_dedupe() && l == r {
                    continue;
                }
                prepared.levels_into(l, r, &mut levels);
                for (f, &level) in levels.iter().enumerate() {
                    if level != MISSING {
                        counts[f][usize::from(level)] += 1;
                    }
                }
                done += 1;
            }
            counts
        })
        .reduce(
            || {
                prepared
                    .fields
                    .iter()
                    .map(|f| vec![0u64; n_levels(f.kind)])
                    .collect()
            },
            |mut a, b| {
                for (fa, fb) in a.iter_mut().zip(b) {
                    for (x, y) in fa.iter_mut().zip(fb) {
                        *x += y;
                    }
                }
                a
            },
        );
    counts
        .into_iter()
        .map(|levels| {
            // Add-half smoothing: a level never seen among random pairs is rare, not impossible.
            let total: f64 = levels.iter().map(|&c| c as f64 + 0.5).sum();
            levels.iter().map(|&c| (c as f64 + 0.5) / total).collect()
        })
        .collect()
}

/// Count the comparison patterns of the candidate pairs (levels of every field per pair).
pub fn comparison_levels(prepared: &Prepared, pairs: &[(u32, u32)]) -> Vec<u8> {
    let n_fields = prepared.fields.len();
    let mut levels = vec![0u8; pairs.len() * n_fields];
    levels
        .par_chunks_mut(n_fields)
        .zip(pairs.par_iter())
        .for_each(|(out, &(l, r))| prepared.levels_into(l as usize, r as usize, out));
    levels
}

/// Level at and above which a field "agrees" for the purpose of an estimation session.
fn session_level(kind: FieldKind) -> Option<u8> {
    match kind {
        FieldKind::GivenName | FieldKind::Surname => Some(crate::compare::NAME_KEY_LEVEL),
        FieldKind::Date => Some(4),
        FieldKind::Text | FieldKind::Postcode => Some(3),
        FieldKind::Phone | FieldKind::Identifier => Some(2),
        FieldKind::Numeric | FieldKind::Category => None,
    }
}

/// Distinct comparison patterns with their counts.
type Patterns = Vec<(Vec<u8>, f64)>;

/// Count patterns of the pairs selected by `keep`, with field `masked` (if any) treated as missing.
fn count_patterns(
    levels: &[u8],
    n_fields: usize,
    masked: Option<usize>,
    keep: impl Fn(&[u8]) -> bool,
) -> Patterns {
    let mut counts: HashMap<Vec<u8>, f64> = HashMap::new();
    for pattern in levels.chunks(n_fields).filter(|p| keep(p)) {
        let mut key = pattern.to_vec();
        if let Some(f) = masked {
            key[f] = MISSING;
        }
        *counts.entry(key).or_default() += 1.0;
    }
    counts.into_iter().collect()
}

/// Initial m: most mass on the top levels, since a match usually agrees exactly.
fn initial_m(prepared: &Prepared) -> Vec<Vec<f64>> {
    prepared
        .fields
        .iter()
        .map(|f| {
            let n = n_levels(f.kind);
            let mut v: Vec<f64> = (0..n)
                .map(|l| 0.5f64.powi((n - 1 - l) as i32 + 1))
                .collect();
            let total: f64 = v.iter().sum();
            v.iter_mut().for_each(|x| *x /= total);
            v
        })
        .collect()
}

/// Expectation maximisation over counted patterns. With `update_m` false only λ is fitted.
fn em(
    patterns: &Patterns,
    u: &[Vec<f64>],
    m: &mut [Vec<f64>],
    lambda_cap: f64,
    update_m: bool,
    options: &EstimationOptions,
) -> (f64, usize) {
    let mut lambda = 0.1f64.min(lambda_cap / 2.0);
    let mut iterations = 0;
    for _ in 0..options.max_iterations {
        iterations += 1;
        let mut m_counts: Vec<Vec<f64>> = m.iter().map(|v| vec![0.0; v.len()]).collect();
        let mut match_mass = 0.0;
        let mut total_mass = 0.0;
        for (pattern, count) in patterns {
            let mut log_ratio = (lambda / (1.0 - lambda)).ln();
            for (f, &level) in pattern.iter().enumerate() {
                if level != MISSING {
                    let l = usize::from(level);
                    log_ratio += (m[f][l].max(FLOOR) / u[f][l].max(FLOOR)).ln();
                }
            }
            let posterior = 1.0 / (1.0 + (-log_ratio).exp());
            let mass = posterior * count;
            match_mass += mass;
            total_mass += count;
            for (f, &level) in pattern.iter().enumerate() {
                if level != MISSING {
                    m_counts[f][usize::from(level)] += mass;
                }
            }
        }
        let new_lambda = (match_mass / total_mass.max(1.0)).clamp(FLOOR, lambda_cap);
        let mut change = (new_lambda - lambda).abs();
        if update_m {
            for (f, counts) in m_counts.iter().enumerate() {
                let seen: f64 = counts.iter().sum();
                if seen <= 0.0 {
                    continue;
                }
                let total = seen + 1e-3 * counts.len() as f64;
                for (l, &c) in counts.iter().enumerate() {
                    let value = (c + 1e-3) / total;
                    change = change.max((value - m[f][l]).abs());
                    m[f][l] = value;
                }
            }
        }
        lambda = new_lambda;
        if change < options.tolerance {
            break;
        }
    }
    (lambda, iterations)
}

/// Fit m and λ without labels, with u fixed from [`estimate_u`].
///
/// EM over all candidate pairs at once can lock onto the wrong clusters: when most candidates share a
/// common surname, "same surname" looks like the match class. So m is estimated in **sessions**, as Splink
/// recommends: each session takes the candidates that agree on one field (as if blocked on it), runs EM with
/// that field left out, and so learns m of the *other* fields among pairs where the split is informative.
/// A field's m is the mean over the sessions that estimated it (EM over all pairs is the fallback). A
/// final EM run with m and u fixed fits λ over all candidates.
pub fn estimate(
    prepared: &Prepared,
    levels: &[u8],
    u: Vec<Vec<f64>>,
    options: &EstimationOptions,
) -> Model {
    let n_fields = prepared.fields.len().max(1);
    let n_pairs = (levels.len() / n_fields).max(1) as f64;
    // At most one match per record of the smaller side (linking), or a bounded number per record
    // (de-duplication), can be among the candidates; capping λ there keeps EM from the degenerate
    // "everything matches" optimum.
    let max_matches = if prepared.is_dedupe() {
        // Duplicates form clusters, and a cluster of k records has k(k-1)/2 matching pairs; allow clusters
        // of about ten records on average before calling the estimate degenerate.
        5.0 * prepared.n_left() as f64
    } else {
        prepared.n_left().min(prepared.n_right()) as f64
    };
    let cap = |pairs: f64| (max_matches / pairs.max(1.0)).clamp(FLOOR, 1.0 - FLOOR);
    let all_patterns = count_patterns(levels, n_fields, None, |_| true);
    let mut fallback = initial_m(prepared);
    let (_, mut iterations) = em(
        &all_patterns,
        &u,
        &mut fallback,
        cap(n_pairs),
        true,
        options,
    );
    let mut sums: Vec<Vec<f64>> = fallback.iter().map(|v| vec![0.0; v.len()]).collect();
    let mut n_sessions = vec![0usize; prepared.fields.len()];
    // Per session: (field, agreement level, pairs in the session, λ within the session).
    let mut session_matches: Vec<(usize, u8, f64, f64)> = Vec::new();
    for (f, field) in prepared.fields.iter().enumerate() {
        let Some(agree) = session_level(field.kind) else {
            continue;
        };
        let keep = |p: &[u8]| p[f] != MISSING && p[f] >= agree;
        let patterns = count_patterns(levels, n_fields, Some(f), keep);
        let session_pairs: f64 = patterns.iter().map(|(_, c)| c).sum();
        if session_pairs < 20.0 {
            continue;
        }
        let mut m = initial_m(prepared);
        let (session_lambda, its) = em(&patterns, &u, &mut m, cap(session_pairs), true, options);
        iterations += its;
        session_matches.push((f, agree, session_pairs, session_lambda));
        for g in (0..prepared.fields.len()).filter(|&g| g != f) {
            for (sum, value) in sums[g].iter_mut().zip(&m[g]) {
                *sum += value;
            }
            n_sessions[g] += 1;
        }
    }
    let m: Vec<Vec<f64>> = (0..prepared.fields.len())
        .map(|g| {
            if n_sessions[g] == 0 {
                fallback[g].clone()
            } else {
                sums[g].iter().map(|s| s / n_sessions[g] as f64).collect()
            }
        })
        .collect();
    // λ is the probability that two *random* records match, the prior that fits u from random pairs (a
    // prior over candidate pairs would overstate every candidate's odds, since candidates are chosen for
    // agreeing). Each session estimates the number of matches: matches agreeing on its field divided by
    // the share of matches that agree on it (from m); the median over sessions is used.
    let total_pairs = if prepared.is_dedupe() {
        let n = prepared.n_left() as f64;
        n * (n - 1.0) / 2.0
    } else {
        prepared.n_left() as f64 * prepared.n_right() as f64
    };
    let mut estimates: Vec<f64> = session_matches
        .iter()
        .filter_map(|&(f, agree, pairs, session_lambda)| {
            let agreeing: f64 = m[f].iter().skip(usize::from(agree)).sum();
            (agreeing > 0.05).then(|| session_lambda * pairs / agreeing)
        })
        .collect();
    estimates.sort_by(f64::total_cmp);
    let n_matches = match estimates.len() {
        0 => {
            // No session: fall back to EM over all candidates, which gives the share among candidates.
            let mut m_fixed = m.clone();
            let (lambda_candidates, its) = em(
                &all_patterns,
                &u,
                &mut m_fixed,
                cap(n_pairs),
                false,
                options,
            );
            iterations += its;
            lambda_candidates * n_pairs
        }
        k => estimates[k / 2],
    };
    let lambda =
        (n_matches.clamp(1.0, max_matches.max(1.0)) / total_pairs.max(1.0)).clamp(1e-12, 0.5);
    let fields = prepared
        .fields
        .iter()
        .zip(m.into_iter().zip(u))
        .map(|(spec, (m, u))| FieldParameters {
            name: spec.name.clone(),
            kind: spec.kind,
            m,
            u,
            term_frequency: spec.kind.is_name(),
        })
        .collect();
    Model {
        fields,
        lambda,
        iterations,
        expected_matches: lambda * total_pairs,
    }
}

impl Model {
    /// Replace m by the level frequencies among pairs known to match (labelled by an analyst), where the
    /// labels cover a field; EM's m stays for fields the labels leave missing. `levels` holds the labelled
    /// pairs' comparison levels, one row of fields per pair.
    pub fn with_labelled_m(mut self, levels: &[u8]) -> Model {
        let n_fields = self.fields.len().max(1);
        for (f, field) in self.fields.iter_mut().enumerate() {
            let mut counts = vec![0.0f64; field.m.len()];
            for pattern in levels.chunks(n_fields) {
                if pattern[f] != MISSING {
                    counts[usize::from(pattern[f])] += 1.0;
                }
            }
            let total: f64 = counts.iter().sum();
            if total > 0.0 {
                // Add-half smoothing, as for u: a level unseen among the labels is rare, not impossible.
                let denominator = total + 0.5 * counts.len() as f64;
                field.m = counts.iter().map(|c| (c + 0.5) / denominator).collect();
            }
        }
        self
    }

    /// log2 prior odds of a match.
    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// Weight of one field's level for left record `l` (term-frequency adjusted at exact agreement).
    pub fn field_weight(&self, prepared: &Prepared, f: usize, level: u8, l: usize) -> f64 {
        if level == MISSING {
            return 0.0;
        }
        let params = &self.fields[f];
        let top = (params.m.len() - 1) as u8;
        if params.term_frequency
            && level == top
            && let Some(tf) = prepared.term_frequency(f, l)
        {
            return (params.m[usize::from(level)].max(FLOOR) / tf.max(FLOOR)).log2();
        }
        params.level_weight(level)
    }

    /// Total match weight of a pair with the given levels.
    pub fn weight(&self, prepared: &Prepared, levels: &[u8], l: usize) -> f64 {
        self.prior_weight()
            + levels
                .iter()
                .enumerate()
                .map(|(f, &level)| self.field_weight(prepared, f, level, l))
                .sum::<f64>()
    }

    /// A plain-text table of the estimated parameters, one line per field and level.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "lambda (probability two random records match) = {:.3e} (about {:.0} matches); EM iterations = {}\n",
            self.lambda, self.expected_matches, self.iterations
        );
        out.push_str("field\tkind\tlevel\tm\tu\tweight_bits\n");
        for field in &self.fields {
            for (l, label) in level_labels(field.kind).iter().enumerate() {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{:.5}\t{:.6}\t{:+.2}\n",
                    field.name,
                    field.kind,
                    label,
                    field.m[l],
                    field.u[l],
                    field.level_weight(l as u8)
                ));
            }
        }
        out
    }
}

/// Convert a match weight (bits) to a probability.
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}
