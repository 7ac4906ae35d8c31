//! The intake service: every way an alert comes in (the device API, the 112 app, MQTT terminals, AML gateways)
//! hands a message to [`Intake`], which checks it, commits it and, when it refuses, audits the refusal.
//!
//! The transports only carry: HTTP reads headers and body, MQTT decodes its envelope, and each maps the answer to
//! its own reply ([`Accepted`], or a [`Refusal`], which HTTP turns into `ApiError` in one `From` and MQTT into its
//! ack). Which refusals reach the audit log, against whom and under which action is decided here, in
//! [`Intake::refuse`], and nowhere else.
//!
//! Cheap checks come first: the device cache and its negative cache answer before the database; only a made-up
//! device id costs a look-up, bounded by the flood guard's look-up limits; the signature (about 50 µs) before the
//! clock window; the body is parsed last, and the alert joins the group commit ([`crate::group_commit`]), which
//! answers only after the transaction that makes it durable has committed.
//!
//! Architecture Invariant: this module knows no HTTP (no axum, no `ApiError`, no status codes); its codes are the
//! shared [`ErrorCode`] vocabulary that both the API and the MQTT acks speak.

use jikimi_audit::NewAuditEntry;
use jikimi_intake::{AmlReport, Method, parse_form, parse_sms};
use jikimi_privacy::normalise_phone;
use jikimi_respond::{
    AlertId, Coordinates, DeviceId, EventKind, FixMethod, IncidentId, LocationFix, Priority,
    SubscriberId, Timestamp,
};
use jikimi_store::{DeviceEvent, NewAlert};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::dto::{AlertRequest, FixDto};
use crate::error::ErrorCode;
use crate::flood::{Disposition, Guarded, Source};
use crate::signing;
use crate::state::{AppState, CachedDevice, IntakeFailure, IntakeItem};

/// Accuracy assumed when a handset reports a position without a radius (`rd=N`): wide on purpose, so nobody
/// trusts the point more than the handset did.
const UNKNOWN_RADIUS_M: f64 = 5_000.0;

/// Longest an alert waits for the commit that holds it before it is answered "unavailable, retry" (503): a surge's
/// commits take milliseconds, so this only fires when the database is cut off or stalled, and the client then
/// retries (same alert id) on a node that can commit.
pub const COMMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How a message came in; says which limits apply and how a refusal is audited.
#[derive(Debug, Clone)]
pub enum Channel {
    /// A signed alert over the device API, from `source`.
    Http {
        /// Who sent it.
        source: Source,
        /// The request id, quoted in the audit entry.
        request_id: String,
    },
    /// A signed request of the 112 app about an open alert (location, cancel).
    App {
        /// Who sent it.
        source: Source,
        /// The request id, quoted in the audit entry.
        request_id: String,
    },
    /// A signed message of a U-Relief terminal on an MQTT topic. The broker delivers a message again when the
    /// server's acknowledgement was lost, so a spent nonce of a recorded alert is answered as a duplicate.
    Mqtt {
        /// The topic it arrived on, quoted in the audit entry.
        topic: String,
    },
    /// A device enrolling with a one-time code (refusals the store did not audit with the code's counter).
    Enrolment {
        /// Who sent it.
        source: Source,
        /// The request id, quoted in the audit entry.
        request_id: String,
    },
    /// An AML payload relayed by an operator gateway.
    Aml {
        /// Who sent it.
        source: Source,
        /// The request id, quoted in the audit entry.
        request_id: String,
        /// The gateway, once its credential verified.
        gateway: Option<String>,
    },
}

impl Channel {
    fn source(&self) -> Source {
        match self {
            Channel::Http { source, .. }
            | Channel::App { source, .. }
            | Channel::Enrolment { source, .. }
            | Channel::Aml { source, .. } => *source,
            // The broker is the peer of every terminal: per-source limits would throttle them all together.
            Channel::Mqtt { .. } => Source::default(),
        }
    }
}

/// A device-signed message: the signing fields of [`signing`] and the exact bytes signed.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// The signing device.
    pub device_id: DeviceId,
    /// Unix seconds when signed.
    pub timestamp_s: i64,
    /// Single use per device.
    pub nonce: &'a str,
    /// Base64 Ed25519 signature.
    pub signature: &'a str,
    /// The body exactly as signed.
    pub body: &'a [u8],
}

