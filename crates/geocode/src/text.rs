//! Text normalisation for search: lower case, Latin diacritics folded (ä→a, ö→o, å→a, é→e, ß→ss), punctuation
//! to spaces, runs of spaces collapsed. Hangul is kept as it is (syllables are compared whole).

/// The search form of `text`.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() {
            match fold(ch) {
                Some(folded) => out.push_str(folded),
                None => out.push(ch),
            }
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Whether `text` has Hangul syllables or jamo (Korean data is formatted in road-name order).
pub fn has_hangul(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
    })
}

/// Folds a lower-case Latin letter with a diacritic to its base letters.
fn fold(ch: char) -> Option<&'static str> {
    Some(match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => "i",
        'ł' | 'ľ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'þ' => "th",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_diacritics_and_punctuation() {
        assert_eq!(
            normalise("  Pohjoisesplanadi 11–13, HKI "),
            "pohjoisesplanadi 11 13 hki"
        );
        assert_eq!(normalise("Säästöpankinranta"), "saastopankinranta");
        assert_eq!(normalise("Straße"), "strasse");
        assert_eq!(normalise("세종대로 110"), "세종대로 110");
        assert!(has_hangul("세종대로") && !has_hangul("Aleksanterinkatu"));
    }
}
