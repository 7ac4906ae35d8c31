//! Silent two-way text: a dispatcher asks the device that raised an incident a short question; the device shows it
//! without a sound and answers with a tap. Both are incident events ([`jikimi_respond::twoway`]), so they are in the
//! timeline, the audit log and, through the store's commits, the live feed.
//!
//! - `POST /api/incidents/{id}/messages` (dispatcher, supervisor): a canned question (id and arguments) or free
//!   text of at most 160 characters; at most [`QUESTION_BURST`] at once per incident, then one every
//!   [`QUESTION_REFILL_MS`].
//! - `GET /api/devices/{id}/messages` (device, signed under `jikimi-messages-v1 {id}` with an empty body): the
//!   unanswered questions of the device's open incidents, rendered in the subscriber's language
//!   ([`crate::twoway_text`]) with their buttons. The app polls it.
//! - `POST /api/devices/{id}/messages/{message_id}/answer` (device, signed under `jikimi-answer-v1 {message_id}`):
//!   the tap. Idempotent by message id: the same answer again (a retry with a fresh nonce) is answered
//!   `duplicate: true` and changes nothing; a replayed request (same nonce) is `nonce_replayed`.
//!
//! Duress: after a duress PIN the device shows questions discreetly: the canned question's neutral form, a neutral
//! title, and no free text at all, unless the dispatcher sent it with `reveal: true`, an explicit choice recorded in
//! the event and its audit entry. Under duress a free-text question must be sent with `reveal: true`, because its
//! words cannot be neutralised. Nothing in the device's answers says whether it is under duress.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jikimi_respond::twoway::{self, QuestionError};
use jikimi_respond::{
    Answer, AnswerKind, DeviceId, EventKind, Incident, IncidentId, Question, TransitionError,
};
use jikimi_store::{DeviceEvent, IncidentFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::{answered, authenticated, parse};
use crate::auth::Staff;
use crate::dto::{IncidentDto, rfc3339};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Json, RequestId};
use crate::flood::Source;
use crate::intake_service::{Channel, Intake};
use crate::roles::Permission;
use crate::state::AppState;
use crate::twoway_text;

/// Questions a dispatcher may send to one incident at once.
pub const QUESTION_BURST: u32 = 3;
/// Then one per this many milliseconds (a person typing on a phone under threat cannot answer faster).
pub const QUESTION_REFILL_MS: u32 = 10_000;
/// Open incidents a device poll looks at (a device rarely has more than one).
const POLL_INCIDENTS: u32 = 10;

/// The context line of a device's message poll.
pub fn messages_context(device_id: &Uuid) -> String {
    format!("jikimi-messages-v1 {device_id}")
}

/// The context line of a device's answer to `message_id`.
pub fn answer_context(message_id: &Uuid) -> String {
    format!("jikimi-answer-v1 {message_id}")
}

/// `POST /api/incidents/{id}/messages` body: exactly one of `canned` and `text`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// A canned question id: attacker-present, safe-now, injured, people-count, where, help-coming.
    #[schema(example = "attacker-present")]
    pub canned: Option<String>,
    /// The canned question's arguments (help-coming: `minutes`).
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// Free text (1 to 160 characters), shown as written.
    pub text: Option<String>,
    /// The taps offered for free text: `{"kind":"yes_no"}` (default), `{"kind":"number","min":0,"max":10}` or
    /// `{"kind":"preset","options":["inside","outside","vehicle","ok"]}`. A canned question brings its own.
    #[schema(value_type = Option<Object>)]
    pub answer: Option<AnswerKind>,
    /// Show the question as written even after a duress PIN (the choice is audited). Required for free text under
    /// duress.
    #[serde(default)]
    pub reveal: bool,
    /// The seq you last saw (optimistic concurrency); omit to act on the current state.
    pub expected_seq: Option<u64>,
}

/// What a question sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageSentDto {
    /// The question's id; the device answers by it.
    pub message_id: Uuid,
    /// Whether the device shows it discreetly (duress, not revealed).
    pub discreet: bool,
    /// The words the device shows, in the subscriber's language (`null`: withheld until revealed).
    pub device_text: Option<String>,
    /// The incident after the question.
    pub incident: IncidentDto,
}