/// A committed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The alert, as the device named it (or as derived from an AML payload).
    pub alert_id: Uuid,
    /// The incident it opened, joined, or (for a retry) had already opened.
    pub incident_id: IncidentId,
    /// True when the same alert (or message) was already recorded: nothing new was stored.
    pub duplicate: bool,
    /// The device must show and sound nothing.
    pub silent: bool,
}

/// Why the intake refused a message. Transport-neutral: each transport maps it to its own reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Refused for a reason the sender can act on: a stable code and a message safe to show.
    Refused {
        /// What was wrong.
        code: ErrorCode,
        /// Lowercase, no personal data.
        message: String,
    },
    /// Too many of these from this source or device.
    RateLimited {
        /// Safe to show.
        message: String,
        /// When to retry, in whole seconds, when known.
        retry_after_s: Option<u64>,
    },
    /// Not taken now (the database is unreachable, the server overloaded): the sender should retry. Nothing was
    /// stored, except after a commit that outlived [`COMMIT_WAIT`]: it may still land, and the retry (same alert
    /// id) is then answered with the alert already held.
    Unavailable {
        /// For the log only.
        detail: String,
    },
    /// A server fault: the sender is told nothing more.
    Internal {
        /// For the log only; `None` when it was logged already.
        detail: Option<String>,
    },
}

impl Refusal {
    /// A refusal the sender can act on.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal::Refused {
            code,
            message: message.into(),
        }
    }

    /// A server fault with its detail for the log.
    pub fn internal(detail: impl std::fmt::Display) -> Refusal {
        Refusal::Internal {
            detail: Some(detail.to_string()),
        }
    }

    /// Its stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Refused { code, .. } => *code,
            Refusal::RateLimited { .. } => ErrorCode::RateLimited,
            Refusal::Unavailable { .. } => ErrorCode::Unavailable,
            Refusal::Internal { .. } => ErrorCode::Internal,
        }
    }

    /// The sender did nothing wrong: the server could not take the message now, and may later.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Refusal::Unavailable { .. } | Refusal::Internal { .. })
    }
}

/// Whom a refusal is audited against, as far as the intake got before refusing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Against {
    /// The device, once its id was found registered.
    pub device: Option<DeviceId>,
    /// The subscriber an AML number belongs to, once found.
    pub subscriber: Option<SubscriberId>,
    /// For AML: a fixed name of what was being checked (the parser's error class, `json`, `sender`,
    /// `position`), never text derived from the payload.
    pub class: Option<&'static str>,
}

impl Against {
    /// Against a known device.
    pub fn device(device: DeviceId) -> Against {
        Against {
            device: Some(device),
            ..Against::default()
        }
    }
}

/// What becomes of a refusal in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audit {
    /// One entry (through the coalescer of [`crate::flood`]).
    Entry,
    /// Counted for a summary entry under this action only: one row per limited request would flood the audit log
    /// with the very traffic the limit sheds.
    Count(&'static str),
    /// Nothing: audited by the store in the transaction that detected it, or not the sender's doing.
    Nothing,
}

/// The one table of which refusals are audited.
fn audit_of(channel: &Channel, code: ErrorCode) -> Audit {
    match (code, channel) {
        // Server faults are not the caller's doing.
        (ErrorCode::Unavailable | ErrorCode::Internal, _) => Audit::Nothing,
        // A terminal's limited location updates are logged only: the broker is the peer of every terminal.
        (ErrorCode::RateLimited, Channel::Mqtt { .. }) => Audit::Nothing,
        (ErrorCode::RateLimited, Channel::Http { .. }) => {
            Audit::Count(Guarded::DeviceLookup.action())
        }
        (ErrorCode::RateLimited, Channel::Aml { .. }) => Audit::Count(Guarded::AmlFailure.action()),
        (ErrorCode::RateLimited, Channel::App { .. }) => Audit::Count("app.limited"),
        // A replayed alert nonce is audited by the store inside the intake transaction that detected it.
        (ErrorCode::NonceReplayed, Channel::Http { .. } | Channel::Mqtt { .. }) => Audit::Nothing,
        // Wrong PINs are audited by the store with their counter.
        (ErrorCode::PinInvalid, _) => Audit::Nothing,
        _ => Audit::Entry,
    }
}

/// The intake over a server's state.
#[derive(Clone, Copy)]
pub struct Intake<'a> {
    state: &'a AppState,
}

