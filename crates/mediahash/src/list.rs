//! Hash lists in the CSV/TSV layouts of ThreatExchange and Hasher-Matcher-Actioner, and match records.
//!
//! Read layouts (delimiter sniffed: tab if the first line has one, else comma):
//! - python-threatexchange `threatexchange dataset -P --csv`: header
//!   `signal_type,signal_str,collab,category,tags`; rows of other signal types are skipped.
//! - its CLI cache `simple.pdq.te`: no header, `hash,first_descriptor_id,added_on,tags` (tags space-separated).
//! - HMA's serialization: no header, `hash,indicator_id,first_descriptor_id,added_on,tags`.
//! - any file with a header naming the hash column (`signal_str`, `signal_value`, `hash`, `pdq`,
//!   `indicator`), an optional id (`id`, `indicator_id`, `content_id`, `descriptor_id`) and tags
//!   (`tags`, `labels`); other columns become metadata.
//! - one hash per line, optionally followed by more columns.
//!
//! A bad row does not stop the import: it is reported with its line number in [`ImportReport::errors`].

use crate::hash::Hash256;
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// One hash of a list with what the list says about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListEntry {
    /// The PDQ hash.
    pub hash: Hash256,
    /// The list's identifier for it (indicator or descriptor id), if any.
    pub id: Option<String>,
    /// Labels, e.g. a category or collaboration.
    pub tags: Vec<String>,
    /// Remaining columns by name (`col<N>` when the file has no header).
    pub metadata: BTreeMap<String, String>,
}

/// A hash list and the problems met while reading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Entries read.
    pub entries: Vec<ListEntry>,
    /// Rows skipped because they are of another signal type (e.g. `video_md5`).
    pub skipped_other_types: usize,
    /// Bad rows: (1-based line number, reason).
    pub errors: Vec<(u64, String)>,
}

/// Output layouts for [`export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// `signal_type,signal_str,collab,category,tags` with header (python-threatexchange dataset CSV).
    TeDataset,
    /// `hash,indicator_id,first_descriptor_id,added_on,tags`, no header (HMA serialization).
    Hma,
    /// `hash<TAB>id<TAB>tags`, with header.
    Tsv,
}

/// Why a list could not be read or written at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// The CSV reader or writer failed (I/O or encoding).
    #[error("hash list: {0}")]
    Csv(#[from] csv::Error),
    /// A header row without any recognisable hash column.
    #[error(
        "hash list header has no hash column (expected one of signal_str, signal_value, hash, pdq, indicator)"
    )]
    NoHashColumn,
}

const HASH_COLUMNS: [&str; 5] = ["signal_str", "signal_value", "hash", "pdq", "indicator"];
const ID_COLUMNS: [&str; 4] = ["id", "indicator_id", "content_id", "descriptor_id"];
const TAG_COLUMNS: [&str; 2] = ["tags", "labels"];

/// Reads a hash list (see the module documentation for the layouts).
pub fn import(mut input: impl Read) -> Result<ImportReport, ListError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| ListError::Csv(e.into()))?;
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let delimiter = if first_line.contains(&b'\t') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(bytes.as_slice());
    let mut report = ImportReport::default();
    let mut records = reader.records();
    let Some(first) = records.next().transpose()? else {
        return Ok(report);
    };
    let has_header = first
        .get(0)
        .is_some_and(|f| f.parse::<Hash256>().is_err() && !looks_like_hex_hash(f));
    let columns = if has_header {
        Columns::from_header(&first)?
    } else {
        let columns = Columns::headerless(first.len());
        columns.read_row(&first, line_of(&first), &mut report);
        columns
    };
    for record in records {
        match record {
            Ok(row) => columns.read_row(&row, line_of(&row), &mut report),
            Err(e) => report
                .errors
                .push((e.position().map_or(0, csv::Position::line), e.to_string())),
        }
    }
    Ok(report)
}

fn looks_like_hex_hash(field: &str) -> bool {
    field.len() == 64 && field.bytes().all(|b| b.is_ascii_hexdigit())
}

fn line_of(row: &csv::StringRecord) -> u64 {
    row.position().map_or(0, csv::Position::line)
}

/// Where the hash, id, tags and signal type are in a row.
struct Columns {
    hash: usize,
    id: Option<usize>,
    tags: Option<usize>,
    signal_type: Option<usize>,
    names: Vec<String>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Self, ListError> {
        let names: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
        let find = |candidates: &[&str]| {
            candidates
                .iter()
                .find_map(|c| names.iter().position(|n| n == c))
        };
        Ok(Columns {
            hash: find(&HASH_COLUMNS).ok_or(ListError::NoHashColumn)?,
            id: find(&ID_COLUMNS),
            tags: find(&TAG_COLUMNS),
            signal_type: find(&["signal_type"]),
            names,
        })
    }

    fn headerless(n_fields: usize) -> Self {
        let names: Vec<String> = match n_fields {
            4 => ["hash", "first_descriptor_id", "added_on", "tags"]
                .map(String::from)
                .to_vec(),
            5 => [
                "hash",
                "indicator_id",
                "first_descriptor_id",
                "added_on",
                "tags",
            ]
            .map(String::from)
            .to_vec(),
            n => (0..n)
                .map(|i| {
                    if i == 0 {
                        "hash".to_owned()
                    } else {
                        format!("col{i}")
                    }
                })
                .collect(),
        };
        let id = match n_fields {
            4 => Some(1),
            5 => Some(1),
            _ => None,
        };
        let tags = (n_fields == 4 || n_fields == 5).then_some(n_fields - 1);
        Columns {
            hash: 0,
            id,
            tags,
            signal_type: None,
            names,
        }
    }

