//! Border control: `POST /api/border/check` answers "could this traveller be a person on the watchlist?".
//!
//! The watchlist is every person flagged for border control in a shared case (own or received), read from the
//! case store through a [`CaseSource`] and held in memory as a [`jikimi_linkage::watchlist::Watchlist`]. It is
//! loaded at start and rebuilt when the flagged persons change: [`spawn_refresher`] polls the source and
//! rebuilds only when the persons' fingerprint differs, and a linkage run refreshes it too.
//!
//! Only border officers check (see [`crate::roles`]). Every check is audited in the spine audit chain before the
//! answer leaves: a keyed digest of the query (never the query in clear) and the ids of the candidates returned.
//! Nationality is an input of this check only; it is never stored, logged or used elsewhere.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::State;
use jikimi_audit::NewAuditEntry;
use jikimi_linkage::shared::{SharedCase, watchlist_persons};
use jikimi_linkage::watchlist::{Query, Watchlist};
use jikimi_respond::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use utoipa::ToSchema;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// Where shared cases come from: the federation's case store (own and received cases and leads).
///
/// The binary implements it over the exchange store; keeping the server behind this trait means the case store
/// can move (to `crates/store`) without touching the border check or the linkage endpoints.
#[async_trait::async_trait]
pub trait CaseSource: Send + Sync + 'static {
    /// Every live case and lead with the entities it names.
    async fn shared_cases(&self) -> Result<Vec<SharedCase>, String>;
}

/// The loaded watchlist and what it was built from.
#[derive(Debug, Default)]
pub struct LoadedWatchlist {
    /// The index.
    pub watchlist: Watchlist,
    /// SHA-256 of the persons it was built from (to skip rebuilding an unchanged list).
    pub fingerprint: [u8; 32],
    /// When it was built; `None` until the first load.
    pub loaded_at: Option<Timestamp>,
    /// The cases naming each person, by person id.
    pub cases: BTreeMap<String, Vec<String>>,
}

/// The server's watchlist: swapped whole on refresh, so a check never sees a half-built list.
#[derive(Debug, Default)]
pub struct BorderWatchlist {
    current: RwLock<Arc<LoadedWatchlist>>,
}

impl BorderWatchlist {
    /// The list now in force.
    pub fn current(&self) -> Arc<LoadedWatchlist> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, loaded: LoadedWatchlist) {
        let loaded = Arc::new(loaded);
        match self.current.write() {
            Ok(mut guard) => *guard = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
    }
}

/// Rebuilds the watchlist from `cases` if its persons changed; returns whether it was rebuilt.
pub async fn refresh_from(state: &AppState, cases: &[SharedCase]) -> Result<bool, ApiError> {
    let persons = watchlist_persons(cases);
    let encoded = serde_json::to_vec(&persons).map_err(ApiError::internal)?;
    let fingerprint: [u8; 32] = sha2::Sha256::digest(&encoded).into();
    let current = state.border.current();
    if current.loaded_at.is_some() && current.fingerprint == fingerprint {
        return Ok(false);
    }
    let mut case_refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for case in cases {
        for person in case.persons.iter().filter(|p| p.border_control) {
            let refs = case_refs.entry(person.id.clone()).or_default();
            if !refs.contains(&case.case_ref) {
                refs.push(case.case_ref.clone());
            }
        }
    }
    let n = persons.len();
    // Building a large index is CPU work: keep it off the request threads.
    let watchlist = tokio::task::spawn_blocking(move || Watchlist::new(&persons))
        .await
        .map_err(ApiError::internal)?;
    state.border.replace(LoadedWatchlist {
        watchlist,
        fingerprint,
        loaded_at: Some(state.now()),
        cases: case_refs,
    });
    tracing::info!(n_persons = n, "border watchlist loaded");
    Ok(true)
}

/// Reads the case source and rebuilds the watchlist if it changed. Without a source the list stays empty.
pub async fn refresh(state: &AppState) -> Result<bool, ApiError> {
    let Some(source) = state.cases.clone() else {
        return Ok(false);
    };
    let cases = source.shared_cases().await.map_err(ApiError::unavailable)?;
    refresh_from(state, &cases).await
}

/// Refreshes the watchlist now and then every `every` (a cheap read and a fingerprint compare when nothing
/// changed). The task runs until the runtime shuts down.
pub fn spawn_refresher(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = refresh(&state).await {
                tracing::warn!(error = %err, "border watchlist refresh failed; the previous list stays in force");
            }
        }
    })
}

/// A traveller to check. Give at least a name or a passport number.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BorderCheckRequest {
    /// Full name as in the travel document, any order, Latin or Hangul ("RHEE MIN JUN", "이민준").
    pub name: Option<String>,
    /// Given name, if the document separates it (then `name` may be left out).
    pub given_name: Option<String>,
    /// Surname, if the document separates it.
    pub surname: Option<String>,
    /// Date of birth, `YYYY-MM-DD` (day and month swaps and partial dates are tolerated).
    pub date_of_birth: Option<String>,
    /// Nationality (ISO 3166 code): a border-control input only, never stored.
    pub nationality: Option<String>,
    /// Passport or travel document number.
    pub passport_no: Option<String>,
    /// At most this many candidates (default 10, at most 50).
    pub limit: Option<usize>,
}

