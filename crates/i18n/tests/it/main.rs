//! The catalogue's completeness and the localizer's behaviour: every domain present in English exists in all
//! fourteen languages with every message id, every message renders with its variables, the fallback order holds,
//! and an unknown or malformed tag still gets text.

// Tests may unwrap: a panic is the failure report there.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use jikimi_i18n::{Args, Error, LANGUAGES, Localizer, canonical_tag, language};

/// Every variable a message may use, with a value that shows up in the text.
fn all_variables() -> Args {
    Args::new()
        .with("who", "VAR_WHO")
        .with("time", "VAR_TIME")
        .with("reference", "VAR_REFERENCE")
        .with("area", "VAR_AREA")
        .with("minutes", "VAR_MINUTES")
}

/// The variables a message's English text names (`{ $name }`).
fn variables_of(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = source;
    while let Some((_, after)) = rest.split_once("{ $") {
        if let Some(name) = after.split([' ', '}']).next() {
            names.insert(name.to_string());
        }
        rest = after;
    }
    names
}

fn english_source(id: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/locales/en");
    for entry in std::fs::read_dir(root).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        if let Some(line) = text.lines().find(|l| l.starts_with(&format!("{id} ="))) {
            return line.to_string();
        }
    }
    panic!("{id} has no English source");
}

#[test]
fn the_fourteen_languages_are_all_there() {
    let tags: BTreeSet<_> = Localizer::global().tags().into_iter().collect();
    let expected: BTreeSet<_> = LANGUAGES.iter().map(|l| l.tag).collect();
    assert_eq!(tags, expected);
}

#[test]
fn every_english_domain_and_message_exists_in_every_language() {
    let l10n = Localizer::global();
    let english = l10n.domains("en");
    assert!(english.contains_key("device") && english.contains_key("guardian"));
    let mut missing = Vec::new();
    for language in LANGUAGES {
        let domains = l10n.domains(language.tag);
        for (domain, ids) in &english {
            let Some(have) = domains.get(domain) else {
                missing.push(format!("{}/{domain}.ftl", language.tag));
                continue;
            };
            for id in ids {
                if !have.contains(id) {
                    missing.push(format!("{}/{domain}.ftl: {id}", language.tag));
                }
            }
            for id in have {
                if !ids.contains(id) {
                    missing.push(format!(
                        "{}/{domain}.ftl has {id}, English has not",
                        language.tag
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "incomplete catalogue:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_message_renders_with_its_variables_in_every_language() {
    let l10n = Localizer::global();
    let mut failures = Vec::new();
    for (_, ids) in l10n.domains("en") {
        for id in ids {
            let wanted = variables_of(&english_source(&id));
            for language in LANGUAGES {
                // Rendered from the language's own bundle: no fallback hides a gap here.
                match l10n.try_render(language.tag, &id, &all_variables()) {
                    Ok(text) => {
                        for name in &wanted {
                            let shown = format!("VAR_{}", name.to_ascii_uppercase());
                            if !text.contains(&shown) {
                                failures
                                    .push(format!("{} {id}: does not show ${name}", language.tag));
                            }
                        }
                        if text.trim().is_empty() {
                            failures.push(format!("{} {id}: empty", language.tag));
                        }
                    }
                    Err(err) => failures.push(format!("{} {id}: {err}", language.tag)),
                }
                // Without its variables a message with some is an error, never a silent gap.
                if !wanted.is_empty() {
                    assert!(matches!(
                        l10n.try_render(language.tag, &id, &Args::new()),
                        Err(Error::Render { .. })
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn other_languages_say_they_await_review_by_a_native_speaker() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    for language in LANGUAGES.iter().filter(|l| !matches!(l.tag, "ko" | "en")) {
        for entry in std::fs::read_dir(root.join(language.tag)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let header = text.lines().next().unwrap_or_default();
            assert!(
                header.starts_with('#')
                    && header
                        .to_lowercase()
                        .contains("awaits review by a native speaker"),
                "{} lacks the review header",
                path.display()
            );
        }
    }
}

#[test]
fn negotiation_finds_regional_and_script_variants() {
    let l10n = Localizer::global();
    for (requested, found) in [
        ("vi", Some("vi")),
        ("vi-VN", Some("vi")),
        ("zh-Hans", Some("zh-Hans")),
        ("zh-CN", Some("zh-Hans")),
        ("zh", Some("zh-Hans")),
        ("fil-PH", Some("fil")),
        ("ko-KR", Some("ko")),
        ("EN-gb", Some("en")),
        ("my-MM", Some("my")),
        ("fr", None),
        ("not a tag", None),
    ] {
        assert_eq!(l10n.negotiate(requested), found, "{requested}");
    }
    assert_eq!(language("vi-VN").unwrap().native, "Tiếng Việt");
}

#[test]
fn fallback_is_english_then_korean() {
    let l10n = Localizer::global();
    assert_eq!(l10n.chain("vi"), ["vi", "en", "ko"]);
    assert_eq!(l10n.chain("ko"), ["ko", "en"]);
    assert_eq!(l10n.chain("fr-CA"), ["en", "ko"]);
    // An unknown language reads English.
    assert_eq!(
        l10n.render("fr-CA", "device-alert-accepted", &Args::new()),
        "Help is on its way."
    );
    assert_eq!(
        l10n.render("xx", "device-cancelled", &Args::new()),
        "Your alert was cancelled."
    );
    // A malformed tag too.
    assert_eq!(
        l10n.render("!!", "device-alert-accepted", &Args::new()),
        "Help is on its way."
    );
    // A message no language has shows its id (a visible gap) and is an error to try_render.
    assert_eq!(
        l10n.render("vi", "no-such-message", &Args::new()),
        "no-such-message"
    );
    assert_eq!(
        l10n.try_render("vi", "no-such-message", &Args::new()),
        Err(Error::UnknownMessage("no-such-message".into()))
    );
    // The console catalogue of an unknown language is the English one.
    assert_eq!(
        l10n.catalogue("fr", "console"),
        l10n.catalogue("en", "console")
    );
}

#[test]
fn rendering_in_a_language_uses_its_own_words() {
    let l10n = Localizer::global();
    let args = Args::new()
        .with("who", "Nguyễn Thị Lan")
        .with("time", "09:00")
        .with("reference", "89abcdef");
    assert_eq!(
        l10n.render("vi", "guardian-alert-subject", &args),
        "jikimi: Nguyễn Thị Lan đã gửi tín hiệu khẩn cấp SOS"
    );
    assert_eq!(
        l10n.render("ko", "device-alert-accepted", &Args::new()),
        "도움이 가고 있습니다."
    );
    // No Unicode isolation marks: the text goes to SMS and terminals as it is.
    assert!(
        !l10n
            .render("vi", "guardian-alert-body", &args)
            .contains('\u{2068}')
    );
}

#[test]
fn tags_are_checked_and_made_canonical() {
    assert_eq!(canonical_tag("vi").unwrap(), "vi");
    assert_eq!(canonical_tag(" EN-gb ").unwrap(), "en-GB");
    assert_eq!(canonical_tag("zh-hans-cn").unwrap(), "zh-Hans-CN");
    for bad in [
        "",
        "not a tag",
        "e",
        "en_US_x_y_z_too_long_for_a_language_tag",
        "<script>",
    ] {
        assert_eq!(canonical_tag(bad), Err(Error::InvalidTag), "{bad:?}");
    }
}
