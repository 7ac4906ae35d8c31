//! Comparators: each field's values are normalised once into [`Cell`]s, and two cells compare to a level.
//!
//! A level is a small integer, 0 = disagree, higher = closer agreement, and [`MISSING`] when either side is
//! empty (missing values carry no evidence either way). The Fellegi-Sunter model learns one m and u
//! probability per level, so comparators only need to order evidence, not weigh it.

/// Jaro-Winkler similarity; ASCII strings up to 64 bytes take an allocation-free path (the hot case in
/// linkage: short normalised names), anything else goes to `strsim`.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    if a.is_ascii() && b.is_ascii() && a.len() <= 64 && b.len() <= 64 {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let jaro = jaro_ascii(a, b);
        if jaro <= 0.7 {
            // Winkler's boost applies only above 0.7 (as in strsim and the original definition).
            return jaro;
        }
        let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
        jaro + 0.1 * prefix as f64 * (1.0 - jaro)
    } else {
        strsim::jaro_winkler(a, b)
    }
}

/// Jaro similarity of two ASCII byte strings of at most 64 bytes, bit-parallel.
///
/// Positions of each byte of `b` are kept in 32 bucket masks (bytes bucketed by their low five bits, so a
/// bucket may hold a few different bytes, which the loop checks); a byte of `a` then finds its first unmatched
/// equal byte of `b` inside the Jaro window with a mask and a trailing-zero count instead of a scan.
fn jaro_ascii(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let range = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut buckets = [0u64; 32];
    for (j, &cb) in b.iter().enumerate() {
        buckets[usize::from(cb & 31)] |= 1 << j;
    }
    let below = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    let (mut a_matched, mut b_matched) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(b.len());
        if lo >= hi {
            continue;
        }
        let mut candidates = buckets[usize::from(ca & 31)] & below(hi) & !below(lo) & !b_matched;
        while candidates != 0 {
            let j = candidates.trailing_zeros() as usize;
            if b[j] == ca {
                b_matched |= 1 << j;
                a_matched |= 1 << i;
                matches += 1;
                break;
            }
            candidates &= candidates - 1;
        }
    }
    if matches == 0 {
        return 0.0;
    }
    // Transpositions: the k-th matched byte of a against the k-th matched byte of b.
    let mut transpositions = 0usize;
    let (mut am, mut bm) = (a_matched, b_matched);
    while am != 0 {
        let i = am.trailing_zeros() as usize;
        let j = bm.trailing_zeros() as usize;
        if a[i] != b[j] {
            transpositions += 1;
        }
        am &= am - 1;
        bm &= bm - 1;
    }
    let m = matches as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - (transpositions / 2) as f64) / m) / 3.0
}

/// True if `a` and `b` differ by at most one insertion, deletion, substitution or adjacent transposition
/// (optimal string alignment distance <= 1), in linear time.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    if !a.is_ascii() || !b.is_ascii() {
        return strsim::osa_distance(a, b) <= 1;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    // Common prefix and suffix by hand-written loops: these strings are short and a call to memcmp per
    // slice comparison dominated the profile.
    let mut prefix = 0;
    while prefix < short.len() && short[prefix] == long[prefix] {
        prefix += 1;
    }
    if prefix == short.len() {
        return true;
    }
    let mut suffix = 0;
    while suffix < short.len() - prefix
        && short[short.len() - 1 - suffix] == long[long.len() - 1 - suffix]
    {
        suffix += 1;
    }
    if short.len() == long.len() {
        let n = short.len();
        // one substitution, or one adjacent transposition at the first difference
        prefix + suffix + 1 >= n
            || (prefix + suffix + 2 == n
                && short[prefix] == long[prefix + 1]
                && short[prefix + 1] == long[prefix])
    } else {
        prefix + suffix >= short.len()
    }
}

use crate::ident;
use crate::korean;
use crate::schema::FieldKind;

/// The level of a comparison with a missing value on either side.
pub const MISSING: u8 = u8::MAX;

