//! Command line of `jikimi analyze ...` (clap `Args`) and the file I/O around the pure core: read
//! GeoJSON/CSV (gzip or plain), run, write GeoJSON, JSON summaries, PNG maps and HTML reports.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use geo::{MultiPolygon, Point};
use geojson::{FeatureCollection, JsonValue};
use serde_json::json;

use crate::aggregate::{
    self, IncidentColumns, IncidentCounter, IncidentFilter, Target, TimeWindow,
};
use crate::error::{Error, Result};
use crate::geojson_io::{self, json_f64, set_property};
use crate::hotspots::{HotspotClass, HotspotConfig, hotspots};
use crate::living_population::{LivingPopulationFilter, read_living_population};
use crate::report;
use crate::smoothing::empirical_bayes;
use crate::stats::Permutations;
use crate::weights::{Contiguity, Transform, Weights};

/// `jikimi analyze`: hot spots and aggregation.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AnalyzeCommand,
}

/// Subcommands of `jikimi analyze`.
#[derive(Debug, clap::Subcommand)]
pub enum AnalyzeCommand {
    /// Getis-Ord Gi*, local and global Moran's I on a value per area; writes every feature with results.
    Hotspots(HotspotsArgs),
    /// Count incidents (CSV, optionally gzip) per H3 cell or polygon, with optional living-population exposure.
    Aggregate(AggregateArgs),
}

/// How coordinates are to be read for distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Coords {
    /// Longitude/latitude if every coordinate is within [-180, 180] x [-90, 90], else planar.
    Auto,
    /// Longitude/latitude degrees; distances in metres on a local projection.
    Lonlat,
    /// Planar coordinates; distances in coordinate units.
    Planar,
}

/// Arguments of `jikimi analyze hotspots`.
#[derive(Debug, clap::Args)]
pub struct HotspotsArgs {
    /// Areas as a GeoJSON FeatureCollection (polygons; points suffice for knn and distance weights).
    #[arg(long)]
    pub areas: PathBuf,
    /// Numeric property to analyse (e.g. `count` or `rate_eb_per_1000`).
    #[arg(long)]
    pub value: String,
    /// Weights: `queen`, `rook`, `knn:K`, `distance:METRES` (coordinate units with --coords planar),
    /// or `h3` (grid adjacency from each feature's `h3` property).
    #[arg(long, default_value = "queen")]
    pub weights: String,
    /// Transform: `B` (binary) or `R` (row-standardised); Gi* adds a self-weight of 1 before it.
    #[arg(long, default_value = "R", value_parser = ["B", "R"], ignore_case = true)]
    pub transform: String,
    /// Conditional permutations (0 disables permutation inference; p_sim is then null).
    #[arg(long, default_value_t = 999)]
    pub permutations: usize,
    /// Seed of the permutations.
    #[arg(long, default_value_t = 12345)]
    pub seed: u64,
    /// How to read coordinates for knn and distance weights.
    #[arg(long, value_enum, default_value_t = Coords::Auto)]
    pub coords: Coords,
    /// Output GeoJSON: every input feature with the result properties added.
    #[arg(long)]
    pub out: PathBuf,
    /// Summary JSON: global Moran's I, weights, class counts, islands, invalid geometries.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// PNG map of the hot-spot classes.
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Short HTML report (refers to the PNG by file name).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Map width in pixels.
    #[arg(long, default_value_t = 900)]
    pub map_width: u32,
}

