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
//!
//! libjpeg-turbo is called through its TurboJPEG API directly (`turbojpeg::raw`), the one place in the crate
//! with `unsafe`: the safe wrapper turns libjpeg's *warnings* into errors without saying which they are, and
//! refuses a file whose header drew one, while Pillow ignores warnings and decodes such files (junk between
//! markers, a bad Huffman code) with the damage concealed. The error code and message tell the two apart.

#![allow(unsafe_code)] // FFI to libjpeg-turbo; every block states why it is sound

use crate::decode::{DecodeError, DecodeLimits, DecodedImage};
use std::ffi::{CStr, c_int};
use turbojpeg::raw;

/// Most scans a progressive JPEG may have. Real encoders write about ten; thousands of tiny scans are a
/// known way to make a small file cost minutes of CPU (libjpeg-turbo suggests a limit like this).
const MAX_SCANS: c_int = 500;

/// Decodes a JPEG (the caller has sniffed the format and checked for an end-of-image marker).
pub(crate) fn decode(bytes: &[u8], limits: DecodeLimits) -> Result<DecodedImage, DecodeError> {
    let mut handle = Handle::new()?;
    handle.set(raw::TJPARAM_TJPARAM_SCANLIMIT, MAX_SCANS)?;
    // libjpeg's own working memory (progressive coefficient buffers), in MiB.
    let max_mib = c_int::try_from(limits.max_alloc_bytes >> 20).unwrap_or(c_int::MAX);
    handle.set(raw::TJPARAM_TJPARAM_MAXMEMORY, max_mib.max(1))?;
    let len = raw::size_t::try_from(bytes.len()).map_err(|_| DecodeError::Limit("size".into()))?;
    // SAFETY: `bytes` is a live slice of `len` bytes that TurboJPEG only reads; the handle is live.
    let status = unsafe { raw::tj3DecompressHeader(handle.0, bytes.as_ptr(), len) };
    handle.check(status)?;
    let dimension = |v: c_int| u32::try_from(v).map_err(|_| DecodeError::ZeroSized);
    let width = dimension(handle.get(raw::TJPARAM_TJPARAM_JPEGWIDTH))?;
    let height = dimension(handle.get(raw::TJPARAM_TJPARAM_JPEGHEIGHT))?;
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
    let colorspace = handle.get(raw::TJPARAM_TJPARAM_COLORSPACE);
    let cmyk = [raw::TJCS_TJCS_CMYK, raw::TJCS_TJCS_YCCK]
        .iter()
        .any(|&cs| c_int::try_from(cs) == Ok(colorspace));
    let (pixel_format, channels) = if cmyk {
        (raw::TJPF_TJPF_CMYK, 4usize)
    } else {
        (raw::TJPF_TJPF_RGB, 3usize)
    };
    let too_large = DecodeError::TooLarge { width, height };
    let row = (width as usize).checked_mul(channels).ok_or(too_large)?;
    let pitch = c_int::try_from(row).map_err(|_| DecodeError::TooLarge { width, height })?;
    let out_bytes = row
        .checked_mul(height as usize)
        .filter(|&n| n as u64 <= limits.max_alloc_bytes)
        .ok_or(DecodeError::TooLarge { width, height })?;
    let mut out = vec![0u8; out_bytes];
    // SAFETY: `out` holds `pitch * height` bytes and TurboJPEG writes `height` rows of `pitch` bytes at most: it
    // decodes the same `bytes` whose header gave `width` and `height`, unscaled (the default), in `pixel_format`
    // (`channels` bytes a pixel). `bytes` is only read; the handle is live.
    let status = unsafe {
        raw::tj3Decompress8(
            handle.0,
            bytes.as_ptr(),
            len,
            out.as_mut_ptr(),
            pitch,
            pixel_format,
        )
    };
    handle.check(status)?;
    let rgb = if cmyk { pillow_cmyk_to_rgb(&out) } else { out };
    Ok(DecodedImage {
        width,
        height,
        rgb,
        format: "jpeg",
    })
}

/// An owned TurboJPEG decompressor instance, destroyed on drop.
struct Handle(raw::tjhandle);

