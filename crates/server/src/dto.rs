//! The HTTP API's wire types: serialisable twins of the domain types, with their OpenAPI schemas.
//!
//! The domain crates know nothing of JSON shapes or OpenAPI; this module converts by hand so a change in a
//! domain type never silently changes the API. Times on the wire are RFC 3339 strings (UTC).

use jikimi_respond as respond;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};

/// RFC 3339 text for a domain timestamp.
pub fn rfc3339(at: respond::Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.as_unix_ms())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// How a location was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FixMethodDto {
    /// Satellite positioning.
    Gnss,
    /// Wi-Fi positioning.
    Wifi,
    /// Cell-tower positioning.
    Cell,
    /// Not stated.
    Unknown,
}

impl From<FixMethodDto> for respond::FixMethod {
    fn from(value: FixMethodDto) -> Self {
        match value {
            FixMethodDto::Gnss => respond::FixMethod::Gnss,
            FixMethodDto::Wifi => respond::FixMethod::Wifi,
            FixMethodDto::Cell => respond::FixMethod::Cell,
            FixMethodDto::Unknown => respond::FixMethod::Unknown,
        }
    }
}

impl From<respond::FixMethod> for FixMethodDto {
    fn from(value: respond::FixMethod) -> Self {
        match value {
            respond::FixMethod::Gnss => FixMethodDto::Gnss,
            respond::FixMethod::Wifi => FixMethodDto::Wifi,
            respond::FixMethod::Cell => FixMethodDto::Cell,
            respond::FixMethod::Unknown => FixMethodDto::Unknown,
        }
    }
}

/// A location fix as sent by a device or shown to staff.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FixDto {
    /// Latitude in degrees, -90..=90.
    #[schema(example = 37.5665)]
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    #[schema(example = 126.978)]
    pub lon: f64,
    /// Radius of the 68 % confidence circle in metres.
    #[serde(default)]
    pub accuracy_m: f64,
    /// How the fix was obtained.
    #[serde(default = "unknown_method")]
    pub method: FixMethodDto,
    /// When the fix was measured (RFC 3339); the server's receive time when absent.
    #[serde(default)]
    pub at: Option<String>,
}

fn unknown_method() -> FixMethodDto {
    FixMethodDto::Unknown
}

impl FixDto {
    /// Checks ranges and builds the domain fix; out-of-range values are `invalid_field`.
    pub fn to_domain(&self, now: respond::Timestamp) -> Result<respond::LocationFix, ApiError> {
        self.to_fix(now)
            .map_err(|message| ApiError::new(ErrorCode::InvalidField, message))
    }

    /// Checks ranges and builds the domain fix; `Err` says which field is out of range.
    pub fn to_fix(&self, now: respond::Timestamp) -> Result<respond::LocationFix, String> {
        let coords =
            respond::Coordinates::new(self.lat, self.lon).map_err(|e| format!("location: {e}"))?;
        let at = match &self.at {
            None => now,
            Some(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| respond::Timestamp::from_unix_ms(t.timestamp_millis()))
                .map_err(|_| "location.at: not an RFC 3339 time".to_string())?,
        };
        respond::LocationFix::new(coords, self.accuracy_m, self.method.into(), at)
            .map_err(|e| format!("location: {e}"))
    }

    /// The wire form of a domain fix.
    pub fn from_domain(fix: &respond::LocationFix) -> Self {
        Self {
            lat: fix.coords.lat(),
            lon: fix.coords.lon(),
            accuracy_m: fix.accuracy_m,
            method: fix.method.into(),
            at: Some(rfc3339(fix.at)),
        }
    }
}

/// The body of `POST /api/alerts`, signed by the device (see the signing headers).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRequest {
    /// Chosen by the device, the same on every retry of this alert: the idempotency key.
    pub alert_id: Uuid,
    /// Korean 112 priority code 0 (most urgent) to 4; default 1.
    #[serde(default)]
    pub priority: Option<u8>,
    /// Silent mode: the device must not ring or show anything; default true.
    #[serde(default)]
    pub silent: Option<bool>,
    /// Where the device is, if it knows.
    #[serde(default)]
    pub location: Option<FixDto>,
}

