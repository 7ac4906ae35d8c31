//! Identify in the server (issue 19, parts 1 and 2): hash banks and their content over HTTP, in the spirit of Meta's
//! Hasher-Matcher-Actioner API. Lookups and reviews are in [`crate::identify_lookup`]; sharing banks with partner
//! agencies in [`crate::identify_share`] (changes of content in an offered bank are issued as signed events here).
//!
//! Analysts and supervisors only: [`Permission::Identify`] looks up, hashes, adds content and reviews;
//! [`Permission::ManageBanks`] (supervisors) creates banks and disables or re-enables content. Uploaded photos are
//! read into memory, hashed there and dropped: never written to disk, never logged, never stored (only the hash
//! is). Every change is audited by the store in its own transaction and reaches the in-memory index from its
//! commit ([`crate::identify_index`]); the handler applies it too before answering, so an added hash is
//! matchable when its answer arrives.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use jikimi_mediahash::vpdq::{VpdqFeature, parse_features};
use jikimi_mediahash::{DecodeError, DecodeLimits, Hash256, Luma};
use jikimi_store::identify::{Bank, Content, LOCAL_ORIGIN, NewBank, NewContent, SignalType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::{ApiError, ErrorCode};
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// The default match distance of a bank (PDQ's usual threshold).
pub const DEFAULT_MATCH_DISTANCE: u32 = 31;
/// Most frames of a vPDQ signal (an hour at one frame a second is 3,600).
pub const MAX_VPDQ_FRAMES: usize = 20_000;
/// Largest label (category, series) in characters.
const MAX_LABEL: usize = 120;

/// Settings of identify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifyConfig {
    /// Largest photo or video upload in bytes (the general body limit does not apply to uploads).
    pub upload_limit_bytes: usize,
    /// When a signal is quarantined for flooding matches.
    pub quarantine: crate::identify_index::QuarantineConfig,
    /// The directory server-side triage may read under ([`crate::identify_triage`]); `None`: not enabled.
    pub evidence_root: Option<std::path::PathBuf>,
}

impl Default for IdentifyConfig {
    fn default() -> Self {
        IdentifyConfig {
            upload_limit_bytes: 32 << 20,
            quarantine: crate::identify_index::QuarantineConfig::default(),
            evidence_root: None,
        }
    }
}

/// Whether a request is a photo or video upload (it gets the upload limit instead of the general one).
pub fn is_upload(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::POST
        && (path == "/api/identify/lookup"
            || path == "/api/identify/hash"
            || (path.starts_with("/api/identify/banks/")
                && (path.ends_with("/content/photo") || path.ends_with("/content/video"))))
}

/// The decode limits of uploads: a photo above 50 megapixels is refused before it is decoded (decompression bombs).
pub fn decode_limits() -> DecodeLimits {
    DecodeLimits {
        max_side_px: 16_384,
        max_pixels: 50_000_000,
        max_alloc_bytes: 256 << 20,
    }
}

/// A bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankView {
    pub id: Uuid,
    pub name: String,
    /// Largest PDQ Hamming distance that matches here.
    pub match_distance: u32,
    /// A negative bank: its matches suppress the matches of `suppresses`.
    pub negative: bool,
    pub suppresses: Vec<Uuid>,
    pub enabled: bool,
    /// `local`, or the exchange feeding this bank (read-only here).
    pub origin: String,
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<Bank> for BankView {
    fn from(b: Bank) -> BankView {
        BankView {
            id: b.id,
            name: b.name,
            match_distance: b.match_distance,
            negative: b.negative,
            suppresses: b.suppresses,
            enabled: b.enabled,
            origin: b.origin,
            created_by: b.created_by,
            created_at: crate::dto::rfc3339(b.created_at),
        }
    }
}

/// A bank to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBank {
    /// 1 to 120 characters, unique.
    pub name: String,
    /// 0 to 256; default 31.
    pub match_distance: Option<u32>,
    /// Default false.
    pub negative: Option<bool>,
    /// For a negative bank: the banks whose matches it suppresses.
    pub suppresses: Option<Vec<Uuid>>,
}

/// A bank's content (the signal itself is not answered: a PDQ hash or frame list stays in the bank).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContentView {
    pub id: Uuid,
    pub bank_id: Uuid,
    /// `pdq` or `vpdq`.
    pub signal_type: String,
    pub category: Option<String>,
    pub series: Option<String>,
    /// The exchange's id of the signal, for content a partner shared.
    pub signal_id: Option<String>,
    pub enabled: bool,
    /// True while quarantined for flooding matches (pending review).
    pub quarantined: bool,
    pub added_by: String,
    /// RFC 3339.
    pub added_at: String,
}

