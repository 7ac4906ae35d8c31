//! Reading the hash banks for the console's Identify view (issue 19, part 7): a bank's content page by page, and
//! the signals quarantined for flooding matches.
//!
//! Analysts and supervisors ([`Permission::Identify`]). Neither answer holds a signal (a PDQ hash or frame list
//! stays in the bank) nor personal data: labels, ids and states, so these reads are not audited. The quarantine
//! list comes from the in-memory index ([`crate::identify_index::Banks::quarantined`]), which follows commits, so
//! it costs no scan of the contents.

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::Json;
use crate::identify::{ContentView, invalid};
use crate::roles::Permission;
use crate::state::AppState;

/// Largest page of a bank's content.
pub const MAX_PAGE: u32 = 500;
/// Most quarantined signals answered (oldest content first); a flood of quarantines is a signal in itself.
pub const MAX_QUARANTINED: usize = 500;

/// A page of a bank's content.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageParams {
    /// Content ids greater than this (the last id of the previous page).
    pub after: Option<Uuid>,
    /// 1 to 500; default 100.
    pub limit: Option<u32>,
}

/// A bank's content by id, a page at a time (analysts, supervisors): labels and states, never the signal.
#[utoipa::path(get, path = "/api/identify/banks/{id}/content", tag = "identify", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the bank"), PageParams),
    responses((status = 200, body = Vec<ContentView>), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: limit out of range")))]
pub async fn bank_content(
    State(state): State<AppState>,
    staff: Staff,
    Path(bank_id): Path<Uuid>,
    Query(page): Query<PageParams>,
) -> Result<Json<Vec<ContentView>>, ApiError> {
    staff.require(Permission::Identify)?;
    let limit = page.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid(format!("limit: 1 to {MAX_PAGE}")));
    }
    state.store.get_bank(bank_id).await?;
    let contents = state
        .store
        .bank_content_page(bank_id, page.after, limit)
        .await?;
    Ok(Json(contents.into_iter().map(ContentView::from).collect()))
}

/// The signals quarantined for matching more lookups than expected, pending a true-positive review (analysts,
/// supervisors): at most 500, by content id.
#[utoipa::path(get, path = "/api/identify/quarantine", tag = "identify", security(("bearer" = [])),
    responses((status = 200, body = Vec<ContentView>), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody, description = "unavailable: the hash banks could not be loaded, or are still loading (Retry-After)")))]
pub async fn quarantined(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<ContentView>>, ApiError> {
    staff.require(Permission::Identify)?;
    state
        .identify
        .ready_within(crate::identify_lookup::BANKS_LOAD_WAIT)
        .await?;
    let mut out = Vec::new();
    for id in state.identify.quarantined(MAX_QUARANTINED) {
        match state.store.get_content(id).await {
            Ok(content) if content.enabled && content.quarantined_at.is_some() => {
                out.push(ContentView::from(content));
            }
            // Released or disabled since the index last heard: not quarantined any more.
            Ok(_) => {}
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(Json(out))
}
