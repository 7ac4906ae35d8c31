//! JPEG to 8-bit RGB through libjpeg-turbo's decoder, driven exactly as the reference (Pillow) drives it.
//!
//! The reference hashes `Image.open(f).convert("RGB")`, and Pillow's JPEG decoder is libjpeg-turbo with
//! its defaults: the accurate integer IDCT (ISLOW), fancy (smooth) chroma upsampling and libjpeg's own
//! YCbCr to RGB conversion. A pure-Rust decoder upsamples chroma and rounds differently, which moved
//! PDQ bits; libjpeg-turbo with the same settings gives the reference's pixels byte for byte (the
//! tests compare a SHA-256 of them). The library is the one vendored by `mozjpeg-sys` (MozJPEG changes
//! libjpeg-turbo's encoder, not its decoder), built with the `cc` crate: no cmake, and nasm only if present (for
//! the SIMD code; see [`simd_idct`] for the one difference its absence makes).
//!
//! The calls are Pillow's (`libImaging/JpegDecode.c`): `jpeg_read_header`, then `out_color_space` from the
//! component count as Pillow's rawmode sets it (1: greyscale, expanded to R=G=B as `convert("RGB")` does;
//! 3: RGB; 4: CMYK, which Pillow reads as Adobe-inverted and converts with its own `cmyk2rgb`, reproduced
//! here; anything else Pillow refuses), `jpeg_start_decompress`, `jpeg_read_scanlines`,
//! `jpeg_finish_decompress`. Warnings are ignored, as under Pillow, so damaged files (junk between markers,
//! a bad Huffman code) decode with the damage concealed; a premature end of the data is refused, as Pillow
//! refuses truncated files. The EXIF orientation is never applied (Pillow does not either).
//!
//! libjpeg reports fatal errors through `error_exit`, which must not return. Instead of `longjmp`, the
//! callback here unwinds (mozjpeg-sys's `unwinding` feature builds the C code with `-fexceptions` and declares
//! every callback `C-unwind`), and [`decode`] catches it and destroys the decompressor. This file is the one
//! place in the crate with `unsafe`; every block says why it is sound.
//!
//! Bytes in, pixels out, in memory: nothing is written anywhere, and error messages carry no pixel data.

#![allow(unsafe_code)] // FFI to libjpeg-turbo; every block states why it is sound

