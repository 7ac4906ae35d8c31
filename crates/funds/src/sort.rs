//! Putting transfers in trace order, (timestamp, tx_id), within a memory budget: an external merge sort.
//!
//! Transfers are buffered as fixed-size records, their tx ids side by side in one text buffer, until the
//! buffer's size reaches the budget; the buffer is then sorted and written to an anonymous spill file (a *run*)
//! in the spill directory, and refilled. At the end the last buffer is sorted in memory and merged with the
//! spilled runs, each read sequentially through a small buffer. Memory is the budget plus one read buffer per
//! run.
//!
//! Ties on (timestamp, tx_id) (several token transfers in one chain transaction) are broken by the canonical
//! sender key, recipient key and amount, so the order, and therefore the trace, does not depend on the order of
//! the input rows.
//!
//! Why records and a quick key: comparing tx ids as strings dominated the sort when each transfer owned its tx
//! id on the heap (a cache miss per comparison). A record carries its tx id's first eight bytes as a big-endian
//! integer, so almost every comparison is two integer comparisons inside the record; the text is read only
//! when timestamps and those bytes are equal. The stream hands out borrowed [`TransferRef`]s, so nothing is
//! allocated per transfer on the way to the tracer either.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;

use crate::Error;
use crate::account::{AccountId, Accounts};
use crate::amount::Units;
use crate::ingest::TransferRef;

/// Where and how much.
#[derive(Debug, Clone)]
pub struct SortOptions {
    /// Estimated bytes of buffered transfers before a run is spilled.
    pub memory_budget_bytes: usize,
    /// Directory for spill files (default: the system's temporary directory). Files are anonymous and vanish
    /// when closed, even on a crash.
    pub spill_dir: Option<PathBuf>,
}

impl Default for SortOptions {
    fn default() -> Self {
        SortOptions {
            memory_budget_bytes: 512 << 20,
            spill_dir: None,
        }
    }
}

/// The trace order: timestamp, then tx id (bytewise), then sender key, recipient key and amount.
pub fn trace_order(a: &TransferRef<'_>, b: &TransferRef<'_>, accounts: &Accounts) -> Ordering {
    a.timestamp_ns
        .cmp(&b.timestamp_ns)
        .then_with(|| a.tx_id.as_bytes().cmp(b.tx_id.as_bytes()))
        .then_with(|| tie_order(a.from, a.to, a.amount, b.from, b.to, b.amount, accounts))
}

fn tie_order(
    a_from: AccountId,
    a_to: AccountId,
    a_amount: Units,
    b_from: AccountId,
    b_to: AccountId,
    b_amount: Units,
    accounts: &Accounts,
) -> Ordering {
    let names = |x: AccountId, y: AccountId| {
        if x == y {
            Ordering::Equal
        } else {
            accounts.name(x).cmp(accounts.name(y))
        }
    };
    names(a_from, b_from)
        .then_with(|| names(a_to, b_to))
        .then_with(|| a_amount.cmp(&b_amount))
}

/// The first eight bytes of a tx id as a big-endian integer, zero-padded: for two ids whose prefixes differ,
/// the prefixes compare as the ids do (a shorter id that is a prefix of the other pads with zeros, which sort
/// first); equal prefixes say nothing, and the ids themselves are compared.
fn tx_prefix(tx: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = tx.len().min(8);
    b[..n].copy_from_slice(&tx[..n]);
    u64::from_be_bytes(b)
}

/// One buffered transfer; its tx id is at `tx_start` in the run's text, after its length (4 bytes, LE).
#[derive(Debug, Clone, Copy)]
struct Record {
    timestamp_ns: i64,
    tx_prefix: u64,
    tx_start: u64,
    amount: Units,
    from: AccountId,
    to: AccountId,
}

impl Record {
    fn quick_key(&self) -> (i64, u64) {
        (self.timestamp_ns, self.tx_prefix)
    }
}

fn tx_at(text: &[u8], start: u64) -> &[u8] {
    let s = start as usize;
    let mut len = [0u8; 4];
    len.copy_from_slice(&text[s..s + 4]);
    &text[s + 4..s + 4 + u32::from_le_bytes(len) as usize]
}

/// A run in memory: records and the text of their tx ids.
#[derive(Debug, Default)]
struct MemoryRun {
    records: Vec<Record>,
    text: Vec<u8>,
}

impl MemoryRun {
    fn sort(&mut self, accounts: &Accounts) {
        let text = &self.text;
        self.records.sort_unstable_by(|a, b| {
            a.quick_key()
                .cmp(&b.quick_key())
                .then_with(|| tx_at(text, a.tx_start).cmp(tx_at(text, b.tx_start)))
                .then_with(|| tie_order(a.from, a.to, a.amount, b.from, b.to, b.amount, accounts))
        });
    }
}

