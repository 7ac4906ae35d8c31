//! Subscriber endpoints: register (with devices and guardians), look up by phone, reveal decrypted details
//! (audited with a reason), export everything (subject access), erase.
//!
//! Personal fields are sealed here, before the store sees them, with the record id and field name bound as AAD;
//! lookups go through keyed blind indexes. Nothing personal is logged: handlers log ids only.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use jikimi_audit::NewAuditEntry;
use jikimi_privacy::{Sealed, normalise_phone};
use jikimi_respond::{DeviceId, IncidentId, IncidentStatus, SubscriberId};
use jikimi_store::{DeviceRecord, GuardianId, GuardianRecord, SubscriberRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::dto::{IncidentDto, rfc3339};
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::{Permission, Role};
use crate::signing::parse_public_key;
use crate::state::AppState;

/// The personal fields of a subscriber, in the order they are shown.
pub const SUBSCRIBER_FIELDS: [&str; 5] = ["name", "phone", "birth_date", "address", "notes"];

/// A device to enrol with a subscriber.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// The device's id (for terminals with a factory id); generated when absent. An id that exists already,
    /// revoked or not, is refused `conflict`: a device is never re-bound to a new key or brought back.
    pub id: Option<Uuid>,
    /// Ed25519 public key: 64 hex characters or base64 of 32 bytes.
    pub public_key: String,
    /// app, u-relief, aml, ... (default app).
    pub kind: Option<String>,
}

/// A contact channel of a guardian.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// sms, email or webhook.
    pub kind: String,
    /// Phone number, address or URL.
    pub address: String,
}

/// A guardian (parent, carer) to notify.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGuardian {
    /// Name.
    pub name: String,
    /// Relation to the subscriber (mother, carer, ...).
    pub relation: Option<String>,
    /// How to reach them.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Language of their notifications, a BCP 47 tag (`ko`, `en`, `vi`, `zh-Hans`, ...); when absent, the
    /// subscriber's language. Kept as given (canonical form); a language the service lacks reads English.
    pub language: Option<String>,
}

impl std::fmt::Debug for NewGuardian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewGuardian(<personal data>)")
    }
}

/// `POST /api/subscribers` body. Every field but the devices is personal and is stored sealed.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriber {
    /// Full name.
    pub name: String,
    /// Phone number (Korean national or E.164).
    pub phone: String,
    /// Date of birth, YYYY-MM-DD.
    pub birth_date: Option<String>,
    /// Home address.
    pub address: Option<String>,
    /// Medical or vulnerability notes for responders.
    pub notes: Option<String>,
    /// Devices that may raise alerts for this subscriber.
    #[serde(default)]
    pub devices: Vec<NewDevice>,
    /// Guardians to notify.
    #[serde(default)]
    pub guardians: Vec<NewGuardian>,
    /// PIN that cancels an alert from the app, 4 to 8 digits (stored as an argon2id hash).
    pub pin: Option<String>,
    /// Duress PIN, 4 to 8 digits, different from `pin`: answered like a cancel, escalates instead.
    pub duress_pin: Option<String>,
    /// The language the subscriber reads, a BCP 47 tag (`vi`, `zh-Hans`, `fil`, ...; default `ko`). Chooses the
    /// language of welfare checks and of guardians' notifications (unless a guardian has their own), and is shown
    /// to dispatchers with their incidents. Any well-formed tag is kept; the service speaks fourteen languages and
    /// reads English, then Korean, for the rest.
    #[schema(example = "vi")]
    pub language: Option<String>,
    /// Registered home position: a disaster's welfare check asks the subscriber when it lies in the area and no
    /// recent fix says otherwise. Sealed.
    pub home: Option<HomeDto>,
    /// Vulnerability flags (child, elderly, disability, medical): a disaster's triage rescues the more vulnerable
    /// first. Sealed.
    #[schema(value_type = Option<Object>)]
    pub vulnerability: Option<jikimi_respond::disaster::Vulnerability>,
}

