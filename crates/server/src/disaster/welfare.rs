//! The welfare check: who a declared disaster asks "are you safe?", and the one service below the transports that
//! records a device's answer.
//!
//! - [`welfare_check`] places every subscriber by their latest fix (an incident of theirs measured within
//!   `--welfare-fix-age-s`), else by their registered home, and asks those whose place lies in the area. Opening the
//!   sealed homes and flags is audited (`disaster.positions_read`) before anything is opened. Each person asked gets
//!   a row with their position and vulnerability sealed under `disaster/<id>/person/<subscriber>`, committed in
//!   batches with their `disaster.welfare_requested` audit entries; only then are terminals sent the question over
//!   MQTT (`{prefix}/devices/{id}/welfare`). The app polls (`GET /api/devices/{id}/welfare`).
//! - [`record_answer`] is shared by the app's signed HTTP answer and a terminal's signed MQTT answer: idempotent per
//!   (disaster, device, answer id), audited in its transaction, and answered with the reporting interval the device
//!   should keep ([`reporting_interval_s`]). An answer in need (trapped, injured, need_help) is also an alert through
//!   the intake's group commit, so surge clustering folds the people of one collapsed building into one site
//!   incident while the disaster keeps each of them as a person.

use jikimi_audit::NewAuditEntry;
use jikimi_respond::disaster::{
    Position, PositionSource, Vulnerability, WelfareAnswer, WelfareStatus, reporting_interval_s,
};
use jikimi_respond::{AlertId, Coordinates, DeviceId, IncidentId, Priority, SubscriberId};
use jikimi_store::disaster::{
    DisasterRecord, HOME_FIELD, NewWelfareAnswer, POSITION_FIELD, VULNERABILITY_FIELD,
    WelfareRequest, person_record,
};
use jikimi_store::{Change, NewAlert};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::dto::{FixDto, rfc3339};
use crate::error::{ApiError, ErrorCode};
use crate::state::{AppState, IntakeFailure, IntakeItem};

/// Persons committed per transaction during a fan-out.
pub const REQUEST_BATCH: usize = 5_000;
/// The device kind that hears the question over MQTT; apps poll.
pub const TERMINAL_KIND: &str = "u-relief";

/// The context line of a device's welfare poll.
pub fn poll_context(device_id: &Uuid) -> String {
    format!("jikimi-welfare-poll-v1 {device_id}")
}

/// The context line of a device's answer to disaster `disaster_id`.
pub fn answer_context(disaster_id: &Uuid) -> String {
    format!("jikimi-welfare-v1 {disaster_id}")
}

/// What a welfare check did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct FanOutDto {
    /// People asked (new rows).
    pub asked: u64,
    /// Of them, placed by a recent fix.
    pub by_fix: u64,
    /// Of them, placed by their registered home.
    pub by_home: u64,
    /// Terminals sent the question over MQTT (after the commit).
    pub terminals: u64,
    /// App devices that will see it in their poll.
    pub apps: u64,
}

/// "Are you safe?" as a device shows it (the app's poll lists these; a terminal receives one on its welfare topic).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WelfareQuestionDto {
    /// Answer under this disaster.
    pub disaster_id: Uuid,
    /// earthquake, flood, other.
    pub kind: String,
    /// The disaster's title.
    pub title: String,
    /// When it was declared (RFC 3339).
    pub declared_at: String,
    /// The language of the texts.
    pub language: String,
    /// Heading.
    pub subject: String,
    /// The question.
    pub text: String,
    /// What the device may answer.
    pub answers: Vec<String>,
    /// The person's status so far (`no_answer` until a device of theirs answers).
    pub status: String,
}

