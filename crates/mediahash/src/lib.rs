//! PDQ perceptual hashing, an exact Hamming index and hash lists: the "Identify" pillar of jikimi.
//!
//! Owns: [`pdq_hash`] / [`pdq_dihedral`] (bit-exact with Meta's ThreatExchange C++ through `pdqhash`),
//! [`decode_rgb8`] (bytes to RGB with decompression-bomb limits), [`Hash256`] (hex in the reference's
//! order), [`index::HammingIndex`] (multi-index hashing, exact for radius ≤ 31, persisted in one file),
//! [`list`] (ThreatExchange / HMA CSV and TSV hash lists) and [`MatchRecord`] (what an audit entry needs).
//! The [`cli`] module is the only place that touches the file system.
//!
//! Images are never stored: only hashes leave this crate.
//!
//! ```
//! use jikimi_mediahash::{pdq_hash, Luma, RgbImage};
//! let pixels: Vec<u8> = (0..32 * 32 * 3).map(|i| (i * 7 % 251) as u8).collect();
//! let image = RgbImage::new(32, 32, &pixels).unwrap();
//! let pdq = pdq_hash(image, Luma::Pdqhash);
//! assert_eq!(pdq.hash.to_hex().len(), 64);
//! ```

pub mod cli;
pub mod decode;
pub mod hash;
pub mod index;
pub mod list;
pub mod pdq;

pub use decode::{DecodeError, DecodeLimits, DecodedImage, decode_rgb8};
pub use hash::{Hash256, ParseHashError};
pub use list::MatchRecord;
pub use pdq::{DIHEDRAL_NAMES, Luma, PdqDihedral, PdqHash, RgbImage, pdq_dihedral, pdq_hash};
