//! Validated identifiers that appear in cases and leads: phone numbers (E.164), IBANs (mod-97),
//! bank accounts, crypto wallets (Bitcoin, Ethereum EIP-55, TRON), domains and SHA-256 digests.
//!
//! Each type can only be built through a checking constructor (also used by `Deserialize`, so a
//! receiver re-validates what a peer sends). Errors say why a value is invalid but never echo it,
//! because identifiers are personal data.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha3::Digest as _;

use crate::error::{Error, Result};

/// A phone number normalised to E.164 (`+821012345678`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneE164(String);

impl PhoneE164 {
    /// Parses `input` (international form, or national form with `default_region` such as "KR")
    /// and normalises it to E.164 through [`jikimi_ident::phone_e164`], the one normaliser every crate
    /// shares. Numbers that `libphonenumber`'s metadata says are not valid for their region are rejected.
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self> {
        let region = default_region
            .map(jikimi_ident::region)
            .transpose()
            .map_err(|_| Error::invalid_id("phone number", "unknown default region code"))?;
        jikimi_ident::phone_e164(input, region)
            .map(PhoneE164)
            .map_err(|e| Error::invalid_id("phone number", e.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneE164 {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        let p = PhoneE164::parse(&s, None)?;
        if p.0 != s {
            return Err(Error::invalid_id("phone number", "not in E.164 form"));
        }
        Ok(p)
    }
}
impl From<PhoneE164> for String {
    fn from(p: PhoneE164) -> String {
        p.0
    }
}
impl fmt::Debug for PhoneE164 {
    // Personal data: never printed by Debug (it ends up in logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneE164(<redacted>)")
    }
}

/// An IBAN in electronic form (upper case, no spaces), checked with ISO 7064 mod-97-10.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

impl Iban {
    /// Parses an IBAN in print or electronic form through [`jikimi_ident::iban`] (the IBAN registry's layout for
    /// the country and the mod-97 check digits).
    pub fn parse(input: &str) -> Result<Self> {
        jikimi_ident::iban(input)
            .map(Iban)
            .map_err(|e| Error::invalid_id("IBAN", e.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Iban {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Iban::parse(&s)
    }
}
impl From<Iban> for String {
    fn from(p: Iban) -> String {
        p.0
    }
}
impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iban(<redacted>)")
    }
}

/// A domestic bank account number (no international checksum exists): digits and letters,
/// separators removed.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountNumber(String);

impl AccountNumber {
    pub fn parse(input: &str) -> Result<Self> {
        let s: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '/'))
            .collect();
        if !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid_id(
                "bank account",
                "only letters, digits and separators - . / are allowed",
            ));
        }
        if !(5..=34).contains(&s.len()) {
            return Err(Error::invalid_id(
                "bank account",
                format!("length {} is outside 5..=34", s.len()),
            ));
        }
        Ok(AccountNumber(s.to_ascii_uppercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for AccountNumber {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        AccountNumber::parse(&s)
    }
}
impl From<AccountNumber> for String {
    fn from(p: AccountNumber) -> String {
        p.0
    }
}
impl fmt::Debug for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountNumber(<redacted>)")
    }
}

/// The blockchain a wallet address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    Bitcoin,
    Ethereum,
    Tron,
}

impl FromStr for Chain {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "bitcoin" | "btc" => Ok(Chain::Bitcoin),
            "ethereum" | "eth" => Ok(Chain::Ethereum),
            "tron" | "trx" => Ok(Chain::Tron),
            _ => Err(Error::invalid_id(
                "crypto wallet",
                "chain must be bitcoin, ethereum or tron",
            )),
        }
    }
}

/// A crypto wallet address whose checksum has been verified for its chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "WalletWire")]
pub struct Wallet {
    chain: Chain,
    address: String,
}

#[derive(Deserialize)]
struct WalletWire {
    chain: Chain,
    address: String,
}

impl TryFrom<WalletWire> for Wallet {
    type Error = Error;
    fn try_from(w: WalletWire) -> Result<Self> {
        Wallet::parse(w.chain, &w.address)
    }
}

