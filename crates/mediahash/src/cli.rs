//! `jikimi pdq ...`: the command line of this crate and its only file-system edge.
//!
//! `hash` prints one line (or JSON object) per file, `match` looks files up in a hash list, `list` converts
//! list layouts (the benchmarks are `jikimi bench pdq`, [`crate::bench`]). A file that cannot be read or decoded
//! gets a per-file error on stderr (or in the JSON) and the batch goes on; the exit status then says so, and
//! `match` reports through [`Outcome`] whether anything matched.

use crate::index::{HammingIndex, Hit};
use crate::list::{self, Layout, ListEntry, MatchRecord};
use crate::{DIHEDRAL_NAMES, DecodeLimits, Hash256, Luma, hash_encoded};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// `jikimi pdq`: PDQ perceptual hashes, hash lists and matching.
#[derive(Debug, Args)]
pub struct PdqArgs {
    #[command(subcommand)]
    command: PdqCommand,
}

#[derive(Debug, Subcommand)]
enum PdqCommand {
    /// Hash images: `hash quality path` per line, or a JSON array with --json.
    Hash(HashArgs),
    /// Match images against a hash list (ThreatExchange / HMA CSV or TSV) within a Hamming radius; exits 4 on a match.
    Match(MatchArgs),
    /// Convert a hash list between layouts (written to stdout).
    List(ListArgs),
    /// vPDQ-hash videos: per frame `number,quality,hash,timestamp`, exactly as Meta's `vpdq-hash-video`.
    #[cfg(feature = "video")]
    HashVideo(crate::cli_video::HashVideoArgs),
    /// Compare a video (or vPDQ hash file) with others: query and compared match percentages.
    #[cfg(feature = "video")]
    CompareVideo(crate::cli_video::CompareVideoArgs),
    /// vPDQ-hash videos (not in this build: rebuild with `--features video`, which needs FFmpeg's libraries).
    #[cfg(not(feature = "video"))]
    HashVideo(NotBuiltArgs),
    /// Compare videos by vPDQ (not in this build: rebuild with `--features video`, which needs FFmpeg's libraries).
    #[cfg(not(feature = "video"))]
    CompareVideo(NotBuiltArgs),
}

/// Whatever was passed to a command this build lacks: kept so the command is still known (and its error says how to
/// get it) rather than refused as a usage error.
#[cfg(not(feature = "video"))]
#[derive(Debug, Args)]
pub(crate) struct NotBuiltArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _args: Vec<std::ffi::OsString>,
}

/// Luma choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LumaArg {
    /// f64 sum rounded to f32, as pdqhash / python-threatexchange / HMA.
    Pdqhash,
    /// f32 sum, as the official C++ CLI.
    Float32,
}

impl From<LumaArg> for Luma {
    fn from(l: LumaArg) -> Luma {
        match l {
            LumaArg::Pdqhash => Luma::Pdqhash,
            LumaArg::Float32 => Luma::Float32,
        }
    }
}

#[derive(Debug, Args)]
struct HashArgs {
    /// Also compute the 8 dihedral hashes (original, rotate90, rotate180, rotate270, flipX, flipY,
    /// flipPlus1, flipMinus1).
    #[arg(long)]
    dihedral: bool,
    /// Print a JSON array of {"file","hash","quality"[,"dihedral"]}.
    #[arg(long)]
    json: bool,
    /// Luma arithmetic.
    #[arg(long, value_enum, default_value = "pdqhash")]
    luma: LumaArg,
    /// Image files or directories (walked recursively, in name order).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct MatchArgs {
    /// The hash list (CSV or TSV).
    #[arg(long)]
    list: PathBuf,
    /// Largest Hamming distance that counts as a match (31 is the usual PDQ threshold).
    #[arg(long, default_value_t = 31)]
    radius: u32,
    /// Also match the 8 dihedral variants (rotated and mirrored copies).
    #[arg(long)]
    dihedral: bool,
    /// Print one JSON match record per line.
    #[arg(long)]
    json: bool,
    /// Luma arithmetic.
    #[arg(long, value_enum, default_value = "pdqhash")]
    luma: LumaArg,
    /// Image files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Output layout.
    #[arg(long, value_enum)]
    to: Layout,
    /// Input list (any readable layout).
    input: PathBuf,
}

/// Errors of the command line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The hash list could not be read.
    #[error("{path}: {source}")]
    List {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: list::ListError,
    },
    /// Index failure.
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    /// Writing JSON failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Some files could not be hashed (each was reported on stderr).
    #[error("{0} file(s) could not be hashed")]
    SomeFailed(usize),
    /// Bad benchmark input.
    #[error("{0}")]
    Bench(String),
    /// The command needs a cargo feature this binary was built without (`jikimi` maps it to exit code 5).
    #[error(
        "`{command}` is not in this build of jikimi: rebuild with `cargo build --release --features {feature}` \
         (needs FFmpeg's development libraries, clang and pkg-config; README, \"Video (vPDQ)\")"
    )]
    NotBuilt {
        /// The command, e.g. `pdq hash-video`.
        command: &'static str,
        /// The cargo feature of the `jikimi` package that brings it.
        feature: &'static str,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a command found, for the exit status: a script branches on whether `match` found anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command ran; nothing to signal.
    Done,
    /// `match` found at least one file within the radius of a listed hash.
    MatchFound,
}

