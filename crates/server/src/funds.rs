//! Follow the money in the server (issue 22, part 3): analysts attach transfer sets to a cooperation case, trace
//! them, and read the flow graph and the endpoints holding the money; [`crate::funds_links`] resolves endpoints
//! against the entities of shared cases (part 5).
//!
//! Analysts and supervisors only ([`Permission::TraceFunds`]). Account identifiers are personal data: uploads are
//! sealed per transfer before the store sees them (with a blind digest per account), a run's result is sealed
//! whole, and every opening of either is audited before the answer leaves: uploads (`funds.set_added`) and runs
//! (`funds.trace_run`) in the store's own transaction, reads of transfers (`funds.transfers_read`), of a run
//! (`funds.run_read`) and of its controllers (`funds.controllers_read`) as entries of their own. Nothing of an
//! upload is silently dropped: bad rows come back with their line and reason, and are counted with the set.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jikimi_audit::NewAuditEntry;
use jikimi_exchange::domain::RecordBody;
use jikimi_funds::ingest::CurrencyOptions;
use jikimi_funds::memory::{LayeredFlow, SourceFormat, import_bytes};
use jikimi_funds::trace::Policy;
use jikimi_store::funds::{NewTraceRun, NewTransferSet, TraceRun, TransferSet, run_subject};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::funds_run::{CashoutPoint, Endpoint, RunResult, RunSummary};
use crate::roles::Permission;
use crate::state::AppState;

/// The largest upload accepted (a statement or export file), whatever the server's general body limit.
pub const UPLOAD_LIMIT_BYTES: usize = 16 << 20;
/// The most transfers one set may hold: a set is traced in memory, on request.
pub const MAX_TRANSFERS: usize = 200_000;
const MAX_SEEDS: usize = 10_000;
const MAX_CASHOUT: usize = 10_000;
/// Bad rows listed with an upload (all are counted).
const MAX_BAD_ROWS_SHOWN: usize = 200;

/// Whether a request is a transfer-set upload (it gets [`UPLOAD_LIMIT_BYTES`] instead of the general limit).
pub fn is_upload(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::POST
        && path.starts_with("/api/funds/cases/")
        && path.ends_with("/sets")
}

/// A cooperation case as analysts see it here: what to attach transfers to (no entities).
#[derive(Debug, Serialize, ToSchema)]
pub struct FundsCase {
    pub case_id: Uuid,
    pub title: String,
    /// The case's category (`scam`, ...).
    pub category: String,
    /// True if another agency shared it with this one.
    pub received: bool,
    /// Transfer sets attached.
    pub sets: usize,
}

/// A bad row of an upload: where and why (the reason never repeats an account).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

/// The stored import report of a set.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Report {
    other_currency: u64,
    bad_row_samples: Vec<BadRow>,
}

/// A transfer set (no account in it).
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferSetView {
    pub id: Uuid,
    pub case_id: Uuid,
    pub name: String,
    /// `csv`, `camt053`, `tron_export`, `ethereum_export` or `bitcoin_export`.
    pub format: String,
    pub currency: String,
    pub decimals: u32,
    /// Rows read, of which `transfers` were stored, `bad_rows` refused and `other_currency` in another currency.
    pub rows: u64,
    pub transfers: u64,
    pub bad_rows: u64,
    pub other_currency: u64,
    /// The first bad rows, by line.
    pub bad_row_samples: Vec<BadRow>,
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<TransferSet> for TransferSetView {
    fn from(set: TransferSet) -> TransferSetView {
        let report: Report = serde_json::from_str(&set.report).unwrap_or_default();
        TransferSetView {
            id: set.id,
            case_id: set.case_id,
            name: set.name,
            format: set.format,
            currency: set.currency,
            decimals: set.decimals,
            rows: set.rows,
            transfers: set.transfers,
            bad_rows: set.bad_rows,
            other_currency: report.other_currency,
            bad_row_samples: report.bad_row_samples,
            created_by: set.created_by,
            created_at: crate::dto::rfc3339(set.created_at),
        }
    }
}

/// Query of an upload.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadParams {
    /// `csv` (default), `camt053`, `tron_export`, `ethereum_export` or `bitcoin_export`.
    pub format: Option<String>,
    /// A label (a file name), at most 120 characters.
    pub name: Option<String>,
    /// Trace only this currency (rows in others are counted); required when the file has no currency column.
    pub currency: Option<String>,
}