/// A registered home position.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HomeDto {
    /// Latitude, WGS 84.
    pub lat: f64,
    /// Longitude, WGS 84.
    pub lon: f64,
}

impl std::fmt::Debug for NewSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSubscriber")
            .field("n_devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

/// The ids a registration created.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// The subscriber.
    pub id: Uuid,
    /// Their devices, in the order given.
    pub device_ids: Vec<Uuid>,
    /// Their guardians, in the order given.
    pub guardian_ids: Vec<Uuid>,
}

fn seal(state: &AppState, record: &str, field: &str, value: &str) -> Result<Sealed, ApiError> {
    state
        .keyring
        .seal_str(record, field, value)
        .map_err(ApiError::internal)
}

fn open(state: &AppState, record: &str, field: &str, sealed: &Sealed) -> Result<String, ApiError> {
    state
        .keyring
        .open_str(record, field, sealed)
        .map_err(ApiError::internal)
}

/// Checks a BCP 47 language tag and returns its canonical form.
fn language_tag(field: &'static str, tag: &str) -> Result<String, ApiError> {
    jikimi_i18n::canonical_tag(tag).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidField,
            format!("{field}: a BCP 47 language tag such as ko, en, vi or zh-Hans"),
        )
    })
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("{field}: at most {max} characters"),
        ));
    }
    Ok(())
}

