//! Spatial statistics with esda's definitions: global Moran's I ([`moran::moran_global`]), local Moran
//! ([`moran::moran_local`]), Getis-Ord Gi and Gi* ([`getis_ord::g_local`]), conditional permutation
//! inference ([`permutation`]) and Benjamini-Hochberg FDR ([`fdr`]).
//!
//! Every function checks its input first (length, finiteness, a non-constant variable) and returns
//! [`crate::Error`] instead of producing NaN. Islands (areas without neighbours) get documented neutral
//! values: local statistics computed as esda does (a zero lag), analytic z = 0 where the variance is zero,
//! and a permutation p-value of 1 (there is nothing to permute).

pub mod fdr;
pub mod getis_ord;
pub mod moran;
pub mod normal;
pub mod permutation;

use crate::error::{Error, Result};

/// Conditional permutation settings: how many random draws and the seed that makes them reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permutations {
    /// Number of permutations (esda's `permutations`); 0 disables permutation inference.
    pub count: usize,
    /// Seed of the permutation table; the same seed gives the same p-values on any thread count.
    pub seed: u64,
}

/// Checks that `y` has at least three finite values that are not all equal.
pub(crate) fn check_variable(y: &[f64], n_weights: usize) -> Result<()> {
    if y.is_empty() {
        return Err(Error::Empty("no observations".into()));
    }
    if y.len() != n_weights {
        return Err(Error::Weights(format!(
            "{} values but {} rows of weights",
            y.len(),
            n_weights
        )));
    }
    if y.len() < 3 {
        return Err(Error::TooFew {
            n: y.len(),
            needed: 3,
            what: "spatial autocorrelation",
        });
    }
    if let Some((index, &value)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { index, value });
    }
    let first = y[0];
    if y.iter().all(|&v| v == first) {
        return Err(Error::ConstantVariable { value: first });
    }
    Ok(())
}
