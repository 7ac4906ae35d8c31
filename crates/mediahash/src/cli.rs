//! `jikimi pdq ...`: the command line of this crate and its only file-system edge.
//!
//! `hash` prints one line (or JSON object) per file, `match` looks files up in a hash list, `list` converts
//! list layouts, `bench` measures the index and the hasher. A file that cannot be read or decoded gets
//! a per-file error on stderr (or in the JSON) and the batch goes on; the exit status then says so.

use crate::index::{HammingIndex, Hit};
use crate::list::{self, Layout, ListEntry, MatchRecord};
use crate::{DIHEDRAL_NAMES, DecodeLimits, Hash256, Luma, hash_encoded};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `jikimi pdq`: PDQ perceptual hashes, hash lists and matching.
#[derive(Debug, Args)]
pub struct PdqArgs {
    #[command(subcommand)]
    command: PdqCommand,
}

#[derive(Debug, Subcommand)]
enum PdqCommand {
    /// Hash images: `hash quality path` per line, or a JSON array with --json.
    Hash(HashArgs),
    /// Match images against a hash list (ThreatExchange / HMA CSV or TSV) within a Hamming radius.
    Match(MatchArgs),
    /// Convert a hash list between layouts (written to stdout).
    List(ListArgs),
    /// Benchmarks (single thread): index search, index memory, hashing throughput.
    Bench(BenchArgs),
}

/// Luma choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LumaArg {
    /// f64 sum rounded to f32, as pdqhash / python-threatexchange / HMA.
    Pdqhash,
    /// f32 sum, as the official C++ CLI.
    Float32,
}

impl From<LumaArg> for Luma {
    fn from(l: LumaArg) -> Luma {
        match l {
            LumaArg::Pdqhash => Luma::Pdqhash,
            LumaArg::Float32 => Luma::Float32,
        }
    }
}

#[derive(Debug, Args)]
struct HashArgs {
    /// Also compute the 8 dihedral hashes (original, rotate90, rotate180, rotate270, flipX, flipY,
    /// flipPlus1, flipMinus1).
    #[arg(long)]
    dihedral: bool,
    /// Print a JSON array of {"file","hash","quality"[,"dihedral"]}.
    #[arg(long)]
    json: bool,
    /// Luma arithmetic.
    #[arg(long, value_enum, default_value = "pdqhash")]
    luma: LumaArg,
    /// Image files or directories (walked recursively, in name order).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct MatchArgs {
    /// The hash list (CSV or TSV).
    #[arg(long)]
    list: PathBuf,
    /// Largest Hamming distance that counts as a match (31 is the usual PDQ threshold).
    #[arg(long, default_value_t = 31)]
    radius: u32,
    /// Also match the 8 dihedral variants (rotated and mirrored copies).
    #[arg(long)]
    dihedral: bool,
    /// Print one JSON match record per line.
    #[arg(long)]
    json: bool,
    /// Luma arithmetic.
    #[arg(long, value_enum, default_value = "pdqhash")]
    luma: LumaArg,
    /// Image files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Output layout.
    #[arg(long, value_enum)]
    to: Layout,
    /// Input list (any readable layout).
    input: PathBuf,
}

