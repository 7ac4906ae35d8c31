//! JPEG to 8-bit RGB through libjpeg-turbo, exactly as the reference (Pillow) decodes.
//!
//! The reference hashes `Image.open(f).convert("RGB")`, and Pillow's JPEG decoder is libjpeg-turbo with
//! its defaults: the accurate integer IDCT (ISLOW), fancy (smooth) chroma upsampling and libjpeg's own
//! YCbCr to RGB conversion. A pure-Rust decoder upsamples chroma and rounds differently, which moved
//! PDQ bits; libjpeg-turbo with the same settings gives the reference's pixels byte for byte (the
//! tests compare a SHA-256 of them). Pillow reads a 1-component JPEG as greyscale (R=G=B after
//! `convert`), a 4-component one as Adobe-inverted CMYK converted with its own `cmyk2rgb`, which is
//! reproduced here; it never applies the EXIF orientation, so neither does this.
//!
//! Bytes in, pixels out, in memory: nothing is written anywhere, and error messages carry no pixel data.

use crate::decode::{DecodeError, DecodeLimits, DecodedImage};
use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat};

/// Most scans a progressive JPEG may have. Real encoders write about ten; thousands of tiny scans are a
/// known way to make a small file cost minutes of CPU (libjpeg-turbo suggests a limit like this).
const MAX_SCANS: u32 = 500;

/// Decodes a JPEG (the caller has sniffed the format and checked for an end-of-image marker).
pub(crate) fn decode(bytes: &[u8], limits: DecodeLimits) -> Result<DecodedImage, DecodeError> {
    let mut decompressor = Decompressor::new().map_err(corrupt)?;
    decompressor.set_scan_limit(MAX_SCANS).map_err(corrupt)?;
    let header = decompressor.read_header(bytes).map_err(corrupt)?;
    let (width, height) = (
        u32::try_from(header.width).map_err(|_| DecodeError::Limit("width".into()))?,
        u32::try_from(header.height).map_err(|_| DecodeError::Limit("height".into()))?,
    );
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSized);
    }
    // Refused from the header alone, before any pixel buffer exists.
    if width > limits.max_side_px
        || height > limits.max_side_px
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(DecodeError::TooLarge { width, height });
    }
    let cmyk = matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    let format = if cmyk {
        PixelFormat::CMYK
    } else {
        PixelFormat::RGB
    };
    let channels = format.size();
    let pixels = header.width * header.height;
    let out_bytes = pixels
        .checked_mul(channels)
        .filter(|&n| n as u64 <= limits.max_alloc_bytes)
        .ok_or(DecodeError::TooLarge { width, height })?;
    let mut out = vec![0u8; out_bytes];
    decompressor
        .decompress(
            bytes,
            Image {
                pixels: out.as_mut_slice(),
                width: header.width,
                pitch: header.width * channels,
                height: header.height,
                format,
            },
        )
        .map_err(corrupt)?;
    let rgb = if cmyk { pillow_cmyk_to_rgb(&out) } else { out };
    Ok(DecodedImage {
        width,
        height,
        rgb,
        format: "jpeg",
    })
}

/// Pillow's path for a CMYK JPEG: libjpeg's CMYK samples are inverted on unpacking (raw mode `CMYK;I`,
/// "assume Adobe conventions"), then `convert("RGB")` applies `cmyk2rgb`:
/// `X = clip(nk - muldiv255(x, nk))` with `nk = 255 - k`.
fn pillow_cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let nk = u32::from(px[3]); // 255 - (255 - k): the inversion and `nk` cancel
        for &c in &px[..3] {
            let x = 255 - u32::from(c);
            rgb.push(nk.saturating_sub(muldiv255(x, nk)) as u8);
        }
    }
    rgb
}

/// Pillow's `MULDIV255(a, b)`: `a * b / 255`, rounded, in integers.
fn muldiv255(a: u32, b: u32) -> u32 {
    let t = a * b + 128;
    ((t >> 8) + t) >> 8
}

fn corrupt(e: turbojpeg::Error) -> DecodeError {
    DecodeError::Corrupt(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muldiv255_is_rounded_division() {
        for a in 0..=255u32 {
            for b in 0..=255u32 {
                let exact = (f64::from(a * b) / 255.0).round() as u32;
                assert_eq!(muldiv255(a, b), exact, "{a} {b}");
            }
        }
    }

    #[test]
    fn cmyk_white_black_and_ink() {
        // libjpeg's samples of an Adobe CMYK JPEG are inverted: 255 means no ink.
        assert_eq!(pillow_cmyk_to_rgb(&[255, 255, 255, 255]), [255, 255, 255]);
        assert_eq!(pillow_cmyk_to_rgb(&[255, 255, 255, 0]), [0, 0, 0]);
        assert_eq!(pillow_cmyk_to_rgb(&[0, 255, 255, 255]), [0, 255, 255]);
    }
}