/// Send a silent question to the device that raised the incident (dispatcher, supervisor); audited; at most 3 at
/// once per incident, then one every 10 s.
#[utoipa::path(post, path = "/api/incidents/{id}/messages", tag = "incidents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "incident id")), request_body = AskRequest,
    responses((status = 201, body = MessageSentDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden (not a dispatcher or supervisor)"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "illegal_transition (closed) or conflict"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: unknown canned id, arguments, text length, answer kind, free text under duress without reveal"),
        (status = 429, body = crate::error::ErrorBody, description = "rate_limited")))]
pub async fn ask(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<AskRequest>,
) -> Result<(StatusCode, Json<MessageSentDto>), ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let question = match (body.canned, body.text) {
        (Some(id), None) => Question::Canned {
            id,
            args: body.args,
        },
        (None, Some(text)) if body.args.is_empty() => Question::Free { text },
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "give exactly one of canned (with its args) and text",
            ));
        }
    };
    let answer_kind = twoway::settle(&question, body.answer).map_err(question_error)?;
    let incident_id = IncidentId(id);
    let current = state.store.get_incident(incident_id).await?;
    if current.duress && !body.reveal && matches!(question, Question::Free { .. }) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "the subscriber gave a duress PIN: free text is shown only with reveal: true (choose it only if the \
             words are safe for whoever holds the phone), or ask a canned question, which has a discreet form",
        ));
    }
    if !state.question_limiter.allow(incident_id, state.now()) {
        let mut limited = ApiError::new(
            ErrorCode::RateLimited,
            "too many questions to this incident; give the person time to answer",
        );
        limited.retry_after_s = Some(u64::from(QUESTION_REFILL_MS / 1000));
        return Err(limited);
    }
    let message_id = Uuid::now_v7();
    // The reveal under duress is a decision worth finding in the audit log by its reason.
    let reason = if body.reveal && current.duress {
        "ask the device, revealed under duress"
    } else if body.reveal {
        "ask the device, revealed"
    } else {
        "ask the device"
    };
    let incident = state
        .store
        .append_event(
            incident_id,
            body.expected_seq.unwrap_or(current.last_seq),
            EventKind::QuestionSent {
                message_id,
                question: question.clone(),
                answer_kind,
                reveal: body.reveal,
            },
            &staff.change(&state, reason),
        )
        .await?;
    let discreet = incident.duress && !body.reveal;
    let lang = twoway_text::language_of(state.store.as_ref(), incident.subscriber_id).await?;
    // Committed: a terminal on MQTT is sent the question now (the app polls for it).
    if let Some(downlink) = state.mqtt_downlink.get() {
        downlink.question(&incident, message_id, &lang).await;
    }
    tracing::info!(incident_id = %id, message_id = %message_id, "question sent to the device");
    Ok((
        StatusCode::CREATED,
        Json(MessageSentDto {
            message_id,
            discreet,
            device_text: twoway_text::question_text(&lang, &question, discreet),
            incident: IncidentDto::from(&incident),
        }),
    ))
}

fn question_error(err: QuestionError) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, err.to_string())
}

/// One button on the device.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnswerOptionDto {
    /// What the button says.
    pub label: String,
    /// What a tap sends as `answer`: `{"kind":"yes_no","value":true}`, `{"kind":"number","value":3}` or
    /// `{"kind":"preset","value":"inside"}`.
    #[schema(value_type = Object)]
    pub answer: Answer,
}

/// A question waiting for a tap, as the device shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingMessageDto {
    /// Answer by this id.
    pub message_id: Uuid,
    /// The incident it belongs to (send it back with the answer).
    pub incident_id: Uuid,
    /// When it was sent (RFC 3339).
    pub sent_at: String,
    /// The heading to show.
    pub title: String,
    /// The question.
    pub text: String,
    /// The buttons, in order.
    pub options: Vec<AnswerOptionDto>,
}

/// The device's unanswered questions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceMessagesDto {
    /// The language the texts are in.
    pub language: String,
    /// Oldest first.
    pub messages: Vec<PendingMessageDto>,
}

