//! Account identifiers: every account in a transfer becomes one canonical key, `<kind>:<identifier>`, built
//! with the exchange crate's validated identifier types so that the same account written two ways (spaces in
//! an IBAN, lower-case Ethereum hex) is one account, and so that keys match the entities of shared cases.
//!
//! Kinds: `iban:` (ISO 13616, mod-97 checked), `acct:` (domestic account number), `bitcoin:`, `ethereum:`
//! (EIP-55 form), `tron:`. An input may name its kind with one of these prefixes (also `btc:`, `eth:`, `trx:`);
//! without one the kind is detected: a valid IBAN, then a wallet address whose checksum holds, then an
//! account number.

use jikimi_exchange::identifiers::{AccountNumber, Chain, Iban, Wallet};

use crate::string_table::StringTable;

/// A dense index into [`Accounts`]: the engine's per-account state is a vector indexed by it.
pub type AccountId = u32;

/// What a source says about an account field before it is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountHint {
    /// A CSV cell: a `kind:` prefix or detection.
    Auto,
    /// camt.053 `<IBAN>`.
    Iban,
    /// camt.053 `<Othr><Id>`: a domestic account number.
    Other,
    /// A chain export: a wallet address of this chain.
    Wallet(Chain),
}

fn chain_name(chain: Chain) -> &'static str {
    match chain {
        Chain::Bitcoin => "bitcoin",
        Chain::Ethereum => "ethereum",
        Chain::Tron => "tron",
    }
}

/// The canonical key of `raw`, or why it is not an account (never echoing the value: it is personal data).
pub fn canonical_key(raw: &str, hint: AccountHint) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("is empty".to_string());
    }
    let explain = |e: jikimi_exchange::Error| e.to_string();
    match hint {
        AccountHint::Iban => Iban::parse(raw)
            .map(|i| format!("iban:{}", i.as_str()))
            .map_err(explain),
        AccountHint::Other => AccountNumber::parse(raw)
            .map(|a| format!("acct:{}", a.as_str()))
            .map_err(explain),
        AccountHint::Wallet(chain) => wallet_key(chain, raw).map_err(explain),
        AccountHint::Auto => {
            if let Some((kind, rest)) = raw.split_once(':') {
                let kind = kind.to_ascii_lowercase();
                let explicit = match kind.as_str() {
                    "iban" => Some(AccountHint::Iban),
                    "acct" | "account" => Some(AccountHint::Other),
                    "bitcoin" | "btc" => Some(AccountHint::Wallet(Chain::Bitcoin)),
                    "ethereum" | "eth" => Some(AccountHint::Wallet(Chain::Ethereum)),
                    "tron" | "trx" => Some(AccountHint::Wallet(Chain::Tron)),
                    _ => None,
                };
                return match explicit {
                    Some(h) => canonical_key(rest, h),
                    None => Err(
                        "has an unknown kind prefix (use iban:, acct:, bitcoin:, ethereum: or tron:)".to_string(),
                    ),
                };
            }
            if raw.len() >= 15
                && raw.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic)
                && let Ok(i) = Iban::parse(raw)
            {
                return Ok(format!("iban:{}", i.as_str()));
            }
            if let Ok(w) = Wallet::detect(raw) {
                return Ok(format!("{}:{}", chain_name(w.chain()), w.address()));
            }
            AccountNumber::parse(raw)
                .map(|a| format!("acct:{}", a.as_str()))
                .map_err(|_| {
                    "is not an IBAN, a bank account number or a wallet address".to_string()
                })
        }
    }
}

fn wallet_key(chain: Chain, raw: &str) -> Result<String, jikimi_exchange::Error> {
    Wallet::parse(chain, raw).map(|w| format!("{}:{}", chain_name(chain), w.address()))
}

