//! The guardian-notification settings of `jikimi serve`: `--notify-*` flags, `JIKIMI_NOTIFY_*` variables and the
//! `[notify]` table of the config file, resolved into the worker's configuration.

use serde::Deserialize;

use super::ConfigError;

/// Guardian-notification settings (`jikimi serve` runs the outbox worker unless `--notify false`).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct NotifyArgs {
    /// Run the guardian-notification worker (default true).
    #[arg(long = "notify", env = "JIKIMI_NOTIFY")]
    pub enabled: Option<bool>,
    /// Secret that signs webhook bodies (HMAC-SHA256); webhook deliveries fail (are retried) until it is set.
    #[arg(
        long = "notify-webhook-secret",
        env = "JIKIMI_NOTIFY_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// Attempts before a notification is dead-lettered (default 12).
    #[arg(long = "notify-max-attempts", env = "JIKIMI_NOTIFY_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
    /// First retry delay in milliseconds, doubled per failure, with jitter (default 2000).
    #[arg(long = "notify-backoff-base-ms", env = "JIKIMI_NOTIFY_BACKOFF_BASE_MS")]
    pub backoff_base_ms: Option<u64>,
    /// Longest retry delay in seconds (default 600).
    #[arg(long = "notify-backoff-max-s", env = "JIKIMI_NOTIFY_BACKOFF_MAX_S")]
    pub backoff_max_s: Option<u64>,
    /// How long a claimed notification stays leased to the worker (default 60 s); a crash releases it then.
    #[arg(long = "notify-lease-s", env = "JIKIMI_NOTIFY_LEASE_S")]
    pub lease_s: Option<u64>,
    /// Pause between polls of the outbox when idle, in milliseconds (default 500).
    #[arg(long = "notify-poll-ms", env = "JIKIMI_NOTIFY_POLL_MS")]
    pub poll_ms: Option<u64>,
    /// SMTP relay host for e-mail to guardians; e-mail deliveries fail (are retried) until it is set.
    #[arg(long = "smtp-host", env = "JIKIMI_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP relay port (default 25).
    #[arg(long = "smtp-port", env = "JIKIMI_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// none (default), starttls or tls (the last two need a build with the notify `tls` feature).
    #[arg(long = "smtp-tls", env = "JIKIMI_SMTP_TLS")]
    pub smtp_tls: Option<String>,
    /// Sender mailbox (default `jikimi <noreply@localhost>`).
    #[arg(long = "smtp-from", env = "JIKIMI_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// SMTP login.
    #[arg(long = "smtp-username", env = "JIKIMI_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// SMTP password.
    #[arg(
        long = "smtp-password",
        env = "JIKIMI_SMTP_PASSWORD",
        hide_env_values = true
    )]
    pub smtp_password: Option<String>,
}

/// The `[notify]` table of the config file: the same settings as [`NotifyArgs`], named without the prefix.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyFile {
    /// As `--notify`.
    pub enabled: Option<bool>,
    /// As `--notify-webhook-secret` (prefer the environment or a key file's permissions).
    pub webhook_secret: Option<String>,
    /// As `--notify-max-attempts`.
    pub max_attempts: Option<u32>,
    /// As `--notify-backoff-base-ms`.
    pub backoff_base_ms: Option<u64>,
    /// As `--notify-backoff-max-s`.
    pub backoff_max_s: Option<u64>,
    /// As `--notify-lease-s`.
    pub lease_s: Option<u64>,
    /// As `--notify-poll-ms`.
    pub poll_ms: Option<u64>,
    /// As `--smtp-host`.
    pub smtp_host: Option<String>,
    /// As `--smtp-port`.
    pub smtp_port: Option<u16>,
    /// As `--smtp-tls`.
    pub smtp_tls: Option<String>,
    /// As `--smtp-from`.
    pub smtp_from: Option<String>,
    /// As `--smtp-username`.
    pub smtp_username: Option<String>,
    /// As `--smtp-password`.
    pub smtp_password: Option<String>,
}

impl std::fmt::Debug for NotifyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyFile")
            .field("enabled", &self.enabled)
            .field("smtp_host", &self.smtp_host)
            .finish_non_exhaustive()
    }
}

impl NotifyArgs {
    /// The worker's configuration, flags and environment over the file over defaults; `None` when disabled.
    pub fn resolve(
        &self,
        file: NotifyFile,
    ) -> Result<Option<jikimi_notify::WorkerConfig>, ConfigError> {
        use std::time::Duration;
        if !self.enabled.or(file.enabled).unwrap_or(true) {
            return Ok(None);
        }
        let mut config = jikimi_notify::WorkerConfig::default();
        if let Some(secret) = self.webhook_secret.clone().or(file.webhook_secret) {
            if secret.len() < 16 {
                return Err(ConfigError::Invalid {
                    setting: "notify-webhook-secret",
                    message: "at least 16 characters".into(),
                });
            }
            config.webhook_secret = Some(secret.into_bytes());
        }
        if let Some(n) = self.max_attempts.or(file.max_attempts) {
            if n == 0 {
                return Err(ConfigError::Invalid {
                    setting: "notify-max-attempts",
                    message: "at least 1".into(),
                });
            }
            config.backoff.max_attempts = n;
        }
        if let Some(ms) = self.backoff_base_ms.or(file.backoff_base_ms) {
            config.backoff.base = Duration::from_millis(ms.max(1));
        }
        if let Some(s) = self.backoff_max_s.or(file.backoff_max_s) {
            config.backoff.max = Duration::from_secs(s.max(1));
        }
        if let Some(s) = self.lease_s.or(file.lease_s) {
            config.lease = Duration::from_secs(s);
        }
        if let Some(ms) = self.poll_ms.or(file.poll_ms) {
            config.poll_interval = Duration::from_millis(ms.max(10));
        }
        if let Some(host) = self.smtp_host.clone().or(file.smtp_host) {
            let tls_text = self
                .smtp_tls
                .clone()
                .or(file.smtp_tls)
                .unwrap_or_else(|| "none".into());
            let tls =
                jikimi_notify::SmtpTls::parse(&tls_text).ok_or_else(|| ConfigError::Invalid {
                    setting: "smtp-tls",
                    message: "none, starttls or tls".into(),
                })?;
            config.smtp = Some(jikimi_notify::SmtpSettings {
                host,
                port: self.smtp_port.or(file.smtp_port).unwrap_or(25),
                tls,
                from: self
                    .smtp_from
                    .clone()
                    .or(file.smtp_from)
                    .unwrap_or_else(|| "jikimi <noreply@localhost>".into()),
                username: self.smtp_username.clone().or(file.smtp_username),
                password: self.smtp_password.clone().or(file.smtp_password),
                timeout: Duration::from_secs(20),
            });
        }
        if config.lease <= config.webhook_timeout
            || config
                .smtp
                .as_ref()
                .is_some_and(|s| config.lease <= s.timeout)
        {
            return Err(ConfigError::Invalid {
                setting: "notify-lease-s",
                message: "must be longer than the webhook (10 s) and SMTP (20 s) timeouts".into(),
            });
        }
        Ok(Some(config))
    }
}
