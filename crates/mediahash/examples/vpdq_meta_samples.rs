//! Meta's vPDQ sample videos (ThreatExchange `tmk/sample-videos/*.mp4`) against the reference `vpdq` 0.2.5 run at
//! the same time, and against the sample hashes the `vpdq` sdist ships. The videos cannot be in the repository, so
//! this is an example run by hand, not a test: `JIKIMI_VPDQ_VIDEOS=DIR cargo run --release -p jikimi-mediahash
//! --features video --example vpdq_meta_samples`. CI checks bit-exactness on videos it makes
//! (`tests/it/vpdq_generated.rs`, `tests/it/vpdq_portable.rs`).
//!
//! With vpdq 0.2.5's settings (the default code path, `SWS_AREA`):
//! - Every frame line of every video, at full size and at 128x128, equals the reference's line computed now.
//! - Against the shipped sample hashes, which Meta made with other settings (so the reference itself does not
//!   reproduce them all bit for bit here), the reference's own regression criterion holds: same frames, and
//!   frames of quality >= 50 on both sides within distance < 31. Exact line counts are printed.
//! - Query and compared match percentages, brute force and through the index, equal the reference's on every
//!   ordered pair of sample videos.
//!
//! Then, with the settings each batch of shipped sample hashes was made with, every line of every sample file
//! whose video is present must be equal, frame number, quality, hash and timestamp:
//! - the full-size files of 2022 (made on an Apple M1, whose FFmpeg converts to RGB24 in C): the portable code
//!   (`use_portable_code(true)`) and `Scaler::Area`;
//! - `test-padded-dimensions.txt` (2026): the defaults;
//! - the `-128x128` files (July 2023, before vpdq switched to `SWS_AREA`): `Scaler::Lanczos` and the default code,
//!   downsampled to 128x128.
//!
//! A sample file whose video is absent (or empty) in the video directory fails the run, unless the caller names that
//! video with `--absent=NAME.mp4,...` (the local mirror lacks two blobs); those are named in the output, not checked,
//! and a named video that is present fails too. With the argument
//! `--shipped-only` (after `--`) only this last part runs, which needs no venv; `JIKIMI_VPDQ_SAMPLE_HASHES=DIR`
//! takes the sample hashes from DIR (the sdist's `sample-hashes/`) instead of the venv's copy.
//!
//! Any difference panics (exit code 101).

#![allow(clippy::unwrap_used)] // a hand-run check: it fails loudly

// The test harness's reference helpers, shared rather than copied; `venv_python` is the tests' alone.
#[allow(dead_code)]
#[path = "../tests/it/vpdq_video.rs"]
mod vpdq_video;

use jikimi_mediahash::video::{Scaler, VideoOptions, hash_video_file, use_portable_code};
use jikimi_mediahash::vpdq::parse_features;
use std::path::{Path, PathBuf};
use vpdq_video::{comparisons_equal_the_reference, frames_equal_the_reference};

struct Reference {
    python: PathBuf,
    sample_hashes: PathBuf,
    videos_dir: PathBuf,
    /// The non-empty `.mp4` files of `videos_dir` (the mirror has two empty ones, whose blobs are missing).
    videos: Vec<PathBuf>,
}

