//! Delivery to an HTTP webhook: a JSON body signed with HMAC-SHA256 ([`crate::signing`]) and the notification id
//! as `Idempotency-Key`, the same on every retry, so the receiver can drop repeats.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::DeliveryError;
use crate::signing::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// The JSON body of a webhook notification.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebhookBody {
    /// Stable id; also the `Idempotency-Key` header.
    pub notification_id: uuid::Uuid,
    /// The incident (absent for a disaster's notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<uuid::Uuid>,
    /// The disaster, for a disaster's notice (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaster_id: Option<uuid::Uuid>,
    /// `alert_received`, `dispatched` or `closed`; for a disaster `welfare_asked`, `welfare_safe`,
    /// `welfare_need_help`, `welfare_trapped`, `welfare_injured` or `welfare_no_answer`.
    pub event: String,
    /// The event's position in the incident's log (or in the guardian's notices about the disaster): a receiver can
    /// order by it.
    pub event_seq: u64,
    /// When the event happened, RFC 3339 UTC.
    pub at: String,
    /// `ko` or `en`.
    pub language: String,
    /// Rendered subject.
    pub subject: String,
    /// Rendered text.
    pub text: String,
}

impl std::fmt::Debug for WebhookBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookBody")
            .field("notification_id", &self.notification_id)
            .field("incident_id", &self.incident_id)
            .field("disaster_id", &self.disaster_id)
            .field("event", &self.event)
            .finish_non_exhaustive()
    }
}

/// A webhook client: one connection pool, a per-request timeout, no redirects (a receiver that moves must be
/// re-registered, not followed).
#[derive(Debug, Clone)]
pub struct WebhookClient {
    client: reqwest::Client,
}

impl WebhookClient {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<WebhookClient, crate::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jikimi-notify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::Error::Invalid {
                setting: "webhook client",
                message: e.to_string(),
            })?;
        Ok(WebhookClient { client })
    }

    /// POSTs `body`, signed with `secret` at `timestamp_s`. 2xx is delivered; 408, 429 and 5xx are transient;
    /// other statuses are permanent. Errors carry a class only, never the URL.
    pub async fn deliver(
        &self,
        url: &str,
        secret: &[u8],
        timestamp_s: i64,
        body: &WebhookBody,
    ) -> Result<(), DeliveryError> {
        let url = reqwest::Url::parse(url)
            .map_err(|_| DeliveryError::Permanent("webhook_bad_url".into()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeliveryError::Permanent("webhook_bad_url".into()));
        }
        let bytes = serde_json::to_vec(body)
            .map_err(|_| DeliveryError::Permanent("webhook_body".into()))?;
        let signature = sign(secret, timestamp_s, &bytes);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, body.notification_id.to_string())
            .header(TIMESTAMP_HEADER, timestamp_s.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(bytes)
            .send()
            .await
            .map_err(|e| {
                DeliveryError::Transient(
                    if e.is_timeout() {
                        "webhook_timeout"
                    } else if e.is_connect() {
                        "webhook_connect"
                    } else {
                        "webhook_request"
                    }
                    .into(),
                )
            })?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => Err(DeliveryError::Transient(format!("http_{status}"))),
            _ => Err(DeliveryError::Permanent(format!("http_{status}"))),
        }
    }
}