/// The sorter: push transfers in any order, then [`Sorter::finish`].
#[derive(Debug)]
pub struct Sorter {
    options: SortOptions,
    buffer: MemoryRun,
    buffer_bytes: usize,
    runs: Vec<File>,
}

impl Sorter {
    pub fn new(options: SortOptions) -> Self {
        Sorter {
            options,
            buffer: MemoryRun::default(),
            buffer_bytes: 0,
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, t: TransferRef<'_>, accounts: &Accounts) -> Result<(), Error> {
        let tx = t.tx_id.as_bytes();
        let len = u32::try_from(tx.len())
            .map_err(|_| Error::Invalid("a tx id is longer than 4 GiB".into()))?;
        let tx_start = self.buffer.text.len() as u64;
        self.buffer.text.extend_from_slice(&len.to_le_bytes());
        self.buffer.text.extend_from_slice(tx);
        self.buffer.records.push(Record {
            timestamp_ns: t.timestamp_ns,
            tx_prefix: tx_prefix(tx),
            tx_start,
            amount: t.amount,
            from: t.from,
            to: t.to,
        });
        self.buffer_bytes += std::mem::size_of::<Record>() + 4 + tx.len();
        if self.buffer_bytes >= self.options.memory_budget_bytes {
            self.spill(accounts)?;
        }
        Ok(())
    }

    /// How many runs have been spilled so far.
    pub fn spilled_runs(&self) -> usize {
        self.runs.len()
    }

    fn spill_path(&self) -> String {
        self.options
            .spill_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .display()
            .to_string()
    }

    fn spill(&mut self, accounts: &Accounts) -> Result<(), Error> {
        self.buffer.sort(accounts);
        let dir = self.spill_path();
        let file = match &self.options.spill_dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
        .map_err(|e| Error::io(&dir, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let text = &self.buffer.text;
        for r in &self.buffer.records {
            write_record(&mut w, r, tx_at(text, r.tx_start)).map_err(|e| Error::io(&dir, e))?;
        }
        let mut file = w
            .into_inner()
            .map_err(|e| Error::io(&dir, e.into_error()))?;
        file.rewind().map_err(|e| Error::io(&dir, e))?;
        self.runs.push(file);
        // The buffer keeps its capacity: it fills to the same size again, and its pages stay mapped.
        self.buffer.records.clear();
        self.buffer.text.clear();
        self.buffer_bytes = 0;
        Ok(())
    }

    /// The transfers in trace order.
    pub fn finish(mut self, accounts: &Accounts) -> Result<Sorted<'_>, Error> {
        let dir = self.spill_path();
        if !self.runs.is_empty() {
            // The buffer kept the capacity of a full run; the merge needs only what the last run holds.
            self.buffer.records.shrink_to_fit();
            self.buffer.text.shrink_to_fit();
        }
        self.buffer.sort(accounts);
        let mut sources: Vec<Source> = Vec::with_capacity(self.runs.len() + 1);
        for file in self.runs {
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut head = DiskHead::default();
            if read_record(&mut reader, &mut head).map_err(|e| Error::io(&dir, e))? {
                sources.push(Source::Disk { reader, head });
            }
        }
        if !self.buffer.records.is_empty() {
            sources.push(Source::Memory {
                run: self.buffer,
                pos: 0,
            });
        }
        let heap = sources
            .iter()
            .enumerate()
            .map(|(i, s)| Reverse((s.quick_key(), i)))
            .collect();
        Ok(Sorted {
            accounts,
            sources,
            heap,
            tied: Vec::new(),
            last: None,
            dir,
        })
    }
}

/// The head of a spilled run: its next record, read into reused buffers.
#[derive(Debug, Default)]
struct DiskHead {
    timestamp_ns: i64,
    tx_prefix: u64,
    amount: Units,
    from: AccountId,
    to: AccountId,
    tx: Vec<u8>,
}

/// One sorted run being merged, positioned on its next transfer.
#[derive(Debug)]
enum Source {
    Disk {
        reader: BufReader<File>,
        head: DiskHead,
    },
    Memory {
        run: MemoryRun,
        pos: usize,
    },
}

/// A transfer at the head of a source, its tx id still as bytes.
struct Head<'a> {
    timestamp_ns: i64,
    tx: &'a [u8],
    from: AccountId,
    to: AccountId,
    amount: Units,
}

impl Source {
    fn quick_key(&self) -> (i64, u64) {
        match self {
            Source::Disk { head, .. } => (head.timestamp_ns, head.tx_prefix),
            Source::Memory { run, pos } => run.records[*pos].quick_key(),
        }
    }

