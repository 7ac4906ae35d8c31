//! Personal data at rest: sealing fields with XChaCha20-Poly1305 and finding them again through keyed blind indexes.
//!
//! - [`Keyring`] holds the operator's data-encryption keys by key id, one of them current. [`Keyring::seal`] encrypts
//!   a field with the current key; [`Keyring::open`] decrypts with whichever key id the [`Sealed`] value names, so keys
//!   can be rotated without re-encrypting everything at once. The associated data binds the record id and the field
//!   name: a ciphertext moved to another record or field does not open.
//! - [`BlindIndex`] computes HMAC-SHA256 digests, with its own key, over normalised values ([`normalise_phone`],
//!   [`normalise_text`]) so the store can look a subscriber up by phone without holding the phone in clear. Phones
//!   are normalised by `jikimi-ident` (libphonenumber's rules), the one normaliser every crate shares.
//!
//! No type here prints a secret or a plaintext in `Debug`. This crate does no I/O; the operator's key material is
//! parsed from strings the caller read.
//!
//! ```
//! use jikimi_privacy::{BlindIndex, Keyring};
//! let keyring = Keyring::from_spec("k1:0101010101010101010101010101010101010101010101010101010101010101").unwrap();
//! let sealed = keyring.seal("subscriber/42", "phone", b"+821012345678").unwrap();
//! assert_eq!(keyring.open("subscriber/42", "phone", &sealed).unwrap(), b"+821012345678");
//! assert!(keyring.open("subscriber/43", "phone", &sealed).is_err());
//! let index = BlindIndex::new([7; 32]);
//! let phone = jikimi_privacy::normalise_phone("010-1234-5678").unwrap();
//! assert_eq!(index.digest("phone", &phone), index.digest("phone", "+821012345678"));
//! ```

// Tests may unwrap: a panic is the failure report there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod blind;
mod seal;

pub use blind::{BlindDigest, BlindIndex, normalise_phone, normalise_text};
pub use seal::{KEY_LEN, Keyring, NONCE_LEN, Sealed};

/// What went wrong sealing, opening, or reading key material. Messages never contain plaintext or key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sealed value names a key id the keyring does not hold.
    #[error("unknown key id {0:?}")]
    UnknownKey(String),
    /// Authentication failed: wrong key, wrong record or field, or a modified ciphertext.
    #[error("sealed value does not open: wrong key, record or field, or tampered")]
    Open,
    /// Encryption failed (only on absurd input lengths).
    #[error("sealing failed")]
    Seal,
    /// The stored bytes are not a sealed value.
    #[error("malformed sealed value: {0}")]
    Malformed(&'static str),
    /// The operator's key material is not usable.
    #[error("invalid key material: {0}")]
    KeyMaterial(String),
    /// A phone number that cannot be normalised to E.164.
    #[error("invalid phone number")]
    Phone,
}
