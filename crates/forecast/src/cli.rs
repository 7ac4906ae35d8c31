//! Command-line arguments and runners for `jikimi analyze forecast-eval | place | equity`.
//!
//! The binary flattens [`AnalyzeCommand`] into its `analyze` subcommand and calls [`run`].

use std::path::PathBuf;

use crate::Error;
use crate::equity::{EquityConfig, analyze};
use crate::eval::{EvalConfig, records, run as run_eval};
use crate::grid::Projector;
use crate::output::{markdown, risk_geojson, write_file};
use crate::place::{Instance, Point, default_radius, exact, lazy_greedy};

/// Forecasting, placement and equity subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AnalyzeCommand {
    /// Rolling-origin forecast evaluation (PAI/PEI) of baselines and models on the Toronto MCI data.
    ForecastEval(Box<ForecastEvalArgs>),
    /// Place CCTV, emergency bells or street lights where they cover most risk (maximal covering).
    Place(Box<PlaceArgs>),
    /// Response times by district with bootstrap intervals, flagging districts that differ.
    Equity(Box<EquityArgs>),
}

/// Arguments of `place`.
#[derive(Debug, clap::Args)]
pub struct PlaceArgs {
    /// Risk surface CSV with columns `x`, `y` (UTM 17N metres or any projected metres) and `risk`;
    /// `forecast-eval --surfaces DIR` writes these.
    #[arg(long)]
    pub risk: PathBuf,
    /// Candidate sites, CSV with `x`, `y`; default: the risk surface's points.
    #[arg(long)]
    pub candidates: Option<PathBuf>,
    /// Existing devices, CSV with `x`, `y`: risk they already cover counts for nothing.
    #[arg(long)]
    pub existing: Option<PathBuf>,
    /// Device type: `cctv` (50 m), `bell` (30 m) or `light` (25 m).
    #[arg(long, default_value = "cctv")]
    pub device: String,
    /// Coverage radius in metres (overrides the device default).
    #[arg(long)]
    pub radius: Option<f64>,
    /// Number of new devices.
    #[arg(long)]
    pub k: usize,
    /// Split each risk point's square cell (side `--cell-size`) into N × N demand points sharing its
    /// risk equally, so that device radii smaller than a cell are resolved.
    #[arg(long, default_value_t = 1)]
    pub subdivide: usize,
    /// Side of the risk surface's cells in metres (used with `--subdivide`).
    #[arg(long, default_value_t = 250.0)]
    pub cell_size: f64,
    /// Solve exactly (integer program) when there are at most this many candidates.
    #[arg(long, default_value_t = 200)]
    pub exact_max_candidates: usize,
    /// Output GeoJSON of chosen sites (WGS84, from UTM 17N coordinates).
    #[arg(long)]
    pub out_geojson: Option<PathBuf>,
    /// Output CSV of chosen sites.
    #[arg(long)]
    pub out_csv: Option<PathBuf>,
    /// Output PNG map: the risk surface with chosen sites in red (one pixel block per `--cell-size` cell).
    #[arg(long)]
    pub out_png: Option<PathBuf>,
    /// Print the summary (sites, method, covered risk, bound) as one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `equity`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["incidents", "db"])))]
pub struct EquityArgs {
    /// CSV with `incident_id`, `district`, `accepted_at`, `on_scene_at` (RFC 3339 or Unix seconds) and
    /// an optional `exposure_weight`.
    #[arg(long)]
    pub incidents: Option<PathBuf>,
    /// Read incidents from the store instead: `sqlite://PATH` or `postgres://…` (response time =
    /// alert received to on scene; district from the incident location).
    #[arg(long)]
    pub db: Option<String>,
    /// With `--db`: district polygons, a GeoJSON FeatureCollection (WGS84), or `demo` for the six
    /// districts of the `jikimi demo` city.
    #[arg(long, default_value = "demo")]
    pub districts: String,
    /// With `--districts FILE`: the feature property holding the district name.
    #[arg(long, default_value = "name")]
    pub district_property: String,
    /// Where to write the JSON report.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Bootstrap replicates.
    #[arg(long, default_value_t = 2000)]
    pub replicates: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Family-wise significance level.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Only incidents accepted at or after this: a date (2026-01-01, midnight UTC), RFC 3339 or Unix seconds.
    #[arg(long)]
    pub from: Option<String>,
    /// Only incidents accepted before this (same forms as `--from`).
    #[arg(long)]
    pub to: Option<String>,
    /// Print the report (what `--out` holds) as one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `forecast-eval`.
#[derive(Debug, clap::Args)]
pub struct ForecastEvalArgs {
    /// The MCI gzip CSV (shared/data/toronto_mci/mci_2014_2021.csv.gz).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write results.json (one record per model, category and coverage).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the Markdown report (docs/forecast.md).
    #[arg(long)]
    pub doc: Option<PathBuf>,
    /// Also write each model's risk surface for December of the test year (GeoJSON, CSV, PNG) here.
    #[arg(long)]
    pub surfaces: Option<PathBuf>,
    /// Worker threads (categories run in parallel).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Year whose 12 monthly origins are reported. Development runs use 2019 (with
    /// `--select-year 2018`) or 2020 (with `--select-year 2019`) so that 2021 stays a clean hold-out.
    #[arg(long, default_value_t = 2021)]
    pub test_year: i32,
    /// Year whose 12 monthly origins choose hyper-parameters and the best model.
    #[arg(long, default_value_t = 2020)]
    pub select_year: i32,
    /// Print the summary (load and evaluation time, best model per category) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs a subcommand, printing a short summary to stdout.
pub fn run(command: AnalyzeCommand) -> Result<(), Error> {
    match command {
        AnalyzeCommand::ForecastEval(args) => forecast_eval(&args),
        AnalyzeCommand::Place(args) => place(&args),
        AnalyzeCommand::Equity(args) => equity(&args),
    }
}

fn open(path: &std::path::Path) -> Result<std::fs::File, Error> {
    std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads `x`, `y` and optionally `risk` columns from a CSV.
fn read_points(path: &std::path::Path, with_risk: bool) -> Result<Vec<(Point, f64)>, Error> {
    let name = path.display().to_string();
    let mut rdr = csv::Reader::from_reader(std::io::BufReader::new(open(path)?));
    let csv_err = |source| Error::Csv {
        path: name.clone(),
        source,
    };
    let headers = rdr.headers().map_err(csv_err)?.clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| Error::Invalid {
                location: name.clone(),
                message: format!("missing column {n}"),
            })
    };
    let (ix, iy) = (col("x")?, col("y")?);
    let ir = if with_risk { Some(col("risk")?) } else { None };
    let mut out = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        let num = |i: usize| {
            rec.get(i)
                .unwrap_or("")
                .trim()
                .parse::<f64>()
                .map_err(|_| Error::Invalid {
                    location: format!("{name}:{}", line + 2),
                    message: "bad number".into(),
                })
        };
        let risk = match ir {
            Some(i) => num(i)?,
            None => 0.0,
        };
        out.push((
            Point {
                x: num(ix)?,
                y: num(iy)?,
            },
            risk,
        ));
    }
    Ok(out)
}

/// Splits each point's square cell into n × n points sharing its risk.
fn subdivide(points: &[(Point, f64)], n: usize, cell: f64) -> Vec<(Point, f64)> {
    if n <= 1 {
        return points.to_vec();
    }
    let step = cell / n as f64;
    let mut out = Vec::with_capacity(points.len() * n * n);
    for &(p, risk) in points {
        for i in 0..n {
            for j in 0..n {
                let x = p.x - cell / 2.0 + (i as f64 + 0.5) * step;
                let y = p.y - cell / 2.0 + (j as f64 + 0.5) * step;
                out.push((Point { x, y }, risk / (n * n) as f64));
            }
        }
    }
    out
}

fn place(args: &PlaceArgs) -> Result<(), Error> {
    let radius = match args.radius.or_else(|| default_radius(&args.device)) {
        Some(r) => r,
        None => {
            return Err(Error::Invalid {
                location: "--device".into(),
                message: format!("unknown device {:?}; give --radius", args.device),
            });
        }
    };
    let risk_points = read_points(&args.risk, true)?;
    let demand = subdivide(&risk_points, args.subdivide, args.cell_size);
    let candidates: Vec<Point> = match &args.candidates {
        Some(p) => read_points(p, false)?.into_iter().map(|p| p.0).collect(),
        None => demand.iter().map(|d| d.0).collect(),
    };
    let existing: Vec<Point> = match &args.existing {
        Some(p) => read_points(p, false)?.into_iter().map(|p| p.0).collect(),
        None => Vec::new(),
    };
    let t0 = std::time::Instant::now();
    let inst = Instance::build(&demand, &candidates, &existing, radius);
    let greedy = lazy_greedy(&inst, args.k);
    let greedy_s = t0.elapsed().as_secs_f64();
    let (chosen, method, optimum) = if candidates.len() <= args.exact_max_candidates {
        let ex = exact(&inst, args.k)?;
        (ex.chosen.clone(), "exact", Some(ex.value))
    } else {
        (greedy.chosen.clone(), "lazy_greedy", None)
    };
    let total_s = t0.elapsed().as_secs_f64();
    let total_risk: f64 = inst.weights.iter().sum();
    let covered = inst.value(&chosen);
    let bound = optimum.unwrap_or(greedy.upper_bound);
    if args.json {
        let summary = serde_json::json!({
            "sites": chosen.len(),
            "method": method,
            "radius_m": radius,
            "candidates": candidates.len(),
            "demand_points": demand.len(),
            "covered_risk": covered,
            "total_risk": total_risk,
            "greedy_risk": greedy.value,
            "optimum": optimum,
            "upper_bound": bound,
            "greedy_s": greedy_s,
            "total_s": total_s,
        });
        println!("{summary}");
    } else {
        println!(
            "{} sites ({}, radius {} m) from {} candidates over {} demand points: covered risk {:.4} of {:.4} ({:.1}%)",
            chosen.len(),
            method,
            radius,
            candidates.len(),
            demand.len(),
            covered,
            total_risk,
            100.0 * covered / total_risk.max(f64::MIN_POSITIVE)
        );
        if optimum.is_some() {
            println!(
                "greedy {:.4}; optimum {:.4}; greedy gap {:.3}%; greedy {:.3} s; total {:.3} s",
                greedy.value,
                bound,
                100.0 * (bound - greedy.value) / bound.max(f64::MIN_POSITIVE),
                greedy_s,
                total_s
            );
        } else {
            println!(
                "greedy {:.4}; optimum at most {:.4} (online bound); greedy certified to reach at least {:.1}% of the \
                 optimum (the better of the online bound and 1 - 1/e); greedy {:.3} s",
                greedy.value,
                bound,
                100.0 * (greedy.value / bound.max(f64::MIN_POSITIVE)).max(1.0 - (-1.0f64).exp()),
                greedy_s
            );
        }
    }
    let projector = Projector::utm17n()?;
    if let Some(path) = &args.out_csv {
        let mut csv = String::from("order,candidate,x,y,lat,lon,gain_risk\n");
        let mut so_far: Vec<usize> = Vec::new();
        for (order, &j) in chosen.iter().enumerate() {
            let before = inst.value(&so_far);
            so_far.push(j);
            let gain = inst.value(&so_far) - before;
            let p = candidates[j];
            let (lat, lon) = projector.unproject(p.x, p.y)?;
            csv.push_str(&format!(
                "{},{j},{},{},{lat:.7},{lon:.7},{gain}\n",
                order + 1,
                p.x,
                p.y
            ));
        }
        write_file(path, csv.as_bytes())?;
    }
    if let Some(path) = &args.out_png {
        let pts: Vec<(f64, f64, f64)> = risk_points.iter().map(|(p, r)| (p.x, p.y, *r)).collect();
        let sites: Vec<(f64, f64)> = chosen
            .iter()
            .map(|&j| (candidates[j].x, candidates[j].y))
            .collect();
        write_file(
            path,
            &crate::map::render_png(&pts, args.cell_size, 4, &sites)?,
        )?;
    }
    if let Some(path) = &args.out_geojson {
        let mut features = Vec::new();
        for (order, &j) in chosen.iter().enumerate() {
            let p = candidates[j];
            let (lat, lon) = projector.unproject(p.x, p.y)?;
            features.push(serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"order": order + 1, "candidate": j, "device": args.device, "radius_m": radius},
            }));
        }
        let gj = serde_json::json!({
            "type": "FeatureCollection",
            "properties": {"method": method, "covered_risk": covered, "total_risk": total_risk,
                           "greedy_risk": greedy.value, "upper_bound": bound},
            "features": features,
        });
        write_file(path, serde_json::to_string_pretty(&gj)?.as_bytes())?;
    }
    Ok(())
}

