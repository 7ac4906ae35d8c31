//! The conversion settings that leave vpdq 0.2.5's defaults, checked against an independent reference present in CI:
//! Debian's `ffmpeg` tool decodes videos it makes from lavfi sources into RGB24 frames, which are hashed here with the
//! crate's PDQ ([`hash_frame`]), and every frame's line must equal [`hash_video_file`]'s.
//!
//! - The portable code ([`use_portable_code`]): `ffmpeg -cpuflags 0` (its global option calls the same
//!   `av_force_cpu_flags(0)`), at full size and at 128x128; and the switch back gives the default frames again.
//! - The scalers: `ffmpeg -sws_flags lanczos|area [-s 128x128]`, whose scale filter makes the same swscale
//!   conversion as [`Scaler::Lanczos`] / [`Scaler::Area`] (one context, from the decoded size and format to RGB24
//!   at the output size, with only that flag), with the default code and with the portable code.
//!
//! The videos are H.264 (decoding exact by the standard, whatever the code path): a yuv420p one of even size, which
//! swscale converts at full size with its direct yuv->RGB code, and an odd-sized yuv444p one, which goes through
//! its general scaler. `use_portable_code` is process-wide, and the other tests of this binary hash videos at the
//! same time, so that test re-runs itself, alone, in a child process of this test binary.

