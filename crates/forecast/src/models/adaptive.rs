//! Adaptive exponential smoothing (`adaptive_exp`): at every origin, re-choose how far back to
//! look and how much to borrow from all crime, by how well each choice would have ranked cells in
//! the months just before the origin.
//!
//! Why: the exponentially weighted baseline is hard to beat, but its half-life is chosen once, on
//! one selection year, and the best half-life moves with the regime (2020's lockdowns changed where
//! and when crime happened, and 2021 was neither 2019 nor 2020). Here the choice is part of the
//! model and is refitted at each origin on training data only: every member of a small family
//! (half-lives 28 days to 4 years, each with 0, 10% or 25% of the all-crime surface at the same
//! half-life mixed in, each surface normalised to sum 1) is scored on the `window_months` monthly
//! origins that end before the forecast origin (mean PAI at 0.5%, 1% and 2% of its forecasts of
//! those months from the data before each of them), and the forecast is the mean of the
//! normalised surfaces of the `top_k` best members (averaging a few near-ties damps selection
//! noise). The all-crime share borrows strength from the MCIs' shared hot spots for a sparse
//! category; for all categories together it changes nothing.

use serde::Serialize;

use super::glm::training_periods;
use super::{Period, exp_weighted_series, train_start};
use crate::data::Dataset;
use crate::metrics::{COVERAGES, score_all};

/// Hyper-parameters of the adaptive model (fixed by design; nothing here is tuned on the test year).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdaptiveConfig {
    /// Number of monthly origins before the forecast origin on which members are scored.
    pub window_months: usize,
    /// Candidate half-lives (days).
    pub half_lives: Vec<f64>,
    /// Candidate shares of the all-crime surface.
    pub all_crime_shares: Vec<f64>,
    /// Number of best members averaged.
    pub top_k: usize,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            window_months: 12,
            half_lives: vec![28.0, 56.0, 91.0, 182.0, 365.0, 730.0, 1461.0],
            all_crime_shares: vec![0.0, 0.1, 0.25],
            top_k: 3,
        }
    }
}

fn normalised(v: &[f64]) -> Vec<f64> {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter().map(|x| x / s).collect()
    } else {
        v.to_vec()
    }
}

/// `(1 − share) · cat + share · all`, both normalised.
fn member_surface(cat: &[f64], all: &[f64], share: f64) -> Vec<f64> {
    let (c, a) = (normalised(cat), normalised(all));
    if share == 0.0 {
        return c;
    }
    c.iter()
        .zip(&a)
        .map(|(x, y)| (1.0 - share) * x + share * y)
        .collect()
}

impl AdaptiveConfig {
    /// The forecast for a period, with the members chosen on the months before it.
    pub fn forecast(&self, ds: &Dataset, category: usize, period: Period) -> Vec<f64> {
        let (surface, _) = self.forecast_with_choice(ds, category, period);
        surface
    }

    /// The forecast and the chosen members (half-life, all-crime share), best first.
    pub fn forecast_with_choice(
        &self,
        ds: &Dataset,
        category: usize,
        period: Period,
    ) -> (Vec<f64>, Vec<(f64, f64)>) {
        let n = ds.area.n_cells();
        let mut past = training_periods(period, self.window_months);
        past.reverse();
        past.retain(|p| p.start > train_start());
        let origins: Vec<i32> = past
            .iter()
            .map(|p| p.start)
            .chain(std::iter::once(period.start))
            .collect();
        let actuals: Vec<Vec<u32>> = past
            .iter()
            .map(|p| {
                let mut a = vec![0u32; n];
                for e in ds.window(category, p.start, p.end) {
                    a[e.cell as usize] += 1;
                }
                a
            })
            .collect();
        let last = origins.len() - 1;
        // (objective, half-life, share, surface at the forecast origin)
        let mut members: Vec<(f64, f64, f64, Vec<f64>)> = Vec::new();
        for &h in &self.half_lives {
            let cat = exp_weighted_series(&ds.by_category[category], n, &origins, h);
            let all = if category != 0 && self.all_crime_shares.iter().any(|&s| s > 0.0) {
                exp_weighted_series(&ds.by_category[0], n, &origins, h)
            } else {
                cat.clone()
            };
            for &share in &self.all_crime_shares {
                if category == 0 && share > 0.0 {
                    continue; // all crime mixed with itself: the same member
                }
                let scores: Vec<_> = (0..past.len())
                    .filter_map(|k| {
                        score_all(
                            &member_surface(&cat[k], &all[k], share),
                            &actuals[k],
                            &COVERAGES,
                        )
                    })
                    .collect();
                let m = scores.len().max(1) as f64;
                let objective = scores
                    .iter()
                    .map(|s| (s[0].pai + s[1].pai + s[2].pai) / 3.0)
                    .sum::<f64>()
                    / m;
                members.push((
                    objective,
                    h,
                    share,
                    member_surface(&cat[last], &all[last], share),
                ));
            }
        }
        // Best first; ties keep the family order (shorter half-life, smaller share first).
        members.sort_by(|a, b| b.0.total_cmp(&a.0));
        members.truncate(self.top_k.max(1));
        let k = members.len().max(1) as f64;
        let mut out = vec![0.0; n];
        for m in &members {
            out.iter_mut().zip(&m.3).for_each(|(o, x)| *o += x / k);
        }
        (out, members.iter().map(|m| (m.1, m.2)).collect())
    }
}
