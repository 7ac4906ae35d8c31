//! Global and local Moran's I with esda's definitions (`esda.Moran`, `esda.Moran_Local`).
//!
//! Global: `z = y - mean`, `I = n / s0 * sum_i z_i (Wz)_i / sum z^2`, `EI = -1/(n-1)`, `VI_norm` from
//! `s0, s1, s2` (normality), `VI_rand` (randomisation), two-tailed normal p-values; `p_sim` from total
//! permutations of `z`. Local: `z = (y - mean) / std(ddof=0)`, `I_i = (n-1) z_i (Wz)_i / sum z^2`,
//! quadrants 1=HH 2=LH 3=LL 4=HL, analytic moments under total randomisation (Sokal 1998, as esda's
//! `EI`/`VI`) and conditional permutation `p_sim`.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::permutation::{PermutationTable, directed_p, local_p_sim};
use super::{Permutations, check_variable, normal};
use crate::error::{Error, Result};
use crate::weights::TransformedWeights;

/// Global Moran's I and its inference (field names as esda's attributes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoranGlobal {
    /// The statistic.
    #[serde(rename = "I")]
    pub i: f64,
    /// Expectation under the null, `-1/(n-1)`.
    #[serde(rename = "EI")]
    pub ei: f64,
    /// Variance under normality.
    #[serde(rename = "VI_norm")]
    pub vi_norm: f64,
    /// Standard deviation under normality.
    #[serde(rename = "seI_norm")]
    pub se_i_norm: f64,
    /// z-score under normality.
    pub z_norm: f64,
    /// Two-tailed p-value under normality.
    pub p_norm: f64,
    /// Variance under randomisation.
    #[serde(rename = "VI_rand")]
    pub vi_rand: f64,
    /// z-score under randomisation.
    pub z_rand: f64,
    /// Two-tailed p-value under randomisation.
    pub p_rand: f64,
    /// Permutation pseudo p-value (directed, esda's rule); `None` without permutations.
    pub p_sim: Option<f64>,
    /// Number of permutations used.
    pub permutations: usize,
}

/// Local Moran's I (LISA) per observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoranLocal {
    /// Local statistics `I_i`.
    pub is: Vec<f64>,
    /// Quadrant: 1 = high-high, 2 = low-high, 3 = low-low, 4 = high-low.
    pub q: Vec<u8>,
    /// Expectation under total randomisation, `-w_i. / (n-1)`.
    pub ei: Vec<f64>,
    /// Variance under total randomisation (Sokal 1998, esda's `VI`).
    pub vi: Vec<f64>,
    /// Analytic z-score `(I_i - EI_i) / sqrt(VI_i)`; 0 where the variance is 0 (islands).
    pub z: Vec<f64>,
    /// One-tailed normal p-value `sf(|z|)`.
    pub p_norm: Vec<f64>,
    /// Conditional permutation pseudo p-values; `None` without permutations.
    pub p_sim: Option<Vec<f64>>,
}

