//! Follow the money through the API (issue 22, parts 3 and 5): an analyst attaches transfers to a shared case,
//! traces them, reads the endpoints and the layered flow, and asks who controls the endpoints; every run and every
//! read of accounts is audited; attackers (no session, wrong role, malformed, oversized, unknown ids, cooperation
//! off) get the documented refusals.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Harness, send_to};

pub(crate) const VICTIM: &str = "acct:1000001";
const MULE_1: &str = "iban:GB82WEST12345698765432";
const MULE_2: &str = "acct:110234567890";
pub(crate) const WALLET: &str = "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";

/// Four transfers and one bad row (line 6): the victim pays mule 1, who passes money to mule 2 and the exchange
/// wallet and keeps some; mule 2 passes most on to the wallet.
pub(crate) fn statement() -> String {
    format!(
        "tx_id,timestamp,from_account,to_account,amount,currency\n\
         s1,1700000000,{VICTIM},GB82 WEST 1234 5698 7654 32,1000,USDT\n\
         t2,1700000100,{MULE_1},110-234-567890,600,USDT\n\
         t3,1700000200,{MULE_1},{WALLET},300,USDT\n\
         t4,1700000300,{MULE_2},{WALLET},500,USDT\n\
         t5,1700000400,{MULE_2},{WALLET},lots,USDT\n"
    )
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

pub(crate) fn upload_request(path: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "text/csv");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_owned())).expect("request")
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

