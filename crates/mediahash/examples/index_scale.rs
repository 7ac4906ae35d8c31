//! Single-thread cost of an exact radius-31 PDQ lookup at bank scale: `cargo run --release -p jikimi-mediahash
//! --example index_scale -- [N] [QUERIES]` builds a [`HammingIndex`] and a [`BankIndex`] over `N` uniform random
//! hashes (default 1,000,000) and times queries drawn like `jikimi bench identify`'s: half stored hashes with 0 to 8
//! bits flipped, half random. Prints build time, memory per hash and µs per query. The [`BankIndex`] is loaded in
//! pages of 10,000 as the server loads it at start, and timed with the tail that leaves and after merging it.
//!
//! Why an example and not a test: wall-clock timing belongs outside the test suite.

use jikimi_mediahash::Hash256;
use jikimi_mediahash::banks::{BankIndex, BankRule};
use jikimi_mediahash::index::HammingIndex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

fn random_hash(rng: &mut SmallRng) -> Hash256 {
    Hash256([rng.random(), rng.random(), rng.random(), rng.random()])
}

/// Resident set size in bytes (Linux), for a memory figure that includes what the index does not count.
fn rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time of this thread in seconds: the machine is shared (other builds run beside this), so wall-clock time
/// per query would count the time the scheduler gave to others.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    #[allow(unsafe_code)]
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Runs `f` and returns (wall, thread CPU) microseconds per query.
fn timed(queries: usize, f: impl FnOnce()) -> (f64, f64) {
    let (wall, cpu) = (Instant::now(), thread_cpu_seconds());
    f();
    let scale = 1e6 / queries.max(1) as f64;
    (
        wall.elapsed().as_secs_f64() * scale,
        (thread_cpu_seconds() - cpu) * scale,
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let queries: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let radius = 31;
    let mut rng = SmallRng::seed_from_u64(7);
    let hashes: Vec<Hash256> = (0..n).map(|_| random_hash(&mut rng)).collect();
    let qs: Vec<Hash256> = (0..queries)
        .map(|i| {
            if i % 2 == 0 && n > 0 {
                let mut h = hashes[rng.random_range(0..n)];
                for _ in 0..rng.random_range(0..=8u32) {
                    h.flip_bit(rng.random_range(0..256));
                }
                h
            } else {
                random_hash(&mut rng)
            }
        })
        .collect();

    let rss0 = rss_bytes().unwrap_or(0);
    let t = Instant::now();
    let index = HammingIndex::from_hashes(hashes.clone())?;
    let build = t.elapsed().as_secs_f64();
    let rss1 = rss_bytes().unwrap_or(0);
    let stats = index.bucket_stats();
    println!(
        "n {n}: build {build:.2} s, memory_bytes {:.1} B/hash, rss growth {:.1} B/hash, expected entries/query {:.0}",
        index.memory_bytes() as f64 / n.max(1) as f64,
        rss1.saturating_sub(rss0) as f64 / n.max(1) as f64,
        stats.expected_candidates_r31,
    );

    // Warm up (page faults, caches), then time.
    let mut out = Vec::new();
    let mut found = 0usize;
    for q in qs.iter().take(1000) {
        index.search_into(q, radius, &mut out);
    }
    let (wall, cpu) = timed(queries, || {
        for q in &qs {
            index.search_into(q, radius, &mut out);
            found += out.len();
        }
    });
    println!(
        "HammingIndex::search_into r{radius}: {cpu:.1} µs CPU/query ({wall:.1} µs wall, {found} hits)"
    );

    // A few linear-scan checks so a fast wrong answer cannot pass unnoticed.
    for q in qs.iter().take(20) {
        index.search_into(q, radius, &mut out);
        if out != index.linear_search(q, radius) {
            return Err("index and linear scan disagree".into());
        }
    }
    drop(index);

    let mut bank: BankIndex<u32, u64> = BankIndex::new();
    bank.set_bank(
        1,
        BankRule {
            distance: radius,
            negative: false,
            suppresses: Vec::new(),
            enabled: true,
        },
    );
    let items: Vec<(u32, u64, Hash256)> = hashes
        .iter()
        .enumerate()
        .map(|(i, &h)| (1, i as u64, h))
        .collect();
    drop(hashes);
    // Loaded as the server loads it at start: pages of 10,000 (`add_pdq_many` each), which leaves a tail.
    let t = Instant::now();
    for page in items.chunks(10_000) {
        bank.add_pdq_many(page)?;
    }
    let build = t.elapsed().as_secs_f64();
    drop(items);
    println!(
        "BankIndex: add_pdq_many in pages of 10,000 {build:.2} s, memory_bytes {:.1} B/hash, tail {} hashes",
        bank.memory_bytes() as f64 / n.max(1) as f64,
        bank.pdq_tail_len()
    );
    time_lookups(&bank, &qs, radius, "with the tail");
    let t = Instant::now();
    bank.merge_pdq_tail();
    println!(
        "BankIndex::merge_pdq_tail {:.2} s",
        t.elapsed().as_secs_f64()
    );
    time_lookups(&bank, &qs, radius, "tail merged");
    Ok(())
}

/// Times `BankIndex::lookup_pdq` over `qs` (after a warm-up) and prints µs per query.
fn time_lookups(bank: &BankIndex<u32, u64>, qs: &[Hash256], radius: u32, label: &str) {
    let mut matched = 0usize;
    for q in qs.iter().take(1000) {
        matched += bank.lookup_pdq(q).matches.len();
    }
    let (wall, cpu) = timed(qs.len(), || {
        for q in qs {
            matched += bank.lookup_pdq(q).matches.len();
        }
    });
    println!(
        "BankIndex::lookup_pdq r{radius}, {label}: {cpu:.1} µs CPU/query ({wall:.1} µs wall, {matched} matches)"
    );
}
