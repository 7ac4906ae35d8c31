//! What each role sees of incidents and units: one place that turns the full wire form into a role's view, used by
//! the REST handlers and the live feed alike.
//!
//! Dispatchers, supervisors and admins get the full view. Analysts get the analyst view:
//!
//! - no subscriber, device or guardian ids (`subscriber_id` and `device_id` are null, event actors that are devices
//!   read `device`, guardian ids are already withheld by [`crate::notifications::notification_dtos`]);
//! - no note text (the count stays);
//! - every location generalised to the centre of its H3 resolution-9 cell (cells are about 350 m across, so a
//!   centre is typically 100 to 175 m from the true point and never says more than the cell), with `accuracy_m`
//!   at least the cell's radius; unit positions likewise, because a unit on scene stands where the caller is;
//! - recommendations with travel distance rounded to 500 m and ETA to 60 s, and no snap distances, so distances
//!   from several units cannot be intersected back into the exact location.
//!
//! The generalisation is computed from the full view, not from the domain, so the live feed (which publishes the
//! full-view DTO of each changed incident and unit) derives the analyst view of any event it carries.

use h3o::{LatLng, Resolution};
use jikimi_respond::{EventKind, IncidentEvent, LocationFix};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::{EventDto, FixDto, IncidentDto, PositionDto, RecommendationDto, UnitDto, rfc3339};
use crate::roles::Role;

/// The H3 resolution locations are generalised to for analysts (average cell area about 0.1 km²).
pub const ANALYST_RESOLUTION: Resolution = Resolution::Nine;
/// Travel distances shown to analysts are rounded to this many metres.
pub const ANALYST_DISTANCE_STEP_M: f64 = 500.0;
/// ETAs shown to analysts are rounded to this many seconds.
pub const ANALYST_ETA_STEP_S: f64 = 60.0;

/// Which view of incidents and units a role gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Everything the API holds about an incident (ids, exact locations, notes); never decrypted personal fields.
    Full,
    /// No subscriber, device or guardian ids, no notes, locations generalised to an H3 resolution-9 cell.
    Analyst,
}

impl View {
    /// The view a role gets. Roles not named here get the analyst view, so a new role starts with the least.
    pub fn of(role: Role) -> View {
        match role {
            Role::Dispatcher | Role::Supervisor | Role::Admin => View::Full,
            Role::Analyst | Role::BorderOfficer => View::Analyst,
        }
    }
}

/// A point generalised to the centre of its resolution-9 cell, with the cell's radius (the farthest boundary vertex
/// from the centre) in metres. `None` for coordinates H3 refuses (not finite), which checked coordinates never are.
pub fn generalise_point(lat: f64, lon: f64) -> Option<(f64, f64, f64)> {
    let cell = LatLng::new(lat, lon).ok()?.to_cell(ANALYST_RESOLUTION);
    let centre = LatLng::from(cell);
    let radius = cell
        .boundary()
        .iter()
        .map(|v| centre.distance_m(*v))
        .fold(0.0_f64, f64::max);
    Some((centre.lat(), centre.lng(), radius.ceil()))
}

fn generalise_fix_dto(fix: FixDto) -> Option<FixDto> {
    let (lat, lon, radius) = generalise_point(fix.lat, fix.lon)?;
    Some(FixDto {
        lat,
        lon,
        accuracy_m: fix.accuracy_m.max(radius).ceil(),
        ..fix
    })
}

fn generalise_fix(fix: &LocationFix) -> Option<LocationFix> {
    let (lat, lon, radius) = generalise_point(fix.coords.lat(), fix.coords.lon())?;
    let coords = jikimi_respond::Coordinates::new(lat, lon).ok()?;
    LocationFix::new(
        coords,
        fix.accuracy_m.max(radius).ceil(),
        fix.method,
        fix.at,
    )
    .ok()
}

fn round_to(value: f64, step: f64) -> f64 {
    (value / step).round() * step
}

fn generalise_recommendation(r: RecommendationDto) -> RecommendationDto {
    RecommendationDto {
        eta_s: round_to(r.eta_s, ANALYST_ETA_STEP_S),
        distance_m: round_to(r.distance_m, ANALYST_DISTANCE_STEP_M),
        snap_m: None,
        ..r
    }
}

/// An incident as `view` shows it.
pub fn incident(dto: IncidentDto, view: View) -> IncidentDto {
    match view {
        View::Full => IncidentDto {
            view: View::Full,
            ..dto
        },
        View::Analyst => IncidentDto {
            view: View::Analyst,
            device_id: None,
            subscriber_id: None,
            location: dto.location.and_then(generalise_fix_dto),
            // A street address is finer than the cell and says who called: none for analysts.
            address: None,
            recommendations: dto
                .recommendations
                .into_iter()
                .map(generalise_recommendation)
                .collect(),
            ..dto
        },
    }
}

/// A unit as `view` shows it.
pub fn unit(dto: UnitDto, view: View) -> UnitDto {
    match view {
        View::Full => dto,
        View::Analyst => UnitDto {
            position: dto.position.and_then(|p| {
                generalise_point(p.lat, p.lon).map(|(lat, lon, _)| PositionDto { lat, lon })
            }),
            ..dto
        },
    }
}