#[derive(Debug, Args)]
struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Search a database file of raw 32-byte hashes (reference byte order: 64 hex chars = 32 bytes,
    /// the FAISS layout) with a query file; prints JSON with timings and a digest of the results.
    Index {
        /// Database: n x 32 bytes.
        #[arg(long)]
        db: PathBuf,
        /// Queries: q x 32 bytes.
        #[arg(long)]
        queries: PathBuf,
        /// Search radius.
        #[arg(long, default_value_t = 31)]
        radius: u32,
        /// Also time a linear scan and check it gives the same results.
        #[arg(long)]
        linear: bool,
        /// Write all results as `query_index id distance` lines to this file.
        #[arg(long)]
        results: Option<PathBuf>,
    },
    /// Build an index over n random hashes and report memory, build, save and load times.
    Memory {
        /// Number of hashes.
        #[arg(long, default_value_t = 10_000_000)]
        n: usize,
        /// Where to write the index file (removed afterwards).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Decode and hash every image under the paths; prints images per second.
    Hash {
        /// Image files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Errors of the command line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The hash list could not be read.
    #[error("{path}: {source}")]
    List {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: list::ListError,
    },
    /// Index failure.
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    /// Writing JSON failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Some files could not be hashed (each was reported on stderr).
    #[error("{0} file(s) could not be hashed")]
    SomeFailed(usize),
    /// Bad benchmark input.
    #[error("{0}")]
    Bench(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Runs `jikimi pdq ...`.
pub fn run(args: PdqArgs) -> Result<(), CliError> {
    match args.command {
        PdqCommand::Hash(a) => run_hash(a),
        PdqCommand::Match(a) => run_match(a),
        PdqCommand::List(a) => run_list(a),
        PdqCommand::Bench(a) => run_bench(a),
    }
}

/// Expands directories (recursively, sorted by name; symlinked directories are not followed).
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            walk(&e.path(), out)?;
        } else if kind.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct HashJson {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<Hash256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dihedral: Option<Vec<Hash256>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn hash_path(
    path: &Path,
    luma: Luma,
    dihedral: bool,
) -> Result<crate::ImageHashes, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    Ok(hash_encoded(
        &bytes,
        DecodeLimits::default(),
        luma,
        dihedral,
    )?)
}

fn run_hash(args: HashArgs) -> Result<(), CliError> {
    let files = collect_files(&args.paths)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = 0;
    let mut json = Vec::new();
    let stdout_err = |e| CliError::Io {
        path: PathBuf::from("<stdout>"),
        source: e,
    };
    for file in &files {
        let name = file.display().to_string();
        match hash_path(file, args.luma.into(), args.dihedral) {
            Ok(h) => {
                let dihedral = h.dihedral.map(|d| d.hashes.to_vec());
                if args.json {
                    json.push(HashJson {
                        file: name,
                        hash: Some(h.pdq.hash),
                        quality: Some(h.pdq.quality),
                        dihedral,
                        error: None,
                    });
                } else {
                    let mut line = h.pdq.hash.to_hex();
                    for d in dihedral.iter().flatten() {
                        line.push(' ');
                        line.push_str(&d.to_hex());
                    }
                    writeln!(out, "{line} {} {name}", h.pdq.quality).map_err(stdout_err)?;
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {name}: {e}");
                if args.json {
                    json.push(HashJson {
                        file: name,
                        hash: None,
                        quality: None,
                        dihedral: None,
                        error: Some(e.to_string()),
                    });
                }
            }
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out).map_err(stdout_err)?;
    }
    out.flush().map_err(stdout_err)?;
    if failed > 0 {
        return Err(CliError::SomeFailed(failed));
    }
    Ok(())
}

fn read_list(path: &Path) -> Result<Vec<ListEntry>, CliError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let report = list::import(file).map_err(|source| CliError::List {
        path: path.to_owned(),
        source,
    })?;
    for (line, reason) in &report.errors {
        eprintln!("warning: {}:{line}: {reason}", path.display());
    }
    Ok(report.entries)
}

fn run_match(args: MatchArgs) -> Result<(), CliError> {
    let entries = read_list(&args.list)?;
    let index = HammingIndex::from_hashes(entries.iter().map(|e| e.hash).collect())?;
    let list_name = args.list.file_name().map_or_else(
        || args.list.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let files = collect_files(&args.paths)?;
    let bar = ProgressBar::new(files.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} files, {msg} {eta}") {
        bar.set_style(style);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut failed, mut n_matches) = (0usize, 0usize);
    let mut hits: Vec<Hit> = Vec::new();
    for file in &files {
        let name = file.display().to_string();
        match hash_path(file, args.luma.into(), args.dihedral) {
            Ok(h) => {
                let variants: Vec<(Hash256, &'static str)> = match h.dihedral {
                    Some(d) => d.hashes.iter().copied().zip(DIHEDRAL_NAMES).collect(),
                    None => vec![(h.pdq.hash, DIHEDRAL_NAMES[0])],
                };
                for (query, variant) in variants {
                    index.search_into(&query, args.radius, &mut hits);
                    for hit in &hits {
                        let entry = &entries[hit.id as usize];
                        let record = MatchRecord {
                            file: name.clone(),
                            query_hash: query,
                            variant,
                            quality: h.pdq.quality,
                            list: list_name.clone(),
                            list_index: hit.id,
                            list_hash: entry.hash,
                            list_id: entry.id.clone(),
                            tags: entry.tags.clone(),
                            distance: hit.distance,
                            radius: args.radius,
                        };
                        n_matches += 1;
                        let written = if args.json {
                            serde_json::to_writer(&mut out, &record).map_err(CliError::from)?;
                            writeln!(out)
                        } else {
                            writeln!(
                                out,
                                "{} {} {} {} {} {}",
                                record.file,
                                record.distance,
                                record.variant,
                                record.list_hash,
                                record.list_id.as_deref().unwrap_or("-"),
                                record.tags.join(",")
                            )
                        };
                        written.map_err(|e| CliError::Io {
                            path: PathBuf::from("<stdout>"),
                            source: e,
                        })?;
                    }
                }
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {name}: {e}"));
            }
        }
        bar.set_message(format!("{n_matches} matches"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.flush().map_err(io_err(Path::new("<stdout>")))?;
    eprintln!(
        "{} files, {n_matches} matches, {failed} errors, list {} ({} hashes), radius {}",
        files.len(),
        list_name,
        entries.len(),
        args.radius
    );
    if failed > 0 {
        return Err(CliError::SomeFailed(failed));
    }
    Ok(())
}

fn run_list(args: ListArgs) -> Result<(), CliError> {
    let entries = read_list(&args.input)?;
    let stdout = std::io::stdout();
    list::export(&entries, args.to, stdout.lock()).map_err(|source| CliError::List {
        path: PathBuf::from("<stdout>"),
        source,
    })
}

/// Raw 32-byte hashes in the hex string's byte order (byte 0 = first two hex characters), as FAISS and
/// numpy `packbits` of pdqhash's bit vector lay them out.
fn read_raw_hashes(path: &Path) -> Result<Vec<Hash256>, CliError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if bytes.len() % 32 != 0 {
        return Err(CliError::Bench(format!(
            "{}: size is not a multiple of 32",
            path.display()
        )));
    }
    Ok(bytes.chunks_exact(32).map(hash_from_be_bytes).collect())
}

fn hash_from_be_bytes(b: &[u8]) -> Hash256 {
    let mut words = [0u64; 4];
    for (q, w) in words.iter_mut().enumerate() {
        // u64 q holds bits 64q..64q+64, printed as hex characters 48-16q .. 64-16q.
        let start = 32 - 8 * (q + 1);
        let mut be = [0u8; 8];
        be.copy_from_slice(&b[start..start + 8]);
        *w = u64::from_be_bytes(be);
    }
    Hash256(words)
}

fn run_bench(args: BenchArgs) -> Result<(), CliError> {
    match args.command {
        BenchCommand::Index {
            db,
            queries,
            radius,
            linear,
            results,
        } => bench_index(&db, &queries, radius, linear, results.as_deref()),
        BenchCommand::Memory { n, file } => bench_memory(n, file),
        BenchCommand::Hash { paths } => bench_hash(&paths),
    }
}

fn bench_index(
    db: &Path,
    queries: &Path,
    radius: u32,
    linear: bool,
    results: Option<&Path>,
) -> Result<(), CliError> {
    let hashes = read_raw_hashes(db)?;
    let queries = read_raw_hashes(queries)?;
    let n = hashes.len();
    let t = Instant::now();
    let index = HammingIndex::from_hashes(hashes)?;
    let build_s = t.elapsed().as_secs_f64();
    let mut all: Vec<Vec<Hit>> = Vec::with_capacity(queries.len());
    let mut hits = Vec::new();
    let t = Instant::now();
    for q in &queries {
        index.search_into(q, radius, &mut hits);
        all.push(hits.clone());
    }
    let index_s = t.elapsed().as_secs_f64();
    let n_results: usize = all.iter().map(Vec::len).sum();
    let mut linear_s = None;
    let mut linear_equal = None;
    if linear {
        let t = Instant::now();
        let scanned: Vec<Vec<Hit>> = queries
            .iter()
            .map(|q| index.linear_search(q, radius))
            .collect();
        linear_s = Some(t.elapsed().as_secs_f64());
        linear_equal = Some(scanned == all);
    }
    if let Some(path) = results {
        let f = std::fs::File::create(path).map_err(io_err(path))?;
        let mut w = BufWriter::new(f);
        for (qi, hs) in all.iter().enumerate() {
            for h in hs {
                writeln!(w, "{qi} {} {}", h.id, h.distance).map_err(io_err(path))?;
            }
        }
        w.flush().map_err(io_err(path))?;
    }
    let report = serde_json::json!({
        "n": n,
        "queries": queries.len(),
        "radius": radius,
        "build_s": build_s,
        "index_ms_per_query": index_s * 1e3 / queries.len().max(1) as f64,
        "linear_ms_per_query": linear_s.map(|s| s * 1e3 / queries.len().max(1) as f64),
        "linear_equal": linear_equal,
        "results": n_results,
        "index_memory_bytes": index.memory_bytes(),
        "bucket_stats": bucket_stats(&index),
    });
    println!("{report}");
    Ok(())
}

/// Bucket occupancy of table 0..16: mean over non-empty buckets, largest bucket, empty buckets.
fn bucket_stats(index: &HammingIndex) -> serde_json::Value {
    let stats = index.bucket_stats();
    serde_json::json!({
        "max_bucket": stats.max_bucket,
        "mean_nonempty_bucket": stats.mean_nonempty_bucket,
        "empty_bucket_fraction": stats.empty_bucket_fraction,
        "expected_candidates_r31": stats.expected_candidates_r31,
    })
}

fn bench_memory(n: usize, file: Option<PathBuf>) -> Result<(), CliError> {
    let mut rng = SmallRng::seed_from_u64(7);
    let t = Instant::now();
    let hashes: Vec<Hash256> = (0..n)
        .map(|_| Hash256([rng.random(), rng.random(), rng.random(), rng.random()]))
        .collect();
    let gen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let index = HammingIndex::from_hashes(hashes)?;
    let build_s = t.elapsed().as_secs_f64();
    let path = file.unwrap_or_else(|| std::env::temp_dir().join("jikimi-pdq-bench.mih"));
    let t = Instant::now();
    {
        let f = std::fs::File::create(&path).map_err(io_err(&path))?;
        index.write_to(BufWriter::new(f))?;
    }
    let save_s = t.elapsed().as_secs_f64();
    let file_bytes = std::fs::metadata(&path).map_err(io_err(&path))?.len();
    let query = index
        .get(0)
        .ok_or_else(|| CliError::Bench("empty index".into()))?;
    drop(index);
    let t = Instant::now();
    let loaded = {
        let f = std::fs::File::open(&path).map_err(io_err(&path))?;
        HammingIndex::read_from(std::io::BufReader::with_capacity(1 << 20, f))?
    };
    let load_s = t.elapsed().as_secs_f64();
    std::fs::remove_file(&path).map_err(io_err(&path))?;
    let t = Instant::now();
    let hits = loaded.search(&query, 31);
    let query_ms = t.elapsed().as_secs_f64() * 1e3;
    let report = serde_json::json!({
        "n": n,
        "generate_s": gen_s,
        "build_s": build_s,
        "save_s": save_s,
        "load_s": load_s,
        "file_bytes": file_bytes,
        "index_memory_bytes": loaded.memory_bytes(),
        "bytes_per_hash": loaded.memory_bytes() as f64 / n.max(1) as f64,
        "one_query_ms": query_ms,
        "one_query_hits": hits.len(),
    });
    println!("{report}");
    Ok(())
}

fn bench_hash(paths: &[PathBuf]) -> Result<(), CliError> {
    let files = collect_files(paths)?;
    let mut blobs = Vec::with_capacity(files.len());
    for f in &files {
        blobs.push(std::fs::read(f).map_err(io_err(f))?);
    }
    let t = Instant::now();
    let mut failed = 0;
    let mut decode_only = 0f64;
    for b in &blobs {
        let t0 = Instant::now();
        let decoded = crate::decode_rgb8(b, DecodeLimits::default());
        decode_only += t0.elapsed().as_secs_f64();
        match decoded {
            Ok(d) => {
                if let Some(img) = crate::RgbImage::new(d.width as usize, d.height as usize, &d.rgb)
                {
                    std::hint::black_box(crate::pdq_hash(img, Luma::Pdqhash));
                }
            }
            Err(_) => failed += 1,
        }
    }
    let total = t.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "images": blobs.len(),
        "failed": failed,
        "total_s": total,
        "images_per_s": blobs.len() as f64 / total,
        "decode_s": decode_only,
        "hash_only_images_per_s": blobs.len() as f64 / (total - decode_only),
    });
    println!("{report}");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_follow_hex_order() {
        let hex = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(hash_from_be_bytes(&bytes).to_hex(), hex);
    }
}
