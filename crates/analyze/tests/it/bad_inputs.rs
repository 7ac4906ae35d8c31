//! Unusable inputs give a clear error or a documented result, never a panic or an unexplained NaN
//! (issue 7 acceptance: invalid geometries, empty inputs, islands, constant variable, non-numeric fields).

use jikimi_analyze::Error;
use jikimi_analyze::geojson_io::{
    invalid_polygons, numeric_field, parse_feature_collection, polygons,
};
use jikimi_analyze::hotspots::{HotspotClass, HotspotConfig, hotspots};
use jikimi_analyze::stats::Permutations;
use jikimi_analyze::stats::getis_ord::g_local;
use jikimi_analyze::weights::{Contiguity, Transform, Weights};
use serde_json::json;

use crate::{grid, squares};

const CONFIG: HotspotConfig = HotspotConfig {
    transform: Transform::RowStandardised,
    permutations: Permutations { count: 99, seed: 7 },
};

fn queen(text: &str) -> Weights {
    Weights::contiguity(
        &polygons(&parse_feature_collection(text).unwrap()).unwrap(),
        Contiguity::Queen,
    )
    .unwrap()
}

#[test]
fn empty_collection_is_an_error() {
    let err =
        parse_feature_collection(r#"{"type":"FeatureCollection","features":[]}"#).unwrap_err();
    assert!(matches!(err, Error::Empty(_)), "{err}");
    assert!(matches!(
        Weights::contiguity(&[], Contiguity::Queen),
        Err(Error::Empty(_))
    ));
    assert!(matches!(Weights::knn(&[], 3), Err(Error::TooFew { .. })));
}

#[test]
fn malformed_geojson_is_an_error() {
    assert!(matches!(
        parse_feature_collection("{not json"),
        Err(Error::GeoJson(_))
    ));
    let single = r#"{"type":"Feature","properties":{},"geometry":null}"#;
    assert!(matches!(
        parse_feature_collection(single),
        Err(Error::GeoJson(_))
    ));
}

#[test]
fn non_numeric_missing_and_null_fields_name_the_feature() {
    let fc = parse_feature_collection(&squares(
        &[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)],
        &[json!(1.5), json!("abc"), json!(null)],
    ))
    .unwrap();
    let err = numeric_field(&fc, "v").unwrap_err();
    assert_eq!(
        err.to_string(),
        "feature 1: property 'v' is the string \"abc\", not a number"
    );
    let err = numeric_field(&fc, "absent").unwrap_err();
    assert_eq!(err.to_string(), "feature 0: property 'absent' is missing");
    let fc = parse_feature_collection(&squares(&[(0.0, 0.0)], &[json!(true)])).unwrap();
    assert!(
        numeric_field(&fc, "v")
            .unwrap_err()
            .to_string()
            .contains("is true, not a number")
    );
}

#[test]
fn constant_variable_is_an_error() {
    let text = grid(3, &[4.0; 9]);
    let err = hotspots(&[4.0; 9], &queen(&text), CONFIG).unwrap_err();
    assert!(
        matches!(err, Error::ConstantVariable { value } if value == 4.0),
        "{err}"
    );
}

#[test]
fn too_few_and_non_finite_values_are_errors() {
    let w = Weights::from_neighbour_lists(&[vec![1], vec![0]]).unwrap();
    assert!(matches!(
        hotspots(&[1.0, 2.0], &w, CONFIG),
        Err(Error::TooFew { .. })
    ));
    let w = Weights::from_neighbour_lists(&[vec![1], vec![0, 2], vec![1]]).unwrap();
    assert!(matches!(
        hotspots(&[1.0, f64::NAN, 2.0], &w, CONFIG),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        hotspots(&[1.0, 2.0], &w, CONFIG),
        Err(Error::Weights(_))
    ));
}

#[test]
fn negative_values_are_an_error_for_getis_ord() {
    let w = Weights::from_neighbour_lists(&[vec![1], vec![0, 2], vec![1]]).unwrap();
    let err = g_local(
        &[1.0, -2.0, 3.0],
        &w,
        Transform::Binary,
        true,
        Permutations { count: 0, seed: 0 },
    )
    .unwrap_err();
    assert!(matches!(err, Error::NegativeForG(_)), "{err}");
}

