//! Sealed fields: XChaCha20-Poly1305 under a rotating keyring, with a compact byte encoding for storage.

use crate::Error;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// Key length in bytes.
pub const KEY_LEN: usize = 32;
/// XChaCha20 nonce length in bytes: long enough that random nonces never collide in practice.
pub const NONCE_LEN: usize = 24;
/// First byte of the storage encoding; bump it if the layout changes.
const FORMAT_V1: u8 = 1;

/// An encrypted field: which key, which nonce, and the ciphertext with its 16-byte tag.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sealed {
    /// The key id used; looked up in the keyring to open.
    pub key_id: String,
    /// The random nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("len", &self.ciphertext.len())
            .finish()
    }
}

impl Sealed {
    /// Storage encoding: `1 | key_id_len (u8) | key_id | nonce (24) | ciphertext`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.key_id.len() + NONCE_LEN + self.ciphertext.len());
        out.push(FORMAT_V1);
        // Key ids are checked to be at most 255 bytes when the keyring is built.
        out.push(u8::try_from(self.key_id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parses [`Sealed::to_bytes`]'s output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sealed, Error> {
        let (&version, rest) = bytes.split_first().ok_or(Error::Malformed("empty"))?;
        if version != FORMAT_V1 {
            return Err(Error::Malformed("unknown format version"));
        }
        let (&id_len, rest) = rest.split_first().ok_or(Error::Malformed("truncated"))?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + 16 {
            return Err(Error::Malformed("truncated"));
        }
        let (id, rest) = rest.split_at(id_len);
        let key_id = std::str::from_utf8(id)
            .map_err(|_| Error::Malformed("key id is not utf-8"))?
            .to_owned();
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let mut nonce_arr = [0u8; NONCE_LEN];
        nonce_arr.copy_from_slice(nonce);
        Ok(Sealed {
            key_id,
            nonce: nonce_arr,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

/// The operator's data-encryption keys by id, one of them current for new seals.
#[derive(Clone)]
pub struct Keyring {
    keys: BTreeMap<String, Zeroizing<[u8; KEY_LEN]>>,
    current: String,
}

impl fmt::Debug for Keyring {
    /// Names the key ids, never the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// A keyring from `(id, key)` pairs; `current` must be one of them. Ids are 1 to 255 bytes, without `:` or `,`.
    pub fn new(
        current: &str,
        keys: impl IntoIterator<Item = (String, [u8; KEY_LEN])>,
    ) -> Result<Keyring, Error> {
        let mut map = BTreeMap::new();
        for (id, key) in keys {
            if id.is_empty() || id.len() > 255 || id.contains([':', ',']) {
                return Err(Error::KeyMaterial(format!(
                    "key id {id:?} must be 1-255 bytes without ':' or ','"
                )));
            }
            if map.insert(id.clone(), Zeroizing::new(key)).is_some() {
                return Err(Error::KeyMaterial(format!("key id {id:?} appears twice")));
            }
        }
        if !map.contains_key(current) {
            return Err(Error::KeyMaterial(format!(
                "current key id {current:?} is not in the keyring"
            )));
        }
        Ok(Keyring {
            keys: map,
            current: current.to_owned(),
        })
    }

    /// Parses operator key material: `id:hex64[,id:hex64...]`; the **first** entry is the current key.
    ///
    /// Example: `k2:<64 hex digits>,k1:<64 hex digits>` seals with `k2` and still opens values sealed with `k1`.
    pub fn from_spec(spec: &str) -> Result<Keyring, Error> {
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, hex_key) = part.split_once(':').ok_or_else(|| {
                Error::KeyMaterial("expected id:hex64 entries separated by commas".into())
            })?;
            keys.push((id.trim().to_owned(), parse_key_hex(hex_key.trim())?));
        }
        let current = keys
            .first()
            .map(|(id, _)| id.clone())
            .ok_or_else(|| Error::KeyMaterial("no keys".into()))?;
        Keyring::new(&current, keys)
    }

    /// The key id new seals use.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    /// Encrypts `plaintext` with the current key and a fresh random nonce, bound to `record` and `field`.
    pub fn seal(&self, record: &str, field: &str, plaintext: &[u8]) -> Result<Sealed, Error> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        self.seal_with_nonce(record, field, plaintext, nonce.into())
    }

    /// [`Keyring::seal`] with a caller-chosen nonce: for deterministic tests only. A nonce must never be reused.
    pub fn seal_with_nonce(
        &self,
        record: &str,
        field: &str,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Sealed, Error> {
        let key = self
            .keys
            .get(&self.current)
            .ok_or_else(|| Error::UnknownKey(self.current.clone()))?;
        let cipher = XChaCha20Poly1305::new(key.as_slice().into());
        let aad = associated_data(&self.current, record, field);
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Seal)?;
        Ok(Sealed {
            key_id: self.current.clone(),
            nonce,
            ciphertext,
        })
    }

    /// Decrypts a value sealed for `record` and `field` with any key in the ring.
    pub fn open(&self, record: &str, field: &str, sealed: &Sealed) -> Result<Vec<u8>, Error> {
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| Error::UnknownKey(sealed.key_id.clone()))?;
        let cipher = XChaCha20Poly1305::new(key.as_slice().into());
        let aad = associated_data(&sealed.key_id, record, field);
        cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Open)
    }

