//! `jikimi trace funds` as a function: files in, files out, flags honoured.

use std::path::{Path, PathBuf};

use clap::Parser;
use jikimi_funds::Error;
use jikimi_funds::cli::{FundsArgs, FundsSummary, run_funds};
use jikimi_funds::synthetic::{SyntheticParams, generate};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    funds: FundsArgs,
}

pub fn trace(args: &[&str]) -> Result<FundsSummary, Error> {
    let mut argv = vec!["trace-funds"];
    argv.extend_from_slice(args);
    run_funds(&Cli::try_parse_from(argv).unwrap().funds)
}

/// Writes a synthetic network into `dir`: (transfers, seeds, cashout).
pub fn network(dir: &Path, transfers: u64, accounts: u64) -> (PathBuf, PathBuf, PathBuf) {
    let paths = (
        dir.join("transfers.csv"),
        dir.join("seeds.txt"),
        dir.join("cashout.csv"),
    );
    let mut t = std::fs::File::create(&paths.0).unwrap();
    let mut s = std::fs::File::create(&paths.1).unwrap();
    let mut c = std::fs::File::create(&paths.2).unwrap();
    let params = SyntheticParams {
        transfers,
        accounts,
        seed: 7,
    };
    generate(&params, &mut t, &mut s, &mut c).unwrap();
    paths
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_synthetic_network_end_to_end_with_graph_and_cashout() {
    let dir = tempfile::tempdir().unwrap();
    let (t, seeds, cashout) = network(dir.path(), 20_000, 3_000);
    let out = dir.path().join("taint.csv");
    let json = dir.path().join("graph.json");
    let graphml = dir.path().join("graph.graphml");
    for (policy, graph) in [("haircut", &json), ("fifo", &graphml)] {
        let summary = trace(&[
            "--transactions",
            s(&t),
            "--seeds",
            s(&seeds),
            "--policy",
            policy,
            "--out",
            s(&out),
            "--cashout",
            s(&cashout),
            "--graph",
            s(graph),
        ])
        .unwrap();
        assert!(summary.totals.conserved);
        assert_eq!(summary.import.bad_rows, 0);
        assert_eq!(summary.trace.seeds_missing, Vec::<String>::new());
        let cash = summary.cashout.unwrap();
        assert!(
            cash.points_reached > 0,
            "{policy}: taint reaches the cash-out points"
        );
        let held: Vec<f64> = summary
            .top_holders
            .iter()
            .map(|h| h.tainted_balance.parse().unwrap())
            .collect();
        assert_eq!(held.len(), 10, "{policy}: ten holders by default");
        assert!(held.windows(2).all(|w| w[0] >= w[1]), "{policy}: {held:?}");
        let table = std::fs::read_to_string(&out).unwrap();
        assert!(table.starts_with("account,tainted_received,tainted_balance\n"));
        assert_eq!(table.lines().count(), summary.accounts_with_taint + 1);
    }
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let roles: std::collections::BTreeSet<&str> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["cashout", "intermediary", "victim"].into_iter().collect()
    );
    assert!(
        g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tainted"].as_str().unwrap() != "0.00")
    );
    let xml = std::fs::read_to_string(&graphml).unwrap();
    assert!(xml.contains("<graphml") && xml.contains("<edge source=\"acct:"));
}