/// Runs `jikimi pdq ...`.
pub fn run(args: PdqArgs) -> Result<Outcome, CliError> {
    match args.command {
        PdqCommand::Hash(a) => run_hash(a).map(|()| Outcome::Done),
        PdqCommand::Match(a) => run_match(a),
        PdqCommand::List(a) => run_list(a).map(|()| Outcome::Done),
        #[cfg(feature = "video")]
        PdqCommand::HashVideo(a) => crate::cli_video::run_hash_video(a).map(|()| Outcome::Done),
        #[cfg(feature = "video")]
        PdqCommand::CompareVideo(a) => {
            crate::cli_video::run_compare_video(a).map(|()| Outcome::Done)
        }
        #[cfg(not(feature = "video"))]
        PdqCommand::HashVideo(_) => Err(CliError::NotBuilt {
            command: "pdq hash-video",
            feature: "video",
        }),
        #[cfg(not(feature = "video"))]
        PdqCommand::CompareVideo(_) => Err(CliError::NotBuilt {
            command: "pdq compare-video",
            feature: "video",
        }),
    }
}

/// Expands directories (recursively, sorted by name; symlinked directories are not followed).
pub(crate) fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            walk(&e.path(), out)?;
        } else if kind.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct HashJson {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<Hash256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dihedral: Option<Vec<Hash256>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn hash_path(
    path: &Path,
    luma: Luma,
    dihedral: bool,
) -> Result<crate::ImageHashes, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    Ok(hash_encoded(
        &bytes,
        DecodeLimits::default(),
        luma,
        dihedral,
    )?)
}

fn run_hash(args: HashArgs) -> Result<(), CliError> {
    let files = collect_files(&args.paths)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = 0;
    let mut json = Vec::new();
    let stdout_err = |e| CliError::Io {
        path: PathBuf::from("<stdout>"),
        source: e,
    };
    for file in &files {
        let name = file.display().to_string();
        match hash_path(file, args.luma.into(), args.dihedral) {
            Ok(h) => {
                let dihedral = h.dihedral.map(|d| d.hashes.to_vec());
                if args.json {
                    json.push(HashJson {
                        file: name,
                        hash: Some(h.pdq.hash),
                        quality: Some(h.pdq.quality),
                        dihedral,
                        error: None,
                    });
                } else {
                    let mut line = h.pdq.hash.to_hex();
                    for d in dihedral.iter().flatten() {
                        line.push(' ');
                        line.push_str(&d.to_hex());
                    }
                    writeln!(out, "{line} {} {name}", h.pdq.quality).map_err(stdout_err)?;
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {name}: {e}");
                if args.json {
                    json.push(HashJson {
                        file: name,
                        hash: None,
                        quality: None,
                        dihedral: None,
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

fn read_list(path: &Path) -> Result<Vec<ListEntry>, CliError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let report = list::import(file).map_err(|source| CliError::List {
        path: path.to_owned(),
        source,
    })?;
    for (line, reason) in &report.errors {
        eprintln!("warning: {}:{line}: {reason}", path.display());
    }
    Ok(report.entries)
}

fn run_match(args: MatchArgs) -> Result<Outcome, CliError> {
    let entries = read_list(&args.list)?;
    let index = HammingIndex::from_hashes(entries.iter().map(|e| e.hash).collect())?;
    let list_name = args.list.file_name().map_or_else(
        || args.list.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let files = collect_files(&args.paths)?;
    let bar = ProgressBar::new(files.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} files, {msg} {eta}") {
        bar.set_style(style);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut failed, mut n_matches) = (0usize, 0usize);
    let mut hits: Vec<Hit> = Vec::new();
    for file in &files {
        let name = file.display().to_string();
        match hash_path(file, args.luma.into(), args.dihedral) {
            Ok(h) => {
                let variants: Vec<(Hash256, &'static str)> = match h.dihedral {
                    Some(d) => d.hashes.iter().copied().zip(DIHEDRAL_NAMES).collect(),
                    None => vec![(h.pdq.hash, DIHEDRAL_NAMES[0])],
                };
                for (query, variant) in variants {
                    index.search_into(&query, args.radius, &mut hits);
                    for hit in &hits {
                        let entry = &entries[hit.id as usize];
                        let record = MatchRecord {
                            file: name.clone(),
                            query_hash: query,
                            variant,
                            quality: h.pdq.quality,
                            list: list_name.clone(),
                            list_index: hit.id,
                            list_hash: entry.hash,
                            list_id: entry.id.clone(),
                            tags: entry.tags.clone(),
                            distance: hit.distance,
                            radius: args.radius,
                        };
                        n_matches += 1;
                        let written = if args.json {
                            serde_json::to_writer(&mut out, &record).map_err(CliError::from)?;
                            writeln!(out)
                        } else {
                            writeln!(
                                out,
                                "{} {} {} {} {} {}",
                                record.file,
                                record.distance,
                                record.variant,
                                record.list_hash,
                                record.list_id.as_deref().unwrap_or("-"),
                                record.tags.join(",")
                            )
                        };
                        written.map_err(|e| CliError::Io {
                            path: PathBuf::from("<stdout>"),
                            source: e,
                        })?;
                    }
                }
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {name}: {e}"));
            }
        }
        bar.set_message(format!("{n_matches} matches"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.flush().map_err(io_err(Path::new("<stdout>")))?;
    eprintln!(
        "{} files, {n_matches} matches, {failed} errors, list {} ({} hashes), radius {}",
        files.len(),
        list_name,
        entries.len(),
        args.radius
    );
    // As grep: an error wins over a match (the matches found are printed all the same).
    if failed > 0 {
        return Err(CliError::SomeFailed(failed));
    }
    Ok(if n_matches > 0 {
        Outcome::MatchFound
    } else {
        Outcome::Done
    })
}

fn run_list(args: ListArgs) -> Result<(), CliError> {
    let entries = read_list(&args.input)?;
    let stdout = std::io::stdout();
    list::export(&entries, args.to, stdout.lock()).map_err(|source| CliError::List {
        path: PathBuf::from("<stdout>"),
        source,
    })
}
