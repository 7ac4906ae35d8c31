//! `jikimi bench pdq ...`: single-thread benchmarks of the index (search against a linear scan, memory, build,
//! save and load), of the hasher (images per second) and of JPEG decoding against hashing. Each prints one JSON
//! object on stdout.
//!
//! Wall-clock timing belongs here, never in tests. Like [`crate::cli`], an edge that reads and writes files.

use crate::cli::{CliError, collect_files, io_err};
use crate::index::{HammingIndex, Hit};
use crate::{DecodeLimits, Hash256, Luma};
use clap::{Args, Subcommand};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `jikimi bench pdq`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
    /// Print JSON (the only output: one object on stdout); accepted so that every command takes `--json`.
    #[arg(long, global = true)]
    json: bool,
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
    /// vPDQ-hash videos; prints frames per second against the reference `vpdq` in the same run.
    #[cfg(feature = "video")]
    Video(crate::bench_video::BenchVideoArgs),
    /// vPDQ hashing throughput (not in this build: rebuild with `--features video`).
    #[cfg(not(feature = "video"))]
    Video(crate::cli::NotBuiltArgs),
    /// Decode and hash every image under the paths; prints images per second.
    Hash {
        /// Image files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Decode and hash synthetic JPEGs made in memory (quality 75, 4:2:0, half of them progressive); reports
    /// images per second and the decode time as a ratio of the hash time (the reference run).
    Jpeg {
        /// Number of images.
        #[arg(long, default_value_t = 40)]
        images: usize,
        /// Width and height in pixels.
        #[arg(long, default_value_t = 1024)]
        side: usize,
    },
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

pub(crate) fn hash_from_be_bytes(b: &[u8]) -> Hash256 {
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

/// Runs `jikimi bench pdq ...`; each benchmark prints one JSON object on stdout.
pub fn run(args: BenchArgs) -> Result<(), CliError> {
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
        BenchCommand::Jpeg { images, side } => bench_jpeg(images, side),
        #[cfg(feature = "video")]
        BenchCommand::Video(a) => crate::bench_video::run(a),
        #[cfg(not(feature = "video"))]
        BenchCommand::Video(_) => Err(CliError::NotBuilt {
            command: "bench pdq video",
            feature: "video",
        }),
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

/// A photo-like `side` x `side` image (smooth waves plus noise, different for each `seed`) as a JPEG.
fn synthetic_jpeg(side: usize, seed: u64, progressive: bool) -> Result<Vec<u8>, CliError> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let phase = seed as f64;
    let mut pixels = Vec::with_capacity(side * side * 3);
    for y in 0..side {
        for x in 0..side {
            for c in 0..3 {
                let wave =
                    ((x as f64 / 37.0 + phase + c as f64).sin() + (y as f64 / 53.0).cos()) * 60.0;
                let noise: f64 = rng.random_range(-16.0..16.0);
                pixels.push((128.0 + wave + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    crate::jpeg::encode_rgb_for_bench(&pixels, side, progressive)
        .map_err(|e| CliError::Bench(format!("encode: {e}")))
}

fn bench_jpeg(images: usize, side: usize) -> Result<(), CliError> {
    let blobs = (0..images)
        .map(|i| synthetic_jpeg(side, i as u64, i % 2 == 1))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut decode_s, mut hash_s) = (0f64, 0f64);
    for b in &blobs {
        let t = Instant::now();
        let decoded = crate::decode_rgb8(b, DecodeLimits::default())
            .map_err(|e| CliError::Bench(format!("decode: {e}")))?;
        decode_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        if let Some(img) = crate::RgbImage::new(
            decoded.width as usize,
            decoded.height as usize,
            &decoded.rgb,
        ) {
            std::hint::black_box(crate::pdq_hash(img, Luma::Pdqhash));
        }
        hash_s += t.elapsed().as_secs_f64();
    }
    let n = images.max(1) as f64;
    let report = serde_json::json!({
        "images": images,
        "side": side,
        "jpeg_bytes_mean": blobs.iter().map(Vec::len).sum::<usize>() as f64 / n,
        "decoder": "libjpeg-turbo",
        "images_per_s": n / (decode_s + hash_s),
        "decode_ms_per_image": decode_s * 1e3 / n,
        "hash_ms_per_image": hash_s * 1e3 / n,
        "decode_to_hash_ratio": decode_s / hash_s,
    });
    println!("{report}");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::hash_from_be_bytes;

    #[test]
    fn synthetic_jpegs_decode_at_their_size() {
        for progressive in [false, true] {
            let jpeg = super::synthetic_jpeg(40, 3, progressive).unwrap();
            let d = crate::decode_rgb8(&jpeg, crate::DecodeLimits::default()).unwrap();
            assert_eq!((d.width, d.height, d.format), (40, 40, "jpeg"));
        }
        super::bench_jpeg(2, 24).unwrap();
    }

    #[test]
    fn raw_bytes_follow_hex_order() {
        let hex = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(hash_from_be_bytes(&bytes).to_hex(), hex);
    }
}