fn cooperation(state: &AppState) -> Result<(), ApiError> {
    if state.exchange.is_none() {
        return Err(ApiError::new(
            ErrorCode::NotEnabled,
            "no case store is configured for this server (cooperation is off)",
        ));
    }
    Ok(())
}

/// Checks that `case_id` is a live case of the case store.
async fn require_case(state: &AppState, case_id: Uuid) -> Result<(), ApiError> {
    let record = state.store.record(case_id).await?;
    match record.map(|s| s.record.body) {
        Some(RecordBody::Case(_)) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::RecordNotFound,
            format!("case {case_id} not found"),
        )),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, message)
}

/// Appends one audit entry for a read of sealed money data; if it cannot be written, nothing is disclosed.
pub(crate) async fn audit_read(
    state: &AppState,
    staff: &Staff,
    action: &str,
    subject: String,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = NewAuditEntry::new(
        state.now().as_unix_ms(),
        staff.actor().to_string(),
        action,
        subject,
        "follow the money",
    )
    .with_detail(&detail);
    state.store.append_audit(vec![entry]).await?;
    Ok(())
}

/// Cases transfer sets can be attached to (analysts, supervisors).
#[utoipa::path(get, path = "/api/funds/cases", tag = "funds", security(("bearer" = [])),
    responses((status = 200, body = Vec<FundsCase>), (status = 403, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn list_cases(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<FundsCase>>, ApiError> {
    staff.require(Permission::TraceFunds)?;
    cooperation(&state)?;
    let mut cases = Vec::new();
    for stored in state.store.records().await? {
        let record = stored.record;
        let RecordBody::Case(content) = &record.body else {
            continue;
        };
        let sets = state.store.list_transfer_sets(record.id).await?.len();
        cases.push(FundsCase {
            case_id: record.id,
            title: content.title.clone(),
            category: serde_json::to_value(record.category)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            received: stored.provenance.received_from.is_some(),
            sets,
        });
    }
    Ok(Json(cases))
}

/// Upload transfers to a case: CSV, camt.053 or a token-transfer export in the body, at most 16 MiB and
/// 200,000 transfers (analysts, supervisors; audited). Bad rows are answered by line and counted; the rest is
/// stored, accounts sealed.
#[utoipa::path(post, path = "/api/funds/cases/{case_id}/sets", tag = "funds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = "the cooperation case"), UploadParams),
    request_body(content = String, content_type = "text/csv", description = "the file's bytes"),
    responses((status = 201, body = TransferSetView), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    staff: Staff,
    Path(case_id): Path<Uuid>,
    Query(params): Query<UploadParams>,
    body: Body,
) -> Result<(StatusCode, Json<TransferSetView>), ApiError> {
    staff.require(Permission::TraceFunds)?;
    cooperation(&state)?;
    let format = match params.format.as_deref() {
        None => SourceFormat::Csv,
        Some(f) => SourceFormat::parse(f).ok_or_else(|| {
            invalid("format: csv, camt053, tron_export, ethereum_export or bitcoin_export")
        })?,
    };
    let name = params.name.unwrap_or_else(|| "upload".to_string());
    if name.trim().is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        return Err(invalid("name: 1 to 120 characters, no control characters"));
    }
    let currency = match params.currency {
        Some(c) if c.len() > 12 || !c.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            return Err(invalid("currency: a code of letters and digits"));
        }
        c => c,
    };
    require_case(&state, case_id).await?;
    let bytes = axum::body::to_bytes(body, UPLOAD_LIMIT_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the upload is larger than 16 MiB: split the file",
            )
        })?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidPayload,
            "the upload is empty",
        ));
    }
    let set_id = Uuid::now_v7();
    let (keys, blind) = (state.keyring.clone(), state.blind.clone());
    let source = name.clone();
    let (imported, sealed) = tokio::task::spawn_blocking(move || {
        let imported = import_bytes(
            &bytes,
            format,
            &source,
            &CurrencyOptions {
                currency,
                decimals: None,
            },
        )
        .map_err(|e| ApiError::new(ErrorCode::InvalidPayload, e.to_string()))?;
        if imported.transfers.len() > MAX_TRANSFERS {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("more than {MAX_TRANSFERS} transfers: split the file"),
            ));
        }
        if imported.transfers.is_empty() {
            let first: Vec<String> = imported
                .report
                .bad_row_samples
                .iter()
                .take(5)
                .map(|b| format!("line {}: {}", b.line, b.reason))
                .collect();
            return Err(ApiError::new(
                ErrorCode::InvalidPayload,
                format!(
                    "no transfer in the upload ({} rows, {} bad{}{})",
                    imported.report.rows,
                    imported.report.bad_rows,
                    if first.is_empty() { "" } else { "; " },
                    first.join("; ")
                ),
            ));
        }
        let sealed = crate::funds_run::seal_transfers(&keys, &blind, set_id, &imported.transfers)
            .map_err(ApiError::internal)?;
        Ok::<_, ApiError>((imported, sealed))
    })
    .await
    .map_err(ApiError::internal)??;
    let report = Report {
        other_currency: imported.report.other_currency,
        bad_row_samples: imported
            .report
            .bad_row_samples
            .iter()
            .take(MAX_BAD_ROWS_SHOWN)
            .map(|b| BadRow {
                line: b.line,
                reason: b.reason.clone(),
            })
            .collect(),
    };
    let set = NewTransferSet {
        id: set_id,
        case_id,
        name,
        format: format.as_str().to_string(),
        currency: imported.currency.clone(),
        decimals: imported.decimals,
        rows: imported.report.rows,
        bad_rows: imported.report.bad_rows,
        report: serde_json::to_string(&report).map_err(ApiError::internal)?,
    };
    let stored = state
        .store
        .put_transfer_set(
            &set,
            sealed,
            &staff.change(&state, "transfers attached to a case"),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// The transfer sets of a case (analysts, supervisors).
#[utoipa::path(get, path = "/api/funds/cases/{case_id}/sets", tag = "funds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = "the cooperation case")),
    responses((status = 200, body = Vec<TransferSetView>), (status = 403, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn list_sets(
    State(state): State<AppState>,
    staff: Staff,
    Path(case_id): Path<Uuid>,
) -> Result<Json<Vec<TransferSetView>>, ApiError> {
    staff.require(Permission::TraceFunds)?;
    cooperation(&state)?;
    let sets = state.store.list_transfer_sets(case_id).await?;
    Ok(Json(sets.into_iter().map(Into::into).collect()))
}

/// One transfer, opened.
#[derive(Serialize, ToSchema)]
pub struct TransferView {
    pub tx_id: String,
    /// RFC 3339 with nanoseconds.
    pub timestamp: String,
    pub from: String,
    pub to: String,
    /// Decimal at the set's currency.
    pub amount: String,
}

/// The transfers of a set, accounts opened (analysts, supervisors; every read audited).
#[utoipa::path(get, path = "/api/funds/sets/{set_id}/transfers", tag = "funds", security(("bearer" = [])),
    params(("set_id" = Uuid, Path, description = "the transfer set")),
    responses((status = 200, body = Vec<TransferView>), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn list_transfers(
    State(state): State<AppState>,
    staff: Staff,
    Path(set_id): Path<Uuid>,
) -> Result<Json<Vec<TransferView>>, ApiError> {
    staff.require(Permission::TraceFunds)?;
    cooperation(&state)?;
    let set = state.store.get_transfer_set(set_id).await?;
    let sealed = state.store.load_transfers(set_id).await?;
    let opened = crate::funds_run::open_transfers(&state.keyring, set_id, &sealed)
        .map_err(ApiError::internal)?;
    audit_read(
        &state,
        &staff,
        "funds.transfers_read",
        format!("transfer_set/{set_id}"),
        serde_json::json!({"case_id": set.case_id, "transfers": opened.len()}),
    )
    .await?;
    Ok(Json(
        opened
            .into_iter()
            .map(|t| TransferView {
                timestamp: chrono::DateTime::from_timestamp_nanos(t.timestamp_ns)
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                amount: jikimi_funds::amount::format_units(t.amount, set.decimals),
                tx_id: t.tx_id,
                from: t.from,
                to: t.to,
            })
            .collect(),
    ))
}

/// A trace to run over a set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The tx ids of the victims' payments (at least one must be in the set).
    pub seeds: Vec<String>,
    /// `haircut` (pro rata) or `fifo` (oldest money first).
    pub policy: String,
    /// Known cash-out points (exchanges' deposit wallets, ...), with their country where known.
    #[serde(default)]
    pub cashout: Vec<CashoutPoint>,
}

/// A run without its result (no account).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunListing {
    pub id: Uuid,
    pub set_id: Uuid,
    pub case_id: Uuid,
    pub policy: String,
    pub seeds: Vec<String>,
    pub summary: RunSummary,
    pub created_by: String,
    pub created_at: String,
}

/// A run with its result: endpoints by holding, largest first, and the layered flow graph.
#[derive(Serialize, ToSchema)]
pub struct RunView {
    #[serde(flatten)]
    pub run: RunListing,
    pub decimals: u32,
    pub endpoints: Vec<Endpoint>,
    /// Nodes with `role` (`victim`, `mule`, `endpoint`) and `layer` (0 = victims; endpoints in the last), and
    /// edges with the tainted amount and the full amount of the transfers behind them.
    #[schema(value_type = Object)]
    pub flow: LayeredFlow,
    pub cashout: Vec<CashoutPoint>,
}

fn listing(run: &TraceRun) -> Result<RunListing, ApiError> {
    Ok(RunListing {
        id: run.id,
        set_id: run.set_id,
        case_id: run.case_id,
        policy: run.policy.clone(),
        seeds: run.seeds.clone(),
        summary: serde_json::from_str(&run.summary).map_err(ApiError::internal)?,
        created_by: run.created_by.clone(),
        created_at: crate::dto::rfc3339(run.created_at),
    })
}

/// Opens a stored run's result.
pub(crate) fn open_result(state: &AppState, run: &TraceRun) -> Result<RunResult, ApiError> {
    let plain = state
        .keyring
        .open(&run_subject(run.id), "result", &run.result)
        .map_err(ApiError::internal)?;
    serde_json::from_slice(&plain).map_err(ApiError::internal)
}

fn check_run(req: &RunRequest) -> Result<(Policy, Vec<String>, Vec<CashoutPoint>), ApiError> {
    let policy = match req.policy.as_str() {
        "haircut" => Policy::Haircut,
        "fifo" => Policy::Fifo,
        _ => return Err(invalid("policy: haircut or fifo")),
    };
    let mut seeds: Vec<String> = req.seeds.iter().map(|s| s.trim().to_string()).collect();
    seeds.sort();
    seeds.dedup();
    if seeds.is_empty() || seeds.len() > MAX_SEEDS {
        return Err(invalid(format!("seeds: 1 to {MAX_SEEDS} tx ids")));
    }
    if seeds.iter().any(|s| s.is_empty() || s.len() > 256) {
        return Err(invalid("seeds: each tx id 1 to 256 characters"));
    }
    if req.cashout.len() > MAX_CASHOUT {
        return Err(invalid(format!("cashout: at most {MAX_CASHOUT} points")));
    }
    let mut cashout = Vec::with_capacity(req.cashout.len());
    for (i, point) in req.cashout.iter().enumerate() {
        let account = jikimi_funds::account::canonical_key(
            &point.account,
            jikimi_funds::account::AccountHint::Auto,
        )
        .map_err(|r| invalid(format!("cashout[{i}].account {r}")))?;
        let country = match point.country.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(c.to_ascii_uppercase())
            }
            Some(_) => return Err(invalid(format!("cashout[{i}].country: ISO 3166 alpha-2"))),
        };
        let text = |t: &Option<String>| -> Result<Option<String>, ApiError> {
            match t.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(t) if t.chars().count() <= 120 && !t.chars().any(char::is_control) => {
                    Ok(Some(t.to_string()))
                }
                Some(_) => Err(invalid(format!(
                    "cashout[{i}]: kind and name at most 120 characters"
                ))),
            }
        };
        cashout.push(CashoutPoint {
            account,
            kind: text(&point.kind)?,
            name: text(&point.name)?,
            country,
        });
    }
    Ok((policy, seeds, cashout))
}

