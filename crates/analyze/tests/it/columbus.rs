//! Checks every quantity in `shared/reference/analyze/columbus_expected.json` (PySAL/esda 2.9 on the
//! Columbus data): weights, global Moran, local Moran, Gi* and Gi to 1e-6, permutation p-values to 0.02.

use std::collections::BTreeMap;

use jikimi_analyze::geojson_io::{
    numeric_field, parse_feature_collection, polygons, representative_points,
};
use jikimi_analyze::stats::Permutations;
use jikimi_analyze::stats::getis_ord::g_local;
use jikimi_analyze::stats::moran::{moran_global, moran_local};
use jikimi_analyze::weights::{Contiguity, Transform, Weights};
use serde_json::Value;

pub fn shared_dir() -> std::path::PathBuf {
    std::env::var("JIKIMI_SHARED")
        .map(Into::into)
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into())
}

struct Columbus {
    expected: Value,
    y: Vec<f64>,
    queen: Weights,
    band: Weights,
}

fn load() -> Columbus {
    let dir = shared_dir().join("reference/analyze");
    let text = std::fs::read_to_string(dir.join("columbus.geojson")).unwrap();
    let fc = parse_feature_collection(&text).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("columbus_expected.json")).unwrap())
            .unwrap();
    let y = numeric_field(&fc, "CRIME").unwrap();
    let queen = Weights::contiguity(&polygons(&fc).unwrap(), Contiguity::Queen).unwrap();
    let threshold = expected["distance_band"]["threshold"].as_f64().unwrap();
    let band = Weights::distance_band(&representative_points(&fc).unwrap(), threshold).unwrap();
    Columbus {
        expected,
        y,
        queen,
        band,
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(name: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{name}[{i}]: got {g}, want {w} (tol {tol})"
        );
    }
}

fn neighbours_as_ids(w: &Weights, ids: &[i64]) -> BTreeMap<String, Vec<i64>> {
    (0..w.n())
        .map(|i| {
            let mut nb: Vec<i64> = w.neighbours(i).iter().map(|&j| ids[j as usize]).collect();
            nb.sort_unstable();
            (ids[i].to_string(), nb)
        })
        .collect()
}

fn expected_neighbours(v: &Value) -> BTreeMap<String, Vec<i64>> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, list)| {
            (
                k.clone(),
                list.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_i64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

const PERMS: Permutations = Permutations {
    count: 9999,
    seed: 12345,
};
const P_TOL: f64 = 0.02;

#[test]
fn weights_match_libpysal() {
    let c = load();
    let ids: Vec<i64> = c.expected["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    assert_eq!(
        neighbours_as_ids(&c.queen, &ids),
        expected_neighbours(&c.expected["queen"]["neighbors"])
    );
    assert_eq!(
        neighbours_as_ids(&c.band, &ids),
        expected_neighbours(&c.expected["distance_band"]["neighbors"])
    );
    close("y", &c.y, &floats(&c.expected["y"]), 0.0);
}

#[test]
fn global_moran_matches_esda() {
    let c = load();
    let m = moran_global(
        &c.y,
        &c.queen.transformed(Transform::RowStandardised, None),
        PERMS,
    )
    .unwrap();
    let e = &c.expected["moran_global_queen_r"];
    for (name, got) in [
        ("I", m.i),
        ("EI", m.ei),
        ("VI_norm", m.vi_norm),
        ("seI_norm", m.se_i_norm),
        ("z_norm", m.z_norm),
        ("p_norm", m.p_norm),
    ] {
        close(name, &[got], &[e[name].as_f64().unwrap()], 1e-6);
    }
    let p_sim = m.p_sim.unwrap();
    close(
        "moran p_sim",
        &[p_sim],
        &[c.expected["stochastic"]["moran_global_p_sim"]
            .as_f64()
            .unwrap()],
        P_TOL,
    );
}

#[test]
fn local_moran_matches_esda() {
    let c = load();
    let lm = moran_local(
        &c.y,
        &c.queen.transformed(Transform::RowStandardised, None),
        PERMS,
    )
    .unwrap();
    let e = &c.expected["moran_local_queen_r"];
    close("Is", &lm.is, &floats(&e["Is"]), 1e-6);
    let q: Vec<f64> = lm.q.iter().map(|&v| f64::from(v)).collect();
    close("q", &q, &floats(&e["q"]), 0.0);
    close(
        "lisa p_sim",
        &lm.p_sim.unwrap(),
        &floats(&c.expected["stochastic"]["moran_local_p_sim"]),
        P_TOL,
    );
    assert!(lm.z.iter().chain(&lm.p_norm).all(|v| v.is_finite()));
}

fn check_g(
    name: &str,
    weights: &Weights,
    transform: Transform,
    star: bool,
    e: &Value,
    p_sim: &Value,
) {
    let c = load();
    let g = g_local(&c.y, weights, transform, star, PERMS).unwrap();
    close(&format!("{name} Gs"), &g.gs, &floats(&e["Gs"]), 1e-6);
    close(&format!("{name} EGs"), &g.egs, &floats(&e["EGs"]), 1e-6);
    close(&format!("{name} VGs"), &g.vgs, &floats(&e["VGs"]), 1e-6);
    close(&format!("{name} Zs"), &g.zs, &floats(&e["Zs"]), 1e-6);
    close(
        &format!("{name} p_norm"),
        &g.p_norm,
        &floats(&e["p_norm"]),
        1e-6,
    );
    close(
        &format!("{name} p_sim"),
        &g.p_sim.unwrap(),
        &floats(p_sim),
        P_TOL,
    );
}

#[test]
fn gi_star_queen_binary_matches_esda() {
    let c = load();
    check_g(
        "gi* queen B",
        &c.queen,
        Transform::Binary,
        true,
        &c.expected["g_local_star_queen_B"],
        &c.expected["stochastic"]["g_local_star_queen_B_p_sim"],
    );
}

#[test]
fn gi_queen_row_standardised_matches_esda() {
    let c = load();
    check_g(
        "gi queen R",
        &c.queen,
        Transform::RowStandardised,
        false,
        &c.expected["g_local_queen_R"],
        &c.expected["stochastic"]["g_local_queen_R_p_sim"],
    );
}

#[test]
fn gi_star_distance_band_matches_esda() {
    let c = load();
    check_g(
        "gi* band B",
        &c.band,
        Transform::Binary,
        true,
        &c.expected["distance_band"]["g_local_star_B"],
        &c.expected["stochastic"]["distance_band_g_local_star_B_p_sim"],
    );
}