impl<'a> Intake<'a> {
    /// The intake of `state`.
    pub fn new(state: &'a AppState) -> Intake<'a> {
        Intake { state }
    }

    /// The state it works on.
    pub fn state(&self) -> &'a AppState {
        self.state
    }

    /// Accepts a signed SOS: device, signature and clock window under the alert context, then the body, then the
    /// group commit. Returns once the alert is committed; a refusal is audited before it is returned.
    pub async fn accept(
        &self,
        signed: &Signed<'_>,
        channel: &Channel,
    ) -> Result<Accepted, Refusal> {
        let device = match self
            .verify_unaudited(signing::ALERT_CONTEXT, signed, channel)
            .await
        {
            Ok(device) => device,
            Err((refusal, against)) => return Err(self.refuse(channel, against, refusal).await),
        };
        let result = match self.commit_alert(&device, signed).await {
            // The broker delivers a message again when our acknowledgement was lost (a restart between commit and
            // PUBACK): the nonce is then spent, but the signed alert is recorded, so the terminal is told it is
            // safe.
            Err(refusal)
                if refusal.code() == ErrorCode::NonceReplayed
                    && matches!(channel, Channel::Mqtt { .. }) =>
            {
                self.redelivered(signed).await.ok_or(refusal)
            }
            other => other,
        };
        match result {
            Ok(accepted) => Ok(accepted),
            Err(refusal) => Err(self
                .refuse(channel, Against::device(signed.device_id), refusal)
                .await),
        }
    }

    /// Checks a signed request of the app (`context` binds the incident): device, revocation, signature, clock
    /// window. A refusal is audited before it is returned.
    pub async fn verify(
        &self,
        context: &str,
        signed: &Signed<'_>,
        channel: &Channel,
    ) -> Result<CachedDevice, Refusal> {
        match self.verify_unaudited(context, signed, channel).await {
            Ok(device) => Ok(device),
            Err((refusal, against)) => Err(self.refuse(channel, against, refusal).await),
        }
    }

    /// Accepts a terminal's signed location update (`{"alert_id", "location"}`) for the incident its alert
    /// opened. A message delivered again is answered as a duplicate (its nonce was claimed with the fix).
    pub async fn accept_location(
        &self,
        signed: &Signed<'_>,
        channel: &Channel,
    ) -> Result<Accepted, Refusal> {
        let device = match self
            .verify_unaudited(signing::LOCATION_CONTEXT, signed, channel)
            .await
        {
            Ok(device) => device,
            Err((refusal, against)) => return Err(self.refuse(channel, against, refusal).await),
        };
        match self.append_location(signed, &device).await {
            Ok(accepted) => Ok(accepted),
            Err(refusal) => Err(self
                .refuse(channel, Against::device(signed.device_id), refusal)
                .await),
        }
    }

    /// Accepts an AML payload that an authenticated gateway relayed: parses it, finds the subscriber by the
    /// number's blind index and commits the alert. A refusal is audited before it is returned.
    pub async fn accept_aml(
        &self,
        submission: &AmlSubmission<'_>,
        channel: &Channel,
    ) -> Result<Accepted, Refusal> {
        let mut against = Against::default();
        match self.commit_aml(submission, &mut against).await {
            Ok(accepted) => Ok(accepted),
            Err(refusal) => Err(self.refuse(channel, against, refusal).await),
        }
    }

    /// The one place that decides whether and how a refusal is audited; returns the refusal to answer (or, if the
    /// audit entry could not be written, that failure: a refusal is never answered unaudited).
    pub async fn refuse(&self, channel: &Channel, against: Against, refusal: Refusal) -> Refusal {
        let code = refusal.code();
        let source = channel.source();
        let at_ms = self.state.now().as_unix_ms();
        let refused = crate::flood::Refusal {
            action: "",
            source,
            code,
            at_ms,
        };
        match audit_of(channel, code) {
            Audit::Nothing => refusal,
            Audit::Count(action) => {
                self.state
                    .refusals
                    .count_only(&crate::flood::Refusal { action, ..refused });
                refusal
            }
            Audit::Entry => {
                let action = match channel {
                    Channel::Http { .. } | Channel::Mqtt { .. } => "alert.rejected",
                    Channel::App { .. } => "app.rejected",
                    Channel::Aml { .. } => "aml.rejected",
                    Channel::Enrolment { .. } => "enrolment.refused",
                };
                match self
                    .state
                    .refusals
                    .admit(&crate::flood::Refusal { action, ..refused })
                {
                    Disposition::Counted => refusal,
                    Disposition::Audit => {
                        let pseudonym = self.state.refusals.pseudonym(source);
                        let entry = audit_entry(channel, action, against, code, at_ms, pseudonym);
                        match self.state.store.append_audit(vec![entry]).await {
                            Ok(_) => refusal,
                            Err(err) => err.into(),
                        }
                    }
                }
            }
        }
    }

