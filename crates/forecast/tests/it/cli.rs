//! The `place` and `equity` subcommands end to end on small files in a temporary directory.

use jikimi_forecast::cli::{AnalyzeCommand, EquityArgs, PlaceArgs, run};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("jikimi-forecast-{name}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}

#[test]
fn equity_subcommand_flags_the_slow_district() {
    let dir = temp_dir("equity");
    let mut csv = String::from("incident_id,district,accepted_at,on_scene_at,exposure_weight\n");
    for (d, base) in [("north", 300), ("south", 300), ("east", 300), ("west", 600)] {
        for i in 0..60 {
            let t0 = 1_767_225_600 + i * 3600;
            let secs = base + (i * 37) % 120;
            csv.push_str(&format!("{d}-{i},{d},{t0},{},1\n", t0 + secs));
        }
    }
    let input = dir.join("incidents.csv");
    let out = dir.join("equity.json");
    std::fs::write(&input, csv).unwrap_or_default();
    let args = EquityArgs {
        incidents: Some(input),
        db: None,
        districts: "demo".into(),
        district_property: "name".into(),
        out: Some(out.clone()),
        replicates: 400,
        seed: 1,
        alpha: 0.05,
        from: None,
        to: None,
        json: false,
    };
    assert!(run(AnalyzeCommand::Equity(Box::new(args))).is_ok());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_default())
            .unwrap_or(serde_json::Value::Null);
    let flagged: Vec<&str> = v["districts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|d| d["median_flagged"] == true || d["p90_flagged"] == true)
                .filter_map(|d| d["district"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(flagged, vec!["west"]);
}

#[test]
fn place_subcommand_writes_geojson_csv_and_png() {
    let dir = temp_dir("place");
    let mut csv = String::from("cell,x,y,risk\n");
    for i in 0..10 {
        for j in 0..10 {
            let risk = if (i, j) == (3, 3) {
                50.0
            } else {
                (i + j) as f64
            };
            csv.push_str(&format!(
                "{},{},{},{risk}\n",
                i * 10 + j,
                620_125 + 250 * i,
                4_830_125 + 250 * j
            ));
        }
    }
    let risk = dir.join("risk.csv");
    std::fs::write(&risk, csv).unwrap_or_default();
    let args = PlaceArgs {
        risk,
        candidates: None,
        existing: None,
        device: "cctv".into(),
        radius: None,
        k: 3,
        subdivide: 5,
        cell_size: 250.0,
        exact_max_candidates: 0,
        out_geojson: Some(dir.join("sites.geojson")),
        out_csv: Some(dir.join("sites.csv")),
        out_png: Some(dir.join("sites.png")),
        json: false,
    };
    assert!(run(AnalyzeCommand::Place(Box::new(args))).is_ok());
    let sites = std::fs::read_to_string(dir.join("sites.csv")).unwrap_or_default();
    assert_eq!(sites.lines().count(), 4);
    // The first device goes inside the hottest cell (centre 620875, 4830875; side 250 m).
    let first: Vec<f64> = sites
        .lines()
        .nth(1)
        .map(|l| l.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    assert!(first.len() >= 4, "{sites}");
    assert!(
        (first[2] - 620_875.0).abs() < 125.0 && (first[3] - 4_830_875.0).abs() < 125.0,
        "{sites}"
    );
    let gj: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("sites.geojson")).unwrap_or_default(),
    )
    .unwrap_or(serde_json::Value::Null);
    assert_eq!(gj["features"].as_array().map(|a| a.len()), Some(3));
    assert!(std::fs::read(dir.join("sites.png")).is_ok_and(|b| b.starts_with(b"\x89PNG")));
}