/// Register a subscriber with devices and guardians (supervisor, admin).
#[utoipa::path(post, path = "/api/subscribers", tag = "subscribers", security(("bearer" = [])), request_body = NewSubscriber,
    responses((status = 201, body = Registered), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "conflict: a given device id exists already (revoked or not)"),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    staff: Staff,
    Json(req): Json<NewSubscriber>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    staff.require(Permission::ManageSubscribers)?;
    if req.name.trim().is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidField, "name: required"));
    }
    check_len("name", &req.name, 200)?;
    check_len("address", req.address.as_deref().unwrap_or_default(), 500)?;
    check_len("notes", req.notes.as_deref().unwrap_or_default(), 4_000)?;
    let phone = normalise_phone(&req.phone)
        .map_err(|_| ApiError::new(ErrorCode::InvalidField, "phone: not a phone number"))?;
    if let Some(birth) = &req.birth_date {
        chrono::NaiveDate::parse_from_str(birth, "%Y-%m-%d")
            .map_err(|_| ApiError::new(ErrorCode::InvalidField, "birth_date: YYYY-MM-DD"))?;
    }
    let language = match &req.language {
        Some(tag) => language_tag("language", tag)?,
        None => jikimi_i18n::DEFAULT_LANGUAGE.to_string(),
    };
    let mut guardian_languages = Vec::with_capacity(req.guardians.len());
    for guardian in &req.guardians {
        guardian_languages.push(
            guardian
                .language
                .as_deref()
                .map(|tag| language_tag("guardians.language", tag))
                .transpose()?,
        );
    }
    let pins = crate::app::hash_pins(req.pin.as_deref(), req.duress_pin.as_deref()).await?;
    // A caller-chosen device id must be new: checked before anything is written, so a refused registration
    // leaves nothing behind (the store's insert refuses it again if a concurrent request wins the race).
    let mut chosen = std::collections::BTreeSet::new();
    for id in req.devices.iter().filter_map(|d| d.id) {
        let exists = match state.store.get_device(DeviceId(id)).await {
            Ok(_) => true,
            Err(err) if err.is_not_found() => false,
            Err(err) => return Err(err.into()),
        };
        if exists || !chosen.insert(id) {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("device {id} exists already; a device id is never reused"),
            ));
        }
    }
    let mut keys = Vec::new();
    for device in &req.devices {
        let key = parse_public_key(&device.public_key).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidField,
                "devices.public_key: not an Ed25519 public key",
            )
        })?;
        keys.push(key);
    }

    let id = SubscriberId(Uuid::now_v7());
    let record_id = format!("subscriber/{}", id.0);
    let now = state.now();
    let mut fields = BTreeMap::new();
    fields.insert(
        "name".to_string(),
        seal(&state, &record_id, "name", req.name.trim())?,
    );
    fields.insert(
        "phone".to_string(),
        seal(&state, &record_id, "phone", &phone)?,
    );
    for (field, value) in [
        ("birth_date", &req.birth_date),
        ("address", &req.address),
        ("notes", &req.notes),
    ] {
        if let Some(value) = value {
            fields.insert(field.to_string(), seal(&state, &record_id, field, value)?);
        }
    }
    if let Some(home) = req.home {
        jikimi_respond::Coordinates::new(home.lat, home.lon)
            .map_err(|e| ApiError::new(ErrorCode::InvalidField, format!("home: {e}")))?;
        let json = serde_json::to_string(&home).map_err(ApiError::internal)?;
        let field = jikimi_store::disaster::HOME_FIELD;
        fields.insert(field.to_string(), seal(&state, &record_id, field, &json)?);
    }
    if let Some(flags) = req.vulnerability {
        let json = serde_json::to_string(&flags).map_err(ApiError::internal)?;
        let field = jikimi_store::disaster::VULNERABILITY_FIELD;
        fields.insert(field.to_string(), seal(&state, &record_id, field, &json)?);
    }
    // The same derivation as the re-index job's, so the two cannot drift.
    let indexes = crate::reindex::subscriber_indexes(&state.blind, &phone, &req.name);
    let record = SubscriberRecord {
        id,
        fields,
        indexes,
        language,
        created_at: now,
        updated_at: now,
    };
    let change = staff.change(&state, "register subscriber");
    state.store.put_subscriber(&record, &change).await?;

    if let Some(pins) = &pins {
        state.store.set_pins(id, pins, &change).await?;
    }
    let mut device_ids = Vec::new();
    for (device, key) in req.devices.iter().zip(keys) {
        let device_id = DeviceId(device.id.unwrap_or_else(Uuid::now_v7));
        let record = DeviceRecord {
            id: device_id,
            subscriber_id: Some(id),
            public_key: key.to_bytes().to_vec(),
            kind: device.kind.clone().unwrap_or_else(|| "app".into()),
            enrolled_at: now,
            revoked_at: None,
        };
        state.store.put_device(&record, &change).await?;
        state.devices.forget(&device_id);
        state.devices.mark_known([device_id]);
        device_ids.push(device_id.0);
    }
    let mut guardian_ids = Vec::new();
    for (guardian, language) in req.guardians.iter().zip(&guardian_languages) {
        let gid = GuardianId(Uuid::now_v7());
        let grecord = format!("guardian/{}", gid.0);
        let mut gfields = BTreeMap::new();
        gfields.insert(
            "name".to_string(),
            seal(&state, &grecord, "name", &guardian.name)?,
        );
        if let Some(relation) = &guardian.relation {
            gfields.insert(
                "relation".to_string(),
                seal(&state, &grecord, "relation", relation)?,
            );
        }
        if let Some(language) = language {
            gfields.insert(
                "language".to_string(),
                seal(&state, &grecord, "language", language)?,
            );
        }
        let channels = serde_json::to_string(&guardian.channels).map_err(ApiError::internal)?;
        gfields.insert(
            "channels".to_string(),
            seal(&state, &grecord, "channels", &channels)?,
        );
        let record = GuardianRecord {
            id: gid,
            subscriber_id: id,
            fields: gfields,
            created_at: now,
        };
        state.store.put_guardian(&record, &change).await?;
        guardian_ids.push(gid.0);
    }
    tracing::info!(subscriber_id = %id.0, n_devices = device_ids.len(), n_guardians = guardian_ids.len(), "subscriber registered");
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            id: id.0,
            device_ids,
            guardian_ids,
        }),
    ))
}

