//! Hash banks for triage: a hash list ([`crate::list`]) with a name, a match distance, whether rotated and
//! mirrored copies count, and the category and series labels of each entry; and the lookup of one file's hashes
//! in every bank through the exact index ([`HammingIndex`]).
//!
//! Pure: the caller reads the list file and hands over its text. Options come from the list itself (a comment
//! line `# jikimi-bank: name=NAME distance=N dihedral=true`, so a partner's list carries its own threshold) and may
//! be overridden on the command line (`FILE:distance=N:dihedral:name=NAME`, see [`BankSpec::parse`]).

use crate::hash::Hash256;
use crate::index::{HammingIndex, IndexError};
use crate::list::{self, ListEntry, ListError};
use crate::pdq::DIHEDRAL_NAMES;

/// The usual PDQ match threshold (ThreatExchange, HMA).
pub const DEFAULT_DISTANCE: u32 = 31;
/// Label of an entry whose list gives no category.
pub const UNCATEGORISED: &str = "(uncategorised)";
/// Label of an entry whose list gives no series.
pub const NO_SERIES: &str = "(no series)";

/// Options of one bank: what the command line and the list's own header say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankOptions {
    /// Display name (default: the file name).
    pub name: Option<String>,
    /// Largest Hamming distance that counts as a match.
    pub distance: Option<u32>,
    /// Whether the eight dihedral variants (rotations, mirrors) of a file are looked up too.
    pub dihedral: Option<bool>,
}

impl BankOptions {
    /// Options set here win over `other`'s.
    pub fn or(self, other: BankOptions) -> BankOptions {
        BankOptions {
            name: self.name.or(other.name),
            distance: self.distance.or(other.distance),
            dihedral: self.dihedral.or(other.dihedral),
        }
    }

    /// Reads one `key=value` (or bare `dihedral`) option; `None` if it is not one.
    fn set(&mut self, option: &str) -> Option<()> {
        match option.split_once('=') {
            None if option == "dihedral" => self.dihedral = Some(true),
            Some(("distance", v)) => self.distance = Some(v.parse().ok()?),
            Some(("dihedral", v)) => self.dihedral = Some(v.parse().ok()?),
            Some(("name", v)) if !v.is_empty() => self.name = Some(v.to_owned()),
            _ => return None,
        }
        Some(())
    }

    /// The options of the list's `# jikimi-bank:` comment lines (other comments are ignored).
    pub fn from_list_header(text: &str) -> Result<BankOptions, BankError> {
        let mut options = BankOptions::default();
        for line in text.lines().take_while(|l| l.trim_start().starts_with('#')) {
            let Some(rest) = line
                .trim_start()
                .trim_start_matches('#')
                .trim_start()
                .strip_prefix("jikimi-bank:")
            else {
                continue;
            };
            for option in rest.split_whitespace() {
                options
                    .set(option)
                    .ok_or_else(|| BankError::BadOption(option.to_owned()))?;
            }
        }
        Ok(options)
    }
}

/// A `--banks` argument: a list file and the options appended to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankSpec {
    /// The list file as given.
    pub path: String,
    /// Options from the command line.
    pub options: BankOptions,
}

impl BankSpec {
    /// Splits `FILE[:distance=N][:dihedral][:name=NAME]`: trailing `:`-separated parts are options as long as they
    /// parse as one, so a file name with a colon still works when `exists(FILE)` says the whole is the file.
    pub fn parse(spec: &str, exists: impl Fn(&str) -> bool) -> BankSpec {
        if exists(spec) {
            return BankSpec {
                path: spec.to_owned(),
                options: BankOptions::default(),
            };
        }
        let mut path = spec;
        let mut options = BankOptions::default();
        while let Some((head, tail)) = path.rsplit_once(':') {
            let mut probe = options.clone();
            if head.is_empty() || probe.set(tail).is_none() {
                break;
            }
            // Options nearer the file name are overridden by later ones: keep the first value seen from the right.
            options = options.or(probe);
            path = head;
        }
        BankSpec {
            path: path.to_owned(),
            options,
        }
    }
}

/// Why a bank could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    /// The list could not be read.
    #[error(transparent)]
    List(#[from] ListError),
    /// The index could not be built.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A `jikimi-bank:` option that is not `name=`, `distance=`, `dihedral[=bool]`.
    #[error("bad bank option `{0}` (expected name=NAME, distance=N or dihedral[=true|false])")]
    BadOption(String),
    /// A distance the index cannot answer exactly.
    #[error("bank distance {0} is above 256")]
    Distance(u32),
}