/// The answer to an accepted alert: it is committed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertAcceptedDto {
    /// The incident this alert opened (or, for a retry, had already opened).
    pub incident_id: Uuid,
    /// True when this alert id was already accepted from this device: no new incident was made.
    pub duplicate: bool,
    /// What the device may show or say about it (nothing in silent mode).
    pub feedback: DeviceFeedback,
}

/// What a device may show or say after a request. In silent mode every message is absent and `silent` is true:
/// the app must not ring, vibrate, speak or light up, so whoever holds the phone learns nothing.
///
/// The texts come from the `device` Fluent domain (`jikimi_i18n`): Korean and English always, and `message` in the
/// language the device asked for with `Accept-Language` (negotiated among the fourteen; English, then Korean, when
/// the service lacks it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceFeedback {
    /// Silent mode: show and sound nothing.
    pub silent: bool,
    /// Text to show, in English; absent in silent mode.
    pub message_en: Option<String>,
    /// Text to show, in Korean; absent in silent mode.
    pub message_ko: Option<String>,
    /// The language `message` is in (a tag such as `vi`), from the request's `Accept-Language`; absent in silent
    /// mode.
    #[serde(default)]
    pub language: Option<String>,
    /// Text to show in `language`; absent in silent mode.
    #[serde(default)]
    pub message: Option<String>,
}

impl DeviceFeedback {
    /// Message `id` in Korean, English and the language the device asked for (an `Accept-Language` value);
    /// nothing in silent mode.
    fn say(silent: bool, id: &str, accept_language: Option<&str>) -> Self {
        if silent {
            return Self {
                silent,
                message_en: None,
                message_ko: None,
                language: None,
                message: None,
            };
        }
        let l10n = jikimi_i18n::Localizer::global();
        let text = |lang: &str| l10n.render(lang, id, &jikimi_i18n::Args::new());
        let language = accept_language
            .and_then(first_accepted)
            .and_then(|tag| l10n.chain(&tag).first().copied());
        Self {
            silent,
            message_en: Some(text("en")),
            message_ko: Some(text("ko")),
            message: language.map(text),
            language: language.map(str::to_string),
        }
    }

    /// After an accepted alert.
    pub fn alert_accepted(silent: bool, accept_language: Option<&str>) -> Self {
        Self::say(silent, "device-alert-accepted", accept_language)
    }

    /// After an accepted location update.
    pub fn location_received(silent: bool, accept_language: Option<&str>) -> Self {
        Self::say(silent, "device-location-received", accept_language)
    }

    /// After a cancel, genuine or under duress: the same words either way.
    pub fn cancelled(silent: bool, accept_language: Option<&str>) -> Self {
        Self::say(silent, "device-cancelled", accept_language)
    }
}

/// The request's `Accept-Language` value, if it is text.
pub fn accept_language(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// The most preferred tag of an `Accept-Language` value (`vi-VN,vi;q=0.9,en;q=0.8` gives `vi-VN`); `None` for
/// `*`, an empty value or one longer than a header should be.
pub fn first_accepted(value: &str) -> Option<String> {
    if value.len() > 256 {
        return None;
    }
    let mut best: Option<(f32, &str)> = None;
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or_default().trim();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if tag.is_empty() || tag == "*" || q <= 0.0 {
            continue;
        }
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, tag));
        }
    }
    best.and_then(|(_, tag)| jikimi_i18n::canonical_tag(tag).ok())
}

/// The language the caller reads, as the console shows it: the tag, its name in English and in itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallerLanguageDto {
    /// The subscriber's language, a BCP 47 tag.
    #[schema(example = "vi")]
    pub tag: String,
    /// The service's language it was matched to (one of the fourteen), if any; its console label is
    /// `lang-<supported>`.
    #[schema(example = "vi")]
    pub supported: Option<String>,
    /// Its name in English, if the service speaks it.
    #[schema(example = "Vietnamese")]
    pub english: Option<String>,
    /// Its name in itself, if the service speaks it.
    #[schema(example = "Tiếng Việt")]
    pub native: Option<String>,
}

