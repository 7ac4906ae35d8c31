//! Guardian notifications survive `kill -9` of a real `jikimi serve`: alerts are raised and closed while the
//! guardian's webhook receiver is down, the server is killed, the receiver comes up, the server restarts on the same
//! database and every notification arrives, once, in order per incident.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::process::{ADMIN_PASSWORD, Site};

const SECRET: &str = "kill-9-webhook-secret-0123";

#[derive(Default)]
struct Receiver {
    seen: Mutex<HashSet<String>>,
    duplicates: Mutex<usize>,
    /// (incident id, event seq) of each first delivery, in arrival order.
    delivered: Mutex<Vec<(String, u64)>>,
}

async fn hook(
    axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp: i64 = header("x-jikimi-timestamp").parse().unwrap_or(0);
    if !jikimi_notify::signing::verify(
        SECRET.as_bytes(),
        timestamp,
        &body,
        &header("x-jikimi-signature"),
    ) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if r.seen
        .lock()
        .expect("lock")
        .insert(header("idempotency-key"))
    {
        r.delivered.lock().expect("lock").push((
            value["incident_id"].as_str().unwrap_or_default().to_owned(),
            value["event_seq"].as_u64().unwrap_or_default(),
        ));
    } else {
        *r.duplicates.lock().expect("lock") += 1;
    }
    StatusCode::OK
}

async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_pending_notifications_delivers_them_after_restart() {
    const N_INCIDENTS: usize = 4;
    let site = Site::new();
    site.add_admin();
    // The receiver's port is chosen now, but nothing listens on it until the server has been killed.
    let hook_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let envs = [
        ("JIKIMI_NOTIFY_WEBHOOK_SECRET", SECRET),
        ("JIKIMI_NOTIFY_BACKOFF_BASE_MS", "50"),
        ("JIKIMI_NOTIFY_BACKOFF_MAX_S", "1"),
        ("JIKIMI_NOTIFY_POLL_MS", "50"),
        ("JIKIMI_NOTIFY_LEASE_S", "11"),
    ];
    let (mut server, base) = site.serve_with(&envs);
    let client = reqwest::Client::new();
    let login = |base: String| {
        let client = client.clone();
        async move {
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
    };
    let token = login(base.clone()).await;
    let key = jikimi_server::signing::generate_device_key();
    let registered: Value = client
        .post(format!("{base}/api/subscribers"))
        .bearer_auth(&token)
        .json(&json!({
            "name": "Notify Test", "phone": "010-0000-0002",
            "devices": [{"public_key": hex::encode(key.verifying_key().to_bytes())}],
            "guardians": [{"name": "Parent", "language": "en",
                "channels": [{"kind": "webhook", "address": format!("http://{hook_addr}/hook")}]}],
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("register json");
    let device =
        uuid::Uuid::parse_str(registered["device_ids"][0].as_str().expect("device")).expect("uuid");

    // Admins may not change incidents: a dispatcher closes them.
    let (ok, text) = site.run(
        &[
            "staff",
            "add",
            "--username",
            "dispatcher",
            "--role",
            "dispatcher",
        ],
        &[("JIKIMI_STAFF_PASSWORD", ADMIN_PASSWORD)],
    );
    assert!(ok, "{text}");
    let dispatcher: Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "dispatcher", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let dispatcher = dispatcher["token"].as_str().expect("token").to_string();

    let mut incidents = Vec::new();
    for _ in 0..N_INCIDENTS {
        let body = serde_json::to_vec(&json!({"alert_id": uuid::Uuid::new_v4(), "priority": 1,
            "location": {"lat": 37.56, "lon": 126.97, "accuracy_m": 10.0, "method": "gnss"}}))
        .expect("json");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let headers = jikimi_server::signing::sign_alert(&key, &device, now, &body);
        let mut request = client
            .post(format!("{base}/api/alerts"))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let answer: Value = request
            .send()
            .await
            .expect("alert")
            .json()
            .await
            .expect("json");
        let id = answer["incident_id"]
            .as_str()
            .expect("incident")
            .to_string();
        let closed = client
            .post(format!("{base}/api/incidents/{id}/close"))
            .bearer_auth(&dispatcher)
            .json(&json!({"outcome": "false_alarm"}))
            .send()
            .await
            .expect("close");
        assert!(closed.status().is_success(), "{}", closed.status());
        incidents.push(id);
    }

    // The worker is trying (and failing: nobody listens) when the server is killed.
    wait_for("failed attempts", Duration::from_secs(60), async || {
        let detail: Value = client
            .get(format!("{base}/api/incidents/{}", incidents[0]))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        detail["notifications"][0]["attempts"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    server.kill().expect("kill -9");
    let _ = server.wait();

    let receiver = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind(hook_addr)
        .await
        .expect("bind hook");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (mut server, base) = site.serve_with(&envs);
    wait_for(
        "every notification after the restart",
        Duration::from_secs(90),
        async || receiver.delivered.lock().expect("lock").len() >= 2 * N_INCIDENTS,
    )
    .await;
    let token = login(base.clone()).await;
    for id in &incidents {
        let detail: Value = client
            .get(format!("{base}/api/incidents/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let states: Vec<&str> = detail["notifications"]
            .as_array()
            .expect("notifications")
            .iter()
            .map(|n| n["status"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(states, vec!["delivered", "delivered"], "{detail}");
    }
    server.kill().expect("stop");
    let _ = server.wait();

    let delivered = receiver.delivered.lock().expect("lock").clone();
    assert_eq!(delivered.len(), 2 * N_INCIDENTS, "each notification once");
    assert_eq!(*receiver.duplicates.lock().expect("lock"), 0);
    let mut per_incident: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (incident, seq) in delivered {
        per_incident.entry(incident).or_default().push(seq);
    }
    assert_eq!(per_incident.len(), N_INCIDENTS);
    for (incident, seqs) in per_incident {
        assert_eq!(seqs, vec![1, 2], "incident {incident} out of order");
    }
    let (ok, text) = site.run(&["audit", "verify"], &[]);
    assert!(ok, "audit verify after the crash: {text}");
}
