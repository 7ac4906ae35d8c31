//! Poisson regression on lagged counts: learns how to weigh recent and old history, the cell's
//! neighbours and other crime types, from the months just before the origin.
//!
//! For a cell c and an origin t the features are log(1 + count) of the category in disjoint windows
//! before t (0-28, 28-91, 91-182, 182-365, 365-730 days and everything older since 2014), of all
//! crime types in the last 365 days and since 2014, and of the category in the 8 neighbouring cells
//! over the last 365 days, and of the category in the same season (the coming month ± 15 days) one
//! and two years before. The model is log E[count in the month] = log(days) + β·features, fitted
//! by Newton's method (IRLS) with a small ridge on the `training_months` months that end before t;
//! every target month is complete before the origin, so nothing leaks from the forecast period.

use serde::Serialize;

use super::{Period, train_start};
use crate::data::Dataset;

/// Hyper-parameters of the Poisson regression.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GlmConfig {
    /// Number of monthly training origins before the forecast origin.
    pub training_months: usize,
    /// Ridge penalty on the coefficients (not the intercept).
    pub ridge: f64,
    /// Newton iterations.
    pub iterations: usize,
}

impl Default for GlmConfig {
    fn default() -> Self {
        Self {
            training_months: 24,
            ridge: 1.0,
            iterations: 20,
        }
    }
}

const CAT_WINDOWS: [(i32, i32); 5] = [(0, 28), (28, 91), (91, 182), (182, 365), (365, 730)];
/// Intercept + 5 windows + older + all-crime 365 d + all-crime history + neighbours 365 d
/// + the same season one and two years before.
pub const N_FEATURES: usize = 12;

/// Feature rows (one per study cell) for an origin day.
pub fn features(ds: &Dataset, category: usize, origin: i32) -> Vec<[f64; N_FEATURES]> {
    let n = ds.area.n_cells();
    let mut raw = vec![[0.0f64; N_FEATURES]; n];
    let count_into =
        |cat: usize, from: i32, to: i32, k: usize, raw: &mut Vec<[f64; N_FEATURES]>| {
            for e in ds.window(cat, from.max(train_start()), to) {
                raw[e.cell as usize][k] += 1.0;
            }
        };
    for (k, &(a, b)) in CAT_WINDOWS.iter().enumerate() {
        count_into(category, origin - b, origin - a, 1 + k, &mut raw);
    }
    count_into(category, train_start(), origin - 730, 6, &mut raw);
    count_into(0, origin - 365, origin, 7, &mut raw);
    count_into(0, train_start(), origin, 8, &mut raw);
    // Neighbours' last-365-day counts of the category.
    let mut own = vec![0.0; n];
    for e in ds.window(category, (origin - 365).max(train_start()), origin) {
        own[e.cell as usize] += 1.0;
    }
    for (id, row) in raw.iter_mut().enumerate() {
        let (col, r) = ds.area.cells[id];
        let mut s = 0.0;
        for dy in -1..=1 {
            for dx in -1..=1 {
                if (dx, dy) != (0, 0)
                    && let Some(j) = ds.area.id(col + dx, r + dy)
                {
                    s += own[j as usize];
                }
            }
        }
        row[9] = s;
    }
    // Seasonality: the coming month and its neighbours (t − 15 days to t + 45 days) a year and two
    // years earlier.
    for (k, years) in [1, 2].iter().enumerate() {
        let back = 365 * years;
        count_into(
            category,
            origin - back - 15,
            origin - back + 45,
            10 + k,
            &mut raw,
        );
    }
    for row in &mut raw {
        for v in row.iter_mut().skip(1) {
            *v = v.ln_1p();
        }
        row[0] = 1.0;
    }
    raw
}