/// The question for `disaster` in `lang`.
pub fn question(
    disaster: &DisasterRecord,
    lang: &str,
    status: WelfareStatus,
) -> WelfareQuestionDto {
    let l10n = jikimi_i18n::Localizer::global();
    let args = jikimi_i18n::Args::new().with("area", disaster.title.clone());
    WelfareQuestionDto {
        disaster_id: disaster.id,
        kind: disaster.kind.as_str().into(),
        title: disaster.title.clone(),
        declared_at: rfc3339(disaster.declared_at),
        language: l10n
            .negotiate(lang)
            .unwrap_or(jikimi_i18n::DEFAULT_LANGUAGE)
            .to_string(),
        subject: l10n.render(lang, "welfare-check-subject", &args),
        text: l10n.render(lang, "welfare-check-body", &args),
        answers: ["safe", "need_help", "trapped", "injured"]
            .into_iter()
            .map(String::from)
            .collect(),
        status: status.as_str().into(),
    }
}

/// Where the welfare check places a person, and whether that came from a fix.
fn place(
    state: &AppState,
    candidate: &jikimi_store::disaster::WelfareCandidate,
    now: jikimi_respond::Timestamp,
) -> Result<Option<Position>, ApiError> {
    if let Some(fix) = candidate.latest_fix {
        return Ok(Some(Position {
            coords: fix.coords,
            accuracy_m: fix.accuracy_m,
            at: fix.at,
            source: PositionSource::Fix,
        }));
    }
    let Some(sealed) = &candidate.home else {
        return Ok(None);
    };
    let record = format!("subscriber/{}", candidate.subscriber_id);
    let text = state
        .keyring
        .open_str(&record, HOME_FIELD, sealed)
        .map_err(ApiError::internal)?;
    let home: crate::subscribers::HomeDto =
        serde_json::from_str(&text).map_err(ApiError::internal)?;
    let coords = Coordinates::new(home.lat, home.lon).map_err(ApiError::internal)?;
    Ok(Some(Position {
        coords,
        accuracy_m: 0.0,
        at: now,
        source: PositionSource::Home,
    }))
}

/// Runs the welfare check of a declared `disaster`: selects, commits and then sends (module header).
pub async fn welfare_check(
    state: &AppState,
    disaster: &DisasterRecord,
    change: &Change,
) -> Result<FanOutDto, ApiError> {
    let now = change.at;
    // Audited before anything is opened: if the entry cannot be written, nobody's home is read.
    let entry = NewAuditEntry::new(
        now.as_unix_ms(),
        change.actor.to_string(),
        "disaster.positions_read",
        format!("disaster/{}", disaster.id),
        "welfare check: place subscribers in the area",
    );
    state.store.append_audit(vec![entry]).await?;
    let since = jikimi_respond::Timestamp::from_unix_ms(
        now.as_unix_ms()
            .saturating_sub(state.config.welfare_fix_age_ms),
    );
    let candidates = state.store.welfare_candidates(since).await?;
    let mut out = FanOutDto::default();
    let mut requests = Vec::new();
    let mut terminals: Vec<(DeviceId, String)> = Vec::new();
    for candidate in &candidates {
        let Some(position) = place(state, candidate, now)? else {
            continue;
        };
        if !disaster.area.contains(position.coords) {
            continue;
        }
        let record = person_record(disaster.id, candidate.subscriber_id);
        let vulnerability = match &candidate.vulnerability {
            Some(sealed) => {
                let text = state
                    .keyring
                    .open_str(
                        &format!("subscriber/{}", candidate.subscriber_id),
                        VULNERABILITY_FIELD,
                        sealed,
                    )
                    .map_err(ApiError::internal)?;
                Some(
                    state
                        .keyring
                        .seal_str(&record, VULNERABILITY_FIELD, &text)
                        .map_err(ApiError::internal)?,
                )
            }
            None => None,
        };
        let json = serde_json::to_string(&position).map_err(ApiError::internal)?;
        requests.push(WelfareRequest {
            subscriber_id: candidate.subscriber_id,
            position: Some(
                state
                    .keyring
                    .seal_str(&record, POSITION_FIELD, &json)
                    .map_err(ApiError::internal)?,
            ),
            position_at: Some(position.at),
            vulnerability,
        });
        match position.source {
            PositionSource::Fix => out.by_fix += 1,
            _ => out.by_home += 1,
        }
        for (device, kind) in &candidate.devices {
            if kind == TERMINAL_KIND {
                terminals.push((*device, candidate.language.clone()));
            } else {
                out.apps += 1;
            }
        }
    }
    for batch in requests.chunks(REQUEST_BATCH) {
        out.asked += state
            .store
            .request_welfare(disaster.id, batch, change)
            .await?;
    }
    // Committed: terminals are told now, in the background so the declaration answers at once.
    if let Some(downlink) = state.mqtt_downlink.get().cloned() {
        out.terminals = terminals.len() as u64;
        let disaster = disaster.clone();
        tokio::spawn(async move {
            for (device, lang) in terminals {
                let q = question(&disaster, &lang, WelfareStatus::NoAnswer);
                downlink.welfare(&device, &q).await;
            }
        });
    }
    metrics::counter!("jikimi_welfare_requests_total").increment(out.asked);
    Ok(out)
}

