//! Scoring a ranking of cells: hit rate, PAI and PEI at a coverage, ties at the cut-off averaged.
//!
//! Flagging coverage f means the top n = max(1, round(f × N)) of the N study cells. When cells tied
//! at the cut-off score straddle it, the hit count is its expected value over a uniformly random
//! order of the tied cells: all hits of cells strictly above the cut-off score plus
//! (n − above) / tied × hits of the tied cells.

/// The four coverages of the evaluation (share of study cells flagged).
pub const COVERAGES: [f64; 4] = [0.005, 0.01, 0.02, 0.05];

/// Number of cells flagged at coverage `f` of `n_cells` study cells.
pub fn n_flagged(f: f64, n_cells: usize) -> usize {
    ((f * n_cells as f64).round() as usize)
        .max(1)
        .min(n_cells.max(1))
}

/// Hit rate, PAI and PEI of one forecast at one coverage.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Score {
    /// Expected share of the period's events in the flagged cells.
    pub hit_rate: f64,
    /// Predictive Accuracy Index: hit rate / share of area flagged.
    pub pai: f64,
    /// Predictive Efficiency Index: PAI / best attainable PAI with the same number of cells.
    pub pei: f64,
}

/// A ranking prepared once and scored at several cut-offs.
pub struct Ranked<'a> {
    scores: &'a [f64],
    order: Vec<u32>,
}

impl<'a> Ranked<'a> {
    /// Sorts cells by descending score (NaN is treated as lowest).
    pub fn new(scores: &'a [f64]) -> Self {
        let mut order: Vec<u32> = (0..scores.len() as u32).collect();
        order
            .sort_unstable_by(|&a, &b| key(scores[b as usize]).total_cmp(&key(scores[a as usize])));
        Self { scores, order }
    }

    /// Expected number of hits among the top `n` cells given per-cell event counts `actual`.
    pub fn expected_hits(&self, actual: &[u32], n: usize) -> f64 {
        let n = n.min(self.order.len());
        if n == 0 {
            return 0.0;
        }
        let t = key(self.scores[self.order[n - 1] as usize]);
        // Cells strictly above the cut-off score come first in `order`; the tied block spans
        // [first_tied, end_tied).
        let first_tied = self.order[..n].partition_point(|&i| key(self.scores[i as usize]) > t);
        let end_tied = n + self.order[n..].partition_point(|&i| key(self.scores[i as usize]) == t);
        let above: f64 = self.order[..first_tied]
            .iter()
            .map(|&i| actual[i as usize] as f64)
            .sum();
        let tied: f64 = self.order[first_tied..end_tied]
            .iter()
            .map(|&i| actual[i as usize] as f64)
            .sum();
        let take = (n - first_tied) as f64;
        let n_tied = (end_tied - first_tied) as f64;
        above + tied * take / n_tied
    }
}

fn key(s: f64) -> f64 {
    if s.is_nan() { f64::NEG_INFINITY } else { s }
}

/// Best attainable hits with `n` cells: the sum of the `n` largest actual counts.
pub fn max_hits(sorted_desc_actual: &[u32], n: usize) -> f64 {
    sorted_desc_actual.iter().take(n).map(|&a| a as f64).sum()
}

/// Scores a forecast at each coverage. Returns `None` when the period has no events (undefined).
pub fn score_all(scores: &[f64], actual: &[u32], coverages: &[f64]) -> Option<Vec<Score>> {
    let total: u64 = actual.iter().map(|&a| a as u64).sum();
    if total == 0 {
        return None;
    }
    let n_cells = scores.len();
    let ranked = Ranked::new(scores);
    let mut sorted = actual.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    Some(
        coverages
            .iter()
            .map(|&f| {
                let n = n_flagged(f, n_cells);
                let hits = ranked.expected_hits(actual, n);
                let best = max_hits(&sorted, n);
                let area_share = n as f64 / n_cells as f64;
                let hit_rate = hits / total as f64;
                Score {
                    hit_rate,
                    pai: hit_rate / area_share,
                    pei: if best > 0.0 { hits / best } else { 0.0 },
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_flagged_rounds_and_is_at_least_one() {
        assert_eq!(n_flagged(0.005, 100), 1); // 0.5 rounds away from zero
        assert_eq!(n_flagged(0.005, 10), 1); // 0.05 rounds to 0, floor of 1
        assert_eq!(n_flagged(0.01, 5000), 50);
        assert_eq!(n_flagged(0.02, 5049), 101);
    }

    #[test]
    fn ties_at_cut_off_are_averaged() {
        // Scores: one clear top cell, then three cells tied, then a low one. n = 2 takes the top
        // cell and one of three tied cells: expected hits = 5 + (1 + 2 + 0) / 3 = 6.
        let scores = [9.0, 1.0, 1.0, 1.0, 0.0];
        let actual = [5, 1, 2, 0, 7];
        let r = Ranked::new(&scores);
        assert!((r.expected_hits(&actual, 2) - 6.0).abs() < 1e-12);
        // n = 4 takes everything tied: 5 + 3.
        assert!((r.expected_hits(&actual, 4) - 8.0).abs() < 1e-12);
        // n = 1: no tie at the cut-off.
        assert!((r.expected_hits(&actual, 1) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn all_tied_gives_uniform_expectation() {
        let scores = [0.0; 4];
        let actual = [4, 0, 0, 0];
        let r = Ranked::new(&scores);
        assert!((r.expected_hits(&actual, 1) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn pai_and_pei_by_hand() {
        // 10 cells, coverage 0.2 → n = 2. Forecast flags cells 0 and 1 (hits 3 + 1 = 4 of 10 events).
        // Hit rate 0.4, area share 0.2 → PAI 2. Best two cells hold 3 + 5 = 8 → PEI = 4 / 8 = 0.5.
        let scores = [10.0, 9.0, 1.0, 1.0, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0];
        let actual = [3, 1, 5, 0, 0, 0, 1, 0, 0, 0];
        let s = score_all(&scores, &actual, &[0.2]).unwrap_or_default();
        assert_eq!(s.len(), 1);
        assert!((s[0].hit_rate - 0.4).abs() < 1e-12);
        assert!((s[0].pai - 2.0).abs() < 1e-12);
        assert!((s[0].pei - 0.5).abs() < 1e-12);
    }

    #[test]
    fn no_events_is_undefined() {
        assert!(score_all(&[1.0, 2.0], &[0, 0], &[0.5]).is_none());
    }
}
