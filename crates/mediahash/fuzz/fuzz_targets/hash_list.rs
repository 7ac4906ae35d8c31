//! Fuzz target: arbitrary bytes as a hash list (CSV/TSV import) must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jikimi_mediahash::list::import(data);
});
