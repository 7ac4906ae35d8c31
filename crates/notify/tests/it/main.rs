//! Integration tests of the notification worker against real stores (SQLite file, PostgreSQL schema), a webhook
//! receiver (axum on an ephemeral port) and an SMTP sink (a minimal SMTP server on an ephemeral port), all started
//! by the tests. Waits are on observed state with a deadline, never fixed sleeps.

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

mod email;
mod support;
mod webhook;
