//! Server-side evidence triage (issue 19, part 6): `POST /api/identify/triage` runs `jikimi identify triage`'s
//! engine ([`jikimi_mediahash::triage`]) in the background over a seized directory on the server, against the
//! server's own hash banks; `GET /api/identify/triage/{id}` answers its progress and totals and
//! `GET /api/identify/triage/{id}/report` its report.
//!
//! **Where it may read.** Only under the evidence root the operator configured (`--evidence-root`); a request names a
//! path relative to it. The path is checked before it touches the file system (relative, no `..`, no root or drive
//! prefix, no control character), then canonicalised, and refused unless the canonical directory is still inside
//! the canonical root, so neither `..` nor a symbolic link leads out of it. (The walk itself never follows links.)
//! Without a root, these endpoints answer `not_enabled`.
//!
//! **What it writes.** The engine's journal and report go to a private temporary directory (mode 0700) removed when
//! the job ends; the report is kept in memory for the API, so jobs do not outlive the process. Images are read,
//! hashed and dropped by the engine: no pixel is written anywhere, and the report names files and hashes only.
//!
//! **Banks.** Every enabled positive bank's PDQ contents, with their category and series, read from the store when
//! the job starts; negative banks' suppression and vPDQ contents are not applied here (a seized video's frames are
//! matched against PDQ contents, as the command does). One job runs at a time per server.
//!
//! **Audit.** Starting a job (who, which directory, which banks), its end (totals), and every read of a report.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use jikimi_audit::NewAuditEntry;
use jikimi_mediahash::list::ListEntry;
use jikimi_mediahash::triage::bank::Bank as TriageBank;
use jikimi_mediahash::triage::report::{Report, Totals};
use jikimi_mediahash::triage::{Progress, TriageOptions, triage_with_banks};
use jikimi_store::identify::SignalType;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::identify::invalid;
use crate::roles::Permission;
use crate::state::AppState;

/// Longest relative path accepted, in bytes.
const MAX_PATH: usize = 1024;
/// Finished jobs kept in memory (the oldest finished is forgotten past this).
const MAX_JOBS: usize = 100;
/// Contents read from the store per page when a job starts.
const PAGE: u32 = 10_000;

/// A triage to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartTriage {
    /// The seized directory, relative to the server's evidence root (`/` separated, no `..`).
    pub path: String,
    /// Also match the 8 rotations and flips of each image (default false).
    pub dihedral: Option<bool>,
}

/// How far a job is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TriageProgress {
    /// Files found in the directory tree (0 until the walk is done).
    pub files: u64,
    /// Files to hash.
    pub to_hash: u64,
    /// Files hashed so far.
    pub hashed: u64,
}

/// A triage job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TriageJobView {
    pub id: Uuid,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// The directory, relative to the evidence root.
    pub path: String,
    /// The banks matched against, by name.
    pub banks: Vec<String>,
    pub started_by: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, once finished.
    pub finished_at: Option<String>,
    pub progress: TriageProgress,
    /// When done: files, known and unknown items, the share pre-categorised.
    #[schema(value_type = Option<Object>)]
    pub totals: Option<Totals>,
    /// When failed: why (never a file's content).
    pub error: Option<String>,
}

struct Job {
    view: TriageJobView,
    progress: Arc<Progress>,
    report: Option<Arc<Report>>,
}

impl Job {
    fn snapshot(&self) -> TriageJobView {
        let mut view = self.view.clone();
        if view.state == "running" {
            view.progress = TriageProgress {
                files: self.progress.files.load(Ordering::Relaxed),
                to_hash: self.progress.to_hash.load(Ordering::Relaxed),
                hashed: self.progress.hashed.load(Ordering::Relaxed),
            };
        }
        view
    }
}

/// The jobs of this server, in memory. Cheap to clone.
#[derive(Clone, Default)]
pub struct Jobs(Arc<Mutex<BTreeMap<Uuid, Job>>>);

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Uuid, Job>> {
        // A panic while holding the lock leaves the map consistent (every change is one insert or assignment).
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Checks `relative` and resolves it under `root`: the canonical directory, or why not.
pub fn resolve(root: &std::path::Path, relative: &str) -> Result<PathBuf, ApiError> {
    if relative.len() > MAX_PATH || relative.chars().any(char::is_control) {
        return Err(invalid(format!(
            "path: at most {MAX_PATH} bytes, no control characters"
        )));
    }
    let rel = std::path::Path::new(relative);
    for component in rel.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(invalid("path: relative to the evidence root, without `..`"));
            }
        }
    }
    let root = root
        .canonicalize()
        .map_err(|_| ApiError::unavailable("the evidence root cannot be read"))?;
    let dir = root
        .join(rel)
        .canonicalize()
        .map_err(|_| invalid("path: no such directory under the evidence root"))?;
    if !dir.starts_with(&root) {
        return Err(invalid("path: must stay inside the evidence root"));
    }
    if !dir.is_dir() {
        return Err(invalid("path: not a directory"));
    }
    Ok(dir)
}

