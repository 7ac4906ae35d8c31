//! Invariants of the tie-averaged hit count, PAI and PEI.

use jikimi_forecast::metrics::{Ranked, n_flagged, score_all};
use proptest::prelude::*;

/// Expected hits by brute force: the average over every ordering that sorts by score (all
/// permutations of tied cells), computed as the mean over uniformly random tie orders exactly.
fn brute_expected(scores: &[f64], actual: &[u32], n: usize) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let t = scores[idx[n - 1]];
    let above: Vec<usize> = idx.iter().copied().filter(|&i| scores[i] > t).collect();
    let tied: Vec<usize> = idx.iter().copied().filter(|&i| scores[i] == t).collect();
    let need = n - above.len();
    // Each tied cell is taken with probability need / |tied| by symmetry; check that by averaging
    // over all subsets of the tied block of size `need` (small blocks only).
    let m = tied.len();
    let (mut sum, mut count) = (0.0, 0.0);
    for mask in 0u32..(1 << m) {
        if mask.count_ones() as usize != need {
            continue;
        }
        let s: f64 = (0..m)
            .filter(|b| mask & (1 << b) != 0)
            .map(|b| actual[tied[b]] as f64)
            .sum();
        sum += s;
        count += 1.0;
    }
    above.iter().map(|&i| actual[i] as f64).sum::<f64>() + sum / count
}

proptest! {
    #[test]
    fn tie_average_equals_subset_average(
        cells in prop::collection::vec((0u8..4, 0u32..6), 1..12),
        f in 0.05f64..1.0,
    ) {
        let scores: Vec<f64> = cells.iter().map(|c| c.0 as f64).collect();
        let actual: Vec<u32> = cells.iter().map(|c| c.1).collect();
        let n = n_flagged(f, scores.len());
        let got = Ranked::new(&scores).expected_hits(&actual, n);
        let want = brute_expected(&scores, &actual, n);
        prop_assert!((got - want).abs() < 1e-9, "{} vs {}", got, want);
    }

    #[test]
    fn pei_at_most_one_and_perfect_forecast_scores_one(
        actual in prop::collection::vec(0u32..20, 2..200),
        f in 0.005f64..0.5,
    ) {
        let noisy: Vec<f64> = actual.iter().enumerate().map(|(i, &a)| ((a as usize * 7 + i) % 5) as f64).collect();
        if let Some(s) = score_all(&noisy, &actual, &[f]) {
            prop_assert!(s[0].pei <= 1.0 + 1e-12);
            prop_assert!(s[0].hit_rate <= 1.0 + 1e-12);
        }
        let perfect: Vec<f64> = actual.iter().map(|&a| a as f64).collect();
        if let Some(s) = score_all(&perfect, &actual, &[f]) {
            prop_assert!((s[0].pei - 1.0).abs() < 1e-12);
        }
    }
}
