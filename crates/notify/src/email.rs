//! Delivery by e-mail over SMTP to a configured relay (plain SMTP by default; STARTTLS or implicit TLS with the
//! `tls` feature). The `Message-ID` is derived from the notification id, the same on every retry, so a mail system
//! or reader can drop repeats.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Email, Tokio1Executor};

use crate::DeliveryError;
use crate::template::Message;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpTls {
    /// Plain SMTP (a relay on a trusted network or localhost).
    #[default]
    None,
    /// STARTTLS, required (port 587 usually). Needs the `tls` feature.
    StartTls,
    /// TLS from the first byte (port 465 usually). Needs the `tls` feature.
    Implicit,
}

impl SmtpTls {
    /// From `none`, `starttls` or `tls`.
    pub fn parse(text: &str) -> Option<SmtpTls> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" | "plain" => Some(SmtpTls::None),
            "starttls" => Some(SmtpTls::StartTls),
            "tls" | "implicit" => Some(SmtpTls::Implicit),
            _ => None,
        }
    }
}

/// Where and how to send mail. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Relay host name or address.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// The sender, e.g. `지킴이 <noreply@jikimi.example>`.
    pub from: String,
    /// Login, if the relay wants one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// Per-connection timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A mailer for one relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer")
    }
}

impl Mailer {
    /// Builds the transport; fails on a malformed sender or TLS asked for without the `tls` feature.
    pub fn new(settings: &SmtpSettings) -> Result<Mailer, crate::Error> {
        let invalid = |setting, message: String| crate::Error::Invalid { setting, message };
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| invalid("smtp-from", "not a mailbox".into()))?;
        let mut builder = match settings.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
            #[cfg(feature = "tls")]
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(|e| invalid("smtp-tls", e.to_string()))?
            }
            #[cfg(feature = "tls")]
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .map_err(|e| invalid("smtp-tls", e.to_string()))?,
            #[cfg(not(feature = "tls"))]
            SmtpTls::StartTls | SmtpTls::Implicit => {
                return Err(invalid(
                    "smtp-tls",
                    "this build has no TLS; rebuild with the notify `tls` feature or use none"
                        .into(),
                ));
            }
        };
        builder = builder
            .port(settings.port)
            .timeout(Some(settings.timeout))
            .hello_name(ClientId::Domain("jikimi.local".into()));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// Sends `message` to `to`. SMTP 4xx and connection failures are transient, 5xx and bad addresses permanent.
    pub async fn deliver(
        &self,
        to: &str,
        message: &Message,
        notification_id: uuid::Uuid,
        language: &str,
    ) -> Result<(), DeliveryError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| DeliveryError::Permanent("email_bad_address".into()))?;
        let email = Email::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{notification_id}@jikimi.notify>")))
            .header(ContentType::TEXT_PLAIN)
            // Base64 always: Hangul survives any relay, and the body is the same bytes on every retry.
            .header(ContentTransferEncoding::Base64)
            .header(ContentLanguage(language.to_owned()))
            .body(message.text.clone())
            .map_err(|_| DeliveryError::Permanent("email_build".into()))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(format!(
                "smtp_{}",
                e.status()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "permanent".into())
            ))),
            Err(e) if e.is_transient() => Err(DeliveryError::Transient(format!(
                "smtp_{}",
                e.status()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "transient".into())
            ))),
            Err(e) if e.is_timeout() => Err(DeliveryError::Transient("smtp_timeout".into())),
            Err(_) => Err(DeliveryError::Transient("smtp_connect".into())),
        }
    }
}

/// The `Content-Language` header (`ko`, `en`).
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl lettre::message::header::Header for ContentLanguage {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ContentLanguage(s.to_owned()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}
