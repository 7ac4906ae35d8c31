//! Integration tests of `jikimi-analyze-engine`: DataFusion counts equal the streaming counter's on CSV,
//! gzip CSV and Parquet; bad inputs are errors.
#![allow(clippy::unwrap_used)] // Tests fail loudly on broken fixtures; that is the point.

use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{CsvReadOptions, SessionContext};
use jikimi_analyze::aggregate::{
    IncidentColumns, IncidentCounter, IncidentFilter, Target, TimeWindow, count_incidents_csv,
    resolution,
};
use jikimi_analyze_engine::count_h3;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jikimi-engine-it-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn incidents_csv() -> String {
    let mut text = String::from("date,hour,category,lat,lon\n");
    for i in 0..500u32 {
        let lat = 43.60 + f64::from(i % 23) * 0.003;
        let lon = -79.45 + f64::from(i % 17) * 0.004;
        let category = ["Assault", "Robbery", "Auto Theft"][(i % 3) as usize];
        text.push_str(&format!(
            "20{}-0{}-15,{},{category},{lat},{lon}\n",
            18 + i % 3,
            1 + i % 9,
            i % 24
        ));
    }
    text.push_str("2019-01-01,0,Assault,,\n");
    text
}

fn streaming(
    path: &Path,
    filter: &IncidentFilter,
    window: TimeWindow,
) -> Vec<(String, String, u64)> {
    let mut counter =
        IncidentCounter::new(Target::H3(resolution(9).unwrap()), window, filter.clone());
    let file = std::fs::File::open(path).unwrap();
    count_incidents_csv(file, "csv", &IncidentColumns::default(), &mut counter).unwrap();
    let fc = counter.h3_feature_collection(0).unwrap();
    let mut out = Vec::new();
    for f in fc.features {
        let p = f.properties.unwrap();
        let cell = p["h3"].as_str().unwrap().to_string();
        for (k, v) in &p {
            let n = v.as_u64().unwrap_or(0);
            match k.strip_prefix("count_") {
                Some(w) if n > 0 => out.push((cell.clone(), w.to_string(), n)),
                None if k == "count" && window == TimeWindow::All => {
                    out.push((cell.clone(), "all".into(), n))
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}

async fn engine(
    path: &Path,
    filter: &IncidentFilter,
    window: TimeWindow,
) -> Vec<(String, String, u64)> {
    let counts = count_h3(
        path,
        &IncidentColumns::default(),
        filter,
        window,
        resolution(9).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(counts.bad_location, 1, "the row without coordinates");
    let mut out: Vec<_> = counts
        .cells
        .into_iter()
        .map(|c| (c.cell.to_string(), c.window, c.count))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn csv_gzip_and_parquet_match_the_streaming_counter() {
    let dir = temp_dir("match");
    let csv = dir.join("incidents.csv");
    std::fs::write(&csv, incidents_csv()).unwrap();
    let gz = dir.join("incidents.csv.gz");
    let mut enc = flate2_writer(&gz);
    enc.write_all(incidents_csv().as_bytes()).unwrap();
    enc.finish().unwrap();
    // Parquet written by DataFusion itself from the CSV.
    let parquet = dir.join("incidents.parquet");
    let ctx = SessionContext::new();
    let df = ctx
        .read_csv(csv.to_str().unwrap(), CsvReadOptions::new())
        .await
        .unwrap();
    df.write_parquet(
        parquet.to_str().unwrap(),
        DataFrameWriteOptions::new().with_single_file_output(true),
        None,
    )
    .await
    .unwrap();

    let filter = IncidentFilter {
        categories: vec!["Assault".into(), "Robbery".into()],
        from: Some("2019-01-01".into()),
        to: None,
    };
    for window in [TimeWindow::All, TimeWindow::Year, TimeWindow::Month] {
        let want = streaming(&csv, &filter, window);
        assert!(!want.is_empty());
        assert_eq!(engine(&csv, &filter, window).await, want, "csv {window:?}");
        assert_eq!(engine(&gz, &filter, window).await, want, "gzip {window:?}");
        assert_eq!(
            engine(&parquet, &filter, window).await,
            want,
            "parquet {window:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_column_or_file_is_an_error() {
    let dir = temp_dir("bad");
    let csv = dir.join("incidents.csv");
    std::fs::write(&csv, "when,y,x\n2019-01-01,43.6,-79.4\n").unwrap();
    let res = resolution(9).unwrap();
    let err = count_h3(
        &csv,
        &IncidentColumns::default(),
        &IncidentFilter::default(),
        TimeWindow::All,
        res,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("lat"), "{err}");
    let err = count_h3(
        &dir.join("absent.csv"),
        &IncidentColumns::default(),
        &IncidentFilter::default(),
        TimeWindow::All,
        res,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().starts_with("datafusion"), "{err}");
}

fn flate2_writer(path: &Path) -> flate2::write::GzEncoder<std::fs::File> {
    flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    )
}
