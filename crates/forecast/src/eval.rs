//! Rolling-origin evaluation: every baseline and model, every category, four coverages, 2021 months.
//!
//! Hyper-parameters are chosen per category on the 12 origins of the selection year (2020) only:
//! the exponential half-life and the mixture weights by mean PAI at 1%, the KDE bandwidth and window
//! by held-out likelihood. The "best model" is then the model family with the highest 2020 mean
//! PAI at 1%, and only after that is anything evaluated on the test year (2021).

use std::time::Instant;

use serde::Serialize;

use crate::data::{CATEGORIES, Dataset, category_name, days_from_civil};
use crate::metrics::{COVERAGES, Score, score_all};
use crate::models::kde::{self, KdeConfig, LcvPoint};
use crate::models::{
    HawkesConfig, MixtureConfig, Model, Period, StackConfig, blend, mean_surface, normalised,
    stack_surface,
};

/// Settings of an evaluation run.
#[derive(Debug, Clone, Serialize)]
pub struct EvalConfig {
    /// Year whose 12 monthly origins choose hyper-parameters.
    pub selection_year: i32,
    /// Year whose 12 monthly origins are reported.
    pub test_year: i32,
    /// Candidate half-lives of `exp_weighted` (days).
    pub half_lives: Vec<f64>,
    /// Candidate KDE bandwidths (metres).
    pub kde_bandwidths: Vec<f64>,
    /// Candidate KDE windows (days, `None` = all history).
    pub kde_windows: Vec<Option<i32>>,
    /// Self-exciting model settings (its background bandwidth is taken from the chosen KDE).
    pub hawkes: HawkesConfig,
    /// Step of the mixture-weight grid on the simplex.
    pub mixture_step: f64,
    /// Poisson regression settings.
    pub glm: crate::models::glm::GlmConfig,
    /// Half-lives (days) of the category's exponentially weighted counts stacked in `stack`.
    pub stack_half_lives: Vec<f64>,
    /// Half-life (days) of the all-crime surface stacked in `stack` for single categories.
    pub stack_all_crime_half_life: f64,
    /// Adaptive exponential smoothing (its family and window are fixed by design, not selected).
    pub adaptive: crate::models::adaptive::AdaptiveConfig,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            selection_year: 2020,
            test_year: 2021,
            half_lives: vec![7.0, 14.0, 28.0, 56.0, 91.0, 182.0, 365.0, 730.0, 1461.0],
            kde_bandwidths: vec![
                25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 600.0, 800.0,
            ],
            kde_windows: vec![Some(365), Some(730), None],
            hawkes: HawkesConfig::default(),
            mixture_step: 0.1,
            glm: crate::models::glm::GlmConfig::default(),
            stack_half_lives: vec![28.0, 91.0, 365.0, 1461.0],
            stack_all_crime_half_life: 365.0,
            adaptive: crate::models::adaptive::AdaptiveConfig::default(),
        }
    }
}

/// The 12 monthly forecast periods of a year.
pub fn month_periods(year: i32) -> Vec<Period> {
    (1..=12)
        .map(|m| {
            let start = days_from_civil(year, m, 1);
            let end = if m == 12 {
                days_from_civil(year + 1, 1, 1)
            } else {
                days_from_civil(year, m + 1, 1)
            };
            Period { start, end }
        })
        .collect()
}

/// Events per study cell in a period.
pub fn actual_counts(ds: &Dataset, category: usize, period: Period) -> Vec<u32> {
    let mut a = vec![0u32; ds.area.n_cells()];
    for e in ds.window(category, period.start, period.end) {
        a[e.cell as usize] += 1;
    }
    a
}

/// Mean scores at each coverage over the periods that had events.
pub fn mean_scores(per_origin: &[Vec<Score>]) -> Vec<Score> {
    let n = per_origin.len().max(1) as f64;
    (0..COVERAGES.len())
        .map(|k| Score {
            hit_rate: per_origin.iter().map(|s| s[k].hit_rate).sum::<f64>() / n,
            pai: per_origin.iter().map(|s| s[k].pai).sum::<f64>() / n,
            pei: per_origin.iter().map(|s| s[k].pei).sum::<f64>() / n,
        })
        .collect()
}

