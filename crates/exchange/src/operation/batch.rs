//! Batches on the push channel: an origin sends every event a participant has not acknowledged yet in one request
//! ([`OpBatch`], signed by the origin, addressed to that participant, dated), and the receiver answers one signed
//! acknowledgement ([`OpBatchAck`]) with each event's outcome and, per operation, the next number it expects.
//!
//! The batch signature binds sender, recipient and time, so a receiver refuses a batch from an unknown sender, for
//! another node or out of the clock window with one check; every event in it still carries its own signed head and
//! is re-checked one by one (signature, parts, agreements, sovereignty rules, order), as a single event is.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AckOutcome, OpEvent};
use crate::domain::AgencyId;
use crate::identifiers::Sha256Hex;

/// Most events one batch carries: the sender pages through more, and a receiver refuses a longer batch unread.
pub const MAX_BATCH_EVENTS: usize = 256;

/// Most bytes (serialised) a sender puts in one batch, one event always fits: under the servers' default body
/// limit (64 KiB), so a batch is not refused for its size; a receiver with a smaller limit answers 413 and the
/// sender halves the batch.
pub const MAX_BATCH_BYTES: usize = 48 * 1024;

/// The origin's events for one participant, in order per operation, signed by the origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpBatch {
    pub protocol: String,
    /// The origin of every event in the batch: only an event's origin sends it.
    pub sender: AgencyId,
    pub recipient: AgencyId,
    pub at: DateTime<Utc>,
    /// Redacted to the parts the agreements let the recipient have.
    pub events: Vec<OpEvent>,
}

/// The receiver's signed answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpBatchAck {
    pub protocol: String,
    pub receiver: AgencyId,
    pub sender: AgencyId,
    /// The digest of the batch's signed body, as the receiver computed it.
    pub batch: Sha256Hex,
    /// One result per event, in the batch's order.
    pub results: Vec<OpResult>,
    /// For each operation of the batch, the next number of the sender the receiver expects (its events before that
    /// are applied there).
    pub next_expected: BTreeMap<Uuid, u64>,
    pub at: DateTime<Utc>,
}

/// What the receiver did with one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpResult {
    pub operation: Uuid,
    pub seq: u64,
    pub outcome: AckOutcome,
    /// Why it was refused ([`AckOutcome::Refused`] only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl OpBatchAck {
    /// How many results have each outcome: (applied, duplicate, buffered, refused).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |o: AckOutcome| self.results.iter().filter(|r| r.outcome == o).count();
        (
            n(AckOutcome::Applied),
            n(AckOutcome::Duplicate),
            n(AckOutcome::Buffered),
            n(AckOutcome::Refused),
        )
    }
}
