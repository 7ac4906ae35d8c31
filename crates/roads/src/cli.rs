//! Command line of `jikimi roads …`: import, route (single or `--pairs`). I/O edge of the crate; the benchmark
//! is `jikimi bench roads` ([`crate::bench`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::{LatLon, Metric, Profile, RoadNetwork, RoadsError};

/// `jikimi roads`: road network import and routing.
#[derive(Debug, Args)]
pub struct RoadsArgs {
    #[command(subcommand)]
    pub command: RoadsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RoadsCommand {
    /// Import an OpenStreetMap PBF and preprocess it into a `.roads` file.
    Import {
        /// Input `.osm.pbf`.
        pbf: PathBuf,
        /// Output `.roads` file.
        #[arg(long)]
        out: PathBuf,
        /// Speed profile baked into travel times.
        #[arg(long, value_enum, default_value_t = Profile::Civilian)]
        profile: Profile,
        /// Also print the import summary as one JSON object on stdout (the text summary goes to stderr either way).
        #[arg(long)]
        json: bool,
    },
    /// Shortest route between two points, or for every pair in a JSON file.
    Route(RouteArgs),
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// `.roads` file written by `jikimi roads import`.
    #[arg(long)]
    pub roads: PathBuf,
    /// Origin as `LAT,LON`.
    #[arg(long, required_unless_present = "pairs", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Destination as `LAT,LON`.
    #[arg(long, required_unless_present = "pairs", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// JSON array of `{from_lat, from_lon, to_lat, to_lon}` objects; prints them back with
    /// `length_m` and `duration_s` added (null where unreachable).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub pairs: Option<PathBuf>,
    /// What the route minimises.
    #[arg(long, value_enum, default_value_t = Metric::Time)]
    pub metric: Metric,
    /// Print JSON instead of text (`--pairs` always prints JSON).
    #[arg(long)]
    pub json: bool,
    /// Points farther than this from a drivable road are reported as off-road.
    #[arg(long, default_value_t = crate::network::DEFAULT_SNAP_LIMIT_M)]
    pub max_snap_m: f64,
}

/// CLI failures: either a library error or a usage/input problem.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Roads(#[from] RoadsError),
    #[error("{0}")]
    Usage(String),
}

/// Run `jikimi roads …`.
pub fn run(args: RoadsArgs) -> Result<(), CliError> {
    match args.command {
        RoadsCommand::Import {
            pbf,
            out,
            profile,
            json,
        } => import(&pbf, &out, profile, json),
        RoadsCommand::Route(r) => route(&r),
    }
}

fn import(pbf: &Path, out: &Path, profile: Profile, json: bool) -> Result<(), CliError> {
    let t0 = Instant::now();
    let graph = crate::import::import_path(pbf, profile)?;
    let t_import = t0.elapsed();
    let (ways, missing) = (graph.drivable_ways, graph.refs_without_coords);
    let net = RoadNetwork::build(graph, profile)?;
    let t_total = t0.elapsed();
    net.save(out)?;
    eprintln!(
        "imported {} drivable ways ({missing} node refs without coordinates skipped): {} nodes, {} segments; \
         customisable hierarchy arcs {} (both metrics); read {:.2} s, total {:.2} s; wrote {}",
        ways,
        net.num_nodes(),
        net.num_segments(),
        net.num_hierarchy_arcs(),
        t_import.as_secs_f64(),
        t_total.as_secs_f64(),
        out.display()
    );
    if json {
        let summary = json!({
            "drivable_ways": ways,
            "refs_without_coords": missing,
            "nodes": net.num_nodes(),
            "segments": net.num_segments(),
            "hierarchy_arcs": net.num_hierarchy_arcs(),
            "read_s": t_import.as_secs_f64(),
            "total_s": t_total.as_secs_f64(),
            "out": out.display().to_string(),
        });
        println!("{summary}");
    }
    Ok(())
}

