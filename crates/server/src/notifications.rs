//! Guardian-notification status for staff: per incident (in the incident detail) and the dead letters.
//!
//! Only ids, states, times and failure classes are shown; guardians' names and addresses stay sealed. Analysts see
//! guardians as ordinals (guardian 1, 2, ...) rather than ids, since a guardian id is what a reveal is keyed by.

use axum::extract::{Query, State};
use jikimi_store::{Notification, NotificationState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Staff;
use crate::dto::rfc3339;
use crate::error::ApiError;
use crate::extract::Json;
use crate::roles::Permission;
use crate::state::AppState;

/// One guardian's notification about one incident event (or about their person in a declared disaster).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationDto {
    /// Stable id, sent to the receiver as the idempotency key.
    pub id: Uuid,
    /// The incident (null for a disaster's notice).
    pub incident_id: Option<Uuid>,
    /// The disaster, for a disaster's notice (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaster_id: Option<Uuid>,
    /// The guardian's id; absent for roles that may not reveal personal data.
    pub guardian_id: Option<Uuid>,
    /// The guardian's ordinal within this list (1, 2, ...), by first appearance.
    pub guardian: u32,
    /// The incident event it is about: alert_received, dispatched or closed; for a disaster welfare_asked,
    /// welfare_safe, welfare_need_help, welfare_trapped, welfare_injured or welfare_no_answer.
    pub event: String,
    /// That event's seq.
    pub event_seq: u64,
    /// pending, delivered or dead_lettered.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// Next attempt (pending only).
    pub next_attempt_at: Option<String>,
    /// The last failure's class (e.g. http_503, webhook_connect, smtp_451), never an address.
    pub last_error: Option<String>,
    /// When delivered.
    pub delivered_at: Option<String>,
    /// When dead-lettered.
    pub dead_lettered_at: Option<String>,
}

/// Notifications as the caller's role may see them, guardians numbered by first appearance.
pub fn notification_dtos(staff: &Staff, rows: &[Notification]) -> Vec<NotificationDto> {
    let show_ids = staff.role.may(Permission::RevealPersonalData)
        || staff.role.may(Permission::ManageSubscribers);
    let mut ordinals: Vec<jikimi_store::GuardianId> = Vec::new();
    rows.iter()
        .map(|n| {
            let guardian = match ordinals.iter().position(|g| *g == n.guardian_id) {
                Some(i) => i + 1,
                None => {
                    ordinals.push(n.guardian_id);
                    ordinals.len()
                }
            };
            NotificationDto {
                id: n.id.0,
                incident_id: n.incident_id.map(|i| i.0),
                disaster_id: n.disaster_id,
                guardian_id: show_ids.then_some(n.guardian_id.0),
                guardian: u32::try_from(guardian).unwrap_or(u32::MAX),
                event: n.event.clone(),
                event_seq: n.event_seq,
                status: n.state.as_str().into(),
                attempts: n.attempts,
                next_attempt_at: (n.state == NotificationState::Pending)
                    .then(|| rfc3339(n.next_attempt_at)),
                last_error: n.last_error.clone(),
                delivered_at: n.delivered_at.map(rfc3339),
                dead_lettered_at: n.dead_lettered_at.map(rfc3339),
            }
        })
        .collect()
}

/// Query of `GET /api/notifications/dead-letters`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeadLetterQuery {
    /// At most this many (1..=1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Notifications given up after the retry limit or a permanent failure, newest first (supervisor, admin).
#[utoipa::path(get, path = "/api/notifications/dead-letters", tag = "notifications", security(("bearer" = [])),
    params(DeadLetterQuery),
    responses((status = 200, body = Vec<NotificationDto>), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: limit out of range")))]
pub async fn dead_letters(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<DeadLetterQuery>,
) -> Result<Json<Vec<NotificationDto>>, ApiError> {
    staff.require(Permission::ReadAudit)?;
    let limit = crate::extract::limit(query.limit, 100, 1000)?;
    let rows = state.store.list_dead_letters(limit).await?;
    Ok(Json(notification_dtos(&staff, &rows)))
}
