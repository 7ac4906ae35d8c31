//! The messages guardians receive, in Korean and English, chosen by the guardian's language. Pure: the facts and
//! the time zone are parameters.
//!
//! Messages name the person the guardian looks after (the guardian knows them; a guardian may look after several)
//! but carry no location, no medical notes and nothing else from the subscriber's record: they tell the guardian
//! that 112 is responding, not what the dispatcher sees.

use chrono::{FixedOffset, TimeZone as _};
use jikimi_respond::{IncidentId, Timestamp};

/// A guardian's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// 한국어 (the default).
    Ko,
    /// English.
    En,
}

impl Language {
    /// From a language tag (`ko`, `ko-KR`, `en`, `en-GB`, any case); anything else is Korean, the service's language.
    pub fn from_tag(tag: Option<&str>) -> Language {
        match tag.map(|t| t.trim().to_ascii_lowercase()) {
            Some(t) if t == "en" || t.starts_with("en-") || t.starts_with("en_") => Language::En,
            _ => Language::Ko,
        }
    }

    /// The tag (`ko` or `en`).
    pub fn tag(self) -> &'static str {
        match self {
            Language::Ko => "ko",
            Language::En => "en",
        }
    }
}

/// What happened, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An SOS alert opened an incident.
    AlertReceived,
    /// A unit was sent.
    Dispatched,
    /// The incident was closed.
    Closed,
}

impl Event {
    /// From the outbox's event name; `None` for events guardians are not told about.
    pub fn from_name(name: &str) -> Option<Event> {
        match name {
            // A clustered alert (surge) is, for its own subscriber's guardians, the alert they raised.
            "alert_received" | "report_added" => Some(Event::AlertReceived),
            "dispatched" => Some(Event::Dispatched),
            "closed" => Some(Event::Closed),
            _ => None,
        }
    }
}

/// The facts a message is rendered from.
#[derive(Clone)]
pub struct Facts<'a> {
    /// What happened.
    pub event: Event,
    /// The incident (a short reference is shown).
    pub incident_id: IncidentId,
    /// When it happened.
    pub at: Timestamp,
    /// The subscriber's name, if still on record.
    pub subscriber_name: Option<&'a str>,
    /// The centre's offset from UTC, for the time shown.
    pub utc_offset: FixedOffset,
}

impl std::fmt::Debug for Facts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facts")
            .field("event", &self.event)
            .field("incident_id", &self.incident_id)
            .finish_non_exhaustive()
    }
}

/// A rendered message.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Subject line (e-mail) or title.
    pub subject: String,
    /// Body text.
    pub text: String,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message(<personal data>)")
    }
}

/// Renders the message for `facts` in `language`.
pub fn render(language: Language, facts: &Facts<'_>) -> Message {
    let time = facts
        .utc_offset
        .timestamp_millis_opt(facts.at.as_unix_ms())
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M (UTC%:z)").to_string())
        .unwrap_or_else(|| "-".into());
    let reference = facts.incident_id.0.simple().to_string();
    let reference = &reference[reference.len().saturating_sub(8)..];
    match language {
        Language::Ko => {
            let who = facts.subscriber_name.unwrap_or("보호 대상자");
            let (subject, line) = match facts.event {
                Event::AlertReceived => (
                    format!("[지킴이] {who}님의 긴급 신고"),
                    format!(
                        "{who}님이 {time}에 긴급(SOS) 신고를 했습니다. 112 상황실이 접수하여 대응하고 있습니다."
                    ),
                ),
                Event::Dispatched => (
                    format!("[지킴이] {who}님에게 경찰 출동"),
                    format!("{time}에 경찰관이 {who}님에게 출동했습니다."),
                ),
                Event::Closed => (
                    format!("[지킴이] {who}님의 신고 처리 종료"),
                    format!("{who}님의 신고 처리가 {time}에 종료되었습니다."),
                ),
            };
            Message {
                subject,
                text: format!(
                    "{line}\n사건 번호: {reference}\n\n이 메시지에는 회신할 수 없습니다. 도움이 될 정보가 있으면 112로 전화해 주십시오."
                ),
            }
        }
        Language::En => {
            let who = facts.subscriber_name.unwrap_or("the person you look after");
            let (subject, line) = match facts.event {
                Event::AlertReceived => (
                    format!("jikimi: SOS alert from {who}"),
                    format!(
                        "{who} raised an SOS alert at {time}. The 112 centre has received it and is responding."
                    ),
                ),
                Event::Dispatched => (
                    format!("jikimi: police on their way to {who}"),
                    format!("Police officers were sent to {who} at {time}."),
                ),
                Event::Closed => (
                    format!("jikimi: alert from {who} closed"),
                    format!("The 112 centre closed the alert from {who} at {time}."),
                ),
            };
            Message {
                subject,
                text: format!(
                    "{line}\nReference: {reference}\n\nPlease do not reply to this message. If you know something that may help, call 112."
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(event: Event, name: Option<&str>) -> Facts<'_> {
        Facts {
            event,
            incident_id: IncidentId(uuid::Uuid::from_u128(
                0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
            )),
            // 2026-01-01T00:00:00Z.
            at: Timestamp::from_unix_ms(1_767_225_600_000),
            subscriber_name: name,
            utc_offset: FixedOffset::east_opt(9 * 3600).unwrap(),
        }
    }

    #[test]
    fn korean_and_english_by_language_tag() {
        assert_eq!(Language::from_tag(Some("en-GB")), Language::En);
        assert_eq!(Language::from_tag(Some("EN")), Language::En);
        assert_eq!(Language::from_tag(Some("ko-KR")), Language::Ko);
        assert_eq!(Language::from_tag(Some("fr")), Language::Ko);
        assert_eq!(Language::from_tag(None), Language::Ko);

        let ko = render(Language::Ko, &facts(Event::AlertReceived, Some("김민지")));
        assert_eq!(ko.subject, "[지킴이] 김민지님의 긴급 신고");
        assert!(
            ko.text.starts_with(
                "김민지님이 2026-01-01 09:00 (UTC+09:00)에 긴급(SOS) 신고를 했습니다."
            )
        );
        assert!(ko.text.contains("사건 번호: 89abcdef"));

        let en = render(Language::En, &facts(Event::Dispatched, None));
        assert_eq!(
            en.subject,
            "jikimi: police on their way to the person you look after"
        );
        assert!(en.text.contains("at 2026-01-01 09:00 (UTC+09:00)"));
        assert!(en.text.contains("Reference: 89abcdef"));

        let closed = render(Language::En, &facts(Event::Closed, Some("Kim Minji")));
        assert_eq!(closed.subject, "jikimi: alert from Kim Minji closed");
        assert!(!format!("{closed:?}").contains("Kim"));
    }

    #[test]
    fn only_the_notifying_events_have_templates() {
        assert_eq!(
            Event::from_name("alert_received"),
            Some(Event::AlertReceived)
        );
        assert_eq!(Event::from_name("dispatched"), Some(Event::Dispatched));
        assert_eq!(Event::from_name("closed"), Some(Event::Closed));
        assert_eq!(Event::from_name("acknowledged"), None);
    }
}
