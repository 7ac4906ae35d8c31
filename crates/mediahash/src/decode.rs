//! Image decoding (JPEG, PNG, WebP, GIF, BMP, TIFF) to 8-bit RGB, with limits against decompression bombs.
//!
//! Takes bytes, never paths: the caller owns the I/O. Alpha is dropped and greyscale expanded to R=G=B,
//! like Pillow's `Image.convert("RGB")` that the reference vectors were made with. JPEG goes through
//! libjpeg-turbo, Pillow's own decoder ([`crate::jpeg`]), so its pixels are the reference's; the other
//! formats through the `image` crate (exact for the lossless ones; lossy WebP is not checked against Pillow).

use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Decoder limits. The defaults allow 16,384 x 16,384 pixels and 512 MiB of decoder allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted width or height in pixels.
    pub max_side_px: u32,
    /// Largest accepted pixel count (width x height).
    pub max_pixels: u64,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_side_px: 16_384,
            max_pixels: 128 * 1024 * 1024,
            max_alloc_bytes: 512 * 1024 * 1024,
        }
    }
}

/// A decoded image as 8-bit RGB, row-major, interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
    /// The container format that was detected.
    pub format: &'static str,
}

/// Why an image could not be decoded. Messages are lowercase and never contain pixel data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Zero bytes.
    #[error("empty file")]
    Empty,
    /// The bytes are not one of the supported formats.
    #[error("unsupported or unrecognised image format")]
    Unsupported,
    /// Width or height is zero.
    #[error("image has zero width or height")]
    ZeroSized,
    /// Larger than [`DecodeLimits`] allow (possible decompression bomb).
    #[error("image exceeds decode limits ({width}x{height})")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// The decoder hit its allocation or dimension limit.
    #[error("image exceeds decode limits: {0}")]
    Limit(String),
    /// A JPEG whose last scan has no end-of-image marker: cut off in transit or on disk. The JPEG
    /// decoder would fill the missing part with grey and yield a hash of a different picture; Pillow (the
    /// reference's decoder) refuses such files too.
    #[error("truncated jpeg (no end-of-image marker after the last scan)")]
    TruncatedJpeg,
    /// Corrupt or truncated data.
    #[error("corrupt or truncated image: {0}")]
    Corrupt(String),
}

/// Decodes `bytes` (format sniffed from content, not from a file name) into 8-bit RGB.
pub fn decode_rgb8(bytes: &[u8], limits: DecodeLimits) -> Result<DecodedImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let format = image::guess_format(bytes).map_err(|_| DecodeError::Unsupported)?;
    let name = match format {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::WebP => "webp",
        ImageFormat::Gif => "gif",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        _ => return Err(DecodeError::Unsupported),
    };
    if format == ImageFormat::Jpeg {
        if !jpeg_has_end_marker(bytes) {
            return Err(DecodeError::TruncatedJpeg);
        }
        return crate::jpeg::decode(bytes, limits);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = Limits::default();
    image_limits.max_image_width = Some(limits.max_side_px);
    image_limits.max_image_height = Some(limits.max_side_px);
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);
    // Read the header first so an oversized image is refused before any pixel buffer is allocated.
    let (width, height) = reader.into_dimensions().map_err(classify)?;
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSized);
    }
    if width > limits.max_side_px
        || height > limits.max_side_px
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(DecodeError::TooLarge { width, height });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = Limits::default();
    image_limits.max_image_width = Some(limits.max_side_px);
    image_limits.max_image_height = Some(limits.max_side_px);
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);
    let decoded = reader.decode().map_err(classify)?;
    let rgb = decoded.into_rgb8();
    let (width, height) = rgb.dimensions();
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSized);
    }
    Ok(DecodedImage {
        width,
        height,
        rgb: rgb.into_raw(),
        format: name,
    })
}

/// True if an EOI marker (`FF D9`) follows the last start-of-scan (`FF DA`). Entropy-coded data stuffs
/// every `FF` with `00`, so the pair cannot occur inside a scan by accident.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let last_scan = bytes
        .windows(2)
        .rposition(|w| w == [0xff, 0xda])
        .unwrap_or(0);
    bytes[last_scan..].windows(2).any(|w| w == [0xff, 0xd9])
}

fn classify(e: image::ImageError) -> DecodeError {
    match e {
        image::ImageError::Limits(l) => DecodeError::Limit(l.to_string()),
        image::ImageError::Unsupported(_) => DecodeError::Unsupported,
        other => DecodeError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_are_errors() {
        assert!(matches!(
            decode_rgb8(&[], DecodeLimits::default()),
            Err(DecodeError::Empty)
        ));
        assert!(matches!(
            decode_rgb8(b"hello world, not an image", DecodeLimits::default()),
            Err(DecodeError::Unsupported)
        ));
    }
}
