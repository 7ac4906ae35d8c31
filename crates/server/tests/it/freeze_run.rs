//! A freeze request made from a traced endpoint (issue 22 part 4): an analyst uploads transfers, runs a trace, and
//! asks the partner with jurisdiction over the exchange wallet where the money sits to freeze it, naming the run.
//! The evidence is built by the server from the stored run (its digest is the SHA-256 of the canonical summary the
//! partner receives), the amount defaults to the endpoint's holding, and the refusals (not an endpoint, another
//! case's run, unknown run, both evidence and run, wrong role) answer their statuses.

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::protocol::canonical;
use jikimi_server::roles::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::funds::{VICTIM, WALLET, statement, upload_request};
use crate::support::{Harness, send_to};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn digest_of(summary: &Value) -> String {
    Sha256Hex::of(&canonical(summary).expect("canonical"))
        .as_str()
        .to_owned()
}

pub async fn freeze_request_from_a_traced_endpoint(h: &Harness) {
    // This node is Korean; its partner (key 7) is in Singapore, where the exchange holding the wallet is registered.
    let (app, _me, _agreement) = crate::freeze::node(h, "KR", "SG").await;
    let supervisor = h.login_as(Role::Supervisor).await;
    let analyst = h.login_as(Role::Analyst).await;
    let mut cases = Vec::new();
    for title in ["romance scam ring", "another case"] {
        let (status, case) = h
            .call_on(
                &app,
                Method::POST,
                "/api/exchange/cases",
                Some(&supervisor),
                Some(json!({"category": "scam", "content": {"title": title, "entities": [], "events": [], "attachments": []}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{case}");
        cases.push(
            case["id"]
                .as_str()
                .expect("id")
                .parse::<Uuid>()
                .expect("uuid"),
        );
    }
    let (case_a, case_b) = (cases[0], cases[1]);

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
    let set_id = set["id"].as_str().expect("set id").to_owned();
    let (status, run) = h
        .call_on(
            &app,
            Method::POST,
            &format!("/api/funds/sets/{set_id}/runs"),
            Some(&analyst),
            Some(json!({
                "seeds": ["s1"], "policy": "haircut",
                "cashout": [{"account": WALLET, "kind": "exchange", "name": "Golden Lotus", "country": "sg"}],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run_id = run["id"].as_str().expect("run id").to_owned();
    let endpoint = run["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["account"] == WALLET)
        .expect("the wallet is an endpoint")
        .clone();
    let decimals = run["decimals"].as_u64().expect("decimals") as usize;
    let holding = endpoint["holding"].as_str().expect("holding");
    let (whole, frac) = holding.split_once('.').unwrap_or((holding, ""));
    let holding_minor: u128 = format!("{whole}{frac:0<decimals$}").parse().expect("units");

    let body = |change: Value| {
        let mut body = json!({
            "trace_run": run_id, "endpoint": WALLET, "case_id": case_a, "kind": "freeze",
            "deadline": (Utc::now() + Duration::days(3)).to_rfc3339(),
        });
        for (k, v) in change.as_object().expect("object") {
            if v.is_null() {
                body.as_object_mut().expect("object").remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let create = |token: Option<String>, body: Value| {
        let app = app.clone();
        async move {
            h.call_on(
                &app,
                Method::POST,
                "/api/exchange/freeze",
                token.as_deref(),
                Some(body),
            )
            .await
        }
    };

    // The partners the console's dialog offers: those under an agreement permitting freeze requests.
    let dispatcher = h.login_as(Role::Dispatcher).await;
    for (token, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(dispatcher.as_str()), StatusCode::FORBIDDEN),
        (Some(analyst.as_str()), StatusCode::OK),
    ] {
        let (status, answer) = h
            .call_on(
                &app,
                Method::GET,
                "/api/exchange/freeze/partners",
                token,
                None,
            )
            .await;
        assert_eq!(status, want, "{answer}");
        if status == StatusCode::OK {
            assert_eq!(
                answer,
                json!([{"id": crate::freeze::key_id(7), "name": "partner", "country": "SG", "kinds": ["freeze"]}])
            );
        }
    }

    // Refusals first: nothing is signed or sent.
    for (token, body, want, want_code, why) in [
        (
            None,
            body(json!({})),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "no session",
        ),
        (
            Some(dispatcher),
            body(json!({})),
            StatusCode::FORBIDDEN,
            "forbidden",
            "dispatcher",
        ),
        (
            Some(analyst.clone()),
            body(json!({"endpoint": VICTIM})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "the victim's account is not an endpoint",
        ),
        (
            Some(analyst.clone()),
            body(json!({"endpoint": "not an account"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "not an account at all",
        ),
        (
            Some(analyst.clone()),
            body(json!({"endpoint": null})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "no endpoint",
        ),
        (
            Some(analyst.clone()),
            body(json!({"evidence": {"trace": "t-1"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "both evidence and a run",
        ),
        (
            Some(analyst.clone()),
            body(json!({"account": {"type": "iban", "iban": "DE89370400440532013000"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "an account besides the run's endpoint",
        ),
        (
            Some(analyst.clone()),
            body(json!({"case_id": case_b})),
            StatusCode::FORBIDDEN,
            "forbidden",
            "a run of another case",
        ),
        (
            Some(analyst.clone()),
            body(json!({"trace_run": Uuid::now_v7()})),
            StatusCode::NOT_FOUND,
            "trace_run_not_found",
            "unknown run",
        ),
    ] {
        let (status, answer) = create(token, body).await;
        assert_eq!(
            (status, code(&answer)),
            (want, want_code),
            "{why}: {answer}"
        );
    }
    let (_, listed) = h
        .call_on(
            &app,
            Method::GET,
            "/api/exchange/freeze",
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(listed, json!([]), "no refusal left a request");

    // From the run: the account, its jurisdiction, the amount and the evidence all come from the stored run.
    let (status, held) = create(Some(analyst.clone()), body(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let request = &held["request"]["body"];
    assert_eq!(request["recipient"], json!(crate::freeze::key_id(7)));
    assert_eq!(request["account"]["type"], "wallet");
    assert_eq!(request["account"]["exchange"], "Golden Lotus");
    assert_eq!(request["account"]["exchange_country"], "SG");
    assert_eq!(request["amount"]["minor_units"], holding_minor.to_string());
    assert_eq!(request["amount"]["currency"], "USDT");
    let evidence = &request["evidence"];
    assert_eq!(evidence["trace_run"], json!(run_id));
    let summary = &evidence["summary"];
    assert_eq!(summary["trace_run"], json!(run_id));
    assert_eq!(summary["policy"], "haircut");
    assert_eq!(summary["seeds"], json!(["s1"]));
    assert_eq!(summary["set_ids"], json!([set_id]));
    assert_eq!(summary["endpoint"]["account"], WALLET);
    assert_eq!(summary["endpoint"]["balance"], endpoint["holding"]);
    assert_eq!(
        summary["endpoint"]["tainted_received"],
        endpoint["tainted_received"]
    );
    // Every edge that reaches the wallet: the victim to mule 1, mule 1 to mule 2 and to the wallet, mule 2 to it.
    assert_eq!(
        summary["edges"].as_array().map(Vec::len),
        Some(4),
        "{summary}"
    );
    assert_eq!(evidence["attachment"]["sha256"], json!(digest_of(summary)));

    // The stored request carries the same evidence, whose SHA-256 is the signed attachment digest.
    let id = request["id"].as_str().expect("id");
    let (status, stored) = h
        .call_on(
            &app,
            Method::GET,
            &format!("/api/exchange/freeze/{id}"),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let stored_evidence = &stored["request"]["body"]["evidence"];
    assert_eq!(
        stored_evidence["attachment"]["sha256"],
        json!(digest_of(&stored_evidence["summary"]))
    );
    assert_eq!(stored_evidence, evidence);

    // A smaller amount and a confiscation may be asked for from the same endpoint.
    let (status, held) = create(
        Some(analyst.clone()),
        body(json!({"amount_minor": "1", "kind": "confiscation"})),
    )
    .await;
    // The agreement permits freeze requests only.
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{held}");
    let (status, held) = create(Some(analyst.clone()), body(json!({"amount_minor": "1"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    assert_eq!(held["request"]["body"]["amount"]["minor_units"], "1");

    // Each reading of the run for evidence is audited as a run read (three: the refused confiscation read it too),
    // and no audit entry names an account.
    let audit = h.audit().await;
    let reads = audit
        .iter()
        .filter(|(action, ..)| action == "funds.run_read")
        .filter(|entry| format!("{entry:?}").contains("freeze request evidence"))
        .count();
    assert_eq!(reads, 3, "{audit:?}");
    for entry in &audit {
        let text = format!("{entry:?}");
        assert!(
            !text.contains("TR7NHqjeKQ"),
            "the audit log names the wallet: {text}"
        );
    }
}
