//! The messages guardians receive, in the guardian's language (else the subscriber's, else Korean), from the
//! `guardian` Fluent domain of `jikimi_i18n` in fourteen languages. Pure: the facts and the time zone are parameters.
//!
//! Messages name the person the guardian looks after (the guardian knows them; a guardian may look after several)
//! but carry no location, no medical notes and nothing else from the subscriber's record: they tell the guardian
//! that 112 is responding, not what the dispatcher sees.

use chrono::{FixedOffset, TimeZone as _};
use jikimi_i18n::Args;
use jikimi_respond::{IncidentId, Timestamp};

/// A guardian's language: one of the fourteen the service speaks (`jikimi_i18n::LANGUAGES`), negotiated from the
/// BCP 47 tag on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Language(&'static str);

impl Language {
    /// Korean, the service's language and the default.
    pub const KO: Language = Language("ko");
    /// English.
    pub const EN: Language = Language("en");

    /// From a language tag (`vi`, `vi-VN`, `zh-CN`, `EN-gb`, any case); a tag the service has no language for
    /// reads English (the first fallback), and none at all Korean, the service's language.
    pub fn from_tag(tag: Option<&str>) -> Language {
        match tag.map(str::trim).filter(|t| !t.is_empty()) {
            None => Language::KO,
            Some(tag) => Language(
                jikimi_i18n::Localizer::global()
                    .chain(tag)
                    .first()
                    .copied()
                    .unwrap_or("ko"),
            ),
        }
    }

    /// The first of `tags` that is set: the guardian's own language, else the subscriber's.
    pub fn first_of(tags: &[Option<&str>]) -> Language {
        Language::from_tag(
            tags.iter()
                .flatten()
                .copied()
                .find(|t| !t.trim().is_empty()),
        )
    }

    /// The tag (`ko`, `en`, `vi`, `zh-Hans`, ...).
    pub fn tag(self) -> &'static str {
        self.0
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
    let reference = reference[reference.len().saturating_sub(8)..].to_string();
    let l10n = jikimi_i18n::Localizer::global();
    let lang = language.tag();
    let who = match facts.subscriber_name {
        Some(name) => name.to_string(),
        None => l10n.render(lang, "guardian-someone", &Args::new()),
    };
    let args = Args::new()
        .with("who", who)
        .with("time", time)
        .with("reference", reference);
    let (subject, body) = match facts.event {
        Event::AlertReceived => ("guardian-alert-subject", "guardian-alert-body"),
        Event::Dispatched => ("guardian-dispatched-subject", "guardian-dispatched-body"),
        Event::Closed => ("guardian-closed-subject", "guardian-closed-body"),
    };
    Message {
        subject: l10n.render(lang, subject, &args),
        text: format!(
            "{}\n{}\n\n{}",
            l10n.render(lang, body, &args),
            l10n.render(lang, "guardian-reference", &args),
            l10n.render(lang, "guardian-no-reply", &args),
        ),
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
        assert_eq!(Language::from_tag(Some("en-GB")), Language::EN);
        assert_eq!(Language::from_tag(Some("EN")), Language::EN);
        assert_eq!(Language::from_tag(Some("ko-KR")), Language::KO);
        // A language the service lacks reads English; no language at all, Korean.
        assert_eq!(Language::from_tag(Some("fr")), Language::EN);
        assert_eq!(Language::from_tag(Some("vi-VN")).tag(), "vi");
        assert_eq!(Language::from_tag(Some("zh-CN")).tag(), "zh-Hans");
        assert_eq!(Language::first_of(&[None, Some("th")]).tag(), "th");
        assert_eq!(Language::first_of(&[Some("ru"), Some("th")]).tag(), "ru");
        assert_eq!(Language::from_tag(None), Language::KO);

        let ko = render(Language::KO, &facts(Event::AlertReceived, Some("김민지")));
        assert_eq!(ko.subject, "[지킴이] 김민지님의 긴급 신고");
        assert!(
            ko.text.starts_with(
                "김민지님이 2026-01-01 09:00 (UTC+09:00)에 긴급(SOS) 신고를 했습니다."
            )
        );
        assert!(ko.text.contains("사건 번호: 89abcdef"));

        let en = render(Language::EN, &facts(Event::Dispatched, None));
        assert_eq!(
            en.subject,
            "jikimi: police on their way to the person you look after"
        );
        assert!(en.text.contains("at 2026-01-01 09:00 (UTC+09:00)"));
        assert!(en.text.contains("Reference: 89abcdef"));

        let closed = render(Language::EN, &facts(Event::Closed, Some("Kim Minji")));
        assert_eq!(closed.subject, "jikimi: alert from Kim Minji closed");
        assert!(!format!("{closed:?}").contains("Kim"));
    }

    #[test]
    fn every_language_renders_every_event_with_the_name_and_reference() {
        for language in jikimi_i18n::LANGUAGES {
            for event in [Event::AlertReceived, Event::Dispatched, Event::Closed] {
                let m = render(
                    Language::from_tag(Some(language.tag)),
                    &facts(event, Some("Trần Văn An")),
                );
                assert!(m.subject.contains("Trần Văn An"), "{}", language.tag);
                assert!(m.text.contains("Trần Văn An"), "{}", language.tag);
                assert!(m.text.contains("89abcdef"), "{}", language.tag);
                assert!(m.text.contains("2026-01-01 09:00"), "{}", language.tag);
            }
        }
        let vi = render(
            Language::from_tag(Some("vi")),
            &facts(Event::Dispatched, None),
        );
        assert_eq!(
            vi.subject,
            "jikimi: cảnh sát đang đến chỗ người bạn đang chăm sóc"
        );
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
