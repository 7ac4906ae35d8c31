//! vPDQ against Meta's reference `vpdq` 0.2.5 (its Python binding over the C++ library, built against the same
//! Debian FFmpeg libraries, in the venv of `crates/mediahash/scripts/vpdq-venv.sh`), run at the same time: the
//! checks shared by the CI test on generated videos (`vpdq_generated`) and by the example `vpdq_meta_samples`,
//! which runs them on Meta's ThreatExchange sample videos (they cannot be in the repository).
//!
//! - Every frame line (number, quality, hash, timestamp) of a video, at full size and at 128x128, equals the
//!   reference's line computed now.
//! - Query and compared match percentages, brute force and through the index, equal the reference's on every
//!   ordered pair of videos.
use jikimi_mediahash::video::{Scaler, VideoOptions, hash_video_file};
use jikimi_mediahash::vpdq::{VideoIndex, VpdqFeature, match_two_hash_brute};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The venv's Python; an absent venv fails the calling test (in CI and outside it).
pub(crate) fn venv_python() -> PathBuf {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if python.exists() {
        return python;
    }
    let how = format!(
        "vPDQ reference venv absent ({}): run crates/mediahash/scripts/vpdq-venv.sh",
        venv.display()
    );
    // The `video` feature already needs FFmpeg's libraries to build; its reference is part of the same set-up, so
    // its absence fails the test everywhere rather than passing it unchecked.
    panic!("{how}");
}

pub(crate) fn venv_dir() -> PathBuf {
    std::env::var_os("JIKIMI_VPDQ_VENV").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/jikimi-venvs/vpdq")
        },
        PathBuf::from,
    )
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
            scaler: Scaler::Area,
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

pub(crate) fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
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
