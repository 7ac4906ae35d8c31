//! Importers: CSV (plain, renamed columns, chain exports) and camt.053, with bad rows reported by line.

use jikimi_exchange::identifiers::Chain;
use jikimi_funds::Error;
use jikimi_funds::account::AccountHint;
use jikimi_funds::import::camt053::read_camt053;
use jikimi_funds::import::csv::{CsvColumns, CsvFlavour, CsvOptions, read_csv};
use jikimi_funds::ingest::{CurrencyOptions, Ingest, Transfer, TransferRef};

/// Transfers as `(tx_id, unix_s, from_key, to_key, units)`.
type Seen = Vec<(String, i64, String, String, u128)>;

fn collect(
    ingest: &mut Ingest,
    run: impl FnOnce(
        &mut Ingest,
        &mut dyn FnMut(TransferRef<'_>, &Ingest) -> Result<(), Error>,
    ) -> Result<(), Error>,
) -> Result<Seen, Error> {
    let mut got: Vec<Transfer> = Vec::new();
    run(ingest, &mut |t, _| {
        got.push(t.to_transfer());
        Ok(())
    })?;
    Ok(got
        .into_iter()
        .map(|t| {
            (
                t.tx_id.to_string(),
                t.timestamp_ns / 1_000_000_000,
                ingest.accounts.name(t.from).to_string(),
                ingest.accounts.name(t.to).to_string(),
                t.amount,
            )
        })
        .collect())
}

fn csv(
    text: &str,
    options: &CsvOptions,
    currency: CurrencyOptions,
) -> (Result<Seen, Error>, Ingest) {
    let mut ingest = Ingest::new(&currency);
    ingest.set_source("transfers.csv");
    let seen = collect(&mut ingest, |ingest, sink| {
        read_csv(text.as_bytes(), options, ingest, sink, &mut |_| {})
    });
    (seen, ingest)
}

fn bad_lines(ingest: &Ingest) -> Vec<(u64, String)> {
    ingest
        .report
        .bad_row_samples
        .iter()
        .map(|b| (b.line, b.reason.clone()))
        .collect()
}

#[test]
fn csv_bad_rows_are_reported_by_line_and_none_dropped() {
    let text = "tx_id,timestamp,from_account,to_account,amount,currency
t1,1700000000,GB82 WEST 1234 5698 7654 32,110-234-567890,100.50,EUR
t2,2023-11-14T22:13:21Z,acct:1102345678,iban:DE89370400440532013000,\"1,234.00\",eur
t3,1700000001,acct:1102345678,0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed,12.345,EUR
t4,yesterday,acct:1102345678,acct:2202345678,1,EUR
t5,1700000002,ab,acct:2202345678,1,EUR
\"t6\",\"1700000003\",\"acct:1102345678\",\"x
y\",5,EUR
t7,1700000004,acct:1102345678,acct:2202345678,5
,1700000005,acct:1102345678,acct:2202345678,5,EUR
t10,1700000006,acct:1102345678,acct:2202345678,-5,EUR
t11,1700000007,0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed,TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,0.01,EUR
";
    let (seen, ingest) = csv(text, &CsvOptions::default(), CurrencyOptions::default());
    let seen = seen.unwrap();
    assert_eq!(
        seen,
        vec![
            (
                "t1".into(),
                1_700_000_000,
                "iban:GB82WEST12345698765432".into(),
                "acct:110234567890".into(),
                10_050
            ),
            (
                "t2".into(),
                1_700_000_001,
                "acct:1102345678".into(),
                "iban:DE89370400440532013000".into(),
                123_400
            ),
            (
                "t11".into(),
                1_700_000_007,
                "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
                "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t".into(),
                1
            ),
        ]
    );
    let bad = bad_lines(&ingest);
    let lines: Vec<u64> = bad.iter().map(|b| b.0).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 9, 10, 11], "{bad:#?}");
    let reason = |line: u64| {
        bad.iter()
            .find(|b| b.0 == line)
            .map(|b| b.1.clone())
            .unwrap()
    };
    assert!(
        reason(4).contains("more than 2 decimal places"),
        "{}",
        reason(4)
    );
    assert!(reason(5).contains("timestamp"), "{}", reason(5));
    assert!(reason(6).starts_with("from_account"), "{}", reason(6));
    assert!(reason(7).starts_with("to_account"), "{}", reason(7));
    assert!(reason(9).contains("5 fields"), "{}", reason(9));
    assert!(reason(10).contains("tx_id is empty"), "{}", reason(10));
    assert!(reason(11).contains("negative"), "{}", reason(11));
    // Nothing dropped silently: every row is a transfer or a bad row.
    let r = &ingest.report;
    assert_eq!(
        (r.rows, r.transfers, r.bad_rows, r.other_currency),
        (10, 3, 7, 0)
    );
    // Reasons never echo the identifier (personal data).
    assert!(
        bad.iter()
            .all(|b| !b.1.contains("1102345678") && !b.1.contains("ab,"))
    );
}

