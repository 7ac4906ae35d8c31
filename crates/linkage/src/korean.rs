//! Korean names: Hangul romanisation (Revised Romanisation) and normalisation of romanised spellings.
//!
//! Agencies write the same person as "Lee Min-jun", "Yi Minjun", "RHEE MIN JUN" or "이민준". Linkage needs
//! a key under which these agree while different people mostly still differ. Two tools do that:
//!
//! - [`romanise_hangul`] turns precomposed Hangul syllables into Revised Romanisation, syllable by syllable
//!   (decomposition is arithmetic on the Unicode code point, so no table of 11,172 syllables is needed);
//! - [`surname_key`] maps every common spelling of the 40-odd most common surnames to one canonical form,
//!   and [`given_name_key`] folds the spelling differences between Revised Romanisation, McCune-Reischauer
//!   and common passport forms (`eo`/`o`/`u`, `oo`/`u`, `ee`/`i`, aspirated/unaspirated consonant pairs).
//!
//! The given-name key is deliberately coarse (`yeon`, `yun` and `yoon` coincide); the comparator keeps exact
//! spelling as a stronger level above it, so the model can still reward exact agreement.

/// Revised Romanisation of the 19 initial consonants, in Unicode order.
const INITIALS: [&str; 19] = [
    "g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p",
    "h",
];
/// Revised Romanisation of the 21 medial vowels, in Unicode order.
const MEDIALS: [&str; 21] = [
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we",
    "wi", "yu", "eu", "ui", "i",
];
/// Revised Romanisation of the 28 finals (index 0 = none), as pronounced at the end of a syllable.
const FINALS: [&str; 28] = [
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p",
    "t", "t", "ng", "t", "t", "k", "t", "p", "t",
];

const HANGUL_FIRST: u32 = 0xAC00;
const HANGUL_LAST: u32 = 0xD7A3;

/// True if `c` is a precomposed Hangul syllable.
pub fn is_hangul_syllable(c: char) -> bool {
    (HANGUL_FIRST..=HANGUL_LAST).contains(&(c as u32))
}

/// True if the text contains at least one Hangul syllable.
pub fn has_hangul(text: &str) -> bool {
    text.chars().any(is_hangul_syllable)
}

/// Romanise one Hangul syllable (Revised Romanisation, syllable-final form); `None` for other characters.
pub fn romanise_syllable(c: char) -> Option<String> {
    if !is_hangul_syllable(c) {
        return None;
    }
    let index = c as u32 - HANGUL_FIRST;
    let initial = (index / 588) as usize;
    let medial = ((index % 588) / 28) as usize;
    let last = (index % 28) as usize;
    Some(format!(
        "{}{}{}",
        INITIALS[initial], MEDIALS[medial], FINALS[last]
    ))
}

/// Romanise a string: Hangul syllables become Revised Romanisation, other characters are kept.
///
/// Names are romanised syllable by syllable without sound-change rules across syllables, which is how
/// Korean passports and the RR rules for personal names treat them (한복남 → Hanboknam).
pub fn romanise_hangul(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        match romanise_syllable(c) {
            Some(syllable) => out.push_str(&syllable),
            None => out.push(c),
        }
    }
    out
}

/// Two-syllable Korean surnames, in Hangul, so that a full Hangul name can be split correctly.
const TWO_SYLLABLE_SURNAMES: [&str; 8] = [
    "남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방",
];

/// Split a full Hangul name written without a space ("이민준") into (surname, given name).
pub fn split_hangul_full_name(name: &str) -> Option<(String, String)> {
    let trimmed: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    if trimmed.chars().count() < 2 || !trimmed.chars().all(is_hangul_syllable) {
        return None;
    }
    let surname_len = if trimmed.chars().count() >= 3
        && TWO_SYLLABLE_SURNAMES.iter().any(|s| trimmed.starts_with(s))
    {
        2
    } else {
        1
    };
    let surname: String = trimmed.chars().take(surname_len).collect();
    let given: String = trimmed.chars().skip(surname_len).collect();
    Some((surname, given))
}

