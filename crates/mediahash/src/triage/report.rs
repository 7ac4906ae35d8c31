//! The triage report: every file of the seized tree put in one place (known by bank, category and series; unknown;
//! unreadable with its reason; video not hashed; not media), with totals and the share pre-categorised.
//!
//! Pure and deterministic: built from the journal's entries and the banks, sorted by path, holding no time stamp,
//! so an interrupted and resumed run gives the same report as an uninterrupted one. Holds hashes and paths, never
//! pixels.

use super::bank::{Bank, BankMatch, lookup};
use super::journal::{Entry, Hashed};
use super::sniff::MediaKind;
use crate::hash::Hash256;
use crate::pdq::DIHEDRAL_NAMES;
use std::collections::{BTreeMap, BTreeSet};

/// Frames of a video with a PDQ quality below this are not matched (vPDQ's default quality tolerance): flat
/// frames (black, fades) match one another whatever the video.
pub const MIN_FRAME_QUALITY: u32 = 50;

/// Why a video is listed but has no hashes: said in the report and on stderr, never left out quietly.
pub const VIDEO_NOT_BUILT: &str = "video, not hashed: build with --features video";

/// A bank as the report describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BankSummary {
    /// Name.
    pub name: String,
    /// The list file.
    pub source: String,
    /// Entries.
    pub entries: usize,
    /// Match distance.
    pub distance: u32,
    /// Whether rotated and mirrored copies are matched.
    pub dihedral: bool,
    /// Rows of the list that could not be read.
    pub bad_rows: usize,
    /// Files with at least one match in this bank.
    pub files_matched: usize,
}

/// Counts over the whole tree.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    /// Every regular file found.
    pub files: usize,
    /// Bytes of all files.
    pub bytes: u64,
    /// Images hashed.
    pub images_hashed: usize,
    /// Videos hashed.
    pub videos_hashed: usize,
    /// Videos found but not hashed (this build has no video decoder).
    pub videos_not_hashed: usize,
    /// Images and videos that could not be read or decoded.
    pub unreadable: usize,
    /// Files that are neither images nor videos.
    pub not_media: usize,
    /// Hashed files matching at least one bank.
    pub known: usize,
    /// Hashed files matching no bank.
    pub unknown: usize,
    /// `known / (known + unknown)`: the share of hashed media pre-categorised by the banks (0 when none).
    pub share_precategorised: f64,
    /// Distinct contents (SHA-256) among the hashed media.
    pub distinct_media_contents: usize,
    /// Hashed media files whose content equals an earlier one's.
    pub duplicate_media_files: usize,
}

/// Files of one series within a category.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeriesCount {
    /// Series label.
    pub series: String,
    /// Files matching an entry of that series.
    pub files: usize,
}

/// Files of one category of one bank.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CategoryCount {
    /// Bank name.
    pub bank: String,
    /// Category label.
    pub category: String,
    /// Files matching an entry of that category (a file counts once per category).
    pub files: usize,
    /// By series.
    pub series: Vec<SeriesCount>,
}

/// A file that matched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KnownItem {
    /// Path relative to the root.
    pub path: String,
    /// Image or video.
    pub kind: MediaKind,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Every bank entry it matched, closest variant each.
    pub matches: Vec<BankMatch>,
}

/// A hashed file that matched nothing: the never-seen material an investigator looks at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnknownItem {
    /// Path relative to the root.
    pub path: String,
    /// Image or video.
    pub kind: MediaKind,
    /// SHA-256 of the content.
    pub sha256: String,
    /// PDQ hash (of an image; a video's first kept frame), for adding to a bank later.
    pub pdq: Option<Hash256>,
    /// PDQ quality (images; below 50 the hash says little).
    pub quality: Option<u32>,
}

/// A file that was not hashed, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SetAside {
    /// Path relative to the root.
    pub path: String,
    /// What the content looked like.
    pub kind: MediaKind,
    /// Why it is not hashed.
    pub reason: String,
}

/// The whole report (`--out report.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The directory triaged, as given.
    pub root: String,
    /// Banks used.
    pub banks: Vec<BankSummary>,
    /// Counts.
    pub totals: Totals,
    /// Known files by bank, category and series.
    pub categories: Vec<CategoryCount>,
    /// Files that matched, by path.
    pub known: Vec<KnownItem>,
    /// Hashed files that matched nothing, by path.
    pub unknown: Vec<UnknownItem>,
    /// Media that could not be read or decoded, by path.
    pub unreadable: Vec<SetAside>,
    /// Videos not hashed by this build, by path.
    pub videos_not_hashed: Vec<SetAside>,
}

/// A file of the tree and what became of it: its journal entry, or why it could not even be read.
#[derive(Debug, Clone)]
pub enum Item {
    /// Hashed now or earlier (journal).
    Done(Entry),
    /// Could not be opened or read (permissions, I/O error): path, size and reason. Not journalled, so a rerun
    /// tries again.
    ReadFailed {
        /// Path relative to the root.
        path: String,
        /// Size from the directory listing (0 if unknown).
        size: u64,
        /// The error.
        reason: String,
    },
}