/// Arguments of `jikimi analyze aggregate`.
#[derive(Debug, clap::Args)]
pub struct AggregateArgs {
    /// Incidents CSV (`.gz` is decompressed) with latitude, longitude, date and category columns.
    #[arg(long)]
    pub incidents: PathBuf,
    /// Count per H3 cell at this resolution (0-15).
    #[arg(long, conflicts_with = "areas")]
    pub h3: Option<u8>,
    /// Count per polygon of this GeoJSON (point in polygon).
    #[arg(long)]
    pub areas: Option<PathBuf>,
    /// With --h3: add zero-count cells within this grid distance of occupied cells.
    #[arg(long, default_value_t = 1)]
    pub pad: u32,
    /// Time window: `all`, `year` or `month` (adds `count_<window>` properties).
    #[arg(long, default_value = "all", value_parser = ["all", "year", "month"])]
    pub window: String,
    /// Keep only this category (repeatable).
    #[arg(long)]
    pub category: Vec<String>,
    /// Keep incidents dated on or after this ISO date.
    #[arg(long)]
    pub from: Option<String>,
    /// Keep incidents dated on or before this ISO date.
    #[arg(long)]
    pub to: Option<String>,
    /// Latitude column.
    #[arg(long, default_value = "lat")]
    pub lat_col: String,
    /// Longitude column.
    #[arg(long, default_value = "lon")]
    pub lon_col: String,
    /// Date column (ISO `YYYY-MM-DD...`).
    #[arg(long, default_value = "date")]
    pub date_col: String,
    /// Category column.
    #[arg(long, default_value = "category")]
    pub category_col: String,
    /// Seoul living-population CSV (total population per census output area and hour) as exposure.
    #[arg(long, requires = "areas", requires = "exposure_key")]
    pub exposure: Option<PathBuf>,
    /// Area property holding the census output area code that matches the exposure table.
    #[arg(long)]
    pub exposure_key: Option<String>,
    /// Counting engine: `streaming` (built in, one pass over a CSV) or `datafusion` (CSV or Parquet through
    /// Apache DataFusion, H3 targets only; needs a binary built with `jikimi-analyze-engine`).
    #[arg(long, value_enum, default_value_t = Engine::Streaming)]
    pub engine: Engine,
    /// Output GeoJSON.
    #[arg(long)]
    pub out: PathBuf,
    /// PNG map of the counts (or EB rates when exposure is given).
    #[arg(long)]
    pub map: Option<PathBuf>,
}

/// Which engine counts incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// One streaming pass over a CSV in this crate.
    Streaming,
    /// Apache DataFusion (crate `jikimi-analyze-engine`).
    Datafusion,
}

/// Runs `jikimi analyze ...` with the built-in streaming counter.
pub fn run(args: AnalyzeArgs) -> Result<()> {
    match args.command {
        AnalyzeCommand::Hotspots(a) => run_hotspots(&a),
        AnalyzeCommand::Aggregate(a) => {
            if a.engine == Engine::Datafusion {
                return Err(Error::Argument(
                    "--engine datafusion needs the DataFusion engine: build jikimi with `--features datafusion`"
                        .into(),
                ));
            }
            run_aggregate_with(&a, |counter| stream_csv(&a, counter))
        }
    }
}

/// Feeds the incidents CSV of `a` through the streaming counter.
pub fn stream_csv(a: &AggregateArgs, counter: &mut IncidentCounter) -> Result<()> {
    let columns = IncidentColumns {
        lat: a.lat_col.clone(),
        lon: a.lon_col.clone(),
        date: a.date_col.clone(),
        category: a.category_col.clone(),
    };
    let source = a.incidents.display().to_string();
    aggregate::count_incidents_csv(open_maybe_gz(&a.incidents)?, &source, &columns, counter)
}

/// Opens a file for reading, unwrapping gzip when the name ends in `.gz`.
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// The parsed `--weights` value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightsSpec {
    /// Queen or rook contiguity.
    Contiguity(Contiguity),
    /// k nearest neighbours.
    Knn(usize),
    /// Distance band (metres for lon/lat, else coordinate units).
    Distance(f64),
    /// H3 grid adjacency.
    H3,
}

