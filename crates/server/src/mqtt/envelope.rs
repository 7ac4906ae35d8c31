//! The MQTT wire format of U-Relief terminals, pure: topics, the signed envelope, the acknowledgement.
//!
//! A terminal publishes (QoS 1) to `jikimi/v1/devices/{device}/sos` or `.../location` a JSON envelope
//!
//! ```json
//! {"device": "<uuid>", "timestamp": 1790000000, "nonce": "<16-64 [A-Za-z0-9_-]>",
//!  "body": "<the alert or location JSON, as a string>", "signature": "<base64 Ed25519>"}
//! ```
//!
//! `body` is carried as a string so the signed bytes are exactly the bytes received, whatever JSON re-encoding a
//! gateway might do. The signature is the HTTP scheme of [`crate::signing`]: over
//! `jikimi-alert-v1\n{device}\n{timestamp}\n{nonce}\n{body}` for an SOS (the body is the `POST /api/alerts` body) and
//! `jikimi-location-v1\n...` for a location update (`{"alert_id", "location": {...}}`). The topic's device must be
//! the envelope's device. The server answers on `jikimi/v1/devices/{device}/ack`.
//!
//! Silent two-way text ([`crate::twoway`]): the server publishes (QoS 1, not retained) each question a dispatcher
//! sends to `jikimi/v1/devices/{device}/messages`, as the JSON the app's `GET /api/devices/{id}/messages` answers
//! (`{"language", "messages": [one question]}`, discreet after a duress PIN). The terminal answers a tap by
//! publishing (QoS 1) to `jikimi/v1/devices/{device}/messages/{message_id}/answer` the same envelope, whose `body`
//! is the HTTP answer's body (`{"incident_id", "answer"}`) signed under `jikimi-answer-v1 {message_id}`; the server
//! answers on the ack topic with an [`AnswerAck`] (`{"kind": "answer", "message_id", "duplicate", "nonce", "error"}`).
//!
//! Nothing here does I/O or reads a clock; the adapter in [`crate::mqtt`] looks up keys and commits.

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ErrorCode;
use crate::signing;

/// The default topic prefix; a deployment (or a test) may use another.
pub const DEFAULT_PREFIX: &str = "jikimi/v1";

/// What a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// An SOS alert.
    Sos,
    /// A location update for an open alert.
    Location,
}

/// A parsed device topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceTopic {
    /// The device named in the topic.
    pub device: Uuid,
    /// Which topic.
    pub kind: TopicKind,
}

/// Why a message was refused before any key was looked up. `code` maps to the API's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct EnvelopeError {
    /// The machine-readable code (as for HTTP).
    pub code: ErrorCode,
    /// What is wrong (never the payload itself).
    pub detail: String,
}

impl EnvelopeError {
    fn new(code: ErrorCode, detail: impl Into<String>) -> EnvelopeError {
        EnvelopeError {
            code,
            detail: detail.into(),
        }
    }
}

/// The subscription filters for a prefix: SOS, location and question answers of every device.
pub fn subscriptions(prefix: &str) -> [String; 4] {
    [
        format!("{prefix}/devices/+/sos"),
        format!("{prefix}/devices/+/location"),
        format!("{prefix}/devices/+/messages/+/answer"),
        format!("{prefix}/devices/+/welfare/+/answer"),
    ]
}

/// The same filters as MQTT shared subscriptions of the group `jikimi` (`$share/jikimi/...`): in a cluster each
/// terminal message goes to one node of the group, not to every node.
pub fn shared_subscriptions(prefix: &str) -> [String; 4] {
    subscriptions(prefix).map(|filter| format!("$share/{SHARE_GROUP}/{filter}"))
}

/// The shared-subscription group of a cluster's nodes.
pub const SHARE_GROUP: &str = "jikimi";

/// The topic the server publishes a device's silent questions on.
pub fn messages_topic(prefix: &str, device: &Uuid) -> String {
    format!("{prefix}/devices/{device}/messages")
}

/// The topic a device answers the question `message_id` on.
pub fn answer_topic(prefix: &str, device: &Uuid, message_id: &Uuid) -> String {
    format!("{prefix}/devices/{device}/messages/{message_id}/answer")
}

