//! The one error type of the HTTP API: a closed set of machine-readable codes, each with its HTTP status.
//!
//! Every handler and extractor fails with [`ApiError`]; the body is always
//! `{"error": {"code", "message", "request_id"}}`. Codes are stable snake_case strings: clients and the
//! console branch on them, so a code is never renamed (the OpenAPI document and a snapshot test pin them).
//! Internal failures answer with a fixed text; the detail goes to the log, never to the client.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::intake_service::Refusal;

/// Every error code the API can answer with. Closed: adding one is an API change, renaming one is forbidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON or does not have the documented shape.
    InvalidPayload,
    /// A field is well-formed JSON but out of range (a coordinate outside the globe, a priority above 4).
    InvalidField,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The request is missing a required header (signature, timestamp, nonce, device id).
    MissingHeader,
    /// The alert's Ed25519 signature does not verify against the device's registered key.
    SignatureInvalid,
    /// The device id is not registered (or was erased).
    DeviceUnknown,
    /// The signed timestamp is outside the accepted window around the server's clock.
    TimestampOutOfWindow,
    /// The nonce was already used by this device: the request is a replay.
    NonceReplayed,
    /// No valid staff session token was presented.
    Unauthenticated,
    /// The staff member's role may not use this endpoint.
    Forbidden,
    /// Username or password is wrong.
    LoginFailed,
    /// No incident with that id.
    IncidentNotFound,
    /// No unit with that call sign.
    UnitNotFound,
    /// No subscriber with that id.
    SubscriberNotFound,
    /// The requested state change is not allowed from the incident's current state.
    IllegalTransition,
    /// Someone else changed the resource first (optimistic concurrency); reload and retry.
    Conflict,
    /// A reveal of personal data was asked without a reason.
    ReasonRequired,
    /// The one-time enrolment code is unknown or wrong (the message says how many tries are left).
    EnrolmentCodeInvalid,
    /// The enrolment code has expired; ask for a new one.
    EnrolmentCodeExpired,
    /// The enrolment code was already used.
    EnrolmentCodeUsed,
    /// Too many wrong tries: the enrolment code is locked; ask for a new one.
    EnrolmentCodeLocked,
    /// The PIN is wrong.
    PinInvalid,
    /// Too many wrong PINs: PINs are refused for a while.
    PinLocked,
    /// No PIN is set for this subscriber, so the alert cannot be cancelled from the device.
    PinNotSet,
    /// Too many requests of this kind from this device or source; slow down (`Retry-After` says when to retry).
    RateLimited,
    /// The AML gateway's credential (HMAC signature, gateway id, timestamp) is missing or does not verify.
    GatewayUnauthenticated,
    /// The server is overloaded or its database is unreachable; retry later.
    Unavailable,
    /// An unexpected server fault; the detail is in the server log under the request id.
    Internal,
    /// No entity link with that id.
    LinkNotFound,
    /// No cooperation record (case, lead) with that id here.
    RecordNotFound,
    /// This node has no agency identity yet (`jikimi agency init` or `POST /api/exchange/agency`).
    AgencyNotInitialised,
    /// This server does not run that part of jikimi (e.g. cooperation is off on this node).
    NotEnabled,
    /// No staff account with that user name.
    StaffNotFound,
    /// No endpoint at this path (see `/api/openapi.json`).
    NoSuchEndpoint,
    /// No silent question with that id in this incident.
    MessageNotFound,
    /// No transfer set with that id.
    TransferSetNotFound,
    /// No money trace run with that id.
    TraceRunNotFound,
    /// No hash bank with that id.
    BankNotFound,
    /// No bank content with that id.
    ContentNotFound,
    /// No identify match with that id.
    MatchNotFound,
    /// No road closure with that id.
    ClosureNotFound,
    /// No disaster with that id (or, for a device's answer, none that asked its subscriber).
    DisasterNotFound,
    /// The unit does not satisfy what the incident needs (type or capabilities); dispatch it with
    /// `override_need: true` if you mean to (audited).
    UnitUnsuitable,
    /// No triage job with that id on this server.
    TriageJobNotFound,
}

