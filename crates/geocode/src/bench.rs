//! `jikimi bench geocode`: reverse and forward geocoding throughput and p99 on an OpenStreetMap extract, against a
//! brute-force scan in the same run (the reference), whose answers must agree.

use std::path::PathBuf;
use std::time::Instant;

use crate::geo::LatLon;
use crate::index::{AddressIndex, ReverseOptions};

/// Options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The extract (default: the shipped central-Helsinki one).
    #[arg(long, default_value = "data/helsinki.osm.pbf")]
    pub pbf: PathBuf,
    /// Reverse queries (random points in the extract's bounds, fixed seed).
    #[arg(long, default_value_t = 20_000)]
    pub queries: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub features: usize,
    pub streets: usize,
    pub import_ms: f64,
    pub index_ms: f64,
    pub reverse_per_s: f64,
    pub reverse_p50_us: f64,
    pub reverse_p99_us: f64,
    pub scan_reverse_per_s: f64,
    pub reverse_speedup_vs_scan: f64,
    pub disagreements: usize,
    pub forward_per_s: f64,
    pub forward_p99_us: f64,
    pub queries: usize,
}

/// A small deterministic generator (xorshift64*), so runs are comparable without a dependency.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Runs the benchmark on `bytes`.
pub fn measure(bytes: &[u8], queries: usize) -> Result<Report, crate::GeocodeError> {
    let t = Instant::now();
    let data = crate::import::import_bytes(bytes)?;
    let import_ms = t.elapsed().as_secs_f64() * 1e3;
    let (mut lo, mut hi) = (
        LatLon {
            lat: f64::MAX,
            lon: f64::MAX,
        },
        LatLon {
            lat: f64::MIN,
            lon: f64::MIN,
        },
    );
    for p in data.streets.iter().flat_map(|s| s.points.iter()) {
        lo = LatLon {
            lat: lo.lat.min(p.lat),
            lon: lo.lon.min(p.lon),
        };
        hi = LatLon {
            lat: hi.lat.max(p.lat),
            lon: hi.lon.max(p.lon),
        };
    }
    let t = Instant::now();
    let index = AddressIndex::new(data);
    let index_ms = t.elapsed().as_secs_f64() * 1e3;

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let points: Vec<LatLon> = (0..queries.max(1))
        .map(|_| LatLon {
            lat: lo.lat + (hi.lat - lo.lat) * rng.next_f64(),
            lon: lo.lon + (hi.lon - lo.lon) * rng.next_f64(),
        })
        .collect();
    let options = ReverseOptions::default();

    let mut times = Vec::with_capacity(points.len());
    let mut answers = Vec::with_capacity(points.len());
    let t = Instant::now();
    for p in &points {
        let q = Instant::now();
        answers.push(index.reverse(*p, options).map(|r| r.distance_m));
        times.push(q.elapsed().as_secs_f64() * 1e6);
    }
    let reverse_s = t.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);

    // The reference: a scan of every feature, on a tenth of the points (it is slow), which must agree.
    let n_scan = (points.len() / 10).max(1);
    let t = Instant::now();
    let scanned: Vec<Option<f64>> = points
        .iter()
        .take(n_scan)
        .map(|p| {
            index
                .nearest_feature_scan(*p, options.address_radius_m)
                .map(|s| s.1)
        })
        .collect();
    let scan_s = t.elapsed().as_secs_f64();
    let disagreements = points
        .iter()
        .zip(&scanned)
        .filter(|(p, slow)| {
            index
                .nearest_feature(**p, options.address_radius_m)
                .map(|f| f.1)
                != **slow
        })
        .count();

    // Forward: every addressed feature's own "street number", typed in full.
    let typed: Vec<String> = index
        .features()
        .iter()
        .filter_map(|f| {
            Some(format!(
                "{} {}",
                f.address.street.as_deref()?,
                f.address.house_number.as_deref()?
            ))
        })
        .collect();
    let mut ftimes = Vec::with_capacity(typed.len());
    let t = Instant::now();
    for q in &typed {
        let s = Instant::now();
        std::hint::black_box(index.search(q, 10));
        ftimes.push(s.elapsed().as_secs_f64() * 1e6);
    }
    let forward_s = t.elapsed().as_secs_f64();
    ftimes.sort_by(f64::total_cmp);

    let reverse_per_s = points.len() as f64 / reverse_s.max(1e-9);
    let scan_reverse_per_s = n_scan as f64 / scan_s.max(1e-9);
    Ok(Report {
        features: index.n_features(),
        streets: index.n_streets(),
        import_ms,
        index_ms,
        reverse_per_s,
        reverse_p50_us: percentile(&times, 0.50),
        reverse_p99_us: percentile(&times, 0.99),
        scan_reverse_per_s,
        reverse_speedup_vs_scan: reverse_per_s / scan_reverse_per_s.max(1e-9),
        disagreements,
        forward_per_s: typed.len() as f64 / forward_s.max(1e-9),
        forward_p99_us: percentile(&ftimes, 0.99),
        queries: points.len(),
    })
}

/// Reads the extract and prints the report.
pub fn run(args: &BenchArgs) -> Result<Report, crate::GeocodeError> {
    let bytes = std::fs::read(&args.pbf).map_err(|e| crate::GeocodeError::Io {
        path: args.pbf.display().to_string(),
        message: e.to_string(),
    })?;
    let report = measure(&bytes, args.queries)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "geocode: {} addressed features, {} streets; import {:.0} ms, index {:.0} ms",
            report.features, report.streets, report.import_ms, report.index_ms
        );
        println!(
            "reverse: {:.0}/s, p50 {:.1} us, p99 {:.1} us; brute-force scan {:.0}/s ({:.0}x); {} disagreements",
            report.reverse_per_s,
            report.reverse_p50_us,
            report.reverse_p99_us,
            report.scan_reverse_per_s,
            report.reverse_speedup_vs_scan,
            report.disagreements
        );
        println!(
            "forward: {:.0}/s, p99 {:.1} us",
            report.forward_per_s, report.forward_p99_us
        );
    }
    Ok(report)
}
