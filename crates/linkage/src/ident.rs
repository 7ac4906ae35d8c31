//! Identifier normalisation: phones to E.164 and IBANs (both through `jikimi-ident`), account numbers, wallets,
//! passports.
//!
//! The same mule account is written with and without dashes, the same phone as "010-1234-5678" and
//! "+82 10 1234 5678". Linkage compares identifiers only after they are brought to one canonical form
//! here; a value that cannot be normalised is kept in a cleaned form so that equal junk still agrees.

use jikimi_ident::Region;

/// Normalise a phone number to E.164 (`+821012345678`) through [`jikimi_ident::phone_e164_unchecked`], the
/// normaliser every crate shares; national numbers are read in `default_region`.
///
/// Returns `None` when the text holds no digits. Numbers the parser rejects fall back to `+` and the
/// digits if written internationally, else the bare digits, so that two identical malformed numbers
/// still compare equal. Numbers the parser reads but the numbering plan does not know are kept in E.164:
/// the same mistyped number written two ways still agrees.
pub fn phone_e164(text: &str, default_region: Region) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    if let Ok(e164) = jikimi_ident::phone_e164_unchecked(text, Some(default_region)) {
        return Some(e164);
    }
    if text.trim_start().starts_with('+') {
        Some(format!("+{digits}"))
    } else {
        Some(digits)
    }
}

/// Parse a region code such as `KR` or `au` for [`phone_e164`].
pub fn region(code: &str) -> Option<Region> {
    jikimi_ident::region(code).ok()
}

/// Upper-case letters and digits only: the form in which IBANs, account and passport numbers compare.
pub fn alnum_upper(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A valid IBAN in electronic form (no separators, upper case) through [`jikimi_ident::iban`], or `None` if it is
/// not one (registry layout or mod-97 check). Any separator is dropped first: case records write them freely.
pub fn iban(text: &str) -> Option<String> {
    jikimi_ident::iban(&alnum_upper(text)).ok()
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
        let kr = Region::KR;
        let expected = Some("+821012345678".to_string());
        assert_eq!(phone_e164("010-1234-5678", kr), expected);
        assert_eq!(phone_e164("+82 10 1234 5678", kr), expected);
        assert_eq!(phone_e164("01012345678", kr), expected);
        assert_eq!(phone_e164("(+82) 10-1234-5678", kr), expected);
        assert_eq!(phone_e164("+82 010-1234-5678", kr), expected);
        assert_eq!(phone_e164("0082 10 1234 5678", kr), expected);
        // Unparseable junk still agrees with itself.
        assert_eq!(phone_e164("12-34", kr), phone_e164("1234", kr));
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
        assert_eq!(
            iban("gb82-west-1234-5698-7654-32"),
            Some("GB82WEST12345698765432".into())
        );
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
