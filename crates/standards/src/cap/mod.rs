//! The OASIS Common Alerting Protocol 1.2: the alert model ([`Alert`], [`Info`], [`Resource`], [`Area`]), a strict
//! reader ([`parse`]) and a writer ([`write`]) whose output validates against the OASIS schema
//! (`tests/data/cap/CAP-v1.2.xsd`, checked with xmllint in the tests).
//!
//! Areas are typed for their users: a [`Polygon`] is a closed ring of [`LatLon`] points (at least four, first
//! equal to last), a [`Circle`] a centre and a radius in kilometres, both checked on construction, so a later
//! consumer (the disaster area) never sees an open ring or a negative radius.

mod parse;
mod write;

pub use parse::{parse, parse_with};
pub use write::write;

use crate::Error;

/// The CAP 1.2 namespace.
pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

macro_rules! cap_enum {
    ($(#[$doc:meta])* $name:ident, $element:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the schema's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The value as the schema spells it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the schema's spelling (exact, case-sensitive, surrounding whitespace ignored).
            pub fn parse(s: &str) -> Result<Self, Error> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::Invalid {
                        element: $element,
                        reason: format!("{other:?} is not one of the schema's values"),
                    }),
                }
            }
        }
    };
}

cap_enum!(
    /// `<status>`: the message's handling.
    Status, "status" { Actual = "Actual", Exercise = "Exercise", System = "System", Test = "Test", Draft = "Draft" }
);
cap_enum!(
    /// `<msgType>`: the message's nature.
    MsgType, "msgType" { Alert = "Alert", Update = "Update", Cancel = "Cancel", Ack = "Ack", Error = "Error" }
);
cap_enum!(
    /// `<scope>`: who may receive the message.
    Scope, "scope" { Public = "Public", Restricted = "Restricted", Private = "Private" }
);
cap_enum!(
    /// `<category>`: the kind of subject event.
    Category, "category" {
        Geo = "Geo", Met = "Met", Safety = "Safety", Security = "Security", Rescue = "Rescue", Fire = "Fire",
        Health = "Health", Env = "Env", Transport = "Transport", Infra = "Infra", Cbrne = "CBRNE", Other = "Other",
    }
);
cap_enum!(
    /// `<responseType>`: the action recommended to the audience.
    ResponseType, "responseType" {
        Shelter = "Shelter", Evacuate = "Evacuate", Prepare = "Prepare", Execute = "Execute", Avoid = "Avoid",
        Monitor = "Monitor", Assess = "Assess", AllClear = "AllClear", None = "None",
    }
);
cap_enum!(
    /// `<urgency>`: how soon to act.
    Urgency, "urgency" { Immediate = "Immediate", Expected = "Expected", Future = "Future", Past = "Past", Unknown = "Unknown" }
);
cap_enum!(
    /// `<severity>`: how bad.
    Severity, "severity" { Extreme = "Extreme", Severe = "Severe", Moderate = "Moderate", Minor = "Minor", Unknown = "Unknown" }
);
cap_enum!(
    /// `<certainty>`: how sure.
    Certainty, "certainty" { Observed = "Observed", Likely = "Likely", Possible = "Possible", Unlikely = "Unlikely", Unknown = "Unknown" }
);

/// A CAP date-time kept as written (CAP carries the sender's offset; the text round-trips exactly), checked
/// against the schema's pattern `YYYY-MM-DDThh:mm:ss±hh:mm` on construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CapDateTime(String);

