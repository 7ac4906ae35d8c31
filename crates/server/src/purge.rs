//! The scheduled purge: used device nonces and expired staff sessions are deleted every interval
//! (`jikimi serve --purge-interval-s`), so neither table grows without bound.
//!
//! A nonce only has to be remembered while a request carrying it could still pass the clock window: the signed
//! timestamp is at most `alert_window_s` from the server's clock when the nonce is first seen, and a replay is
//! refused once its timestamp is more than `alert_window_s` old, so after twice the window (plus a margin for clock
//! steps) the window refuses the replay by itself and the nonce can go.

use std::time::Duration;

use jikimi_respond::Timestamp;

use crate::state::AppState;

/// Extra time nonces are kept beyond twice the clock window, for clock steps.
pub const NONCE_MARGIN_S: i64 = 60;

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Device nonces forgotten.
    pub nonces: u64,
    /// Expired sessions deleted.
    pub sessions: u64,
}

/// The oldest first-seen time a nonce must still be remembered for at `now`.
pub fn nonce_cutoff(now: Timestamp, alert_window_s: i64) -> Timestamp {
    Timestamp::from_unix_ms(now.as_unix_ms() - (2 * alert_window_s + NONCE_MARGIN_S) * 1000)
}

/// Purges once, now.
pub async fn purge_once(state: &AppState) -> jikimi_store::Result<Purged> {
    let now = state.now();
    let nonces = state
        .store
        .purge_nonces(nonce_cutoff(now, state.config.alert_window_s))
        .await?;
    let sessions = state.store.purge_sessions(now).await?;
    Ok(Purged { nonces, sessions })
}

/// Purges every `every`, for the life of the process (the first run one interval after the start).
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // In a cluster the purge runs on the holder of its lease only.
            if let Some(cluster) = &state.cluster
                && !cluster.holds(crate::cluster::LEASE_PURGE)
            {
                continue;
            }
            match purge_once(&state).await {
                Ok(purged) => tracing::info!(
                    nonces = purged.nonces,
                    sessions = purged.sessions,
                    "purged used nonces and expired sessions"
                ),
                // The next run tries again; nothing is lost by a late purge.
                Err(err) => tracing::warn!(error = %err, "purge failed"),
            }
        }
    })
}
