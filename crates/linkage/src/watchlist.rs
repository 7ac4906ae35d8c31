//! Border watchlist: an in-memory index over watchlist persons answering "who on the list could this be?".
//!
//! A traveller (name, date of birth, nationality, passport number) is looked up through inverted indexes on
//! the passport number, the Korean-normalised name key (both orders), and the date of birth (also with day
//! and month swapped), so a candidate is found if any one of them agrees after normalisation. Candidates
//! are then scored with the same comparators as record linkage and fixed Fellegi-Sunter weights (a
//! watchlist has no pairs to learn from), with the given name and surname weighed by their frequency in the
//! list, and explained field by field.
//!
//! The index is plain data (`Send + Sync`, no I/O): the server keeps one behind an `Arc`, rebuilds it when
//! the flagged persons change, and audits each check itself.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::compare::{self, Cell, MISSING, NormaliseOptions};
use crate::ident;
use crate::korean;
use crate::schema::FieldKind;
use crate::table::Table;

/// A person flagged for border control.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchlistPerson {
    pub id: String,
    pub given_name: String,
    pub surname: String,
    pub date_of_birth: String,
    pub nationality: String,
    pub passport_no: String,
}

/// A traveller to check; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub date_of_birth: Option<String>,
    pub nationality: Option<String>,
    pub passport_no: Option<String>,
}

impl Query {
    /// Build a query; a full `name` is split into given name and surname when those are not given.
    pub fn new(
        name: Option<&str>,
        given_name: Option<&str>,
        surname: Option<&str>,
        date_of_birth: Option<&str>,
        nationality: Option<&str>,
        passport_no: Option<&str>,
    ) -> Query {
        let (mut given, mut family) = (given_name.map(str::to_string), surname.map(str::to_string));
        if let Some(full) = name
            && given.is_none()
            && family.is_none()
        {
            let (g, s) = split_full_name(full);
            given = Some(g);
            family = Some(s);
        }
        Query {
            given_name: given,
            surname: family,
            date_of_birth: date_of_birth.map(str::to_string),
            nationality: nationality.map(str::to_string),
            passport_no: passport_no.map(str::to_string),
        }
    }
}

/// Split a full name into (given name, surname): Hangul by syllables, else by a known Korean surname at
/// either end ("Lee Min-jun", "MINJUN LEE"), else the last word is the surname.
pub fn split_full_name(full: &str) -> (String, String) {
    if let Some((surname, given)) = korean::split_hangul_full_name(full) {
        return (given, surname);
    }
    let words: Vec<&str> = full
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [] => (String::new(), String::new()),
        [one] => (String::new(), one.to_string()),
        [first, rest @ ..] if korean::is_known_korean_surname(first) && !full.contains(',') => {
            (rest.join(" "), first.to_string())
        }
        [init @ .., last] => (init.join(" "), last.to_string()),
    }
}

/// One field's part in a candidate's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub field: String,
    pub level: String,
    pub weight: f64,
}

/// A watchlist person who may be the traveller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: String,
    /// Sum of the field weights (bits); above ~10 is strong, above ~20 near certain.
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

/// The answer to a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResponse {
    pub candidates: Vec<Candidate>,
}

/// The fields compared, in order.
const FIELDS: [(&str, FieldKind); 5] = [
    ("given_name", FieldKind::GivenName),
    ("surname", FieldKind::Surname),
    ("date_of_birth", FieldKind::Date),
    ("nationality", FieldKind::Category),
    ("passport_no", FieldKind::Identifier),
];

/// Fixed log2(m/u) per field and level (index = comparator level), chosen from the parameters EM estimates
/// on the Korean-name sample: exact names are replaced by their term-frequency weight.
const WEIGHTS: [&[f64]; 5] = [
    &[-4.0, -2.0, 0.5, 3.0, 5.0, 6.0],
    &[-4.0, -2.0, 0.0, 2.0, 3.5, 4.0],
    &[-6.0, -1.0, 4.0, 8.0, 12.0],
    &[-2.0, 0.5],
    &[-1.0, 9.0, 16.0],
];

/// m at exact agreement of a name, for the term-frequency weight log2(m / frequency).
const NAME_EXACT_M: f64 = 0.6;

/// The watchlist index.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    ids: Vec<String>,
    /// cells[field][entry]
    cells: Vec<Vec<Option<Cell>>>,
    by_passport: HashMap<Box<str>, Vec<u32>>,
    by_name: HashMap<Box<str>, Vec<u32>>,
    by_dob: HashMap<Box<str>, Vec<u32>>,
    /// Weight of exact agreement on the given name and surname of each entry: log2(m / frequency),
    /// precomputed so that a check does no hashing per candidate.
    exact_name_weight: [Vec<f32>; 2],
}

