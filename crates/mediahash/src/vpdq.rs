//! vPDQ, Meta's video PDQ (ThreatExchange `vpdq/`, `vpdq` 0.2.5 on PyPI): frame features, their text format, the
//! brute-force comparison of two videos and an index of frame hashes across many videos.
//!
//! A video's vPDQ hash is one [`VpdqFeature`] per sampled frame: the frame's PDQ hash computed by the C++
//! reference's path (`fillFloatLumaFromRGB` in f32, [`Luma::Float32`], then `pdqHash256FromFloatLuma` over the
//! whole frame), its quality, its number and its timestamp. Decoding and sampling frames is the FFmpeg edge
//! ([`crate::video`], behind the `video` feature); everything here is pure.
//!
//! Comparison ([`match_two_hash_brute`]) is the reference's `matchTwoHashBrute`: drop frames below the quality
//! tolerance on both sides, then the query match is the share of query frames with some compared frame at a
//! Hamming distance *strictly below* the distance tolerance, and the compared match the other way round.
//! [`VideoIndex`] gives the same two percentages for every stored video at once from one exact Hamming index
//! over all frames, so a query touches only frames near its own instead of scanning every video.

use crate::index::{HammingIndex, Hit, IndexError};
use crate::{Hash256, Luma, RgbImage, pdq_hash};
use std::collections::HashMap;

/// The reference's default distance tolerance (`vpdq_match.py`): a frame matches below 31 bits.
pub const DEFAULT_DISTANCE_TOLERANCE: u32 = 31;
/// The reference's default quality tolerance: frames of lower quality are left out of comparisons.
pub const DEFAULT_QUALITY_TOLERANCE: u32 = 50;

/// One hashed frame of a video (reference `vpdqFeature`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VpdqFeature {
    /// Frame number in decoding order, from 0.
    pub frame_number: u32,
    /// PDQ quality, 0..=100.
    pub quality: u32,
    /// PDQ hash of the frame.
    pub hash: Hash256,
    /// Seconds: `frame_number / frame_rate`, computed in f32 as the reference does.
    pub timestamp: f64,
}

impl VpdqFeature {
    /// The reference's line (`outputVPDQFeatureToFile`, the `vpdq-hash-video` output and `sample-hashes/*.txt`):
    /// `frame,quality,hex,timestamp` with the timestamp to three decimals.
    pub fn to_line(&self) -> String {
        format!(
            "{},{},{},{:.3}",
            self.frame_number,
            self.quality,
            self.hash.to_hex(),
            self.timestamp
        )
    }
}

/// Why a line of a vPDQ hash file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseFeatureError {
    /// Not four comma-separated fields.
    #[error("line {line}: expected frame,quality,hash,timestamp")]
    Fields {
        /// 1-based line number.
        line: usize,
    },
    /// A field does not parse.
    #[error("line {line}: bad {field}")]
    Field {
        /// 1-based line number.
        line: usize,
        /// Which field.
        field: &'static str,
    },
}

/// Parses a vPDQ hash file (the reference's `loadHashesFromFileOrDie` format); blank lines and `#` lines
/// (the `# path` headers `jikimi pdq hash-video` prints between videos) are ignored.
pub fn parse_features(text: &str) -> Result<Vec<VpdqFeature>, ParseFeatureError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = raw.split(',').collect();
        let [frame, quality, hash, timestamp] = fields[..] else {
            return Err(ParseFeatureError::Fields { line });
        };
        let field = |field| ParseFeatureError::Field { line, field };
        out.push(VpdqFeature {
            frame_number: frame.trim().parse().map_err(|_| field("frame number"))?,
            quality: quality.trim().parse().map_err(|_| field("quality"))?,
            hash: hash.trim().parse().map_err(|_| field("hash"))?,
            timestamp: timestamp.trim().parse().map_err(|_| field("timestamp"))?,
        });
    }
    Ok(out)
}

/// Hashes one frame given as packed RGB24 (reference `hashFrame`): PDQ over the whole frame with the C++ f32
/// luma, and the timestamp as the reference computes it (`(float)frame / (float)frame_rate`).
pub fn hash_frame(frame: RgbImage<'_>, frame_number: u32, frame_rate: f32) -> VpdqFeature {
    let pdq = pdq_hash(frame, Luma::Float32);
    VpdqFeature {
        frame_number,
        quality: pdq.quality,
        hash: pdq.hash,
        timestamp: f64::from(frame_number as f32 / frame_rate),
    }
}