/// A date that may lack its day or month (`1984`, `1984-07`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialDate {
    pub year: u16,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

impl PartialDate {
    /// Parse `YYYYMMDD`, `YYYY-MM-DD`, `YYYY/MM/DD`, `DD.MM.YYYY`, `DD/MM/YYYY`, `YYYY-MM`, `YYYY`.
    ///
    /// Components are kept as written even when out of range (a month of 13 is a typo the comparator can
    /// still partly match), but a year must be plausible (1800..=2100).
    pub fn parse(text: &str) -> Option<PartialDate> {
        let text = text.trim();
        let parts: Vec<&str> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .collect();
        let num = |s: &str| s.parse::<u16>().ok();
        let (year, month, day) = match parts.as_slice() {
            [one] if one.len() == 8 => (num(&one[..4])?, num(&one[4..6]), num(&one[6..8])),
            [one] if one.len() == 6 => (num(&one[..4])?, num(&one[4..6]), None),
            [one] if one.len() == 4 => (num(one)?, None, None),
            [y, m, d] if y.len() == 4 => (num(y)?, num(m), num(d)),
            [d, m, y] if y.len() == 4 => (num(y)?, num(m), num(d)),
            [y, m] if y.len() == 4 => (num(y)?, num(m), None),
            _ => return None,
        };
        if !(1800..=2100).contains(&year) {
            return None;
        }
        let small = |v: Option<u16>| v.and_then(|v| u8::try_from(v).ok()).filter(|v| *v > 0);
        Some(PartialDate {
            year,
            month: small(month),
            day: small(day),
        })
    }

    fn digits(&self) -> String {
        format!(
            "{:04}{:02}{:02}",
            self.year,
            self.month.unwrap_or(0),
            self.day.unwrap_or(0)
        )
    }
}

/// A normalised value: `raw` is the cleaned spelling, `key` the coarser form variants share.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub raw: Box<str>,
    pub key: Box<str>,
    pub date: Option<PartialDate>,
    /// Names only: the key the value would have in the *other* name field (a given name keyed as a
    /// surname and back), so that swapped given name and surname can be recognised.
    pub swap_key: Box<str>,
}

/// How values are normalised before comparison.
#[derive(Debug, Clone, Copy)]
pub struct NormaliseOptions {
    /// Fold Korean romanisation variants in name fields (surname table and given-name key).
    pub korean_names: bool,
    /// Region in which national phone numbers are read.
    pub phone_region: jikimi_ident::Region,
}

impl Default for NormaliseOptions {
    fn default() -> Self {
        NormaliseOptions {
            korean_names: false,
            phone_region: jikimi_ident::Region::KR,
        }
    }
}

/// Normalise one value of a field of the given kind; `None` for a missing value.
pub fn normalise(kind: FieldKind, text: &str, options: &NormaliseOptions) -> Option<Cell> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let cell = |raw: String, key: String| {
        (!raw.is_empty()).then(|| Cell {
            raw: raw.into(),
            key: key.into(),
            date: None,
            swap_key: "".into(),
        })
    };
    match kind {
        FieldKind::GivenName | FieldKind::Surname => {
            let raw = korean::plain_letters(&korean::romanise_hangul(text));
            let (key, swap_key) = match (options.korean_names, kind) {
                (true, FieldKind::Surname) => {
                    (korean::surname_key(&raw), korean::given_name_key(&raw))
                }
                (true, _) => (korean::given_name_key(&raw), korean::surname_key(&raw)),
                _ => (raw.clone(), raw.clone()),
            };
            cell(raw, key).map(|c| Cell {
                swap_key: swap_key.into(),
                ..c
            })
        }
        FieldKind::Text => {
            let lower = text.to_lowercase();
            let raw = lower.split_whitespace().collect::<Vec<_>>().join(" ");
            let key: String = raw.chars().filter(|c| c.is_alphanumeric()).collect();
            cell(raw, key)
        }
        FieldKind::Date => {
            let date = PartialDate::parse(text)?;
            let digits = date.digits();
            Some(Cell {
                raw: digits.clone().into(),
                key: digits.into(),
                date: Some(date),
                swap_key: "".into(),
            })
        }
        FieldKind::Postcode | FieldKind::Numeric => {
            let raw = ident::alnum_upper(text);
            cell(raw.clone(), raw)
        }
        FieldKind::Phone => {
            let raw = ident::phone_e164(text, options.phone_region)?;
            let key: String = raw.chars().filter(char::is_ascii_digit).collect();
            cell(raw, key)
        }
        FieldKind::Identifier => {
            let raw = ident::alnum_upper(text);
            cell(raw.clone(), raw)
        }
        FieldKind::Category => {
            let raw = text.to_lowercase();
            cell(raw.clone(), raw)
        }
    }
}

