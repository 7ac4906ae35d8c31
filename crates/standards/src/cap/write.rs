//! The CAP 1.2 writer: elements in the schema's order, text escaped, numbers as `xs:decimal` (Rust's shortest
//! round-trip form, never an exponent), so what [`super::parse`] reads back is equal to what was written.

use std::fmt::Write as _;

use super::*;
use crate::xml::escape;

/// Writes `alert` as a CAP 1.2 document, after [`Alert::check`].
pub fn write(alert: &Alert) -> Result<String, Error> {
    alert.check()?;
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<alert xmlns=\"{NAMESPACE}\">");
    leaf(&mut out, 1, "identifier", &alert.identifier);
    leaf(&mut out, 1, "sender", &alert.sender);
    leaf(&mut out, 1, "sent", alert.sent.as_str());
    leaf(&mut out, 1, "status", alert.status.as_str());
    leaf(&mut out, 1, "msgType", alert.msg_type.as_str());
    opt(&mut out, 1, "source", &alert.source);
    leaf(&mut out, 1, "scope", alert.scope.as_str());
    opt(&mut out, 1, "restriction", &alert.restriction);
    opt(&mut out, 1, "addresses", &alert.addresses);
    for code in &alert.codes {
        leaf(&mut out, 1, "code", code);
    }
    opt(&mut out, 1, "note", &alert.note);
    opt(&mut out, 1, "references", &alert.references);
    opt(&mut out, 1, "incidents", &alert.incidents);
    for info in &alert.infos {
        write_info(&mut out, info);
    }
    out.push_str("</alert>\n");
    Ok(out)
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn leaf(out: &mut String, depth: usize, name: &str, value: &str) {
    indent(out, depth);
    let _ = writeln!(out, "<{name}>{}</{name}>", escape(value));
}

fn opt(out: &mut String, depth: usize, name: &str, value: &Option<String>) {
    if let Some(v) = value {
        leaf(out, depth, name, v);
    }
}

fn open(out: &mut String, depth: usize, name: &str) {
    indent(out, depth);
    let _ = writeln!(out, "<{name}>");
}

fn close(out: &mut String, depth: usize, name: &str) {
    indent(out, depth);
    let _ = writeln!(out, "</{name}>");
}

fn named(out: &mut String, depth: usize, name: &str, nv: &NamedValue) {
    open(out, depth, name);
    leaf(out, depth + 1, "valueName", &nv.name);
    leaf(out, depth + 1, "value", &nv.value);
    close(out, depth, name);
}

fn write_info(out: &mut String, info: &Info) {
    open(out, 1, "info");
    opt(out, 2, "language", &info.language);
    for c in &info.categories {
        leaf(out, 2, "category", c.as_str());
    }
    leaf(out, 2, "event", &info.event);
    for r in &info.response_types {
        leaf(out, 2, "responseType", r.as_str());
    }
    leaf(out, 2, "urgency", info.urgency.as_str());
    leaf(out, 2, "severity", info.severity.as_str());
    leaf(out, 2, "certainty", info.certainty.as_str());
    opt(out, 2, "audience", &info.audience);
    for nv in &info.event_codes {
        named(out, 2, "eventCode", nv);
    }
    for (name, t) in [
        ("effective", &info.effective),
        ("onset", &info.onset),
        ("expires", &info.expires),
    ] {
        if let Some(t) = t {
            leaf(out, 2, name, t.as_str());
        }
    }
    opt(out, 2, "senderName", &info.sender_name);
    opt(out, 2, "headline", &info.headline);
    opt(out, 2, "description", &info.description);
    opt(out, 2, "instruction", &info.instruction);
    opt(out, 2, "web", &info.web);
    opt(out, 2, "contact", &info.contact);
    for nv in &info.parameters {
        named(out, 2, "parameter", nv);
    }
    for r in &info.resources {
        open(out, 2, "resource");
        leaf(out, 3, "resourceDesc", &r.resource_desc);
        leaf(out, 3, "mimeType", &r.mime_type);
        if let Some(size) = r.size {
            leaf(out, 3, "size", &size.to_string());
        }
        opt(out, 3, "uri", &r.uri);
        opt(out, 3, "derefUri", &r.deref_uri);
        opt(out, 3, "digest", &r.digest);
        close(out, 2, "resource");
    }
    for a in &info.areas {
        write_area(out, a);
    }
    close(out, 1, "info");
}

fn point(p: LatLon) -> String {
    format!("{},{}", p.lat, p.lon)
}

fn write_area(out: &mut String, a: &Area) {
    open(out, 2, "area");
    leaf(out, 3, "areaDesc", &a.area_desc);
    for p in &a.polygons {
        let ring: Vec<String> = p.ring().iter().map(|q| point(*q)).collect();
        leaf(out, 3, "polygon", &ring.join(" "));
    }
    for c in &a.circles {
        leaf(
            out,
            3,
            "circle",
            &format!("{} {}", point(c.centre()), c.radius_km()),
        );
    }
    for nv in &a.geocodes {
        named(out, 3, "geocode", nv);
    }
    if let Some(alt) = a.altitude {
        leaf(out, 3, "altitude", &alt.to_string());
    }
    if let Some(ceiling) = a.ceiling {
        leaf(out, 3, "ceiling", &ceiling.to_string());
    }
    close(out, 2, "area");
}
