//! vPDQ against Meta's reference `vpdq` 0.2.5 (its Python binding over the C++ library, built against the same
//! Debian FFmpeg libraries, in the venv of `crates/mediahash/scripts/vpdq-venv.sh`), run in the same test run,
//! on Meta's ThreatExchange `tmk/sample-videos/*.mp4`. Those videos cannot be in the repository, so these tests are
//! `#[ignore]`d: `JIKIMI_VPDQ_VIDEOS=DIR cargo test -p jikimi-mediahash --features video -- --ignored` runs them
//! (and fails without the videos or the venv). CI checks bit-exactness on videos it makes (`vpdq_generated`).
//! Sample hashes: `sample-hashes/*.txt` as the `vpdq` 0.2.5 sdist ships them (copied into the venv by the script).
//!
//! - Every frame line (number, quality, hash, timestamp) of every video, at full size and at 128x128, equals the
//!   reference's line computed now.
//! - Against the shipped sample hashes, which Meta made with another FFmpeg build (the reference itself does not
//!   reproduce them all bit for bit on Debian's FFmpeg 5.1), the reference's own regression criterion holds:
//!   same frames, and frames of quality >= 50 on both sides within distance < 31. Exact line counts are printed.
//! - Query and compared match percentages, brute force and through the index, equal the reference's on every
//!   ordered pair of sample videos.

use crate::reference::shared_dir;
use jikimi_mediahash::video::{VideoOptions, hash_video_file};
use jikimi_mediahash::vpdq::{VideoIndex, VpdqFeature, match_two_hash_brute, parse_features};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Reference {
    python: PathBuf,
    sample_hashes: PathBuf,
    videos: Vec<PathBuf>,
}

/// The venv's Python, or `None` when absent outside CI (under `CI` an absent venv fails the test).
pub(crate) fn venv_python() -> Option<PathBuf> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    let how = format!(
        "vPDQ reference venv absent ({}): run crates/mediahash/scripts/vpdq-venv.sh",
        venv.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{how}");
    eprintln!("not run: {how}");
    None
}

fn venv_dir() -> PathBuf {
    std::env::var_os("JIKIMI_VPDQ_VENV").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/jikimi-venvs/vpdq")
        },
        PathBuf::from,
    )
}

/// Meta's sample videos and the venv: these tests run only when asked for (`--ignored`), so anything absent fails.
fn reference() -> Reference {
    let venv = venv_dir();
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

pub(crate) fn script() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/vpdq_reference.py")
}

pub(crate) fn lines(features: &[VpdqFeature]) -> Vec<String> {
    features.iter().map(VpdqFeature::to_line).collect()
}

pub(crate) fn ours(
    video: &Path,
    seconds_per_hash: f64,
    dim: u32,
    threads: usize,
) -> Vec<VpdqFeature> {
    hash_video_file(
        video,
        VideoOptions {
            seconds_per_hash,
            downsample_frame_dimension: dim,
            threads,
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", video.display()))
}

/// Hashes `video` at full size (threaded) and at 128x128 (inline) while the reference hashes it too; asserts every
/// line equals the reference's and returns ours.
pub(crate) fn frames_equal_the_reference(python: &Path, video: &Path) -> [Vec<VpdqFeature>; 2] {
    // The reference runs while we hash (two cores).
    let child = Command::new(python)
        .arg(script())
        .args([
            "hash".as_ref(),
            video.as_os_str(),
            "0".as_ref(),
            "0".as_ref(),
            "128".as_ref(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Threaded hashing at full size, inline at 128x128: both must give the reference's frames.
    let mine = [ours(video, 0.0, 0, 0), ours(video, 0.0, 128, 1)];
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "reference failed on {}",
        video.display()
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let blocks: Vec<Vec<String>> = text
        .split("# ")
        .filter(|b| !b.is_empty())
        .map(|b| {
            b.split_once('\n')
                .map_or("", |(_, rest)| rest)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    assert_eq!(blocks.len(), 2);
    for (features, theirs) in mine.iter().zip(&blocks) {
        let name = video.display();
        assert!(!features.is_empty(), "{name}: no frames");
        assert_eq!(
            &lines(features),
            theirs,
            "{name} ({} frames): frames differ from the reference",
            features.len()
        );
    }
    mine
}

#[test]
#[ignore = "needs Meta's sample videos: set JIKIMI_VPDQ_VIDEOS (see README)"]
fn every_frame_equals_the_reference_and_the_sample_hashes_agree() {
    let r = reference();
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

pub(crate) fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
#[ignore = "needs Meta's sample videos: set JIKIMI_VPDQ_VIDEOS (see README)"]
fn comparisons_equal_the_reference_on_every_pair() {
    let r = reference();
    comparisons_equal_the_reference(&r.python, &r.videos);
}

/// Query and compared match percentages (seconds per hash 1), brute force and through the index, equal the
/// reference's on every ordered pair of `videos` at two tolerances; returns ours, by tolerance then pair.
pub(crate) fn comparisons_equal_the_reference(
    python: &Path,
    videos: &[PathBuf],
) -> Vec<(f64, f64)> {
    let tolerances = [(31u32, 50u32), (16, 80)];
    let spec = tolerances.map(|(d, q)| format!("{d}:{q}")).join(",");
    let child = Command::new(python)
        .arg(script())
        .args(["compare", "1", &spec])
        .args(videos)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let hashed: Vec<Vec<VpdqFeature>> = videos.iter().map(|v| ours(v, 1.0, 0, 1)).collect();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "reference compare failed");
    let text = String::from_utf8(output.stdout).unwrap();
    let mut checked = 0;
    let mut figures = Vec::new();
    for (distance, quality) in tolerances {
        let mut index = VideoIndex::new(quality);
        for features in &hashed {
            index.insert(features).unwrap();
        }
        let found: Vec<_> = hashed.iter().map(|q| index.query(q, distance)).collect();
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f[0].parse::<u32>().unwrap() != distance || f[1].parse::<u32>().unwrap() != quality {
                continue;
            }
            let (i, j) = (
                f[2].parse::<usize>().unwrap(),
                f[3].parse::<usize>().unwrap(),
            );
            let want: (f64, f64) = (f[4].parse().unwrap(), f[5].parse().unwrap());
            let brute = match_two_hash_brute(&hashed[i], &hashed[j], distance, quality);
            assert!(
                same(brute.query_match_percent, want.0)
                    && same(brute.compared_match_percent, want.1),
                "{i} vs {j} at {distance}/{quality}: {brute:?} vs {want:?}"
            );
            let indexed = found[i]
                .iter()
                .find(|m| m.video as usize == j)
                .map_or((0.0, 0.0), |m| {
                    (
                        m.result.query_match_percent,
                        m.result.compared_match_percent,
                    )
                });
            assert!(
                same(indexed.0, want.0) && same(indexed.1, want.1),
                "index {i} vs {j} at {distance}/{quality}: {indexed:?} vs {want:?}"
            );
            checked += 1;
            figures.push((brute.query_match_percent, brute.compared_match_percent));
        }
    }
    assert_eq!(checked, tolerances.len() * videos.len() * videos.len());
    figures
}
