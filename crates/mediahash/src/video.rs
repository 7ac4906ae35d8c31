//! Decoding a video file into vPDQ features with FFmpeg's libraries, step for step as the reference's
//! `filehasher.cpp` / `ffmpegwrapper.cpp` (vpdq 0.2.5) does, so the frames hashed are the reference's frames.
//!
//! Behind the opt-in `video` feature (in the `jikimi` package too: `cargo build --features video`): FFmpeg is a
//! system C library found with pkg-config and bound with bindgen, which a pure consumer of PDQ, vPDQ comparison
//! or the index should not have to install. With `jpeg.rs` (libjpeg), this is the crate's only unsafe code: three
//! FFmpeg calls the safe wrapper does not expose as the reference makes them (an RGB24 frame with FFmpeg's default
//! alignment, and `sws_scale` on the codec's declared height), FFmpeg's CPU-flags switch of [`use_portable_code`],
//! and the two calls that make the in-memory file of [`hash_video_bytes`].
//!
//! The reference, and so this module:
//! - opens the first video stream; the output size is the stream's `codecpar` size, or N x N with a downsample
//!   dimension; the frame rate is `avg_frame_rate`, else `r_frame_rate`;
//! - decodes with slice threading when the codec has it (threads change no pixel);
//! - samples every `max(1, (int)(seconds_per_hash * frame_rate))`-th decoded frame, numbered by the decoder's
//!   frame counter from 0;
//! - converts to RGB24 with swscale, `SWS_AREA` ([`Scaler::Area`]) and no other flag, and hashes with
//!   [`crate::vpdq::hash_frame`];
//! - stops at the first read error, and drains the decoder at the end only when the video stream is stream 0
//!   (the reference "flushes" with the blank packet `av_read_frame` leaves, whose stream index is 0).
//!
//! [`hash_video_bytes`] hashes a video held in memory (a server's upload) through an anonymous in-memory file, within
//! [`VideoLimits`], so an upload never touches a disk and cannot cost unbounded decoding.
//!
//! Two settings leave the reference's defaults, to hash as other builds do (both off by default, where the frames
//! are vpdq 0.2.5's on the same FFmpeg):
//! - [`use_portable_code`] makes FFmpeg run its portable C code rather than the CPU's SIMD code. FFmpeg's x86 SIMD
//!   yuv->RGB24 conversion rounds differently from its C code, and ARM64 has no SIMD code for RGB24, so by default
//!   an x86 node and an ARM node hash the same video differently (half the full-size frames of Meta's samples
//!   differ). With the portable code an x86 node converts as an ARM node does, so agencies sharing a bank get the
//!   same hashes on either. It is process-wide (FFmpeg's `av_force_cpu_flags`): set it before hashing.
//! - [`Scaler::Lanczos`] scales with `SWS_LANCZOS`, as vpdq did until July 2023 (0.2.5 has `SWS_AREA`); it
//!   changes only frames that swscale scales (a downsample dimension, or yuv420p chroma at an odd height).
//!
//! With the setting each batch was made with, Debian's FFmpeg 5.1 reproduces every line of the sample hashes the
//! vpdq 0.2.5 sdist ships: the 2022 full-size files with the portable code (they were made on an Apple M1), the
//! `-128x128` files with `SWS_LANCZOS` and the default code, `test-padded-dimensions` with the defaults (the example
//! `vpdq_meta_samples`).
#![allow(unsafe_code)]

use crate::RgbImage;
use crate::vpdq::{VpdqFeature, hash_frame};
use ff::codec::threading;
use ff::ffi;
use ffmpeg_next as ff;
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;