/// `POST /api/subscribers/search` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Phone number to look up (through the blind index; never stored or logged in clear).
    pub phone: String,
    /// Why you look.
    pub reason: String,
    /// The open incident you are handling: only its subscriber can be found. Required unless `override`.
    pub incident_id: Option<Uuid>,
    /// Supervisors only: search without an incident (a reason of at least 15 characters; audited
    /// `subscriber.search_override`).
    #[serde(default, rename = "override")]
    pub supervisor_override: bool,
}

/// Subscriber ids found.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResult {
    /// Matching subscribers (with an incident: at most its subscriber).
    pub ids: Vec<Uuid>,
}

/// The shortest reason a supervisor's override takes: a sentence, not a token.
pub const OVERRIDE_REASON_MIN: usize = 15;

/// On what grounds personal data is looked up.
enum Grounds {
    /// An open incident; its subscriber (if any).
    Incident {
        id: Uuid,
        subscriber: Option<SubscriberId>,
    },
    /// A supervisor's audited override, perhaps naming an incident.
    Override { incident_id: Option<Uuid> },
}

impl Grounds {
    fn incident_id(&self) -> Option<Uuid> {
        match self {
            Grounds::Incident { id, .. } => Some(*id),
            Grounds::Override { incident_id } => *incident_id,
        }
    }
}

/// Checks the grounds for a reveal or a search: an open incident, or a supervisor's override with a real reason.
async fn grounds(
    state: &AppState,
    staff: &Staff,
    incident_id: Option<Uuid>,
    supervisor_override: bool,
    reason: &str,
) -> Result<Grounds, ApiError> {
    if supervisor_override {
        if staff.role != Role::Supervisor {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only a supervisor may look up personal data without an open incident",
            ));
        }
        if reason.trim().chars().count() < OVERRIDE_REASON_MIN {
            return Err(ApiError::new(
                ErrorCode::ReasonRequired,
                format!(
                    "an override needs a reason of at least {OVERRIDE_REASON_MIN} characters; it goes to the audit log"
                ),
            ));
        }
        return Ok(Grounds::Override { incident_id });
    }
    let id = incident_id.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidField,
            "incident_id: required (the open incident you are handling)",
        )
    })?;
    let incident = state.store.get_incident(IncidentId(id)).await?;
    if incident.status == IncidentStatus::Closed {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this incident is closed: personal data is shown for open incidents only",
        ));
    }
    Ok(Grounds::Incident {
        id,
        subscriber: incident.subscriber_id,
    })
}

