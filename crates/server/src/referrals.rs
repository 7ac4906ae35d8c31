//! An incident referred by another CAD, imported as a NENA EIDO (`POST /api/incidents/import/eido`, issue 21).
//!
//! The EIDO is read strictly by `jikimi_standards` (size, version, references) and mapped to a referral
//! ([`mapping::eido_to_referral`]); the store opens an incident without a device whose first event, `referred`,
//! names the referring agency and CAD and the EIDO `$id`, audited `incident.referred`. The `$id` is the
//! idempotency key: a replay (or a concurrent post) of the same `$id` answers the incident the first one opened
//! with 200 instead of 201 and writes nothing. The new incident reaches the live feed through the store's commit
//! observers, like any other. `locationByReferenceUrl` is never dereferenced: a referral must carry its location
//! by value (a point or a civic address), else it is refused.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use jikimi_respond::{Coordinates, FixMethod, IncidentId, LocationFix};
use jikimi_standards::eido::Eido;
use jikimi_standards::mapping;
use jikimi_store::NewReferral;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Staff;
use crate::dto::IncidentDto;
use crate::error::{ApiError, ErrorCode};
use crate::roles::Permission;
use crate::state::AppState;

/// The accuracy given to a referred point that states no uncertainty: a city block, so nobody reads it as a
/// satellite fix.
pub const DEFAULT_REFERRAL_ACCURACY_M: f64 = 100.0;

/// The answer to an import: the incident the referral opened (201) or had opened before (200).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReferralImportedDto {
    /// The incident.
    pub incident_id: Uuid,
    /// True when this EIDO `$id` was imported before: nothing new was written.
    pub duplicate: bool,
    /// The EIDO `$id` (the idempotency key).
    pub external_id: String,
    /// The referring agency.
    pub from_agency: String,
    /// The incident as staff see it.
    pub incident: IncidentDto,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidField, message)
}

/// Imports an incident referred by another CAD as a NENA EIDO (NENA-STA-021 JSON, version 1.0). Idempotent by
/// the EIDO `$id`: the first import answers 201, every later one (also concurrent) 200 with the same incident.
/// The location must be carried by value (PIDF-LO point or civic address). Dispatchers and supervisors.
#[utoipa::path(post, path = "/api/incidents/import/eido", tag = "incidents", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json", description = "a NENA EIDO (JSON)"),
    responses(
        (status = 201, body = ReferralImportedDto, description = "the referral opened an incident"),
        (status = 200, body = ReferralImportedDto, description = "this EIDO id was imported before: the same incident"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_payload: not UTF-8 or not JSON"),
        (status = 401, body = crate::error::ErrorBody, description = "unauthenticated"),
        (status = 403, body = crate::error::ErrorBody, description = "forbidden: dispatchers and supervisors only"),
        (status = 413, body = crate::error::ErrorBody, description = "payload_too_large"),
        (status = 422, body = crate::error::ErrorBody, description = "invalid_field: JSON that is not an EIDO 1.0, or a referral without a location (the message names the element)"),
    ))]
pub async fn import_eido(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<(StatusCode, Json<ReferralImportedDto>), ApiError> {
    staff.require(Permission::ChangeOperations)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(ErrorCode::InvalidPayload, "the EIDO is not UTF-8"))?;
    if text.len() > jikimi_standards::eido::MAX_EIDO_BYTES {
        return Err(jikimi_standards::Error::TooLarge {
            limit: jikimi_standards::eido::MAX_EIDO_BYTES,
        }
        .into());
    }
    // Not JSON at all is a malformed request (400); JSON that is not an EIDO breaks the standard (422).
    serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| ApiError::new(ErrorCode::InvalidPayload, format!("not JSON: {e}")))?;
    let eido = Eido::from_json(text).map_err(|e| match e {
        jikimi_standards::Error::Json(reason) => invalid(format!("not an EIDO: {reason}")),
        other => other.into(),
    })?;
    let referral = mapping::eido_to_referral(&eido)?;
    let fix = match referral.point {
        Some((lat, lon)) => {
            let coords = Coordinates::new(lat, lon)
                .map_err(|e| invalid(format!("locationComponent: {e}")))?;
            let accuracy = referral.radius_m.unwrap_or(DEFAULT_REFERRAL_ACCURACY_M);
            Some(
                LocationFix::new(coords, accuracy, FixMethod::Unknown, referral.updated_at)
                    .map_err(|e| invalid(format!("locationComponent: {e}")))?,
            )
        }
        None => None,
    };
    let address = referral
        .civic
        .as_ref()
        .map(mapping::CivicAddress::one_line)
        .filter(|s| !s.is_empty());
    if fix.is_none() && address.is_none() {
        return Err(invalid(
            "locationComponent: a referral needs a location by value (a PIDF-LO point or civic address)",
        ));
    }
    let new = NewReferral {
        incident_id: IncidentId::new_v7(),
        external_id: referral.eido_id.clone(),
        from_agency: referral.referring_agency.clone(),
        from_element: referral.issuing_element.clone(),
        incident_type: referral.incident_type.clone(),
        priority: referral.priority,
        fix,
        address,
    };
    let change = staff.change(
        &state,
        format!("EIDO referral from {}", referral.referring_agency),
    );
    let opened = state.store.open_referral(&new, &change).await?;
    let status = if opened.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(ReferralImportedDto {
            incident_id: opened.incident.id.0,
            duplicate: opened.duplicate,
            external_id: referral.eido_id,
            from_agency: referral.referring_agency,
            incident: IncidentDto::from(&opened.incident),
        }),
    ))
}
