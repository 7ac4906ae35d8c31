//! `POST /api/alerts`: a device's signed SOS. Authenticated, checked, then made durable by the group committer;
//! answered 202 with the incident id only after the commit. Every refusal is audited (through the coalescer of
//! [`crate::flood`]: one by one up to a per-source budget, then counted in summary entries) and opens no incident.
//!
//! Cheap checks come first: the header shapes, then the device cache and the negative cache, and only then a
//! database look-up of an unknown id, which the per-source and global look-up limits bound.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jikimi_audit::NewAuditEntry;
use jikimi_respond::{AlertId, DeviceId, IncidentId, Priority};
use jikimi_store::NewAlert;

use crate::dto::{AlertAcceptedDto, AlertRequest, DeviceFeedback};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Json, RequestId};
use crate::flood::{Guarded, Refusal, Source};
use crate::signing;
use crate::state::{AppState, CachedDevice, IntakeFailure, IntakeItem};

/// Raise an alert (device, signed). See the signing headers in the API description.
#[utoipa::path(post, path = "/api/alerts", tag = "alerts", request_body = AlertRequest,
    params(
        ("x-jikimi-device" = String, Header, description = "device id (UUID)"),
        ("x-jikimi-timestamp" = i64, Header, description = "Unix seconds when signed"),
        ("x-jikimi-nonce" = String, Header, description = "16-64 chars [A-Za-z0-9_-], single use"),
        ("x-jikimi-signature" = String, Header, description = "base64 Ed25519 signature over jikimi-alert-v1\\n{device}\\n{timestamp}\\n{nonce}\\n{body}"),
    ),
    responses(
        (status = 202, body = AlertAcceptedDto, description = "committed; duplicate=true for a retried alert id"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload, missing_header"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, device_unknown, timestamp_out_of_window"),
        (status = 409, body = crate::error::ErrorBody, description = "nonce_replayed"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field"),
        (status = 429, body = crate::error::ErrorBody, description = "rate_limited: too many unknown device ids from this source (Retry-After)"),
        (status = 503, body = crate::error::ErrorBody, description = "unavailable"),
    ))]
pub async fn raise_alert(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<AlertAcceptedDto>), ApiError> {
    let started = std::time::Instant::now();
    let mut device_for_audit: Option<DeviceId> = None;
    let result = accept(&state, source, &headers, body, &mut device_for_audit).await;
    match result {
        Ok(accepted) => {
            metrics::counter!("jikimi_alerts_accepted_total").increment(1);
            metrics::histogram!("jikimi_alert_accept_seconds")
                .record(started.elapsed().as_secs_f64());
            Ok((StatusCode::ACCEPTED, Json(accepted)))
        }
        Err(err) => {
            metrics::counter!("jikimi_alerts_rejected_total", "code" => err.code.as_str())
                .increment(1);
            // A replayed nonce is audited by the store inside the intake transaction that detected it.
            let audited_by_store = err.code == ErrorCode::NonceReplayed;
            if err.code == ErrorCode::RateLimited {
                // Limited before any database work: counted for the summary entry only.
                state.refusals.count_only(&Refusal {
                    action: Guarded::DeviceLookup.action(),
                    source,
                    code: err.code,
                    at_ms: state.now().as_unix_ms(),
                });
            } else if !audited_by_store
                && err.code != ErrorCode::Unavailable
                && err.code != ErrorCode::Internal
            {
                audit_rejection(&state, source, device_for_audit, &err, &request_id).await?;
            }
            crate::flood::log_refusal("alert refused", err.code, Some(&request_id.0));
            Err(err)
        }
    }
}

/// Audits a refused alert (`alert.rejected`) against the device if known; `channel` says how it arrived.
pub async fn audit_rejection_via(
    state: &AppState,
    device: Option<DeviceId>,
    err: &ApiError,
    channel: &str,
    reference: &str,
) -> Result<(), ApiError> {
    let detail =
        serde_json::json!({"code": err.code.as_str(), "channel": channel, "reference": reference});
    audit_refusal(
        state,
        "alert.rejected",
        Source::default(),
        device,
        err,
        detail,
    )
    .await
}

async fn audit_rejection(
    state: &AppState,
    source: Source,
    device: Option<DeviceId>,
    err: &ApiError,
    request_id: &RequestId,
) -> Result<(), ApiError> {
    audit_device_rejection(state, "alert.rejected", source, device, err, request_id).await
}

/// Audits a refused device request under `action` (`alert.rejected`, `app.rejected`), naming the code only.
pub(crate) async fn audit_device_rejection(
    state: &AppState,
    action: &'static str,
    source: Source,
    device: Option<DeviceId>,
    err: &ApiError,
    request_id: &RequestId,
) -> Result<(), ApiError> {
    let detail = serde_json::json!({"code": err.code.as_str(), "request_id": request_id.0});
    audit_refusal(state, action, source, device, err, detail).await
}

