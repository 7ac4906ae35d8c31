//! jikimi-intake: turning what devices send into checked, typed location reports.
//!
//! Pure: no I/O, no clock. [`aml`] parses Advanced Mobile Location payloads (ETSI TS 103 625)
//! from the SMS text and the HTTPS form transport; [`cli`] is the `jikimi intake` subcommand.
//!
//! Architecture Invariant: the parsers are total: any input ends in `Ok` or a classified [`AmlError`], never a
//! panic (proptest, and the cargo-fuzz target in `fuzz/`, its own workspace). Error details never repeat the IMSI,
//! IMEI or phone number, because errors end up in logs and audit entries. No tokio, axum, sqlx, store or server
//! dependency: the server's `aml` module turns an [`AmlReport`] into an alert.

pub mod aml;
pub mod cli;

pub use aml::{AmlError, AmlErrorClass, AmlReport, Method, parse_form, parse_sms};