    fn head(&self) -> Head<'_> {
        match self {
            Source::Disk { head, .. } => Head {
                timestamp_ns: head.timestamp_ns,
                tx: &head.tx,
                from: head.from,
                to: head.to,
                amount: head.amount,
            },
            Source::Memory { run, pos } => {
                let r = &run.records[*pos];
                Head {
                    timestamp_ns: r.timestamp_ns,
                    tx: tx_at(&run.text, r.tx_start),
                    from: r.from,
                    to: r.to,
                    amount: r.amount,
                }
            }
        }
    }

    /// Moves to the next transfer; `false` when the run is exhausted.
    fn advance(&mut self) -> std::io::Result<bool> {
        match self {
            Source::Disk { reader, head } => read_record(reader, head),
            Source::Memory { run, pos } => {
                *pos += 1;
                Ok(*pos < run.records.len())
            }
        }
    }
}

/// The sorted stream: [`Sorted::next_transfer`] lends each transfer in turn.
#[derive(Debug)]
pub struct Sorted<'a> {
    accounts: &'a Accounts,
    sources: Vec<Source>,
    /// Sources by quick key; sources whose quick keys are equal are ordered by the full order when popped.
    heap: BinaryHeap<Reverse<((i64, u64), usize)>>,
    tied: Vec<usize>,
    /// The source whose head was lent last: it advances on the next call.
    last: Option<usize>,
    dir: String,
}

impl Sorted<'_> {
    /// The next transfer in trace order, `None` at the end.
    pub fn next_transfer(&mut self) -> Option<Result<TransferRef<'_>, Error>> {
        if let Some(i) = self.last.take() {
            match self.sources[i].advance() {
                Ok(true) => self.heap.push(Reverse((self.sources[i].quick_key(), i))),
                Ok(false) => {}
                Err(e) => return Some(Err(Error::io(&self.dir, e))),
            }
        }
        let Reverse((key, mut best)) = self.heap.pop()?;
        while let Some(&Reverse((other_key, other))) = self.heap.peek() {
            if other_key != key {
                break;
            }
            self.heap.pop();
            let (a, b) = (self.sources[other].head(), self.sources[best].head());
            let order = a.tx.cmp(b.tx).then_with(|| {
                tie_order(
                    a.from,
                    a.to,
                    a.amount,
                    b.from,
                    b.to,
                    b.amount,
                    self.accounts,
                )
            });
            if order == Ordering::Less {
                self.tied.push(best);
                best = other;
            } else {
                self.tied.push(other);
            }
        }
        for i in self.tied.drain(..) {
            self.heap.push(Reverse((key, i)));
        }
        self.last = Some(best);
        let h = self.sources[best].head();
        Some(match std::str::from_utf8(h.tx) {
            Ok(tx_id) => Ok(TransferRef {
                timestamp_ns: h.timestamp_ns,
                tx_id,
                from: h.from,
                to: h.to,
                amount: h.amount,
            }),
            Err(_) => Err(Error::io(
                &self.dir,
                std::io::Error::other("spill file corrupted (tx id is not utf-8)"),
            )),
        })
    }
}

const HEADER_BYTES: usize = 8 + 4 + 4 + 16 + 4;

fn write_record(w: &mut impl Write, r: &Record, tx: &[u8]) -> std::io::Result<()> {
    let mut h = [0u8; HEADER_BYTES];
    h[0..8].copy_from_slice(&r.timestamp_ns.to_le_bytes());
    h[8..12].copy_from_slice(&r.from.to_le_bytes());
    h[12..16].copy_from_slice(&r.to.to_le_bytes());
    h[16..32].copy_from_slice(&r.amount.to_le_bytes());
    // The length fits: `push` refused longer tx ids.
    h[32..36].copy_from_slice(&(tx.len() as u32).to_le_bytes());
    w.write_all(&h)?;
    w.write_all(tx)
}

/// Reads the next record into `head`; `false` at the end of the run.
fn read_record(r: &mut BufReader<File>, head: &mut DiskHead) -> std::io::Result<bool> {
    if r.fill_buf()?.is_empty() {
        return Ok(false);
    }
    let mut h = [0u8; HEADER_BYTES];
    r.read_exact(&mut h)?;
    let field = |range: std::ops::Range<usize>| &h[range];
    let mut b8 = [0u8; 8];
    let mut b4 = [0u8; 4];
    let mut b16 = [0u8; 16];
    b8.copy_from_slice(field(0..8));
    head.timestamp_ns = i64::from_le_bytes(b8);
    b4.copy_from_slice(field(8..12));
    head.from = u32::from_le_bytes(b4);
    b4.copy_from_slice(field(12..16));
    head.to = u32::from_le_bytes(b4);
    b16.copy_from_slice(field(16..32));
    head.amount = u128::from_le_bytes(b16);
    b4.copy_from_slice(field(32..36));
    let len = u32::from_le_bytes(b4) as usize;
    head.tx.resize(len, 0);
    r.read_exact(&mut head.tx)?;
    head.tx_prefix = tx_prefix(&head.tx);
    Ok(true)
}
