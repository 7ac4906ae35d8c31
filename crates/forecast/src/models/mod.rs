//! Baselines and models: each turns the events before a forecast period into a risk score per study cell.
//!
//! All are pure functions of the [`Dataset`] and the [`Period`]; only events from 2014-01-01 up to the
//! day before the period starts are used (earlier occurrence dates are late reports, never training data).

pub mod adaptive;
pub mod glm;
pub mod hawkes;
pub mod kde;

use serde::Serialize;

use crate::data::{Dataset, DayCell, civil_year_month, days_from_civil};
use crate::raster::smooth;

pub use hawkes::HawkesConfig;

/// A forecast period `[start, end)` in days since 1970-01-01; training data end the day before `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First day forecast.
    pub start: i32,
    /// First day after the period.
    pub end: i32,
}

/// First day of training data, 2014-01-01.
pub fn train_start() -> i32 {
    days_from_civil(2014, 1, 1)
}

/// Training events of a category for a period: from 2014-01-01 up to the day before it starts.
pub fn training(ds: &Dataset, category: usize, period: Period) -> &[DayCell] {
    ds.window(category, train_start(), period.start)
}

/// Events per study cell.
pub fn counts(n_cells: usize, events: &[DayCell]) -> Vec<f64> {
    let mut c = vec![0.0; n_cells];
    for e in events {
        c[e.cell as usize] += 1.0;
    }
    c
}

/// Counts of the last `days` days before the period.
pub fn last_days_counts(ds: &Dataset, category: usize, period: Period, days: i32) -> Vec<f64> {
    let from = (period.start - days).max(train_start());
    counts(ds.area.n_cells(), ds.window(category, from, period.start))
}

/// Exponentially time-weighted counts: an event `a` days before the period start weighs 2^(−a / half-life).
pub fn exp_weighted(
    ds: &Dataset,
    category: usize,
    period: Period,
    half_life_days: f64,
) -> Vec<f64> {
    let mut c = vec![0.0; ds.area.n_cells()];
    let rate = std::f64::consts::LN_2 / half_life_days;
    for e in training(ds, category, period) {
        c[e.cell as usize] += (-rate * (period.start - e.day) as f64).exp();
    }
    c
}

/// Exponentially weighted counts (weight 2^(−age / half-life), age in days before the origin) of
/// day-sorted events at each of the ascending `origins`, in one pass: the value at the previous
/// origin is decayed and the events in between are added.
pub fn exp_weighted_series(
    events: &[DayCell],
    n_cells: usize,
    origins: &[i32],
    half_life_days: f64,
) -> Vec<Vec<f64>> {
    let rate = std::f64::consts::LN_2 / half_life_days;
    let mut current = vec![0.0; n_cells];
    let mut at = train_start();
    let mut out = Vec::with_capacity(origins.len());
    for &t in origins {
        let decay = (-rate * f64::from(t - at)).exp();
        current.iter_mut().for_each(|v| *v *= decay);
        for e in crate::data::window(events, at.max(train_start()), t) {
            current[e.cell as usize] += (-rate * f64::from(t - e.day)).exp();
        }
        at = t;
        out.push(current.clone());
    }
    out
}

/// Events of earlier years in the calendar month of the period's start, weighted by recency in years.
pub fn seasonal_counts(
    ds: &Dataset,
    category: usize,
    period: Period,
    half_life_years: f64,
) -> Vec<f64> {
    let (year, month) = civil_year_month(period.start);
    let mut c = vec![0.0; ds.area.n_cells()];
    for e in training(ds, category, period) {
        let (y, m) = civil_year_month(e.day);
        if m == month && y < year {
            c[e.cell as usize] += 2f64.powf(-f64::from(year - y) / half_life_years);
        }
    }
    c
}

/// Scales a non-negative surface to sum 1 (left as is when it sums to 0).
pub fn normalised(mut v: Vec<f64>) -> Vec<f64> {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter_mut().for_each(|x| *x /= s);
    }
    v
}

