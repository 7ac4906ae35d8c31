//! `jikimi serve`'s web defences as a process (issue 16, item 10): plain HTTP off loopback is warned about at
//! start, `/metrics` is only on `--ops-listen`, `jikimi staff add` on an existing account ends its sessions, and
//! SIGTERM stops a server whose consoles are still connected.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::process::{ADMIN_PASSWORD, Site};

/// Serving plain HTTP on every interface used to start silently; now the output says so, loudly.
#[test]
fn serve_off_loopback_warns_about_plain_http() {
    let site = Site::new();
    let mut child = site
        .command(&["serve", "--listen", "0.0.0.0:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jikimi serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("WARNING: serving plain HTTP") {
                let _ = tx.send(line);
            }
        }
    });
    let warning = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.expect("a plain-HTTP warning on stderr");
    assert!(warning.contains("0.0.0.0"), "{warning}");
}

/// `/metrics` used to answer anyone on the main port; now it is served only on the operations listener.
#[tokio::test]
async fn metrics_only_on_the_operations_listener() {
    let site = Site::new();
    let ops_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let ops = format!("127.0.0.1:{ops_port}");
    let (mut child, url) = site.serve_with(&[("JIKIMI_OPS_LISTEN", &ops)]);
    let client = reqwest::Client::new();
    let main = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("main listener answers");
    let main_status = main.status();
    let metrics = client.get(format!("http://{ops}/metrics")).send().await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(main_status.is_client_error(), "{main_status}");
    let metrics = metrics.expect("operations listener answers");
    assert!(metrics.status().is_success(), "{}", metrics.status());
}

/// The admin's session token on the server at `url`.
async fn admin_token(client: &reqwest::Client, url: &str) -> String {
    client
        .post(format!("{url}/api/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_string))
        .expect("token")
}

/// `jikimi staff add` on an existing account is a password reset: the token taken before it stops working.
#[tokio::test]
async fn staff_add_again_resets_the_password_and_ends_sessions() {
    let site = Site::new();
    site.add_admin();
    let (mut child, url) = site.serve();
    let client = reqwest::Client::new();
    let token = admin_token(&client, &url).await;
    let (ok, text) = site.run(
        &["staff", "add", "--username", "admin", "--role", "admin"],
        &[("JIKIMI_STAFF_PASSWORD", "a brand new password")],
    );
    let me = client
        .get(format!("{url}/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "{text}");
    assert_eq!(me.status(), reqwest::StatusCode::UNAUTHORIZED);
}

/// SIGTERM stops a server while a console's live feed is open: the feed ends (its client would reconnect
/// elsewhere) instead of holding the graceful shutdown open for ever, which a rolling upgrade would meet.
#[tokio::test]
async fn sigterm_stops_a_server_with_an_open_live_feed() {
    let site = Site::new();
    site.add_admin();
    let (mut child, url) = site.serve();
    let client = reqwest::Client::new();
    let token = admin_token(&client, &url).await;
    let mut feed = client
        .get(format!("{url}/api/live"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("live feed");
    assert_eq!(feed.status(), reqwest::StatusCode::OK);
    let hello = feed.chunk().await.expect("first chunk").expect("a chunk");
    assert!(String::from_utf8_lossy(&hello).contains("hello"));
    let pid = crate::process::pid_of(&child).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
    // The feed ends: the stream closes with no further event.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(_)) = feed.chunk().await {}
    })
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let exited = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(ended.is_ok(), "the live feed ended on SIGTERM");
    assert!(exited.is_some(), "the server exited within 10 s of SIGTERM");
}