fn options() -> NormaliseOptions {
    NormaliseOptions {
        korean_names: true,
        ..NormaliseOptions::default()
    }
}

fn name_key(given: &Option<Cell>, surname: &Option<Cell>) -> Option<Box<str>> {
    match (given, surname) {
        (Some(g), Some(s)) => Some(format!("{}|{}", s.key, g.key).into()),
        _ => None,
    }
}

impl Watchlist {
    /// Build the index.
    pub fn new(persons: &[WatchlistPerson]) -> Watchlist {
        let opts = options();
        let mut name_frequency: [HashMap<Box<str>, f64>; 2] = Default::default();
        let mut list = Watchlist {
            cells: vec![Vec::with_capacity(persons.len()); FIELDS.len()],
            ..Watchlist::default()
        };
        for (i, person) in persons.iter().enumerate() {
            let index = i as u32;
            let values = [
                &person.given_name,
                &person.surname,
                &person.date_of_birth,
                &person.nationality,
                &person.passport_no,
            ];
            for (f, value) in values.iter().enumerate() {
                list.cells[f].push(compare::normalise(FIELDS[f].1, value, &opts));
            }
            list.ids.push(person.id.clone());
            if let Some(p) = &list.cells[4][i] {
                list.by_passport
                    .entry(p.raw.clone())
                    .or_default()
                    .push(index);
            }
            if let Some(d) = &list.cells[2][i] {
                list.by_dob.entry(d.raw.clone()).or_default().push(index);
            }
            if let Some(key) = name_key(&list.cells[0][i], &list.cells[1][i]) {
                list.by_name.entry(key).or_default().push(index);
            }
            for (f, frequencies) in name_frequency.iter_mut().enumerate() {
                if let Some(c) = &list.cells[f][i] {
                    *frequencies.entry(c.raw.clone()).or_default() += 1.0;
                }
            }
        }
        let n = persons.len().max(1) as f64;
        for f in 0..2 {
            let top = WEIGHTS[f].len() - 1;
            list.exact_name_weight[f] = list.cells[f]
                .iter()
                .map(|cell| {
                    let frequency = cell
                        .as_ref()
                        .and_then(|c| name_frequency[f].get(&c.raw))
                        .map_or(1.0 / n, |c| c / n);
                    // Never below the weight of agreeing on the key only.
                    (NAME_EXACT_M / frequency).log2().max(WEIGHTS[f][top - 1]) as f32
                })
                .collect();
        }
        list
    }

    /// Build from a CSV table: columns by name (`given_name`, `surname`, `date_of_birth`, `nationality`,
    /// `passport_no`, with common synonyms); the first column is the id.
    pub fn from_table(table: &Table) -> Result<Watchlist, Error> {
        let find = |names: &[&str]| names.iter().find_map(|n| table.column_index(n));
        let given = find(&["given_name", "first_name", "given"]);
        let surname = find(&["surname", "last_name", "family_name"]);
        let full = find(&["name", "full_name"]);
        let dob = find(&["date_of_birth", "dob", "birth_date"]);
        let nationality = find(&["nationality", "country"]);
        let passport = find(&["passport_no", "passport", "passport_number", "document_no"]);
        if given.is_none() && surname.is_none() && full.is_none() && passport.is_none() {
            return Err(Error::Input(
                "watchlist has no name or passport column".into(),
            ));
        }
        let get = |row: &[String], c: Option<usize>| c.map(|c| row[c].clone()).unwrap_or_default();
        let persons: Vec<WatchlistPerson> = table
            .rows
            .iter()
            .map(|row| {
                let (mut g, mut s) = (get(row, given), get(row, surname));
                if g.is_empty() && s.is_empty() && full.is_some() {
                    (g, s) = split_full_name(&get(row, full));
                }
                WatchlistPerson {
                    id: row[0].clone(),
                    given_name: g,
                    surname: s,
                    date_of_birth: get(row, dob),
                    nationality: get(row, nationality),
                    passport_no: get(row, passport),
                }
            })
            .collect();
        Ok(Watchlist::new(&persons))
    }