/// Mean scores of precomputed forecasts against the periods' actual counts.
fn score_forecasts(forecasts: &[Vec<f64>], actuals: &[Vec<u32>]) -> Vec<Score> {
    let per: Vec<Vec<Score>> = forecasts
        .iter()
        .zip(actuals)
        .filter_map(|(f, a)| score_all(f, a, &COVERAGES))
        .collect();
    mean_scores(&per)
}

/// Index of the 1% coverage in [`COVERAGES`].
pub const PAI_1PCT: usize = 1;

/// One model's means over a year's origins.
#[derive(Debug, Clone, Serialize)]
pub struct ModelScores {
    /// Model name (`last_365d_counts`, …, `kde`, `hawkes`, `mixture`).
    pub model: String,
    /// The model with its chosen hyper-parameters.
    pub spec: Model,
    /// Means over the selection year's origins, per coverage.
    pub selection: Vec<Score>,
    /// Means over the test year's origins, per coverage.
    pub test: Vec<Score>,
    /// Mean seconds to fit and forecast one test origin.
    pub seconds_per_origin: f64,
    /// Seconds to forecast and score all test origins.
    pub seconds_test_year: f64,
}

/// Everything about one category.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryReport {
    /// `all` or an MCI category.
    pub category: String,
    /// Every baseline and model.
    pub models: Vec<ModelScores>,
    /// The KDE likelihood cross-validation curve (selection year).
    pub kde_lcv: Vec<LcvPoint>,
    /// The model family chosen on the selection year by mean PAI at 1%.
    pub best_model: String,
    /// The baseline with the highest test-year mean PAI at 1%.
    pub best_baseline: String,
    /// Test-year relative gain of the best model's mean PAI at 1% over the best baseline's.
    pub gain_pai_1pct: f64,
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Number of study cells.
    pub n_cells: usize,
    /// Settings used.
    pub config: EvalConfig,
    /// Category reports: `all` first, then the five categories.
    pub categories: Vec<CategoryReport>,
    /// Whether the target is met: gain ≥ 2% for all categories together, ≥ 2% for at least three of
    /// the five, and never below −2%.
    pub target_met: bool,
    /// Hindsight references (not forecasts) per category, for the selection year then the test year.
    pub headroom: Vec<crate::headroom::Headroom>,
    /// Wall-clock seconds of the whole run.
    pub seconds_total: f64,
    /// Worker threads used.
    pub threads: usize,
}

/// One row of `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Model name.
    pub model: String,
    /// `all` or an MCI category.
    pub category: String,
    /// Share of the study area flagged.
    pub coverage: f64,
    /// Mean hit rate over the 12 test origins.
    pub hit_rate: f64,
    /// Mean PAI over the 12 test origins.
    pub pai: f64,
    /// Mean PEI over the 12 test origins.
    pub pei: f64,
}

/// Evaluates a fixed model on both years, timing the test-year fits.
/// Forecasts of one model at the selection and test origins, kept to build the ensemble.
type Forecasts = (Vec<Vec<f64>>, Vec<Vec<f64>>);

fn evaluate_model(
    ds: &Dataset,
    category: usize,
    model: Model,
    sel: &[Period],
    test: &[Period],
) -> (ModelScores, Forecasts) {
    let sel_f: Vec<Vec<f64>> = sel
        .iter()
        .map(|&p| model.forecast(ds, category, p))
        .collect();
    let sel_a: Vec<Vec<u32>> = sel
        .iter()
        .map(|&p| actual_counts(ds, category, p))
        .collect();
    let t0 = Instant::now();
    let test_f: Vec<Vec<f64>> = test
        .iter()
        .map(|&p| model.forecast(ds, category, p))
        .collect();
    let seconds_per_origin = t0.elapsed().as_secs_f64() / test.len().max(1) as f64;
    let test_a: Vec<Vec<u32>> = test
        .iter()
        .map(|&p| actual_counts(ds, category, p))
        .collect();
    let test_scores = score_forecasts(&test_f, &test_a);
    let seconds_test_year = t0.elapsed().as_secs_f64();
    let scores = ModelScores {
        model: model.name().to_string(),
        selection: score_forecasts(&sel_f, &sel_a),
        test: test_scores,
        spec: model,
        seconds_per_origin,
        seconds_test_year,
    };
    (scores, (sel_f, test_f))
}