    /// The checks of every signed device message, unaudited: device known and not revoked, signature over
    /// `{context}\n{device}\n{timestamp}\n{nonce}\n{body}`, clock window.
    async fn verify_unaudited(
        &self,
        context: &str,
        signed: &Signed<'_>,
        channel: &Channel,
    ) -> Result<CachedDevice, (Refusal, Against)> {
        let device = self
            .device_key(channel.source(), signed.device_id)
            .await
            .map_err(|refusal| (refusal, Against::default()))?;
        let known = Against::device(signed.device_id);
        if device.revoked {
            return Err((
                Refusal::new(ErrorCode::DeviceUnknown, "device is revoked"),
                known,
            ));
        }
        // Ed25519 verification is ~50 µs of CPU: cheap enough to run on the async worker.
        if !signing::verify_in(
            context,
            &device.key,
            &signed.device_id.0,
            signed.timestamp_s,
            signed.nonce,
            signed.body,
            signed.signature,
        ) {
            return Err((
                Refusal::new(
                    ErrorCode::SignatureInvalid,
                    "signature does not verify for this device",
                ),
                known,
            ));
        }
        let skew_s = self.state.now().as_unix_ms() / 1000 - signed.timestamp_s;
        let window_s = self.state.config.alert_window_s;
        if skew_s.abs() > window_s {
            return Err((
                Refusal::new(
                    ErrorCode::TimestampOutOfWindow,
                    format!(
                        "timestamp is {skew_s} s away from server time; the window is ±{window_s} s"
                    ),
                ),
                known,
            ));
        }
        Ok(device)
    }

