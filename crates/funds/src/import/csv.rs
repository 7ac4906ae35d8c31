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
    let columns = Columns {
        index,
        needed,
        hint,
    };
    // Rows are read a batch at a time and their accounts looked up once before any is validated: a lookup
    // in a table of a million accounts waits on memory, and a batch of independent lookups lets the
    // processor wait for many at once (see `Accounts::warm`). Rows are still validated one by one, in order.
    let mut batch: Vec<csv::ByteRecord> = (0..BATCH).map(|_| csv::ByteRecord::new()).collect();
    let mut n: u64 = 0;
    loop {
        let mut filled = 0;
        let mut unreadable = None;
        let mut at_end = false;
        while filled < BATCH {
            match rdr.read_byte_record(&mut batch[filled]) {
                Ok(true) => filled += 1,
                Ok(false) => {
                    at_end = true;
                    break;
                }
                Err(e) => {
                    unreadable = Some(e);
                    break;
                }
            }
        }
        let raws: Vec<&str> = batch[..filled]
            .iter()
            .flat_map(|record| [2, 3].map(|role| columns.index[role].and_then(|i| record.get(i))))
            .filter_map(|field| std::str::from_utf8(field?).ok())
            .collect();
        ingest.accounts.warm(&raws, hint);
        drop(raws);
        for record in &batch[..filled] {
            n += 1;
            if n.is_multiple_of(65_536) {
                progress(record.position().map_or(0, |p| p.byte()));
            }
            row(record, &columns, ingest, sink)?;
        }
        if let Some(e) = unreadable {
            let line = e.position().map_or(0, |p| p.line());
            if let csv::ErrorKind::Io(_) = e.kind() {
                return Err(Error::Csv {
                    path: source,
                    source: e,
                });
            }
            ingest.bad(line, format!("unreadable csv row: {e}"));
        } else if at_end {
            break;
        }
    }
    Ok(())
}

/// Rows per batch of [`read_csv`].
const BATCH: usize = 256;

/// Where the roles' fields are in a row.
struct Columns {
    /// Field index of tx id, timestamp, from, to, amount, currency (only the last may be absent).
    index: [Option<usize>; 6],
    /// Fields a row needs.
    needed: usize,
    hint: AccountHint,
}

/// Validates one row: a transfer goes to `sink`, a bad row to `ingest`'s report.
fn row(
    record: &csv::ByteRecord,
    columns: &Columns,
    ingest: &mut Ingest,
    sink: &mut dyn FnMut(TransferRef<'_>, &Ingest) -> Result<(), Error>,
) -> Result<(), Error> {
    let (index, needed) = (&columns.index, columns.needed);
    let line = record.position().map_or(0, |p| p.line());
    if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
        return Ok(()); // a blank line is no row
    }
    if record.len() < needed {
        ingest.bad(
            line,
            format!(
                "row has {} fields, the header needs at least {needed}",
                record.len()
            ),
        );
        return Ok(());
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
        return Ok(());
    }
    let raw = RawTransfer {
        line,
        tx_id: fields[0],
        timestamp: fields[1],
        from: fields[2],
        from_hint: columns.hint,
        to: fields[3],
        to_hint: columns.hint,
        amount: fields[4],
        currency: index[5].map(|_| fields[5]),
    };
    if let Some(t) = ingest.accept(raw)? {
        sink(t, ingest)?;
    }
    Ok(())
}
