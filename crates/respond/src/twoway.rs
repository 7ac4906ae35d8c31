//! Silent two-way text: a dispatcher's question to the device that raised an incident, and the device's tapped
//! answer, both events in the incident's log (text-to-112 style: "Is the attacker still there? 1 yes 2 no").
//!
//! A question is either canned (an id from [`CANNED`] with named arguments, rendered in the subscriber's language by
//! the server) or free text of at most [`FREE_TEXT_MAX_CHARS`] characters. Its answer kind says which taps the device
//! offers: yes/no, a number in a range, or one of a preset list. The device answers once per question.
//!
//! Duress: after a duress PIN the person holding the phone may be the attacker, so the device shows a question
//! *discreetly* (neutral wording, nothing that says police are coming) unless the dispatcher chose to reveal it when
//! sending ([`DeviceMessage::discreet`]). The choice is in the event, and so in the audit log.

use crate::{Timestamp, TransitionError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The longest free-text question, in characters (an SMS-sized screen).
pub const FREE_TEXT_MAX_CHARS: usize = 160;
/// The most options a preset answer may offer.
pub const PRESET_MAX_OPTIONS: usize = 6;
/// The widest number range a number answer may ask for.
pub const NUMBER_MAX: i64 = 99;

/// What the dispatcher asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Question {
    /// A question from the canned list, by id, with its arguments (e.g. `minutes`).
    Canned {
        /// An id of [`CANNED`].
        id: String,
        /// Named arguments the message uses.
        #[serde(default)]
        args: BTreeMap<String, String>,
    },
    /// The dispatcher's own words, shown as written.
    Free {
        /// At most [`FREE_TEXT_MAX_CHARS`] characters.
        text: String,
    },
}

/// Which taps the device offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerKind {
    /// Two buttons: yes and no.
    YesNo,
    /// A number in `min..=max` (0..=[`NUMBER_MAX`]).
    Number {
        /// Smallest.
        min: i64,
        /// Largest.
        max: i64,
    },
    /// One of these preset ids (each a rendered message `twoway-preset-<id>`).
    Preset {
        /// 1..=[`PRESET_MAX_OPTIONS`] ids, distinct.
        options: Vec<String>,
    },
}

/// A tapped answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Answer {
    /// Yes (true) or no (false).
    YesNo(bool),
    /// A number.
    Number(i64),
    /// A preset id.
    Preset(String),
}

/// One canned question: its id (also its Fluent message id, `twoway-<id>` and `twoway-<id>-discreet`), the
/// arguments it needs and the answer it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CannedQuestion {
    /// Stable id.
    pub id: &'static str,
    /// Argument names the message uses; each must be given.
    pub args: &'static [&'static str],
    /// The answer kind it asks for.
    pub answer: CannedAnswer,
}

/// The answer kind of a canned question, as constant data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannedAnswer {
    /// Yes or no.
    YesNo,
    /// A number in range.
    Number(i64, i64),
    /// One of these presets.
    Preset(&'static [&'static str]),
}

impl CannedAnswer {
    /// The answer kind.
    pub fn kind(self) -> AnswerKind {
        match self {
            CannedAnswer::YesNo => AnswerKind::YesNo,
            CannedAnswer::Number(min, max) => AnswerKind::Number { min, max },
            CannedAnswer::Preset(options) => AnswerKind::Preset {
                options: options.iter().map(|o| o.to_string()).collect(),
            },
        }
    }
}

/// The canned questions, in the order the console lists them.
pub const CANNED: &[CannedQuestion] = &[
    CannedQuestion {
        id: "attacker-present",
        args: &[],
        answer: CannedAnswer::YesNo,
    },
    CannedQuestion {
        id: "safe-now",
        args: &[],
        answer: CannedAnswer::YesNo,
    },
    CannedQuestion {
        id: "injured",
        args: &[],
        answer: CannedAnswer::YesNo,
    },
    CannedQuestion {
        id: "people-count",
        args: &[],
        answer: CannedAnswer::Number(0, 20),
    },
    CannedQuestion {
        id: "where",
        args: &[],
        answer: CannedAnswer::Preset(&["inside", "outside", "vehicle"]),
    },
    CannedQuestion {
        id: "help-coming",
        args: &["minutes"],
        answer: CannedAnswer::Preset(&["ok"]),
    },
];

/// The preset ids a free-text question may offer, and that canned ones use.
pub const PRESETS: &[&str] = &["inside", "outside", "vehicle", "ok"];