    fn read_row(&self, row: &csv::StringRecord, line: u64, report: &mut ImportReport) {
        if let Some(st) = self.signal_type.and_then(|i| row.get(i))
            && !st.is_empty()
            && !st.eq_ignore_ascii_case("pdq")
        {
            report.skipped_other_types += 1;
            return;
        }
        let Some(raw) = row.get(self.hash) else {
            report.errors.push((line, "missing hash column".to_owned()));
            return;
        };
        let hash = match raw.parse::<Hash256>() {
            Ok(h) => h,
            Err(e) => {
                report.errors.push((line, e.to_string()));
                return;
            }
        };
        let id = self
            .id
            .and_then(|i| row.get(i))
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let tags = self
            .tags
            .and_then(|i| row.get(i))
            .map(|t| {
                t.split([' ', ';', '|'])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let metadata = row
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.hash && Some(*i) != self.id && Some(*i) != self.tags)
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, v)| {
                let name = self
                    .names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("col{i}"));
                (name, v.to_owned())
            })
            .collect();
        report.entries.push(ListEntry {
            hash,
            id,
            tags,
            metadata,
        });
    }
}

/// Writes `entries` in `layout`.
pub fn export(entries: &[ListEntry], layout: Layout, output: impl Write) -> Result<(), ListError> {
    let delimiter = if layout == Layout::Tsv { b'\t' } else { b',' };
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(output);
    let meta = |e: &ListEntry, k: &str| e.metadata.get(k).cloned().unwrap_or_default();
    match layout {
        Layout::TeDataset => {
            w.write_record(["signal_type", "signal_str", "collab", "category", "tags"])?;
            for e in entries {
                w.write_record([
                    "pdq".to_owned(),
                    e.hash.to_hex(),
                    meta(e, "collab"),
                    meta(e, "category"),
                    e.tags.join(" "),
                ])?;
            }
        }
        Layout::Hma => {
            for e in entries {
                w.write_record([
                    e.hash.to_hex(),
                    e.id.clone().unwrap_or_default(),
                    meta(e, "first_descriptor_id"),
                    meta(e, "added_on"),
                    e.tags.join(" "),
                ])?;
            }
        }
        Layout::Tsv => {
            w.write_record(["hash", "id", "tags"])?;
            for e in entries {
                w.write_record([
                    e.hash.to_hex(),
                    e.id.clone().unwrap_or_default(),
                    e.tags.join(" "),
                ])?;
            }
        }
    }
    w.flush().map_err(|e| ListError::Csv(e.into()))?;
    Ok(())
}

/// One match of a scanned file against a list: what the audit log records. Holds no pixels.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatchRecord {
    /// The scanned file as the operator named it.
    pub file: String,
    /// Its PDQ hash (of the dihedral variant that matched).
    pub query_hash: Hash256,
    /// The dihedral variant of the scanned image that matched (`original` unless `--dihedral`).
    pub variant: &'static str,
    /// Quality of the scanned image's hash.
    pub quality: u32,
    /// Name of the list (its file name).
    pub list: String,
    /// Position of the entry in the list (0-based).
    pub list_index: u32,
    /// The list's hash.
    pub list_hash: Hash256,
    /// The list's id for the entry, if any.
    pub list_id: Option<String>,
    /// The list's tags for the entry.
    pub tags: Vec<String>,
    /// Hamming distance between the two hashes.
    pub distance: u32,
    /// The radius the search used.
    pub radius: u32,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const H1: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    const H2: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn reads_te_dataset_csv_and_skips_other_types() {
        let text = format!(
            "signal_type,signal_str,collab,category,tags\npdq,{H1},Sample,adult,a b\nvideo_md5,abcd,Sample,,\npdq,nothex,Sample,,\n"
        );
        let r = import(text.as_bytes()).unwrap();
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.entries[0].hash.to_hex(), H1);
        assert_eq!(r.entries[0].tags, ["a", "b"]);
        assert_eq!(r.entries[0].metadata["collab"], "Sample");
        assert_eq!(r.skipped_other_types, 1);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].0, 4);
    }

    #[test]
    fn reads_headerless_hma_and_te_simple_and_plain() {
        let hma = format!("{H1},111,222,2021-01-01,x y\n{H2},112,223,2021-01-02,\n");
        let r = import(hma.as_bytes()).unwrap();
        assert_eq!(r.entries.len(), 2);
        assert_eq!(r.entries[0].id.as_deref(), Some("111"));
        assert_eq!(r.entries[0].metadata["first_descriptor_id"], "222");
        let simple = format!("{H1},222,2021-01-01,x\n");
        let r = import(simple.as_bytes()).unwrap();
        assert_eq!(r.entries[0].id.as_deref(), Some("222"));
        let plain = format!("{H1}\n{H2}\n");
        assert_eq!(import(plain.as_bytes()).unwrap().entries.len(), 2);
        let tsv = format!("hash\tid\ttags\n{H2}\tk1\tt\n");
        let r = import(tsv.as_bytes()).unwrap();
        assert_eq!(r.entries[0].id.as_deref(), Some("k1"));
    }

    #[test]
    fn export_round_trips() {
        let text = format!("{H1},111,222,2021-01-01,x y\n");
        let entries = import(text.as_bytes()).unwrap().entries;
        for layout in [Layout::TeDataset, Layout::Hma, Layout::Tsv] {
            let mut out = Vec::new();
            export(&entries, layout, &mut out).unwrap();
            let back = import(out.as_slice()).unwrap();
            assert_eq!(back.entries[0].hash, entries[0].hash, "{layout:?}");
            assert_eq!(back.entries[0].tags, entries[0].tags, "{layout:?}");
        }
        let mut out = Vec::new();
        export(&entries, Layout::Hma, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }
}