impl CallerLanguageDto {
    /// From a stored tag.
    pub fn of(tag: &str) -> Self {
        let language = jikimi_i18n::language(tag);
        Self {
            tag: tag.to_string(),
            supported: language.map(|l| l.tag.to_string()),
            english: language.map(|l| l.english.to_string()),
            native: language.map(|l| l.native.to_string()),
        }
    }
}

/// An incident as staff see it (no personal data: the subscriber is an id; reveal is a separate, audited call).
/// Analysts get the analyst view (see `view`): no subscriber or device id, locations generalised.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentDto {
    /// Which view this is: `full` (dispatcher, supervisor, admin) or `analyst`.
    pub view: crate::views::View,
    /// Incident id.
    pub id: Uuid,
    /// The alert that opened it.
    pub alert_id: Uuid,
    /// The device that raised it; null in the analyst view.
    pub device_id: Option<Uuid>,
    /// The registered subscriber, if known; always null in the analyst view.
    pub subscriber_id: Option<Uuid>,
    /// Korean 112 code, 0 most urgent.
    pub priority: u8,
    /// Silent alert.
    pub silent: bool,
    /// received, acknowledged, dispatched, en_route, on_scene or closed.
    #[schema(example = "received")]
    pub status: String,
    /// When the alert was accepted.
    pub opened_at: String,
    /// Last change.
    pub updated_at: String,
    /// Latest location; in the analyst view the centre of its H3 resolution-9 cell, `accuracy_m` at least the
    /// cell's radius.
    pub location: Option<FixDto>,
    /// The civic address of the latest location, from the loaded OpenStreetMap address data; null without data,
    /// without a location, when nothing is near, and always in the analyst view.
    #[serde(default)]
    pub address: Option<crate::geocode::AddressDto>,
    /// Number of location fixes received.
    pub n_fixes: u32,
    /// Number of alerts this incident gathers: 1, plus every report clustered into it during a surge.
    pub report_count: u32,
    /// The latest recommendation, best first (analyst view: distance to 500 m, ETA to 60 s, no snap distance).
    pub recommendations: Vec<RecommendationDto>,
    /// The assigned unit.
    pub assigned_unit: Option<String>,
    /// arrest, rescue, assistance, false_alarm, abuse or cancelled (by the subscriber's PIN) once closed.
    pub outcome: Option<String>,
    /// When closed.
    pub closed_at: Option<String>,
    /// Number of notes.
    pub n_notes: u32,
    /// The subscriber entered their duress PIN: treat as code 0 whatever the device was told.
    pub duress: bool,
    /// Sequence number of the latest event (pass it back as `expected_seq` to detect concurrent changes).
    pub last_seq: u64,
}

fn outcome_str(outcome: respond::Outcome) -> &'static str {
    match outcome {
        respond::Outcome::Arrest => "arrest",
        respond::Outcome::Rescue => "rescue",
        respond::Outcome::Assistance => "assistance",
        respond::Outcome::FalseAlarm => "false_alarm",
        respond::Outcome::Abuse => "abuse",
        respond::Outcome::Cancelled => "cancelled",
    }
}

impl From<&respond::Incident> for IncidentDto {
    fn from(i: &respond::Incident) -> Self {
        Self {
            view: crate::views::View::Full,
            id: i.id.0,
            alert_id: i.alert_id.0,
            device_id: Some(i.device_id.0),
            subscriber_id: i.subscriber_id.map(|s| s.0),
            priority: i.priority.code(),
            silent: i.silent,
            status: i.status.as_str().to_string(),
            opened_at: rfc3339(i.opened_at),
            updated_at: rfc3339(i.updated_at),
            location: i.location.as_ref().map(FixDto::from_domain),
            // Filled by `AppState::incident_dto`, which holds the address index.
            address: None,
            n_fixes: i.n_fixes,
            report_count: i.report_count,
            recommendations: i
                .recommendations
                .iter()
                .map(RecommendationDto::from)
                .collect(),
            assigned_unit: i.assigned_unit.as_ref().map(|u| u.as_str().to_string()),
            outcome: i.outcome.map(|o| outcome_str(o).to_string()),
            closed_at: i.closed_at.map(rfc3339),
            n_notes: i.n_notes,
            duress: i.duress,
            last_seq: i.last_seq,
        }
    }
}

