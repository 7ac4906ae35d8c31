//! Importers: each reads one source format and hands every row to [`crate::ingest::Ingest`], which turns it
//! into a transfer or a reported bad row. Importers take readers or byte slices; opening files is the CLI's.
//!
//! - [`csv`]: the plain transfer CSV (`tx_id,timestamp,from_account,to_account,amount,currency`, columns
//!   renamable) and block-explorer token-transfer exports ([`csv::CsvFlavour::Chain`]);
//! - [`camt053`]: ISO 20022 bank-to-customer statements, versions 001.02 to 001.14.

pub mod camt053;
pub mod csv;
