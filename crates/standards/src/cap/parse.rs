//! The strict CAP 1.2 reader: the element order, cardinality and values the OASIS schema demands, with errors that
//! name the element. Unknown CAP elements are refused; elements of other namespaces are accepted only where the
//! schema allows them (the XML signature at the end of `<alert>`), and ignored.

use super::*;
use crate::xml::{self, Element, Limits};

/// One allowed child: its name and whether it may repeat. A parent's table lists them in the schema's order.
type Slot = (&'static str, bool);

const ALERT: &[Slot] = &[
    ("identifier", false),
    ("sender", false),
    ("sent", false),
    ("status", false),
    ("msgType", false),
    ("source", false),
    ("scope", false),
    ("restriction", false),
    ("addresses", false),
    ("code", true),
    ("note", false),
    ("references", false),
    ("incidents", false),
    ("info", true),
];
const INFO: &[Slot] = &[
    ("language", false),
    ("category", true),
    ("event", false),
    ("responseType", true),
    ("urgency", false),
    ("severity", false),
    ("certainty", false),
    ("audience", false),
    ("eventCode", true),
    ("effective", false),
    ("onset", false),
    ("expires", false),
    ("senderName", false),
    ("headline", false),
    ("description", false),
    ("instruction", false),
    ("web", false),
    ("contact", false),
    ("parameter", true),
    ("resource", true),
    ("area", true),
];
const RESOURCE: &[Slot] = &[
    ("resourceDesc", false),
    ("mimeType", false),
    ("size", false),
    ("uri", false),
    ("derefUri", false),
    ("digest", false),
];
const AREA: &[Slot] = &[
    ("areaDesc", false),
    ("polygon", true),
    ("circle", true),
    ("geocode", true),
    ("altitude", false),
    ("ceiling", false),
];
const NAMED: &[Slot] = &[("valueName", false), ("value", false)];

/// The XML signature namespace, the only foreign one `<alert>` may end with.
const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Most `<info>` blocks, areas per info and points per polygon accepted: far above real alerts, low enough that a
/// hostile document cannot make the model large.
pub const MAX_INFOS: usize = 64;
/// See [`MAX_INFOS`].
pub const MAX_AREAS: usize = 256;
/// See [`MAX_INFOS`].
pub const MAX_POINTS: usize = 10_000;

/// Parses a CAP 1.2 alert under the default [`Limits`] (1 MiB, depth 16, 20,000 elements).
pub fn parse(input: &str) -> Result<Alert, Error> {
    parse_with(input, Limits::default())
}

/// Parses a CAP 1.2 alert under `limits`.
pub fn parse_with(input: &str, limits: Limits) -> Result<Alert, Error> {
    let root = xml::parse(input, limits)?;
    if root.name != "alert" || root.ns.as_deref() != Some(NAMESPACE) {
        return Err(Error::Invalid {
            element: "alert",
            reason: format!(
                "the root must be alert in {NAMESPACE}, not {} in {}",
                root.name,
                root.ns.as_deref().unwrap_or("no namespace")
            ),
        });
    }
    let alert = alert(&root)?;
    alert.check()?;
    Ok(alert)
}

/// Walks `parent`'s children in order against `slots`, checking namespace, order and repetition, and hands each
/// CAP child with its slot name to `visit`.
fn walk<'e>(
    parent: &'e Element,
    parent_name: &'static str,
    slots: &[Slot],
    allow_signature: bool,
    mut visit: impl FnMut(&'static str, &'e Element) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut last: Option<usize> = None;
    let mut in_signature = false;
    for child in &parent.children {
        if child.ns.as_deref() != Some(NAMESPACE) {
            if allow_signature && child.ns.as_deref() == Some(XMLDSIG) {
                in_signature = true;
                continue;
            }
            return Err(Error::Unexpected {
                element: child.name.clone(),
                parent: parent_name,
            });
        }
        let Some(rank) = slots.iter().position(|(n, _)| *n == child.name) else {
            return Err(Error::Unexpected {
                element: child.name.clone(),
                parent: parent_name,
            });
        };
        let (name, repeatable) = slots[rank];
        if in_signature {
            return Err(Error::Order {
                element: name,
                parent: parent_name,
            });
        }
        match last {
            Some(l) if rank < l => {
                return Err(Error::Order {
                    element: name,
                    parent: parent_name,
                });
            }
            Some(l) if rank == l && !repeatable => {
                return Err(Error::Duplicate {
                    element: name,
                    parent: parent_name,
                });
            }
            _ => {}
        }
        last = Some(rank);
        visit(name, child)?;
    }
    Ok(())
}

