//! The audit coalescer: every refusal is accounted for in the hash-chained audit log, but a flood does not get one
//! row (and one turn on the audit-head lock) per junk request.
//!
//! Each source may have `budget` refusals per interval audited one by one, as before (with their request id).
//! Past that, and for every request a limit refused (429), the refusal is only counted in memory under
//! (action, source, code); a background task writes one `{action}.summary` entry per key each interval, with the
//! count and the first and last time, and once more on shutdown. The chain then proves how many were refused, not
//! each one. Sources appear as a keyed pseudonym (the blind-index key over the address), never as the address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jikimi_audit::NewAuditEntry;
use jikimi_privacy::BlindIndex;
use jikimi_store::Store;

use super::Source;
use crate::error::ErrorCode;

/// One refused request, as the coalescer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    /// The audit action of the individual entry, e.g. `alert.rejected`.
    pub action: &'static str,
    /// Who sent it.
    pub source: Source,
    /// Why it was refused.
    pub code: ErrorCode,
    /// When (Unix ms, by the server's clock).
    pub at_ms: i64,
}

/// What the caller does with a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Within the source's budget: write the individual audit entry now.
    Audit,
    /// Counted for the next summary entry; write nothing.
    Counted,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    count: u64,
    first_ms: i64,
    last_ms: i64,
}

#[derive(Debug, Default)]
struct Window {
    /// Individual entries written per source this interval.
    audited: HashMap<Source, u32>,
    /// Refusals counted but not yet written, by (action, source, code).
    pending: HashMap<(&'static str, Source, ErrorCode), Tally>,
}

/// Most sources tracked per interval; past it, new sources share one "many sources" tally, so a flood from many
/// addresses cannot grow memory without bound.
const MAX_SOURCES: usize = 10_000;
/// The key standing for every source beyond [`MAX_SOURCES`].
const OVERFLOW: Source = Source(Some(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)));

