//! The crash test: 5,000 signed alerts from concurrent clients, `kill -9` mid-burst, restart; every alert that was
//! answered 202 is present exactly once (and a resend returns the same incident). Also `audit verify` on a
//! tampered row, through the real binary.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::process::{ADMIN_PASSWORD, Site};

async fn login(client: &reqwest::Client, base: &str) -> String {
    let answer: Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    answer["token"].as_str().expect("token").to_string()
}

struct Dev {
    id: uuid::Uuid,
    key: ed25519_dalek::SigningKey,
}

async fn send_alert(
    client: &reqwest::Client,
    base: &str,
    dev: &Dev,
    alert_id: uuid::Uuid,
) -> Option<(u16, Value)> {
    let body = serde_json::to_vec(&json!({"alert_id": alert_id, "priority": 1,
        "location": {"lat": 37.56, "lon": 126.97, "accuracy_m": 10.0, "method": "gnss"}}))
    .expect("json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let headers = jikimi_server::signing::sign_alert(&dev.key, &dev.id, now, &body);
    let mut request = client
        .post(format!("{base}/api/alerts"))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let value = response.json().await.ok()?;
    Some((status, value))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_loses_no_accepted_alert_and_duplicates_none() {
    const N_ALERTS: usize = 5_000;
    const N_CLIENTS: usize = 32;
    const KILL_AFTER: usize = 1_500;
    let site = Site::new();
    site.add_admin();
    // Surge clustering and the per-device alert budget off: this test follows each alert to the incident it
    // opened. Clustered intake keeps one row per alert as well (checked by the store's surge conformance tests and
    // `jikimi bench surge`), and so do alerts over budget (the store's surge conformance and the flood tests).
    let no_surge = [
        ("JIKIMI_SURGE_RADIUS_M", "0"),
        ("JIKIMI_ALERT_BUDGET_BURST", "1000000"),
    ];
    let (mut server, base) = site.serve_with(&no_surge);
    let client = reqwest::Client::new();
    let token = login(&client, &base).await;

    let keys: Vec<_> = (0..N_CLIENTS)
        .map(|_| jikimi_server::signing::generate_device_key())
        .collect();
    let devices_json: Vec<Value> = keys
        .iter()
        .map(|k| json!({"public_key": hex::encode(k.verifying_key().to_bytes())}))
        .collect();
    let registered: Value = client
        .post(format!("{base}/api/subscribers"))
        .bearer_auth(&token)
        .json(&json!({"name": "Crash Test", "phone": "010-0000-0001", "devices": devices_json}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("register json");
    let devices: Vec<Arc<Dev>> = registered["device_ids"]
        .as_array()
        .expect("device ids")
        .iter()
        .zip(keys)
        .map(|(id, key)| {
            Arc::new(Dev {
                id: uuid::Uuid::parse_str(id.as_str().unwrap_or_default()).expect("uuid"),
                key,
            })
        })
        .collect();

    // alert id -> (device index, incident id) for every 202.
    let accepted: Arc<Mutex<HashMap<uuid::Uuid, (usize, String)>>> = Arc::default();
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
    let kill_tx = Arc::new(Mutex::new(Some(kill_tx)));
    let mut tasks = Vec::new();
    for (idx, dev) in devices.iter().enumerate() {
        let (dev, accepted, sent, kill_tx, base, client) = (
            dev.clone(),
            accepted.clone(),
            sent.clone(),
            kill_tx.clone(),
            base.clone(),
            client.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for _ in 0..N_ALERTS / N_CLIENTS + 1 {
                if sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= N_ALERTS {
                    break;
                }
                let alert_id = uuid::Uuid::new_v4();
                if let Some((202, answer)) = send_alert(&client, &base, &dev, alert_id).await {
                    let mut map = accepted.lock().expect("lock");
                    map.insert(
                        alert_id,
                        (
                            idx,
                            answer["incident_id"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        ),
                    );
                    if map.len() >= KILL_AFTER
                        && let Some(tx) = kill_tx.lock().expect("lock").take()
                    {
                        let _ = tx.send(());
                    }
                }
            }
        }));
    }
    let _ = kill_rx.await;
    server.kill().expect("kill -9"); // SIGKILL on Unix: no graceful shutdown, no WAL checkpoint.
    let _ = server.wait();
    for task in tasks {
        task.await.expect("client task");
    }
    let accepted = accepted.lock().expect("lock").clone();
    let n_sent = sent.load(std::sync::atomic::Ordering::SeqCst).min(N_ALERTS);
    assert!(
        accepted.len() >= KILL_AFTER,
        "only {} accepted before the kill",
        accepted.len()
    );
    assert!(
        accepted.len() < N_ALERTS,
        "the kill came after the burst; nothing was tested"
    );
    eprintln!(
        "crash test: {} of {} alerts sent were accepted before kill -9",
        accepted.len(),
        n_sent
    );

    let (mut server, base) = site.serve_with(&no_surge);
    let token = login(&client, &base).await;
    let list: Value = client
        .get(format!("{base}/api/incidents?limit=10000"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("list json");
    let incidents = list.as_array().expect("incidents");
    let mut by_alert: HashMap<String, Vec<String>> = HashMap::new();
    for incident in incidents {
        by_alert
            .entry(
                incident["alert_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
            .or_default()
            .push(incident["id"].as_str().unwrap_or_default().to_string());
    }
    for (alert_id, (_, incident_id)) in &accepted {
        let found = by_alert
            .get(&alert_id.to_string())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            found,
            vec![incident_id.clone()],
            "alert {alert_id} answered 202 is not present exactly once"
        );
    }
    assert!(
        by_alert.values().all(|ids| ids.len() == 1),
        "an alert opened two incidents"
    );
    let distinct: HashSet<_> = accepted.values().map(|(_, i)| i.clone()).collect();
    assert_eq!(distinct.len(), accepted.len());

    // Resending accepted alerts (new nonce, same alert id) returns the same incident, as a duplicate.
    for (alert_id, (idx, incident_id)) in accepted.iter().take(50) {
        let (status, answer) = send_alert(&client, &base, &devices[*idx], *alert_id)
            .await
            .expect("answer");
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["incident_id"].as_str(), Some(incident_id.as_str()));
        assert_eq!(answer["duplicate"], true);
    }
    server.kill().expect("stop");
    let _ = server.wait();

    let (ok, text) = site.run(&["audit", "verify"], &[]);
    assert!(ok, "audit verify after the crash: {text}");
}

#[tokio::test]
async fn audit_verify_names_the_tampered_seq() {
    let site = Site::new();
    site.add_admin();
    let (ok, text) = site.run(&["audit", "verify"], &[]);
    assert!(ok && text.contains("intact"), "{text}");
    // An attacker with database access rewrites the reason of entry 1.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", site.db_path().display()))
        .await
        .expect("open");
    let changed = sqlx::query("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 1")
        .execute(&pool)
        .await
        .expect("tamper");
    assert_eq!(changed.rows_affected(), 1);
    pool.close().await;
    let (ok, text) = site.run(&["audit", "verify"], &[]);
    assert!(!ok, "verify must fail: {text}");
    assert!(text.contains("seq 1"), "{text}");
}

#[test]
fn serve_answers_healthz_and_refuses_to_start_without_keys() {
    let site = Site::new();
    let (mut server, base) = site.serve();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let health: Value = runtime
        .block_on(async {
            reqwest::get(format!("{base}/healthz"))
                .await
                .expect("get")
                .json::<Value>()
                .await
                .expect("json")
        })
        .clone();
    assert_eq!(health["status"], "ok");
    server.kill().expect("stop");
    let _ = server.wait();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_jikimi"));
    let output = command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &site.database_url,
        ])
        .env_remove("JIKIMI_KEY_FILE")
        .env_remove("JIKIMI_DATA_KEY")
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("data-key"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(crate::process::exists(&site.db_path()));
}
