//! Local Getis-Ord G (Gi) and G* (Gi*) with esda's definitions (`esda.G_Local`).
//!
//! `G_i = sum_j w_ij y_j / (sum y - y_i [Gi only])` with `N = n - 1` for Gi and `n` for Gi*;
//! `EG_i = W_i / N` (`W_i` the row sum, self-weight included for Gi*);
//! `VG_i = W_i (N - W_i) / (N - 1) / N^2 * s^2 / ybar^2` with the mean and variance of the other
//! values (Gi) or all values (Gi*); `Z_i = (G_i - EG_i) / sqrt(VG_i)`; `p_norm = sf(|Z_i|)`.
//! For Gi* the self-weight is 1 before the transform (esda's default for binary weights).

use serde::Serialize;

use super::permutation::{PermutationTable, local_p_sim};
use super::{Permutations, check_variable, normal};
use crate::error::{Error, Result};
use crate::weights::{Transform, Weights};

/// Local G or G* per observation (field names as esda's attributes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GLocal {
    /// Whether this is Gi* (self included).
    pub star: bool,
    /// Statistics `G_i`.
    pub gs: Vec<f64>,
    /// Expectations.
    pub egs: Vec<f64>,
    /// Variances.
    pub vgs: Vec<f64>,
    /// z-scores; 0 where the variance is 0.
    pub zs: Vec<f64>,
    /// One-tailed normal p-values `sf(|Z|)`.
    pub p_norm: Vec<f64>,
    /// Conditional permutation pseudo p-values; `None` without permutations.
    pub p_sim: Option<Vec<f64>>,
}

/// Getis-Ord local G (`star = false`) or G* (`star = true`) of a non-negative variable.
pub fn g_local(
    y: &[f64],
    weights: &Weights,
    transform: Transform,
    star: bool,
    perms: Permutations,
) -> Result<GLocal> {
    check_variable(y, weights.n())?;
    if let Some((i, v)) = y.iter().enumerate().find(|(_, v)| **v < 0.0) {
        return Err(Error::NegativeForG(format!("observation {i} is {v}")));
    }
    let n = y.len();
    let sum: f64 = y.iter().sum();
    let sum_sq: f64 = y.iter().map(|v| v * v).sum();
    let remove_self = if star { 0.0 } else { 1.0 };
    if let Some(i) = (0..n).find(|&i| !star && sum - y[i] <= 0.0) {
        return Err(Error::NegativeForG(format!(
            "for gi without self, every other value is zero at observation {i}"
        )));
    }
    let w = weights.transformed(transform, star.then_some(1.0));
    let big_n = n as f64 - remove_self;
    let lag = w.lag(y);
    let row_sums = w.row_sums();
    let mut gs = Vec::with_capacity(n);
    let mut egs = Vec::with_capacity(n);
    let mut vgs = Vec::with_capacity(n);
    let mut zs = Vec::with_capacity(n);
    for i in 0..n {
        let others = sum - y[i] * remove_self;
        let g = lag[i] / others;
        let mean = others / big_n;
        let mean_sq = (sum_sq - y[i] * y[i] * remove_self) / big_n;
        let var = mean_sq - mean * mean;
        let card = row_sums[i];
        let eg = card / big_n;
        let vg =
            card * (big_n - card) / (big_n - 1.0) * (1.0 / (big_n * big_n)) * (var / (mean * mean));
        let z = if vg > 0.0 { (g - eg) / vg.sqrt() } else { 0.0 };
        gs.push(g);
        egs.push(eg);
        vgs.push(vg);
        zs.push(z);
    }
    let p_norm = zs.iter().map(|z: &f64| normal::sf(z.abs())).collect();
    let p_sim = (perms.count > 0).then(|| {
        let max_card = weights.cardinalities().into_iter().max().unwrap_or(0);
        let table = PermutationTable::new(n, max_card, perms.count, perms.seed);
        if star {
            local_p_sim(&w, y, &gs, &table, |i, lag| {
                (lag + w.diagonal[i] * y[i]) / sum
            })
        } else {
            local_p_sim(&w, y, &gs, &table, |i, lag| lag / (sum - y[i]))
        }
    });
    Ok(GLocal {
        star,
        gs,
        egs,
        vgs,
        zs,
        p_norm,
        p_sim,
    })
}