/// The text of a simple element, which must have no child elements.
fn text(e: &Element, name: &'static str) -> Result<String, Error> {
    if !e.children.is_empty() {
        return Err(Error::Invalid {
            element: name,
            reason: "a simple element cannot contain elements".into(),
        });
    }
    Ok(e.text.clone())
}

fn required<T>(value: Option<T>, element: &'static str, parent: &'static str) -> Result<T, Error> {
    value.ok_or(Error::Missing { element, parent })
}

fn decimal(s: &str, element: &'static str) -> Result<f64, Error> {
    let t = s.trim();
    // xs:decimal: optional sign, digits, optional fraction; no exponent, no NaN or infinity.
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let ok = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || c == '.')
        && body.matches('.').count() <= 1
        && body.chars().any(|c| c.is_ascii_digit());
    if !ok {
        return Err(Error::Invalid {
            element,
            reason: format!("{t:?} is not a decimal number"),
        });
    }
    t.parse::<f64>().map_err(|_| Error::Invalid {
        element,
        reason: format!("{t:?} is not a decimal number"),
    })
}

fn point(s: &str, element: &'static str) -> Result<LatLon, Error> {
    let (lat, lon) = s.split_once(',').ok_or_else(|| Error::Invalid {
        element,
        reason: format!("{s:?} is not a latitude,longitude pair"),
    })?;
    LatLon::new(decimal(lat, element)?, decimal(lon, element)?).map_err(|_| Error::Invalid {
        element,
        reason: format!("{s:?} is outside WGS 84 ranges"),
    })
}

fn polygon(s: &str) -> Result<Polygon, Error> {
    let mut points = Vec::new();
    for pair in s.split_whitespace() {
        if points.len() == MAX_POINTS {
            return Err(Error::Limit {
                what: "polygon points",
                limit: MAX_POINTS,
            });
        }
        points.push(point(pair, "polygon")?);
    }
    Polygon::new(points)
}

fn circle(s: &str) -> Result<Circle, Error> {
    let mut parts = s.split_whitespace();
    let (Some(centre), Some(radius), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Invalid {
            element: "circle",
            reason: format!("{s:?} is not \"lat,lon radius\""),
        });
    };
    Circle::new(point(centre, "circle")?, decimal(radius, "circle")?)
}

fn named(e: &Element, parent: &'static str) -> Result<NamedValue, Error> {
    let (mut name, mut value) = (None, None);
    walk(e, parent, NAMED, false, |n, c| {
        match n {
            "valueName" => name = Some(text(c, "valueName")?),
            _ => value = Some(text(c, "value")?),
        }
        Ok(())
    })?;
    Ok(NamedValue {
        name: required(name, "valueName", parent)?,
        value: required(value, "value", parent)?,
    })
}

fn alert(root: &Element) -> Result<Alert, Error> {
    let mut f: [Option<String>; 13] = Default::default();
    let mut codes = Vec::new();
    let mut infos = Vec::new();
    walk(root, "alert", ALERT, true, |name, c| {
        match name {
            "code" => codes.push(text(c, "code")?),
            "info" => {
                if infos.len() == MAX_INFOS {
                    return Err(Error::Limit {
                        what: "info blocks",
                        limit: MAX_INFOS,
                    });
                }
                infos.push(info(c)?);
            }
            _ => {
                let i = ALERT.iter().position(|(n, _)| *n == name).unwrap_or(0);
                f[i.min(12)] = Some(text(c, name)?);
            }
        }
        Ok(())
    })?;
    let [
        identifier,
        sender,
        sent,
        status,
        msg_type,
        source,
        scope,
        restriction,
        addresses,
        _,
        note,
        references,
        incidents,
    ] = f;
    Ok(Alert {
        identifier: required(identifier, "identifier", "alert")?,
        sender: required(sender, "sender", "alert")?,
        sent: CapDateTime::new(&required(sent, "sent", "alert")?, "sent")?,
        status: Status::parse(&required(status, "status", "alert")?)?,
        msg_type: MsgType::parse(&required(msg_type, "msgType", "alert")?)?,
        source,
        scope: Scope::parse(&required(scope, "scope", "alert")?)?,
        restriction,
        addresses,
        codes,
        note,
        references,
        incidents,
        infos,
    })
}

