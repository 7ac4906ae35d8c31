//! Identify lookups and reviews (issue 19, part 2): a signal or an uploaded photo against every enabled bank,
//! answered per bank with content ids and distances; negative banks suppress the matches of the banks they name;
//! a signal that floods matches is quarantined locally pending review; analysts review each match.
//!
//! Every lookup is audited (`identify.lookup`: who, which banks were searched, which content ids matched or were
//! withheld, never the query or an image) with its matches stored for review, in one transaction before the
//! answer leaves. If the audit cannot be written, nothing is answered.

use axum::extract::{Multipart, Path, Query, State};
use jikimi_mediahash::Hash256;
use jikimi_mediahash::banks::{BankMatch, Lookup};
use jikimi_mediahash::vpdq::VpdqFeature;
use jikimi_respond::Actor;
use jikimi_store::Change;
use jikimi_store::identify::{LookupRecord, NewMatch, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::Json;
use crate::identify::{Signal, hash_photo, invalid, parse_signal, read_upload};
use crate::identify_index::ContentMeta;
use crate::roles::Permission;
use crate::state::AppState;

/// Both vPDQ match percentages must reach this for a video to match (HMA's default threshold for vPDQ).
pub const VIDEO_MATCH_PERCENT: f64 = 80.0;

/// How long a request waits for the hash banks to finish loading at start before it is answered `unavailable`
/// with a `Retry-After` (a small bank loads well within it; ten million hashes take about a minute).
pub const BANKS_LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A lookup by signal.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LookupParams {
    /// `pdq` or `vpdq`.
    pub signal_type: Option<String>,
    /// `pdq`: 64 hex digits; `vpdq`: frame lines separated by `;`.
    pub signal: Option<String>,
}

/// One match.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchView {
    /// Review it with `POST /api/identify/matches/{match_id}/review` (absent for suppressed matches).
    pub match_id: Option<Uuid>,
    pub content_id: Uuid,
    pub bank_id: Uuid,
    /// PDQ Hamming distance (for a video: the bank's frame distance).
    pub distance: u32,
    pub category: Option<String>,
    pub series: Option<String>,
    /// For a video: share of the query's frames matching the content.
    pub query_match_percent: Option<f64>,
    /// For a video: share of the content's frames matching the query.
    pub compared_match_percent: Option<f64>,
    /// The content's signal is quarantined (it matched more than its expected rate): treat the match as
    /// unconfirmed until a review.
    pub quarantined: bool,
}

/// The matches of one bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankMatches {
    pub bank_id: Uuid,
    pub name: String,
    pub negative: bool,
    pub matches: Vec<MatchView>,
}

/// A lookup's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupAnswer {
    pub lookup_id: Uuid,
    /// `pdq`, `vpdq`, `photo` or `video`.
    pub kind: String,
    /// For a photo: its PDQ hash and quality (computed in memory; the photo is not kept).
    pub pdq: Option<String>,
    pub quality: Option<u32>,
    /// For a video upload: how many frames were hashed (one a second).
    pub frames: Option<usize>,
    /// Banks with matches (positive banks first, then negative ones), by name.
    pub banks: Vec<BankMatches>,
    /// Matches a matching negative bank suppressed (known false positives).
    pub suppressed: Vec<MatchView>,
}

/// A review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// `true_positive` or `false_positive`.
    pub verdict: String,
}

/// A reviewed match.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewedMatch {
    pub match_id: Uuid,
    pub content_id: Uuid,
    pub bank_id: Uuid,
    pub distance: u32,
    pub verdict: String,
    pub reviewed_by: String,
    /// True while the content stays quarantined.
    pub quarantined: bool,
}

/// The hash of an uploaded photo or video.
#[derive(Debug, Serialize, ToSchema)]
pub struct HashAnswer {
    /// A photo's PDQ hash, 64 hex digits.
    pub pdq: Option<String>,
    /// A photo's PDQ quality, 0 to 100.
    pub quality: Option<u32>,
    /// A video's vPDQ frames, one `frame,quality,hash,timestamp` line each (as `jikimi pdq hash-video` prints
    /// them; usable as a `vpdq` signal).
    pub vpdq: Option<String>,
    /// A video's number of frames hashed.
    pub frames: Option<usize>,
}

fn view(
    m: &BankMatch<Uuid, Uuid>,
    meta: &HashMap<Uuid, ContentMeta>,
    id: Option<Uuid>,
) -> MatchView {
    let labels = meta.get(&m.content);
    MatchView {
        match_id: id,
        content_id: m.content,
        bank_id: m.bank,
        distance: m.distance,
        category: labels.and_then(|l| l.category.clone()),
        series: labels.and_then(|l| l.series.clone()),
        query_match_percent: m.video.map(|v| v.query_match_percent),
        compared_match_percent: m.video.map(|v| v.compared_match_percent),
        quarantined: labels.is_some_and(|l| l.quarantined),
    }
}

