//! Silent two-way text over MQTT, the terminal half of [`crate::twoway`].
//!
//! - Downlink: [`Downlink`] is the adapter's publishing handle, kept in [`AppState::mqtt_downlink`] once the adapter
//!   runs. The ask handler ([`crate::twoway::ask`]) calls [`Downlink::question`] right after the question is
//!   committed; it publishes (QoS 1, not retained) on `{prefix}/devices/{device}/messages` the JSON the app's poll
//!   answers, holding just that question, rendered with the same discreet rules. The app keeps polling; a terminal
//!   that missed the publication (offline with no session) sees nothing of it until asked again.
//! - Uplink: an answer on `{prefix}/devices/{device}/messages/{message_id}/answer` is a signed envelope
//!   ([`super::envelope`]) whose body is the HTTP answer's body, signed under `jikimi-answer-v1 {message_id}`. It is
//!   verified by the intake, recorded by [`crate::twoway::record_answer`] (the HTTP path's service function) and
//!   PUBACKed only after that commit, after an [`envelope::AnswerAck`] on `{prefix}/devices/{device}/ack`; a refusal
//!   is audited like a refused terminal message, answered with its code and then PUBACKed (a resend would be refused
//!   the same way). A server fault leaves it unacknowledged for redelivery.

use std::time::Duration;

use jikimi_respond::{DeviceId, Incident};
use rumqttc::{AsyncClient, Publish, QoS};
use uuid::Uuid;

use super::envelope;
use crate::error::{ApiError, ErrorCode};
use crate::intake_service::{Against, Channel, Intake, Refusal, Signed};
use crate::state::AppState;
use crate::twoway::{AnswerRecordedDto, AnswerRequest, answer_context, pending_message};

/// The MQTT adapter's publishing handle.
#[derive(Debug, Clone)]
pub struct Downlink {
    client: AsyncClient,
    prefix: String,
}

impl Downlink {
    /// A handle publishing through `client` under `prefix`.
    pub fn new(client: AsyncClient, prefix: String) -> Downlink {
        Downlink { client, prefix }
    }

    /// The client it publishes through (the other downlinks, e.g. [`super::welfare`], use it too).
    pub(crate) fn client(&self) -> &AsyncClient {
        &self.client
    }

    /// The topic prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Publishes the committed question `message_id` of `incident` to the incident's device, in `lang`. A question
    /// with nothing to show (free text withheld) is not published. Failures are logged: the question is committed
    /// and the app's poll still shows it.
    pub async fn question(&self, incident: &Incident, message_id: uuid::Uuid, lang: &str) {
        let Some(poll) = pending_message(incident, message_id, lang) else {
            return;
        };
        let topic = envelope::messages_topic(&self.prefix, &incident.device_id.0);
        match serde_json::to_vec(&poll) {
            Ok(bytes) => {
                if let Err(err) = self
                    .client
                    .publish(topic, QoS::AtLeastOnce, false, bytes)
                    .await
                {
                    tracing::warn!(error = %err, "mqtt question could not be queued");
                }
            }
            Err(err) => tracing::error!(error = %err, "mqtt question could not be encoded"),
        }
    }
}