/// See the module header. Shared by every refusal path of the server.
pub struct AuditCoalescer {
    budget: u32,
    blind: Arc<BlindIndex>,
    window: Mutex<Window>,
    // One flush at a time, so the summaries of an interval are written in order.
    flushing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AuditCoalescer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditCoalescer")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl AuditCoalescer {
    /// A coalescer auditing `budget` refusals per source and interval individually; `blind` makes the pseudonyms.
    pub fn new(budget: u32, blind: Arc<BlindIndex>) -> AuditCoalescer {
        AuditCoalescer {
            budget,
            blind,
            window: Mutex::new(Window::default()),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// Decides whether `refusal` gets its own entry (and charges the source's budget if so) or is counted.
    pub fn admit(&self, refusal: &Refusal) -> Disposition {
        let Ok(mut window) = self.window.lock() else {
            // A poisoned lock means a panic elsewhere; auditing individually is the safe answer.
            return Disposition::Audit;
        };
        if window.audited.len() < MAX_SOURCES || window.audited.contains_key(&refusal.source) {
            let used = window.audited.entry(refusal.source).or_insert(0);
            if *used < self.budget {
                *used += 1;
                return Disposition::Audit;
            }
        }
        Self::tally(&mut window, refusal);
        Disposition::Counted
    }

    /// Counts `refusal` for the next summary, whatever the budget (a 429 from a limit).
    pub fn count_only(&self, refusal: &Refusal) {
        if let Ok(mut window) = self.window.lock() {
            Self::tally(&mut window, refusal);
        }
    }

    fn tally(window: &mut Window, refusal: &Refusal) {
        metrics::counter!("jikimi_refusals_coalesced_total", "action" => refusal.action)
            .increment(1);
        let source = if window.pending.len() >= MAX_SOURCES
            && !window
                .pending
                .contains_key(&(refusal.action, refusal.source, refusal.code))
        {
            OVERFLOW
        } else {
            refusal.source
        };
        window
            .pending
            .entry((refusal.action, source, refusal.code))
            .and_modify(|t| {
                t.count += 1;
                t.first_ms = t.first_ms.min(refusal.at_ms);
                t.last_ms = t.last_ms.max(refusal.at_ms);
            })
            .or_insert(Tally {
                count: 1,
                first_ms: refusal.at_ms,
                last_ms: refusal.at_ms,
            });
    }

    /// The pseudonym of a source in audit entries: 16 hex digits of a keyed hash, `in-process` without an address.
    pub fn pseudonym(&self, source: Source) -> String {
        match source {
            OVERFLOW => "many-sources".to_string(),
            Source(Some(ip)) => {
                let digest = self.blind.digest("flood-source", &ip.to_string());
                hex::encode(&digest.0[..8])
            }
            Source(None) => "in-process".to_string(),
        }
    }

    /// Writes one summary entry per (action, source, code) counted since the last flush, and opens a new interval
    /// (budgets start again). Returns how many entries were written. On a store failure the counts are kept for the
    /// next flush, so nothing counted is lost.
    pub async fn flush(
        &self,
        store: &dyn Store,
        now_ms: i64,
    ) -> Result<usize, jikimi_store::Error> {
        let _one_at_a_time = self.flushing.lock().await;
        let pending = match self.window.lock() {
            Ok(mut window) => {
                window.audited.clear();
                std::mem::take(&mut window.pending)
            }
            Err(_) => return Ok(0),
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let mut keys: Vec<_> = pending.iter().collect();
        // A stable order (first refusal first) so the chain reads like a timeline.
        keys.sort_by_key(|((action, _, code), t)| (t.first_ms, *action, code.as_str()));
        let entries: Vec<NewAuditEntry> = keys
            .iter()
            .map(|((action, source, code), tally)| {
                let who = self.pseudonym(*source);
                NewAuditEntry::new(
                    now_ms,
                    format!("source:{who}"),
                    format!("{action}.summary"),
                    format!("source/{who}"),
                    format!("{} refusals ({})", tally.count, code.as_str()),
                )
                .with_detail(&serde_json::json!({
                    "code": code.as_str(),
                    "count": tally.count,
                    "first_at_ms": tally.first_ms,
                    "last_at_ms": tally.last_ms,
                    "source": who,
                }))
            })
            .collect();
        let n = entries.len();
        if let Err(err) = store.append_audit(entries).await {
            if let Ok(mut window) = self.window.lock() {
                for (key, tally) in pending {
                    window
                        .pending
                        .entry(key)
                        .and_modify(|t| {
                            t.count += tally.count;
                            t.first_ms = t.first_ms.min(tally.first_ms);
                            t.last_ms = t.last_ms.max(tally.last_ms);
                        })
                        .or_insert(tally);
                }
            }
            return Err(err);
        }
        Ok(n)
    }

    /// Flushes every `interval` for as long as the runtime runs; `tick` runs after each flush (housekeeping).
    pub fn spawn_flusher(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        clock: crate::state::Clock,
        interval: Duration,
        tick: impl Fn() + Send + 'static,
    ) {
        let coalescer = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                // The state (and so the coalescer) is gone: nothing left to flush.
                let Some(coalescer) = coalescer.upgrade() else {
                    return;
                };
                if let Err(err) = coalescer.flush(store.as_ref(), clock().as_unix_ms()).await {
                    tracing::warn!(error = %err, "refusal summaries not written; kept for the next interval");
                }
                tick();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn refusal(ip: u8, at_ms: i64) -> Refusal {
        Refusal {
            action: "alert.rejected",
            source: Source(Some(IpAddr::V4([198, 51, 100, ip].into()))),
            code: ErrorCode::DeviceUnknown,
            at_ms,
        }
    }

    #[test]
    fn each_source_has_its_own_budget_then_is_counted() {
        let c = AuditCoalescer::new(2, Arc::new(BlindIndex::new([7; 32])));
        assert_eq!(c.admit(&refusal(1, 1)), Disposition::Audit);
        assert_eq!(c.admit(&refusal(1, 2)), Disposition::Audit);
        assert_eq!(c.admit(&refusal(1, 3)), Disposition::Counted);
        assert_eq!(c.admit(&refusal(1, 4)), Disposition::Counted);
        assert_eq!(c.admit(&refusal(2, 5)), Disposition::Audit);
        let window = c
            .window
            .lock()
            .map(|w| w.pending.clone())
            .unwrap_or_default();
        assert_eq!(window.len(), 1);
        let tally = window.values().next().copied();
        assert_eq!(
            tally.map(|t| (t.count, t.first_ms, t.last_ms)),
            Some((2, 3, 4))
        );
        assert_ne!(
            c.pseudonym(refusal(1, 0).source),
            c.pseudonym(refusal(2, 0).source)
        );
        assert!(!c.pseudonym(refusal(1, 0).source).contains("198"));
    }
}