/// Spellings of common Korean surnames, grouped by the surname they write; the first is canonical.
///
/// Sources: the surname shares of the 2015 census and the spellings found on passports (Revised
/// Romanisation, McCune-Reischauer and traditional forms). Ambiguous spellings are resolved towards
/// the more common surname (`jun` is read as 전 Jeon, which passports often spell Jun or Chun).
const SURNAME_GROUPS: &[&[&str]] = &[
    &["kim", "gim", "ghim", "kym"],
    &[
        "lee", "yi", "rhee", "ri", "i", "rhie", "lie", "leigh", "yee",
    ],
    &["park", "pak", "bak", "bahk", "pahk"],
    &["choi", "choe", "choy", "chwe", "chey"],
    &["jung", "jeong", "chung", "chong", "jeung", "cheong"],
    &["kang", "gang", "kahng"],
    &["cho", "jo", "joe", "chough", "jho"],
    &["yoon", "yun", "youn", "yune"],
    &["jang", "chang", "zang"],
    &["lim", "im", "rim", "yim", "leem"],
    &["han", "hahn"],
    &["oh", "o", "oe"],
    &["seo", "suh", "so", "sur", "seu"],
    &["shin", "sin", "shinn", "sheen"],
    &["kwon", "gwon", "kweon"],
    &["hwang", "whang"],
    &["ahn", "an", "ahan"],
    &["song", "soung"],
    &["jeon", "jun", "chun", "chon", "jeun", "cheon"],
    &["hong", "houng"],
    &["yoo", "yu", "you", "ryu", "ryoo", "rhyu"],
    &["ko", "go", "koh", "goh"],
    &["moon", "mun", "moun"],
    &["yang", "ryang"],
    &["son", "sohn"],
    &["bae", "pae", "bai", "pai"],
    &["baek", "paek", "baik", "paik", "back", "bak"],
    &["heo", "hur", "huh", "her", "ho"],
    &["nam"],
    &["noh", "no", "roh", "ro", "rho"],
    &["ha", "hah"],
    &["kwak", "gwak"],
    &["sung", "seong"],
    &["cha", "char"],
    &["koo", "gu", "ku", "goo"],
    &["min"],
    &["woo", "u"],
    &["jin", "chin"],
    &["na", "ra"],
    &["ji", "chi"],
    &["um", "eom", "uhm"],
    &["chae", "chai"],
    &["won"],
    &["byun", "byeon", "pyun", "pyon"],
];

/// Canonical surname for a romanised or Hangul surname; unknown surnames come back as their plain key.
///
/// ```
/// use jikimi_linkage::korean::surname_key;
/// assert_eq!(surname_key("RHEE"), "lee");
/// assert_eq!(surname_key("Yi"), "lee");
/// assert_eq!(surname_key("이"), "lee");
/// assert_eq!(surname_key("Bak"), "park");
/// ```
pub fn surname_key(surname: &str) -> String {
    let plain = plain_letters(&romanise_hangul(surname));
    for group in SURNAME_GROUPS {
        // The first group listing a spelling wins (e.g. `bak` is Park before Baek), which is why the
        // groups are ordered by how common the surname is.
        if group.contains(&plain.as_str()) {
            return group[0].to_string();
        }
    }
    plain
}

/// True if the (romanised or Hangul) surname is one of the known Korean surnames.
pub fn is_known_korean_surname(surname: &str) -> bool {
    let plain = plain_letters(&romanise_hangul(surname));
    !plain.is_empty() && SURNAME_GROUPS.iter().any(|g| g.contains(&plain.as_str()))
}

