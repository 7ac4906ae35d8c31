//! Video uploads in identify (issue 19, part 2), for a server built with the `video` feature: a video added by
//! upload is matched by a near duplicate uploaded later, with the query and compared match percentages of
//! `jikimi_mediahash`'s vPDQ comparison on the same frames; `hash` answers the frames `hash_video_file` gives; the
//! video's bytes reach no disk, log, audit entry or database file; bad, oversized and wrong-field uploads are refused.
//!
//! The videos are made now with Debian's `ffmpeg` tool (lavfi test patterns); a video build's tests need it, so its
//! absence is a failure, in CI and outside it (as in `jikimi-mediahash`'s video tests).

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::StatusCode;
use jikimi_mediahash::vpdq::{DEFAULT_QUALITY_TOLERANCE, VpdqFeature, match_two_hash_brute};
use jikimi_server::roles::Role;
use serde_json::json;

use crate::identify::{create_bank, upload};
use crate::support::{Backend, Harness};

/// The title written into every test video, made anew for each run so that no file outside this run (a copy of this
/// source, a diff of it) can hold it: finding it anywhere means the run's video bytes were written there.
fn marker() -> &'static str {
    static MARKER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARKER.get_or_init(|| format!("VIDEO-BYTES-{}", uuid::Uuid::new_v4().simple()))
}

fn ffmpeg() -> PathBuf {
    let ffmpeg = std::env::var_os("JIKIMI_FFMPEG").map_or_else(|| "ffmpeg".into(), PathBuf::from);
    let found = Command::new(&ffmpeg)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{} not found: install Debian's ffmpeg (.ci/setup-ffmpeg.sh)",
        ffmpeg.display()
    );
    ffmpeg
}

