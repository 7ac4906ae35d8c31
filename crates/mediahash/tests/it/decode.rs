//! Bad inputs give a clear per-file error, never a panic: corrupt, truncated, zero-sized, unsupported
//! and decompression-bomb images; and every supported container decodes.

use jikimi_mediahash::{DecodeError, DecodeLimits, Luma, decode_rgb8, hash_encoded};
use std::io::Cursor;

fn encode(format: image::ImageFormat, w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 99]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

#[test]
fn every_supported_format_decodes_and_hashes() {
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::Gif,
        image::ImageFormat::Bmp,
        image::ImageFormat::Tiff,
        image::ImageFormat::WebP,
    ] {
        let bytes = encode(format, 40, 30);
        let h = hash_encoded(&bytes, DecodeLimits::default(), Luma::Pdqhash, true)
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!((h.width, h.height), (40, 30), "{format:?}");
        assert!(h.dihedral.is_some());
    }
}

#[test]
fn truncated_and_corrupt_images_are_errors() {
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::Gif,
    ] {
        let bytes = encode(format, 64, 64);
        for cut in [8, bytes.len() / 3, bytes.len() / 2] {
            let r = decode_rgb8(&bytes[..cut], DecodeLimits::default());
            assert!(r.is_err(), "{format:?} cut at {cut} decoded");
        }
        let mut flipped = bytes.clone();
        for b in flipped.iter_mut().skip(40).step_by(7) {
            *b ^= 0x5a;
        }
        // Corrupt data may or may not decode (JPEG is forgiving) but must not panic.
        let _ = decode_rgb8(&flipped, DecodeLimits::default());
    }
    assert!(matches!(
        decode_rgb8(&[], DecodeLimits::default()),
        Err(DecodeError::Empty)
    ));
    assert!(matches!(
        decode_rgb8(b"\x00\x00\x01\x00 not an icon", DecodeLimits::default()),
        Err(DecodeError::Unsupported)
    ));
}

#[test]
fn decompression_bomb_is_refused_before_allocation() {
    // A valid 1 x 1 PNG whose header is patched to claim 100,000 x 100,000 pixels (CRC fixed up).
    let mut png = encode(image::ImageFormat::Png, 1, 1);
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = decode_rgb8(&png, DecodeLimits::default()).unwrap_err();
    assert!(
        matches!(err, DecodeError::TooLarge { .. } | DecodeError::Limit(_)),
        "{err:?}"
    );
    // And a custom, tighter limit refuses a legitimately sized image.
    let small = encode(image::ImageFormat::Png, 300, 200);
    let tight = DecodeLimits {
        max_pixels: 10_000,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        decode_rgb8(&small, tight),
        Err(DecodeError::TooLarge {
            width: 300,
            height: 200
        })
    ));
}

#[test]
fn jpeg_bomb_is_refused_from_its_header() {
    // A valid JPEG whose frame header (SOF0: FF C0, length, precision, height, width) claims 60,000 x 60,000.
    let mut jpeg = encode(image::ImageFormat::Jpeg, 16, 16);
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    let err = decode_rgb8(&jpeg, DecodeLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TooLarge {
                width: 60_000,
                height: 60_000
            }
        ),
        "{err:?}"
    );
}

#[test]
fn jpeg_with_a_broken_frame_header_is_corrupt() {
    // A frame header (SOF0) whose length field says 2 bytes: libjpeg's "bogus marker length", a fatal error
    // (warnings, which Pillow ignores, are successes; see tests/it/jpeg.rs).
    let mut jpeg = encode(image::ImageFormat::Jpeg, 16, 16);
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    jpeg[sof + 2..sof + 4].copy_from_slice(&2u16.to_be_bytes());
    let err = decode_rgb8(&jpeg, DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, DecodeError::Corrupt(_)), "{err:?}");
}

#[test]
fn zero_sized_gif_is_an_error() {
    // GIF logical screen 0 x 0 with no frames.
    let gif = b"GIF89a\x00\x00\x00\x00\x00\x00\x00;";
    assert!(decode_rgb8(gif, DecodeLimits::default()).is_err());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