impl Wallet {
    /// Validates `address` for `chain`:
    /// - Bitcoin: base58check (P2PKH/P2SH, main and test net) or bech32/bech32m segwit (BIP-173/350);
    /// - Ethereum: 20 bytes hex; mixed case must match the EIP-55 checksum; normalised to EIP-55;
    /// - TRON: base58check of 21 bytes starting with 0x41.
    pub fn parse(chain: Chain, input: &str) -> Result<Self> {
        let input = input.trim();
        let address = match chain {
            Chain::Bitcoin => bitcoin_address(input)?,
            Chain::Ethereum => ethereum_address(input)?,
            Chain::Tron => tron_address(input)?,
        };
        Ok(Wallet { chain, address })
    }
    /// Guesses the chain from the address form, then validates.
    pub fn detect(input: &str) -> Result<Self> {
        let t = input.trim();
        let chain = if t.starts_with("0x") || t.starts_with("0X") {
            Chain::Ethereum
        } else if t.starts_with('T') {
            Chain::Tron
        } else {
            Chain::Bitcoin
        };
        Wallet::parse(chain, t)
    }
    pub fn chain(&self) -> Chain {
        self.chain
    }
    pub fn address(&self) -> &str {
        &self.address
    }
}

fn bitcoin_address(s: &str) -> Result<String> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("bc1") || lower.starts_with("tb1") {
        // Mixed case is forbidden by BIP-173; the decoder checks that too.
        let (hrp, _version, _program) = bech32::segwit::decode(s).map_err(|e| {
            Error::invalid_id(
                "bitcoin address",
                format!("bech32/bech32m segwit decoding failed: {e}"),
            )
        })?;
        let hrp = hrp.to_lowercase();
        if hrp != "bc" && hrp != "tb" {
            return Err(Error::invalid_id(
                "bitcoin address",
                "human-readable part must be bc or tb",
            ));
        }
        return Ok(lower);
    }
    let payload = bs58::decode(s).with_check(None).into_vec().map_err(|e| {
        Error::invalid_id(
            "bitcoin address",
            format!("base58check decoding failed: {e}"),
        )
    })?;
    if payload.len() != 21 {
        return Err(Error::invalid_id(
            "bitcoin address",
            "base58 payload must be 21 bytes",
        ));
    }
    if !matches!(payload[0], 0x00 | 0x05 | 0x6f | 0xc4) {
        return Err(Error::invalid_id(
            "bitcoin address",
            "unknown version byte (not P2PKH or P2SH)",
        ));
    }
    Ok(s.to_string())
}

fn ethereum_address(s: &str) -> Result<String> {
    let hex_part = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| Error::invalid_id("ethereum address", "must start with 0x"))?;
    if hex_part.len() != 40 {
        return Err(Error::invalid_id(
            "ethereum address",
            format!("needs 40 hex digits, has {}", hex_part.len()),
        ));
    }
    if !hex_part.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid_id(
            "ethereum address",
            "contains a non-hex character",
        ));
    }
    let checksummed = eip55(hex_part);
    let all_lower = hex_part.chars().all(|c| !c.is_ascii_uppercase());
    let all_upper = hex_part.chars().all(|c| !c.is_ascii_lowercase());
    if !(all_lower || all_upper) && checksummed[2..] != *hex_part {
        return Err(Error::invalid_id(
            "ethereum address",
            "mixed-case EIP-55 checksum does not match (typo?)",
        ));
    }
    Ok(checksummed)
}

