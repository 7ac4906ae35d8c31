//! vPDQ bit-exact with Meta's reference `vpdq` 0.2.5 (its venv, run in the same test) on videos made now with
//! Debian's `ffmpeg` tool from its lavfi sources, written to a temporary directory and removed afterwards: these run
//! under CI, where Meta's sample videos (the example `vpdq_meta_samples`, run by hand) cannot be.
//!
//! The set covers what the decoding path branches on: codecs (H.264, MPEG-4 part 2, VP9, FFV1), odd and even sizes,
//! frame rates 10 to 30 including 29.97, yuv420p / yuv444p / grey pixel formats, a padded picture with a rotation in
//! its display matrix, and noise (low quality frames). Every frame's line at full size and at 128x128 must equal the
//! reference's; then the comparison figures on every ordered pair. Under `CI` a missing `ffmpeg` or venv fails.

use crate::vpdq_video::{comparisons_equal_the_reference, frames_equal_the_reference, venv_python};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Name, lavfi source, filter (or ""), encoder arguments.
const VIDEOS: &[(&str, &str, &str, &str)] = &[
    (
        "testsrc2-h264.mp4",
        "testsrc2=size=320x240:rate=25:duration=3",
        "",
        "-c:v libx264 -pix_fmt yuv420p -preset veryfast",
    ),
    // The same pictures through another codec: a near duplicate for the comparison figures.
    (
        "testsrc2-mpeg4.mp4",
        "testsrc2=size=320x240:rate=25:duration=3",
        "",
        "-c:v mpeg4 -q:v 8",
    ),
    (
        "mandelbrot-odd-2997.mp4",
        "mandelbrot=size=161x121:rate=30000/1001",
        "",
        "-c:v mpeg4 -pix_fmt yuv420p -t 3",
    ),
    (
        "smptebars-vp9.webm",
        "smptebars=size=352x288:rate=15:duration=2",
        "",
        "-c:v libvpx-vp9 -deadline realtime -cpu-used 8",
    ),
    (
        "grey-ffv1.mkv",
        "testsrc2=size=200x150:rate=24:duration=2",
        "format=gray",
        "-c:v ffv1 -pix_fmt gray",
    ),
    (
        "noise-444.mp4",
        "color=c=gray:size=128x96:rate=10:duration=2",
        "noise=alls=100:allf=t+u",
        "-c:v libx264 -pix_fmt yuv444p -preset veryfast",
    ),
    (
        "rotated-padded.mp4",
        "testsrc2=size=240x160:rate=30:duration=2",
        "transpose=1,pad=iw+20:ih+30:10:15",
        "-c:v libx264 -pix_fmt yuv420p -preset veryfast -metadata:s:v:0 rotate=90",
    ),
];

/// `ffmpeg` (or `JIKIMI_FFMPEG`); its absence fails the test.
pub(crate) fn ffmpeg() -> PathBuf {
    let ffmpeg = std::env::var_os("JIKIMI_FFMPEG").map_or_else(|| "ffmpeg".into(), PathBuf::from);
    let found = Command::new(&ffmpeg)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return ffmpeg;
    }
    let how = format!(
        "{} not found: install Debian's ffmpeg (.ci/setup-ffmpeg.sh)",
        ffmpeg.display()
    );
    // As for the reference venv: a `video` build's tests need Debian's ffmpeg; without it they fail, everywhere.
    panic!("{how}");
}

pub(crate) fn make(
    ffmpeg: &Path,
    dir: &Path,
    (name, source, filter, encoder): (&str, &str, &str, &str),
) -> PathBuf {
    let out = dir.join(name);
    let mut command = Command::new(ffmpeg);
    command.args([
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        source,
    ]);
    if !filter.is_empty() {
        command.args(["-vf", filter]);
    }
    command.args(encoder.split(' ')).arg(&out);
    let output = command.output().expect("run ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg failed on {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

#[test]
fn generated_videos_equal_the_reference_frame_for_frame_and_in_comparisons() {
    let (ffmpeg, python) = (ffmpeg(), venv_python());
    let dir = tempfile::tempdir().unwrap();
    let videos: Vec<PathBuf> = VIDEOS
        .iter()
        .map(|&v| make(&ffmpeg, dir.path(), v))
        .collect();
    let mut frames = 0;
    for video in &videos {
        let [full, small] = frames_equal_the_reference(&python, video);
        assert_eq!(full.len(), small.len(), "{}", video.display());
        frames += full.len() + small.len();
    }
    let figures = comparisons_equal_the_reference(&python, &videos);
    // The two codecs of the same pictures match each other well: the figures are not trivially 0 or 100.
    let n = videos.len();
    let (query, compared) = figures[1];
    assert!(
        query > 50.0 && compared > 50.0,
        "testsrc2 h264 vs mpeg4: {query} {compared}"
    );
    let distinct = figures
        .iter()
        .take(n * n)
        .filter(|(q, _)| *q < 100.0)
        .count();
    assert!(distinct > 0, "{figures:?}");
    eprintln!(
        "vpdq generated: {n} videos, {frames} frame lines equal to the reference; {} comparison pairs equal, \
         testsrc2 h264 vs mpeg4 {query:.1}% / {compared:.1}%",
        figures.len()
    );
}

/// A video hashed from memory (a server's upload: an anonymous in-memory file) has exactly the file's features, and
/// the limits stop a frame too large or too many frames before the work is done.
#[test]
fn in_memory_hashing_equals_the_file_and_keeps_to_its_limits() {
    use jikimi_mediahash::video::{
        VideoError, VideoLimits, VideoOptions, hash_video_bytes, hash_video_file,
    };
    let ffmpeg = ffmpeg();
    let dir = tempfile::tempdir().unwrap();
    let options = VideoOptions {
        seconds_per_hash: 0.5,
        downsample_frame_dimension: 0,
        threads: 1,
        scaler: jikimi_mediahash::video::Scaler::Area,
    };
    for &video in &VIDEOS[..4] {
        let path = make(&ffmpeg, dir.path(), video);
        let bytes = std::fs::read(&path).unwrap();
        let from_file = hash_video_file(&path, options).unwrap();
        let from_memory = hash_video_bytes(&bytes, options, VideoLimits::NONE).unwrap();
        assert_eq!(from_memory, from_file, "{}", video.0);
        assert!(!from_file.is_empty());
        let small = VideoLimits {
            max_pixels: 100,
            ..VideoLimits::NONE
        };
        assert!(matches!(
            hash_video_bytes(&bytes, options, small),
            Err(VideoError::TooLarge("frame size"))
        ));
        let few = VideoLimits {
            max_hashed_frames: 1,
            ..VideoLimits::NONE
        };
        assert!(matches!(
            hash_video_bytes(&bytes, options, few),
            Err(VideoError::TooLarge("frames hashed"))
        ));
        let decoded = VideoLimits {
            max_decoded_frames: 2,
            ..VideoLimits::NONE
        };
        assert!(matches!(
            hash_video_bytes(&bytes, options, decoded),
            Err(VideoError::TooLarge("frames decoded"))
        ));
    }
    assert!(hash_video_bytes(b"not a video", options, VideoLimits::NONE).is_err());
}