/// Number of levels (excluding [`MISSING`]) a kind's comparator produces.
pub fn n_levels(kind: FieldKind) -> usize {
    match kind {
        FieldKind::GivenName | FieldKind::Surname => 6,
        FieldKind::Date => 5,
        FieldKind::Text | FieldKind::Postcode => 4,
        FieldKind::Numeric | FieldKind::Phone | FieldKind::Identifier => 3,
        FieldKind::Category => 2,
    }
}

/// The level of a name comparison at which a swapped or variant-key agreement counts.
pub const NAME_KEY_LEVEL: u8 = 4;

/// Human-readable meaning of each level of a kind, for explanations and the m/u summary.
pub fn level_labels(kind: FieldKind) -> &'static [&'static str] {
    match kind {
        FieldKind::GivenName | FieldKind::Surname => &[
            "different",
            "jaro-winkler >= 0.70",
            "jaro-winkler >= 0.88",
            "one edit or jaro-winkler >= 0.94",
            "same normalised key or swapped with the other name",
            "exact",
        ],
        FieldKind::Date => &[
            "different",
            "same year",
            "one digit or one component different",
            "day and month swapped",
            "exact",
        ],
        FieldKind::Text => &[
            "different",
            "jaro-winkler >= 0.80",
            "one edit or jaro-winkler >= 0.94",
            "exact",
        ],
        FieldKind::Postcode => &[
            "different",
            "same first two characters",
            "one edit",
            "exact",
        ],
        FieldKind::Numeric => &["different", "one edit or within 5%", "exact"],
        FieldKind::Phone => &[
            "different",
            "one edit or same last 8 digits",
            "exact (E.164)",
        ],
        FieldKind::Identifier => &["different", "one edit", "exact"],
        FieldKind::Category => &["different", "exact"],
    }
}

/// Compare two normalised values of the same kind to a level (see [`level_labels`]).
pub fn compare(kind: FieldKind, a: &Cell, b: &Cell) -> u8 {
    match kind {
        FieldKind::GivenName | FieldKind::Surname => {
            if a.raw == b.raw {
                return 5;
            }
            if a.key == b.key {
                return 4;
            }
            let jw = jaro_winkler(&a.key, &b.key);
            if jw >= 0.94
                || (one_edit_possible(jw, &a.key, &b.key) && within_one_edit(&a.key, &b.key))
            {
                3
            } else if jw >= 0.88 {
                2
            } else if jw >= 0.70 {
                1
            } else {
                0
            }
        }
        FieldKind::Text => {
            if a.key == b.key {
                return 3;
            }
            let jw = jaro_winkler(&a.key, &b.key);
            if jw >= 0.94
                || (one_edit_possible(jw, &a.key, &b.key) && within_one_edit(&a.key, &b.key))
            {
                2
            } else if jw >= 0.80 {
                1
            } else {
                0
            }
        }
        FieldKind::Date => match (a.date, b.date) {
            (Some(x), Some(y)) => compare_dates(x, y, &a.raw, &b.raw),
            _ => u8::from(a.raw == b.raw) * 4,
        },
        FieldKind::Postcode => {
            if a.raw == b.raw {
                3
            } else if within_one_edit(&a.raw, &b.raw) {
                2
            } else if a.raw.len() >= 2 && b.raw.len() >= 2 && a.raw[..2] == b.raw[..2] {
                1
            } else {
                0
            }
        }
        FieldKind::Numeric => {
            if a.raw == b.raw {
                2
            } else if within_one_edit(&a.raw, &b.raw) || numerically_close(&a.raw, &b.raw) {
                1
            } else {
                0
            }
        }
        FieldKind::Identifier => {
            if a.raw == b.raw {
                2
            } else if within_one_edit(&a.raw, &b.raw) {
                1
            } else {
                0
            }
        }
        FieldKind::Phone => {
            if a.raw == b.raw {
                2
            } else if within_one_edit(&a.key, &b.key)
                || (a.key.len() >= 8
                    && b.key.len() >= 8
                    && a.key[a.key.len() - 8..] == b.key[b.key.len() - 8..])
            {
                1
            } else {
                0
            }
        }
        FieldKind::Category => u8::from(a.raw == b.raw),
    }
}

