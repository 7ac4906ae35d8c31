//! The NENA Emergency Incident Data Object (NENA-STA-021, JSON form) as far as jikimi writes and reads it.
//!
//! The model follows the component schemas of NENA's published OpenAPI document (repository `NENA911/EIDO-JSON`,
//! `Schema/openapi.yaml`, commit 7f62055, "NENA-STA-021.1b"): every component starts with the common prologue
//! (`$id`, `lastUpdateTimeStamp`, `updatedByAgencyReference`, optional `updatedByAgentReference`), references are
//! `{"$ref": "<$id>"}` objects, and the top level carries `eidoVersion` "1.0", `issuingElementIdentification` and
//! at least one `agencyComponent`. NENA publishes that schema as OpenAPI 3 YAML over NIEM components, not as a
//! JSON Schema, and without a licence file, so it is not vendored: the field-by-field mapping is documented in
//! [`crate::mapping`] and tested field by field (`tests/it/eido.rs`), including every required field of each
//! component jikimi writes.
//!
//! Components jikimi does not use (calls, callbacks, persons, vehicles, dispatch, media...) are ignored on import
//! and never written. Locations travel as PIDF-LO XML in `locationByValue` ([`pidf_lo`], [`read_pidf_lo`]).

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::xml::{self, Element, Limits};

/// The EIDO version jikimi writes and accepts.
pub const EIDO_VERSION: &str = "1.0";
/// The JSON-LD vocabulary the schema fixes for the top-level `@context`.
pub const CONTEXT_VOCAB: &str = "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld";
/// Largest EIDO document accepted, in bytes.
pub const MAX_EIDO_BYTES: usize = 1 << 20;

/// `ReferenceType`: a pointer to another component's `$id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The referenced `$id`.
    #[serde(rename = "$ref")]
    pub target: String,
}

impl Reference {
    /// A reference to `target`.
    pub fn to(target: &str) -> Self {
        Self {
            target: target.to_string(),
        }
    }
}

/// `PrologueType`: the fields every component starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prologue {
    /// `$id`: globally unique id of the component.
    #[serde(rename = "$id")]
    pub id: String,
    /// `lastUpdateTimeStamp`: RFC 3339.
    pub last_update_time_stamp: String,
    /// `updatedByAgencyReference`: the owning agency.
    pub updated_by_agency_reference: Reference,
    /// `updatedByAgentReference`: the agent or automaton that last changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by_agent_reference: Option<Reference>,
}

/// `IncidentInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentComponent {
    /// The prologue.
    #[serde(flatten)]
    pub prologue: Prologue,
    /// `incidentTypeCommonRegistryText` (required).
    pub incident_type_common_registry_text: String,
    /// `incidentTypeInternalCode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_type_internal_code: Option<String>,
    /// `incidentTypeInternalText`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_type_internal_text: Option<String>,
    /// `incidentStatusInternalText`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incident_status_internal_text: Vec<String>,
    /// `incidentStatusCommonRegistryText`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incident_status_common_registry_text: Vec<String>,
    /// `internalIncidentId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_incident_id: Option<String>,
    /// `locationReference`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_reference: Vec<Reference>,
    /// `incidentPriorityInternalText`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_priority_internal_text: Option<String>,
    /// `incidentCommonPriorityNumber` (int32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_common_priority_number: Option<i32>,
    /// `notesReference`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `AgencyType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgencyComponent {
    /// The prologue.
    #[serde(flatten)]
    pub prologue: Prologue,
    /// `agencyRoleDescriptionRegistryText` (required).
    pub agency_role_description_registry_text: Vec<String>,
    /// `agencyType` (required): IANA `urn:emergency:service:responder` values without the prefix.
    pub agency_type: Vec<String>,
    /// `incidentOwningAgencyIndicator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_owning_agency_indicator: Option<bool>,
}

/// `LocationInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationComponent {
    /// The prologue.
    #[serde(flatten)]
    pub prologue: Prologue,
    /// `locationTypeDescriptionRegistryText` (required).
    pub location_type_description_registry_text: String,
    /// `locationByValue`: a PIDF-LO document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_by_value: Option<String>,
    /// `locationByReferenceUrl`: never dereferenced by jikimi (no I/O on import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_by_reference_url: Option<String>,
    /// `locationDescriptionText`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_description_text: Option<String>,
}

