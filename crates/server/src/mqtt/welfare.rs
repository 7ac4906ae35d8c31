//! Disaster welfare checks over MQTT, the terminal half of [`crate::disaster::welfare`].
//!
//! - Downlink: once a disaster's persons are committed, [`Downlink::welfare`] publishes (QoS 1, not retained) the
//!   question the app's poll shows ([`WelfareQuestionDto`]) on `{prefix}/devices/{device}/welfare`.
//! - Uplink: a terminal answers on `{prefix}/devices/{device}/welfare/{disaster_id}/answer` with the signed envelope
//!   of [`super::envelope`], whose body is the HTTP answer's body signed under `jikimi-welfare-v1 {disaster_id}`. It
//!   is verified by the intake, recorded by [`record_answer`] (the HTTP path's service) and PUBACKed only after that
//!   commit and a [`WelfareAck`] on `{prefix}/devices/{device}/ack` carrying the reporting interval. A redelivered
//!   message finds its answer id recorded and is a duplicate; a refusal is audited, answered with its code and
//!   PUBACKed; a server fault is left unacknowledged for redelivery.

use std::time::Duration;

use jikimi_respond::DeviceId;
use rumqttc::{AsyncClient, Publish, QoS};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::envelope;
use crate::disaster::welfare::{
    WelfareAnswerRequest, WelfareAnsweredDto, WelfareQuestionDto, answer_context, record_answer,
};
use crate::error::{ApiError, ErrorCode};
use crate::intake_service::{Against, Channel, Intake, Refusal, Signed};
use crate::state::AppState;

/// The topic the server publishes a device's welfare question on.
pub fn welfare_topic(prefix: &str, device: &Uuid) -> String {
    format!("{prefix}/devices/{device}/welfare")
}

/// The topic a device answers disaster `disaster_id` on.
pub fn answer_topic(prefix: &str, device: &Uuid, disaster_id: &Uuid) -> String {
    format!("{prefix}/devices/{device}/welfare/{disaster_id}/answer")
}

/// Parses `{prefix}/devices/{uuid}/welfare/{uuid}/answer` into the device and the disaster.
pub fn parse_answer_topic(prefix: &str, topic: &str) -> Option<(Uuid, Uuid)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix("/devices/")?;
    let (device, rest) = rest.split_once('/')?;
    let disaster = rest.strip_prefix("welfare/")?.strip_suffix("/answer")?;
    Some((
        Uuid::parse_str(device).ok()?,
        Uuid::parse_str(disaster).ok()?,
    ))
}

/// A terminal's signed answer envelope for `disaster_id` (what a terminal publishes; tests and the benchmark use it).
pub fn sign_answer(
    key: &ed25519_dalek::SigningKey,
    device: &Uuid,
    disaster_id: &Uuid,
    timestamp_s: i64,
    nonce: &str,
    body: &str,
) -> Vec<u8> {
    let envelope = envelope::Envelope {
        device: *device,
        timestamp: timestamp_s,
        nonce: nonce.to_string(),
        body: body.to_string(),
        signature: crate::signing::sign_in(
            &answer_context(disaster_id),
            key,
            device,
            timestamp_s,
            nonce,
            body.as_bytes(),
        )
        .signature,
    };
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// What the server publishes on the ack topic for a terminal's welfare answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WelfareAck {
    /// Always `welfare`.
    pub kind: String,
    /// The disaster.
    pub disaster_id: Uuid,
    /// The answer, when it could be read.
    pub answer_id: Option<Uuid>,
    /// Recorded before: nothing changed.
    pub duplicate: bool,
    /// Report again every this many seconds.
    pub report_interval_s: Option<u32>,
    /// The message's nonce, when it could be read.
    pub nonce: Option<String>,
    /// Machine-readable error code when refused.
    pub error: Option<String>,
}

impl super::Downlink {
    /// Publishes the welfare question to a terminal. Failures are logged: the person is asked (committed) and
    /// stays `no_answer` until a device of theirs answers.
    pub async fn welfare(&self, device: &DeviceId, question: &WelfareQuestionDto) {
        let topic = welfare_topic(self.prefix(), &device.0);
        match serde_json::to_vec(question) {
            Ok(bytes) => {
                if let Err(err) = self
                    .client()
                    .publish(topic, QoS::AtLeastOnce, false, bytes)
                    .await
                {
                    tracing::warn!(error = %err, "mqtt welfare question could not be queued");
                }
            }
            Err(err) => tracing::error!(error = %err, "mqtt welfare question could not be encoded"),
        }
    }
}

