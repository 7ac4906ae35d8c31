//! Identify (issue 19): banks, content by signal and by photo, lookups answered per bank, negative banks,
//! disabling, reviews, quarantine, every lookup audited; uploads never reach the disk, the logs or the audit log;
//! the endpoints refused as an attacker would try them.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use image::ImageEncoder as _;
use jikimi_server::roles::Role;
use jikimi_server::router;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Backend, Harness, recorded, send_to};

pub(crate) const HASH_A: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

/// `HASH_A` with the first `n` hex digits' low bit flipped (distance `n`).
fn near(n: usize) -> String {
    HASH_A
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < n {
                let v = c.to_digit(16).unwrap_or(0) ^ 1;
                char::from_digit(v, 16).unwrap_or('0')
            } else {
                c
            }
        })
        .collect()
}

/// A PNG of a gradient with a `tEXt` chunk carrying `marker` (so its bytes are recognisable anywhere).
pub fn png_with_marker(marker: &str, seed: u8) -> Vec<u8> {
    let (w, h) = (64u32, 48u32);
    let pixels: Vec<u8> = (0..w * h * 3)
        .map(|i| ((i * 7 + u32::from(seed) * 13 + i / 191) % 251) as u8)
        .collect();
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&pixels, w, h, image::ExtendedColorType::Rgb8)
        .expect("encode png");
    // Insert a tEXt chunk before IEND (the last 12 bytes).
    let mut data = b"Comment\0".to_vec();
    data.extend_from_slice(marker.as_bytes());
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let mut typed = b"tEXt".to_vec();
    typed.extend_from_slice(&data);
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32(&typed).to_be_bytes());
    let at = png.len() - 12;
    png.splice(at..at, chunk);
    png
}

/// A PNG that declares `side` x `side` pixels (a decompression bomb's header), with no image data.
fn bomb_png(side: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A multipart request with one file field.
pub fn upload(path: &str, token: Option<&str>, field: &str, bytes: &[u8]) -> Request<Body> {
    let boundary = "jikimi-test-boundary-7f3a";
    let mut body = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"{field}\"; filename=\"x.png\"\r\ncontent-type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("content-length", body.len());
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::from(body)).expect("request")
}

/// A router over the harness's state with identify settings changed.
pub(crate) fn router_with(
    h: &Harness,
    tweak: impl FnOnce(&mut jikimi_server::identify::IdentifyConfig),
) -> Router {
    let mut state = h.state.clone();
    let mut config = (*state.config).clone();
    tweak(&mut config.identify);
    state.config = Arc::new(config);
    recorded(router(state))
}

pub(crate) async fn create_bank(h: &Harness, token: &str, body: Value) -> Value {
    let (status, bank) = h
        .call(Method::POST, "/api/identify/banks", Some(token), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bank}");
    bank
}

