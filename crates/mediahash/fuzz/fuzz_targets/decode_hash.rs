//! Fuzz target: arbitrary bytes through decode + PDQ (+ dihedral) must return a value or an error, never
//! panic, hang or allocate past the limits.
#![no_main]

use jikimi_mediahash::{DecodeLimits, Luma, hash_encoded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Tight limits keep each run fast; the code path is the same as with the defaults.
    let limits = DecodeLimits {
        max_side_px: 2048,
        max_pixels: 1 << 20,
        max_alloc_bytes: 64 << 20,
    };
    let _ = hash_encoded(data, limits, Luma::Pdqhash, true);
});
