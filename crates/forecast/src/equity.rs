//! Response-time equity across districts: exposure-weighted median and 90th percentile with
//! bootstrap confidence intervals, flagging districts that differ significantly from the rest.
//!
//! Input records are (district, response time, exposure weight) only. The CSV loader reads
//! `incident_id`, `district`, `accepted_at`, `on_scene_at` and an optional `exposure_weight`, and
//! refuses any file carrying a nationality, ethnicity or religion column: equity is judged by place,
//! never by who people are.
//!
//! Test of difference: for each district, the bootstrap distribution (records resampled with
//! replacement within each district, seeded) of (district quantile − the median of the other
//! districts' quantiles, a robust "rest of the city"); a
//! district is flagged when the two-sided (1 − α / m) percentile interval excludes 0, with m the
//! number of tests (districts × 2 statistics, Bonferroni), so that a city of equal districts raises
//! no flag with probability about 1 − α.

use std::collections::BTreeMap;
use std::io::Read;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::Error;

/// Word stems of column names analytics refuses to read: a header is refused when any of its
/// words (split at `_`, `-`, spaces and dots, case-insensitive) starts with one of them.
pub const PROTECTED_COLUMNS: [&str; 6] = [
    "nationalit",
    "ethnic",
    "religio",
    "race",
    "citizenship",
    "birthplace",
];

/// Whether a column name is protected (see [`PROTECTED_COLUMNS`]).
pub fn is_protected_column(header: &str) -> bool {
    let lower = header.to_lowercase();
    lower
        .split(['_', '-', ' ', '.'])
        .any(|w| PROTECTED_COLUMNS.iter().any(|p| w.starts_with(p)))
}

/// One response: where, how long, how much it counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    /// District name.
    pub district: String,
    /// Seconds from acceptance to arrival on scene.
    pub seconds: f64,
    /// Exposure weight (e.g. people served per incident); 1 when unknown.
    pub weight: f64,
}

/// Settings of the equity analysis.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EquityConfig {
    /// Bootstrap replicates.
    pub replicates: usize,
    /// Seed of the bootstrap's random generator.
    pub seed: u64,
    /// Family-wise significance level (Bonferroni over districts × 2 statistics).
    pub alpha: f64,
}

impl Default for EquityConfig {
    fn default() -> Self {
        Self {
            replicates: 2000,
            seed: 42,
            alpha: 0.05,
        }
    }
}

/// An estimate with a percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Point estimate on the data.
    pub estimate: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// One district's figures.
#[derive(Debug, Clone, Serialize)]
pub struct DistrictEquity {
    /// District name.
    pub district: String,
    /// Number of responses.
    pub n: usize,
    /// Exposure-weighted median (seconds), 95% interval.
    pub median: Interval,
    /// Exposure-weighted 90th percentile (seconds), 95% interval.
    pub p90: Interval,
    /// Median minus the median of the other districts' medians, with the Bonferroni-adjusted interval.
    pub median_diff: Interval,
    /// 90th percentile minus the median of the other districts' 90th percentiles (Bonferroni-adjusted interval).
    pub p90_diff: Interval,
    /// Whether the median differs significantly from the rest.
    pub median_flagged: bool,
    /// Whether the 90th percentile differs significantly from the rest.
    pub p90_flagged: bool,
}

/// Weighted quantile of (value, weight) pairs sorted by value: the smallest value whose cumulative
/// weight reaches q of the total.
pub fn weighted_quantile(sorted: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = sorted.iter().map(|p| p.1).sum();
    let target = q * total;
    let mut acc = 0.0;
    for &(v, w) in sorted {
        acc += w;
        if acc >= target && w > 0.0 {
            return v;
        }
    }
    sorted.last().map(|p| p.0).unwrap_or(f64::NAN)
}

/// Exposure-weighted (median, p90) of one district's sample.
fn district_quantiles(sample: &mut [(f64, f64)]) -> [f64; 2] {
    sample.sort_by(|a, b| a.0.total_cmp(&b.0));
    [
        weighted_quantile(sample, 0.5),
        weighted_quantile(sample, 0.9),
    ]
}