/// A device's answer, signed (`POST /api/devices/{id}/welfare/{disaster_id}/answer` or the terminal's MQTT answer).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WelfareAnswerRequest {
    /// The device's id for this answer: a retry sends the same id and changes nothing.
    pub answer_id: Uuid,
    /// safe, need_help, trapped or injured.
    pub answer: String,
    /// Where the device is.
    pub location: Option<FixDto>,
    /// Battery percentage, 0 to 100.
    pub battery_pct: Option<u8>,
    /// People with the person, themselves included (1 to 10,000).
    pub people: Option<u32>,
}

/// An answer recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WelfareAnsweredDto {
    /// The disaster.
    pub disaster_id: Uuid,
    /// The answer.
    pub answer_id: Uuid,
    /// The person's status now.
    pub status: String,
    /// `true` when this answer was recorded before: nothing changed.
    pub duplicate: bool,
    /// Report again every this many seconds (less often on a low battery).
    pub report_interval_s: u32,
    /// The incident an answer in need joined or opened (surge clustering may group a site's people in one).
    pub incident_id: Option<Uuid>,
}

/// Records a verified device's answer (module header). `subscriber_id` is the signing device's subscriber.
pub async fn record_answer(
    state: &AppState,
    device_id: DeviceId,
    subscriber_id: Option<SubscriberId>,
    nonce: &str,
    disaster_id: Uuid,
    body: &WelfareAnswerRequest,
) -> Result<WelfareAnsweredDto, ApiError> {
    let invalid = |m: &str| ApiError::new(ErrorCode::InvalidField, m.to_string());
    let answer = WelfareAnswer::parse(&body.answer)
        .ok_or_else(|| invalid("answer: safe, need_help, trapped or injured"))?;
    if body.battery_pct.is_some_and(|b| b > 100) {
        return Err(invalid("battery_pct: 0 to 100"));
    }
    if body.people.is_some_and(|p| !(1..=10_000).contains(&p)) {
        return Err(invalid("people: 1 to 10000"));
    }
    let now = state.now();
    let fix = body
        .location
        .as_ref()
        .map(|l| l.to_fix(now))
        .transpose()
        .map_err(|m| ApiError::new(ErrorCode::InvalidField, m))?;
    let Some(subscriber_id) = subscriber_id else {
        return Err(
            jikimi_store::Error::not_found(jikimi_store::Entity::Disaster, disaster_id).into(),
        );
    };
    let record = person_record(disaster_id, subscriber_id);
    let position = match fix {
        Some(fix) => {
            let json = serde_json::to_string(&Position {
                coords: fix.coords,
                accuracy_m: fix.accuracy_m,
                at: fix.at,
                source: PositionSource::Answer,
            })
            .map_err(ApiError::internal)?;
            Some(
                state
                    .keyring
                    .seal_str(&record, POSITION_FIELD, &json)
                    .map_err(ApiError::internal)?,
            )
        }
        None => None,
    };
    let recorded = state
        .store
        .record_welfare_answer(
            &NewWelfareAnswer {
                disaster_id,
                device_id,
                answer_id: body.answer_id,
                nonce: nonce.to_string(),
                answer,
                position,
                position_at: fix.map(|f| f.at),
                battery_pct: body.battery_pct,
                people: body.people,
                at: now,
            },
            &Change::new(
                jikimi_respond::Actor::Device(device_id),
                now,
                "welfare answer",
            ),
        )
        .await?;
    let status = recorded.status;
    let incident_id = if !status.in_need() {
        None
    } else if recorded.duplicate {
        state
            .store
            .alert_incident(device_id, AlertId(body.answer_id))
            .await
            .ok()
            .map(|i| i.0)
    } else {
        raise_alert(state, device_id, subscriber_id, body.answer_id, status, fix).await
    };
    Ok(WelfareAnsweredDto {
        disaster_id,
        answer_id: body.answer_id,
        status: status.as_str().into(),
        duplicate: recorded.duplicate,
        report_interval_s: reporting_interval_s(status, body.battery_pct),
        incident_id,
    })
}