impl std::str::FromStr for WeightsSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Argument(format!(
                "weights '{s}' is not queen, rook, knn:K, distance:METRES or h3"
            ))
        };
        match s.split_once(':') {
            None if s == "queen" => Ok(WeightsSpec::Contiguity(Contiguity::Queen)),
            None if s == "rook" => Ok(WeightsSpec::Contiguity(Contiguity::Rook)),
            None if s == "h3" => Ok(WeightsSpec::H3),
            Some(("knn", k)) => k.parse().map(WeightsSpec::Knn).map_err(|_| bad()),
            Some(("distance", d)) => d.parse().map(WeightsSpec::Distance).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// Points in a plane where Euclidean distance is meaningful: lon/lat are projected to metres on a local
/// equirectangular plane through the mean latitude (accurate to well under 1% across a city).
pub fn planar_points(points: &[Point<f64>], coords: Coords) -> (Vec<Point<f64>>, bool) {
    let looks_geographic = points
        .iter()
        .all(|p| p.x().abs() <= 180.0 && p.y().abs() <= 90.0);
    let geographic = match coords {
        Coords::Auto => looks_geographic,
        Coords::Lonlat => true,
        Coords::Planar => false,
    };
    if !geographic {
        return (points.to_vec(), false);
    }
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let lat0 = points.iter().map(|p| p.y()).sum::<f64>() / points.len().max(1) as f64;
    let k = lat0.to_radians().cos();
    let projected = points
        .iter()
        .map(|p| {
            Point::new(
                EARTH_RADIUS_M * p.x().to_radians() * k,
                EARTH_RADIUS_M * p.y().to_radians(),
            )
        })
        .collect();
    (projected, true)
}

fn build_weights(
    fc: &FeatureCollection,
    spec: WeightsSpec,
    coords: Coords,
) -> Result<(Weights, String)> {
    Ok(match spec {
        WeightsSpec::Contiguity(kind) => {
            let w = Weights::contiguity(&geojson_io::polygons(fc)?, kind)?;
            (w, format!("{kind:?} contiguity").to_lowercase())
        }
        WeightsSpec::Knn(k) => {
            let (pts, geo) = planar_points(&geojson_io::representative_points(fc)?, coords);
            (
                Weights::knn(&pts, k)?,
                format!(
                    "{k} nearest neighbours ({})",
                    if geo { "metres" } else { "planar" }
                ),
            )
        }
        WeightsSpec::Distance(d) => {
            let (pts, geo) = planar_points(&geojson_io::representative_points(fc)?, coords);
            let unit = if geo { "m" } else { "coordinate units" };
            (
                Weights::distance_band(&pts, d)?,
                format!("distance band {d} {unit}"),
            )
        }
        WeightsSpec::H3 => {
            let cells = aggregate::h3_cells_of(fc).ok_or_else(|| {
                Error::Argument("weights h3 needs an 'h3' cell property on every feature".into())
            })?;
            (Weights::h3_cells(&cells)?, "h3 grid adjacency".into())
        }
    })
}

fn run_hotspots(a: &HotspotsArgs) -> Result<()> {
    let spec: WeightsSpec = a.weights.parse()?;
    let transform: Transform = a.transform.parse()?;
    let mut fc = geojson_io::parse_feature_collection(&read_text(&a.areas)?)?;
    let y = geojson_io::numeric_field(&fc, &a.value)?;
    let (weights, weights_desc) = build_weights(&fc, spec, a.coords)?;
    let polygons: Option<Vec<MultiPolygon<f64>>> = geojson_io::polygons(&fc).ok();
    let invalid = polygons
        .as_deref()
        .map(geojson_io::invalid_polygons)
        .unwrap_or_default();
    let config = HotspotConfig {
        transform,
        permutations: Permutations {
            count: a.permutations,
            seed: a.seed,
        },
    };
    let r = hotspots(&y, &weights, config)?;
    let p_sim = |v: &Option<Vec<f64>>, i: usize| {
        v.as_ref()
            .map(|p| json_f64(p[i]))
            .unwrap_or(JsonValue::Null)
    };
    for i in 0..y.len() {
        let props = [
            ("gi_star", json_f64(r.gi_star.gs[i])),
            ("gi_star_z", json_f64(r.gi_star.zs[i])),
            ("gi_star_p_norm", json_f64(r.gi_star.p_norm[i])),
            ("gi_star_p_sim", p_sim(&r.gi_star.p_sim, i)),
            ("gi_star_q", json_f64(r.q_values[i])),
            ("lisa_i", json_f64(r.lisa.is[i])),
            ("lisa_z", json_f64(r.lisa.z[i])),
            ("lisa_p_sim", p_sim(&r.lisa.p_sim, i)),
            ("lisa_q", JsonValue::from(r.lisa.q[i])),
            ("hotspot_class", JsonValue::from(r.classes[i].as_str())),
        ];
        for (k, v) in props {
            set_property(&mut fc, i, k, v);
        }
    }
    write_bytes(&a.out, serde_json::to_string(&fc)?.as_bytes())?;
    let class_counts: serde_json::Map<String, JsonValue> = HotspotClass::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_string(),
                JsonValue::from(r.classes.iter().filter(|x| *x == c).count()),
            )
        })
        .collect();
    let mut notes = vec![
        "gi_star: esda G_Local(star=True); self-weight 1 before the transform".to_string(),
        "lisa_z: analytic z of local Moran under total randomisation (esda EI/VI); lisa_q 1=HH 2=LH 3=LL 4=HL".into(),
        "p_sim: conditional permutation pseudo p-value, esda's directed rule (larger+1)/(perm+1)".into(),
        "hotspot_class: Gi* two-sided p (2*p_sim, or 2*p_norm without permutations), Benjamini-Hochberg q <= 0.01/0.05/0.10".into(),
    ];
    if !r.islands.is_empty() {
        notes.push(format!(
            "{} island(s) without neighbours: class 'island', p_sim = 1, local Moran I = 0",
            r.islands.len()
        ));
    }
    if !invalid.is_empty() {
        notes.push(format!(
            "{} invalid geometries (OGC rules) were used as given; contiguity only needs their vertices",
            invalid.len()
        ));
    }
    if let Some(path) = &a.summary {
        let cards = weights.cardinalities();
        let summary = json!({
            "variable": a.value,
            "n": y.len(),
            "weights": {
                "kind": weights_desc,
                "transform": a.transform,
                "links": weights.n_links(),
                "mean_neighbours": weights.n_links() as f64 / y.len() as f64,
                "min_neighbours": cards.iter().min(),
                "max_neighbours": cards.iter().max(),
                "islands": r.islands,
            },
            "moran": {
                "I": r.moran.i, "EI": r.moran.ei, "VI_norm": r.moran.vi_norm, "seI_norm": r.moran.se_i_norm,
                "z_norm": r.moran.z_norm, "p_norm": r.moran.p_norm, "VI_rand": r.moran.vi_rand,
                "z_rand": r.moran.z_rand, "p_rand": r.moran.p_rand, "p_sim": r.moran.p_sim,
            },
            "permutations": a.permutations,
            "seed": a.seed,
            "hotspot_classes": class_counts,
            "invalid_geometries": invalid,
            "notes": notes,
        });
        write_bytes(path, serde_json::to_string_pretty(&summary)?.as_bytes())?;
    }
    let geographic = polygons.as_ref().is_some_and(|p| {
        let pts: Vec<Point<f64>> = p
            .iter()
            .flat_map(|mp| mp.0.iter().flat_map(|q| q.exterior().points()))
            .collect();
        planar_points(&pts, a.coords).1
    });
    let png_name = match (&a.map, &polygons) {
        (Some(path), Some(polys)) => {
            write_bytes(
                path,
                &report::hotspot_png(polys, &r, geographic, a.map_width)?,
            )?;
            path.file_name().map(|n| n.to_string_lossy().into_owned())
        }
        (Some(_), None) => return Err(Error::Argument("--map needs polygon features".into())),
        _ => None,
    };
    if let Some(path) = &a.report {
        let title = format!("Hot spots of {}", a.value);
        let html = report::hotspot_html(
            &title,
            &a.value,
            &weights_desc,
            &r,
            png_name.as_deref(),
            &notes,
        );
        write_bytes(path, html.as_bytes())?;
    }
    eprintln!(
        "analyze hotspots: {} areas, moran I = {:.4} (z = {:.2}), hot = {}, cold = {}, islands = {}",
        y.len(),
        r.moran.i,
        r.moran.z_norm,
        r.classes
            .iter()
            .filter(|c| matches!(
                c,
                HotspotClass::Hot99 | HotspotClass::Hot95 | HotspotClass::Hot90
            ))
            .count(),
        r.classes
            .iter()
            .filter(|c| matches!(
                c,
                HotspotClass::Cold99 | HotspotClass::Cold95 | HotspotClass::Cold90
            ))
            .count(),
        r.islands.len()
    );
    Ok(())
}

