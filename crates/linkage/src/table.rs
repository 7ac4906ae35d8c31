//! Tables of text records and reading them from CSV (the only I/O edge of the engine, and it takes a reader).

use std::io::Read;

use crate::Error;

/// A table of text records: a header and rows of the same width; an empty string means missing.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Build a table, checking that every row has one value per column.
    pub fn new(columns: Vec<String>, rows: Vec<Vec<String>>) -> Result<Table, Error> {
        if let Some((index, row)) = rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != columns.len())
        {
            return Err(Error::Input(format!(
                "row {} has {} values, header has {}",
                index + 1,
                row.len(),
                columns.len()
            )));
        }
        Ok(Table { columns, rows })
    }

    /// Read a CSV with a header row; every value is kept as text (postcodes keep leading zeros).
    pub fn from_csv<R: Read>(reader: R) -> Result<Table, Error> {
        let mut csv_reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(reader);
        let columns: Vec<String> = csv_reader
            .headers()
            .map_err(|e| Error::Input(format!("csv header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for record in csv_reader.records() {
            let record = record.map_err(|e| Error::Input(format!("csv: {e}")))?;
            rows.push(record.iter().map(|v| v.trim().to_string()).collect());
        }
        Table::new(columns, rows)
    }

    /// Index of a column by exact name, else case-insensitively.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name).or_else(|| {
            self.columns
                .iter()
                .position(|c| c.eq_ignore_ascii_case(name))
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if the table has no records.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The values of one column.
    pub fn column_values(&self, column: usize) -> impl Iterator<Item = &str> {
        self.rows.iter().map(move |r| r[column].as_str())
    }
}