/// A cooperating router with an agency and two cases: one naming the exchange wallet and the company behind it,
/// one naming mule 2 and a person. Returns the router and the cases' ids.
async fn cases(h: &Harness) -> (Router, Uuid, Uuid) {
    let app = h.cooperating().await;
    let admin = h.login_as(Role::Admin).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/exchange/agency",
        Some(&admin),
        Some(json!({"name": "KNPA", "country": "kr"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let supervisor = h.login_as(Role::Supervisor).await;
    let mut ids = Vec::new();
    for (title, entities) in [
        (
            "romance scam ring",
            json!([
                {"type": "company", "id": Uuid::new_v4(), "name": "Golden Lotus Exchange Ltd", "country": "SG", "registration": null},
                {"type": "crypto_wallet", "id": Uuid::new_v4(), "wallet": {"chain": "tron", "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}},
            ]),
        ),
        (
            "mule recruitment",
            json!([
                {"type": "person", "id": Uuid::new_v4(), "name": "Park Ji-hoon", "nationality": null, "born": null},
                {"type": "bank_account", "id": Uuid::new_v4(), "bank": null, "country": "KR", "account": "110-234-567890"},
            ]),
        ),
    ] {
        let (status, body) = call(
            &app,
            Method::POST,
            "/api/exchange/cases",
            Some(&supervisor),
            Some(json!({"category": "scam", "content": {"title": title, "summary": null, "entities": entities, "events": [], "attachments": []}})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(Uuid::parse_str(body["id"].as_str().expect("case id")).expect("uuid"));
    }
    (app, ids[0], ids[1])
}

/// The whole path: upload (bad row reported by line), list, trace, endpoints and flow, controllers, transfers;
/// each run and read audited, and no audit entry naming an account.
pub async fn analyst_traces_money_to_endpoints_and_their_controllers(h: &Harness) {
    let (app, case_a, case_b) = cases(h).await;
    let analyst = h.login_as(Role::Analyst).await;

    let (status, listed) = call(&app, Method::GET, "/api/funds/cases", Some(&analyst), None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    let (status, set) = send_to(
        &app,
        upload_request(
            &format!("/api/funds/cases/{case_a}/sets?format=csv&name=bank.csv"),
            Some(&analyst),
            &statement(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{set}");
    assert_eq!(set["transfers"], 4);
    assert_eq!(set["bad_rows"], 1);
    assert_eq!(set["rows"], 5);
    assert_eq!(set["currency"], "USDT");
    assert_eq!(set["bad_row_samples"][0]["line"], 6, "{set}");
    let set_id = set["id"].as_str().expect("set id").to_owned();

    let (status, sets) = call(
        &app,
        Method::GET,
        &format!("/api/funds/cases/{case_a}/sets"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sets.as_array().map(Vec::len), Some(1));
    let (_, other) = call(
        &app,
        Method::GET,
        &format!("/api/funds/cases/{case_b}/sets"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(other, json!([]));

    let (status, run) = call(
        &app,
        Method::POST,
        &format!("/api/funds/sets/{set_id}/runs"),
        Some(&analyst),
        Some(json!({
            "seeds": ["s1", "nowhere"],
            "policy": "haircut",
            "cashout": [{"account": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "kind": "exchange", "name": "Golden Lotus", "country": "sg"}],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["summary"]["conserved"], true);
    assert_eq!(run["summary"]["seeded"], "1000.000000");
    assert_eq!(run["summary"]["seeds_missing"], json!(["nowhere"]));
    // Endpoints by holding: the wallet (300 + 500), then the two mules keeping 100 each, by account.
    let endpoints: Vec<(&str, &str, &str, Option<&str>, &str)> = run["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| {
            (
                e["account"].as_str().unwrap_or_default(),
                e["account_type"].as_str().unwrap_or_default(),
                e["holding"].as_str().unwrap_or_default(),
                e["country"].as_str(),
                e["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        vec![
            (WALLET, "wallet", "800.000000", Some("SG"), "endpoint"),
            (MULE_2, "account", "100.000000", None, "mule"),
            (MULE_1, "iban", "100.000000", Some("GB"), "mule"),
        ]
    );
    assert_eq!(run["endpoints"][0]["chain"], "tron");
    assert_eq!(run["endpoints"][0]["country_source"], "cashout_list");
    assert_eq!(run["endpoints"][2]["country_source"], "iban");
    let layers: Vec<(&str, &str, u64)> = run["flow"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["account"].as_str().unwrap_or_default(),
                n["role"].as_str().unwrap_or_default(),
                n["layer"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        layers,
        vec![
            (VICTIM, "victim", 0),
            (MULE_1, "mule", 1),
            (MULE_2, "mule", 2),
            (WALLET, "endpoint", 3),
        ]
    );
    let edge = run["flow"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["from"] == MULE_2 && e["to"] == WALLET)
        .cloned()
        .expect("mule 2 to wallet");
    assert_eq!(
        (edge["tainted"].as_str(), edge["transfers"].as_u64()),
        (Some("500.000000"), Some(1))
    );
    let run_id = run["id"].as_str().expect("run id").to_owned();

    // The listing names no account.
    let (status, runs) = call(
        &app,
        Method::GET,
        &format!("/api/funds/cases/{case_a}/runs"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runs[0]["id"], run_id.as_str());
    assert!(!runs.to_string().contains("GB82WEST"), "{runs}");

    let (status, read) = call(
        &app,
        Method::GET,
        &format!("/api/funds/runs/{run_id}"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["endpoints"], run["endpoints"]);
    assert_eq!(read["flow"], run["flow"]);

    // Who controls the endpoints: the wallet is named in case A with its company; mule 2 in case B with a person;
    // the tainted flow mule 2 -> wallet joins the two cases into one organisation.
    let (status, who) = call(
        &app,
        Method::GET,
        &format!("/api/funds/runs/{run_id}/controllers"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{who}");
    let wallet = &who["endpoints"][0];
    assert_eq!(wallet["account"], WALLET);
    assert_eq!(
        wallet["controllers"][0]["name"],
        "Golden Lotus Exchange Ltd"
    );
    assert_eq!(wallet["controllers"][0]["record_id"], case_a.to_string());
    let mule = &who["endpoints"][1];
    assert_eq!(mule["controllers"][0]["kind"], "person");
    assert!(
        mule["controllers"][0]["name"].is_null(),
        "a person's name is for the case view: {mule}"
    );
    assert_eq!(wallet["organisation"], mule["organisation"]);
    assert!(
        who["endpoints"][2]["controllers"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    let orgs = who["organisations"].as_array().expect("organisations");
    assert_eq!(orgs.len(), 1, "{who}");
    assert_eq!(orgs[0]["companies"], json!(["Golden Lotus Exchange Ltd"]));
    assert_eq!(orgs[0]["money_links"], 1);
    assert!(!who.to_string().contains("Park Ji-hoon"));

    let (status, transfers) = call(
        &app,
        Method::GET,
        &format!("/api/funds/sets/{set_id}/transfers"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(transfers.as_array().map(Vec::len), Some(4));
    assert_eq!(transfers[0]["from"], VICTIM);
    assert_eq!(transfers[0]["to"], MULE_1);
    assert_eq!(transfers[0]["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(transfers[3]["amount"], "500.000000");

    let audit = h.audit().await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|(action, ..)| action.as_str())
        .filter(|a| a.starts_with("funds."))
        .collect();
    assert_eq!(
        actions,
        vec![
            "funds.set_added",
            "funds.trace_run",
            "funds.run_read",
            "funds.controllers_read",
            "funds.transfers_read"
        ]
    );
    let run_entry = audit
        .iter()
        .find(|(action, ..)| action == "funds.trace_run")
        .expect("run audited");
    assert!(run_entry.2.contains("analyst"), "{run_entry:?}");
    assert!(
        run_entry.3.contains("\"policy\":\"haircut\""),
        "{run_entry:?}"
    );
    for entry in &audit {
        let text = format!("{entry:?}");
        for account in ["GB82WEST", "110234567890", "TR7NHqjeKQ", "1000001"] {
            assert!(
                !text.contains(account),
                "the audit log names {account}: {text}"
            );
        }
    }
}

/// Each endpoint as an attacker would call it: no session (401), a role without the permission (403), cooperation
/// off (404 not_enabled), unknown ids (404), malformed ids and bodies (400), bad fields (422), oversized bodies
/// (413); a replayed run is a second, audited run, not a changed one.
pub async fn money_endpoints_refuse_attackers(h: &Harness) {
    let (app, case_a, _) = cases(h).await;
    let analyst = h.login_as(Role::Analyst).await;
    let dispatcher = h.login_as(Role::Dispatcher).await;
    let border = h.login_as(Role::BorderOfficer).await;
    let nobody = Uuid::new_v4();
    let gets = [
        "/api/funds/cases".to_string(),
        format!("/api/funds/cases/{case_a}/sets"),
        format!("/api/funds/cases/{case_a}/runs"),
        format!("/api/funds/sets/{nobody}/transfers"),
        format!("/api/funds/runs/{nobody}"),
        format!("/api/funds/runs/{nobody}/controllers"),
    ];
    let upload_path = format!("/api/funds/cases/{case_a}/sets");
    let run_path = format!("/api/funds/sets/{nobody}/runs");
    let run_body = json!({"seeds": ["s1"], "policy": "fifo"});

    for path in &gets {
        for (token, status, expected) in [
            (None, StatusCode::UNAUTHORIZED, "unauthenticated"),
            (Some(&dispatcher), StatusCode::FORBIDDEN, "forbidden"),
            (Some(&border), StatusCode::FORBIDDEN, "forbidden"),
        ] {
            let (got, body) = call(&app, Method::GET, path, token.map(String::as_str), None).await;
            assert_eq!((got, code(&body)), (status, expected), "GET {path}: {body}");
        }
        // Without cooperation there is no case store to attach money to.
        let (got, body) = call(&h.app, Method::GET, path, Some(&analyst), None).await;
        assert_eq!(
            (got, code(&body)),
            (StatusCode::NOT_FOUND, "not_enabled"),
            "GET {path}: {body}"
        );
    }
    for (token, status, expected) in [
        (None, StatusCode::UNAUTHORIZED, "unauthenticated"),
        (
            Some(dispatcher.as_str()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ] {
        let (got, body) = send_to(&app, upload_request(&upload_path, token, &statement())).await;
        assert_eq!((got, code(&body)), (status, expected), "{body}");
        let (got, body) = call(&app, Method::POST, &run_path, token, Some(run_body.clone())).await;
        assert_eq!((got, code(&body)), (status, expected), "{body}");
    }
    let (got, body) = send_to(
        &h.app,
        upload_request(&upload_path, Some(&analyst), &statement()),
    )
    .await;
    assert_eq!(
        (got, code(&body)),
        (StatusCode::NOT_FOUND, "not_enabled"),
        "{body}"
    );
    let (got, body) = call(
        &h.app,
        Method::POST,
        &run_path,
        Some(&analyst),
        Some(run_body.clone()),
    )
    .await;
    assert_eq!(
        (got, code(&body)),
        (StatusCode::NOT_FOUND, "not_enabled"),
        "{body}"
    );

    // Unknown ids.
    for (method, path, body, expected) in [
        (
            Method::GET,
            format!("/api/funds/sets/{nobody}/transfers"),
            None,
            "transfer_set_not_found",
        ),
        (
            Method::POST,
            run_path.clone(),
            Some(run_body.clone()),
            "transfer_set_not_found",
        ),
        (
            Method::GET,
            format!("/api/funds/runs/{nobody}"),
            None,
            "trace_run_not_found",
        ),
        (
            Method::GET,
            format!("/api/funds/runs/{nobody}/controllers"),
            None,
            "trace_run_not_found",
        ),
    ] {
        let (got, answer) = call(&app, method.clone(), &path, Some(&analyst), body).await;
        assert_eq!(
            (got, code(&answer)),
            (StatusCode::NOT_FOUND, expected),
            "{method} {path}: {answer}"
        );
    }
    let (got, body) = send_to(
        &app,
        upload_request(
            &format!("/api/funds/cases/{nobody}/sets"),
            Some(&analyst),
            &statement(),
        ),
    )
    .await;
    assert_eq!(
        (got, code(&body)),
        (StatusCode::NOT_FOUND, "record_not_found"),
        "{body}"
    );

    // Malformed ids in the path.
    for (method, path) in [
        (Method::GET, "/api/funds/cases/not-a-uuid/sets"),
        (Method::GET, "/api/funds/cases/not-a-uuid/runs"),
        (Method::GET, "/api/funds/sets/not-a-uuid/transfers"),
        (Method::POST, "/api/funds/sets/not-a-uuid/runs"),
        (Method::GET, "/api/funds/runs/not-a-uuid"),
        (Method::GET, "/api/funds/runs/not-a-uuid/controllers"),
    ] {
        let body = (method == Method::POST).then(|| run_body.clone());
        let (got, answer) = call(&app, method.clone(), path, Some(&analyst), body).await;
        assert_eq!(got, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
    }
    let (got, body) = send_to(
        &app,
        upload_request("/api/funds/cases/not-a-uuid/sets", Some(&analyst), "x"),
    )
    .await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{body}");

    // Uploads: an unknown format, an empty body, a file with no transfer at all, a name too long, oversized.
    for (query, body, status, expected) in [
        (
            "?format=xlsx",
            statement(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            "",
            "tx_id,timestamp\n1,2\n".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            "",
            "tx_id,timestamp,from_account,to_account,amount,currency\nx,never,a,b,1,EUR\n"
                .to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            "?format=camt053",
            "<not-camt/>".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            &*format!("?name={}", "n".repeat(121)),
            statement(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "?currency=US%20D",
            statement(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ] {
        let (got, answer) = send_to(
            &app,
            upload_request(&format!("{upload_path}{query}"), Some(&analyst), &body),
        )
        .await;
        assert_eq!(
            (got, code(&answer)),
            (status, expected),
            "{query}: {answer}"
        );
    }
    let oversize = Request::builder()
        .method(Method::POST)
        .uri(&upload_path)
        .header("authorization", format!("Bearer {analyst}"))
        .header("content-type", "text/csv")
        .header(
            "content-length",
            (jikimi_server::funds::UPLOAD_LIMIT_BYTES + 1).to_string(),
        )
        .body(Body::from("x"))
        .expect("request");
    let (got, answer) = send_to(&app, oversize).await;
    assert_eq!(
        (got, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{answer}"
    );
    // Streamed without a declared length: cut at the limit all the same.
    let chunks = futures_stream(jikimi_server::funds::UPLOAD_LIMIT_BYTES + 1024);
    let streamed = Request::builder()
        .method(Method::POST)
        .uri(&upload_path)
        .header("authorization", format!("Bearer {analyst}"))
        .header("content-type", "text/csv")
        .body(chunks)
        .expect("request");
    let (got, answer) = send_to(&app, streamed).await;
    assert_eq!(
        (got, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{answer}"
    );

    // Runs: a real set, then refused requests.
    let (_, set) = send_to(
        &app,
        upload_request(&upload_path, Some(&analyst), &statement()),
    )
    .await;
    let set_path = format!(
        "/api/funds/sets/{}/runs",
        set["id"].as_str().expect("set id")
    );
    for (body, status, expected) in [
        (
            json!({"seeds": ["s1"], "policy": "lifo"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"seeds": [], "policy": "fifo"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"seeds": ["nope"], "policy": "fifo"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"seeds": ["s1"], "policy": "fifo", "cashout": [{"account": "ab"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"seeds": ["s1"], "policy": "fifo", "cashout": [{"account": WALLET, "country": "Singapore"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"seeds": ["s1"], "policy": "fifo", "admin": true}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            json!({"seeds": "s1", "policy": "fifo"}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
    ] {
        let (got, answer) = call(
            &app,
            Method::POST,
            &set_path,
            Some(&analyst),
            Some(body.clone()),
        )
        .await;
        assert_eq!(got, status, "{body}: {answer}");
        if expected == "invalid_field" {
            assert_eq!(code(&answer), expected, "{body}: {answer}");
        }
    }
    let malformed = Request::builder()
        .method(Method::POST)
        .uri(&set_path)
        .header("authorization", format!("Bearer {analyst}"))
        .header("content-type", "application/json")
        .body(Body::from("{\"seeds\": ["))
        .expect("request");
    let (got, answer) = send_to(&app, malformed).await;
    assert_eq!(
        (got, code(&answer)),
        (StatusCode::BAD_REQUEST, "invalid_payload"),
        "{answer}"
    );
    let huge = json!({"seeds": vec!["s".repeat(200); 400], "policy": "fifo"}).to_string();
    let oversize = Request::builder()
        .method(Method::POST)
        .uri(&set_path)
        .header("authorization", format!("Bearer {analyst}"))
        .header("content-type", "application/json")
        .header("content-length", huge.len().to_string())
        .body(Body::from(huge))
        .expect("request");
    let (got, answer) = send_to(&app, oversize).await;
    assert_eq!(
        (got, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{answer}"
    );

    // A replayed run request is a new run, each audited; nothing is changed in place.
    for _ in 0..2 {
        let (got, answer) = call(
            &app,
            Method::POST,
            &set_path,
            Some(&analyst),
            Some(run_body.clone()),
        )
        .await;
        assert_eq!(got, StatusCode::CREATED, "{answer}");
    }
    let (_, runs) = call(
        &app,
        Method::GET,
        &format!("/api/funds/cases/{case_a}/runs"),
        Some(&analyst),
        None,
    )
    .await;
    assert_eq!(runs.as_array().map(Vec::len), Some(2));
    let audited = h
        .audit()
        .await
        .into_iter()
        .filter(|(action, ..)| action == "funds.trace_run")
        .count();
    assert_eq!(audited, 2);
}

/// A body of `n` bytes sent in chunks, with no length declared.
fn futures_stream(n: usize) -> Body {
    let chunk = vec![b'a'; 64 * 1024];
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..n.div_ceil(chunk.len()))
        .map(|_| Ok(chunk.clone()))
        .collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}
