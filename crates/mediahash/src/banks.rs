//! `BankIndex`: the in-memory matcher of hash banks (PDQ hashes and vPDQ videos grouped into banks), updated
//! one content at a time with no rebuild.
//!
//! Owns what a lookup answers: per bank, the contents within that bank's own match distance, and the negative
//! banks' rule (a match in a negative bank suppresses the matches of the banks it names, the known false
//! positives of HMA's roadmap). Keys are the caller's (the server's bank and content ids); the index stores
//! hashes and keys only, never an image. PDQ contents live in one [`HammingIndex`] searched at the largest
//! distance of any enabled bank and filtered per bank; videos live in one [`VideoIndex`]. Adding a content or
//! disabling one is an insert or a tombstone: matchable, or gone, on the next lookup.

use crate::Hash256;
use crate::index::{HammingIndex, Hit, IndexError};
use crate::vpdq::{VideoIndex, VideoMatch, VpdqFeature};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// The vPDQ quality tolerance of the bank index (the reference's default).
pub const VIDEO_QUALITY_TOLERANCE: u32 = crate::vpdq::DEFAULT_QUALITY_TOLERANCE;

/// What the index needs to know about a bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankRule<B> {
    /// Largest PDQ Hamming distance that counts as a match in this bank (for videos: a frame matches at a
    /// distance strictly below `distance + 1`, the reference's tolerance convention).
    pub distance: u32,
    /// A negative bank: its matches suppress the matches of `suppresses`.
    pub negative: bool,
    /// The banks a match in this (negative) bank suppresses.
    pub suppresses: Vec<B>,
    /// A disabled bank answers nothing (its contents stay indexed).
    pub enabled: bool,
}

/// One match of a lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct BankMatch<B, C> {
    /// The bank of the content.
    pub bank: B,
    /// The matched content.
    pub content: C,
    /// PDQ Hamming distance (for a video: the smallest the comparison allowed, the bank's distance).
    pub distance: u32,
    /// For a video: the query and compared match percentages.
    pub video: Option<VideoMatch>,
}

/// A lookup's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup<B, C> {
    /// Matches in positive banks that no negative bank suppressed, by (bank, distance, content).
    pub matches: Vec<BankMatch<B, C>>,
    /// Matches in negative banks.
    pub negative: Vec<BankMatch<B, C>>,
    /// Matches in positive banks a matching negative bank suppressed.
    pub suppressed: Vec<BankMatch<B, C>>,
}

/// Where a content lives in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Pdq(u32),
    Video(u32),
}

/// Hash banks in memory; see the module documentation.
#[derive(Debug, Clone)]
pub struct BankIndex<B, C> {
    banks: HashMap<B, BankRule<B>>,
    pdq: HammingIndex,
    /// Owner of each PDQ id.
    pdq_owner: Vec<(B, C)>,
    video: VideoIndex,
    /// Owner of each video id.
    video_owner: Vec<(B, C)>,
    /// Live contents.
    contents: HashMap<C, Slot>,
}

impl<B, C> Default for BankIndex<B, C>
where
    B: Copy + Eq + Hash + Ord,
    C: Copy + Eq + Hash + Ord,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<B, C> BankIndex<B, C>