/// Scores the equal-weight ensemble of the given members from their cached forecasts.
fn evaluate_ensemble(
    ds: &Dataset,
    category: usize,
    members: &[(ModelScores, Forecasts)],
    sel: &[Period],
    test: &[Period],
) -> ModelScores {
    let combine = |pick: fn(&Forecasts) -> &Vec<Vec<f64>>, k: usize| -> Vec<f64> {
        let surfaces: Vec<Vec<f64>> = members
            .iter()
            .map(|(_, f)| normalised(pick(f)[k].clone()))
            .collect();
        mean_surface(&surfaces)
    };
    let sel_f: Vec<Vec<f64>> = (0..sel.len()).map(|k| combine(|f| &f.0, k)).collect();
    let test_f: Vec<Vec<f64>> = (0..test.len()).map(|k| combine(|f| &f.1, k)).collect();
    let sel_a: Vec<Vec<u32>> = sel
        .iter()
        .map(|&p| actual_counts(ds, category, p))
        .collect();
    let test_a: Vec<Vec<u32>> = test
        .iter()
        .map(|&p| actual_counts(ds, category, p))
        .collect();
    let spec = Model::Ensemble(members.iter().map(|(m, _)| m.spec.clone()).collect());
    ModelScores {
        model: spec.name().to_string(),
        selection: score_forecasts(&sel_f, &sel_a),
        test: score_forecasts(&test_f, &test_a),
        spec,
        seconds_per_origin: members.iter().map(|(m, _)| m.seconds_per_origin).sum(),
        seconds_test_year: members.iter().map(|(m, _)| m.seconds_test_year).sum(),
    }
}

/// Learns stacking weights (members then the uniform floor, summing to 1) that maximise the
/// Poisson likelihood of the selection-year events under the mixture of normalised surfaces.
///
/// `forecasts[j][k]` is member j's surface at origin k. With every surface a distribution over
/// cells, the Poisson likelihood of the counts given their total is multinomial, and the weights
/// of a finite mixture of fixed densities have the classic EM update
/// `w_j ← mean over events of w_j f_j(c) / Σ_i w_i f_i(c)` (monotone, converges to the optimum
/// because the log-likelihood is concave in the weights). The uniform member keeps every cell's
/// probability positive, so an event in a cell no member flags costs a finite amount.
pub fn stack_weights(forecasts: &[&[Vec<f64>]], actuals: &[Vec<u32>]) -> Vec<f64> {
    let j = forecasts.len();
    // Per origin: the cells with events, their counts and each member's normalised value there.
    let mut rows: Vec<(f64, Vec<f64>)> = Vec::new();
    for (k, a) in actuals.iter().enumerate() {
        let n = a.len().max(1) as f64;
        let totals: Vec<f64> = forecasts.iter().map(|f| f[k].iter().sum::<f64>()).collect();
        for (c, &cnt) in a.iter().enumerate() {
            if cnt == 0 {
                continue;
            }
            let mut v: Vec<f64> = forecasts
                .iter()
                .zip(&totals)
                .map(|(f, &t)| if t > 0.0 { f[k][c] / t } else { 1.0 / n })
                .collect();
            v.push(1.0 / n);
            rows.push((f64::from(cnt), v));
        }
    }
    let mut w = vec![1.0 / (j + 1) as f64; j + 1];
    let total: f64 = rows.iter().map(|r| r.0).sum();
    if total <= 0.0 {
        return w;
    }
    for _ in 0..300 {
        let mut acc = vec![0.0; j + 1];
        for (cnt, v) in &rows {
            let p: f64 = w.iter().zip(v).map(|(a, b)| a * b).sum();
            if p > 0.0 {
                for i in 0..=j {
                    acc[i] += cnt * w[i] * v[i] / p;
                }
            }
        }
        w = acc.into_iter().map(|x| x / total).collect();
    }
    w
}

