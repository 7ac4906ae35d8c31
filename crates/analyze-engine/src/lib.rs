//! `jikimi-analyze-engine`: counts incidents per H3 cell and time window with Apache DataFusion, so that
//! files far larger than memory (national CSV or Parquet) are aggregated in parallel, batch by batch.
//!
//! [`count_h3`] builds a DataFusion plan: scan (CSV, gzip CSV or Parquet) → filter (categories, date
//! range) → project `h3_cell(lat, lon)` and the window key with two scalar UDFs (H3 via `h3o`) →
//! group by cell and window → count. [`run`] is the `jikimi analyze` entry point: it uses this engine
//! for `aggregate --engine datafusion` and delegates everything else to `jikimi_analyze::cli`.
//!
//! Architecture Invariant: only this crate depends on DataFusion/Arrow; `jikimi-analyze` never depends
//! on it, so the statistics compile in seconds.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Float64Array, Int64Array, StringArray, UInt64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DataFusionError;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{ColumnarValue, Expr, Volatility, create_udf};
use datafusion::prelude::{
    CsvReadOptions, DataFrame, ParquetReadOptions, SessionContext, ident, lit, try_cast,
};
use h3o::{CellIndex, LatLng, Resolution};
use jikimi_analyze::aggregate::{IncidentColumns, IncidentCounter, IncidentFilter, TimeWindow};
use jikimi_analyze::cli::{AnalyzeArgs, AnalyzeCommand, Engine};

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// DataFusion failed (unreadable file, missing column, ...).
    #[error("datafusion: {0}")]
    DataFusion(#[from] DataFusionError),
    /// The analysis layer failed.
    #[error(transparent)]
    Analyze(#[from] jikimi_analyze::Error),
    /// The tokio runtime could not start.
    #[error("runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// A request the engine does not serve.
    #[error("{0}")]
    Unsupported(String),
}

/// One group of the result: a cell, a window key and the number of incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCount {
    /// The H3 cell.
    pub cell: CellIndex,
    /// Window key (`all`, `YYYY` or `YYYY-MM`).
    pub window: String,
    /// Incidents.
    pub count: u64,
}

/// The result of [`count_h3`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct H3Counts {
    /// Counts per cell and window.
    pub cells: Vec<CellCount>,
    /// Rows kept by the filter whose coordinates were missing or invalid.
    pub bad_location: u64,
}

fn h3_udf(res: Resolution) -> datafusion::logical_expr::ScalarUDF {
    let f = Arc::new(
        move |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let as_f64 = |a: &Arc<dyn Array>| {
                a.as_any()
                    .downcast_ref::<Float64Array>()
                    .cloned()
                    .ok_or_else(|| DataFusionError::Internal("h3_cell expects Float64".into()))
            };
            let (lat, lon) = (as_f64(&arrays[0])?, as_f64(&arrays[1])?);
            let out: UInt64Array = lat
                .iter()
                .zip(lon.iter())
                .map(|(a, b)| match (a, b) {
                    (Some(a), Some(b)) if !(a == 0.0 && b == 0.0) => {
                        LatLng::new(a, b).ok().map(|ll| u64::from(ll.to_cell(res)))
                    }
                    _ => None,
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        },
    );
    create_udf(
        "h3_cell",
        vec![DataType::Float64, DataType::Float64],
        DataType::UInt64,
        Volatility::Immutable,
        f,
    )
}

fn window_udf(window: TimeWindow) -> datafusion::logical_expr::ScalarUDF {
    let f = Arc::new(
        move |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let dates = arrays[0]
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| DataFusionError::Internal("window_key expects Utf8".into()))?;
            let out: StringArray = dates
                .iter()
                .map(|d| d.and_then(|d| window.key(d)))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        },
    );
    create_udf(
        "window_key",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        f,
    )
}

async fn scan(ctx: &SessionContext, path: &Path) -> Result<DataFrame, Error> {
    let name = path.to_string_lossy().to_string();
    let lower = name.to_lowercase();
    Ok(if lower.ends_with(".parquet") {
        ctx.read_parquet(name.as_str(), ParquetReadOptions::default())
            .await?
    } else if lower.ends_with(".gz") {
        let ext = if lower.ends_with(".csv.gz") {
            ".csv.gz"
        } else {
            ".gz"
        };
        let opts = CsvReadOptions::new()
            .has_header(true)
            .file_extension(ext)
            .file_compression_type(FileCompressionType::GZIP);
        ctx.read_csv(name.as_str(), opts).await?
    } else {
        let ext = Path::new(&lower)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let opts = CsvReadOptions::new().has_header(true).file_extension(&ext);
        ctx.read_csv(name.as_str(), opts).await?
    })
}