    /// Number of persons indexed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True if the list is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Candidates for a traveller, best first, at most `limit`, with score at least `min_score`.
    pub fn check(&self, query: &Query, limit: usize, min_score: f64) -> Vec<Candidate> {
        let opts = options();
        fn text(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or("")
        }
        let values = [
            text(&query.given_name),
            text(&query.surname),
            text(&query.date_of_birth),
            text(&query.nationality),
            text(&query.passport_no),
        ];
        let cells: Vec<Option<Cell>> = FIELDS
            .iter()
            .zip(values)
            .map(|((_, kind), v)| compare::normalise(*kind, v, &opts))
            .collect();
        let mut candidates: Vec<u32> = Vec::new();
        if let Some(p) = &cells[4]
            && let Some(ids) = self.by_passport.get(&p.raw)
        {
            candidates.extend(ids);
        }
        if let Some(key) = name_key(&cells[0], &cells[1]) {
            candidates.extend(self.by_name.get(&key).into_iter().flatten());
        }
        // Given name and surname written in swapped fields: key each as the other kind.
        if let (Some(g), Some(s)) = (&cells[0], &cells[1]) {
            let key = format!("{}|{}", g.swap_key, s.swap_key);
            candidates.extend(self.by_name.get(key.as_str()).into_iter().flatten());
        }
        if let Some(Cell {
            raw,
            date: Some(date),
            ..
        }) = &cells[2]
        {
            candidates.extend(self.by_dob.get(raw).into_iter().flatten());
            if let (Some(m), Some(d)) = (date.month, date.day)
                && m != d
            {
                // Date cells are keyed by their `YYYYMMDD` digits.
                let swapped = format!("{:04}{:02}{:02}", date.year, d, m);
                candidates.extend(self.by_dob.get(swapped.as_str()).into_iter().flatten());
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        // Score every candidate without allocating; explain only the ones returned.
        let mut scored: Vec<(f64, u32, [u8; 5])> = candidates
            .into_iter()
            .map(|index| {
                let levels = self.levels(&cells, index as usize);
                (self.score(&levels, index as usize), index, levels)
            })
            .filter(|(score, _, _)| *score >= min_score)
            .collect();
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| self.ids[a.1 as usize].cmp(&self.ids[b.1 as usize]))
        });
        scored.truncate(limit);
        scored
            .into_iter()
            .map(|(score, index, levels)| self.explain(score, index as usize, &levels))
            .collect()
    }

    fn levels(&self, query: &[Option<Cell>], index: usize) -> [u8; 5] {
        let mut levels = [MISSING; 5];
        for (f, (_, kind)) in FIELDS.iter().enumerate() {
            if let (Some(a), Some(b)) = (&query[f], &self.cells[f][index]) {
                levels[f] = compare::compare(*kind, a, b);
            }
        }
        // Given name and surname swapped between the two records.
        if levels[0] != MISSING
            && levels[0] < compare::NAME_KEY_LEVEL
            && levels[1] < compare::NAME_KEY_LEVEL
            && let (Some(qg), Some(qs), Some(eg), Some(es)) = (
                &query[0],
                &query[1],
                &self.cells[0][index],
                &self.cells[1][index],
            )
            && qg.swap_key == es.key
            && qs.swap_key == eg.key
        {
            levels[0] = compare::NAME_KEY_LEVEL;
            levels[1] = compare::NAME_KEY_LEVEL;
        }
        levels
    }

    fn field_weight(&self, f: usize, level: u8, index: usize) -> f64 {
        let top = (WEIGHTS[f].len() - 1) as u8;
        if f < 2 && level == top {
            f64::from(self.exact_name_weight[f][index])
        } else {
            WEIGHTS[f][usize::from(level)]
        }
    }

    fn score(&self, levels: &[u8; 5], index: usize) -> f64 {
        levels
            .iter()
            .enumerate()
            .filter(|(_, level)| **level != MISSING)
            .map(|(f, &level)| self.field_weight(f, level, index))
            .sum()
    }

    fn explain(&self, score: f64, index: usize, levels: &[u8; 5]) -> Candidate {
        let evidence = FIELDS
            .iter()
            .enumerate()
            .filter(|(f, _)| levels[*f] != MISSING)
            .map(|(f, (name, kind))| Evidence {
                field: (*name).to_string(),
                level: compare::level_labels(*kind)[usize::from(levels[f])].to_string(),
                weight: self.field_weight(f, levels[f], index),
            })
            .collect();
        Candidate {
            id: self.ids[index].clone(),
            score,
            evidence,
        }
    }
}

/// Normalise a passport number the way the index does (for callers building their own keys).
pub fn passport_key(text: &str) -> Option<String> {
    ident::passport(text)
}