/// Parses `{prefix}/devices/{uuid}/messages/{uuid}/answer` into the device and the message; `None` for any other
/// topic (an answer topic whose ids are not uuids is `None` too, and then refused as not a device topic).
pub fn parse_answer_topic(prefix: &str, topic: &str) -> Option<(Uuid, Uuid)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix("/devices/")?;
    let (device, rest) = rest.split_once('/')?;
    let message = rest.strip_prefix("messages/")?.strip_suffix("/answer")?;
    Some((
        Uuid::parse_str(device).ok()?,
        Uuid::parse_str(message).ok()?,
    ))
}

/// The topic a device publishes an SOS to.
pub fn sos_topic(prefix: &str, device: &Uuid) -> String {
    format!("{prefix}/devices/{device}/sos")
}

/// The topic a device publishes location updates to.
pub fn location_topic(prefix: &str, device: &Uuid) -> String {
    format!("{prefix}/devices/{device}/location")
}

/// The topic the server acknowledges on.
pub fn ack_topic(prefix: &str, device: &Uuid) -> String {
    format!("{prefix}/devices/{device}/ack")
}

/// Parses `{prefix}/devices/{uuid}/{sos|location}`.
pub fn parse_topic(prefix: &str, topic: &str) -> Result<DeviceTopic, EnvelopeError> {
    let malformed = || EnvelopeError::new(ErrorCode::InvalidPayload, "not a device topic");
    let rest = topic
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix("/devices/"))
        .ok_or_else(malformed)?;
    let (device, kind) = rest.split_once('/').ok_or_else(malformed)?;
    let kind = match kind {
        "sos" => TopicKind::Sos,
        "location" => TopicKind::Location,
        _ => return Err(malformed()),
    };
    let device = Uuid::parse_str(device)
        .map_err(|_| EnvelopeError::new(ErrorCode::DeviceUnknown, "device id is not a uuid"))?;
    Ok(DeviceTopic { device, kind })
}

/// The signed envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The signing device (must match the topic).
    pub device: Uuid,
    /// Unix seconds when signed.
    pub timestamp: i64,
    /// Single-use nonce.
    pub nonce: String,
    /// The signed body, exactly as signed.
    pub body: String,
    /// Base64 Ed25519 signature.
    pub signature: String,
}

/// Parses and shape-checks an envelope received on `topic`. The signature is checked later, with the device's key.
pub fn parse_envelope(
    topic: &DeviceTopic,
    payload: &[u8],
    limit_bytes: usize,
) -> Result<Envelope, EnvelopeError> {
    parse_envelope_of(&topic.device, payload, limit_bytes)
}

/// [`parse_envelope`] for a topic naming `device` (an answer topic, say).
pub fn parse_envelope_of(
    device: &Uuid,
    payload: &[u8],
    limit_bytes: usize,
) -> Result<Envelope, EnvelopeError> {
    if payload.len() > limit_bytes {
        return Err(EnvelopeError::new(
            ErrorCode::PayloadTooLarge,
            "message is larger than the limit",
        ));
    }
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|e| {
        EnvelopeError::new(
            ErrorCode::InvalidPayload,
            format!("invalid envelope json: {e}"),
        )
    })?;
    if envelope.device != *device {
        return Err(EnvelopeError::new(
            ErrorCode::SignatureInvalid,
            "the envelope's device is not the topic's device",
        ));
    }
    if !signing::nonce_is_well_formed(&envelope.nonce) {
        return Err(EnvelopeError::new(
            ErrorCode::MissingHeader,
            "nonce must be 16 to 64 characters [A-Za-z0-9_-]",
        ));
    }
    if envelope.signature.trim().is_empty() {
        return Err(EnvelopeError::new(
            ErrorCode::SignatureInvalid,
            "the message is not signed",
        ));
    }
    Ok(envelope)
}

/// The signing context of a topic kind.
pub fn context(kind: TopicKind) -> &'static str {
    match kind {
        TopicKind::Sos => signing::ALERT_CONTEXT,
        TopicKind::Location => signing::LOCATION_CONTEXT,
    }
}

/// Whether the envelope's signature verifies for `key` in the topic's context.
pub fn verify(envelope: &Envelope, kind: TopicKind, key: &ed25519_dalek::VerifyingKey) -> bool {
    signing::verify_in(
        context(kind),
        key,
        &envelope.device,
        envelope.timestamp,
        &envelope.nonce,
        envelope.body.as_bytes(),
        &envelope.signature,
    )
}