/// EIP-55: upper-case the i-th hex letter iff the i-th nibble of keccak256(lowercase hex) is >= 8.
fn eip55(hex_part: &str) -> String {
    let lower = hex_part.to_ascii_lowercase();
    let hash = sha3::Keccak256::digest(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let byte = hash[i / 2];
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
        if c.is_ascii_alphabetic() && nibble >= 8 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn tron_address(s: &str) -> Result<String> {
    let payload = bs58::decode(s).with_check(None).into_vec().map_err(|e| {
        Error::invalid_id("tron address", format!("base58check decoding failed: {e}"))
    })?;
    if payload.len() != 21 || payload[0] != 0x41 {
        return Err(Error::invalid_id(
            "tron address",
            "payload must be 21 bytes starting with 0x41",
        ));
    }
    Ok(s.to_string())
}

/// A registrable domain name (from a bare domain or a URL), lower case, ASCII (punycode for IDNs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Domain {
    pub fn parse(input: &str) -> Result<Self> {
        let mut s = input.trim();
        if let Some(i) = s.find("://") {
            s = &s[i + 3..];
        }
        let s = s.split(['/', '?', '#']).next().unwrap_or_default();
        let s = s.rsplit('@').next().unwrap_or_default();
        let host = match s.rfind(':') {
            Some(i) if s[i + 1..].chars().all(|c| c.is_ascii_digit()) => &s[..i],
            _ => s,
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return Err(Error::invalid_id("domain", "empty"));
        }
        if !host.is_ascii() {
            return Err(Error::invalid_id(
                "domain",
                "non-ASCII name: give the punycode (xn--) form",
            ));
        }
        if host.len() > 253 {
            return Err(Error::invalid_id("domain", "longer than 253 characters"));
        }
        let labels: Vec<&str> = host.split('.').collect();
        if labels.len() < 2 {
            return Err(Error::invalid_id(
                "domain",
                "needs at least two labels (name.tld)",
            ));
        }
        for l in &labels {
            if l.is_empty() || l.len() > 63 {
                return Err(Error::invalid_id(
                    "domain",
                    "each label must have 1..=63 characters",
                ));
            }
            if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(Error::invalid_id(
                    "domain",
                    "labels may contain only letters, digits and -",
                ));
            }
            if l.starts_with('-') || l.ends_with('-') {
                return Err(Error::invalid_id(
                    "domain",
                    "a label may not start or end with -",
                ));
            }
        }
        let tld = labels[labels.len() - 1];
        if !(tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--")) {
            return Err(Error::invalid_id(
                "domain",
                "top-level label must be alphabetic (IP addresses are not domains)",
            ));
        }
        Ok(Domain(host))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Domain {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Domain::parse(&s)
    }
}
impl From<Domain> for String {
    fn from(p: Domain) -> String {
        p.0
    }
}

/// A SHA-256 digest as 64 lower-case hex digits: how attachments are referenced (never shipped).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn parse(input: &str) -> Result<Self> {
        let s = input.trim().to_ascii_lowercase();
        if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid_id("sha-256 digest", "must be 64 hex digits"));
        }
        Ok(Sha256Hex(s))
    }
    /// Digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Hex(hex::encode(sha2::Sha256::digest(bytes)))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Sha256Hex {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Sha256Hex::parse(&s)
    }
}
impl From<Sha256Hex> for String {
    fn from(p: Sha256Hex) -> String {
        p.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn iban_examples() {
        assert!(Iban::parse("GB82 WEST 1234 5698 7654 32").is_ok());
        assert!(Iban::parse("DE89370400440532013000").is_ok());
        let e = Iban::parse("GB82WEST12345698765433")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mod-97"), "{e}");
        // Registered country, checksum right, German account part one digit short.
        let e = Iban::parse("DE5137040044053201300")
            .unwrap_err()
            .to_string();
        assert!(e.contains("DE IBAN"), "{e}");
    }

    #[test]
    fn phone_examples() {
        let p = PhoneE164::parse("010-1234-5678", Some("KR")).unwrap();
        assert_eq!(p.as_str(), "+821012345678");
        let p = PhoneE164::parse("+66 81 234 5678", None).unwrap();
        assert_eq!(p.as_str(), "+66812345678");
        assert!(PhoneE164::parse("+82 1", None).is_err());
        assert!(PhoneE164::parse("hello", None).is_err());
        // The trunk 0 after a country code is dropped, as in every other crate (jikimi-ident).
        let p = PhoneE164::parse("+82 010-1234-5678", None).unwrap();
        assert_eq!(p.as_str(), "+821012345678");
        assert!(PhoneE164::parse("010-1234-5678", Some("XX")).is_err());
    }

    #[test]
    fn wallet_examples() {
        // Genesis-block address (P2PKH), BIP-173 and BIP-350 test vectors.
        assert!(Wallet::parse(Chain::Bitcoin, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").is_ok());
        assert!(Wallet::parse(Chain::Bitcoin, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb").is_err());
        assert!(
            Wallet::parse(Chain::Bitcoin, "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4").is_ok()
        );
        assert!(
            Wallet::parse(
                Chain::Bitcoin,
                "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
            )
            .is_ok()
        );
        // v1 with a bech32 (not bech32m) checksum must fail (BIP-350).
        assert!(
            Wallet::parse(
                Chain::Bitcoin,
                "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx"
            )
            .is_err()
        );
        // EIP-55 examples from the EIP.
        let w = Wallet::parse(
            Chain::Ethereum,
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        )
        .unwrap();
        assert_eq!(w.address(), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
        assert!(
            Wallet::parse(
                Chain::Ethereum,
                "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
            )
            .is_ok()
        );
        assert!(
            Wallet::parse(
                Chain::Ethereum,
                "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d35A"
            )
            .is_err()
        );
        // USDT contract on TRON.
        assert!(Wallet::parse(Chain::Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").is_ok());
        assert!(Wallet::parse(Chain::Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u").is_err());
    }

    #[test]
    fn domain_examples() {
        assert_eq!(
            Domain::parse("https://Scam-Shop.example.com:8443/login?x=1")
                .unwrap()
                .as_str(),
            "scam-shop.example.com"
        );
        assert!(Domain::parse("localhost").is_err());
        assert!(Domain::parse("10.0.0.1").is_err());
        assert!(Domain::parse("-bad.com").is_err());
    }
}
