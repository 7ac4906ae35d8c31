//! Placement: greedy against the exact optimum on random small instances; exact against brute force.

use jikimi_forecast::place::{Instance, Point, brute_force, exact, lazy_greedy};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn random_instance(rng: &mut StdRng, n_demand: usize, n_cand: usize, radius: f64) -> Instance {
    let demand: Vec<(Point, f64)> = (0..n_demand)
        .map(|_| {
            let p = Point {
                x: rng.random_range(0.0..1000.0),
                y: rng.random_range(0.0..1000.0),
            };
            // Heavy-tailed risk, like crime counts.
            let w: f64 = rng.random_range(0.0f64..1.0).powi(4) * 100.0;
            (p, w)
        })
        .collect();
    let cands: Vec<Point> = (0..n_cand)
        .map(|_| Point {
            x: rng.random_range(0.0..1000.0),
            y: rng.random_range(0.0..1000.0),
        })
        .collect();
    let existing = [Point { x: 500.0, y: 500.0 }];
    Instance::build(&demand, &cands, &existing, radius)
}

#[test]
fn greedy_reaches_95_percent_of_exact_on_random_instances() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut worst: f64 = 1.0;
    for t in 0..12 {
        let n_cand = 20 + t * 15; // 20 ..= 185 candidates
        let inst = random_instance(&mut rng, 300, n_cand, 120.0);
        let k = 3 + t % 6;
        let g = lazy_greedy(&inst, k);
        let e = match exact(&inst, k) {
            Ok(e) => e,
            Err(err) => panic!("exact failed: {err}"),
        };
        assert!(
            e.value + 1e-6 >= g.value,
            "exact {} below greedy {}",
            e.value,
            g.value
        );
        assert!(
            g.upper_bound + 1e-6 >= e.value,
            "online bound {} below optimum {}",
            g.upper_bound,
            e.value
        );
        assert!(e.chosen.len() <= k);
        if e.value > 0.0 {
            worst = worst.min(g.value / e.value);
        }
    }
    assert!(worst >= 0.95, "worst greedy / exact = {worst}");
}

#[test]
fn exact_matches_brute_force_on_tiny_instances() {
    let mut rng = StdRng::seed_from_u64(11);
    for t in 0..15 {
        let n_cand = 4 + t % 7; // 4 ..= 10 candidates
        let inst = random_instance(&mut rng, 40, n_cand, 250.0);
        let k = 1 + t % 4;
        let bf = brute_force(&inst, k);
        let e = exact(&inst, k).map(|p| p.value).unwrap_or(f64::NAN);
        assert!(
            (e - bf).abs() < 1e-6 * bf.max(1.0),
            "exact {e} vs brute force {bf}"
        );
        assert!(lazy_greedy(&inst, k).value <= bf + 1e-9);
    }
}