impl CapDateTime {
    /// Checks `s` against CAP's date-time pattern.
    pub fn new(s: &str, element: &'static str) -> Result<Self, Error> {
        crate::time::parse_datetime(s, true, element)?;
        Ok(Self(s.trim().to_string()))
    }
    /// The instant written in UTC.
    pub fn from_timestamp(t: jikimi_respond::Timestamp) -> Self {
        Self(crate::time::cap_datetime(t))
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The instant.
    pub fn timestamp(&self) -> jikimi_respond::Timestamp {
        // Checked on construction, so this parse cannot fail; the epoch is an unreachable fallback.
        crate::time::parse_datetime(&self.0, true, "dateTime")
            .unwrap_or(jikimi_respond::Timestamp::from_unix_ms(0))
    }
}

/// A `<valueName>`/`<value>` pair (`<eventCode>`, `<parameter>`, `<geocode>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedValue {
    /// `<valueName>`.
    pub name: String,
    /// `<value>`.
    pub value: String,
}

/// A WGS 84 point as CAP writes it (`lat,lon`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    /// Latitude in degrees, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
}

impl LatLon {
    /// Checks the ranges (finite, latitude within ±90, longitude within ±180).
    pub fn new(lat: f64, lon: f64) -> Result<Self, Error> {
        let ok = lat.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && lon.is_finite()
            && (-180.0..=180.0).contains(&lon);
        if !ok {
            return Err(Error::Invalid {
                element: "point",
                reason: format!("{lat},{lon} is not a WGS 84 latitude,longitude"),
            });
        }
        Ok(Self { lat, lon })
    }
}

/// A closed ring: at least four points, the first equal to the last (CAP 1.2 section 3.2.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    points: Vec<LatLon>,
}

impl Polygon {
    /// Checks the ring is closed and has at least four points.
    pub fn new(points: Vec<LatLon>) -> Result<Self, Error> {
        if points.len() < 4 {
            return Err(Error::Invalid {
                element: "polygon",
                reason: format!("{} points; a ring needs at least 4", points.len()),
            });
        }
        if points.first() != points.last() {
            return Err(Error::Invalid {
                element: "polygon",
                reason: "the first and last points differ: the ring is not closed".into(),
            });
        }
        Ok(Self { points })
    }
    /// The ring, first point repeated last.
    pub fn ring(&self) -> &[LatLon] {
        &self.points
    }
}

/// A circle: a centre and a radius in kilometres (finite, non-negative).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    centre: LatLon,
    radius_km: f64,
}

impl Circle {
    /// Checks the radius.
    pub fn new(centre: LatLon, radius_km: f64) -> Result<Self, Error> {
        if !radius_km.is_finite() || radius_km < 0.0 {
            return Err(Error::Invalid {
                element: "circle",
                reason: format!("radius {radius_km} km is not a finite non-negative number"),
            });
        }
        Ok(Self { centre, radius_km })
    }
    /// The centre.
    pub fn centre(&self) -> LatLon {
        self.centre
    }
    /// The radius in kilometres.
    pub fn radius_km(&self) -> f64 {
        self.radius_km
    }
}

/// `<area>`: where the info applies.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Area {
    /// `<areaDesc>`, required.
    pub area_desc: String,
    /// `<polygon>`s.
    pub polygons: Vec<Polygon>,
    /// `<circle>`s.
    pub circles: Vec<Circle>,
    /// `<geocode>`s.
    pub geocodes: Vec<NamedValue>,
    /// `<altitude>` in feet above mean sea level.
    pub altitude: Option<f64>,
    /// `<ceiling>` in feet; only with an altitude.
    pub ceiling: Option<f64>,
}

/// `<resource>`: a file the info refers to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resource {
    /// `<resourceDesc>`, required.
    pub resource_desc: String,
    /// `<mimeType>`, required.
    pub mime_type: String,
    /// `<size>` in bytes.
    pub size: Option<u64>,
    /// `<uri>`.
    pub uri: Option<String>,
    /// `<derefUri>`: the content, base64.
    pub deref_uri: Option<String>,
    /// `<digest>`: SHA-1 of the content.
    pub digest: Option<String>,
}