/// How much of two videos matches, in percent (reference `matchTwoHashBrute`'s `qMatch` and `tMatch`).
///
/// A side with no frame left after the quality filter gives NaN, as the reference's `0 * 100.0 / 0` does.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct VideoMatch {
    /// Share of the query's frames that match some frame of the compared video.
    pub query_match_percent: f64,
    /// Share of the compared video's frames that match some frame of the query.
    pub compared_match_percent: f64,
}

fn filter_quality(features: &[VpdqFeature], quality_tolerance: u32) -> Vec<Hash256> {
    features
        .iter()
        .filter(|f| f.quality >= quality_tolerance)
        .map(|f| f.hash)
        .collect()
}

fn percent(count: usize, total: usize) -> f64 {
    // The reference divides doubles: an empty side is 0/0 = NaN, kept so the figures stay identical.
    (count as f64 * 100.0) / total as f64
}

/// Compares two videos frame by frame (reference `matchTwoHashBrute`): quality filter, then frames whose
/// distance is `< distance_tolerance`.
pub fn match_two_hash_brute(
    query: &[VpdqFeature],
    compared: &[VpdqFeature],
    distance_tolerance: u32,
    quality_tolerance: u32,
) -> VideoMatch {
    let q = filter_quality(query, quality_tolerance);
    let t = filter_quality(compared, quality_tolerance);
    let count = |a: &[Hash256], b: &[Hash256]| {
        a.iter()
            .filter(|x| b.iter().any(|y| x.distance(y) < distance_tolerance))
            .count()
    };
    VideoMatch {
        query_match_percent: percent(count(&q, &t), q.len()),
        compared_match_percent: percent(count(&t, &q), t.len()),
    }
}

/// One stored video that a query matched, with the same figures as [`match_two_hash_brute`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct IndexedMatch {
    /// The video's id ([`VideoIndex::insert`]'s answer).
    pub video: u32,
    /// The two percentages.
    #[serde(flatten)]
    pub result: VideoMatch,
}

/// Frame hashes of many videos in one exact [`HammingIndex`], for "which stored videos match this one".
///
/// Only frames at or above the quality tolerance are stored (the comparison would drop the others anyway), so
/// the tolerance is fixed when the index is made.
#[derive(Debug, Clone)]
pub struct VideoIndex {
    quality_tolerance: u32,
    frames: HammingIndex,
    /// Video id of each stored frame, by frame id in `frames`.
    frame_video: Vec<u32>,
    /// Frames kept (after the quality filter) per video.
    kept: Vec<usize>,
    /// First frame id of each video in `frames` (a video's frames have consecutive ids).
    first_frame: Vec<u32>,
    /// Videos removed ([`VideoIndex::remove`]): their frames are tombstoned in `frames`.
    removed: Vec<bool>,
}

impl VideoIndex {
    /// An empty index that keeps frames of quality `>= quality_tolerance`.
    pub fn new(quality_tolerance: u32) -> Self {
        VideoIndex {
            quality_tolerance,
            frames: HammingIndex::new(),
            frame_video: Vec::new(),
            kept: Vec::new(),
            first_frame: Vec::new(),
            removed: Vec::new(),
        }
    }

    /// Number of videos stored.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// True when no video is stored.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Stores a video's features; returns its id (insertion order from 0).
    pub fn insert(&mut self, features: &[VpdqFeature]) -> Result<u32, IndexError> {
        let video = u32::try_from(self.kept.len()).map_err(|_| IndexError::Full)?;
        let first = u32::try_from(self.frame_video.len()).map_err(|_| IndexError::Full)?;
        let mut kept = 0;
        for hash in filter_quality(features, self.quality_tolerance) {
            let id = self.frames.insert(hash)?;
            debug_assert_eq!(id as usize, self.frame_video.len());
            self.frame_video.push(video);
            kept += 1;
        }
        self.kept.push(kept);
        self.first_frame.push(first);
        self.removed.push(false);
        Ok(video)
    }

    /// Removes a video (its frames are tombstoned, no rebuild): later queries never answer it. Returns false
    /// if the id is unknown or was removed before.
    pub fn remove(&mut self, video: u32) -> bool {
        let v = video as usize;
        if v >= self.kept.len() || self.removed[v] {
            return false;
        }
        self.removed[v] = true;
        let first = self.first_frame[v];
        for id in first..first + self.kept[v] as u32 {
            self.frames.remove(id);
        }
        true
    }