/// Find subscribers by phone number (blind index; audited): only the subscriber of the given open incident, unless
/// a supervisor overrides.
#[utoipa::path(post, path = "/api/subscribers/search", tag = "subscribers", security(("bearer" = [])), request_body = SearchRequest,
    responses((status = 200, body = SearchResult),
        (status = 400, body = crate::error::ErrorBody, description = "reason_required (an override needs 15 characters)"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role, closed incident, or an override by anyone but a supervisor"),
        (status = 404, body = crate::error::ErrorBody, description = "incident_not_found"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: phone, or incident_id missing")))]
pub async fn search(
    State(state): State<AppState>,
    staff: Staff,
    Json(req): Json<SearchRequest>,
) -> Result<Json<SearchResult>, ApiError> {
    staff.require(Permission::RevealPersonalData)?;
    require_reason(&req.reason)?;
    let phone = normalise_phone(&req.phone)
        .map_err(|_| ApiError::new(ErrorCode::InvalidField, "phone: not a phone number"))?;
    let checked = grounds(
        &state,
        &staff,
        req.incident_id,
        req.supervisor_override,
        &req.reason,
    )
    .await;
    let grounds = audit_refusal(
        &state,
        &staff,
        "search",
        "subscriber/*",
        req.incident_id,
        checked,
    )
    .await?;
    let mut ids = state
        .store
        .find_subscribers("phone", &state.blind.digest("phone", &phone))
        .await?;
    let action = match &grounds {
        Grounds::Incident { subscriber, .. } => {
            // A phone search confirms who the incident's subscriber is; it never finds anyone else.
            ids.retain(|id| Some(*id) == *subscriber);
            "subscriber.searched"
        }
        Grounds::Override { .. } => "subscriber.search_override",
    };
    let entry = NewAuditEntry::new(
        state.now().as_unix_ms(),
        staff.actor().to_string(),
        action,
        "subscriber/*",
        req.reason.trim(),
    )
    .with_detail(&serde_json::json!({
        "by": "phone",
        "n_found": ids.len(),
        "incident_id": grounds.incident_id(),
    }));
    state.store.append_audit(vec![entry]).await?;
    Ok(Json(SearchResult {
        ids: ids.into_iter().map(|i| i.0).collect(),
    }))
}

/// Audits a lookup refused for want of grounds (`subscriber.lookup_refused`: who, which lookup, the incident named,
/// the error code; never the phone number), so attempts to read records without an incident are visible.
async fn audit_refusal(
    state: &AppState,
    staff: &Staff,
    lookup: &str,
    subject: &str,
    incident_id: Option<Uuid>,
    checked: Result<Grounds, ApiError>,
) -> Result<Grounds, ApiError> {
    let Err(err) = &checked else {
        return checked;
    };
    if matches!(err.code, ErrorCode::Unavailable | ErrorCode::Internal) {
        return checked;
    }
    let entry = NewAuditEntry::new(
        state.now().as_unix_ms(),
        staff.actor().to_string(),
        "subscriber.lookup_refused",
        subject,
        err.code.as_str(),
    )
    .with_detail(&serde_json::json!({"lookup": lookup, "incident_id": incident_id}));
    state.store.append_audit(vec![entry]).await?;
    checked
}

fn require_reason(reason: &str) -> Result<(), ApiError> {
    if reason.trim().len() < 3 {
        return Err(ApiError::new(
            ErrorCode::ReasonRequired,
            "say why (at least 3 characters); it goes to the audit log",
        ));
    }
    Ok(())
}

/// `POST /api/subscribers/{id}/reveal` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// Why (recorded in the audit log), e.g. "calling the subscriber back".
    pub reason: String,
    /// The open incident this subscriber raised, which you are handling. Required unless `override`.
    pub incident_id: Option<Uuid>,
    /// Supervisors only: reveal without an open incident of this subscriber (a reason of at least 15 characters;
    /// audited `subscriber.reveal_override`).
    #[serde(default, rename = "override")]
    pub supervisor_override: bool,
}

/// A body that only carries a reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why (recorded in the audit log), e.g. "incident 0193... open, calling the subscriber".
    pub reason: String,
}

/// A guardian, decrypted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GuardianDetails {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Relation.
    pub relation: Option<String>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// Language of their notifications (`ko` when not set).
    pub language: Option<String>,
}

/// A device, as stored (no personal data).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceDetails {
    /// Id.
    pub id: Uuid,
    /// Kind.
    pub kind: String,
    /// Public key, hex.
    pub public_key: String,
    /// When enrolled.
    pub enrolled_at: String,
    /// When revoked.
    pub revoked_at: Option<String>,
}

/// A subscriber, decrypted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriberDetails {
    /// Id.
    pub id: Uuid,
    /// Personal fields by name (name, phone, birth_date, address, notes).
    pub fields: BTreeMap<String, String>,
    /// The language they read, a BCP 47 tag.
    pub language: String,
    /// Guardians.
    pub guardians: Vec<GuardianDetails>,
    /// Devices.
    pub devices: Vec<DeviceDetails>,
    /// When registered.
    pub created_at: String,
}

fn decrypt_subscriber(
    state: &AppState,
    record: &SubscriberRecord,
) -> Result<BTreeMap<String, String>, ApiError> {
    let record_id = format!("subscriber/{}", record.id.0);
    let mut out = BTreeMap::new();
    for (field, sealed) in &record.fields {
        out.insert(field.clone(), open(state, &record_id, field, sealed)?);
    }
    Ok(out)
}