/// One audit entry for a refused device request, against the device when it is known.
async fn audit_refusal(
    state: &AppState,
    action: &'static str,
    source: Source,
    device: Option<DeviceId>,
    err: &ApiError,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let (actor, subject) = match device {
        Some(id) => (format!("device:{id}"), format!("device/{id}")),
        None => ("anonymous".to_string(), "device/unknown".to_string()),
    };
    let at_ms = state.now().as_unix_ms();
    crate::flood::audit_refusal(state, action, source, err.code, |pseudonym| {
        let mut detail = detail;
        detail["source"] = serde_json::Value::String(pseudonym);
        NewAuditEntry::new(at_ms, actor, action, subject, err.code.as_str()).with_detail(&detail)
    })
    .await
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::MissingHeader,
                format!("missing or unreadable header {name}"),
            )
        })
}

/// The device's key: from the cache, else refused from the negative cache, else from the database: at once for an id
/// known to exist (even if its cache entry expired), within `source`'s and the global look-up limits for any other.
/// A known device is never limited: only looking up unknown ids costs tokens.
pub(crate) async fn device_key(
    state: &AppState,
    source: Source,
    id: DeviceId,
) -> Result<CachedDevice, ApiError> {
    let unknown = || ApiError::new(ErrorCode::DeviceUnknown, "device is not registered");
    if let Some(device) = state.devices.get(&id) {
        return Ok(device);
    }
    if state.devices.is_absent(&id) {
        return Err(unknown());
    }
    // A device known to exist is looked up whatever the flood: only made-up ids meet the look-up limits.
    if !state.devices.is_known(&id) {
        state
            .flood
            .refuse_if_penalised(Guarded::DeviceLookup, source)?;
    }
    match state.store.get_device(id).await {
        Ok(record) => {
            let key = <[u8; 32]>::try_from(record.public_key.as_slice())
                .ok()
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| {
                    ApiError::internal(format!("device {id} has an unusable stored public key"))
                })?;
            Ok(state
                .devices
                .put(id, key, record.subscriber_id, record.revoked_at.is_some()))
        }
        Err(err) if err.is_not_found() => {
            state.devices.unmark_known(&id);
            state.devices.put_absent(id);
            state.flood.charge_failure(Guarded::DeviceLookup, source);
            Err(unknown())
        }
        Err(err) => Err(err.into()),
    }
}

/// A device request whose body was read within the limit and whose device, signature and timestamp check out.
pub(crate) struct DeviceRequest {
    /// The signing device.
    pub device_id: DeviceId,
    /// What the server knows about it.
    pub device: CachedDevice,
    /// The request's nonce (claimed by the store with whatever the request changes).
    pub nonce: String,
    /// The exact body bytes that were signed.
    pub bytes: axum::body::Bytes,
}

/// Reads the body and checks the signing headers under `context` (see [`signing`]). Shared by every signed
/// device endpoint so they refuse in the same way with the same codes.
pub(crate) async fn authenticate(
    state: &AppState,
    source: Source,
    headers: &HeaderMap,
    body: Body,
    context: &str,
    device_for_audit: &mut Option<DeviceId>,
) -> Result<DeviceRequest, ApiError> {
    // Header shapes first: a malformed request costs neither the body read nor a look-up.
    let device_text = header(headers, signing::HEADER_DEVICE)?;
    let device_uuid = uuid::Uuid::parse_str(device_text)
        .map_err(|_| ApiError::new(ErrorCode::DeviceUnknown, "device id is not a uuid"))?;
    let device_id = DeviceId(device_uuid);
    let timestamp_s: i64 = header(headers, signing::HEADER_TIMESTAMP)?
        .parse()
        .map_err(|_| {
            ApiError::new(
                ErrorCode::MissingHeader,
                "timestamp must be whole unix seconds",
            )
        })?;
    let nonce = header(headers, signing::HEADER_NONCE)?;
    if !signing::nonce_is_well_formed(nonce) {
        return Err(ApiError::new(
            ErrorCode::MissingHeader,
            "nonce must be 16 to 64 characters [A-Za-z0-9_-]",
        ));
    }
    let signature = header(headers, signing::HEADER_SIGNATURE)?;
    if !signing::signature_is_well_formed(signature) {
        return Err(ApiError::new(
            ErrorCode::SignatureInvalid,
            "signature must be base64 of 64 bytes",
        ));
    }
    // The limit is enforced while reading, so an oversized body is never buffered whole.
    let bytes = axum::body::to_bytes(body, state.config.body_limit_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "request body is larger than the limit",
            )
        })?;
    let device = verify_signed(
        state,
        source,
        context,
        device_id,
        timestamp_s,
        nonce,
        signature,
        &bytes,
        device_for_audit,
    )
    .await?;
    Ok(DeviceRequest {
        device_id,
        device,
        nonce: nonce.to_string(),
        bytes,
    })
}