    /// The device's key: from the cache, else refused from the negative cache, else from the database: at once
    /// for an id known to exist (even if its cache entry expired), within `source`'s and the global look-up limits
    /// for any other. A known device is never limited: only looking up unknown ids costs tokens.
    async fn device_key(&self, source: Source, id: DeviceId) -> Result<CachedDevice, Refusal> {
        let state = self.state;
        let unknown = || Refusal::new(ErrorCode::DeviceUnknown, "device is not registered");
        if let Some(device) = state.devices.get(&id) {
            return Ok(device);
        }
        if state.devices.is_absent(&id) {
            return Err(unknown());
        }
        // A device known to exist is looked up whatever the flood: only made-up ids meet the look-up limits.
        if !state.devices.is_known(&id) {
            state
                .flood
                .penalised(Guarded::DeviceLookup, source)
                .map_err(|wait| {
                    crate::flood::FloodGuard::limited_refusal(Guarded::DeviceLookup, wait)
                })?;
        }
        match state.store.get_device(id).await {
            Ok(record) => {
                let key = <[u8; 32]>::try_from(record.public_key.as_slice())
                    .ok()
                    .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                    .ok_or_else(|| {
                        Refusal::internal(format!("device {id} has an unusable stored public key"))
                    })?;
                Ok(state
                    .devices
                    .put(id, key, record.subscriber_id, record.revoked_at.is_some()))
            }
            Err(err) if err.is_not_found() => {
                state.devices.unmark_known(&id);
                state.devices.put_absent(id);
                state.flood.charge_failure(Guarded::DeviceLookup, source);
                Err(unknown())
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Body checks, the per-device budget, then the group commit.
    async fn commit_alert(
        &self,
        device: &CachedDevice,
        signed: &Signed<'_>,
    ) -> Result<Accepted, Refusal> {
        let state = self.state;
        let now = state.now();
        let request: AlertRequest = serde_json::from_slice(signed.body).map_err(|e| {
            Refusal::new(
                ErrorCode::InvalidPayload,
                format!("invalid alert json: {e}"),
            )
        })?;
        let priority = Priority::new(request.priority.unwrap_or(1))
            .map_err(|e| Refusal::new(ErrorCode::InvalidField, format!("priority: {e}")))?;
        let fix = request
            .location
            .as_ref()
            .map(|l| fix_of_dto(l, now))
            .transpose()?;
        let silent = request.silent.unwrap_or(true);
        // Past its budget a device's alert still commits, but joins its open incident as a counted report. In a
        // cluster the store charges the device's bucket in the alert's own transaction, shared by every node.
        let over_budget =
            state.cluster.is_none() && !state.alert_budget.allow(signed.device_id, now);
        if over_budget {
            metrics::counter!("jikimi_alerts_over_budget_total").increment(1);
        }
        let alert = NewAlert {
            incident_id: IncidentId(Uuid::now_v7()),
            alert_id: AlertId(request.alert_id),
            device_id: signed.device_id,
            subscriber_id: device.subscriber_id,
            nonce: signed.nonce.to_string(),
            received_at: now,
            priority,
            fix,
            silent,
        };
        match state
            .intake
            .submit_within(IntakeItem { alert, over_budget }, COMMIT_WAIT)
            .await
        {
            Ok(Ok(accepted)) => Ok(Accepted {
                alert_id: request.alert_id,
                incident_id: accepted.incident_id,
                duplicate: accepted.duplicate,
                silent,
            }),
            Ok(Err(IntakeFailure::NonceReplayed)) => Err(nonce_replayed()),
            Ok(Err(IntakeFailure::Unavailable(detail))) => Err(Refusal::Unavailable { detail }),
            Err(err) => Err(Refusal::Unavailable {
                detail: err.to_string(),
            }),
        }
    }

    /// A redelivered alert whose nonce is spent: its first incident, if the alert was recorded.
    async fn redelivered(&self, signed: &Signed<'_>) -> Option<Accepted> {
        let request: AlertRequest = serde_json::from_slice(signed.body).ok()?;
        let incident_id = self
            .state
            .store
            .alert_incident(signed.device_id, AlertId(request.alert_id))
            .await
            .ok()?;
        Some(Accepted {
            alert_id: request.alert_id,
            incident_id,
            duplicate: true,
            silent: request.silent.unwrap_or(true),
        })
    }

    async fn append_location(
        &self,
        signed: &Signed<'_>,
        _device: &CachedDevice,
    ) -> Result<Accepted, Refusal> {
        let state = self.state;
        let now = state.now();
        // The same budget as the app's location stream (a burst, then one a second per device): a terminal, or a
        // stolen key, cannot flood the incident log.
        if !state.location_limiter.allow(signed.device_id, now) {
            return Err(location_limited());
        }
        let update: LocationBody = serde_json::from_slice(signed.body).map_err(|e| {
            Refusal::new(
                ErrorCode::InvalidPayload,
                format!("invalid location json: {e}"),
            )
        })?;
        let fix = fix_of_dto(&update.location, now)?;
        let incident_id = state
            .store
            .alert_incident(signed.device_id, AlertId(update.alert_id))
            .await?;
        // The nonce is claimed in the event's own transaction (as for the app's location stream), so a message
        // delivered again after a lost acknowledgement is recognised by its spent nonce, without reading the
        // incident's event log. A spent nonce can only come from this very message: the signature binds the nonce
        // to this location context and body, and the first delivery committed it together with the fix.
        let appended = state
            .store
            .append_device_event(&DeviceEvent {
                incident_id,
                device_id: signed.device_id,
                nonce: signed.nonce.to_string(),
                kind: EventKind::LocationAdded { fix },
                pin_accepted: false,
                at: now,
                reason: "location update (mqtt)".into(),
            })
            .await;
        let duplicate = match appended {
            Ok(_) => false,
            Err(jikimi_store::Error::Conflict(jikimi_store::Conflict::NonceReplayed)) => true,
            Err(err) => return Err(err.into()),
        };
        Ok(Accepted {
            alert_id: update.alert_id,
            incident_id,
            duplicate,
            silent: true,
        })
    }

    async fn commit_aml(
        &self,
        submission: &AmlSubmission<'_>,
        against: &mut Against,
    ) -> Result<Accepted, Refusal> {
        let state = self.state;
        let parsed = match submission.transport {
            AmlTransport::Sms => parse_sms(submission.payload),
            AmlTransport::Https => parse_form(submission.payload),
        };
        let report = parsed.map_err(|e| {
            against.class = Some(e.error.as_str());
            Refusal::new(ErrorCode::InvalidField, format!("aml: {e}"))
        })?;
        against.class = Some("sender");
        let sender = submission
            .sender
            .or(report.msisdn.as_deref())
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::InvalidField,
                    "sender: the caller's number is required",
                )
            })?;
        let phone = normalise_phone(sender)
            .map_err(|_| Refusal::new(ErrorCode::InvalidField, "sender: not a phone number"))?;
        let ids = state
            .store
            .find_subscribers("phone", &state.blind.digest("phone", &phone))
            .await?;
        // Two subscribers with one number would make the caller ambiguous; refusing would lose the alert, so the
        // first registered (ids are UUIDv7, time-ordered) takes it and the incident still carries the location.
        let Some(subscriber_id) = ids.into_iter().min_by_key(|s| s.0) else {
            return Err(Refusal::new(
                ErrorCode::DeviceUnknown,
                "the calling number is not registered",
            ));
        };
        against.subscriber = Some(subscriber_id);
        against.class = Some("position");
        let fix = fix_of_aml(&report)?;
        let alert_id = derived_uuid(&[
            b"jikimi-aml-alert-v1",
            subscriber_id.0.as_bytes(),
            submission.payload.as_bytes(),
        ]);
        let alert = NewAlert {
            incident_id: IncidentId(Uuid::now_v7()),
            alert_id: AlertId(alert_id),
            device_id: aml_device_id(subscriber_id),
            subscriber_id: Some(subscriber_id),
            // Authenticity comes from the operator transport, not from a device signature: the nonce only has to
            // be unique, and dedupe happens on the payload-derived alert id.
            nonce: Uuid::now_v7().simple().to_string(),
            received_at: state.now(),
            // AML accompanies a call to 112 that the caller may be unable to speak on.
            priority: Priority::new(1).map_err(Refusal::internal)?,
            fix,
            silent: false,
        };
        match state.intake.submit_within(alert.into(), COMMIT_WAIT).await {
            Ok(Ok(accepted)) => Ok(Accepted {
                alert_id,
                incident_id: accepted.incident_id,
                duplicate: accepted.duplicate,
                // The gateway relays nothing back to a feature phone.
                silent: true,
            }),
            Ok(Err(IntakeFailure::NonceReplayed)) => {
                Err(Refusal::internal("fresh aml nonce reported as replayed"))
            }
            Ok(Err(IntakeFailure::Unavailable(detail))) => Err(Refusal::Unavailable { detail }),
            Err(err) => Err(Refusal::Unavailable {
                detail: err.to_string(),
            }),
        }
    }
}

