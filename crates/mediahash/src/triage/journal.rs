//! The resumable journal of a triage run: one JSON line per file hashed, appended as each file is done, so a run
//! that is interrupted (killed, power cut, full disk) loses at most the line being written.
//!
//! Pure: encoding and parsing. A file is identified by its path (relative to the triaged directory), size and
//! modification time; a rerun reuses the line of an unchanged file and hashes only new or changed ones. The
//! content SHA-256 lets a file whose bytes were already hashed under another path (a copy) reuse that result.
//! The last line of an interrupted run may be torn (no newline, half a JSON object): [`parse`] ignores it and says
//! where the intact part ends, so the caller truncates there before appending.

use super::sniff::MediaKind;
use crate::hash::Hash256;

/// First line of every journal: what produced it. A journal with another header is refused, not mixed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// Always [`Header::MAGIC`].
    pub journal: String,
    /// Format version, [`Header::VERSION`].
    pub version: u32,
    /// The luma arithmetic of the hashes (`pdqhash`, as the reference Python tool and HMA).
    pub luma: String,
}

impl Header {
    /// Marks a triage journal.
    pub const MAGIC: &'static str = "jikimi-triage-journal";
    /// The version this code writes and reads.
    pub const VERSION: u32 = 1;

    /// The header this code writes.
    pub fn current() -> Header {
        Header {
            journal: Header::MAGIC.to_owned(),
            version: Header::VERSION,
            luma: "pdqhash".to_owned(),
        }
    }
}

/// A vPDQ frame hash of a video (only frames above the quality threshold are kept).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FrameHash {
    /// Frame number.
    pub frame: u32,
    /// PDQ quality of the frame.
    pub quality: u32,
    /// PDQ hash of the frame.
    pub pdq: Hash256,
}

/// What hashing one file gave.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Hashed {
    /// A decoded image: its PDQ hash and the eight dihedral hashes (reference order, `original` first).
    Image {
        /// Container format.
        format: String,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// PDQ quality (0-100).
        quality: u32,
        /// The PDQ hash.
        pdq: Hash256,
        /// The dihedral hashes, [`crate::DIHEDRAL_NAMES`] order.
        dihedral: Vec<Hash256>,
    },
    /// A video hashed by vPDQ (one frame a second).
    Video {
        /// Frames hashed (all of them, before the quality filter).
        frames_hashed: u32,
        /// The frames kept for matching.
        frames: Vec<FrameHash>,
    },
    /// A video this build cannot hash (built without the `video` feature).
    VideoNotHashed,
    /// Media that could not be decoded (corrupt, truncated, unsupported, too large): why.
    Unreadable {
        /// The reason, never containing pixel data.
        reason: String,
    },
    /// Not an image or a video.
    NotMedia,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Path relative to the triaged directory, `/`-separated.
    pub path: String,
    /// Size in bytes when hashed.
    pub size: u64,
    /// Modification time when hashed, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// The kind sniffed from the content.
    pub kind: MediaKind,
    /// The hashing result.
    #[serde(flatten)]
    pub hashed: Hashed,
}

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The first line is not a triage journal header of this version.
    #[error("not a jikimi triage journal of this version (first line: {0:.80})")]
    BadHeader(String),
    /// Encoding failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// A journal read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Entries in the order written (a later line for the same path supersedes an earlier one).
    pub entries: Vec<Entry>,
    /// Byte length of the intact part: everything up to and including the last newline of a readable line.
    /// Appending must start here.
    pub intact_len: usize,
    /// Lines that could not be read (a torn last line, or damage), ignored.
    pub damaged_lines: usize,
    /// Whether there was a header (an empty journal has none and gets one).
    pub has_header: bool,
}

/// Reads a journal's bytes. Damaged lines are counted and skipped; only a wrong header is an error.
pub fn parse(bytes: &[u8]) -> Result<Parsed, JournalError> {
    let mut parsed = Parsed::default();
    let mut offset = 0;
    for raw in bytes.split_inclusive(|&b| b == b'\n') {
        let start = offset;
        offset += raw.len();
        let complete = raw.ends_with(b"\n");
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        if !parsed.has_header {
            match serde_json::from_slice::<Header>(line) {
                Ok(h) if h == Header::current() && complete => {
                    parsed.has_header = true;
                    parsed.intact_len = offset;
                }
                // A torn header: the run died before writing anything; start again.
                _ if !complete && start == 0 => return Ok(Parsed::default()),
                _ => {
                    return Err(JournalError::BadHeader(
                        String::from_utf8_lossy(line).into_owned(),
                    ));
                }
            }
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) if complete => {
                parsed.entries.push(entry);
                parsed.intact_len = offset;
            }
            // A line whose newline was not written is torn even if its JSON happens to parse.
            _ if !complete => parsed.damaged_lines += 1,
            _ => {
                parsed.damaged_lines += 1;
                parsed.intact_len = offset;
            }
        }
    }
    Ok(parsed)
}

/// The header line, with its newline.
pub fn header_line() -> Result<String, JournalError> {
    Ok(serde_json::to_string(&Header::current())? + "\n")
}

/// One entry's line, with its newline (written with one `write_all`, so a crash tears at most this line).
pub fn entry_line(entry: &Entry) -> Result<String, JournalError> {
    Ok(serde_json::to_string(entry)? + "\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(path: &str) -> Entry {
        Entry {
            path: path.to_owned(),
            size: 3,
            mtime_ns: 1_700_000_000_000_000_000,
            sha256: "ab".repeat(32),
            kind: MediaKind::Image,
            hashed: Hashed::Image {
                format: "png".to_owned(),
                width: 64,
                height: 64,
                quality: 100,
                pdq: Hash256::ZERO,
                dihedral: vec![Hash256::ZERO; 8],
            },
        }
    }

    #[test]
    fn round_trip_and_torn_last_line() {
        let mut text = header_line().unwrap();
        text += &entry_line(&entry("a/b.png")).unwrap();
        let mut other = entry("c");
        other.hashed = Hashed::Unreadable {
            reason: "corrupt".to_owned(),
        };
        text += &entry_line(&other).unwrap();
        let whole = parse(text.as_bytes()).unwrap();
        assert_eq!(whole.entries, [entry("a/b.png"), other]);
        assert_eq!(whole.intact_len, text.len());
        let torn_line = entry_line(&entry("d")).unwrap();
        let torn = format!("{text}{}", &torn_line[..torn_line.len() / 2]);
        let parsed = parse(torn.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!((parsed.intact_len, parsed.damaged_lines), (text.len(), 1));
        // A complete JSON object without its newline is torn too.
        let unterminated = format!("{text}{}", torn_line.trim_end());
        assert_eq!(
            parse(unterminated.as_bytes()).unwrap().intact_len,
            text.len()
        );
        assert!(parse(b"{\"journal\":\"other\"}\n").is_err());
        assert_eq!(parse(b"{\"jour").unwrap(), Parsed::default());
    }
}
