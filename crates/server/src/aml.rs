//! `POST /api/intake/aml`: Advanced Mobile Location from a feature phone's one-touch SOS, relayed by the operator's
//! SMS/HTTPS gateway. This module checks the gateway and reads the body; the intake service
//! ([`crate::intake_service::Intake::accept_aml`]) parses the payload, and a valid one from a registered number
//! becomes an alert through the same group commit as signed app alerts; an unknown number or a malformed payload
//! is refused and audited.
//!
//! Only the operators' gateways may submit: each request carries `x-jikimi-gateway` (the gateway id),
//! `x-jikimi-timestamp` (Unix seconds, within `alert_window_s` of the server clock) and `x-jikimi-signature`: hex
//! HMAC-SHA256, under the gateway's configured shared key, of `jikimi-aml-v1\n{gateway}\n{timestamp}\n{body}`
//! ([`sign_gateway_request`]). Anything else is refused `gateway_unauthenticated` and audited. A captured request
//! replayed within the window is harmless: the payload-derived alert id makes it a duplicate.
//!
//! Feature phones hold no signing key, so the phone number (looked up through its blind index, never stored or
//! logged in clear) identifies the subscriber. Each subscriber gets one synthetic "AML device" id derived from the
//! subscriber id, and the alert id is derived from the payload, so a gateway that re-delivers the same SMS does not
//! open a second incident.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::Sha256;

use crate::dto::AlertAcceptedDto;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Json, RequestId};
use crate::flood::{Guarded, Source};
use crate::intake_service::{Against, AmlSubmission, Channel, Intake, Refusal};
pub use crate::intake_service::{AmlTransport, aml_device_id};
use crate::state::AppState;

/// An AML payload as relayed by the operator gateway.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmlRequest {
    /// The caller's number (SMS sender address). For HTTPS it may be omitted when the form has `device_number`.
    pub sender: Option<String>,
    /// The payload text exactly as received.
    pub payload: String,
    /// `sms` (default) or `https`.
    #[serde(default)]
    pub transport: AmlTransport,
}

/// Header naming the AML gateway.
pub const HEADER_GATEWAY: &str = "x-jikimi-gateway";

/// HMAC takes keys of any length, so this is `None` never in practice; it keeps the path free of panics.
fn gateway_mac(
    key: &[u8; 32],
    gateway: &str,
    timestamp_s: i64,
    body: &[u8],
) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(key).ok()?;
    mac.update(format!("jikimi-aml-v1\n{gateway}\n{timestamp_s}\n").as_bytes());
    mac.update(body);
    Some(mac)
}

/// The `x-jikimi-signature` value a gateway sends: hex HMAC-SHA256 over `jikimi-aml-v1\n{gateway}\n{timestamp}\n{body}`.
pub fn sign_gateway_request(
    key: &[u8; 32],
    gateway: &str,
    timestamp_s: i64,
    body: &[u8],
) -> String {
    gateway_mac(key, gateway, timestamp_s, body)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Checks the gateway credential; returns the gateway id.
/// The gateway's three credential headers are there (their content is checked by [`authenticate_gateway`]).
fn credential_headers_present(headers: &HeaderMap) -> Result<(), ApiError> {
    for name in [
        HEADER_GATEWAY,
        crate::signing::HEADER_TIMESTAMP,
        crate::signing::HEADER_SIGNATURE,
    ] {
        let present = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().is_empty());
        if !present {
            return Err(ApiError::new(
                ErrorCode::GatewayUnauthenticated,
                format!("missing {name}"),
            ));
        }
    }
    Ok(())
}