fn info(e: &Element) -> Result<Info, Error> {
    let mut language = None;
    let mut categories = Vec::new();
    let mut event = None;
    let mut response_types = Vec::new();
    let (mut urgency, mut severity, mut certainty) = (None, None, None);
    let mut audience = None;
    let mut event_codes = Vec::new();
    let (mut effective, mut onset, mut expires) = (None, None, None);
    let mut strings: [Option<String>; 6] = Default::default();
    let mut parameters = Vec::new();
    let mut resources = Vec::new();
    let mut areas = Vec::new();
    walk(e, "info", INFO, false, |name, c| {
        match name {
            "language" => language = Some(text(c, name)?),
            "category" => categories.push(Category::parse(&text(c, name)?)?),
            "event" => event = Some(text(c, name)?),
            "responseType" => response_types.push(ResponseType::parse(&text(c, name)?)?),
            "urgency" => urgency = Some(Urgency::parse(&text(c, name)?)?),
            "severity" => severity = Some(Severity::parse(&text(c, name)?)?),
            "certainty" => certainty = Some(Certainty::parse(&text(c, name)?)?),
            "audience" => audience = Some(text(c, name)?),
            "eventCode" => event_codes.push(named(c, "eventCode")?),
            "effective" => effective = Some(CapDateTime::new(&text(c, name)?, "effective")?),
            "onset" => onset = Some(CapDateTime::new(&text(c, name)?, "onset")?),
            "expires" => expires = Some(CapDateTime::new(&text(c, name)?, "expires")?),
            "senderName" => strings[0] = Some(text(c, name)?),
            "headline" => strings[1] = Some(text(c, name)?),
            "description" => strings[2] = Some(text(c, name)?),
            "instruction" => strings[3] = Some(text(c, name)?),
            "web" => strings[4] = Some(text(c, name)?),
            "contact" => strings[5] = Some(text(c, name)?),
            "parameter" => parameters.push(named(c, "parameter")?),
            "resource" => resources.push(resource(c)?),
            _ => {
                if areas.len() == MAX_AREAS {
                    return Err(Error::Limit {
                        what: "areas",
                        limit: MAX_AREAS,
                    });
                }
                areas.push(area(c)?);
            }
        }
        Ok(())
    })?;
    if categories.is_empty() {
        return Err(Error::Missing {
            element: "category",
            parent: "info",
        });
    }
    let [
        sender_name,
        headline,
        description,
        instruction,
        web,
        contact,
    ] = strings;
    Ok(Info {
        language,
        categories,
        event: required(event, "event", "info")?,
        response_types,
        urgency: required(urgency, "urgency", "info")?,
        severity: required(severity, "severity", "info")?,
        certainty: required(certainty, "certainty", "info")?,
        audience,
        event_codes,
        effective,
        onset,
        expires,
        sender_name,
        headline,
        description,
        instruction,
        web,
        contact,
        parameters,
        resources,
        areas,
    })
}

fn resource(e: &Element) -> Result<Resource, Error> {
    let mut r = Resource::default();
    let (mut desc, mut mime) = (None, None);
    walk(e, "resource", RESOURCE, false, |name, c| {
        let t = text(c, name)?;
        match name {
            "resourceDesc" => desc = Some(t),
            "mimeType" => mime = Some(t),
            "size" => {
                r.size = Some(t.trim().parse::<u64>().map_err(|_| Error::Invalid {
                    element: "size",
                    reason: format!("{t:?} is not a non-negative integer"),
                })?)
            }
            "uri" => r.uri = Some(t),
            "derefUri" => r.deref_uri = Some(t),
            _ => r.digest = Some(t),
        }
        Ok(())
    })?;
    r.resource_desc = required(desc, "resourceDesc", "resource")?;
    r.mime_type = required(mime, "mimeType", "resource")?;
    Ok(r)
}

fn area(e: &Element) -> Result<Area, Error> {
    let mut a = Area::default();
    let mut desc = None;
    walk(e, "area", AREA, false, |name, c| {
        match name {
            "areaDesc" => desc = Some(text(c, name)?),
            "polygon" => a.polygons.push(polygon(&text(c, name)?)?),
            "circle" => a.circles.push(circle(&text(c, name)?)?),
            "geocode" => a.geocodes.push(named(c, "geocode")?),
            "altitude" => a.altitude = Some(decimal(&text(c, name)?, "altitude")?),
            _ => a.ceiling = Some(decimal(&text(c, name)?, "ceiling")?),
        }
        Ok(())
    })?;
    a.area_desc = required(desc, "areaDesc", "area")?;
    Ok(a)
}
