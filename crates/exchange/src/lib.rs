//! `jikimi-exchange`: agencies share cases and investigative leads under agreements, signed,
//! audited and federated between independent nodes.
//!
//! The pure core decides and encodes; the edges store and transport:
//! - `identifiers`: phone (E.164), IBAN (mod-97), bank account, wallets (BTC/ETH/TRON), domain, SHA-256;
//! - `marking`: TLP 2.0, handling codes H0-H3, source/information grading; most restrictive wins;
//! - `domain`: `Agency`, `Agreement`, `Entity`, `Record` (case, lead, withdrawal, restriction);
//! - `policy`: for a record, field and recipient, may it go, under which agreement (pure);
//! - `protocol`: RFC 8785 canonical encoding, Ed25519-signed envelopes, receipts, the receiver's
//!   `assess` step (pure);
//! - `stix`: STIX 2.1 bundle export and import of a case;
//! - `store`: the `ExchangeStore` trait, implemented by the store crate for SQLite and PostgreSQL;
//! - `linkage_feed`: the live cases and leads as linkage input (persons, phones, accounts,
//!   wallets; persons flagged for border control feed the watchlist);
//! - `node`: one agency's node (`Node`), the glue between core, store and HTTP client;
//! - `cli`: the `jikimi` subcommands.
//!
//! This crate serves no HTTP: the one federation router (`/federation/v1/*`) is the server crate's, used by both
//! `jikimi serve` and `jikimi federation serve`; `Node` is its client and the handlers' engine.
//!
//! The sender's policy redacts; the receiver re-checks every envelope against the agreement it
//! cites and rejects what it does not allow. Withdrawals and restrictions are records too, so
//! they travel the same signed, audited, resumable path to every earlier recipient, across hops.
//!
//! This crate must not depend on the server, store or respond crates and knows no SQL; the core modules (`identifiers`,
//! `marking`, `domain`, `policy`, `protocol`, `stix`) do no I/O and read no clock.

pub mod cli;
pub mod domain;
pub mod error;
pub mod identifiers;
pub mod linkage_feed;
pub mod marking;
pub mod node;
pub mod policy;
pub mod protocol;
pub mod stix;
pub mod store;

pub use error::{Error, Result};