/// Why a video could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// FFmpeg reported an error.
    #[error("{what}: {source}")]
    Ffmpeg {
        /// The step that failed.
        what: &'static str,
        /// FFmpeg's error.
        source: ff::Error,
    },
    /// The file cannot be hashed as the reference would.
    #[error("{0}")]
    Invalid(&'static str),
    /// The video is past a [`VideoLimits`] bound (frame size, frames decoded or hashed).
    #[error("the video is larger than the limit: {0}")]
    TooLarge(&'static str),
    /// The in-memory file of [`hash_video_bytes`] could not be made.
    #[error("in-memory file: {0}")]
    Memory(std::io::Error),
}

fn ff_err(what: &'static str) -> impl FnOnce(ff::Error) -> VideoError {
    move |source| VideoError::Ffmpeg { what, source }
}

/// Options of [`hash_video_file`], as `vpdq-hash-video`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoOptions {
    /// Seconds between hashed frames; 0 hashes every frame.
    pub seconds_per_hash: f64,
    /// Scale frames to N x N before hashing; 0 keeps the stream's size.
    pub downsample_frame_dimension: u32,
    /// Hashing threads beside the decoder, as the reference's `thread_count`: 0 one per core, 1 hashes
    /// inline. Features come out in frame order whatever the count.
    pub threads: usize,
    /// The swscale algorithm converting (and scaling) frames to RGB24; [`Scaler::Area`] is the reference's.
    pub scaler: Scaler,
}

/// The swscale algorithm of the conversion to RGB24. It changes pixels where frames are scaled: a downsample
/// dimension, or the chroma of a yuv420p frame of odd height, which swscale's direct yuv->RGB converters do not
/// take (at an even height they do, and the algorithm changes nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Scaler {
    /// `SWS_AREA`, vpdq 0.2.5's.
    #[default]
    Area,
    /// `SWS_LANCZOS`, vpdq's before 0.2.5 (until July 2023), which made the `-128x128` sample hashes it ships.
    Lanczos,
}

impl Scaler {
    fn flags(self) -> ff::software::scaling::Flags {
        match self {
            Scaler::Area => ff::software::scaling::Flags::AREA,
            Scaler::Lanczos => ff::software::scaling::Flags::LANCZOS,
        }
    }
}

/// Makes FFmpeg run its portable C code (`true`) instead of the SIMD code it picks for this CPU, or go back to
/// picking for the CPU (`false`, FFmpeg's default), for every decoder and scaler made afterwards in this process.
///
/// Why: the pixels of FFmpeg's yuv->RGB24 conversion depend on its code path. x86's SIMD code rounds differently
/// from the C code, which ARM64 runs (FFmpeg has no ARM SIMD code for RGB24), so by default the same video hashes
/// differently on x86 and ARM nodes. With the portable code an x86 node converts as the ARM node does, and so,
/// for codecs whose decoding the standard makes exact (H.264, HEVC, VP9, AV1), hashes as it does. Meta's
/// full-size sample hashes of 2022 were made this way (on an Apple M1). The C code is slower.
///
/// Process-wide: this is FFmpeg's global `av_force_cpu_flags`, which every FFmpeg user in the process shares
/// (`0`: no SIMD; `-1`: detect the CPU again). Call it before hashing, at start-up, and never while another thread
/// hashes a video: decoders and scalers read the flags when they are set up, so a hash in flight could mix both
/// code paths and match neither setting.
pub fn use_portable_code(portable: bool) {
    // SAFETY: `av_force_cpu_flags` only stores its argument in FFmpeg's atomic flags word (from any thread), which
    // FFmpeg reads when it sets up a decoder or scaler; 0 and -1 are the documented values for "no SIMD" and
    // "detect again". What could go wrong is a switch while a hash is in flight, which is the caller's to avoid
    // (documented above); it mixes code paths but stays memory-safe.
    unsafe { ffi::av_force_cpu_flags(if portable { 0 } else { -1 }) }
}