/// Handles a terminal's answer published on its answer topic (`device` and `message_id` from the topic).
pub(super) async fn answer(
    state: &AppState,
    client: &AsyncClient,
    prefix: &str,
    device: Uuid,
    message_id: Uuid,
    publish: Publish,
) {
    let intake = Intake::new(state);
    let channel = Channel::Mqtt {
        topic: publish.topic.clone(),
    };
    // The nonce, for the terminal to match the acknowledgement (absent when the envelope does not decode).
    let nonce = serde_json::from_slice::<envelope::Envelope>(&publish.payload)
        .ok()
        .map(|e| e.nonce);
    let mut attempt = 0u32;
    let result = loop {
        let result = attempt_answer(state, &intake, &channel, device, message_id, &publish).await;
        match &result {
            Err(Refusal::Unavailable { .. }) if attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt.min(8)))).await;
            }
            _ => break result,
        }
    };
    let ack = match result {
        Ok(recorded) => {
            tracing::info!(
                message_id = %recorded.message_id,
                duplicate = recorded.duplicate,
                "mqtt answer recorded"
            );
            envelope::AnswerAck::recorded(message_id, recorded.duplicate, nonce)
        }
        Err(refusal) if refusal.is_server_fault() => {
            tracing::error!(
                code = refusal.code().as_str(),
                "mqtt answer not committed; left for redelivery"
            );
            return;
        }
        Err(refusal) => {
            crate::flood::log_refusal("mqtt answer refused", refusal.code(), None);
            envelope::AnswerAck::refused(message_id, nonce, refusal.code())
        }
    };
    match serde_json::to_vec(&ack) {
        Ok(bytes) => {
            let topic = envelope::ack_topic(prefix, &device);
            if let Err(err) = client.publish(topic, QoS::AtLeastOnce, false, bytes).await {
                tracing::warn!(error = %err, "mqtt answer ack could not be queued");
            }
        }
        Err(err) => tracing::error!(error = %err, "mqtt answer ack could not be encoded"),
    }
    if let Err(err) = client.ack(&publish).await {
        tracing::warn!(error = %err, "mqtt puback could not be queued");
    }
}

/// One try: parse, verify (audited by the intake), record; a refusal after verification is audited against the
/// device, as the HTTP answer's are.
async fn attempt_answer(
    state: &AppState,
    intake: &Intake<'_>,
    channel: &Channel,
    device: Uuid,
    message_id: Uuid,
    publish: &Publish,
) -> Result<AnswerRecordedDto, Refusal> {
    let envelope =
        match envelope::parse_envelope_of(&device, &publish.payload, state.config.body_limit_bytes)
        {
            Ok(envelope) => envelope,
            Err(err) => {
                let refusal = Refusal::new(err.code, err.detail);
                return Err(intake.refuse(channel, Against::default(), refusal).await);
            }
        };
    let signed = Signed {
        device_id: DeviceId(envelope.device),
        timestamp_s: envelope.timestamp,
        nonce: &envelope.nonce,
        signature: &envelope.signature,
        body: envelope.body.as_bytes(),
    };
    intake
        .verify(&answer_context(&message_id), &signed, channel)
        .await?;
    let result = match serde_json::from_str::<AnswerRequest>(&envelope.body) {
        Ok(tap) => {
            match crate::twoway::record_answer(
                state,
                signed.device_id,
                &envelope.nonce,
                message_id,
                &tap,
            )
            .await
            {
                // The broker delivers a message again when our PUBACK was lost: its nonce is spent, but if the
                // same answer is recorded the terminal's tap is in, so it is a duplicate, not a refusal.
                Err(err) if err.code == ErrorCode::NonceReplayed => {
                    redelivered(state, message_id, &tap).await.ok_or(err)
                }
                other => other,
            }
        }
        Err(err) => Err(ApiError::new(
            ErrorCode::InvalidPayload,
            format!("invalid answer json: {err}"),
        )),
    };
    match result {
        Ok(recorded) => Ok(recorded),
        Err(err) => Err(intake
            .refuse(channel, Against::device(signed.device_id), err.into())
            .await),
    }
}

/// The duplicate answer of a redelivered message, if the same tap is recorded for the question.
async fn redelivered(
    state: &AppState,
    message_id: Uuid,
    tap: &AnswerRequest,
) -> Option<AnswerRecordedDto> {
    let incident = state
        .store
        .get_incident(jikimi_respond::IncidentId(tap.incident_id))
        .await
        .ok()?;
    incident
        .messages
        .iter()
        .any(|m| m.message_id == message_id && m.answer.as_ref() == Some(&tap.answer))
        .then_some(AnswerRecordedDto {
            message_id,
            duplicate: true,
        })
}
