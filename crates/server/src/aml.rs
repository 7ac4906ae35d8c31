//! `POST /api/intake/aml`: Advanced Mobile Location from a feature phone's one-touch SOS, relayed by the operator's
//! SMS/HTTPS gateway. A valid payload from a registered number becomes an alert through the same group-committed
//! `record_alerts` path as signed app alerts; an unknown number or a malformed payload is refused and audited.
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
use jikimi_audit::NewAuditEntry;
use jikimi_intake::{AmlReport, Method, parse_form, parse_sms};
use jikimi_privacy::normalise_phone;
use jikimi_respond::{
    AlertId, Coordinates, DeviceId, FixMethod, IncidentId, LocationFix, Priority, SubscriberId,
    Timestamp,
};
use jikimi_store::NewAlert;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::dto::AlertAcceptedDto;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Json, RequestId};
use crate::flood::{Guarded, Refusal, Source};
use crate::state::{AppState, IntakeFailure};

/// Accuracy assumed when a handset reports a position without a radius (`rd=N`): wide on purpose, so nobody
/// trusts the point more than the handset did.
const UNKNOWN_RADIUS_M: f64 = 5_000.0;

/// Which AML transport the payload came by.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AmlTransport {
    /// The `A"ML=1;...` SMS text.
    #[default]
    Sms,
    /// The HTTPS form body (`location_latitude=...&...`).
    Https,
}

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
    let mut subscriber = None;
    let mut gateway = None;
    let mut class = None;
    // A request without the credential headers is refused for what it is (401) before the limiter, which only
    // guards the HMAC check: both answers cost nothing, and the caller learns what is wrong.
    let result = match credential_headers_present(&headers)
        .and_then(|()| state.flood.refuse_if_penalised(Guarded::AmlFailure, source))
        .and_then(|()| authenticate_gateway(&state, &headers, &body))
    {
        Ok(id) => {
            gateway = Some(id);
            accept(&state, &body, &mut subscriber, &mut class).await
        }
        Err(err) => {
            if err.code == ErrorCode::GatewayUnauthenticated {
                state.flood.charge_failure(Guarded::AmlFailure, source);
            }
            Err(err)
        }
    };
    match result {
        Ok(accepted) => {
            metrics::counter!("jikimi_aml_accepted_total").increment(1);
            Ok((StatusCode::ACCEPTED, Json(accepted)))
        }
        Err(err) => {
            metrics::counter!("jikimi_aml_rejected_total", "code" => err.code.as_str())
                .increment(1);
            if err.code == ErrorCode::RateLimited {
                state.refusals.count_only(&Refusal {
                    action: Guarded::AmlFailure.action(),
                    source,
                    code: err.code,
                    at_ms: state.now().as_unix_ms(),
                });
            } else if err.code != ErrorCode::Unavailable && err.code != ErrorCode::Internal {
                let subject = match subscriber {
                    Some(SubscriberId(id)) => format!("subscriber/{id}"),
                    None => "aml/unknown".to_string(),
                };
                // The detail names the refusal only: never the number or the payload (IMSI, IMEI).
                let actor = match &gateway {
                    Some(id) => format!("aml-gateway:{id}"),
                    None => "anonymous".to_string(),
                };
                let at_ms = state.now().as_unix_ms();
                // Only a fixed class name, never the error text: parser and JSON errors quote what they read
                // (a caller's number in a misplaced field, a key made of digits).
                crate::flood::audit_refusal(
                    &state,
                    "aml.rejected",
                    source,
                    err.code,
                    |pseudonym| {
                        NewAuditEntry::new(at_ms, actor, "aml.rejected", subject, err.code.as_str())
                            .with_detail(&serde_json::json!({
                                "code": err.code.as_str(),
                                "class": class,
                                "request_id": request_id.0,
                                "source": pseudonym,
                            }))
                    },
                )
                .await?;
            }
            crate::flood::log_refusal("aml refused", err.code, Some(&request_id.0));
            Err(err)
        }
    }
}

