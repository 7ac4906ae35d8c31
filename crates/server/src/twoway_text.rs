//! The words a device shows for a silent question: canned questions, titles and answer labels rendered from the
//! `twoway` Fluent domain of [`jikimi_i18n`] (`crates/i18n/locales/<tag>/twoway.ftl`, fourteen languages), in the
//! subscriber's language.
//!
//! A canned question `x` has two messages: `twoway-x`, and `twoway-x-discreet`, shown after a duress PIN unless the
//! dispatcher chose to reveal (see [`jikimi_respond::twoway`]). Language negotiation and fallback are the i18n
//! crate's: the subscriber's tag is negotiated (`vi-VN` finds `vi`), then English, then Korean.

use std::collections::BTreeMap;

use jikimi_i18n::{Args, Localizer};
use jikimi_respond::twoway::CANNED;
use jikimi_respond::{Answer, AnswerKind, Question, SubscriberId};
use jikimi_store::Store;

/// The language used when an incident has no subscriber (an unregistered device): the service's default.
pub const DEFAULT_LANGUAGE: &str = jikimi_i18n::DEFAULT_LANGUAGE;

/// The language a device's text is rendered in: the subscriber's `language` (a canonical BCP 47 tag), or
/// [`DEFAULT_LANGUAGE`] when there is no subscriber. The tag is read from the sealed record without decrypting
/// anything, as the console's "Caller's language" line does, so there is nothing to audit.
pub async fn language_of(
    store: &dyn Store,
    subscriber: Option<SubscriberId>,
) -> Result<String, jikimi_store::Error> {
    let Some(sid) = subscriber else {
        return Ok(DEFAULT_LANGUAGE.to_string());
    };
    match store.get_subscriber(sid).await {
        Ok(record) => Ok(record.language),
        Err(err) if err.is_not_found() => Ok(DEFAULT_LANGUAGE.to_string()),
        Err(err) => Err(err),
    }
}

/// The language the texts for `lang` are actually in: the negotiated one, or the first fallback that exists.
pub fn shown_language(lang: &str) -> &'static str {
    Localizer::global()
        .chain(lang)
        .first()
        .copied()
        .unwrap_or(DEFAULT_LANGUAGE)
}

/// Renders message `id` in `lang` with the crate's fallback; a message no language has renders as its id, so a gap
/// shows up in tests rather than as an empty screen. `args` are a canned question's arguments: only the names its
/// definition declares are passed (the i18n crate takes static names), so a stray argument cannot reach the text.
pub fn render(lang: &str, id: &str, args: &BTreeMap<String, String>) -> String {
    let mut fluent = Args::new();
    let mut passed: Vec<&'static str> = Vec::new();
    for name in CANNED.iter().flat_map(|q| q.args.iter().copied()) {
        if let Some(value) = args.get(name).filter(|_| !passed.contains(&name)) {
            fluent = fluent.with(name, value.clone());
            passed.push(name);
        }
    }
    Localizer::global().render(lang, id, &fluent)
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
    use jikimi_i18n::LANGUAGES;
    use jikimi_respond::twoway::PRESETS;

    fn args_for(q: &jikimi_respond::twoway::CannedQuestion) -> BTreeMap<String, String> {
        q.args.iter().map(|a| (a.to_string(), "5".into())).collect()
    }

    #[test]
    fn every_message_exists_in_every_language() {
        let none = BTreeMap::new();
        for lang in LANGUAGES.iter().map(|l| l.tag) {
            assert_eq!(shown_language(lang), lang);
            let mut ids: Vec<String> = vec![
                "twoway-title".into(),
                "twoway-title-discreet".into(),
                "twoway-answer-yes".into(),
                "twoway-answer-no".into(),
            ];
            ids.extend(PRESETS.iter().map(|p| format!("twoway-preset-{p}")));
            for id in ids {
                let rendered = Localizer::global().try_render(lang, &id, &Args::new());
                assert!(rendered.is_ok(), "{lang}: {id} missing");
                assert_ne!(render(lang, &id, &none), id, "{lang}: {id} missing");
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

    /// After a duress PIN whoever holds the device may be the attacker: no discreet text, in any language, names
    /// the police, 112 or an attacker (the words below are each language's, from its own plain forms).
    #[test]
    fn discreet_wording_never_names_police() {
        let words = [
            "police",
            "112",
            "attacker",
            "경찰",
            "가해자",
            "출동",
            "警察",
            "袭击",
            "cảnh sát",
            "kẻ tấn công",
            "ตำรวจ",
            "ผู้ก่อเหตุ",
            "politsiya",
            "hujumchi",
            "полиц",
            "нападающ",
            "цагдаа",
            "халдагч",
            "प्रहरी",
            "आक्रमणकारी",
            "ប៉ូលិស",
            "ជនវាយប្រហារ",
            "polisi",
            "penyerang",
            "pulis",
            "umatake",
            "ရဲ",
            "တိုက်ခိုက်သူ",
            "පොලිසිය",
            "පහරදෙන්නා",
        ];
        for lang in LANGUAGES.iter().map(|l| l.tag) {
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
    fn the_subscribers_language_then_english_then_korean() {
        let q = Question::Canned {
            id: "help-coming".into(),
            args: [("minutes".to_string(), "7".to_string())].into(),
        };
        assert_eq!(
            question_text(DEFAULT_LANGUAGE, &q, false).unwrap(),
            "경찰이 약 7분 뒤 도착합니다. 가능하면 숨어 계세요."
        );
        assert_eq!(
            question_text("vi-VN", &q, false).unwrap(),
            "Cảnh sát sẽ đến trong khoảng 7 phút. Hãy ẩn nấp nếu có thể."
        );
        assert_eq!(
            question_text("vi", &q, true).unwrap(),
            "Nhắc nhở: khoảng 7 phút."
        );
        assert_eq!(
            question_text("xx", &q, true).unwrap(),
            "Reminder: about 7 minutes.",
            "an unknown language falls back to English"
        );
        assert_eq!(shown_language("xx"), "en");
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
