//! Normalised, column-major copies of the compared fields, with term frequencies, ready for comparison.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::compare::{self, Cell, MISSING, NAME_KEY_LEVEL, NormaliseOptions};
use crate::schema::{FieldKind, FieldSpec, Schema};
use crate::table::Table;

/// One field's normalised values for every record of one side.
pub type Column = Vec<Option<Cell>>;

/// The records of both sides, normalised per field; for de-duplication `right` is `None` (right = left).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub fields: Vec<FieldSpec>,
    pub left: Vec<Column>,
    pub right: Option<Vec<Column>>,
    pub left_ids: Vec<String>,
    pub right_ids: Vec<String>,
    /// Per field: relative frequency of each exact value over both sides (name fields only).
    pub term_frequencies: Vec<Option<HashMap<Box<str>, f64>>>,
    /// Per field: the index of the other name field (given name for surname and back), for swaps.
    pub partners: Vec<Option<usize>>,
}

impl Prepared {
    /// Normalise the compared fields of one table (de-duplication) or two tables (linking).
    pub fn new(
        left: &Table,
        right: Option<&Table>,
        schema: &Schema,
        options: &NormaliseOptions,
    ) -> Prepared {
        let normalise_side = |table: &Table, right_side: bool| -> Vec<Column> {
            schema
                .fields
                .par_iter()
                .map(|field| {
                    let column = if right_side {
                        field.right_column
                    } else {
                        field.left_column
                    };
                    table
                        .rows
                        .iter()
                        .map(|row| compare::normalise(field.kind, &row[column], options))
                        .collect()
                })
                .collect()
        };
        let left_columns = normalise_side(left, false);
        let right_columns = right.map(|t| normalise_side(t, true));
        let ids =
            |table: &Table, column: usize| table.rows.iter().map(|r| r[column].clone()).collect();
        let left_ids = ids(left, schema.left_id);
        let right_ids = match right {
            Some(t) => ids(t, schema.right_id),
            None => Vec::new(),
        };
        let term_frequencies = schema
            .fields
            .iter()
            .enumerate()
            .map(|(f, field)| {
                field.kind.is_name().then(|| {
                    let mut counts: HashMap<Box<str>, f64> = HashMap::new();
                    let mut total = 0.0;
                    let sides = std::iter::once(&left_columns[f])
                        .chain(right_columns.as_ref().map(|r| &r[f]));
                    for column in sides {
                        for cell in column.iter().flatten() {
                            *counts.entry(cell.raw.clone()).or_default() += 1.0;
                            total += 1.0;
                        }
                    }
                    for value in counts.values_mut() {
                        *value /= total;
                    }
                    counts
                })
            })
            .collect();
        let partners = partner_fields(&schema.fields);
        Prepared {
            fields: schema.fields.clone(),
            left: left_columns,
            right: right_columns,
            left_ids,
            right_ids,
            term_frequencies,
            partners,
        }
    }

    /// True when de-duplicating one table.
    pub fn is_dedupe(&self) -> bool {
        self.right.is_none()
    }

    /// The right side's columns (the left ones when de-duplicating).
    pub fn right_columns(&self) -> &[Column] {
        self.right.as_deref().unwrap_or(&self.left)
    }

    /// Number of left records.
    pub fn n_left(&self) -> usize {
        self.left_ids.len()
    }

    /// Number of right records (left when de-duplicating).
    pub fn n_right(&self) -> usize {
        if self.is_dedupe() {
            self.left_ids.len()
        } else {
            self.right_ids.len()
        }
    }

    /// The id of a right record.
    pub fn right_id(&self, index: usize) -> &str {
        if self.is_dedupe() {
            &self.left_ids[index]
        } else {
            &self.right_ids[index]
        }
    }

    /// Comparison level of field `f` between left record `l` and right record `r`.
    ///
    /// Name fields also agree at the key level when the value equals the *other* name field of the other
    /// record (given name and surname written in swapped order).
    pub fn level(&self, f: usize, l: usize, r: usize) -> u8 {
        let right = self.right_columns();
        let (Some(a), Some(b)) = (&self.left[f][l], &right[f][r]) else {
            return MISSING;
        };
        let level = compare::compare(self.fields[f].kind, a, b);
        if level < NAME_KEY_LEVEL
            && let Some(p) = self.partners[f]
        {
            // a's partner (say its surname) keyed as this field agrees with b, and the other way round.
            let swapped_a = self.left[p][l]
                .as_ref()
                .is_some_and(|pa| pa.swap_key == b.key);
            let swapped_b = right[p][r].as_ref().is_some_and(|pb| pb.swap_key == a.key);
            if swapped_a && swapped_b {
                return NAME_KEY_LEVEL;
            }
        }
        level
    }

    /// Comparison levels of every field for one pair, written into `out`.
    pub fn levels_into(&self, l: usize, r: usize, out: &mut [u8]) {
        for (f, slot) in out.iter_mut().enumerate() {
            *slot = self.level(f, l, r);
        }
    }

    /// Relative frequency of the left record's exact value in field `f`, if the field is adjusted.
    pub fn term_frequency(&self, f: usize, l: usize) -> Option<f64> {
        let table = self.term_frequencies[f].as_ref()?;
        let cell = self.left[f][l].as_ref()?;
        table.get(&cell.raw).copied()
    }
}

/// Pair up the given-name and surname fields when there is exactly one of each.
fn partner_fields(fields: &[FieldSpec]) -> Vec<Option<usize>> {
    let of_kind = |kind: FieldKind| {
        let found: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.kind == kind)
            .map(|(i, _)| i)
            .collect();
        (found.len() == 1).then(|| found[0])
    };
    let given = of_kind(FieldKind::GivenName);
    let surname = of_kind(FieldKind::Surname);
    fields
        .iter()
        .enumerate()
        .map(|(i, _)| match (given, surname) {
            (Some(g), Some(s)) if i == g => Some(s),
            (Some(g), Some(s)) if i == s => Some(g),
            _ => None,
        })
        .collect()
}