/// Mean PAI at 0.5%, 1% and 2%: the selection objective of the greedy stack (smoother than 1% alone).
fn pai_objective(scores: &[Score]) -> f64 {
    (scores[0].pai + scores[1].pai + scores[2].pai) / 3.0
}

/// Greedy forward ensemble selection with replacement (Caruana et al. 2004): start from the best
/// member, then repeatedly add the member (possibly again) whose inclusion most raises the
/// selection-year objective; weights are inclusion counts over `steps`, members normalised.
pub fn greedy_stack_weights(
    forecasts: &[&[Vec<f64>]],
    actuals: &[Vec<u32>],
    steps: usize,
) -> Vec<f64> {
    let j = forecasts.len();
    let origins = actuals.len();
    let norm: Vec<Vec<Vec<f64>>> = forecasts
        .iter()
        .map(|f| f.iter().map(|s| normalised(s.clone())).collect())
        .collect();
    let mut counts = vec![0usize; j];
    let mut sum: Vec<Vec<f64>> = actuals.iter().map(|a| vec![0.0; a.len()]).collect();
    for _ in 0..steps {
        let mut best: Option<(f64, usize)> = None;
        for (m, nm) in norm.iter().enumerate() {
            let f: Vec<Vec<f64>> = (0..origins)
                .map(|k| sum[k].iter().zip(&nm[k]).map(|(a, b)| a + b).collect())
                .collect();
            let obj = pai_objective(&score_forecasts(&f, actuals));
            if best.is_none_or(|(b, _)| obj > b + 1e-12) {
                best = Some((obj, m));
            }
        }
        let Some((_, m)) = best else { break };
        counts[m] += 1;
        for k in 0..origins {
            sum[k]
                .iter_mut()
                .zip(&norm[m][k])
                .for_each(|(a, b)| *a += b);
        }
    }
    let total = counts.iter().sum::<usize>().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / total).collect()
}

/// Scores the stacked model of the given members (weights learned on the selection year).
fn evaluate_stack(
    ds: &Dataset,
    category: usize,
    members: &[&(ModelScores, Forecasts)],
    sel: &[Period],
    test: &[Period],
    greedy: bool,
) -> ModelScores {
    let sel_a: Vec<Vec<u32>> = sel
        .iter()
        .map(|&p| actual_counts(ds, category, p))
        .collect();
    let test_a: Vec<Vec<u32>> = test
        .iter()
        .map(|&p| actual_counts(ds, category, p))
        .collect();
    let sel_fs: Vec<&[Vec<f64>]> = members.iter().map(|(_, f)| f.0.as_slice()).collect();
    let w = if greedy {
        let mut w = greedy_stack_weights(&sel_fs, &sel_a, 20);
        w.push(0.0);
        w
    } else {
        stack_weights(&sel_fs, &sel_a)
    };
    let (mw, uniform) = w.split_at(members.len());
    let uniform = uniform.first().copied().unwrap_or(0.0);
    let combine = |pick: fn(&Forecasts) -> &Vec<Vec<f64>>, k: usize| -> Vec<f64> {
        let surfaces: Vec<&Vec<f64>> = members.iter().map(|(_, f)| &pick(f)[k]).collect();
        stack_surface(mw, uniform, &surfaces)
    };
    let sel_f: Vec<Vec<f64>> = (0..sel.len()).map(|k| combine(|f| &f.0, k)).collect();
    let test_f: Vec<Vec<f64>> = (0..test.len()).map(|k| combine(|f| &f.1, k)).collect();
    let spec = Model::Stack(StackConfig {
        members: mw
            .iter()
            .zip(members)
            .map(|(&w, (m, _))| (w, m.spec.clone()))
            .collect(),
        uniform,
        greedy,
    });
    ModelScores {
        model: spec.name().to_string(),
        selection: score_forecasts(&sel_f, &sel_a),
        test: score_forecasts(&test_f, &test_a),
        spec,
        seconds_per_origin: members.iter().map(|(m, _)| m.seconds_per_origin).sum(),
        seconds_test_year: members.iter().map(|(m, _)| m.seconds_test_year).sum(),
    }
}

