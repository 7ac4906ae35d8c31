//! Incidents as CAP alerts and EIDOs, and EIDO referrals back into jikimi's terms.
//!
//! # Incident → CAP (`GET /api/incidents/{id}/cap`)
//!
//! | CAP                    | from                                                                          |
//! |------------------------|-------------------------------------------------------------------------------|
//! | `identifier`           | `{agency}.incident.{id}.{last_seq}`: one message per incident version          |
//! | `sender`               | [`ExportContext::sender`]                                                     |
//! | `sent`                 | [`ExportContext::now`], UTC                                                   |
//! | `status` / `msgType`   | `Actual` / `Alert` (open), `Update` once closed                               |
//! | `scope`, `restriction` | `Restricted`, "partner agencies under a jikimi sharing agreement"             |
//! | `incidents`            | the incident id                                                               |
//! | `info/category`        | `Rescue` (a person asked for help)                                            |
//! | `info/event`           | "112 SOS alert"                                                               |
//! | `info/urgency`         | priority 0–1 `Immediate`, 2 `Expected`, 3–4 `Future`; closed `Past`          |
//! | `info/severity`        | priority 0 `Extreme`, 1 `Severe`, 2 `Moderate`, 3–4 `Minor`                   |
//! | `info/certainty`       | `Likely`; `Observed` once a unit is on scene; `Unlikely` for a false alarm, abuse or cancel |
//! | `info/eventCode`       | `112-priority` = the code                                                     |
//! | `info/parameter`       | `jikimi-status`, `jikimi-report-count`, and `jikimi-outcome` once closed      |
//! | `area/areaDesc`        | the civic address (coarse detail: city and country only), else "incident location" |
//! | `area/circle`          | the location's centre and accuracy radius in km (as precise as the caller passes) |
//!
//! # Incident → EIDO (`GET /api/incidents/{id}/eido`)
//!
//! | EIDO                                         | from                                                     |
//! |----------------------------------------------|----------------------------------------------------------|
//! | `$id`                                        | `urn:emergency:uid:incidentid:{id}:{agency}`             |
//! | `lastUpdateTimeStamp`                        | the incident's `updated_at`, RFC 3339                    |
//! | `updatedByAgencyReference`                   | `{"$ref": agency}`                                       |
//! | `eidoVersion`                                | "1.0"                                                    |
//! | `issuingElementIdentification`               | [`ExportContext::element`]                               |
//! | `incidentComponent.$id`                      | the document's `$id`                                     |
//! | `…incidentTypeCommonRegistryText`            | "Police" (112 is the police emergency number)            |
//! | `…incidentTypeInternalCode` / `…InternalText`| "jikimi.sos" / "112 SOS alert"                           |
//! | `…incidentStatusInternalText`                | the status (`received` … `closed`)                       |
//! | `…incidentStatusCommonRegistryText`          | `Open` or `Closed`                                       |
//! | `…internalIncidentId`                        | the incident id                                          |
//! | `…incidentPriorityInternalText`              | "112-{code}"                                             |
//! | `…incidentCommonPriorityNumber`              | the code (0 most urgent)                                 |
//! | `…locationReference`                         | the location component, when there is a location        |
//! | `agencyComponent[0]`                         | `$id` agency, role `Dispatch`, type `police`, owning     |
//! | `locationComponent[0]`                       | `$id` `urn:emergency:uid:locationid:{id}:{agency}`, type `Incident`, PIDF-LO circle and civic address |
//! | `@context.@vocab`                            | [`crate::eido::CONTEXT_VOCAB`]                           |
//!
//! No `personComponent`, `callComponent`, `callbackComponent` or `notesComponent` is written: subscriber, device
//! and note data stay in jikimi.
//!
//! # EIDO → referral (`POST /api/incidents/import/eido`)
//!
//! The `$id` is the idempotency key; the referring CAD is `updatedByAgencyReference` and
//! `issuingElementIdentification`; the priority is `incidentCommonPriorityNumber` when it is a 112 code (0–4),
//! else 2; the location is the first referenced location component whose PIDF-LO carries a point or a civic
//! address (`locationByReferenceUrl` is never dereferenced).