/// One entry's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// Category (the list's `category` column or a `category:X` tag).
    pub category: String,
    /// Series (the list's `series` column or a `series:X` tag).
    pub series: String,
}

impl Labels {
    fn of(entry: &ListEntry) -> Labels {
        let pick = |column: &str, fallback: &str| {
            entry
                .metadata
                .get(column)
                .filter(|v| !v.is_empty())
                .cloned()
                .or_else(|| {
                    let prefix = format!("{column}:");
                    entry
                        .tags
                        .iter()
                        .find_map(|t| t.strip_prefix(prefix.as_str()).map(str::to_owned))
                })
                .unwrap_or_else(|| fallback.to_owned())
        };
        Labels {
            category: pick("category", UNCATEGORISED),
            series: pick("series", NO_SERIES),
        }
    }
}

/// A hash list ready for lookups.
#[derive(Debug)]
pub struct Bank {
    /// Display name.
    pub name: String,
    /// Where it was read from.
    pub source: String,
    /// Match distance.
    pub distance: u32,
    /// Whether dihedral variants are looked up.
    pub dihedral: bool,
    /// Its entries, by index id.
    pub entries: Vec<ListEntry>,
    /// Labels of each entry.
    pub labels: Vec<Labels>,
    /// Rows the list reader could not use: (line, reason).
    pub bad_rows: Vec<(u64, String)>,
    index: HammingIndex,
}

impl Bank {
    /// Reads a bank from the list's text; `cli` options win over the list's header, then the defaults.
    pub fn from_list(
        source: &str,
        text: &str,
        cli: BankOptions,
        default_distance: u32,
    ) -> Result<Bank, BankError> {
        let options = cli.or(BankOptions::from_list_header(text)?);
        // The list reader sniffs its delimiter on the first line: give it the list without the leading comment
        // lines (a TSV list behind a `# jikimi-bank:` line would be read as CSV), and put their count back into
        // the line numbers of its errors.
        let comments = text
            .lines()
            .take_while(|l| l.trim_start().starts_with('#'))
            .count();
        let body: String = text.split_inclusive('\n').skip(comments).collect();
        let mut report = list::import(body.as_bytes())?;
        for (line, _) in &mut report.errors {
            *line += comments as u64;
        }
        let distance = options.distance.unwrap_or(default_distance);
        if distance > 256 {
            return Err(BankError::Distance(distance));
        }
        let name = options.name.unwrap_or_else(|| {
            source
                .rsplit(['/', '\\'])
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or(source)
                .to_owned()
        });
        let index = HammingIndex::from_hashes(report.entries.iter().map(|e| e.hash).collect())?;
        Ok(Bank {
            name,
            source: source.to_owned(),
            distance,
            dihedral: options.dihedral.unwrap_or(false),
            labels: report.entries.iter().map(Labels::of).collect(),
            entries: report.entries,
            bad_rows: report.errors,
            index,
        })
    }
}

impl Bank {
    /// A bank from entries already in memory (a server's hash bank, rather than a list file): labels come from each
    /// entry's `category` and `series` metadata or tags, as for a list.
    pub fn from_entries(
        name: &str,
        source: &str,
        distance: u32,
        dihedral: bool,
        entries: Vec<ListEntry>,
    ) -> Result<Bank, BankError> {
        if distance > 256 {
            return Err(BankError::Distance(distance));
        }
        let index = HammingIndex::from_hashes(entries.iter().map(|e| e.hash).collect())?;
        Ok(Bank {
            name: name.to_owned(),
            source: source.to_owned(),
            distance,
            dihedral,
            labels: entries.iter().map(Labels::of).collect(),
            entries,
            bad_rows: Vec::new(),
            index,
        })
    }
}

/// One match of a file against a bank entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct BankMatch {
    /// The bank's name.
    pub bank: String,
    /// The entry's category.
    pub category: String,
    /// The entry's series.
    pub series: String,
    /// The entry's id in its list, or `#N` (its 0-based position) when the list gives none.
    pub entry: String,
    /// Hamming distance.
    pub distance: u32,
    /// Which variant of the file matched (`original`, a dihedral name, or `frame N` of a video).
    pub variant: String,
}

