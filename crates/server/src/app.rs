//! The 112 app: device enrolment with a one-time code, the location stream of an open alert, and cancel with the
//! subscriber's PIN, where a duress PIN answers exactly like a cancel but escalates the incident.
//!
//! - `POST /api/subscribers/{id}/enrolment-codes` (staff): a short-lived one-time code `XXXX-XXXX-XXXX-XXXX`. Its
//!   first six characters are a handle that locates the stored row (and its attempt counter); only the SHA-256 of
//!   the whole code is stored. Four wrong tries against a handle lock that code for good.
//! - `POST /api/devices/enrol` (unauthenticated: the code is the credential): code + Ed25519 public key, optionally
//!   the PIN and duress PIN; answers the device id.
//! - `POST /api/alerts/{id}/location` and `POST /api/alerts/{id}/cancel`: signed like alerts (see [`signing`]) under
//!   their own context line, which binds the incident id.
//!
//! A duress PIN must not be told apart from a genuine cancel by whoever holds the phone: both verify the PIN
//! against both hashes (two argon2 runs, always), both make one store call that appends one event, and both answer
//! `200 {"incident_id", "status": "cancelled", "feedback"}` with the same feedback. Only staff see the difference:
//! the incident stays open at code 0 with `duress: true` and an audited `incident.escalated` event.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jikimi_respond::{
    Actor, CancelDecision, DeviceId, EventKind, IncidentId, PinMatch, SubscriberId, decide_cancel,
};
use jikimi_store::{
    Change, DeviceEvent, DeviceRecord, Enrolment, EnrolmentCode, EnrolmentRefusal, NonceClaim,
    PinHashes,
};
use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::alerts::{DeviceRequest, authenticate};
use crate::auth::Staff;
use crate::dto::{DeviceFeedback, FixDto, rfc3339};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Json, OptionalJson, RequestId};
use crate::flood::Source;
use crate::intake_service::{Against, Channel, Intake, Refusal};
use crate::password;
use crate::roles::{Permission, Role};
use crate::signing;
use crate::state::AppState;

/// Location updates a device may send at once.
pub const LOCATION_BURST: u32 = 5;
/// Then one per this many milliseconds (a phone reports every few seconds; one a second is plenty).
pub const LOCATION_REFILL_MS: u32 = 1_000;
/// Wrong tries against one enrolment code before it locks.
pub const ENROLMENT_MAX_ATTEMPTS: u32 = 4;
/// Default lifetime of an enrolment code.
pub const ENROLMENT_DEFAULT_TTL_S: i64 = 15 * 60;
/// Longest lifetime a registrar may ask for.
pub const ENROLMENT_MAX_TTL_S: i64 = 24 * 3600;
/// Wrong PINs before PINs lock.
pub const PIN_MAX_ATTEMPTS: u32 = 5;
/// How long PINs stay locked after too many wrong ones.
pub const PIN_LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// Crockford base32: no I, L, O, U, so a code read aloud or typed is unambiguous.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const HANDLE_LEN: usize = 6;
const CODE_LEN: usize = 16;

// ---- enrolment codes --------------------------------------------------------------------------------------------

/// A new random code, grouped in fours for reading aloud.
fn new_code() -> String {
    // The OS generator: a code is a credential. It failing is not recoverable (as with rand's old `OsRng`).
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    let raw: String = (0..CODE_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    raw.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The code as typed, normalised: upper case, separators dropped, look-alikes mapped (O→0, I/L→1).
/// `None` unless it is exactly 16 alphabet characters.
fn normalise_code(text: &str) -> Option<String> {
    let out: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    (out.len() == CODE_LEN && out.bytes().all(|b| ALPHABET.contains(&b))).then_some(out)
}

fn code_hash(normalised: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"jikimi-enrolment-v1\n");
    h.update(normalised.as_bytes());
    h.finalize().into()
}

/// `POST /api/subscribers/{id}/enrolment-codes` body (may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentCodeRequest {
    /// Lifetime in seconds, 60..=86400; default 900.
    pub ttl_s: Option<i64>,
    /// Let the enrolling phone replace the subscriber's existing PIN and duress PIN (a forgotten PIN). Supervisors
    /// only; recorded in the audit entry. Without it an enrolment that brings PINs for a subscriber who has PINs is
    /// refused.
    #[serde(default)]
    pub replace_pins: bool,
}

