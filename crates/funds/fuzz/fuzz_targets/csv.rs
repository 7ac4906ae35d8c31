//! Fuzz target: the transfer CSV importer (plain and chain flavours) must never panic, on any bytes, and must
//! account for every row it reads (a transfer, a bad row or a row in another currency).
#![no_main]

use jikimi_exchange::identifiers::Chain;
use jikimi_funds::import::csv::{CsvFlavour, CsvOptions, read_csv};
use jikimi_funds::ingest::{CurrencyOptions, Ingest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let flavour = if selector & 1 == 0 {
        CsvFlavour::Plain
    } else {
        CsvFlavour::Chain(Chain::Tron)
    };
    // A valid header ahead of fuzzed rows reaches the row checks more often than random bytes.
    let text = if selector & 2 == 0 {
        [b"tx_id,timestamp,from_account,to_account,amount,currency\n".as_slice(), body].concat()
    } else {
        body.to_vec()
    };
    let mut ingest = Ingest::new(&CurrencyOptions {
        currency: (selector & 4 == 0).then(|| "USD".to_string()),
        decimals: None,
    });
    let options = CsvOptions {
        flavour,
        ..CsvOptions::default()
    };
    let mut handed_on = 0u64;
    let finished = read_csv(
        &text[..],
        &options,
        &mut ingest,
        &mut |_, _| {
            handed_on += 1;
            Ok(())
        },
        &mut |_| {},
    );
    if finished.is_ok() {
        let r = &ingest.report;
        assert_eq!(r.rows, r.transfers + r.bad_rows + r.other_currency);
        assert_eq!(handed_on, r.transfers);
    }
});
