//! Localised text for people who are not staff (device feedback, guardian notifications, welfare checks) and the
//! console's labels, from Project Fluent message files in fourteen languages.
//!
//! The files are `locales/<bcp47>/<domain>.ftl` (domains: `device`, `guardian`, `welfare`, `console`, and any other
//! file put beside them), embedded at build time by `build.rs`: the crate does no I/O at run time. A [`Localizer`]
//! holds one Fluent bundle per language; [`Localizer::render`] negotiates the requested BCP 47 tag against the
//! languages there are (`zh-CN` finds `zh-Hans`, `vi-VN` finds `vi`), renders the message, and falls back to
//! English, then Korean, when the language or the message is missing. [`LANGUAGES`] names each language in English
//! and in itself, for the console.
//!
//! Korean and English are the service's own languages; every other file says in its header that it awaits review by
//! a native speaker. The completeness test (`tests/it`) requires every domain present in English in all fourteen
//! languages, with every message id, each rendering with its variables.
//!
//! Architecture Invariant: pure (no I/O, no clock, no async); no jikimi dependency.
//!
//! ```
//! use jikimi_i18n::{Args, Localizer};
//! let text = Localizer::global().render("vi-VN", "device-alert-accepted", &Args::new());
//! assert_eq!(text, "Sự trợ giúp đang đến.");
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

mod files {
    include!(concat!(env!("OUT_DIR"), "/files.rs"));
}

/// A language the service speaks: its tag, its name in English and its name in itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language {
    /// The BCP 47 tag, as the locale directory is named.
    pub tag: &'static str,
    /// Its name in English.
    pub english: &'static str,
    /// Its name in itself (the autonym), as its readers know it.
    pub native: &'static str,
}

/// The fourteen languages, Korean and English first.
pub const LANGUAGES: [Language; 14] = [
    lang("ko", "Korean", "한국어"),
    lang("en", "English", "English"),
    lang("zh-Hans", "Chinese (Simplified)", "简体中文"),
    lang("vi", "Vietnamese", "Tiếng Việt"),
    lang("th", "Thai", "ไทย"),
    lang("uz", "Uzbek", "Oʻzbekcha"),
    lang("ru", "Russian", "Русский"),
    lang("mn", "Mongolian", "Монгол"),
    lang("ne", "Nepali", "नेपाली"),
    lang("km", "Khmer", "ខ្មែរ"),
    lang("id", "Indonesian", "Bahasa Indonesia"),
    lang("fil", "Filipino", "Filipino"),
    lang("my", "Burmese", "မြန်မာ"),
    lang("si", "Sinhala", "සිංහල"),
];

const fn lang(tag: &'static str, english: &'static str, native: &'static str) -> Language {
    Language {
        tag,
        english,
        native,
    }
}

/// The service's default language, when nobody said one.
pub const DEFAULT_LANGUAGE: &str = "ko";

/// The fallback order after the requested language: English, then Korean.
pub const FALLBACK: [&str; 2] = ["en", "ko"];

/// The longest language tag accepted (RFC 5646 advises room for 35 characters).
pub const MAX_TAG_LEN: usize = 35;

/// Why a tag or a message could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not a well-formed BCP 47 language tag.
    #[error("not a BCP 47 language tag")]
    InvalidTag,
    /// No language has a message with this id.
    #[error("no message {0}")]
    UnknownMessage(String),
    /// The message rendered with errors (a missing variable, a bad reference).
    #[error("message {id} in {language} rendered with errors: {detail}")]
    Render {
        /// The message id.
        id: String,
        /// The language it was rendered in.
        language: String,
        /// What Fluent reported.
        detail: String,
    },
}

/// Checks a BCP 47 tag and returns its canonical form (`EN-gb` becomes `en-GB`).
pub fn canonical_tag(tag: &str) -> Result<String, Error> {
    let tag = tag.trim();
    if tag.is_empty() || tag.len() > MAX_TAG_LEN {
        return Err(Error::InvalidTag);
    }
    let id: LanguageIdentifier = tag.parse().map_err(|_| Error::InvalidTag)?;
    Ok(id.to_string())
}

/// The language named by `tag` among [`LANGUAGES`], after negotiation (`vi-VN` is Vietnamese); `None` when the
/// service has no such language.
pub fn language(tag: &str) -> Option<&'static Language> {
    let chosen = Localizer::global().negotiate(tag)?;
    LANGUAGES.iter().find(|l| l.tag == chosen)
}

/// Variables of a message, by name.
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: Vec<(&'static str, String)>,
}

impl Args {
    /// No variables.
    pub fn new() -> Args {
        Args::default()
    }

    /// Adds a text variable.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Args {
        self.values.push((name, value.into()));
        self
    }

    fn fluent(&self) -> FluentArgs<'_> {
        let mut args = FluentArgs::new();
        for (name, value) in &self.values {
            args.set(*name, FluentValue::from(value.as_str()));
        }
        args
    }
}

struct Bundle {
    tag: &'static str,
    id: LanguageIdentifier,
    bundle: FluentBundle<FluentResource>,
    /// Message ids by domain, in file order.
    domains: BTreeMap<&'static str, Vec<String>>,
}

/// Fourteen Fluent bundles and the negotiation between them. Build once ([`Localizer::global`]); share freely.
pub struct Localizer {
    bundles: Vec<Bundle>,
}

