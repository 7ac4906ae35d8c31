//! The taint engine: a fold over transfers in (timestamp, tx_id) order. No I/O, no clock, no threads.
//!
//! The rules (issue 22), with this crate's one rounding rule:
//!
//! - Every account starts with zero known balance. Money sent beyond an account's known balance comes from
//!   unknown, untainted funds and the known balance drops to zero.
//! - A seed transfer carries its whole amount as taint; it reduces its sender's balances like any transfer
//!   (the taint it takes from the sender is *reabsorbed*: the seed's full amount replaces it).
//! - [`Policy::Haircut`]: sending `A` from known balance `B` with tainted balance `Bt` carries
//!   `floor(min(A, B) * Bt / B)` of taint.
//! - [`Policy::Fifo`]: incoming transfers form lots `(amount, taint)` in arrival order; sending consumes the
//!   oldest lots first; a lot used up entirely gives all its taint, a partly used lot gives
//!   `floor(used * lot_taint / lot_amount)`; beyond the lots the money is untainted.
//!
//! Rounding: every pro-rata share is rounded down to the currency's unit, and the remainder stays with the
//! sender, so taint is conserved exactly: the sum of tainted balances always equals taint seeded minus taint
//! reabsorbed ([`Totals::conserved`]). Adjacent untainted FIFO lots are merged (consuming them gives no taint
//! however they are split), so an account holds one lot per tainted arrival plus at most one per run of
//! untainted ones.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::Error;
use crate::account::AccountId;
use crate::amount::{Units, mul_div_floor};
use crate::ingest::Transfer;

/// How taint is divided when an account sends part of what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Pro rata over the whole known balance.
    Haircut,
    /// Oldest money first.
    Fifo,
}

#[derive(Debug, Clone, Copy)]
struct Lot {
    amount: Units,
    taint: Units,
}

/// An account's known and tainted balance: the part of its state every transfer touches, kept small so that
/// two accounts share a cache line (a trace over a million accounts is bound by memory accesses).
#[derive(Debug, Clone, Copy, Default)]
struct Balance {
    known: Units,
    tainted: Units,
}

/// Taint that moved between two accounts, summed over their transfers that carried any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct EdgeFlow {
    pub from: AccountId,
    pub to: AccountId,
    pub tainted: Units,
    /// The full amount of those transfers (tainted or not).
    pub amount: Units,
    pub transfers: u64,
}

/// One account's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AccountTaint {
    pub account: AccountId,
    pub tainted_received: Units,
    pub tainted_balance: Units,
}

/// Whole-run sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Totals {
    pub transfers: u64,
    pub seed_transfers: u64,
    /// Sum of the seed transfers' amounts.
    pub seeded: Units,
    /// Taint that seed transfers took from senders already holding some.
    pub reabsorbed: Units,
    /// Sum of the tainted balances at the end.
    pub tainted_balances: Units,
}

impl Totals {
    /// The conservation law: no taint appears or vanishes except at seeds.
    pub fn conserved(&self) -> bool {
        self.tainted_balances
            .checked_add(self.reabsorbed)
            .is_some_and(|s| s == self.seeded)
    }
}

/// The result of a trace: accounts that received or hold taint (by id), the tainted edges if recorded, totals.
#[derive(Debug, Clone)]
pub struct TraceResult {
    pub policy: Policy,
    pub accounts: Vec<AccountTaint>,
    pub edges: Vec<EdgeFlow>,
    pub totals: Totals,
}

/// One transfer as [`Tracer::step_batch`] takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Units,
    pub is_seed: bool,
}

/// The fold. Feed transfers in order with [`Tracer::apply`] (or [`Tracer::step`]), then [`Tracer::finish`].
///
/// FIFO lots are stored only for accounts that hold taint. An account without taint holds untainted lots
/// only, and adjacent untainted lots are merged, so its lots are exactly one lot of its whole known balance
/// (or none): that needs no storage, and most accounts in a large trace never hold taint.
#[derive(Debug)]
pub struct Tracer {
    policy: Policy,
    balances: Vec<Balance>,
    /// Tainted amount received per account (changed only by transfers that carry taint).
    received: Vec<Units>,
    /// FIFO only: each account's lots while it holds taint (empty otherwise); their sums are its balances.
    lots: Vec<VecDeque<Lot>>,
    totals: Totals,
    edges: Option<FxHashMap<(AccountId, AccountId), EdgeFlow>>,
}

impl Tracer {
    /// `record_edges` keeps the tainted flow per account pair (for `--graph`); memory grows with the number
    /// of pairs that carried taint, not with the number of transfers.
    pub fn new(policy: Policy, record_edges: bool) -> Self {
        Tracer {
            policy,
            balances: Vec::new(),
            received: Vec::new(),
            lots: Vec::new(),
            totals: Totals::default(),
            edges: record_edges.then(FxHashMap::default),
        }
    }

    /// Applies one transfer and returns the taint it carried.
    pub fn apply(&mut self, t: &Transfer, is_seed: bool) -> Result<Units, Error> {
        self.step(t.from, t.to, t.amount, is_seed)
    }