/// The channel-independent checks of a signed device request: device known and not revoked, signature over
/// `{context}\n{device}\n{timestamp}\n{nonce}\n{body}`, clock window. Sets `device_for_audit` once the device is
/// known, so the caller audits a refusal against it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn verify_signed(
    state: &AppState,
    source: Source,
    context: &str,
    device_id: DeviceId,
    timestamp_s: i64,
    nonce: &str,
    signature: &str,
    bytes: &[u8],
    device_for_audit: &mut Option<DeviceId>,
) -> Result<CachedDevice, ApiError> {
    let device = device_key(state, source, device_id).await?;
    *device_for_audit = Some(device_id);
    if device.revoked {
        return Err(ApiError::new(ErrorCode::DeviceUnknown, "device is revoked"));
    }
    // Ed25519 verification is ~50 µs of CPU: cheap enough to run on the async worker.
    if !signing::verify_in(
        context,
        &device.key,
        &device_id.0,
        timestamp_s,
        nonce,
        bytes,
        signature,
    ) {
        return Err(ApiError::new(
            ErrorCode::SignatureInvalid,
            "signature does not verify for this device",
        ));
    }
    let now = state.now();
    let skew_s = now.as_unix_ms() / 1000 - timestamp_s;
    if skew_s.abs() > state.config.alert_window_s {
        return Err(ApiError::new(
            ErrorCode::TimestampOutOfWindow,
            format!(
                "timestamp is {skew_s} s away from server time; the window is ±{} s",
                state.config.alert_window_s
            ),
        ));
    }
    Ok(device)
}

async fn accept(
    state: &AppState,
    source: Source,
    headers: &HeaderMap,
    body: Body,
    device_for_audit: &mut Option<DeviceId>,
) -> Result<AlertAcceptedDto, ApiError> {
    let request = authenticate(
        state,
        source,
        headers,
        body,
        signing::ALERT_CONTEXT,
        device_for_audit,
    )
    .await?;
    commit_alert(
        state,
        &request.device,
        request.device_id,
        &request.nonce,
        &request.bytes,
    )
    .await
}

/// The channel-independent part of alert intake, shared by `POST /api/alerts` and the MQTT adapter: the checks of
/// [`verify_signed`] under the alert context, body checks, then the group commit. Returns only after the alert is
/// committed.
pub async fn accept_signed(
    state: &AppState,
    device_id: DeviceId,
    timestamp_s: i64,
    nonce: &str,
    signature: &str,
    bytes: &[u8],
    device_for_audit: &mut Option<DeviceId>,
) -> Result<AlertAcceptedDto, ApiError> {
    let device = verify_signed(
        state,
        Source::default(),
        signing::ALERT_CONTEXT,
        device_id,
        timestamp_s,
        nonce,
        signature,
        bytes,
        device_for_audit,
    )
    .await?;
    commit_alert(state, &device, device_id, nonce, bytes).await
}

async fn commit_alert(
    state: &AppState,
    device: &CachedDevice,
    device_id: DeviceId,
    nonce: &str,
    bytes: &[u8],
) -> Result<AlertAcceptedDto, ApiError> {
    let now = state.now();
    let request: AlertRequest = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidPayload,
            format!("invalid alert json: {e}"),
        )
    })?;
    let priority = Priority::new(request.priority.unwrap_or(1))
        .map_err(|e| ApiError::new(ErrorCode::InvalidField, format!("priority: {e}")))?;
    let fix = request
        .location
        .as_ref()
        .map(|l| l.to_domain(now))
        .transpose()?;

    let silent = request.silent.unwrap_or(true);
    // Past its budget a device's alert still commits, but joins its open incident as a counted report.
    let over_budget = !state.alert_budget.allow(device_id, now);
    if over_budget {
        metrics::counter!("jikimi_alerts_over_budget_total").increment(1);
    }
    let alert = NewAlert {
        incident_id: IncidentId(uuid::Uuid::now_v7()),
        alert_id: AlertId(request.alert_id),
        device_id,
        subscriber_id: device.subscriber_id,
        nonce: nonce.to_string(),
        received_at: now,
        priority,
        fix,
        silent,
    };
    match state.intake.submit(IntakeItem { alert, over_budget }).await {
        Ok(Ok(accepted)) => Ok(AlertAcceptedDto {
            incident_id: accepted.incident_id.0,
            duplicate: accepted.duplicate,
            feedback: DeviceFeedback::alert_accepted(silent),
        }),
        Ok(Err(IntakeFailure::NonceReplayed)) => Err(ApiError::new(
            ErrorCode::NonceReplayed,
            "this nonce was already used by this device",
        )),
        Ok(Err(IntakeFailure::Unavailable(detail))) => Err(ApiError::unavailable(detail)),
        Err(err) => Err(ApiError::unavailable(err)),
    }
}
