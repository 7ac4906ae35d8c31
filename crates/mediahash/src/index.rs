//! `HammingIndex`: exact "all hashes within distance ≤ r" over 256-bit hashes by multi-index hashing.
//!
//! The hash is cut into 16 words of 16 bits (the reference's words), in 4 groups of 4 words (64 bits).
//! Each word has a table: 65,536 buckets in compressed form (an offsets array, and the entries in two
//! parallel arrays: a 32-bit filter word and a 32-bit id).
//! Pigeonhole, twice: if two hashes differ in at most `r ≤ 31` bits, some group differs in at most
//! `G = r / 4 ≤ 7` bits, and within it some word in at most `G / 4 ≤ 1` bit. So probing every table at
//! bucket radius `r / 16` (17 buckets per table at r ≥ 16) finds every match, and in that table the
//! group's distance is at most `G`. Each entry's filter word holds two more words of its group, so the
//! lower bound "distance over three words of the group ≤ G" rejects almost every false candidate without
//! touching the ids or the hash array (uniform data: about one false candidate per query at a million
//! hashes instead of about 4,000 with the plain scheme). Survivors are verified with four popcounts; a
//! hash is reported only from the first table that can see it, so no hash set is needed.
//! Memory: 32 bytes per hash plus 16 x (4 + 4) bytes of entries, 160 bytes per hash (1.6 GB at 10 million).
//!
//! Cost: a radius-31 query scans 16 x 17 = 272 buckets, `272 n / 65,536` filter words (about 4,200 at a
//! million hashes, 41,500 at ten million), which is memory traffic more than arithmetic: on the 2-core
//! EPYC server, one thread, the scan of ten million hashes took 112 µs a query with 8-byte entries read
//! bucket after bucket, and 70 µs with the filter words apart from the ids (half the bytes), the buckets
//! prefetched a few ahead of the scan and counted eight words at a time with AVX2 ([`scan`]); 24 µs and
//! 14 µs at a million (`examples/index_scale.rs`).
//!
//! Inserts go to a tail with its own hashed tables (one map per word, bucket key to entries), probed like
//! the compressed tables, so an inserted hash is matchable at once and a lookup never scans the tail
//! linearly; the tail is merged into the compressed tables by a rebuild (a counting sort) once it grows
//! past 1/8 of the indexed part (amortised: each hash is re-sorted a bounded number of times). Deletes
//! set a tombstone bit and never rebuild. Ids are stable: the position of the hash in insertion order.
//! A tail entry carries its inline words like a table entry, so the tail's filter reads no hash either:
//! loading ten million hashes a page at a time leaves a tail of up to 1/9 of them (790,000 at ten
//! million), and checking each probed tail entry against its hash, a random read in 320 MB, cost about
//! 3,300 cache misses a query. A bulk load ends with [`HammingIndex::merge_tail`] (no tail at all).
//!
//! Radii above 31 fall back to a linear scan, which is exact too.
//!
//! Persistence ([`HammingIndex::write_to`], [`HammingIndex::read_from`]): a header and six arrays, each
//! read with one `read_exact` straight into its typed vector (no parsing), then checked for consistency.

use crate::hash::Hash256;
use crate::large::LargeArray;
use std::collections::HashMap;
use std::io::{self, Read, Write};

mod scan;

/// Number of substrings (tables).
const TABLES: usize = 16;
/// Buckets per table (16-bit substrings).
const BUCKETS: usize = 1 << 16;
/// Largest radius the tables answer; larger radii scan linearly.
pub const MAX_INDEXED_RADIUS: u32 = 31;
/// Version 2: the table entries are two arrays (filter words, then ids) instead of one of `u64`s.
const MAGIC: &[u8; 8] = b"JKMIH002";

/// How a search probes the tables (see [`HammingIndex::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// Bucket radius in every table (0 or 1).
    rho: u32,
    /// Bound on the distance over the key word and its two inline words.
    group: u32,
}