    /// Applies the transfer of `amount` from `from` to `to` and returns the taint it carried.
    pub fn step(
        &mut self,
        from: AccountId,
        to: AccountId,
        amount: Units,
        is_seed: bool,
    ) -> Result<Units, Error> {
        let needed = from.max(to) as usize + 1;
        if self.balances.len() < needed {
            self.grow(needed);
        }
        let taken = self.debit(from, amount)?;
        let carried = if is_seed {
            self.totals.seed_transfers += 1;
            self.totals.seeded = add(self.totals.seeded, amount)?;
            self.totals.reabsorbed = add(self.totals.reabsorbed, taken)?;
            amount
        } else {
            taken
        };
        self.credit(to, amount, carried)?;
        self.totals.transfers += 1;
        if carried > 0
            && let Some(edges) = &mut self.edges
        {
            let e = edges.entry((from, to)).or_insert(EdgeFlow {
                from,
                to,
                ..EdgeFlow::default()
            });
            e.tainted = add(e.tainted, carried)?;
            e.amount = add(e.amount, amount)?;
            e.transfers += 1;
        }
        Ok(carried)
    }

    /// Applies transfers in order, as [`Tracer::step`] would one by one.
    ///
    /// Faster on many accounts: each transfer's two balances are read first for the whole batch, so that the
    /// processor fetches them from memory in parallel (a million accounts' balances do not fit the cache,
    /// and the fold itself must wait for each read in turn).
    pub fn step_batch(&mut self, batch: &[Step]) -> Result<(), Error> {
        let mut touched: Units = 0;
        for s in batch {
            let needed = s.from.max(s.to) as usize + 1;
            if self.balances.len() < needed {
                self.grow(needed);
            }
            touched ^= self.balances[s.from as usize].known ^ self.balances[s.to as usize].known;
        }
        std::hint::black_box(touched);
        for s in batch {
            self.step(s.from, s.to, s.amount, s.is_seed)?;
        }
        Ok(())
    }

    #[cold]
    fn grow(&mut self, needed: usize) {
        // Doubling, so that ids arriving in increasing order do not resize once per new account.
        let len = needed.max(self.balances.len() * 2).max(1024);
        self.balances.resize(len, Balance::default());
        self.received.resize(len, 0);
        if self.policy == Policy::Fifo {
            self.lots.resize_with(len, VecDeque::new);
        }
    }

    /// Takes `amount` out of `account` and returns the taint that went with it.
    fn debit(&mut self, account: AccountId, amount: Units) -> Result<Units, Error> {
        let b = &mut self.balances[account as usize];
        let known = amount.min(b.known);
        if b.tainted == 0 {
            // Untainted money only (for FIFO: one implicit untainted lot): nothing to divide.
            b.known -= known;
            return Ok(0);
        }
        let taint = match self.policy {
            Policy::Haircut => {
                if known == b.known {
                    b.tainted
                } else {
                    mul_div_floor(known, b.tainted, b.known)?
                }
            }
            Policy::Fifo => {
                let lots = &mut self.lots[account as usize];
                let mut remaining = known;
                let mut taint: Units = 0;
                while remaining > 0 {
                    let Some(front) = lots.front_mut() else {
                        return Err(Error::Arithmetic("fifo lots do not add up to the balance"));
                    };
                    if front.amount <= remaining {
                        remaining -= front.amount;
                        taint += front.taint;
                        lots.pop_front();
                    } else {
                        let share = if front.taint == 0 {
                            0
                        } else {
                            mul_div_floor(remaining, front.taint, front.amount)?
                        };
                        front.amount -= remaining;
                        front.taint -= share;
                        taint += share;
                        remaining = 0;
                    }
                }
                if taint == b.tainted {
                    // What is left is untainted: back to the implicit single lot.
                    lots.clear();
                }
                taint
            }
        };
        b.known -= known;
        b.tainted -= taint;
        Ok(taint)
    }

    fn credit(&mut self, account: AccountId, amount: Units, taint: Units) -> Result<(), Error> {
        let i = account as usize;
        let b = &mut self.balances[i];
        if self.policy == Policy::Fifo && amount > 0 && (taint > 0 || b.tainted > 0) {
            let lots = &mut self.lots[i];
            if b.tainted == 0 && b.known > 0 {
                // The implicit untainted lot becomes explicit ahead of the first tainted one.
                lots.push_back(Lot {
                    amount: b.known,
                    taint: 0,
                });
            }
            match lots.back_mut() {
                Some(back) if taint == 0 && back.taint == 0 => back.amount += amount,
                _ => lots.push_back(Lot { amount, taint }),
            }
        }
        b.known = add(b.known, amount)?;
        if taint > 0 {
            b.tainted = add(b.tainted, taint)?;
            self.received[i] = add(self.received[i], taint)?;
        }
        Ok(())
    }

    /// The tainted balance of `account` now (zero for an account never seen).
    pub fn tainted_balance(&self, account: AccountId) -> Units {
        self.balances.get(account as usize).map_or(0, |b| b.tainted)
    }

    pub fn finish(self) -> TraceResult {
        let mut totals = self.totals;
        let mut accounts = Vec::new();
        for (i, (b, &received)) in self.balances.iter().zip(&self.received).enumerate() {
            totals.tainted_balances = totals.tainted_balances.saturating_add(b.tainted);
            if received > 0 || b.tainted > 0 {
                accounts.push(AccountTaint {
                    account: i as AccountId,
                    tainted_received: received,
                    tainted_balance: b.tainted,
                });
            }
        }
        let mut edges: Vec<EdgeFlow> = self
            .edges
            .map(|m| m.into_values().collect())
            .unwrap_or_default();
        edges.sort_by_key(|e| (e.from, e.to));
        TraceResult {
            policy: self.policy,
            accounts,
            edges,
            totals,
        }
    }
}

fn add(a: Units, b: Units) -> Result<Units, Error> {
    a.checked_add(b)
        .ok_or(Error::Arithmetic("a balance exceeds 128 bits"))
}
