//! Property tests: fast structures against naive twins, invariances of the statistics, determinism of
//! the seeded parallel permutations.

use geo::Point;
use jikimi_analyze::stats::Permutations;
use jikimi_analyze::stats::fdr::benjamini_hochberg;
use jikimi_analyze::stats::getis_ord::g_local;
use jikimi_analyze::stats::moran::{moran_global, moran_local};
use jikimi_analyze::weights::{Transform, Weights};
use proptest::prelude::*;

fn points() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((0.0..100.0f64, 0.0..100.0f64), 5..60)
}

fn naive_band(pts: &[(f64, f64)], t: f64) -> Vec<Vec<usize>> {
    (0..pts.len())
        .map(|i| {
            (0..pts.len())
                .filter(|&j| {
                    let d = ((pts[i].0 - pts[j].0).powi(2) + (pts[i].1 - pts[j].1).powi(2)).sqrt();
                    j != i && d > 0.0 && d <= t
                })
                .collect()
        })
        .collect()
}

fn lattice(side: usize) -> Weights {
    jikimi_analyze::bench::rook_lattice(side).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn distance_band_equals_all_pairs(pts in points(), t in 1.0..40.0f64) {
        let geo_pts: Vec<Point<f64>> = pts.iter().map(|&(x, y)| Point::new(x, y)).collect();
        let w = Weights::distance_band(&geo_pts, t).unwrap();
        let naive = naive_band(&pts, t);
        for (i, want) in naive.iter().enumerate() {
            let got: Vec<usize> = w.neighbours(i).iter().map(|&j| j as usize).collect();
            prop_assert_eq!(&got, want);
        }
    }

    #[test]
    fn knn_distances_match_a_sort(pts in points(), k in 1usize..4) {
        let geo_pts: Vec<Point<f64>> = pts.iter().map(|&(x, y)| Point::new(x, y)).collect();
        let w = Weights::knn(&geo_pts, k).unwrap();
        let d = |i: usize, j: usize| (pts[i].0 - pts[j].0).powi(2) + (pts[i].1 - pts[j].1).powi(2);
        for i in 0..pts.len() {
            let mut all: Vec<f64> = (0..pts.len()).filter(|&j| j != i).map(|j| d(i, j)).collect();
            all.sort_by(f64::total_cmp);
            let mut got: Vec<f64> = w.neighbours(i).iter().map(|&j| d(i, j as usize)).collect();
            got.sort_by(f64::total_cmp);
            prop_assert_eq!(got, all[..k].to_vec());
        }
    }

    #[test]
    fn bh_q_values_are_at_least_p_and_keep_the_order(p in prop::collection::vec(0.0..1.0f64, 1..80)) {
        let q = benjamini_hochberg(&p);
        for i in 0..p.len() {
            prop_assert!(q[i] >= p[i] - 1e-15 && q[i] <= 1.0);
            for j in 0..p.len() {
                if p[i] < p[j] { prop_assert!(q[i] <= q[j] + 1e-15); }
            }
        }
    }

    #[test]
    fn moran_is_invariant_to_positive_affine_maps(y in prop::collection::vec(0.0..50.0f64, 16), a in 0.1..10.0f64, b in -5.0..5.0f64) {
        prop_assume!(y.iter().any(|v| (v - y[0]).abs() > 1e-6));
        let w = lattice(4).transformed(Transform::RowStandardised, None);
        let none = Permutations { count: 0, seed: 0 };
        let m1 = moran_global(&y, &w, none).unwrap();
        let y2: Vec<f64> = y.iter().map(|v| a * v + b).collect();
        let m2 = moran_global(&y2, &w, none).unwrap();
        prop_assert!((m1.i - m2.i).abs() < 1e-9);
        let l1 = moran_local(&y, &w, none).unwrap();
        let l2 = moran_local(&y2, &w, none).unwrap();
        for (x, z) in l1.is.iter().zip(&l2.is) { prop_assert!((x - z).abs() < 1e-8); }
    }

    #[test]
    fn pseudo_p_values_lie_in_their_range(y in prop::collection::vec(0.1..50.0f64, 25), seed in 0u64..1000) {
        prop_assume!(y.iter().any(|v| (v - y[0]).abs() > 1e-6));
        let perms = Permutations { count: 99, seed };
        let g = g_local(&y, &lattice(5), Transform::Binary, true, perms).unwrap();
        for p in g.p_sim.unwrap() {
            prop_assert!((0.01..=0.5 + 1e-12).contains(&p), "{}", p);
        }
    }
}

#[test]
fn permutation_p_values_do_not_depend_on_the_thread_count() {
    let w = lattice(20);
    let y = jikimi_analyze::bench::lattice_values(20, 3);
    let perms = Permutations {
        count: 199,
        seed: 42,
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let g = g_local(&y, &w, Transform::Binary, true, perms).unwrap();
            let rt = w.transformed(Transform::RowStandardised, None);
            let l = moran_local(&y, &rt, perms).unwrap();
            let m = moran_global(&y, &rt, perms).unwrap();
            (g.p_sim, l.p_sim, m.p_sim)
        })
    };
    assert_eq!(run(1), run(3));
}
