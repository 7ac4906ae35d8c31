//! `jikimi-federation`: cooperation's edges around the pure core (`jikimi-exchange`): one agency's node, how it
//! reaches partners, when it syncs, and the `jikimi` subcommands.
//!
//! - `node`: [`Node`], the glue between the core's policy and protocol, an `ExchangeStore` trait object and the
//!   HTTP client: local cases and leads, answering pulls, accepting pages, receipts and notifications, pulling
//!   from peers page by page ([`Node::sync_peers`], the one loop over peers), notifying them;
//! - `freeze`: freeze and confiscation requests on the node: resolve the jurisdiction, sign, deliver, accept,
//!   record and deliver signed statuses, redeliver what a partner has not acknowledged (in each sync);
//! - `operation`: joint operations on the node: issue this agency's changes, push each to the participants allowed
//!   to see it, accept, re-check, buffer and apply theirs, export a court bundle (`operation_cli`: `jikimi operation`);
//! - `hashbank`: hash banks shared with partners: offer (and offer on), issue the origin's signed content changes
//!   and a holder's signed feedback, push them hop by hop with signed acknowledgements, accept and re-check;
//! - `transport`: [`Transport`], the reqwest client (TLS roots), `is_plain_remote`, `fetch_agency`;
//! - `service`: [`Federation`], the node of a server or of `jikimi federation serve`, opened on first use, and
//!   the one periodic sync loop;
//! - `linkage_feed`: the live cases and leads of a store as linkage input (persons, phones, accounts, wallets;
//!   persons flagged for border control feed the watchlist);
//! - `cli`: the `jikimi agency|peer|agreement|case|sync|federation` subcommands.
//!
//! This crate serves no HTTP: the one federation router (`/federation/v1/*`) is the server crate's, used by both
//! `jikimi serve` and `jikimi federation serve`; `Node` is its client and the handlers' engine. It knows no SQL
//! (the store crate implements `ExchangeStore`) and must not depend on the server or store crates (their tests and
//! this crate's tests may use them).

pub mod cli;
pub mod freeze;
mod freeze_cli;
pub mod hashbank;
pub mod linkage_feed;
pub mod node;
pub mod operation;
mod operation_cli;
pub mod service;
pub mod transport;

pub use node::{DEFAULT_PAGE, Node, SyncStats, create_identity};
pub use service::Federation;
pub use transport::Transport;