/// A one-time enrolment code. Shown once: only its hash is stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentCodeDto {
    /// The code to type into the app, e.g. `7K3M-Q9XA-2B4C-D5EF`.
    pub code: String,
    /// Its first six characters, which name it in the audit log.
    pub handle: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// Issue a one-time enrolment code for a subscriber's phone (dispatcher, supervisor, admin; a code that may
/// replace existing PINs: supervisor only); audited.
#[utoipa::path(post, path = "/api/subscribers/{id}/enrolment-codes", tag = "app", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "subscriber id")), request_body(content = Option<EnrolmentCodeRequest>),
    responses((status = 201, body = EnrolmentCodeDto),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden (also: replace_pins by anyone but a supervisor)"),
        (status = 404, body = crate::error::ErrorBody, description = "subscriber_not_found"),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn issue_enrolment_code(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    OptionalJson(req): OptionalJson<EnrolmentCodeRequest>,
) -> Result<(StatusCode, Json<EnrolmentCodeDto>), ApiError> {
    staff.require(Permission::IssueEnrolmentCodes)?;
    let req = req.unwrap_or_default();
    // Changing someone's PINs is a supervisor's decision: a registrar's code only sets PINs where none exist.
    if req.replace_pins && staff.role != Role::Supervisor {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only a supervisor may issue a code that replaces existing PINs",
        ));
    }
    let ttl_s = req.ttl_s.unwrap_or(ENROLMENT_DEFAULT_TTL_S);
    if !(60..=ENROLMENT_MAX_TTL_S).contains(&ttl_s) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("ttl_s: 60..={ENROLMENT_MAX_TTL_S}"),
        ));
    }
    let now = state.now();
    let expires_at = jikimi_respond::Timestamp::from_unix_ms(now.as_unix_ms() + ttl_s * 1000);
    // A handle collision (about one in a billion per live code) just draws again.
    for _ in 0..5 {
        let code = new_code();
        let normalised = normalise_code(&code)
            .ok_or_else(|| ApiError::internal("fresh code does not normalise"))?;
        let handle = normalised[..HANDLE_LEN].to_string();
        let record = EnrolmentCode {
            handle: handle.clone(),
            code_hash: code_hash(&normalised),
            subscriber_id: SubscriberId(id),
            created_at: now,
            expires_at,
            replace_pins: req.replace_pins,
        };
        match state
            .store
            .issue_enrolment_code(
                &record,
                &staff.change(
                    &state,
                    if req.replace_pins {
                        "issue device enrolment code that replaces PINs"
                    } else {
                        "issue device enrolment code"
                    },
                ),
            )
            .await
        {
            Ok(()) => {
                tracing::info!(subscriber_id = %id, handle = %handle, "enrolment code issued");
                return Ok((
                    StatusCode::CREATED,
                    Json(EnrolmentCodeDto {
                        code,
                        handle,
                        expires_at: rfc3339(expires_at),
                    }),
                ));
            }
            Err(jikimi_store::Error::Conflict(_)) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(
        "no free enrolment code handle after 5 draws",
    ))
}

/// `POST /api/devices/enrol` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The one-time code the registrar gave (dashes and case do not matter).
    pub code: String,
    /// The device's Ed25519 public key: 64 hex characters or base64 of 32 bytes.
    pub public_key: String,
    /// app (default) or u-relief.
    pub kind: Option<String>,
    /// The subscriber's cancel PIN, 4 to 8 digits. Sets it when the subscriber has none; replaces an existing one
    /// only with a code a supervisor issued with `replace_pins` (otherwise the enrolment is refused `conflict`).
    pub pin: Option<String>,
    /// The duress PIN, 4 to 8 digits, different from the PIN; needs `pin`.
    pub duress_pin: Option<String>,
}

impl std::fmt::Debug for EnrolRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolRequest").finish_non_exhaustive()
    }
}

/// The enrolled device.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolledDto {
    /// The device id to send in `x-jikimi-device`.
    pub device_id: Uuid,
}