/// True when both values are numbers differing by at most 5% of the larger (and at most 1 for small ones).
fn numerically_close(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= (0.05 * x.abs().max(y.abs())).max(1.0),
        _ => false,
    }
}

/// False when `a` and `b` cannot be one edit apart given their Jaro-Winkler similarity, which skips the
/// edit check for most non-matching pairs. For ASCII strings of at least 4 characters one edit leaves at
/// least n-1 of n characters matched within the Jaro window, so Jaro >= (3/4 + 3/4 + 1)/3 > 0.83; below
/// 0.7 no single edit can explain the difference.
fn one_edit_possible(jw: f64, a: &str, b: &str) -> bool {
    jw >= 0.7 || !a.is_ascii() || !b.is_ascii() || a.len().min(b.len()) < 4
}

/// Dates: exact 4, day/month swapped 3, one digit or one component off 2, same year 1, else 0.
/// Partial dates agree at level 2 when every component both sides have is equal.
/// `a_digits`/`b_digits` are the dates' `YYYYMMDD` forms (the cells' raw values), passed to avoid formatting.
fn compare_dates(a: PartialDate, b: PartialDate, a_digits: &str, b_digits: &str) -> u8 {
    let complete = |d: PartialDate| d.month.is_some() && d.day.is_some();
    if complete(a) && complete(b) {
        if a == b {
            return 4;
        }
        if a.year == b.year && a.month == b.day && a.day == b.month {
            return 3;
        }
        let same =
            u8::from(a.year == b.year) + u8::from(a.month == b.month) + u8::from(a.day == b.day);
        if same == 2 || within_one_edit(a_digits, b_digits) {
            return 2;
        }
        return u8::from(a.year == b.year);
    }
    let compatible = |x: Option<u8>, y: Option<u8>| x.is_none() || y.is_none() || x == y;
    if a.year == b.year && compatible(a.month, b.month) && compatible(a.day, b.day) {
        2
    } else {
        u8::from(a.year == b.year)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(kind: FieldKind, text: &str) -> Cell {
        let options = NormaliseOptions {
            korean_names: true,
            ..NormaliseOptions::default()
        };
        normalise(kind, text, &options).unwrap_or(Cell {
            raw: "".into(),
            key: "".into(),
            date: None,
            swap_key: "".into(),
        })
    }

    fn check(kind: FieldKind, a: &str, b: &str, expected: u8) {
        assert_eq!(
            compare(kind, &cell(kind, a), &cell(kind, b)),
            expected,
            "{kind} {a:?} {b:?}"
        );
    }

    #[test]
    fn dates() {
        check(FieldKind::Date, "19570312", "1957-03-12", 4);
        check(FieldKind::Date, "1957-03-12", "1957-12-03", 3);
        check(FieldKind::Date, "1957-03-12", "1957-03-13", 2);
        check(FieldKind::Date, "1957-03-12", "1958-03-12", 2);
        check(FieldKind::Date, "1957-03-12", "1957-07-30", 1);
        check(FieldKind::Date, "1957", "1957-07-30", 2);
        check(FieldKind::Date, "1957-07", "1957-07-30", 2);
        check(FieldKind::Date, "1957-08", "1957-07-30", 1);
        check(FieldKind::Date, "12/03/1957", "1957-03-12", 4);
        check(FieldKind::Date, "1960-01-01", "1957-07-30", 0);
    }

    #[test]
    fn names_and_identifiers() {
        check(FieldKind::Surname, "RHEE", "Yi", 4);
        check(FieldKind::Surname, "Lee", "lee", 5);
        check(FieldKind::GivenName, "Min-jun", "Minjun", 5);
        check(FieldKind::GivenName, "Minjun", "MINJOON", 4);
        check(FieldKind::GivenName, "Minjun", "Minjin", 3);
        check(FieldKind::Phone, "010-1234-5678", "+82 10 1234 5678", 2);
        check(FieldKind::Identifier, "M12345678", "m1234-5678", 2);
        check(FieldKind::Identifier, "M12345678", "M12345679", 1);
        check(FieldKind::Postcode, "2615", "2651", 2);
        check(FieldKind::Numeric, "120", "125", 1);
        check(FieldKind::Numeric, "12", "35", 0);
        check(FieldKind::Numeric, "12", "21", 1);
        check(FieldKind::Postcode, "2615", "2699", 1);
        check(FieldKind::Text, "stanley street", "stanleykstreet", 2);
    }

    #[test]
    fn fast_string_measures_agree_with_strsim() {
        for (a, b) in [
            ("martha", "marhta"),
            ("dixon", "dicksonx"),
            ("", "abc"),
            ("jellyfish", "smellyfish"),
            ("a", "a"),
            ("abcd", "abdc"),
            ("abcd", "acbd"),
            ("abcd", "abxd"),
            ("abcd", "abd"),
            ("aaa", "aa"),
            ("ab", "ba"),
            ("abc", "cba"),
        ] {
            assert!(
                (jaro_winkler(a, b) - strsim::jaro_winkler(a, b)).abs() < 1e-9,
                "{a} {b}"
            );
            assert_eq!(
                within_one_edit(a, b),
                strsim::osa_distance(a, b) <= 1,
                "{a} {b}"
            );
        }
    }

    #[test]
    fn one_edit_implies_high_jaro_winkler_for_four_or_more_characters() {
        let words = [
            "martha", "abcd", "dixon", "stanley", "kim", "minjun", "seoyeon", "wxyz",
        ];
        let letters = "abcdefghijklmnopqrstuvwxyz";
        for word in words {
            for i in 0..=word.len() {
                for c in letters.chars() {
                    let inserted = format!("{}{c}{}", &word[..i], &word[i..]);
                    let pairs = [inserted.clone()];
                    for other in pairs.iter().chain(std::iter::once(&word.to_string())) {
                        if within_one_edit(word, other) {
                            assert!(
                                one_edit_possible(jaro_winkler(word, other), word, other),
                                "{word} {other}"
                            );
                        }
                    }
                    if i < word.len() {
                        let substituted = format!("{}{c}{}", &word[..i], &word[i + 1..]);
                        let deleted = format!("{}{}", &word[..i], &word[i + 1..]);
                        for other in [substituted, deleted] {
                            assert!(
                                one_edit_possible(jaro_winkler(word, &other), word, &other),
                                "{word} {other}"
                            );
                        }
                    }
                    if i + 1 < word.len() {
                        let mut swapped: Vec<char> = word.chars().collect();
                        swapped.swap(i, i + 1);
                        let swapped: String = swapped.into_iter().collect();
                        assert!(
                            one_edit_possible(jaro_winkler(word, &swapped), word, &swapped),
                            "{word} {swapped}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn partial_dates_parse() {
        assert_eq!(
            PartialDate::parse("1984"),
            Some(PartialDate {
                year: 1984,
                month: None,
                day: None
            })
        );
        assert_eq!(PartialDate::parse("hello"), None);
        assert_eq!(PartialDate::parse("0000-00-00"), None);
    }
}