/// Run a trace over a set (analysts, supervisors; audited with its parameters and totals).
#[utoipa::path(post, path = "/api/funds/sets/{set_id}/runs", tag = "funds", security(("bearer" = [])),
    params(("set_id" = Uuid, Path, description = "the transfer set")), request_body = RunRequest,
    responses((status = 201, body = RunView), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    staff: Staff,
    Path(set_id): Path<Uuid>,
    Json(req): Json<RunRequest>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    staff.require(Permission::TraceFunds)?;
    cooperation(&state)?;
    let (policy, seeds, cashout) = check_run(&req)?;
    let set = state.store.get_transfer_set(set_id).await?;
    let sealed = state.store.load_transfers(set_id).await?;
    let keys = state.keyring.clone();
    let run_id = Uuid::now_v7();
    let (run_seeds, currency, decimals) = (seeds.clone(), set.currency.clone(), set.decimals);
    let (result, summary, sealed_result) = tokio::task::spawn_blocking(move || {
        let transfers =
            crate::funds_run::open_transfers(&keys, set_id, &sealed).map_err(ApiError::internal)?;
        let (result, summary) = crate::funds_run::run_trace(
            &transfers, &run_seeds, policy, cashout, &currency, decimals,
        )
        .map_err(|e| match e {
            crate::funds_run::RunError::NoSeedFound => invalid(e.to_string()),
            other => ApiError::internal(other),
        })?;
        let plain = serde_json::to_vec(&result).map_err(ApiError::internal)?;
        let sealed = keys
            .seal(&run_subject(run_id), "result", &plain)
            .map_err(ApiError::internal)?;
        Ok::<_, ApiError>((result, summary, sealed))
    })
    .await
    .map_err(ApiError::internal)??;
    let new = NewTraceRun {
        id: run_id,
        set_id,
        policy: req.policy.clone(),
        seeds,
        summary: serde_json::to_string(&summary).map_err(ApiError::internal)?,
        result: sealed_result,
    };
    let stored = state
        .store
        .record_trace_run(&new, &staff.change(&state, "money trace run"))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RunView {
            run: listing(&stored)?,
            decimals: result.decimals,
            endpoints: result.endpoints,
            flow: result.flow,
            cashout: result.cashout,
        }),
    ))
}

