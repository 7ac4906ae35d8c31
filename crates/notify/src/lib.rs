//! Guardian notification: the `notify` worker delivers the store's outbox to guardians.
//!
//! An incident event that concerns guardians (the alert that opens an incident, a unit dispatched, the incident
//! closed) writes one outbox row per guardian in the event's own transaction (`jikimi_store::Outbox`). The
//! [`Worker`] claims due rows under a lease, unseals the guardian's channels and language, renders the message
//! ([`template`]) and delivers it to every channel: an HTTP webhook whose body is signed with HMAC-SHA256
//! ([`signing`], [`webhook`]) or e-mail over SMTP ([`email`]). Failures are retried with exponential back-off and
//! jitter ([`backoff`]) and dead-lettered after a limit; every attempt's outcome is audited by the store.
//!
//! Delivery is at least once, made exactly once for the receiver by a stable id: the webhook's `Idempotency-Key`
//! header and the e-mail's `Message-ID` are the notification id, the same on every retry. A worker that crashes
//! mid-delivery leaves its lease to expire; the row is then claimed again. Each guardian gets an incident's
//! notifications in event order: a row is claimable only when the earlier ones of its (incident, guardian) stream
//! are delivered or dead-lettered.
//!
//! The pure parts ([`template`], [`backoff`], [`signing`]) do no I/O and read no clock. SMS channels are shown, not
//! attempted (no gateway yet). `jikimi serve` runs the worker unless `--notify false`.
//!
//! Architecture Invariant: no SQL and no HTTP server here (the database only through `jikimi_store::Store`); what
//! the outbox and the log record of a failure is a class (`http_503`, `webhook_connect`, `smtp_451`), never an
//! address or a message.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn jikimi_store::Store>, keyring: jikimi_privacy::Keyring)
//! # -> Result<(), jikimi_notify::Error> {
//! let config = jikimi_notify::WorkerConfig::default();
//! let worker = jikimi_notify::Worker::new(store, std::sync::Arc::new(keyring), config, jikimi_notify::system_clock())?;
//! worker.run(std::future::pending::<()>()).await;
//! # Ok(()) }
//! ```

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod backoff;
pub mod email;
pub mod signing;
pub mod template;
pub mod webhook;
mod worker;

pub use backoff::Backoff;
pub use email::{SmtpSettings, SmtpTls};
pub use template::{Language, Message};
pub use worker::{Clock, Worker, WorkerConfig, system_clock};

/// Why a channel did not take a notification. The class is what the outbox records: never an address or text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (connection refused, timeout, HTTP 5xx/408/429, SMTP 4xx).
    #[error("transient failure: {0}")]
    Transient(String),
    /// Retrying will not help (HTTP 4xx, SMTP 5xx, a malformed address, the channel not configured).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl DeliveryError {
    /// The class recorded in the outbox.
    pub fn class(&self) -> &str {
        match self {
            DeliveryError::Transient(c) | DeliveryError::Permanent(c) => c,
        }
    }
}

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range or inconsistent.
    #[error("invalid notify setting {setting}: {message}")]
    Invalid {
        /// Which.
        setting: &'static str,
        /// Why.
        message: String,
    },
}