/// The (hash, variant name) pairs of an entry to look up.
fn queries(hashed: &Hashed) -> Vec<(Hash256, String)> {
    match hashed {
        Hashed::Image { pdq, dihedral, .. } => {
            let mut q = vec![(*pdq, DIHEDRAL_NAMES[0].to_owned())];
            q.extend(
                dihedral
                    .iter()
                    .zip(DIHEDRAL_NAMES)
                    .skip(1)
                    .map(|(h, n)| (*h, n.to_owned())),
            );
            q
        }
        Hashed::Video { frames, .. } => frames
            .iter()
            .filter(|f| f.quality >= MIN_FRAME_QUALITY)
            .map(|f| (f.pdq, format!("frame {}", f.frame)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Builds the report of `items` (one per file of the tree, any order) against `banks`.
pub fn build(root: &str, banks: &[Bank], items: &[Item]) -> Report {
    let mut items: Vec<&Item> = items.iter().collect();
    items.sort_by(|a, b| path_of(a).cmp(path_of(b)));
    let mut totals = Totals {
        files: items.len(),
        ..Totals::default()
    };
    let (mut known, mut unknown, mut unreadable, mut videos_not_hashed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut contents = BTreeSet::new();
    let mut per_bank: BTreeMap<String, usize> = BTreeMap::new();
    // (bank, category) -> (files, series -> files)
    let mut cats: BTreeMap<(String, String), (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for item in items {
        let entry = match item {
            Item::Done(e) => e,
            Item::ReadFailed { path, size, reason } => {
                totals.bytes += size;
                totals.unreadable += 1;
                unreadable.push(SetAside {
                    path: path.clone(),
                    kind: MediaKind::Other,
                    reason: format!("cannot read: {reason}"),
                });
                continue;
            }
        };
        totals.bytes += entry.size;
        let set_aside = |reason: &str| SetAside {
            path: entry.path.clone(),
            kind: entry.kind,
            reason: reason.to_owned(),
        };
        match &entry.hashed {
            Hashed::NotMedia => {
                totals.not_media += 1;
                continue;
            }
            Hashed::VideoNotHashed => {
                totals.videos_not_hashed += 1;
                videos_not_hashed.push(set_aside(VIDEO_NOT_BUILT));
                continue;
            }
            Hashed::Unreadable { reason } => {
                totals.unreadable += 1;
                unreadable.push(set_aside(reason));
                continue;
            }
            Hashed::Image { .. } => totals.images_hashed += 1,
            Hashed::Video { .. } => totals.videos_hashed += 1,
        }
        if !contents.insert(entry.sha256.clone()) {
            totals.duplicate_media_files += 1;
        }
        let matches = lookup(banks, &queries(&entry.hashed));
        if matches.is_empty() {
            let (pdq, quality) = match &entry.hashed {
                Hashed::Image { pdq, quality, .. } => (Some(*pdq), Some(*quality)),
                Hashed::Video { frames, .. } => (
                    frames.first().map(|f| f.pdq),
                    frames.first().map(|f| f.quality),
                ),
                _ => (None, None),
            };
            unknown.push(UnknownItem {
                path: entry.path.clone(),
                kind: entry.kind,
                sha256: entry.sha256.clone(),
                pdq,
                quality,
            });
            continue;
        }
        let mut seen_bank = BTreeSet::new();
        let mut seen_cat = BTreeSet::new();
        let mut seen_series = BTreeSet::new();
        for m in &matches {
            if seen_bank.insert(m.bank.as_str()) {
                *per_bank.entry(m.bank.clone()).or_default() += 1;
            }
            let key = (m.bank.clone(), m.category.clone());
            let slot = cats.entry(key.clone()).or_default();
            if seen_cat.insert(key.clone()) {
                slot.0 += 1;
            }
            if seen_series.insert((key, m.series.clone())) {
                *slot.1.entry(m.series.clone()).or_default() += 1;
            }
        }
        known.push(KnownItem {
            path: entry.path.clone(),
            kind: entry.kind,
            sha256: entry.sha256.clone(),
            matches,
        });
    }
    totals.known = known.len();
    totals.unknown = unknown.len();
    totals.distinct_media_contents = contents.len();
    let hashed = totals.known + totals.unknown;
    totals.share_precategorised = if hashed == 0 {
        0.0
    } else {
        totals.known as f64 / hashed as f64
    };
    Report {
        root: root.to_owned(),
        banks: banks
            .iter()
            .map(|b| BankSummary {
                name: b.name.clone(),
                source: b.source.clone(),
                entries: b.entries.len(),
                distance: b.distance,
                dihedral: b.dihedral,
                bad_rows: b.bad_rows.len(),
                files_matched: per_bank.get(b.name.as_str()).copied().unwrap_or(0),
            })
            .collect(),
        totals,
        categories: cats
            .into_iter()
            .map(|((bank, category), (files, series))| CategoryCount {
                bank,
                category,
                files,
                series: series
                    .into_iter()
                    .map(|(series, files)| SeriesCount { series, files })
                    .collect(),
            })
            .collect(),
        known,
        unknown,
        unreadable,
        videos_not_hashed,
    }
}

fn path_of(item: &Item) -> &str {
    match item {
        Item::Done(e) => &e.path,
        Item::ReadFailed { path, .. } => path,
    }
}

/// The one-object summary `--json` prints: totals, banks and categories, without the per-file lists.
pub fn summary(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "root": report.root,
        "totals": report.totals,
        "banks": report.banks,
        "categories": report.categories,
    })
}
