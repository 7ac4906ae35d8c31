//! Record linkage for jikimi: who in one agency's records is the same person, phone or account as in another's.
//!
//! The crate owns probabilistic record linkage in the Fellegi-Sunter model and what it needs:
//!
//! - [`table::Table`] holds text records (read from CSV at the edge); [`schema`] decides which columns are
//!   compared and as what [`schema::FieldKind`] (by header name and content, with overrides);
//! - [`compare`] normalises values into [`compare::Cell`]s and compares them to discrete levels
//!   (Jaro-Winkler, edit distance, dates with day/month swaps and partial dates, postcodes, identifiers);
//!   [`korean`] folds romanisation variants of Korean names and romanises Hangul; [`ident`] brings phones to
//!   E.164 and checks IBANs;
//! - [`blocking`] chooses candidate pairs by several passes; [`model`] estimates m/u without labels (u from
//!   random pairs, m by EM) and weighs pairs with term-frequency adjustment; [`engine`] runs the whole
//!   pipeline and assigns links one-to-one or clusters duplicates, with per-field explanations, and applies
//!   analysts' confirm/reject [`engine::Decision`]s (optionally also labelled pairs for m);
//! - [`watchlist`] answers "is this traveller on the watchlist?" from an in-memory index;
//! - [`shared`] links the persons, phones, accounts and wallets of shared cases and picks the watchlist's
//!   persons from them (flagged for border control);
//! - [`trace`] builds a graph of organisations over linked entities and flags relocation between countries;
//! - [`cli`] holds the `jikimi link` and `jikimi border` subcommands; [`bench`] is `jikimi bench linkage`
//!   (and the `cargo bench` binaries).
//!
//! The design trade-off: comparisons produce a handful of levels rather than raw similarities, so the model
//! is a product of small categorical distributions that EM fits in milliseconds over counted patterns, and
//! every weight can be explained as "field X agreed at level Y: +Z bits".
//!
//! ```
//! use jikimi_linkage::{engine, schema, table::Table};
//! # fn main() -> Result<(), jikimi_linkage::Error> {
//! let left = Table::from_csv("id,given_name,surname\n1,Minjun,Lee\n2,Seoyeon,Kim\n".as_bytes())?;
//! let right = Table::from_csv("id,given_name,surname\na,Min-joon,Yi\nb,Jiho,Park\n".as_bytes())?;
//! let schema = schema::infer_schema(&left, Some(&right), &schema::SchemaOptions::default())?;
//! let run = engine::run(&left, Some(&right), &schema, &engine::LinkOptions::default(), &engine::NoProgress);
//! // Every candidate pair is scored; each can be explained field by field.
//! let best = run.scored.iter().max_by(|a, b| a.weight.total_cmp(&b.weight)).map(|p| run.explain(p));
//! assert_eq!(best.map(|link| (link.left_id, link.right_id)), Some(("1".to_string(), "a".to_string())));
//! # Ok(())
//! # }
//! ```
//!
//! Architecture Invariant: no database, network or async code; reading and writing files happens in [`cli`]
//! and [`bench`] only (and [`table::Table::from_csv`] takes any reader).
//!
//! Architecture Invariant: depends on no other jikimi crate; `store`, `server` and the federation call into
//! it with plain data (tables, [`watchlist::WatchlistPerson`], [`trace::Case`], [`engine::Decision`]).

pub mod bench;
pub mod blocking;
pub mod cli;
pub mod compare;
pub mod engine;
pub mod ident;
pub mod korean;
pub mod model;
pub mod prepare;
pub mod schema;
pub mod shared;
pub mod synthetic;
pub mod table;
pub mod trace;
pub mod watchlist;

/// Errors of the linkage crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is malformed (CSV, column names, options).
    #[error("invalid input: {0}")]
    Input(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