impl From<Content> for ContentView {
    fn from(c: Content) -> ContentView {
        ContentView {
            id: c.id,
            bank_id: c.bank_id,
            signal_type: c.signal_type.as_str().to_string(),
            category: c.category,
            series: c.series,
            signal_id: c.signal_id,
            enabled: c.enabled,
            quarantined: c.quarantined_at.is_some(),
            added_by: c.added_by,
            added_at: crate::dto::rfc3339(c.added_at),
        }
    }
}

/// Content to add by signal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSignal {
    /// `pdq` or `vpdq`.
    pub signal_type: String,
    /// `pdq`: 64 hex digits. `vpdq`: the reference's `frame,quality,hash,timestamp` lines (newline or `;`
    /// separated), as `jikimi pdq hash-video` prints them.
    pub signal: String,
    pub category: Option<String>,
    pub series: Option<String>,
}

/// Labels of an upload.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LabelParams {
    /// A label such as a category code, at most 120 characters.
    pub category: Option<String>,
    /// A series name, at most 120 characters.
    pub series: Option<String>,
}

pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, message)
}

fn label(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) if v.chars().count() > MAX_LABEL || v.chars().any(char::is_control) => {
            Err(invalid(format!(
                "{name}: at most {MAX_LABEL} characters, no control characters"
            )))
        }
        v => Ok(v),
    }
}

/// Parses a signal of the given type; the text is validated and normalised (PDQ hex lower-case, vPDQ lines).
pub(crate) fn parse_signal(
    signal_type: &str,
    signal: &str,
) -> Result<(SignalType, Signal), ApiError> {
    match SignalType::parse(signal_type) {
        Some(SignalType::Pdq) => {
            let hash: Hash256 = signal
                .trim()
                .parse()
                .map_err(|_| invalid("signal: a PDQ hash is 64 hex digits"))?;
            Ok((SignalType::Pdq, Signal::Pdq(hash)))
        }
        Some(SignalType::Vpdq) => {
            let text = signal.replace(';', "\n");
            let frames = parse_features(&text).map_err(|e| invalid(format!("signal: {e}")))?;
            if frames.is_empty() || frames.len() > MAX_VPDQ_FRAMES {
                return Err(invalid(format!(
                    "signal: 1 to {MAX_VPDQ_FRAMES} vPDQ frames"
                )));
            }
            Ok((SignalType::Vpdq, Signal::Vpdq(frames)))
        }
        None => Err(invalid("signal_type: pdq or vpdq")),
    }
}

/// A parsed signal.
#[derive(Debug, Clone)]
pub(crate) enum Signal {
    Pdq(Hash256),
    Vpdq(Vec<VpdqFeature>),
}

impl Signal {
    /// The stored text.
    fn to_text(&self) -> String {
        match self {
            Signal::Pdq(h) => h.to_hex(),
            Signal::Vpdq(frames) => frames
                .iter()
                .map(VpdqFeature::to_line)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Reads the one file field `photo` (or `video`) of a multipart body into memory. Which field it was is answered;
/// anything else is a 400. The bytes stay in memory and are dropped by the caller after hashing.
pub(crate) async fn read_upload(
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(String, axum::body::Bytes), ApiError> {
    let mut multipart = multipart.map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidPayload,
            "expected multipart/form-data with a `photo` or `video` field",
        )
    })?;
    let mut found = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name != "photo" && name != "video" {
            return Err(ApiError::new(
                ErrorCode::InvalidPayload,
                "unexpected multipart field: send one `photo` or `video`",
            ));
        }
        if found.is_some() {
            return Err(ApiError::new(
                ErrorCode::InvalidPayload,
                "send one file: one `photo` or one `video` field",
            ));
        }
        let bytes = field.bytes().await.map_err(multipart_error)?;
        found = Some((name, bytes));
    }
    found.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidPayload,
            "no `photo` or `video` field in the upload",
        )
    })
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the upload is larger than the limit",
        )
    } else {
        ApiError::new(ErrorCode::InvalidPayload, "malformed multipart body")
    }
}

