//! The messages guardians receive, in the guardian's language (else the subscriber's, else Korean), from the
//! `guardian` Fluent domain of `jikimi_i18n` in fourteen languages. Pure: the facts and the time zone are parameters.
//!
//! Messages name the person the guardian looks after (the guardian knows them; a guardian may look after several)
//! but carry no location, no medical notes and nothing else from the subscriber's record: they tell the guardian
//! that 112 is responding, not what the dispatcher sees. A disaster's notices name the disaster by its public title
//! (never where the person is) and say what the person answered to "are you safe?", or that they have not.

use chrono::{FixedOffset, TimeZone as _};
use jikimi_i18n::Args;
use jikimi_respond::Timestamp;

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
    /// A disaster was declared where the person was last known to be; they are being asked whether they are safe.
    WelfareAsked,
    /// The person answered that they are safe.
    WelfareSafe,
    /// The person answered that they need help.
    WelfareNeedHelp,
    /// The person answered that they are trapped.
    WelfareTrapped,
    /// The person answered that they are injured.
    WelfareInjured,
    /// The person has not answered past the configured age.
    WelfareSilent,
}

impl Event {
    /// From the outbox's event name; `None` for events guardians are not told about.
    pub fn from_name(name: &str) -> Option<Event> {
        match name {
            // A clustered alert (surge) is, for its own subscriber's guardians, the alert they raised.
            "alert_received" | "report_added" => Some(Event::AlertReceived),
            "dispatched" => Some(Event::Dispatched),
            "closed" => Some(Event::Closed),
            "welfare_asked" => Some(Event::WelfareAsked),
            "welfare_safe" => Some(Event::WelfareSafe),
            "welfare_need_help" => Some(Event::WelfareNeedHelp),
            "welfare_trapped" => Some(Event::WelfareTrapped),
            "welfare_injured" => Some(Event::WelfareInjured),
            "welfare_no_answer" => Some(Event::WelfareSilent),
            _ => None,
        }
    }
}

/// The facts a message is rendered from.
#[derive(Clone)]
pub struct Facts<'a> {
    /// What happened.
    pub event: Event,
    /// The incident, or for a disaster's notice the disaster (a short reference is shown).
    pub reference: uuid::Uuid,
    /// The disaster's public title, for a disaster's notice.
    pub disaster_title: Option<&'a str>,
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
            .field("reference", &self.reference)
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
    let reference = facts.reference.simple().to_string();
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
        .with("reference", reference)
        .with("area", facts.disaster_title.unwrap_or("-").to_string());
    let (subject, body) = match facts.event {
        Event::AlertReceived => ("guardian-alert-subject", "guardian-alert-body"),
        Event::Dispatched => ("guardian-dispatched-subject", "guardian-dispatched-body"),
        Event::Closed => ("guardian-closed-subject", "guardian-closed-body"),
        Event::WelfareAsked => (
            "guardian-welfare-asked-subject",
            "guardian-welfare-asked-body",
        ),
        Event::WelfareSafe => (
            "guardian-welfare-safe-subject",
            "guardian-welfare-safe-body",
        ),
        Event::WelfareNeedHelp => (
            "guardian-welfare-need-help-subject",
            "guardian-welfare-need-help-body",
        ),
        Event::WelfareTrapped => (
            "guardian-welfare-trapped-subject",
            "guardian-welfare-trapped-body",
        ),
        Event::WelfareInjured => (
            "guardian-welfare-injured-subject",
            "guardian-welfare-injured-body",
        ),
        Event::WelfareSilent => (
            "guardian-welfare-silent-subject",
            "guardian-welfare-silent-body",
        ),
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
            reference: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            disaster_title: None,
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
        assert_eq!(Event::from_name("welfare_asked"), Some(Event::WelfareAsked));
        assert_eq!(
            Event::from_name("welfare_no_answer"),
            Some(Event::WelfareSilent)
        );
        assert_eq!(Event::from_name("welfare_maybe"), None);
    }

    /// The disaster's notices: in Korean and English, naming the person and the disaster's title (never a place),
    /// with the reference; every language renders each one.
    #[test]
    fn disaster_notices_name_the_person_and_the_disaster() {
        let title = "포항 지진";
        let notice = |event| Facts {
            disaster_title: Some(title),
            ..facts(event, Some("김민지"))
        };
        let ko = render(Language::KO, &notice(Event::WelfareAsked));
        assert_eq!(
            ko.subject,
            "[지킴이] 김민지님이 재난 지역(포항 지진)에 있을 수 있습니다"
        );
        assert!(ko.text.contains("안전한지 묻고 있으며"), "{}", ko.text);
        assert!(ko.text.contains("사건 번호: 89abcdef"));
        let en = render(Language::EN, &notice(Event::WelfareTrapped));
        assert_eq!(en.subject, "jikimi: 김민지 answered that they are trapped");
        assert!(en.text.contains("2026-01-01 09:00 (UTC+09:00)"));
        assert!(en.text.contains("(포항 지진)"));
        let silent = render(Language::EN, &notice(Event::WelfareSilent));
        assert_eq!(silent.subject, "jikimi: no answer yet from 김민지");
        for language in jikimi_i18n::LANGUAGES {
            for event in [
                Event::WelfareAsked,
                Event::WelfareSafe,
                Event::WelfareNeedHelp,
                Event::WelfareTrapped,
                Event::WelfareInjured,
                Event::WelfareSilent,
            ] {
                let m = render(Language::from_tag(Some(language.tag)), &notice(event));
                assert!(m.subject.contains("김민지"), "{} {event:?}", language.tag);
                assert!(m.text.contains(title), "{} {event:?}", language.tag);
            }
        }
    }
}