    /// Memory held in bytes (the frame index and the per-frame and per-video maps).
    pub fn memory_bytes(&self) -> usize {
        self.frames.memory_bytes() + self.frame_video.capacity() * 4 + self.kept.capacity() * 17
    }

    /// Every stored video with at least one matching frame, by id, with [`match_two_hash_brute`]'s figures
    /// for `(query, that video)`. Videos absent from the answer match 0 % both ways (or NaN where the
    /// reference would divide by zero: a query or a video with no frame above the quality tolerance).
    ///
    /// `distance_tolerance` is at most 32 (the index is exact for radius `< 32`).
    pub fn query(&self, query: &[VpdqFeature], distance_tolerance: u32) -> Vec<IndexedMatch> {
        let q = filter_quality(query, self.quality_tolerance);
        if distance_tolerance == 0 || q.is_empty() {
            return Vec::new();
        }
        let radius = distance_tolerance - 1;
        // Per video: how many query frames found it, and which of its frames some query frame found.
        let mut query_hits: HashMap<u32, usize> = HashMap::new();
        let mut matched_frames: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut hits: Vec<Hit> = Vec::new();
        let mut videos_this_frame: Vec<u32> = Vec::new();
        for hash in &q {
            self.frames.search_into(hash, radius, &mut hits);
            videos_this_frame.clear();
            for hit in &hits {
                let video = self.frame_video[hit.id as usize];
                videos_this_frame.push(video);
                matched_frames.entry(video).or_default().push(hit.id);
            }
            videos_this_frame.sort_unstable();
            videos_this_frame.dedup();
            for &video in &videos_this_frame {
                *query_hits.entry(video).or_default() += 1;
            }
        }
        let mut out: Vec<IndexedMatch> = matched_frames
            .into_iter()
            .map(|(video, mut frames)| {
                frames.sort_unstable();
                frames.dedup();
                IndexedMatch {
                    video,
                    result: VideoMatch {
                        query_match_percent: percent(
                            query_hits.get(&video).copied().unwrap_or(0),
                            q.len(),
                        ),
                        compared_match_percent: percent(frames.len(), self.kept[video as usize]),
                    },
                }
            })
            .collect();
        out.sort_by_key(|m| m.video);
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed fixtures
mod tests {
    use super::*;

    fn feature(frame_number: u32, quality: u32, hash: Hash256) -> VpdqFeature {
        VpdqFeature {
            frame_number,
            quality,
            hash,
            timestamp: f64::from(frame_number as f32 / 30.0),
        }
    }

    #[test]
    fn line_round_trip() {
        let line = "4,100,d6d2d8da847a51e7debeb295bad01905490999ea77a69a00e61bd74dfd04580e,0.133";
        let f = parse_features(line).unwrap();
        assert_eq!(f[0].to_line(), line);
        assert!(parse_features("1,2,3").is_err());
        assert!(parse_features("1,x,00,0.0").is_err());
    }

    #[test]
    fn timestamp_is_f32_division() {
        let f = hash_frame(RgbImage::new(8, 8, &[0; 192]).unwrap(), 1, 29.97);
        assert_eq!(f.timestamp, f64::from(1f32 / 29.97f32));
        assert_eq!(f.to_line().rsplit(',').next(), Some("0.033"));
    }

    #[test]
    fn brute_semantics() {
        let mut far = Hash256::ZERO;
        for k in 0..31 {
            far.flip_bit(k);
        }
        let q = [
            feature(0, 100, Hash256::ZERO),
            feature(1, 10, Hash256::ZERO),
        ];
        // Distance 31 is not below the tolerance 31; the low-quality frame is not counted at all.
        let t = [feature(0, 100, far)];
        let m = match_two_hash_brute(&q, &t, 31, 50);
        assert_eq!(
            (m.query_match_percent, m.compared_match_percent),
            (0.0, 0.0)
        );
        let m = match_two_hash_brute(&q, &t, 32, 50);
        assert_eq!(
            (m.query_match_percent, m.compared_match_percent),
            (100.0, 100.0)
        );
        assert!(
            match_two_hash_brute(&q, &[], 31, 50)
                .compared_match_percent
                .is_nan()
        );
    }
}