/// `NotesType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotesComponent {
    /// The prologue.
    #[serde(flatten)]
    pub prologue: Prologue,
    /// `notesActionComments` (required).
    pub notes_action_comments: String,
}

/// The top-level `@context`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// `@vocab`.
    #[serde(rename = "@vocab")]
    pub vocab: String,
}

/// `EmergencyIncidentDataObjectType`: the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Eido {
    /// The prologue: `$id` is the incident's globally unique id.
    #[serde(flatten)]
    pub prologue: Prologue,
    /// `eidoVersion` (required): "1.0".
    pub eido_version: String,
    /// `issuingElementIdentification` (required).
    pub issuing_element_identification: String,
    /// `incidentComponent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_component: Option<IncidentComponent>,
    /// `agencyComponent` (required).
    pub agency_component: Vec<AgencyComponent>,
    /// `locationComponent`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_component: Vec<LocationComponent>,
    /// `notesComponent`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_component: Vec<NotesComponent>,
    /// `@context`.
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
}

impl Eido {
    /// Reads an EIDO from JSON, refusing documents over [`MAX_EIDO_BYTES`], a version other than 1.0, and
    /// references to components that are not in the document.
    pub fn from_json(json: &str) -> Result<Eido, Error> {
        if json.len() > MAX_EIDO_BYTES {
            return Err(Error::TooLarge {
                limit: MAX_EIDO_BYTES,
            });
        }
        let eido: Eido = serde_json::from_str(json).map_err(|e| Error::Json(e.to_string()))?;
        eido.check()?;
        Ok(eido)
    }

