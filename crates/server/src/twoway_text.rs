//! The words a device shows for a silent question: canned questions, titles and answer labels rendered from the
//! Fluent messages in `crates/i18n/locales/{en,ko}/twoway.ftl`, in the subscriber's language.
//!
//! SEAM: this module renders with `fluent-bundle` directly, from the two `.ftl` files compiled in. When the
//! `jikimi-i18n` crate (`Localizer::render(lang, id, args)`, 14 languages) lands, the lead replaces
//! [`render`]'s body with a call to it and [`language_of`] with the subscriber's `language` field; nothing else here
//! needs to change. Until then every device gets Korean ([`DEFAULT_LANGUAGE`]).
//!
//! A canned question `x` has two messages: `twoway-x`, and `twoway-x-discreet`, shown after a duress PIN unless the
//! dispatcher chose to reveal (see [`jikimi_respond::twoway`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use jikimi_respond::{Answer, AnswerKind, Question};

/// The language used when a subscriber has none (or an unsupported one).
pub const DEFAULT_LANGUAGE: &str = "ko";
/// The languages this module has messages for.
pub const LANGUAGES: [&str; 2] = ["ko", "en"];

const SOURCES: [(&str, &str); 2] = [
    ("ko", include_str!("../../i18n/locales/ko/twoway.ftl")),
    ("en", include_str!("../../i18n/locales/en/twoway.ftl")),
];

type Bundle = FluentBundle<FluentResource>;

fn bundles() -> &'static Vec<(&'static str, Bundle)> {
    static BUNDLES: OnceLock<Vec<(&'static str, Bundle)>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        SOURCES
            .iter()
            .filter_map(|(lang, source)| {
                // A parse error is caught by this module's tests; at run time the language is left out.
                let resource = FluentResource::try_new((*source).to_string()).ok()?;
                let langid = lang.parse().ok()?;
                let mut bundle = Bundle::new_concurrent(vec![langid]);
                // Isolation marks around arguments are invisible characters that some phone fonts draw as boxes.
                bundle.set_use_isolating(false);
                bundle.add_resource(resource).ok()?;
                Some((*lang, bundle))
            })
            .collect()
    })
}

/// The language a device's text is rendered in. SEAM: the subscriber's `language` field goes here.
pub fn language_of(_subscriber: Option<jikimi_respond::SubscriberId>) -> &'static str {
    DEFAULT_LANGUAGE
}

/// Renders message `id` in `lang` (falling back to [`DEFAULT_LANGUAGE`], then to the id itself, so a missing
/// message shows up in tests rather than as an empty screen).
pub fn render(lang: &str, id: &str, args: &BTreeMap<String, String>) -> String {
    let all = bundles();
    let pick = |l: &str| all.iter().find(|(name, _)| *name == l).map(|(_, b)| b);
    for bundle in [pick(lang), pick(DEFAULT_LANGUAGE)].into_iter().flatten() {
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            continue;
        };
        let mut fluent_args = FluentArgs::new();
        for (k, v) in args {
            fluent_args.set(k.as_str(), v.as_str());
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if errors.is_empty() {
            return text.into_owned();
        }
    }
    id.to_string()
}

/// The question's text as the device shows it; `None` for free text that must not be shown (discreet, not revealed:
/// the dispatcher's own words could say anything, so they wait until the dispatcher reveals or asks a canned one).
pub fn question_text(lang: &str, question: &Question, discreet: bool) -> Option<String> {
    match question {
        Question::Canned { id, args } => {
            let suffix = if discreet { "-discreet" } else { "" };
            Some(render(lang, &format!("twoway-{id}{suffix}"), args))
        }
        Question::Free { .. } if discreet => None,
        Question::Free { text } => Some(text.clone()),
    }
}

/// The title above a question on the device.
pub fn title(lang: &str, discreet: bool) -> String {
    let id = if discreet {
        "twoway-title-discreet"
    } else {
        "twoway-title"
    };
    render(lang, id, &BTreeMap::new())
}

