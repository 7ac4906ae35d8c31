//! A rolling upgrade (issue 18), with real binaries of two releases: node A runs the previous release (the commit
//! in `.ci/previous-release`, built into the target directory by `.ci/setup-previous.sh`), node B this tree's, on
//! one PostgreSQL schema and one JetStream stream. The old node migrates the fresh schema; the new one starts on it
//! and migrates what it adds. Both accept alerts and each console sees the other node's; then A is stopped (SIGTERM,
//! as an upgrade does) and started again on the new binary, and nothing accepted before, during or after is lost or
//! doubled, and B's console never had to resync.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::cluster::{Feed, Nats, alert, login, node_env, pg_site, register, stop, stream_name};

/// The previous release's binary, where `.ci/setup-previous.sh` puts it.
fn previous_binary() -> Option<PathBuf> {
    let commit = include_str!("../../../../.ci/previous-release").trim();
    let target = PathBuf::from(env!("CARGO_BIN_EXE_jikimi"))
        .parent()?
        .parent()?
        .to_path_buf();
    let binary = target.join("previous-release").join(commit).join("jikimi");
    binary.exists().then_some(binary)
}

/// Stops a node as an upgrade does: SIGTERM, then waits for it to exit.
fn terminate(mut child: std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the old node did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_new_releases_run_together_and_the_old_node_is_replaced_without_loss() {
    // Without the previous release there is no rolling upgrade to test: its absence fails the test.
    let previous = previous_binary().expect(
        "the previous release's binary is absent: run .ci/setup-previous.sh (CI runs it before the tests)",
    );
    rolling_upgrade(previous).await;
}

async fn rolling_upgrade(previous: PathBuf) {
    let nats = Nats::started();
    let stream = stream_name();
    let (site, _pg) = pg_site().await;
    let url = nats.url();
    // The old release first, on the fresh schema: it migrates it as far as it knows.
    let (old_a, base_old) = site.serve_binary(&previous, &node_env(&url, &stream, "node-a"));
    let (b, base_b) = site.serve_with(&node_env(&url, &stream, "node-b"));
    let client = reqwest::Client::new();
    let token_old = login(&client, &base_old).await;
    let token_b = login(&client, &base_b).await;
    let device = register(&client, &base_old, &token_old).await;

    let mut feed_b = Feed::open(&client, &base_b, &token_b, None).await;
    let (hello, _, _) = feed_b.next(Duration::from_secs(10)).await.expect("hello");
    assert_eq!(hello, "hello");
    let mut feed_old = Feed::open(&client, &base_old, &token_old, None).await;
    let (hello, _, _) = feed_old.next(Duration::from_secs(10)).await.expect("hello");
    assert_eq!(hello, "hello");
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Both releases at once: each accepts, and each console sees the other's alerts.
    let mut incidents = Vec::new();
    for i in 0..10 {
        let (base, feed) = match i % 2 {
            0 => (&base_old, &mut feed_b),
            _ => (&base_b, &mut feed_old),
        };
        let incident = alert(&client, base, &device).await;
        feed.until_incident(&incident, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("alert {i} not on the other release's live feed"));
        incidents.push(incident);
    }
    drop(feed_old);

    // The upgrade of node A: stopped as an upgrade stops it, started on the new binary. B keeps accepting meanwhile.
    terminate(old_a);
    for _ in 0..5 {
        incidents.push(alert(&client, &base_b, &device).await);
    }
    let (new_a, base_a) = site.serve_with(&node_env(&url, &stream, "node-a"));
    let token_a = login(&client, &base_a).await;
    for _ in 0..5 {
        let incident = alert(&client, &base_a, &device).await;
        feed_b
            .until_incident(&incident, Duration::from_secs(10))
            .await
            .expect("the upgraded node's alert on B's live feed");
        incidents.push(incident);
    }

    // Everything accepted is there once, whichever release took it.
    let list: Value = client
        .get(format!("{base_a}/api/incidents?limit=1000"))
        .bearer_auth(&token_a)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list json");
    let stored: Vec<&str> = list
        .as_array()
        .expect("incident list")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    for incident in &incidents {
        assert_eq!(
            stored.iter().filter(|s| **s == incident.as_str()).count(),
            1,
            "incident {incident} stored once"
        );
    }
    assert_eq!(stored.len(), incidents.len(), "no other incident");
    stop(new_a);
    stop(b);
}