/// Checks PIN shapes and hashes them (argon2id, on the blocking pool).
pub async fn hash_pins(
    pin: Option<&str>,
    duress_pin: Option<&str>,
) -> Result<Option<PinHashes>, ApiError> {
    check_pins(pin, duress_pin)?;
    let Some(pin) = pin else {
        return Ok(None);
    };
    let (pin, duress) = (pin.to_string(), duress_pin.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        Ok::<_, String>(PinHashes {
            pin_hash: password::hash_password(&pin)?,
            duress_pin_hash: duress.map(|d| password::hash_password(&d)).transpose()?,
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map(Some)
    .map_err(ApiError::internal)
}

/// Checks PIN shapes (4 to 8 digits, the duress PIN different and only with a PIN): cheap, before anything else.
fn check_pins(pin: Option<&str>, duress_pin: Option<&str>) -> Result<(), ApiError> {
    let check = |field: &str, pin: &str| {
        if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::InvalidField,
                format!("{field}: 4 to 8 digits"),
            ))
        }
    };
    let Some(pin) = pin else {
        if duress_pin.is_some() {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "duress_pin: needs pin",
            ));
        }
        return Ok(());
    };
    check("pin", pin)?;
    if let Some(duress) = duress_pin {
        check("duress_pin", duress)?;
        if duress == pin {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "duress_pin: must differ from pin",
            ));
        }
    }
    Ok(())
}

/// Enrol a device with a one-time code (no login: the code is the credential); wrong, expired, used and locked
/// codes are refused and audited.
#[utoipa::path(post, path = "/api/devices/enrol", tag = "app", request_body = EnrolRequest,
    responses((status = 201, body = EnrolledDto),
        (status = 401, body = crate::error::ErrorBody, description = "enrolment_code_invalid (unknown or wrong; tries left in the message)"),
        (status = 409, body = crate::error::ErrorBody, description = "enrolment_code_used; conflict: the request sets PINs, the subscriber has PINs and the code does not replace them"),
        (status = 410, body = crate::error::ErrorBody, description = "enrolment_code_expired"),
        (status = 423, body = crate::error::ErrorBody, description = "enrolment_code_locked"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field")))]
pub async fn enrol_device(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    Json(req): Json<EnrolRequest>,
) -> Result<(StatusCode, Json<EnrolledDto>), ApiError> {
    let device_id = DeviceId(Uuid::now_v7());
    match enrol(&state, device_id, req).await {
        Ok(id) => Ok((StatusCode::CREATED, Json(EnrolledDto { device_id: id.0 }))),
        Err(err) => {
            crate::flood::log_refusal("enrolment refused", err.code, Some(&request_id.0));
            // Code refusals are audited by the store in the transaction that counted them; a code too malformed
            // to reach the store ("code: ...") and malformed requests are audited by the intake.
            let audited_by_store = matches!(
                err.code,
                ErrorCode::EnrolmentCodeInvalid
                    | ErrorCode::EnrolmentCodeExpired
                    | ErrorCode::EnrolmentCodeUsed
                    | ErrorCode::EnrolmentCodeLocked
            ) && !err.message.starts_with("code:");
            if audited_by_store {
                return Err(err);
            }
            let channel = Channel::Enrolment {
                source,
                request_id: request_id.0.clone(),
            };
            Err(Intake::new(&state)
                .refuse(&channel, Against::default(), err.into())
                .await
                .into())
        }
    }
}

async fn enrol(
    state: &AppState,
    device_id: DeviceId,
    req: EnrolRequest,
) -> Result<DeviceId, ApiError> {
    let normalised = normalise_code(&req.code).ok_or_else(|| {
        ApiError::new(
            ErrorCode::EnrolmentCodeInvalid,
            "code: not a 16-character enrolment code",
        )
    })?;
    let key = signing::parse_public_key(&req.public_key).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidField,
            "public_key: not an Ed25519 public key",
        )
    })?;
    let kind = req.kind.clone().unwrap_or_else(|| "app".into());
    if !matches!(kind.as_str(), "app" | "u-relief") {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "kind: app or u-relief",
        ));
    }
    check_pins(req.pin.as_deref(), req.duress_pin.as_deref())?;
    let now = state.now();
    let change = Change::new(
        Actor::Device(device_id),
        now,
        "device enrolment with a one-time code",
    );
    let handle = normalised[..HANDLE_LEN].to_string();
    let hash = code_hash(&normalised);
    // The code first (one indexed read; a wrong code counts against it), then argon2: a flood of wrong codes
    // costs no PIN hashing.
    let check = state
        .store
        .check_enrolment_code(&handle, &hash, ENROLMENT_MAX_ATTEMPTS, &change)
        .await?
        .map_err(refusal_error)?;
    if req.pin.is_some() && check.pins_set && !check.replace_pins {
        return Err(refusal_error(EnrolmentRefusal::PinsAlreadySet));
    }
    let pins = hash_pins(req.pin.as_deref(), req.duress_pin.as_deref()).await?;
    let enrolment = Enrolment {
        handle,
        code_hash: hash,
        device: DeviceRecord {
            id: device_id,
            subscriber_id: None,
            public_key: key.to_bytes().to_vec(),
            kind,
            enrolled_at: now,
            revoked_at: None,
        },
        pins,
        max_attempts: ENROLMENT_MAX_ATTEMPTS,
    };
    let device = state
        .store
        .redeem_enrolment_code(&enrolment, &change)
        .await?
        .map_err(refusal_error)?;
    state.devices.forget(&device.id);
    state.devices.mark_known([device.id]);
    tracing::info!(device_id = %device.id, "device enrolled");
    Ok(device.id)
}

