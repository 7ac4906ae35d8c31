//! Equity: a seeded simulation with one deliberately slower district flags exactly that district.

use jikimi_forecast::equity::{EquityConfig, Response, analyze};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn simulate(seed: u64, slow: Option<&str>) -> Vec<Response> {
    let mut rng = StdRng::seed_from_u64(seed);
    let districts = ["Gangnam", "Jongno", "Mapo", "Nowon", "Songpa", "Yongsan"];
    let mut out = Vec::new();
    for d in districts {
        for _ in 0..150 {
            // Log-normal-ish response times around 7 minutes; the slow district 40% slower.
            let z: f64 =
                (0..6).map(|_| rng.random_range(-1.0f64..1.0)).sum::<f64>() / 6.0_f64.sqrt() * 0.8;
            let mut seconds = 420.0 * (0.35 * z).exp();
            if Some(d) == slow {
                seconds *= 1.4;
            }
            let weight = rng.random_range(0.5..2.0);
            out.push(Response {
                district: d.to_string(),
                seconds,
                weight,
            });
        }
    }
    out
}

#[test]
fn the_slow_district_and_only_it_is_flagged() {
    let cfg = EquityConfig {
        replicates: 800,
        seed: 3,
        alpha: 0.05,
    };
    let res = analyze(&simulate(1, Some("Mapo")), &cfg);
    let flagged: Vec<&str> = res
        .iter()
        .filter(|d| d.median_flagged || d.p90_flagged)
        .map(|d| d.district.as_str())
        .collect();
    assert_eq!(flagged, vec!["Mapo"]);
    let mapo = res.iter().find(|d| d.district == "Mapo");
    assert!(mapo.is_some_and(|m| m.median_diff.lo > 0.0 && m.median.lo < m.median.estimate));
}

#[test]
fn equal_districts_raise_no_flag_and_runs_are_reproducible() {
    let cfg = EquityConfig {
        replicates: 800,
        seed: 3,
        alpha: 0.05,
    };
    let data = simulate(2, None);
    let a = analyze(&data, &cfg);
    assert!(a.iter().all(|d| !d.median_flagged && !d.p90_flagged));
    let b = analyze(&data, &cfg);
    assert_eq!(
        a.iter().map(|d| d.median.lo).collect::<Vec<_>>(),
        b.iter().map(|d| d.median.lo).collect::<Vec<_>>()
    );
}