where
    B: Copy + Eq + Hash + Ord,
    C: Copy + Eq + Hash + Ord,
{
    /// An empty index.
    pub fn new() -> Self {
        BankIndex {
            banks: HashMap::new(),
            pdq: HammingIndex::new(),
            pdq_owner: Vec::new(),
            video: VideoIndex::new(VIDEO_QUALITY_TOLERANCE),
            video_owner: Vec::new(),
            contents: HashMap::new(),
        }
    }

    /// Adds or changes a bank's rule.
    pub fn set_bank(&mut self, bank: B, rule: BankRule<B>) {
        self.banks.insert(bank, rule);
    }

    /// The rule of a bank, if known.
    pub fn bank(&self, bank: &B) -> Option<&BankRule<B>> {
        self.banks.get(bank)
    }

    /// Live contents.
    pub fn len(&self) -> usize {
        self.contents.len()
    }

    /// True when no content is live.
    pub fn is_empty(&self) -> bool {
        self.contents.is_empty()
    }

    /// Whether `content` is live in the index.
    pub fn contains(&self, content: &C) -> bool {
        self.contents.contains_key(content)
    }

    /// Memory held in bytes (approximate: the indexes and the owner maps).
    pub fn memory_bytes(&self) -> usize {
        let key = std::mem::size_of::<(B, C)>();
        self.pdq.memory_bytes()
            + self.video.memory_bytes()
            + (self.pdq_owner.capacity() + self.video_owner.capacity()) * key
            + self.contents.capacity() * (std::mem::size_of::<(C, Slot)>() + 8)
    }

    /// Adds a PDQ content; false (and nothing changed) if the content is live already.
    pub fn add_pdq(&mut self, bank: B, content: C, hash: Hash256) -> Result<bool, IndexError> {
        if self.contents.contains_key(&content) {
            return Ok(false);
        }
        let id = self.pdq.insert(hash)?;
        debug_assert_eq!(id as usize, self.pdq_owner.len());
        self.pdq_owner.push((bank, content));
        self.contents.insert(content, Slot::Pdq(id));
        Ok(true)
    }

    /// Adds many PDQ contents at once (a bank loaded at start, an imported hash list) with at most one rebuild
    /// of the hash tables ([`HammingIndex::extend`]); contents live already, or repeated in `items`, are skipped.
    /// Returns how many were added.
    pub fn add_pdq_many(&mut self, items: &[(B, C, Hash256)]) -> Result<usize, IndexError> {
        let mut hashes = Vec::with_capacity(items.len());
        let first = self.pdq_owner.len();
        self.contents.reserve(items.len());
        for &(bank, content, hash) in items {
            let id = u32::try_from(first + hashes.len()).map_err(|_| IndexError::Full)?;
            if let std::collections::hash_map::Entry::Vacant(slot) = self.contents.entry(content) {
                slot.insert(Slot::Pdq(id));
                self.pdq_owner.push((bank, content));
                hashes.push(hash);
            }
        }
        if let Err(err) = self.pdq.extend(&hashes) {
            // Undo the bookkeeping so the index stays consistent (ids must equal positions).
            for (_, content) in self.pdq_owner.drain(first..) {
                self.contents.remove(&content);
            }
            return Err(err);
        }
        Ok(hashes.len())
    }

    /// Merges the PDQ hashes added since the last rebuild into the compressed tables
    /// ([`HammingIndex::merge_tail`]): call it when a bulk load made of many [`BankIndex::add_pdq_many`] ends,
    /// so that lookups probe no tail (one rebuild; nothing when there is no tail).
    pub fn merge_pdq_tail(&mut self) {
        self.pdq.merge_tail();
    }

    /// PDQ hashes in the index's tail ([`HammingIndex::tail_len`]).
    pub fn pdq_tail_len(&self) -> usize {
        self.pdq.tail_len()
    }

    /// Adds a video's frame features; false (and nothing changed) if the content is live already.
    pub fn add_vpdq(
        &mut self,
        bank: B,
        content: C,
        features: &[VpdqFeature],
    ) -> Result<bool, IndexError> {
        if self.contents.contains_key(&content) {
            return Ok(false);
        }
        let id = self.video.insert(features)?;
        debug_assert_eq!(id as usize, self.video_owner.len());
        self.video_owner.push((bank, content));
        self.contents.insert(content, Slot::Video(id));
        Ok(true)
    }

    /// Removes a content (disabled, withdrawn); false if it was not live.
    pub fn remove(&mut self, content: &C) -> bool {
        match self.contents.remove(content) {
            Some(Slot::Pdq(id)) => self.pdq.remove(id),
            Some(Slot::Video(id)) => self.video.remove(id),
            None => false,
        }
    }

    /// The largest distance of any enabled bank (what one search must cover).
    fn max_distance(&self) -> Option<u32> {
        self.banks
            .values()
            .filter(|r| r.enabled)
            .map(|r| r.distance)
            .max()
    }

    /// PDQ contents within their bank's distance of `query`, negative banks applied.
    pub fn lookup_pdq(&self, query: &Hash256) -> Lookup<B, C> {
        let Some(radius) = self.max_distance() else {
            return self.split(Vec::new());
        };
        let hits: Vec<Hit> = self.pdq.search(query, radius);
        let found = hits
            .into_iter()
            .filter_map(|hit| {
                let (bank, content) = self.pdq_owner[hit.id as usize];
                let rule = self.banks.get(&bank)?;
                (rule.enabled && hit.distance <= rule.distance).then_some(BankMatch {
                    bank,
                    content,
                    distance: hit.distance,
                    video: None,
                })
            })
            .collect();
        self.split(found)
    }

    /// Videos matching `query`: some frame within the bank's distance, and both the query and the compared
    /// match percentages at least `min_percent` (the reference's comparison, [`crate::vpdq`]).
    pub fn lookup_vpdq(&self, query: &[VpdqFeature], min_percent: f64) -> Lookup<B, C> {
        // One query per distinct bank distance (usually one): the percentages depend on the tolerance.
        let mut distances: Vec<u32> = self
            .banks
            .values()
            .filter(|r| r.enabled)
            .map(|r| r.distance.min(crate::index::MAX_INDEXED_RADIUS))
            .collect();
        distances.sort_unstable();
        distances.dedup();
        let mut found = Vec::new();
        for distance in distances {
            for m in self.video.query(query, distance + 1) {
                let (bank, content) = self.video_owner[m.video as usize];
                let Some(rule) = self.banks.get(&bank) else {
                    continue;
                };
                if !rule.enabled || rule.distance.min(crate::index::MAX_INDEXED_RADIUS) != distance
                {
                    continue;
                }
                let r = m.result;
                if r.query_match_percent >= min_percent && r.compared_match_percent >= min_percent {
                    found.push(BankMatch {
                        bank,
                        content,
                        distance,
                        video: Some(r),
                    });
                }
            }
        }
        self.split(found)
    }

    /// Splits matches into positive, negative and suppressed, each sorted by (bank, distance, content).
    fn split(&self, found: Vec<BankMatch<B, C>>) -> Lookup<B, C> {
        let is_negative = |b: &B| self.banks.get(b).is_some_and(|r| r.negative);
        let (mut negative, positive): (Vec<_>, Vec<_>) =
            found.into_iter().partition(|m| is_negative(&m.bank));
        let suppressed_banks: HashSet<B> = negative
            .iter()
            .filter_map(|m| self.banks.get(&m.bank))
            .flat_map(|r| r.suppresses.iter().copied())
            .collect();
        let (mut suppressed, mut matches): (Vec<_>, Vec<_>) = positive
            .into_iter()
            .partition(|m| suppressed_banks.contains(&m.bank));
        for list in [&mut matches, &mut negative, &mut suppressed] {
            list.sort_by(|a, b| {
                (a.bank, a.distance, a.content).cmp(&(b.bank, b.distance, b.content))
            });
        }
        Lookup {
            matches,
            negative,
            suppressed,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed fixtures
mod tests {
    use super::*;

    fn rule(distance: u32) -> BankRule<u32> {
        BankRule {
            distance,
            negative: false,
            suppresses: Vec::new(),
            enabled: true,
        }
    }

    fn flipped(n: usize) -> Hash256 {
        let mut h = Hash256::ZERO;
        for k in 0..n {
            h.flip_bit(k * 7);
        }
        h
    }

    #[test]
    fn per_bank_distance_negative_banks_and_disable() {
        let mut index: BankIndex<u32, u64> = BankIndex::new();
        index.set_bank(1, rule(10));
        index.set_bank(2, rule(31));
        index.add_pdq(1, 100, flipped(20)).unwrap();
        index.add_pdq(2, 200, flipped(20)).unwrap();
        let found = index.lookup_pdq(&Hash256::ZERO);
        // Distance 20: beyond bank 1's 10, within bank 2's 31.
        assert_eq!(found.matches.len(), 1);
        assert_eq!((found.matches[0].bank, found.matches[0].content), (2, 200));
        assert_eq!(found.matches[0].distance, 20);

        index.set_bank(
            3,
            BankRule {
                negative: true,
                suppresses: vec![2],
                ..rule(5)
            },
        );
        index.add_pdq(3, 300, flipped(2)).unwrap();
        let found = index.lookup_pdq(&Hash256::ZERO);
        assert!(found.matches.is_empty());
        assert_eq!(found.negative[0].content, 300);
        assert_eq!(found.suppressed[0].content, 200);

        assert!(index.remove(&300));
        assert!(!index.remove(&300));
        assert!(!index.add_pdq(2, 200, flipped(1)).unwrap());
        let found = index.lookup_pdq(&Hash256::ZERO);
        assert_eq!(found.matches.len(), 1);
        index.set_bank(
            2,
            BankRule {
                enabled: false,
                ..rule(31)
            },
        );
        assert!(index.lookup_pdq(&Hash256::ZERO).matches.is_empty());
    }

    #[test]
    fn videos_match_by_percentages_and_are_removed() {
        let mut index: BankIndex<u32, u64> = BankIndex::new();
        index.set_bank(1, rule(31));
        let frames: Vec<VpdqFeature> = (0..4)
            .map(|i| VpdqFeature {
                frame_number: i,
                quality: 100,
                hash: flipped(i as usize * 3),
                timestamp: f64::from(i),
            })
            .collect();
        index.add_vpdq(1, 7, &frames).unwrap();
        let found = index.lookup_vpdq(&frames, 80.0);
        assert_eq!(found.matches.len(), 1);
        let video = found.matches[0].video.unwrap();
        assert_eq!(video.query_match_percent, 100.0);
        assert_eq!(video.compared_match_percent, 100.0);
        assert!(index.remove(&7));
        assert!(index.lookup_vpdq(&frames, 80.0).matches.is_empty());
    }
}
