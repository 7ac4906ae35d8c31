//! Command-line arguments and runners for `jikimi analyze forecast-eval | place | equity`.
//!
//! The binary flattens [`AnalyzeCommand`] into its `analyze` subcommand and calls [`run`].

use std::path::PathBuf;

use crate::Error;
use crate::eval::{EvalConfig, records, run as run_eval};
use crate::output::{markdown, risk_geojson, write_file};

/// Forecasting, placement and equity subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AnalyzeCommand {
    /// Rolling-origin forecast evaluation (PAI/PEI) of baselines and models on the Toronto MCI data.
    ForecastEval(ForecastEvalArgs),
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
    /// Also write each model's risk surface for December of the test year (GeoJSON and CSV) here.
    #[arg(long)]
    pub surfaces: Option<PathBuf>,
    /// Worker threads (categories run in parallel).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// Runs a subcommand, printing a short summary to stdout.
pub fn run(command: AnalyzeCommand) -> Result<(), Error> {
    match command {
        AnalyzeCommand::ForecastEval(args) => forecast_eval(&args),
    }
}

fn forecast_eval(args: &ForecastEvalArgs) -> Result<(), Error> {
    let t0 = std::time::Instant::now();
    let ds = crate::data::load_mci(&args.data)?;
    let load_s = t0.elapsed().as_secs_f64();
    let cfg = EvalConfig::default();
    let report = run_eval(&ds, &cfg, args.threads);
    write_file(
        &args.out,
        serde_json::to_string_pretty(&records(&report))?.as_bytes(),
    )?;
    if let Some(doc) = &args.doc {
        let cmd = format!(
            "jikimi analyze forecast-eval --data {} --out {} --doc {}",
            args.data.display(),
            args.out.display(),
            doc.display()
        );
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
            }
        }
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