fn decrypt_guardian(
    state: &AppState,
    record: &GuardianRecord,
) -> Result<GuardianDetails, ApiError> {
    let record_id = format!("guardian/{}", record.id.0);
    let get = |field: &str| {
        record
            .fields
            .get(field)
            .map(|s| open(state, &record_id, field, s))
            .transpose()
    };
    let channels = match get("channels")? {
        Some(text) => serde_json::from_str(&text).map_err(ApiError::internal)?,
        None => Vec::new(),
    };
    Ok(GuardianDetails {
        id: record.id.0,
        name: get("name")?.unwrap_or_default(),
        relation: get("relation")?,
        channels,
        language: get("language")?,
    })
}

fn device_details(d: &DeviceRecord) -> DeviceDetails {
    DeviceDetails {
        id: d.id.0,
        kind: d.kind.clone(),
        public_key: hex::encode(&d.public_key),
        enrolled_at: rfc3339(d.enrolled_at),
        revoked_at: d.revoked_at.map(rfc3339),
    }
}

/// Decrypt a subscriber's details for an open incident they raised (dispatcher, supervisor), or by a supervisor's
/// override; audited with the reason (`subscriber.revealed` or `subscriber.reveal_override`).
#[utoipa::path(post, path = "/api/subscribers/{id}/reveal", tag = "subscribers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "subscriber id")), request_body = RevealRequest,
    responses((status = 200, body = SubscriberDetails),
        (status = 400, body = crate::error::ErrorBody, description = "reason_required (an override needs 15 characters)"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role, closed incident, another subscriber's incident, or an override by anyone but a supervisor"),
        (status = 404, body = crate::error::ErrorBody, description = "subscriber_not_found, incident_not_found"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: incident_id missing")))]
pub async fn reveal(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<RevealRequest>,
) -> Result<Json<SubscriberDetails>, ApiError> {
    staff.require(Permission::RevealPersonalData)?;
    require_reason(&req.reason)?;
    let sid = SubscriberId(id);
    let checked = grounds(
        &state,
        &staff,
        req.incident_id,
        req.supervisor_override,
        &req.reason,
    )
    .await
    .and_then(|grounds| match &grounds {
        Grounds::Incident { subscriber, .. } if *subscriber != Some(sid) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "this incident was not raised by this subscriber",
        )),
        _ => Ok(grounds),
    });
    let subject = format!("subscriber/{id}");
    let grounds =
        audit_refusal(&state, &staff, "reveal", &subject, req.incident_id, checked).await?;
    let action = match &grounds {
        Grounds::Incident { .. } => "subscriber.revealed",
        Grounds::Override { .. } => "subscriber.reveal_override",
    };
    let record = state.store.get_subscriber(sid).await?;
    let guardians = state.store.list_guardians(sid).await?;
    let devices = state.store.list_devices(sid).await?;
    // Audit before decrypting: if the audit entry cannot be written, nothing is revealed.
    let entry = NewAuditEntry::new(
        state.now().as_unix_ms(),
        staff.actor().to_string(),
        action,
        format!("subscriber/{id}"),
        req.reason.trim(),
    )
    .with_detail(&serde_json::json!({
        "fields": record.fields.keys().collect::<Vec<_>>(),
        "n_guardians": guardians.len(),
        "incident_id": grounds.incident_id(),
    }));
    state.store.append_audit(vec![entry]).await?;
    Ok(Json(SubscriberDetails {
        id,
        fields: decrypt_subscriber(&state, &record)?,
        language: record.language.clone(),
        guardians: guardians
            .iter()
            .map(|g| decrypt_guardian(&state, g))
            .collect::<Result<_, _>>()?,
        devices: devices.iter().map(device_details).collect(),
        created_at: rfc3339(record.created_at),
    }))
}

/// Everything held about a subscriber, decrypted (subject-access request).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriberExportDto {
    /// The subscriber.
    pub subscriber: SubscriberDetails,
    /// Incidents they raised.
    pub incidents: Vec<IncidentDto>,
}