use crate::decode::{DecodeError, DecodeLimits, DecodedImage};
use mozjpeg_sys as jpeg;
use std::cell::Cell;
use std::ffi::{CStr, c_int, c_long, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// Most scans a progressive JPEG may have. Real encoders write about ten; thousands of tiny scans are a
/// known way to make a small file cost minutes of CPU (libjpeg-turbo suggests a limit like this).
const MAX_SCANS: c_int = 500;

/// Decodes a JPEG (the caller has sniffed the format and checked for an end-of-image marker).
pub(crate) fn decode(bytes: &[u8], limits: DecodeLimits) -> Result<DecodedImage, DecodeError> {
    let mut decoder = Decompressor::new();
    let result = catch_unwind(AssertUnwindSafe(|| decoder.run(bytes, limits)));
    drop(decoder); // destroys libjpeg's state whichever way `run` ended
    match result {
        Ok(decoded) => decoded,
        Err(payload) => match payload.downcast::<Fatal>() {
            Ok(fatal) => Err(fatal.0),
            // Not ours (a bug, not bad input): keep unwinding.
            Err(other) => resume_unwind(other),
        },
    }
}

unsafe extern "C" {
    /// libjpeg-turbo's SIMD dispatcher for the ISLOW IDCT (`jsimd.c`, or `jsimd_none.c` when nasm was absent
    /// at build time): nonzero when the SIMD version is compiled in and this CPU runs it.
    fn jsimd_can_idct_islow() -> c_int;
}

/// Whether libjpeg-turbo's SIMD IDCT is in use, as under Pillow (its wheels' libjpeg-turbo has SIMD). Clean
/// JPEGs decode to the same pixels either way; in a damaged JPEG, garbage coefficients overflow the C and the
/// SIMD IDCT differently (wrapping against saturating), so the concealed area of such a file matches Pillow's
/// only with SIMD: a build without nasm still hashes every intact JPEG exactly.
pub fn simd_idct() -> bool {
    // SAFETY: a pure query of the CPU's features and a compile-time flag; no arguments, no state.
    unsafe { jsimd_can_idct_islow() != 0 }
}

/// The payload the callbacks unwind with: why decoding stopped.
struct Fatal(DecodeError);

/// What the callbacks share with [`Decompressor::run`] (through `client_data`).
#[derive(Default)]
struct Status {
    /// Set once every scanline is out: running out of data then (before EOI) no longer loses pixels, and
    /// Pillow, whose source suspends there, returns the image.
    finishing: Cell<bool>,
}

/// A libjpeg decompressor with its error and progress managers, each boxed so the pointers libjpeg keeps to
/// them stay valid; destroyed on drop.
struct Decompressor {
    cinfo: Box<jpeg::jpeg_decompress_struct>,
    err: Box<jpeg::jpeg_error_mgr>,
    progress: Box<jpeg::jpeg_progress_mgr>,
    status: Box<Status>,
}

impl Decompressor {
    fn new() -> Decompressor {
        // SAFETY: all three are plain C structs for which all-zero bytes are valid values (null pointers, `None`
        // callbacks, zero integers, and the zero variants JCS_UNKNOWN, JDCT_ISLOW and JDITHER_NONE of their
        // enums); libjpeg initialises them before use, and `jpeg_destroy_decompress` accepts a zeroed struct.
        let (cinfo, err, progress) = unsafe {
            (
                Box::new(std::mem::zeroed::<jpeg::jpeg_decompress_struct>()),
                Box::new(std::mem::zeroed::<jpeg::jpeg_error_mgr>()),
                Box::new(std::mem::zeroed::<jpeg::jpeg_progress_mgr>()),
            )
        };
        Decompressor {
            cinfo,
            err,
            progress,
            status: Box::default(),
        }
    }

    /// The whole decode; a libjpeg error unwinds out of it with a [`Fatal`] (caught by [`decode`]).
    fn run(&mut self, bytes: &[u8], limits: DecodeLimits) -> Result<DecodedImage, DecodeError> {
        // SAFETY: `jpeg_std_error` only fills in the (boxed, live) error manager.
        unsafe { jpeg::jpeg_std_error(&mut self.err) };
        self.err.error_exit = Some(error_exit);
        self.err.emit_message = Some(emit_message);
        self.progress.progress_monitor = Some(progress_monitor);
        self.cinfo.common.err = &mut *self.err;
        // SAFETY: `cinfo` is boxed and zeroed but for `err`, which points to a live error manager, as
        // `jpeg_CreateDecompress` requires (it keeps `err` and clears the rest); the size is the struct's.
        unsafe { jpeg::jpeg_create_decompress(&mut *self.cinfo) };
        self.cinfo.common.client_data =
            std::ptr::from_ref::<Status>(&self.status).cast_mut().cast();
        self.cinfo.common.progress = &mut *self.progress;
        // libjpeg's own working memory (mainly a progressive JPEG's coefficients), which it checks before
        // allocating it; beyond it libjpeg would need a backing store, which this build lacks: an error.
        let max_memory = c_long::try_from(limits.max_alloc_bytes).unwrap_or(c_long::MAX);
        // SAFETY: `jpeg_create_decompress` succeeded (it unwinds otherwise), so `mem` is its live manager.
        unsafe { (*self.cinfo.common.mem).max_memory_to_use = max_memory };
        let len = bytes.len().try_into().map_err(|_| limit("size"))?;
        // SAFETY: `bytes` outlives the decompressor's use of it: `run` returns (or unwinds) before `bytes` can
        // be dropped and the decompressor is destroyed in `decode` before any other source is set. libjpeg
        // only reads it.
        unsafe { jpeg::jpeg_mem_src(&mut self.cinfo, bytes.as_ptr(), len) };
        // SAFETY: the decompressor is created and has a source.
        let header = unsafe { jpeg::jpeg_read_header(&mut self.cinfo, 1) };
        if header != 1 {
            // JPEG_HEADER_OK; a tables-only stream with `require_image` set is an error already.
            return Err(DecodeError::Corrupt("no image in the jpeg data".into()));
        }
        let (width, height) = (self.cinfo.image_width, self.cinfo.image_height);
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
        let (out_color_space, channels) = match self.cinfo.num_components {
            1 => (jpeg::JCS_GRAYSCALE, 1usize),
            3 => (jpeg::JCS_RGB, 3),
            4 => (jpeg::JCS_CMYK, 4),
            n => {
                return Err(DecodeError::Corrupt(format!(
                    "cannot handle {n}-layer images"
                )));
            }
        };
        let too_large = || DecodeError::TooLarge { width, height };
        let row = (width as usize)
            .checked_mul(channels)
            .ok_or_else(too_large)?;
        // libjpeg's output (1, 3 or 4 bytes a pixel) and the RGB made from it must both fit the limit.
        let out_bytes = row
            .checked_mul(height as usize)
            .filter(|&n| (n / channels * 3).max(n) as u64 <= limits.max_alloc_bytes)
            .ok_or_else(too_large)?;
        self.cinfo.out_color_space = out_color_space;
        self.cinfo.dct_method = jpeg::J_DCT_METHOD::JDCT_ISLOW;
        self.cinfo.do_fancy_upsampling = 1;
        // SAFETY: the header is read and the output parameters are set, as `jpeg_start_decompress` requires.
        // For a progressive file it reads every scan here (the progress monitor counts them).
        if unsafe { jpeg::jpeg_start_decompress(&mut self.cinfo) } == 0 {
            return Err(DecodeError::Corrupt("jpeg decoder suspended".into()));
        }
        if (self.cinfo.output_width, self.cinfo.output_height) != (width, height)
            || usize::try_from(self.cinfo.output_components) != Ok(channels)
        {
            return Err(DecodeError::Corrupt("unexpected jpeg output shape".into()));
        }
        let mut out = vec![0u8; out_bytes];
        let mut rows: Vec<*mut u8> = out.chunks_exact_mut(row).map(<[u8]>::as_mut_ptr).collect();
        while self.cinfo.output_scanline < height {
            let done = self.cinfo.output_scanline as usize;
            let left = height - self.cinfo.output_scanline;
            // SAFETY: `rows[done..]` holds `left` pointers to distinct rows of `out`, each `row` bytes long:
            // `output_width * output_components` (checked above), what libjpeg writes to each; `out` is not
            // otherwise touched until the loop ends.
            let read = unsafe {
                jpeg::jpeg_read_scanlines(&mut self.cinfo, rows[done..].as_mut_ptr(), left)
            };
            if read == 0 {
                // Only a suspending source returns no rows; the memory source never suspends.
                return Err(DecodeError::Corrupt("jpeg decoder suspended".into()));
            }
        }
        drop(rows);
        self.status.finishing.set(true);
        // SAFETY: every scanline has been read, as `jpeg_finish_decompress` requires.
        unsafe { jpeg::jpeg_finish_decompress(&mut self.cinfo) };
        let rgb = match channels {
            1 => out.iter().flat_map(|&l| [l, l, l]).collect(),
            4 => pillow_cmyk_to_rgb(&out),
            _ => out,
        };
        Ok(DecodedImage {
            width,
            height,
            rgb,
            format: "jpeg",
        })
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: `cinfo` is either still zeroed (no memory manager: nothing to free) or was created by
        // `jpeg_create_decompress`, possibly left mid-call by an unwinding error, which libjpeg allows: like
        // after its usual `longjmp`, destroying is the one thing to do. Called exactly once, here.
        unsafe { jpeg::jpeg_destroy_decompress(&mut self.cinfo) }
    }
}

/// libjpeg's fatal error callback: unwinds with the message (it must not return).
unsafe extern "C-unwind" fn error_exit(cinfo: &mut jpeg::jpeg_common_struct) {
    // SAFETY: libjpeg passes the decompressor whose `err` is the live manager set in `run`.
    let err = unsafe { &mut *cinfo.err };
    let code = err.msg_code;
    let error = if code == jpeg::JERR_OUT_OF_MEMORY || code == jpeg::JERR_NO_BACKING_STORE {
        limit("libjpeg memory")
    } else {
        DecodeError::Corrupt(message(err))
    };
    // `resume_unwind`, unlike `panic!`, does not run the panic hook: bad input prints nothing.
    resume_unwind(Box::new(Fatal(error)))
}

/// libjpeg's warning and trace callback. Pillow ignores warnings (libjpeg conceals the damage and goes on),
/// but its data source suspends when the file ends, and Pillow refuses the file as truncated: libjpeg's
/// memory source warns "premature end of JPEG file" there instead, which ends decoding the same way.
unsafe extern "C-unwind" fn emit_message(cinfo: &mut jpeg::jpeg_common_struct, level: c_int) {
    // SAFETY: as in `error_exit`.
    let code = unsafe { (*cinfo.err).msg_code };
    if level >= 0 || code != jpeg::JWRN_JPEG_EOF {
        return;
    }
    // SAFETY: `client_data` points to the boxed `Status` of the running decode (set in `run`, before any
    // call that can warn), which outlives it; only shared references to it exist.
    let status = unsafe { &*cinfo.client_data.cast::<Status>() };
    if !status.finishing.get() {
        resume_unwind(Box::new(Fatal(DecodeError::TruncatedJpeg)));
    }
}

/// libjpeg's progress callback, called between iMCU rows: refuses a file with too many scans.
unsafe extern "C-unwind" fn progress_monitor(cinfo: &mut jpeg::jpeg_common_struct) {
    if cinfo.is_decompressor == 0 {
        return;
    }
    // SAFETY: a decompressor's common fields are the first field of its `jpeg_decompress_struct` (both
    // `repr(C)`), and libjpeg passes the whole struct, as libjpeg-turbo's own TurboJPEG API assumes too.
    let scans = unsafe {
        (*std::ptr::from_mut(cinfo).cast::<jpeg::jpeg_decompress_struct>()).input_scan_number
    };
    if scans > MAX_SCANS {
        resume_unwind(Box::new(Fatal(limit("more than 500 scans"))));
    }
}

fn limit(what: &str) -> DecodeError {
    DecodeError::Limit(what.into())
}

/// The current message as libjpeg's `format_message` would print it: its template from the message table
/// with the integer or string parameter filled in.
fn message(err: &mut jpeg::jpeg_error_mgr) -> String {
    let code = err.msg_code;
    let template = usize::try_from(code)
        .ok()
        .filter(|_| code <= err.last_jpeg_message && !err.jpeg_message_table.is_null())
        // SAFETY: the table has `last_jpeg_message + 1` entries (libjpeg's own, set by `jpeg_std_error`), each
        // a NUL-terminated static string or null.
        .map(|i| unsafe { *err.jpeg_message_table.add(i) })
        .filter(|p| !p.is_null())
        // SAFETY: non-null entries are NUL-terminated static strings.
        .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned());
    let Some(template) = template else {
        return format!("jpeg error {code}");
    };
    // SAFETY: `msg_parm` is a C union of `int[8]` and `char[80]`; both views are plain bytes.
    let ints = unsafe { *err.msg_parm.i() };
    // SAFETY: as above.
    let text = unsafe { *err.msg_parm.s() };
    fill_template(&template, &ints, &text)
}