/// Builds a signed envelope's bytes (terminals, tests, the benchmark).
pub fn sign(
    key: &SigningKey,
    device: &Uuid,
    kind: TopicKind,
    timestamp_s: i64,
    nonce: &str,
    body: &str,
) -> Vec<u8> {
    let envelope = Envelope {
        device: *device,
        timestamp: timestamp_s,
        nonce: nonce.to_string(),
        body: body.to_string(),
        signature: signing::sign_in(
            context(kind),
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

/// Builds a signed answer envelope's bytes for the question `message_id` (terminals, tests): `body` is the HTTP
/// answer's body, signed under `jikimi-answer-v1 {message_id}`.
pub fn sign_answer(
    key: &SigningKey,
    device: &Uuid,
    message_id: &Uuid,
    timestamp_s: i64,
    nonce: &str,
    body: &str,
) -> Vec<u8> {
    let envelope = Envelope {
        device: *device,
        timestamp: timestamp_s,
        nonce: nonce.to_string(),
        body: body.to_string(),
        signature: signing::sign_in(
            &crate::twoway::answer_context(message_id),
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

/// A terminal's display text in `lang`, from the `device` Fluent domain (`jikimi_i18n`).
fn display(lang: &str, id: &str) -> String {
    jikimi_i18n::Localizer::global().render(lang, id, &jikimi_i18n::Args::new())
}

/// What the server publishes on the ack topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// `sos` or `location`.
    pub kind: String,
    /// The alert this answers (absent when the body could not be read).
    pub alert_id: Option<Uuid>,
    /// The incident the alert opened or joined, once committed.
    pub incident_id: Option<Uuid>,
    /// A retry of an alert already recorded.
    pub duplicate: bool,
    /// The nonce of the answered message, so the terminal can match the answer.
    pub nonce: Option<String>,
    /// Machine-readable error code when refused.
    pub error: Option<String>,
    /// Text for the terminal's display, English.
    pub message_en: String,
    /// Text for the terminal's display, Korean.
    pub message_ko: String,
}

impl Ack {
    /// "Help is on its way" for a committed alert or location.
    pub fn accepted(
        kind: TopicKind,
        alert_id: Uuid,
        incident_id: Uuid,
        duplicate: bool,
        nonce: &str,
    ) -> Ack {
        Ack {
            kind: kind_name(kind).into(),
            alert_id: Some(alert_id),
            incident_id: Some(incident_id),
            duplicate,
            nonce: Some(nonce.to_string()),
            error: None,
            message_en: display("en", "device-alert-accepted"),
            message_ko: display("ko", "device-alert-accepted"),
        }
    }

    /// A refusal with its code.
    pub fn refused(kind: TopicKind, nonce: Option<&str>, code: ErrorCode) -> Ack {
        Ack {
            kind: kind_name(kind).into(),
            alert_id: None,
            incident_id: None,
            duplicate: false,
            nonce: nonce.map(str::to_string),
            error: Some(code.as_str().into()),
            message_en: display("en", "device-refused"),
            message_ko: display("ko", "device-refused"),
        }
    }
}

/// What the server publishes on the ack topic for a terminal's answer to a silent question: no display text (the
/// exchange is silent), only whether the tap is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerAck {
    /// Always `answer`.
    pub kind: String,
    /// The question answered.
    pub message_id: Uuid,
    /// The answer was recorded before (a retry or a redelivery): nothing changed.
    pub duplicate: bool,
    /// The nonce of the answered message, when it could be read.
    pub nonce: Option<String>,
    /// Machine-readable error code when refused.
    pub error: Option<String>,
}

impl AnswerAck {
    /// The tap is recorded (now, or before when `duplicate`).
    pub fn recorded(message_id: Uuid, duplicate: bool, nonce: Option<String>) -> AnswerAck {
        AnswerAck {
            kind: "answer".into(),
            message_id,
            duplicate,
            nonce,
            error: None,
        }
    }

    /// The answer was refused with `code`.
    pub fn refused(message_id: Uuid, nonce: Option<String>, code: ErrorCode) -> AnswerAck {
        AnswerAck {
            kind: "answer".into(),
            message_id,
            duplicate: false,
            nonce,
            error: Some(code.as_str().into()),
        }
    }
}

fn kind_name(kind: TopicKind) -> &'static str {
    match kind {
        TopicKind::Sos => "sos",
        TopicKind::Location => "location",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn topic(kind: TopicKind, device: Uuid) -> DeviceTopic {
        DeviceTopic { device, kind }
    }

    #[test]
    fn topics_parse_only_in_shape() {
        let d = Uuid::new_v4();
        assert_eq!(
            parse_topic(DEFAULT_PREFIX, &sos_topic(DEFAULT_PREFIX, &d)),
            Ok(topic(TopicKind::Sos, d))
        );
        assert_eq!(
            parse_topic("t/x", &location_topic("t/x", &d)),
            Ok(topic(TopicKind::Location, d))
        );
        for bad in [
            "jikimi/v1/devices/not-a-uuid/sos",
            "jikimi/v1/devices/x",
            "jikimi/v2/devices/00000000-0000-0000-0000-000000000000/sos",
            "jikimi/v1/devices/00000000-0000-0000-0000-000000000000/ack",
            "",
        ] {
            assert!(parse_topic(DEFAULT_PREFIX, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answer_topics_parse_only_in_shape() {
        let (d, m) = (Uuid::new_v4(), Uuid::now_v7());
        let topic = answer_topic(DEFAULT_PREFIX, &d, &m);
        assert_eq!(parse_answer_topic(DEFAULT_PREFIX, &topic), Some((d, m)));
        assert_eq!(parse_answer_topic("other", &topic), None);
        assert_eq!(
            parse_answer_topic(DEFAULT_PREFIX, &sos_topic(DEFAULT_PREFIX, &d)),
            None
        );
        assert_eq!(
            parse_answer_topic(DEFAULT_PREFIX, &messages_topic(DEFAULT_PREFIX, &d)),
            None
        );
        assert_eq!(
            parse_answer_topic(
                DEFAULT_PREFIX,
                &format!("jikimi/v1/devices/{d}/messages/x/answer")
            ),
            None
        );
    }

    #[test]
    fn a_signed_envelope_verifies_only_as_signed() {
        let key = signing::generate_device_key();
        let d = Uuid::new_v4();
        let body = r#"{"alert_id":"6c1b1c2e-8c57-4a0c-9d7e-0b5f7d7c3a11"}"#;
        let bytes = sign(
            &key,
            &d,
            TopicKind::Sos,
            1_790_000_000,
            "nonce-0123456789ab",
            body,
        );
        let env = parse_envelope(&topic(TopicKind::Sos, d), &bytes, 4096).unwrap();
        assert!(verify(&env, TopicKind::Sos, &key.verifying_key()));
        // The same signature is no location update, and no other key's.
        assert!(!verify(&env, TopicKind::Location, &key.verifying_key()));
        let other = signing::generate_device_key();
        assert!(!verify(&env, TopicKind::Sos, &other.verifying_key()));
        // A changed body fails.
        let mut tampered = env.clone();
        tampered.body.push(' ');
        assert!(!verify(&tampered, TopicKind::Sos, &key.verifying_key()));
        // It matches the HTTP scheme exactly.
        assert!(signing::verify_alert(
            &key.verifying_key(),
            &d,
            env.timestamp,
            &env.nonce,
            env.body.as_bytes(),
            &env.signature
        ));
    }

    #[test]
    fn malformed_envelopes_are_classified() {
        let key = signing::generate_device_key();
        let d = Uuid::new_v4();
        let t = topic(TopicKind::Sos, d);
        let code = |payload: &[u8]| parse_envelope(&t, payload, 4096).unwrap_err().code;
        assert_eq!(code(b"not json"), ErrorCode::InvalidPayload);
        assert_eq!(code(b"{}"), ErrorCode::InvalidPayload);
        let unsigned = serde_json::json!({"device": d, "timestamp": 1, "nonce": "nonce-0123456789ab", "body": "{}", "signature": ""});
        assert_eq!(
            code(unsigned.to_string().as_bytes()),
            ErrorCode::SignatureInvalid
        );
        let other_device = sign(
            &key,
            &Uuid::new_v4(),
            TopicKind::Sos,
            1,
            "nonce-0123456789ab",
            "{}",
        );
        assert_eq!(code(&other_device), ErrorCode::SignatureInvalid);
        let short_nonce = sign(&key, &d, TopicKind::Sos, 1, "short", "{}");
        assert_eq!(code(&short_nonce), ErrorCode::MissingHeader);
        assert_eq!(
            parse_envelope(&t, &[b' '; 5000], 4096).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
    }

    #[test]
    fn acks_carry_both_languages() {
        let a = Ack::accepted(TopicKind::Sos, Uuid::nil(), Uuid::nil(), false, "n");
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("Help is on its way"));
        assert!(json.contains("도움이 가고 있습니다"));
    }
}