/// Handles a terminal's answer published on its welfare answer topic.
pub(super) async fn answer(
    state: &AppState,
    client: &AsyncClient,
    prefix: &str,
    device: Uuid,
    disaster_id: Uuid,
    publish: Publish,
) {
    let intake = Intake::new(state);
    let channel = Channel::Mqtt {
        topic: publish.topic.clone(),
    };
    let envelope_read = serde_json::from_slice::<envelope::Envelope>(&publish.payload).ok();
    let nonce = envelope_read.as_ref().map(|e| e.nonce.clone());
    let answer_id = envelope_read
        .as_ref()
        .and_then(|e| serde_json::from_str::<WelfareAnswerRequest>(&e.body).ok())
        .map(|b| b.answer_id);
    let mut attempt = 0u32;
    let result = loop {
        let result = attempt_answer(state, &intake, &channel, device, disaster_id, &publish).await;
        match &result {
            Err(Refusal::Unavailable { .. }) if attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt.min(8)))).await;
            }
            _ => break result,
        }
    };
    let ack = match result {
        Ok(recorded) => WelfareAck {
            kind: "welfare".into(),
            disaster_id,
            answer_id: Some(recorded.answer_id),
            duplicate: recorded.duplicate,
            report_interval_s: Some(recorded.report_interval_s),
            nonce,
            error: None,
        },
        Err(refusal) if refusal.is_server_fault() => {
            tracing::error!(
                code = refusal.code().as_str(),
                "mqtt welfare answer not committed; left for redelivery"
            );
            return;
        }
        Err(refusal) => {
            crate::flood::log_refusal("mqtt welfare answer refused", refusal.code(), None);
            WelfareAck {
                kind: "welfare".into(),
                disaster_id,
                answer_id,
                duplicate: false,
                report_interval_s: None,
                nonce,
                error: Some(refusal.code().as_str().into()),
            }
        }
    };
    match serde_json::to_vec(&ack) {
        Ok(bytes) => {
            let topic = envelope::ack_topic(prefix, &device);
            if let Err(err) = client.publish(topic, QoS::AtLeastOnce, false, bytes).await {
                tracing::warn!(error = %err, "mqtt welfare ack could not be queued");
            }
        }
        Err(err) => tracing::error!(error = %err, "mqtt welfare ack could not be encoded"),
    }
    if let Err(err) = client.ack(&publish).await {
        tracing::warn!(error = %err, "mqtt puback could not be queued");
    }
}

async fn attempt_answer(
    state: &AppState,
    intake: &Intake<'_>,
    channel: &Channel,
    device: Uuid,
    disaster_id: Uuid,
    publish: &Publish,
) -> Result<WelfareAnsweredDto, Refusal> {
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
    let cached = intake
        .verify(&answer_context(&disaster_id), &signed, channel)
        .await?;
    let result = match serde_json::from_str::<WelfareAnswerRequest>(&envelope.body) {
        Ok(body) => {
            record_answer(
                state,
                signed.device_id,
                cached.subscriber_id,
                &envelope.nonce,
                disaster_id,
                &body,
            )
            .await
        }
        Err(err) => Err(ApiError::new(
            ErrorCode::InvalidPayload,
            format!("invalid welfare answer json: {err}"),
        )),
    };
    match result {
        Ok(recorded) => Ok(recorded),
        Err(err) => Err(intake
            .refuse(channel, Against::device(signed.device_id), err.into())
            .await),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn welfare_topics_round_trip() {
        let (d, x) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            parse_answer_topic("jikimi/v1", &answer_topic("jikimi/v1", &d, &x)),
            Some((d, x))
        );
        assert_eq!(
            parse_answer_topic("jikimi/v1", &welfare_topic("jikimi/v1", &d)),
            None
        );
        assert_eq!(
            parse_answer_topic("jikimi/v1", "jikimi/v1/devices/x/welfare/y/answer"),
            None
        );
    }
}