/// Every enabled positive bank's PDQ contents as triage banks.
async fn load_banks(state: &AppState, dihedral: bool) -> Result<Vec<TriageBank>, ApiError> {
    let banks: HashMap<Uuid, jikimi_store::identify::Bank> = state
        .store
        .list_banks()
        .await?
        .into_iter()
        .filter(|b| b.enabled && !b.negative)
        .map(|b| (b.id, b))
        .collect();
    let mut entries: BTreeMap<Uuid, Vec<ListEntry>> = BTreeMap::new();
    let mut after = None;
    loop {
        let page = state.store.content_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for c in page {
            if !c.enabled || c.signal_type != SignalType::Pdq || !banks.contains_key(&c.bank_id) {
                continue;
            }
            let Ok(hash) = c.signal.parse() else { continue };
            let mut metadata = BTreeMap::new();
            if let Some(category) = c.category {
                metadata.insert("category".to_string(), category);
            }
            if let Some(series) = c.series {
                metadata.insert("series".to_string(), series);
            }
            entries.entry(c.bank_id).or_default().push(ListEntry {
                hash,
                id: Some(c.id.to_string()),
                tags: Vec::new(),
                metadata,
            });
        }
    }
    let mut out = Vec::new();
    for (id, bank) in &banks {
        let list = entries.remove(id).unwrap_or_default();
        out.push(
            TriageBank::from_entries(
                &bank.name,
                &format!("bank/{id}"),
                bank.match_distance,
                dihedral,
                list,
            )
            .map_err(ApiError::internal)?,
        );
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

async fn audit(
    state: &AppState,
    actor: String,
    action: &str,
    id: Uuid,
    reason: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = NewAuditEntry::new(
        state.now().as_unix_ms(),
        actor,
        action,
        format!("identify_triage/{id}"),
        reason,
    )
    .with_detail(&detail);
    state.store.append_audit(vec![entry]).await?;
    Ok(())
}

fn not_enabled() -> ApiError {
    ApiError::new(
        ErrorCode::NotEnabled,
        "server-side triage is not enabled: the operator configures an evidence root (--evidence-root)",
    )
}

/// Start a triage of a seized directory under the server's evidence root, in the background (analysts,
/// supervisors; audited). Answers at once with the job; poll `GET /api/identify/triage/{id}`.
#[utoipa::path(post, path = "/api/identify/triage", tag = "identify", security(("bearer" = [])),
    request_body = StartTriage,
    responses((status = 202, body = TriageJobView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "not_enabled: no evidence root is configured"),
        (status = 409, body = crate::error::ErrorBody, description = "conflict: a triage job is running"),
        (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: the path is not a directory inside the evidence root")))]
pub async fn start(
    State(state): State<AppState>,
    staff: Staff,
    Json(body): Json<StartTriage>,
) -> Result<(StatusCode, Json<TriageJobView>), ApiError> {
    staff.require(Permission::Identify)?;
    let Some(root) = state.config.identify.evidence_root.clone() else {
        return Err(not_enabled());
    };
    let dir = resolve(&root, &body.path)?;
    let dihedral = body.dihedral.unwrap_or(false);
    let banks = load_banks(&state, dihedral).await?;
    let id = Uuid::now_v7();
    let view = TriageJobView {
        id,
        state: "running".into(),
        path: body.path.clone(),
        banks: banks.iter().map(|b| b.name.clone()).collect(),
        started_by: staff.username.clone(),
        started_at: crate::dto::rfc3339(state.now()),
        finished_at: None,
        progress: TriageProgress {
            files: 0,
            to_hash: 0,
            hashed: 0,
        },
        totals: None,
        error: None,
    };
    let progress = Arc::new(Progress::default());
    {
        let mut jobs = state.triage.lock();
        if jobs.values().any(|j| j.view.state == "running") {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "a triage job is running: wait for it to finish",
            ));
        }
        if jobs.len() >= MAX_JOBS
            && let Some(oldest) = jobs.keys().next().copied()
        {
            jobs.remove(&oldest);
        }
        jobs.insert(
            id,
            Job {
                view: view.clone(),
                progress: progress.clone(),
                report: None,
            },
        );
    }
    let started = audit(
        &state,
        staff.actor().to_string(),
        "identify.triage_started",
        id,
        "evidence triage",
        serde_json::json!({"path": body.path, "banks": view.banks, "dihedral": dihedral}),
    )
    .await;
    if let Err(err) = started {
        // Not audited: the job never started.
        state.triage.lock().remove(&id);
        return Err(err);
    }
    tokio::spawn(run(
        state.clone(),
        id,
        dir,
        banks,
        progress,
        staff.actor().to_string(),
    ));
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Runs one job to its end and records it.
async fn run(
    state: AppState,
    id: Uuid,
    dir: PathBuf,
    banks: Vec<TriageBank>,
    progress: Arc<Progress>,
    actor: String,
) {
    let watched = progress.clone();
    // Named after the job, so an operator (or a test) can tell whose it is.
    let work_prefix = format!("jikimi-triage-{id}-");
    let outcome = tokio::task::spawn_blocking(move || {
        // The engine's journal and report files: private, and removed with the directory when this returns.
        let work = tempfile::Builder::new()
            .prefix(&work_prefix)
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let options = TriageOptions {
            root: dir,
            banks: Vec::new(),
            default_distance: crate::identify::DEFAULT_MATCH_DISTANCE,
            out: work.path().join("report.json"),
            html: None,
            // Half the cores: the server keeps answering alerts while a seizure is hashed.
            threads: Some(std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))),
            progress: false,
        };
        triage_with_banks(&options, &banks, Some(&watched))
            .map(|run| run.report)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(format!("the triage task stopped: {e}")));
    let finished_at = crate::dto::rfc3339(state.now());
    let detail = match &outcome {
        Ok(report) => serde_json::json!({"totals": report.totals}),
        Err(_) => serde_json::json!({"failed": true}),
    };
    {
        let mut jobs = state.triage.lock();
        if let Some(job) = jobs.get_mut(&id) {
            job.view.progress = TriageProgress {
                files: progress.files.load(Ordering::Relaxed),
                to_hash: progress.to_hash.load(Ordering::Relaxed),
                hashed: progress.hashed.load(Ordering::Relaxed),
            };
            job.view.finished_at = Some(finished_at);
            match outcome {
                Ok(report) => {
                    job.view.state = "done".into();
                    job.view.totals = Some(report.totals.clone());
                    job.report = Some(Arc::new(report));
                }
                Err(error) => {
                    tracing::warn!(job = %id, error = %error, "identify: a triage job failed");
                    job.view.state = "failed".into();
                    job.view.error = Some(error);
                }
            }
        }
    }
    if let Err(err) = audit(
        &state,
        actor,
        "identify.triage_finished",
        id,
        "evidence triage finished",
        detail,
    )
    .await
    {
        tracing::error!(job = %id, error = %err.message, "identify: the end of a triage job could not be audited");
    }
}

fn job_view(state: &AppState, id: Uuid) -> Result<(TriageJobView, Option<Arc<Report>>), ApiError> {
    let jobs = state.triage.lock();
    let job = jobs
        .get(&id)
        .ok_or_else(|| ApiError::new(ErrorCode::TriageJobNotFound, "no such triage job"))?;
    Ok((job.snapshot(), job.report.clone()))
}

/// A triage job: its state, progress and, when done, its totals (analysts, supervisors).
#[utoipa::path(get, path = "/api/identify/triage/{id}", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the job")),
    responses((status = 200, body = TriageJobView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<TriageJobView>, ApiError> {
    staff.require(Permission::Identify)?;
    Ok(Json(job_view(&state, id)?.0))
}

/// A finished triage job's report, as `jikimi identify triage --out` writes it: known items by bank, category and
/// series, unknown items, files set aside, the share pre-categorised; paths and hashes, no image content
/// (analysts, supervisors; every read audited).
#[utoipa::path(get, path = "/api/identify/triage/{id}/report", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the job")),
    responses((status = 200, body = Object, description = "the triage report (JSON)"),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "conflict: the job is running or failed")))]
pub async fn report(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<axum::response::Response, ApiError> {
    staff.require(Permission::Identify)?;
    let (view, report) = job_view(&state, id)?;
    let Some(report) = report else {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("the job is {}: no report", view.state),
        ));
    };
    audit(
        &state,
        staff.actor().to_string(),
        "identify.triage_report_read",
        id,
        "evidence triage report",
        serde_json::json!({"path": view.path}),
    )
    .await?;
    let body = serde_json::to_vec(report.as_ref()).map_err(ApiError::internal)?;
    Ok(axum::response::IntoResponse::into_response((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )))
}
