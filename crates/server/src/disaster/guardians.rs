//! The guardians of people in a declared disaster: what the store queues for them, and the sweep that tells them of
//! a person's silence.
//!
//! Every notice goes through the one guardian outbox and the `notify` worker (webhook, e-mail), rendered in the
//! guardian's language, else the subscriber's: there is no second delivery path. The store queues `welfare_asked`
//! for each guardian of each person the welfare check asks, in the asking transaction, and `welfare_<status>` when
//! the person answers, in the answer's transaction; a unique index keeps each (disaster, guardian, event) single.
//! [`sweep_silent`] queues `welfare_no_answer` for people still silent `--welfare-silence-s` after they were asked;
//! every node may run it ([`spawn`]), since a repeat queues nothing.

use std::time::Duration;

use jikimi_respond::Timestamp;

use crate::state::AppState;

/// People looked at per store transaction of a sweep.
pub const SWEEP_BATCH: u32 = 5_000;

/// Queues `welfare_no_answer` for the guardians of every person of an open disaster asked at least
/// `welfare_silence_ms` ago who has not answered; returns how many notices it queued. A silence age of 0 switches
/// the reminder off.
pub async fn sweep_silent(state: &AppState) -> Result<u64, jikimi_store::Error> {
    let age = state.config.welfare_silence_ms;
    if age <= 0 {
        return Ok(0);
    }
    let now = state.now();
    let asked_before = Timestamp::from_unix_ms(now.as_unix_ms().saturating_sub(age));
    let mut total = 0;
    loop {
        // Each call queues for people none of whose guardians was told yet, so the loop ends.
        let queued = state
            .store
            .queue_silent_welfare(asked_before, now, SWEEP_BATCH)
            .await?;
        if queued == 0 {
            break;
        }
        total += queued;
    }
    if total > 0 {
        metrics::counter!("jikimi_welfare_silence_notices_total").increment(total);
    }
    Ok(total)
}

/// Runs [`sweep_silent`] every `every`, for the life of the process.
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep_silent(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(queued = n, "guardians told of people still silent"),
                // The next sweep tries again; the notice is late, not lost.
                Err(err) => tracing::warn!(error = %err, "welfare silence sweep failed"),
            }
        }
    })
}