impl ErrorCode {
    /// Every code, for the OpenAPI description and the snapshot test.
    pub const ALL: [ErrorCode; 44] = [
        ErrorCode::InvalidPayload,
        ErrorCode::InvalidField,
        ErrorCode::PayloadTooLarge,
        ErrorCode::MissingHeader,
        ErrorCode::SignatureInvalid,
        ErrorCode::DeviceUnknown,
        ErrorCode::TimestampOutOfWindow,
        ErrorCode::NonceReplayed,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::LoginFailed,
        ErrorCode::IncidentNotFound,
        ErrorCode::UnitNotFound,
        ErrorCode::SubscriberNotFound,
        ErrorCode::IllegalTransition,
        ErrorCode::Conflict,
        ErrorCode::ReasonRequired,
        ErrorCode::EnrolmentCodeInvalid,
        ErrorCode::EnrolmentCodeExpired,
        ErrorCode::EnrolmentCodeUsed,
        ErrorCode::EnrolmentCodeLocked,
        ErrorCode::PinInvalid,
        ErrorCode::PinLocked,
        ErrorCode::PinNotSet,
        ErrorCode::RateLimited,
        ErrorCode::GatewayUnauthenticated,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::LinkNotFound,
        ErrorCode::RecordNotFound,
        ErrorCode::AgencyNotInitialised,
        ErrorCode::NotEnabled,
        ErrorCode::StaffNotFound,
        ErrorCode::NoSuchEndpoint,
        ErrorCode::MessageNotFound,
        ErrorCode::TransferSetNotFound,
        ErrorCode::TraceRunNotFound,
        ErrorCode::BankNotFound,
        ErrorCode::ContentNotFound,
        ErrorCode::MatchNotFound,
        ErrorCode::ClosureNotFound,
        ErrorCode::DisasterNotFound,
        ErrorCode::UnitUnsuitable,
        ErrorCode::TriageJobNotFound,
    ];