fn refusal_error(refusal: EnrolmentRefusal) -> ApiError {
    match refusal {
        EnrolmentRefusal::Unknown => {
            ApiError::new(ErrorCode::EnrolmentCodeInvalid, "unknown enrolment code")
        }
        EnrolmentRefusal::WrongCode { attempts_left } => ApiError::new(
            ErrorCode::EnrolmentCodeInvalid,
            format!("wrong enrolment code; {attempts_left} tries left before it locks"),
        ),
        EnrolmentRefusal::Locked => ApiError::new(
            ErrorCode::EnrolmentCodeLocked,
            "too many wrong tries: this code is locked; ask for a new one",
        ),
        EnrolmentRefusal::Expired => ApiError::new(
            ErrorCode::EnrolmentCodeExpired,
            "this enrolment code has expired; ask for a new one",
        ),
        EnrolmentRefusal::AlreadyUsed => ApiError::new(
            ErrorCode::EnrolmentCodeUsed,
            "this enrolment code was already used",
        ),
        EnrolmentRefusal::PinsAlreadySet => ApiError::new(
            ErrorCode::Conflict,
            "PINs are already set for this subscriber: enrol without PINs, or ask a supervisor for a code \
                 that replaces them",
        ),
    }
}

// ---- signed requests about an open alert ------------------------------------------------------------------------

/// `POST /api/alerts/{id}/location` body, signed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationUpdateRequest {
    /// The new fix.
    pub location: FixDto,
}

/// The answer to a location update.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LocationAcceptedDto {
    /// The incident.
    pub incident_id: Uuid,
    /// What the device may show (nothing in silent mode).
    pub feedback: DeviceFeedback,
}

/// `POST /api/alerts/{id}/cancel` body, signed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// The subscriber's PIN (or duress PIN).
    pub pin: String,
}

/// The answer to a cancel: identical for the PIN and the duress PIN.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CancelledDto {
    /// The incident.
    pub incident_id: Uuid,
    /// Always `cancelled`.
    pub status: String,
    /// What the device may show (nothing in silent mode).
    pub feedback: DeviceFeedback,
}

/// Answers a refusal of an app request (audited by the intake already), logged at a bounded rate.
fn refused(request_id: &RequestId, refusal: Refusal) -> ApiError {
    crate::flood::log_refusal("app request refused", refusal.code(), Some(&request_id.0));
    refusal.into()
}

/// A signed app request under `context`, checked by the intake; a refusal is audited and answered.
pub(crate) async fn authenticated(
    intake: &Intake<'_>,
    channel: &Channel,
    request_id: &RequestId,
    headers: &HeaderMap,
    body: Body,
    context: &str,
) -> Result<DeviceRequest, ApiError> {
    authenticate(intake, channel, intake.state(), headers, body, context)
        .await
        .map_err(|refusal| refused(request_id, refusal))
}

/// What an authenticated app request answered: a refusal is audited by the intake against the device.
pub(crate) async fn answered<T>(
    intake: &Intake<'_>,
    channel: &Channel,
    request_id: &RequestId,
    device: DeviceId,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match result {
        Ok(answer) => Ok(answer),
        Err(err) => {
            let refusal = intake
                .refuse(channel, Against::device(device), err.into())
                .await;
            Err(refused(request_id, refusal))
        }
    }
}