use jikimi_respond::{Incident, IncidentStatus, Outcome, Priority, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::cap::{
    self, Alert, CapDateTime, Certainty, Circle, Info, LatLon, NamedValue, Severity, Urgency,
};
use crate::eido::{self, Eido, PidfCivic, PidfLocation, Prologue, Reference};

/// A street address (the seam for reverse geocoding): every field optional; `country` is ISO 3166 alpha-2.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CivicAddress {
    /// Street name.
    pub street: Option<String>,
    /// House number.
    pub house_number: Option<String>,
    /// Postal code.
    pub postcode: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Country, ISO 3166 alpha-2.
    pub country: Option<String>,
}

impl CivicAddress {
    /// The address reduced for the coarse detail: city and country only.
    pub fn coarse(&self) -> CivicAddress {
        CivicAddress {
            city: self.city.clone(),
            country: self.country.clone(),
            ..CivicAddress::default()
        }
    }

    /// One line: "street number, postcode city, country", empty parts left out.
    pub fn one_line(&self) -> String {
        let join = |a: &Option<String>, b: &Option<String>| {
            [a, b]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        };
        [
            join(&self.street, &self.house_number),
            join(&self.postcode, &self.city),
            self.country.clone().unwrap_or_default(),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
    }

    fn to_pidf(&self) -> PidfCivic {
        PidfCivic {
            country: self.country.clone(),
            city: self.city.clone(),
            street: self.street.clone(),
            house_number: self.house_number.clone(),
            postcode: self.postcode.clone(),
        }
    }

    fn from_pidf(c: &PidfCivic) -> CivicAddress {
        CivicAddress {
            street: c.street.clone(),
            house_number: c.house_number.clone(),
            postcode: c.postcode.clone(),
            city: c.city.clone(),
            country: c.country.clone(),
        }
    }
}

/// How much an export says: `Full` for staff who dispatch, `Coarse` for analysts and anyone without an agreement
/// that allows more (the civic address is cut to city and country; the caller also coarsens the location).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything jikimi exports (never personal data).
    Full,
    /// City and country of the address only.
    Coarse,
}

/// Who exports, and when.
#[derive(Debug, Clone)]
pub struct ExportContext {
    /// This agency's id (a domain name, e.g. `seoul.police.example`); no spaces or commas.
    pub agency: String,
    /// CAP `<sender>`: e.g. `jikimi@seoul.police.example`.
    pub sender: String,
    /// EIDO `issuingElementIdentification`: this jikimi instance.
    pub element: String,
    /// The time of export.
    pub now: Timestamp,
    /// How much to say.
    pub detail: Detail,
}

/// CAP urgency of a priority code (closed incidents are `Past`).
pub fn urgency(priority: Priority, status: IncidentStatus) -> Urgency {
    if status == IncidentStatus::Closed {
        return Urgency::Past;
    }
    match priority.code() {
        0 | 1 => Urgency::Immediate,
        2 => Urgency::Expected,
        _ => Urgency::Future,
    }
}

/// CAP severity of a priority code.
pub fn severity(priority: Priority) -> Severity {
    match priority.code() {
        0 => Severity::Extreme,
        1 => Severity::Severe,
        2 => Severity::Moderate,
        _ => Severity::Minor,
    }
}

/// CAP certainty of an incident's progress.
pub fn certainty(incident: &Incident) -> Certainty {
    match incident.outcome {
        Some(Outcome::FalseAlarm | Outcome::Abuse | Outcome::Cancelled) => Certainty::Unlikely,
        _ if incident.on_scene_at.is_some() => Certainty::Observed,
        _ => Certainty::Likely,
    }
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Arrest => "arrest",
        Outcome::Rescue => "rescue",
        Outcome::Assistance => "assistance",
        Outcome::FalseAlarm => "false_alarm",
        Outcome::Abuse => "abuse",
        Outcome::Cancelled => "cancelled",
    }
}

fn civic_for(civic: Option<&CivicAddress>, detail: Detail) -> Option<CivicAddress> {
    civic.map(|c| match detail {
        Detail::Full => c.clone(),
        Detail::Coarse => c.coarse(),
    })
}

