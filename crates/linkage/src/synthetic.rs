//! Seeded synthetic people with Korean names and their noisy re-recordings, for benchmarks and demos.
//!
//! The generator follows the rules of the shared Korean-name sample (surname shares, romanisation variants,
//! hyphenation, case, typos, swapped fields, day/month swaps, missing values) but draws given names from
//! pairs of common name syllables, so that a million people are not all namesakes.

use crate::korean;

/// A small, fast, seeded generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// A synthetic person record (all text, as in a CSV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub given_name: String,
    pub surname: String,
    pub date_of_birth: String,
    pub nationality: String,
    pub passport_no: String,
    pub postcode: String,
}

/// Surnames (canonical passport spelling) with census shares in per mille, and their variant spellings.
const SURNAMES: &[(&str, u32, &[&str])] = &[
    ("Kim", 215, &[]),
    ("Lee", 147, &["Yi", "Rhee", "Ri"]),
    ("Park", 84, &["Pak", "Bak"]),
    ("Choi", 47, &["Choe", "Choy"]),
    ("Jung", 43, &["Jeong", "Chung"]),
    ("Kang", 23, &["Gang"]),
    ("Cho", 21, &["Jo", "Joe"]),
    ("Yoon", 21, &["Yun"]),
    ("Jang", 20, &["Chang"]),
    ("Lim", 17, &["Im", "Rim"]),
    ("Han", 15, &[]),
    ("Oh", 15, &["O"]),
    ("Seo", 15, &["Suh"]),
    ("Shin", 15, &["Sin"]),
    ("Kwon", 14, &["Gwon"]),
    ("Hwang", 14, &[]),
    ("Ahn", 13, &["An"]),
    ("Song", 13, &[]),
    ("Jeon", 11, &["Jun", "Chun"]),
    ("Hong", 11, &[]),
    ("Yoo", 10, &["Yu"]),
    ("Ko", 9, &["Koh"]),
    ("Moon", 9, &["Mun"]),
    ("Yang", 8, &[]),
    ("Son", 8, &["Sohn"]),
    ("Bae", 8, &["Pae"]),
    ("Baek", 7, &["Paek"]),
    ("Heo", 7, &["Hur", "Huh"]),
    ("Nam", 6, &[]),
    ("Noh", 6, &["Roh"]),
];

/// Common given-name syllables (Hangul); names are two of them.
const SYLLABLES: &[char] = &[
    '민', '준', '서', '연', '지', '우', '현', '도', '윤', '하', '은', '수', '영', '재', '진', '호',
    '성', '혜', '유', '주', '예', '원', '정', '희', '경', '태', '승', '동', '상', '혁', '건', '시',
    '채', '다', '소', '아', '인', '미', '선', '용', '기', '훈', '석', '철', '광', '종', '규', '한',
    '빈', '린',
];

/// Syllable spelling variants (RR -> alternatives), as in the shared sample's tables.
const SYLLABLE_VARIANTS: &[(&str, &[&str])] = &[
    ("jun", &["joon"]),
    ("hun", &["hoon"]),
    ("su", &["soo"]),
    ("u", &["woo"]),
    ("yun", &["yoon"]),
    ("seo", &["so", "suh"]),
    ("yeon", &["yun", "yon"]),
    ("hyeon", &["hyun"]),
    ("yeong", &["young"]),
    ("jeong", &["jung", "chong"]),
    ("seong", &["sung"]),
    ("gyeong", &["kyung"]),
    ("geon", &["gun", "keon"]),
    ("eun", &["un"]),
    ("seung", &["sung"]),
    ("ju", &["joo"]),
    ("hui", &["hee"]),
    ("yu", &["yoo"]),
    ("ji", &["chi"]),
    ("jin", &["chin"]),
    ("do", &["to"]),
];

const NATIONALITIES: &[&str] = &["USA", "CAN", "AUS", "NZL", "JPN", "CHN", "DEU", "GBR"];

