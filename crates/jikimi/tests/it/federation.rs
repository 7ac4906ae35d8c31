//! The partner-facing port, tried as an attacker would (issue 16): `jikimi federation serve` used to answer
//! `GET /exchange/v1/records` and `/exchange/v1/court-bundle/{id}` to anyone, names and phones included. Now it serves
//! only the one federation router: the bare request gets no record, a pull signed by an unknown key is refused and
//! audited, and a partner's signed pull under an agreement still brings the case (through the real binaries).
//! The sealed database holds neither the agency key nor the shared record in clear.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use chrono::Utc;
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::AgencyId;
use jikimi_exchange::protocol::{PullRequest, Signed};
use uuid::Uuid;

use crate::process::Site;

const PHONE: &str = "+821055501234";
const PERSON: &str = "Hong Gildong";

/// A child process ended when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ok(site: &Site, args: &[&str]) -> serde_json::Value {
    let out = site.command(args).output().expect("run jikimi");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json on stdout")
}

/// Starts `jikimi federation serve` on a free port; returns the process and its base URL.
fn federation_serve(site: &Site) -> (Running, String) {
    let mut child = site
        .command(&["federation", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn jikimi federation serve");
    let stdout = child.stdout.take().expect("stdout");
    let child = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("federation serve printed its address");
    let first: serde_json::Value = serde_json::from_str(&line).expect("json first line");
    let addr = first["listening"].as_str().expect("listening").to_owned();
    (child, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_port_gives_records_only_to_a_signed_pull_under_an_agreement() {
    let a = Site::new();
    let b = Site::new();
    ok(&a, &["agency", "init", "--name", "a", "--country", "KR"]);
    let b_agency = ok(&b, &["agency", "init", "--name", "b", "--country", "TH"]);
    let b_id = b_agency["id"].as_str().expect("b id").to_owned();
    let case = ok(
        &a,
        &[
            "case",
            "create",
            "--category",
            "scam",
            "--title",
            "call centre",
            "--entity",
            &format!("phone={PHONE}"),
            "--entity",
            &format!("person={PERSON}"),
        ],
    );
    let case_id = case["id"].as_str().expect("case id").to_owned();
    let (_server, url) = federation_serve(&a);
    let http = reqwest::Client::new();

    // The bare requests that used to return every shared record now get no record.
    for path in [
        "/exchange/v1/records".to_owned(),
        format!("/exchange/v1/court-bundle/{case_id}"),
        "/api/exchange/records".to_owned(),
        format!("/api/exchange/cases/{case_id}"),
    ] {
        let response = http.get(format!("{url}{path}")).send().await.expect("get");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert!(status.is_client_error(), "{path}: {status} {body}");
        assert!(
            !body.contains(PHONE) && !body.contains(PERSON) && !body.contains(&case_id),
            "{path}: {body}"
        );
        let code =
            serde_json::from_str::<serde_json::Value>(&body).expect("error json")["error"]["code"]
                .as_str()
                .map(str::to_owned);
        assert_eq!(code.as_deref(), Some("no_such_endpoint"), "{path}: {body}");
    }

    // A pull signed by a key that is no peer of A's: refused (403 forbidden) and audited, nothing disclosed.
    let stranger = SigningKey::from_bytes(&jikimi_server::password::os_random());
    let a_id =
        AgencyId::parse(ok(&a, &["agency", "show"])["id"].as_str().expect("a id")).expect("a id");
    let forged = Signed::sign(
        PullRequest {
            requester: AgencyId::from_key(&stranger.verifying_key()),
            responder: a_id.clone(),
            cursor: 0,
            limit: 100,
            issued_at: Utc::now(),
            nonce: Uuid::new_v4(),
        },
        &stranger,
    )
    .expect("sign");
    let refused = http
        .post(format!("{url}/federation/v1/pull"))
        .json(&forged)
        .send()
        .await
        .expect("pull");
    assert_eq!(refused.status(), 403);
    let body = refused.text().await.expect("body");
    assert!(
        body.contains("\"forbidden\"") && !body.contains(PHONE),
        "{body}"
    );
    // Not JSON at all: 400, the server's error shape.
    let junk = http
        .post(format!("{url}/federation/v1/pull"))
        .header("content-type", "application/json")
        .body("{\"body\": 1")
        .send()
        .await
        .expect("junk");
    assert_eq!(junk.status(), 400);

    // B, a peer under an agreement, pulls with its signed request through the same port: the case arrives.
    ok(
        &a,
        &[
            "peer",
            "add",
            "--id",
            &b_id,
            "--name",
            "b",
            "--country",
            "TH",
        ],
    );
    ok(&b, &["peer", "add", "--endpoint", &url]);
    let agreement = ok(
        &a,
        &[
            "agreement",
            "create",
            "--title",
            "KR-TH",
            "--party",
            &b_id,
            "--category",
            "scam",
            "--fields",
            "all",
            "--purpose",
            "joint operation",
        ],
    );
    let file = b.dir.path().join("agreement.json");
    std::fs::write(&file, agreement.to_string()).expect("agreement file");
    ok(&b, &["agreement", "import", file.to_str().expect("path")]);
    let (synced, text) = b.run(&["sync"], &[]);
    assert!(synced, "sync failed: {text}");
    let (listed, list) = b.run(&["case", "list"], &[]);
    assert!(
        listed && list.contains(PHONE) && list.contains(PERSON),
        "{list}"
    );

    // A's audit: the stranger's pull rejected, the disclosure to B recorded; the chain verifies.
    let store = jikimi_store::connect_with_keyring(&a.database_url, a.keyring())
        .await
        .expect("open a");
    let audit = store.audit_log().await.expect("audit");
    assert!(audit.iter().any(|e| e.action == "pull_rejected"));
    assert!(
        audit
            .iter()
            .any(|e| e.action == "disclosed" && e.peer.as_deref() == Some(b_id.as_str()))
    );
    let (verified, text) = a.run(&["audit", "verify"], &[]);
    assert!(verified && text.contains("hash chain intact"), "{text}");

    // At rest on A: the signing key and the case's personal fields are sealed, not in clear.
    let raw = store.exchange_raw_bodies().await.expect("raw").join("\n");
    assert!(!raw.contains(PHONE) && !raw.contains(PERSON), "{raw}");
    let secret = store
        .exchange_raw_identity()
        .await
        .expect("raw identity")
        .expect("identity row");
    let (_, key) = store.identity().await.expect("identity").expect("identity");
    assert!(secret.starts_with("sealed:"));
    assert!(!secret.contains(&hex::encode(key.to_bytes())));
}

#[test]
fn exchange_commands_refuse_a_world_readable_key_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let site = Site::new();
    let key_file = site.dir.path().join("keys.toml");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for args in [
        &["agency", "init", "--name", "a", "--country", "KR"][..],
        &["serve", "--listen", "127.0.0.1:0"][..],
    ] {
        let out = site.command(args).output().expect("run jikimi");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("accessible by group or others") && stderr.contains("chmod 600"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!site.db_path().exists(), "nothing opened with loose keys");
}
