//! The file-system edge of triage: walks the seized tree, reads and hashes what is new or changed in parallel,
//! appends each result to the journal as it is done, and writes the JSON and HTML reports.
//!
//! Resumption: the journal next to the report (`<out>.journal`) is read first, cut back to its last intact line,
//! and every file whose path, size and modification time match a journal line is taken from it instead of being
//! read again. Images are read into memory, decoded, hashed and dropped: no pixel or thumbnail is written anywhere.
//! Symbolic links are not followed (a link could lead out of the seized tree).

use super::bank::{Bank, BankError, BankSpec};
use super::journal::{self, Entry, Hashed, JournalError};
use super::report::{self, Item, Report};
use super::sniff::{self, MediaKind};
use crate::{DecodeLimits, Luma, RgbImage, decode_rgb8, pdq_dihedral, pdq_hash};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

/// Images larger than this are not read into memory (no decodable image of the decoder's limits is this large).
const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// What a triage run is asked to do.
#[derive(Debug, Clone)]
pub struct TriageOptions {
    /// The seized directory tree.
    pub root: PathBuf,
    /// Bank specs (`FILE[:distance=N][:dihedral][:name=NAME]`).
    pub banks: Vec<String>,
    /// Distance of banks that set none.
    pub default_distance: u32,
    /// The JSON report; the journal is `<out>.journal`.
    pub out: PathBuf,
    /// The HTML report, if wanted.
    pub html: Option<PathBuf>,
    /// Hashing threads (`None`: one per core).
    pub threads: Option<usize>,
    /// Draw a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
}

/// How far a run is, for a caller watching it from another thread (a server's job): files found, files taken
/// from the journal, and files hashed (or failed) in this run so far.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files found by the walk (set once the walk is done).
    pub files: AtomicU64,
    /// Files taken from the journal unchanged.
    pub from_journal: AtomicU64,
    /// Files to hash in this run.
    pub to_hash: AtomicU64,
    /// Files hashed (or failed) in this run so far.
    pub hashed: AtomicU64,
}

/// What a run did, besides its report.
#[derive(Debug, Clone)]
pub struct TriageRun {
    /// The report (also written to `out`).
    pub report: Report,
    /// Files read and hashed in this run.
    pub hashed_now: usize,
    /// Files taken from the journal unchanged.
    pub from_journal: usize,
    /// Journal lines that were damaged (a torn last line) and ignored.
    pub damaged_journal_lines: usize,
    /// The journal file.
    pub journal: PathBuf,
}

