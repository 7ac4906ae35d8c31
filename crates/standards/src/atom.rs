//! Public warnings as CAP alerts and as an Atom feed (RFC 4287) of them: each entry carries its CAP document
//! inline as the entry's content (`type="application/cap+xml"`), so one request gets every alert, each a standalone
//! CAP document (it declares its own namespace).

use std::fmt::Write as _;

use jikimi_respond::Timestamp;

use crate::Error;
use crate::cap::{self, Alert, Area, CapDateTime, Category, Certainty, Info, Severity, Urgency};
use crate::xml::escape;

/// A public warning a supervisor issued: what the public should know and do, where, and until when.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicWarning {
    /// Its id (the CAP identifier's and the Atom entry's unique part).
    pub id: uuid::Uuid,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// One line.
    pub headline: String,
    /// What is happening.
    pub description: String,
    /// What to do.
    pub instruction: Option<String>,
    /// CAP category.
    pub category: Category,
    /// CAP urgency.
    pub urgency: Urgency,
    /// CAP severity.
    pub severity: Severity,
    /// CAP certainty.
    pub certainty: Certainty,
    /// Where (description and shapes).
    pub area: Area,
    /// When it stops applying.
    pub expires: Option<Timestamp>,
    /// The language of the text (e.g. `ko`, `en`).
    pub language: String,
}

/// The warning as a public CAP alert from `sender`; `agency` prefixes the identifier.
pub fn warning_to_cap(w: &PublicWarning, agency: &str, sender: &str) -> Result<Alert, Error> {
    let alert = Alert {
        identifier: format!("{agency}.warning.{}", w.id),
        sender: sender.to_string(),
        sent: CapDateTime::from_timestamp(w.issued_at),
        status: cap::Status::Actual,
        msg_type: cap::MsgType::Alert,
        source: None,
        scope: cap::Scope::Public,
        restriction: None,
        addresses: None,
        codes: Vec::new(),
        note: None,
        references: None,
        incidents: None,
        infos: vec![Info {
            language: Some(w.language.clone()),
            categories: vec![w.category],
            event: w.headline.clone(),
            response_types: Vec::new(),
            urgency: w.urgency,
            severity: w.severity,
            certainty: w.certainty,
            audience: None,
            event_codes: Vec::new(),
            effective: Some(CapDateTime::from_timestamp(w.issued_at)),
            onset: None,
            expires: w.expires.map(CapDateTime::from_timestamp),
            sender_name: None,
            headline: Some(w.headline.clone()),
            description: Some(w.description.clone()),
            instruction: w.instruction.clone(),
            web: None,
            contact: None,
            parameters: Vec::new(),
            resources: Vec::new(),
            areas: vec![w.area.clone()],
        }],
    };
    alert.check()?;
    Ok(alert)
}

/// The feed's own identity.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Atom `id` (a stable URI, e.g. `tag:seoul.police.example,2026:warnings`).
    pub id: String,
    /// Title.
    pub title: String,
    /// The feed's own URL (`rel="self"`).
    pub self_url: String,
    /// The author (the agency's name).
    pub author: String,
}

/// Writes the Atom feed of `entries`, newest first as given. `updated` is the
/// newest issue time, or `now` for an empty feed.
pub fn atom_feed(
    feed: &Feed,
    entries: &[PublicWarning],
    agency: &str,
    sender: &str,
    now: Timestamp,
) -> Result<String, Error> {
    let updated = entries.iter().map(|w| w.issued_at).max().unwrap_or(now);
    let mut out = String::with_capacity(1024 + entries.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let _ = writeln!(out, "  <id>{}</id>", escape(&feed.id));
    let _ = writeln!(out, "  <title>{}</title>", escape(&feed.title));
    let _ = writeln!(
        out,
        "  <updated>{}</updated>",
        crate::time::rfc3339(updated)
    );
    let _ = writeln!(
        out,
        "  <author><name>{}</name></author>",
        escape(&feed.author)
    );
    let _ = writeln!(
        out,
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>",
        escape(&feed.self_url)
    );
    for w in entries {
        let alert = cap::write(&warning_to_cap(w, agency, sender)?)?;
        // The inline alert without its XML declaration; it keeps its own default namespace.
        let inline = alert
            .split_once("?>\n")
            .map_or(alert.as_str(), |(_, rest)| rest);
        let _ = writeln!(out, "  <entry>");
        let _ = writeln!(out, "    <id>urn:uuid:{}</id>", w.id);
        let _ = writeln!(out, "    <title>{}</title>", escape(&w.headline));
        let _ = writeln!(
            out,
            "    <updated>{}</updated>",
            crate::time::rfc3339(w.issued_at)
        );
        let _ = writeln!(out, "    <summary>{}</summary>", escape(&w.area.area_desc));
        let _ = write!(
            out,
            "    <content type=\"application/cap+xml\">\n{inline}    </content>\n"
        );
        let _ = writeln!(out, "  </entry>");
    }
    out.push_str("</feed>\n");
    Ok(out)
}