/// Bounds on the work one video may cost, for videos from untrusted sources (a server's uploads): a frame size, and
/// how many frames are decoded and hashed. Within them, features equal [`hash_video_file`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoLimits {
    /// Largest frame (width x height of the output) in pixels.
    pub max_pixels: u64,
    /// Most frames decoded (every frame is decoded, sampled or not).
    pub max_decoded_frames: u64,
    /// Most frames hashed.
    pub max_hashed_frames: u64,
}

impl VideoLimits {
    /// No bound (the files of the command line and of triage).
    pub const NONE: VideoLimits = VideoLimits {
        max_pixels: u64::MAX,
        max_decoded_frames: u64::MAX,
        max_hashed_frames: u64::MAX,
    };
}

/// Hashes a video file: its vPDQ features in frame order (reference `hashVideoFile`).
pub fn hash_video_file(path: &Path, options: VideoOptions) -> Result<Vec<VpdqFeature>, VideoError> {
    hash_video_limited(path, options, VideoLimits::NONE)
}

/// Hashes a video held in memory, within `limits`: the bytes are copied into an anonymous in-memory file
/// (`memfd_create`: no name in any file system, freed when it is closed, here on return) which FFmpeg opens by its
/// `/proc/self/fd` path as it would open a file, so the frames are the reference's frames. Nothing is written to a
/// disk. Linux only; elsewhere an error.
#[cfg(target_os = "linux")]
pub fn hash_video_bytes(
    bytes: &[u8],
    options: VideoOptions,
    limits: VideoLimits,
) -> Result<Vec<VpdqFeature>, VideoError> {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: a valid NUL-terminated name and flags; a negative answer is checked before the descriptor is used.
    let fd = unsafe { libc::memfd_create(c"jikimi-vpdq".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(VideoError::Memory(std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just created, is open, and is owned by nothing else: the file closes it when dropped.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes).map_err(VideoError::Memory)?;
    let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let features = hash_video_limited(&path, options, limits);
    drop(file);
    features
}

/// See the Linux version: an anonymous in-memory file is Linux's.
#[cfg(not(target_os = "linux"))]
pub fn hash_video_bytes(
    _bytes: &[u8],
    _options: VideoOptions,
    _limits: VideoLimits,
) -> Result<Vec<VpdqFeature>, VideoError> {
    Err(VideoError::Invalid(
        "hashing a video from memory needs Linux (memfd_create)",
    ))
}

fn hash_video_limited(
    path: &Path,
    options: VideoOptions,
    limits: VideoLimits,
) -> Result<Vec<VpdqFeature>, VideoError> {
    if options.seconds_per_hash.is_nan() || options.seconds_per_hash < 0.0 {
        return Err(VideoError::Invalid("seconds per hash must be non-negative"));
    }
    ff::init().map_err(ff_err("initialising FFmpeg"))?;
    // The reference keeps libav quiet unless verbose.
    ff::util::log::set_level(ff::util::log::Level::Fatal);
    let mut input = ff::format::input(&path).map_err(ff_err("cannot open video"))?;
    let stream = input
        .streams()
        .find(|s| s.parameters().medium() == ff::media::Type::Video)
        .ok_or(VideoError::Invalid("no video stream found"))?;
    let stream_index = stream.index();
    let params = stream.parameters();
    // SAFETY: `params` wraps the stream's live AVCodecParameters; reading two ints.
    let (mut width, mut height) = unsafe {
        let p = params.as_ptr();
        ((*p).width, (*p).height)
    };
    if width <= 0 || height <= 0 {
        return Err(VideoError::Invalid("width or height equals 0"));
    }
    let mut rate = stream.avg_frame_rate();
    if rate.numerator() == 0 || rate.denominator() == 0 {
        rate = stream.rate();
    }
    let frame_rate = f64::from(rate.numerator()) / f64::from(rate.denominator());
    if frame_rate == 0.0 || !frame_rate.is_finite() {
        return Err(VideoError::Invalid(
            "video frame rate was detected to be zero",
        ));
    }
    let codec =
        ff::decoder::find(params.id()).ok_or(VideoError::Invalid("video codec id not found"))?;
    let mut context =
        ff::codec::context::Context::from_parameters(params).map_err(ff_err("codec parameters"))?;
    let slice = codec
        .capabilities()
        .contains(ff::codec::capabilities::Capabilities::SLICE_THREADS);
    context.set_threading(if slice {
        threading::Config {
            kind: threading::Type::Slice,
            count: 0,
            ..threading::Config::default()
        }
    } else {
        threading::Config {
            kind: threading::Type::None,
            count: 1,
            ..threading::Config::default()
        }
    });
    let mut decoder = context
        .decoder()
        .open_as(codec)
        .and_then(|d| d.video())
        .map_err(ff_err("failed to open video codec context"))?;
    if options.downsample_frame_dimension > 0 {
        let n = i32::try_from(options.downsample_frame_dimension)
            .map_err(|_| VideoError::Invalid("downsample dimension too large"))?;
        (width, height) = (n, n);
    }
    let (out_w, out_h) = (width as u32, height as u32);
    if u64::from(out_w) * u64::from(out_h) > limits.max_pixels {
        return Err(VideoError::TooLarge("frame size"));
    }
    let mut scaler = ff::software::scaling::Context::get(
        decoder.format(),
        decoder.width(),
        decoder.height(),
        ff::format::Pixel::RGB24,
        out_w,
        out_h,
        options.scaler.flags(),
    )
    .map_err(ff_err("cannot create the sws context"))?;
    // The reference's `(int)(secondsPerHash * frameRate)`, at least 1.
    let frame_mod = ((options.seconds_per_hash * frame_rate) as i64).max(1);
    let (width, height) = (out_w as usize, out_h as usize);
    if width < 5 || height < 5 {
        // The reference fails on the first frame it would hash; failing before decoding differs from it only
        // for a video without a single decodable frame.
        return Err(VideoError::Invalid(
            "frame width or height smaller than the minimum hashable dimension",
        ));
    }
    let mut sampler = Sampler {
        frame_mod,
        counter: 0,
        width,
        height,
        rgb: Vec::new(),
        decoded: ff::frame::Video::empty(),
        limits,
        hashed: 0,
    };
    let mut decode = |emit: &mut Emit<'_>| {
        let mut packet = ff::Packet::empty();
        while packet.read(&mut input).is_ok() {
            if packet.stream() == stream_index {
                decoder
                    .send_packet(&packet)
                    .map_err(ff_err("cannot send packet to decoder"))?;
                sampler.drain(&mut decoder, &mut scaler, emit)?;
            }
        }
        if stream_index == 0 {
            decoder
                .send_eof()
                .map_err(ff_err("cannot send packet to decoder"))?;
            sampler.drain(&mut decoder, &mut scaler, emit)?;
        }
        Ok(())
    };
    let frame_rate = frame_rate as f32;
    let hash = |n: u32, rgb: &[u8]| {
        RgbImage::new(width, height, rgb)
            .map(|image| hash_frame(image, n, frame_rate))
            .ok_or(VideoError::Invalid("frame buffer size"))
    };
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    if threads <= 1 {
        let mut features = Vec::new();
        decode(&mut |n, rgb| {
            features.push(hash(n, rgb)?);
            Ok(())
        })?;
        return Ok(features);
    }
    // Decoding (and scaling) stays on this thread; `threads` workers hash frames as they come.
    let (sender, receiver) = sync_channel::<(u32, Vec<u8>)>(threads * 2);
    let receiver = Mutex::new(receiver);
    let results = Mutex::new(Vec::new());
    let decoded = std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let job = match receiver.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok((n, rgb)) = job else { return };
                    let feature = hash(n, &rgb);
                    match results.lock() {
                        Ok(mut r) => r.push(feature),
                        Err(_) => return,
                    }
                }
            });
        }
        let outcome = decode(&mut |n, rgb| {
            sender
                .send((n, rgb.to_vec()))
                .map_err(|_| VideoError::Invalid("a hashing thread stopped"))
        });
        drop(sender);
        outcome
    });
    decoded?;
    let results = results
        .into_inner()
        .map_err(|_| VideoError::Invalid("a hashing thread panicked"))?;
    let mut features = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    features.sort_by_key(|f| f.frame_number);
    Ok(features)
}

