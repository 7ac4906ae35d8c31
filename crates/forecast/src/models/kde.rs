//! Gaussian kernel density estimation on the grid, with bandwidth chosen by likelihood cross-validation.
//!
//! The cross-validation is predictive: for each 2020 origin the KDE is fitted on the training window
//! and scored by the log-likelihood of the following month's events. The density over study cells
//! is mixed with 1% of a uniform density so that an event in a cell with no nearby history costs a
//! finite penalty (otherwise a single such event would veto every narrow bandwidth).

use serde::Serialize;

use super::{Period, counts, normalised, train_start};
use crate::data::Dataset;
use crate::raster::smooth;

/// Share of the uniform density mixed in when scoring likelihood.
pub const UNIFORM_SHARE: f64 = 0.01;

/// A kernel density estimate's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KdeConfig {
    /// Standard deviation of the Gaussian kernel (metres).
    pub bandwidth_m: f64,
    /// Trailing window of events (days); `None` means all history since 2014.
    pub window_days: Option<i32>,
}

impl KdeConfig {
    /// The (unnormalised) smoothed count surface at study cells.
    pub fn surface(&self, ds: &Dataset, category: usize, period: Period) -> Vec<f64> {
        let from = match self.window_days {
            Some(w) => (period.start - w).max(train_start()),
            None => train_start(),
        };
        let c = counts(ds.area.n_cells(), ds.window(category, from, period.start));
        smooth(&ds.area, &c, self.bandwidth_m)
    }

    /// Mean log-likelihood per held-out event of the period's events under the fitted density.
    pub fn heldout_loglik(&self, ds: &Dataset, category: usize, period: Period) -> Option<f64> {
        let p = normalised(self.surface(ds, category, period));
        let n = p.len() as f64;
        let test = ds.window(category, period.start, period.end);
        if test.is_empty() {
            return None;
        }
        let ll: f64 = test
            .iter()
            .map(|e| ((1.0 - UNIFORM_SHARE) * p[e.cell as usize] + UNIFORM_SHARE / n).ln())
            .sum();
        Some(ll / test.len() as f64)
    }
}

/// One candidate's cross-validated log-likelihood.
#[derive(Debug, Clone, Serialize)]
pub struct LcvPoint {
    /// The candidate.
    pub config: KdeConfig,
    /// Mean over the selection origins of the mean held-out log-likelihood per event.
    pub mean_loglik: f64,
}

/// Chooses the KDE maximising mean held-out log-likelihood over the `periods` (2020's months).
pub fn select_by_likelihood(
    ds: &Dataset,
    category: usize,
    periods: &[Period],
    bandwidths_m: &[f64],
    windows: &[Option<i32>],
) -> (KdeConfig, Vec<LcvPoint>) {
    let mut points = Vec::new();
    for &window_days in windows {
        for &bandwidth_m in bandwidths_m {
            let config = KdeConfig {
                bandwidth_m,
                window_days,
            };
            let lls: Vec<f64> = periods
                .iter()
                .filter_map(|&p| config.heldout_loglik(ds, category, p))
                .collect();
            let mean_loglik = lls.iter().sum::<f64>() / lls.len().max(1) as f64;
            points.push(LcvPoint {
                config,
                mean_loglik,
            });
        }
    }
    let best = points
        .iter()
        .max_by(|a, b| a.mean_loglik.total_cmp(&b.mean_loglik))
        .map(|p| p.config)
        .unwrap_or(KdeConfig {
            bandwidth_m: 250.0,
            window_days: None,
        });
    (best, points)
}