/// A forecasting method with its hyper-parameters fixed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    /// Counts in the 365 days before the period.
    #[serde(rename = "last_365d_counts")]
    Last365dCounts,
    /// Counts in the 28 days before the period.
    #[serde(rename = "last_28d_counts")]
    Last28dCounts,
    /// Counts since 2014-01-01.
    AllHistoryCounts,
    /// Exponentially time-weighted counts.
    ExpWeighted {
        /// Half-life in days.
        half_life_days: f64,
    },
    /// Gaussian kernel density of the events of a trailing window.
    Kde(kde::KdeConfig),
    /// Self-exciting point process (background plus space-time triggering), fitted by EM per origin.
    Hawkes(HawkesConfig),
    /// Poisson regression on lagged counts, refitted at each origin on the preceding months.
    Glm(glm::GlmConfig),
    /// Exponentially weighted counts whose half-life and all-crime share are re-chosen at every
    /// origin on the months just before it (see [`adaptive`]).
    Adaptive(adaptive::AdaptiveConfig),
    /// Convex blend of long-term (KDE), medium-term (exponentially weighted) and short-term (last
    /// 28 days, smoothed) intensities, each normalised to sum 1.
    Mixture(MixtureConfig),
    /// Equal-weight mean of the members' surfaces, each normalised to sum 1.
    Ensemble(Vec<Model>),
    /// Exponentially time-weighted counts of all crime (whatever the category forecast): the
    /// pooled surface a sparse category is shrunk towards inside [`Model::Stack`].
    AllCrimeExp {
        /// Half-life in days.
        half_life_days: f64,
    },
    /// Seasonal counts: events in the same calendar month as the forecast month in earlier years,
    /// each year weighted 2^(−years ago / half-life).
    Seasonal {
        /// Half-life in years.
        half_life_years: f64,
    },
    /// Stacked surface: weighted sum of the members' normalised surfaces plus a uniform floor,
    /// the weights learned on the selection year by held-out Poisson likelihood.
    Stack(StackConfig),
}

/// Members and weights of a [`Model::Stack`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackConfig {
    /// Weight and model of each member; each member's surface is normalised to sum 1.
    pub members: Vec<(f64, Model)>,
    /// Weight of the uniform surface (1 / cells per cell); it does not change the ranking.
    pub uniform: f64,
    /// Whether the weights come from greedy selection on PAI (`greedy_stack`) rather than from
    /// held-out Poisson likelihood (`stack`).
    pub greedy: bool,
}

/// Weighted sum of normalised surfaces plus a uniform floor of total mass `uniform`.
pub fn stack_surface(weights: &[f64], uniform: f64, surfaces: &[&Vec<f64>]) -> Vec<f64> {
    let n = surfaces.first().map_or(0, |s| s.len());
    let floor = if n > 0 { uniform / n as f64 } else { 0.0 };
    let mut out = vec![floor; n];
    for (w, s) in weights.iter().zip(surfaces) {
        let total: f64 = s.iter().sum();
        if total > 0.0 && *w > 0.0 {
            let k = w / total;
            out.iter_mut().zip(s.iter()).for_each(|(o, x)| *o += k * x);
        }
    }
    out
}

/// Element-wise mean of equally long surfaces.
pub fn mean_surface(surfaces: &[Vec<f64>]) -> Vec<f64> {
    let n = surfaces.first().map_or(0, Vec::len);
    let k = surfaces.len().max(1) as f64;
    (0..n)
        .map(|i| surfaces.iter().map(|s| s[i]).sum::<f64>() / k)
        .collect()
}

/// The mixture's components and weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixtureConfig {
    /// Long-term component: the KDE.
    pub long: kde::KdeConfig,
    /// Half-life of the exponentially weighted component (days).
    pub half_life_days: f64,
    /// Bandwidth used to smooth the short-term counts (metres).
    pub short_bandwidth_m: f64,
    /// Length of the short-term window (days).
    pub short_days: i32,
    /// Weights of (long, exponentially weighted, short); non-negative, summing to 1.
    pub weights: [f64; 3],
}

impl MixtureConfig {
    /// The three normalised component surfaces for a period.
    pub fn components(&self, ds: &Dataset, category: usize, period: Period) -> [Vec<f64>; 3] {
        let long = normalised(self.long.surface(ds, category, period));
        let mid = normalised(exp_weighted(ds, category, period, self.half_life_days));
        let short = normalised(smooth(
            &ds.area,
            &last_days_counts(ds, category, period, self.short_days),
            self.short_bandwidth_m,
        ));
        [long, mid, short]
    }
}

/// Blends component surfaces with weights.
pub fn blend(components: &[Vec<f64>; 3], weights: [f64; 3]) -> Vec<f64> {
    (0..components[0].len())
        .map(|i| {
            weights
                .iter()
                .zip(components.iter())
                .map(|(w, c)| w * c[i])
                .sum()
        })
        .collect()
}

