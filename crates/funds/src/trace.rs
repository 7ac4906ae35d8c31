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

use std::collections::{HashMap, VecDeque};

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

#[derive(Debug, Default)]
struct State {
    balance: Units,
    tainted: Units,
    received: Units,
    /// FIFO only; its sums are `balance` and `tainted`.
    lots: VecDeque<Lot>,
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

/// The fold. Feed transfers in order with [`Tracer::apply`], then [`Tracer::finish`].
#[derive(Debug)]
pub struct Tracer {
    policy: Policy,
    states: Vec<State>,
    totals: Totals,
    edges: Option<HashMap<(AccountId, AccountId), EdgeFlow>>,
}

impl Tracer {
    /// `record_edges` keeps the tainted flow per account pair (for `--graph`); memory grows with the number
    /// of pairs that carried taint, not with the number of transfers.
    pub fn new(policy: Policy, record_edges: bool) -> Self {
        Tracer {
            policy,
            states: Vec::new(),
            totals: Totals::default(),
            edges: record_edges.then(HashMap::new),
        }
    }

    /// Applies one transfer and returns the taint it carried.
    pub fn apply(&mut self, t: &Transfer, is_seed: bool) -> Result<Units, Error> {
        let needed = t.from.max(t.to) as usize + 1;
        if self.states.len() < needed {
            self.states.resize_with(needed, State::default);
        }
        let taken = self.debit(t.from, t.amount)?;
        let carried = if is_seed {
            self.totals.seed_transfers += 1;
            self.totals.seeded = add(self.totals.seeded, t.amount)?;
            self.totals.reabsorbed = add(self.totals.reabsorbed, taken)?;
            t.amount
        } else {
            taken
        };
        self.credit(t.to, t.amount, carried)?;
        self.totals.transfers += 1;
        if carried > 0
            && let Some(edges) = &mut self.edges
        {
            let e = edges.entry((t.from, t.to)).or_insert(EdgeFlow {
                from: t.from,
                to: t.to,
                ..EdgeFlow::default()
            });
            e.tainted = add(e.tainted, carried)?;
            e.amount = add(e.amount, t.amount)?;
            e.transfers += 1;
        }
        Ok(carried)
    }

    /// Takes `amount` out of `account` and returns the taint that went with it.
    fn debit(&mut self, account: AccountId, amount: Units) -> Result<Units, Error> {
        let s = &mut self.states[account as usize];
        let known = amount.min(s.balance);
        let taint = match self.policy {
            Policy::Haircut => {
                if s.balance == 0 {
                    0
                } else {
                    mul_div_floor(known, s.tainted, s.balance)?
                }
            }
            Policy::Fifo => {
                let mut remaining = known;
                let mut taint: Units = 0;
                while remaining > 0 {
                    let Some(front) = s.lots.front_mut() else {
                        return Err(Error::Arithmetic("fifo lots do not add up to the balance"));
                    };
                    if front.amount <= remaining {
                        remaining -= front.amount;
                        taint += front.taint;
                        s.lots.pop_front();
                    } else {
                        let share = mul_div_floor(remaining, front.taint, front.amount)?;
                        front.amount -= remaining;
                        front.taint -= share;
                        taint += share;
                        remaining = 0;
                    }
                }
                taint
            }
        };
        s.balance -= known;
        s.tainted -= taint;
        Ok(taint)
    }

    fn credit(&mut self, account: AccountId, amount: Units, taint: Units) -> Result<(), Error> {
        let s = &mut self.states[account as usize];
        s.balance = add(s.balance, amount)?;
        s.tainted = add(s.tainted, taint)?;
        s.received = add(s.received, taint)?;
        if self.policy == Policy::Fifo && amount > 0 {
            match s.lots.back_mut() {
                Some(back) if taint == 0 && back.taint == 0 => back.amount += amount,
                _ => s.lots.push_back(Lot { amount, taint }),
            }
        }
        Ok(())
    }

    /// The tainted balance of `account` now (zero for an account never seen).
    pub fn tainted_balance(&self, account: AccountId) -> Units {
        self.states.get(account as usize).map_or(0, |s| s.tainted)
    }

    pub fn finish(self) -> TraceResult {
        let mut totals = self.totals;
        let mut accounts = Vec::new();
        for (i, s) in self.states.iter().enumerate() {
            totals.tainted_balances = totals.tainted_balances.saturating_add(s.tainted);
            if s.received > 0 || s.tainted > 0 {
                accounts.push(AccountTaint {
                    account: i as AccountId,
                    tainted_received: s.received,
                    tainted_balance: s.tainted,
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
