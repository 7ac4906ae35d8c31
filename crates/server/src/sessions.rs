//! Sessions checked in the last [`FRESH`], kept in memory so that a busy client (an analyst's lookups, a
//! console's polling) costs one store read a second, not one per request.
//!
//! Why: reading the session with its account is a database round trip on every request; at thousands of
//! identify lookups a second it was the largest share of the server's work after the index itself. The price is
//! bounded staleness, and only where this node cannot know better:
//! - changes made through this node (logout, an account disabled, a new role or password) drop its entries at
//!   once ([`SessionCache::forget`], [`SessionCache::clear`]);
//! - changes made through another node of a cluster, or by `jikimi` on the database, are seen here within
//!   [`FRESH`];
//! - a session's own expiry is checked against the clock on every request, cached or not.
//!
//! A read that started before a change made here is not kept after it: every forget and clear starts a new
//! generation, and [`SessionCache::put`] keeps only what was read in the current one.
//!
//! Only sessions the store confirmed are kept (an unknown token is never cached, so guessing tokens fills
//! nothing), and at most [`CAPACITY`] of them: past it the cache starts again empty.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::roles::Role;

/// How long a confirmed session is trusted without reading it again.
pub const FRESH: Duration = Duration::from_secs(1);

/// Most sessions kept at once.
pub const CAPACITY: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    username: String,
    role: Role,
    expires_at_ms: i64,
    checked: Instant,
}

/// Recently confirmed sessions by token hash.
#[derive(Debug, Default)]
pub struct SessionCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<[u8; 32], Entry>,
    /// Bumped by every forget and clear.
    generation: u64,
}

impl SessionCache {
    /// The session's account name and role, if it was confirmed within [`FRESH`] and has not expired by `now_ms`.
    pub fn get(&self, hash: &[u8; 32], now_ms: i64) -> Option<(String, Role)> {
        let inner = self.inner.lock().ok()?;
        let entry = inner.entries.get(hash)?;
        (entry.checked.elapsed() < FRESH && now_ms < entry.expires_at_ms)
            .then(|| (entry.username.clone(), entry.role))
    }

    /// The generation to give [`SessionCache::put`]: read it before reading the session from the store.
    pub fn generation(&self) -> u64 {
        self.inner.lock().map(|i| i.generation).unwrap_or(u64::MAX)
    }

    /// Remembers a session the store has just confirmed, unless something was forgotten since `generation`.
    pub fn put(
        &self,
        generation: u64,
        hash: [u8; 32],
        username: &str,
        role: Role,
        expires_at_ms: i64,
    ) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.generation != generation {
                return;
            }
            if inner.entries.len() >= CAPACITY {
                inner.entries.clear();
            }
            inner.entries.insert(
                hash,
                Entry {
                    username: username.to_string(),
                    role,
                    expires_at_ms,
                    checked: Instant::now(),
                },
            );
        }
    }

    /// Forgets one session (it was ended here).
    pub fn forget(&self, hash: &[u8; 32]) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.entries.remove(hash);
            inner.generation = inner.generation.wrapping_add(1);
        }
    }

    /// Forgets every session (an account changed here: its sessions may have ended or changed role).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.entries.clear();
            inner.generation = inner.generation.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmed_sessions_are_kept_until_expiry_forget_or_clear() {
        let cache = SessionCache::default();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert!(cache.get(&a, 0).is_none());
        let g = cache.generation();
        cache.put(g, a, "kim", Role::Analyst, 1_000);
        cache.put(g, b, "lee", Role::Supervisor, 1_000);
        assert_eq!(cache.get(&a, 999), Some(("kim".into(), Role::Analyst)));
        assert!(cache.get(&a, 1_000).is_none(), "expired by the clock");
        cache.forget(&a);
        assert!(cache.get(&a, 0).is_none());
        assert!(cache.get(&b, 0).is_some());
        cache.clear();
        assert!(cache.get(&b, 0).is_none());
    }

    #[test]
    fn a_read_from_before_a_forget_is_not_kept() {
        let cache = SessionCache::default();
        let before = cache.generation();
        cache.forget(&[9u8; 32]);
        cache.put(before, [1u8; 32], "kim", Role::Analyst, i64::MAX);
        assert!(cache.get(&[1u8; 32], 0).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = SessionCache::default();
        for i in 0..=CAPACITY {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            cache.put(cache.generation(), h, "kim", Role::Analyst, i64::MAX);
        }
        assert!(cache.inner.lock().map(|i| i.entries.len()).unwrap_or(0) <= CAPACITY);
    }
}
