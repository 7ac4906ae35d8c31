//! The 112 app's side of a welfare check: a signed poll for the open disasters that asked its subscriber, and a
//! signed answer. The signatures are the app's ([`crate::signing`]) under their own context lines, checked and
//! refusals audited by the intake as every signed app request is.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::welfare::{
    WelfareAnswerRequest, WelfareAnsweredDto, WelfareQuestionDto, answer_context, poll_context,
    question, record_answer,
};
use crate::app::{answered, authenticated, parse};
use crate::error::{ApiError, ErrorCode};
use crate::extract::{Json, RequestId};
use crate::flood::Source;
use crate::intake_service::{Channel, Intake};
use crate::state::AppState;

/// The device's open welfare checks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WelfarePollDto {
    /// Oldest first.
    pub checks: Vec<WelfareQuestionDto>,
}

fn own_device(signer: &jikimi_respond::DeviceId, path_id: &Uuid) -> Result<(), ApiError> {
    if signer.0 == *path_id {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "a device reads and answers only its own welfare checks",
        ))
    }
}

/// The open disasters that asked this device's subscriber "are you safe?", in the subscriber's language (device,
/// signed under `jikimi-welfare-poll-v1 {id}` with an empty body).
#[utoipa::path(get, path = "/api/devices/{id}/welfare", tag = "app",
    params(("id" = Uuid, Path, description = "the signing device's id"),
        ("x-jikimi-device" = String, Header, description = "device id"),
        ("x-jikimi-timestamp" = i64, Header, description = "Unix seconds"),
        ("x-jikimi-nonce" = String, Header, description = "16-64 chars [A-Za-z0-9_-]"),
        ("x-jikimi-signature" = String, Header, description = "Ed25519 over jikimi-welfare-poll-v1 {id}\\n{device}\\n{timestamp}\\n{nonce}\\n (empty body)")),
    responses((status = 200, body = WelfarePollDto),
        (status = 400, body = crate::error::ErrorBody, description = "missing_header"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, device_unknown, timestamp_out_of_window"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: another device's checks")))]
pub async fn poll(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<WelfarePollDto>, ApiError> {
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
        &poll_context(&id),
    )
    .await?;
    let result = async {
        own_device(&request.device_id, &id)?;
        let lang =
            crate::twoway_text::language_of(state.store.as_ref(), request.device.subscriber_id)
                .await?;
        let pending = state.store.pending_welfare(request.device_id).await?;
        Ok(Json(WelfarePollDto {
            checks: pending
                .iter()
                .map(|p| question(&p.disaster, &lang, p.status))
                .collect(),
        }))
    }
    .await;
    answered(&intake, &channel, &request_id, request.device_id, result).await
}

/// Answer "are you safe?" (device, signed under `jikimi-welfare-v1 {disaster_id}`); idempotent by answer id. The
/// answer says how often to report from now on.
#[utoipa::path(post, path = "/api/devices/{id}/welfare/{disaster_id}/answer", tag = "app",
    request_body = WelfareAnswerRequest,
    params(("id" = Uuid, Path, description = "the signing device's id"),
        ("disaster_id" = Uuid, Path, description = "the disaster"),
        ("x-jikimi-device" = String, Header, description = "device id"),
        ("x-jikimi-timestamp" = i64, Header, description = "Unix seconds"),
        ("x-jikimi-nonce" = String, Header, description = "single use"),
        ("x-jikimi-signature" = String, Header, description = "Ed25519 over jikimi-welfare-v1 {disaster_id}\\n{device}\\n{timestamp}\\n{nonce}\\n{body}")),
    responses((status = 200, body = WelfareAnsweredDto),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload, missing_header"),
        (status = 401, body = crate::error::ErrorBody, description = "signature_invalid, device_unknown, timestamp_out_of_window"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: answering for another device"),
        (status = 404, body = crate::error::ErrorBody, description = "disaster_not_found (or it did not ask this device's subscriber)"),
        (status = 409, body = crate::error::ErrorBody, description = "nonce_replayed; conflict: the disaster is closed, or this answer id was answered differently"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: answer, location, battery_pct, people")))]
pub async fn answer(
    State(state): State<AppState>,
    request_id: RequestId,
    source: Source,
    Path((id, disaster_id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<WelfareAnsweredDto>, ApiError> {
    let intake = Intake::new(&state);
    let channel = Channel::App {
        source,
        request_id: request_id.0.clone(),
    };
    let context = answer_context(&disaster_id);
    let request = authenticated(&intake, &channel, &request_id, &headers, body, &context).await?;
    let result = async {
        own_device(&request.device_id, &id)?;
        let body: WelfareAnswerRequest = parse(&request)?;
        record_answer(
            &state,
            request.device_id,
            request.device.subscriber_id,
            &request.nonce,
            disaster_id,
            &body,
        )
        .await
        .map(Json)
    }
    .await;
    answered(&intake, &channel, &request_id, request.device_id, result).await
}