/// Makes a video from a lavfi source with the given encoder arguments; its container's title is [`marker`].
fn make(dir: &Path, name: &str, source: &str, encoder: &str) -> PathBuf {
    let out = dir.join(name);
    let output = Command::new(ffmpeg())
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
        ])
        .args(encoder.split(' '))
        .args(["-metadata", &format!("title={}", marker())])
        .arg(&out)
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg failed on {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The features the server computes for an upload: one frame a second, as `jikimi pdq hash-video`.
fn features(path: &Path) -> Vec<VpdqFeature> {
    jikimi_mediahash::video::hash_video_file(
        path,
        jikimi_mediahash::video::VideoOptions {
            seconds_per_hash: jikimi_server::identify_video::SECONDS_PER_HASH,
            downsample_frame_dimension: 0,
            threads: 1,
            scaler: jikimi_mediahash::video::Scaler::Area,
        },
    )
    .expect("hash video")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub async fn identify_video_uploads_are_matched_as_the_comparison_says(h: &Harness) {
    let capture = crate::privacy::global_capture();
    tracing::info!("identify video capture started");
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let bank = create_bank(h, &supervisor, json!({"name": "videos"})).await;
    let bank_id = bank["id"].as_str().unwrap_or("").to_string();

    // Two encodings of the same pictures (a near duplicate), and a different video; read into memory, the expected
    // figures computed from the files, then the files removed before anything is uploaded.
    let dir = tempfile::tempdir().expect("tempdir");
    let original = make(
        dir.path(),
        "a.mp4",
        "testsrc2=size=320x240:rate=25:duration=6",
        "-c:v libx264 -pix_fmt yuv420p -preset veryfast",
    );
    let duplicate = make(
        dir.path(),
        "b.mp4",
        "testsrc2=size=320x240:rate=25:duration=6",
        "-c:v mpeg4 -q:v 8",
    );
    let other = make(
        dir.path(),
        "c.mp4",
        "mandelbrot=size=320x240:rate=25",
        "-c:v mpeg4 -q:v 4 -t 4",
    );
    let huge = make(
        dir.path(),
        "d.mp4",
        "color=c=gray:size=4000x3000:rate=1:duration=1",
        "-c:v mpeg4",
    );
    let (fa, fb, fc) = (features(&original), features(&duplicate), features(&other));
    let bytes = |p: &Path| std::fs::read(p).expect("read video");
    let (va, vb, vc, vd) = (
        bytes(&original),
        bytes(&duplicate),
        bytes(&other),
        bytes(&huge),
    );
    drop(dir);
    assert!(
        contains(&va, marker().as_bytes()),
        "the marker is in the video"
    );
    assert!(fa.len() >= 6 && fb.len() >= 6, "one frame a second");

    // Added by upload: stored as its vPDQ frames.
    let (status, added) = h
        .send(upload(
            &format!("/api/identify/banks/{bank_id}/content/video?category=V1&series=S-V"),
            Some(&analyst),
            "video",
            &va,
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["signal_type"], "vpdq");
    assert_eq!(added["category"], "V1");

    // Hashed: the same frames as `hash_video_file`.
    let (status, hashed) = h
        .send(upload("/api/identify/hash", Some(&analyst), "video", &vb))
        .await;
    assert_eq!(status, StatusCode::OK, "{hashed}");
    let lines: Vec<String> = fb.iter().map(VpdqFeature::to_line).collect();
    assert_eq!(hashed["vpdq"], lines.join("\n"));
    assert_eq!(hashed["frames"], fb.len());
    assert_eq!(hashed["pdq"], serde_json::Value::Null);

    // Looked up: the near duplicate matches with the comparison's figures (the bank's distance 31: frames below 32).
    let expected = match_two_hash_brute(&fb, &fa, 32, DEFAULT_QUALITY_TOLERANCE);
    assert!(
        expected.query_match_percent >= 80.0 && expected.compared_match_percent >= 80.0,
        "{expected:?}"
    );
    let (status, answer) = h
        .send(upload("/api/identify/lookup", Some(&analyst), "video", &vb))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["kind"], "video");
    assert_eq!(answer["frames"], fb.len());
    let m = &answer["banks"][0]["matches"][0];
    assert_eq!(m["content_id"], added["id"], "{answer}");
    assert_eq!(m["category"], "V1");
    assert_eq!(
        m["query_match_percent"].as_f64(),
        Some(expected.query_match_percent)
    );
    assert_eq!(
        m["compared_match_percent"].as_f64(),
        Some(expected.compared_match_percent)
    );
    assert!(m["match_id"].is_string());
    // The original matches itself fully; the other video does not match (the comparison agrees).
    let (_, answer) = h
        .send(upload("/api/identify/lookup", Some(&analyst), "video", &va))
        .await;
    assert_eq!(
        answer["banks"][0]["matches"][0]["query_match_percent"],
        100.0
    );
    assert_eq!(
        answer["banks"][0]["matches"][0]["compared_match_percent"],
        100.0
    );
    let unrelated = match_two_hash_brute(&fc, &fa, 32, DEFAULT_QUALITY_TOLERANCE);
    assert!(unrelated.query_match_percent < 80.0 || unrelated.compared_match_percent < 80.0);
    let (status, answer) = h
        .send(upload("/api/identify/lookup", Some(&analyst), "video", &vc))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["banks"], json!([]), "{answer}");
    // The lookups are audited with content ids, never the video.
    let audit = h.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e.0 == "identify.lookup" && e.3.contains(added["id"].as_str().unwrap_or("-")))
    );

    // Refused: not a video, a frame past the limits, a photo field, a video over the upload limit.
    for path in [
        "/api/identify/lookup".to_string(),
        "/api/identify/hash".to_string(),
        format!("/api/identify/banks/{bank_id}/content/video"),
    ] {
        let (status, body) = h
            .send(upload(
                &path,
                Some(&analyst),
                "video",
                b"not a video at all",
            ))
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid_payload")),
            "{path}"
        );
        let (status, body) = h.send(upload(&path, Some(&analyst), "video", &vd)).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::PAYLOAD_TOO_LARGE, json!("payload_too_large")),
            "{path}"
        );
    }
    let (status, _) = h
        .send(upload(
            &format!("/api/identify/banks/{bank_id}/content/video"),
            Some(&analyst),
            "photo",
            &va,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The bytes are nowhere: logs, audit, database files, temporary files.
    let logs = capture.bytes();
    assert!(String::from_utf8_lossy(&logs).contains("identify video capture started"));
    assert!(
        !contains(&logs, marker().as_bytes()),
        "the video marker is in the logs"
    );
    assert!(
        !contains(&logs, &va[va.len() / 2..va.len() / 2 + 32]),
        "video bytes are in the logs"
    );
    assert!(
        !format!("{audit:?}").contains(marker()),
        "the video marker is in the audit log"
    );
    if h.backend == Backend::Sqlite {
        let dir = h.sqlite_dir.as_ref().expect("sqlite dir");
        let mut stored = Vec::new();
        for entry in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            stored.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
        assert!(stored.len() > 4096, "the database files were read");
        assert!(
            !contains(&stored, marker().as_bytes()),
            "the video marker is in the database files"
        );
    }
    for entry in std::fs::read_dir(std::env::temp_dir())
        .expect("tmp")
        .flatten()
    {
        let path = entry.path();
        if path.is_file()
            && entry
                .metadata()
                .map(|m| m.len() < 64 << 20)
                .unwrap_or(false)
        {
            let bytes = std::fs::read(&path).unwrap_or_default();
            assert!(
                !contains(&bytes, marker().as_bytes()),
                "{path:?} holds the video"
            );
        }
    }
}

#[tokio::test]
async fn identify_video_sqlite() {
    let h = Harness::new(Backend::Sqlite).await;
    identify_video_uploads_are_matched_as_the_comparison_says(&h).await;
    h.finish().await;
}

#[tokio::test]
async fn identify_video_postgres() {
    let h = Harness::new(Backend::Postgres).await;
    identify_video_uploads_are_matched_as_the_comparison_says(&h).await;
    h.finish().await;
}
