//! Which columns are compared, and how: column kinds inferred from header names and content, with overrides.

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::table::Table;

/// How a column is normalised, compared and blocked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A given (first) name; Korean normalisation applies when enabled.
    GivenName,
    /// A surname (family name); Korean surname variants fold when enabled.
    Surname,
    /// Free text such as an address line or a place name.
    Text,
    /// A date of birth or other date (`YYYYMMDD`, `YYYY-MM-DD`, `DD/MM/YYYY`, partial `YYYY`, `YYYY-MM`).
    Date,
    /// A postcode: exact, one-digit typo, same district prefix.
    Postcode,
    /// A number such as a street number.
    Numeric,
    /// A phone number, compared in E.164.
    Phone,
    /// A document or account identifier (passport, account, IBAN, wallet), compared without separators.
    Identifier,
    /// A short code (state, nationality, sex): equal or not.
    Category,
}

impl FieldKind {
    /// Every kind, for help texts.
    pub const ALL: [FieldKind; 9] = [
        FieldKind::GivenName,
        FieldKind::Surname,
        FieldKind::Text,
        FieldKind::Date,
        FieldKind::Postcode,
        FieldKind::Numeric,
        FieldKind::Phone,
        FieldKind::Identifier,
        FieldKind::Category,
    ];

    /// The stable name used on the command line and in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::GivenName => "given_name",
            FieldKind::Surname => "surname",
            FieldKind::Text => "text",
            FieldKind::Date => "date",
            FieldKind::Postcode => "postcode",
            FieldKind::Numeric => "numeric",
            FieldKind::Phone => "phone",
            FieldKind::Identifier => "identifier",
            FieldKind::Category => "category",
        }
    }

    /// True for the two name kinds.
    pub fn is_name(self) -> bool {
        matches!(self, FieldKind::GivenName | FieldKind::Surname)
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FieldKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        FieldKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::Input(format!("unknown field kind {s:?}")))
    }
}

/// One compared field: its name and the column it comes from in each table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    pub kind: FieldKind,
    pub left_column: usize,
    pub right_column: usize,
}

/// The compared fields and the id columns of both tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub left_id: usize,
    pub right_id: usize,
    pub fields: Vec<FieldSpec>,
}

/// What the user said about columns: id column, exclusions, kind overrides (`column=kind`).
#[derive(Debug, Clone, Default)]
pub struct SchemaOptions {
    pub id: Option<String>,
    pub exclude: Vec<String>,
    pub overrides: Vec<(String, FieldKind)>,
}

/// Parse an override written `column=kind`.
pub fn parse_override(text: &str) -> Result<(String, FieldKind), Error> {
    let (column, kind) = text
        .split_once('=')
        .ok_or_else(|| Error::Input(format!("override {text:?} is not column=kind")))?;
    Ok((column.trim().to_string(), kind.trim().parse()?))
}

/// Infer the kind of a column from its header name, falling back to its content.
pub fn infer_kind(name: &str, values: &[&str]) -> FieldKind {
    let n = name.to_ascii_lowercase().replace(['-', ' '], "_");
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    if has(&["given", "first_name", "firstname", "forename"]) {
        return FieldKind::GivenName;
    }
    if has(&["surname", "last_name", "lastname", "family"]) {
        return FieldKind::Surname;
    }
    if has(&["birth", "dob", "date"]) {
        return FieldKind::Date;
    }
    if has(&["postcode", "post_code", "zip", "postal"]) {
        return FieldKind::Postcode;
    }
    if has(&["phone", "mobile", "tel"]) {
        return FieldKind::Phone;
    }
    if has(&[
        "passport",
        "iban",
        "account",
        "wallet",
        "document",
        "ssn",
        "soc_sec",
        "national_id",
    ]) {
        return FieldKind::Identifier;
    }
    if has(&["street_number", "house_number", "number", "age"]) {
        return FieldKind::Numeric;
    }
    if has(&["state", "nationality", "country", "sex", "gender"]) {
        return FieldKind::Category;
    }
    if has(&["address", "suburb", "city", "town", "street", "place"]) {
        return FieldKind::Text;
    }
    infer_kind_from_content(values)
}

/// Guess a kind from values alone: dates, phones, short numbers, short codes, else text.
fn infer_kind_from_content(values: &[&str]) -> FieldKind {
    let present: Vec<&str> = values
        .iter()
        .copied()
        .filter(|v| !v.is_empty())
        .take(500)
        .collect();
    if present.is_empty() {
        return FieldKind::Text;
    }
    let share = |pred: &dyn Fn(&str) -> bool| {
        present.iter().filter(|v| pred(v)).count() as f64 / present.len() as f64
    };
    if share(&|v| crate::compare::PartialDate::parse(v).is_some_and(|d| d.month.is_some())) > 0.9 {
        return FieldKind::Date;
    }
    if share(&|v| {
        let digits = v.chars().filter(char::is_ascii_digit).count();
        (9..=15).contains(&digits)
            && v.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    }) > 0.9
    {
        return FieldKind::Phone;
    }
    if share(&|v| v.len() <= 6 && v.chars().all(|c| c.is_ascii_digit())) > 0.9 {
        return FieldKind::Numeric;
    }
    if share(&|v| v.len() <= 3 && v.chars().all(|c| c.is_ascii_alphabetic())) > 0.9 {
        return FieldKind::Category;
    }
    if share(&|v| v.len() >= 6 && v.chars().any(|c| c.is_ascii_digit()) && !v.contains(' ')) > 0.9 {
        return FieldKind::Identifier;
    }
    FieldKind::Text
}

/// Build the schema for linking `left` to `right` (or de-duplicating `left` when `right` is `None`).
///
/// Fields are the left table's columns other than the id and the excluded ones, matched by name (case
/// insensitively) in the right table; a column missing from the right table is not compared.
pub fn infer_schema(
    left: &Table,
    right: Option<&Table>,
    options: &SchemaOptions,
) -> Result<Schema, Error> {
    let right_table = right.unwrap_or(left);
    let (left_id, right_id) = match &options.id {
        Some(id) => (
            left.column_index(id)
                .ok_or_else(|| Error::Input(format!("id column {id:?} not in the left table")))?,
            right_table
                .column_index(id)
                .ok_or_else(|| Error::Input(format!("id column {id:?} not in the right table")))?,
        ),
        None => (0, 0),
    };
    for excluded in &options.exclude {
        if left.column_index(excluded).is_none() {
            return Err(Error::Input(format!(
                "excluded column {excluded:?} not in the input"
            )));
        }
    }
    let mut fields = Vec::new();
    for (left_column, name) in left.columns.iter().enumerate() {
        if left_column == left_id || options.exclude.iter().any(|e| e.eq_ignore_ascii_case(name)) {
            continue;
        }
        let Some(right_column) = right_table.column_index(name) else {
            continue;
        };
        if right_column == right_id {
            continue;
        }
        let kind = match options
            .overrides
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
        {
            Some((_, kind)) => *kind,
            None => {
                let sample: Vec<&str> = left.column_values(left_column).take(500).collect();
                infer_kind(name, &sample)
            }
        };
        fields.push(FieldSpec {
            name: name.clone(),
            kind,
            left_column,
            right_column,
        });
    }
    for (column, _) in &options.overrides {
        if !fields.iter().any(|f| f.name.eq_ignore_ascii_case(column)) {
            return Err(Error::Input(format!(
                "override for {column:?}, which is not compared"
            )));
        }
    }
    if fields.is_empty() {
        return Err(Error::Input("no column left to compare".into()));
    }
    Ok(Schema {
        left_id,
        right_id,
        fields,
    })
}
