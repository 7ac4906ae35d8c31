//! Fuzz target: the camt.053 importer must never panic, on any bytes, and must account for every entry it
//! reads (a transfer, a bad row or a row in another currency). Seed the corpus with `../tests/data/*.xml`.
#![no_main]

use jikimi_funds::import::camt053::read_camt053;
use jikimi_funds::ingest::{CurrencyOptions, Ingest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut ingest = Ingest::new(&CurrencyOptions::default());
    let mut handed_on = 0u64;
    let finished = read_camt053(data, &mut ingest, &mut |_, _| {
        handed_on += 1;
        Ok(())
    });
    if finished.is_ok() {
        let r = &ingest.report;
        assert_eq!(r.rows, r.transfers + r.bad_rows + r.other_currency);
        assert_eq!(handed_on, r.transfers);
    }
});
