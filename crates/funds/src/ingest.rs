//! From source rows to [`Transfer`]s: one validation step shared by every importer (CSV, camt.053, chain
//! exports). A row that cannot become a transfer is a [`BadRow`] with its line number and a reason; nothing is
//! dropped without being counted in the [`ImportReport`].

use crate::Error;
use crate::account::{AccountHint, AccountId, Accounts};
use crate::amount::{self, Units};

/// One transfer, validated: `amount` units moved from `from` to `to` at `timestamp_ns` (Unix nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub timestamp_ns: i64,
    pub tx_id: Box<str>,
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Units,
}

impl Transfer {
    /// The transfer as a [`TransferRef`] borrowing its tx id.
    pub fn view(&self) -> TransferRef<'_> {
        TransferRef {
            timestamp_ns: self.timestamp_ns,
            tx_id: &self.tx_id,
            from: self.from,
            to: self.to,
            amount: self.amount,
        }
    }
}

/// A validated transfer whose tx id is borrowed from its source row: what importers hand on, so that no tx id
/// is allocated on the way from a file to the sorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferRef<'a> {
    pub timestamp_ns: i64,
    pub tx_id: &'a str,
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Units,
}

impl TransferRef<'_> {
    /// An owned copy.
    pub fn to_transfer(&self) -> Transfer {
        Transfer {
            timestamp_ns: self.timestamp_ns,
            tx_id: Box::from(self.tx_id),
            from: self.from,
            to: self.to,
            amount: self.amount,
        }
    }
}

/// A source row before validation; `line` is where it starts in its file (1-based).
#[derive(Debug, Clone, Copy)]
pub struct RawTransfer<'a> {
    pub line: u64,
    pub tx_id: &'a str,
    pub timestamp: &'a str,
    pub from: &'a str,
    pub from_hint: AccountHint,
    pub to: &'a str,
    pub to_hint: AccountHint,
    pub amount: &'a str,
    /// `None` when the source has no currency column (then `--currency` must say it).
    pub currency: Option<&'a str>,
}

/// A row that did not become a transfer, and why (the reason never repeats an account identifier).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadRow {
    pub source: String,
    pub line: u64,
    pub reason: String,
}

/// Counts of what an import read; `bad_row_samples` keeps the first [`ImportReport::MAX_SAMPLES`] bad rows.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    pub rows: u64,
    pub transfers: u64,
    pub bad_rows: u64,
    /// Rows in a currency other than the one traced (`--currency`): counted, not traced.
    pub other_currency: u64,
    pub bad_row_samples: Vec<BadRow>,
}

impl ImportReport {
    pub const MAX_SAMPLES: usize = 1000;

    /// Records a bad row (kept as a sample while there is room).
    pub fn bad(&mut self, source: &str, line: u64, reason: impl Into<String>) {
        self.bad_rows += 1;
        if self.bad_row_samples.len() < Self::MAX_SAMPLES {
            self.bad_row_samples.push(BadRow {
                source: source.to_string(),
                line,
                reason: reason.into(),
            });
        }
    }
}

/// Which currency is traced and at how many decimals.
#[derive(Debug, Clone, Default)]
pub struct CurrencyOptions {
    /// Trace only this currency; rows in others are counted as `other_currency`. Without it the input must
    /// hold one currency.
    pub currency: Option<String>,
    /// Decimals of the traced currency (default: [`amount::default_decimals`]).
    pub decimals: Option<u32>,
}

/// The validation step: holds the account interner, the traced currency and the report.
#[derive(Debug)]
pub struct Ingest {
    pub accounts: Accounts,
    pub report: ImportReport,
    currency: Option<String>,
    currency_fixed: bool,
    decimals: Option<u32>,
    source: String,
}

impl Ingest {
    pub fn new(options: &CurrencyOptions) -> Self {
        let currency = options
            .currency
            .as_ref()
            .map(|c| c.trim().to_ascii_uppercase());
        let decimals = options
            .decimals
            .or_else(|| currency.as_deref().map(amount::default_decimals));
        Ingest {
            accounts: Accounts::new(),
            report: ImportReport::default(),
            currency_fixed: currency.is_some(),
            currency,
            decimals,
            source: String::new(),
        }
    }