/// Counts incidents of a CSV (plain or gzip) or Parquet file per H3 cell and time window.
pub async fn count_h3(
    path: &Path,
    columns: &IncidentColumns,
    filter: &IncidentFilter,
    window: TimeWindow,
    res: Resolution,
) -> Result<H3Counts, Error> {
    let ctx = SessionContext::new();
    let h3 = h3_udf(res);
    let win = window_udf(window);
    let mut df = scan(&ctx, path).await?;
    let date = try_cast(ident(&columns.date), DataType::Utf8);
    if !filter.categories.is_empty() {
        let list: Vec<Expr> = filter.categories.iter().map(|c| lit(c.as_str())).collect();
        df = df.filter(try_cast(ident(&columns.category), DataType::Utf8).in_list(list, false))?;
    }
    if let Some(from) = &filter.from {
        df = df.filter(date.clone().gt_eq(lit(from.as_str())))?;
    }
    if let Some(to) = &filter.to {
        df = df.filter(date.clone().lt_eq(lit(to.as_str())))?;
    }
    let cell = h3.call(vec![
        try_cast(ident(&columns.lat), DataType::Float64),
        try_cast(ident(&columns.lon), DataType::Float64),
    ]);
    let key = win.call(vec![date]);
    let df = df.aggregate(
        vec![cell.alias("cell"), key.alias("window")],
        vec![count(lit(1)).alias("n")],
    )?;
    let mut out = H3Counts::default();
    for batch in df.collect().await? {
        let cells = batch
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| Error::Unsupported("cell column is not UInt64".into()))?;
        let windows = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| Error::Unsupported("window column is not Utf8".into()))?;
        let counts = batch
            .column(2)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| Error::Unsupported("count column is not Int64".into()))?;
        for i in 0..batch.num_rows() {
            let n = u64::try_from(counts.value(i)).unwrap_or(0);
            let cell = (!cells.is_null(i))
                .then(|| CellIndex::try_from(cells.value(i)).ok())
                .flatten();
            match (cell, windows.is_null(i)) {
                (Some(cell), false) => out.cells.push(CellCount {
                    cell,
                    window: windows.value(i).to_string(),
                    count: n,
                }),
                _ => out.bad_location += n,
            }
        }
    }
    out.cells
        .sort_by(|a, b| (a.cell, &a.window).cmp(&(b.cell, &b.window)));
    Ok(out)
}

/// Blocking wrapper of [`count_h3`] filling an [`IncidentCounter`] (H3 targets only).
pub fn fill_counter(
    path: &Path,
    columns: &IncidentColumns,
    counter: &mut IncidentCounter,
) -> Result<(), Error> {
    let res = counter.h3_resolution().ok_or_else(|| {
        Error::Unsupported("--engine datafusion counts to H3 cells only; use --h3 RES".into())
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let counts = rt.block_on(count_h3(
        path,
        columns,
        &counter.filter().clone(),
        counter.window(),
        res,
    ))?;
    for c in &counts.cells {
        counter.add_h3_count(c.cell, &c.window, c.count);
    }
    counter.stats.bad_location += counts.bad_location;
    Ok(())
}

/// `jikimi analyze ...`: DataFusion for `aggregate --engine datafusion`, the streaming path otherwise.
pub fn run(args: AnalyzeArgs) -> Result<(), Error> {
    match args.command {
        AnalyzeCommand::Aggregate(a) if a.engine == Engine::Datafusion => {
            let columns = IncidentColumns {
                lat: a.lat_col.clone(),
                lon: a.lon_col.clone(),
                date: a.date_col.clone(),
                category: a.category_col.clone(),
            };
            let mut engine_error = None;
            let result = jikimi_analyze::cli::run_aggregate_with(&a, |counter| {
                fill_counter(&a.incidents, &columns, counter).map_err(|e| {
                    let msg = e.to_string();
                    engine_error = Some(e);
                    jikimi_analyze::Error::Argument(msg)
                })
            });
            match (result, engine_error) {
                (Ok(()), _) => Ok(()),
                (Err(_), Some(e)) => Err(e),
                (Err(e), None) => Err(e.into()),
            }
        }
        other => Ok(jikimi_analyze::cli::run(AnalyzeArgs { command: other })?),
    }
}
