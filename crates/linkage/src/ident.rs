//! Identifier normalisation: phones to E.164, IBANs checked by mod-97, account numbers, wallets, passports.
//!
//! The same mule account is written with and without dashes, the same phone as "010-1234-5678" and
//! "+82 10 1234 5678". Linkage compares identifiers only after they are brought to one canonical form
//! here; a value that cannot be normalised is kept in a cleaned form so that equal junk still agrees.

use phonenumber::country;

/// Normalise a phone number to E.164 (`+821012345678`); national numbers are read in `default_region`.
///
/// Returns `None` when the text holds no digits. Numbers the parser rejects fall back to `+` and the
/// digits if written internationally, else the bare digits, so that two identical malformed numbers
/// still compare equal.
pub fn phone_e164(text: &str, default_region: country::Id) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    if let Ok(number) = phonenumber::parse(Some(default_region), text) {
        return Some(number.format().mode(phonenumber::Mode::E164).to_string());
    }
    if text.trim_start().starts_with('+') {
        Some(format!("+{digits}"))
    } else {
        Some(digits)
    }
}

/// Parse a region code such as `KR` or `au` for [`phone_e164`].
pub fn region(code: &str) -> Option<country::Id> {
    code.to_ascii_uppercase().parse().ok()
}

/// Upper-case letters and digits only: the form in which IBANs, account and passport numbers compare.
pub fn alnum_upper(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A valid IBAN in electronic form (no spaces, upper case), or `None` if the ISO 13616 mod-97 check fails.
pub fn iban(text: &str) -> Option<String> {
    let compact = alnum_upper(text);
    if compact.len() < 15 || compact.len() > 34 {
        return None;
    }
    let bytes = compact.as_bytes();
    if !bytes[..2].iter().all(u8::is_ascii_uppercase) || !bytes[2..4].iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    // Move the first four characters to the end and read letters as 10..35; the remainder mod 97 is 1.
    let rearranged = compact[4..].bytes().chain(compact[..4].bytes());
    let mut remainder: u32 = 0;
    for b in rearranged {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return None,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    (remainder == 1).then_some(compact)
}

/// An account number with separators (spaces, dashes, dots, slashes) removed and letters upper-cased.
pub fn account(text: &str) -> Option<String> {
    let compact = alnum_upper(text);
    (!compact.is_empty()).then_some(compact)
}

/// A crypto wallet address in comparable form.
///
/// Ethereum (`0x` + 40 hex) and TRON hex addresses are case-insensitive (EIP-55 case is only a
/// checksum), so they are lower-cased; Bitcoin bech32 (`bc1…`) is case-insensitive too. Base58
/// addresses (Bitcoin legacy, TRON `T…`) are case-sensitive and kept as written.
pub fn wallet(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("bc1") || lower.starts_with("tb1") {
        Some(lower)
    } else {
        Some(trimmed.to_string())
    }
}

/// A passport or document number: upper-case letters and digits.
pub fn passport(text: &str) -> Option<String> {
    let compact = alnum_upper(text);
    (!compact.is_empty()).then_some(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_in_all_written_forms_agree() {
        let kr = country::Id::KR;
        let expected = Some("+821012345678".to_string());
        assert_eq!(phone_e164("010-1234-5678", kr), expected);
        assert_eq!(phone_e164("+82 10 1234 5678", kr), expected);
        assert_eq!(phone_e164("01012345678", kr), expected);
        assert_eq!(phone_e164("(+82) 10-1234-5678", kr), expected);
        assert_eq!(phone_e164("", kr), None);
    }

    #[test]
    fn iban_mod97() {
        assert_eq!(
            iban("GB82 WEST 1234 5698 7654 32"),
            Some("GB82WEST12345698765432".into())
        );
        assert_eq!(
            iban("DE89 3704 0044 0532 0130 00"),
            Some("DE89370400440532013000".into())
        );
        assert_eq!(iban("GB82 WEST 1234 5698 7654 33"), None);
        assert_eq!(iban("nonsense"), None);
    }

    #[test]
    fn accounts_and_wallets() {
        assert_eq!(account("110-234-567890"), account("110234567890"));
        assert_eq!(
            wallet("0x52908400098527886E0F7030069857D2E4169EE7"),
            wallet("0x52908400098527886e0f7030069857d2e4169ee7")
        );
        assert_ne!(
            wallet("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
            wallet("1bvbmseystwetqtfn5au4m4gfg7xjanvn2")
        );
        assert_eq!(passport("m123 45678"), Some("M12345678".into()));
    }
}