/// One ranked unit with the reason for its rank.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecommendationDto {
    /// Call sign.
    pub unit: String,
    /// Estimated travel time in seconds.
    pub eta_s: f64,
    /// Travel distance in metres.
    pub distance_m: f64,
    /// How the ETA was computed: road, straight_line, or straight_line_incident_off_road.
    pub method: String,
    /// Metres off the road network at both ends (unit and incident), not included in the ETA; null without roads.
    pub snap_m: Option<f64>,
}

impl From<&respond::Recommendation> for RecommendationDto {
    fn from(r: &respond::Recommendation) -> Self {
        Self {
            unit: r.unit.as_str().to_string(),
            eta_s: r.eta_s,
            distance_m: r.distance_m,
            method: r.method.clone(),
            snap_m: r.snap_m,
        }
    }
}

/// One event of an incident's log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventDto {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When.
    pub at: String,
    /// `device:<id>`, `staff:<user>` or `system`; `device` (no id) in the analyst view.
    pub actor: String,
    /// The event's kind and fields, as the domain serialises them (`{"type": "dispatched", "unit": "P-101"}`). In
    /// the analyst view: no `device_id` or `subscriber_id`, no note `text`, fixes generalised as the incident's
    /// location, recommendations rounded. In the full view, a `fix` carries its civic `address` when address
    /// data is loaded.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

impl From<&respond::IncidentEvent> for EventDto {
    fn from(e: &respond::IncidentEvent) -> Self {
        Self {
            seq: e.seq,
            at: rfc3339(e.at),
            actor: e.actor.to_string(),
            event: serde_json::to_value(&e.kind).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// An incident with its full event log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentDetailDto {
    /// Current state.
    pub incident: IncidentDto,
    /// Every event, oldest first.
    pub events: Vec<EventDto>,
    /// Guardian notifications, by event seq (no personal data; guardian ids only for roles that may reveal).
    pub notifications: Vec<crate::notifications::NotificationDto>,
    /// The language the caller (the registered subscriber) reads, so the dispatcher can answer in it or call an
    /// interpreter; null without a subscriber on record, and always in the analyst view.
    #[serde(default)]
    pub caller_language: Option<CallerLanguageDto>,
}

/// A patrol unit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitDto {
    /// Call sign, e.g. P-101.
    pub id: String,
    /// available, dispatched, on_scene or off_duty.
    pub status: String,
    /// Last reported position (analyst view: its H3 resolution-9 cell centre, since a unit on scene stands where
    /// the caller is).
    pub position: Option<PositionDto>,
    /// When the position was reported.
    pub reported_at: Option<String>,
    /// police, fire, rescue or medical (units saved before unit types existed are police).
    pub unit_type: String,
    /// What it can do beyond its type's basics (heavy_rescue, water_rescue, rope_rescue, hazmat, fire_suppression,
    /// medical_advanced, search_dog), in that order.
    pub capabilities: Vec<String>,
}

impl From<&respond::Unit> for UnitDto {
    fn from(u: &respond::Unit) -> Self {
        Self {
            id: u.id.as_str().to_string(),
            status: u.status.as_str().to_string(),
            position: u.position.map(|p| PositionDto {
                lat: p.lat(),
                lon: p.lon(),
            }),
            reported_at: u.reported_at.map(rfc3339),
            unit_type: u.unit_type.as_str().to_string(),
            capabilities: u
                .capabilities
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
        }
    }
}

/// A bare position.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct PositionDto {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

impl PositionDto {
    /// Checked domain coordinates.
    pub fn to_domain(self) -> Result<respond::Coordinates, ApiError> {
        respond::Coordinates::new(self.lat, self.lon)
            .map_err(|e| ApiError::new(ErrorCode::InvalidField, format!("position: {e}")))
    }
}