/// A stable UUID from a hash (RFC 4122 bits set by the builder; the bytes are not random but are uniformly spread).
fn derived_uuid(parts: &[&[u8]]) -> uuid::Uuid {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The synthetic device id under which a subscriber's AML alerts are deduplicated.
pub fn aml_device_id(subscriber: SubscriberId) -> DeviceId {
    DeviceId(derived_uuid(&[
        b"jikimi-aml-device-v1",
        subscriber.0.as_bytes(),
    ]))
}

fn fix_of(report: &AmlReport) -> Result<Option<LocationFix>, ApiError> {
    let Some((lat, lon, radius)) = report.position() else {
        return Ok(None);
    };
    let coords = Coordinates::new(lat, lon)
        .map_err(|e| ApiError::new(ErrorCode::InvalidField, format!("aml position: {e}")))?;
    let method = match report.method {
        Method::Gnss => FixMethod::Gnss,
        Method::Wifi => FixMethod::Wifi,
        Method::Cell => FixMethod::Cell,
        Method::None => FixMethod::Unknown,
    };
    LocationFix::new(
        coords,
        radius.unwrap_or(UNKNOWN_RADIUS_M),
        method,
        Timestamp::from_unix_ms(report.time_utc.timestamp_millis()),
    )
    .map(Some)
    .map_err(|e| ApiError::new(ErrorCode::InvalidField, format!("aml position: {e}")))
}

/// Names a refusal for the audit log with a fixed string (the AML error class, or what was wrong), never text
/// derived from the payload.
async fn accept(
    state: &AppState,
    body: &[u8],
    subscriber_for_audit: &mut Option<SubscriberId>,
    class_for_audit: &mut Option<&'static str>,
) -> Result<AlertAcceptedDto, ApiError> {
    *class_for_audit = Some("json");
    let request: AmlRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidPayload,
            format!("invalid aml request json: {e}"),
        )
    })?;
    let parsed = match request.transport {
        AmlTransport::Sms => parse_sms(&request.payload),
        AmlTransport::Https => parse_form(&request.payload),
    };
    let report = parsed.map_err(|e| {
        *class_for_audit = Some(e.error.as_str());
        ApiError::new(ErrorCode::InvalidField, format!("aml: {e}"))
    })?;
    *class_for_audit = Some("sender");
    let sender = request
        .sender
        .as_deref()
        .or(report.msisdn.as_deref())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidField,
                "sender: the caller's number is required",
            )
        })?;
    let phone = normalise_phone(sender)
        .map_err(|_| ApiError::new(ErrorCode::InvalidField, "sender: not a phone number"))?;
    let ids = state
        .store
        .find_subscribers("phone", &state.blind.digest("phone", &phone))
        .await?;
    // Two subscribers with one number would make the caller ambiguous; refusing would lose the alert, so the
    // first registered (ids are UUIDv7, time-ordered) takes it and the incident still carries the location.
    let Some(subscriber_id) = ids.into_iter().min_by_key(|s| s.0) else {
        return Err(ApiError::new(
            ErrorCode::DeviceUnknown,
            "the calling number is not registered",
        ));
    };
    *subscriber_for_audit = Some(subscriber_id);
    *class_for_audit = Some("position");
    let fix = fix_of(&report)?;
    let device_id = aml_device_id(subscriber_id);
    let alert = NewAlert {
        incident_id: IncidentId(uuid::Uuid::now_v7()),
        alert_id: AlertId(derived_uuid(&[
            b"jikimi-aml-alert-v1",
            subscriber_id.0.as_bytes(),
            request.payload.as_bytes(),
        ])),
        device_id,
        subscriber_id: Some(subscriber_id),
        // Authenticity comes from the operator transport, not from a device signature: the nonce only has to be
        // unique, and dedupe happens on the payload-derived alert id.
        nonce: uuid::Uuid::now_v7().simple().to_string(),
        received_at: state.now(),
        // AML accompanies a call to 112 that the caller may be unable to speak on.
        priority: Priority::new(1).map_err(ApiError::internal)?,
        fix,
        silent: false,
    };
    match state.intake.submit(alert.into()).await {
        Ok(Ok(accepted)) => Ok(AlertAcceptedDto {
            incident_id: accepted.incident_id.0,
            duplicate: accepted.duplicate,
            // The gateway relays nothing back to a feature phone; the field keeps one answer shape.
            feedback: crate::dto::DeviceFeedback::alert_accepted(true),
        }),
        Ok(Err(IntakeFailure::NonceReplayed)) => {
            Err(ApiError::internal("fresh aml nonce reported as replayed"))
        }
        Ok(Err(IntakeFailure::Unavailable(detail))) => Err(ApiError::unavailable(detail)),
        Err(err) => Err(ApiError::unavailable(err)),
    }
}
