//! jikimi-intake: turning what devices send into checked, typed location reports.
//!
//! Pure: no I/O, no clock. [`aml`] parses Advanced Mobile Location payloads (ETSI TS 103 625)
//! from the SMS text and the HTTPS form transport; [`cli`] is the `jikimi intake` subcommand.

pub mod aml;
pub mod cli;

pub use aml::{AmlError, AmlErrorClass, AmlReport, Method, parse_form, parse_sms};