/// The reference for district `d`: the median over the other districts of a statistic. A robust
/// "rest of the city": one deviant district cannot drag every other district's reference with it,
/// which a pooled complement does (the pooled rest's 90th percentile is dominated by the slow one).
fn reference(stats: &[[f64; 2]], d: usize, k: usize) -> f64 {
    let mut others: Vec<f64> = stats
        .iter()
        .enumerate()
        .filter(|(e, _)| *e != d)
        .map(|(_, s)| s[k])
        .collect();
    others.sort_by(|a, b| a.total_cmp(b));
    let m = others.len();
    if m == 0 {
        f64::NAN
    } else if m % 2 == 1 {
        others[m / 2]
    } else {
        (others[m / 2 - 1] + others[m / 2]) / 2.0
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Runs the analysis; districts come out sorted by name.
pub fn analyze(records: &[Response], cfg: &EquityConfig) -> Vec<DistrictEquity> {
    let mut groups: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.seconds.is_finite() && r.weight > 0.0)
    {
        groups
            .entry(r.district.as_str())
            .or_default()
            .push((r.seconds, r.weight));
    }
    let names: Vec<&str> = groups.keys().copied().collect();
    let samples: Vec<Vec<(f64, f64)>> = groups.into_values().collect();
    let n_d = samples.len();
    let observed: Vec<[f64; 2]> = samples
        .iter()
        .map(|s| district_quantiles(&mut s.clone()))
        .collect();

    let mut rng = StdRng::seed_from_u64(cfg.seed);
    // boot[d][k]: replicate values of median, p90, median diff, p90 diff.
    let mut boot: Vec<[Vec<f64>; 4]> = (0..n_d).map(|_| Default::default()).collect();
    let mut draw = Vec::new();
    let mut q = vec![[0.0; 2]; n_d];
    for _ in 0..cfg.replicates {
        for (s, qd) in samples.iter().zip(q.iter_mut()) {
            draw.clear();
            for _ in 0..s.len() {
                draw.push(s[rng.random_range(0..s.len())]);
            }
            *qd = district_quantiles(&mut draw);
        }
        for (d, b) in boot.iter_mut().enumerate() {
            b[0].push(q[d][0]);
            b[1].push(q[d][1]);
            b[2].push(q[d][0] - reference(&q, d, 0));
            b[3].push(q[d][1] - reference(&q, d, 1));
        }
    }
    let tests = (2 * n_d).max(1) as f64;
    let adj = cfg.alpha / tests;
    names
        .iter()
        .enumerate()
        .map(|(d, name)| {
            let mut b = boot[d].clone();
            b.iter_mut().for_each(|v| v.sort_by(|x, y| x.total_cmp(y)));
            let obs = observed[d];
            let ci = |v: &[f64], est: f64, a: f64| Interval {
                estimate: est,
                lo: percentile(v, a / 2.0),
                hi: percentile(v, 1.0 - a / 2.0),
            };
            let median_diff = ci(&b[2], obs[0] - reference(&observed, d, 0), adj);
            let p90_diff = ci(&b[3], obs[1] - reference(&observed, d, 1), adj);
            DistrictEquity {
                district: name.to_string(),
                n: samples[d].len(),
                median: ci(&b[0], obs[0], 0.05),
                p90: ci(&b[1], obs[1], 0.05),
                median_flagged: n_d > 1 && (median_diff.lo > 0.0 || median_diff.hi < 0.0),
                p90_flagged: n_d > 1 && (p90_diff.lo > 0.0 || p90_diff.hi < 0.0),
                median_diff,
                p90_diff,
            }
        })
        .collect()
}

/// Parses a timestamp: RFC 3339 (`2026-01-02T03:04:05Z`, optional fraction and offset) or Unix seconds.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        return Some(v);
    }
    let (date, rest) = s.split_once(['T', ' '])?;
    let day = crate::data::parse_date(date)? as f64;
    let (time, offset_s) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0.0)
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let (t, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1.0 } else { 1.0 };
        let (h, m) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        (
            t,
            sign * (h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0),
        )
    } else {
        (rest, 0.0)
    };
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next().unwrap_or("0").parse().ok()?;
    Some(day * 86_400.0 + h * 3600.0 + m * 60.0 + sec - offset_s)
}

/// The reporting period: incidents accepted at or after `from` and before `to` (Unix seconds; open
/// ends when `None`). A monthly or quarterly equity report reads one period, not all history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ReportPeriod {
    /// First instant included.
    pub from_s: Option<f64>,
    /// First instant excluded.
    pub to_s: Option<f64>,
}

impl ReportPeriod {
    /// Whether an incident accepted at `t` (Unix seconds) is in the period.
    pub fn contains(&self, t: f64) -> bool {
        self.from_s.is_none_or(|f| t >= f) && self.to_s.is_none_or(|e| t < e)
    }

    /// Parses the `--from` / `--to` values: a date (`2026-01-01`, midnight UTC), RFC 3339 or Unix seconds.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<ReportPeriod, Error> {
        let one = |flag: &str, v: Option<&str>| -> Result<Option<f64>, Error> {
            let Some(v) = v else { return Ok(None) };
            let t = crate::data::parse_date(v.trim())
                .map(|d| f64::from(d) * 86_400.0)
                .or_else(|| parse_timestamp(v))
                .ok_or_else(|| Error::Invalid {
                    location: flag.to_string(),
                    message: format!("{v:?}: a date (2026-01-01), RFC 3339 or Unix seconds"),
                })?;
            Ok(Some(t))
        };
        let period = ReportPeriod {
            from_s: one("--from", from)?,
            to_s: one("--to", to)?,
        };
        if let (Some(f), Some(t)) = (period.from_s, period.to_s)
            && t <= f
        {
            return Err(Error::Invalid {
                location: "--to".into(),
                message: "must be after --from".into(),
            });
        }
        Ok(period)
    }
}

