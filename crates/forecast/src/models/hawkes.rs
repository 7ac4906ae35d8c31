//! A self-exciting (Hawkes/ETAS-type) point process on the grid, fitted by expectation-maximisation.
//!
//! Conditional intensity in cell c on day t:
//!   λ(c, t) = μ(c) + Σ_{j: t_j < t} θ · g(t − t_j) · k(c − c_j),   g(d) = (1 − q) q^(d − 1), d ≥ 1 day
//! where μ is a spatially smoothed background (rate per cell per day), θ the expected number of
//! offspring per event, g a geometric lag distribution over whole days (the discrete-time twin of
//! the exponential kernel, since dates have day resolution; q = e^(−ω)) and k a non-parametric isotropic spatial
//! kernel over cell offsets (one mass per ring of equal squared distance, within `radius_cells`).
//! EM follows stochastic declustering (Zhuang, Ogata & Vere-Jones 2002; Mohler et al. 2011, 2015):
//! the E-step gives each event's probability of being background or a child of each earlier event
//! nearby; the M-step re-estimates μ (smoothing the background probabilities with a Gaussian), θ, ω
//! and the ring masses in closed form. Same-day pairs never trigger (dates have day resolution).

use serde::Serialize;

use super::{Period, train_start};
use crate::data::{Dataset, DayCell};
use crate::grid::StudyArea;
use crate::raster::smooth;

/// Hyper-parameters of the self-exciting model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HawkesConfig {
    /// Training window before the origin (days).
    pub window_days: i32,
    /// Longest parent-to-child lag considered (days).
    pub max_lag_days: i32,
    /// Spatial reach of triggering (cells).
    pub radius_cells: i32,
    /// Gaussian bandwidth smoothing the background (metres).
    pub background_bandwidth_m: f64,
    /// EM iterations.
    pub iterations: usize,
}

impl Default for HawkesConfig {
    fn default() -> Self {
        Self {
            window_days: 730,
            max_lag_days: 60,
            radius_cells: 2,
            background_bandwidth_m: 250.0,
            iterations: 25,
        }
    }
}

/// A fitted model for one origin.
#[derive(Debug, Clone)]
pub struct HawkesFit {
    /// Background rate per study cell per day.
    pub mu: Vec<f64>,
    /// Expected offspring per event (branching ratio).
    pub theta: f64,
    /// Daily survival of the lag distribution, q = e^(−ω): P(lag = d) = (1 − q) q^(d − 1).
    pub q: f64,
    /// Spatial offsets (dx, dy, ring index) within the radius.
    pub offsets: Vec<(i32, i32, usize)>,
    /// Kernel mass per cell of each ring.
    pub ring_kernel: Vec<f64>,
    /// Training events (sorted by day).
    pub events: Vec<DayCell>,
    /// Log-likelihood after the last iteration.
    pub loglik: f64,
}

/// Offsets within a radius, grouped in rings of equal squared distance.
fn ring_offsets(radius: i32) -> (Vec<(i32, i32, usize)>, Vec<usize>) {
    let mut r2s: Vec<i32> = Vec::new();
    for dy in -radius..=radius {
        for dx in -radius..=radius {
            let r2 = dx * dx + dy * dy;
            if r2 <= radius * radius + radius && !r2s.contains(&r2) {
                r2s.push(r2);
            }
        }
    }
    r2s.sort_unstable();
    let mut offsets = Vec::new();
    let mut ring_sizes = vec![0usize; r2s.len()];
    for dy in -radius..=radius {
        for dx in -radius..=radius {
            let r2 = dx * dx + dy * dy;
            if let Some(ring) = r2s.iter().position(|&x| x == r2) {
                offsets.push((dx, dy, ring));
                ring_sizes[ring] += 1;
            }
        }
    }
    (offsets, ring_sizes)
}

