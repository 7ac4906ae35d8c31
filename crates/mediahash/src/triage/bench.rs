//! `jikimi bench triage`: triage of a generated directory of images (PNG, in nested directories) against a bank
//! holding every tenth of them plus random hashes: images per second for a first run, seconds for a rerun that
//! finds everything in the journal, and, when the reference's venv exists (`.ci/setup-jpeg.sh`: Pillow and
//! `pdqhash`), the reference Python tool over the same files in the same run, with how many hashes agree.
//!
//! Prints one JSON object on stdout. Wall-clock timing belongs here, never in tests.

use super::journal::{self, Hashed};
use super::run::{TriageError, TriageOptions, journal_path, triage};
use crate::{Luma, RgbImage, pdq_hash};
use clap::Args;
use image::ImageEncoder;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Arguments of `jikimi bench triage`.
#[derive(Debug, Args)]
pub struct BenchTriageArgs {
    /// Number of images.
    #[arg(long, default_value_t = 10_000)]
    pub images: usize,
    /// Width and height of each image in pixels.
    #[arg(long, default_value_t = 256)]
    pub side: u32,
    /// Random hashes added to the bank besides the tenth of the images.
    #[arg(long, default_value_t = 100_000)]
    pub bank_noise: usize,
    /// Hashing threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Work directory (kept); default a fresh directory under the system's temporary directory, removed after.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The venv holding Pillow and `pdqhash` (default: `~/.cache/jikimi-venvs/pdq-jpeg`, `.ci/setup-jpeg.sh`'s).
    #[arg(long)]
    pub reference_venv: Option<PathBuf>,
    /// Print JSON (the only output); accepted so that every command takes `--json`.
    #[arg(long)]
    pub json: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TriageError + '_ {
    move |source| TriageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An image of 8 x 8 random colour blocks with a gradient: distinct PDQ hashes of good quality.
fn synthetic(seed: u64, side: u32) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let blocks: Vec<[u8; 3]> = (0..64).map(|_| rng.random::<[u8; 3]>()).collect();
    let side = side as usize;
    let mut rgb = Vec::with_capacity(side * side * 3);
    for y in 0..side {
        for x in 0..side {
            let b = blocks[(y * 8 / side) * 8 + x * 8 / side];
            let g = ((x + y) * 64 / (2 * side)) as u8;
            rgb.extend(b.map(|c| c / 2 + g));
        }
    }
    rgb
}

const REFERENCE: &str = r#"
import json, os, sys, time
import numpy as np, pdqhash
from PIL import Image
root = sys.argv[1]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
t = time.perf_counter()
hashes = {}
for p in files:
    bits, q = pdqhash.compute(np.asarray(Image.open(p).convert("RGB"), dtype=np.uint8))
    hashes[os.path.relpath(p, root)] = "%064x" % int("".join(str(int(b)) for b in bits), 2)
s = time.perf_counter() - t
print(json.dumps({"images": len(files), "seconds": s, "hashes": hashes}))
"#;

/// Runs the benchmark; prints one JSON object.
pub fn run(args: &BenchTriageArgs) -> Result<(), TriageError> {
    let (work, remove) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("jikimi-bench-triage-{}", std::process::id())),
            true,
        ),
    };
    let tree = work.join("seized");
    let mut bank = String::from("signal_type,signal_str,category,series\n");
    for i in 0..args.images {
        let dir = tree.join(format!("{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        let rgb = synthetic(i as u64, args.side);
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&rgb, args.side, args.side, image::ExtendedColorType::Rgb8)
            .map_err(|e| TriageError::Io {
                path: dir.clone(),
                source: std::io::Error::other(e),
            })?;
        // No extension: triage recognises files by content.
        let path = dir.join(format!("{i:05}"));
        std::fs::write(&path, png).map_err(io_err(&path))?;
        if i % 10 == 0
            && let Some(image) = RgbImage::new(args.side as usize, args.side as usize, &rgb)
        {
            let hash = pdq_hash(image, Luma::Pdqhash).hash;
            let _ = writeln!(bank, "pdq,{},C{},S{}", hash.to_hex(), i % 3, i % 7);
        }
    }
    let mut rng = SmallRng::seed_from_u64(7);
    for _ in 0..args.bank_noise {
        let words: [u64; 4] = rng.random();
        let _ = writeln!(bank, "pdq,{},noise,noise", crate::Hash256(words).to_hex());
    }
    let bank_path = work.join("bank.csv");
    std::fs::write(&bank_path, bank).map_err(io_err(&bank_path))?;
    let out = work.join("report.json");
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(journal_path(&out));
    let options = TriageOptions {
        root: tree.clone(),
        banks: vec![bank_path.to_string_lossy().into_owned()],
        default_distance: super::bank::DEFAULT_DISTANCE,
        out: out.clone(),
        html: Some(work.join("report.html")),
        threads: args.threads,
        progress: false,
    };
    let t = Instant::now();
    let first = triage(&options)?;
    let first_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = triage(&options)?;
    let again_s = t.elapsed().as_secs_f64();
    let totals = &first.report.totals;
    let mut result = serde_json::json!({
        "benchmark": "triage",
        "images": args.images,
        "format": format!("png {0}x{0}, 100 per directory, no extensions", args.side),
        "threads": args.threads.unwrap_or_else(rayon::current_num_threads),
        "bank_entries": first.report.banks.first().map_or(0, |b| b.entries),
        "hashes_per_image": "pdq + 8 dihedral",
        "first_run": {"seconds": first_s, "images_per_s": args.images as f64 / first_s, "hashed": first.hashed_now},
        "rerun_from_journal": {"seconds": again_s, "hashed": again.hashed_now, "from_journal": again.from_journal},
        "known": totals.known,
        "unknown": totals.unknown,
        "known_expected": args.images.div_ceil(10),
        "same_report_on_rerun": first.report == again.report,
    });
    let venv = args.reference_venv.clone().unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/jikimi-venvs/pdq-jpeg")
    });
    let python = venv.join("bin/python");
    if python.exists() {
        let output = Command::new(&python)
            .arg("-c")
            .arg(REFERENCE)
            .arg(&tree)
            .output()
            .map_err(io_err(&python))?;
        let parsed: serde_json::Value =
            serde_json::from_slice(&output.stdout).map_err(TriageError::Json)?;
        let seconds = parsed["seconds"].as_f64().unwrap_or(f64::NAN);
        let journal_bytes = std::fs::read(&first.journal).map_err(io_err(&first.journal))?;
        let ours: HashMap<String, String> = journal::parse(&journal_bytes)
            .map_err(|source| TriageError::Journal {
                path: first.journal.clone(),
                source,
            })?
            .entries
            .into_iter()
            .filter_map(|e| match e.hashed {
                Hashed::Image { pdq, .. } => Some((e.path, pdq.to_hex())),
                _ => None,
            })
            .collect();
        let reference = parsed["hashes"].as_object();
        let identical = reference.map_or(0, |r| {
            r.iter()
                .filter(|(k, v)| ours.get(k.as_str()).map(String::as_str) == v.as_str())
                .count()
        });
        result["reference"] = serde_json::json!({
            "tool": "pdqhash 0.2.8 over Pillow (single thread, Python)",
            "seconds": seconds,
            "images_per_s": args.images as f64 / seconds,
            "identical_pdq_hashes": identical,
        });
    } else {
        result["reference"] = serde_json::json!(format!("absent: {}", python.display()));
    }
    println!("{}", serde_json::to_string_pretty(&result)?);
    if remove {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}