/// `<info>`: one language's account of the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// `<language>` (RFC 3066); absent means en-US.
    pub language: Option<String>,
    /// `<category>`s, at least one.
    pub categories: Vec<Category>,
    /// `<event>`, required.
    pub event: String,
    /// `<responseType>`s.
    pub response_types: Vec<ResponseType>,
    /// `<urgency>`.
    pub urgency: Urgency,
    /// `<severity>`.
    pub severity: Severity,
    /// `<certainty>`.
    pub certainty: Certainty,
    /// `<audience>`.
    pub audience: Option<String>,
    /// `<eventCode>`s.
    pub event_codes: Vec<NamedValue>,
    /// `<effective>`.
    pub effective: Option<CapDateTime>,
    /// `<onset>`.
    pub onset: Option<CapDateTime>,
    /// `<expires>`.
    pub expires: Option<CapDateTime>,
    /// `<senderName>`.
    pub sender_name: Option<String>,
    /// `<headline>`.
    pub headline: Option<String>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<instruction>`.
    pub instruction: Option<String>,
    /// `<web>`.
    pub web: Option<String>,
    /// `<contact>`.
    pub contact: Option<String>,
    /// `<parameter>`s.
    pub parameters: Vec<NamedValue>,
    /// `<resource>`s.
    pub resources: Vec<Resource>,
    /// `<area>`s.
    pub areas: Vec<Area>,
}

/// `<alert>`: the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `<identifier>`: unique for the sender; no spaces, commas, `<` or `&`.
    pub identifier: String,
    /// `<sender>`: no spaces, commas, `<` or `&`.
    pub sender: String,
    /// `<sent>`.
    pub sent: CapDateTime,
    /// `<status>`.
    pub status: Status,
    /// `<msgType>`.
    pub msg_type: MsgType,
    /// `<source>`.
    pub source: Option<String>,
    /// `<scope>`.
    pub scope: Scope,
    /// `<restriction>`: required when the scope is Restricted.
    pub restriction: Option<String>,
    /// `<addresses>`: required when the scope is Private.
    pub addresses: Option<String>,
    /// `<code>`s.
    pub codes: Vec<String>,
    /// `<note>`.
    pub note: Option<String>,
    /// `<references>`: earlier messages, `sender,identifier,sent` triples separated by spaces.
    pub references: Option<String>,
    /// `<incidents>`.
    pub incidents: Option<String>,
    /// `<info>`s.
    pub infos: Vec<Info>,
}

impl Alert {
    /// Every area of every info, for consumers that only want the geography.
    pub fn areas(&self) -> impl Iterator<Item = &Area> {
        self.infos.iter().flat_map(|i| i.areas.iter())
    }

    /// Checks the rules the schema leaves to prose: identifier and sender have no spaces, commas, `<` or `&`;
    /// a Restricted scope has a restriction and a Private one addresses; every info has a category; a ceiling
    /// comes with an altitude. The reader and writer both apply it.
    pub fn check(&self) -> Result<(), Error> {
        for (element, value) in [("identifier", &self.identifier), ("sender", &self.sender)] {
            if value.is_empty() || value.contains([' ', ',', '<', '&', '\t', '\n', '\r']) {
                return Err(Error::Invalid {
                    element,
                    reason: "must be non-empty without spaces, commas, '<' or '&'".into(),
                });
            }
        }
        if self.scope == Scope::Restricted && self.restriction.is_none() {
            return Err(Error::Missing {
                element: "restriction",
                parent: "alert",
            });
        }
        if self.scope == Scope::Private && self.addresses.is_none() {
            return Err(Error::Missing {
                element: "addresses",
                parent: "alert",
            });
        }
        for info in &self.infos {
            if info.categories.is_empty() {
                return Err(Error::Missing {
                    element: "category",
                    parent: "info",
                });
            }
            for area in &info.areas {
                if area.ceiling.is_some() && area.altitude.is_none() {
                    return Err(Error::Invalid {
                        element: "ceiling",
                        reason: "a ceiling needs an altitude".into(),
                    });
                }
            }
        }
        Ok(())
    }
}
