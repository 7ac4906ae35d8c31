//! Haircut and FIFO on small cases computed by hand (issue 22's acceptance list).

use jikimi_funds::trace::Policy::{Fifo, Haircut};

use crate::support::check;

#[test]
fn clean_money_mixes_in_before_the_mule_pays_out() {
    // The victim pays 100 (seed); 300 clean arrives; the mule sends 200 on.
    let rows = [
        (1, "a", "victim", "mule", 100),
        (2, "b", "other", "mule", 300),
        (3, "c", "mule", "exch", 200),
    ];
    // Haircut: 200 * 100/400 = 50 leaves, 50 stays.
    check(
        Haircut,
        &rows,
        &["a"],
        &[("exch", 50, 50), ("mule", 100, 50)],
    );
    // FIFO: the oldest lot (the victim's 100) leaves first, then 100 of the clean lot.
    check(Fifo, &rows, &["a"], &[("exch", 100, 100), ("mule", 100, 0)]);
}

#[test]
fn overdraft_comes_from_unknown_untainted_funds() {
    // The mule sends 150 holding a known 100 (all tainted): 50 came from unknown funds; the balance drops to 0.
    let rows = [
        (1, "a", "victim", "mule", 100),
        (2, "b", "mule", "x", 150),
        (3, "c", "mule", "y", 30),
    ];
    for policy in [Haircut, Fifo] {
        check(policy, &rows, &["a"], &[("mule", 100, 0), ("x", 100, 100)]);
    }
    // Overdraft from a mixed balance: 50 clean + 100 tainted, 300 sent: all 100 taint leaves with it.
    let rows = [
        (0, "z", "other", "mule", 50),
        (1, "a", "victim", "mule", 100),
        (2, "b", "mule", "x", 300),
    ];
    for policy in [Haircut, Fifo] {
        check(policy, &rows, &["a"], &[("mule", 100, 0), ("x", 100, 100)]);
    }
}

#[test]
fn partly_used_lots_give_taint_pro_rata() {
    // Lots at the mule: (100 tainted 100), (100 clean). Sends 30, then 100, then 70.
    let rows = [
        (1, "a", "victim", "mule", 100),
        (2, "b", "other", "mule", 100),
        (3, "c", "mule", "x", 30),
        (4, "d", "mule", "y", 100),
        (5, "e", "mule", "z", 70),
    ];
    // FIFO: 30 of the first lot (30), its remaining 70 (70) plus 30 clean, then 70 clean.
    check(
        Fifo,
        &rows,
        &["a"],
        &[("mule", 100, 0), ("x", 30, 30), ("y", 70, 70)],
    );
    // Haircut: 30*100/200 = 15; then 100*85/170 = 50; then 70*35/70 = 35.
    check(
        Haircut,
        &rows,
        &["a"],
        &[
            ("mule", 100, 0),
            ("x", 15, 15),
            ("y", 50, 50),
            ("z", 35, 35),
        ],
    );
}

#[test]
fn pro_rata_shares_round_down_and_the_remainder_stays() {
    // In units: the mule forwards 3 of which 1 is tainted; the next account pays out 1, 1, 1.
    // FIFO at n: lot (3, 1): floor(1*1/3) = 0, then lot (2, 1): floor(1*1/2) = 0, then the whole lot (1, 1): 1.
    // Haircut at n: floor(1*1/3) = 0, floor(1*1/2) = 0, floor(1*1/1) = 1: the same here.
    let rows = [
        (1, "a", "victim", "mule", 1),
        (2, "b", "other", "mule", 2),
        (3, "c", "mule", "n", 3),
        (4, "d", "n", "p", 1),
        (5, "e", "n", "q", 1),
        (6, "f", "n", "r", 1),
    ];
    for policy in [Haircut, Fifo] {
        check(
            policy,
            &rows,
            &["a"],
            &[("mule", 1, 0), ("n", 1, 0), ("r", 1, 1)],
        );
    }
}

#[test]
fn same_timestamp_is_ordered_by_tx_id() {
    // Both at second 10: tx "a" (the seed) comes before tx "b", so the mule forwards tainted money.
    let rows = [
        (10, "b", "mule", "x", 100),
        (10, "a", "victim", "mule", 100),
    ];
    for policy in [Haircut, Fifo] {
        check(policy, &rows, &["a"], &[("mule", 100, 0), ("x", 100, 100)]);
    }
    // Swap the ids: the forward ("a") now comes first, from an empty account, and carries nothing.
    let rows = [
        (10, "a", "mule", "x", 100),
        (10, "b", "victim", "mule", 100),
    ];
    for policy in [Haircut, Fifo] {
        check(policy, &rows, &["b"], &[("mule", 100, 100)]);
    }
    // Ids compare as bytes, not numbers: "t10" < "t9".
    let rows = [
        (10, "t9", "mule", "x", 100),
        (10, "t10", "victim", "mule", 100),
    ];
    check(
        Haircut,
        &rows,
        &["t10"],
        &[("mule", 100, 0), ("x", 100, 100)],
    );
}

#[test]
fn a_seed_from_an_account_already_holding_taint() {
    // The mule holds 100 clean and 100 tainted, then a second seed leaves the mule: it carries its whole 100 as
    // taint, and the taint it takes from the mule is reabsorbed.
    let rows = [
        (0, "z", "other", "mule", 100),
        (1, "s1", "victim", "mule", 100),
        (2, "s2", "mule", "exch", 100),
    ];
    // Haircut: the seed takes 100*100/200 = 50 of the mule's taint; the mule keeps 50.
    check(
        Haircut,
        &rows,
        &["s1", "s2"],
        &[("exch", 100, 100), ("mule", 100, 50)],
    );
    // FIFO: the seed consumes the clean lot first; the mule keeps the whole tainted lot.
    check(
        Fifo,
        &rows,
        &["s1", "s2"],
        &[("exch", 100, 100), ("mule", 100, 100)],
    );

    let (result, _, _) = crate::support::run(Haircut, &rows, &["s1", "s2"], None);
    let t = result.totals;
    assert_eq!((t.seeded, t.reabsorbed, t.tainted_balances), (200, 50, 150));
    assert!(t.conserved());
}

#[test]
fn exact_duplicates_are_traced_once_and_counted() {
    let rows = [
        (1, "a", "victim", "mule", 100),
        (1, "a", "victim", "mule", 100),
        (2, "b", "mule", "x", 40),
    ];
    let (result, stats, accounts) = crate::support::run(Haircut, &rows, &["a", "never-seen"], None);
    assert_eq!(stats.duplicates, 1);
    assert_eq!(stats.seeds_found, 1);
    assert_eq!(stats.seeds_missing, vec!["never-seen".to_string()]);
    assert_eq!(
        crate::support::table(&result, &accounts),
        vec![("mule".to_string(), 100, 60), ("x".to_string(), 40, 40)]
    );
    // The flow graph aggregates per pair: victim->mule (seed) and mule->x.
    assert_eq!(result.edges.len(), 2);
}