/// The canned question `id`, if there is one.
pub fn canned(id: &str) -> Option<&'static CannedQuestion> {
    CANNED.iter().find(|q| q.id == id)
}

/// Why a question cannot be sent as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuestionError {
    /// No canned question has this id.
    #[error("unknown canned question {0:?}")]
    UnknownCanned(String),
    /// A canned question's arguments do not match what it needs.
    #[error("canned question {id:?} needs the arguments {needs:?}, each at most 16 characters")]
    Arguments {
        /// The question.
        id: String,
        /// The names it needs.
        needs: Vec<&'static str>,
    },
    /// Free text empty or too long.
    #[error("free text: 1 to {FREE_TEXT_MAX_CHARS} characters, no control characters")]
    FreeText,
    /// A canned question's answer kind is fixed.
    #[error("a canned question has its own answer kind")]
    CannedAnswerKind,
    /// The answer kind is not one a device can show.
    #[error(
        "answer kind: yes_no, number with 0 <= min < max <= {NUMBER_MAX}, or 1 to {PRESET_MAX_OPTIONS} distinct known presets"
    )]
    AnswerKind,
}

/// Checks a question and settles its answer kind: a canned question brings its own; free text needs one.
pub fn settle(question: &Question, kind: Option<AnswerKind>) -> Result<AnswerKind, QuestionError> {
    match question {
        Question::Canned { id, args } => {
            let canned = canned(id).ok_or_else(|| QuestionError::UnknownCanned(id.clone()))?;
            let names_match = args.len() == canned.args.len()
                && canned.args.iter().all(|name| {
                    args.get(*name)
                        .is_some_and(|v| !v.is_empty() && v.chars().count() <= 16)
                });
            // Arguments end up on a phone screen: plain short values only.
            let plain = args
                .values()
                .all(|v| v.chars().all(|c| c.is_alphanumeric() || c == ' '));
            if !names_match || !plain {
                return Err(QuestionError::Arguments {
                    id: id.clone(),
                    needs: canned.args.to_vec(),
                });
            }
            match kind {
                None => Ok(canned.answer.kind()),
                Some(k) if k == canned.answer.kind() => Ok(k),
                Some(_) => Err(QuestionError::CannedAnswerKind),
            }
        }
        Question::Free { text } => {
            let n = text.chars().count();
            if text.trim().is_empty()
                || n > FREE_TEXT_MAX_CHARS
                || text.chars().any(char::is_control)
            {
                return Err(QuestionError::FreeText);
            }
            let kind = kind.unwrap_or(AnswerKind::YesNo);
            kind_is_valid(&kind)
                .then_some(kind)
                .ok_or(QuestionError::AnswerKind)
        }
    }
}

fn kind_is_valid(kind: &AnswerKind) -> bool {
    match kind {
        AnswerKind::YesNo => true,
        AnswerKind::Number { min, max } => 0 <= *min && min < max && *max <= NUMBER_MAX,
        AnswerKind::Preset { options } => {
            let distinct: std::collections::BTreeSet<&String> = options.iter().collect();
            !options.is_empty()
                && options.len() <= PRESET_MAX_OPTIONS
                && distinct.len() == options.len()
                && options.iter().all(|o| PRESETS.contains(&o.as_str()))
        }
    }
}

/// Whether `answer` is one the device could have tapped for `kind`.
pub fn answer_fits(kind: &AnswerKind, answer: &Answer) -> bool {
    match (kind, answer) {
        (AnswerKind::YesNo, Answer::YesNo(_)) => true,
        (AnswerKind::Number { min, max }, Answer::Number(n)) => (*min..=*max).contains(n),
        (AnswerKind::Preset { options }, Answer::Preset(p)) => options.contains(p),
        _ => false,
    }
}

/// A question in an incident's projection, with its answer once tapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMessage {
    /// Chosen by the server when sent; the device answers by it.
    pub message_id: Uuid,
    /// The seq of its `question_sent` event.
    pub seq: u64,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// What was asked.
    pub question: Question,
    /// The taps offered.
    pub answer_kind: AnswerKind,
    /// The dispatcher chose to show it as written even under duress (audited with the event).
    pub reveal: bool,
    /// The answer, once tapped.
    pub answer: Option<Answer>,
    /// When it was answered.
    pub answered_at: Option<Timestamp>,
}

impl DeviceMessage {
    /// Whether the device must show it discreetly: the incident is under duress and the dispatcher did not reveal.
    pub fn discreet(&self, under_duress: bool) -> bool {
        under_duress && !self.reveal
    }
}

