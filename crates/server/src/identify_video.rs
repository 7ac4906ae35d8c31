//! Video uploads for identify (issue 19, part 2): an uploaded video's vPDQ frame hashes, for adding it to a bank
//! (`POST /api/identify/banks/{id}/content/video`), looking it up (`POST /api/identify/lookup`, `video=`) and
//! hashing it (`POST /api/identify/hash`).
//!
//! Only when the server is built with the `video` feature (FFmpeg's libraries, as `jikimi pdq hash-video`); without
//! it these answer `not_enabled` ([`crate::identify::video_not_enabled`]) and a video is added or looked up by its
//! vPDQ signal instead. Frames are hashed as `jikimi pdq hash-video --seconds-per-hash 1` hashes them (the
//! reference's decoding, [`jikimi_mediahash::video`]), so a lookup's query and compared match percentages are the
//! reference comparison's on the same frames.
//!
//! **From memory:** the upload is read into memory by the multipart reader and handed to
//! [`jikimi_mediahash::video::hash_video_bytes`], which gives FFmpeg an anonymous in-memory file (`memfd`), never a
//! named file on a disk; the bytes are dropped when hashing returns. Decoding is bounded ([`limits`]) and one video
//! is hashed at a time per server, so uploads cannot take every core.

use axum::body::Bytes;
use jikimi_mediahash::vpdq::VpdqFeature;

use crate::error::ApiError;

/// Whether this build hashes video uploads.
pub const ENABLED: bool = cfg!(feature = "video");

/// Seconds between hashed frames of an upload (the reference tool's and HMA's usual one second).
pub const SECONDS_PER_HASH: f64 = 1.0;

/// Largest frame of an uploaded video in pixels (a little over 4K UHD).
pub const MAX_PIXELS: u64 = 9_000_000;

/// Most frames decoded from one upload (over an hour at 30 frames a second).
pub const MAX_DECODED_FRAMES: u64 = 120_000;

/// Hashes an uploaded video in memory: its vPDQ frames, in frame order.
#[cfg(feature = "video")]
pub(crate) async fn hash_video(bytes: Bytes) -> Result<Vec<VpdqFeature>, ApiError> {
    use crate::error::ErrorCode;
    use jikimi_mediahash::video::{VideoError, VideoOptions, hash_video_bytes};
    use std::sync::OnceLock;
    use tokio::sync::Semaphore;

    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let _slot = SLOTS
        .get_or_init(|| Semaphore::new(1))
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let options = VideoOptions {
        seconds_per_hash: SECONDS_PER_HASH,
        downsample_frame_dimension: 0,
        threads: 1,
        // vpdq 0.2.5's scaler; the server never switches FFmpeg to its portable code (`use_portable_code`).
        scaler: jikimi_mediahash::video::Scaler::Area,
    };
    let hashed = tokio::task::spawn_blocking(move || hash_video_bytes(&bytes, options, limits()))
        .await
        .map_err(ApiError::internal)?;
    match hashed {
        Ok(frames) if frames.is_empty() => Err(ApiError::new(
            ErrorCode::InvalidPayload,
            "the video has no frame to hash",
        )),
        Ok(frames) => Ok(frames),
        Err(VideoError::TooLarge(what)) => Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the video is larger than the limits ({what})"),
        )),
        Err(VideoError::Memory(err)) => Err(ApiError::internal(err)),
        // FFmpeg's detail may quote the file: it is not echoed.
        Err(_) => Err(ApiError::new(
            ErrorCode::InvalidPayload,
            "not a decodable video",
        )),
    }
}

/// This build does not hash videos.
#[cfg(not(feature = "video"))]
pub(crate) async fn hash_video(_bytes: Bytes) -> Result<Vec<VpdqFeature>, ApiError> {
    Err(crate::identify::video_not_enabled())
}

/// The bounds of one upload's decoding.
#[cfg(feature = "video")]
pub fn limits() -> jikimi_mediahash::video::VideoLimits {
    jikimi_mediahash::video::VideoLimits {
        max_pixels: MAX_PIXELS,
        max_decoded_frames: MAX_DECODED_FRAMES,
        max_hashed_frames: crate::identify::MAX_VPDQ_FRAMES as u64,
    }
}