#[test]
fn several_currencies_need_a_choice() {
    let text = "tx_id,timestamp,from_account,to_account,amount,currency
t1,1700000000,acct:1102345678,acct:2202345678,100,EUR
t2,1700000001,acct:1102345678,acct:2202345678,100,USD
";
    let (seen, _) = csv(text, &CsvOptions::default(), CurrencyOptions::default());
    let err = seen.unwrap_err().to_string();
    assert!(
        err.contains("more than one currency (EUR and USD)"),
        "{err}"
    );
    let chosen = CurrencyOptions {
        currency: Some("usd".into()),
        decimals: None,
    };
    let (seen, ingest) = csv(text, &CsvOptions::default(), chosen);
    assert_eq!(seen.unwrap().len(), 1);
    assert_eq!(ingest.report.other_currency, 1);
}

#[test]
fn csv_columns_can_be_renamed() {
    let text = "id;when;payer;payee;value\nk1;2024-01-02 03:04:05;110-234-567890;220-234-567890;\"1,500,000\"\n";
    let options = CsvOptions {
        flavour: CsvFlavour::Plain,
        columns: CsvColumns {
            tx_id: Some("id".into()),
            timestamp: Some("when".into()),
            from: Some("payer".into()),
            to: Some("payee".into()),
            amount: Some("value".into()),
            currency: None,
        },
        delimiter: b';',
    };
    let krw = CurrencyOptions {
        currency: Some("KRW".into()),
        decimals: None,
    };
    let (seen, _) = csv(text, &options, krw.clone());
    assert_eq!(
        seen.unwrap(),
        vec![(
            "k1".into(),
            1_704_164_645,
            "acct:110234567890".into(),
            "acct:220234567890".into(),
            1_500_000
        )]
    );
    // A missing column is an error naming the flag, before any row is read.
    let (seen, _) = csv(text, &CsvOptions::default(), krw);
    let err = seen.unwrap_err().to_string();
    assert!(
        err.contains("no tx id column") && err.contains("--col-tx-id"),
        "{err}"
    );
}

fn tron(seed: u8) -> String {
    let mut payload = vec![0x41u8];
    payload.extend([seed; 20]);
    bs58::encode(payload).with_check().into_string()
}

#[test]
fn chain_exports_are_read_with_the_chain_addresses() {
    // An Etherscan-style token-transfer download: decimal token values with thousands separators.
    let eth = "\"Transaction Hash\",\"Blockno\",\"UnixTimestamp\",\"DateTime (UTC)\",\"From\",\"To\",\"TokenValue\",\"USDValueDayOfTx\",\"ContractAddress\",\"TokenName\",\"TokenSymbol\"
\"0xaa01\",\"19000000\",\"1704164645\",\"2024-01-02 03:04:05\",\"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\",\"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359\",\"1,000.5\",\"$1,000.50\",\"0xdac17f958d2ee523a2206206994597c13d831ec7\",\"Tether USD\",\"USDT\"
\"0xaa02\",\"19000001\",\"1704164646\",\"2024-01-02 03:04:06\",\"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d35A\",\"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\",\"1\",\"$1\",\"0xdac17f958d2ee523a2206206994597c13d831ec7\",\"Tether USD\",\"USDT\"
\"0xaa03\",\"19000002\",\"1704164647\",\"2024-01-02 03:04:07\",\"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\",\"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359\",\"2\",\"$2\",\"0xa0b8\",\"USD Coin\",\"USDC\"
";
    let options = CsvOptions {
        flavour: CsvFlavour::Chain(Chain::Ethereum),
        ..CsvOptions::default()
    };
    let usdt = CurrencyOptions {
        currency: Some("USDT".into()),
        decimals: None,
    };
    let (seen, ingest) = csv(eth, &options, usdt.clone());
    assert_eq!(
        seen.unwrap(),
        vec![(
            "0xaa01".into(),
            1_704_164_645,
            "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(),
            "ethereum:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359".into(),
            1_000_500_000
        )]
    );
    // The second row's sender fails its EIP-55 checksum; the third is another token.
    assert_eq!(
        bad_lines(&ingest).iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![3]
    );
    assert!(bad_lines(&ingest)[0].1.contains("EIP-55"));
    assert_eq!(ingest.report.other_currency, 1);

    // A TRON export with API-style names; an address that is not base58check is a bad row.
    let (a, b) = (tron(1), tron(2));
    let text = format!(
        "transaction_id,timeStamp,from_address,to_address,amount_str,token_symbol
h1,1704164645,{a},{b},25.123456,USDT
h2,1704164646,{b},T{},1,USDT
",
        "x".repeat(33)
    );
    let options = CsvOptions {
        flavour: CsvFlavour::Chain(Chain::Tron),
        ..CsvOptions::default()
    };
    let (seen, ingest) = csv(&text, &options, usdt);
    assert_eq!(
        seen.unwrap(),
        vec![(
            "h1".into(),
            1_704_164_645,
            format!("tron:{a}"),
            format!("tron:{b}"),
            25_123_456
        )]
    );
    assert_eq!(
        bad_lines(&ingest).iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![3]
    );
    // The same address as a wallet and from a plain CSV is one account.
    let mut accounts = jikimi_funds::account::Accounts::new();
    let x = accounts
        .intern(&a, AccountHint::Wallet(Chain::Tron))
        .unwrap();
    let y = accounts.intern(&a, AccountHint::Auto).unwrap();
    assert_eq!(x, y);
}