use crate::vpdq_generated::{ffmpeg, make};
use jikimi_mediahash::RgbImage;
use jikimi_mediahash::video::{Scaler, VideoOptions, hash_video_file, use_portable_code};
use jikimi_mediahash::vpdq::hash_frame;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Name, lavfi source, encoder arguments, width, height, frame rate (as `avg_frame_rate`).
type Video = (&'static str, &'static str, &'static str, usize, usize, f64);

const VIDEOS: &[Video] = &[
    (
        "testsrc2-420.mp4",
        "testsrc2=size=320x240:rate=25:duration=2",
        "-c:v libx264 -pix_fmt yuv420p -preset veryfast",
        320,
        240,
        25.0,
    ),
    (
        "mandelbrot-444-odd.mp4",
        "mandelbrot=size=161x121:rate=30000/1001",
        "-c:v libx264 -pix_fmt yuv444p -preset veryfast -t 2",
        161,
        121,
        30000.0 / 1001.0,
    ),
];

/// Set in the child process that runs the portable test alone.
const CHILD: &str = "JIKIMI_TEST_PORTABLE_CHILD";

fn make_all(dir: &Path) -> Vec<(PathBuf, &'static Video)> {
    let ffmpeg = ffmpeg();
    VIDEOS
        .iter()
        .map(|v| (make(&ffmpeg, dir, (v.0, v.1, "", v.2)), v))
        .collect()
}

/// The `ffmpeg` tool's RGB24 frames of `video` (every decoded frame, none dropped or repeated), hashed with the
/// crate's PDQ as `hash_video_file` numbers and times them.
fn tool_lines(
    video: &Path,
    &(name, _, _, width, height, rate): &Video,
    portable: bool,
    sws_flags: &str,
    dimension: u32,
) -> Vec<String> {
    let mut command = Command::new(ffmpeg());
    command.args(["-hide_banner", "-loglevel", "error", "-nostdin"]);
    if portable {
        command.args(["-cpuflags", "0"]);
    }
    command.arg("-i").arg(video).args(["-sws_flags", sws_flags]);
    let (width, height) = if dimension > 0 {
        command.args(["-s", &format!("{dimension}x{dimension}")]);
        (dimension as usize, dimension as usize)
    } else {
        (width, height)
    };
    command.args([
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]);
    let output = command.output().expect("run ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg failed on {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let size = width * height * 3;
    assert!(
        !output.stdout.is_empty() && output.stdout.len().is_multiple_of(size),
        "{name}: {} bytes of {width}x{height} RGB24 frames",
        output.stdout.len()
    );
    output
        .stdout
        .chunks(size)
        .enumerate()
        .map(|(n, frame)| {
            let image = RgbImage::new(width, height, frame).unwrap();
            hash_frame(image, n as u32, rate as f32).to_line()
        })
        .collect()
}

fn library_lines(video: &Path, scaler: Scaler, dimension: u32) -> Vec<String> {
    let options = VideoOptions {
        seconds_per_hash: 0.0,
        downsample_frame_dimension: dimension,
        threads: 1,
        scaler,
    };
    hash_video_file(video, options)
        .unwrap_or_else(|e| panic!("{}: {e}", video.display()))
        .iter()
        .map(|f| f.to_line())
        .collect()
}

/// Every conversion (area at full size, area and lanczos at 128x128) of every video equals the tool's on the same
/// code path; returns the tool's lines, by video then conversion.
fn conversions_equal_the_tool(
    videos: &[(PathBuf, &'static Video)],
    portable: bool,
) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for (path, video) in videos {
        for (scaler, flags, dimension) in [
            (Scaler::Area, "area", 0),
            (Scaler::Area, "area", 128),
            (Scaler::Lanczos, "lanczos", 128),
        ] {
            let theirs = tool_lines(path, video, portable, flags, dimension);
            let ours = library_lines(path, scaler, dimension);
            assert_eq!(
                ours.len(),
                theirs.len(),
                "{} {flags} {dimension}: frame count",
                video.0
            );
            for (a, b) in ours.iter().zip(&theirs) {
                assert_eq!(a, b, "{} {flags} {dimension} portable {portable}", video.0);
            }
            all.push(theirs);
        }
    }
    all
}

/// The default code path: `Scaler::Area` and `Scaler::Lanczos` are the tool's `-sws_flags area|lanczos`.
#[test]
fn scalers_equal_the_ffmpeg_tool_frame_for_frame() {
    let dir = tempfile::tempdir().unwrap();
    let videos = make_all(dir.path());
    let lines = conversions_equal_the_tool(&videos, false);
    // Lanczos and area scale differently: the option reaches swscale.
    let differ = lines
        .chunks(3)
        .map(|c| c[1].iter().zip(&c[2]).filter(|(a, b)| a != b).count())
        .sum::<usize>();
    assert!(differ > 0, "lanczos and area gave the same 128x128 hashes");
    let frames: usize = lines.iter().map(Vec::len).sum();
    eprintln!(
        "vpdq scalers: {frames} frame lines equal to ffmpeg's; {differ} of the 128x128 lines differ between area \
         and lanczos"
    );
}

/// `use_portable_code(true)` gives `ffmpeg -cpuflags 0`'s frames, and `false` the default ones again. Run alone
/// in a child process: the switch is process-wide.
#[test]
fn portable_code_equals_the_ffmpeg_tool_with_cpuflags_0() {
    // The child process runs the checks; the parent (the test as the harness runs it) starts the child and
    // requires that it ran exactly this test and passed.
    if std::env::var_os(CHILD).is_some() {
        portable_in_this_process();
    } else {
        portable_in_a_child_process();
    }
}

fn portable_in_a_child_process() {
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, m)| m);
    let name = format!("{module}::portable_code_equals_the_ffmpeg_tool_with_cpuflags_0");
    let output = Command::new(std::env::current_exe().unwrap())
        .args([&name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    eprint!("{stderr}");
    // A filter that matched nothing would pass too: the child must have run exactly this test.
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child test process failed:\n{stdout}\n{stderr}"
    );
}

fn portable_in_this_process() {
    let dir = tempfile::tempdir().unwrap();
    let videos = make_all(dir.path());
    use_portable_code(true);
    let portable = conversions_equal_the_tool(&videos, true);
    use_portable_code(false);
    let default = conversions_equal_the_tool(&videos, false);
    // The two code paths give different hashes on these videos, so each comparison above tells them apart.
    let differ: Vec<usize> = portable
        .iter()
        .zip(&default)
        .map(|(p, d)| p.iter().zip(d).filter(|(a, b)| a != b).count())
        .collect();
    assert!(
        differ[0] > 0,
        "the portable and the default code gave the same full-size hashes: {differ:?}"
    );
    let frames: usize = portable.iter().map(Vec::len).sum();
    eprintln!(
        "vpdq portable: {frames} frame lines equal to ffmpeg -cpuflags 0's (and the default ones after switching \
         back); lines differing from the default code, by video x (area, area 128, lanczos 128): {differ:?}"
    );
}