/// The runs over a case's sets, newest first, without their results (analysts, supervisors).
#[utoipa::path(get, path = "/api/funds/cases/{case_id}/runs", tag = "funds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = "the cooperation case")),
    responses((status = 200, body = Vec<RunListing>), (status = 403, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn list_runs(
    State(state): State<AppState>,
    staff: Staff,
    Path(case_id): Path<Uuid>,
) -> Result<Json<Vec<RunListing>>, ApiError> {
    staff.require(Permission::TraceFunds)?;
    cooperation(&state)?;
    let runs = state.store.list_trace_runs(case_id).await?;
    Ok(Json(runs.iter().map(listing).collect::<Result<_, _>>()?))
}

/// A run with its endpoints and flow graph (analysts, supervisors; every read audited).
#[utoipa::path(get, path = "/api/funds/runs/{run_id}", tag = "funds", security(("bearer" = [])),
    params(("run_id" = Uuid, Path, description = "the trace run")),
    responses((status = 200, body = RunView), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn get_run(
    State(state): State<AppState>,
    staff: Staff,
    Path(run_id): Path<Uuid>,
) -> Result<Json<RunView>, ApiError> {
    staff.require(Permission::TraceFunds)?;
    cooperation(&state)?;
    let run = state.store.get_trace_run(run_id).await?;
    let result = open_result(&state, &run)?;
    audit_read(
        &state,
        &staff,
        "funds.run_read",
        format!("trace_run/{run_id}"),
        serde_json::json!({"case_id": run.case_id, "set_id": run.set_id, "endpoints": result.endpoints.len()}),
    )
    .await?;
    Ok(Json(RunView {
        run: listing(&run)?,
        decimals: result.decimals,
        endpoints: result.endpoints,
        flow: result.flow,
        cashout: result.cashout,
    }))
}
