//! The outbox worker: claims due notifications under a lease, renders and delivers them, records the outcome.
//!
//! It holds no state of its own: everything it knows is in the store, so a restart (or a second worker on the same
//! PostgreSQL database) carries on where the last one stopped. A crash mid-delivery leaves the lease to expire;
//! the row is then delivered again with the same id, which the receiver uses to drop the repeat.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::FixedOffset;
use jikimi_privacy::Keyring;
use jikimi_respond::Timestamp;
use jikimi_store::{DeliveryOutcome, DeliveryReport, GuardianRecord, Notification, Store};
use serde::Deserialize;

use crate::email::{Mailer, SmtpSettings};
use crate::template::{Event, Facts, Language, render};
use crate::webhook::{WebhookBody, WebhookClient};
use crate::{Backoff, DeliveryError};

/// The worker's clock (tests pass their own).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| Timestamp::from(std::time::SystemTime::now()))
}

/// How the worker behaves. `Debug` hides the secrets.
#[derive(Clone)]
pub struct WorkerConfig {
    /// Pause between polls when nothing was due.
    pub poll_interval: Duration,
    /// How long a claim lasts; longer than the slowest delivery (webhook and SMTP timeouts).
    pub lease: Duration,
    /// Most notifications claimed per poll.
    pub batch: u32,
    /// Retry schedule and attempt limit.
    pub backoff: Backoff,
    /// The deployment's webhook signing secret; webhook channels fail (and are retried) until it is set.
    pub webhook_secret: Option<Vec<u8>>,
    /// Per-request webhook timeout.
    pub webhook_timeout: Duration,
    /// The SMTP relay; e-mail channels fail (and are retried) until it is set.
    pub smtp: Option<SmtpSettings>,
    /// The centre's offset from UTC for times in messages (seconds east; Korea is +32400).
    pub utc_offset_s: i32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            poll_interval: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            batch: 32,
            backoff: Backoff::default(),
            webhook_secret: None,
            webhook_timeout: Duration::from_secs(10),
            smtp: None,
            utc_offset_s: 9 * 3600,
        }
    }
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("poll_interval", &self.poll_interval)
            .field("lease", &self.lease)
            .field("batch", &self.batch)
            .field("backoff", &self.backoff)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("webhook_timeout", &self.webhook_timeout)
            .field("smtp", &self.smtp)
            .field("utc_offset_s", &self.utc_offset_s)
            .finish()
    }
}

/// A guardian's contact channel as the server seals it (`channels` field: JSON list).
#[derive(Deserialize)]
struct Channel {
    kind: String,
    address: String,
}

/// Delivers the outbox. Cheap to clone.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    config: WorkerConfig,
    clock: Clock,
    webhook: WebhookClient,
    mailer: Option<Mailer>,
    utc_offset: FixedOffset,
}

