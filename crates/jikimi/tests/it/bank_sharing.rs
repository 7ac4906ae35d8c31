//! Shared hash banks (issue 19, part 3) across three real `jikimi serve` processes: A (KR) keeps a bank and offers
//! it to B (TH) under an agreement allowing hashes and onward sharing; B offers it on to C (KH) under its own
//! agreement with C. A photo added at A reaches C as its PDQ hash only and C matches it; A withdraws a content item
//! and it stops matching at B and at C; C reviews a match of the other item as a false positive and the signed
//! feedback arrives at A through B (audited at C as issued, at B as relayed, at A as received, and shown at A).
//! An offer under an agreement without hashes, and an offer on by a holder whose agreement forbids it, are refused.
//! The photo's bytes are in no file of any node (databases, logs); `jikimi audit verify` passes on all three.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::exchange::{NodeProc, agreement, setup, wait_async};
use crate::process::ADMIN_PASSWORD;

const PHOTO: &[u8] =
    include_bytes!("../../../mediahash/tests/data/jpeg/grad_diag_q95_444_base.jpg");
const HASH: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

/// A supervisor's session on `node` (the account is made with `jikimi staff add`).
async fn supervisor(node: &NodeProc, http: &reqwest::Client) -> String {
    let (ok, text) = node.site.run(
        &["staff", "add", "--username", "sup", "--role", "supervisor"],
        &[("JIKIMI_STAFF_PASSWORD", ADMIN_PASSWORD)],
    );
    assert!(ok, "staff add: {text}");
    let answer: Value = http
        .post(format!("{}/api/auth/login", node.url()))
        .json(&json!({"username": "sup", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    answer["token"].as_str().expect("token").to_owned()
}

/// `method path` on `node` with `token` and a JSON body: the status and the JSON answer.
async fn call(
    http: &reqwest::Client,
    node: &NodeProc,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http
        .request(method, format!("{}{path}", node.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The content ids of `bank` that a PDQ lookup of `hash` matches at `node`, with their match ids.
async fn matches(
    http: &reqwest::Client,
    node: &NodeProc,
    token: &str,
    bank: Uuid,
    hash: &str,
) -> Vec<(Uuid, Uuid)> {
    let (status, answer) = call(
        http,
        node,
        token,
        reqwest::Method::GET,
        &format!("/api/identify/lookup?signal_type=pdq&signal={hash}"),
        None,
    )
    .await;
    if status != 200 {
        return Vec::new();
    }
    answer["banks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["bank_id"].as_str() == Some(bank.to_string().as_str()))
        .flat_map(|b| b["matches"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| {
            Some((
                m["content_id"].as_str()?.parse().ok()?,
                m["match_id"].as_str()?.parse().ok()?,
            ))
        })
        .collect()
}

/// Whether `node`'s audit log holds an exchange entry `action`.
async fn audited(node: &NodeProc, action: &str) -> bool {
    node.store()
        .await
        .audit_log()
        .await
        .expect("audit")
        .iter()
        .any(|e| e.action == action)
}

/// Every file under `dir`, read whole.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_travels_two_hops_and_withdrawal_and_feedback_come_back() {
    let a = setup(NodeProc::new("a", None), "KR");
    let b = setup(NodeProc::new("b", None), "TH");
    let c = setup(NodeProc::new("c", None), "KH");
    for (x, y) in [(&a, &b), (&b, &a), (&b, &c), (&c, &b)] {
        x.ok(&["peer", "add", "--endpoint", &y.url()]);
    }
    let ab = agreement(
        &a,
        &[&b],
        &[
            "--title",
            "KR-TH hash sharing",
            "--category",
            "csam",
            "--fields",
            "attachment",
            "--onward",
            "--purpose",
            "victim identification",
        ],
    );
    let bc = agreement(
        &b,
        &[&c],
        &[
            "--title",
            "TH-KH hash sharing",
            "--category",
            "csam",
            "--fields",
            "attachment",
            "--purpose",
            "victim identification",
        ],
    );
    let no_hashes = agreement(
        &a,
        &[&b],
        &[
            "--title",
            "KR-TH summaries",
            "--category",
            "csam",
            "--fields",
            "summary",
            "--purpose",
            "case coordination",
        ],
    );
    let http = reqwest::Client::new();
    let (ta, tb, tc) = (
        supervisor(&a, &http).await,
        supervisor(&b, &http).await,
        supervisor(&c, &http).await,
    );
    let (b_id, c_id) = (b.id(), c.id());

    // A's bank: one item by signal, one by photo (hashed in memory at A).
    let (status, bank) = call(
        &http,
        &a,
        &ta,
        reqwest::Method::POST,
        "/api/identify/banks",
        Some(json!({"name": "known material"})),
    )
    .await;
    assert_eq!(status, 201, "{bank}");
    let bank: Uuid = bank["id"].as_str().expect("id").parse().expect("uuid");
    let (status, first) = call(
        &http,
        &a,
        &ta,
        reqwest::Method::POST,
        &format!("/api/identify/banks/{bank}/content"),
        Some(json!({"signal_type": "pdq", "signal": HASH, "category": "A1", "series": "lantern"})),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let first: Uuid = first["id"].as_str().expect("id").parse().expect("uuid");
    let boundary = "jikimi-bank-sharing-boundary";
    let mut body = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"photo\"; filename=\"x.jpg\"\r\ncontent-type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(PHOTO);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let photo: Value = http
        .post(format!(
            "{}/api/identify/banks/{bank}/content/photo?category=A1",
            a.url()
        ))
        .bearer_auth(&ta)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let second: Uuid = photo["id"].as_str().expect("id").parse().expect("uuid");
    let hashed: Value = http
            .post(format!("{}/api/identify/hash", a.url()))
            .bearer_auth(&ta)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body({
                let mut b = format!(
                    "--{boundary}\r\ncontent-disposition: form-data; name=\"photo\"; filename=\"x.jpg\"\r\n\r\n"
                )
                .into_bytes();
                b.extend_from_slice(PHOTO);
                b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
                b
            })
            .send()
            .await
            .expect("hash")
            .json()
            .await
            .expect("json");
    let photo_hash = hashed["pdq"].as_str().expect("pdq").to_owned();

    // An agreement without the attachment field allows no hash sharing.
    let (status, refused) = call(
        &http,
        &a,
        &ta,
        reqwest::Method::POST,
        &format!("/api/identify/banks/{bank}/offers"),
        Some(json!({"partner": b_id.to_string(), "agreement": no_hashes})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");

    // A offers the bank to B; B holds it read-only and matches both items.
    let (status, offered) = call(
        &http,
        &a,
        &ta,
        reqwest::Method::POST,
        &format!("/api/identify/banks/{bank}/offers"),
        Some(json!({"partner": b_id.to_string(), "agreement": ab})),
    )
    .await;
    assert_eq!(status, 201, "{offered}");
    wait_async("the bank at B", || async {
        matches(&http, &b, &tb, bank, HASH).await.len() == 1
            && matches(&http, &b, &tb, bank, &photo_hash).await.len() == 1
    })
    .await;
    let (_, banks) = call(
        &http,
        &b,
        &tb,
        reqwest::Method::GET,
        "/api/identify/banks",
        None,
    )
    .await;
    let at_b = banks
        .as_array()
        .expect("banks")
        .iter()
        .find(|x| x["id"].as_str() == Some(bank.to_string().as_str()))
        .expect("bank at B")
        .clone();
    assert_eq!(at_b["origin"], format!("exchange:{}", a.id()));
    let (status, _) = call(
        &http,
        &b,
        &tb,
        reqwest::Method::POST,
        &format!("/api/identify/banks/{bank}/content"),
        Some(json!({"signal_type": "pdq", "signal": HASH})),
    )
    .await;
    assert_eq!(status, 422, "a partner's bank is read-only");

    // B offers it on to C (A-B permits onward sharing); C matches both items.
    let (status, onward) = call(
        &http,
        &b,
        &tb,
        reqwest::Method::POST,
        &format!("/api/identify/banks/{bank}/offers"),
        Some(json!({"partner": c_id.to_string(), "agreement": bc})),
    )
    .await;
    assert_eq!(status, 201, "{onward}");
    wait_async("the bank at C", || async {
        matches(&http, &c, &tc, bank, HASH).await.len() == 1
            && matches(&http, &c, &tc, bank, &photo_hash).await.len() == 1
    })
    .await;
    // C's agreement with B does not permit onward sharing: C cannot pass it back to B's partners.
    let (status, _) = call(
        &http,
        &c,
        &tc,
        reqwest::Method::POST,
        &format!("/api/identify/banks/{bank}/offers"),
        Some(json!({"partner": b_id.to_string(), "agreement": bc})),
    )
    .await;
    assert_eq!(status, 403, "no onward sharing from C");

    // A withdraws the first item: gone at B and at C.
    let (status, withdrawn) = call(
        &http,
        &a,
        &ta,
        reqwest::Method::POST,
        &format!("/api/identify/content/{first}/withdraw"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{withdrawn}");
    assert_eq!(withdrawn["enabled"], false);
    wait_async("the withdrawal at B and C", || async {
        matches(&http, &b, &tb, bank, HASH).await.is_empty()
            && matches(&http, &c, &tc, bank, HASH).await.is_empty()
    })
    .await;
    for n in [&b, &c] {
        let held = n.store().await.get_content(first).await.expect("kept");
        assert!(
            !held.enabled,
            "{}: withdrawn content is kept disabled",
            n.name
        );
    }

    // C reviews its match of the photo's item as a false positive: the signed feedback reaches A through B.
    let found = matches(&http, &c, &tc, bank, &photo_hash).await;
    let (content, match_id) = found.first().copied().expect("a match at C");
    assert_eq!(content, second);
    let (status, reviewed) = call(
        &http,
        &c,
        &tc,
        reqwest::Method::POST,
        &format!("/api/identify/matches/{match_id}/review"),
        Some(json!({"verdict": "false_positive"})),
    )
    .await;
    assert_eq!(status, 200, "{reviewed}");
    let start = std::time::Instant::now();
    let feedback = loop {
        let (_, sharing) = call(
            &http,
            &a,
            &ta,
            reqwest::Method::GET,
            &format!("/api/identify/banks/{bank}/sharing"),
            None,
        )
        .await;
        if let Some(f) = sharing["feedback"].as_array().and_then(|f| f.first()) {
            break f.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "timed out waiting for the feedback at A"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(feedback["verdict"], "false_positive");
    assert_eq!(feedback["content"], second.to_string());
    assert_eq!(feedback["issuer"], c_id.to_string(), "signed by C");
    assert_eq!(feedback["received_from"], b_id.to_string(), "through B");

    // Audited on every side.
    assert!(audited(&c, "bank_feedback_issued").await);
    assert!(audited(&b, "bank_feedback_relayed").await);
    assert!(audited(&a, "bank_feedback_received").await);
    assert!(audited(&a, "bank_offer_issued").await && audited(&b, "bank_offer_received").await);
    assert!(audited(&b, "bank_offer_issued").await && audited(&c, "bank_offer_received").await);
    assert!(audited(&c, "bank_event_received").await);

    // No image bytes crossed: the photo is in no file of any node (databases, logs); B and C hold its hash.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let window = &PHOTO[PHOTO.len() / 2..PHOTO.len() / 2 + 48];
    for n in [&a, &b, &c] {
        for (path, bytes) in files(n.site.dir.path()) {
            assert!(
                !bytes.windows(window.len()).any(|w| w == window),
                "{}: photo bytes in {}",
                n.name,
                path.display()
            );
        }
    }
    let at_c = c.store().await.get_content(second).await.expect("at C");
    assert_eq!(at_c.signal, photo_hash, "C holds the hash");

    for n in [&a, &b, &c] {
        let (ok, text) = n.site.run(&["audit", "verify"], &[]);
        assert!(
            ok && text.contains("hash chain intact"),
            "{}: {text}",
            n.name
        );
    }
}
