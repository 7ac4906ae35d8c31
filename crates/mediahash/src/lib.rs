//! PDQ perceptual hashing, an exact Hamming index and hash lists: the "Identify" pillar of jikimi.
//!
//! Owns: [`pdq_hash`] / [`pdq_dihedral`] (bit-exact with Meta's ThreatExchange C++ through `pdqhash`),
//! [`decode_rgb8`] (bytes to RGB with decompression-bomb limits; JPEG through libjpeg-turbo like the
//! reference's Pillow, so JPEG pixels are the reference's), [`Hash256`] (hex in the reference's
//! order), [`index::HammingIndex`] (multi-index hashing, exact for radius ≤ 31, persisted in one file),
//! [`banks::BankIndex`] (hash banks in memory: per-bank distance, negative banks, incremental adds and
//! disables), [`list`] (ThreatExchange / HMA CSV and TSV hash lists) and [`MatchRecord`] (what an audit entry needs).
//! [`vpdq`] is Meta's video PDQ (frame features, comparison, a frame index across videos); the `video` feature adds
//! `video` (FFmpeg decoding, as the reference) and `jikimi pdq hash-video` / `compare-video`.
//! [`triage`] sorts a seized directory tree by hash banks (`jikimi identify triage`).
//! The [`cli`] and [`bench`] modules, the edges of [`triage`] (`run`, `cli`, `bench`) and `video` (which reads video
//! files) are the only places that touch the file system.
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

pub mod banks;
pub mod bench;
#[cfg(feature = "video")]
mod bench_video;
pub mod cli;
#[cfg(feature = "video")]
pub mod cli_video;
pub mod decode;
pub mod hash;
pub mod index;
mod jpeg;
mod large;
pub mod list;
pub mod pdq;
pub mod triage;
#[cfg(feature = "video")]
pub mod video;
pub mod vpdq;

pub use decode::{DecodeError, DecodeLimits, DecodedImage, decode_rgb8};
pub use hash::{Hash256, ParseHashError};
pub use jpeg::simd_idct as jpeg_simd_idct;
pub use list::MatchRecord;
pub use pdq::{DIHEDRAL_NAMES, Luma, PdqDihedral, PdqHash, RgbImage, pdq_dihedral, pdq_hash};

/// Hashes of one encoded image: the PDQ hash, and the dihedral variants when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHashes {
    /// Width of the decoded image.
    pub width: u32,
    /// Height of the decoded image.
    pub height: u32,
    /// The PDQ hash (reference `pdqHash256FromFloatLuma`).
    pub pdq: PdqHash,
    /// The eight dihedral hashes, if requested.
    pub dihedral: Option<PdqDihedral>,
}

/// Decodes `bytes` and hashes the image: the whole decode-and-hash path (what the fuzz target drives).
pub fn hash_encoded(
    bytes: &[u8],
    limits: DecodeLimits,
    luma: Luma,
    with_dihedral: bool,
) -> Result<ImageHashes, DecodeError> {
    let decoded = decode_rgb8(bytes, limits)?;
    let image = RgbImage::new(
        decoded.width as usize,
        decoded.height as usize,
        &decoded.rgb,
    )
    .ok_or(DecodeError::ZeroSized)?;
    Ok(ImageHashes {
        width: decoded.width,
        height: decoded.height,
        pdq: pdq_hash(image, luma),
        dihedral: with_dihedral.then(|| pdq_dihedral(image, luma)),
    })
}
