//! How much room is there above the baselines? Two hindsight references for a year's monthly
//! forecasts, so that a gain target can be judged against what any forecast could reach.
//!
//! Neither is a forecast: both look at the year being scored. They answer "if a model knew more
//! than the past could tell it, how much better would its PAI be than the baseline's?":
//!
//! - **hindsight 11 months**: each month is ranked by the counts of the *other* eleven months of the
//!   same year (it knows the months around the target, but not the target month's own events).
//!   If this does not beat the exponentially weighted baseline, a stable per-cell rate known better
//!   than the past can tell is worth nothing: the remaining gap to a perfect ranking is the target
//!   month's own noise.
//! - **static-rate ceiling**: the expected PAI of ranking by each cell's true mean rate when a
//!   month's counts are Poisson with that rate, taking the year's own counts as the true rates. The
//!   expected hit rate is then the top-n cells' share of the year's events (ratio of expectations).
//!   The year's counts are themselves noisy, which makes them look more concentrated than the true
//!   rates are, so this overstates the ceiling of any forecast with a steady rate per cell; a rate
//!   that moves within the year is not covered by it.

use serde::Serialize;

use crate::data::Dataset;
use crate::eval::{actual_counts, mean_scores, month_periods};
use crate::metrics::{COVERAGES, Score, score_all};

/// Hindsight references for one category and year, per coverage.
#[derive(Debug, Clone, Serialize)]
pub struct Headroom {
    /// Category index (0 = all).
    pub category: usize,
    /// Year scored.
    pub year: i32,
    /// Mean scores of ranking each month by the same year's other eleven months.
    pub hindsight_11_months: Vec<Score>,
    /// PAI of ranking by the year's own counts, scored on them (the static-rate ceiling).
    pub static_rate_ceiling_pai: Vec<f64>,
}

/// Computes both references for a category and year.
pub fn headroom(ds: &Dataset, category: usize, year: i32) -> Headroom {
    let months: Vec<Vec<u32>> = month_periods(year)
        .into_iter()
        .map(|p| actual_counts(ds, category, p))
        .collect();
    let n = ds.area.n_cells();
    let mut year_total = vec![0u32; n];
    for m in &months {
        year_total.iter_mut().zip(m).for_each(|(t, &c)| *t += c);
    }
    let per_month: Vec<Vec<Score>> = months
        .iter()
        .filter_map(|m| {
            let others: Vec<f64> = year_total
                .iter()
                .zip(m)
                .map(|(&t, &c)| f64::from(t - c))
                .collect();
            score_all(&others, m, &COVERAGES)
        })
        .collect();
    let as_scores: Vec<f64> = year_total.iter().map(|&c| f64::from(c)).collect();
    let ceiling = score_all(&as_scores, &year_total, &COVERAGES)
        .map(|s| s.iter().map(|x| x.pai).collect())
        .unwrap_or_else(|| vec![0.0; COVERAGES.len()]);
    Headroom {
        category,
        year,
        hindsight_11_months: mean_scores(&per_month),
        static_rate_ceiling_pai: ceiling,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::days_from_civil;

    #[test]
    fn a_steady_hot_cell_is_found_by_both_references() {
        // Cell (0,0) has 3 events every month of 2020; cells (1..=199, 0) one event each in one
        // month. With 200 cells, 1% flags 2 cells.
        let mut records = Vec::new();
        for m in 1..=12 {
            for _ in 0..3 {
                records.push((days_from_civil(2020, m, 10), 1, 0, 0));
            }
        }
        for c in 1..200 {
            records.push((days_from_civil(2020, (c % 12) as u32 + 1, 5), 1, c, 0));
        }
        let ds = Dataset::from_records(&records);
        let h = headroom(&ds, 1, 2020);
        assert_eq!(h.hindsight_11_months.len(), COVERAGES.len());
        // Ceiling at 1% (2 cells): the hot cell's 36 events plus one single-event cell, of 235.
        let expected = (36.0 + 1.0) / 235.0 / (2.0 / 200.0);
        assert!(
            (h.static_rate_ceiling_pai[1] - expected).abs() < 1e-9,
            "{:?}",
            h.static_rate_ceiling_pai
        );
        // Hindsight ranks the hot cell first every month, so it captures at least its 3 events.
        assert!(h.hindsight_11_months[1].hit_rate >= 3.0 / 20.0);
    }
}
