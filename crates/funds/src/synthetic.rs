//! A synthetic scam network for tests, the cross-check and the benchmark: victims pay first-layer mules (the
//! seeds), first-layer mules forward to second-layer mules, those cash out at exchanges and ATMs, and
//! background transfers between everyone (mules and cash-out points included) mix untainted money in.
//!
//! Deterministic for a given `seed`. Rows are written in generation order, not time order, so a consumer must
//! sort; timestamps are whole seconds over 30 days, so many transfers share a second and are ordered by tx id.
//! Accounts are written as canonical keys (`acct:NNNNNNNNNN`), amounts in USD with 2 decimals.

use std::io::Write;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// Sizes of the network.
#[derive(Debug, Clone)]
pub struct SyntheticParams {
    pub transfers: u64,
    pub accounts: u64,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyntheticSummary {
    pub transfers: u64,
    pub accounts: u64,
    pub victims: u64,
    pub mules_layer1: u64,
    pub mules_layer2: u64,
    pub cashout_points: u64,
    pub seed_transfers: u64,
}

const START_S: u64 = 1_700_000_000;
const DAY_S: u64 = 86_400;

fn account(i: u64) -> String {
    format!("acct:{:010}", 1_000_000_000 + i)
}

/// Writes the transfers CSV, the seeds list and the cash-out list.
pub fn generate(
    params: &SyntheticParams,
    transfers: &mut impl Write,
    seeds: &mut impl Write,
    cashout: &mut impl Write,
) -> std::io::Result<SyntheticSummary> {
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let m = params.accounts.max(100);
    let n = params.transfers.max(100);
    // Account index ranges: [cash-out points | layer-2 mules | layer-1 mules | victims | background].
    let cashouts = (m / 50_000).clamp(5, 50);
    let l2 = (m / 5_000).max(5);
    let l1 = (m / 1_000).max(10);
    let victims = (m / 100).max(20);
    let (c0, l2_0, l1_0, v0) = (0, cashouts, cashouts + l2, cashouts + l2 + l1);
    let bg0 = v0 + victims;
    let background = m - bg0;
    let n_seed = (n / 100).min(victims * 3).max(10);
    let n_l1 = n_seed;
    let n_l2 = n_seed / 2;
    let n_background = n - n_seed - n_l1 - n_l2;

    writeln!(cashout, "account,kind,name")?;
    for i in 0..cashouts {
        let kind = if i % 3 == 2 { "atm" } else { "exchange" };
        writeln!(cashout, "{},{kind},{kind}-{i}", account(c0 + i))?;
    }
    writeln!(
        transfers,
        "tx_id,timestamp,from_account,to_account,amount,currency"
    )?;
    let mut tx: u64 = 0;
    let mut row = |rng: &mut SmallRng,
                   out: &mut dyn Write,
                   from: u64,
                   to: u64,
                   days: (u64, u64),
                   cents: (u64, u64)|
     -> std::io::Result<String> {
        tx += 1;
        // Ids are scrambled against time (a multiplicative hash of the counter) so that id order is not
        // generation order.
        let id = format!("t{:016x}", tx.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let ts = START_S + rng.random_range(days.0 * DAY_S..days.1 * DAY_S);
        let amount = rng.random_range(cents.0..=cents.1);
        writeln!(
            out,
            "{id},{ts},{},{},{}.{:02},USD",
            account(from),
            account(to),
            amount / 100,
            amount % 100
        )?;
        Ok(id)
    };
    for _ in 0..n_seed {
        let from = v0 + rng.random_range(0..victims);
        let to = l1_0 + rng.random_range(0..l1);
        let id = row(&mut rng, transfers, from, to, (0, 20), (10_000, 500_000))?;
        writeln!(seeds, "{id}")?;
    }
    for _ in 0..n_l1 {
        let from = l1_0 + rng.random_range(0..l1);
        let to = l2_0 + rng.random_range(0..l2);
        row(&mut rng, transfers, from, to, (1, 25), (5_000, 400_000))?;
    }
    for _ in 0..n_l2 {
        let from = l2_0 + rng.random_range(0..l2);
        let to = c0 + rng.random_range(0..cashouts);
        row(&mut rng, transfers, from, to, (2, 30), (10_000, 800_000))?;
    }
    for _ in 0..n_background {
        // Mostly between bystanders; some touch mules and cash-out points, mixing untainted money in and
        // spreading taint out (an exchange paying out to its customers).
        let pick = |rng: &mut SmallRng| {
            if rng.random_bool(0.97) {
                bg0 + rng.random_range(0..background.max(1))
            } else {
                rng.random_range(0..bg0)
            }
        };
        let from = pick(&mut rng);
        let mut to = pick(&mut rng);
        if to == from {
            to = if from + 1 < m { from + 1 } else { bg0 };
        }
        row(&mut rng, transfers, from, to, (0, 30), (100, 100_000))?;
    }
    Ok(SyntheticSummary {
        transfers: n,
        accounts: m,
        victims,
        mules_layer1: l1,
        mules_layer2: l2,
        cashout_points: cashouts,
        seed_transfers: n_seed,
    })
}
