//! The server's hash banks in memory ([`Banks`]): a [`BankIndex`] built from the store at start and kept up to date
//! from committed changes, plus the per-signal quarantine counters.
//!
//! Why from commits: the store tells every commit observer which banks and contents a transaction changed
//! ([`Committed::IdentifyBank`], [`Committed::IdentifyContent`]); a task re-reads each from the store and applies
//! it (add, disable, quarantine), so a change made any way (this server's API, another server on the same
//! database through its own observer, a federation import later) reaches the index with no code of its own. The
//! handler that made a change also applies it before answering (idempotent), so an added hash is matchable when
//! its `201` arrives. Nothing here holds an image: hashes, ids and labels.

use crate::error::ApiError;
use jikimi_mediahash::Hash256;
use jikimi_mediahash::banks::{BankIndex, BankRule, Lookup};
use jikimi_mediahash::vpdq::{VpdqFeature, parse_features};
use jikimi_store::identify::{Bank, Content, SignalType};
use jikimi_store::{ChangeSet, CommitObserver, Committed, Store};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// Contents loaded from the store per page at start.
const LOAD_PAGE: u32 = 10_000;

/// The quarantine rule: a signal matching more than `max_matches` lookups within `window_s` seconds is quarantined
/// locally pending review (an unexpected flood is more often a bad hash than a real wave of the same item).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineConfig {
    /// Matches allowed within the window.
    pub max_matches: usize,
    /// The window in seconds.
    pub window_s: i64,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        QuarantineConfig {
            max_matches: 1_000,
            window_s: 3_600,
        }
    }
}

/// Labels of a live content, for answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentMeta {
    pub bank: Uuid,
    pub category: Option<String>,
    pub series: Option<String>,
    pub quarantined: bool,
}

#[derive(Default)]
struct Inner {
    index: BankIndex<Uuid, Uuid>,
    banks: HashMap<Uuid, Bank>,
    meta: HashMap<Uuid, ContentMeta>,
    /// Live contents quarantined now (kept beside `meta` so listing them scans no content).
    quarantined: std::collections::BTreeSet<Uuid>,
}

impl Inner {
    /// Records the labels and quarantine state of a live content (its signal is in the index already).
    fn note(&mut self, content: Content) {
        if content.quarantined_at.is_some() {
            self.quarantined.insert(content.id);
        } else {
            self.quarantined.remove(&content.id);
        }
        self.meta.insert(
            content.id,
            ContentMeta {
                bank: content.bank_id,
                category: content.category,
                series: content.series,
                quarantined: content.quarantined_at.is_some(),
            },
        );
    }
}

/// The hash banks in memory; see the module documentation. Cheap to clone.
#[derive(Clone)]
pub struct Banks {
    inner: Arc<RwLock<Inner>>,
    /// Recent match times per content (ms), for the quarantine.
    rates: Arc<Mutex<HashMap<Uuid, VecDeque<i64>>>>,
    loaded: watch::Receiver<bool>,
}

/// Forwards committed identify changes to the applying task.
struct Follower(mpsc::UnboundedSender<Committed>);

impl CommitObserver for Follower {
    fn committed(&self, changes: &ChangeSet) {
        for change in changes.changes() {
            if matches!(
                change,
                Committed::IdentifyBank(_)
                    | Committed::IdentifyContent(_)
                    | Committed::IdentifyBankContent(_)
            ) {
                // A closed channel means the server is stopping.
                let _ = self.0.send(change.clone());
            }
        }
    }
}

