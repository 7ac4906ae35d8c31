//! How a device signs an alert, and how the server checks it. Shared by the server, the demo and the benchmark.
//!
//! A device holds an Ed25519 key pair; its public key is registered with the subscriber. Each alert request
//! carries four headers:
//!
//! | header | value |
//! |---|---|
//! | `x-jikimi-device` | the device id (UUID) |
//! | `x-jikimi-timestamp` | Unix time in whole seconds when the device signed |
//! | `x-jikimi-nonce` | 16 to 64 characters `[A-Za-z0-9_-]`, never reused by that device |
//! | `x-jikimi-signature` | base64 (standard, padded) of the 64-byte Ed25519 signature |
//!
//! The signed message is `jikimi-alert-v1\n{device}\n{timestamp}\n{nonce}\n` followed by the exact body bytes.
//! The 112 app's later requests about an open alert are signed the same way under their own context line instead
//! of `jikimi-alert-v1` ([`location_context`], [`cancel_context`]), which binds the incident id: a signature made
//! for one request type or incident is useless for another.
//!
//! Binding the device id stops a signature made for one device from being replayed under another; the
//! timestamp bounds how long a captured request is usable; the nonce makes each request single-use.

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

/// Header carrying the device id.
pub const HEADER_DEVICE: &str = "x-jikimi-device";
/// Header carrying the signing time (Unix seconds).
pub const HEADER_TIMESTAMP: &str = "x-jikimi-timestamp";
/// Header carrying the single-use nonce.
pub const HEADER_NONCE: &str = "x-jikimi-nonce";
/// Header carrying the base64 Ed25519 signature.
pub const HEADER_SIGNATURE: &str = "x-jikimi-signature";

/// The context line of an alert request.
pub const ALERT_CONTEXT: &str = "jikimi-alert-v1";

/// The context line of a location update for `incident_id`.
pub fn location_context(incident_id: &uuid::Uuid) -> String {
    format!("jikimi-location-v1 {incident_id}")
}

/// The context line of a cancel for `incident_id`.
pub fn cancel_context(incident_id: &uuid::Uuid) -> String {
    format!("jikimi-cancel-v1 {incident_id}")
}

/// The context of a location update from a device (MQTT `.../location`): a different first line, so a signed alert
/// can never be passed off as a location update or the other way round.
pub const LOCATION_CONTEXT: &str = "jikimi-location-v1";

/// The bytes a device signs for one alert request.
pub fn signing_message(
    device_id: &uuid::Uuid,
    timestamp_s: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    signing_message_in(ALERT_CONTEXT, device_id, timestamp_s, nonce, body)
}

/// The bytes a device signs in a given context: `{context}\n{device}\n{timestamp}\n{nonce}\n{body}`.
pub fn signing_message_in(
    context: &str,
    device_id: &uuid::Uuid,
    timestamp_s: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let head = format!("{context}\n{device_id}\n{timestamp_s}\n{nonce}\n");
    let mut message = Vec::with_capacity(head.len() + body.len());
    message.extend_from_slice(head.as_bytes());
    message.extend_from_slice(body);
    message
}

/// Whether a nonce has the documented shape.
pub fn nonce_is_well_formed(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The four header values for a signed alert request (used by devices: the demo, the benchmark, tests).
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    /// `x-jikimi-device`.
    pub device: String,
    /// `x-jikimi-timestamp`.
    pub timestamp: String,
    /// `x-jikimi-nonce`.
    pub nonce: String,
    /// `x-jikimi-signature`.
    pub signature: String,
}

impl SignedHeaders {
    /// The headers as name/value pairs.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            (HEADER_DEVICE, self.device.as_str()),
            (HEADER_TIMESTAMP, self.timestamp.as_str()),
            (HEADER_NONCE, self.nonce.as_str()),
            (HEADER_SIGNATURE, self.signature.as_str()),
        ]
    }
}

/// Signs `body` as device `device_id` at `timestamp_s` with a fresh random nonce.
pub fn sign_alert(
    key: &SigningKey,
    device_id: &uuid::Uuid,
    timestamp_s: i64,
    body: &[u8],
) -> SignedHeaders {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    sign_alert_with_nonce(key, device_id, timestamp_s, &nonce, body)
}

