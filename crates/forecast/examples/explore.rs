//! Development runs of candidate models on the 2019 and 2020 origins only (2021 stays a hold-out):
//! mean PAI at 1% of each candidate against the best baseline of that year, the exponential
//! half-life chosen on the year before, as the harness does.
//!
//! usage: cargo run --release -p jikimi-forecast --example explore -- DATA.csv.gz [YEAR ...]

use jikimi_forecast::data::{CATEGORIES, category_name, load_mci};
use jikimi_forecast::eval::{PAI_1PCT, actual_counts, mean_scores, month_periods};
use jikimi_forecast::metrics::{COVERAGES, score_all};
use jikimi_forecast::models::adaptive::AdaptiveConfig;
use jikimi_forecast::models::{Model, Period};

fn pai(ds: &jikimi_forecast::data::Dataset, cat: usize, m: &Model, periods: &[Period]) -> f64 {
    let per: Vec<_> = periods
        .iter()
        .filter_map(|&p| {
            score_all(
                &m.forecast(ds, cat, p),
                &actual_counts(ds, cat, p),
                &COVERAGES,
            )
        })
        .collect();
    mean_scores(&per)[PAI_1PCT].pai
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let ds = load_mci(std::path::Path::new(&args[1]))?;
    let years: Vec<i32> = args[2..].iter().filter_map(|a| a.parse().ok()).collect();
    let a = AdaptiveConfig::default();
    let variants: Vec<(&str, Model)> = vec![
        ("adaptive", Model::Adaptive(a.clone())),
        (
            "adaptive_top1",
            Model::Adaptive(AdaptiveConfig {
                top_k: 1,
                ..a.clone()
            }),
        ),
        (
            "adaptive_24m",
            Model::Adaptive(AdaptiveConfig {
                window_months: 24,
                ..a.clone()
            }),
        ),
        (
            "adaptive_no_pool",
            Model::Adaptive(AdaptiveConfig {
                all_crime_shares: vec![0.0],
                ..a.clone()
            }),
        ),
    ];
    let half_lives = [7.0, 14.0, 28.0, 56.0, 91.0, 182.0, 365.0, 730.0, 1461.0];
    let cats: Vec<usize> = (0..=CATEGORIES.len()).collect();
    let lines = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..2 {
            let (ds, years, variants, cats, lines) = (&ds, &years, &variants, &cats, &lines);
            s.spawn(move || {
                for &cat in cats.iter().filter(|c| *c % 2 == t) {
                    for &year in years {
                        let sel = month_periods(year - 1);
                        let test = month_periods(year);
                        let h = half_lives
                            .iter()
                            .map(|&h| {
                                (
                                    pai(ds, cat, &Model::ExpWeighted { half_life_days: h }, &sel),
                                    h,
                                )
                            })
                            .fold((f64::MIN, 365.0), |a, b| if b.0 > a.0 { b } else { a })
                            .1;
                        let base = [
                            Model::Last365dCounts,
                            Model::Last28dCounts,
                            Model::AllHistoryCounts,
                            Model::ExpWeighted { half_life_days: h },
                        ]
                        .iter()
                        .map(|m| pai(ds, cat, m, &test))
                        .fold(f64::MIN, f64::max);
                        let mut line =
                            format!("{year} {:<16} base {base:7.3} (h {h})", category_name(cat));
                        for (name, m) in variants {
                            let p = pai(ds, cat, m, &test);
                            line.push_str(&format!(
                                " | {name} {p:7.3} {:+.1}%",
                                100.0 * (p / base - 1.0)
                            ));
                        }
                        println!("{line}");
                        if let Ok(mut l) = lines.lock() {
                            l.push(line);
                        }
                    }
                }
            });
        }
    });
    Ok(())
}