/// The two words stored beside the id in table `t`: the next two words of `t`'s 64-bit group.
#[inline]
fn inline_words(h: &Hash256, t: usize) -> u32 {
    let g = t & !3;
    let x = h.substring(g + ((t + 1) & 3));
    let y = h.substring(g + ((t + 2) & 3));
    u32::from(x) | (u32::from(y) << 16)
}

/// Whether table `t` finds `h` for `query` under `plan` (bucket within `rho`, inline filter passes).
#[inline]
fn table_sees(h: &Hash256, query: &Hash256, t: usize, plan: Plan) -> bool {
    let key_distance = u32::from(h.substring(t) ^ query.substring(t)).count_ones();
    key_distance <= plan.rho
        && key_distance + (inline_words(h, t) ^ inline_words(query, t)).count_ones() <= plan.group
}

/// A tail entry: the inline words of its hash in the table (checked first, as in the compressed tables)
/// and its id.
#[derive(Debug, Clone, Copy)]
struct TailEntry {
    inline: u32,
    id: u32,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// Hamming distance to the query.
    pub distance: u32,
    /// Id of the stored hash (its insertion position).
    pub id: u32,
}

/// Occupancy of the substring tables (how far real data is from uniform).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketStats {
    /// Largest bucket over all tables.
    pub max_bucket: usize,
    /// Mean size of non-empty buckets.
    pub mean_nonempty_bucket: f64,
    /// Fraction of empty buckets.
    pub empty_bucket_fraction: f64,
    /// Expected bucket entries scanned (before the inline filter) per radius-31 query drawn from the
    /// stored hashes themselves (uniform data: about 16 x 17 x n / 65,536).
    pub expected_candidates_r31: f64,
}

/// Exact Hamming-radius index over [`Hash256`]; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct HammingIndex {
    /// Every hash ever inserted, by id (deleted ones stay as tombstones until [`HammingIndex::compact`]).
    hashes: Vec<Hash256>,
    /// Tombstone bitset by id.
    deleted: Vec<u64>,
    n_deleted: usize,
    /// Ids `< indexed_len` are in the compressed tables; the rest are the tail (in `tail`).
    indexed_len: usize,
    /// `TABLES` runs of `BUCKETS + 1` offsets into the table's slice of `ids`.
    offsets: LargeArray<u32>,
    /// `TABLES` runs of `entries_per_table` entries, grouped by bucket: the two inline words of the
    /// entry's hash in the table's group (see [`inline_words`]). Apart from the ids so that the scan, which
    /// reads every filter word of 272 buckets and almost never an id, reads half the memory.
    filters: LargeArray<u32>,
    /// The ids of the entries of `filters`, at the same positions.
    ids: LargeArray<u32>,
    entries_per_table: usize,
    /// The tail's tables: per word, bucket key to the entries of the ids `>= indexed_len` in it (empty
    /// when the tail is), each its inline words (see [`inline_words`]) and its id.
    tail: Vec<HashMap<u16, Vec<TailEntry>>>,
}

