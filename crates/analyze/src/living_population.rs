//! Loader for Seoul's living-population tables (서울 생활인구, "LOCAL_PEOPLE" files): per census output
//! area (집계구) and hour, the estimated number of people present, from mobile-carrier data.
//!
//! The published layout has 33 columns: date (`기준일ID`), hour 0-23 (`시간대구분`), administrative dong
//! code (`행정동코드`), census output area code (`집계구코드`), the total (`총생활인구수`) and 28 age/sex
//! columns. This loader reads **only** the date, hour, area code and total: exposure is the total number
//! of people present, and no age, sex or nationality field is ever read (the foreign-resident tables are a
//! separate publication and are not loaded at all). Suppressed cells (`*`) in the total are counted and
//! skipped. Input must be UTF-8 (convert the portal's CP949 files first, e.g. with `iconv`).

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;

use crate::error::{Error, Result};

/// Header names accepted for each column used (Korean as published, then the portal's English ids).
const DATE: &[&str] = &["기준일ID", "STDR_DE_ID", "date"];
const HOUR: &[&str] = &["시간대구분", "TMZON_PD_SE", "hour"];
const AREA: &[&str] = &["집계구코드", "TOT_REG_CD", "area_code"];
const TOTAL: &[&str] = &["총생활인구수", "TOT_LVPOP_CO", "total"];

/// Which rows to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LivingPopulationFilter {
    /// Keep only these hours (0-23); empty keeps all.
    pub hours: Vec<u8>,
    /// Keep only dates (`YYYYMMDD`) in this inclusive range.
    pub dates: Option<(String, String)>,
}

/// Exposure of one census output area over the rows kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AreaExposure {
    /// Sum of hourly totals: person-hours present.
    pub person_hours: f64,
    /// Number of (date, hour) rows summed.
    pub hours: u32,
}

impl AreaExposure {
    /// Mean number of people present per hour kept.
    pub fn mean_population(&self) -> f64 {
        if self.hours == 0 {
            0.0
        } else {
            self.person_hours / f64::from(self.hours)
        }
    }
}

/// Exposure per census output area code, plus bookkeeping for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LivingPopulation {
    /// Exposure by area code.
    pub areas: HashMap<String, AreaExposure>,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows skipped because the total was suppressed (`*`) or empty.
    pub rows_suppressed: u64,
    /// Rows outside the filter.
    pub rows_filtered: u64,
}

fn find_column(headers: &csv::StringRecord, names: &[&str], source: &str) -> Result<usize> {
    headers
        .iter()
        .position(|h| {
            let h = h.trim_start_matches('\u{feff}').trim();
            names.iter().any(|n| n.eq_ignore_ascii_case(h))
        })
        .ok_or_else(|| Error::MissingColumn {
            path: source.to_string(),
            wanted: names.join(" or "),
            found: headers.iter().collect::<Vec<_>>().join(","),
        })
}

/// Reads a living-population CSV, summing totals per census output area over the rows kept.
pub fn read_living_population<R: Read>(
    reader: R,
    source: &str,
    filter: &LivingPopulationFilter,
) -> Result<LivingPopulation> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    let headers = csv.headers()?.clone();
    let (c_date, c_hour, c_area, c_total) = (
        find_column(&headers, DATE, source)?,
        find_column(&headers, HOUR, source)?,
        find_column(&headers, AREA, source)?,
        find_column(&headers, TOTAL, source)?,
    );
    let mut out = LivingPopulation::default();
    let mut record = csv::StringRecord::new();
    while csv.read_record(&mut record)? {
        out.rows_read += 1;
        let row = out.rows_read;
        let bad = |problem: String| Error::Row {
            path: source.to_string(),
            row,
            problem,
        };
        let field = |c: usize| record.get(c).map(str::trim).unwrap_or("");
        let hour: u8 = field(c_hour)
            .parse()
            .map_err(|_| bad(format!("hour {:?} is not 0-23", field(c_hour))))?;
        if hour > 23 {
            return Err(bad(format!("hour {hour} is not 0-23")));
        }
        let date = field(c_date);
        let keep_hour = filter.hours.is_empty() || filter.hours.contains(&hour);
        let keep_date = filter
            .dates
            .as_ref()
            .is_none_or(|(a, b)| date >= a.as_str() && date <= b.as_str());
        if !(keep_hour && keep_date) {
            out.rows_filtered += 1;
            continue;
        }
        let area = field(c_area);
        if area.is_empty() {
            return Err(bad("census output area code is empty".into()));
        }
        let total = field(c_total);
        if total.is_empty() || total == "*" {
            out.rows_suppressed += 1;
            continue;
        }
        let total: f64 = total
            .parse()
            .map_err(|_| bad(format!("total {total:?} is not a number")))?;
        if !(total.is_finite() && total >= 0.0) {
            return Err(bad(format!("total {total} is not a non-negative number")));
        }
        let e = out.areas.entry(area.to_string()).or_default();
        e.person_hours += total;
        e.hours += 1;
    }
    if out.rows_read == 0 {
        return Err(Error::Empty(format!("{source} has no data rows")));
    }
    Ok(out)
}