fn shared_dir() -> PathBuf {
    std::env::var_os("JIKIMI_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

/// Meta's sample videos, the sample hashes and (unless `shipped_only`) the venv; anything absent fails.
fn reference(shipped_only: bool) -> Reference {
    let venv = vpdq_video::venv_dir();
    let videos_dir = std::env::var_os("JIKIMI_VPDQ_VIDEOS")
        .map_or_else(|| shared_dir().join("reference/vpdq/videos"), PathBuf::from);
    let python = venv.join("bin/python");
    let sample_hashes = std::env::var_os("JIKIMI_VPDQ_SAMPLE_HASHES")
        .map_or_else(|| venv.join("sample-hashes"), PathBuf::from);
    let mut videos: Vec<PathBuf> = std::fs::read_dir(&videos_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    videos.retain(|p| p.extension().is_some_and(|e| e == "mp4") && present(p));
    videos.sort();
    assert!(
        (shipped_only || python.exists()) && sample_hashes.is_dir() && !videos.is_empty(),
        "vPDQ reference absent (venv {}: run crates/mediahash/scripts/vpdq-venv.sh; sample hashes {}; videos {}: \
         Meta's ThreatExchange tmk/sample-videos, set JIKIMI_VPDQ_VIDEOS)",
        venv.display(),
        sample_hashes.display(),
        videos_dir.display()
    );
    Reference {
        python,
        sample_hashes,
        videos_dir,
        videos,
    }
}

/// A video file that exists and is not empty.
fn present(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
}

fn every_frame_equals_the_reference_and_the_sample_hashes_agree(r: &Reference) {
    let (mut frames, mut exact_sample_lines, mut sample_lines) = (0usize, 0usize, 0usize);
    for video in &r.videos {
        let mine = frames_equal_the_reference(&r.python, video);
        let stem = video.file_stem().unwrap().to_string_lossy().into_owned();
        for (features, suffix) in mine.iter().zip(["", "-128x128"]) {
            let name = format!("{stem}{suffix}");
            frames += features.len();
            let sample_path = r.sample_hashes.join(format!("{name}.txt"));
            // Every video has full-size sample hashes; `test-padded-dimensions` alone has no 128x128 ones.
            let Ok(text) = std::fs::read_to_string(&sample_path) else {
                assert!(!suffix.is_empty(), "{}: missing", sample_path.display());
                continue;
            };
            let sample = parse_features(&text).unwrap();
            assert_eq!(
                sample.len(),
                features.len(),
                "{name}: frame count vs sample hashes"
            );
            for (a, b) in features.iter().zip(&sample) {
                assert_eq!(a.frame_number, b.frame_number, "{name}");
                assert_eq!(
                    a.to_line().rsplit(',').next(),
                    b.to_line().rsplit(',').next(),
                    "{name}"
                );
                if a.quality >= 50 && b.quality >= 50 {
                    assert!(
                        a.hash.distance(&b.hash) < 31,
                        "{name} frame {}",
                        a.frame_number
                    );
                }
                exact_sample_lines += usize::from(a.to_line() == b.to_line());
            }
            sample_lines += sample.len();
        }
    }
    eprintln!(
        "vpdq: {} videos, {frames} frames equal to the reference; {exact_sample_lines} of {sample_lines} lines \
         equal to the shipped sample hashes",
        r.videos.len()
    );
}

/// The settings a batch of shipped sample hashes was made with.
#[derive(Clone, Copy)]
struct Batch {
    what: &'static str,
    portable: bool,
    scaler: Scaler,
    dimension: u32,
}

/// The batch of a sample file (by its stem) and its video's stem.
fn batch(name: &str) -> (Batch, &str) {
    if let Some(video) = name.strip_suffix("-128x128") {
        let batch = Batch {
            what: "2023, lanczos, default code, 128x128",
            portable: false,
            scaler: Scaler::Lanczos,
            dimension: 128,
        };
        (batch, video)
    } else if name == "test-padded-dimensions" {
        let batch = Batch {
            what: "2026, area, default code",
            portable: false,
            scaler: Scaler::Area,
            dimension: 0,
        };
        (batch, name)
    } else {
        let batch = Batch {
            what: "2022, area, portable code",
            portable: true,
            scaler: Scaler::Area,
            dimension: 0,
        };
        (batch, name)
    }
}

/// Every line of every shipped sample file whose video is present equals ours with that batch's settings.
fn shipped_sample_hashes_are_reproduced(r: &Reference, known_absent: &[String]) {
    let mut samples: Vec<PathBuf> = std::fs::read_dir(&r.sample_hashes)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    samples.sort();
    let (mut files, mut exact, mut lines, mut absent) = (0usize, 0usize, 0usize, Vec::new());
    let mut failed = Vec::new();
    // Each sample with its batch and video; those whose video is missing are set apart (and judged below).
    let mut checked = Vec::new();
    for sample in &samples {
        let name = sample.file_stem().unwrap().to_string_lossy().into_owned();
        let (batch, stem) = batch(&name);
        let video = r.videos_dir.join(format!("{stem}.mp4"));
        if present(&video) {
            checked.push((sample, name, batch, video));
        } else {
            absent.push((format!("{stem}.mp4"), format!("{name}.txt")));
        }
    }
    for (sample, name, batch, video) in checked {
        // Process-wide, and set while nothing hashes: this program hashes one video at a time, on this thread
        // (its hashing threads only hash frames already converted).
        use_portable_code(batch.portable);
        let options = VideoOptions {
            seconds_per_hash: 0.0,
            downsample_frame_dimension: batch.dimension,
            threads: 0,
            scaler: batch.scaler,
        };
        let ours: Vec<String> = hash_video_file(&video, options)
            .unwrap_or_else(|e| panic!("{}: {e}", video.display()))
            .iter()
            .map(|f| f.to_line())
            .collect();
        let text = std::fs::read_to_string(sample).unwrap();
        let theirs: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let equal = ours.iter().zip(&theirs).filter(|(a, b)| a == *b).count();
        eprintln!(
            "{name:40} {:38} {equal:5} of {:5} lines exact (ours {})",
            batch.what,
            theirs.len(),
            ours.len()
        );
        if equal != theirs.len() || ours.len() != theirs.len() {
            failed.push(name);
        }
        files += 1;
        exact += equal;
        lines += theirs.len();
    }
    use_portable_code(false);
    eprintln!(
        "vpdq shipped sample hashes: {exact} of {lines} lines exact in {files} files; {} files not checked, their \
         video absent from {}: {}",
        absent.len(),
        r.videos_dir.display(),
        absent
            .iter()
            .map(|(_, sample)| sample.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let unexpected: Vec<&str> = absent
        .iter()
        .filter(|(video, _)| !known_absent.contains(video))
        .map(|(video, _)| video.as_str())
        .collect();
    assert!(
        unexpected.is_empty(),
        "sample videos absent and not named with --absent: {unexpected:?}"
    );
    let stale: Vec<&String> = known_absent
        .iter()
        .filter(|v| !absent.iter().any(|(video, _)| video == *v))
        .collect();
    assert!(
        stale.is_empty(),
        "named with --absent but present: {stale:?}"
    );
    assert!(files > 0, "no sample file has its video");
    assert!(failed.is_empty(), "sample files not reproduced: {failed:?}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shipped_only = args.iter().any(|a| a == "--shipped-only");
    let known_absent: Vec<String> = args
        .iter()
        .filter_map(|a| a.strip_prefix("--absent="))
        .flat_map(|list| list.split(','))
        .map(str::to_string)
        .collect();
    let r = reference(shipped_only);
    if !shipped_only {
        every_frame_equals_the_reference_and_the_sample_hashes_agree(&r);
        let pairs = comparisons_equal_the_reference(&r.python, &r.videos);
        eprintln!("vpdq: {} comparisons equal to the reference", pairs.len());
    }
    shipped_sample_hashes_are_reproduced(&r, &known_absent);
}