/// The unanswered silent questions on the device's open incidents, rendered in the subscriber's language (device,
/// signed under `jikimi-messages-v1 {id}` with an empty body). Shown without sound or vibration.
#[utoipa::path(get, path = "/api/devices/{id}/messages", tag = "app",
    params(("id" = Uuid, Path, description = "the signing device's id"),
        ("x-jikimi-device" = String, Header, description = "device id"),
        ("x-jikimi-timestamp" = i64, Header, description = "Unix seconds"),
        ("x-jikimi-nonce" = String, Header, description = "16-64 chars [A-Za-z0-9_-]"),
        ("x-jikimi-signature" = String, Header, description = "Ed25519 over jikimi-messages-v1 {id}\\n{device}\\n{timestamp}\\n{nonce}\\n (empty body)")),
    responses((status = 200, body = DeviceMessagesDto),
        (status = 400, body = crate::error::ErrorBody, description = "missing_header"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, device_unknown, timestamp_out_of_window"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: another device's messages")))]
pub async fn device_messages(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<DeviceMessagesDto>, ApiError> {
    let intake = Intake::new(&state);
    let channel = Channel::App {
        source,
        request_id: request_id.0.clone(),
    };
    let request = authenticated(
        &intake,
        &channel,
        &request_id,
        &headers,
        body,
        &messages_context(&id),
    )
    .await?;
    let result = async {
        own_device(&request.device_id, &id)?;
        let incidents = state
            .store
            .list_incidents(&IncidentFilter {
                device_id: Some(request.device_id),
                limit: POLL_INCIDENTS,
                ..IncidentFilter::open()
            })
            .await?;
        let lang =
            twoway_text::language_of(state.store.as_ref(), request.device.subscriber_id).await?;
        let mut messages: Vec<PendingMessageDto> =
            incidents.iter().flat_map(|i| pending(i, &lang)).collect();
        messages.sort_by(|a, b| a.sent_at.cmp(&b.sent_at));
        Ok(Json(DeviceMessagesDto {
            language: twoway_text::shown_language(&lang).to_string(),
            messages,
        }))
    }
    .await;
    answered(&intake, &channel, &request_id, request.device_id, result).await
}

/// The poll's answer holding just the unanswered question `message_id` of `incident` (what the MQTT downlink
/// publishes), or `None` when it is answered, unknown, or has nothing to show.
pub fn pending_message(
    incident: &Incident,
    message_id: Uuid,
    lang: &str,
) -> Option<DeviceMessagesDto> {
    let messages: Vec<PendingMessageDto> = pending(incident, lang)
        .into_iter()
        .filter(|m| m.message_id == message_id)
        .collect();
    (!messages.is_empty()).then(|| DeviceMessagesDto {
        language: twoway_text::shown_language(lang).to_string(),
        messages,
    })
}

/// The incident's unanswered questions as its device shows them.
fn pending(incident: &Incident, lang: &str) -> Vec<PendingMessageDto> {
    incident
        .messages
        .iter()
        .filter(|m| m.answer.is_none())
        .filter_map(|m| {
            let discreet = m.discreet(incident.duress);
            let text = twoway_text::question_text(lang, &m.question, discreet)?;
            Some(PendingMessageDto {
                message_id: m.message_id,
                incident_id: incident.id.0,
                sent_at: rfc3339(m.sent_at),
                title: twoway_text::title(lang, discreet),
                text,
                options: twoway_text::options(lang, &m.answer_kind)
                    .into_iter()
                    .map(|(label, answer)| AnswerOptionDto { label, answer })
                    .collect(),
            })
        })
        .collect()
}

/// A signature binds the path's device id in its context line, but any device could sign a line naming another:
/// the signer must be the device named.
fn own_device(signer: &DeviceId, path_id: &Uuid) -> Result<(), ApiError> {
    if signer.0 == *path_id {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "a device reads and answers only its own messages",
        ))
    }
}

/// `POST /api/devices/{id}/messages/{message_id}/answer` body, signed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The incident the question belongs to (from the poll).
    pub incident_id: Uuid,
    /// The tapped option's `answer`.
    #[schema(value_type = Object)]
    pub answer: Answer,
}

/// An answer recorded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnswerRecordedDto {
    /// The question.
    pub message_id: Uuid,
    /// `true` when this answer was recorded before (a retry): nothing changed.
    pub duplicate: bool,
}