#[test]
fn bad_rows_stop_the_trace_unless_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.csv");
    std::fs::write(
        &t,
        "tx_id,timestamp,from_account,to_account,amount,currency\n\
         a,1,acct:1000001,acct:2000002,100,EUR\n\
         b,2,acct:2000002,acct:3000003,abc,EUR\n\
         c,3,acct:2000002,acct:3000003,60,EUR\n",
    )
    .unwrap();
    let seeds = dir.path().join("seeds.txt");
    std::fs::write(&seeds, "tx_id\na\n").unwrap();
    let out = dir.path().join("taint.csv");
    let bad = dir.path().join("bad.csv");
    let base = [
        "--transactions",
        s(&t),
        "--seeds",
        s(&seeds),
        "--policy",
        "haircut",
        "--out",
        s(&out),
    ];
    match trace(&base) {
        Err(Error::BadRows {
            count,
            first_line,
            first_reason,
        }) => {
            assert_eq!((count, first_line), (1, 3));
            assert!(
                first_reason.contains("not a decimal number"),
                "{first_reason}"
            );
        }
        other => panic!("expected bad rows, got {other:?}"),
    }
    assert!(!out.exists(), "nothing is written when the trace stops");
    let mut lenient = base.to_vec();
    lenient.extend(["--skip-bad-rows", "--bad-rows", s(&bad)]);
    let summary = trace(&lenient).unwrap();
    assert_eq!((summary.import.bad_rows, summary.totals.transfers), (1, 2));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "account,tainted_received,tainted_balance\nacct:2000002,100.00,40.00\nacct:3000003,60.00,60.00\n"
    );
    // Where the money sits: the largest holders first, each with what it received.
    let holders: Vec<(&str, &str, &str)> = summary
        .top_holders
        .iter()
        .map(|h| {
            (
                h.account.as_str(),
                h.tainted_balance.as_str(),
                h.tainted_received.as_str(),
            )
        })
        .collect();
    assert_eq!(
        holders,
        [
            ("acct:3000003", "60.00", "60.00"),
            ("acct:2000002", "40.00", "100.00")
        ]
    );
    lenient.extend(["--top", "1"]);
    assert_eq!(trace(&lenient).unwrap().top_holders.len(), 1);
    let bad_csv = std::fs::read_to_string(&bad).unwrap();
    assert!(
        bad_csv.starts_with("source,line,reason\n")
            && bad_csv.contains(",3,\"amount is not a decimal number"),
        "{bad_csv}"
    );
}

#[test]
fn a_small_memory_budget_spills_runs_and_gives_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    // 50,000 transfers are about 3.5 MB of sort records: three runs spill at 1 MiB, the rest merges from memory.
    let (t, seeds, _) = network(dir.path(), 50_000, 2_000);
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    for policy in ["haircut", "fifo"] {
        let in_memory = trace(&[
            "--transactions",
            s(&t),
            "--seeds",
            s(&seeds),
            "--policy",
            policy,
            "--out",
            s(&a),
        ])
        .unwrap();
        let spilled = trace(&[
            "--transactions",
            s(&t),
            "--seeds",
            s(&seeds),
            "--policy",
            policy,
            "--out",
            s(&b),
            "--memory-mb",
            "1",
            "--spill-dir",
            s(dir.path()),
        ])
        .unwrap();
        assert_eq!(in_memory.spilled_runs, 0);
        assert!(spilled.spilled_runs >= 2, "{}", spilled.spilled_runs);
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{policy}"
        );
    }
}

#[test]
fn camt053_statements_trace_from_the_command_line() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let dir = tempfile::tempdir().unwrap();
    let seeds = dir.path().join("seeds.txt");
    std::fs::write(&seeds, "E2E-VICTIM-1\n").unwrap();
    let out = dir.path().join("taint.csv");
    let v02 = format!("{data}/camt053-v02.xml");
    let v08 = format!("{data}/camt053-v08.xml");
    let summary = trace(&[
        "--transactions",
        &v02,
        "--transactions",
        &v08,
        "--seeds",
        s(&seeds),
        "--policy",
        "fifo",
        "--out",
        s(&out),
        "--skip-bad-rows",
    ])
    .unwrap();
    assert_eq!((summary.import.transfers, summary.import.bad_rows), (5, 4));
    // The victim's 1500 reaches the mule; 900 goes on to the domestic account, which sends 400 to CH (FIFO).
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "account,tainted_received,tainted_balance\n\
         acct:110234567890,900.00,500.00\n\
         iban:BE68539007547034,350.00,350.00\n\
         iban:CH9300762011623852957,400.00,400.00\n\
         iban:DE89370400440532013000,1500.00,0.00\n\
         iban:NL91ABNA0417164300,250.00,250.00\n"
    );
}