/// Answers a lookup: quarantines signals past their rate, records the lookup and its matches with the audit
/// entry, then builds the answer.
async fn answer(
    state: &AppState,
    staff: &Staff,
    kind: &str,
    found: Lookup<Uuid, Uuid>,
    mut meta: HashMap<Uuid, ContentMeta>,
    photo: Option<(Hash256, u32)>,
) -> Result<LookupAnswer, ApiError> {
    let now_ms = state.now().as_unix_ms();
    let quarantine = state.config.identify.quarantine;
    for m in found.matches.iter().chain(&found.negative) {
        if state.identify.count_match(m.content, now_ms, quarantine)
            && !meta.get(&m.content).is_some_and(|l| l.quarantined)
        {
            let change = Change::new(
                Actor::System,
                state.now(),
                format!(
                    "signal matched more than {} lookups within {} s: quarantined pending review",
                    quarantine.max_matches, quarantine.window_s
                ),
            );
            state.store.set_quarantine(m.content, true, &change).await?;
            state
                .identify
                .refresh_content(state.store.as_ref(), m.content)
                .await?;
            if let Some(labels) = meta.get_mut(&m.content) {
                labels.quarantined = true;
            }
        }
    }
    let lookup_id = Uuid::now_v7();
    let all_banks = state.identify.banks();
    let banks_searched: Vec<Uuid> = all_banks
        .iter()
        .filter(|b| b.enabled)
        .map(|b| b.id)
        .collect();
    let mut ids = HashMap::new();
    let matches: Vec<NewMatch> = found
        .matches
        .iter()
        .chain(&found.negative)
        .map(|m| {
            let id = Uuid::now_v7();
            ids.insert((m.bank, m.content), id);
            NewMatch {
                id,
                content_id: m.content,
                bank_id: m.bank,
                distance: m.distance,
            }
        })
        .collect();
    let record = LookupRecord {
        id: lookup_id,
        kind: kind.to_string(),
        banks: banks_searched,
        matches,
        withheld: found.suppressed.iter().map(|m| m.content).collect(),
    };
    state
        .lookups
        .submit((record, staff.change(state, "identify lookup")))
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))??;
    let names: HashMap<Uuid, (String, bool)> = all_banks
        .into_iter()
        .map(|b| (b.id, (b.name, b.negative)))
        .collect();
    let mut banks: Vec<BankMatches> = Vec::new();
    for m in found.matches.iter().chain(&found.negative) {
        let v = view(m, &meta, ids.get(&(m.bank, m.content)).copied());
        match banks.iter_mut().find(|b| b.bank_id == m.bank) {
            Some(b) => b.matches.push(v),
            None => {
                let (name, negative) = names.get(&m.bank).cloned().unwrap_or_default();
                banks.push(BankMatches {
                    bank_id: m.bank,
                    name,
                    negative,
                    matches: vec![v],
                });
            }
        }
    }
    banks.sort_by(|a, b| (a.negative, &a.name, a.bank_id).cmp(&(b.negative, &b.name, b.bank_id)));
    Ok(LookupAnswer {
        lookup_id,
        kind: kind.to_string(),
        pdq: photo.map(|(h, _)| h.to_hex()),
        quality: photo.map(|(_, q)| q),
        frames: None,
        banks,
        suppressed: found
            .suppressed
            .iter()
            .map(|m| view(m, &meta, None))
            .collect(),
    })
}

async fn search(
    state: &AppState,
    signal: &Signal,
) -> Result<(Lookup<Uuid, Uuid>, HashMap<Uuid, ContentMeta>), ApiError> {
    state.identify.ready_within(BANKS_LOAD_WAIT).await?;
    let found = match signal {
        Signal::Pdq(h) => state.identify.lookup_pdq(h),
        Signal::Vpdq(frames) => {
            let frames: &[VpdqFeature] = frames;
            state.identify.lookup_vpdq(frames, VIDEO_MATCH_PERCENT)
        }
    };
    found.ok_or_else(|| ApiError::internal("identify index lock poisoned"))
}

/// Look up a signal against every enabled bank (analysts, supervisors; audited with the banks searched and the
/// content ids matched, never the signal).
#[utoipa::path(get, path = "/api/identify/lookup", tag = "identify", security(("bearer" = [])), params(LookupParams),
    responses((status = 200, body = LookupAnswer), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: signal_type or signal missing or malformed"),
        (status = 503, body = crate::error::ErrorBody, description = "unavailable: the hash banks are still loading at start (Retry-After) or could not be loaded")))]
pub async fn lookup_signal(
    State(state): State<AppState>,
    staff: Staff,
    Query(params): Query<LookupParams>,
) -> Result<Json<LookupAnswer>, ApiError> {
    staff.require(Permission::Identify)?;
    let (Some(signal_type), Some(signal)) = (params.signal_type, params.signal) else {
        return Err(invalid("signal_type and signal are required"));
    };
    let (signal_type, signal) = parse_signal(&signal_type, &signal)?;
    let (found, meta) = search(&state, &signal).await?;
    Ok(Json(
        answer(&state, &staff, signal_type.as_str(), found, meta, None).await?,
    ))
}

