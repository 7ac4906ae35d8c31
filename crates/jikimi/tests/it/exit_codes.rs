//! The documented exit codes of `jikimi` (README "Exit codes"): 0 ok, 2 usage, 3 audit chain broken, 4 a match
//! where a match is the signal (`border check`, `pdq match`, `identify triage`), 5 a command not in this build (vPDQ without
//! `video`); and `jikimi bench --help` lists every benchmark.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::process::Site;

/// Runs the binary with `args`; returns its exit code and stdout + stderr.
fn jikimi(command: &mut Command) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run jikimi");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code().expect("exit code, not a signal"), text)
}

fn bare(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jikimi"));
    command.args(args).env("RUST_LOG", "warn");
    command
}

fn shared_dir() -> PathBuf {
    std::env::var_os("JIKIMI_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

#[test]
fn a_wrong_command_line_exits_2_and_help_exits_0() {
    let (code, text) = jikimi(&mut bare(&["version", "--no-such-flag"]));
    assert_eq!(code, 2, "{text}");
    let (code, text) = jikimi(&mut bare(&["no-such-command"]));
    assert_eq!(code, 2, "{text}");
    let (code, text) = jikimi(&mut bare(&["--help"]));
    assert_eq!(code, 0, "{text}");
    for line in ["Exit codes:", "3  audit verify", "4  a match"] {
        assert!(text.contains(line), "--help lacks {line:?}: {text}");
    }
    let (code, text) = jikimi(&mut bare(&["version", "--json"]));
    assert_eq!(code, 0, "{text}");
    let version: serde_json::Value = serde_json::from_str(text.trim()).expect("json");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
}

/// Without the `video` feature the vPDQ commands are still known, but unavailable: exit 5, saying how to get them.
#[cfg(not(feature = "video"))]
#[test]
fn video_commands_without_the_feature_exit_5() {
    let commands: [&[&str]; 3] = [
        &["pdq", "hash-video", "--seconds-per-hash", "1", "x.mp4"],
        &["pdq", "compare-video", "a.mp4", "b.mp4"],
        &["bench", "pdq", "video", "x.mp4"],
    ];
    for args in commands {
        let (code, text) = jikimi(&mut bare(args));
        assert_eq!(code, 5, "{args:?}: {text}");
        assert!(text.contains("--features video"), "{args:?}: {text}");
    }
}

#[test]
fn bench_help_lists_every_benchmark() {
    let (code, text) = jikimi(&mut bare(&["bench", "--help"]));
    assert_eq!(code, 0, "{text}");
    for bench in [
        "intake",
        "surge",
        "flood",
        "analyze",
        "funds",
        "roads",
        "geocode",
        "pdq",
        "triage",
        "linkage",
        "exchange",
        "cluster",
        "operations",
        "identify",
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{bench} "))),
            "`jikimi bench --help` lacks {bench}: {text}"
        );
    }
    // The old spellings moved under `bench`.
    let (code, text) = jikimi(&mut bare(&["roads", "bench", "--help"]));
    assert_eq!(code, 2, "{text}");
    let (code, text) = jikimi(&mut bare(&["pdq", "bench", "--help"]));
    assert_eq!(code, 2, "{text}");
}

#[test]
fn bench_linkage_prints_json() {
    let (code, text) = jikimi(&mut bare(&[
        "bench",
        "linkage",
        "watchlist",
        "--n",
        "200",
        "--queries",
        "20",
        "--json",
    ]));
    assert_eq!(code, 0, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON line");
    let report: serde_json::Value = serde_json::from_str(line).expect("json");
    assert_eq!(report["n"], 200);
    assert_eq!(report["queries"], 20);
    assert!(report["p99_ms"].as_f64().is_some(), "{report}");
}

#[tokio::test]
async fn a_broken_audit_chain_exits_3() {
    let site = Site::new();
    site.add_admin();
    let (code, text) = jikimi(&mut site.command(&["audit", "verify", "--json"]));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(r#""intact":true"#), "{text}");
    // An attacker with database access rewrites the reason of entry 1.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", site.db_path().display()))
        .await
        .expect("open");
    sqlx::query("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 1")
        .execute(&pool)
        .await
        .expect("tamper");
    pool.close().await;
    let (code, text) = jikimi(&mut site.command(&["audit", "verify"]));
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("seq 1"), "{text}");
    let (code, text) = jikimi(&mut site.command(&["audit", "verify", "--json"]));
    assert_eq!(code, 3, "{text}");
    assert!(text.contains(r#""intact":false"#), "{text}");
    // A database that cannot be opened is an error (1), not a broken chain.
    let (code, text) = jikimi(site.command(&["audit", "verify"]).env(
        "JIKIMI_DATABASE_URL",
        "sqlite:///nonexistent-dir/x/y.sqlite",
    ));
    assert_eq!(code, 1, "{text}");
}

#[test]
fn a_watchlist_candidate_exits_4_and_no_candidate_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let list = dir.path().join("watchlist.csv");
    std::fs::write(
        &list,
        "id,given_name,surname,date_of_birth,nationality,passport_no\n\
         W1,Min-jun,Lee,1990-03-04,KOR,M12345678\n",
    )
    .expect("write watchlist");
    let list = list.to_str().expect("utf-8 path");
    let (code, text) = jikimi(&mut bare(&[
        "border",
        "check",
        "--watchlist",
        list,
        "--name",
        "RHEE MIN JUN",
        "--dob",
        "1990-03-04",
        "--passport",
        "M12345678",
        "--json",
    ]));
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("W1"), "{text}");
    let (code, text) = jikimi(&mut bare(&[
        "border",
        "check",
        "--watchlist",
        list,
        "--name",
        "Jane Smith",
        "--dob",
        "1971-11-30",
        "--passport",
        "X99999999",
    ]));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(r#""candidates": []"#), "{text}");
}

#[test]
fn a_pdq_match_exits_4_and_no_match_exits_0() {
    let image = shared_dir().join("reference/pdq/grad_h_rgb_64x64.png");
    let image = image.to_str().expect("utf-8 path");
    let (code, text) = jikimi(&mut bare(&["pdq", "hash", "--json", image]));
    assert_eq!(code, 0, "{text}");
    let hashes: serde_json::Value = serde_json::from_str(&text).expect("json");
    let hash = hashes[0]["hash"].as_str().expect("hash").to_string();
    // Every bit flipped: distance 256, far outside any radius.
    let far: String = hash
        .chars()
        .map(|c| {
            let nibble = c.to_digit(16).expect("hex");
            char::from_digit(15 - nibble, 16).expect("hex")
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let listed = dir.path().join("listed.txt");
    std::fs::write(&listed, format!("{hash}\n")).expect("write list");
    let other = dir.path().join("other.txt");
    std::fs::write(&other, format!("{far}\n")).expect("write list");
    let (code, text) = jikimi(&mut bare(&[
        "pdq",
        "match",
        "--list",
        listed.to_str().expect("utf-8 path"),
        "--json",
        image,
    ]));
    assert_eq!(code, 4, "{text}");
    assert!(text.contains(&hash), "{text}");
    let (code, text) = jikimi(&mut bare(&[
        "pdq",
        "match",
        "--list",
        other.to_str().expect("utf-8 path"),
        image,
    ]));
    assert_eq!(code, 0, "{text}");
}

/// `identify triage` writes its report either way, and exits 4 when a file of the tree is in a bank, 0 when none
/// is; `--json` prints the summary.
#[test]
fn an_identify_triage_match_exits_4_and_no_match_exits_0() {
    let image = shared_dir().join("reference/pdq/grad_h_rgb_64x64.png");
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = dir.path().join("seized/inner");
    std::fs::create_dir_all(&tree).expect("mkdir");
    std::fs::copy(&image, tree.join("photo")).expect("copy");
    std::fs::write(tree.join("notes.txt"), "text").expect("write");
    let (code, text) = jikimi(&mut bare(&[
        "pdq",
        "hash",
        "--json",
        image.to_str().expect("utf-8"),
    ]));
    assert_eq!(code, 0, "{text}");
    let hashes: serde_json::Value = serde_json::from_str(&text).expect("json");
    let hash = hashes[0]["hash"].as_str().expect("hash").to_string();
    let listed = dir.path().join("listed.csv");
    std::fs::write(
        &listed,
        format!("signal_type,signal_str,category\npdq,{hash},A\n"),
    )
    .expect("write");
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "signal_type,signal_str,category\n").expect("write");
    let seized = dir.path().join("seized");
    for (bank, expected, known) in [(&listed, 4, 1), (&empty, 0, 0)] {
        let out = dir.path().join(format!("report-{expected}.json"));
        let html = dir.path().join(format!("report-{expected}.html"));
        let (code, text) = jikimi(&mut bare(&[
            "identify",
            "triage",
            seized.to_str().expect("utf-8"),
            "--banks",
            bank.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--html",
            html.to_str().expect("utf-8"),
            "--json",
        ]));
        assert_eq!(code, expected, "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with('{'))
            .expect("a JSON line");
        let summary: serde_json::Value = serde_json::from_str(line).expect("json");
        assert_eq!(summary["totals"]["known"], known, "{summary}");
        assert_eq!(summary["totals"]["files"], 2, "{summary}");
        assert!(out.exists() && html.exists());
    }
    // A bank that cannot be read is an error.
    let (code, text) = jikimi(&mut bare(&[
        "identify",
        "triage",
        seized.to_str().expect("utf-8"),
        "--banks",
        "/nonexistent/bank.csv",
        "--out",
        dir.path().join("r.json").to_str().expect("utf-8"),
    ]));
    assert_eq!(code, 1, "{text}");
}

#[test]
fn bench_triage_prints_json() {
    let (code, text) = jikimi(&mut bare(&[
        "bench",
        "triage",
        "--images",
        "30",
        "--side",
        "64",
        "--bank-noise",
        "100",
        "--json",
    ]));
    assert_eq!(code, 0, "{text}");
    let start = text.find('{').expect("json");
    let end = text.rfind('}').expect("json");
    let report: serde_json::Value = serde_json::from_str(&text[start..=end]).expect("json");
    assert_eq!(report["known"], 3, "{report}");
    assert_eq!(report["known_expected"], 3, "{report}");
    assert_eq!(report["rerun_from_journal"]["hashed"], 0, "{report}");
    assert_eq!(report["same_report_on_rerun"], true, "{report}");
}

#[test]
fn bench_exchange_prints_json_with_its_reference() {
    let (code, text) = jikimi(&mut bare(&["bench", "exchange", "--leads", "40", "--json"]));
    assert_eq!(code, 0, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON line");
    let report: serde_json::Value = serde_json::from_str(line).expect("json");
    assert_eq!(report["leads"], 40, "{report}");
    assert_eq!(report["rejected"], 0, "{report}");
    // The case and its 40 leads, each disclosed once.
    assert_eq!(report["envelopes_disclosed_by_a"], 41, "{report}");
    assert!(
        report["ratio_to_local_write"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{report}"
    );
}

/// With the `video` feature: `pdq hash-video` prints one line per frame of a video made now with `ffmpeg`, and
/// `pdq compare-video` finds the video equal to itself. (Bit-exactness is mediahash's `vpdq_generated` test.)
#[cfg(feature = "video")]
#[test]
fn pdq_video_commands_hash_and_compare_a_made_video() {
    let dir = tempfile::tempdir().expect("tempdir");
    let video = dir.path().join("bars.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
        ])
        .args([
            "-i",
            "testsrc2=size=160x120:rate=10:duration=2",
            "-c:v",
            "mpeg4",
        ])
        .arg(&video)
        .status();
    // A `video` build needs FFmpeg; its tests need Debian's `ffmpeg` too, and fail without it, in CI and outside.
    assert!(
        made.is_ok_and(|s| s.success()),
        "ffmpeg could not make a video (.ci/setup-ffmpeg.sh)"
    );
    let path = video.to_str().expect("utf-8 path");
    let (code, text) = jikimi(&mut bare(&[
        "pdq",
        "hash-video",
        "--seconds-per-hash",
        "0",
        path,
    ]));
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.lines().filter(|l| l.split(',').count() == 4).count(),
        20,
        "{text}"
    );
    let (code, text) = jikimi(&mut bare(&["pdq", "compare-video", path, path]));
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("100.00 100.00 "), "{text}");
}
