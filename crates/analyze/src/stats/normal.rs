//! Standard normal tail probabilities, as scipy's `norm.sf` / `norm.cdf` (via `erfc`, accurate far in the tails).

/// Upper tail `P(Z > z)`.
pub fn sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// Lower tail `P(Z <= z)`.
pub fn cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn known_values() {
        assert!((super::sf(1.959963984540054) - 0.025).abs() < 1e-15);
        assert!((super::cdf(0.0) - 0.5).abs() < 1e-16);
        assert!(super::sf(40.0) > 0.0 || super::sf(40.0) == 0.0);
    }
}