impl HawkesConfig {
    /// Fits the model on the training window before `period`.
    pub fn fit(&self, ds: &Dataset, category: usize, period: Period) -> HawkesFit {
        let area = &ds.area;
        let from = (period.start - self.window_days).max(train_start());
        let events = ds.window(category, from, period.start).to_vec();
        let span = (period.start - from).max(1) as f64;
        let (offsets, ring_sizes) = ring_offsets(self.radius_cells);
        let n_cells = area.n_cells();

        // Per-cell day lists, to find candidate parents quickly.
        let mut cell_days: Vec<Vec<i32>> = vec![Vec::new(); n_cells];
        for e in &events {
            cell_days[e.cell as usize].push(e.day);
        }
        // Candidate parent pairs per child in compressed rows: (lag in days, ring).
        let mut pair_start = Vec::with_capacity(events.len() + 1);
        let mut pairs: Vec<(u16, u8)> = Vec::new();
        pair_start.push(0usize);
        for e in &events {
            let (col, row) = area.cells[e.cell as usize];
            for &(dx, dy, ring) in &offsets {
                if let Some(p) = area.id(col - dx, row - dy) {
                    let days = &cell_days[p as usize];
                    let lo = days.partition_point(|&d| d < e.day - self.max_lag_days);
                    let hi = days.partition_point(|&d| d < e.day);
                    for &d in &days[lo..hi] {
                        pairs.push(((e.day - d) as u16, ring as u8));
                    }
                }
            }
            pair_start.push(pairs.len());
        }

        // Initial values: half the events triggered, a few days' memory, a kernel peaked at the
        // parent's cell. Starting with little triggering lets EM settle in the all-background
        // stationary point, which flexible backgrounds make a strong attractor.
        let n_events = events.len() as f64;
        let base = smooth(
            area,
            &super::counts(n_cells, &events),
            self.background_bandwidth_m,
        );
        let base_sum: f64 = base.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let mut mu: Vec<f64> = base
            .iter()
            .map(|b| 0.5 * n_events / span * b / base_sum)
            .collect();
        let mut theta = 0.5;
        let mut q: f64 = 0.8;
        let ring_r2: Vec<f64> = {
            let mut v = vec![0.0; ring_sizes.len()];
            for &(dx, dy, ring) in &offsets {
                v[ring] = (dx * dx + dy * dy) as f64;
            }
            v
        };
        let norm: f64 = ring_r2
            .iter()
            .zip(&ring_sizes)
            .map(|(r2, &n)| n as f64 * (-r2).exp())
            .sum();
        let mut ring_kernel: Vec<f64> = ring_r2.iter().map(|r2| (-r2).exp() / norm).collect();
        let mut loglik = f64::NEG_INFINITY;
        let max_lag = self.max_lag_days.max(1) as usize;

        for _ in 0..self.iterations {
            let decay: Vec<f64> = (0..=max_lag)
                .map(|k| (1.0 - q) * q.powi(k as i32 - 1))
                .collect();
            let mut bg = vec![0.0; n_cells];
            let (mut trig_sum, mut lag_sum) = (0.0, 0.0);
            let mut ring_mass = vec![0.0; ring_sizes.len()];
            let mut ll = 0.0;
            for (i, e) in events.iter().enumerate() {
                let ps = &pairs[pair_start[i]..pair_start[i + 1]];
                let m = mu[e.cell as usize];
                let trig: f64 = ps
                    .iter()
                    .map(|&(lag, r)| theta * decay[lag as usize] * ring_kernel[r as usize])
                    .sum();
                let lambda = (m + trig).max(f64::MIN_POSITIVE);
                ll += lambda.ln();
                bg[e.cell as usize] += m / lambda;
                for &(lag, r) in ps {
                    let s = theta * decay[lag as usize] * ring_kernel[r as usize] / lambda;
                    trig_sum += s;
                    lag_sum += s * lag as f64;
                    ring_mass[r as usize] += s;
                }
            }
            // Compensator: background over the window plus each event's offspring up to the origin.
            let offspring_time = offspring_share(&events, period.start, self.max_lag_days, q);
            loglik = ll - mu.iter().sum::<f64>() * span - theta * offspring_time;

            // M-step.
            let bg_total: f64 = bg.iter().sum();
            let smoothed = smooth(area, &bg, self.background_bandwidth_m);
            let s_sum: f64 = smoothed.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            mu = smoothed
                .iter()
                .map(|s| bg_total / span * s / s_sum)
                .collect();
            if trig_sum > 0.0 {
                // Geometric MLE: 1 − q = 1 / mean lag (truncation at max_lag ignored).
                let mean_lag = (lag_sum / trig_sum).max(1.0);
                q = (1.0 - 1.0 / mean_lag).clamp(0.0, 0.995);
                let denom = offspring_share(&events, period.start, self.max_lag_days, q);
                theta = (trig_sum / denom.max(f64::MIN_POSITIVE)).min(0.99);
                for (k, (m, &size)) in ring_kernel
                    .iter_mut()
                    .zip(ring_mass.iter().zip(&ring_sizes))
                {
                    *k = m / (trig_sum * size as f64);
                }
            } else {
                theta = 0.0;
            }
        }
        HawkesFit {
            mu,
            theta,
            q,
            offsets,
            ring_kernel,
            events,
            loglik,
        }
    }
}