/// Signs `body` with a given nonce (tests use this to build replays).
pub fn sign_alert_with_nonce(
    key: &SigningKey,
    device_id: &uuid::Uuid,
    timestamp_s: i64,
    nonce: &str,
    body: &[u8],
) -> SignedHeaders {
    sign_in(ALERT_CONTEXT, key, device_id, timestamp_s, nonce, body)
}

/// Signs `body` under a context line with a given nonce (the app's location and cancel requests).
pub fn sign_in(
    context: &str,
    key: &SigningKey,
    device_id: &uuid::Uuid,
    timestamp_s: i64,
    nonce: &str,
    body: &[u8],
) -> SignedHeaders {
    let signature = key.sign(&signing_message_in(
        context,
        device_id,
        timestamp_s,
        nonce,
        body,
    ));
    SignedHeaders {
        device: device_id.to_string(),
        timestamp: timestamp_s.to_string(),
        nonce: nonce.to_string(),
        signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
    }
}

/// Checks a base64 signature over the canonical message. `false` for any malformed input.
pub fn verify_alert(
    key: &VerifyingKey,
    device_id: &uuid::Uuid,
    timestamp_s: i64,
    nonce: &str,
    body: &[u8],
    signature_b64: &str,
) -> bool {
    verify_in(
        ALERT_CONTEXT,
        key,
        device_id,
        timestamp_s,
        nonce,
        body,
        signature_b64,
    )
}

/// Checks a base64 signature in a context. `false` for any malformed input.
pub fn verify_in(
    context: &str,
    key: &VerifyingKey,
    device_id: &uuid::Uuid,
    timestamp_s: i64,
    nonce: &str,
    body: &[u8],
    signature_b64: &str,
) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
        return false;
    };
    let signature = Signature::from_bytes(&bytes);
    key.verify(
        &signing_message_in(context, device_id, timestamp_s, nonce, body),
        &signature,
    )
    .is_ok()
}

/// Whether `signature_b64` can be an Ed25519 signature at all (standard base64 of 64 bytes: 88 characters ending
/// in `==`), checked before any look-up so junk is refused for the price of a length test.
pub fn signature_is_well_formed(signature_b64: &str) -> bool {
    let text = signature_b64.trim();
    text.len() == 88
        && text.ends_with("==")
        && text[..86]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Parses a device public key given as 64 hex characters or base64 of 32 bytes.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    let bytes = <[u8; 32]>::try_from(bytes.as_slice()).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// A new random device key (demo and benchmark devices).
pub fn generate_device_key() -> SigningKey {
    SigningKey::from_bytes(&crate::password::os_random())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_the_exact_request() {
        let key = generate_device_key();
        let device = uuid::Uuid::new_v4();
        let body = br#"{"alert_id":"x"}"#;
        let h = sign_alert(&key, &device, 1_700_000_000, body);
        let vk = key.verifying_key();
        assert!(verify_alert(
            &vk,
            &device,
            1_700_000_000,
            &h.nonce,
            body,
            &h.signature
        ));
        assert!(!verify_alert(
            &vk,
            &device,
            1_700_000_001,
            &h.nonce,
            body,
            &h.signature
        ));
        assert!(!verify_alert(
            &vk,
            &device,
            1_700_000_000,
            "othernonce000000",
            body,
            &h.signature
        ));
        assert!(!verify_alert(
            &vk,
            &uuid::Uuid::new_v4(),
            1_700_000_000,
            &h.nonce,
            body,
            &h.signature
        ));
        assert!(!verify_alert(
            &vk,
            &device,
            1_700_000_000,
            &h.nonce,
            b"{}",
            &h.signature
        ));
        assert!(!verify_alert(
            &vk,
            &device,
            1_700_000_000,
            &h.nonce,
            body,
            "not base64!"
        ));
        let pk_hex = hex::encode(vk.to_bytes());
        assert_eq!(parse_public_key(&pk_hex), Some(vk));
    }

    #[test]
    fn nonce_shape() {
        assert!(nonce_is_well_formed("0123456789abcdef"));
        assert!(!nonce_is_well_formed("short"));
        assert!(!nonce_is_well_formed("0123456789abcdef/"));
    }
}