    /// The HTTP status this code is always answered with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidPayload | ErrorCode::MissingHeader | ErrorCode::ReasonRequired => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::InvalidField => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::SignatureInvalid
            | ErrorCode::DeviceUnknown
            | ErrorCode::TimestampOutOfWindow
            | ErrorCode::Unauthenticated
            | ErrorCode::LoginFailed
            | ErrorCode::EnrolmentCodeInvalid
            | ErrorCode::PinInvalid
            | ErrorCode::GatewayUnauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::EnrolmentCodeExpired => StatusCode::GONE,
            ErrorCode::EnrolmentCodeUsed | ErrorCode::PinNotSet => StatusCode::CONFLICT,
            ErrorCode::EnrolmentCodeLocked | ErrorCode::PinLocked => StatusCode::LOCKED,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::NonceReplayed
            | ErrorCode::IllegalTransition
            | ErrorCode::Conflict
            | ErrorCode::UnitUnsuitable => StatusCode::CONFLICT,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::IncidentNotFound
            | ErrorCode::UnitNotFound
            | ErrorCode::SubscriberNotFound
            | ErrorCode::LinkNotFound
            | ErrorCode::RecordNotFound
            | ErrorCode::StaffNotFound
            | ErrorCode::MessageNotFound
            | ErrorCode::TransferSetNotFound
            | ErrorCode::TraceRunNotFound
            | ErrorCode::BankNotFound
            | ErrorCode::ContentNotFound
            | ErrorCode::MatchNotFound
            | ErrorCode::TriageJobNotFound
            | ErrorCode::ClosureNotFound
            | ErrorCode::DisasterNotFound
            | ErrorCode::NoSuchEndpoint => StatusCode::NOT_FOUND,
            ErrorCode::AgencyNotInitialised => StatusCode::CONFLICT,
            ErrorCode::NotEnabled => StatusCode::NOT_FOUND,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable wire string, e.g. `signature_invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPayload => "invalid_payload",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::MissingHeader => "missing_header",
            ErrorCode::SignatureInvalid => "signature_invalid",
            ErrorCode::DeviceUnknown => "device_unknown",
            ErrorCode::TimestampOutOfWindow => "timestamp_out_of_window",
            ErrorCode::NonceReplayed => "nonce_replayed",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::LoginFailed => "login_failed",
            ErrorCode::IncidentNotFound => "incident_not_found",
            ErrorCode::UnitNotFound => "unit_not_found",
            ErrorCode::SubscriberNotFound => "subscriber_not_found",
            ErrorCode::LinkNotFound => "link_not_found",
            ErrorCode::IllegalTransition => "illegal_transition",
            ErrorCode::Conflict => "conflict",
            ErrorCode::ReasonRequired => "reason_required",
            ErrorCode::EnrolmentCodeInvalid => "enrolment_code_invalid",
            ErrorCode::EnrolmentCodeExpired => "enrolment_code_expired",
            ErrorCode::EnrolmentCodeUsed => "enrolment_code_used",
            ErrorCode::EnrolmentCodeLocked => "enrolment_code_locked",
            ErrorCode::PinInvalid => "pin_invalid",
            ErrorCode::PinLocked => "pin_locked",
            ErrorCode::PinNotSet => "pin_not_set",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::GatewayUnauthenticated => "gateway_unauthenticated",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::RecordNotFound => "record_not_found",
            ErrorCode::AgencyNotInitialised => "agency_not_initialised",
            ErrorCode::NotEnabled => "not_enabled",
            ErrorCode::StaffNotFound => "staff_not_found",
            ErrorCode::TransferSetNotFound => "transfer_set_not_found",
            ErrorCode::TraceRunNotFound => "trace_run_not_found",
            ErrorCode::BankNotFound => "bank_not_found",
            ErrorCode::ContentNotFound => "content_not_found",
            ErrorCode::MatchNotFound => "match_not_found",
            ErrorCode::TriageJobNotFound => "triage_job_not_found",
            ErrorCode::ClosureNotFound => "closure_not_found",
            ErrorCode::DisasterNotFound => "disaster_not_found",
            ErrorCode::UnitUnsuitable => "unit_unsuitable",
            ErrorCode::NoSuchEndpoint => "no_such_endpoint",
            ErrorCode::MessageNotFound => "message_not_found",
        }
    }
}

/// What the client reads for every server fault; the detail is only in the log.
const INTERNAL_MESSAGE: &str = "internal error; see the server log for this request id";

/// An API failure: a code, a message safe to show the client, and (for internal faults) a detail for the log.
#[derive(Debug)]
pub struct ApiError {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// Human-readable, lowercase, no personal data.
    pub message: String,
    /// What went wrong inside, logged with the request id but never sent to the client.
    pub internal: Option<String>,
    /// For `rate_limited` and `unavailable`: when to retry, sent as `Retry-After` (whole seconds, at least 1).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// The same error with a `Retry-After` of `seconds` (at least 1).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds.max(1));
        self
    }

    /// A client-visible error with its message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            internal: None,
            retry_after_s: None,
        }
    }

    /// A server fault: the client sees a fixed text, the log sees `detail`.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: INTERNAL_MESSAGE.into(),
            internal: Some(detail.to_string()),
            retry_after_s: None,
        }
    }

    /// The store or database is not reachable.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        Self {
            code: ErrorCode::Unavailable,
            message: "service temporarily unavailable; retry later".into(),
            internal: Some(detail.to_string()),
            retry_after_s: None,
        }
    }
}

/// The one mapping from store errors to API errors: every handler, extractor and adapter uses it through `?`.
/// Refusals the caller can act on keep their codes; a damaged stored row is a server fault (500, logged here, so
/// adapters that never render a response log it too); an unreachable or tampered store is `unavailable` (503).
impl From<jikimi_store::Error> for ApiError {
    fn from(err: jikimi_store::Error) -> ApiError {
        use jikimi_store::{Conflict, Error};
        match err {
            Error::NotFound { entity, .. } => not_found(entity),
            Error::Conflict(Conflict::NonceReplayed) => ApiError::new(
                ErrorCode::NonceReplayed,
                "this nonce was already used by this device",
            ),
            Error::Conflict(Conflict::StaleSequence { expected, actual }) => ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "incident changed meanwhile: it is at seq {actual}, you sent {expected}; reload"
                ),
            ),
            // A busy unit is a transition the unit cannot make now, as before dispatch moved into the store.
            Error::Conflict(busy @ Conflict::UnitBusy { .. }) => {
                ApiError::new(ErrorCode::IllegalTransition, busy.to_string())
            }
            Error::Conflict(unsuitable @ Conflict::UnitUnsuitable { .. }) => {
                ApiError::new(ErrorCode::UnitUnsuitable, unsuitable.to_string())
            }
            Error::Conflict(other) => ApiError::new(ErrorCode::Conflict, other.to_string()),
            Error::Invalid(message) => ApiError::new(ErrorCode::InvalidField, message),
            Error::IllegalTransition(e) => {
                ApiError::new(ErrorCode::IllegalTransition, e.to_string())
            }
            Error::Corrupt(what) => {
                // `what` names the damaged column or kind, never a stored value: safe for the log.
                tracing::error!(what = %what, "corrupt stored data: the database needs an operator");
                // Logged once, here: no `internal` detail, so the response does not log it again.
                ApiError::new(ErrorCode::Internal, INTERNAL_MESSAGE)
            }
            err @ (Error::Tampered(_) | Error::Unavailable { .. }) => ApiError::unavailable(err),
        }
    }
}

/// The HTTP answer to an intake refusal: the one mapping from the transport-neutral [`Refusal`] to the API.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::Refused { code, message } => ApiError::new(code, message),
            Refusal::RateLimited {
                message,
                retry_after_s,
            } => ApiError {
                retry_after_s,
                ..ApiError::new(ErrorCode::RateLimited, message)
            },
            Refusal::Unavailable { detail } => ApiError::unavailable(detail),
            Refusal::Internal {
                detail: Some(detail),
            } => ApiError::internal(detail),
            // Logged where it arose (a corrupt row): the fixed text only.
            Refusal::Internal { detail: None } => {
                ApiError::new(ErrorCode::Internal, INTERNAL_MESSAGE)
            }
        }
    }
}

/// An API failure met by the HTTP side of an intake step (a body it read, a handler's own check), handed to the
/// intake to be audited: the inverse of `From<Refusal>`, losing nothing the client or the log sees.
impl From<ApiError> for Refusal {
    fn from(err: ApiError) -> Refusal {
        match err.code {
            ErrorCode::RateLimited => Refusal::RateLimited {
                message: err.message,
                retry_after_s: err.retry_after_s,
            },
            ErrorCode::Unavailable => Refusal::Unavailable {
                detail: err.internal.unwrap_or(err.message),
            },
            ErrorCode::Internal => Refusal::Internal {
                detail: err.internal,
            },
            code => Refusal::Refused {
                code,
                message: err.message,
            },
        }
    }
}

/// Store errors met by the intake keep the codes and messages of the one mapping above.
impl From<jikimi_store::Error> for Refusal {
    fn from(err: jikimi_store::Error) -> Refusal {
        ApiError::from(err).into()
    }
}

/// The API error for an entity the store did not find.
fn not_found(entity: jikimi_store::Entity) -> ApiError {
    use jikimi_store::Entity;
    let (code, message) = match entity {
        Entity::Incident => (ErrorCode::IncidentNotFound, "no such incident"),
        Entity::Alert => (
            ErrorCode::IncidentNotFound,
            "no alert with this id from this device",
        ),
        Entity::Unit => (ErrorCode::UnitNotFound, "no such unit"),
        Entity::Subscriber => (ErrorCode::SubscriberNotFound, "no such subscriber"),
        Entity::Guardian => (ErrorCode::SubscriberNotFound, "no such guardian"),
        Entity::Device => (ErrorCode::DeviceUnknown, "device is not registered"),
        Entity::Pins => (ErrorCode::PinNotSet, "no PIN is set for this subscriber"),
        Entity::Staff => (
            ErrorCode::StaffNotFound,
            "no staff account with that user name",
        ),
        Entity::Session => (
            ErrorCode::Unauthenticated,
            "session unknown, ended or expired; log in again",
        ),
        Entity::EntityLink => (ErrorCode::LinkNotFound, "no such entity link"),
        Entity::TransferSet => (ErrorCode::TransferSetNotFound, "no such transfer set"),
        Entity::TraceRun => (ErrorCode::TraceRunNotFound, "no such trace run"),
        Entity::Bank => (ErrorCode::BankNotFound, "no such bank"),
        Entity::Content => (ErrorCode::ContentNotFound, "no such bank content"),
        Entity::Match => (ErrorCode::MatchNotFound, "no such match"),
        Entity::RoadClosure => (ErrorCode::ClosureNotFound, "no such road closure"),
        Entity::Disaster => (
            ErrorCode::DisasterNotFound,
            "no such disaster, or it did not ask this device's subscriber",
        ),
    };
    ApiError::new(code, message)
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// The wire shape of an error body, for OpenAPI.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// `{"code", "message", "request_id"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// One of the stable codes, e.g. `signature_invalid`.
    #[schema(example = "signature_invalid")]
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// The request id (also in the `x-request-id` response header) to find the request in the server log.
    pub request_id: String,
}

/// Carries the code of a failed request to the request-id middleware, which fills in `request_id`.
#[derive(Debug, Clone)]
pub struct ErrorMarker {
    /// The code that was answered.
    pub code: ErrorCode,
    /// The message that was answered.
    pub message: String,
    /// `Retry-After` seconds, for `rate_limited` and a passing `unavailable`.
    pub retry_after_s: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let (Some(detail), Some(retry)) = (&self.internal, self.retry_after_s) {
            // A known passing state (the hash banks still loading at start): the client is told when to retry, and
            // logging each refusal as a fault would bury real ones.
            tracing::warn!(code = self.code.as_str(), detail = %detail, retry_after_s = retry, "request refused for now");
        } else if let Some(detail) = &self.internal {
            tracing::error!(code = self.code.as_str(), detail = %detail, "request failed inside the server");
        }
        metrics::counter!("jikimi_http_errors_total", "code" => self.code.as_str()).increment(1);
        // The request id is only known to the middleware; it rewrites the body (see `request_id_layer`).
        let body = serde_json::json!({
            "error": {"code": self.code.as_str(), "message": self.message, "request_id": ""}
        });
        let mut response = (self.code.status(), axum::Json(body)).into_response();
        // A 429 always says when to come back; limits that know better set their own wait.
        let retry_after_s = match self.code {
            ErrorCode::RateLimited => Some(self.retry_after_s.unwrap_or(1)),
            _ => self.retry_after_s,
        };
        set_retry_after(&mut response, retry_after_s);
        response.extensions_mut().insert(ErrorMarker {
            code: self.code,
            message: self.message,
            retry_after_s,
        });
        response
    }
}