impl Banks {
    /// Starts following `store`'s commits and loads every bank and content in the background (lookups wait for
    /// the load, [`Banks::ready`]). Must be called inside a Tokio runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Banks {
        let (tx, mut rx) = mpsc::unbounded_channel();
        store.observe_commits(Arc::new(Follower(tx)));
        let (loaded_tx, loaded) = watch::channel(false);
        let banks = Banks {
            inner: Arc::default(),
            rates: Arc::default(),
            loaded,
        };
        let task = banks.clone();
        tokio::spawn(async move {
            // Commits made while loading wait in the channel and are re-applied after (idempotent).
            if let Err(err) = task.load(store.as_ref()).await {
                tracing::error!(error = %err, "identify: loading the hash banks failed; lookups answer 503");
                return;
            }
            let _ = loaded_tx.send(true);
            while let Some(change) = rx.recv().await {
                let applied = match change {
                    Committed::IdentifyBank(id) => task.refresh_bank(store.as_ref(), id).await,
                    Committed::IdentifyContent(id) => {
                        task.refresh_content(store.as_ref(), id).await
                    }
                    Committed::IdentifyBankContent(id) => {
                        task.load_bank_content(store.as_ref(), id).await
                    }
                    _ => Ok(()),
                };
                if let Err(err) = applied {
                    tracing::warn!(error = %err, "identify: a committed change could not be applied to the index");
                }
            }
        });
        banks
    }

    /// Waits until the banks are loaded; false if loading failed.
    pub async fn ready(&self) -> bool {
        let mut loaded = self.loaded.clone();
        loaded.wait_for(|l| *l).await.is_ok()
    }

    /// Waits at most `limit` for the banks to be loaded. A request during a long load (ten million hashes take
    /// about a minute) is answered "retry later" instead of holding its connection until the client gives up.
    pub async fn ready_within(&self, limit: std::time::Duration) -> Result<(), ApiError> {
        // Every lookup passes here: once loaded, answer without arming a timer.
        if *self.loaded.borrow() {
            return Ok(());
        }
        match tokio::time::timeout(limit, self.ready()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::unavailable("the hash banks could not be loaded")),
            Err(_) => Err(ApiError::unavailable("the hash banks are still loading").retry_after(5)),
        }
    }

    async fn load(&self, store: &dyn Store) -> Result<(), jikimi_store::Error> {
        for bank in store.list_banks().await? {
            self.apply_bank(bank);
        }
        let mut after = None;
        loop {
            let page = store.content_page(after, LOAD_PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id);
            self.apply_page(page);
        }
        self.merge_tail();
        Ok(())
    }

    /// Ends the load at start: the pages leave up to 1/9 of the hashes in the index's tail (790,000 of ten
    /// million), which every lookup probes besides the tables (see [`BankIndex::merge_pdq_tail`]); one rebuild
    /// before the first lookup removes it. Not after an import while serving: the index's own growth rule
    /// bounds the tail there, and a rebuild of every hash for a small list would hold lookups for seconds.
    fn merge_tail(&self) {
        if let Ok(mut inner) = self.inner.write() {
            inner.index.merge_pdq_tail();
        }
    }

    /// Loads (again) every content of one bank: after an import. Contents already live are left as they are.
    pub async fn load_bank_content(
        &self,
        store: &dyn Store,
        bank: Uuid,
    ) -> Result<(), jikimi_store::Error> {
        let mut after = None;
        loop {
            let page = store.bank_content_page(bank, after, LOAD_PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id);
            self.apply_page(page);
        }
        Ok(())
    }

    /// Re-reads a bank from the store and applies it.
    pub async fn refresh_bank(
        &self,
        store: &dyn Store,
        id: Uuid,
    ) -> Result<(), jikimi_store::Error> {
        let bank = store.get_bank(id).await?;
        self.apply_bank(bank);
        Ok(())
    }

    /// Re-reads a content from the store and applies it (added, disabled, quarantined).
    pub async fn refresh_content(
        &self,
        store: &dyn Store,
        id: Uuid,
    ) -> Result<(), jikimi_store::Error> {
        let content = store.get_content(id).await?;
        self.apply_content(content);
        Ok(())
    }

    fn apply_bank(&self, bank: Bank) {
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        inner.index.set_bank(
            bank.id,
            BankRule {
                distance: bank.match_distance,
                negative: bank.negative,
                suppresses: bank.suppresses.clone(),
                enabled: bank.enabled,
            },
        );
        inner.banks.insert(bank.id, bank);
    }

    /// Applies a page of contents as [`Banks::apply_content`] would one by one, under one lock and with the page's
    /// PDQ hashes added in one batch ([`BankIndex::add_pdq_many`]): loading ten million hashes at start then
    /// sorts each into the tables about once instead of once per growth step of the index's tail.
    fn apply_page(&self, page: Vec<Content>) {
        let mut pdq = Vec::with_capacity(page.len());
        let mut rest = Vec::new();
        for content in page {
            match (content.enabled, content.signal_type) {
                (true, SignalType::Pdq) => match content.signal.parse::<Hash256>() {
                    Ok(hash) => pdq.push((hash, content)),
                    Err(_) => {
                        tracing::error!(content = %content.id, "identify: stored pdq signal does not parse");
                    }
                },
                _ => rest.push(content),
            }
        }
        for content in rest {
            self.apply_content(content);
        }
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        let items: Vec<(Uuid, Uuid, Hash256)> = pdq
            .iter()
            .map(|(hash, c)| (c.bank_id, c.id, *hash))
            .collect();
        if let Err(err) = inner.index.add_pdq_many(&items) {
            tracing::error!(error = %err, "identify: the index is full");
            return;
        }
        for (_, content) in pdq {
            inner.note(content);
        }
    }

    fn apply_content(&self, content: Content) {
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        if !content.enabled {
            inner.index.remove(&content.id);
            inner.meta.remove(&content.id);
            inner.quarantined.remove(&content.id);
            return;
        }
        let added = match content.signal_type {
            SignalType::Pdq => match content.signal.parse::<Hash256>() {
                Ok(hash) => inner.index.add_pdq(content.bank_id, content.id, hash),
                Err(_) => {
                    tracing::error!(content = %content.id, "identify: stored pdq signal does not parse");
                    return;
                }
            },
            SignalType::Vpdq => match parse_features(&content.signal) {
                Ok(frames) => inner.index.add_vpdq(content.bank_id, content.id, &frames),
                Err(_) => {
                    tracing::error!(content = %content.id, "identify: stored vpdq signal does not parse");
                    return;
                }
            },
        };
        if let Err(err) = added {
            tracing::error!(error = %err, "identify: the index is full");
            return;
        }
        inner.note(content);
    }

    /// Every bank known to the index, by name.
    pub fn banks(&self) -> Vec<Bank> {
        let Ok(inner) = self.inner.read() else {
            return Vec::new();
        };
        let mut banks: Vec<Bank> = inner.banks.values().cloned().collect();
        banks.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        banks
    }

    /// Up to `limit` live contents quarantined now, by id.
    pub fn quarantined(&self, limit: usize) -> Vec<Uuid> {
        self.inner
            .read()
            .map(|i| i.quarantined.iter().take(limit).copied().collect())
            .unwrap_or_default()
    }

    /// Live contents and the index's memory in bytes.
    pub fn stats(&self) -> (usize, usize) {
        self.inner
            .read()
            .map(|i| (i.index.len(), i.index.memory_bytes()))
            .unwrap_or((0, 0))
    }

    /// Looks up a PDQ hash.
    pub fn lookup_pdq(
        &self,
        query: &Hash256,
    ) -> Option<(Lookup<Uuid, Uuid>, HashMap<Uuid, ContentMeta>)> {
        let inner = self.inner.read().ok()?;
        let found = inner.index.lookup_pdq(query);
        let meta = metas(&inner, &found);
        Some((found, meta))
    }

    /// Looks up a video's frames (both match percentages at least `min_percent`).
    pub fn lookup_vpdq(
        &self,
        query: &[VpdqFeature],
        min_percent: f64,
    ) -> Option<(Lookup<Uuid, Uuid>, HashMap<Uuid, ContentMeta>)> {
        let inner = self.inner.read().ok()?;
        let found = inner.index.lookup_vpdq(query, min_percent);
        let meta = metas(&inner, &found);
        Some((found, meta))
    }

    /// Counts a match of `content` at `now_ms`; true when this match takes it over the expected `rule` (the caller
    /// quarantines it in the store, audited). Counted in memory per server: a local rule, as the issue asks.
    pub fn count_match(&self, content: Uuid, now_ms: i64, rule: QuarantineConfig) -> bool {
        let Ok(mut rates) = self.rates.lock() else {
            return false;
        };
        let window_ms = rule.window_s.saturating_mul(1000);
        if rates.len() > 100_000 {
            rates.retain(|_, times| times.back().is_some_and(|t| now_ms - t < window_ms));
        }
        let times = rates.entry(content).or_default();
        while times.front().is_some_and(|t| now_ms - t >= window_ms) {
            times.pop_front();
        }
        times.push_back(now_ms);
        times.len() > rule.max_matches
    }

    /// Forgets the recent matches of `content` (its quarantine was released by a review).
    pub fn reset_rate(&self, content: Uuid) {
        if let Ok(mut rates) = self.rates.lock() {
            rates.remove(&content);
        }
    }
}