/// Expected share of each event's offspring falling before `start` (days t+1 .. start−1, at most
/// `max_lag` days), summed over events: the offspring part of the compensator divided by θ.
fn offspring_share(events: &[DayCell], start: i32, max_lag: i32, q: f64) -> f64 {
    events
        .iter()
        .map(|e| 1.0 - q.powi((start - 1 - e.day).clamp(0, max_lag)))
        .sum()
}

impl HawkesFit {
    /// Expected number of events per study cell over the period: background plus the still-active
    /// offspring of past events.
    pub fn expected_counts(&self, area: &StudyArea, period: Period) -> Vec<f64> {
        let len = (period.end - period.start) as f64;
        let mut out: Vec<f64> = self.mu.iter().map(|m| m * len).collect();
        if self.theta <= 0.0 {
            return out;
        }
        // Offspring mass below 1e-9 of a parent's is ignored.
        let horizon = if self.q > 0.0 {
            (-20.7 / self.q.ln()).ceil() as i32 + 1
        } else {
            1
        };
        for e in self.events.iter().rev() {
            let age = period.start - e.day;
            if age > horizon {
                break;
            }
            // P(lag in [start − t, end − 1 − t]) = q^(start − t − 1) − q^(end − t − 1).
            let w = self.theta * (self.q.powi(age - 1) - self.q.powi(period.end - e.day - 1));
            let (col, row) = area.cells[e.cell as usize];
            for &(dx, dy, ring) in &self.offsets {
                if let Some(c) = area.id(col + dx, row + dy) {
                    out[c as usize] += w * self.ring_kernel[ring];
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::days_from_civil;

    #[test]
    fn rings_partition_offsets() {
        let (offsets, sizes) = ring_offsets(2);
        assert_eq!(offsets.len(), 21);
        assert_eq!(sizes, vec![1, 4, 4, 4, 8]);
    }

    #[test]
    fn em_finds_triggering_in_clustered_data() {
        // Background: Poisson-like scatter over 100 cells (a fixed pseudo-random sequence); every
        // other background event has one child in the same cell the next day. A third of the events
        // are offspring.
        let d0 = days_from_civil(2018, 1, 1);
        let mut recs = Vec::new();
        let mut state: u64 = 12345;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as i32
        };
        for k in 0..2000 {
            let t = d0 + next() % 700;
            let c = next() % 100;
            recs.push((t, 1, (c % 10) * 10, (c / 10) * 10));
            if k % 2 == 0 {
                recs.push((t + 1, 1, (c % 10) * 10, (c / 10) * 10));
            }
        }
        let ds = Dataset::from_records(&recs);
        let cfg = HawkesConfig {
            window_days: 730,
            background_bandwidth_m: 0.0,
            iterations: 50,
            ..Default::default()
        };
        let p = Period {
            start: d0 + 730,
            end: d0 + 761,
        };
        let fit = cfg.fit(&ds, 1, p);
        // 1,000 offspring among 3,000 events: θ (offspring per event, children included) is 1/3.
        assert!((fit.theta - 1.0 / 3.0).abs() < 0.05, "theta {}", fit.theta);
        assert!(fit.q < 0.2, "q {}", fit.q);
        assert!(
            fit.ring_kernel[0] > 0.9,
            "same-cell mass {:?}",
            fit.ring_kernel
        );
        assert!(fit.loglik.is_finite());
    }
}