const V02: &str = include_str!("../data/camt053-v02.xml");
const V08: &str = include_str!("../data/camt053-v08.xml");

fn camt(text: &str) -> (Result<Seen, Error>, Ingest) {
    let mut ingest = Ingest::new(&CurrencyOptions::default());
    ingest.set_source("statement.xml");
    let seen = collect(&mut ingest, |ingest, sink| {
        read_camt053(text.as_bytes(), ingest, sink)
    });
    (seen, ingest)
}

/// 1-based line of the n-th (0-based) line containing `needle`.
fn line_of(text: &str, needle: &str, n: usize) -> u64 {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(n)
        .map(|(i, _)| i as u64 + 1)
        .unwrap()
}

#[test]
fn camt053_entries_become_transfers_and_bad_entries_are_reported_by_line() {
    let (seen, ingest) = camt(V02);
    let own = "iban:DE89370400440532013000".to_string();
    assert_eq!(
        seen.unwrap(),
        vec![
            (
                "E2E-VICTIM-1".into(),
                1_709_287_200,
                "iban:GB29NWBK60161331926819".into(),
                own.clone(),
                150_000
            ),
            (
                "SVC-2".into(),
                1_709_337_600,
                own.clone(),
                "acct:110234567890".into(),
                90_000
            ),
            (
                "BATCH-3#1".into(),
                1_709_424_000,
                own.clone(),
                "iban:NL91ABNA0417164300".into(),
                25_000
            ),
            (
                "BATCH-3#2".into(),
                1_709_424_000,
                own,
                "iban:BE68539007547034".into(),
                35_000
            ),
        ]
    );
    let bad = bad_lines(&ingest);
    let typo_tx = line_of(V02, "E2E-TYPO", 0) - 1;
    assert_eq!(
        bad.iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![
            line_of(V02, "<Ntry>", 3),
            line_of(V02, "<Ntry>", 4),
            line_of(V02, "<Ntry>", 5),
            typo_tx
        ],
        "{bad:#?}"
    );
    assert!(bad[0].1.contains("PDNG"), "{}", bad[0].1);
    assert!(bad[1].1.contains("no transaction details"), "{}", bad[1].1);
    assert!(bad[2].1.contains("reversal"), "{}", bad[2].1);
    assert!(bad[3].1.contains("mod-97"), "{}", bad[3].1);
    assert_eq!(
        (
            ingest.report.rows,
            ingest.report.transfers,
            ingest.report.bad_rows
        ),
        (8, 4, 4)
    );
    assert_eq!(ingest.currency(), Some("EUR"));
}

#[test]
fn camt053_version_8_statuses_and_amounts() {
    let (seen, ingest) = camt(V08);
    assert_eq!(
        seen.unwrap(),
        vec![(
            "E2E-CASHOUT-1".into(),
            1_709_389_800,
            "acct:110234567890".into(),
            "iban:CH9300762011623852957".into(),
            40_000
        )]
    );
    assert_eq!(ingest.report.bad_rows, 0);
}

#[test]
fn camt053_documents_that_are_not_statements_are_refused() {
    let (seen, _) = camt("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\"/>");
    assert!(
        seen.unwrap_err()
            .to_string()
            .contains("not a camt.053 document")
    );
    let broken = V02.replacen("</Acct>", "</Acct></Oops>", 1);
    let err = camt(&broken).0.unwrap_err().to_string();
    assert!(
        err.contains("xml of statement.xml is unusable: line"),
        "{err}"
    );
}

#[test]
fn camt053_fixtures_validate_against_the_iso_schema() {
    // The schemas are ISO 20022's published camt.053.001.02 and .08 XSDs (see tests/data/README.md).
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    for (xml, xsd) in [
        ("camt053-v02.xml", "camt.053.001.02.xsd"),
        ("camt053-v08.xml", "camt.053.001.08.xsd"),
    ] {
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--schema", xsd, xml])
            .current_dir(dir)
            .output()
            .expect("xmllint is needed (Debian: libxml2-utils; .ci/setup-xmllint.sh installs it)");
        assert!(
            out.status.success(),
            "{xml}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