/// The interner: canonical keys to dense ids and back. Raw spellings that differ from their canonical key are
/// remembered as aliases so that each distinct spelling is validated once (validation costs a checksum).
#[derive(Debug, Default)]
pub struct Accounts {
    /// Canonical keys; a key's number in the table is its [`AccountId`].
    names: StringTable,
    /// One alias table per hint (`12345` as a camt `<Othr>` and as a TRON address are different questions):
    /// raw spellings, and the account each one names.
    aliases: [(StringTable, Vec<AccountId>); 6],
}

fn hint_index(h: AccountHint) -> usize {
    match h {
        AccountHint::Auto => 0,
        AccountHint::Iban => 1,
        AccountHint::Other => 2,
        AccountHint::Wallet(Chain::Bitcoin) => 3,
        AccountHint::Wallet(Chain::Ethereum) => 4,
        AccountHint::Wallet(Chain::Tron) => 5,
    }
}

const TOO_MANY: &str = "is one account too many (more than 4 billion)";

impl Accounts {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `raw` (validated and canonicalised on first sight), or why it is not an account.
    pub fn intern(&mut self, raw: &str, hint: AccountHint) -> Result<AccountId, String> {
        // Fast path: the input already uses canonical keys (as the synthetic network and our own outputs do).
        if hint == AccountHint::Auto
            && let Some(id) = self.names.get(raw)
        {
            return Ok(id);
        }
        let (alias_keys, alias_ids) = &mut self.aliases[hint_index(hint)];
        if let Some(i) = alias_keys.get(raw) {
            return Ok(alias_ids[i as usize]);
        }
        let key = canonical_key(raw, hint)?;
        let id = match self.names.get(&key) {
            Some(id) => id,
            None => self
                .names
                .insert_new(&key)
                .ok_or_else(|| TOO_MANY.to_string())?,
        };
        if !(hint == AccountHint::Auto && key == raw) {
            alias_keys
                .insert_new(raw)
                .ok_or_else(|| TOO_MANY.to_string())?;
            alias_ids.push(id);
        }
        Ok(id)
    }

    /// Reads where [`Accounts::intern`] will first look for each of `raws`: called for a batch of rows before
    /// they are interned one by one, it brings their table slots into the cache with the memory reads of the
    /// whole batch overlapping, instead of one cache miss after another.
    pub fn warm(&self, raws: &[&str], hint: AccountHint) {
        if hint == AccountHint::Auto {
            self.names.warm(raws);
        } else {
            self.aliases[hint_index(hint)].0.warm(raws);
        }
    }

    /// The id of an already canonical key, if the account has been seen.
    pub fn get(&self, key: &str) -> Option<AccountId> {
        self.names.get(key)
    }

    /// The canonical key of `id`.
    pub fn name(&self, id: AccountId) -> &str {
        self.names.text_of(id)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_detected_and_canonical() {
        let k = |s: &str| canonical_key(s, AccountHint::Auto);
        assert_eq!(
            k("GB82 WEST 1234 5698 7654 32").as_deref(),
            Ok("iban:GB82WEST12345698765432")
        );
        assert_eq!(
            k("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").as_deref(),
            Ok("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
        );
        assert_eq!(
            k("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").as_deref(),
            Ok("tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
        );
        assert_eq!(k("110-234-567890").as_deref(), Ok("acct:110234567890"));
        assert_eq!(k("acct:110234567890").as_deref(), Ok("acct:110234567890"));
        assert!(k("GB82WEST12345698765433").is_ok_and(|s| s.starts_with("acct:")));
        assert!(k("iban:GB82WEST12345698765433").is_err());
        assert!(k("ab").is_err());
        assert!(k("foo:bar").is_err());
    }

    #[test]
    fn interner_merges_spellings() {
        let mut a = Accounts::new();
        let x = a.intern("GB82 WEST 1234 5698 7654 32", AccountHint::Auto);
        let y = a.intern("iban:gb82west12345698765432", AccountHint::Auto);
        let z = a.intern("GB82WEST12345698765432", AccountHint::Iban);
        assert_eq!(x, y);
        assert_eq!(y, z);
        assert_eq!(a.len(), 1);
    }
}