/// Hashes a photo in memory (on a blocking thread): its PDQ hash and quality.
pub(crate) async fn hash_photo(bytes: axum::body::Bytes) -> Result<(Hash256, u32), ApiError> {
    let hashed = tokio::task::spawn_blocking(move || {
        jikimi_mediahash::hash_encoded(&bytes, decode_limits(), Luma::Pdqhash, false)
    })
    .await
    .map_err(ApiError::internal)?;
    match hashed {
        Ok(h) => Ok((h.pdq.hash, h.pdq.quality)),
        Err(DecodeError::TooLarge { .. } | DecodeError::Limit(_)) => Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the image is larger than the decode limits (50 megapixels)",
        )),
        // The decoder's detail may quote the file's bytes: it is not echoed.
        Err(_) => Err(ApiError::new(
            ErrorCode::InvalidPayload,
            "not a decodable image (JPEG, PNG, WebP, GIF, BMP or TIFF)",
        )),
    }
}

/// The answer to a video upload in this build.
pub(crate) fn video_not_enabled() -> ApiError {
    ApiError::new(
        ErrorCode::NotEnabled,
        "this server does not hash video uploads: add or look up a video by its vPDQ signal \
         (`jikimi pdq hash-video FILE --json`, then signal_type=vpdq)",
    )
}