/// Reads responses from the store named by `url`, districts from `--districts`.
#[cfg(feature = "store")]
fn store_responses(
    url: &str,
    args: &EquityArgs,
    period: crate::equity::ReportPeriod,
) -> Result<crate::store_source::StoreResponses, Error> {
    let layout = if args.districts == "demo" {
        crate::districts::DistrictLayout::demo()
    } else {
        let path = std::path::Path::new(&args.districts);
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: args.districts.clone(),
            source,
        })?;
        crate::districts::DistrictLayout::from_geojson(
            &text,
            &args.district_property,
            &args.districts,
        )?
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            path: "tokio runtime".into(),
            source,
        })?;
    runtime.block_on(async {
        let store = jikimi_store::connect(url).await?;
        crate::store_source::read_responses_paged(
            store.as_ref(),
            &layout,
            jikimi_respond::Timestamp::from_unix_ms(now_ms),
            period,
            crate::store_source::PAGE,
        )
        .await
    })
}

fn equity(args: &EquityArgs) -> Result<(), Error> {
    let period = crate::equity::ReportPeriod::parse(args.from.as_deref(), args.to.as_deref())?;
    let (records, source) = match (&args.incidents, &args.db) {
        (Some(path), _) => {
            let name = path.display().to_string();
            let records = crate::equity::read_responses_in(
                std::io::BufReader::new(open(path)?),
                &name,
                period,
            )?;
            (records, serde_json::json!({"csv": name, "period": period}))
        }
        #[cfg(feature = "store")]
        (None, Some(url)) => {
            let read = store_responses(url, args, period)?;
            // With --json, stdout holds only the report.
            let say = |line: String| {
                if args.json {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
            };
            say(format!(
                "store: {} incidents on scene or closed; {} responses by district; left out: {} never on scene, \
                 {} without location, {} outside every district, {} outside the period (read in {} {})",
                read.listed,
                read.responses.len(),
                read.never_on_scene,
                read.no_location,
                read.outside,
                read.outside_period,
                read.pages,
                if read.pages == 1 { "page" } else { "pages" },
            ));
            let source = serde_json::json!({
                "store": {"backend_url_scheme": url.split(':').next().unwrap_or(""),
                          "districts": args.districts, "listed": read.listed,
                          "never_on_scene": read.never_on_scene, "no_location": read.no_location,
                          "outside": read.outside, "outside_period": read.outside_period,
                          "period": period, "pages": read.pages}
            });
            (read.responses, source)
        }
        #[cfg(not(feature = "store"))]
        (None, Some(_)) => {
            return Err(Error::Invalid {
                location: "--db".into(),
                message: "this build has no store support (feature `store`)".into(),
            });
        }
        (None, None) => {
            return Err(Error::Invalid {
                location: "equity".into(),
                message: "give --incidents FILE.csv or --db URL".into(),
            });
        }
    };
    let cfg = EquityConfig {
        replicates: args.replicates,
        seed: args.seed,
        alpha: args.alpha,
    };
    let res = analyze(&records, &cfg);
    let report = serde_json::json!({"config": cfg, "source": source, "districts": res});
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{:<20} {:>6} {:>24} {:>24}  flag",
            "district", "n", "median s (95% CI)", "p90 s (95% CI)"
        );
        for d in &res {
            println!(
                "{:<20} {:>6} {:>8.0} ({:>6.0}-{:<6.0}) {:>8.0} ({:>6.0}-{:<6.0})  {}",
                d.district,
                d.n,
                d.median.estimate,
                d.median.lo,
                d.median.hi,
                d.p90.estimate,
                d.p90.lo,
                d.p90.hi,
                match (d.median_flagged, d.p90_flagged) {
                    (true, true) => "median, p90",
                    (true, false) => "median",
                    (false, true) => "p90",
                    (false, false) => "",
                }
            );
        }
    }
    if let Some(out) = &args.out {
        write_file(out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}

fn forecast_eval(args: &ForecastEvalArgs) -> Result<(), Error> {
    let t0 = std::time::Instant::now();
    let ds = crate::data::load_mci(&args.data)?;
    let load_s = t0.elapsed().as_secs_f64();
    if args.select_year >= args.test_year || args.select_year < 2015 {
        return Err(Error::Invalid {
            location: "--select-year".to_string(),
            message: format!(
                "{} must be before --test-year {} and after 2014 (training starts 2014-01-01)",
                args.select_year, args.test_year
            ),
        });
    }
    let cfg = EvalConfig {
        selection_year: args.select_year,
        test_year: args.test_year,
        ..EvalConfig::default()
    };
    let report = run_eval(&ds, &cfg, args.threads);
    write_file(
        &args.out,
        serde_json::to_string_pretty(&records(&report))?.as_bytes(),
    )?;
    if let Some(doc) = &args.doc {
        let mut cmd = format!(
            "jikimi analyze forecast-eval --data {} --out {} --doc {}",
            args.data.display(),
            args.out.display(),
            doc.display()
        );
        if (args.test_year, args.select_year) != (2021, 2020) {
            cmd.push_str(&format!(
                " --test-year {} --select-year {}",
                args.test_year, args.select_year
            ));
        }
        write_file(doc, markdown(&report, &cmd).as_bytes())?;
    }
    if let Some(dir) = &args.surfaces {
        let period = crate::eval::month_periods(cfg.test_year)[11];
        if let Some(all) = report.categories.first() {
            for m in &all.models {
                let surface = m.spec.forecast(&ds, 0, period);
                let props = serde_json::json!({"model": m.model, "category": "all", "period_start_day": period.start});
                let gj = risk_geojson(&ds.area, &surface, props)?;
                write_file(
                    &dir.join(format!("{}_all.geojson", m.model)),
                    serde_json::to_string(&gj)?.as_bytes(),
                )?;
                let mut csv = String::from("cell,x,y,risk\n");
                for (id, r) in surface.iter().enumerate() {
                    let (x, y) = ds.area.centre(id);
                    csv.push_str(&format!("{id},{x},{y},{r}\n"));
                }
                write_file(&dir.join(format!("{}_all.csv", m.model)), csv.as_bytes())?;
                let pts: Vec<(f64, f64, f64)> = surface
                    .iter()
                    .enumerate()
                    .map(|(id, &r)| {
                        let (x, y) = ds.area.centre(id);
                        (x, y, r)
                    })
                    .collect();
                let png = crate::map::render_png(&pts, crate::grid::CELL, 4, &[])?;
                write_file(&dir.join(format!("{}_all.png", m.model)), &png)?;
            }
        }
    }
    if args.json {
        let categories: Vec<serde_json::Value> = report
            .categories
            .iter()
            .map(|c| {
                serde_json::json!({
                    "category": c.category,
                    "best_model": c.best_model,
                    "best_baseline": c.best_baseline,
                    "gain_pai_1pct": c.gain_pai_1pct,
                })
            })
            .collect();
        let summary = serde_json::json!({
            "events": ds.by_category[0].len(),
            "cells": ds.area.n_cells(),
            "load_s": load_s,
            "evaluation_s": report.seconds_total,
            "target_met": report.target_met,
            "categories": categories,
        });
        println!("{summary}");
        return Ok(());
    }
    println!(
        "loaded {} events into {} cells in {:.2} s; evaluation {:.1} s; target {}",
        ds.by_category[0].len(),
        ds.area.n_cells(),
        load_s,
        report.seconds_total,
        if report.target_met { "met" } else { "not met" }
    );
    for c in &report.categories {
        println!(
            "{:>16}: best model {} vs best baseline {}: {:+.1}% PAI@1%",
            c.category,
            c.best_model,
            c.best_baseline,
            100.0 * c.gain_pai_1pct
        );
    }
    Ok(())
}