/// An answer in need becomes an alert through the group commit (surge clustering applies). Its alert id is the
/// answer id, so it is committed once; a failure is logged: the answer itself is committed and in the triage queue.
async fn raise_alert(
    state: &AppState,
    device_id: DeviceId,
    subscriber_id: SubscriberId,
    answer_id: Uuid,
    status: WelfareStatus,
    fix: Option<jikimi_respond::LocationFix>,
) -> Option<Uuid> {
    let code = if status == WelfareStatus::NeedHelp {
        1
    } else {
        0
    };
    let priority = Priority::new(code).ok()?;
    let alert = NewAlert {
        incident_id: IncidentId(Uuid::now_v7()),
        alert_id: AlertId(answer_id),
        device_id,
        subscriber_id: Some(subscriber_id),
        nonce: format!("welfare-{}", answer_id.simple()),
        received_at: state.now(),
        priority,
        fix,
        silent: true,
    };
    match state.intake.submit(IntakeItem::from(alert)).await {
        Ok(Ok(accepted)) => Some(accepted.incident_id.0),
        Ok(Err(IntakeFailure::NonceReplayed)) => state
            .store
            .alert_incident(device_id, AlertId(answer_id))
            .await
            .ok()
            .map(|i| i.0),
        Ok(Err(IntakeFailure::Unavailable(detail))) => {
            tracing::error!(detail = %detail, "welfare answer recorded; its alert was not committed");
            None
        }
        Err(err) => {
            tracing::error!(error = %err, "welfare answer recorded; its alert was not committed");
            None
        }
    }
}

/// The vulnerability flags sealed in a person row, opened.
pub fn open_vulnerability(
    state: &AppState,
    record: &str,
    sealed: Option<&jikimi_privacy::Sealed>,
) -> Result<Vulnerability, ApiError> {
    match sealed {
        None => Ok(Vulnerability::default()),
        Some(sealed) => {
            let text = state
                .keyring
                .open_str(record, VULNERABILITY_FIELD, sealed)
                .map_err(ApiError::internal)?;
            serde_json::from_str(&text).map_err(ApiError::internal)
        }
    }
}

/// The position sealed in a person row, opened.
pub fn open_position(
    state: &AppState,
    record: &str,
    sealed: Option<&jikimi_privacy::Sealed>,
) -> Result<Option<Position>, ApiError> {
    match sealed {
        None => Ok(None),
        Some(sealed) => {
            let text = state
                .keyring
                .open_str(record, POSITION_FIELD, sealed)
                .map_err(ApiError::internal)?;
            serde_json::from_str(&text)
                .map(Some)
                .map_err(ApiError::internal)
        }
    }
}