/// printf for libjpeg's messages: `%d`, `%u`, `%x` (with flags and width, ignored but for hex zero padding)
/// take the next integer, `%s` the string parameter.
fn fill_template(template: &str, ints: &[c_int; 8], text: &[i8; 80]) -> String {
    let mut out = String::new();
    let mut next = ints.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            chars.next();
            if d.is_ascii_alphabetic() && d != 'l' {
                spec.push(d);
                break;
            }
            spec.push(d);
        }
        let value = || next.clone().next().copied().unwrap_or(0);
        match spec.chars().last() {
            Some('d' | 'i') => out.push_str(&value().to_string()),
            Some('u') => out.push_str(&(value() as u32).to_string()),
            Some('x' | 'X') => {
                let width = spec
                    .trim_start_matches('0')
                    .trim_end_matches(|c: char| !c.is_ascii_digit());
                let width = width.parse().unwrap_or(0);
                out.push_str(&format!("{:0width$x}", value() as u32));
            }
            Some('s') => {
                let bytes: Vec<u8> = text
                    .iter()
                    .take_while(|&&b| b != 0)
                    .map(|&b| b as u8)
                    .collect();
                out.push_str(&String::from_utf8_lossy(&bytes));
                continue;
            }
            Some('%') => {
                out.push('%');
                continue;
            }
            _ => continue,
        }
        next.next();
    }
    out
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