impl Worker {
    /// A worker over `store`, opening guardians' sealed fields with `keyring`.
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        config: WorkerConfig,
        clock: Clock,
    ) -> Result<Worker, crate::Error> {
        if config.lease <= config.webhook_timeout
            || config
                .smtp
                .as_ref()
                .is_some_and(|s| config.lease <= s.timeout)
        {
            return Err(crate::Error::Invalid {
                setting: "notify-lease-s",
                message: "the lease must outlast the webhook and SMTP timeouts".into(),
            });
        }
        if config.batch == 0 || config.backoff.max_attempts == 0 {
            return Err(crate::Error::Invalid {
                setting: "notify-max-attempts",
                message: "batch and attempts must be at least 1".into(),
            });
        }
        let utc_offset =
            FixedOffset::east_opt(config.utc_offset_s).ok_or_else(|| crate::Error::Invalid {
                setting: "utc offset",
                message: "out of range".into(),
            })?;
        let webhook = WebhookClient::new(config.webhook_timeout)?;
        let mailer = config.smtp.as_ref().map(Mailer::new).transpose()?;
        Ok(Worker {
            inner: Arc::new(Inner {
                store,
                keyring,
                config,
                clock,
                webhook,
                mailer,
                utc_offset,
            }),
        })
    }

    /// Polls and delivers until `shutdown` resolves. Store errors are logged and retried at the next poll.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        tracing::info!("notification worker started");
        loop {
            let n = match self.run_once().await {
                Ok(n) => n,
                Err(error) => {
                    tracing::warn!(%error, "notification worker could not claim");
                    0
                }
            };
            // Work was found: look again at once (the next of a stream may have become due).
            let pause = if n > 0 {
                Duration::ZERO
            } else {
                self.inner.config.poll_interval
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("notification worker stopped");
    }

    /// Claims one batch and delivers it, concurrently across streams. Returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, jikimi_store::Error> {
        let now = (self.inner.clock)();
        let lease_until = add(now, self.inner.config.lease);
        let claimed = self
            .inner
            .store
            .claim_notifications(now, lease_until, self.inner.config.batch)
            .await?;
        let n = claimed.len();
        let mut tasks = tokio::task::JoinSet::new();
        for notification in claimed {
            let worker = self.clone();
            tasks.spawn(async move { worker.process(notification, lease_until).await });
        }
        while tasks.join_next().await.is_some() {}
        Ok(n)
    }

    async fn process(&self, notification: Notification, lease_until: Timestamp) {
        let Some(token) = notification.lease_token else {
            return;
        };
        let report = self.attempt(&notification, lease_until).await;
        match self
            .inner
            .store
            .finish_notification(notification.id, token, &report)
            .await
        {
            Ok(row) => tracing::info!(
                notification_id = %row.id,
                incident_id = ?row.incident_id.map(|i| i.0),
                disaster_id = ?row.disaster_id,
                guardian_id = %row.guardian_id,
                state = row.state.as_str(),
                attempts = row.attempts,
                error = row.last_error.as_deref().unwrap_or(""),
                "notification attempt recorded"
            ),
            // The lease expired meanwhile and another claim owns the row: its outcome will be recorded instead.
            Err(error) => tracing::warn!(
                notification_id = %notification.id,
                %error,
                "notification outcome not recorded; it will be retried when the lease expires"
            ),
        }
    }

    /// One delivery attempt to every channel not yet delivered, each started only while the claim's lease outlasts
    /// it: past `lease_until` another worker (another node of a cluster) may claim the row, and two deliveries at
    /// once must not happen.
    async fn attempt(&self, n: &Notification, lease_until: Timestamp) -> DeliveryReport {
        let inner = &self.inner;
        let failed = |error: DeliveryError, delivered: Vec<u32>| {
            let at = (inner.clock)();
            let attempts = n.attempts + 1;
            let outcome = match error {
                DeliveryError::Permanent(class) => DeliveryOutcome::DeadLettered { error: class },
                DeliveryError::Transient(class) if inner.config.backoff.exhausted(attempts) => {
                    DeliveryOutcome::DeadLettered { error: class }
                }
                DeliveryError::Transient(class) => {
                    let jitter = rand::random::<f64>();
                    DeliveryOutcome::Retry {
                        error: class,
                        retry_at: add(at, inner.config.backoff.delay(attempts, jitter)),
                    }
                }
            };
            DeliveryReport {
                outcome,
                delivered_channels: delivered,
                at,
            }
        };
        let transient = |class: &str| DeliveryError::Transient(class.into());
        let permanent = |class: &str| DeliveryError::Permanent(class.into());

        let Some(event) = Event::from_name(&n.event) else {
            return failed(permanent("unknown_event"), n.delivered_channels.clone());
        };
        let guardian = match inner.store.list_guardians(n.subscriber_id).await {
            Ok(list) => list.into_iter().find(|g| g.id == n.guardian_id),
            Err(_) => return failed(transient("store"), n.delivered_channels.clone()),
        };
        // Erased or deleted since the event: there is nobody left to tell.
        let Some(guardian) = guardian else {
            return failed(permanent("guardian_gone"), n.delivered_channels.clone());
        };
        let Ok((channels, guardian_language)) = self.open_guardian(&guardian) else {
            return failed(transient("unseal_failed"), n.delivered_channels.clone());
        };
        let (subscriber_name, subscriber_language) = self.subscriber_name(n).await;
        // A disaster's notice names the disaster by its public title; a store failure retries later.
        let disaster_title = match n.disaster_id {
            Some(id) => match inner.store.get_disaster(id).await {
                Ok(disaster) => Some(disaster.title),
                Err(e) if e.is_not_found() => {
                    return failed(permanent("disaster_gone"), n.delivered_channels.clone());
                }
                Err(_) => return failed(transient("store"), n.delivered_channels.clone()),
            },
            None => None,
        };
        let Some(reference) = n.incident_id.map(|i| i.0).or(n.disaster_id) else {
            return failed(permanent("no_subject"), n.delivered_channels.clone());
        };
        // The guardian's own language, else the subscriber's (a family often shares one), else Korean.
        let language =
            Language::first_of(&[guardian_language.as_deref(), subscriber_language.as_deref()]);
        let message = render(
            language,
            &Facts {
                event,
                reference,
                disaster_title: disaster_title.as_deref(),
                at: n.created_at,
                subscriber_name: subscriber_name.as_deref(),
                utc_offset: inner.utc_offset,
            },
        );
        let body = WebhookBody {
            notification_id: n.id.0,
            incident_id: n.incident_id.map(|i| i.0),
            disaster_id: n.disaster_id,
            event: n.event.clone(),
            event_seq: n.event_seq,
            at: rfc3339(n.created_at),
            language: language.tag().into(),
            subject: message.subject.clone(),
            text: message.text.clone(),
        };

        let mut delivered = n.delivered_channels.clone();
        let mut deliverable = 0usize;
        let mut failure: Option<DeliveryError> = None;
        for (index, channel) in channels.iter().enumerate() {
            let index = index as u32;
            // SMS goes through a gateway this worker does not have; such channels are shown, not attempted.
            if !matches!(channel.kind.as_str(), "webhook" | "email") {
                continue;
            }
            deliverable += 1;
            if delivered.contains(&index) {
                continue;
            }
            let timeout = match channel.kind.as_str() {
                "webhook" => inner.config.webhook_timeout,
                _ => inner
                    .config
                    .smtp
                    .as_ref()
                    .map_or(Duration::ZERO, |s| s.timeout),
            };
            if add((inner.clock)(), timeout) >= lease_until {
                // The rest go out on the next claim, under a fresh lease.
                failure.get_or_insert(transient("lease_expiring"));
                continue;
            }
            let result = match channel.kind.as_str() {
                "webhook" => match &inner.config.webhook_secret {
                    Some(secret) => {
                        let timestamp_s = (inner.clock)().as_unix_ms().div_euclid(1000);
                        inner
                            .webhook
                            .deliver(&channel.address, secret, timestamp_s, &body)
                            .await
                    }
                    None => Err(transient("webhook_secret_missing")),
                },
                _ => match &inner.mailer {
                    Some(mailer) => {
                        mailer
                            .deliver(&channel.address, &message, n.id.0, language.tag())
                            .await
                    }
                    None => Err(transient("smtp_not_configured")),
                },
            };
            match result {
                Ok(()) => delivered.push(index),
                Err(error) => {
                    // A permanent failure decides the outcome; otherwise the first transient one names it.
                    if failure.is_none() || matches!(error, DeliveryError::Permanent(_)) {
                        failure = Some(error);
                    }
                }
            }
        }
        delivered.sort_unstable();
        if deliverable == 0 {
            return failed(permanent("no_deliverable_channel"), delivered);
        }
        match failure {
            Some(error) => failed(error, delivered),
            None => DeliveryReport {
                outcome: DeliveryOutcome::Delivered,
                delivered_channels: delivered,
                at: (inner.clock)(),
            },
        }
    }

    fn open_guardian(
        &self,
        guardian: &GuardianRecord,
    ) -> Result<(Vec<Channel>, Option<String>), jikimi_privacy::Error> {
        let record = format!("guardian/{}", guardian.id);
        let open = |field: &str| {
            guardian
                .fields
                .get(field)
                .map(|s| self.inner.keyring.open_str(&record, field, s))
                .transpose()
        };
        let channels = match open("channels")? {
            // A channel list the server wrote; unreadable JSON means no channel rather than a crash.
            Some(text) => serde_json::from_str(&text).unwrap_or_default(),
            None => Vec::new(),
        };
        Ok((channels, open("language")?))
    }

    /// The subscriber's name (if still on record) and language.
    async fn subscriber_name(&self, n: &Notification) -> (Option<String>, Option<String>) {
        let Ok(record) = self.inner.store.get_subscriber(n.subscriber_id).await else {
            return (None, None);
        };
        let name = record.fields.get("name").and_then(|sealed| {
            self.inner
                .keyring
                .open_str(&format!("subscriber/{}", n.subscriber_id), "name", sealed)
                .ok()
        });
        (name, Some(record.language))
    }
}

fn add(at: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_unix_ms(
        at.as_unix_ms()
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX)),
    )
}

fn rfc3339(at: Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.as_unix_ms())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
