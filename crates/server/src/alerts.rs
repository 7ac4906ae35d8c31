//! `POST /api/alerts`: a device's signed SOS, read off HTTP and handed to the intake service
//! ([`crate::intake_service`]), which checks, commits and audits; answered 202 with the incident id only after the
//! commit. A refusal opens no incident and is answered with the `ApiError` its [`Refusal`] maps to.
//!
//! Cheap checks come first: the header shapes here, before the body is read; then the intake's device cache and
//! negative cache, and only then a database look-up of an unknown id, which the look-up limits bound.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jikimi_respond::DeviceId;

use crate::dto::{AlertAcceptedDto, AlertRequest, DeviceFeedback};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Json, RequestId};
use crate::flood::Source;
use crate::intake_service::{Against, Channel, Intake, Refusal, Signed};
use crate::signing;
use crate::state::{AppState, CachedDevice};

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
    let intake = Intake::new(&state);
    let channel = Channel::Http {
        source,
        request_id: request_id.0.clone(),
    };
    let result = match read_signed(&state, &headers, body).await {
        Ok(request) => intake.accept(&request.signed(), &channel).await,
        Err(refusal) => Err(intake.refuse(&channel, Against::default(), refusal).await),
    };
    match result {
        Ok(accepted) => {
            metrics::counter!("jikimi_alerts_accepted_total").increment(1);
            metrics::histogram!("jikimi_alert_accept_seconds")
                .record(started.elapsed().as_secs_f64());
            Ok((
                StatusCode::ACCEPTED,
                Json(AlertAcceptedDto {
                    incident_id: accepted.incident_id.0,
                    duplicate: accepted.duplicate,
                    feedback: DeviceFeedback::alert_accepted(
                        accepted.silent,
                        crate::dto::accept_language(&headers),
                    ),
                }),
            ))
        }
        Err(refusal) => {
            let code = refusal.code();
            metrics::counter!("jikimi_alerts_rejected_total", "code" => code.as_str()).increment(1);
            crate::flood::log_refusal("alert refused", code, Some(&request_id.0));
            Err(refusal.into())
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Refusal> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Refusal::new(
                ErrorCode::MissingHeader,
                format!("missing or unreadable header {name}"),
            )
        })
}

/// A device request read off HTTP: its signing headers, well-formed, and the body read within the limit.
pub(crate) struct SignedRequest {
    device_id: DeviceId,
    timestamp_s: i64,
    nonce: String,
    signature: String,
    bytes: axum::body::Bytes,
}

impl SignedRequest {
    /// The request as the intake checks it.
    pub(crate) fn signed(&self) -> Signed<'_> {
        Signed {
            device_id: self.device_id,
            timestamp_s: self.timestamp_s,
            nonce: &self.nonce,
            signature: &self.signature,
            body: &self.bytes,
        }
    }
}

/// Reads the signing headers and the body. Header shapes first: a malformed request costs neither the body read
/// nor a look-up.
pub(crate) async fn read_signed(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<SignedRequest, Refusal> {
    let device_text = header(headers, signing::HEADER_DEVICE)?;
    let device_uuid = uuid::Uuid::parse_str(device_text)
        .map_err(|_| Refusal::new(ErrorCode::DeviceUnknown, "device id is not a uuid"))?;
    let timestamp_s: i64 = header(headers, signing::HEADER_TIMESTAMP)?
        .parse()
        .map_err(|_| {
            Refusal::new(
                ErrorCode::MissingHeader,
                "timestamp must be whole unix seconds",
            )
        })?;
    let nonce = header(headers, signing::HEADER_NONCE)?;
    if !signing::nonce_is_well_formed(nonce) {
        return Err(Refusal::new(
            ErrorCode::MissingHeader,
            "nonce must be 16 to 64 characters [A-Za-z0-9_-]",
        ));
    }
    let signature = header(headers, signing::HEADER_SIGNATURE)?;
    if !signing::signature_is_well_formed(signature) {
        return Err(Refusal::new(
            ErrorCode::SignatureInvalid,
            "signature must be base64 of 64 bytes",
        ));
    }
    let (nonce, signature) = (nonce.to_string(), signature.to_string());
    // The limit is enforced while reading, so an oversized body is never buffered whole.
    let bytes = axum::body::to_bytes(body, state.config.body_limit_bytes)
        .await
        .map_err(|_| {
            Refusal::new(
                ErrorCode::PayloadTooLarge,
                "request body is larger than the limit",
            )
        })?;
    Ok(SignedRequest {
        device_id: DeviceId(device_uuid),
        timestamp_s,
        nonce,
        signature,
        bytes,
    })
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

/// Reads the body and checks the signing headers under `context` (see [`signing`]) through the intake, which
/// audits a refusal. Shared by the app's signed endpoints so they refuse in the same way with the same codes.
pub(crate) async fn authenticate(
    intake: &Intake<'_>,
    channel: &Channel,
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    context: &str,
) -> Result<DeviceRequest, Refusal> {
    let request = match read_signed(state, headers, body).await {
        Ok(request) => request,
        Err(refusal) => return Err(intake.refuse(channel, Against::default(), refusal).await),
    };
    let device = intake.verify(context, &request.signed(), channel).await?;
    Ok(DeviceRequest {
        device_id: request.device_id,
        device,
        nonce: request.nonce,
        bytes: request.bytes,
    })
}
