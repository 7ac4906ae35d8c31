//! An append-only set of strings numbered densely from 0: the account interner's index.
//!
//! Why not a `HashMap<Box<str>, u32>`: interning costs two lookups per transfer (sender and recipient) in a
//! table of a million accounts or more, and each lookup in such a map misses the cache several times: the
//! control bytes, the bucket, and the key's own heap block, which must be compared. Here the table is one
//! array of slots probed linearly from the key's hash, and a slot holds the key's full hash, its length and
//! its first [`INLINE`] bytes: a lookup usually reads one cache line, and reads the text (one contiguous
//! buffer, not a block per key) only for keys longer than a slot holds. Canonical account numbers
//! (`acct:1234567890`) fit; IBANs and wallet addresses compare their tail in the text. Because a key's slot
//! is a function of its hash alone, [`StringTable::warm`] can read the slots of many keys at once, so that
//! their cache misses overlap.

use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

/// How many leading bytes of a key a slot holds.
const INLINE: usize = 16;

/// `index` of a slot that holds no key.
const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    index: u32,
    len: u32,
    head: [u8; INLINE],
}

const EMPTY_SLOT: Slot = Slot {
    hash: 0,
    index: EMPTY,
    len: 0,
    head: [0; INLINE],
};

/// The strings, their slots and where each one ends in `text`.
#[derive(Debug, Default)]
pub(crate) struct StringTable {
    /// Open addressing with linear probing; the length is a power of two, at most half full.
    slots: Vec<Slot>,
    text: String,
    /// `ends[i]` is where string `i` ends in `text` (it starts where `i - 1` ends).
    ends: Vec<usize>,
}

fn hash(key: &str) -> u64 {
    FxBuildHasher.hash_one(key.as_bytes())
}

fn head(key: &[u8]) -> [u8; INLINE] {
    let mut h = [0u8; INLINE];
    let n = key.len().min(INLINE);
    h[..n].copy_from_slice(&key[..n]);
    h
}

impl StringTable {
    /// The first slot to probe for `hash`: its high bits after a multiplicative scramble (FxHash's low bits
    /// alone are weak on keys that differ only in their last bytes).
    fn home(&self, hash: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// The number of a string already in the table.
    pub(crate) fn get(&self, key: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let h = hash(key);
        let bytes = key.as_bytes();
        let key_head = head(bytes);
        let mask = self.slots.len() - 1;
        let mut pos = self.home(h);
        loop {
            let s = &self.slots[pos];
            if s.index == EMPTY {
                return None;
            }
            if s.hash == h
                && s.len as usize == bytes.len()
                && s.head == key_head
                && (bytes.len() <= INLINE
                    || self.text_of(s.index).as_bytes()[INLINE..] == bytes[INLINE..])
            {
                return Some(s.index);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Reads the slots where lookups of `keys` start, and nothing else: see the module's documentation.
    /// Positions are computed first and the slots read after in a tight loop, so that the processor has many
    /// reads in flight at once (interleaving hashing with reading would leave room for two or three).
    pub(crate) fn warm(&self, keys: &[&str]) {
        if self.slots.is_empty() {
            return;
        }
        let mut homes = [0usize; 64];
        for chunk in keys.chunks(homes.len()) {
            for (home, key) in homes.iter_mut().zip(chunk) {
                *home = self.home(hash(key));
            }
            let mut seen = 0u64;
            for &home in &homes[..chunk.len()] {
                seen ^= self.slots[home].hash;
            }
            std::hint::black_box(seen);
        }
    }

    /// Adds `key`, which must not be in the table yet, and returns its number; `None` when the table already
    /// holds `u32::MAX` strings or the key is longer than 4 GiB.
    pub(crate) fn insert_new(&mut self, key: &str) -> Option<u32> {
        debug_assert!(self.get(key).is_none());
        let index = u32::try_from(self.ends.len()).ok().filter(|i| *i < EMPTY)?;
        let len = u32::try_from(key.len()).ok()?;
        if (self.ends.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.text.push_str(key);
        self.ends.push(self.text.len());
        self.place(Slot {
            hash: hash(key),
            index,
            len,
            head: head(key.as_bytes()),
        });
        Some(index)
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut pos = self.home(slot.hash);
        while self.slots[pos].index != EMPTY {
            pos = (pos + 1) & mask;
        }
        self.slots[pos] = slot;
    }

    #[cold]
    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; len]);
        for slot in old.into_iter().filter(|s| s.index != EMPTY) {
            self.place(slot);
        }
    }

    /// String number `index` (panics beyond [`StringTable::len`], like a slice).
    pub(crate) fn text_of(&self, index: u32) -> &str {
        let i = index as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_keys_round_trip() {
        let mut t = StringTable::default();
        let keys = [
            "",
            "a",
            "acct:1234567890",
            "0123456789abcdef",
            "0123456789abcdef0",
            "0123456789abcdef1",
            "iban:GB82WEST12345698765432",
        ];
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.get(k), None);
            assert_eq!(t.insert_new(k), Some(i as u32));
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.get(k), Some(i as u32));
            assert_eq!(t.text_of(i as u32), *k);
        }
        assert_eq!(t.get("0123456789abcdef2"), None);
        assert_eq!(t.get("acct:123456789"), None);
        assert_eq!(t.len(), keys.len());
    }

    #[test]
    fn many_keys_survive_growth() {
        let mut t = StringTable::default();
        for i in 0..10_000u32 {
            assert_eq!(t.insert_new(&format!("acct:{i:010}")), Some(i));
        }
        for i in 0..10_000u32 {
            assert_eq!(t.get(&format!("acct:{i:010}")), Some(i));
        }
        assert_eq!(t.get("acct:0000010000"), None);
    }
}
