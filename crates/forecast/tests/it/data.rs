//! Projection against PROJ, and the Toronto file loaded into the fixed grid.

use jikimi_forecast::data::{days_from_civil, load_mci};
use jikimi_forecast::eval::{actual_counts, month_periods};
use jikimi_forecast::grid::{Projector, cell_of};
use jikimi_forecast::metrics::score_all;
use jikimi_forecast::models::Model;

#[test]
fn utm17n_matches_proj() {
    // Expected values from pyproj 3 (PROJ 9), EPSG:4326 → EPSG:32617.
    let cases = [
        (43.6426, -79.3871, 630087.3752, 4833442.3119),
        (43.64303827, -79.53077929, 618498.0256, 4833275.8193),
        (43.85, -79.15, 648696.3527, 4856876.2562),
        (43.58, -79.6, 613033.0882, 4826178.1723),
    ];
    let p = match Projector::utm17n() {
        Ok(p) => p,
        Err(e) => panic!("projector: {e}"),
    };
    for (lat, lon, x, y) in cases {
        let (px, py) = p.project(lat, lon).unwrap_or((f64::NAN, f64::NAN));
        assert!(
            (px - x).abs() < 1e-3 && (py - y).abs() < 1e-3,
            "{lat},{lon}: {px},{py} vs {x},{y}"
        );
        let (blat, blon) = p.unproject(px, py).unwrap_or((f64::NAN, f64::NAN));
        assert!((blat - lat).abs() < 1e-9 && (blon - lon).abs() < 1e-9);
    }
    assert_eq!(cell_of(609_500.0, 4_827_000.0), (0, 0));
    assert_eq!(cell_of(609_499.9, 4_827_250.0), (-1, 1));
}

#[test]
fn civil_days() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(
        days_from_civil(2021, 1, 1) - days_from_civil(2020, 1, 1),
        366
    );
}

#[test]
fn toronto_file_loads_into_the_grid() {
    let path = crate::shared().join("data/toronto_mci/mci_2014_2021.csv.gz");
    let ds = match load_mci(&path) {
        Ok(ds) => ds,
        Err(e) => panic!("load {}: {e}", path.display()),
    };
    assert_eq!(ds.by_category[0].len(), 238_981);
    assert_eq!(
        ds.by_category
            .iter()
            .skip(1)
            .map(|v| v.len())
            .sum::<usize>(),
        238_981
    );
    assert_eq!(ds.area.n_cells(), 7088);
    // Every occupied cell holds at least one event.
    let mut seen = vec![false; ds.area.n_cells()];
    for e in &ds.by_category[0] {
        seen[e.cell as usize] = true;
    }
    assert!(seen.iter().all(|&s| s));
    // A baseline concentrates crime: PAI at 1% far above 1 in January 2021.
    let p = month_periods(2021)[0];
    let f = Model::Last365dCounts.forecast(&ds, 0, p);
    let s = score_all(&f, &actual_counts(&ds, 0, p), &[0.01]).unwrap_or_default();
    assert!(s[0].pai > 5.0 && s[0].pei <= 1.0, "{s:?}");
}