/// Builds the final error body with the request id filled in.
/// Whether `response` is a rejection by one of axum's own extractors (a malformed path or query string): a 400 or
/// 422 with a plain-text body and no [`ErrorMarker`]. Our extractors and handlers always set the marker.
pub(crate) fn is_framework_rejection(response: &Response) -> bool {
    let status = response.status();
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    (status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY)
        && plain
        && response.extensions().get::<ErrorMarker>().is_none()
}

/// The API error for a framework rejection: `invalid_payload` with axum's explanation (it names the parameter and
/// the parse failure; paths and query strings carry ids and filters, never personal data), cut to a sane length.
pub(crate) async fn rejection_marker(response: Response) -> ErrorMarker {
    const MAX_TEXT: usize = 300;
    let bytes = axum::body::to_bytes(response.into_body(), 4 * MAX_TEXT)
        .await
        .unwrap_or_default();
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    metrics::counter!("jikimi_http_errors_total", "code" => ErrorCode::InvalidPayload.as_str())
        .increment(1);
    ErrorMarker {
        code: ErrorCode::InvalidPayload,
        message: format!("invalid request: {text}"),
        retry_after_s: None,
    }
}

pub(crate) fn error_response(marker: &ErrorMarker, request_id: &str) -> Response {
    let body = serde_json::json!({
        "error": {"code": marker.code.as_str(), "message": marker.message, "request_id": request_id}
    });
    let mut response = (marker.code.status(), axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    set_retry_after(&mut response, marker.retry_after_s);
    response
}

fn set_retry_after(response: &mut Response, seconds: Option<u64>) {
    if let Some(seconds) = seconds {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_wire_string() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json.as_str(), Some(code.as_str()));
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    fn mapped(err: jikimi_store::Error) -> (ErrorCode, StatusCode, String) {
        let api = ApiError::from(err);
        (api.code, api.code.status(), api.message)
    }

    #[test]
    fn every_entity_not_found_keeps_its_code() {
        use jikimi_store::{Entity, Error};
        let cases = [
            (
                Entity::Incident,
                ErrorCode::IncidentNotFound,
                StatusCode::NOT_FOUND,
            ),
            (
                Entity::Alert,
                ErrorCode::IncidentNotFound,
                StatusCode::NOT_FOUND,
            ),
            (Entity::Unit, ErrorCode::UnitNotFound, StatusCode::NOT_FOUND),
            (
                Entity::Subscriber,
                ErrorCode::SubscriberNotFound,
                StatusCode::NOT_FOUND,
            ),
            (
                Entity::Guardian,
                ErrorCode::SubscriberNotFound,
                StatusCode::NOT_FOUND,
            ),
            (
                Entity::Device,
                ErrorCode::DeviceUnknown,
                StatusCode::UNAUTHORIZED,
            ),
            (Entity::Pins, ErrorCode::PinNotSet, StatusCode::CONFLICT),
            (
                Entity::Staff,
                ErrorCode::StaffNotFound,
                StatusCode::NOT_FOUND,
            ),
            (
                Entity::Session,
                ErrorCode::Unauthenticated,
                StatusCode::UNAUTHORIZED,
            ),
            (
                Entity::EntityLink,
                ErrorCode::LinkNotFound,
                StatusCode::NOT_FOUND,
            ),
        ];
        for (entity, code, status) in cases {
            let (got, got_status, message) = mapped(Error::not_found(entity, "x-1"));
            assert_eq!((got, got_status), (code, status), "{entity}");
            // The id is not echoed: a staff user name or a session is no business of the message.
            assert!(!message.contains("x-1"), "{message}");
        }
    }

    #[test]
    fn conflicts_keep_their_codes() {
        use jikimi_store::{Conflict, Error};
        let (code, status, _) = mapped(Error::Conflict(Conflict::NonceReplayed));
        assert_eq!(
            (code, status),
            (ErrorCode::NonceReplayed, StatusCode::CONFLICT)
        );
        let (code, _, message) = mapped(Error::Conflict(Conflict::StaleSequence {
            expected: 3,
            actual: 4,
        }));
        assert_eq!(code, ErrorCode::Conflict);
        assert!(
            message.contains("seq 4") && message.contains("sent 3"),
            "{message}"
        );
        let (code, _, message) = mapped(Error::Conflict(Conflict::AlreadyExists("staff")));
        assert_eq!(
            (code, message.as_str()),
            (ErrorCode::Conflict, "staff already exists")
        );
        let (code, _, _) = mapped(Error::Conflict(Conflict::LeaseLost));
        assert_eq!(code, ErrorCode::Conflict);
    }

    #[test]
    fn refusals_of_the_request_are_client_errors() {
        use jikimi_store::Error;
        let (code, status, message) = mapped(Error::Invalid("limit 0 is not in 1..=10000".into()));
        assert_eq!(
            (code, status),
            (ErrorCode::InvalidField, StatusCode::UNPROCESSABLE_ENTITY)
        );
        assert_eq!(message, "limit 0 is not in 1..=10000");
        let transition = jikimi_respond::TransitionError::AlreadyReceived;
        let (code, status, _) = mapped(Error::IllegalTransition(transition));
        assert_eq!(
            (code, status),
            (ErrorCode::IllegalTransition, StatusCode::CONFLICT)
        );
    }

    #[test]
    fn corrupt_rows_are_internal_and_say_nothing_of_the_row() {
        let api = ApiError::from(jikimi_store::Error::corrupt(
            "stored incident does not parse",
        ));
        assert_eq!(api.code, ErrorCode::Internal);
        assert_eq!(api.code.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(api.message, INTERNAL_MESSAGE);
        // Logged by the mapping itself; the response must not log it a second time.
        assert!(api.internal.is_none());
    }

    #[test]
    fn corrupt_cooperation_rows_are_internal_too() {
        let corrupt = jikimi_exchange::Error::Store {
            during: "read",
            source: Box::new(jikimi_store::Error::corrupt("stored uuid")),
        };
        assert_eq!(ApiError::from(corrupt).code, ErrorCode::Internal);
        let down = jikimi_exchange::Error::Store {
            during: "read",
            source: Box::new(jikimi_store::Error::Unavailable {
                message: "database error".into(),
                source: "connection refused".into(),
            }),
        };
        assert_eq!(ApiError::from(down).code, ErrorCode::Unavailable);
    }

    #[test]
    fn store_faults_are_unavailable() {
        use jikimi_store::Error;
        let down = Error::Unavailable {
            message: "database error".into(),
            source: "connection refused".into(),
        };
        let (code, status, message) = mapped(down);
        assert_eq!(
            (code, status),
            (ErrorCode::Unavailable, StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(!message.contains("refused"), "{message}");
        let tampered = Error::Tampered(jikimi_audit::AuditError::Tampered {
            seq: 7,
            reason: jikimi_audit::TamperKind::Hash,
        });
        assert_eq!(mapped(tampered).0, ErrorCode::Unavailable);
    }
}