/// Picks the candidate with the highest selection-year mean PAI at 1% (first wins ties).
fn pick_by_pai(ds: &Dataset, category: usize, candidates: Vec<Model>, sel: &[Period]) -> Model {
    let actuals: Vec<Vec<u32>> = sel
        .iter()
        .map(|&p| actual_counts(ds, category, p))
        .collect();
    let mut best: Option<(f64, Model)> = None;
    for m in candidates {
        let f: Vec<Vec<f64>> = sel.iter().map(|&p| m.forecast(ds, category, p)).collect();
        let pai = score_forecasts(&f, &actuals)[PAI_1PCT].pai;
        if best.as_ref().is_none_or(|(b, _)| pai > *b) {
            best = Some((pai, m));
        }
    }
    best.map(|b| b.1).unwrap_or(Model::AllHistoryCounts)
}

/// Grid of weights on the 3-simplex with the given step.
fn simplex(step: f64) -> Vec<[f64; 3]> {
    let k = (1.0 / step).round() as usize;
    let mut out = Vec::new();
    for a in 0..=k {
        for b in 0..=(k - a) {
            let c = k - a - b;
            out.push([
                a as f64 / k as f64,
                b as f64 / k as f64,
                c as f64 / k as f64,
            ]);
        }
    }
    out
}

/// Chooses the mixture weights on the selection year by mean PAI at 1%.
fn select_mixture(
    ds: &Dataset,
    category: usize,
    base: MixtureConfig,
    step: f64,
    sel: &[Period],
) -> MixtureConfig {
    let comps: Vec<[Vec<f64>; 3]> = sel
        .iter()
        .map(|&p| base.components(ds, category, p))
        .collect();
    let actuals: Vec<Vec<u32>> = sel
        .iter()
        .map(|&p| actual_counts(ds, category, p))
        .collect();
    let mut best = (f64::NEG_INFINITY, base.weights);
    for w in simplex(step) {
        let f: Vec<Vec<f64>> = comps.iter().map(|c| blend(c, w)).collect();
        let pai = score_forecasts(&f, &actuals)[PAI_1PCT].pai;
        if pai > best.0 {
            best = (pai, w);
        }
    }
    MixtureConfig {
        weights: best.1,
        ..base
    }
}