/// Why an index file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// I/O failure.
    #[error("index i/o: {0}")]
    Io(#[from] io::Error),
    /// Not an index file, or a different version.
    #[error("not a jikimi hamming index file (bad magic)")]
    BadMagic,
    /// The arrays contradict each other (truncated or tampered file).
    #[error("corrupt index file: {0}")]
    Corrupt(&'static str),
    /// More than `u32::MAX` hashes.
    #[error("index is full (ids are 32-bit)")]
    Full,
}

impl HammingIndex {
    /// An empty index.
    pub fn new() -> Self {
        let mut index = HammingIndex::default();
        index.rebuild();
        index
    }

    /// Builds an index over `hashes` (ids are their positions).
    pub fn from_hashes(hashes: Vec<Hash256>) -> Result<Self, IndexError> {
        if hashes.len() > u32::MAX as usize {
            return Err(IndexError::Full);
        }
        let mut index = HammingIndex {
            deleted: vec![0; hashes.len().div_ceil(64)],
            hashes,
            ..HammingIndex::default()
        };
        index.rebuild();
        Ok(index)
    }

    /// Number of live (not deleted) hashes.
    pub fn len(&self) -> usize {
        self.hashes.len() - self.n_deleted
    }

    /// True when no live hash is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash stored under `id`, if it exists and is not deleted.
    pub fn get(&self, id: u32) -> Option<Hash256> {
        let i = id as usize;
        (i < self.hashes.len() && !self.is_deleted(i)).then(|| self.hashes[i])
    }

    /// Adds a hash and returns its id.
    pub fn insert(&mut self, hash: Hash256) -> Result<u32, IndexError> {
        self.extend(std::slice::from_ref(&hash))
    }

    /// Adds many hashes at once and returns the id of the first (the others follow in order). Unlike as many
    /// [`HammingIndex::insert`]s, a batch that takes the tail past its limit costs one rebuild, not one per
    /// growth step: loading ten million hashes into an empty index sorts each of them once.
    pub fn extend(&mut self, hashes: &[Hash256]) -> Result<u32, IndexError> {
        let first = self.hashes.len();
        let id = u32::try_from(first).map_err(|_| IndexError::Full)?;
        if first + hashes.len() > u32::MAX as usize {
            return Err(IndexError::Full);
        }
        self.hashes.extend_from_slice(hashes);
        self.deleted.resize(self.hashes.len().div_ceil(64), 0);
        let tail = self.hashes.len() - self.indexed_len;
        if tail > 4096.max(self.indexed_len / 8) {
            self.rebuild();
        } else {
            for added in first..self.hashes.len() {
                self.tail_insert(added as u32);
            }
        }
        Ok(id)
    }

    /// Deletes `id`; returns false if it did not exist or was already deleted.
    pub fn remove(&mut self, id: u32) -> bool {
        let i = id as usize;
        if i >= self.hashes.len() || self.is_deleted(i) {
            return false;
        }
        self.deleted[i / 64] |= 1 << (i % 64);
        self.n_deleted += 1;
        true
    }

    /// Rebuilds the tables over every live hash (drops deleted entries from the buckets; ids are kept).
    pub fn compact(&mut self) {
        self.rebuild();
    }

    /// Merges the tail into the compressed tables, if there is a tail (one rebuild; nothing otherwise).
    /// For the end of a bulk load made of many [`HammingIndex::extend`]s: the growth rule leaves up to 1/9
    /// of the hashes in the tail, whose probes cost more a hash than the tables'.
    pub fn merge_tail(&mut self) {
        if self.indexed_len < self.hashes.len() {
            self.rebuild();
        }
    }

    /// Hashes in the tail (inserted since the last rebuild).
    pub fn tail_len(&self) -> usize {
        self.hashes.len() - self.indexed_len
    }

    /// Memory held by the index in bytes (hashes, tombstones and tables).
    pub fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * 32
            + self.deleted.capacity() * 8
            + self.offsets.len() * 4
            + self.filters.len() * 4
            + self.ids.len() * 4
            + (self.hashes.len() - self.indexed_len) * TABLES * size_of::<TailEntry>()
    }

    /// Bucket occupancy statistics of the tables.
    pub fn bucket_stats(&self) -> BucketStats {
        let (mut max_bucket, mut nonempty, mut expected) = (0usize, 0usize, 0f64);
        let m = self.entries_per_table.max(1) as f64;
        for t in 0..TABLES {
            let off = &self.offsets.as_slice()[t * (BUCKETS + 1)..(t + 1) * (BUCKETS + 1)];
            let size = |k: usize| (off[k + 1] - off[k]) as usize;
            for key in 0..BUCKETS {
                let s = size(key);
                max_bucket = max_bucket.max(s);
                if s == 0 {
                    continue;
                }
                nonempty += 1;
                let probed: usize =
                    size(key) + (0..16).map(|b| size(key ^ (1 << b))).sum::<usize>();
                expected += s as f64 / m * probed as f64;
            }
        }
        BucketStats {
            max_bucket,
            mean_nonempty_bucket: (TABLES * self.entries_per_table) as f64 / nonempty.max(1) as f64,
            empty_bucket_fraction: 1.0 - nonempty as f64 / (TABLES * BUCKETS) as f64,
            expected_candidates_r31: expected,
        }
    }

    /// Ids and distances of every live hash within `radius` of `query`, sorted by (distance, id).
    pub fn search(&self, query: &Hash256, radius: u32) -> Vec<Hit> {
        let mut out = Vec::new();
        self.search_into(query, radius, &mut out);
        out
    }

    /// Like [`HammingIndex::search`], appending to `out` (cleared first) to reuse its allocation.
    pub fn search_into(&self, query: &Hash256, radius: u32, out: &mut Vec<Hit>) {
        out.clear();
        if radius > MAX_INDEXED_RADIUS {
            self.scan_range(query, radius, 0, self.hashes.len(), out);
        } else {
            self.search_tables(query, radius, out);
            self.search_tail(query, radius, out);
        }
        out.sort_unstable();
    }

    /// Reference answer: a linear scan over every live hash (what the tables must agree with).
    pub fn linear_search(&self, query: &Hash256, radius: u32) -> Vec<Hit> {
        let mut out = Vec::new();
        self.scan_range(query, radius, 0, self.hashes.len(), &mut out);
        out.sort_unstable();
        out
    }

    /// Adds tail id `id` to the tail's tables.
    fn tail_insert(&mut self, id: u32) {
        if self.tail.len() != TABLES {
            self.tail = vec![HashMap::new(); TABLES];
        }
        let h = self.hashes[id as usize];
        for (t, table) in self.tail.iter_mut().enumerate() {
            table.entry(h.substring(t)).or_default().push(TailEntry {
                inline: inline_words(&h, t),
                id,
            });
        }
    }

    /// The tail's part of a search: the same probes and the same "first table that sees it" rule as the
    /// compressed tables, over the tail's maps.
    fn search_tail(&self, query: &Hash256, radius: u32, out: &mut Vec<Hit>) {
        let plan = Self::plan(radius);
        for (t, table) in self.tail.iter().enumerate() {
            let key = query.substring(t);
            let query_inline = inline_words(query, t);
            let flips = if plan.rho == 1 { 16 } else { 0 };
            for probe in std::iter::once(key).chain((0..flips).map(|b| key ^ (1 << b))) {
                let Some(entries) = table.get(&probe) else {
                    continue;
                };
                // Every entry of this bucket has the probe as its key word: the filter is the table's.
                let budget = plan
                    .group
                    .saturating_sub(u32::from(probe ^ key).count_ones());
                for e in entries {
                    if (e.inline ^ query_inline).count_ones() > budget {
                        continue;
                    }
                    self.verify(e.id, t, query, radius, plan, out);
                }
            }
        }
    }

    fn is_deleted(&self, i: usize) -> bool {
        (self.deleted[i / 64] >> (i % 64)) & 1 == 1
    }

    fn scan_range(&self, query: &Hash256, radius: u32, from: usize, to: usize, out: &mut Vec<Hit>) {
        for (i, h) in self.hashes[from..to].iter().enumerate() {
            let distance = h.distance(query);
            if distance <= radius && !self.is_deleted(from + i) {
                out.push(Hit {
                    distance,
                    id: (from + i) as u32,
                });
            }
        }
    }

    /// Probe plan for `radius`: bucket radius `rho` in every table and the group-distance bound `group`.
    ///
    /// Pigeonhole twice: the 4 groups of 64 bits share at most `radius` differing bits, so one group has
    /// at most `group = radius / 4`; its 4 words share those, so one word has at most `rho = group / 4`.
    /// That word's table, probed at `rho`, sees the hash, and its entry passes the inline filter
    /// (distance over three of the group's words ≤ `group`, a lower bound of the group's distance).
    fn plan(radius: u32) -> Plan {
        let group = radius / 4;
        Plan {
            rho: group / 4,
            group,
        }
    }

    /// The compressed tables' part of a search, with the CPU's AVX2 or POPCNT instructions where it has them.
    ///
    /// Why: the scan counts the bits of every entry's inline words (about 41,500 entries a query at ten million
    /// hashes), and the default x86-64 target has neither AVX2 nor POPCNT, so `count_ones` compiles to a dozen
    /// instructions a word. Compiling the whole program for a newer CPU would fix it too, but would stop the
    /// binary on older ones; copies of this one loop compiled with AVX2 (eight words at a time) and with POPCNT,
    /// chosen at run time, cost nothing where they are absent.
    fn search_tables(&self, query: &Hash256, radius: u32, out: &mut Vec<Hit>) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                #[allow(unsafe_code)]
                // SAFETY: `search_tables_avx2` needs AVX2 and POPCNT, which the CPU was just found to have.
                unsafe {
                    self.search_tables_avx2(query, radius, out)
                };
                return;
            }
            if std::arch::is_x86_feature_detected!("popcnt") {
                #[allow(unsafe_code)]
                // SAFETY: `search_tables_popcnt` only needs the POPCNT instruction, which the CPU was just found
                // to have; it is otherwise the same safe code.
                unsafe {
                    self.search_tables_popcnt(query, radius, out)
                };
                return;
            }
        }
        self.search_tables_portable(query, radius, out);
    }

    /// [`HammingIndex::search_tables_with`] with the AVX2 bucket kernel (both are inlined here).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    fn search_tables_avx2(&self, query: &Hash256, radius: u32, out: &mut Vec<Hit>) {
        self.search_tables_with(query, radius, out, |filters, start, end, q, budget, hit| {
            scan::bucket_avx2(filters, start, end, q, budget, hit)
        });
    }

    /// [`HammingIndex::search_tables_portable`] compiled with POPCNT (it is inlined here).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    fn search_tables_popcnt(&self, query: &Hash256, radius: u32, out: &mut Vec<Hit>) {
        self.search_tables_portable(query, radius, out);
    }

    #[inline(always)]
    fn search_tables_portable(&self, query: &Hash256, radius: u32, out: &mut Vec<Hit>) {
        self.search_tables_with(query, radius, out, |filters, start, end, q, budget, hit| {
            scan::bucket_portable(filters, start, end, q, budget, hit)
        });
    }

    /// The tables' search with `kernel` scanning each bucket (it calls back with the positions that pass).
    #[inline(always)]
    fn search_tables_with<K>(&self, query: &Hash256, radius: u32, out: &mut Vec<Hit>, kernel: K)
    where
        K: Fn(&[u32], usize, usize, u32, u32, &mut dyn FnMut(usize)),
    {
        let plan = Self::plan(radius);
        // Phase 1: every bucket range (independent loads, so the CPU overlaps their cache misses).
        let mut probes = [(0u32, 0u32, 0u8, 0u8); TABLES * 17];
        let mut n_probes = 0;
        for t in 0..TABLES {
            let offsets = &self.offsets.as_slice()[t * (BUCKETS + 1)..(t + 1) * (BUCKETS + 1)];
            let base = (t * self.entries_per_table) as u32;
            let key = query.substring(t) as usize;
            probes[n_probes] = (base + offsets[key], base + offsets[key + 1], t as u8, 0);
            n_probes += 1;
            if plan.rho == 1 {
                for bit in 0..16 {
                    let k = key ^ (1 << bit);
                    probes[n_probes] = (base + offsets[k], base + offsets[k + 1], t as u8, 1);
                    n_probes += 1;
                }
            }
        }
        // Phase 2: scan the buckets, prefetching the next ones (see `scan::Prefetcher`); the inline words
        // reject nearly every non-match.
        let filters = self.filters.as_slice();
        let ids = self.ids.as_slice();
        let probes = &probes[..n_probes];
        let mut prefetcher = scan::Prefetcher::default();
        for (j, &(start, end, t, key_distance)) in probes.iter().enumerate() {
            prefetcher.advance(filters, probes, j);
            let t = t as usize;
            let budget = plan.group.saturating_sub(u32::from(key_distance));
            let query_inline = inline_words(query, t);
            kernel(
                filters,
                start as usize,
                end as usize,
                query_inline,
                budget,
                &mut |i| self.verify(ids[i], t, query, radius, plan, out),
            );
        }
    }

    /// Full check of a candidate that passed the inline filter in table `table`.
    #[inline(never)]
    fn verify(
        &self,
        id: u32,
        table: usize,
        query: &Hash256,
        radius: u32,
        plan: Plan,
        out: &mut Vec<Hit>,
    ) {
        let h = &self.hashes[id as usize];
        let distance = h.distance(query);
        if distance > radius {
            return;
        }
        // Report from the first table that sees this hash only (no hash set needed).
        let seen_earlier = (0..table).any(|t| table_sees(h, query, t, plan));
        if !seen_earlier && !self.is_deleted(id as usize) {
            out.push(Hit { distance, id });
        }
    }

    /// Counting sort of every live id into each table's buckets, with the inline words.
    fn rebuild(&mut self) {
        let live: Vec<u32> = (0..self.hashes.len())
            .filter(|&i| !self.is_deleted(i))
            .map(|i| i as u32)
            .collect();
        let m = live.len();
        let mut offsets = LargeArray::<u32>::zeroed(TABLES * (BUCKETS + 1));
        let mut filters = LargeArray::<u32>::zeroed(TABLES * m);
        let mut ids = LargeArray::<u32>::zeroed(TABLES * m);
        for t in 0..TABLES {
            let off = &mut offsets.as_mut_slice()[t * (BUCKETS + 1)..(t + 1) * (BUCKETS + 1)];
            for &id in &live {
                off[self.hashes[id as usize].substring(t) as usize + 1] += 1;
            }
            for b in 0..BUCKETS {
                off[b + 1] += off[b];
            }
            let mut cursor: Vec<u32> = off[..BUCKETS].to_vec();
            let table_filters = &mut filters.as_mut_slice()[t * m..(t + 1) * m];
            let table_ids = &mut ids.as_mut_slice()[t * m..(t + 1) * m];
            for &id in &live {
                let h = &self.hashes[id as usize];
                let key = h.substring(t) as usize;
                table_filters[cursor[key] as usize] = inline_words(h, t);
                table_ids[cursor[key] as usize] = id;
                cursor[key] += 1;
            }
        }
        self.offsets = offsets;
        self.filters = filters;
        self.ids = ids;
        self.entries_per_table = m;
        self.indexed_len = self.hashes.len();
        self.tail = Vec::new();
    }

    /// Writes the index (tables included, so loading needs no rebuild).
    pub fn write_to(&self, mut w: impl Write) -> Result<(), IndexError> {
        w.write_all(MAGIC)?;
        for v in [
            self.hashes.len(),
            self.n_deleted,
            self.indexed_len,
            self.entries_per_table,
        ] {
            w.write_all(&(v as u64).to_le_bytes())?;
        }
        write_le(&mut w, &self.hashes)?;
        write_le(&mut w, &self.deleted)?;
        write_le(&mut w, self.offsets.as_slice())?;
        write_le(&mut w, self.filters.as_slice())?;
        write_le(&mut w, self.ids.as_slice())?;
        w.flush()?;
        Ok(())
    }

    /// Reads an index written by [`HammingIndex::write_to`] and checks that its arrays agree.
    pub fn read_from(mut r: impl Read) -> Result<Self, IndexError> {
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(IndexError::BadMagic);
        }
        let mut header = [0u64; 4];
        for v in &mut header {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            *v = u64::from_le_bytes(b);
        }
        let [n, n_deleted, indexed_len, entries] = header.map(|v| v as usize);
        if n > u32::MAX as usize || n_deleted > n || indexed_len > n || entries > indexed_len {
            return Err(IndexError::Corrupt("header"));
        }
        let hashes: Vec<Hash256> = read_le(&mut r, n)?;
        let deleted: Vec<u64> = read_le(&mut r, n.div_ceil(64))?;
        let offsets: LargeArray<u32> = read_le_large(&mut r, TABLES * (BUCKETS + 1))?;
        let filters: LargeArray<u32> = read_le_large(&mut r, TABLES * entries)?;
        let ids: LargeArray<u32> = read_le_large(&mut r, TABLES * entries)?;
        let mut index = HammingIndex {
            hashes,
            deleted,
            n_deleted,
            indexed_len,
            offsets,
            filters,
            ids,
            entries_per_table: entries,
            tail: Vec::new(),
        };
        index.validate()?;
        for id in indexed_len..n {
            index.tail_insert(id as u32);
        }
        Ok(index)
    }

    fn validate(&self) -> Result<(), IndexError> {
        let counted: usize = self.deleted.iter().map(|w| w.count_ones() as usize).sum();
        if counted != self.n_deleted {
            return Err(IndexError::Corrupt("tombstones"));
        }
        for t in 0..TABLES {
            let off = &self.offsets.as_slice()[t * (BUCKETS + 1)..(t + 1) * (BUCKETS + 1)];
            if off[0] != 0
                || off[BUCKETS] as usize != self.entries_per_table
                || off.windows(2).any(|w| w[0] > w[1])
            {
                return Err(IndexError::Corrupt("offsets"));
            }
        }
        // Ids must be in range (a sequential pass). The inline words are not re-derived here: that
        // needs a random access per entry (seconds at 10 million hashes), and a wrong inline word can
        // only hide a match, never invent one; integrity against tampering is the signed list's job.
        if self
            .ids
            .as_slice()
            .iter()
            .any(|&id| id as usize >= self.indexed_len)
        {
            return Err(IndexError::Corrupt("table entries"));
        }
        Ok(())
    }
}