/// Export everything about a subscriber (supervisor, admin); audited by the store.
#[utoipa::path(post, path = "/api/subscribers/{id}/export", tag = "subscribers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "subscriber id")), request_body = ReasonRequest,
    responses((status = 200, body = SubscriberExportDto), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<ReasonRequest>,
) -> Result<Json<SubscriberExportDto>, ApiError> {
    staff.require(Permission::ManageSubscribers)?;
    require_reason(&req.reason)?;
    let export = state
        .store
        .export_subscriber(SubscriberId(id), &staff.change(&state, req.reason.trim()))
        .await?;
    Ok(Json(SubscriberExportDto {
        subscriber: SubscriberDetails {
            id,
            fields: decrypt_subscriber(&state, &export.subscriber)?,
            language: export.subscriber.language.clone(),
            guardians: export
                .guardians
                .iter()
                .map(|g| decrypt_guardian(&state, g))
                .collect::<Result<_, _>>()?,
            devices: export.devices.iter().map(device_details).collect(),
            created_at: rfc3339(export.subscriber.created_at),
        },
        incidents: export.incidents.iter().map(IncidentDto::from).collect(),
    }))
}

/// `PUT /api/subscribers/{id}/language` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageRequest {
    /// The language the subscriber reads, a BCP 47 tag.
    #[schema(example = "vi")]
    pub language: String,
    /// Why (recorded in the audit log), e.g. "the subscriber asked at the community centre".
    pub reason: String,
}

/// A subscriber's language as set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LanguageSet {
    /// The subscriber.
    pub id: Uuid,
    /// Their language, canonical BCP 47.
    pub language: String,
    /// How the console names it.
    pub caller_language: crate::dto::CallerLanguageDto,
}

/// Change a subscriber's language (supervisor, admin); audited `subscriber.language_set` with the reason.
#[utoipa::path(put, path = "/api/subscribers/{id}/language", tag = "subscribers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "subscriber id")), request_body = LanguageRequest,
    responses((status = 200, body = LanguageSet),
        (status = 400, body = crate::error::ErrorBody, description = "reason_required, invalid_payload"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: role"),
        (status = 404, body = crate::error::ErrorBody, description = "subscriber_not_found"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: not a BCP 47 language tag")))]
pub async fn set_language(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<LanguageRequest>,
) -> Result<Json<LanguageSet>, ApiError> {
    staff.require(Permission::ManageSubscribers)?;
    require_reason(&req.reason)?;
    let language = language_tag("language", &req.language)?;
    state
        .store
        .set_subscriber_language(
            SubscriberId(id),
            &language,
            &staff.change(&state, req.reason.trim()),
        )
        .await?;
    tracing::info!(subscriber_id = %id, "subscriber language set");
    Ok(Json(LanguageSet {
        id,
        caller_language: crate::dto::CallerLanguageDto::of(&language),
        language,
    }))
}

/// What an erasure removed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErasureDto {
    /// Guardians deleted.
    pub n_guardians: u64,
    /// Devices revoked and unlinked.
    pub n_devices: u64,
    /// Incidents kept (they hold no personal field).
    pub n_incidents_kept: u64,
}

/// Erase a subscriber: personal fields, indexes and guardians deleted, devices revoked (supervisor, admin).
#[utoipa::path(post, path = "/api/subscribers/{id}/erase", tag = "subscribers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "subscriber id")), request_body = ReasonRequest,
    responses((status = 200, body = ErasureDto), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn erase(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<ReasonRequest>,
) -> Result<Json<ErasureDto>, ApiError> {
    staff.require(Permission::ManageSubscribers)?;
    require_reason(&req.reason)?;
    let sid = SubscriberId(id);
    let devices = state.store.list_devices(sid).await?;
    let report = state
        .store
        .erase_subscriber(sid, &staff.change(&state, req.reason.trim()))
        .await?;
    for device in devices {
        state.devices.forget(&device.id);
        state.devices.unmark_known(&device.id);
    }
    Ok(Json(ErasureDto {
        n_guardians: report.n_guardians,
        n_devices: report.n_devices,
        n_incidents_kept: report.n_incidents_kept,
    }))
}
