//! Border watchlist checks and entity linkage over shared cases (issue 11), with the federation's real case store
//! (the store crate's SQLite, which implements the exchange store) as the case source and the spine store (SQLite or PostgreSQL) for links and audit.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use chrono::Utc;
use ed25519_dalek::SigningKey;
use jikimi_exchange::domain::{AgencyId, CaseCategory, Content, Entity, Record, RecordBody};
use jikimi_exchange::identifiers::{AccountNumber, PhoneE164};
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use jikimi_exchange::store::ExchangeStore;
use jikimi_linkage::shared::SharedCase;
use jikimi_server::border::{self, CaseSource};
use jikimi_server::roles::Role;
use jikimi_server::router;
use jikimi_server::state::AppState;
use jikimi_store::{SqliteStore, Store};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::Harness;

/// The exchange store as the server's case source, as the binary wires it.
struct ExchangeCases(SqliteStore);

#[async_trait::async_trait]
impl CaseSource for ExchangeCases {
    async fn shared_cases(&self) -> Result<Vec<SharedCase>, String> {
        jikimi_federation::linkage_feed::shared_cases(&self.0)
            .await
            .map_err(|e| e.to_string())
    }
}

struct Cases {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    origin: AgencyId,
}

impl Cases {
    async fn new() -> Cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("exchange.sqlite");
        let store = SqliteStore::open(&path)
            .await
            .expect("open exchange store")
            .with_keyring(jikimi_store::testing::test_keyring());
        store.migrate().await.expect("migrate exchange store");
        let key = SigningKey::from_bytes(&jikimi_server::password::os_random());
        Cases {
            _dir: dir,
            store,
            origin: AgencyId::from_key(&key.verifying_key()),
        }
    }

    /// Stores a case naming `entities`; returns its id.
    async fn put(&self, title: &str, entities: Vec<Entity>) -> Uuid {
        let record = Record {
            id: Uuid::now_v7(),
            version: 1,
            origin: self.origin.clone(),
            category: CaseCategory::Scam,
            marking: Marking {
                tlp: Tlp::Green,
                handling: HandlingCode::H0,
                source: SourceGrade::A,
                information: InfoGrade::One,
            },
            updated_at: Utc::now(),
            redacted: Default::default(),
            body: RecordBody::Case(Content {
                title: title.into(),
                entities,
                ..Content::default()
            }),
        };
        self.store.put_local(&record).await.expect("put case");
        record.id
    }

    /// The harness's state with this case store as its source, and a router over it.
    async fn serve(&self, h: &Harness) -> (AppState, Router) {
        let store = SqliteStore::open(std::path::Path::new(&self.store_path()))
            .await
            .expect("reopen exchange store")
            .with_keyring(jikimi_store::testing::test_keyring());
        let mut state = h.state.clone();
        state.cases = Some(Arc::new(ExchangeCases(store)));
        state.border = Arc::new(border::BorderWatchlist::default());
        assert!(border::refresh(&state).await.expect("watchlist loads"));
        (state.clone(), crate::support::recorded(router(state)))
    }

    fn store_path(&self) -> String {
        self._dir
            .path()
            .join("exchange.sqlite")
            .to_string_lossy()
            .into_owned()
    }
}

fn person(name: &str, born: &str, passport: Option<&str>, border_control: bool) -> Entity {
    Entity::Person {
        id: Uuid::now_v7(),
        name: name.into(),
        nationality: Some("KR".into()),
        born: chrono::NaiveDate::parse_from_str(born, "%Y-%m-%d").ok(),
        passport: passport.map(str::to_string),
        border_control,
    }
}

fn phone(number: &str) -> Entity {
    Entity::Phone {
        id: Uuid::now_v7(),
        number: PhoneE164::parse(number, Some("KR")).expect("phone"),
    }
}

fn account(number: &str) -> Entity {
    Entity::BankAccount {
        id: Uuid::now_v7(),
        bank: None,
        country: Some("KR".into()),
        account: AccountNumber::parse(number).expect("account"),
    }
}

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