/// The incident as a CAP alert to partner agencies. `incident` should already be in the caller's view (its
/// location generalised for coarse detail); `civic` is the reverse-geocoded address, when known.
pub fn incident_to_cap(
    incident: &Incident,
    civic: Option<&CivicAddress>,
    ctx: &ExportContext,
) -> Result<Alert, Error> {
    let civic = civic_for(civic, ctx.detail);
    let area_desc = civic
        .as_ref()
        .map(CivicAddress::one_line)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "incident location".to_string());
    let mut area = cap::Area {
        area_desc,
        ..cap::Area::default()
    };
    if let Some(fix) = &incident.location {
        let centre = LatLon::new(fix.coords.lat(), fix.coords.lon())?;
        // Kilometres to the metre: finer digits would only say more than the fix knows.
        let radius_km = (fix.accuracy_m / 1000.0 * 1000.0).round() / 1000.0;
        area.circles.push(Circle::new(centre, radius_km)?);
    }
    let mut parameters = vec![
        NamedValue {
            name: "jikimi-status".into(),
            value: incident.status.as_str().into(),
        },
        NamedValue {
            name: "jikimi-report-count".into(),
            value: incident.report_count.to_string(),
        },
    ];
    if let Some(o) = incident.outcome {
        parameters.push(NamedValue {
            name: "jikimi-outcome".into(),
            value: outcome_str(o).into(),
        });
    }
    let alert = Alert {
        identifier: format!(
            "{}.incident.{}.{}",
            ctx.agency, incident.id.0, incident.last_seq
        ),
        sender: ctx.sender.clone(),
        sent: CapDateTime::from_timestamp(ctx.now),
        status: cap::Status::Actual,
        msg_type: if incident.status == IncidentStatus::Closed {
            cap::MsgType::Update
        } else {
            cap::MsgType::Alert
        },
        source: None,
        scope: cap::Scope::Restricted,
        restriction: Some("partner agencies under a jikimi sharing agreement".into()),
        addresses: None,
        codes: Vec::new(),
        note: None,
        references: None,
        incidents: Some(incident.id.0.to_string()),
        infos: vec![Info {
            language: Some("en".into()),
            categories: vec![cap::Category::Rescue],
            event: "112 SOS alert".into(),
            response_types: Vec::new(),
            urgency: urgency(incident.priority, incident.status),
            severity: severity(incident.priority),
            certainty: certainty(incident),
            audience: None,
            event_codes: vec![NamedValue {
                name: "112-priority".into(),
                value: incident.priority.code().to_string(),
            }],
            effective: Some(CapDateTime::from_timestamp(incident.opened_at)),
            onset: None,
            expires: None,
            sender_name: None,
            headline: Some(format!("112 SOS, priority {}", incident.priority.code())),
            description: None,
            instruction: None,
            web: None,
            contact: None,
            parameters,
            resources: Vec::new(),
            areas: vec![area],
        }],
    };
    alert.check()?;
    Ok(alert)
}

fn prologue(id: String, at: Timestamp, agency: &str) -> Prologue {
    Prologue {
        id,
        last_update_time_stamp: crate::time::rfc3339(at),
        updated_by_agency_reference: Reference::to(agency),
        updated_by_agent_reference: None,
    }
}

/// The incident as an EIDO (see the module table). As for [`incident_to_cap`], `incident` is in the caller's view.
pub fn incident_to_eido(
    incident: &Incident,
    civic: Option<&CivicAddress>,
    ctx: &ExportContext,
) -> Eido {
    let id = format!(
        "urn:emergency:uid:incidentid:{}:{}",
        incident.id.0, ctx.agency
    );
    let at = incident.updated_at;
    let civic = civic_for(civic, ctx.detail);
    let location = (incident.location.is_some() || civic.is_some()).then(|| {
        let pidf = PidfLocation {
            point: incident.location.map(|f| (f.coords.lat(), f.coords.lon())),
            radius_m: incident.location.map(|f| f.accuracy_m),
            civic: civic.as_ref().map(CivicAddress::to_pidf),
        };
        eido::LocationComponent {
            prologue: prologue(
                format!(
                    "urn:emergency:uid:locationid:{}:{}",
                    incident.id.0, ctx.agency
                ),
                at,
                &ctx.agency,
            ),
            location_type_description_registry_text: "Incident".into(),
            location_by_value: Some(eido::pidf_lo(
                &format!("pres:incident-{}@{}", incident.id.0, ctx.agency),
                &pidf,
            )),
            location_by_reference_url: None,
            location_description_text: civic
                .as_ref()
                .map(CivicAddress::one_line)
                .filter(|s| !s.is_empty()),
        }
    });
    let incident_component = eido::IncidentComponent {
        prologue: prologue(id.clone(), at, &ctx.agency),
        incident_type_common_registry_text: "Police".into(),
        incident_type_internal_code: Some("jikimi.sos".into()),
        incident_type_internal_text: Some("112 SOS alert".into()),
        incident_status_internal_text: vec![incident.status.as_str().into()],
        incident_status_common_registry_text: vec![
            if incident.status.is_open() {
                "Open"
            } else {
                "Closed"
            }
            .into(),
        ],
        internal_incident_id: Some(incident.id.0.to_string()),
        location_reference: location
            .iter()
            .map(|l| Reference::to(&l.prologue.id))
            .collect(),
        incident_priority_internal_text: Some(format!("112-{}", incident.priority.code())),
        incident_common_priority_number: Some(i32::from(incident.priority.code())),
        notes_reference: Vec::new(),
    };
    Eido {
        prologue: prologue(id, at, &ctx.agency),
        eido_version: eido::EIDO_VERSION.into(),
        issuing_element_identification: ctx.element.clone(),
        incident_component: Some(incident_component),
        agency_component: vec![eido::AgencyComponent {
            prologue: prologue(ctx.agency.clone(), at, &ctx.agency),
            agency_role_description_registry_text: vec!["Dispatch".into()],
            agency_type: vec!["police".into()],
            incident_owning_agency_indicator: Some(true),
        }],
        location_component: location.into_iter().collect(),
        notes_component: Vec::new(),
        context: Some(eido::Context {
            vocab: eido::CONTEXT_VOCAB.into(),
        }),
    }
}