/// Checks a question or an answer against the messages so far.
pub(crate) fn check_question(
    messages: &[DeviceMessage],
    message_id: Uuid,
) -> Result<(), TransitionError> {
    if messages.iter().any(|m| m.message_id == message_id) {
        return Err(TransitionError::DuplicateMessage(message_id));
    }
    Ok(())
}

pub(crate) fn check_answer(
    messages: &[DeviceMessage],
    message_id: Uuid,
    answer: &Answer,
) -> Result<(), TransitionError> {
    let message = messages
        .iter()
        .find(|m| m.message_id == message_id)
        .ok_or(TransitionError::UnknownMessage(message_id))?;
    if message.answer.is_some() {
        return Err(TransitionError::AlreadyAnswered(message_id));
    }
    if !answer_fits(&message.answer_kind, answer) {
        return Err(TransitionError::AnswerMismatch(message_id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canned_q(id: &str, args: &[(&str, &str)]) -> Question {
        Question::Canned {
            id: id.into(),
            args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn questions_are_settled_or_refused() {
        assert_eq!(
            settle(&canned_q("attacker-present", &[]), None),
            Ok(AnswerKind::YesNo)
        );
        assert_eq!(
            settle(&canned_q("help-coming", &[("minutes", "5")]), None),
            Ok(AnswerKind::Preset {
                options: vec!["ok".into()]
            })
        );
        assert!(matches!(
            settle(&canned_q("help-coming", &[]), None),
            Err(QuestionError::Arguments { .. })
        ));
        assert!(matches!(
            settle(&canned_q("help-coming", &[("minutes", "<b>")]), None),
            Err(QuestionError::Arguments { .. })
        ));
        assert_eq!(
            settle(&canned_q("nope", &[]), None),
            Err(QuestionError::UnknownCanned("nope".into()))
        );
        assert_eq!(
            settle(
                &canned_q("safe-now", &[]),
                Some(AnswerKind::Number { min: 0, max: 3 })
            ),
            Err(QuestionError::CannedAnswerKind)
        );
        let free = |t: &str| Question::Free { text: t.into() };
        assert_eq!(
            settle(&free("Can you see a car?"), None),
            Ok(AnswerKind::YesNo)
        );
        assert_eq!(settle(&free("   "), None), Err(QuestionError::FreeText));
        assert_eq!(
            settle(&free(&"가".repeat(FREE_TEXT_MAX_CHARS + 1)), None),
            Err(QuestionError::FreeText)
        );
        assert!(settle(&free(&"가".repeat(FREE_TEXT_MAX_CHARS)), None).is_ok());
        for bad in [
            AnswerKind::Number { min: 5, max: 5 },
            AnswerKind::Number { min: -1, max: 5 },
            AnswerKind::Number { min: 0, max: 1000 },
            AnswerKind::Preset { options: vec![] },
            AnswerKind::Preset {
                options: vec!["ok".into(), "ok".into()],
            },
            AnswerKind::Preset {
                options: vec!["police".into()],
            },
        ] {
            assert_eq!(
                settle(&free("x"), Some(bad.clone())),
                Err(QuestionError::AnswerKind),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn answers_must_fit_their_kind() {
        let number = AnswerKind::Number { min: 0, max: 20 };
        assert!(answer_fits(&number, &Answer::Number(20)));
        assert!(!answer_fits(&number, &Answer::Number(21)));
        assert!(!answer_fits(&number, &Answer::YesNo(true)));
        assert!(answer_fits(&AnswerKind::YesNo, &Answer::YesNo(false)));
        let preset = CannedAnswer::Preset(&["inside", "outside"]).kind();
        assert!(answer_fits(&preset, &Answer::Preset("inside".into())));
        assert!(!answer_fits(&preset, &Answer::Preset("vehicle".into())));
    }

    #[test]
    fn every_canned_answer_is_valid_and_ids_are_unique() {
        let ids: std::collections::BTreeSet<_> = CANNED.iter().map(|q| q.id).collect();
        assert_eq!(ids.len(), CANNED.len());
        for q in CANNED {
            assert!(kind_is_valid(&q.answer.kind()), "{}", q.id);
        }
    }

    #[test]
    fn answers_serialise_as_kind_and_value() {
        let json = serde_json::to_string(&Answer::YesNo(true)).unwrap();
        assert_eq!(json, r#"{"kind":"yes_no","value":true}"#);
        let back: Answer = serde_json::from_str(r#"{"kind":"preset","value":"ok"}"#).unwrap();
        assert_eq!(back, Answer::Preset("ok".into()));
    }
}