/// One event of an incident's log as `view` shows it.
pub fn event(e: &IncidentEvent, view: View) -> EventDto {
    match view {
        View::Full => EventDto::from(e),
        View::Analyst => {
            let actor = match &e.actor {
                jikimi_respond::Actor::Device(_) => "device".to_string(),
                other => other.to_string(),
            };
            EventDto {
                seq: e.seq,
                at: rfc3339(e.at),
                actor,
                event: analyst_event(&e.kind),
            }
        }
    }
}

/// The analyst form of an event's kind: an exhaustive match, so a new kind of event needs a decision here.
fn analyst_event(kind: &EventKind) -> serde_json::Value {
    let generalised = match kind {
        EventKind::AlertReceived {
            alert_id,
            device_id,
            subscriber_id,
            priority,
            fix,
            silent,
        } => EventKind::AlertReceived {
            alert_id: *alert_id,
            device_id: *device_id,
            subscriber_id: *subscriber_id,
            priority: *priority,
            fix: fix.as_ref().and_then(generalise_fix),
            silent: *silent,
        },
        // The referrer's ids are agency identifiers, not personal data; the street address is cut as on exports.
        EventKind::Referred {
            from_agency,
            from_element,
            external_id,
            incident_type,
            priority,
            fix,
            address: _,
        } => EventKind::Referred {
            from_agency: from_agency.clone(),
            from_element: from_element.clone(),
            external_id: external_id.clone(),
            incident_type: incident_type.clone(),
            priority: *priority,
            fix: fix.as_ref().and_then(generalise_fix),
            address: None,
        },
        EventKind::ReportAdded {
            alert_id,
            device_id,
            subscriber_id,
            priority,
            fix,
            silent,
        } => EventKind::ReportAdded {
            alert_id: *alert_id,
            device_id: *device_id,
            subscriber_id: *subscriber_id,
            priority: *priority,
            fix: fix.as_ref().and_then(generalise_fix),
            silent: *silent,
        },
        EventKind::LocationAdded { fix } => match generalise_fix(fix) {
            Some(fix) => EventKind::LocationAdded { fix },
            None => return serde_json::json!({"type": kind.name()}),
        },
        EventKind::UnitRecommended { recommendations } => EventKind::UnitRecommended {
            recommendations: recommendations
                .iter()
                .map(|r| jikimi_respond::Recommendation {
                    eta_s: round_to(r.eta_s, ANALYST_ETA_STEP_S),
                    distance_m: round_to(r.distance_m, ANALYST_DISTANCE_STEP_M),
                    snap_m: None,
                    ..r.clone()
                })
                .collect(),
        },
        // The text is the dispatcher's and may hold anything; analysts see that a note was added.
        EventKind::NoteAdded { .. } => return serde_json::json!({"type": kind.name()}),
        // Free text and answers are the person's situation in their own words or taps: analysts see that a
        // question was asked (and which canned one) and that it was answered.
        EventKind::QuestionSent {
            message_id,
            question,
            ..
        } => {
            let canned = match question {
                jikimi_respond::Question::Canned { id, .. } => Some(id.clone()),
                jikimi_respond::Question::Free { .. } => None,
            };
            return serde_json::json!({"type": kind.name(), "message_id": message_id, "canned": canned});
        }
        EventKind::AnswerReceived { message_id, .. } => {
            return serde_json::json!({"type": kind.name(), "message_id": message_id});
        }
        EventKind::Acknowledged
        | EventKind::Dispatched { .. }
        | EventKind::EnRoute { .. }
        | EventKind::OnScene { .. }
        | EventKind::Closed { .. }
        | EventKind::Cancelled
        | EventKind::Escalated { .. } => kind.clone(),
    };
    let mut value = serde_json::to_value(&generalised).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("device_id");
        object.remove("subscriber_id");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generalised_point_is_a_cell_centre_at_least_a_cell_radius_wide() {
        let (lat, lon, radius) = generalise_point(37.566_5, 126.978_0).expect("cell");
        // A resolution-9 cell's radius is about 150 to 200 m.
        assert!((100.0..260.0).contains(&radius), "{radius}");
        // Two points in the same cell give the same answer; the centre is its own centre.
        assert_eq!(
            generalise_point(lat, lon).map(|(a, b, _)| (a, b)),
            Some((lat, lon))
        );
        let moved = LatLng::new(37.566_5, 126.978_0)
            .expect("point")
            .distance_m(LatLng::new(lat, lon).expect("centre"));
        assert!(moved <= radius, "{moved} > {radius}");
    }

    #[test]
    fn only_dispatchers_supervisors_and_admins_get_the_full_view() {
        assert_eq!(View::of(Role::Dispatcher), View::Full);
        assert_eq!(View::of(Role::Supervisor), View::Full);
        assert_eq!(View::of(Role::Admin), View::Full);
        assert_eq!(View::of(Role::Analyst), View::Analyst);
        assert_eq!(View::of(Role::BorderOfficer), View::Analyst);
    }
}