/// Runs selection on the selection year, then evaluates everything on the test year, for one category.
pub fn evaluate_category(ds: &Dataset, category: usize, cfg: &EvalConfig) -> CategoryReport {
    let sel = month_periods(cfg.selection_year);
    let test = month_periods(cfg.test_year);

    let exp = pick_by_pai(
        ds,
        category,
        cfg.half_lives
            .iter()
            .map(|&h| Model::ExpWeighted { half_life_days: h })
            .collect(),
        &sel,
    );
    let half_life_days = match exp {
        Model::ExpWeighted { half_life_days } => half_life_days,
        _ => 365.0,
    };
    let (kde_cfg, kde_lcv): (KdeConfig, Vec<LcvPoint>) =
        kde::select_by_likelihood(ds, category, &sel, &cfg.kde_bandwidths, &cfg.kde_windows);
    let hawkes = HawkesConfig {
        background_bandwidth_m: kde_cfg.bandwidth_m,
        ..cfg.hawkes
    };
    let mixture = select_mixture(
        ds,
        category,
        MixtureConfig {
            long: kde_cfg,
            half_life_days,
            short_bandwidth_m: kde_cfg.bandwidth_m,
            short_days: 28,
            weights: [1.0 / 3.0; 3],
        },
        cfg.mixture_step,
        &sel,
    );

    let specs = vec![
        Model::Last365dCounts,
        Model::Last28dCounts,
        Model::AllHistoryCounts,
        exp,
        Model::Kde(kde_cfg),
        Model::Hawkes(hawkes),
        Model::Glm(cfg.glm),
        Model::Mixture(mixture),
        Model::Adaptive(cfg.adaptive.clone()),
    ];
    let evaluated: Vec<(ModelScores, Forecasts)> = specs
        .into_iter()
        .map(|m| evaluate_model(ds, category, m, &sel, &test))
        .collect();
    // Forecast combination (Bates & Granger 1969): the equal-weight mean of the four models'
    // normalised surfaces; no weight is fitted, so it adds no selection noise.
    // `adaptive_exp` came after the combinations were designed; it stays out of them so that their
    // design (and results) are the ones frozen before it.
    let (baselines, rest): (Vec<_>, Vec<_>) = evaluated
        .into_iter()
        .partition(|(m, _)| m.spec.is_baseline());
    let (later, members): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|(m, _)| matches!(m.spec, Model::Adaptive(_)));
    let ensemble = evaluate_ensemble(ds, category, &members, &sel, &test);
    // Extra stacking components: the category's exponentially weighted counts at several
    // half-lives (multi-scale in time) and the pooled all-crime surface (shrinkage of a sparse
    // category towards where crime in general happens).
    let extra: Vec<(ModelScores, Forecasts)> = cfg
        .stack_half_lives
        .iter()
        .map(|&h| Model::ExpWeighted { half_life_days: h })
        .chain((category != 0).then_some(Model::AllCrimeExp {
            half_life_days: cfg.stack_all_crime_half_life,
        }))
        .chain(std::iter::once(Model::Seasonal {
            half_life_years: 2.0,
        }))
        .map(|m| evaluate_model(ds, category, m, &sel, &test))
        .collect();
    let stack_members: Vec<&(ModelScores, Forecasts)> = members.iter().chain(&extra).collect();
    let stack = evaluate_stack(ds, category, &stack_members, &sel, &test, false);
    let gstack = evaluate_stack(ds, category, &stack_members, &sel, &test, true);
    let mut models: Vec<ModelScores> = baselines
        .into_iter()
        .chain(members)
        .map(|(m, _)| m)
        .collect();
    models.push(ensemble);
    models.push(stack);
    models.push(gstack);
    models.extend(later.into_iter().map(|(m, _)| m));

    let best_model = choose_best(&models);
    let best_baseline = models
        .iter()
        .filter(|m| m.spec.is_baseline())
        .max_by(|a, b| a.test[PAI_1PCT].pai.total_cmp(&b.test[PAI_1PCT].pai))
        .map(|m| m.model.clone())
        .unwrap_or_default();
    let pai_of = |name: &str| {
        models
            .iter()
            .find(|m| m.model == name)
            .map(|m| m.test[PAI_1PCT].pai)
            .unwrap_or(f64::NAN)
    };
    let gain_pai_1pct = pai_of(&best_model) / pai_of(&best_baseline) - 1.0;
    CategoryReport {
        category: category_name(category).to_string(),
        models,
        kde_lcv,
        best_model,
        best_baseline,
        gain_pai_1pct,
    }
}

/// Margin by which another model must beat `greedy_stack` on the selection year to be chosen.
pub const STACK_PREFERENCE_MARGIN: f64 = 0.02;

/// The best model: `greedy_stack` (whose greedy selection on the selection year already chooses among
/// the models and their blends), unless another non-baseline model's selection-year mean PAI at 1%
/// beats it by more than [`STACK_PREFERENCE_MARGIN`]; then the highest such model. Preferring the
/// stack damps the noise of picking the single maximum of 12 origins.
pub fn choose_best(models: &[ModelScores]) -> String {
    let sel_pai = |m: &ModelScores| m.selection[PAI_1PCT].pai;
    let top = models
        .iter()
        .filter(|m| !m.spec.is_baseline())
        .max_by(|a, b| sel_pai(a).total_cmp(&sel_pai(b)));
    match (models.iter().find(|m| m.model == "greedy_stack"), top) {
        (Some(g), Some(t)) if sel_pai(t) <= sel_pai(g) * (1.0 + STACK_PREFERENCE_MARGIN) => {
            g.model.clone()
        }
        (_, Some(t)) => t.model.clone(),
        _ => String::new(),
    }
}

/// Whether gains meet the target: all ≥ 2%, at least three of five categories ≥ 2%, none below −2%.
pub fn target_met(all_gain: f64, category_gains: &[f64]) -> bool {
    all_gain >= 0.02
        && category_gains.iter().filter(|&&g| g >= 0.02).count() >= 3
        && category_gains.iter().all(|&g| g >= -0.02)
}