fn metas(inner: &Inner, found: &Lookup<Uuid, Uuid>) -> HashMap<Uuid, ContentMeta> {
    found
        .matches
        .iter()
        .chain(&found.negative)
        .chain(&found.suppressed)
        .filter_map(|m| Some((m.content, inner.meta.get(&m.content)?.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use std::time::Duration;

    fn banks_loading() -> (watch::Sender<bool>, Banks) {
        let (tx, loaded) = watch::channel(false);
        let banks = Banks {
            inner: Arc::default(),
            rates: Arc::default(),
            loaded,
        };
        (tx, banks)
    }

    /// A lookup during a long load is told to come back (503 with `Retry-After`) instead of waiting for ever; once
    /// loaded it passes at once; a load that failed is `unavailable` without a retry hint.
    #[tokio::test]
    async fn lookups_wait_a_bounded_time_for_the_load() {
        let (tx, banks) = banks_loading();
        let refused = banks
            .ready_within(Duration::from_millis(20))
            .await
            .expect_err("still loading");
        assert_eq!(refused.code, ErrorCode::Unavailable);
        assert_eq!(refused.retry_after_s, Some(5));
        tx.send(true).expect("receiver alive");
        assert!(banks.ready_within(Duration::ZERO).await.is_ok());

        let (tx, banks) = banks_loading();
        drop(tx);
        let failed = banks
            .ready_within(Duration::from_secs(5))
            .await
            .expect_err("the load failed");
        assert_eq!(failed.code, ErrorCode::Unavailable);
        assert_eq!(failed.retry_after_s, None);
    }
}
