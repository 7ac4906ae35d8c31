//! An append-only set of strings numbered densely from 0: the account interner's index.
//!
//! Why not a `HashMap<Box<str>, u32>`: interning costs two lookups per transfer (sender and recipient) in a
//! table of a million accounts or more, and each lookup in such a map misses the cache twice: once for the
//! bucket and once more for the key's heap block, which must be compared. Here a slot holds the key's full
//! hash, its length and its first [`INLINE`] bytes, so a lookup compares inside the slot and reads the text
//! (one contiguous buffer, not a block per key) only for keys longer than the slot holds. Canonical account
//! numbers (`acct:1234567890`) fit; IBANs and wallet addresses compare their tail in the text.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// How many leading bytes of a key a slot holds.
const INLINE: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    index: u32,
    len: u32,
    head: [u8; INLINE],
}

/// The strings, their hash index and where each one ends in `text`.
#[derive(Debug, Default)]
pub(crate) struct StringTable {
    slots: HashTable<Slot>,
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
    /// The number of a string already in the table.
    pub(crate) fn get(&self, key: &str) -> Option<u32> {
        let h = hash(key);
        let bytes = key.as_bytes();
        let key_head = head(bytes);
        self.slots
            .find(h, |s| {
                s.hash == h
                    && s.len as usize == bytes.len()
                    && s.head == key_head
                    && (bytes.len() <= INLINE
                        || self.text_of(s.index).as_bytes()[INLINE..] == bytes[INLINE..])
            })
            .map(|s| s.index)
    }

    /// Adds `key`, which must not be in the table yet, and returns its number; `None` when the table already
    /// holds `u32::MAX` strings or the key is longer than 4 GiB.
    pub(crate) fn insert_new(&mut self, key: &str) -> Option<u32> {
        debug_assert!(self.get(key).is_none());
        let index = u32::try_from(self.ends.len())
            .ok()
            .filter(|i| *i < u32::MAX)?;
        let len = u32::try_from(key.len()).ok()?;
        self.text.push_str(key);
        self.ends.push(self.text.len());
        let slot = Slot {
            hash: hash(key),
            index,
            len,
            head: head(key.as_bytes()),
        };
        self.slots.insert_unique(slot.hash, slot, |s| s.hash);
        Some(index)
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
}
