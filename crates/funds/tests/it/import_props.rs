//! Importers on arbitrary input (issue 22: "bad rows reported by line and nothing silently dropped"): CSV and
//! camt.053 readers never panic, and when they finish every row they read is accounted for, as a transfer
//! handed on, a bad row or a row in another currency.

use jikimi_exchange::identifiers::Chain;
use jikimi_funds::import::camt053::read_camt053;
use jikimi_funds::import::csv::{CsvFlavour, CsvOptions, read_csv};
use jikimi_funds::ingest::{CurrencyOptions, Ingest};
use proptest::prelude::*;

const HEADER: &str = "tx_id,timestamp,from_account,to_account,amount,currency\n";

/// Plausible values, near misses and junk (commas, quotes and newlines included).
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("t1".to_string()),
        Just("1700000000".to_string()),
        Just("2024-03-01T12:00:00+09:00".to_string()),
        Just("acct:1000001".to_string()),
        Just("GB82 WEST 1234 5698 7654 32".to_string()),
        Just("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t".to_string()),
        Just("1,234.50".to_string()),
        Just("USD".to_string()),
        Just(String::new()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

fn csv_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            any::<bool>(),
            prop::collection::vec(prop::collection::vec(field(), 0..8), 0..10),
        )
            .prop_map(|(header, rows)| {
                let mut text = if header {
                    HEADER.to_string()
                } else {
                    String::new()
                };
                for row in rows {
                    text.push_str(&row.join(","));
                    text.push('\n');
                }
                text.into_bytes()
            }),
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|tail| [HEADER.as_bytes(), &tail].concat()),
    ]
}

/// Reads `data` with `read`, then checks the accounting if the import finished.
fn check_accounting(
    currency: Option<&str>,
    read: impl FnOnce(
        &mut Ingest,
        &mut dyn FnMut(
            jikimi_funds::ingest::TransferRef<'_>,
            &Ingest,
        ) -> Result<(), jikimi_funds::Error>,
    ) -> Result<(), jikimi_funds::Error>,
) -> Result<(), TestCaseError> {
    let mut ingest = Ingest::new(&CurrencyOptions {
        currency: currency.map(str::to_string),
        decimals: None,
    });
    let mut handed_on = 0u64;
    let finished = read(&mut ingest, &mut |_, _| {
        handed_on += 1;
        Ok(())
    });
    if finished.is_ok() {
        let r = &ingest.report;
        prop_assert_eq!(
            r.rows,
            r.transfers + r.bad_rows + r.other_currency,
            "{:?}",
            r
        );
        prop_assert_eq!(handed_on, r.transfers);
        prop_assert!(
            r.bad_row_samples.iter().all(|b| b.line > 0),
            "{:?}",
            r.bad_row_samples
        );
    }
    Ok(())
}

const V02: &str = include_str!("../data/camt053-v02.xml");

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn csv_import_never_panics_and_accounts_for_every_row(
        data in csv_text(),
        currency in prop::option::of(Just("USD")),
        chain in any::<bool>(),
    ) {
        let options = CsvOptions {
            flavour: if chain { CsvFlavour::Chain(Chain::Tron) } else { CsvFlavour::Plain },
            ..CsvOptions::default()
        };
        check_accounting(currency, |ingest, sink| read_csv(&data[..], &options, ingest, sink, &mut |_| {}))?;
    }

    #[test]
    fn camt053_import_never_panics_and_accounts_for_every_entry(
        at in 0usize..V02.len(),
        cut in 0usize..40,
        insert in "\\PC{0,12}|<[A-Za-z]{1,8}>|</[A-Za-z]{1,8}>",
    ) {
        // A mutation of the real fixture reaches deeper than random bytes: cut some text, insert some.
        let start = (0..=at).rev().find(|i| V02.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + cut..=V02.len()).find(|i| V02.is_char_boundary(*i)).unwrap_or(V02.len());
        let text = format!("{}{insert}{}", &V02[..start], &V02[end..]);
        check_accounting(None, |ingest, sink| read_camt053(text.as_bytes(), ingest, sink))?;
    }
}
