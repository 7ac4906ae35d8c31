//! The vPDQ frame index gives exactly the brute-force comparison's figures (property test).

use jikimi_mediahash::Hash256;
use jikimi_mediahash::vpdq::{VideoIndex, VpdqFeature, match_two_hash_brute};
use proptest::prelude::*;

/// A video: frames near a few base hashes (so videos share frames), with random qualities.
fn video(bases: &[Hash256], picks: &[(usize, Vec<usize>, u32)]) -> Vec<VpdqFeature> {
    picks
        .iter()
        .enumerate()
        .map(|(n, (base, flips, quality))| {
            let mut hash = bases[base % bases.len()];
            for &k in flips {
                hash.flip_bit(k % 256);
            }
            VpdqFeature {
                frame_number: n as u32,
                quality: *quality,
                hash,
                timestamp: n as f64,
            }
        })
        .collect()
}

fn base() -> impl Strategy<Value = Hash256> {
    prop::collection::vec(any::<bool>(), 256).prop_map(|bits| {
        let mut h = Hash256::ZERO;
        for (k, b) in bits.into_iter().enumerate() {
            if b {
                h.set_bit(k);
            }
        }
        h
    })
}

fn picks() -> impl Strategy<Value = Vec<(usize, Vec<usize>, u32)>> {
    prop::collection::vec(
        (
            0usize..4,
            prop::collection::vec(0usize..256, 0..40),
            0u32..=100,
        ),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn index_equals_brute(
        bases in prop::collection::vec(base(), 4),
        videos in prop::collection::vec(picks(), 1..6),
        query in picks(),
        distance in 0u32..=32,
        quality in 0u32..=100,
    ) {
        let videos: Vec<_> = videos.iter().map(|p| video(&bases, p)).collect();
        let query = video(&bases, &query);
        let mut index = VideoIndex::new(quality);
        for v in &videos {
            index.insert(v).unwrap();
        }
        let found = index.query(&query, distance);
        for (j, v) in videos.iter().enumerate() {
            let brute = match_two_hash_brute(&query, v, distance, quality);
            match found.iter().find(|m| m.video as usize == j) {
                Some(m) => prop_assert_eq!(m.result, brute),
                // Absent from the index's answer: nothing matched, both ways (or a side was empty: NaN).
                None => {
                    prop_assert!(brute.query_match_percent == 0.0 || brute.query_match_percent.is_nan());
                    prop_assert!(brute.compared_match_percent == 0.0 || brute.compared_match_percent.is_nan());
                }
            }
        }
    }
}