/// An incident referred by another CAD, in jikimi's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Referral {
    /// The EIDO `$id`: the idempotency key.
    pub eido_id: String,
    /// The referring agency (`updatedByAgencyReference`).
    pub referring_agency: String,
    /// The referring CAD (`issuingElementIdentification`).
    pub issuing_element: String,
    /// The incident type as the referrer registered it (`incidentTypeCommonRegistryText`).
    pub incident_type: Option<String>,
    /// The 112 priority: `incidentCommonPriorityNumber` when 0–4, else 2.
    pub priority: Priority,
    /// Latitude and longitude, when the location carried a point.
    pub point: Option<(f64, f64)>,
    /// The uncertainty radius in metres, when given.
    pub radius_m: Option<f64>,
    /// The civic address, when given.
    pub civic: Option<CivicAddress>,
    /// `lastUpdateTimeStamp`.
    pub updated_at: Timestamp,
}

/// The default priority of a referral that gives none (or one outside 0–4): the middle of the 112 scale.
pub const DEFAULT_REFERRAL_PRIORITY: u8 = 2;

/// Reads a referral out of an EIDO (already checked by [`Eido::from_json`]).
pub fn eido_to_referral(eido: &Eido) -> Result<Referral, Error> {
    let updated_at = crate::time::parse_datetime(
        &eido.prologue.last_update_time_stamp,
        false,
        "lastUpdateTimeStamp",
    )?;
    let incident = eido.incident_component.as_ref();
    let priority = incident
        .and_then(|i| i.incident_common_priority_number)
        .and_then(|n| u8::try_from(n).ok())
        .and_then(|n| Priority::new(n).ok())
        .unwrap_or(
            Priority::new(DEFAULT_REFERRAL_PRIORITY).map_err(|_| Error::Invalid {
                element: "incidentCommonPriorityNumber",
                reason: "default out of range".into(),
            })?,
        );
    let referenced: Vec<&eido::LocationComponent> = match incident {
        Some(i) if !i.location_reference.is_empty() => eido
            .location_component
            .iter()
            .filter(|l| {
                i.location_reference
                    .iter()
                    .any(|r| r.target == l.prologue.id)
            })
            .collect(),
        _ => eido.location_component.iter().collect(),
    };
    let mut location = PidfLocation::default();
    for l in referenced {
        if let Some(doc) = &l.location_by_value {
            let found = eido::read_pidf_lo(doc)?;
            if found.point.is_some() || found.civic.is_some() {
                location = found;
                break;
            }
        }
    }
    Ok(Referral {
        eido_id: eido.prologue.id.clone(),
        referring_agency: eido.prologue.updated_by_agency_reference.target.clone(),
        issuing_element: eido.issuing_element_identification.clone(),
        incident_type: incident.map(|i| i.incident_type_common_registry_text.clone()),
        priority,
        point: location.point,
        radius_m: location.radius_m,
        civic: location.civic.as_ref().map(CivicAddress::from_pidf),
        updated_at,
    })
}