impl Model {
    /// The name used in results: the four baselines by their fixed names, models by family.
    pub fn name(&self) -> &'static str {
        match self {
            Model::Last365dCounts => "last_365d_counts",
            Model::Last28dCounts => "last_28d_counts",
            Model::AllHistoryCounts => "all_history_counts",
            Model::ExpWeighted { .. } => "exp_weighted",
            Model::Kde(_) => "kde",
            Model::Hawkes(_) => "hawkes",
            Model::Glm(_) => "poisson_glm",
            Model::Adaptive(_) => "adaptive_exp",
            Model::Mixture(_) => "mixture",
            Model::Ensemble(_) => "ensemble",
            Model::AllCrimeExp { .. } => "all_crime_exp",
            Model::Stack(st) if st.greedy => "greedy_stack",
            Model::Stack(_) => "stack",
            Model::Seasonal { .. } => "seasonal",
        }
    }

    /// Whether this is one of the four baselines.
    pub fn is_baseline(&self) -> bool {
        matches!(
            self,
            Model::Last365dCounts
                | Model::Last28dCounts
                | Model::AllHistoryCounts
                | Model::ExpWeighted { .. }
        )
    }

    /// Risk score per study cell for the period (higher is riskier).
    pub fn forecast(&self, ds: &Dataset, category: usize, period: Period) -> Vec<f64> {
        match self {
            Model::Last365dCounts => last_days_counts(ds, category, period, 365),
            Model::Last28dCounts => last_days_counts(ds, category, period, 28),
            Model::AllHistoryCounts => counts(ds.area.n_cells(), training(ds, category, period)),
            Model::ExpWeighted { half_life_days } => {
                exp_weighted(ds, category, period, *half_life_days)
            }
            Model::Kde(k) => k.surface(ds, category, period),
            Model::Hawkes(h) => h
                .fit(ds, category, period)
                .expected_counts(&ds.area, period),
            Model::Glm(g) => g.forecast(ds, category, period),
            Model::Adaptive(a) => a.forecast(ds, category, period),
            Model::Ensemble(members) => mean_surface(
                &members
                    .iter()
                    .map(|m| normalised(m.forecast(ds, category, period)))
                    .collect::<Vec<_>>(),
            ),
            Model::Mixture(m) => blend(&m.components(ds, category, period), m.weights),
            Model::AllCrimeExp { half_life_days } => exp_weighted(ds, 0, period, *half_life_days),
            Model::Seasonal { half_life_years } => {
                seasonal_counts(ds, category, period, *half_life_years)
            }
            Model::Stack(st) => {
                let surfaces: Vec<Vec<f64>> = st
                    .members
                    .iter()
                    .map(|(_, m)| m.forecast(ds, category, period))
                    .collect();
                let weights: Vec<f64> = st.members.iter().map(|(w, _)| *w).collect();
                stack_surface(&weights, st.uniform, &surfaces.iter().collect::<Vec<_>>())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        let d = days_from_civil(2020, 1, 1);
        // Cells (0,0), (1,0), (2,0); category 1 events.
        Dataset::from_records(&[
            (d - 400, 1, 0, 0),
            (d - 100, 1, 1, 0),
            (d - 10, 1, 2, 0),
            (d - 10, 1, 2, 0),
            (d + 3, 1, 0, 0),
            (days_from_civil(2010, 1, 1), 1, 0, 0),
        ])
    }

    #[test]
    fn incremental_series_equals_direct_sums() {
        let d = days_from_civil(2020, 1, 1);
        let ds = Dataset::from_records(&[
            (d - 400, 1, 0, 0),
            (d - 100, 1, 1, 0),
            (d - 10, 1, 2, 0),
            (d + 3, 1, 0, 0),
            (d + 40, 1, 2, 0),
        ]);
        let origins = [d - 50, d, d + 31, d + 60];
        let s = exp_weighted_series(&ds.by_category[1], 3, &origins, 91.0);
        for (k, &t) in origins.iter().enumerate() {
            let direct = exp_weighted(
                &ds,
                1,
                Period {
                    start: t,
                    end: t + 30,
                },
                91.0,
            );
            for c in 0..3 {
                assert!((s[k][c] - direct[c]).abs() < 1e-12, "{k} {c}");
            }
        }
    }

    #[test]
    fn baseline_windows() {
        let ds = tiny();
        let d = days_from_civil(2020, 1, 1);
        let p = Period {
            start: d,
            end: d + 31,
        };
        assert_eq!(
            Model::Last28dCounts.forecast(&ds, 1, p),
            vec![0.0, 0.0, 2.0]
        );
        assert_eq!(
            Model::Last365dCounts.forecast(&ds, 1, p),
            vec![0.0, 1.0, 2.0]
        );
        // The 2010 event is a late report before 2014: excluded from training.
        assert_eq!(
            Model::AllHistoryCounts.forecast(&ds, 1, p),
            vec![1.0, 1.0, 2.0]
        );
        let e = Model::ExpWeighted {
            half_life_days: 100.0,
        }
        .forecast(&ds, 1, p);
        assert!((e[1] - 0.5).abs() < 1e-12);
        assert!((e[0] - 2f64.powf(-4.0)).abs() < 1e-12);
    }
}
