//! The multi-index Hamming index returns exactly what a linear scan returns (radii 0..=31 and beyond),
//! through inserts, deletes, rebuilds and a save/load round trip.

use jikimi_mediahash::Hash256;
use jikimi_mediahash::index::HammingIndex;
use proptest::prelude::*;

/// Clustered hashes: a few random centres with up to 40 random bits flipped, so that radii up to 31
/// have many true matches (uniform random hashes would almost never match).
fn clustered(seed_hashes: Vec<[u64; 4]>, flips: Vec<(usize, Vec<u8>)>) -> Vec<Hash256> {
    flips
        .into_iter()
        .map(|(centre, bits)| {
            let mut h = Hash256(seed_hashes[centre % seed_hashes.len()]);
            for b in bits {
                h.flip_bit(b as usize);
            }
            h
        })
        .collect()
}

fn hashes_strategy(max_len: usize) -> impl Strategy<Value = Vec<Hash256>> {
    (
        prop::collection::vec(any::<[u64; 4]>(), 1..4),
        prop::collection::vec(
            (any::<usize>(), prop::collection::vec(any::<u8>(), 0..40)),
            0..max_len,
        ),
    )
        .prop_map(|(seeds, flips)| clustered(seeds, flips))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn index_equals_linear_scan(
        db in hashes_strategy(300),
        queries in hashes_strategy(12),
    ) {
        let index = HammingIndex::from_hashes(db).unwrap();
        for q in &queries {
            for radius in 0..=33 {
                prop_assert_eq!(index.search(q, radius), index.linear_search(q, radius), "radius {}", radius);
            }
        }
    }

    #[test]
    fn index_with_inserts_and_deletes_equals_linear_scan(
        db in hashes_strategy(200),
        more in hashes_strategy(100),
        deletions in prop::collection::vec(any::<u32>(), 0..60),
        queries in hashes_strategy(6),
        compact in any::<bool>(),
    ) {
        let mut index = HammingIndex::from_hashes(db).unwrap();
        for h in more {
            index.insert(h).unwrap();
        }
        let total = (index.len() as u32).max(1);
        for d in deletions {
            index.remove(d % total);
        }
        if compact {
            index.compact();
        }
        let mut bytes = Vec::new();
        index.write_to(&mut bytes).unwrap();
        let loaded = HammingIndex::read_from(bytes.as_slice()).unwrap();
        for q in &queries {
            for radius in [0, 1, 5, 15, 16, 17, 24, 30, 31] {
                let expected = index.linear_search(q, radius);
                prop_assert_eq!(&index.search(q, radius), &expected);
                prop_assert_eq!(&loaded.search(q, radius), &expected);
            }
        }
    }

    /// Buckets many entries long (every hash shares most words with one of two centres, so the bucket scan runs
    /// over full eight-word blocks, not just the last partial one), and queries at distances just inside, on,
    /// and just outside the radius of stored hashes: the tables find exactly what a linear scan finds.
    #[test]
    fn long_buckets_and_queries_at_the_radius_equal_linear_scan(
        centres in prop::collection::vec(any::<[u64; 4]>(), 2),
        flips in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 100..400),
        picks in prop::collection::vec((any::<usize>(), any::<u64>()), 8),
        radius in 14u32..=31,
    ) {
        let db: Vec<Hash256> = flips
            .iter()
            .enumerate()
            .map(|(i, bits)| {
                let mut h = Hash256(centres[i % 2]);
                for &b in bits {
                    h.flip_bit(usize::from(b));
                }
                h
            })
            .collect();
        let index = HammingIndex::from_hashes(db.clone()).unwrap();
        for (pick, seed) in picks {
            let stored = db[pick % db.len()];
            for distance in [radius - 1, radius, radius + 1] {
                // Flip `distance` distinct bits chosen from the seed.
                let mut q = stored;
                let mut x = seed | 1;
                let mut flipped = std::collections::BTreeSet::new();
                while flipped.len() < distance as usize {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    flipped.insert((x % 256) as usize);
                }
                for b in flipped {
                    q.flip_bit(b);
                }
                prop_assert_eq!(q.distance(&stored), distance);
                prop_assert_eq!(index.search(&q, radius), index.linear_search(&q, radius), "radius {}", radius);
            }
        }
    }
}

#[test]
fn rebuild_after_many_inserts_keeps_results() {
    let mut index = HammingIndex::new();
    let mut h = Hash256::ZERO;
    // Walk bit patterns so that inserts cross the rebuild threshold several times.
    for i in 0..10_000u64 {
        h.0[(i % 4) as usize] = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        index.insert(h).unwrap();
    }
    let q = index.get(1234).unwrap();
    assert_eq!(index.search(&q, 31), index.linear_search(&q, 31));
    assert!(index.search(&q, 0).iter().any(|hit| hit.id == 1234));
}

/// A load made of many page-sized `extend`s leaves hashes in the tail (the growth rule); `merge_tail` moves them
/// into the tables, and the answers are the linear scan's with the tail, after the merge, and after a merge with
/// no tail (which changes nothing).
#[test]
fn paged_load_leaves_a_tail_that_merge_tail_empties() {
    let mut x = 0x0123_4567_89ab_cdefu64;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
    };
    let mut index = HammingIndex::new();
    for _ in 0..12 {
        let page: Vec<Hash256> = (0..1_000)
            .map(|_| Hash256([next(), next(), next(), next()]))
            .collect();
        index.extend(&page).unwrap();
    }
    assert!(index.tail_len() > 0, "the pages must leave a tail");
    // Queries near stored hashes (tail and tables) and random ones.
    let mut queries: Vec<Hash256> = [5u32, 9_100, 11_999]
        .iter()
        .map(|&id| {
            let mut q = index.get(id).unwrap();
            for b in [3, 70, 140, 200, 255] {
                q.flip_bit(b);
            }
            q
        })
        .collect();
    queries.push(Hash256([next(), next(), next(), next()]));
    let before: Vec<_> = queries.iter().map(|q| index.search(q, 31)).collect();
    for (q, found) in queries.iter().zip(&before) {
        assert_eq!(found, &index.linear_search(q, 31));
    }
    assert!(before[1].iter().any(|hit| hit.id == 9_100));
    index.merge_tail();
    assert_eq!(index.tail_len(), 0);
    for (q, found) in queries.iter().zip(&before) {
        assert_eq!(&index.search(q, 31), found);
    }
    index.merge_tail();
    assert_eq!(index.tail_len(), 0);
    assert_eq!(index.search(&queries[2], 31), before[2]);
}