/// Look up an uploaded photo (multipart `photo=`, PDQ) or video (`video=`, vPDQ frames, one a second), hashed in
/// memory and dropped, against every enabled bank; a video's matches carry the query and compared match
/// percentages. A server built without the `video` feature answers `not_enabled` to a video (look up its vPDQ
/// signal instead). Audited like a signal lookup.
#[utoipa::path(post, path = "/api/identify/lookup", tag = "identify", security(("bearer" = [])),
    request_body(content = String, content_type = "multipart/form-data", description = "one `photo` (or `video`) file field"),
    responses((status = 200, body = LookupAnswer), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "not_enabled: a video, and this server does not hash videos"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large: the upload or the decoded image is too large"),
        (status = 503, body = crate::error::ErrorBody, description = "unavailable: the hash banks are still loading at start (Retry-After) or could not be loaded")))]
pub async fn lookup_upload(
    State(state): State<AppState>,
    staff: Staff,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<LookupAnswer>, ApiError> {
    staff.require(Permission::Identify)?;
    let (field, bytes) = read_upload(multipart).await?;
    if field == "video" {
        let frames = crate::identify_video::hash_video(bytes).await?;
        let count = frames.len();
        let (found, meta) = search(&state, &Signal::Vpdq(frames)).await?;
        let mut answered = answer(&state, &staff, "video", found, meta, None).await?;
        answered.frames = Some(count);
        return Ok(Json(answered));
    }
    let (hash, quality) = hash_photo(bytes).await?;
    let (found, meta) = search(&state, &Signal::Pdq(hash)).await?;
    Ok(Json(
        answer(&state, &staff, "photo", found, meta, Some((hash, quality))).await?,
    ))
}

/// Hash an uploaded photo (multipart `photo=`: its PDQ hash and quality) or video (`video=`: its vPDQ frames, when
/// the server is built with the `video` feature, else `not_enabled`) in memory, nothing kept (analysts,
/// supervisors).
#[utoipa::path(post, path = "/api/identify/hash", tag = "identify", security(("bearer" = [])),
    request_body(content = String, content_type = "multipart/form-data", description = "one `photo` or `video` file field"),
    responses((status = 200, body = HashAnswer), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "not_enabled: a video, and this server does not hash videos"),
        (status = 413, body = crate::error::ErrorBody)))]
pub async fn hash(
    staff: Staff,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<HashAnswer>, ApiError> {
    staff.require(Permission::Identify)?;
    let (field, bytes) = read_upload(multipart).await?;
    if field == "video" {
        let frames = crate::identify_video::hash_video(bytes).await?;
        return Ok(Json(HashAnswer {
            pdq: None,
            quality: None,
            vpdq: Some(
                frames
                    .iter()
                    .map(VpdqFeature::to_line)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            frames: Some(frames.len()),
        }));
    }
    let (hash, quality) = hash_photo(bytes).await?;
    Ok(Json(HashAnswer {
        pdq: Some(hash.to_hex()),
        quality: Some(quality),
        vpdq: None,
        frames: None,
    }))
}

/// Review a match: `true_positive` or `false_positive` (analysts, supervisors; audited; a later review replaces
/// an earlier one). A true positive releases the content's quarantine; a false positive keeps it.
#[utoipa::path(post, path = "/api/identify/matches/{id}/review", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the match (a lookup's match_id)")), request_body = ReviewRequest,
    responses((status = 200, body = ReviewedMatch), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn review(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<Uuid>,
    Json(body): Json<ReviewRequest>,
) -> Result<Json<ReviewedMatch>, ApiError> {
    staff.require(Permission::Identify)?;
    let verdict = Verdict::parse(&body.verdict)
        .ok_or_else(|| invalid("verdict: true_positive or false_positive"))?;
    let reviewed = state
        .store
        .review_match(
            id,
            verdict,
            &staff.change(&state, "identify match reviewed"),
        )
        .await?;
    let mut content = state.store.get_content(reviewed.content_id).await?;
    // A partner's content: the review goes back to the bank's origin as signed feedback.
    crate::identify_share::reviewed(&state, &content, verdict).await?;
    if verdict == Verdict::TruePositive && content.quarantined_at.is_some() {
        content = state
            .store
            .set_quarantine(
                content.id,
                false,
                &staff.change(&state, "quarantine released by a true-positive review"),
            )
            .await?;
        state.identify.reset_rate(content.id);
        state
            .identify
            .refresh_content(state.store.as_ref(), content.id)
            .await?;
    }
    Ok(Json(ReviewedMatch {
        match_id: reviewed.id,
        content_id: reviewed.content_id,
        bank_id: reviewed.bank_id,
        distance: reviewed.distance,
        verdict: verdict.as_str().to_string(),
        reviewed_by: reviewed.reviewed_by.unwrap_or_default(),
        quarantined: content.quarantined_at.is_some(),
    }))
}