/// Runs `jikimi analyze aggregate`, with `fill` counting the incidents into the prepared counter (the
/// streaming reader here, or a columnar engine from another crate), then writes GeoJSON and the map.
pub fn run_aggregate_with<F>(a: &AggregateArgs, fill: F) -> Result<()>
where
    F: FnOnce(&mut IncidentCounter) -> Result<()>,
{
    let window: TimeWindow = a.window.parse()?;
    let filter = IncidentFilter {
        categories: a.category.clone(),
        from: a.from.clone(),
        to: a.to.clone(),
    };
    let (target, areas_fc) = match (a.h3, &a.areas) {
        (Some(r), None) => (Target::H3(aggregate::resolution(r)?), None),
        (None, Some(path)) => {
            let fc = geojson_io::parse_feature_collection(&read_text(path)?)?;
            (Target::polygons(geojson_io::polygons(&fc)?), Some(fc))
        }
        _ => {
            return Err(Error::Argument(
                "give exactly one of --h3 RES or --areas AREAS.geojson".into(),
            ));
        }
    };
    let mut counter = IncidentCounter::new(target, window, filter);
    fill(&mut counter)?;
    let (fc, map_values) = match areas_fc {
        None => {
            let fc = counter.h3_feature_collection(a.pad)?;
            let values = geojson_io::numeric_field(&fc, "count")?
                .into_iter()
                .map(Some)
                .collect();
            (fc, values)
        }
        Some(mut fc) => {
            let totals = counter.polygon_totals();
            for (i, t) in totals.iter().enumerate() {
                set_property(&mut fc, i, "count", JsonValue::from(*t));
            }
            if window != TimeWindow::All {
                for w in counter.windows() {
                    for (i, c) in counter.polygon_window_counts(&w).into_iter().enumerate() {
                        set_property(&mut fc, i, &format!("count_{w}"), JsonValue::from(c));
                    }
                }
            }
            let mut values: Vec<Option<f64>> = totals.iter().map(|t| Some(*t as f64)).collect();
            if let (Some(path), Some(key)) = (&a.exposure, &a.exposure_key) {
                let lp = read_living_population(
                    open_maybe_gz(path)?,
                    &path.display().to_string(),
                    &LivingPopulationFilter::default(),
                )?;
                let exposure: Vec<f64> = fc
                    .features
                    .iter()
                    .map(|f| {
                        let code =
                            f.properties
                                .as_ref()
                                .and_then(|p| p.get(key))
                                .map(|v| match v {
                                    JsonValue::String(s) => s.clone(),
                                    other => other.to_string(),
                                });
                        code.and_then(|c| lp.areas.get(&c))
                            .map(|e| e.mean_population())
                            .unwrap_or(0.0)
                    })
                    .collect();
                let events: Vec<f64> = totals.iter().map(|t| *t as f64).collect();
                let eb = empirical_bayes(&events, &exposure)?;
                for (i, &e) in exposure.iter().enumerate() {
                    set_property(&mut fc, i, "exposure", json_f64(e));
                    set_property(
                        &mut fc,
                        i,
                        "rate_per_1000",
                        eb.raw[i]
                            .map(|r| json_f64(r * 1000.0))
                            .unwrap_or(JsonValue::Null),
                    );
                    set_property(
                        &mut fc,
                        i,
                        "rate_eb_per_1000",
                        json_f64(eb.smoothed[i] * 1000.0),
                    );
                }
                values = eb.smoothed.iter().map(|r| Some(*r)).collect();
                eprintln!(
                    "analyze aggregate: exposure from {} census areas ({} rows, {} suppressed); {} areas without exposure get the overall rate",
                    lp.areas.len(),
                    lp.rows_read,
                    lp.rows_suppressed,
                    exposure.iter().filter(|e| **e == 0.0).count()
                );
            }
            (fc, values)
        }
    };
    write_bytes(&a.out, serde_json::to_string(&fc)?.as_bytes())?;
    if let Some(path) = &a.map {
        let polys = geojson_io::polygons(&fc)?;
        let spec = jikimi_maps::MapSpec::new(
            report::shapes(&polys),
            jikimi_maps::Fill::Values {
                values: map_values,
                palette: jikimi_maps::Palette::YlOrRd,
            },
        );
        write_bytes(path, &jikimi_maps::render_png(&spec)?)?;
    }
    let s = &counter.stats;
    eprintln!(
        "analyze aggregate: {} features; counted {}, filtered {}, bad location {}, outside every area {}",
        fc.features.len(),
        s.counted,
        s.filtered,
        s.bad_location,
        s.outside
    );
    Ok(())
}
