//! Personal data: reveals are audited with their reason; export and erasure; nothing personal in the logs or the
//! database file.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use jikimi_server::roles::Role;
use serde_json::json;

use crate::support::{Backend, Harness, sos};

pub async fn reveal_is_audited_with_its_reason(h: &Harness) {
    let admin = h.login_as(Role::Admin).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let device = h
        .enrol(&admin, json!({"name": "홍길동", "phone": "010-5555-0101", "address": "서울 종로구 1", "notes": "asthma",
            "guardians": [{"name": "홍어머니", "relation": "mother", "channels": [{"kind": "sms", "address": "010-5555-0102"}]}]}))
        .await;
    let path = format!("/api/subscribers/{}/reveal", device.subscriber_id);
    let (status, raised) = h.raise(&device, sos(37.5665, 126.978)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{raised}");
    let incident = raised["incident_id"].clone();
    let (status, body) = h
        .call(
            Method::POST,
            &path,
            Some(&dispatcher),
            Some(json!({"reason": "", "incident_id": incident})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("reason_required"))
    );
    let reason = "incident open, calling the subscriber back";
    let (status, body) = h
        .call(
            Method::POST,
            &path,
            Some(&dispatcher),
            Some(json!({"reason": reason, "incident_id": incident})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fields"]["name"], "홍길동");
    assert_eq!(body["fields"]["phone"], "+821055550101");
    assert_eq!(
        body["guardians"][0]["channels"][0]["address"],
        "010-5555-0102"
    );
    let reveals: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|(a, ..)| a == "subscriber.revealed")
        .collect();
    assert_eq!(reveals.len(), 1);
    assert_eq!(reveals[0].1, reason);
    assert!(reveals[0].2.starts_with("staff:dispatcher-"));
    let (status, found) = h
        .call(
            Method::POST,
            "/api/subscribers/search",
            Some(&dispatcher),
            Some(json!({"phone": "+82 10 5555 0101", "reason": "caller id", "incident_id": incident})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found["ids"][0].as_str(),
        Some(device.subscriber_id.to_string().as_str())
    );
}

pub async fn export_and_erase_a_subscriber(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let device = h
        .enrol(
            &supervisor,
            json!({"name": "Erase Me", "phone": "010-7777-0001"}),
        )
        .await;
    let (status, _) = h.raise(&device, sos(37.5, 127.0)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let sid = device.subscriber_id;
    let (status, export) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{sid}/export"),
            Some(&supervisor),
            Some(json!({"reason": "subject access request"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["subscriber"]["fields"]["name"], "Erase Me");
    assert_eq!(export["incidents"].as_array().map(Vec::len), Some(1));
    let (status, erased) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{sid}/erase"),
            Some(&supervisor),
            Some(json!({"reason": "erasure request"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["n_incidents_kept"], 1);
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{sid}/reveal"),
            Some(&supervisor),
            Some(json!({"reason": "after erasure, checking it is gone", "override": true})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("subscriber_not_found")),
        "{body}"
    );
    // The erased subscriber's device can no longer raise alerts.
    let (status, body) = h.raise(&device, sos(37.5, 127.0)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("device_unknown")),
        "{body}"
    );
    let actions: Vec<_> = h.audit().await.into_iter().map(|(a, ..)| a).collect();
    assert!(
        actions.iter().any(|a| a == "subscriber.exported")
            && actions.iter().any(|a| a == "subscriber.erased"),
        "{actions:?}"
    );
}

/// A `tracing` writer that appends to a shared buffer.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Everything captured so far.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.0.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut inner) = self.0.lock() {
            inner.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide capture: one global subscriber at TRACE, installed by the first test that needs it.
///
/// A thread-local default (`set_default`) misses events whose callsite another test thread registered first
/// (tracing caches "not interested" per callsite), which made this check flaky; a global subscriber sees all.
pub(crate) fn global_capture() -> Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
            capture
        })
        .clone()
}

pub async fn personal_data_is_not_in_logs_or_the_database(h: &Harness) {
    let capture = global_capture();
    tracing::info!("capture started");

    let admin = h.login_as(Role::Admin).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let secrets = [
        "Zyxwvut Qponmlk",
        "01098765432",
        "987 Secret Lane",
        "rare-allergy-marker",
        "Guardian Ymirsdottir",
    ];
    let device = h
        .enrol(&admin, json!({"name": secrets[0], "phone": "010-9876-5432", "address": secrets[2], "notes": secrets[3],
            "birth_date": "1990-02-03",
            "guardians": [{"name": secrets[4], "channels": [{"kind": "email", "address": "guardian@example.org"}]}]}))
        .await;
    let (status, raised) = h.raise(&device, sos(37.5, 127.0)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let incident = raised["incident_id"].clone();
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/api/subscribers/{}/reveal", device.subscriber_id),
            Some(&dispatcher),
            Some(json!({"reason": "log test", "incident_id": incident})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call(
            Method::POST,
            "/api/subscribers/search",
            Some(&dispatcher),
            Some(json!({"phone": "010-9876-5432", "reason": "log test", "incident_id": incident})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let _ = capture.clone().flush();
    let logs = String::from_utf8_lossy(&capture.0.lock().map(|b| b.clone()).unwrap_or_default())
        .to_string();
    assert!(
        logs.contains("capture started") && logs.contains("subscriber registered"),
        "the capture works: {logs}"
    );
    for secret in secrets
        .iter()
        .chain(["+821098765432", "9876-5432", "guardian@example.org"].iter())
    {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs");
    }
    let audit = format!("{:?}", h.audit().await);
    for secret in secrets {
        assert!(
            !audit.contains(secret),
            "{secret:?} appears in the audit log"
        );
    }
    if h.backend == Backend::Sqlite {
        let dir = h.sqlite_dir.as_ref().expect("sqlite dir");
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            bytes.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
        assert!(bytes.len() > 4096, "the database files were read");
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets
            .iter()
            .chain(["+821098765432", "guardian@example.org"].iter())
        {
            assert!(
                !text.contains(secret),
                "{secret:?} is readable in the database file"
            );
        }
    }
}