fn write_le<T: bytemuck::Pod + ToLe>(w: &mut impl Write, data: &[T]) -> io::Result<()> {
    if cfg!(target_endian = "little") {
        w.write_all(bytemuck::cast_slice(data))
    } else {
        let swapped: Vec<T> = data.iter().map(|v| v.to_le()).collect();
        w.write_all(bytemuck::cast_slice(&swapped))
    }
}

fn read_le<T: bytemuck::Pod + ToLe>(r: &mut impl Read, n: usize) -> io::Result<Vec<T>> {
    let mut out = vec![T::zeroed(); n];
    r.read_exact(bytemuck::cast_slice_mut(&mut out))?;
    if cfg!(target_endian = "big") {
        for v in &mut out {
            *v = v.to_le();
        }
    }
    Ok(out)
}

fn read_le_large<T: bytemuck::Pod + ToLe>(
    r: &mut impl Read,
    n: usize,
) -> io::Result<LargeArray<T>> {
    let mut out = LargeArray::<T>::zeroed(n);
    r.read_exact(bytemuck::cast_slice_mut(out.as_mut_slice()))?;
    if cfg!(target_endian = "big") {
        for v in out.as_mut_slice() {
            *v = v.to_le();
        }
    }
    Ok(out)
}

/// Byte order conversion for the persisted arrays (a no-op on little-endian machines).
trait ToLe: Sized {
    fn to_le(self) -> Self;
}