/// Create a hash bank (supervisors; audited). A negative bank names the banks whose matches it suppresses.
#[utoipa::path(post, path = "/api/identify/banks", tag = "identify", security(("bearer" = [])),
    request_body = CreateBank,
    responses((status = 201, body = BankView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "conflict: the name is taken"),
        (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_bank(
    State(state): State<AppState>,
    staff: Staff,
    Json(body): Json<CreateBank>,
) -> Result<(StatusCode, Json<BankView>), ApiError> {
    staff.require(Permission::ManageBanks)?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_LABEL || name.chars().any(char::is_control) {
        return Err(invalid("name: 1 to 120 characters, no control characters"));
    }
    let match_distance = body.match_distance.unwrap_or(DEFAULT_MATCH_DISTANCE);
    if match_distance > 256 {
        return Err(invalid("match_distance: 0 to 256"));
    }
    let suppresses = body.suppresses.unwrap_or_default();
    if suppresses.len() > 100 {
        return Err(invalid("suppresses: at most 100 banks"));
    }
    let bank = NewBank {
        id: Uuid::now_v7(),
        name,
        match_distance,
        negative: body.negative.unwrap_or(false),
        suppresses,
        origin: LOCAL_ORIGIN.into(),
    };
    let stored = state
        .store
        .create_bank(&bank, &staff.change(&state, "hash bank created"))
        .await?;
    state
        .identify
        .refresh_bank(state.store.as_ref(), stored.id)
        .await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// Every hash bank (analysts, supervisors).
#[utoipa::path(get, path = "/api/identify/banks", tag = "identify", security(("bearer" = [])),
    responses((status = 200, body = Vec<BankView>), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_banks(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<BankView>>, ApiError> {
    staff.require(Permission::Identify)?;
    let banks = state.store.list_banks().await?;
    Ok(Json(banks.into_iter().map(BankView::from).collect()))
}

async fn add(
    state: &AppState,
    staff: &Staff,
    bank_id: Uuid,
    signal: Signal,
    signal_type: SignalType,
    category: Option<String>,
    series: Option<String>,
) -> Result<(StatusCode, Json<ContentView>), ApiError> {
    let content = NewContent {
        id: Uuid::now_v7(),
        bank_id,
        signal_type,
        signal: signal.to_text(),
        category: label("category", category)?,
        series: label("series", series)?,
        signal_id: None,
    };
    let stored = state
        .store
        .add_content(
            &content,
            &staff.change(state, "content added to a hash bank"),
        )
        .await?;
    state
        .identify
        .refresh_content(state.store.as_ref(), stored.id)
        .await?;
    crate::identify_share::published(state, &stored, "added").await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// Add content to a bank by signal: a PDQ hash or a vPDQ frame list, with labels (analysts, supervisors;
/// audited, never the signal). Matchable when this answers.
#[utoipa::path(post, path = "/api/identify/banks/{id}/content", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the bank")), request_body = AddSignal,
    responses((status = 201, body = ContentView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: a bad signal or label, or a partner's read-only bank")))]
pub async fn add_signal(
    State(state): State<AppState>,
    staff: Staff,
    Path(bank_id): Path<Uuid>,
    Json(body): Json<AddSignal>,
) -> Result<(StatusCode, Json<ContentView>), ApiError> {
    staff.require(Permission::Identify)?;
    let (signal_type, signal) = parse_signal(&body.signal_type, &body.signal)?;
    add(
        &state,
        &staff,
        bank_id,
        signal,
        signal_type,
        body.category,
        body.series,
    )
    .await
}

/// Add a photo to a bank: multipart `photo=`, hashed in memory (PDQ) and dropped; only the hash is kept
/// (analysts, supervisors; audited).
#[utoipa::path(post, path = "/api/identify/banks/{id}/content/photo", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the bank"), LabelParams),
    request_body(content = String, content_type = "multipart/form-data", description = "one `photo` file field"),
    responses((status = 201, body = ContentView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large: the upload or the decoded image is too large"),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn add_photo(
    State(state): State<AppState>,
    staff: Staff,
    Path(bank_id): Path<Uuid>,
    Query(labels): Query<LabelParams>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<ContentView>), ApiError> {
    staff.require(Permission::Identify)?;
    state.store.get_bank(bank_id).await?;
    let (field, bytes) = read_upload(multipart).await?;
    if field != "photo" {
        return Err(ApiError::new(
            ErrorCode::InvalidPayload,
            "send the image as the `photo` field",
        ));
    }
    let (hash, _quality) = hash_photo(bytes).await?;
    add(
        &state,
        &staff,
        bank_id,
        Signal::Pdq(hash),
        SignalType::Pdq,
        labels.category,
        labels.series,
    )
    .await
}

/// Add a video to a bank: multipart `video=`, hashed in memory (vPDQ, one frame a second, as
/// `jikimi pdq hash-video`) and dropped; only the frame hashes are kept (analysts, supervisors; audited). A server
/// built without the `video` feature answers `not_enabled` (404): add the video's vPDQ frame list by signal.
#[utoipa::path(post, path = "/api/identify/banks/{id}/content/video", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the bank"), LabelParams),
    request_body(content = String, content_type = "multipart/form-data", description = "one `video` file field"),
    responses((status = 201, body = ContentView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "bank_not_found; not_enabled: this server does not hash videos"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large: the upload or its frames are too large"),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn add_video(
    State(state): State<AppState>,
    staff: Staff,
    Path(bank_id): Path<Uuid>,
    Query(labels): Query<LabelParams>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<ContentView>), ApiError> {
    staff.require(Permission::Identify)?;
    state.store.get_bank(bank_id).await?;
    // The cheap checks first, in every build.
    let (category, series) = (
        label("category", labels.category)?,
        label("series", labels.series)?,
    );
    if !crate::identify_video::ENABLED {
        return Err(video_not_enabled());
    }
    let (field, bytes) = read_upload(multipart).await?;
    if field != "video" {
        return Err(ApiError::new(
            ErrorCode::InvalidPayload,
            "send the video as the `video` field",
        ));
    }
    let frames = crate::identify_video::hash_video(bytes).await?;
    add(
        &state,
        &staff,
        bank_id,
        Signal::Vpdq(frames),
        SignalType::Vpdq,
        category,
        series,
    )
    .await
}

/// Disable a content (supervisors; audited): kept, no longer matched.
#[utoipa::path(post, path = "/api/identify/content/{id}/disable", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the content")),
    responses((status = 200, body = ContentView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<ContentView>, ApiError> {
    set_enabled(state, staff, id, false).await
}

/// Re-enable a disabled content (supervisors; audited).
#[utoipa::path(post, path = "/api/identify/content/{id}/enable", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the content")),
    responses((status = 200, body = ContentView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn enable(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<ContentView>, ApiError> {
    set_enabled(state, staff, id, true).await
}

async fn set_enabled(
    state: AppState,
    staff: Staff,
    id: Uuid,
    enabled: bool,
) -> Result<Json<ContentView>, ApiError> {
    staff.require(Permission::ManageBanks)?;
    let reason = if enabled {
        "bank content enabled"
    } else {
        "bank content disabled"
    };
    let content = state
        .store
        .set_content_enabled(id, enabled, &staff.change(&state, reason))
        .await?;
    state
        .identify
        .refresh_content(state.store.as_ref(), id)
        .await?;
    let change = if enabled { "enabled" } else { "disabled" };
    crate::identify_share::published(&state, &content, change).await?;
    Ok(Json(content.into()))
}