/// Reads responses from CSV with `incident_id, district, accepted_at, on_scene_at` and an optional
/// `exposure_weight`. Rows not yet on scene are skipped. Refuses protected columns.
pub fn read_responses(reader: impl Read, name: &str) -> Result<Vec<Response>, Error> {
    read_responses_in(reader, name, ReportPeriod::default())
}

/// [`read_responses`] for the incidents accepted in `period` only.
pub fn read_responses_in(
    reader: impl Read,
    name: &str,
    period: ReportPeriod,
) -> Result<Vec<Response>, Error> {
    let mut rdr = csv::Reader::from_reader(reader);
    let csv_err = |source| Error::Csv {
        path: name.to_string(),
        source,
    };
    let headers = rdr.headers().map_err(csv_err)?.clone();
    for h in headers.iter() {
        if is_protected_column(h) {
            return Err(Error::ProtectedColumn {
                column: h.to_string(),
            });
        }
    }
    let col = |n: &str| headers.iter().position(|h| h == n);
    let need = |n: &str| {
        col(n).ok_or_else(|| Error::Invalid {
            location: name.to_string(),
            message: format!("missing column {n}"),
        })
    };
    let (i_id, i_d, i_a, i_s) = (
        need("incident_id")?,
        need("district")?,
        need("accepted_at")?,
        need("on_scene_at")?,
    );
    let i_w = col("exposure_weight");
    let mut out = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        let bad = |m: &str| Error::Invalid {
            location: format!("{name}:{} (incident {})", line + 2, get(i_id)),
            message: m.to_string(),
        };
        if get(i_s).is_empty() {
            continue;
        }
        let a = parse_timestamp(get(i_a)).ok_or_else(|| bad("bad accepted_at"))?;
        let s = parse_timestamp(get(i_s)).ok_or_else(|| bad("bad on_scene_at"))?;
        if s < a {
            return Err(bad("on_scene_at before accepted_at"));
        }
        if !period.contains(a) {
            continue;
        }
        let weight = match i_w.map(get) {
            Some(w) if !w.is_empty() => w.parse::<f64>().map_err(|_| bad("bad exposure_weight"))?,
            _ => 1.0,
        };
        out.push(Response {
            district: get(i_d).to_string(),
            seconds: s - a,
            weight,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_quantile_by_hand() {
        let v = [(1.0, 1.0), (2.0, 1.0), (3.0, 2.0)];
        assert_eq!(weighted_quantile(&v, 0.5), 2.0);
        assert_eq!(weighted_quantile(&v, 0.9), 3.0);
        assert_eq!(weighted_quantile(&v, 0.25), 1.0);
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("2026-01-01T00:10:00Z"),
            Some(1_767_226_200.0)
        );
        assert_eq!(
            parse_timestamp("2026-01-01T09:10:00+09:00"),
            Some(1_767_226_200.0)
        );
        assert_eq!(parse_timestamp("1767226200"), Some(1_767_226_200.0));
        assert_eq!(parse_timestamp("junk"), None);
        let p = ReportPeriod::parse(Some("2026-01-01"), Some("2026-01-01T12:00:00+09:00"))
            .expect("valid period");
        assert_eq!(p.from_s, Some(1_767_225_600.0));
        assert_eq!(p.to_s, Some(1_767_225_600.0 + 3.0 * 3600.0));
        assert!(p.contains(1_767_225_600.0) && !p.contains(1_767_225_600.0 + 3.0 * 3600.0));
        assert!(ReportPeriod::parse(Some("2026-02-01"), Some("2026-01-01")).is_err());
        assert!(ReportPeriod::parse(Some("yesterday"), None).is_err());
    }

    #[test]
    fn protected_columns_are_refused() {
        let csv = "incident_id,district,accepted_at,on_scene_at,Nationality\n1,a,0,60,x\n";
        assert!(matches!(
            read_responses(csv.as_bytes(), "t"),
            Err(Error::ProtectedColumn { .. })
        ));
        for h in [
            "ethnicity",
            "caller_religion",
            "Race",
            "citizenship_status",
            "NATIONALITY",
        ] {
            assert!(is_protected_column(h), "{h}");
        }
        for h in ["trace_id", "district", "accepted_at", "grace_period"] {
            assert!(!is_protected_column(h), "{h}");
        }
        let ok =
            "incident_id,district,accepted_at,on_scene_at,exposure_weight\n1,a,0,60,2\n2,b,10,,\n";
        let r = read_responses(ok.as_bytes(), "t").unwrap_or_default();
        assert_eq!(
            r,
            vec![Response {
                district: "a".into(),
                seconds: 60.0,
                weight: 2.0
            }]
        );
    }
}