/// The audit entry for a refusal: against the device (or AML subscriber) if known, naming the code and where it
/// came from, never the payload.
fn audit_entry(
    channel: &Channel,
    action: &'static str,
    against: Against,
    code: ErrorCode,
    at_ms: i64,
    pseudonym: String,
) -> NewAuditEntry {
    let (actor, subject) = match against.device {
        Some(id) => (format!("device:{id}"), format!("device/{id}")),
        None => ("anonymous".to_string(), "device/unknown".to_string()),
    };
    let (actor, subject, detail) = match channel {
        Channel::Http { request_id, .. }
        | Channel::App { request_id, .. }
        | Channel::Enrolment { request_id, .. } => (
            actor,
            subject,
            serde_json::json!({"code": code.as_str(), "request_id": request_id, "source": pseudonym}),
        ),
        Channel::Mqtt { topic } => (
            actor,
            subject,
            serde_json::json!({"code": code.as_str(), "channel": "mqtt", "reference": topic, "source": pseudonym}),
        ),
        Channel::Aml {
            request_id,
            gateway,
            ..
        } => (
            match gateway {
                Some(id) => format!("aml-gateway:{id}"),
                None => "anonymous".to_string(),
            },
            match against.subscriber {
                Some(SubscriberId(id)) => format!("subscriber/{id}"),
                None => "aml/unknown".to_string(),
            },
            // Only a fixed class name, never the error text: parser and JSON errors quote what they read (a
            // caller's number in a misplaced field, a key made of digits).
            serde_json::json!({
                "code": code.as_str(),
                "class": against.class,
                "request_id": request_id,
                "source": pseudonym,
            }),
        ),
    };
    NewAuditEntry::new(at_ms, actor, action, subject, code.as_str()).with_detail(&detail)
}

