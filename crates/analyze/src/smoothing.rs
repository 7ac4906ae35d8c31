//! Empirical-Bayes rate smoothing (Marshall 1991, global version; esda's `Empirical_Bayes`).
//!
//! Raw rates `r_i = e_i / b_i` (events over population at risk) are unstable where `b_i` is small.
//! EB shrinks each towards the overall rate `m = sum e / sum b` with weight
//! `w_i = v / (v + m / b_i)`, `v = sum b_i (r_i - m)^2 / sum b - m / mean(b)`.
//! Where esda would produce a negative `v` (less spread than Poisson noise) we set `v = 0`, so every rate
//! becomes `m`; areas with zero exposure get `m` (no information of their own). Both cases are reported.

use serde::Serialize;

use crate::error::{Error, Result};

/// Smoothed rates and the quantities behind them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EbRates {
    /// Raw rates `e/b` (`None` where exposure is zero).
    pub raw: Vec<Option<f64>>,
    /// Smoothed rates.
    pub smoothed: Vec<f64>,
    /// Overall rate `sum e / sum b`.
    pub overall_rate: f64,
    /// Between-area rate variance after the Poisson correction (clamped at 0).
    pub variance: f64,
    /// True when the unclamped variance was negative.
    pub variance_clamped: bool,
}

/// Global empirical-Bayes smoothing of `events` over `exposure`.
pub fn empirical_bayes(events: &[f64], exposure: &[f64]) -> Result<EbRates> {
    if events.is_empty() {
        return Err(Error::Empty("no areas to smooth".into()));
    }
    if events.len() != exposure.len() {
        return Err(Error::Argument(format!(
            "{} event counts but {} exposures",
            events.len(),
            exposure.len()
        )));
    }
    for (i, (&e, &b)) in events.iter().zip(exposure).enumerate() {
        if !(e.is_finite() && e >= 0.0) {
            return Err(Error::NonFinite { index: i, value: e });
        }
        if !(b.is_finite() && b >= 0.0) {
            return Err(Error::NonFinite { index: i, value: b });
        }
    }
    let e_sum: f64 = events.iter().sum();
    let b_sum: f64 = exposure.iter().sum();
    if b_sum <= 0.0 {
        return Err(Error::Argument(
            "total exposure is zero; rates are undefined".into(),
        ));
    }
    let m = e_sum / b_sum;
    let b_mean = b_sum / exposure.len() as f64;
    let raw: Vec<Option<f64>> = events
        .iter()
        .zip(exposure)
        .map(|(e, b)| (*b > 0.0).then(|| e / b))
        .collect();
    let spread: f64 = raw
        .iter()
        .zip(exposure)
        .filter_map(|(r, b)| r.map(|r| b * (r - m) * (r - m)))
        .sum::<f64>()
        / b_sum;
    let v_raw = spread - m / b_mean;
    let variance = v_raw.max(0.0);
    let smoothed = raw
        .iter()
        .zip(exposure)
        .map(|(r, &b)| match r {
            Some(r) if variance > 0.0 => {
                let w = variance / (variance + m / b);
                w * r + (1.0 - w) * m
            }
            _ => m,
        })
        .collect();
    Ok(EbRates {
        raw,
        smoothed,
        overall_rate: m,
        variance,
        variance_clamped: v_raw < 0.0,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_pulls_small_areas_towards_the_mean() {
        let e = [1.0, 50.0, 2.0, 30.0];
        let b = [10.0, 1000.0, 500.0, 800.0];
        let eb = empirical_bayes(&e, &b).unwrap();
        let m = eb.overall_rate;
        // The tiny area (rate 0.1) moves much more than the big one (0.05).
        let small_move = (eb.smoothed[0] - 0.1).abs();
        let big_move = (eb.smoothed[1] - 0.05).abs();
        assert!(small_move > big_move);
        assert!(eb.smoothed.iter().all(|r| r.is_finite()));
        assert!((m - 83.0 / 2310.0).abs() < 1e-15);
    }

    #[test]
    fn zero_exposure_gets_the_overall_rate() {
        let eb = empirical_bayes(&[0.0, 5.0, 7.0], &[0.0, 100.0, 120.0]).unwrap();
        assert_eq!(eb.smoothed[0], eb.overall_rate);
        assert_eq!(eb.raw[0], None);
    }
}
