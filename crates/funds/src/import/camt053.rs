//! ISO 20022 `camt.053` bank-to-customer statements (versions 001.02 to 001.14) as transfers.
//!
//! A statement (`Stmt`) is about one account (`Acct/Id/IBAN` or `Acct/Id/Othr/Id`); each booked entry
//! (`Ntry`) moves money in (`CdtDbtInd` = `CRDT`) or out (`DBIT`). Each transaction (`NtryDtls/TxDtls`, a batch
//! entry has several) becomes one transfer between the statement's account and the counterparty named in
//! `RltdPties` (`DbtrAcct` for a credit, `CdtrAcct` for a debit), at the booking date (`BookgDt/DtTm`, else
//! `BookgDt/Dt` at midnight UTC, else the value date; a date-time without offset is taken as UTC).
//!
//! The tx id is the first present of `Refs/EndToEndId` (unless `NOTPROVIDED`: the id travels with the payment,
//! so the payer's and payee's statements agree on it), `Refs/AcctSvcrRef`, `Refs/TxId`, the entry's
//! `AcctSvcrRef`, its `NtryRef` (with `#n` appended for the n-th transaction of a batch).
//!
//! Reported as bad rows, at the line of their `<Ntry>` or `<TxDtls>`: entries not booked (`PDNG`, `INFO`),
//! reversals (`RvslInd` true: the original and its reversal must be matched by hand), entries without
//! transaction details or counterparty account, and whatever [`crate::ingest`] refuses (amount, accounts).
//! The document is read with a streaming XML reader; it must be well-formed and a camt.053 `Document`.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::Error;
use crate::account::AccountHint;
use crate::ingest::{Ingest, RawTransfer, TransferRef};

#[derive(Debug, Default)]
struct Account {
    id: Option<(String, AccountHint)>,
}

#[derive(Debug, Default)]
struct Tx {
    line: u64,
    end_to_end: Option<String>,
    svcr_ref: Option<String>,
    tx_id: Option<String>,
    amount: Option<(String, Option<String>)>,
    debtor: Option<(String, AccountHint)>,
    creditor: Option<(String, AccountHint)>,
}

#[derive(Debug, Default)]
struct Entry {
    line: u64,
    amount: Option<(String, Option<String>)>,
    credit_debit: Option<String>,
    reversal: Option<String>,
    status: Option<String>,
    booked: Option<String>,
    value_date: Option<String>,
    svcr_ref: Option<String>,
    entry_ref: Option<String>,
    txs: Vec<Tx>,
}