pub(crate) async fn add_pdq(
    h: &Harness,
    token: &str,
    bank: &Value,
    hash: &str,
    category: &str,
) -> Value {
    let (status, content) = h
        .call(
            Method::POST,
            &format!("/api/identify/banks/{}/content", bank["id"].as_str().unwrap_or("")),
            Some(token),
            Some(json!({"signal_type": "pdq", "signal": hash, "category": category, "series": "s-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{content}");
    content
}

async fn lookup(h: &Harness, token: &str, hash: &str) -> Value {
    let (status, answer) = h
        .call(
            Method::GET,
            &format!("/api/identify/lookup?signal_type=pdq&signal={hash}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn content_ids(answer: &Value) -> Vec<String> {
    answer["banks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["negative"] == false)
        .flat_map(|b| b["matches"].as_array().cloned().unwrap_or_default())
        .map(|m| m["content_id"].as_str().unwrap_or("").to_string())
        .collect()
}

pub async fn identify_banks_lookups_negative_banks_and_reviews(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;

    let known = create_bank(
        h,
        &supervisor,
        json!({"name": "known", "match_distance": 10}),
    )
    .await;
    let wide = create_bank(h, &supervisor, json!({"name": "wide"})).await;
    assert_eq!(wide["match_distance"], 31);
    // Analysts may not create banks; dispatchers may not even list them; nobody anonymous.
    let (status, _) = h
        .call(
            Method::POST,
            "/api/identify/banks",
            Some(&analyst),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .call(Method::GET, "/api/identify/banks", Some(&dispatcher), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h.call(Method::GET, "/api/identify/banks", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .call(
            Method::POST,
            "/api/identify/banks",
            Some(&supervisor),
            Some(json!({"name": "known"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = h
        .call(
            Method::POST,
            "/api/identify/banks",
            Some(&supervisor),
            Some(json!({"name": "far", "match_distance": 300})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, banks) = h
        .call(Method::GET, "/api/identify/banks", Some(&analyst), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(banks.as_array().map(Vec::len), Some(2));

    // Analysts add content; it is matchable when the answer arrives.
    let exact = add_pdq(h, &analyst, &known, HASH_A, "A1").await;
    let far = add_pdq(h, &analyst, &wide, &near(20), "B2").await;
    let answer = lookup(h, &analyst, HASH_A).await;
    let ids = content_ids(&answer);
    assert_eq!(ids.len(), 2, "{answer}");
    assert!(ids.contains(&exact["id"].as_str().unwrap_or("").to_string()));
    let banks = answer["banks"].as_array().cloned().unwrap_or_default();
    let wide_matches = banks
        .iter()
        .find(|b| b["name"] == "wide")
        .expect("wide bank");
    assert_eq!(wide_matches["matches"][0]["distance"], 20);
    assert_eq!(wide_matches["matches"][0]["category"], "B2");
    // Beyond the "known" bank's distance of 10.
    let answer = lookup(h, &analyst, &near(12)).await;
    assert_eq!(
        content_ids(&answer),
        vec![far["id"].as_str().unwrap_or("").to_string()]
    );

    // A negative bank naming "wide" suppresses its matches when it matches too.
    let negative = create_bank(h, &supervisor,
        json!({"name": "false positives", "negative": true, "suppresses": [wide["id"]], "match_distance": 4})).await;
    add_pdq(h, &analyst, &negative, &near(2), "fp").await;
    let answer = lookup(h, &analyst, HASH_A).await;
    assert_eq!(
        content_ids(&answer),
        vec![exact["id"].as_str().unwrap_or("").to_string()],
        "{answer}"
    );
    assert_eq!(answer["suppressed"][0]["content_id"], far["id"]);

    // Disabling is for supervisors; the content is kept but no longer matched.
    let path = format!(
        "/api/identify/content/{}/disable",
        exact["id"].as_str().unwrap_or("")
    );
    let (status, _) = h.call(Method::POST, &path, Some(&analyst), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, disabled) = h.call(Method::POST, &path, Some(&supervisor), None).await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["enabled"], false);
    let answer = lookup(h, &analyst, HASH_A).await;
    assert!(content_ids(&answer).is_empty(), "{answer}");
    let (status, enabled) = h
        .call(
            Method::POST,
            &format!(
                "/api/identify/content/{}/enable",
                exact["id"].as_str().unwrap_or("")
            ),
            Some(&supervisor),
            None,
        )
        .await;
    assert_eq!(
        (status, enabled["enabled"].clone()),
        (StatusCode::OK, json!(true))
    );
    let answer = lookup(h, &analyst, HASH_A).await;
    let match_id = answer["banks"][0]["matches"][0]["match_id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(!match_id.is_empty(), "{answer}");

    // Reviews.
    let review = format!("/api/identify/matches/{match_id}/review");
    let (status, reviewed) = h
        .call(
            Method::POST,
            &review,
            Some(&analyst),
            Some(json!({"verdict": "false_positive"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    assert_eq!(reviewed["verdict"], "false_positive");
    let (status, _) = h
        .call(
            Method::POST,
            &review,
            Some(&analyst),
            Some(json!({"verdict": "maybe"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = h
        .call(
            Method::POST,
            &review,
            Some(&dispatcher),
            Some(json!({"verdict": "true_positive"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/api/identify/matches/{}/review", Uuid::now_v7()),
            Some(&analyst),
            Some(json!({"verdict": "true_positive"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("match_not_found"))
    );

    // Audited: who, which banks, which content ids; never the hash looked up.
    let audit = h.audit().await;
    let lookups: Vec<_> = audit.iter().filter(|e| e.0 == "identify.lookup").collect();
    assert_eq!(lookups.len(), 5);
    assert!(lookups.iter().all(|e| e.2.starts_with("staff:analyst")));
    let audit_text = format!("{audit:?}");
    assert!(audit_text.contains(exact["id"].as_str().unwrap_or("-")));
    assert!(
        !audit_text.contains(HASH_A),
        "the looked-up hash is in the audit log"
    );
    for action in [
        "identify.bank_created",
        "identify.content_added",
        "identify.content_disabled",
        "identify.reviewed",
    ] {
        assert!(audit.iter().any(|e| e.0 == action), "{action} missing");
    }
}

pub async fn identify_photos_and_video_signals(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let bank = create_bank(h, &supervisor, json!({"name": "photos"})).await;
    let photo = png_with_marker("photo-marker", 1);
    let path = format!(
        "/api/identify/banks/{}/content/photo?category=A1",
        bank["id"].as_str().unwrap_or("")
    );
    let (status, added) = h.send(upload(&path, Some(&analyst), "photo", &photo)).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["signal_type"], "pdq");
    let (status, hashed) = h
        .send(upload(
            "/api/identify/hash",
            Some(&analyst),
            "photo",
            &photo,
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{hashed}");
    let (status, answer) = h
        .send(upload(
            "/api/identify/lookup",
            Some(&analyst),
            "photo",
            &photo,
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["pdq"], hashed["pdq"]);
    assert_eq!(answer["banks"][0]["matches"][0]["content_id"], added["id"]);
    assert_eq!(answer["banks"][0]["matches"][0]["distance"], 0);

    // vPDQ by signal: a two-frame video matches itself 100 % both ways.
    let frames = format!("0,100,{HASH_A},0.000;1,100,{},1.000", near(30));
    let (status, video) = h
        .call(
            Method::POST,
            &format!(
                "/api/identify/banks/{}/content",
                bank["id"].as_str().unwrap_or("")
            ),
            Some(&analyst),
            Some(json!({"signal_type": "vpdq", "signal": frames})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{video}");
    let (status, answer) = h
        .call(
            Method::GET,
            &format!(
                "/api/identify/lookup?signal_type=vpdq&signal={}",
                frames.replace(',', "%2C").replace(';', "%3B")
            ),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let m = &answer["banks"][0]["matches"][0];
    assert_eq!(m["content_id"], video["id"], "{answer}");
    assert_eq!(m["query_match_percent"], 100.0);
    assert_eq!(m["compared_match_percent"], 100.0);

    // A server without the `video` feature hashes no video: a clear, documented answer. With it, these bytes are
    // no decodable video (real videos: `identify_video`). Either way the test asserts the answer.
    let refused = if jikimi_server::identify_video::ENABLED {
        (StatusCode::BAD_REQUEST, json!("invalid_payload"))
    } else {
        (StatusCode::NOT_FOUND, json!("not_enabled"))
    };
    let (status, body) = h
        .send(upload(
            "/api/identify/lookup",
            Some(&analyst),
            "video",
            b"not really a video",
        ))
        .await;
    assert_eq!((status, body["error"]["code"].clone()), refused);
    let (status, body) = h
        .send(upload(
            &format!(
                "/api/identify/banks/{}/content/video",
                bank["id"].as_str().unwrap_or("")
            ),
            Some(&analyst),
            "video",
            b"x",
        ))
        .await;
    assert_eq!((status, body["error"]["code"].clone()), refused);
}

pub async fn identify_quarantines_a_flooding_signal(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let app = router_with(h, |c| {
        c.quarantine.max_matches = 2;
        c.quarantine.window_s = 60;
    });
    let bank = create_bank(h, &supervisor, json!({"name": "flood"})).await;
    let content = add_pdq(h, &analyst, &bank, HASH_A, "A").await;
    let get = |token: &str| {
        crate::support::request(
            Method::GET,
            &format!("/api/identify/lookup?signal_type=pdq&signal={HASH_A}"),
            Some(token),
            None,
        )
    };
    for _ in 0..2 {
        let (_, answer) = send_to(&app, get(&analyst)).await;
        assert_eq!(
            answer["banks"][0]["matches"][0]["quarantined"], false,
            "{answer}"
        );
    }
    let (_, answer) = send_to(&app, get(&analyst)).await;
    let m = &answer["banks"][0]["matches"][0];
    assert_eq!(m["quarantined"], true, "{answer}");
    assert!(
        h.audit()
            .await
            .iter()
            .any(|e| e.0 == "identify.quarantined" && e.2 == "system")
    );
    // A true-positive review releases it (audited), and the counting starts again.
    let (status, reviewed) = send_to(
        &app,
        crate::support::request(
            Method::POST,
            &format!(
                "/api/identify/matches/{}/review",
                m["match_id"].as_str().unwrap_or("")
            ),
            Some(&analyst),
            Some(json!({"verdict": "true_positive"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reviewed}");
    assert_eq!(reviewed["quarantined"], false);
    let (_, answer) = send_to(&app, get(&analyst)).await;
    assert_eq!(answer["banks"][0]["matches"][0]["quarantined"], false);
    assert_eq!(
        answer["banks"][0]["matches"][0]["content_id"],
        content["id"]
    );
    assert!(h.audit().await.iter().any(|e| e.0 == "identify.released"));
}

pub async fn identify_refuses_attacks(h: &Harness) {
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let border = h.login_as(Role::BorderOfficer).await;
    let bank = create_bank(h, &supervisor, json!({"name": "attacks"})).await;
    let bank_id = bank["id"].as_str().unwrap_or("").to_string();
    let content = add_pdq(h, &analyst, &bank, HASH_A, "A").await;
    let content_id = content["id"].as_str().unwrap_or("").to_string();
    let unknown = Uuid::now_v7();
    let png = png_with_marker("m", 2);

    // 401 and 403 on every endpoint.
    let json_calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/identify/banks".into(), None),
        (
            Method::POST,
            "/api/identify/banks".into(),
            Some(json!({"name": "n"})),
        ),
        (
            Method::POST,
            format!("/api/identify/banks/{bank_id}/content"),
            Some(json!({"signal_type": "pdq", "signal": HASH_A})),
        ),
        (
            Method::POST,
            format!("/api/identify/content/{content_id}/disable"),
            None,
        ),
        (
            Method::POST,
            format!("/api/identify/content/{content_id}/enable"),
            None,
        ),
        (
            Method::GET,
            format!("/api/identify/lookup?signal_type=pdq&signal={HASH_A}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/identify/matches/{unknown}/review"),
            Some(json!({"verdict": "true_positive"})),
        ),
    ];
    for (method, path, body) in &json_calls {
        let (status, _) = h.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let (status, _) = h
            .call(method.clone(), path, Some(&border), body.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let uploads = [
        "/api/identify/lookup".to_string(),
        "/api/identify/hash".to_string(),
        format!("/api/identify/banks/{bank_id}/content/photo"),
        format!("/api/identify/banks/{bank_id}/content/video"),
    ];
    for path in &uploads {
        let (status, _) = h.send(upload(path, None, "photo", &png)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = h.send(upload(path, Some(&border), "photo", &png)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }

    // 400: malformed bodies and uploads.
    let mut bad =
        crate::support::request(Method::POST, "/api/identify/banks", Some(&supervisor), None);
    *bad.body_mut() = Body::from("{not json");
    bad.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    let (status, _) = h.send(bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for (path, body) in [
        (
            format!("/api/identify/banks/{bank_id}/content"),
            json!({"signal_type": "pdq"}),
        ),
        (
            format!("/api/identify/matches/{unknown}/review"),
            json!({"verdict": 1}),
        ),
    ] {
        let (status, _) = h
            .call(Method::POST, &path, Some(&analyst), Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
    for path in &uploads[..3] {
        let (status, body) = h
            .send(upload(path, Some(&analyst), "photo", b"GIF89a garbage"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        let (status, _) = h.send(upload(path, Some(&analyst), "document", &png)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let (status, _) = h
            .send(crate::support::request(
                Method::POST,
                path,
                Some(&analyst),
                Some(json!({"photo": "x"})),
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }

    // 422: bad signals, labels and parameters.
    for body in [
        json!({"signal_type": "pdq", "signal": "abc"}),
        json!({"signal_type": "md5", "signal": HASH_A}),
        json!({"signal_type": "vpdq", "signal": "1,2,3"}),
        json!({"signal_type": "pdq", "signal": HASH_A, "category": "x".repeat(200)}),
    ] {
        let (status, _) = h
            .call(
                Method::POST,
                &format!("/api/identify/banks/{bank_id}/content"),
                Some(&analyst),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    for query in [
        "",
        "?signal_type=pdq",
        "?signal_type=pdq&signal=zz",
        "?signal_type=sha1&signal=00",
    ] {
        let (status, _) = h
            .call(
                Method::GET,
                &format!("/api/identify/lookup{query}"),
                Some(&analyst),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
    let (status, _) = h
        .send(upload(
            &format!(
                "/api/identify/banks/{bank_id}/content/photo?category={}",
                "y".repeat(200)
            ),
            Some(&analyst),
            "photo",
            &png,
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = h
        .send(upload(
            &format!(
                "/api/identify/banks/{bank_id}/content/video?series={}",
                "y".repeat(200)
            ),
            Some(&analyst),
            "video",
            b"x",
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "labels are checked first"
    );

    // 404: unknown bank, content, match; a malformed id is a 400.
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/api/identify/banks/{unknown}/content"),
            Some(&analyst),
            Some(json!({"signal_type": "pdq", "signal": HASH_A})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("bank_not_found"))
    );
    let (status, _) = h
        .send(upload(
            &format!("/api/identify/banks/{unknown}/content/photo"),
            Some(&analyst),
            "photo",
            &png,
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for action in ["disable", "enable"] {
        let (status, body) = h
            .call(
                Method::POST,
                &format!("/api/identify/content/{unknown}/{action}"),
                Some(&supervisor),
                None,
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::NOT_FOUND, json!("content_not_found"))
        );
    }
    for path in [
        "/api/identify/content/not-a-uuid/disable",
        "/api/identify/content/not-a-uuid/enable",
        "/api/identify/matches/not-a-uuid/review",
        "/api/identify/banks/not-a-uuid/content",
    ] {
        let (status, _) = h
            .call(
                Method::POST,
                path,
                Some(&supervisor),
                Some(json!({"verdict": "true_positive"})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
    for path in [
        "/api/identify/banks/not-a-uuid/content/photo",
        "/api/identify/banks/not-a-uuid/content/video",
    ] {
        let (status, _) = h.send(upload(path, Some(&analyst), "photo", &png)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
    let (status, _) = h
        .call(
            Method::GET,
            &format!("/api/identify/lookup?signal_type=pdq&signal={HASH_A}&signal={HASH_A}"),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a repeated query field");
    let (status, body) = h
        .send(upload("/api/identify/hash", Some(&analyst), "video", b"x"))
        .await;
    let refused = if jikimi_server::identify_video::ENABLED {
        (StatusCode::BAD_REQUEST, json!("invalid_payload"))
    } else {
        (StatusCode::NOT_FOUND, json!("not_enabled"))
    };
    assert_eq!((status, body["error"]["code"].clone()), refused);
    let (status, body) = h
        .send(upload(
            &format!("/api/identify/banks/{unknown}/content/video"),
            Some(&analyst),
            "video",
            b"x",
        ))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("bank_not_found"))
    );

    // 413: an upload over the limit, a body over the general limit, and a decompression bomb.
    let small = router_with(h, |c| c.upload_limit_bytes = 16 * 1024);
    let big = vec![0u8; 64 * 1024];
    for path in &uploads[..3] {
        let (status, _) = send_to(&small, upload(path, Some(&analyst), "photo", &big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let (status, body) = h
            .send(upload(path, Some(&analyst), "photo", &bomb_png(60_000)))
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {body}");
    }
    let (status, _) = send_to(&small, upload(&uploads[3], Some(&analyst), "video", &big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let long = "n".repeat(8 * 1024);
    for (path, body) in [
        ("/api/identify/banks".to_string(), json!({"name": long})),
        (
            format!("/api/identify/banks/{bank_id}/content"),
            json!({"signal_type": "pdq", "signal": long}),
        ),
        (
            format!("/api/identify/matches/{unknown}/review"),
            json!({"verdict": long}),
        ),
    ] {
        let (status, _) = h
            .call(Method::POST, &path, Some(&supervisor), Some(body))
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
}

pub async fn identify_uploads_are_never_kept_or_logged(h: &Harness) {
    let capture = crate::privacy::global_capture();
    tracing::info!("identify capture started");
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let bank = create_bank(h, &supervisor, json!({"name": "evidence"})).await;
    // Made anew each run, so no file outside this run (a copy or diff of this source) can hold it.
    let marker = format!("IMAGE-BYTES-{}", uuid::Uuid::new_v4().simple());
    let marker = marker.as_str();
    let photo = png_with_marker(marker, 3);
    let (status, added) = h
        .send(upload(
            &format!(
                "/api/identify/banks/{}/content/photo",
                bank["id"].as_str().unwrap_or("")
            ),
            Some(&analyst),
            "photo",
            &photo,
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let (status, answer) = h
        .send(upload(
            "/api/identify/lookup",
            Some(&analyst),
            "photo",
            &photo,
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["banks"][0]["matches"][0]["content_id"], added["id"]);

    // A window of the image data (past the PNG header) must appear nowhere either.
    let window = &photo[40..72];
    let logs = capture.bytes();
    assert!(
        String::from_utf8_lossy(&logs).contains("identify capture started"),
        "the capture works"
    );
    assert!(
        !contains(&logs, marker.as_bytes()),
        "the image marker is in the logs"
    );
    assert!(!contains(&logs, window), "image bytes are in the logs");
    let audit = format!("{:?}", h.audit().await);
    assert!(
        !audit.contains(marker),
        "the image marker is in the audit log"
    );
    if h.backend == Backend::Sqlite {
        let dir = h.sqlite_dir.as_ref().expect("sqlite dir");
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            bytes.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
        assert!(bytes.len() > 4096, "the database files were read");
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "the image marker is in the database files"
        );
        assert!(
            !contains(&bytes, window),
            "image bytes are in the database files"
        );
    }
    // On both backends: no stored column holds the image (the content row keeps the hash only).
    let (status, banks) = h
        .call(Method::GET, "/api/identify/banks", Some(&analyst), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!banks.to_string().contains(marker));
    // No temporary file holds it either.
    let tmp = std::env::temp_dir();
    for entry in std::fs::read_dir(&tmp).expect("tmp").flatten() {
        let path = entry.path();
        if path.is_file() && entry.metadata().map(|m| m.len() < 1 << 20).unwrap_or(false) {
            let bytes = std::fs::read(&path).unwrap_or_default();
            assert!(
                !contains(&bytes, marker.as_bytes()),
                "{path:?} holds the image"
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
