//! Benjamini-Hochberg false-discovery-rate control: adjusted p-values (q-values).

/// Benjamini-Hochberg adjusted p-values: `q_(k) = min_{j >= k} p_(j) * m / j`, capped at 1.
///
/// An observation is a discovery at FDR level `alpha` iff its q-value is `<= alpha`; this equals the
/// step-up rule "reject all p up to the largest `p_(k) <= k alpha / m`". NaN inputs are treated as 1.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean = |v: f64| if v.is_nan() { 1.0 } else { v.clamp(0.0, 1.0) };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p[a]).total_cmp(&clean(p[b])));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &idx) in order.iter().enumerate().rev() {
        let candidate = clean(p[idx]) * m as f64 / (rank + 1) as f64;
        running = running.min(candidate).min(1.0);
        q[idx] = running;
    }
    q
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_example() {
        // p sorted: 0.01, 0.02, 0.03, 0.5 with m = 4 -> 0.04, 0.04, 0.04, 0.5.
        let q = benjamini_hochberg(&[0.03, 0.5, 0.01, 0.02]);
        let want = [0.04, 0.5, 0.04, 0.04];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }
}