/// Looks `hashes` (each with the name of the variant it is) up in every bank, keeping per (bank, entry) the closest
/// match; variants other than `original` are used only by banks that ask for dihedral matching. Sorted.
pub fn lookup(banks: &[Bank], hashes: &[(Hash256, String)]) -> Vec<BankMatch> {
    let mut best: std::collections::BTreeMap<(usize, u32), (u32, &str)> = Default::default();
    let mut hits = Vec::new();
    for (b, bank) in banks.iter().enumerate() {
        for (hash, variant) in hashes {
            let is_dihedral_variant = DIHEDRAL_NAMES[1..].contains(&variant.as_str());
            if is_dihedral_variant && !bank.dihedral {
                continue;
            }
            bank.index.search_into(hash, bank.distance, &mut hits);
            for hit in &hits {
                let slot = best
                    .entry((b, hit.id))
                    .or_insert((hit.distance, variant.as_str()));
                if hit.distance < slot.0 {
                    *slot = (hit.distance, variant.as_str());
                }
            }
        }
    }
    let mut out: Vec<BankMatch> = best
        .into_iter()
        .filter_map(|((b, id), (distance, variant))| {
            let bank = banks.get(b)?;
            let i = id as usize;
            let labels = bank.labels.get(i)?;
            Some(BankMatch {
                bank: bank.name.clone(),
                category: labels.category.clone(),
                series: labels.series.clone(),
                entry: bank
                    .entries
                    .get(i)
                    .and_then(|e| e.id.clone())
                    .unwrap_or_else(|| format!("#{i}")),
                distance,
                variant: variant.to_owned(),
            })
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const H1: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    #[test]
    fn options_from_header_and_command_line() {
        let text = format!(
            "# jikimi-bank: name=Partner distance=10\n# other comment\nsignal_type\tsignal_str\tcategory\tseries\npdq\t{H1}\tA1\tS-7\npdq\tnothex\n"
        );
        let bank = Bank::from_list("dir/p.csv", &text, BankOptions::default(), 31).unwrap();
        assert_eq!(
            (bank.name.as_str(), bank.distance, bank.dihedral),
            ("Partner", 10, false)
        );
        assert_eq!(bank.labels[0].category, "A1");
        assert_eq!(bank.labels[0].series, "S-7");
        assert_eq!(bank.bad_rows.len(), 1);
        assert_eq!(bank.bad_rows[0].0, 5);
        let spec = BankSpec::parse("dir/p.csv:distance=4:dihedral", |_| false);
        assert_eq!(spec.path, "dir/p.csv");
        let bank = Bank::from_list(&spec.path, &text, spec.options, 31).unwrap();
        assert_eq!((bank.distance, bank.dihedral), (4, true));
        let spec = BankSpec::parse("c:/x:y.csv", |_| false);
        assert_eq!(spec.path, "c:/x:y.csv");
        assert!(BankOptions::from_list_header("# jikimi-bank: distanc=3\n").is_err());
    }

    #[test]
    fn labels_from_tags_and_defaults() {
        let text = format!("{H1},1,2,2021-01-01,category:B2 series:Blue\n{H1}\n");
        let bank = Bank::from_list("b.csv", &text, BankOptions::default(), 31).unwrap();
        assert_eq!(bank.labels[0].category, "B2");
        assert_eq!(bank.labels[0].series, "Blue");
        assert_eq!(bank.labels[1].category, UNCATEGORISED);
        let h: Hash256 = H1.parse().unwrap();
        let found = lookup(&[bank], &[(h, "original".to_owned())]);
        assert_eq!(found.len(), 2);
        // Sorted by bank, category, series: "(uncategorised)" first.
        assert_eq!(
            (found[0].entry.as_str(), found[1].entry.as_str()),
            ("#1", "1")
        );
    }

    #[test]
    fn dihedral_variants_only_for_banks_that_ask() {
        let text = format!("{H1}\n");
        let plain = Bank::from_list("p", &text, BankOptions::default(), 0).unwrap();
        let rotated = Bank::from_list(
            "r",
            &text,
            BankOptions {
                dihedral: Some(true),
                ..BankOptions::default()
            },
            0,
        )
        .unwrap();
        let h: Hash256 = H1.parse().unwrap();
        let other = Hash256::ZERO;
        let query = [(other, "original".to_owned()), (h, "rotate90".to_owned())];
        let found = lookup(&[plain, rotated], &query);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].bank.as_str(), found[0].variant.as_str()),
            ("r", "rotate90")
        );
    }
}
