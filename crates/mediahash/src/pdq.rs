//! PDQ hashing from 8-bit RGB pixels, bit-exact with Meta's ThreatExchange C++ (`pdq/cpp/hashing`).
//!
//! Pipeline: luma → Jarosz tent filter (two box passes per axis) → decimation to 64x64 → quality from
//! 64x64 gradients → 16x16 of a 64-point DCT-II → bit = coefficient > Torben median. Every step keeps the
//! reference's float type (f32, f64 where the C++ promotes) and its order of operations, because the hash
//! bits are decided by comparisons that a reordered sum can flip. Rust never contracts `a * b + c` into an
//! FMA, so the sums below round exactly like the reference built without `-ffast-math`.

use crate::hash::Hash256;
use std::sync::OnceLock;

/// Images smaller than this on either side hash to all zeros with quality 0 (reference `MIN_HASHABLE_DIM`).
pub const MIN_HASHABLE_DIM: usize = 5;

/// Reference order of the dihedral variants.
pub const DIHEDRAL_NAMES: [&str; 8] = [
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipX",
    "flipY",
    "flipPlus1",
    "flipMinus1",
];

/// How RGB becomes luma `Y = 0.299 R + 0.587 G + 0.114 B`; the two reference paths differ by one ulp on
/// about a third of pixels, which flips no bit except on images whose DCT median is a near-tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Luma {
    /// `pdqhash` (PyPI) and python-threatexchange / HMA: the sum in f64, then rounded to f32.
    #[default]
    Pdqhash,
    /// The official C++ CLI (`fillFloatLumaFromRGB`): `(0.299f*R + 0.587f*G) + 0.114f*B` in f32.
    Float32,
}

/// A borrowed 8-bit RGB image, row-major, interleaved, no padding.
#[derive(Debug, Clone, Copy)]
pub struct RgbImage<'a> {
    width: usize,
    height: usize,
    pixels: &'a [u8],
}