/// A border officer checks a traveller written differently from the case; the flagged person is found with its
/// evidence, the check is audited as a digest with the result ids, and the watchlist follows case changes.
pub async fn border_check_finds_flagged_persons_and_is_audited(h: &Harness) {
    let cases = Cases::new().await;
    let lee = person("Lee Min-jun", "1990-03-04", Some("M12345678"), true);
    let lee_id = lee.id().to_string();
    let case_a = cases
        .put("recruiter", vec![lee, phone("010-1234-5678")])
        .await;
    cases
        .put(
            "victim",
            vec![person("Park Ji-ho", "1975-01-01", None, false)],
        )
        .await;
    let (state, app) = cases.serve(h).await;
    assert_eq!(state.border.current().watchlist.len(), 1);

    let officer = h.login_as(Role::BorderOfficer).await;
    let traveller = json!({
        "name": "RHEE MIN JUN",
        "date_of_birth": "1990-04-03",
        "nationality": "KR",
        "passport_no": "m1234 5678",
    });
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            "/api/border/check",
            Some(&officer),
            Some(traveller.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["watchlist_entries"], 1);
    let best = &body["candidates"][0];
    assert_eq!(best["id"], lee_id.as_str());
    assert_eq!(best["cases"], json!([case_a.to_string()]));
    assert!(best["score"].as_f64().unwrap_or_default() > 20.0, "{body}");
    let evidence = best["evidence"].as_array().expect("evidence");
    let level = |field: &str| {
        evidence
            .iter()
            .find(|e| e["field"] == field)
            .and_then(|e| e["level"].as_str())
            .map(str::to_string)
    };
    assert_eq!(level("passport_no").as_deref(), Some("exact"));
    assert!(level("surname").is_some() && level("date_of_birth").is_some());

    // Audited: a digest of the query and the ids returned, never the traveller's details.
    let audit = h.audit().await;
    let checks: Vec<_> = audit
        .iter()
        .filter(|(action, ..)| action == "border.checked")
        .collect();
    assert_eq!(checks.len(), 1);
    let (_, _, actor, detail) = checks[0];
    assert!(actor.starts_with("staff:border_officer"), "{actor}");
    let detail: Value = serde_json::from_str(detail).expect("detail json");
    assert_eq!(detail["candidate_ids"], json!([lee_id]));
    assert_eq!(detail["query_digest"].as_str().map(str::len), Some(64));
    let everything = format!("{audit:?}").to_uppercase();
    for secret in ["RHEE", "MIN JUN", "M12345678", "1990-0"] {
        assert!(!everything.contains(secret), "{secret} in the audit log");
    }
    // The same traveller gives the same digest (checks can be correlated by the key holder).
    h.call_on(
        &app,
        Method::POST,
        "/api/border/check",
        Some(&officer),
        Some(traveller),
    )
    .await;
    let digests: Vec<String> = h
        .audit()
        .await
        .into_iter()
        .filter(|(action, ..)| action == "border.checked")
        .filter_map(|(.., detail)| {
            serde_json::from_str::<Value>(&detail).ok()?["query_digest"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(digests.len(), 2);
    assert_eq!(digests[0], digests[1]);

    // Roles and bad input.
    let analyst = h.login_as(Role::Analyst).await;
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            "/api/border/check",
            Some(&analyst),
            Some(json!({"name": "Lee"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            "/api/border/check",
            None,
            Some(json!({"name": "Lee"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            "/api/border/check",
            Some(&officer),
            Some(json!({"date_of_birth": "1990-03-04"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field"))
    );
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            "/api/border/check",
            Some(&officer),
            Some(json!({"name": "Lee", "religion": "x"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, Some("invalid_payload"))
    );

    // A newly flagged person reaches the list on refresh; an unchanged list is not rebuilt.
    let kim = person("김서연", "1988-11-02", None, true);
    let kim_id = kim.id().to_string();
    cases.put("courier", vec![kim]).await;
    assert!(border::refresh(&state).await.expect("refresh"));
    assert!(!border::refresh(&state).await.expect("refresh"));
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            "/api/border/check",
            Some(&officer),
            Some(json!({"surname": "KIM", "given_name": "SEOYEON", "date_of_birth": "1988-11-02"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["watchlist_entries"], 2);
    assert_eq!(body["candidates"][0]["id"], kim_id.as_str());
}

/// An analyst links persons, phones and accounts across cases; rejects a link with a reason (audited); a later
/// run keeps the rejection and does not propose the pair again.
pub async fn linkage_run_links_entities_and_respects_decisions(h: &Harness) {
    let analyst = h.login_as(Role::Analyst).await;
    // Without a case store the run is refused as not enabled here, not a silent no-op.
    let (status, body) = h
        .call(Method::POST, "/api/linkage/run", Some(&analyst), None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, Some("not_enabled"))
    );

    let cases = Cases::new().await;
    cases
        .put(
            "korea",
            vec![
                person("Lee Min-jun", "1990-03-04", None, false),
                phone("010-1234-5678"),
                account("110-234-567890"),
            ],
        )
        .await;
    cases
        .put(
            "cambodia",
            vec![
                person("Yi Minjun", "1990-03-04", None, false),
                phone("+82 10 1234 5678"),
                account("110234567890"),
                person("Park Ji-ho", "1975-01-01", None, false),
            ],
        )
        .await;
    let (_state, app) = cases.serve(h).await;

    let officer = h.login_as(Role::BorderOfficer).await;
    let (status, _) = h
        .call_on(&app, Method::POST, "/api/linkage/run", Some(&officer), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = h
        .call_on(&app, Method::POST, "/api/linkage/run", Some(&analyst), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cases"], 2);
    assert_eq!(body["added"], 3, "{body}");

    let (status, links) = h
        .call_on(
            &app,
            Method::GET,
            "/api/linkage/links",
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{links}");
    let links = links.as_array().expect("links").clone();
    let kinds: Vec<&str> = links.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(kinds, ["account", "person", "phone"]);
    let person_link = &links[1];
    assert_eq!(person_link["status"], "proposed");
    assert!(
        person_link["evidence"]["fields"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    );
    assert_eq!(
        person_link["evidence"]["cases"].as_array().map(Vec::len),
        Some(2)
    );
    // Analysts see ids and evidence levels, never names.
    assert!(!links.iter().any(|l| l.to_string().contains("Min")));
    let id = person_link["id"].as_str().expect("id").to_string();

    let path = format!("/api/linkage/links/{id}/decision");
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            &path,
            Some(&analyst),
            Some(json!({"status": "rejected", "reason": ""})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, Some("reason_required"))
    );
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            &format!("/api/linkage/links/{}/decision", Uuid::now_v7()),
            Some(&analyst),
            Some(json!({"status": "rejected", "reason": "different people"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, Some("link_not_found"))
    );
    let (status, body) = h
        .call_on(
            &app,
            Method::POST,
            &path,
            Some(&analyst),
            Some(json!({"status": "rejected", "reason": "brothers, different passports"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "rejected");

    // The next run scores the pair again but keeps the analyst's decision.
    let (status, body) = h
        .call_on(&app, Method::POST, "/api/linkage/run", Some(&analyst), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["added"].as_u64(), body["withdrawn"].as_u64()),
        (Some(0), Some(0)),
        "{body}"
    );
    let (_, rejected) = h
        .call_on(
            &app,
            Method::GET,
            "/api/linkage/links?status=rejected",
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(rejected.as_array().map(Vec::len), Some(1));
    assert_eq!(rejected[0]["id"], id.as_str());
    let (status, body) = h
        .call_on(
            &app,
            Method::GET,
            "/api/linkage/links?status=maybe",
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field"))
    );

    let audit = h.audit().await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|(action, ..)| action.as_str())
        .filter(|a| a.starts_with("linkage."))
        .collect();
    assert_eq!(actions, ["linkage.run", "linkage.decided", "linkage.run"]);
    let decided = audit
        .iter()
        .find(|(action, ..)| action == "linkage.decided")
        .expect("decision audited");
    assert_eq!(decided.1, "brothers, different passports");
    assert!(decided.2.starts_with("staff:analyst"));
}
