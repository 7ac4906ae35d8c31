//! Cross-check against `benches/taint_check.py`, an independent implementation of the same rules: on a
//! generated network (victims, two mule layers, cash-out points, background), both policies give byte-identical
//! tables. Needs `python3` (3.8 or later, standard library only).

use std::path::Path;

use crate::cli::{network, trace};

fn python(script_args: &[&Path], policy: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/taint_check.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg("--transactions")
        .arg(script_args[0])
        .arg("--seeds")
        .arg(script_args[1])
        .args(["--policy", policy, "--decimals", "2", "--out"])
        .arg(script_args[2])
        .output()
        .expect("python3 is needed for the cross-check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(script_args[2]).unwrap()
}

#[test]
fn both_policies_agree_with_the_independent_python_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let (t, seeds, _) = network(dir.path(), 60_000, 5_000);
    let rust_out = dir.path().join("rust.csv");
    let py_out = dir.path().join("python.csv");
    for policy in ["haircut", "fifo"] {
        let summary = trace(&[
            "--transactions",
            t.to_str().unwrap(),
            "--seeds",
            seeds.to_str().unwrap(),
            "--policy",
            policy,
            "--out",
            rust_out.to_str().unwrap(),
        ])
        .unwrap();
        assert!(
            summary.accounts_with_taint > 100,
            "{policy}: the network spreads taint widely"
        );
        let ours = std::fs::read_to_string(&rust_out).unwrap();
        let theirs = python(&[&t, &seeds, &py_out], policy);
        assert_eq!(ours.lines().count(), theirs.lines().count(), "{policy}");
        for (a, b) in ours.lines().zip(theirs.lines()) {
            assert_eq!(a, b, "{policy}");
        }
    }
}