/// Send a location update for an open alert (device, signed under `jikimi-location-v1 {id}`); refused once the
/// incident is closed; at most 5 at once, then one a second per device.
#[utoipa::path(post, path = "/api/alerts/{id}/location", tag = "app", request_body = LocationUpdateRequest,
    params(("id" = Uuid, Path, description = "incident id from the alert's 202"),
        ("x-jikimi-device" = String, Header, description = "device id"),
        ("x-jikimi-timestamp" = i64, Header, description = "Unix seconds"),
        ("x-jikimi-nonce" = String, Header, description = "single use"),
        ("x-jikimi-signature" = String, Header, description = "Ed25519 over jikimi-location-v1 {id}\\n{device}\\n{timestamp}\\n{nonce}\\n{body}")),
    responses((status = 202, body = LocationAcceptedDto),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, device_unknown, timestamp_out_of_window"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found (or not this device's)"),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition (closed), nonce_replayed"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field"),
        (status = 429, body = crate::error::ErrorBody, description = "rate_limited")))]
pub async fn location_update(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<LocationAcceptedDto>), ApiError> {
    let intake = Intake::new(&state);
    let channel = Channel::App {
        source,
        request_id: request_id.0.clone(),
    };
    let context = signing::location_context(&id);
    let request = authenticated(&intake, &channel, &request_id, &headers, body, &context).await?;
    let result = async {
        if !state.location_limiter.allow(request.device_id, state.now()) {
            return Err(ApiError::from(crate::intake_service::location_limited()));
        }
        let update: LocationUpdateRequest = parse(&request)?;
        let fix = update.location.to_domain(state.now())?;
        let incident = append(
            &state,
            &request,
            IncidentId(id),
            EventKind::LocationAdded { fix },
            false,
            "location update",
        )
        .await?;
        Ok((
            StatusCode::ACCEPTED,
            Json(LocationAcceptedDto {
                incident_id: id,
                feedback: DeviceFeedback::location_received(
                    incident.silent,
                    crate::dto::accept_language(&headers),
                ),
            }),
        ))
    }
    .await;
    answered(&intake, &channel, &request_id, request.device_id, result).await
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    request: &DeviceRequest,
) -> Result<T, ApiError> {
    serde_json::from_slice(&request.bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidPayload, format!("invalid json: {e}")))
}

async fn append(
    state: &AppState,
    request: &DeviceRequest,
    incident_id: IncidentId,
    kind: EventKind,
    pin_accepted: bool,
    reason: &str,
) -> Result<jikimi_respond::Incident, ApiError> {
    state
        .store
        .append_device_event(&DeviceEvent {
            incident_id,
            device_id: request.device_id,
            nonce: request.nonce.clone(),
            kind,
            pin_accepted,
            at: state.now(),
            reason: reason.into(),
        })
        .await
        .map_err(ApiError::from)
}

// A PHC hash of a random PIN: verified against when a subscriber has no duress PIN, so every cancel runs argon2
// exactly twice and a duress PIN costs the same time as a genuine one.
static DUMMY_PIN_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Cancel an open alert with the subscriber's PIN (device, signed under `jikimi-cancel-v1 {id}`). The duress PIN
/// gets exactly this answer too, but escalates the incident to code 0 and keeps it open.
#[utoipa::path(post, path = "/api/alerts/{id}/cancel", tag = "app", request_body = CancelRequest,
    params(("id" = Uuid, Path, description = "incident id from the alert's 202"),
        ("x-jikimi-device" = String, Header, description = "device id"),
        ("x-jikimi-timestamp" = i64, Header, description = "Unix seconds"),
        ("x-jikimi-nonce" = String, Header, description = "single use"),
        ("x-jikimi-signature" = String, Header, description = "Ed25519 over jikimi-cancel-v1 {id}\\n{device}\\n{timestamp}\\n{nonce}\\n{body}")),
    responses((status = 200, body = CancelledDto),
        (status = 401, body = crate::error::ErrorBody, description = "pin_invalid, signature_invalid, device_unknown, timestamp_out_of_window"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found (or not this device's)"),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition (closed), pin_not_set, nonce_replayed"),
        (status = 423, body = crate::error::ErrorBody, description = "pin_locked")))]