fn title(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// A new person with the given id.
pub fn person(rng: &mut Rng, id: String) -> Person {
    let total: u32 = SURNAMES.iter().map(|s| s.1).sum();
    let mut pick = rng.below(total as usize) as u32;
    let mut surname = SURNAMES[0].0;
    for (name, share, _) in SURNAMES {
        if pick < *share {
            surname = name;
            break;
        }
        pick -= share;
    }
    let a = SYLLABLES[rng.below(SYLLABLES.len())];
    let b = SYLLABLES[rng.below(SYLLABLES.len())];
    let given = title(&korean::romanise_hangul(&format!("{a}{b}")));
    let year = 1950 + rng.below(57);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    let nationality = if rng.chance(0.94) {
        "KOR"
    } else {
        NATIONALITIES[rng.below(NATIONALITIES.len())]
    };
    let passport_no = passport(rng);
    Person {
        id,
        given_name: given,
        surname: surname.to_string(),
        date_of_birth: format!("{year:04}-{month:02}-{day:02}"),
        nationality: nationality.to_string(),
        passport_no,
        postcode: format!("{:05}", rng.below(63_000) + 1_000),
    }
}

fn passport(rng: &mut Rng) -> String {
    if rng.chance(0.6) {
        format!("M{:08}", rng.below(100_000_000))
    } else {
        let letter = (b'A' + rng.below(26) as u8) as char;
        format!("M{:03}{letter}{:04}", rng.below(1000), rng.below(10_000))
    }
}

/// Split a romanised given name back into RR syllables by greedy longest match against known syllables.
fn syllables_of(given: &str) -> Vec<String> {
    let lower = given.to_ascii_lowercase();
    let known: Vec<String> = SYLLABLES
        .iter()
        .map(|c| korean::romanise_hangul(&c.to_string()))
        .collect();
    let mut out = Vec::new();
    let mut rest = lower.as_str();
    while !rest.is_empty() {
        let best = known
            .iter()
            .filter(|k| rest.starts_with(k.as_str()))
            .max_by_key(|k| k.len());
        match best {
            Some(k) => {
                out.push(k.clone());
                rest = &rest[k.len()..];
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

/// A noisy re-recording of a person by another agency (new id), with the sample's noise rates.
pub fn variant(rng: &mut Rng, person: &Person, id: String) -> Person {
    let mut surname = person.surname.clone();
    if rng.chance(0.4)
        && let Some((_, _, variants)) = SURNAMES.iter().find(|s| s.0 == surname)
        && !variants.is_empty()
    {
        surname = variants[rng.below(variants.len())].to_string();
    }
    let mut syllables = syllables_of(&person.given_name);
    if rng.chance(0.35) {
        let i = rng.below(syllables.len());
        if let Some((_, alternatives)) = SYLLABLE_VARIANTS.iter().find(|v| v.0 == syllables[i]) {
            syllables[i] = alternatives[rng.below(alternatives.len())].to_string();
        }
    }
    let format = rng.below(100);
    let mut given = if format < 65 {
        title(&syllables.concat())
    } else if format < 85 {
        syllables
            .iter()
            .map(|s| title(s))
            .collect::<Vec<_>>()
            .join("-")
    } else {
        syllables
            .iter()
            .map(|s| title(s))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if rng.chance(0.5) {
        given = given.to_uppercase();
        surname = surname.to_uppercase();
    }
    if rng.chance(0.1) {
        let target = if rng.chance(0.7) {
            &mut given
        } else {
            &mut surname
        };
        typo(rng, target);
    }
    if rng.chance(0.1) {
        std::mem::swap(&mut given, &mut surname);
    }
    let mut dob = person.date_of_birth.clone();
    if rng.chance(0.05) {
        dob.clear();
    } else if rng.chance(0.05) && dob.len() == 10 && dob[8..10] <= *"12" && dob[8..10] != dob[5..7]
    {
        dob = format!("{}-{}-{}", &dob[..4], &dob[8..10], &dob[5..7]);
    }
    let mut passport_no = if rng.chance(0.3) {
        passport(rng)
    } else {
        person.passport_no.clone()
    };
    if rng.chance(0.02) {
        passport_no.clear();
    }
    let postcode = if rng.chance(0.2) {
        format!("{:05}", rng.below(63_000) + 1_000)
    } else {
        person.postcode.clone()
    };
    Person {
        id,
        given_name: given,
        surname,
        date_of_birth: dob,
        nationality: person.nationality.clone(),
        passport_no,
        postcode,
    }
}

/// One character edit (insert, delete, substitute, transpose) at a random position.
fn typo(rng: &mut Rng, text: &mut String) {
    let mut chars: Vec<char> = text.chars().collect();
    if chars.len() < 2 {
        return;
    }
    let i = rng.below(chars.len() - 1);
    let letter = (b'a' + rng.below(26) as u8) as char;
    match rng.below(4) {
        0 => chars.insert(i, letter),
        1 => {
            chars.remove(i);
        }
        2 => chars[i] = letter,
        _ => chars.swap(i, i + 1),
    }
    *text = chars.into_iter().collect();
}

/// Column names of [`Person`] records, in [`to_row`] order.
pub const COLUMNS: [&str; 7] = [
    "id",
    "given_name",
    "surname",
    "date_of_birth",
    "nationality",
    "passport_no",
    "postcode",
];

/// A person as a row of [`COLUMNS`].
pub fn to_row(p: Person) -> Vec<String> {
    vec![
        p.id,
        p.given_name,
        p.surname,
        p.date_of_birth,
        p.nationality,
        p.passport_no,
        p.postcode,
    ]
}
