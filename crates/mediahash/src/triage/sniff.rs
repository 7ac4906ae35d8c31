//! What a file is, from its first bytes: an image, a video or something else.
//!
//! Seized media is renamed, stripped of extensions or given false ones, so triage never trusts a file name. The
//! image formats are the ones [`crate::decode_rgb8`] decodes (it sniffs the same way); HEIF/AVIF stills are
//! images this build cannot decode, so they are reported as unreadable images rather than hidden among "other".

/// How many leading bytes [`sniff`] looks at.
pub const SNIFF_LEN: usize = 64;

/// The kind of a file, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A still image in a format the decoder reads (JPEG, PNG, WebP, GIF, BMP, TIFF).
    Image,
    /// A still image in a format this build cannot decode (HEIF, AVIF, JPEG 2000, ...).
    UndecodableImage,
    /// A video container (MP4/MOV/3GP, Matroska/WebM, AVI, FLV, MPEG-TS/PS, ASF/WMV).
    Video,
    /// Neither: documents, archives, executables, empty files.
    Other,
}

/// Classifies a file by its first bytes (give it at least [`SNIFF_LEN`] when the file is that long).
pub fn sniff(head: &[u8]) -> MediaKind {
    if let Ok(format) = image::guess_format(head) {
        use image::ImageFormat as F;
        return match format {
            F::Jpeg | F::Png | F::WebP | F::Gif | F::Bmp | F::Tiff => MediaKind::Image,
            _ => MediaKind::UndecodableImage,
        };
    }
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    // ISO base media (MP4, MOV, 3GP, HEIF, AVIF): a box of type `ftyp` first; its major brand says which.
    if at(4, b"ftyp") {
        let brand = head.get(8..12).unwrap_or_default();
        // Still-image brands; the sequence brands (`msf1`, `avis`) are animations, hashed as video.
        let still: [&[u8]; 6] = [b"heic", b"heix", b"heim", b"heis", b"mif1", b"avif"];
        return if still.contains(&brand) {
            MediaKind::UndecodableImage
        } else {
            MediaKind::Video
        };
    }
    // QuickTime files without `ftyp` start with a `moov`, `mdat`, `wide` or `free` atom.
    if [b"moov", b"mdat", b"wide", b"free"]
        .iter()
        .any(|m| at(4, *m))
    {
        return MediaKind::Video;
    }
    if at(0, &[0x00, 0x00, 0x00, 0x0C, b'j', b'P', b' ', b' ']) || at(0, &[0xFF, 0x4F, 0xFF, 0x51])
    {
        return MediaKind::UndecodableImage;
    }
    let video = at(0, &[0x1A, 0x45, 0xDF, 0xA3]) // Matroska / WebM (EBML)
        || (at(0, b"RIFF") && at(8, b"AVI "))
        || at(0, b"FLV\x01")
        || at(0, &[0x00, 0x00, 0x01, 0xBA]) // MPEG program stream
        || at(0, &[0x00, 0x00, 0x01, 0xB3]) // MPEG-1/2 elementary video
        || at(0, &[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) // ASF / WMV
        || (at(0, b"OggS") && head.windows(6).any(|w| w == b"theora"));
    if video {
        return MediaKind::Video;
    }
    MediaKind::Other
}

/// MPEG transport streams have no magic number, only a sync byte every 188 bytes: checked on a longer prefix by
/// the caller, which reads [`TS_PROBE_LEN`] bytes of files that [`sniff`] calls [`MediaKind::Other`].
pub const TS_PROBE_LEN: usize = 188 * 4;

/// True if `head` (at least [`TS_PROBE_LEN`] bytes) looks like an MPEG transport stream.
pub fn looks_like_transport_stream(head: &[u8]) -> bool {
    head.len() >= TS_PROBE_LEN && (0..4).all(|k| head.get(188 * k) == Some(&0x47))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), MediaKind::Image);
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), MediaKind::Image);
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0"), MediaKind::Video);
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0"),
            MediaKind::UndecodableImage
        );
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]), MediaKind::Video);
        assert_eq!(sniff(b"RIFF\0\0\0\0AVI LIST"), MediaKind::Video);
        assert_eq!(sniff(b"%PDF-1.7"), MediaKind::Other);
        assert_eq!(sniff(b""), MediaKind::Other);
        let mut ts = vec![0u8; TS_PROBE_LEN];
        for k in 0..4 {
            ts[188 * k] = 0x47;
        }
        assert!(looks_like_transport_stream(&ts));
        assert!(!looks_like_transport_stream(&ts[..100]));
    }
}