    /// The document as JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings, vectors and options always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks the version, non-empty ids and the location references.
    pub fn check(&self) -> Result<(), Error> {
        if self.eido_version != EIDO_VERSION {
            return Err(Error::Invalid {
                element: "eidoVersion",
                reason: format!("{:?} is not {EIDO_VERSION}", self.eido_version),
            });
        }
        let ids = std::iter::once(&self.prologue.id)
            .chain(self.incident_component.iter().map(|c| &c.prologue.id))
            .chain(self.agency_component.iter().map(|c| &c.prologue.id))
            .chain(self.location_component.iter().map(|c| &c.prologue.id));
        for id in ids {
            if id.trim().is_empty() || id.len() > 512 {
                return Err(Error::Invalid {
                    element: "$id",
                    reason: "must be non-empty and at most 512 bytes".into(),
                });
            }
        }
        if self.agency_component.is_empty() {
            return Err(Error::Missing {
                element: "agencyComponent",
                parent: "eido",
            });
        }
        if let Some(incident) = &self.incident_component {
            for r in &incident.location_reference {
                if !self
                    .location_component
                    .iter()
                    .any(|l| l.prologue.id == r.target)
                {
                    return Err(Error::Invalid {
                        element: "locationReference",
                        reason: "refers to a location component that is not in the document".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The civic address fields PIDF-LO carries (RFC 5139 / RFC 6848 names in brackets).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PidfCivic {
    /// Country, ISO 3166 alpha-2 (`country`).
    pub country: Option<String>,
    /// City (`A3`).
    pub city: Option<String>,
    /// Street name (`RD`).
    pub street: Option<String>,
    /// House number (`HNO`).
    pub house_number: Option<String>,
    /// Postal code (`PC`).
    pub postcode: Option<String>,
}

/// A location read from or written as PIDF-LO: a point with an optional uncertainty radius and a civic address.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PidfLocation {
    /// WGS 84 latitude and longitude.
    pub point: Option<(f64, f64)>,
    /// Radius of the uncertainty circle in metres.
    pub radius_m: Option<f64>,
    /// The civic address, when given.
    pub civic: Option<PidfCivic>,
}

const PIDF: &str = "urn:ietf:params:xml:ns:pidf";
const GEOPRIV: &str = "urn:ietf:params:xml:ns:pidf:geopriv10";
const GML: &str = "http://www.opengis.net/gml";
const GS: &str = "http://www.opengis.net/pidflo/1.0";
const CIVIC: &str = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr";
const DM: &str = "urn:ietf:params:xml:ns:pidf:data-model";

/// Writes `location` as a PIDF-LO document (RFC 4119, shapes per RFC 5491): a `gs:Circle` when a radius is known,
/// else a `gml:Point`, and a `civicAddress` when given. `entity` names the presentity (a `pres:` URI).
pub fn pidf_lo(entity: &str, location: &PidfLocation) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(768);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><presence xmlns=\"{PIDF}\" xmlns:gp=\"{GEOPRIV}\" \
         xmlns:gml=\"{GML}\" xmlns:gs=\"{GS}\" xmlns:ca=\"{CIVIC}\" xmlns:dm=\"{DM}\" entity=\"{}\">\
         <dm:device id=\"incident\"><gp:geopriv><gp:location-info>",
        xml::escape(entity)
    );
    if let Some((lat, lon)) = location.point {
        match location.radius_m {
            Some(r) => {
                let _ = write!(
                    out,
                    "<gs:Circle srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>{lat} {lon}</gml:pos>\
                     <gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">{r}</gs:radius></gs:Circle>"
                );
            }
            None => {
                let _ = write!(
                    out,
                    "<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>{lat} {lon}</gml:pos></gml:Point>"
                );
            }
        }
    }
    if let Some(c) = &location.civic {
        out.push_str("<ca:civicAddress>");
        for (tag, value) in [
            ("country", &c.country),
            ("A3", &c.city),
            ("RD", &c.street),
            ("HNO", &c.house_number),
            ("PC", &c.postcode),
        ] {
            if let Some(v) = value {
                let _ = write!(out, "<ca:{tag}>{}</ca:{tag}>", xml::escape(v));
            }
        }
        out.push_str("</ca:civicAddress>");
    }
    out.push_str("</gp:location-info><gp:usage-rules/></gp:geopriv></dm:device></presence>");
    out
}

fn find<'e>(e: &'e Element, ns: &str, name: &str) -> Option<&'e Element> {
    if e.name == name && e.ns.as_deref() == Some(ns) {
        return Some(e);
    }
    e.children.iter().find_map(|c| find(c, ns, name))
}

/// Reads the first point (`gml:pos` inside a `gml:Point` or `gs:Circle`), its radius (metres only) and civic
/// address from a PIDF-LO document, under the XML limits (no DOCTYPE, 64 KiB).
pub fn read_pidf_lo(document: &str) -> Result<PidfLocation, Error> {
    let root = xml::parse(
        document,
        Limits {
            max_bytes: 64 * 1024,
            ..Limits::default()
        },
    )?;
    if root.name != "presence" || root.ns.as_deref() != Some(PIDF) {
        return Err(Error::Invalid {
            element: "locationByValue",
            reason: "not a PIDF-LO presence document".into(),
        });
    }
    let mut location = PidfLocation::default();
    if let Some(pos) = find(&root, GML, "pos") {
        let mut parts = pos.text.split_whitespace().map(str::parse::<f64>);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(Ok(lat)), Some(Ok(lon)), None)
                if lat.is_finite()
                    && lon.is_finite()
                    && lat.abs() <= 90.0
                    && lon.abs() <= 180.0 =>
            {
                location.point = Some((lat, lon));
            }
            _ => {
                return Err(Error::Invalid {
                    element: "gml:pos",
                    reason: "not a WGS 84 \"lat lon\" pair".into(),
                });
            }
        }
        if let Some(r) = find(&root, GS, "radius") {
            let radius = r
                .text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r >= 0.0);
            location.radius_m = Some(radius.ok_or(Error::Invalid {
                element: "gs:radius",
                reason: "not a non-negative number of metres".into(),
            })?);
        }
    }
    if let Some(ca) = find(&root, CIVIC, "civicAddress") {
        let field = |tag: &str| {
            ca.children
                .iter()
                .find(|c| c.name == tag)
                .map(|c| c.text.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        location.civic = Some(PidfCivic {
            country: field("country"),
            city: field("A3"),
            street: field("RD"),
            house_number: field("HNO"),
            postcode: field("PC"),
        });
    }
    Ok(location)
}