/// Lower-case ASCII letters only (drops hyphens, spaces, apostrophes of McCune-Reischauer, digits).
pub fn plain_letters(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Folding rules for romanised given names, applied in order to the plain lower-case letters.
///
/// Vowels first (so that consonant rules see the folded vowels), then consonants. Each rule maps a
/// spelling used by McCune-Reischauer or common passport practice onto one representative.
const GIVEN_NAME_RULES: &[(&str, &str)] = &[
    ("ean", "in"), // jin -> jean
    ("ee", "i"),   // hui -> hee
    ("ui", "i"),
    ("oo", "u"),  // jun -> joon, su -> soo, yu -> yoo
    ("wu", "u"),  // u -> woo (after oo -> u)
    ("eo", "o"),  // seo -> so, yeon -> yon
    ("eu", "u"),  // eun -> un, seung -> sung
    ("ou", "o"),  // yeong -> young
    ("yu", "yo"), // yeon -> yun, hyeon -> hyun
    ("uh", "o"),  // seo -> suh
    ("sh", "s"),
    ("ch", "j"), // ji -> chi, jae -> chae
    ("k", "g"),  // gyeong -> kyung, geon -> keon
    ("t", "d"),  // do -> to, dong -> tong
    ("p", "b"),
    ("r", "l"),
];

/// Key of a romanised (or Hangul) Korean given name under which spelling variants coincide.
///
/// ```
/// use jikimi_linkage::korean::given_name_key;
/// assert_eq!(given_name_key("Min-jun"), given_name_key("MINJOON"));
/// assert_eq!(given_name_key("Seoyeon"), given_name_key("So Yun"));
/// assert_eq!(given_name_key("민준"), given_name_key("Minjun"));
/// ```
pub fn given_name_key(given: &str) -> String {
    let mut key = plain_letters(&romanise_hangul(given));
    for (from, to) in GIVEN_NAME_RULES {
        if key.contains(from) {
            key = key.replace(from, to);
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn romanises_common_names() {
        assert_eq!(romanise_hangul("김민준"), "gimminjun");
        assert_eq!(romanise_hangul("이서연"), "iseoyeon");
        assert_eq!(romanise_hangul("박지훈"), "bakjihun");
        assert_eq!(romanise_hangul("최은정"), "choeeunjeong");
        assert_eq!(romanise_hangul("한복남"), "hanboknam");
        assert_eq!(romanise_hangul("Kim 민준"), "Kim minjun");
    }

    #[test]
    fn surnames_fold_to_canonical() {
        for (variant, canonical) in [
            ("Lee", "lee"),
            ("YI", "lee"),
            ("Rhee", "lee"),
            ("Ri", "lee"),
            ("Park", "park"),
            ("Pak", "park"),
            ("Bak", "park"),
            ("Choe", "choi"),
            ("Choy", "choi"),
            ("Jeong", "jung"),
            ("Chung", "jung"),
            ("Chong", "jung"),
            ("Gim", "kim"),
            ("김", "kim"),
            ("박", "park"),
            ("최", "choi"),
            ("정", "jung"),
            ("Suh", "seo"),
            ("Im", "lim"),
            ("Chun", "jeon"),
            ("O", "oh"),
            ("Smith", "smith"),
        ] {
            assert_eq!(surname_key(variant), canonical, "{variant}");
        }
    }

    #[test]
    fn given_name_variants_coincide() {
        for (a, b) in [
            ("Minjun", "Min-joon"),
            ("Minjun", "MIN JUN"),
            ("Jihun", "Chihoon"),
            ("Seoyeon", "Suhyun"),
            ("Hyeonu", "Hyunwoo"),
            ("Eunji", "Unji"),
            ("Yeongho", "Youngho"),
            ("Gyeongsu", "Kyungsoo"),
            ("Jiyeon", "Chiyon"),
            ("Huijin", "Heejean"),
            ("Dongwon", "Tongwon"),
            ("서연", "Seoyeon"),
        ] {
            assert_eq!(given_name_key(a), given_name_key(b), "{a} / {b}");
        }
        assert_ne!(given_name_key("Minjun"), given_name_key("Jiho"));
    }

    #[test]
    fn splits_hangul_full_names() {
        assert_eq!(
            split_hangul_full_name("이민준"),
            Some(("이".to_string(), "민준".to_string()))
        );
        assert_eq!(
            split_hangul_full_name("남궁민수"),
            Some(("남궁".to_string(), "민수".to_string()))
        );
        assert_eq!(split_hangul_full_name("Lee"), None);
    }
}