/// Solves the symmetric positive-definite system `a x = b` by Cholesky decomposition.
#[allow(clippy::needless_range_loop)] // index loops read best for small dense matrices
fn cholesky_solve<const N: usize>(a: &[[f64; N]; N], b: &[f64; N]) -> Option<[f64; N]> {
    let n = N;
    let mut l = [[0.0; N]; N];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d <= 0.0 {
                    return None;
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let mut y = [0.0; N];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; N];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

/// Ridge-penalised Poisson log-likelihood (up to a constant) of β.
fn penalised_loglik<const N: usize>(
    rows: &[([f64; N], f64, f64)],
    beta: &[f64; N],
    ridge: f64,
) -> f64 {
    let ll: f64 = rows
        .iter()
        .map(|(x, off, y)| {
            let eta = off + x.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>();
            y * eta - eta.min(30.0).exp()
        })
        .sum();
    ll - 0.5 * ridge * beta.iter().skip(1).map(|b| b * b).sum::<f64>()
}

/// Fits β on (features, offset, count) rows by ridge-penalised Newton iterations with step halving
/// (a full Newton step can overshoot on sparse counts).
#[allow(clippy::needless_range_loop)] // index loops read best for small dense matrices
pub fn fit_poisson<const N: usize>(
    rows: &[([f64; N], f64, f64)],
    ridge: f64,
    iterations: usize,
) -> [f64; N] {
    let total: f64 = rows.iter().map(|r| r.2).sum();
    let exposure: f64 = rows.iter().map(|r| r.1.exp()).sum();
    let mut beta = [0.0; N];
    beta[0] = (total.max(1e-9) / exposure.max(1e-9)).ln();
    let mut current = penalised_loglik(rows, &beta, ridge);
    for _ in 0..iterations {
        let mut grad = [0.0; N];
        let mut hess = [[0.0; N]; N];
        for (x, off, y) in rows {
            let eta: f64 = off + x.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>();
            let mu = eta.min(30.0).exp();
            for i in 0..N {
                grad[i] += (y - mu) * x[i];
                for j in 0..=i {
                    hess[i][j] += mu * x[i] * x[j];
                }
            }
        }
        for i in 0..N {
            for j in 0..i {
                hess[j][i] = hess[i][j];
            }
            if i > 0 {
                hess[i][i] += ridge;
                grad[i] -= ridge * beta[i];
            }
        }
        let Some(step) = cholesky_solve(&hess, &grad) else {
            break;
        };
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let mut cand = beta;
            for i in 0..N {
                cand[i] += t * step[i];
            }
            let ll = penalised_loglik(rows, &cand, ridge);
            if ll >= current {
                improved = ll - current > 1e-10 * current.abs().max(1.0);
                beta = cand;
                current = ll;
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    beta
}

/// Monthly training origins before a period: the `n` month starts preceding it, with their ends.
pub fn training_periods(period: Period, n: usize) -> Vec<Period> {
    // Walk back month by month through the civil calendar.
    let mut out = Vec::with_capacity(n);
    let mut end = period.start;
    for _ in 0..n {
        let start = month_start_before(end);
        out.push(Period { start, end });
        end = start;
    }
    out
}

/// First day of the month before the month starting at (or containing) `day`.
fn month_start_before(day: i32) -> i32 {
    let (y, m) = crate::data::civil_year_month(day - 1);
    crate::data::days_from_civil(y, m, 1)
}

impl GlmConfig {
    /// Fits on the preceding months and returns the expected count per cell for the period.
    pub fn forecast(&self, ds: &Dataset, category: usize, period: Period) -> Vec<f64> {
        let mut rows = Vec::new();
        for p in training_periods(period, self.training_months) {
            let x = features(ds, category, p.start);
            let mut y = vec![0.0; ds.area.n_cells()];
            for e in ds.window(category, p.start, p.end) {
                y[e.cell as usize] += 1.0;
            }
            let off = ((p.end - p.start) as f64).ln();
            rows.extend(x.into_iter().zip(y).map(|(x, y)| (x, off, y)));
        }
        let beta = fit_poisson(&rows, self.ridge, self.iterations);
        let off = ((period.end - period.start) as f64).ln();
        features(ds, category, period.start)
            .iter()
            .map(|x| {
                (off + x.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>())
                    .min(30.0)
                    .exp()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_fit_recovers_coefficients() {
        // y = exp(0.5 + 1.0 * x1) exactly (noise-free expected counts as targets).
        let mut rows = Vec::new();
        for i in 0..200 {
            let mut x = [0.0; N_FEATURES];
            x[0] = 1.0;
            x[1] = (i % 20) as f64 / 10.0;
            x[2] = ((i * 7) % 13) as f64 / 13.0;
            rows.push((x, 0.0, (0.5 + x[1]).exp()));
        }
        let b = fit_poisson(&rows, 1e-9, 50);
        assert!(
            (b[0] - 0.5).abs() < 1e-4 && (b[1] - 1.0).abs() < 1e-4 && b[2].abs() < 1e-4,
            "{b:?}"
        );
    }

    #[test]
    fn training_months_walk_back() {
        use crate::data::days_from_civil;
        let p = Period {
            start: days_from_civil(2021, 3, 1),
            end: days_from_civil(2021, 4, 1),
        };
        let t = training_periods(p, 3);
        assert_eq!(
            t[0],
            Period {
                start: days_from_civil(2021, 2, 1),
                end: days_from_civil(2021, 3, 1)
            }
        );
        assert_eq!(t[2].start, days_from_civil(2020, 12, 1));
    }
}
