//! Follow the money: where did a victim's money go, how much of it sits where now?
//!
//! The crate owns money-flow tracing over transfers between accounts (bank accounts, IBANs, wallets):
//!
//! - [`import`] reads transfers (plain CSV, ISO 20022 camt.053 statements, block-explorer token-transfer
//!   exports) and hands each row to [`ingest::Ingest`], which validates it into an [`ingest::Transfer`] or
//!   reports a [`ingest::BadRow`] with its line; accounts become canonical keys through [`account`], which uses
//!   the exchange crate's identifier types; amounts are exact integers of the currency's unit ([`amount`]);
//! - [`sort`] puts transfers in trace order, (timestamp, tx_id), within a memory budget (external merge sort);
//! - [`trace::Tracer`] folds the ordered transfers under the `haircut` or `fifo` [`trace::Policy`] into each
//!   account's tainted amount received and tainted balance, conserving taint exactly; [`pipeline`] drives it
//!   (seeds, duplicates);
//! - [`memory`] is the same pipeline over small sets held in memory (the server's transfer sets), with a layered
//!   layout of the flow graph;
//! - [`output`] writes the taint table, the flow graph and the cash-out summary; [`cli`] is `jikimi trace
//!   funds`, [`bench`] is `jikimi bench funds`; [`synthetic`] generates a scam network to test and measure on.
//!
//! The design trade-off: the trace is a single pass over sorted transfers with state per account (a balance
//! pair, and FIFO lots), so memory grows with accounts and tainted lots, not with transfers; the price is a sort
//! first, which spills to disk beyond the budget. On a million accounts the trace is bound by memory reads, not
//! arithmetic: account lookups and balance reads are made a batch at a time so that their cache misses overlap
//! (`Accounts::warm`, `Tracer::step_batch`), and nothing is allocated per transfer.
//!
//! The importers never panic and account for every row (property tests in `tests/it/import_props.rs`; fuzz
//! targets `csv` and `camt053` in `fuzz/`, run with `cargo +nightly fuzz run csv` there).
//!
//! ```
//! use jikimi_funds::{account::{Accounts, AccountHint}, ingest::Transfer, trace::{Policy, Tracer}};
//! # fn main() -> Result<(), jikimi_funds::Error> {
//! let mut accounts = Accounts::new();
//! let mut id = |s: &str| accounts.intern(s, AccountHint::Auto).map_err(jikimi_funds::Error::Invalid);
//! let (victim, mule, exchange) = (id("acct:1000001")?, id("acct:2000002")?, id("acct:3000003")?);
//! let t = |ts: i64, tx: &str, from, to, amount| Transfer { timestamp_ns: ts, tx_id: tx.into(), from, to, amount };
//! let mut tracer = Tracer::new(Policy::Haircut, false);
//! tracer.apply(&t(1, "a", victim, mule, 100), true)?; // the victim's payment: a seed
//! tracer.apply(&t(2, "b", exchange, mule, 300), false)?; // clean money mixes in
//! tracer.apply(&t(3, "c", mule, exchange, 200), false)?; // half of the mule's balance leaves
//! assert_eq!(tracer.tainted_balance(exchange), 50); // 200 * 100/400
//! assert_eq!(tracer.tainted_balance(mule), 50);
//! # Ok(())
//! # }
//! ```
//!
//! Architecture Invariant: no database, network, async or server code; the engine ([`trace`], [`pipeline`])
//! does no I/O at all. Files are opened only in [`cli`] and [`bench`]; [`sort`] writes anonymous spill files
//! in a directory it is given. The only jikimi crate depended on is `exchange`, for its identifier types.

pub mod account;
pub mod amount;
pub mod bench;
pub mod cli;
mod error;
pub mod import;
pub mod ingest;
pub mod memory;
pub mod output;
pub mod pipeline;
pub mod sort;
mod string_table;
pub mod synthetic;
pub mod trace;

pub use error::Error;
