//! CSV transfers: the plain format and block-explorer token-transfer exports.
//!
//! Plain: a header row naming `tx_id,timestamp,from_account,to_account,amount,currency` (any order, other
//! columns ignored; each can be renamed with [`CsvColumns`]; `currency` may be absent when the traced currency
//! is given). Accounts are detected (IBAN, wallet, account number) or carry a `kind:` prefix.
//!
//! Chain (account-model token transfers, e.g. USDT on TRON or Ethereum): the header is matched, ignoring case,
//! against the names explorers use in their CSV downloads and APIs, first match wins:
//!
//! | role | accepted header names |
//! |---|---|
//! | tx id | `Transaction Hash`, `Txhash`, `Transaction ID`, `transaction_id`, `hash`, `tx_id` |
//! | time | `UnixTimestamp`, `timeStamp`, `block_ts`, `Block Time`, `DateTime (UTC)`, `Date Time (UTC)`, `timestamp` |
//! | from | `From`, `from_address`, `From Address`, `from_account` |
//! | to | `To`, `to_address`, `To Address`, `to_account` |
//! | amount | `TokenValue`, `Quantity`, `Value`, `amount_str`, `quant`, `amount` |
//! | token | `TokenSymbol`, `Token Symbol`, `token_symbol`, `symbol`, `currency` (optional) |
//!
//! Amounts must be decimal token values as the explorers' CSV downloads show them (`1,000.5`), not raw base
//! units; times Unix seconds, RFC 3339 or `YYYY-MM-DD HH:MM:SS` (UTC). Addresses are validated for the chain
//! given ([`CsvFlavour::Chain`]): a row whose address fails its checksum is a bad row. One chain transaction can
//! hold several token transfers under one hash; they are kept apart (and ordered by sender, recipient, amount).

use std::io::Read;

use jikimi_exchange::identifiers::Chain;

use crate::Error;
use crate::account::AccountHint;
use crate::ingest::{Ingest, RawTransfer, TransferRef};

/// Header names to use instead of the defaults (each `None` means "the default for the flavour").
#[derive(Debug, Clone, Default)]
pub struct CsvColumns {
    pub tx_id: Option<String>,
    pub timestamp: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
}

/// What kind of CSV it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvFlavour {
    /// The plain transfer format.
    Plain,
    /// A token-transfer export of this chain.
    Chain(Chain),
}

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub flavour: CsvFlavour,
    pub columns: CsvColumns,
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            flavour: CsvFlavour::Plain,
            columns: CsvColumns::default(),
            delimiter: b',',
        }
    }
}

const PLAIN: [&[&str]; 6] = [
    &["tx_id"],
    &["timestamp"],
    &["from_account"],
    &["to_account"],
    &["amount"],
    &["currency"],
];

const CHAIN: [&[&str]; 6] = [
    &[
        "Transaction Hash",
        "Txhash",
        "Transaction ID",
        "transaction_id",
        "hash",
        "tx_id",
    ],
    &[
        "UnixTimestamp",
        "timeStamp",
        "block_ts",
        "Block Time",
        "DateTime (UTC)",
        "Date Time (UTC)",
        "timestamp",
    ],
    &["From", "from_address", "From Address", "from_account"],
    &["To", "to_address", "To Address", "to_account"],
    &[
        "TokenValue",
        "Quantity",
        "Value",
        "amount_str",
        "quant",
        "amount",
    ],
    &[
        "TokenSymbol",
        "Token Symbol",
        "token_symbol",
        "symbol",
        "currency",
    ],
];

const ROLE_NAMES: [&str; 6] = [
    "tx id",
    "timestamp",
    "from account",
    "to account",
    "amount",
    "currency",
];

/// Reads CSV rows from `reader`, passing each transfer to `sink`; bad rows go to `ingest`'s report.
/// `progress` is called now and then with the number of bytes read so far.
pub fn read_csv(
    reader: impl Read,
    options: &CsvOptions,
    ingest: &mut Ingest,
    sink: &mut dyn FnMut(TransferRef<'_>, &Ingest) -> Result<(), Error>,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let source = ingest.source().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .flexible(true)
        .from_reader(reader);
    let headers = rdr
        .byte_headers()
        .map_err(|e| Error::Csv {
            path: source.clone(),
            source: e,
        })?
        .clone();
    let header_names: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    let overrides = [
        &options.columns.tx_id,
        &options.columns.timestamp,
        &options.columns.from,
        &options.columns.to,
        &options.columns.amount,
        &options.columns.currency,
    ];
    let defaults = match options.flavour {
        CsvFlavour::Plain => PLAIN,
        CsvFlavour::Chain(_) => CHAIN,
    };
    let mut index = [None; 6];
    for role in 0..6 {
        let wanted: Vec<&str> = match overrides[role] {
            Some(name) => vec![name.as_str()],
            None => defaults[role].to_vec(),
        };
        index[role] = wanted
            .iter()
            .find_map(|w| header_names.iter().position(|h| h.eq_ignore_ascii_case(w)));
        // The currency column is optional; every other one is required.
        if index[role].is_none() && (role != 5 || overrides[role].is_some()) {
            return Err(Error::Invalid(format!(
                "{source}: no {} column (looked for {}); name it with --col-{}",
                ROLE_NAMES[role],
                wanted.join(", "),
                ["tx-id", "timestamp", "from", "to", "amount", "currency"][role]
            )));
        }
    }
    let hint = match options.flavour {
        CsvFlavour::Plain => AccountHint::Auto,
        CsvFlavour::Chain(c) => AccountHint::Wallet(c),
    };
    let needed = index.iter().flatten().copied().max().unwrap_or(0) + 1;
    let mut record = csv::ByteRecord::new();
    let mut n: u64 = 0;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(Error::Csv {
                        path: source,
                        source: e,
                    });
                }
                ingest.bad(line, format!("unreadable csv row: {e}"));
                continue;
            }
        }
        n += 1;
        if n.is_multiple_of(65_536) {
            progress(record.position().map_or(0, |p| p.byte()));
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
            continue; // a blank line is no row
        }
        if record.len() < needed {
            ingest.bad(
                line,
                format!(
                    "row has {} fields, the header needs at least {needed}",
                    record.len()
                ),
            );
            continue;
        }
        let mut fields = [""; 6];
        let mut utf8_ok = true;
        for role in 0..6 {
            if let Some(i) = index[role] {
                match std::str::from_utf8(record.get(i).unwrap_or_default()) {
                    Ok(s) => fields[role] = s,
                    Err(_) => utf8_ok = false,
                }
            }
        }
        if !utf8_ok {
            ingest.bad(line, "row is not valid UTF-8");
            continue;
        }
        let raw = RawTransfer {
            line,
            tx_id: fields[0],
            timestamp: fields[1],
            from: fields[2],
            from_hint: hint,
            to: fields[3],
            to_hint: hint,
            amount: fields[4],
            currency: index[5].map(|_| fields[5]),
        };
        if let Some(t) = ingest.accept(raw)? {
            sink(t, ingest)?;
        }
    }
    Ok(())
}