/// The buttons a device offers: each label with the answer its tap sends. A number answer gets one button per
/// number (ranges are at most 0..=99; the console's canned number question is 0..=20).
pub fn options(lang: &str, kind: &AnswerKind) -> Vec<(String, Answer)> {
    let none = BTreeMap::new();
    match kind {
        AnswerKind::YesNo => vec![
            (
                render(lang, "twoway-answer-yes", &none),
                Answer::YesNo(true),
            ),
            (
                render(lang, "twoway-answer-no", &none),
                Answer::YesNo(false),
            ),
        ],
        AnswerKind::Number { min, max } => (*min..=*max)
            .map(|n| (n.to_string(), Answer::Number(n)))
            .collect(),
        AnswerKind::Preset { options } => options
            .iter()
            .map(|o| {
                (
                    render(lang, &format!("twoway-preset-{o}"), &none),
                    Answer::Preset(o.clone()),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jikimi_respond::twoway::{CANNED, PRESETS};

    fn args_for(q: &jikimi_respond::twoway::CannedQuestion) -> BTreeMap<String, String> {
        q.args.iter().map(|a| (a.to_string(), "5".into())).collect()
    }

    #[test]
    fn every_message_exists_in_every_language() {
        for (lang, source) in SOURCES {
            assert!(
                FluentResource::try_new(source.to_string()).is_ok(),
                "{lang} parses"
            );
        }
        assert_eq!(bundles().len(), SOURCES.len());
        let none = BTreeMap::new();
        for lang in LANGUAGES {
            let mut ids: Vec<String> = vec![
                "twoway-title".into(),
                "twoway-title-discreet".into(),
                "twoway-answer-yes".into(),
                "twoway-answer-no".into(),
            ];
            ids.extend(PRESETS.iter().map(|p| format!("twoway-preset-{p}")));
            for id in ids {
                let text = render(lang, &id, &none);
                assert_ne!(text, id, "{lang}: {id} missing");
            }
            for q in CANNED {
                for discreet in [false, true] {
                    let question = Question::Canned {
                        id: q.id.into(),
                        args: args_for(q),
                    };
                    let text = question_text(lang, &question, discreet).unwrap();
                    assert!(!text.starts_with("twoway-"), "{lang}: {} missing", q.id);
                    assert!(!text.contains('{'), "{lang}: {text}");
                }
            }
        }
    }

    #[test]
    fn discreet_wording_never_names_police() {
        let words = ["police", "112", "경찰", "attacker", "가해자", "출동"];
        for lang in LANGUAGES {
            let mut shown = vec![title(lang, true)];
            for q in CANNED {
                let question = Question::Canned {
                    id: q.id.into(),
                    args: args_for(q),
                };
                shown.push(question_text(lang, &question, true).unwrap());
                shown.extend(options(lang, &q.answer.kind()).into_iter().map(|o| o.0));
            }
            for text in shown {
                let lower = text.to_lowercase();
                for word in words {
                    assert!(!lower.contains(word), "{lang}: {text:?} says {word:?}");
                }
            }
        }
    }

    #[test]
    fn korean_by_default_english_on_request() {
        let q = Question::Canned {
            id: "help-coming".into(),
            args: [("minutes".to_string(), "7".to_string())].into(),
        };
        assert_eq!(
            question_text(language_of(None), &q, false).unwrap(),
            "경찰이 약 7분 뒤 도착합니다. 가능하면 숨어 계세요."
        );
        assert_eq!(
            question_text("en", &q, false).unwrap(),
            "Police will arrive in about 7 minutes. Stay hidden if you can."
        );
        assert_eq!(
            question_text("xx", &q, true).unwrap(),
            "알림: 약 7분.",
            "an unknown language falls back to Korean"
        );
        let free = Question::Free {
            text: "Knock twice if you can hear us".into(),
        };
        assert_eq!(question_text("ko", &free, true), None);
        assert_eq!(
            question_text("ko", &free, false).as_deref(),
            Some("Knock twice if you can hear us")
        );
    }
}
