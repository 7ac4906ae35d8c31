//! Identify for the console and server-side triage (issue 19, parts 6 and 7): a bank's content page by page, the
//! quarantined signals, and triage jobs over the configured evidence root (progress, report, audit), each refused
//! as an attacker would try them, including every way out of the evidence root.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use image::ImageEncoder as _;
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::identify::{HASH_A, add_pdq, create_bank, router_with, upload};
use crate::support::{Harness, send_to};

/// A PNG of seeded noise (`side` x `side`): PDQ hashes of two seeds are far apart.
/// Unknown images in the triage test's evidence tree: enough that hashing them outlasts the requests the test makes
/// while its job runs (with 24 a fast run could finish between two requests).
const OTHERS: u32 = 160;

fn noise_png(seed: u32, side: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    let pixels: Vec<u8> = (0..side * side * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&pixels, side, side, image::ExtendedColorType::Rgb8)
        .expect("encode png");
    png
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    send_to(app, crate::support::request(method, path, token, body)).await
}

pub async fn identify_bank_content_and_quarantine_are_listed(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let border = h.login_as(Role::BorderOfficer).await;
    let bank = create_bank(h, &supervisor, json!({"name": "listed"})).await;
    let bank_id = bank["id"].as_str().unwrap_or("").to_string();
    let mut ids = Vec::new();
    for n in 0..5 {
        let hash = format!("{:064x}", n + 1);
        ids.push(add_pdq(h, &analyst, &bank, &hash, "B2").await["id"].clone());
    }
    // Page by page, by id; labels and states, never the signal.
    let (status, first) = h
        .call(
            Method::GET,
            &format!("/api/identify/banks/{bank_id}/content?limit=3"),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first.as_array().map(Vec::len), Some(3));
    assert!(
        !first.to_string().contains(&format!("{:064x}", 1)),
        "no signal"
    );
    let last = first[2]["id"].as_str().unwrap_or("");
    let (_, rest) = h
        .call(
            Method::GET,
            &format!("/api/identify/banks/{bank_id}/content?after={last}"),
            Some(&analyst),
            None,
        )
        .await;
    let listed: Vec<Value> = first
        .as_array()
        .into_iter()
        .chain(rest.as_array())
        .flatten()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(first[0]["category"], "B2");
    assert_eq!(first[0]["enabled"], true);

    // Quarantine: none, then the flooding signal, then none after a true-positive review.
    let app = router_with(h, |c| {
        c.quarantine.max_matches = 1;
        c.quarantine.window_s = 60;
    });
    let (status, none) = call(
        &app,
        Method::GET,
        "/api/identify/quarantine",
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!((status, none), (StatusCode::OK, json!([])));
    let flooding = add_pdq(h, &analyst, &bank, HASH_A, "B1").await;
    let lookup = format!("/api/identify/lookup?signal_type=pdq&signal={HASH_A}");
    call(&app, Method::GET, &lookup, Some(&analyst), None).await;
    let (_, answer) = call(&app, Method::GET, &lookup, Some(&analyst), None).await;
    let m = &answer["banks"][0]["matches"][0];
    assert_eq!(m["quarantined"], true, "{answer}");
    let (_, listed) = call(
        &app,
        Method::GET,
        "/api/identify/quarantine",
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], flooding["id"]);
    assert_eq!(listed[0]["quarantined"], true);
    let (status, _) = call(
        &app,
        Method::POST,
        &format!(
            "/api/identify/matches/{}/review",
            m["match_id"].as_str().unwrap_or("")
        ),
        Some(&analyst),
        Some(json!({"verdict": "true_positive"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = call(
        &app,
        Method::GET,
        "/api/identify/quarantine",
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(listed, json!([]));

    // Attacks: no credentials, a role without identify, malformed and unknown ids, bad limits.
    for path in [
        format!("/api/identify/banks/{bank_id}/content"),
        "/api/identify/quarantine".to_string(),
    ] {
        let (status, _) = h.call(Method::GET, &path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = h.call(Method::GET, &path, Some(&border), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, body) = h
        .call(
            Method::GET,
            &format!("/api/identify/banks/{}/content", Uuid::now_v7()),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("bank_not_found"))
    );
    for path in [
        "/api/identify/banks/not-a-uuid/content".to_string(),
        format!("/api/identify/banks/{bank_id}/content?after=nope"),
        format!("/api/identify/banks/{bank_id}/content?limit=-1"),
    ] {
        let (status, _) = h.call(Method::GET, &path, Some(&analyst), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
    for limit in [0, 501] {
        let (status, _) = h
            .call(
                Method::GET,
                &format!("/api/identify/banks/{bank_id}/content?limit={limit}"),
                Some(&analyst),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{limit}");
    }
}

/// Polls a job until it is no longer running (a generous bound: a sanity check, not a timing).
async fn finished(app: &Router, token: &str, id: &str) -> Value {
    for _ in 0..1200 {
        let (status, job) = call(
            app,
            Method::GET,
            &format!("/api/identify/triage/{id}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if job["state"] != "running" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the triage job did not finish within a minute");
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
}

pub async fn identify_triage_runs_under_the_evidence_root(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let border = h.login_as(Role::BorderOfficer).await;
    let bank = create_bank(h, &supervisor, json!({"name": "known-series"})).await;
    let known = noise_png(1, 96);
    let (status, added) = h
        .send(upload(
            &format!(
                "/api/identify/banks/{}/content/photo?category=A1&series=S-7",
                bank["id"].as_str().unwrap_or("")
            ),
            Some(&analyst),
            "photo",
            &known,
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    // A negative bank is not a known category in the report.
    let negative = create_bank(
        h,
        &supervisor,
        json!({"name": "negatives", "negative": true}),
    )
    .await;
    add_pdq(h, &analyst, &negative, HASH_A, "FP").await;

    let evidence = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let root = evidence.path().join("root");
    write(&root.join("case-1/laptop/DCIM/known.png"), &known);
    for n in 0..OTHERS {
        write(
            &root.join(format!("case-1/laptop/DCIM/other-{n:02}.png")),
            &noise_png(100 + n, 128),
        );
    }
    write(&root.join("case-1/laptop/notes.txt"), b"not media");
    write(&outside.path().join("secret.png"), &known);
    std::os::unix::fs::symlink(outside.path(), root.join("case-1/laptop/link-out"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), root.join("escape")).expect("symlink");

    // Not configured: not enabled.
    let (status, body) = h
        .call(
            Method::POST,
            "/api/identify/triage",
            Some(&analyst),
            Some(json!({"path": "case-1"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_enabled"))
    );

    let app = router_with(h, |c| c.evidence_root = Some(root.clone()));
    let (status, job) = call(
        &app,
        Method::POST,
        "/api/identify/triage",
        Some(&analyst),
        Some(json!({"path": "case-1/laptop"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["state"], "running");
    assert_eq!(job["banks"], json!(["known-series"]));
    let id = job["id"].as_str().unwrap_or("").to_string();
    // One job at a time (OTHERS + 1 images to hash: the first is still running when the second is asked for).
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/identify/triage",
        Some(&supervisor),
        Some(json!({"path": "case-1"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );
    // The job may finish at any moment, so the rule is checked without a race: a report asked
    // for is either refused as not ready, or the job was already done when it was answered.
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("/api/identify/triage/{id}/report"),
        Some(&analyst),
        None,
    )
    .await;
    if status == StatusCode::OK {
        let (_, job) = call(
            &app,
            Method::GET,
            &format!("/api/identify/triage/{id}"),
            Some(&analyst),
            None,
        )
        .await;
        assert_eq!(
            job["state"], "done",
            "a report answered before the job was done: {job}"
        );
    } else {
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::CONFLICT, json!("conflict"))
        );
    }

    let done = finished(&app, &analyst, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    // The images and the text file; the links are not followed, so the outside copy is not in it.
    assert_eq!(done["progress"]["files"], OTHERS + 2, "{done}");
    assert_eq!(done["progress"]["hashed"], OTHERS + 2, "{done}");
    assert_eq!(done["totals"]["known"], 1, "{done}");
    assert_eq!(done["totals"]["unknown"], OTHERS, "{done}");
    assert_eq!(done["totals"]["not_media"], 1, "{done}");
    let (status, report) = call(
        &app,
        Method::GET,
        &format!("/api/identify/triage/{id}/report"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let item = &report["known"][0];
    assert_eq!(item["path"], "DCIM/known.png");
    assert_eq!(item["matches"][0]["bank"], "known-series");
    assert_eq!(item["matches"][0]["category"], "A1");
    assert_eq!(item["matches"][0]["series"], "S-7");
    assert_eq!(item["matches"][0]["entry"], added["id"]);
    assert_eq!(report["categories"][0]["category"], "A1");
    assert!(
        !report.to_string().contains("secret"),
        "nothing from outside the root"
    );
    let audit = h.store.list_audit(0, 10_000).await.expect("audit");
    for (action, actor) in [
        ("identify.triage_started", "staff:"),
        ("identify.triage_finished", "staff:"),
        ("identify.triage_report_read", "staff:"),
    ] {
        assert!(
            audit.iter().any(|e| e.action == action
                && e.subject == format!("identify_triage/{id}")
                && e.actor.starts_with(actor)),
            "{action} is audited"
        );
    }
    let started = audit
        .iter()
        .find(|e| e.action == "identify.triage_started")
        .map(|e| e.detail.clone())
        .unwrap_or_default();
    assert!(
        started.contains("case-1/laptop") && started.contains("known-series"),
        "{started}"
    );
    // The engine's private work directory (named after the job; other tests' jobs may be running) is gone.
    let work_prefix = format!("jikimi-triage-{id}-");
    assert!(
        !std::fs::read_dir(std::env::temp_dir())
            .expect("tmp")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&work_prefix)),
        "the work directory is removed"
    );

    // Every way out of the root is refused before anything runs.
    for path in [
        "../",
        "..",
        "case-1/../../",
        "/etc",
        "escape",
        "case-1/laptop/link-out",
        "no-such-dir",
        "case-1/laptop/notes.txt",
        "case-1\u{0}",
        "",
    ] {
        let (status, body) = call(
            &app,
            Method::POST,
            "/api/identify/triage",
            Some(&analyst),
            Some(json!({ "path": path })),
        )
        .await;
        // The empty path is the root itself: allowed (it would start a job), so it is checked last below.
        if path.is_empty() {
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            let job = finished(&app, &analyst, body["id"].as_str().unwrap_or("")).await;
            assert_eq!(job["state"], "done");
            continue;
        }
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_field")),
            "{path:?}"
        );
    }
    let long = "a/".repeat(600);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/identify/triage",
        Some(&analyst),
        Some(json!({ "path": long })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Credentials, roles, malformed bodies and ids, unknown jobs, oversized bodies.
    let calls = [
        (
            Method::POST,
            "/api/identify/triage".to_string(),
            Some(json!({"path": "case-1"})),
        ),
        (Method::GET, format!("/api/identify/triage/{id}"), None),
        (
            Method::GET,
            format!("/api/identify/triage/{id}/report"),
            None,
        ),
    ];
    for (method, path, body) in &calls {
        let (status, _) = call(&app, method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = call(&app, method.clone(), path, Some(&border), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let unknown = Uuid::now_v7();
    for path in [
        format!("/api/identify/triage/{unknown}"),
        format!("/api/identify/triage/{unknown}/report"),
    ] {
        let (status, body) = call(&app, Method::GET, &path, Some(&analyst), None).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::NOT_FOUND, json!("triage_job_not_found")),
            "{path}"
        );
    }
    for path in [
        "/api/identify/triage/nope",
        "/api/identify/triage/nope/report",
    ] {
        let (status, _) = call(&app, Method::GET, path, Some(&analyst), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
    for body in [
        json!({"path": 1}),
        json!({"path": "case-1", "other": true}),
        json!({}),
    ] {
        let (status, _) = call(
            &app,
            Method::POST,
            "/api/identify/triage",
            Some(&analyst),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let mut bad =
        crate::support::request(Method::POST, "/api/identify/triage", Some(&analyst), None);
    *bad.body_mut() = Body::from("{not json");
    bad.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    let (status, _) = send_to(&app, bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/identify/triage",
        Some(&analyst),
        Some(json!({"path": "x".repeat(8 * 1024)})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A replayed start is a new job over the same directory (idempotence is not promised): both audited.
    let (status, again) = call(
        &app,
        Method::POST,
        "/api/identify/triage",
        Some(&analyst),
        Some(json!({"path": "case-1/laptop"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_ne!(again["id"], job["id"]);
    let again = finished(&app, &analyst, again["id"].as_str().unwrap_or("")).await;
    assert_eq!(again["totals"], done["totals"]);
}