/// Encodes `side` x `side` RGB pixels as a quality-75 4:2:0 JPEG with libjpeg-turbo's standard settings
/// (MozJPEG's extensions off), baseline or progressive: synthetic input for `jikimi bench pdq jpeg`.
pub(crate) fn encode_rgb_for_bench(
    pixels: &[u8],
    side: usize,
    progressive: bool,
) -> Result<Vec<u8>, String> {
    let dim = u32::try_from(side).map_err(|_| "side too large".to_string())?;
    if pixels.len() != side * side * 3 || side == 0 {
        return Err("pixel count does not match the side".into());
    }
    /// The compressor, its error manager and the output buffer libjpeg allocates, freed on drop.
    struct Compressor {
        cinfo: Box<jpeg::jpeg_compress_struct>,
        err: Box<jpeg::jpeg_error_mgr>,
        buffer: *mut u8,
        size: std::ffi::c_ulong,
    }
    impl Drop for Compressor {
        fn drop(&mut self) {
            // SAFETY: as for the decompressor; `buffer` is null or came from libjpeg's `malloc` and is freed
            // once, after the compressor (which may still own it) is destroyed.
            unsafe {
                jpeg::jpeg_destroy_compress(&mut self.cinfo);
                libc::free(self.buffer.cast::<c_void>());
            }
        }
    }
    // SAFETY: zeroed plain C structs, as in `Decompressor::new`.
    let mut c = unsafe {
        Compressor {
            cinfo: Box::new(std::mem::zeroed()),
            err: Box::new(std::mem::zeroed()),
            buffer: std::ptr::null_mut(),
            size: 0,
        }
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the calls follow libjpeg's documented compression sequence on boxed, live structs; `pixels`
        // holds `side` rows of `side * 3` bytes, which is what libjpeg reads for each row pointer.
        unsafe {
            jpeg::jpeg_std_error(&mut c.err);
            c.err.error_exit = Some(error_exit);
            c.cinfo.common.err = &mut *c.err;
            jpeg::jpeg_create_compress(&mut *c.cinfo);
            jpeg::jpeg_mem_dest(&mut c.cinfo, &mut c.buffer, &mut c.size);
            c.cinfo.image_width = dim;
            c.cinfo.image_height = dim;
            c.cinfo.input_components = 3;
            c.cinfo.in_color_space = jpeg::JCS_RGB;
            jpeg::jpeg_c_set_int_param(
                &mut c.cinfo,
                jpeg::JINT_COMPRESS_PROFILE,
                jpeg::JCP_FASTEST as c_int,
            );
            jpeg::jpeg_set_defaults(&mut c.cinfo);
            jpeg::jpeg_set_quality(&mut c.cinfo, 75, 1);
            if progressive {
                jpeg::jpeg_simple_progression(&mut c.cinfo);
            }
            jpeg::jpeg_start_compress(&mut c.cinfo, 1);
            let rows: Vec<*const u8> = pixels.chunks_exact(side * 3).map(<[u8]>::as_ptr).collect();
            while (c.cinfo.next_scanline as usize) < side {
                let (at, left) = (c.cinfo.next_scanline as usize, dim - c.cinfo.next_scanline);
                jpeg::jpeg_write_scanlines(&mut c.cinfo, rows[at..].as_ptr(), left);
            }
            jpeg::jpeg_finish_compress(&mut c.cinfo);
        }
    }));
    match result {
        Ok(()) if !c.buffer.is_null() => {
            let len = usize::try_from(c.size).map_err(|_| "jpeg too large".to_string())?;
            // SAFETY: after `jpeg_finish_compress`, `buffer` holds `size` bytes of JPEG (freed by the drop).
            Ok(unsafe { std::slice::from_raw_parts(c.buffer, len) }.to_vec())
        }
        Ok(()) => Err("jpeg encoder produced nothing".into()),
        Err(payload) => match payload.downcast::<Fatal>() {
            Ok(fatal) => Err(fatal.0.to_string()),
            Err(other) => resume_unwind(other),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
    fn messages_are_filled_in_as_printf_would() {
        let mut ints = [0; 8];
        ints[0] = 4;
        ints[1] = 0xd9;
        let text = [0i8; 80];
        assert_eq!(
            fill_template(
                "Corrupt JPEG data: %u extraneous bytes before marker 0x%02x",
                &ints,
                &text
            ),
            "Corrupt JPEG data: 4 extraneous bytes before marker 0xd9"
        );
        let mut text = [0i8; 80];
        for (t, b) in text.iter_mut().zip(b"abc") {
            *t = *b as i8;
        }
        assert_eq!(fill_template("x %s y %d%%", &ints, &text), "x abc y 4%");
    }

    #[test]
    fn cmyk_white_black_and_ink() {
        // libjpeg's samples of an Adobe CMYK JPEG are inverted: 255 means no ink.
        assert_eq!(pillow_cmyk_to_rgb(&[255, 255, 255, 255]), [255, 255, 255]);
        assert_eq!(pillow_cmyk_to_rgb(&[255, 255, 255, 0]), [0, 0, 0]);
        assert_eq!(pillow_cmyk_to_rgb(&[0, 255, 255, 255]), [0, 255, 255]);
    }

    #[test]
    fn the_bench_encoder_round_trips() {
        let side = 24;
        let pixels: Vec<u8> = (0..side * side * 3).map(|i| (i % 251) as u8).collect();
        for progressive in [false, true] {
            let bytes = encode_rgb_for_bench(&pixels, side, progressive).unwrap();
            let d = decode(&bytes, DecodeLimits::default()).unwrap();
            assert_eq!((d.width, d.height, d.rgb.len()), (24, 24, side * side * 3));
        }
    }
}