/// Why a run failed (a file of the tree that cannot be read is not a failure: it is in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriageError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A bank could not be read.
    #[error("bank {path}: {source}")]
    Bank {
        /// The list file.
        path: String,
        /// The cause.
        source: BankError,
    },
    /// Two banks have the same name (the report groups by name).
    #[error("two banks are named `{0}`: give one another name (`FILE:name=NAME`)")]
    DuplicateBank(String),
    /// The journal cannot be used.
    #[error("journal {path}: {source} (remove it, or choose another --out, to start afresh)")]
    Journal {
        /// The journal.
        path: PathBuf,
        /// The cause.
        source: JournalError,
    },
    /// The root is not a directory.
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
    /// Encoding the report failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The thread pool could not be started.
    #[error("thread pool: {0}")]
    Threads(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TriageError + '_ {
    move |source| TriageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The journal of a report: `<out>.journal`, next to it.
pub fn journal_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// Reads the banks named by `specs`.
pub fn load_banks(specs: &[String], default_distance: u32) -> Result<Vec<Bank>, TriageError> {
    let mut banks: Vec<Bank> = Vec::new();
    for raw in specs {
        let spec = BankSpec::parse(raw, |p| Path::new(p).is_file());
        let path = Path::new(&spec.path);
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let text = String::from_utf8_lossy(&bytes);
        let bank = Bank::from_list(&spec.path, &text, spec.options, default_distance).map_err(
            |source| TriageError::Bank {
                path: spec.path.clone(),
                source,
            },
        )?;
        if banks.iter().any(|b| b.name == bank.name) {
            return Err(TriageError::DuplicateBank(bank.name));
        }
        banks.push(bank);
    }
    Ok(banks)
}

/// A regular file found by the walk.
struct Found {
    abs: PathBuf,
    rel: String,
    size: u64,
    mtime_ns: i64,
}

/// Walks `dir` (sorted, symlinks not followed); directories that cannot be listed become report items.
fn walk(root: &Path, dir: &Path, found: &mut Vec<Found>, failed: &mut Vec<Item>) {
    let rel_of = |p: &Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            failed.push(Item::ReadFailed {
                path: rel_of(dir) + "/",
                size: 0,
                reason: format!("cannot list directory: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            walk(root, &path, found, failed);
        } else if kind.is_file() {
            match e.metadata() {
                Ok(meta) => found.push(Found {
                    rel: rel_of(&path),
                    size: meta.len(),
                    mtime_ns: meta
                        .modified()
                        .ok()
                        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
                    abs: path,
                }),
                Err(err) => failed.push(Item::ReadFailed {
                    path: rel_of(&path),
                    size: 0,
                    reason: err.to_string(),
                }),
            }
        }
    }
}

/// Whether a journal line can stand for the file now: same size and time, and not a video this build could hash
/// now but one without the `video` feature could not then.
fn reusable(entry: &Entry) -> bool {
    !(cfg!(feature = "video") && entry.hashed == Hashed::VideoNotHashed)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads up to `buf.len()` bytes (fewer only at the end of the file).
fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads, sniffs and hashes one file. `Err` is an I/O failure (reported, not journalled).
fn hash_file(found: &Found, by_sha: &HashMap<&str, &Hashed>) -> std::io::Result<Entry> {
    let mut file = File::open(&found.abs)?;
    let mut head = vec![0u8; sniff::TS_PROBE_LEN];
    let n = read_up_to(&mut file, &mut head)?;
    head.truncate(n);
    let mut kind = sniff::sniff(&head);
    if kind == MediaKind::Other && sniff::looks_like_transport_stream(&head) {
        kind = MediaKind::Video;
    }
    let mut sha = Sha256::new();
    sha.update(&head);
    let mut bytes = Vec::new();
    let too_large = kind == MediaKind::Image && found.size > MAX_IMAGE_BYTES;
    if kind == MediaKind::Image && !too_large {
        bytes = head;
        file.read_to_end(&mut bytes)?;
        sha.update(bytes.get(n..).unwrap_or_default());
    } else {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let k = read_up_to(&mut file, &mut buf)?;
            if k == 0 {
                break;
            }
            sha.update(&buf[..k]);
        }
    }
    let sha256 = hex(&sha.finalize());
    let hashed = match by_sha.get(sha256.as_str()) {
        Some(&done) => done.clone(),
        None if too_large => Hashed::Unreadable {
            reason: format!("image file larger than {MAX_IMAGE_BYTES} bytes"),
        },
        None => hash_content(kind, &bytes, &found.abs),
    };
    Ok(Entry {
        path: found.rel.clone(),
        size: found.size,
        mtime_ns: found.mtime_ns,
        sha256,
        kind,
        hashed,
    })
}

fn hash_content(kind: MediaKind, bytes: &[u8], path: &Path) -> Hashed {
    match kind {
        MediaKind::Image => hash_image(bytes),
        MediaKind::UndecodableImage => Hashed::Unreadable {
            reason: "image format this build cannot decode (HEIF, AVIF or JPEG 2000)".to_owned(),
        },
        MediaKind::Video => hash_video(path),
        MediaKind::Other => Hashed::NotMedia,
    }
}

fn hash_image(bytes: &[u8]) -> Hashed {
    let decoded = match decode_rgb8(bytes, DecodeLimits::default()) {
        Ok(d) => d,
        Err(e) => {
            return Hashed::Unreadable {
                reason: e.to_string(),
            };
        }
    };
    let Some(image) = RgbImage::new(
        decoded.width as usize,
        decoded.height as usize,
        &decoded.rgb,
    ) else {
        return Hashed::Unreadable {
            reason: "image has zero width or height".to_owned(),
        };
    };
    let pdq = pdq_hash(image, Luma::Pdqhash);
    let dihedral = pdq_dihedral(image, Luma::Pdqhash);
    Hashed::Image {
        format: decoded.format.to_owned(),
        width: decoded.width,
        height: decoded.height,
        quality: pdq.quality,
        pdq: pdq.hash,
        dihedral: dihedral.hashes.to_vec(),
    }
}

#[cfg(feature = "video")]
fn hash_video(path: &Path) -> Hashed {
    let options = crate::video::VideoOptions {
        seconds_per_hash: 1.0,
        downsample_frame_dimension: 0,
        // The files are already hashed in parallel.
        threads: 1,
        scaler: crate::video::Scaler::Area,
    };
    match crate::video::hash_video_file(path, options) {
        Ok(features) => Hashed::Video {
            frames_hashed: u32::try_from(features.len()).unwrap_or(u32::MAX),
            frames: features
                .iter()
                .filter(|f| f.quality >= report::MIN_FRAME_QUALITY)
                .map(|f| journal::FrameHash {
                    frame: f.frame_number,
                    quality: f.quality,
                    pdq: f.hash,
                })
                .collect(),
        },
        Err(e) => Hashed::Unreadable {
            reason: format!("video: {e}"),
        },
    }
}

#[cfg(not(feature = "video"))]
fn hash_video(_path: &Path) -> Hashed {
    Hashed::VideoNotHashed
}

/// Opens the journal, cuts a torn tail, and returns it (positioned at its end) with what it holds.
fn open_journal(path: &Path) -> Result<(File, journal::Parsed), TriageError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err(path))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err(path))?;
    let parsed = journal::parse(&bytes).map_err(|source| TriageError::Journal {
        path: path.to_owned(),
        source,
    })?;
    let keep = if parsed.has_header {
        parsed.intact_len
    } else {
        0
    };
    file.set_len(keep as u64).map_err(io_err(path))?;
    file.seek(SeekFrom::Start(keep as u64))
        .map_err(io_err(path))?;
    if !parsed.has_header {
        let header = journal::header_line().map_err(|source| TriageError::Journal {
            path: path.to_owned(),
            source,
        })?;
        file.write_all(header.as_bytes()).map_err(io_err(path))?;
    }
    Ok((file, parsed))
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`, so a reader never sees half.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TriageError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Runs a triage: see the module documentation.
pub fn triage(options: &TriageOptions) -> Result<TriageRun, TriageError> {
    if !options.root.is_dir() {
        return Err(TriageError::NotADirectory(options.root.clone()));
    }
    let banks = load_banks(&options.banks, options.default_distance)?;
    triage_with_banks(options, &banks, None)
}

/// Runs a triage against `banks` already in memory (`options.banks` is not read), reporting its progress to
/// `progress` if given.
pub fn triage_with_banks(
    options: &TriageOptions,
    banks: &[Bank],
    progress: Option<&Progress>,
) -> Result<TriageRun, TriageError> {
    if !options.root.is_dir() {
        return Err(TriageError::NotADirectory(options.root.clone()));
    }
    let journal_file = journal_path(&options.out);
    let (file, parsed) = open_journal(&journal_file)?;
    let mut latest: HashMap<&str, &Entry> = HashMap::new();
    let mut by_sha: HashMap<&str, &Hashed> = HashMap::new();
    for e in &parsed.entries {
        latest.insert(e.path.as_str(), e);
        if reusable(e) {
            by_sha.insert(e.sha256.as_str(), &e.hashed);
        }
    }
    let (mut found, mut items) = (Vec::new(), Vec::new());
    walk(&options.root, &options.root, &mut found, &mut items);
    let mut todo = Vec::new();
    for f in &found {
        match latest.get(f.rel.as_str()) {
            Some(e) if e.size == f.size && e.mtime_ns == f.mtime_ns && reusable(e) => {
                items.push(Item::Done((*e).clone()));
            }
            _ => todo.push(f),
        }
    }
    let from_journal = items.iter().filter(|i| matches!(i, Item::Done(_))).count();
    if let Some(p) = progress {
        p.files.store(found.len() as u64, Ordering::Relaxed);
        p.from_journal.store(from_journal as u64, Ordering::Relaxed);
        p.to_hash.store(todo.len() as u64, Ordering::Relaxed);
    }
    let bar = if options.progress && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(todo.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {per_sec} {eta} {msg}")
    {
        bar.set_style(style);
    }
    bar.set_message(format!("({from_journal} from the journal)"));
    let journal = Mutex::new(file);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.unwrap_or(0))
        .build()
        .map_err(|e| TriageError::Threads(e.to_string()))?;
    let hashed: Vec<Item> = pool.install(|| {
        todo.par_iter()
            .map(|f| {
                let item = match hash_file(f, &by_sha) {
                    Ok(entry) => {
                        let line =
                            journal::entry_line(&entry).map_err(|source| TriageError::Journal {
                                path: journal_file.clone(),
                                source,
                            })?;
                        // One write per line: an interruption tears at most this line.
                        let mut j = journal.lock().unwrap_or_else(|p| p.into_inner());
                        j.write_all(line.as_bytes())
                            .map_err(io_err(&journal_file))?;
                        Item::Done(entry)
                    }
                    Err(e) => Item::ReadFailed {
                        path: f.rel.clone(),
                        size: f.size,
                        reason: e.to_string(),
                    },
                };
                bar.inc(1);
                if let Some(p) = progress {
                    p.hashed.fetch_add(1, Ordering::Relaxed);
                }
                Ok(item)
            })
            .collect::<Result<Vec<Item>, TriageError>>()
    })?;
    bar.finish_and_clear();
    let hashed_now = hashed.len();
    items.extend(hashed);
    let report = report::build(&options.root.to_string_lossy(), banks, &items);
    let mut json = serde_json::to_vec_pretty(&report)?;
    json.push(b'\n');
    write_atomically(&options.out, &json)?;
    if let Some(html) = &options.html {
        write_atomically(html, super::html::render(&report).as_bytes())?;
    }
    Ok(TriageRun {
        report,
        hashed_now,
        from_journal,
        damaged_journal_lines: parsed.damaged_lines,
        journal: journal_file,
    })
}
