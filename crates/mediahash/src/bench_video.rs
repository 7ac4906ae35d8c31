//! `jikimi bench pdq video`: vPDQ hashing throughput (frames per second, decoding included) against Meta's
//! reference `vpdq` 0.2.5 run in the same benchmark run, from its venv (`crates/mediahash/scripts/vpdq-venv.sh`).
//!
//! Both decode with FFmpeg's slice threads; each is timed with one hashing thread (like for like) and with its
//! default, one hashing thread per core. Prints one JSON object.

use crate::cli::CliError;
use crate::video::{VideoOptions, hash_video_file};
use clap::Args;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Arguments of `jikimi bench pdq video`.
#[derive(Debug, Args)]
pub struct BenchVideoArgs {
    /// Seconds between hashed frames (0: every frame).
    #[arg(long, default_value_t = 0.0)]
    seconds_per_hash: f64,
    /// Scale frames to N x N before hashing (0: the video's size).
    #[arg(long, default_value_t = 0)]
    downsample_frame_dimension: u32,
    /// The venv holding the reference `vpdq` (default: ~/.cache/jikimi-venvs/vpdq); absent, only jikimi is timed.
    #[arg(long)]
    reference_venv: Option<PathBuf>,
    /// Video files.
    #[arg(required = true)]
    videos: Vec<PathBuf>,
}

// Times `vpdq.computeHash` over the videos (argv: spf, dim, threads, videos...); prints "frames seconds".
const REFERENCE: &str = r#"
import sys, time, vpdq
spf, dim, threads = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
frames, t0 = 0, time.perf_counter()
for v in sys.argv[4:]:
    frames += len(vpdq.computeHash(v, seconds_per_hash=spf, downsample_width=dim, downsample_height=dim, thread_count=threads))
print(frames, time.perf_counter() - t0)
"#;

fn reference(
    python: &PathBuf,
    args: &BenchVideoArgs,
    threads: u32,
) -> Result<(u64, f64), CliError> {
    let output = Command::new(python)
        .args(["-c", REFERENCE])
        .arg(args.seconds_per_hash.to_string())
        .arg(args.downsample_frame_dimension.to_string())
        .arg(threads.to_string())
        .args(&args.videos)
        .output()
        .map_err(|e| CliError::Bench(format!("{}: {e}", python.display())))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut it = text.split_whitespace();
    match (
        output.status.success(),
        it.next().and_then(|f| f.parse().ok()),
        it.next().and_then(|s| s.parse().ok()),
    ) {
        (true, Some(frames), Some(seconds)) => Ok((frames, seconds)),
        _ => Err(CliError::Bench(format!(
            "reference vpdq failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))),
    }
}

/// Runs `jikimi bench pdq video`.
pub fn run(args: BenchVideoArgs) -> Result<(), CliError> {
    let mut ours = Vec::new();
    for threads in [1, 0] {
        let options = VideoOptions {
            seconds_per_hash: args.seconds_per_hash,
            downsample_frame_dimension: args.downsample_frame_dimension,
            threads,
            // Like for like: the reference timed beside it runs vpdq 0.2.5's scaler and this CPU's SIMD code.
            scaler: crate::video::Scaler::Area,
        };
        let start = Instant::now();
        let mut frames = 0u64;
        for video in &args.videos {
            let features = hash_video_file(video, options)
                .map_err(|e| CliError::Bench(format!("{}: {e}", video.display())))?;
            frames += features.len() as u64;
        }
        ours.push((frames, start.elapsed().as_secs_f64()));
    }
    let venv = args.reference_venv.clone().unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/jikimi-venvs/vpdq")
    });
    let python = venv.join("bin/python");
    let mut out = serde_json::json!({
        "videos": args.videos.len(),
        "seconds_per_hash": args.seconds_per_hash,
        "downsample_frame_dimension": args.downsample_frame_dimension,
    });
    for ((frames, seconds), (key, threads)) in
        ours.iter().zip([("1_thread", 1), ("default_threads", 0)])
    {
        let fps = *frames as f64 / seconds;
        let mut row =
            serde_json::json!({"frames": frames, "seconds": seconds, "frames_per_s": fps});
        if python.exists() {
            let (ref_frames, ref_seconds) = reference(&python, &args, threads)?;
            let ref_fps = ref_frames as f64 / ref_seconds;
            row["reference"] = serde_json::json!({
                "frames": ref_frames,
                "seconds": ref_seconds,
                "frames_per_s": ref_fps,
            });
            row["jikimi_speed_ratio"] = serde_json::json!(fps / ref_fps);
        }
        out[key] = row;
    }
    if !python.exists() {
        out["reference"] = serde_json::json!(format!("absent: {}", python.display()));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
