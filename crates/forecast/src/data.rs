//! Reading the Toronto MCI extract (gzip CSV) once into integer cell ids and day numbers.
//!
//! This is an I/O edge: [`load_mci`] reads a file; everything after it works on [`Dataset`].
//! Only `date`, `category`, `lat` and `lon` are read; no other column is looked at.

use std::io::Read;

use crate::Error;
use crate::grid::{Projector, StudyArea, cell_of};

/// The five MCI categories, in the order used for category indices 1..=5 (0 is "all").
pub const CATEGORIES: [&str; 5] = [
    "Assault",
    "Break and Enter",
    "Auto Theft",
    "Robbery",
    "Theft Over",
];

/// Name of a category index: 0 is "all", 1..=5 follow [`CATEGORIES`].
pub fn category_name(idx: usize) -> &'static str {
    if idx == 0 { "all" } else { CATEGORIES[idx - 1] }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i32 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year and month of a day number (inverse of [`days_from_civil`], H. Hinnant's `civil_from_days`).
pub fn civil_year_month(days: i32) -> (i32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i32::from(m <= 2);
    (y, m as u32)
}

/// Parses `YYYY-MM-DD` into a day number.
pub fn parse_date(s: &str) -> Option<i32> {
    let mut it = s.split('-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// One event: the day it happened and its study-cell id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DayCell {
    /// Days since 1970-01-01.
    pub day: i32,
    /// Study-cell id.
    pub cell: u32,
}

/// Events binned into the study area, sorted by day, per category index (0 = all, 1..=5).
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The study area (every cell with an event, any category, any year).
    pub area: StudyArea,
    /// Events per category index, sorted by (day, cell).
    pub by_category: Vec<Vec<DayCell>>,
}

impl Dataset {
    /// Builds a dataset from (day, category index 1..=5, column, row) records.
    pub fn from_records(records: &[(i32, usize, i32, i32)]) -> Self {
        let area = StudyArea::from_cells(records.iter().map(|r| (r.2, r.3)).collect());
        let mut by_category = vec![Vec::new(); CATEGORIES.len() + 1];
        for &(day, cat, col, row) in records {
            if let Some(cell) = area.id(col, row) {
                let e = DayCell { day, cell };
                by_category[0].push(e);
                if (1..=CATEGORIES.len()).contains(&cat) {
                    by_category[cat].push(e);
                }
            }
        }
        for v in &mut by_category {
            v.sort_unstable();
        }
        Self { area, by_category }
    }

    /// Events of a category with `from <= day < to`.
    pub fn window(&self, category: usize, from: i32, to: i32) -> &[DayCell] {
        window(&self.by_category[category], from, to)
    }
}

/// Events with `from <= day < to` in a day-sorted slice (two binary searches).
pub fn window(events: &[DayCell], from: i32, to: i32) -> &[DayCell] {
    let a = events.partition_point(|e| e.day < from);
    let b = events.partition_point(|e| e.day < to);
    &events[a..b.max(a)]
}

/// Reads the MCI gzip CSV (or plain CSV if the name does not end in `.gz`) into a [`Dataset`].
pub fn load_mci(path: &std::path::Path) -> Result<Dataset, Error> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: p.clone(),
        source,
    })?;
    let reader: Box<dyn Read> = if p.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    read_mci(reader, &p)
}

/// Parses MCI CSV text from a reader; `name` labels errors.
pub fn read_mci(reader: impl Read, name: &str) -> Result<Dataset, Error> {
    let mut rdr = csv::Reader::from_reader(reader);
    let csv_err = |source| Error::Csv {
        path: name.to_string(),
        source,
    };
    let headers = rdr.headers().map_err(csv_err)?.clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| Error::Invalid {
                location: name.to_string(),
                message: format!("missing column {n}"),
            })
    };
    let (i_date, i_cat, i_lat, i_lon) = (col("date")?, col("category")?, col("lat")?, col("lon")?);
    let projector = Projector::utm17n()?;
    let mut records = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1usize;
    while rdr.read_record(&mut rec).map_err(csv_err)? {
        line += 1;
        let bad = |message: String| Error::Invalid {
            location: format!("{name}:{line}"),
            message,
        };
        let field = |i: usize| rec.get(i).unwrap_or("");
        let day = parse_date(field(i_date))
            .ok_or_else(|| bad(format!("bad date {:?}", field(i_date))))?;
        let cat = CATEGORIES
            .iter()
            .position(|c| *c == field(i_cat))
            .ok_or_else(|| bad(format!("unknown category {:?}", field(i_cat))))?
            + 1;
        let lat: f64 = field(i_lat).parse().map_err(|_| bad("bad lat".into()))?;
        let lon: f64 = field(i_lon).parse().map_err(|_| bad("bad lon".into()))?;
        let (x, y) = projector.project(lat, lon)?;
        let (c, r) = cell_of(x, y);
        records.push((day, cat, c, r));
    }
    Ok(Dataset::from_records(&records))
}