impl ToLe for u32 {
    fn to_le(self) -> Self {
        u32::to_le(self)
    }
}

impl ToLe for u64 {
    fn to_le(self) -> Self {
        u64::to_le(self)
    }
}

impl ToLe for Hash256 {
    fn to_le(self) -> Self {
        Hash256(self.0.map(u64::to_le))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plan_is_exact_by_pigeonhole() {
        for radius in 0..=MAX_INDEXED_RADIUS {
            let plan = HammingIndex::plan(radius);
            // 4 groups over the radius, 4 words over the group bound.
            assert!(4 * (plan.group + 1) > radius, "radius {radius}");
            assert!(4 * (plan.rho + 1) > plan.group, "radius {radius}");
            assert!(plan.rho <= 1);
        }
        assert_eq!(HammingIndex::plan(31), Plan { rho: 1, group: 7 });
        assert_eq!(HammingIndex::plan(15), Plan { rho: 0, group: 3 });
    }

    /// The build's CPU has AVX2, so searches take `search_tables_avx2`; the portable loop (what a CPU without
    /// POPCNT runs) and the POPCNT copy must find the same hashes.
    #[test]
    fn portable_and_popcnt_scans_agree_with_a_linear_scan() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base: Vec<Hash256> = (0..64)
            .map(|_| Hash256([next(), next(), next(), next()]))
            .collect();
        let hashes: Vec<Hash256> = (0..20_000)
            .map(|i| {
                let mut h = base[i % 64];
                for _ in 0..(next() % 40) {
                    h.flip_bit((next() % 256) as usize);
                }
                h
            })
            .collect();
        let index = HammingIndex::from_hashes(hashes).unwrap();
        for (i, query) in base.iter().enumerate() {
            for radius in [0, 8, 15, 16, 31] {
                let mut portable = Vec::new();
                index.search_tables_portable(query, radius, &mut portable);
                portable.sort_unstable();
                assert_eq!(
                    portable,
                    index.linear_search(query, radius),
                    "query {i} radius {radius}"
                );
                assert_eq!(
                    index.search(query, radius),
                    portable,
                    "query {i} radius {radius}"
                );
                #[cfg(target_arch = "x86_64")]
                {
                    assert!(std::arch::is_x86_feature_detected!("popcnt"));
                    let mut popcnt = Vec::new();
                    #[allow(unsafe_code)]
                    // SAFETY: the CPU has POPCNT (asserted above).
                    unsafe {
                        index.search_tables_popcnt(query, radius, &mut popcnt)
                    };
                    popcnt.sort_unstable();
                    assert_eq!(popcnt, portable, "query {i} radius {radius}");
                }
            }
        }
    }

    #[test]
    fn insert_remove_and_round_trip() {
        let mut index = HammingIndex::new();
        let mut a = Hash256::ZERO;
        a.set_bit(3);
        let id_a = index.insert(a).unwrap();
        let id_b = index.insert(Hash256([u64::MAX; 4])).unwrap();
        assert_eq!(
            index.search(&Hash256::ZERO, 1),
            vec![Hit {
                distance: 1,
                id: id_a
            }]
        );
        assert!(index.remove(id_a));
        assert!(!index.remove(id_a));
        assert!(index.search(&Hash256::ZERO, 31).is_empty());
        index.compact();
        let mut bytes = Vec::new();
        index.write_to(&mut bytes).unwrap();
        let loaded = HammingIndex::read_from(bytes.as_slice()).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded.get(id_b), Some(Hash256([u64::MAX; 4])));
        assert_eq!(loaded.get(id_a), None);
        bytes.truncate(bytes.len() - 3);
        assert!(HammingIndex::read_from(bytes.as_slice()).is_err());
        assert!(matches!(
            HammingIndex::read_from(&b"JKMIH999"[..]),
            Err(IndexError::BadMagic)
        ));
    }
}
