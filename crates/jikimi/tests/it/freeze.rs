//! Freeze request round trip (issue 22, part 4): two real `jikimi serve` processes (A in Korea, B in Germany) under
//! an agreement permitting freeze requests. A's analyst asks, through the staff API, for a freeze of a German IBAN:
//! the request goes to B (the IBAN's country), which answers with its signed `received`; B's supervisor records
//! `frozen` with an amount through the API, and later `released` with the `jikimi freeze status` command; A sees each
//! status. Both audit chains hold the request and every signed status (by signature), and `jikimi audit verify`
//! passes on both.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::exchange::{NodeProc, agreement, setup, wait_async};
use crate::process::ADMIN_PASSWORD;

const IBAN_DE: &str = "DE89370400440532013000";

/// Adds a staff account with `role` on `node`'s database and logs it in on its API.
async fn staff_token(node: &NodeProc, http: &reqwest::Client, role: &str) -> String {
    let username = format!("{role}-{}", node.name);
    let (ok, text) = node.site.run(
        &["staff", "add", "--username", &username, "--role", role],
        &[("JIKIMI_STAFF_PASSWORD", ADMIN_PASSWORD)],
    );
    assert!(ok, "staff add failed: {text}");
    let response: Value = http
        .post(format!("{}/api/auth/login", node.url()))
        .json(&json!({"username": username, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    response["token"].as_str().expect("token").to_owned()
}

async fn get_json(http: &reqwest::Client, url: String, token: &str) -> Value {
    let response = http.get(url).bearer_auth(token).send().await.expect("get");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

fn states(held: &Value) -> Vec<String> {
    held["statuses"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    s["status"]["body"]["state"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every exchange audit detail of a node, joined (signatures and digests are in the details).
async fn audit_text(node: &NodeProc) -> String {
    node.store()
        .await
        .audit_log()
        .await
        .expect("audit log")
        .iter()
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_request_round_trip_across_two_serve_processes() {
    let a = setup(NodeProc::new("a", None), "KR");
    let b = setup(NodeProc::new("b", None), "DE");
    a.ok(&["peer", "add", "--endpoint", &b.url()]);
    b.ok(&["peer", "add", "--endpoint", &a.url()]);
    agreement(
        &a,
        &[&b],
        &[
            "--title",
            "KR-DE scam and laundering",
            "--category",
            "scam",
            "--fields",
            "non-personal",
            "--purpose",
            "asset recovery",
            "--freeze-legal-basis",
            "KR-DE MLAT art. 18",
        ],
    );
    let case = a.ok(&[
        "case",
        "create",
        "--category",
        "scam",
        "--title",
        "romance scam proceeds",
    ]);
    let case_id = case["id"].as_str().expect("case id").to_owned();

    let http = reqwest::Client::new();
    let analyst_a = staff_token(&a, &http, "analyst").await;
    let supervisor_a = staff_token(&a, &http, "supervisor").await;
    let supervisor_b = staff_token(&b, &http, "supervisor").await;
    let analyst_b = staff_token(&b, &http, "analyst").await;

    // A's analyst asks: the request goes to B, which answers with its signed `received`.
    let trace = json!({"trace": "romance-7", "hops": 3, "reached": [{"account": IBAN_DE, "units": "1500000"}]});
    let created = http
        .post(format!("{}/api/exchange/freeze", a.url()))
        .bearer_auth(&analyst_a)
        .json(&json!({
            "account": {"type": "iban", "iban": IBAN_DE},
            "amount_minor": "1500000", "currency": "EUR", "decimals": 2,
            "case_id": case_id,
            "deadline": (Utc::now() + chrono::Duration::days(3)).to_rfc3339(),
            "evidence": trace,
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    let id: Uuid = created["request"]["body"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    assert_eq!(created["direction"], "outgoing");
    assert_eq!(created["delivered"], true, "{created}");
    assert_eq!(states(&created), ["received"]);
    assert_eq!(
        created["request"]["body"]["legal_basis"],
        "KR-DE MLAT art. 18"
    );
    assert_eq!(created["request"]["body"]["recipient"], b.id().to_string());

    // B sees it received, with the evidence and the digest A signed.
    let incoming = get_json(
        &http,
        format!("{}/api/exchange/freeze?direction=incoming", b.url()),
        &supervisor_b,
    )
    .await;
    let at_b = incoming
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|h| h["request"]["body"]["id"] == id.to_string())
        })
        .expect("request at B")
        .clone();
    assert_eq!(states(&at_b), ["received"]);
    assert_eq!(at_b["request"]["body"]["evidence"]["summary"], trace);
    assert_eq!(
        at_b["request"]["signature"],
        created["request"]["signature"]
    );

    // From a traced endpoint (issue 22 part 4): A's analyst uploads the bank statement, traces the victim's payment
    // to the German IBAN, and asks by run id; B receives the evidence A's server built from the stored run.
    let csv = format!(
        "tx_id,timestamp,from_account,to_account,amount,currency\n\
         s1,1700000000,acct:1000001,{IBAN_DE},1000,EUR\n"
    );
    let set: Value = http
        .post(format!(
            "{}/api/funds/cases/{case_id}/sets?format=csv&name=bank.csv",
            a.url()
        ))
        .bearer_auth(&analyst_a)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let set_id = set["id"].as_str().expect("set id").to_owned();
    let run: Value = http
        .post(format!("{}/api/funds/sets/{set_id}/runs", a.url()))
        .bearer_auth(&analyst_a)
        .json(&json!({"seeds": ["s1"], "policy": "fifo"}))
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    let run_id = run["id"].as_str().expect("run id").to_owned();
    let from_run = http
        .post(format!("{}/api/exchange/freeze", a.url()))
        .bearer_auth(&analyst_a)
        .json(&json!({
            "trace_run": run_id, "endpoint": format!("iban:{IBAN_DE}"), "case_id": case_id,
            "deadline": (Utc::now() + chrono::Duration::days(3)).to_rfc3339(),
        }))
        .send()
        .await
        .expect("create from run");
    assert_eq!(from_run.status(), 201);
    let from_run: Value = from_run.json().await.expect("json");
    assert_eq!(from_run["delivered"], true, "{from_run}");
    assert_eq!(from_run["request"]["body"]["recipient"], b.id().to_string());
    assert_eq!(
        from_run["request"]["body"]["amount"]["minor_units"],
        "100000"
    );
    let run_request = from_run["request"]["body"]["id"].clone();
    let incoming = get_json(
        &http,
        format!("{}/api/exchange/freeze?direction=incoming", b.url()),
        &supervisor_b,
    )
    .await;
    let run_at_b = incoming
        .as_array()
        .and_then(|l| l.iter().find(|h| h["request"]["body"]["id"] == run_request))
        .expect("the run's request at B");
    let evidence = &run_at_b["request"]["body"]["evidence"];
    assert_eq!(evidence["trace_run"], json!(run_id));
    assert_eq!(
        evidence["summary"]["endpoint"]["account"],
        format!("iban:{IBAN_DE}")
    );
    assert_eq!(
        evidence["attachment"]["sha256"],
        from_run["request"]["body"]["evidence"]["attachment"]["sha256"]
    );

    // Least privilege: B's analyst may not record a status; A's supervisor may not decide A's own request.
    let status_url = |n: &NodeProc| format!("{}/api/exchange/freeze/{id}/status", n.url());
    let frozen = json!({"state": "frozen", "amount_minor": "1200000"});
    let refused = http
        .post(status_url(&b))
        .bearer_auth(&analyst_b)
        .json(&frozen)
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 403);
    let own = http
        .post(status_url(&a))
        .bearer_auth(&supervisor_a)
        .json(&frozen)
        .send()
        .await
        .expect("post");
    assert_eq!(own.status(), 403);

    // B's supervisor records frozen with an amount; A sees it.
    let answer = http
        .post(status_url(&b))
        .bearer_auth(&supervisor_b)
        .json(&frozen)
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 200);
    let a_url = format!("{}/api/exchange/freeze/{id}", a.url());
    wait_async("frozen at A", || async {
        states(&get_json(&http, a_url.clone(), &analyst_a).await) == ["received", "frozen"]
    })
    .await;
    let at_a = get_json(&http, a_url.clone(), &analyst_a).await;
    assert_eq!(
        at_a["statuses"][1]["status"]["body"]["amount"],
        json!({"minor_units": "1200000", "currency": "EUR", "decimals": 2})
    );

    // Later, released, through B's command line (on the database B's server uses): A sees it too.
    let released = b.ok(&[
        "freeze",
        "status",
        &id.to_string(),
        "--state",
        "released",
        "--reason",
        "court did not confirm the freeze",
        "--json",
    ]);
    assert_eq!(states(&released), ["received", "frozen", "released"]);
    wait_async("released at A", || async {
        states(&get_json(&http, a_url.clone(), &analyst_a).await)
            == ["received", "frozen", "released"]
    })
    .await;
    let listed = a.ok(&["freeze", "list", "--direction", "outgoing", "--json"]);
    assert!(listed.to_string().contains("court did not confirm"));

    // A replayed status changes nothing (the federation route answers 204 and keeps one copy).
    let final_a = get_json(&http, a_url.clone(), &analyst_a).await;
    let replay = http
        .post(format!("{}/federation/v1/freeze/statuses", a.url()))
        .json(&final_a["statuses"][1]["status"])
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), 204);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        states(&get_json(&http, a_url.clone(), &analyst_a).await).len(),
        3
    );

    // Both audits hold the request and every signed status (by signature); both chains verify.
    let (audit_a, audit_b) = (audit_text(&a).await, audit_text(&b).await);
    let request_sig = final_a["request"]["signature"].as_str().expect("sig");
    assert!(audit_a.contains("freeze_requested") && audit_a.contains(request_sig));
    assert!(audit_b.contains("freeze_request_received") && audit_b.contains(request_sig));
    for s in final_a["statuses"].as_array().expect("statuses") {
        let sig = s["status"]["signature"].as_str().expect("sig");
        assert!(audit_a.contains(sig), "A's audit lacks status {s}");
        assert!(audit_b.contains(sig), "B's audit lacks status {s}");
    }
    for n in [&a, &b] {
        let (ok, text) = n.site.run(&["audit", "verify"], &[]);
        assert!(
            ok && text.contains("hash chain intact"),
            "{}: {text}",
            n.name
        );
    }
}
