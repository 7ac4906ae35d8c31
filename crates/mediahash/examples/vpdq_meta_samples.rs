//! Meta's vPDQ sample videos (ThreatExchange `tmk/sample-videos/*.mp4`) against the reference `vpdq` 0.2.5 run at
//! the same time, and against the sample hashes the `vpdq` sdist ships. The videos cannot be in the repository, so
//! this is an example run by hand, not a test: `JIKIMI_VPDQ_VIDEOS=DIR cargo run -p jikimi-mediahash --features
//! video --example vpdq_meta_samples`. CI checks bit-exactness on videos it makes (`tests/it/vpdq_generated.rs`).
//!
//! - Every frame line of every video, at full size and at 128x128, equals the reference's line computed now.
//! - Against the shipped sample hashes, which Meta made with another FFmpeg build (the reference itself does not
//!   reproduce them all bit for bit on Debian's FFmpeg 5.1), the reference's own regression criterion holds:
//!   same frames, and frames of quality >= 50 on both sides within distance < 31. Exact line counts are printed.
//! - Query and compared match percentages, brute force and through the index, equal the reference's on every
//!   ordered pair of sample videos.
//!
//! Any difference panics (exit code 101).

#![allow(clippy::unwrap_used)] // a hand-run check: it fails loudly

// The test harness's reference helpers, shared rather than copied; `venv_python` is the tests' alone.
#[allow(dead_code)]
#[path = "../tests/it/vpdq_video.rs"]
mod vpdq_video;

use jikimi_mediahash::vpdq::parse_features;
use std::path::PathBuf;
use vpdq_video::{comparisons_equal_the_reference, frames_equal_the_reference};

struct Reference {
    python: PathBuf,
    sample_hashes: PathBuf,
    videos: Vec<PathBuf>,
}

fn shared_dir() -> PathBuf {
    std::env::var_os("JIKIMI_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

/// Meta's sample videos and the venv; anything absent fails.
fn reference() -> Reference {
    let venv = vpdq_video::venv_dir();
    let videos_dir = std::env::var_os("JIKIMI_VPDQ_VIDEOS")
        .map_or_else(|| shared_dir().join("reference/vpdq/videos"), PathBuf::from);
    let python = venv.join("bin/python");
    let sample_hashes = venv.join("sample-hashes");
    let mut videos: Vec<PathBuf> = std::fs::read_dir(&videos_dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    videos.retain(|p| p.extension().is_some_and(|e| e == "mp4"));
    videos.sort();
    assert!(
        python.exists() && sample_hashes.is_dir() && !videos.is_empty(),
        "vPDQ reference absent (venv {}: run crates/mediahash/scripts/vpdq-venv.sh; videos {}: Meta's \
         ThreatExchange tmk/sample-videos, set JIKIMI_VPDQ_VIDEOS)",
        venv.display(),
        videos_dir.display()
    );
    Reference {
        python,
        sample_hashes,
        videos,
    }
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

fn main() {
    let r = reference();
    every_frame_equals_the_reference_and_the_sample_hashes_agree(&r);
    let pairs = comparisons_equal_the_reference(&r.python, &r.videos);
    eprintln!("vpdq: {} comparisons equal to the reference", pairs.len());
}
