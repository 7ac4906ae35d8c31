//! The incremental index equals a linear scan after any sequence of adds and disables (issue 19, part 1):
//! `HammingIndex` (compressed tables plus the hashed tail, across merges) and `BankIndex` (per-bank distance,
//! negative banks) against brute force.

use jikimi_mediahash::Hash256;
use jikimi_mediahash::banks::{BankIndex, BankRule};
use jikimi_mediahash::index::HammingIndex;
use proptest::prelude::*;

/// An operation on the index.
#[derive(Debug, Clone)]
enum Op {
    /// Insert base hash `base` with these bits flipped.
    Add(usize, Vec<u8>),
    /// Insert this many hashes in one batch (`extend`, `add_pdq_many`): small batches go to the tail, large ones
    /// rebuild once. The hashes are derived from the seed.
    AddMany(usize, u64),
    /// Remove the id at this position of the ids inserted so far (modulo their number).
    Remove(usize),
    /// Query base `base` with these bits flipped at this radius.
    Query(usize, Vec<u8>, u32),
    /// Merge the tail into the compressed tables (what a growing tail triggers by itself).
    Compact,
}

fn bases() -> Vec<Hash256> {
    (0u64..4)
        .map(|i| {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x1234_5678;
            Hash256([x, x.rotate_left(17), !x, x.rotate_right(5)])
        })
        .collect()
}

fn flip(mut h: Hash256, bits: &[u8]) -> Hash256 {
    for &b in bits {
        h.flip_bit(usize::from(b));
    }
    h
}

/// `n` hashes near the bases, derived from `seed` (with the bank each goes to, for the bank test).
fn batch(n: usize, seed: u64) -> Vec<(u8, Hash256)> {
    let bases = bases();
    (0..n)
        .map(|i| {
            let x = seed
                .wrapping_add(i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let bits: Vec<u8> = (0..(x % 37) as usize)
                .map(|k| (x >> (k % 8 * 8)) as u8 ^ k as u8)
                .collect();
            ((x % 3) as u8, flip(bases[(x >> 60) as usize % 4], &bits))
        })
        .collect()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..4usize, prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(b, f)| Op::Add(b, f)),
        1 => (0..6000usize, any::<u64>()).prop_map(|(n, seed)| Op::AddMany(n, seed)),
        2 => any::<usize>().prop_map(Op::Remove),
        3 => (0..4usize, prop::collection::vec(any::<u8>(), 0..40), 0..40u32)
            .prop_map(|(b, f, r)| Op::Query(b, f, r)),
        1 => Just(Op::Compact),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hamming_index_equals_linear_scan(ops in prop::collection::vec(op(), 1..400), bulk in 0usize..5000) {
        let bases = bases();
        // A bulk-built part (so merges and the compressed tables are exercised), then the operations.
        let start: Vec<Hash256> = (0..bulk)
            .map(|i| flip(bases[i % 4], &[(i * 31 % 256) as u8, (i * 7 % 256) as u8, (i % 256) as u8]))
            .collect();
        let mut index = HammingIndex::from_hashes(start.clone()).unwrap();
        let mut model: Vec<Option<Hash256>> = start.into_iter().map(Some).collect();
        for op in ops {
            match op {
                Op::Add(b, f) => {
                    let h = flip(bases[b], &f);
                    let id = index.insert(h).unwrap();
                    prop_assert_eq!(id as usize, model.len());
                    model.push(Some(h));
                }
                Op::AddMany(n, seed) => {
                    let hashes: Vec<Hash256> = batch(n, seed).into_iter().map(|(_, h)| h).collect();
                    let id = index.extend(&hashes).unwrap();
                    prop_assert_eq!(id as usize, model.len());
                    model.extend(hashes.into_iter().map(Some));
                }
                Op::Remove(k) => {
                    if !model.is_empty() {
                        let id = k % model.len();
                        prop_assert_eq!(index.remove(id as u32), model[id].is_some());
                        model[id] = None;
                    }
                }
                Op::Query(b, f, r) => {
                    let q = flip(bases[b], &f);
                    let mut expected: Vec<(u32, u32)> = model
                        .iter()
                        .enumerate()
                        .filter_map(|(i, h)| h.map(|h| (h.distance(&q), i as u32)))
                        .filter(|(d, _)| *d <= r)
                        .collect();
                    expected.sort_unstable();
                    let got: Vec<(u32, u32)> =
                        index.search(&q, r).into_iter().map(|h| (h.distance, h.id)).collect();
                    prop_assert_eq!(got, expected);
                }
                Op::Compact => index.compact(),
            }
        }
    }

    #[test]
    fn bank_index_equals_brute_force(
        ops in prop::collection::vec(op(), 1..200),
        distances in prop::collection::vec(0u32..40, 3),
    ) {
        let bases = bases();
        let mut index: BankIndex<u8, u32> = BankIndex::new();
        for (bank, &distance) in distances.iter().enumerate() {
            index.set_bank(bank as u8, BankRule {
                distance,
                negative: bank == 2,
                suppresses: if bank == 2 { vec![0] } else { Vec::new() },
                enabled: true,
            });
        }
        let mut model: Vec<(u8, Hash256, bool)> = Vec::new();
        for op in ops {
            match op {
                Op::Add(b, f) => {
                    let h = flip(bases[b], &f);
                    let bank = (f.len() % 3) as u8;
                    prop_assert!(index.add_pdq(bank, model.len() as u32, h).unwrap());
                    model.push((bank, h, true));
                }
                Op::AddMany(n, seed) => {
                    // Every content new, plus the first one again: a repeat is skipped, not added twice.
                    let mut items: Vec<(u8, u32, Hash256)> = batch(n, seed)
                        .into_iter()
                        .enumerate()
                        .map(|(i, (bank, h))| (bank, (model.len() + i) as u32, h))
                        .collect();
                    if let Some(&first) = items.first() {
                        items.push(first);
                    }
                    prop_assert_eq!(index.add_pdq_many(&items).unwrap(), n);
                    model.extend(items.iter().take(n).map(|&(bank, _, h)| (bank, h, true)));
                }
                Op::Remove(k) => {
                    if !model.is_empty() {
                        let c = k % model.len();
                        prop_assert_eq!(index.remove(&(c as u32)), model[c].2);
                        model[c].2 = false;
                    }
                }
                Op::Query(b, f, _) => {
                    let q = flip(bases[b], &f);
                    let hits: Vec<(u8, u32, u32)> = model
                        .iter()
                        .enumerate()
                        .filter(|(_, (bank, h, live))| *live && h.distance(&q) <= distances[*bank as usize])
                        .map(|(c, (bank, h, _))| (*bank, h.distance(&q), c as u32))
                        .collect();
                    let negative_hit = hits.iter().any(|(bank, _, _)| *bank == 2);
                    let mut expected: Vec<(u8, u32, u32)> = hits
                        .iter()
                        .copied()
                        .filter(|(bank, _, _)| *bank == 1 || (*bank == 0 && !negative_hit))
                        .collect();
                    expected.sort_unstable();
                    let found = index.lookup_pdq(&q);
                    let got: Vec<(u8, u32, u32)> =
                        found.matches.iter().map(|m| (m.bank, m.distance, m.content)).collect();
                    prop_assert_eq!(got, expected);
                    let suppressed = found.suppressed.len();
                    let expected_suppressed =
                        if negative_hit { hits.iter().filter(|(b, _, _)| *b == 0).count() } else { 0 };
                    prop_assert_eq!(suppressed, expected_suppressed);
                }
                Op::Compact => {}
            }
        }
    }
}