/// Parse `LAT,LON`.
pub fn parse_latlon(s: &str) -> Result<LatLon, CliError> {
    let bad = || CliError::Usage(format!("expected LAT,LON, got {s:?}"));
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    let lat: f64 = a.trim().parse().map_err(|_| bad())?;
    let lon: f64 = b.trim().parse().map_err(|_| bad())?;
    Ok(LatLon::new(lat, lon)?)
}

fn route(r: &RouteArgs) -> Result<(), CliError> {
    let net = RoadNetwork::load(&r.roads)?.with_snap_limit_m(r.max_snap_m);
    let mut out = std::io::stdout().lock();
    let write_err = |e: std::io::Error| CliError::Usage(format!("writing output: {e}"));
    if let Some(path) = &r.pairs {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        let pairs: Vec<Map<String, Value>> = serde_json::from_str(&text).map_err(|e| {
            CliError::Usage(format!(
                "{}: expected a JSON array of objects: {e}",
                path.display()
            ))
        })?;
        let results: Vec<Value> = pairs
            .into_iter()
            .enumerate()
            .map(|(i, obj)| route_pair(&net, i, obj, r.metric))
            .collect::<Result<_, _>>()?;
        serde_json::to_writer_pretty(&mut out, &results)
            .map_err(|e| CliError::Usage(format!("writing output: {e}")))?;
        writeln!(out).map_err(write_err)?;
        return Ok(());
    }
    let (Some(from), Some(to)) = (&r.from, &r.to) else {
        return Err(CliError::Usage("need --from and --to, or --pairs".into()));
    };
    let (from, to) = (parse_latlon(from)?, parse_latlon(to)?);
    let res = net.route(from, to, r.metric)?;
    if r.json {
        // Struct serialisation keeps the documented key order.
        let v = match res {
            Some(rt) => serde_json::to_string(&rt).map_err(|e| CliError::Usage(e.to_string()))?,
            None => {
                let sf = net.snap(from)?.distance_m;
                let st = net.snap(to)?.distance_m;
                json!({"length_m": null, "duration_s": null, "snap_from_m": sf, "snap_to_m": st})
                    .to_string()
            }
        };
        writeln!(out, "{v}").map_err(write_err)?;
    } else {
        match res {
            Some(rt) => writeln!(
                out,
                "{:.1} m, {:.1} s (snapped {:.1} m / {:.1} m from the road)",
                rt.length_m, rt.duration_s, rt.snap_from_m, rt.snap_to_m
            ),
            None => writeln!(out, "unreachable: no drivable route in that direction"),
        }
        .map_err(write_err)?;
    }
    Ok(())
}

fn route_pair(
    net: &RoadNetwork,
    i: usize,
    mut obj: Map<String, Value>,
    metric: Metric,
) -> Result<Value, CliError> {
    let num = |k: &str| {
        obj.get(k)
            .and_then(Value::as_f64)
            .ok_or_else(|| CliError::Usage(format!("pair {i}: missing numeric {k}")))
    };
    let from = LatLon::new(num("from_lat")?, num("from_lon")?);
    let to = LatLon::new(num("to_lat")?, num("to_lon")?);
    let res = from.and_then(|f| to.and_then(|t| net.route(f, t, metric)));
    match res {
        Ok(Some(rt)) => {
            obj.insert("length_m".into(), json!(rt.length_m));
            obj.insert("duration_s".into(), json!(rt.duration_s));
            obj.insert("snap_from_m".into(), json!(rt.snap_from_m));
            obj.insert("snap_to_m".into(), json!(rt.snap_to_m));
        }
        Ok(None) => {
            obj.insert("length_m".into(), Value::Null);
            obj.insert("duration_s".into(), Value::Null);
        }
        Err(e) => {
            // A bad or off-road point fails only its own pair; the reason is kept beside it.
            obj.insert("length_m".into(), Value::Null);
            obj.insert("duration_s".into(), Value::Null);
            obj.insert("error".into(), json!(e.to_string()));
        }
    }
    Ok(Value::Object(obj))
}
