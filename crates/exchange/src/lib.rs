//! `jikimi-exchange`: the pure core of cooperation. Agencies share cases and investigative leads
//! under agreements, signed and audited; this crate decides and encodes, and does no I/O.
//!
//! - `identifiers`: phone (E.164), IBAN (mod-97), bank account, wallets (BTC/ETH/TRON), domain, SHA-256;
//! - `marking`: TLP 2.0, handling codes H0-H3, source/information grading; most restrictive wins;
//! - `domain`: `Agency`, `Agreement`, `Entity`, `Record` (case, lead, withdrawal, restriction);
//! - `policy`: for a record, field and recipient, may it go, under which agreement;
//! - `protocol`: RFC 8785 canonical encoding, Ed25519-signed envelopes, receipts, the receiver's
//!   `assess` step;
//! - `freeze`: freeze and confiscation requests, their signed status updates, jurisdiction resolution;
//! - `operation`: joint operations of several agencies: signed per-origin numbered events, the sovereignty rules,
//!   per-field visibility, court items;
//! - `hashbank`: hash banks shared with partners: offers under agreements allowing hashes, the origin's signed
//!   content events forwarded across hops, partners' signed feedback back to the origin;
//! - `stix`: STIX 2.1 bundle export and import of a case;
//! - `store`: the `ExchangeStore` trait (object safe), implemented by the store crate for SQLite and
//!   PostgreSQL as a supertrait of its `Store`;
//! - `error`: the one error type, shared by the federation crate.
//!
//! The edges live elsewhere: the node, its HTTP client, sync loops and the CLI in `jikimi-federation`; the one
//! federation router (`/federation/v1/*`) in the server crate; SQL in the store crate.
//!
//! The sender's policy redacts; the receiver re-checks every envelope against the agreement it
//! cites and rejects what it does not allow. Withdrawals and restrictions are records too, so
//! they travel the same signed, audited, resumable path to every earlier recipient, across hops.
//!
//! This crate must not depend on the server, store, federation, linkage or respond crates, nor on an HTTP, async
//! runtime or command-line crate; it knows no SQL, does no I/O and reads no clock (times are arguments).

pub mod domain;
pub mod error;
pub mod freeze;
pub mod hashbank;
pub mod identifiers;
pub mod marking;
pub mod operation;
pub mod policy;
pub mod protocol;
pub mod stix;
pub mod store;

pub use error::{Error, Result};