pub async fn cancel(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CancelledDto>), ApiError> {
    let intake = Intake::new(&state);
    let channel = Channel::App {
        source,
        request_id: request_id.0.clone(),
    };
    let context = signing::cancel_context(&id);
    let request = authenticated(&intake, &channel, &request_id, &headers, body, &context).await?;
    let result = async {
        let cancel: CancelRequest = parse(&request)?;
        let incident_id = IncidentId(id);
        let incident = state.store.get_incident(incident_id).await?;
        if incident.device_id != request.device_id {
            return Err(ApiError::new(
                ErrorCode::IncidentNotFound,
                "no such incident",
            ));
        }
        let subscriber = request.device.subscriber_id.ok_or_else(|| {
            ApiError::new(
                ErrorCode::PinNotSet,
                "this device has no subscriber and so no PIN",
            )
        })?;
        let pins = match state.store.get_pins(subscriber).await {
            Ok(pins) => pins,
            Err(err) if err.is_not_found() => {
                return Err(ApiError::new(
                    ErrorCode::PinNotSet,
                    "no PIN is set for this subscriber",
                ));
            }
            Err(err) => return Err(err.into()),
        };
        let pin = cancel.pin;
        let pin_hash = pins.pins.pin_hash.clone();
        let duress_hash = pins.pins.duress_pin_hash.clone();
        // The reserved argon2 slot: a login flood cannot make a person under duress wait.
        let matched = password::run_bounded(&state, password::Priority::Duress, move || {
            let dummy = DUMMY_PIN_HASH.get_or_init(|| {
                password::hash_password(&password::generate_password()).unwrap_or_default()
            });
            // Both checks always run, in the same order, whatever the first one says.
            let genuine = password::verify_password(&pin, &pin_hash);
            let duress = password::verify_password(&pin, duress_hash.as_deref().unwrap_or(dummy))
                && duress_hash.is_some();
            match (genuine, duress) {
                (true, _) => PinMatch::Genuine,
                (false, true) => PinMatch::Duress,
                (false, false) => PinMatch::Wrong,
            }
        })
        .await?;
        let now = state.now();
        let locked = pins.locked_until.is_some_and(|until| until > now);
        let locked_error =
            || ApiError::new(ErrorCode::PinLocked, "too many wrong PINs; try again later");
        let decision = decide_cancel(matched, incident.duress, locked);
        let kind = match decision {
            CancelDecision::RefuseLocked => return Err(locked_error()),
            CancelDecision::CountWrongPin => {
                let change =
                    Change::new(Actor::Device(request.device_id), now, "wrong PIN at cancel");
                // The nonce is claimed with the failure: replaying a captured wrong-PIN request cannot count
                // again and so cannot lock the subscriber's PINs.
                let claim = NonceClaim {
                    device_id: request.device_id,
                    nonce: request.nonce.clone(),
                    at: now,
                };
                let after = state
                    .store
                    .record_pin_failure(
                        subscriber,
                        PIN_MAX_ATTEMPTS,
                        PIN_LOCKOUT_MS,
                        Some(&claim),
                        &change,
                    )
                    .await?;
                if after.locked_until.is_some_and(|until| until > now) {
                    return Err(locked_error());
                }
                return Err(ApiError::new(
                    ErrorCode::PinInvalid,
                    format!(
                        "wrong PIN; {} tries left before PINs lock",
                        PIN_MAX_ATTEMPTS.saturating_sub(after.failed_attempts)
                    ),
                ));
            }
            CancelDecision::Cancel | CancelDecision::EscalateSilently { .. } => decision
                .event()
                .ok_or_else(|| ApiError::internal("cancel decision without an event"))?,
        };
        let incident = append(
            &state,
            &request,
            incident_id,
            kind,
            decision.pin_accepted(),
            "cancel with PIN",
        )
        .await?;
        // One log line for both: the log is not the place a duress signal should show (the audit log has it).
        tracing::info!(incident_id = %id, "cancel request handled");
        if decision
            == (CancelDecision::EscalateSilently {
                answer_locked: true,
            })
        {
            return Err(locked_error());
        }
        Ok((
            StatusCode::OK,
            Json(CancelledDto {
                incident_id: id,
                status: "cancelled".into(),
                feedback: DeviceFeedback::cancelled(
                    incident.silent,
                    crate::dto::accept_language(&headers),
                ),
            }),
        ))
    }
    .await;
    answered(&intake, &channel, &request_id, request.device_id, result).await
}