impl<'a> RgbImage<'a> {
    /// Checks that `pixels` holds exactly `width * height * 3` bytes.
    pub fn new(width: usize, height: usize, pixels: &'a [u8]) -> Option<Self> {
        let expected = width.checked_mul(height)?.checked_mul(3)?;
        (pixels.len() == expected).then_some(RgbImage {
            width,
            height,
            pixels,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
}

/// A PDQ hash with its quality (0..=100; the reference suggests ignoring hashes below 50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PdqHash {
    /// The 256-bit hash.
    pub hash: Hash256,
    /// Gradient-based quality, 0..=100.
    pub quality: u32,
}

/// The eight dihedral hashes in [`DIHEDRAL_NAMES`] order, and the quality of the (filtered) image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdqDihedral {
    /// `original, rotate90, rotate180, rotate270, flipX, flipY, flipPlus1, flipMinus1`.
    pub hashes: [Hash256; 8],
    /// Quality, 0..=100.
    pub quality: u32,
}

/// PDQ hash of an image (reference `pdqHash256FromFloatLuma`).
///
/// Like the reference, a 64x64 input skips the blur and is used as the 64x64 buffer directly, so its hash
/// can differ from [`pdq_dihedral`]'s `original` (which always blurs).
pub fn pdq_hash(image: RgbImage<'_>, luma: Luma) -> PdqHash {
    if image.width < MIN_HASHABLE_DIM || image.height < MIN_HASHABLE_DIM {
        return PdqHash {
            hash: Hash256::ZERO,
            quality: 0,
        };
    }
    let luma = fill_luma(image, luma);
    let buffer64 = if image.width == 64 && image.height == 64 {
        luma
    } else {
        downsample_to_64(luma, image.height, image.width)
    };
    let quality = quality_metric(&buffer64);
    let dct = dct64_to_16(&buffer64);
    PdqHash {
        hash: bits_from_dct(&dct),
        quality,
    }
}

/// The eight dihedral PDQ hashes, computed from the original's DCT by sign flips and transposes
/// (reference `pdqDihedralHash256esFromFloatLuma`).
pub fn pdq_dihedral(image: RgbImage<'_>, luma: Luma) -> PdqDihedral {
    if image.width < MIN_HASHABLE_DIM || image.height < MIN_HASHABLE_DIM {
        return PdqDihedral {
            hashes: [Hash256::ZERO; 8],
            quality: 0,
        };
    }
    let buffer64 = downsample_to_64(fill_luma(image, luma), image.height, image.width);
    let quality = quality_metric(&buffer64);
    let a = dct64_to_16(&buffer64);
    let variant = |transpose: bool, negate: &dyn Fn(usize, usize) -> bool| {
        let mut b = [0f32; 256];
        for i in 0..16 {
            for j in 0..16 {
                let v = if negate(i, j) {
                    -a[i * 16 + j]
                } else {
                    a[i * 16 + j]
                };
                if transpose {
                    b[j * 16 + i] = v;
                } else {
                    b[i * 16 + j] = v;
                }
            }
        }
        bits_from_dct(&b)
    };
    let hashes = [
        bits_from_dct(&a),
        variant(true, &|_, j| j & 1 == 0),
        variant(false, &|i, j| (i + j) & 1 == 1),
        variant(true, &|i, _| i & 1 == 0),
        variant(false, &|i, _| i & 1 == 0),
        variant(false, &|_, j| j & 1 == 0),
        variant(true, &|_, _| false),
        variant(true, &|i, j| (i + j) & 1 == 1),
    ];
    PdqDihedral { hashes, quality }
}

fn fill_luma(image: RgbImage<'_>, luma: Luma) -> Vec<f32> {
    let mut out = Vec::with_capacity(image.width * image.height);
    match luma {
        Luma::Pdqhash => {
            // numpy: (R*0.299 + G*0.587) + B*0.114 in float64, then astype(float32).
            let (r, g, b) = luts(
                |v| f64::from(v) * 0.299,
                |v| f64::from(v) * 0.587,
                |v| f64::from(v) * 0.114,
            );
            out.extend(
                image
                    .pixels
                    .chunks_exact(3)
                    .map(|p| (r[p[0] as usize] + g[p[1] as usize] + b[p[2] as usize]) as f32),
            );
        }
        Luma::Float32 => {
            let (r, g, b) = luts(
                |v| 0.299f32 * f32::from(v),
                |v| 0.587f32 * f32::from(v),
                |v| 0.114f32 * f32::from(v),
            );
            out.extend(
                image
                    .pixels
                    .chunks_exact(3)
                    .map(|p| r[p[0] as usize] + g[p[1] as usize] + b[p[2] as usize]),
            );
        }
    }
    out
}

/// Per-channel product tables: each product is what the reference computes per pixel, so the sum is too.
fn luts<T: Copy + Default>(
    r: impl Fn(u8) -> T,
    g: impl Fn(u8) -> T,
    b: impl Fn(u8) -> T,
) -> ([T; 256], [T; 256], [T; 256]) {
    let mut out = (
        [T::default(); 256],
        [T::default(); 256],
        [T::default(); 256],
    );
    for v in 0..=255u8 {
        out.0[v as usize] = r(v);
        out.1[v as usize] = g(v);
        out.2[v as usize] = b(v);
    }
    out
}

/// Reference `computeJaroszFilterWindowSize(old, 64)`: ceil(old / 128).
fn jarosz_window(old: usize) -> usize {
    old.div_ceil(2 * 64)
}

/// Jarosz filter (two row+column box passes, reference `jaroszFilterFloat`) then `decimateFloat` to 64x64.
fn downsample_to_64(mut buffer1: Vec<f32>, rows: usize, cols: usize) -> Vec<f32> {
    let window_along_rows = jarosz_window(cols);
    let window_along_cols = jarosz_window(rows);
    let mut buffer2 = vec![0f32; rows * cols];
    for _ in 0..2 {
        for (row_in, row_out) in buffer1
            .chunks_exact(cols)
            .zip(buffer2.chunks_exact_mut(cols))
        {
            box_1d(row_in, row_out, window_along_rows);
        }
        box_columns(&buffer2, &mut buffer1, rows, cols, window_along_cols);
    }
    let mut out = vec![0f32; 64 * 64];
    for out_i in 0..64 {
        let in_i = (((out_i as f64 + 0.5) * rows as f64) / 64.0) as usize;
        for out_j in 0..64 {
            let in_j = (((out_j as f64 + 0.5) * cols as f64) / 64.0) as usize;
            out[out_i * 64 + out_j] = buffer1[in_i * cols + in_j];
        }
    }
    out
}

/// The four phases of the reference `box1DFloat` (running sum, divided by the current window length).
struct BoxPhases {
    warm_up: usize,
    grow: usize,
    full: usize,
    shrink: usize,
}

impl BoxPhases {
    fn new(len: usize, window: usize) -> Self {
        let half = (window + 2) / 2;
        BoxPhases {
            warm_up: half - 1,
            grow: window - half + 1,
            full: len.saturating_sub(window),
            shrink: half - 1,
        }
    }
}

/// Reference `box1DFloat` along one contiguous vector.
fn box_1d(input: &[f32], output: &mut [f32], window: usize) {
    let phases = BoxPhases::new(input.len(), window);
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut sum = 0f32;
    let mut current = 0i32;
    for _ in 0..phases.warm_up {
        sum += input[ri];
        current += 1;
        ri += 1;
    }
    for _ in 0..phases.grow {
        sum += input[ri];
        current += 1;
        output[oi] = sum / current as f32;
        ri += 1;
        oi += 1;
    }
    for _ in 0..phases.full {
        sum += input[ri];
        sum -= input[li];
        output[oi] = sum / current as f32;
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..phases.shrink {
        sum -= input[li];
        current -= 1;
        output[oi] = sum / current as f32;
        li += 1;
        oi += 1;
    }
}

/// Reference `boxAlongColsFloat`, all columns at once: each column sees exactly the reference's sequence of
/// float operations, but memory is walked row by row (cache friendly, vectorisable).
fn box_columns(input: &[f32], output: &mut [f32], rows: usize, cols: usize, window: usize) {
    let phases = BoxPhases::new(rows, window);
    let mut sums = vec![0f32; cols];
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut current = 0i32;
    let row = |r: usize| &input[r * cols..(r + 1) * cols];
    for _ in 0..phases.warm_up {
        for (s, &x) in sums.iter_mut().zip(row(ri)) {
            *s += x;
        }
        current += 1;
        ri += 1;
    }
    for _ in 0..phases.grow {
        current += 1;
        let d = current as f32;
        let out = &mut output[oi * cols..(oi + 1) * cols];
        for ((s, &x), o) in sums.iter_mut().zip(row(ri)).zip(out) {
            *s += x;
            *o = *s / d;
        }
        ri += 1;
        oi += 1;
    }
    for _ in 0..phases.full {
        let d = current as f32;
        let out = &mut output[oi * cols..(oi + 1) * cols];
        for (((s, &x), &y), o) in sums.iter_mut().zip(row(ri)).zip(row(li)).zip(out) {
            *s += x;
            *s -= y;
            *o = *s / d;
        }
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..phases.shrink {
        current -= 1;
        let d = current as f32;
        let out = &mut output[oi * cols..(oi + 1) * cols];
        for ((s, &y), o) in sums.iter_mut().zip(row(li)).zip(out) {
            *s -= y;
            *o = *s / d;
        }
        li += 1;
        oi += 1;
    }
}

/// Reference `pdqImageDomainQualityMetric`: count of significant gradients, scaled to 0..=100.
fn quality_metric(b: &[f32]) -> u32 {
    let mut gradient_sum: i32 = 0;
    let step = |u: f32, v: f32| (((u - v) * 100.0) / 255.0) as i32;
    for i in 0..63 {
        for j in 0..64 {
            gradient_sum += step(b[i * 64 + j], b[(i + 1) * 64 + j]).abs();
        }
    }
    for i in 0..64 {
        for j in 0..63 {
            gradient_sum += step(b[i * 64 + j], b[i * 64 + j + 1]).abs();
        }
    }
    (gradient_sum / 90).clamp(0, 100) as u32
}

/// Rows 1..=16 of the 64-point DCT-II matrix, as the reference builds it (f32 scale times f64 cosine).
fn dct_matrix() -> &'static [f32; 16 * 64] {
    static MATRIX: OnceLock<[f32; 16 * 64]> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut d = [0f32; 16 * 64];
        for i in 0..16 {
            for j in 0..64 {
                let angle =
                    (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                d[i * 64 + j] = (f64::from(scale) * angle.cos()) as f32;
            }
        }
        d
    })
}

/// Reference `dct64To16`: B = D A Dᵀ with T = D A first, sums in f32 in index order.
fn dct64_to_16(a: &[f32]) -> [f32; 256] {
    let d = dct_matrix();
    let mut t = [0f32; 16 * 64];
    for i in 0..16 {
        let row = &d[i * 64..(i + 1) * 64];
        // Accumulate T[i][0..64] together, keeping the k order of each element's sum.
        let t_row = &mut t[i * 64..(i + 1) * 64];
        for (k, &dk) in row.iter().enumerate() {
            for (tj, &akj) in t_row.iter_mut().zip(&a[k * 64..(k + 1) * 64]) {
                *tj += dk * akj;
            }
        }
    }
    let mut b = [0f32; 256];
    for i in 0..16 {
        let t_row = &t[i * 64..(i + 1) * 64];
        for j in 0..16 {
            let d_row = &d[j * 64..(j + 1) * 64];
            let mut sum = 0f32;
            for k in 0..64 {
                sum += t_row[k] * d_row[k];
            }
            b[i * 16 + j] = sum;
        }
    }
    b
}

/// Reference `pdqBuffer16x16ToBits`: bit `16i + j` is set when the coefficient exceeds the Torben median.
fn bits_from_dct(b: &[f32; 256]) -> Hash256 {
    let median = torben_median(b);
    let mut hash = Hash256::ZERO;
    for (k, &v) in b.iter().enumerate() {
        if v > median {
            hash.set_bit(k);
        }
    }
    hash
}

/// Torben Mogensen's median (public domain; as in the reference `torben.cpp`), kept verbatim in logic
/// because it decides which value counts as "the median" for even lengths (the lower one).
fn torben_median(m: &[f32]) -> f32 {
    let n = m.len();
    let half = n.div_ceil(2);
    let (mut min, mut max) = (m[0], m[0]);
    for &v in &m[1..] {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    loop {
        let guess = (min + max) / 2.0;
        let (mut less, mut greater, mut equal) = (0usize, 0usize, 0usize);
        let (mut max_lt_guess, mut min_gt_guess) = (min, max);
        for &v in m {
            if v < guess {
                less += 1;
                if v > max_lt_guess {
                    max_lt_guess = v;
                }
            } else if v > guess {
                greater += 1;
                if v < min_gt_guess {
                    min_gt_guess = v;
                }
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            return if less >= half {
                max_lt_guess
            } else if less + equal >= half {
                guess
            } else {
                min_gt_guess
            };
        } else if less > greater {
            max = max_lt_guess;
        } else {
            min = min_gt_guess;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn torben_takes_lower_median() {
        let v: Vec<f32> = (0..256).map(|i| i as f32).collect();
        assert_eq!(torben_median(&v), 127.0);
        assert_eq!(torben_median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(torben_median(&[5.0; 4]), 5.0);
    }

    #[test]
    fn window_sizes() {
        assert_eq!(jarosz_window(64), 1);
        assert_eq!(jarosz_window(128), 1);
        assert_eq!(jarosz_window(129), 2);
        assert_eq!(jarosz_window(1024), 8);
    }

    #[test]
    fn tiny_images_hash_to_zero() {
        let px = vec![7u8; 4 * 9 * 3];
        let img = RgbImage::new(4, 9, &px).unwrap();
        assert_eq!(pdq_hash(img, Luma::Pdqhash).hash, Hash256::ZERO);
        assert_eq!(pdq_dihedral(img, Luma::Float32).quality, 0);
        assert!(RgbImage::new(4, 9, &px[1..]).is_none());
    }
}