fn authenticate_gateway(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, ApiError> {
    let refuse =
        |message: &str| ApiError::new(ErrorCode::GatewayUnauthenticated, message.to_string());
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let gateway = get(HEADER_GATEWAY).ok_or_else(|| refuse("missing x-jikimi-gateway"))?;
    let key = state
        .config
        .aml_gateways
        .0
        .get(gateway)
        .ok_or_else(|| refuse("unknown gateway"))?;
    let timestamp_s: i64 = get(crate::signing::HEADER_TIMESTAMP)
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| refuse("missing or malformed x-jikimi-timestamp"))?;
    let signature = get(crate::signing::HEADER_SIGNATURE)
        .and_then(|s| hex::decode(s).ok())
        .ok_or_else(|| refuse("missing or malformed x-jikimi-signature (hex)"))?;
    // Constant-time comparison inside `verify_slice`.
    gateway_mac(key, gateway, timestamp_s, body)
        .ok_or_else(|| refuse("gateway key unusable"))?
        .verify_slice(&signature)
        .map_err(|_| refuse("gateway signature does not verify"))?;
    let skew_s = state.now().as_unix_ms() / 1000 - timestamp_s;
    if skew_s.abs() > state.config.alert_window_s {
        return Err(refuse("gateway timestamp is outside the accepted window"));
    }
    Ok(gateway.to_string())
}

/// Submit an AML payload (operator gateway, HMAC-authenticated).
#[utoipa::path(post, path = "/api/intake/aml", tag = "alerts", request_body = AmlRequest,
    params(
        ("x-jikimi-gateway" = String, Header, description = "gateway id (configured with its shared key)"),
        ("x-jikimi-timestamp" = i64, Header, description = "Unix seconds"),
        ("x-jikimi-signature" = String, Header, description = "hex HMAC-SHA256 over jikimi-aml-v1\\n{gateway}\\n{timestamp}\\n{body}"),
    ),
    responses(
        (status = 202, body = AlertAcceptedDto, description = "committed; duplicate=true for a re-delivered payload"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "gateway_unauthenticated; device_unknown: the number is not registered"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: the AML payload is malformed (class in the message)"),
        (status = 503, body = crate::error::ErrorBody, description = "unavailable"),
    ))]
pub async fn intake_aml(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<AlertAcceptedDto>), ApiError> {
    let intake = Intake::new(&state);
    let channel = |gateway| Channel::Aml {
        source,
        request_id: request_id.0.clone(),
        gateway,
    };
    // A request without the credential headers is refused for what it is (401) before the limiter, which only
    // guards the HMAC check: both answers cost nothing, and the caller learns what is wrong.
    let result = match credential_headers_present(&headers)
        .and_then(|()| state.flood.refuse_if_penalised(Guarded::AmlFailure, source))
        .and_then(|()| authenticate_gateway(&state, &headers, &body))
    {
        Ok(id) => {
            let channel = channel(Some(id));
            match serde_json::from_slice::<AmlRequest>(&body) {
                Ok(request) => {
                    let submission = AmlSubmission {
                        sender: request.sender.as_deref(),
                        payload: &request.payload,
                        transport: request.transport,
                    };
                    intake.accept_aml(&submission, &channel).await
                }
                Err(e) => {
                    let refusal = Refusal::new(
                        ErrorCode::InvalidPayload,
                        format!("invalid aml request json: {e}"),
                    );
                    let against = Against {
                        class: Some("json"),
                        ..Against::default()
                    };
                    Err(intake.refuse(&channel, against, refusal).await)
                }
            }
        }
        Err(err) => {
            if err.code == ErrorCode::GatewayUnauthenticated {
                state.flood.charge_failure(Guarded::AmlFailure, source);
            }
            Err(intake
                .refuse(&channel(None), Against::default(), err.into())
                .await)
        }
    };
    match result {
        Ok(accepted) => {
            metrics::counter!("jikimi_aml_accepted_total").increment(1);
            Ok((
                StatusCode::ACCEPTED,
                Json(AlertAcceptedDto {
                    incident_id: accepted.incident_id.0,
                    duplicate: accepted.duplicate,
                    // The gateway relays nothing back to a feature phone; the field keeps one answer shape.
                    feedback: crate::dto::DeviceFeedback::alert_accepted(accepted.silent, None),
                }),
            ))
        }
        Err(refusal) => {
            let code = refusal.code();
            metrics::counter!("jikimi_aml_rejected_total", "code" => code.as_str()).increment(1);
            crate::flood::log_refusal("aml refused", code, Some(&request_id.0));
            Err(refusal.into())
        }
    }
}