/// Answer a silent question with a tap (device, signed under `jikimi-answer-v1 {message_id}`); idempotent by
/// message id.
#[utoipa::path(post, path = "/api/devices/{id}/messages/{message_id}/answer", tag = "app",
    request_body = AnswerRequest,
    params(("id" = Uuid, Path, description = "the signing device's id"),
        ("message_id" = Uuid, Path, description = "the question's id"),
        ("x-jikimi-device" = String, Header, description = "device id"),
        ("x-jikimi-timestamp" = i64, Header, description = "Unix seconds"),
        ("x-jikimi-nonce" = String, Header, description = "single use"),
        ("x-jikimi-signature" = String, Header, description = "Ed25519 over jikimi-answer-v1 {message_id}\\n{device}\\n{timestamp}\\n{nonce}\\n{body}")),
    responses((status = 200, body = AnswerRecordedDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload, missing_header"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, device_unknown, timestamp_out_of_window"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: answering for another device"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found (or not this device's), message_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "nonce_replayed, illegal_transition (closed, or answered differently before)"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: not one of the offered answers")))]
pub async fn answer(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    Path((id, message_id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AnswerRecordedDto>, ApiError> {
    let intake = Intake::new(&state);
    let channel = Channel::App {
        source,
        request_id: request_id.0.clone(),
    };
    let context = answer_context(&message_id);
    let request = authenticated(&intake, &channel, &request_id, &headers, body, &context).await?;
    let result = async {
        own_device(&request.device_id, &id)?;
        let tap: AnswerRequest = parse(&request)?;
        record_answer(&state, request.device_id, &request.nonce, message_id, &tap)
            .await
            .map(Json)
    }
    .await;
    answered(&intake, &channel, &request_id, request.device_id, result).await
}

/// Records a verified device's tapped answer: the one service function below the transports (the app's signed
/// HTTP answer and a terminal's signed MQTT answer, [`crate::mqtt::twoway`]), so both commit, refuse and
/// deduplicate alike. The caller has checked the signature over `jikimi-answer-v1 {message_id}` and that the
/// device is the signer; `nonce` is the signed request's, claimed here in the same transaction as the answer.
pub async fn record_answer(
    state: &AppState,
    device_id: DeviceId,
    nonce: &str,
    message_id: Uuid,
    tap: &AnswerRequest,
) -> Result<AnswerRecordedDto, ApiError> {
    let incident_id = IncidentId(tap.incident_id);
    let event = DeviceEvent {
        incident_id,
        device_id,
        nonce: nonce.to_string(),
        kind: EventKind::AnswerReceived {
            message_id,
            answer: tap.answer.clone(),
        },
        pin_accepted: false,
        at: state.now(),
        reason: "answer a silent question".into(),
    };
    // The store claims the nonce before it applies the fold: a replayed request is `nonce_replayed`; a retry with a
    // fresh nonce meets the recorded answer and is answered as a duplicate.
    match state.store.append_device_event(&event).await {
        Ok(_) => Ok(AnswerRecordedDto {
            message_id,
            duplicate: false,
        }),
        Err(jikimi_store::Error::IllegalTransition(refusal)) => {
            transition_refusal(state, incident_id, message_id, &tap.answer, refusal).await
        }
        Err(err) => Err(err.into()),
    }
}

async fn transition_refusal(
    state: &AppState,
    incident_id: IncidentId,
    message_id: Uuid,
    tapped: &Answer,
    refusal: TransitionError,
) -> Result<AnswerRecordedDto, ApiError> {
    match refusal {
        TransitionError::UnknownMessage(_) => Err(ApiError::new(
            ErrorCode::MessageNotFound,
            "no such question in this incident",
        )),
        TransitionError::AnswerMismatch(_) => Err(ApiError::new(
            ErrorCode::InvalidField,
            "answer: not one of the offered answers",
        )),
        TransitionError::AlreadyAnswered(_) => {
            let incident = state.store.get_incident(incident_id).await?;
            let same = incident
                .messages
                .iter()
                .any(|m| m.message_id == message_id && m.answer.as_ref() == Some(tapped));
            if same {
                Ok(AnswerRecordedDto {
                    message_id,
                    duplicate: true,
                })
            } else {
                Err(ApiError::new(
                    ErrorCode::IllegalTransition,
                    "this question was already answered differently",
                ))
            }
        }
        other => Err(jikimi_store::Error::IllegalTransition(other).into()),
    }
}