impl std::fmt::Debug for BorderCheckRequest {
    // The traveller's details never reach a log through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BorderCheckRequest")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// One field's part in a candidate's score.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldEvidence {
    /// `given_name`, `surname`, `date_of_birth`, `nationality` or `passport_no`.
    pub field: String,
    /// How the field agreed, e.g. `exact`, `key` (romanisation variant), `day_month_swapped`, `disagree`.
    pub level: String,
    /// Its weight in bits (negative when it speaks against the match).
    pub weight: f64,
}

/// A watchlist person who may be the traveller.
#[derive(Debug, Serialize, ToSchema)]
pub struct BorderCandidate {
    /// The person's entity id in the case store.
    pub id: String,
    /// The shared cases that flag the person.
    pub cases: Vec<String>,
    /// Sum of the field weights in bits: above 10 is strong, above 20 near certain.
    pub score: f64,
    /// Each compared field's part.
    pub evidence: Vec<FieldEvidence>,
}

/// The answer to a check.
#[derive(Debug, Serialize, ToSchema)]
pub struct BorderCheckResponse {
    /// Candidates, best first.
    pub candidates: Vec<BorderCandidate>,
    /// Persons on the watchlist now.
    pub watchlist_entries: usize,
    /// When the watchlist was last (re)built, RFC 3339; absent if it was never loaded.
    pub watchlist_loaded_at: Option<String>,
}

/// Candidates below this score are not returned: a lone agreeing field is not worth an officer's attention.
const MIN_SCORE_BITS: f64 = 5.0;

const MAX_FIELD_CHARS: usize = 200;

fn field<'a>(name: &str, value: &'a Option<String>) -> Result<Option<&'a str>, ApiError> {
    match value.as_deref().map(str::trim) {
        Some(text) if text.chars().count() > MAX_FIELD_CHARS => Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("{name}: longer than {MAX_FIELD_CHARS} characters"),
        )),
        Some("") | None => Ok(None),
        Some(text) => Ok(Some(text)),
    }
}

/// Check a traveller against the border watchlist (border officers; every check audited).
#[utoipa::path(post, path = "/api/border/check", tag = "border", security(("bearer" = [])), request_body = BorderCheckRequest,
    responses((status = 200, body = BorderCheckResponse), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    staff: Staff,
    Json(req): Json<BorderCheckRequest>,
) -> Result<Json<BorderCheckResponse>, ApiError> {
    staff.require(Permission::CheckWatchlist)?;
    let name = field("name", &req.name)?;
    let given = field("given_name", &req.given_name)?;
    let surname = field("surname", &req.surname)?;
    let dob = field("date_of_birth", &req.date_of_birth)?;
    let nationality = field("nationality", &req.nationality)?;
    let passport = field("passport_no", &req.passport_no)?;
    if name.is_none() && given.is_none() && surname.is_none() && passport.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "give a name or a passport number / 이름 또는 여권 번호를 입력하세요",
        ));
    }
    let limit = req.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "limit: between 1 and 50",
        ));
    }
    let query = Query::new(name, given, surname, dob, nationality, passport);
    let loaded = state.border.current();
    let candidates = loaded.watchlist.check(&query, limit, MIN_SCORE_BITS);

    // The query is audited as a keyed digest: the same traveller checked twice gives the same digest (so checks
    // can be correlated by whoever holds the key), but the log does not say who was checked.
    let canonical = serde_json::to_string(&query).map_err(ApiError::internal)?;
    let digest = state.blind.digest("border.check", &canonical);
    let ids: Vec<&str> = candidates.iter().map(|c| c.id.as_str()).collect();
    let entry = NewAuditEntry::new(
        state.now().as_unix_ms(),
        staff.actor().to_string(),
        "border.checked",
        "border/watchlist",
        "border check",
    )
    .with_detail(&serde_json::json!({
        "query_digest": hex::encode(digest.0),
        "candidate_ids": ids,
        "watchlist_entries": loaded.watchlist.len(),
    }));
    // Audit first: if the entry cannot be written, nothing is disclosed.
    state.store.append_audit(vec![entry]).await?;
    metrics::counter!("jikimi_border_checks_total").increment(1);

    Ok(Json(BorderCheckResponse {
        candidates: candidates
            .into_iter()
            .map(|c| BorderCandidate {
                cases: loaded.cases.get(&c.id).cloned().unwrap_or_default(),
                id: c.id,
                score: c.score,
                evidence: c
                    .evidence
                    .into_iter()
                    .map(|e| FieldEvidence {
                        field: e.field,
                        level: e.level,
                        weight: e.weight,
                    })
                    .collect(),
            })
            .collect(),
        watchlist_entries: loaded.watchlist.len(),
        watchlist_loaded_at: loaded.loaded_at.map(crate::dto::rfc3339),
    }))
}