    /// [`Keyring::seal`] for text.
    pub fn seal_str(&self, record: &str, field: &str, plaintext: &str) -> Result<Sealed, Error> {
        self.seal(record, field, plaintext.as_bytes())
    }

    /// [`Keyring::open`] for text sealed with [`Keyring::seal_str`].
    pub fn open_str(&self, record: &str, field: &str, sealed: &Sealed) -> Result<String, Error> {
        String::from_utf8(self.open(record, field, sealed)?)
            .map_err(|_| Error::Malformed("plaintext is not utf-8"))
    }

    /// Whether `sealed` uses an older key and should be re-sealed with the current one.
    pub fn needs_rotation(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.current
    }
}

/// Length-prefixed so that no two (key id, record, field) triples share an encoding.
fn associated_data(key_id: &str, record: &str, field: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + key_id.len() + record.len() + field.len());
    aad.extend_from_slice(b"jikimi-seal-v1");
    for part in [key_id, record, field] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// Parses 64 hex digits into a 32-byte key.
pub(crate) fn parse_key_hex(hex_key: &str) -> Result<[u8; KEY_LEN], Error> {
    let mut key = [0u8; KEY_LEN];
    hex::decode_to_slice(hex_key, &mut key)
        .map_err(|_| Error::KeyMaterial("a key must be 64 hex digits (32 bytes)".into()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(
            "k2",
            [("k1".to_owned(), [1; 32]), ("k2".to_owned(), [2; 32])],
        )
        .unwrap()
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let ring = ring();
        let sealed = ring.seal_str("sub/1", "name", "김지킴").unwrap();
        assert_eq!(sealed.key_id, "k2");
        assert_eq!(ring.open_str("sub/1", "name", &sealed).unwrap(), "김지킴");
        assert_eq!(ring.open("sub/1", "phone", &sealed), Err(Error::Open));
        assert_eq!(ring.open("sub/2", "name", &sealed), Err(Error::Open));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(ring.open("sub/1", "name", &tampered), Err(Error::Open));
    }

    #[test]
    fn rotation_opens_old_keys() {
        let old = Keyring::new("k1", [("k1".to_owned(), [1; 32])]).unwrap();
        let sealed = old.seal_str("r", "f", "x").unwrap();
        let ring = ring();
        assert!(ring.needs_rotation(&sealed));
        assert_eq!(ring.open_str("r", "f", &sealed).unwrap(), "x");
        let unknown = Keyring::new("k9", [("k9".to_owned(), [9; 32])]).unwrap();
        assert_eq!(
            unknown.open("r", "f", &sealed),
            Err(Error::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn byte_encoding_round_trips() {
        let ring = ring();
        let sealed = ring
            .seal_with_nonce("r", "f", b"hello", [5; NONCE_LEN])
            .unwrap();
        let bytes = sealed.to_bytes();
        assert_eq!(Sealed::from_bytes(&bytes).unwrap(), sealed);
        assert!(Sealed::from_bytes(&bytes[..10]).is_err());
        assert!(Sealed::from_bytes(&[]).is_err());
        assert!(!bytes.windows(5).any(|w| w == b"hello"));
    }

    #[test]
    fn key_spec_parsing_and_redacted_debug() {
        let spec = format!("new:{},old:{}", "ab".repeat(32), "cd".repeat(32));
        let ring = Keyring::from_spec(&spec).unwrap();
        assert_eq!(ring.current_key_id(), "new");
        let debug = format!("{ring:?}");
        assert!(!debug.contains("abab"), "{debug}");
        assert!(Keyring::from_spec("k1:zz").is_err());
        assert!(Keyring::from_spec("").is_err());
        assert!(Keyring::from_spec(&format!("a:{0},a:{0}", "ab".repeat(32))).is_err());
    }
}
