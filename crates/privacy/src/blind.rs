//! Keyed blind indexes: HMAC-SHA256 over normalised values, so equality lookups work without the value in clear.

use crate::Error;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// A blind-index digest (32 bytes); safe to store and log, reveals nothing without the index key.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct BlindDigest(pub [u8; 32]);

impl fmt::Debug for BlindDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindDigest({})", &hex::encode(self.0)[..12])
    }
}

impl BlindDigest {
    /// From stored bytes; must be exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Result<BlindDigest, Error> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::Malformed("blind digest must be 32 bytes"))?;
        Ok(BlindDigest(arr))
    }
}

/// Computes blind-index digests with its own key (never the encryption key).
#[derive(Clone)]
pub struct BlindIndex {
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndex(<redacted>)")
    }
}

impl BlindIndex {
    /// From a 32-byte key.
    pub fn new(key: [u8; 32]) -> BlindIndex {
        BlindIndex {
            key: Zeroizing::new(key),
        }
    }

    /// From 64 hex digits (operator key material).
    pub fn from_hex(hex_key: &str) -> Result<BlindIndex, Error> {
        Ok(BlindIndex::new(crate::seal::parse_key_hex(hex_key.trim())?))
    }

    /// The digest of an already normalised `value` in a `domain` (e.g. `phone`), so equal values in different
    /// domains do not match each other.
    pub fn digest(&self, domain: &str, value: &str) -> BlindDigest {
        // HMAC accepts keys of any length; 32 bytes cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.key.as_slice())
            .unwrap_or_else(|_| unreachable_hmac_key_length());
        mac.update(&(domain.len() as u64).to_be_bytes());
        mac.update(domain.as_bytes());
        mac.update(value.as_bytes());
        BlindDigest(mac.finalize().into_bytes().into())
    }
}

#[cold]
fn unreachable_hmac_key_length() -> HmacSha256 {
    // HMAC's `new_from_slice` only fails for MACs with a fixed key size; HMAC has none.
    unreachable!("hmac accepts any key length")
}

/// Normalises a phone number to E.164 (`+821012345678`) for its blind index: [`jikimi_ident::phone_e164`] with
/// Korea as the region of national numbers, so only numbers valid in their country's numbering plan are indexed.
/// Digests computed before this used a hand-written rule that kept a trunk `0` after `+82`; the server re-indexes
/// them once from the sealed values.
pub fn normalise_phone(raw: &str) -> Result<String, Error> {
    jikimi_ident::phone_e164(raw, Some(jikimi_ident::Region::KR)).map_err(|_| Error::Phone)
}

/// Normalises free text for exact-match lookup (names, e-mail): trimmed, inner whitespace collapsed, lowercase.
pub fn normalise_text(raw: &str) -> String {
    raw.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164() {
        for raw in [
            "010-1234-5678",
            "01012345678",
            "+82 10 1234 5678",
            "0082-10-1234-5678",
            " (010) 1234.5678 ",
            "+82 010-1234-5678",
        ] {
            assert_eq!(normalise_phone(raw).unwrap(), "+821012345678", "{raw}");
        }
        assert_eq!(
            normalise_phone("+44 20 7946 0958").unwrap(),
            "+442079460958"
        );
        for bad in [
            "",
            "12345",
            "010-abcd-5678",
            "+0101234567",
            "+1234567890123456",
            "+82 1",
        ] {
            assert!(normalise_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_are_keyed_and_domain_separated() {
        let a = BlindIndex::new([1; 32]);
        let b = BlindIndex::new([2; 32]);
        assert_eq!(
            a.digest("phone", "+821012345678"),
            a.digest("phone", "+821012345678")
        );
        assert_ne!(
            a.digest("phone", "+821012345678"),
            b.digest("phone", "+821012345678")
        );
        assert_ne!(a.digest("phone", "x"), a.digest("name", "x"));
        assert_eq!(format!("{a:?}"), "BlindIndex(<redacted>)");
    }

    #[test]
    fn text_normalisation() {
        assert_eq!(normalise_text("  Kim   Ji-Hoon "), "kim ji-hoon");
    }
}