impl Handle {
    fn new() -> Result<Handle, DecodeError> {
        // SAFETY: `tj3Init` has no preconditions; a null result (out of memory) is checked below.
        let ptr = unsafe { raw::tj3Init(raw::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if ptr.is_null() {
            return Err(DecodeError::Limit("cannot create a jpeg decoder".into()));
        }
        Ok(Handle(ptr))
    }

    fn set(&mut self, param: raw::TJPARAM, value: c_int) -> Result<(), DecodeError> {
        // SAFETY: the handle is live (non-null, destroyed only by `drop`).
        let status = unsafe { raw::tj3Set(self.0, param as c_int, value) };
        self.check(status)
    }

    fn get(&self, param: raw::TJPARAM) -> c_int {
        // SAFETY: the handle is live.
        unsafe { raw::tj3Get(self.0, param as c_int) }
    }

    /// A TurboJPEG status as a result (see [`classify`]).
    fn check(&self, status: c_int) -> Result<(), DecodeError> {
        if status == 0 {
            return Ok(());
        }
        let message = self.message();
        // SAFETY: the handle is live.
        let code = unsafe { raw::tj3GetErrorCode(self.0) };
        classify(
            c_int::try_from(raw::TJERR_TJERR_WARNING) == Ok(code),
            message,
        )
    }

    fn message(&self) -> String {
        // SAFETY: the handle is live; `tj3GetErrorStr` returns the handle's (or the thread's) NUL-terminated
        // error buffer, which stays valid until the next TurboJPEG call; it is copied before any such call.
        let ptr = unsafe { raw::tj3GetErrorStr(self.0) };
        if ptr.is_null() {
            return "jpeg decoder error".into();
        }
        // SAFETY: non-null and NUL-terminated, as above.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from `tj3Init`, is non-null and is destroyed exactly once, here.
        unsafe { raw::tj3Destroy(self.0) }
    }
}

/// libjpeg's warnings (the `JWRN_*` messages of the vendored `jerror.h`), by their fixed leading text.
const WARNINGS: [&str; 7] = [
    // bad Huffman or arithmetic code, junk before a marker, premature end of segment, missing RST, bad ICC
    "Corrupt JPEG data: ",
    "Inconsistent progression sequence for component ",
    "Unknown Adobe color transform code ",
    "Warning: unknown JFIF revision number ",
    "Invalid SOS parameters for sequential JPEG",
    "Application transferred too many scanlines",
    PREMATURE_END,
];

/// The warning for data that ends before the image does.
const PREMATURE_END: &str = "Premature end of JPEG file";

/// A failed TurboJPEG call as a result. A warning is success: libjpeg concealed the damage and finished the
/// image, as it does under Pillow, which ignores warnings; except a premature end of data, which Pillow
/// refuses as truncated. TurboJPEG still reports "warning" when a fatal error followed one (its message then
/// replaces the warning's), so a warning must also read as one of libjpeg's warnings.
fn classify(warning: bool, message: String) -> Result<(), DecodeError> {
    if !warning || !WARNINGS.iter().any(|w| message.starts_with(w)) {
        return Err(DecodeError::Corrupt(message));
    }
    if message.starts_with(PREMATURE_END) {
        return Err(DecodeError::TruncatedJpeg);
    }
    Ok(())
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
    fn warnings_are_successes_and_errors_are_not() {
        let extraneous = "Corrupt JPEG data: 4 extraneous bytes before marker 0xd9";
        assert!(classify(true, extraneous.into()).is_ok());
        assert!(classify(true, "Corrupt JPEG data: bad Huffman code".into()).is_ok());
        // A fatal error after a warning: TurboJPEG's code still says "warning".
        assert!(matches!(
            classify(true, "Bogus marker length".into()),
            Err(DecodeError::Corrupt(_))
        ));
        assert!(matches!(
            classify(false, extraneous.into()),
            Err(DecodeError::Corrupt(_))
        ));
        assert!(matches!(
            classify(true, PREMATURE_END.into()),
            Err(DecodeError::TruncatedJpeg)
        ));
    }

    #[test]
    fn cmyk_white_black_and_ink() {
        // libjpeg's samples of an Adobe CMYK JPEG are inverted: 255 means no ink.
        assert_eq!(pillow_cmyk_to_rgb(&[255, 255, 255, 255]), [255, 255, 255]);
        assert_eq!(pillow_cmyk_to_rgb(&[255, 255, 255, 0]), [0, 0, 0]);
        assert_eq!(pillow_cmyk_to_rgb(&[0, 255, 255, 255]), [0, 255, 255]);
    }
}