#[test]
fn islands_are_classified_and_have_no_nan() {
    // A 3x3 grid plus one square far away.
    let mut corners: Vec<(f64, f64)> = (0..9).map(|i| ((i % 3) as f64, (i / 3) as f64)).collect();
    corners.push((10.0, 10.0));
    let values: Vec<f64> = vec![1.0, 2.0, 3.0, 2.0, 5.0, 8.0, 3.0, 8.0, 9.0, 4.0];
    let text = squares(
        &corners,
        &values.iter().map(|v| json!(v)).collect::<Vec<_>>(),
    );
    let w = queen(&text);
    assert_eq!(w.islands(), vec![9]);
    let r = hotspots(&values, &w, CONFIG).unwrap();
    assert_eq!(r.classes[9], HotspotClass::Island);
    assert_eq!(r.lisa.is[9], 0.0);
    assert_eq!(r.gi_star.p_sim.as_ref().unwrap()[9], 1.0);
    let all = [
        &r.gi_star.gs,
        &r.gi_star.zs,
        &r.gi_star.p_norm,
        &r.lisa.is,
        &r.lisa.z,
        &r.lisa.p_norm,
        &r.q_values,
    ];
    assert!(all.iter().all(|v| v.iter().all(|x| x.is_finite())));
    assert!(r.moran.i.is_finite() && r.moran.p_sim.unwrap().is_finite());
}

#[test]
fn all_islands_is_an_error_for_global_moran() {
    let text = squares(
        &[(0.0, 0.0), (5.0, 5.0), (9.0, 9.0)],
        &[json!(1), json!(2), json!(3)],
    );
    let err = hotspots(&[1.0, 2.0, 3.0], &queen(&text), CONFIG).unwrap_err();
    assert!(matches!(err, Error::Weights(_)), "{err}");
}

#[test]
fn invalid_geometries_are_reported_and_still_analysed() {
    // A bow-tie (self-intersecting ring) between two valid squares.
    let text = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"v": 1.0}, "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
        {"type": "Feature", "properties": {"v": 5.0}, "geometry": {"type": "Polygon", "coordinates": [[[1,0],[2,1],[2,0],[1,1],[1,0]]]}},
        {"type": "Feature", "properties": {"v": 2.0}, "geometry": {"type": "Polygon", "coordinates": [[[2,0],[3,0],[3,1],[2,1],[2,0]]]}}
    ]})
    .to_string();
    let fc = parse_feature_collection(&text).unwrap();
    let polys = polygons(&fc).unwrap();
    let invalid = invalid_polygons(&polys);
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].feature, 1);
    let w = Weights::contiguity(&polys, Contiguity::Queen).unwrap();
    assert_eq!(w.neighbours(1), &[0, 2]);
    assert!(hotspots(&[1.0, 5.0, 2.0], &w, CONFIG).is_ok());
}

#[test]
fn points_cannot_make_contiguity() {
    let text = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"v":1},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#;
    let err = polygons(&parse_feature_collection(text).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "feature 0: is a Point but contiguity needs polygons"
    );
    let missing = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"v":1},"geometry":null}]}"#;
    assert!(
        polygons(&parse_feature_collection(missing).unwrap())
            .unwrap_err()
            .to_string()
            .contains("no geometry")
    );
}

#[test]
fn seoul_dongs_with_published_defects_are_analysed() {
    let path = crate::columbus::shared_dir().join("data/seoul_admin/seoul_dong.geojson");
    let fc = parse_feature_collection(&std::fs::read_to_string(path).unwrap()).unwrap();
    let polys = polygons(&fc).unwrap();
    let invalid = invalid_polygons(&polys);
    // The README lists five invalid dongs (ring self-intersections).
    assert_eq!(invalid.len(), 5, "{invalid:?}");
    let w = Weights::contiguity(&polys, Contiguity::Queen).unwrap();
    let y: Vec<f64> = (0..polys.len())
        .map(|i| ((i * 37) % 101) as f64 + 1.0)
        .collect();
    let r = hotspots(&y, &w, CONFIG).unwrap();
    assert!(r.gi_star.zs.iter().chain(&r.lisa.is).all(|v| v.is_finite()));
}
