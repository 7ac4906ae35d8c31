//! `Hash256`: a 256-bit PDQ hash, its hex form in the reference's order, and Hamming distance.
//!
//! Bit `k` (DCT coefficient row `k / 16`, column `k % 16`) lives in 16-bit word `k / 16`, bit `k % 16`,
//! exactly like ThreatExchange's `Hash256`. We store the sixteen words packed little-end-first into four
//! `u64`s (word `4q + r` is bits `16r..16r+16` of `u64` `q`) so distance is four popcounts.

use std::fmt;
use std::str::FromStr;

/// A 256-bit perceptual hash (PDQ).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, bytemuck::Pod, bytemuck::Zeroable,
)]
#[repr(transparent)]
pub struct Hash256(pub [u64; 4]);

impl Hash256 {
    /// The all-zero hash (what PDQ returns for images smaller than 5 pixels on a side).
    pub const ZERO: Hash256 = Hash256([0; 4]);

    /// Sets bit `k` (0..256) in the reference's numbering.
    pub fn set_bit(&mut self, k: usize) {
        self.0[k / 64] |= 1u64 << (k % 64);
    }

    /// Reads bit `k` (0..256) in the reference's numbering.
    pub fn bit(&self, k: usize) -> bool {
        (self.0[k / 64] >> (k % 64)) & 1 == 1
    }

    /// The reference's 16-bit word `w` (0..16).
    pub fn word(&self, w: usize) -> u16 {
        (self.0[w / 4] >> (16 * (w % 4))) as u16
    }

    /// Hamming distance (number of differing bits).
    #[inline]
    pub fn distance(&self, other: &Hash256) -> u32 {
        (self.0[0] ^ other.0[0]).count_ones()
            + (self.0[1] ^ other.0[1]).count_ones()
            + (self.0[2] ^ other.0[2]).count_ones()
            + (self.0[3] ^ other.0[3]).count_ones()
    }

    /// The reference's 16-bit word `w` as used for index substrings (same as [`Hash256::word`]).
    #[inline]
    pub fn substring(&self, w: usize) -> u16 {
        (self.0[w >> 2] >> ((w & 3) << 4)) as u16
    }

    /// Flips bit `k` (used to make near-duplicates in tests and benchmarks).
    pub fn flip_bit(&mut self, k: usize) {
        self.0[k / 64] ^= 1u64 << (k % 64);
    }

    /// Lowercase hex in the reference's order (`Hash256::format`: word 15 first, `%04hx` each).
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in (0..16).rev() {
            write!(f, "{:04x}", self.word(w))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({self})")
    }
}

/// Why a string is not a PDQ hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseHashError {
    /// Not exactly 64 characters.
    #[error("a pdq hash has 64 hex characters, got {0}")]
    Length(usize),
    /// A character outside `0-9a-fA-F`.
    #[error("invalid hex character at position {0}")]
    Character(usize),
}

impl FromStr for Hash256 {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(ParseHashError::Length(s.chars().count()));
        }
        let mut out = Hash256::ZERO;
        for (pos, &c) in bytes.iter().enumerate() {
            let nibble = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(ParseHashError::Character(pos)),
            };
            // Character `pos` holds bits 255 - 4*pos ..= 252 - 4*pos.
            let low_bit = 252 - 4 * pos;
            out.0[low_bit / 64] |= u64::from(nibble) << (low_bit % 64);
        }
        Ok(out)
    }
}

impl serde::Serialize for Hash256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hash256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_order() {
        let hex = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
        let h: Hash256 = hex.parse().unwrap();
        assert_eq!(h.to_hex(), hex);
        // Word 15 prints first; word 0 last.
        assert_eq!(h.word(15), 0xf8f8);
        assert_eq!(h.word(0), 0x9b22);
        let mut one = Hash256::ZERO;
        one.set_bit(0);
        assert_eq!(one.to_hex(), format!("{}1", "0".repeat(63)));
        assert!(one.bit(0));
        assert_eq!(one.distance(&Hash256::ZERO), 1);
    }

    #[test]
    fn rejects_bad_hex() {
        assert_eq!("abc".parse::<Hash256>(), Err(ParseHashError::Length(3)));
        let bad = format!("{}g", "0".repeat(63));
        assert_eq!(bad.parse::<Hash256>(), Err(ParseHashError::Character(63)));
    }
}