/// Runs the whole evaluation; categories run on up to `threads` threads.
pub fn run(ds: &Dataset, cfg: &EvalConfig, threads: usize) -> Report {
    let t0 = Instant::now();
    let n_cat = CATEGORIES.len() + 1;
    let mut slots: Vec<Option<CategoryReport>> = vec![None; n_cat];
    let threads = threads.max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (0..n_cat)
                        .filter(|c| c % threads == t)
                        .map(|c| (c, evaluate_category(ds, c, cfg)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(done) = h.join() {
                for (c, r) in done {
                    slots[c] = Some(r);
                }
            }
        }
    });
    let categories: Vec<CategoryReport> = slots.into_iter().flatten().collect();
    let all_gain = categories
        .first()
        .map(|c| c.gain_pai_1pct)
        .unwrap_or(f64::NAN);
    let gains: Vec<f64> = categories.iter().skip(1).map(|c| c.gain_pai_1pct).collect();
    let headroom = [cfg.selection_year, cfg.test_year]
        .into_iter()
        .flat_map(|year| (0..n_cat).map(move |c| crate::headroom::headroom(ds, c, year)))
        .collect();
    Report {
        n_cells: ds.area.n_cells(),
        config: cfg.clone(),
        target_met: categories.len() == n_cat && target_met(all_gain, &gains),
        categories,
        headroom,
        seconds_total: t0.elapsed().as_secs_f64(),
        threads,
    }
}

/// Flattens a report into `results.json` records (test-year means).
pub fn records(report: &Report) -> Vec<Record> {
    let mut out = Vec::new();
    for c in &report.categories {
        for m in &c.models {
            for (k, &coverage) in COVERAGES.iter().enumerate() {
                out.push(Record {
                    model: m.model.clone(),
                    category: c.category.clone(),
                    coverage,
                    hit_rate: m.test[k].hit_rate,
                    pai: m.test[k].pai,
                    pei: m.test[k].pei,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_cover_the_year() {
        let p = month_periods(2020);
        assert_eq!(p.len(), 12);
        assert_eq!(p[0].start, days_from_civil(2020, 1, 1));
        assert_eq!(p[1].end - p[1].start, 29); // leap February
        assert_eq!(p[11].end, days_from_civil(2021, 1, 1));
    }

    #[test]
    fn simplex_grid_sums_to_one() {
        let g = simplex(0.1);
        assert_eq!(g.len(), 66);
        assert!(g.iter().all(|w| (w.iter().sum::<f64>() - 1.0).abs() < 1e-9));
    }

    #[test]
    fn likelihood_stack_weights_favour_the_member_that_explains_the_events() {
        // Two origins, four cells; member 0 puts its mass where events happen, member 1 elsewhere.
        let good = vec![vec![0.7, 0.3, 0.0, 0.0]; 2];
        let bad = vec![vec![0.0, 0.0, 0.5, 0.5]; 2];
        let actuals = vec![vec![7, 3, 0, 0], vec![6, 4, 0, 0]];
        let w = stack_weights(&[&good, &bad], &actuals);
        assert_eq!(w.len(), 3);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(w[0] > 0.9 && w[1] < 0.05, "{w:?}");
    }

    #[test]
    fn greedy_stack_weights_sum_to_one_and_pick_the_better_member() {
        let n = 400;
        let mut good = vec![0.0; n];
        let mut bad = vec![0.0; n];
        let mut a = vec![0u32; n];
        for i in 0..n {
            good[i] = (n - i) as f64;
            bad[i] = i as f64;
            if i < 8 {
                a[i] = 5;
            }
        }
        let good = vec![good; 2];
        let bad = vec![bad; 2];
        let actuals = vec![a.clone(), a];
        let w = greedy_stack_weights(&[&bad, &good], &actuals, 5);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(w[1] > w[0], "{w:?}");
    }

    #[test]
    fn target_rule() {
        assert!(target_met(0.03, &[0.03, 0.02, 0.05, 0.0, -0.01]));
        assert!(!target_met(0.01, &[0.03, 0.03, 0.05, 0.03, 0.03]));
        assert!(!target_met(0.03, &[0.03, 0.03, 0.05, 0.03, -0.03]));
        assert!(!target_met(0.03, &[0.03, 0.03, 0.0, 0.0, 0.0]));
    }
}
