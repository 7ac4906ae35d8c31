//! Putting transfers in trace order, (timestamp, tx_id), within a memory budget: an external merge sort.
//!
//! Transfers are buffered until the buffer's estimated size reaches the budget; the buffer is then sorted and
//! written to an anonymous spill file (a *run*) in the spill directory. At the end, if nothing was spilled the
//! buffer is sorted in memory; otherwise the runs are merged with a k-way heap, reading each run sequentially
//! through a small buffer. Memory is the budget plus one transfer and one read buffer per run.
//!
//! Ties on (timestamp, tx_id) (several token transfers in one chain transaction) are broken by the canonical
//! sender key, recipient key and amount, so the order, and therefore the trace, does not depend on the order of
//! the input rows.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;

use crate::Error;
use crate::account::Accounts;
use crate::ingest::Transfer;

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

/// The trace order.
pub fn trace_order(a: &Transfer, b: &Transfer, accounts: &Accounts) -> Ordering {
    a.timestamp_ns
        .cmp(&b.timestamp_ns)
        .then_with(|| a.tx_id.as_bytes().cmp(b.tx_id.as_bytes()))
        .then_with(|| accounts.name(a.from).cmp(accounts.name(b.from)))
        .then_with(|| accounts.name(a.to).cmp(accounts.name(b.to)))
        .then_with(|| a.amount.cmp(&b.amount))
}

fn estimated_bytes(t: &Transfer) -> usize {
    // The struct, the tx id's heap block and the allocator's bookkeeping.
    std::mem::size_of::<Transfer>() + t.tx_id.len() + 16
}

/// The sorter: push transfers in any order, then [`Sorter::finish`].
#[derive(Debug)]
pub struct Sorter {
    options: SortOptions,
    buffer: Vec<Transfer>,
    buffer_bytes: usize,
    runs: Vec<File>,
}

impl Sorter {
    pub fn new(options: SortOptions) -> Self {
        Sorter {
            options,
            buffer: Vec::new(),
            buffer_bytes: 0,
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, t: Transfer, accounts: &Accounts) -> Result<(), Error> {
        self.buffer_bytes += estimated_bytes(&t);
        self.buffer.push(t);
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
        self.buffer
            .sort_unstable_by(|a, b| trace_order(a, b, accounts));
        let dir = self.spill_path();
        let file = match &self.options.spill_dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
        .map_err(|e| Error::io(&dir, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        for t in self.buffer.drain(..) {
            write_transfer(&mut w, &t).map_err(|e| Error::io(&dir, e))?;
        }
        let mut file = w
            .into_inner()
            .map_err(|e| Error::io(&dir, e.into_error()))?;
        file.rewind().map_err(|e| Error::io(&dir, e))?;
        self.runs.push(file);
        self.buffer_bytes = 0;
        self.buffer.shrink_to_fit();
        Ok(())
    }

    /// The transfers in trace order.
    pub fn finish(mut self, accounts: &Accounts) -> Result<Sorted<'_>, Error> {
        if self.runs.is_empty() {
            self.buffer
                .sort_unstable_by(|a, b| trace_order(a, b, accounts));
            return Ok(Sorted::Memory(self.buffer.into_iter()));
        }
        if !self.buffer.is_empty() {
            self.spill(accounts)?;
        }
        let dir = self.spill_path();
        let mut readers: Vec<BufReader<File>> = self
            .runs
            .into_iter()
            .map(|f| BufReader::with_capacity(1 << 20, f))
            .collect();
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (run, r) in readers.iter_mut().enumerate() {
            if let Some(t) = read_transfer(r).map_err(|e| Error::io(&dir, e))? {
                heap.push(Head { t, run, accounts });
            }
        }
        Ok(Sorted::Merge(Merger { readers, heap, dir }))
    }
}

/// The sorted stream.
#[derive(Debug)]
pub enum Sorted<'a> {
    Memory(std::vec::IntoIter<Transfer>),
    Merge(Merger<'a>),
}

impl Iterator for Sorted<'_> {
    type Item = Result<Transfer, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Sorted::Memory(it) => it.next().map(Ok),
            Sorted::Merge(m) => m.next(),
        }
    }
}

/// The k-way merge of spilled runs.
#[derive(Debug)]
pub struct Merger<'a> {
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Head<'a>>,
    dir: String,
}

impl Iterator for Merger<'_> {
    type Item = Result<Transfer, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        let Head { t, run, accounts } = self.heap.pop()?;
        match read_transfer(&mut self.readers[run]) {
            Ok(Some(next)) => self.heap.push(Head {
                t: next,
                run,
                accounts,
            }),
            Ok(None) => {}
            Err(e) => return Some(Err(Error::io(&self.dir, e))),
        }
        Some(Ok(t))
    }
}

#[derive(Debug)]
struct Head<'a> {
    t: Transfer,
    run: usize,
    accounts: &'a Accounts,
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head<'_> {}
impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head<'_> {
    // Reversed: BinaryHeap is a max-heap and the merge wants the smallest first.
    fn cmp(&self, other: &Self) -> Ordering {
        trace_order(&other.t, &self.t, self.accounts).then_with(|| other.run.cmp(&self.run))
    }
}

fn write_transfer(w: &mut impl Write, t: &Transfer) -> std::io::Result<()> {
    w.write_all(&t.timestamp_ns.to_le_bytes())?;
    w.write_all(&t.from.to_le_bytes())?;
    w.write_all(&t.to.to_le_bytes())?;
    w.write_all(&t.amount.to_le_bytes())?;
    let id = t.tx_id.as_bytes();
    let len =
        u32::try_from(id.len()).map_err(|_| std::io::Error::other("tx id longer than 4 GiB"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(id)
}

fn read_transfer(r: &mut impl Read) -> std::io::Result<Option<Transfer>> {
    let mut head = [0u8; 8 + 4 + 4 + 16 + 4];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..])?;
    let mut b8 = [0u8; 8];
    let mut b4 = [0u8; 4];
    let mut b16 = [0u8; 16];
    b8.copy_from_slice(&head[0..8]);
    let timestamp_ns = i64::from_le_bytes(b8);
    b4.copy_from_slice(&head[8..12]);
    let from = u32::from_le_bytes(b4);
    b4.copy_from_slice(&head[12..16]);
    let to = u32::from_le_bytes(b4);
    b16.copy_from_slice(&head[16..32]);
    let amount = u128::from_le_bytes(b16);
    b4.copy_from_slice(&head[32..36]);
    let len = u32::from_le_bytes(b4) as usize;
    let mut id = vec![0u8; len];
    r.read_exact(&mut id)?;
    let tx_id = String::from_utf8(id)
        .map_err(|_| std::io::Error::other("spill file corrupted (tx id is not utf-8)"))?
        .into_boxed_str();
    Ok(Some(Transfer {
        timestamp_ns,
        tx_id,
        from,
        to,
        amount,
    }))
}