/// Where a sampled frame goes: its number and packed RGB24 rows.
type Emit<'a> = dyn FnMut(u32, &[u8]) -> Result<(), VideoError> + 'a;

struct Sampler {
    frame_mod: i64,
    counter: i64,
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    decoded: ff::frame::Video,
    limits: VideoLimits,
    /// Frames handed to `emit` so far.
    hashed: u64,
}

impl Sampler {
    /// Receives every frame the decoder has ready; scales the sampled ones and hands them to `emit`.
    fn drain(
        &mut self,
        decoder: &mut ff::decoder::Video,
        scaler: &mut ff::software::scaling::Context,
        emit: &mut Emit<'_>,
    ) -> Result<(), VideoError> {
        loop {
            match decoder.receive_frame(&mut self.decoded) {
                Ok(()) => {}
                Err(ff::Error::Eof) => return Ok(()),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    return Ok(());
                }
                Err(e) => return Err(ff_err("cannot receive frame from decoder")(e)),
            }
            // The codec context's frame counter after this frame, minus one.
            let frame_number = self.counter;
            self.counter += 1;
            if self.counter as u64 > self.limits.max_decoded_frames {
                return Err(VideoError::TooLarge("frames decoded"));
            }
            if frame_number % self.frame_mod != 0 {
                continue;
            }
            self.hashed += 1;
            if self.hashed > self.limits.max_hashed_frames {
                return Err(VideoError::TooLarge("frames hashed"));
            }
            self.scale_into_rgb(scaler, decoder.height())?;
            let frame_number =
                u32::try_from(frame_number).map_err(|_| VideoError::Invalid("too many frames"))?;
            emit(frame_number, &self.rgb)?;
        }
    }

    /// Scales the decoded frame into a fresh RGB24 frame made as the reference's `createRGB24Frame` makes it,
    /// then packs its rows into `self.rgb`.
    fn scale_into_rgb(
        &mut self,
        scaler: &mut ff::software::scaling::Context,
        codec_height: u32,
    ) -> Result<(), VideoError> {
        let (w, h) = (self.width as i32, self.height as i32);
        // SAFETY: the frame is allocated, checked, filled by sws_scale within the sizes it was made with, read
        // row by row within `linesize * h`, and freed on every path.
        unsafe {
            let mut dst = ffi::av_frame_alloc();
            if dst.is_null() {
                return Err(VideoError::Invalid("out of memory"));
            }
            (*dst).format = ffi::AVPixelFormat::AV_PIX_FMT_RGB24 as i32;
            (*dst).width = w;
            (*dst).height = h;
            let result = if ffi::av_frame_get_buffer(dst, 0) < 0 {
                Err(VideoError::Invalid("av_frame_get_buffer failed"))
            } else {
                let src = self.decoded.as_ptr();
                ffi::sws_scale(
                    scaler.as_mut_ptr(),
                    (*src).data.as_ptr() as *const *const u8,
                    (*src).linesize.as_ptr(),
                    0,
                    codec_height as i32,
                    (*dst).data.as_ptr(),
                    (*dst).linesize.as_ptr(),
                );
                let stride = (*dst).linesize[0] as usize;
                let row = self.width * 3;
                self.rgb.clear();
                for y in 0..self.height {
                    let p = (*dst).data[0].add(y * stride);
                    self.rgb
                        .extend_from_slice(std::slice::from_raw_parts(p, row));
                }
                Ok(())
            };
            ffi::av_frame_free(&mut dst);
            result
        }
    }
}