/// Global Moran's I of `y` on already transformed weights.
pub fn moran_global(y: &[f64], w: &TransformedWeights, perms: Permutations) -> Result<MoranGlobal> {
    check_variable(y, w.n())?;
    let n = y.len();
    let nf = n as f64;
    let mean = y.iter().sum::<f64>() / nf;
    let z: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let z2ss: f64 = z.iter().map(|v| v * v).sum();
    let (s0, s1, s2) = w.s0_s1_s2();
    if s0 <= 0.0 {
        return Err(Error::Weights(
            "no links at all: every area is an island".into(),
        ));
    }
    let ei = -1.0 / (nf - 1.0);
    let s02 = s0 * s0;
    let n2 = nf * nf;
    let vi_norm = (n2 * s1 - nf * s2 + 3.0 * s02) / ((nf - 1.0) * (nf + 1.0) * s02)
        - (1.0 / (nf - 1.0)).powi(2);
    let se_i_norm = vi_norm.sqrt();
    let k = (z.iter().map(|v| v.powi(4)).sum::<f64>() / nf) / (z2ss / nf).powi(2);
    let a = nf * ((n2 - 3.0 * nf + 3.0) * s1 - nf * s2 + 3.0 * s02);
    let b = k * ((n2 - nf) * s1 - 2.0 * nf * s2 + 6.0 * s02);
    let vi_rand = (a - b) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0) * s02) - ei * ei;
    let stat = |z: &[f64]| -> f64 {
        let lag = w.lag(z);
        nf / s0 * z.iter().zip(&lag).map(|(a, b)| a * b).sum::<f64>() / z2ss
    };
    let i = stat(&z);
    // A non-positive variance only arises from degenerate weights (e.g. a single link); report z = 0.
    let z_norm = if vi_norm > 0.0 {
        (i - ei) / se_i_norm
    } else {
        0.0
    };
    let z_rand = if vi_rand > 0.0 {
        (i - ei) / vi_rand.sqrt()
    } else {
        0.0
    };
    let two_tailed = |zs: f64| {
        2.0 * if zs > 0.0 {
            normal::sf(zs)
        } else {
            normal::cdf(zs)
        }
    };
    let p_sim = (perms.count > 0).then(|| {
        let larger: usize = (0..perms.count)
            .into_par_iter()
            .map_init(
                || z.clone(),
                |buf, p| {
                    // One generator per permutation, derived from the seed: independent of thread count.
                    let mut rng = ChaCha8Rng::seed_from_u64(
                        perms.seed ^ (p as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    );
                    buf.copy_from_slice(&z);
                    buf.shuffle(&mut rng);
                    usize::from(stat(buf) >= i)
                },
            )
            .sum();
        directed_p(larger, perms.count)
    });
    Ok(MoranGlobal {
        i,
        ei,
        vi_norm,
        se_i_norm,
        z_norm,
        p_norm: two_tailed(z_norm),
        vi_rand,
        z_rand,
        p_rand: two_tailed(z_rand),
        p_sim,
        permutations: perms.count,
    })
}

/// Local Moran's I of `y` on already transformed weights (without self-weights).
pub fn moran_local(y: &[f64], w: &TransformedWeights, perms: Permutations) -> Result<MoranLocal> {
    check_variable(y, w.n())?;
    let n = y.len();
    let nf = n as f64;
    let mean = y.iter().sum::<f64>() / nf;
    let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / nf).sqrt();
    let z: Vec<f64> = y.iter().map(|v| (v - mean) / sd).collect();
    let den: f64 = z.iter().map(|v| v * v).sum();
    let lag = w.lag(&z);
    let is: Vec<f64> = z
        .iter()
        .zip(&lag)
        .map(|(zi, li)| (nf - 1.0) * zi * li / den)
        .collect();
    let q = z
        .iter()
        .zip(&lag)
        .map(|(&zi, &li)| match (zi > 0.0, li > 0.0) {
            (true, true) => 1,
            (false, true) => 2,
            (false, false) => 3,
            (true, false) => 4,
        })
        .collect();
    // Moments under total randomisation (esda's EI and VI, Sokal et al. 1998, eqs. A3-A4*).
    let m2 = den / nf;
    let m4 = z.iter().map(|v| v.powi(4)).sum::<f64>() / nf;
    let b2 = m4 / (m2 * m2);
    let n1 = nf - 1.0;
    let mut ei = Vec::with_capacity(n);
    let mut vi = Vec::with_capacity(n);
    for i in 0..n {
        let (_, wv) = w.row(i);
        let d = w.diagonal[i];
        let wi: f64 = wv.iter().sum::<f64>() + d;
        let wi2: f64 = wv.iter().map(|v| v * v).sum::<f64>() + d * d;
        ei.push(-wi / n1);
        let v = wi2 * (nf - b2) / n1 + (wi * wi - wi2) * (2.0 * b2 - nf) / (n1 * (nf - 2.0))
            - (wi / n1).powi(2);
        vi.push(v);
    }
    let zs: Vec<f64> = (0..n)
        .map(|i| {
            if vi[i] > 0.0 {
                (is[i] - ei[i]) / vi[i].sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let p_norm = zs.iter().map(|v| normal::sf(v.abs())).collect();
    let p_sim = (perms.count > 0).then(|| {
        let max_card = w.offsets.windows(2).map(|o| o[1] - o[0]).max().unwrap_or(0);
        let table = PermutationTable::new(n, max_card, perms.count, perms.seed);
        let scaling = (nf - 1.0) / den;
        local_p_sim(w, &z, &is, &table, |i, lag| {
            z[i] * (lag + w.diagonal[i] * z[i]) * scaling
        })
    });
    Ok(MoranLocal {
        is,
        q,
        ei,
        vi,
        z: zs,
        p_norm,
        p_sim,
    })
}
