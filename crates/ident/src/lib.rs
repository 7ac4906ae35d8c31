//! Identifier normalisation, one implementation for every crate: phone numbers to E.164 and IBANs to their
//! electronic form.
//!
//! The same person's phone is written "010-1234-5678", "+82 10 1234 5678" and "+82 010-1234-5678"; the same
//! account as "GB82 WEST 1234 5698 7654 32" and "gb82west12345698765432". Blind indexes (`jikimi-privacy`), the
//! validated identifiers of shared cases (`jikimi-exchange`, and through it `jikimi-funds`) and record linkage
//! (`jikimi-linkage`) must agree on the canonical form, or a lookup misses and a link is lost; so they all call this
//! crate, which delegates to the maintained libraries rather than hand-written rules:
//!
//! - [`phone_e164`] parses with `phonenumber` (Google's libphonenumber metadata) in a default [`Region`] for
//!   national numbers and accepts only numbers valid in their country's numbering plan; [`phone_e164_unchecked`]
//!   skips that last check, for comparing messy records where an unassigned number is still the same number.
//! - [`iban`] checks with `iban_validate` (the SWIFT registry's per-country layout and the ISO 7064 mod-97 check
//!   digits).
//!
//! Errors say what is wrong, never the value: identifiers are personal data. No I/O, no other jikimi crate.
//!
//! ```
//! use jikimi_ident::{Region, iban, phone_e164};
//! let kr = Some(Region::KR);
//! assert_eq!(phone_e164("010-1234-5678", kr).unwrap(), "+821012345678");
//! assert_eq!(phone_e164("+82 010-1234-5678", kr).unwrap(), "+821012345678");
//! assert!(phone_e164("hello", kr).is_err());
//! assert_eq!(iban("GB82 WEST 1234 5698 7654 32").unwrap(), "GB82WEST12345698765432");
//! ```

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use iban::IbanLike as _;
use std::str::FromStr;

/// A region (ISO 3166 alpha-2, e.g. `Region::KR`) in which national phone numbers are read.
pub use phonenumber::country::Id as Region;

/// Why a value is not a phone number or an IBAN. Messages never contain the value, and read well after a caller's
/// "invalid phone number: " or "invalid IBAN: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Characters no phone number is written with (letters, other symbols), or no digit at all. Letters are refused
    /// rather than read as a keypad's vanity digits, which would turn garbage into a number.
    #[error("a phone number has only digits, spaces and + - . ( ) /")]
    PhoneCharacters,
    /// The parser found no number in it (too short, too long, or an unknown country code).
    #[error("cannot parse the phone number; give it in international form starting with +")]
    PhoneUnparseable,
    /// It parses, but its country's numbering plan has no such number (wrong length or prefix).
    #[error("not a valid number for its country (wrong length or prefix)")]
    PhoneInvalid,
    /// A region code that is not ISO 3166 alpha-2.
    #[error("unknown region code")]
    UnknownRegion,
    /// A character other than a letter or digit (spaces are dropped before).
    #[error("only letters and digits are allowed in an IBAN")]
    IbanCharacters,
    /// Shorter or longer than any IBAN (the length, not the value, is named).
    #[error("IBAN length {0} is outside 15..=34")]
    IbanLength(usize),
    /// Not shaped like an IBAN: a two-letter country code and two check digits come first.
    #[error("an IBAN starts with a two-letter country code and two check digits")]
    IbanFormat,
    /// The ISO 7064 mod-97 check digits do not match.
    #[error("IBAN mod-97 checksum does not match (typo?)")]
    IbanChecksum,
    /// The checksum holds but the account part has the wrong length or layout for the country (named).
    #[error("wrong length or layout for a {0} IBAN")]
    IbanLayout(String),
    /// The country code (named) is not in the IBAN registry.
    #[error("{0} is not a country in the IBAN registry")]
    IbanCountry(String),
}

/// Parses a region code such as `KR` or `au` (case-insensitive).
pub fn region(code: &str) -> Result<Region, Error> {
    Region::from_str(&code.trim().to_ascii_uppercase()).map_err(|_| Error::UnknownRegion)
}

