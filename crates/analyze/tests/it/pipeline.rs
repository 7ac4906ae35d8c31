//! End to end through the CLI functions: Columbus hot spots, incidents to H3 cells and to polygons with
//! Seoul living-population exposure, and the living-population loader on a file in the published layout.

use std::io::Write;
use std::path::{Path, PathBuf};

use jikimi_analyze::cli::{
    AggregateArgs, AnalyzeArgs, AnalyzeCommand, Coords, Engine, HotspotsArgs, run,
};
use jikimi_analyze::living_population::{LivingPopulationFilter, read_living_population};
use serde_json::Value;

use crate::temp_dir;

fn hotspot_args(areas: PathBuf, value: &str, weights: &str, out: &Path) -> HotspotsArgs {
    HotspotsArgs {
        areas,
        value: value.into(),
        weights: weights.into(),
        transform: "R".into(),
        permutations: 199,
        seed: 12345,
        coords: Coords::Auto,
        out: out.join("out.geojson"),
        summary: Some(out.join("summary.json")),
        map: Some(out.join("map.png")),
        report: Some(out.join("report.html")),
        map_width: 300,
    }
}

fn aggregate_args(incidents: PathBuf, out: &Path) -> AggregateArgs {
    AggregateArgs {
        incidents,
        h3: None,
        areas: None,
        pad: 1,
        window: "all".into(),
        category: vec![],
        from: None,
        to: None,
        lat_col: "lat".into(),
        lon_col: "lon".into(),
        date_col: "date".into(),
        category_col: "category".into(),
        exposure: None,
        exposure_key: None,
        engine: Engine::Streaming,
        out: out.join("agg.geojson"),
        map: Some(out.join("agg.png")),
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sample_lp() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/local_people_sample.csv")
}

#[test]
fn columbus_hotspots_write_every_property_and_the_summary() {
    let dir = temp_dir("columbus-cli");
    let areas = crate::columbus::shared_dir().join("reference/analyze/columbus.geojson");
    let mut args = hotspot_args(areas, "CRIME", "queen", &dir);
    args.coords = Coords::Planar;
    run(AnalyzeArgs {
        command: AnalyzeCommand::Hotspots(args),
    })
    .unwrap();
    let out = read_json(&dir.join("out.geojson"));
    let features = out["features"].as_array().unwrap();
    assert_eq!(features.len(), 49);
    for f in features {
        let p = &f["properties"];
        for key in [
            "gi_star",
            "gi_star_z",
            "gi_star_p_norm",
            "gi_star_p_sim",
            "lisa_i",
            "lisa_z",
            "lisa_p_sim",
        ] {
            assert!(p[key].as_f64().unwrap().is_finite(), "{key}");
        }
        assert!(p["hotspot_class"].as_str().unwrap().contains('_'));
        assert!(p["CRIME"].is_number(), "input properties are kept");
    }
    let summary = read_json(&dir.join("summary.json"));
    assert!((summary["moran"]["I"].as_f64().unwrap() - 0.5001885571828611).abs() < 1e-9);
    for key in ["EI", "VI_norm", "z_norm", "p_norm", "p_sim"] {
        assert!(summary["moran"][key].is_number(), "{key}");
    }
    let png = std::fs::read(dir.join("map.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(
        std::fs::read_to_string(dir.join("report.html"))
            .unwrap()
            .contains("map.png")
    );
}

#[test]
fn bad_weights_and_transform_arguments_are_errors() {
    let dir = temp_dir("bad-args");
    let areas = crate::columbus::shared_dir().join("reference/analyze/columbus.geojson");
    let mut args = hotspot_args(areas.clone(), "CRIME", "hexagonal", &dir);
    let err = run(AnalyzeArgs {
        command: AnalyzeCommand::Hotspots(args),
    })
    .unwrap_err();
    assert!(err.to_string().contains("is not queen, rook"), "{err}");
    args = hotspot_args(areas, "CRIME", "knn:4", &dir);
    args.transform = "X".into();
    let err = run(AnalyzeArgs {
        command: AnalyzeCommand::Hotspots(args),
    })
    .unwrap_err();
    assert!(err.to_string().contains("transform 'X'"), "{err}");
}

/// Incidents around downtown Toronto: a dense cluster plus scattered points, one bad row.
fn write_incidents(path: &Path, gzip: bool) {
    let mut text = String::from("date,hour,category,premises_type,neighbourhood,lat,lon\n");
    for i in 0..400 {
        let (dy, dx) = ((i % 20) as f64 * 0.0012, (i / 20) as f64 * 0.0015);
        let cluster = i % 4 == 0;
        let (lat, lon) = if cluster {
            (43.65 + dy * 0.1, -79.38 + dx * 0.1)
        } else {
            (43.65 + dy, -79.38 + dx)
        };
        let category = if i % 3 == 0 { "Assault" } else { "Robbery" };
        text.push_str(&format!(
            "2019-0{}-01,12,{category},Outside,X,{lat},{lon}\n",
            1 + i % 9
        ));
    }
    text.push_str("2019-05-01,3,Assault,Outside,X,not-a-number,-79.4\n");
    if gzip {
        let file = std::fs::File::create(path).unwrap();
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
    } else {
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn incidents_to_h3_cells_then_hotspots() {
    let dir = temp_dir("h3");
    let incidents = dir.join("incidents.csv.gz");
    write_incidents(&incidents, true);
    let mut args = aggregate_args(incidents, &dir);
    args.h3 = Some(9);
    args.window = "month".into();
    run(AnalyzeArgs {
        command: AnalyzeCommand::Aggregate(args),
    })
    .unwrap();
    let agg = read_json(&dir.join("agg.geojson"));
    let features = agg["features"].as_array().unwrap();
    let total: u64 = features
        .iter()
        .map(|f| f["properties"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 400, "the row with a bad latitude is not counted");
    assert!(
        features.iter().any(|f| f["properties"]["count"] == 0),
        "padding adds zero-count cells"
    );
    assert!(features[0]["properties"]["count_2019-01"].is_number());
    // Queen contiguity on the written hexagons equals H3 grid adjacency.
    let (q_dir, h_dir) = (dir.join("q"), dir.join("h"));
    std::fs::create_dir_all(&q_dir).unwrap();
    std::fs::create_dir_all(&h_dir).unwrap();
    run(AnalyzeArgs {
        command: AnalyzeCommand::Hotspots(hotspot_args(
            dir.join("agg.geojson"),
            "count",
            "queen",
            &q_dir,
        )),
    })
    .unwrap();
    run(AnalyzeArgs {
        command: AnalyzeCommand::Hotspots(hotspot_args(
            dir.join("agg.geojson"),
            "count",
            "h3",
            &h_dir,
        )),
    })
    .unwrap();
    let (q, h) = (
        read_json(&q_dir.join("summary.json")),
        read_json(&h_dir.join("summary.json")),
    );
    assert_eq!(q["weights"]["links"], h["weights"]["links"]);
    assert_eq!(q["moran"]["I"], h["moran"]["I"]);
}

#[test]
fn category_and_date_filters_apply() {
    let dir = temp_dir("filters");
    let incidents = dir.join("incidents.csv");
    write_incidents(&incidents, false);
    let mut args = aggregate_args(incidents, &dir);
    args.h3 = Some(8);
    args.pad = 0;
    args.category = vec!["Assault".into()];
    args.to = Some("2019-03-31".into());
    args.map = None;
    run(AnalyzeArgs {
        command: AnalyzeCommand::Aggregate(args),
    })
    .unwrap();
    let agg = read_json(&dir.join("agg.geojson"));
    let total: u64 = agg["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["count"].as_u64().unwrap())
        .sum();
    // i % 3 == 0 (Assault) and month 1 + i % 9 <= 3.
    let want = (0..400).filter(|i| i % 3 == 0 && i % 9 < 3).count() as u64;
    assert_eq!(total, want);
}

#[test]
fn living_population_keeps_totals_only_and_skips_suppressed_cells() {
    let lp = read_living_population(
        std::fs::File::open(sample_lp()).unwrap(),
        "sample",
        &LivingPopulationFilter::default(),
    )
    .unwrap();
    assert_eq!(lp.rows_read, 6);
    assert_eq!(lp.rows_suppressed, 1);
    let a = &lp.areas["1101053010001"];
    assert_eq!((a.person_hours, a.hours), (200.75, 2));
    assert!((a.mean_population() - 100.375).abs() < 1e-12);
    assert_eq!(lp.areas["1101072010001"].mean_population(), 300.0);
    let night = LivingPopulationFilter {
        hours: vec![0],
        dates: None,
    };
    let lp = read_living_population(std::fs::File::open(sample_lp()).unwrap(), "sample", &night)
        .unwrap();
    assert_eq!(
        (lp.rows_filtered, lp.areas["1101053010002"].person_hours),
        (3, 40.0)
    );
}

#[test]
fn living_population_without_a_total_column_is_an_error() {
    let csv =
        "기준일ID,시간대구분,집계구코드,남자0세부터9세생활인구수\n20240301,0,1101053010001,5\n";
    let err = read_living_population(
        csv.as_bytes(),
        "bad.csv",
        &LivingPopulationFilter::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("bad.csv: no column 총생활인구수 or TOT_LVPOP_CO"),
        "{err}"
    );
    let csv = "기준일ID,시간대구분,집계구코드,총생활인구수\n20240301,25,1101053010001,5\n";
    let err = read_living_population(
        csv.as_bytes(),
        "bad.csv",
        &LivingPopulationFilter::default(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "bad.csv: row 1: hour 25 is not 0-23");
}

#[test]
fn incidents_to_polygons_with_exposure_and_eb_rates() {
    let dir = temp_dir("exposure");
    // Three lon/lat squares near Seoul City Hall, each tagged with a census output area code.
    let codes = ["1101053010001", "1101053010002", "1101072010001"];
    let features: Vec<Value> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let x = 126.97 + i as f64 * 0.01;
            serde_json::json!({"type": "Feature", "properties": {"tot_reg_cd": code},
                "geometry": {"type": "Polygon", "coordinates": [[[x, 37.56], [x + 0.01, 37.56], [x + 0.01, 37.57], [x, 37.57], [x, 37.56]]]}})
        })
        .collect();
    let areas = dir.join("areas.geojson");
    std::fs::write(
        &areas,
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .unwrap();
    let mut csv = String::from("date,category,lat,lon\n");
    for (i, n) in [5, 1, 12].iter().enumerate() {
        for _ in 0..*n {
            csv.push_str(&format!(
                "2024-03-01,Theft,37.565,{}\n",
                126.975 + i as f64 * 0.01
            ));
        }
    }
    csv.push_str("2024-03-01,Theft,35.0,129.0\n"); // Busan: outside every area.
    let incidents = dir.join("incidents.csv");
    std::fs::write(&incidents, csv).unwrap();
    let mut args = aggregate_args(incidents, &dir);
    args.areas = Some(areas);
    args.exposure = Some(sample_lp());
    args.exposure_key = Some("tot_reg_cd".into());
    run(AnalyzeArgs {
        command: AnalyzeCommand::Aggregate(args),
    })
    .unwrap();
    let agg = read_json(&dir.join("agg.geojson"));
    let p: Vec<&Value> = agg["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["properties"])
        .collect();
    let counts: Vec<u64> = p.iter().map(|p| p["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, vec![5, 1, 12]);
    assert_eq!(p[0]["exposure"].as_f64().unwrap(), 100.375);
    assert_eq!(p[1]["exposure"].as_f64().unwrap(), 50.0);
    assert!((p[2]["rate_per_1000"].as_f64().unwrap() - 40.0).abs() < 1e-9);
    let overall = 18.0 / (100.375 + 50.0 + 300.0) * 1000.0;
    for q in &p {
        let eb = q["rate_eb_per_1000"].as_f64().unwrap();
        let raw = q["rate_per_1000"].as_f64().unwrap();
        // EB rates lie between the raw rate and the overall rate.
        assert!(
            eb >= raw.min(overall) - 1e-9 && eb <= raw.max(overall) + 1e-9,
            "{eb} {raw} {overall}"
        );
    }
}