/// Reads a whole camt.053 document, passing each transfer to `sink`; bad entries go to `ingest`'s report.
pub fn read_camt053(
    data: &[u8],
    ingest: &mut Ingest,
    sink: &mut dyn FnMut(TransferRef<'_>, &Ingest) -> Result<(), Error>,
) -> Result<(), Error> {
    let source = ingest.source().to_string();
    let mut reader = Reader::from_reader(data);
    let mut lines = LineCounter::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut statement = Account::default();
    let mut entry: Option<Entry> = None;
    let mut amount_currency: Option<String> = None;
    let mut saw_root = false;
    loop {
        let before = reader.buffer_position();
        let event = reader.read_event().map_err(|e| Error::Xml {
            path: source.clone(),
            reason: format!("line {}: {e}", lines.line_at(data, reader.error_position())),
        })?;
        match event {
            Event::Start(e) | Event::Empty(e) if !saw_root => {
                saw_root = true;
                let is_camt = e.local_name().as_ref() == b"Document"
                    && e.attributes().flatten().any(|a| {
                        a.key.as_ref().starts_with(b"xmlns")
                            && a.value.windows(9).any(|w| w == b"camt.053.")
                    });
                if !is_camt {
                    return Err(Error::Xml {
                        path: source,
                        reason: "not a camt.053 document (root must be Document in a camt.053 namespace)".into(),
                    });
                }
                path.push("Document".into());
            }
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let line = lines.line_at(data, before);
                text.clear();
                match name.as_str() {
                    "Stmt" => statement = Account::default(),
                    "Ntry" if path.last().is_some_and(|p| p == "Stmt") => {
                        entry = Some(Entry {
                            line,
                            ..Entry::default()
                        })
                    }
                    "TxDtls" => {
                        if let Some(en) = &mut entry {
                            en.txs.push(Tx {
                                line,
                                ..Tx::default()
                            });
                        }
                    }
                    "Amt" => {
                        amount_currency = e
                            .try_get_attribute("Ccy")
                            .ok()
                            .flatten()
                            .map(|a| String::from_utf8_lossy(&a.value).trim().to_string());
                    }
                    _ => {}
                }
                path.push(name);
            }
            Event::Empty(_) => {}
            Event::Text(t) => {
                let s = t.decode().map_err(|e| Error::Xml {
                    path: source.clone(),
                    reason: format!("line {}: {e}", lines.line_at(data, before)),
                })?;
                text.push_str(&s);
            }
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(s) = r
                    .decode()
                    .ok()
                    .and_then(|n| quick_xml::escape::resolve_predefined_entity(&n))
                {
                    text.push_str(s);
                }
            }
            Event::End(_) => {
                let value = text.trim().to_string();
                text.clear();
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                on_end(&p, value, &mut statement, &mut entry, &mut amount_currency);
                if p.last() == Some(&"Ntry")
                    && p.len() >= 2
                    && p[p.len() - 2] == "Stmt"
                    && let Some(en) = entry.take()
                {
                    emit(en, &statement, ingest, sink)?;
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(Error::Xml {
            path: source,
            reason: "empty document".into(),
        });
    }
    Ok(())
}

fn ends_with(path: &[&str], suffix: &[&str]) -> bool {
    path.len() >= suffix.len() && path[path.len() - suffix.len()..] == *suffix
}

fn on_end(
    p: &[&str],
    value: String,
    statement: &mut Account,
    entry: &mut Option<Entry>,
    currency: &mut Option<String>,
) {
    if entry.is_none() {
        if ends_with(p, &["Stmt", "Acct", "Id", "IBAN"]) {
            statement.id = Some((value, AccountHint::Iban));
        } else if ends_with(p, &["Stmt", "Acct", "Id", "Othr", "Id"]) {
            statement.id = Some((value, AccountHint::Other));
        }
        return;
    }
    let Some(en) = entry.as_mut() else { return };
    let Some(ntry) = p.iter().rposition(|s| *s == "Ntry") else {
        return;
    };
    let rel = &p[ntry + 1..];
    match rel {
        ["Amt"] => en.amount = Some((value, currency.take())),
        ["CdtDbtInd"] => en.credit_debit = Some(value),
        ["RvslInd"] => en.reversal = Some(value),
        ["Sts"] | ["Sts", "Cd"] if !value.is_empty() => en.status = Some(value),
        ["BookgDt", "DtTm"] | ["BookgDt", "Dt"] => en.booked = Some(value),
        ["ValDt", "DtTm"] | ["ValDt", "Dt"] => en.value_date = Some(value),
        ["AcctSvcrRef"] => en.svcr_ref = Some(value),
        ["NtryRef"] => en.entry_ref = Some(value),
        ["NtryDtls", "TxDtls", rest @ ..] => {
            let Some(tx) = en.txs.last_mut() else { return };
            let account = |rest: &[&str]| match rest {
                ["Id", "IBAN"] => Some((value.clone(), AccountHint::Iban)),
                ["Id", "Othr", "Id"] => Some((value.clone(), AccountHint::Other)),
                _ => None,
            };
            match rest {
                ["Refs", "EndToEndId"] => tx.end_to_end = Some(value),
                ["Refs", "AcctSvcrRef"] => tx.svcr_ref = Some(value),
                ["Refs", "TxId"] => tx.tx_id = Some(value),
                // `TxDtls/Amt` (001.04 and later) wins over `AmtDtls/TxAmt/Amt`.
                ["Amt"] => tx.amount = Some((value, currency.take())),
                ["AmtDtls", "TxAmt", "Amt"] if tx.amount.is_none() => {
                    tx.amount = Some((value, currency.take()))
                }
                ["RltdPties", "DbtrAcct", r @ ..] => {
                    if let Some(a) = account(r) {
                        tx.debtor = Some(a);
                    }
                }
                ["RltdPties", "CdtrAcct", r @ ..] => {
                    if let Some(a) = account(r) {
                        tx.creditor = Some(a);
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

fn emit(
    en: Entry,
    statement: &Account,
    ingest: &mut Ingest,
    sink: &mut dyn FnMut(TransferRef<'_>, &Ingest) -> Result<(), Error>,
) -> Result<(), Error> {
    let status = en.status.as_deref().unwrap_or("");
    if status != "BOOK" {
        ingest.bad(
            en.line,
            format!("entry status {status:?} is not booked (BOOK)"),
        );
        return Ok(());
    }
    if en
        .reversal
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("true"))
    {
        ingest.bad(
            en.line,
            "reversal entry (RvslInd): match it with its original by hand",
        );
        return Ok(());
    }
    let credit = match en.credit_debit.as_deref() {
        Some("CRDT") => true,
        Some("DBIT") => false,
        _ => {
            ingest.bad(en.line, "CdtDbtInd is neither CRDT nor DBIT");
            return Ok(());
        }
    };
    let Some(when) = en.booked.as_deref().or(en.value_date.as_deref()) else {
        ingest.bad(en.line, "entry has no booking or value date");
        return Ok(());
    };
    let Some((own, own_hint)) = &statement.id else {
        ingest.bad(en.line, "statement has no account (Acct/Id)");
        return Ok(());
    };
    if en.txs.is_empty() {
        ingest.bad(
            en.line,
            "entry has no transaction details (TxDtls) naming the counterparty",
        );
        return Ok(());
    }
    let batch = en.txs.len() > 1;
    for (k, tx) in en.txs.iter().enumerate() {
        let counterparty = if credit { &tx.debtor } else { &tx.creditor };
        let Some((other, other_hint)) = counterparty else {
            let which = if credit {
                "DbtrAcct for a credit"
            } else {
                "CdtrAcct for a debit"
            };
            ingest.bad(
                tx.line,
                format!("transaction has no counterparty account ({which})"),
            );
            continue;
        };
        let amount = match (&tx.amount, &en.amount) {
            (Some(a), _) => a,
            (None, Some(a)) if !batch => a,
            _ => {
                ingest.bad(
                    tx.line,
                    "transaction of a batch entry has no amount of its own",
                );
                continue;
            }
        };
        let own_ref = [&tx.end_to_end, &tx.svcr_ref, &tx.tx_id]
            .into_iter()
            .flatten()
            .find(|r| !r.is_empty() && !r.eq_ignore_ascii_case("NOTPROVIDED"))
            .cloned();
        let tx_id = match own_ref {
            Some(r) => r,
            None => match en.svcr_ref.as_ref().or(en.entry_ref.as_ref()) {
                Some(r) if batch => format!("{r}#{}", k + 1),
                Some(r) => r.clone(),
                None => {
                    ingest.bad(
                        tx.line,
                        "transaction has no reference (EndToEndId, AcctSvcrRef, TxId, NtryRef)",
                    );
                    continue;
                }
            },
        };
        let (from, from_hint, to, to_hint) = if credit {
            (other.as_str(), *other_hint, own.as_str(), *own_hint)
        } else {
            (own.as_str(), *own_hint, other.as_str(), *other_hint)
        };
        let raw = RawTransfer {
            line: tx.line,
            tx_id: &tx_id,
            timestamp: when,
            from,
            from_hint,
            to,
            to_hint,
            amount: &amount.0,
            currency: Some(amount.1.as_deref().unwrap_or("")),
        };
        if let Some(t) = ingest.accept(raw)? {
            sink(t, ingest)?;
        }
    }
    Ok(())
}

/// Byte offsets to 1-based line numbers, counting forward (offsets only grow while reading).
#[derive(Debug, Default)]
struct LineCounter {
    pos: usize,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, data: &[u8], pos: u64) -> u64 {
        let pos = (pos as usize).min(data.len());
        if pos >= self.pos {
            self.line += data[self.pos..pos].iter().filter(|b| **b == b'\n').count() as u64;
            self.pos = pos;
        }
        self.line + 1
    }
}