/// A phone number in E.164 (`+821012345678`), valid in its country's numbering plan.
///
/// Numbers without a country code are read in `default_region` (its trunk prefix, Korea's `0`, dropped); without a
/// region they must start with `+`. A trunk prefix written after a country code (`+82 010-…`) is dropped too, and
/// `00` before a country code is read as `+` (before the region's own international prefixes). Spaces, dashes, dots, slashes and
/// parentheses are ignored; letters are refused.
pub fn phone_e164(text: &str, default_region: Option<Region>) -> Result<String, Error> {
    let number = parse_phone(text, default_region)?;
    if !phonenumber::is_valid(&number) {
        return Err(Error::PhoneInvalid);
    }
    Ok(format_e164(&number))
}

/// [`phone_e164`] without the numbering-plan check: any number the parser reads (right country code, plausible
/// length) is brought to E.164. For comparing records, where the same unassigned or mistyped number written two
/// ways should still agree; anything stored for lookup uses [`phone_e164`].
pub fn phone_e164_unchecked(text: &str, default_region: Option<Region>) -> Result<String, Error> {
    parse_phone(text, default_region).map(|number| format_e164(&number))
}

fn format_e164(number: &phonenumber::PhoneNumber) -> String {
    number.format().mode(phonenumber::Mode::E164).to_string()
}

fn parse_phone(
    text: &str,
    default_region: Option<Region>,
) -> Result<phonenumber::PhoneNumber, Error> {
    let text = text.trim();
    let allowed = |c: char| c.is_ascii_digit() || c.is_whitespace() || "+-.()/".contains(c);
    if !text.chars().all(allowed) || !text.chars().any(|c| c.is_ascii_digit()) {
        return Err(Error::PhoneCharacters);
    }
    // The default region is for national numbers only: parsing "+84 …" in Korea would strip Korea's trunk and
    // carrier prefixes from a Vietnamese number. With a country code, the number's own metadata applies.
    let international = text
        .trim_start_matches(|c: char| c == '(' || c.is_whitespace())
        .starts_with('+');
    let region = if international { None } else { default_region };
    // `00` is the international prefix most of the world dials, and how many write "+" ("0082-10-…"). Korea dials
    // 001, 002, 008, 00700, …, under which libphonenumber reads "0082 010 1234 5678" as carrier 008 and an Egyptian
    // number (+20). So `00` is read as `+` first, and only when that gives no valid number as dialled in the region
    // (which reads "001-1-212-555-1234" as +1 212 555 1234).
    if let Some(rest) = text.strip_prefix("00")
        && let Ok(number) = phonenumber::parse(None, format!("+{rest}"))
        && phonenumber::is_valid(&number)
    {
        return Ok(number);
    }
    phonenumber::parse(region, text).map_err(|_| Error::PhoneUnparseable)
}

/// An IBAN in electronic form (`GB82WEST12345698765432`): upper case, spaces removed, checked against the IBAN
/// registry's layout for its country and the mod-97 check digits. Other separators are refused; callers comparing
/// messy records strip them first.
pub fn iban(text: &str) -> Result<String, Error> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // Named diagnoses first, for the person who typed it; `iban_validate` then decides.
    if !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::IbanCharacters);
    }
    if !(15..=34).contains(&compact.len()) {
        return Err(Error::IbanLength(compact.len()));
    }
    match compact.parse::<iban::Iban>() {
        Ok(parsed) => Ok(parsed.electronic_str().to_string()),
        Err(iban::ParseIbanError::InvalidBaseIban {
            source: iban::ParseBaseIbanError::InvalidChecksum,
        }) => Err(Error::IbanChecksum),
        Err(iban::ParseIbanError::InvalidBaseIban { .. }) => Err(Error::IbanFormat),
        Err(iban::ParseIbanError::InvalidBban(base)) => {
            Err(Error::IbanLayout(base.country_code().to_string()))
        }
        Err(iban::ParseIbanError::UnknownCountry(base)) => {
            Err(Error::IbanCountry(base.country_code().to_string()))
        }
    }
}

#[cfg(test)]
mod tests;