/// The refusal of a spent nonce.
fn nonce_replayed() -> Refusal {
    Refusal::new(
        ErrorCode::NonceReplayed,
        "this nonce was already used by this device",
    )
}

/// The refusal of a location update past the device's budget.
pub fn location_limited() -> Refusal {
    Refusal::RateLimited {
        message: "too many location updates; at most one a second".into(),
        retry_after_s: None,
    }
}

/// A fix as sent by a device, checked.
pub fn fix_of_dto(fix: &FixDto, now: Timestamp) -> Result<LocationFix, Refusal> {
    fix.to_fix(now)
        .map_err(|message| Refusal::new(ErrorCode::InvalidField, message))
}

/// A terminal's signed location update.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    /// The alert whose incident the fix belongs to.
    pub alert_id: Uuid,
    /// The new fix.
    pub location: FixDto,
}

/// Which AML transport the payload came by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AmlTransport {
    /// The `A"ML=1;...` SMS text.
    #[default]
    Sms,
    /// The HTTPS form body (`location_latitude=...&...`).
    Https,
}

/// An AML payload as a gateway relayed it.
#[derive(Debug, Clone, Copy)]
pub struct AmlSubmission<'a> {
    /// The caller's number as the gateway saw it; for HTTPS the form's `device_number` may stand in.
    pub sender: Option<&'a str>,
    /// The payload text exactly as received.
    pub payload: &'a str,
    /// How it came.
    pub transport: AmlTransport,
}

/// A stable UUID from a hash (RFC 4122 bits set by the builder; the bytes are not random but are uniformly spread).
fn derived_uuid(parts: &[&[u8]]) -> Uuid {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The synthetic device id under which a subscriber's AML alerts are deduplicated.
pub fn aml_device_id(subscriber: SubscriberId) -> DeviceId {
    DeviceId(derived_uuid(&[
        b"jikimi-aml-device-v1",
        subscriber.0.as_bytes(),
    ]))
}

fn fix_of_aml(report: &AmlReport) -> Result<Option<LocationFix>, Refusal> {
    let Some((lat, lon, radius)) = report.position() else {
        return Ok(None);
    };
    let coords = Coordinates::new(lat, lon)
        .map_err(|e| Refusal::new(ErrorCode::InvalidField, format!("aml position: {e}")))?;
    let method = match report.method {
        Method::Gnss => FixMethod::Gnss,
        Method::Wifi => FixMethod::Wifi,
        Method::Cell => FixMethod::Cell,
        Method::None => FixMethod::Unknown,
    };
    LocationFix::new(
        coords,
        radius.unwrap_or(UNKNOWN_RADIUS_M),
        method,
        Timestamp::from_unix_ms(report.time_utc.timestamp_millis()),
    )
    .map(Some)
    .map_err(|e| Refusal::new(ErrorCode::InvalidField, format!("aml position: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> Channel {
        Channel::Http {
            source: Source::default(),
            request_id: "r".into(),
        }
    }

    #[test]
    fn server_faults_are_never_audited() {
        for channel in [http(), Channel::Mqtt { topic: "t".into() }] {
            assert_eq!(audit_of(&channel, ErrorCode::Unavailable), Audit::Nothing);
            assert_eq!(audit_of(&channel, ErrorCode::Internal), Audit::Nothing);
        }
    }

    #[test]
    fn limits_are_counted_except_on_the_broker() {
        assert_eq!(
            audit_of(&http(), ErrorCode::RateLimited),
            Audit::Count("alert.limited")
        );
        assert_eq!(
            audit_of(&Channel::Mqtt { topic: "t".into() }, ErrorCode::RateLimited),
            Audit::Nothing
        );
    }

    #[test]
    fn replayed_alert_nonces_are_left_to_the_store_but_the_apps_are_audited() {
        assert_eq!(audit_of(&http(), ErrorCode::NonceReplayed), Audit::Nothing);
        let app = Channel::App {
            source: Source::default(),
            request_id: "r".into(),
        };
        assert_eq!(audit_of(&app, ErrorCode::NonceReplayed), Audit::Entry);
        assert_eq!(audit_of(&app, ErrorCode::PinInvalid), Audit::Nothing);
        assert_eq!(audit_of(&http(), ErrorCode::SignatureInvalid), Audit::Entry);
    }
}
