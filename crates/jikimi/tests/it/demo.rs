//! `jikimi demo --disaster` as a real process: it starts, declares an earthquake over its city, and its residents'
//! signed answers reach the disaster's counts and triage queue.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Kills the demo when the test ends, however it ends (only the process this test started).
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `jikimi demo ARGS --listen 127.0.0.1:0 --data-dir DIR`, its stdout piped.
fn spawn_demo(dir: &std::path::Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_jikimi"))
        .arg("demo")
        .args(args)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn jikimi demo")
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_disaster_declares_an_earthquake_and_residents_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = spawn_demo(dir.path(), &["--disaster", "--run-for-s", "300"]);
    let stdout = child.stdout.take().expect("stdout");
    let _demo = Demo(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut base, mut password, mut disaster) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(180);
    while disaster.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the demo printed its banner and declared the earthquake");
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.contains("jikimi demo is running at") {
            base = words.last().map(|s| s.to_string());
        } else if words.first() == Some(&"dispatcher") && words.get(2) == Some(&"password") {
            password = words.get(3).map(|s| s.to_string());
        } else if line.contains("earthquake declared: disaster") {
            disaster = words
                .iter()
                .find(|w| w.len() == 37 && w.ends_with(';'))
                .map(|w| w.trim_end_matches(';').to_string());
        }
    }
    let (base, password, disaster) = (
        base.expect("base url"),
        password.expect("dispatcher password"),
        disaster.expect("disaster id"),
    );
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "dispatcher", "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    let token = login["token"].as_str().expect("token").to_string();
    let get = |path: String| {
        let http = http.clone();
        let token = token.clone();
        let base = base.clone();
        async move {
            let response = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .expect("get");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json::<Value>().await.expect("json")
        }
    };

    let listed = get("/api/disasters".into()).await;
    assert_eq!(listed["disasters"][0]["id"], disaster.as_str());
    assert_eq!(listed["disasters"][0]["kind"], "earthquake");

    // Residents answer over the first minutes (most within two): wait for the building's six trapped people and a
    // good share of the rest.
    let deadline = Instant::now() + Duration::from_secs(150);
    let detail = loop {
        let detail = get(format!("/api/disasters/{disaster}")).await;
        let counts = &detail["counts"];
        let answered =
            counts["total"].as_u64().unwrap_or(0) - counts["no_answer"].as_u64().unwrap_or(0);
        if answered >= 40 && counts["trapped"].as_u64().unwrap_or(0) >= 6 {
            break detail;
        }
        assert!(Instant::now() < deadline, "too few answers: {counts}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let counts = &detail["counts"];
    assert!(counts["safe"].as_u64().unwrap_or(0) > 0, "{counts}");
    assert!(
        counts["total"].as_u64().unwrap_or(0) > 60,
        "most residents are in the area: {counts}"
    );
    // Counted per sector of the demo's grid, each with its outline.
    assert_eq!(detail["area_kind"], "admin");
    let sectors = detail["areas"].as_array().expect("areas");
    assert!(
        sectors.iter().filter(|a| a["boundary"].is_object()).count() >= 4,
        "{sectors:?}"
    );

    let triage = get(format!("/api/disasters/{disaster}/triage")).await;
    let queue = triage["queue"].as_array().expect("queue");
    assert!(queue.len() >= 6);
    assert_eq!(queue[0]["status"], "trapped");
    let closures = get("/api/closures".into()).await;
    assert!(
        !closures.as_array().expect("closures").is_empty(),
        "the demo closed roads"
    );
}

/// `kill` (SIGTERM) ends a demo that runs for a set time, as CI's smoke test and Schemathesis end theirs: the
/// demo's server listens for SIGTERM, which replaces the default of dying, so the demo must listen too.
#[test]
fn sigterm_ends_a_demo_that_runs_for_a_set_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = spawn_demo(dir.path(), &["--run-for-s", "600"]);
    let stdout = child.stdout.take().expect("stdout");
    let pid = crate::process::pid_of(&child).expect("a pid");
    let mut demo = Demo(child);
    let (tx, rx) = std::sync::mpsc::channel();
    // Drained to the end: a closed pipe would make the demo's next line fail and end it for another reason.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("jikimi demo is running at") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the demo printed its URL");
    // Past its start-up (the logins it prints, the first simulated alerts): a demo at work.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        demo.0.try_wait().expect("try_wait").is_none(),
        "the demo is running"
    );
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = demo.0.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.is_some(), "the demo exited within 30 s of SIGTERM");
}