    /// Names the file that the following rows come from (for bad-row reports).
    pub fn set_source(&mut self, source: impl Into<String>) {
        self.source = source.into();
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The traced currency, once known.
    pub fn currency(&self) -> Option<&str> {
        self.currency.as_deref()
    }

    /// The decimals of the traced currency, once known.
    pub fn decimals(&self) -> Option<u32> {
        self.decimals
    }

    /// Records a row that an importer could not even split into fields.
    pub fn bad(&mut self, line: u64, reason: impl Into<String>) {
        self.report.rows += 1;
        let source = self.source.clone();
        self.report.bad(&source, line, reason);
    }

    /// Validates one row: `Ok(Some)` a transfer, `Ok(None)` a bad or other-currency row (counted), `Err` only
    /// when the input as a whole is unusable (several currencies and none chosen).
    pub fn accept<'a>(&mut self, raw: RawTransfer<'a>) -> Result<Option<TransferRef<'a>>, Error> {
        self.report.rows += 1;
        match self.validate(&raw) {
            Ok(Some(t)) => {
                self.report.transfers += 1;
                Ok(Some(t))
            }
            Ok(None) => {
                self.report.other_currency += 1;
                Ok(None)
            }
            Err(Rejection::Row(reason)) => {
                let source = self.source.clone();
                self.report.bad(&source, raw.line, reason);
                Ok(None)
            }
            Err(Rejection::Fatal(e)) => Err(e),
        }
    }

    fn validate<'a>(
        &mut self,
        raw: &RawTransfer<'a>,
    ) -> Result<Option<TransferRef<'a>>, Rejection> {
        let tx_id = raw.tx_id.trim();
        if tx_id.is_empty() {
            return Err(Rejection::Row("tx_id is empty".into()));
        }
        let timestamp_ns = parse_timestamp(raw.timestamp).map_err(Rejection::Row)?;
        let decimals = match raw.currency.map(|c| c.trim()) {
            None => match self.decimals {
                Some(d) if self.currency.is_some() => d,
                _ => {
                    return Err(Rejection::Fatal(Error::Invalid(
                        "the input has no currency column: name the currency with --currency"
                            .into(),
                    )));
                }
            },
            Some("") => return Err(Rejection::Row("currency is empty".into())),
            Some(c) => match &self.currency {
                Some(traced) if traced.eq_ignore_ascii_case(c) => self.decimals.unwrap_or(2),
                Some(traced) => {
                    if self.currency_fixed {
                        return Ok(None);
                    }
                    return Err(Rejection::Fatal(Error::Invalid(format!(
                        "transfers in more than one currency ({traced} and {}): choose one with --currency",
                        c.to_ascii_uppercase()
                    ))));
                }
                None => {
                    let c = c.to_ascii_uppercase();
                    let d = self
                        .decimals
                        .unwrap_or_else(|| amount::default_decimals(&c));
                    self.currency = Some(c);
                    self.decimals = Some(d);
                    d
                }
            },
        };
        let amount =
            amount::parse_units(raw.amount, decimals).map_err(|e| Rejection::Row(e.to_string()))?;
        let from = self
            .accounts
            .intern(raw.from, raw.from_hint)
            .map_err(|r| Rejection::Row(format!("from_account {r}")))?;
        let to = self
            .accounts
            .intern(raw.to, raw.to_hint)
            .map_err(|r| Rejection::Row(format!("to_account {r}")))?;
        Ok(Some(TransferRef {
            timestamp_ns,
            tx_id,
            from,
            to,
            amount,
        }))
    }
}

enum Rejection {
    Row(String),
    Fatal(Error),
}

/// Parses a timestamp into Unix nanoseconds. Accepted: Unix seconds (an integer, optionally with a fraction),
/// RFC 3339 (`2024-03-01T12:00:00+09:00`), and, taken as UTC, `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SS`
/// (ISO 20022 `ISODateTime` without an offset) and a bare date `YYYY-MM-DD` (midnight).
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let t = text.trim();
    if t.is_empty() {
        return Err("timestamp is empty".into());
    }
    let out_of_range =
        || "timestamp is out of range (Unix seconds are expected, not milliseconds)".to_string();
    let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
    if !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 9
    {
        // Nanoseconds in an i64 end in 2262: a larger number is almost surely milliseconds.
        let s: i64 = secs.parse().map_err(|_| out_of_range())?;
        if s > i64::MAX / 1_000_000_000 - 1 {
            return Err(out_of_range());
        }
        let nanos: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| out_of_range())?
        };
        return Ok(s * 1_000_000_000 + nanos);
    }
    let nanos =
        |dt: chrono::NaiveDateTime| dt.and_utc().timestamp_nanos_opt().ok_or_else(out_of_range);
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return dt.timestamp_nanos_opt().ok_or_else(out_of_range);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, format) {
            return nanos(dt);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return nanos(d.and_time(chrono::NaiveTime::MIN));
    }
    Err("timestamp is neither Unix seconds nor RFC 3339 (e.g. 2024-03-01T12:00:00Z)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1700000000"), Ok(1_700_000_000_000_000_000));
        assert_eq!(
            parse_timestamp("1700000000.5"),
            Ok(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20Z"),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp("2023-11-15T07:13:20+09:00"),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp("2023-11-14 22:13:20"),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20"),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(parse_timestamp("2023-11-14"), Ok(1_699_920_000_000_000_000));
        assert!(parse_timestamp("1700000000000").is_err());
        assert!(parse_timestamp("-5").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("").is_err());
    }
}
