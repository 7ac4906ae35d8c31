//! `jikimi pdq hash-video` and `jikimi pdq compare-video`: the vPDQ command line (file-system edge, like
//! [`crate::cli`]).
//!
//! `hash-video` prints, per video, exactly the lines Meta's `vpdq-hash-video` writes (`frame,quality,hash,ts`);
//! with several videos each block is preceded by a `# path` line, or each goes to `DIR/<stem>.txt` with
//! `--output-directory` as the reference's `-d`. `compare-video` compares one query video with many others
//! through [`crate::vpdq::VideoIndex`] (the figures of the reference's `match-hashes-brute`); either side may be
//! a video file (hashed first) or a `.txt` hash file.

use crate::cli::{CliError, io_err};
use crate::video::{Scaler, VideoOptions, hash_video_file, use_portable_code};
use crate::vpdq::{
    DEFAULT_DISTANCE_TOLERANCE, DEFAULT_QUALITY_TOLERANCE, VideoIndex, VideoMatch, VpdqFeature,
    parse_features,
};
use clap::Args;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Arguments of `jikimi pdq hash-video`.
#[derive(Debug, Args)]
pub struct HashVideoArgs {
    /// Seconds between hashed frames (0: every frame), as the reference's `--seconds-per-hash`.
    #[arg(long)]
    seconds_per_hash: f64,
    /// Scale frames to N x N before hashing (0: the video's size).
    #[arg(long, default_value_t = 0)]
    downsample_frame_dimension: u32,
    /// Hashing threads (0: one per core), as the reference's `--thread-count`; the output is the same.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    conversion: ConversionArgs,
    /// Write each video's hashes to DIR/<file stem>.txt instead of stdout.
    #[arg(long, conflicts_with = "json")]
    output_directory: Option<PathBuf>,
    /// Print a JSON array of {"file","frames":[{"frame_number","quality","hash","timestamp","line"}]}.
    #[arg(long)]
    json: bool,
    /// Video files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Arguments of `jikimi pdq compare-video`.
#[derive(Debug, Args)]
pub struct CompareVideoArgs {
    /// Frames match when their distance is below this (the reference's `distanceTolerance`).
    #[arg(long, default_value_t = DEFAULT_DISTANCE_TOLERANCE, value_parser = clap::value_parser!(u32).range(0..=32))]
    distance_tolerance: u32,
    /// Frames below this quality are left out on both sides.
    #[arg(long, default_value_t = DEFAULT_QUALITY_TOLERANCE)]
    quality_tolerance: u32,
    /// For video files: seconds between hashed frames.
    #[arg(long, default_value_t = 1.0)]
    seconds_per_hash: f64,
    /// For video files: scale frames to N x N before hashing.
    #[arg(long, default_value_t = 0)]
    downsample_frame_dimension: u32,
    /// For video files: hashing threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    conversion: ConversionArgs,
    /// Print a JSON array of {"query","compared","query_match_percent","compared_match_percent"}.
    #[arg(long)]
    json: bool,
    /// The query: a video file or a `.txt` vPDQ hash file.
    query: PathBuf,
    /// The videos (or `.txt` hash files) to compare it with.
    #[arg(required = true)]
    compared: Vec<PathBuf>,
}

/// How frames are converted to RGB24 before hashing; the defaults are vpdq 0.2.5's on this machine.
#[derive(Debug, Args)]
struct ConversionArgs {
    /// swscale algorithm of the conversion to RGB24: `area` is vpdq 0.2.5's; `lanczos` is vpdq's before 0.2.5,
    /// which made the `-128x128` sample hashes it ships. It changes pixels only where swscale scales: a downsample
    /// dimension, or yuv420p chroma at an odd height.
    #[arg(long, value_enum, default_value_t = Scaler::Area)]
    scaler: Scaler,
    /// Run FFmpeg's portable C code instead of this CPU's SIMD code, whose x86 conversion to RGB24 rounds
    /// differently: x86 nodes then hash as ARM nodes do, so hashes shared between them are equal (slower). Meta's
    /// full-size sample hashes of 2022 were made so.
    #[arg(long)]
    portable: bool,
}

impl ConversionArgs {
    /// Applies `--portable` (process-wide, so before any hashing starts) and returns the options.
    fn options(&self, seconds_per_hash: f64, downsample: u32, threads: usize) -> VideoOptions {
        if self.portable {
            // The command hashes nothing before this, and nothing else in the process uses FFmpeg.
            use_portable_code(true);
        }
        VideoOptions {
            seconds_per_hash,
            downsample_frame_dimension: downsample,
            threads,
            scaler: self.scaler,
        }
    }
}

#[derive(serde::Serialize)]
struct FrameJson {
    frame_number: u32,
    quality: u32,
    hash: crate::Hash256,
    timestamp: f64,
    line: String,
}

#[derive(serde::Serialize)]
struct VideoJson {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    frames: Option<Vec<FrameJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn stdout_err(e: std::io::Error) -> CliError {
    CliError::Io {
        path: PathBuf::from("<stdout>"),
        source: e,
    }
}

/// Runs `jikimi pdq hash-video`.
pub fn run_hash_video(args: HashVideoArgs) -> Result<(), CliError> {
    let options = args.conversion.options(
        args.seconds_per_hash,
        args.downsample_frame_dimension,
        args.threads,
    );
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut failed, mut json) = (0usize, Vec::new());
    for file in &args.files {
        let name = file.display().to_string();
        match hash_video_file(file, options) {
            Ok(features) if args.json => json.push(VideoJson {
                file: name,
                frames: Some(
                    features
                        .iter()
                        .map(|f| FrameJson {
                            frame_number: f.frame_number,
                            quality: f.quality,
                            hash: f.hash,
                            timestamp: f.timestamp,
                            line: f.to_line(),
                        })
                        .collect(),
                ),
                error: None,
            }),
            Ok(features) => {
                let text: String = features.iter().map(|f| f.to_line() + "\n").collect();
                if let Some(dir) = &args.output_directory {
                    let stem = file.file_stem().unwrap_or(file.as_os_str());
                    let target = dir.join(stem).with_extension("txt");
                    std::fs::write(&target, text).map_err(io_err(&target))?;
                } else {
                    if args.files.len() > 1 {
                        writeln!(out, "# {name}").map_err(stdout_err)?;
                    }
                    out.write_all(text.as_bytes()).map_err(stdout_err)?;
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {name}: {e}");
                if args.json {
                    json.push(VideoJson {
                        file: name,
                        frames: None,
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

fn load(path: &Path, options: VideoOptions) -> Result<Vec<VpdqFeature>, CliError> {
    if path.extension().is_some_and(|e| e == "txt") {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        parse_features(&text).map_err(|e| CliError::Bench(format!("{}: {e}", path.display())))
    } else {
        hash_video_file(path, options)
            .map_err(|e| CliError::Bench(format!("{}: {e}", path.display())))
    }
}

#[derive(serde::Serialize)]
struct CompareJson {
    query: String,
    compared: String,
    #[serde(flatten)]
    result: VideoMatch,
}

/// Runs `jikimi pdq compare-video`: one line (or JSON object) per compared video, in the order given.
pub fn run_compare_video(args: CompareVideoArgs) -> Result<(), CliError> {
    let options = args.conversion.options(
        args.seconds_per_hash,
        args.downsample_frame_dimension,
        args.threads,
    );
    let query = load(&args.query, options)?;
    let mut index = VideoIndex::new(args.quality_tolerance);
    let mut kept_any = Vec::new();
    for path in &args.compared {
        let features = load(path, options)?;
        kept_any.push(features.iter().any(|f| f.quality >= args.quality_tolerance));
        index.insert(&features)?;
    }
    let query_kept = query.iter().any(|f| f.quality >= args.quality_tolerance);
    let found = index.query(&query, args.distance_tolerance);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut rows = Vec::new();
    for (i, path) in args.compared.iter().enumerate() {
        // A video with no hit matches 0 %, or NaN where a side has no frame to divide by (as the reference).
        let result = found
            .iter()
            .find(|m| m.video as usize == i)
            .map(|m| m.result)
            .unwrap_or(VideoMatch {
                query_match_percent: if query_kept { 0.0 } else { f64::NAN },
                compared_match_percent: if kept_any[i] { 0.0 } else { f64::NAN },
            });
        rows.push(CompareJson {
            query: args.query.display().to_string(),
            compared: path.display().to_string(),
            result,
        });
    }
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out).map_err(stdout_err)?;
    } else {
        for r in &rows {
            writeln!(
                out,
                "{:.2} {:.2} {}",
                r.result.query_match_percent, r.result.compared_match_percent, r.compared
            )
            .map_err(stdout_err)?;
        }
    }
    out.flush().map_err(stdout_err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct HashVideo {
        #[command(flatten)]
        args: HashVideoArgs,
    }

    // Parsing only: `options()` with `--portable` would switch FFmpeg's code for the whole test process.
    #[test]
    fn conversion_flags_parse_and_default_to_the_reference() {
        let default = HashVideo::try_parse_from(["t", "--seconds-per-hash", "0", "v.mp4"]).unwrap();
        assert_eq!(default.args.conversion.scaler, Scaler::Area);
        assert!(!default.args.conversion.portable);
        let set = HashVideo::try_parse_from([
            "t",
            "--seconds-per-hash",
            "0",
            "--scaler",
            "lanczos",
            "--portable",
            "v.mp4",
        ])
        .unwrap();
        assert_eq!(set.args.conversion.scaler, Scaler::Lanczos);
        assert!(set.args.conversion.portable);
        assert!(
            HashVideo::try_parse_from(["t", "--seconds-per-hash", "0", "--scaler", "bicubic", "v"])
                .is_err()
        );
    }
}