impl std::fmt::Debug for Localizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Localizer")
            .field(
                "languages",
                &self.bundles.iter().map(|b| b.tag).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Localizer {
    /// The localizer over the embedded files, built on first use.
    pub fn global() -> &'static Localizer {
        static GLOBAL: OnceLock<Localizer> = OnceLock::new();
        GLOBAL.get_or_init(Localizer::embedded)
    }

    /// Builds a localizer from the embedded files. A file that does not parse keeps its good messages (Fluent
    /// recovers per entry); the completeness test catches the rest.
    fn embedded() -> Localizer {
        let mut bundles: Vec<Bundle> = Vec::new();
        for (tag, domain, source) in files::FILES {
            let Ok(id) = tag.parse::<LanguageIdentifier>() else {
                continue;
            };
            let resource = match FluentResource::try_new((*source).to_string()) {
                Ok(resource) => resource,
                Err((resource, _errors)) => resource,
            };
            let ids: Vec<String> = resource
                .entries()
                .filter_map(|entry| match entry {
                    fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                    _ => None,
                })
                .collect();
            let index = match bundles.iter().position(|b| b.tag == *tag) {
                Some(index) => index,
                None => {
                    let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
                    // Plain text for SMS, e-mail and terminals: no Unicode isolation marks around variables.
                    bundle.set_use_isolating(false);
                    bundles.push(Bundle {
                        tag,
                        id,
                        bundle,
                        domains: BTreeMap::new(),
                    });
                    bundles.len() - 1
                }
            };
            let entry = &mut bundles[index];
            // A message defined twice keeps its first definition (add_resource_overriding is not wanted).
            let _ = entry.bundle.add_resource(resource);
            entry.domains.entry(domain).or_default().extend(ids);
        }
        Localizer { bundles }
    }

    /// The tags of the languages there are, in directory order.
    pub fn tags(&self) -> Vec<&'static str> {
        self.bundles.iter().map(|b| b.tag).collect()
    }

    /// The domains (file stems) of a language, with their message ids.
    pub fn domains(&self, tag: &str) -> BTreeMap<&'static str, Vec<String>> {
        self.bundles
            .iter()
            .find(|b| b.tag == tag)
            .map(|b| b.domains.clone())
            .unwrap_or_default()
    }

    /// The available language best matching `requested` (a BCP 47 tag), or `None`.
    pub fn negotiate(&self, requested: &str) -> Option<&'static str> {
        let requested: LanguageIdentifier = requested.trim().parse().ok()?;
        let available: Vec<LanguageIdentifier> =
            self.bundles.iter().map(|b| b.id.clone()).collect();
        let chosen = fluent_langneg::negotiate_languages(
            &[requested],
            &available,
            None,
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        let chosen = chosen.first()?;
        self.bundles
            .iter()
            .find(|b| &b.id == *chosen)
            .map(|b| b.tag)
    }

    /// The languages to try for `requested`, best first: the negotiated one, then English, then Korean.
    pub fn chain(&self, requested: &str) -> Vec<&'static str> {
        let mut chain: Vec<&'static str> = Vec::with_capacity(3);
        for tag in self
            .negotiate(requested)
            .into_iter()
            .chain(FALLBACK.iter().copied())
        {
            if !chain.contains(&tag) {
                chain.push(tag);
            }
        }
        chain
    }

    /// Renders message `id` in the language best matching `lang`, falling back to English, then Korean; reports
    /// a message no language has, or one that rendered with errors.
    pub fn try_render(&self, lang: &str, id: &str, args: &Args) -> Result<String, Error> {
        let fluent_args = args.fluent();
        for tag in self.chain(lang) {
            let Some(bundle) = self.bundles.iter().find(|b| b.tag == tag) else {
                continue;
            };
            let Some(pattern) = bundle.bundle.get_message(id).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle
                .bundle
                .format_pattern(pattern, Some(&fluent_args), &mut errors);
            if !errors.is_empty() {
                return Err(Error::Render {
                    id: id.to_string(),
                    language: tag.to_string(),
                    detail: format!("{errors:?}"),
                });
            }
            return Ok(text.into_owned());
        }
        Err(Error::UnknownMessage(id.to_string()))
    }

    /// Renders message `id` in the language best matching `lang` (see [`Localizer::try_render`]). Never fails: a
    /// message no language has renders as its id, so a gap shows rather than silencing the text.
    pub fn render(&self, lang: &str, id: &str, args: &Args) -> String {
        match self.try_render(lang, id, args) {
            Ok(text) => text,
            Err(Error::Render { .. }) => {
                // Fluent still produced text, with the variable's name in braces; better than nothing.
                self.chain(lang)
                    .into_iter()
                    .filter_map(|tag| self.bundles.iter().find(|b| b.tag == tag))
                    .find_map(|b| {
                        let pattern = b.bundle.get_message(id)?.value()?;
                        let mut errors = Vec::new();
                        Some(
                            b.bundle
                                .format_pattern(pattern, Some(&args.fluent()), &mut errors)
                                .into_owned(),
                        )
                    })
                    .unwrap_or_else(|| id.to_string())
            }
            Err(_) => id.to_string(),
        }
    }

    /// Every message of `domain` rendered without variables in the language best matching `lang` (each id falling
    /// back on its own), keyed by id: the console's label catalogue.
    pub fn catalogue(&self, lang: &str, domain: &str) -> BTreeMap<String, String> {
        let mut ids: Vec<String> = Vec::new();
        for tag in self.chain(lang) {
            for id in self.domains(tag).remove(domain).unwrap_or_default() {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids.into_iter()
            .map(|id| {
                let text = self.render(lang, &id, &Args::new());
                (id, text)
            })
            .collect()
    }
}
