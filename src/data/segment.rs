//! Cutting a whole-track log-mel spectrogram into fixed-size segments.
//!
//! The coursework layout: a 30 s GTZAN track (1292 frames at 22 050 Hz, hop 512) gives 15
//! non-overlapping segments of 80 frames × 80 mel bands, segment k covering frames
//! 80k … 80k+79 of the whole-track log-mel (dB relative to the track's maximum, so every
//! segment of one song shares one reference). A segment is stored time-major
//! (`frames × n_mels`), which is Keras `(80, 80, 1)` and our NCHW `(1, 80, 80)`.
//!
//! Short tracks: every segment made only of real frames is kept. The first segment that
//! runs past the end is padded when at least `min_real_fraction` of it is real and dropped
//! otherwise; no later segment is ever made. Padding repeats the segment's own real
//! frames ([`SegmentPad::Repeat`]) or fills with the track's quietest value
//! ([`SegmentPad::Silence`], the `-top_db` floor of a dB spectrogram). A whole segment is never
//! filled with padding, so a track shorter than `min_real_fraction × frames` yields an error.

use crate::{Error, Result};

/// How the last, partial segment of a short track is completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentPad {
    /// Loop the segment's own real frames until the segment is full.
    Repeat,
    /// Fill with the track's minimum value (silence in a dB spectrogram).
    Silence,
}

/// Segment geometry and the short-track policy.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentConfig {
    /// Frames (time steps) per segment.
    pub frames: usize,
    /// Mel bands per frame; must equal the spectrogram's.
    pub n_mels: usize,
    /// Frames between the starts of consecutive segments (`frames` = non-overlapping).
    pub hop: usize,
    /// Segments per track at most; `None` = as many as the track holds.
    pub max_segments: Option<usize>,
    /// A partial last segment is kept (padded) only if this fraction of it is real audio.
    pub min_real_fraction: f32,
    pub pad: SegmentPad,
}

impl Default for SegmentConfig {
    /// The coursework layout: 15 non-overlapping segments of 80 × 80.
    fn default() -> Self {
        SegmentConfig {
            frames: 80,
            n_mels: 80,
            hop: 80,
            max_segments: Some(15),
            min_real_fraction: 0.5,
            pad: SegmentPad::Repeat,
        }
    }
}

impl SegmentConfig {
    /// Elements in one segment (`frames × n_mels`).
    pub fn segment_len(&self) -> usize {
        self.frames * self.n_mels
    }

    pub fn validate(&self) -> Result<()> {
        if self.frames == 0 || self.n_mels == 0 || self.hop == 0 {
            return Err(Error::invalid(format!(
                "segment frames, n_mels and hop must be positive, got {self:?}"
            )));
        }
        if self.max_segments == Some(0) {
            return Err(Error::invalid("max_segments must be at least 1"));
        }
        if !(self.min_real_fraction > 0.0 && self.min_real_fraction <= 1.0) {
            return Err(Error::invalid(format!(
                "min_real_fraction must be in (0, 1], got {}",
                self.min_real_fraction
            )));
        }
        Ok(())
    }

    /// Fewest frames a track needs to give at least one segment.
    pub fn min_track_frames(&self) -> usize {
        (self.min_real_fraction * self.frames as f32)
            .ceil()
            .max(1.0) as usize
    }
}

/// Cuts a time-major spectrogram (`total_frames × n_mels`) into segments.
///
/// Returns the segments concatenated (`count × frames × n_mels`) and their count.
/// Errors if the spectrogram's size does not match, or if it is too short for even one
/// segment under the policy.
pub fn segment_frames(
    data: &[f32],
    total_frames: usize,
    n_mels: usize,
    config: &SegmentConfig,
) -> Result<(Vec<f32>, usize)> {
    config.validate()?;
    if n_mels != config.n_mels {
        return Err(Error::shape(
            "segment_frames",
            format!(
                "spectrogram has {n_mels} mel bands, segments want {}",
                config.n_mels
            ),
        ));
    }
    if data.len() != total_frames * n_mels {
        return Err(Error::shape(
            "segment_frames",
            format!(
                "{} values are not {total_frames} frames × {n_mels} bands",
                data.len()
            ),
        ));
    }
    let limit = config.max_segments.unwrap_or(usize::MAX);
    let seg_len = config.segment_len();
    let floor = data.iter().copied().fold(f32::INFINITY, f32::min);
    let mut out = Vec::new();
    let mut count = 0;
    while count < limit {
        let start = count * config.hop;
        let real = total_frames.saturating_sub(start).min(config.frames);
        if real == config.frames {
            out.extend_from_slice(&data[start * n_mels..(start + config.frames) * n_mels]);
            count += 1;
            continue;
        }
        // A partial segment: keep it (padded) only if enough of it is real; stop either way.
        if real > 0 && real >= config.min_track_frames() {
            let real_part = &data[start * n_mels..(start + real) * n_mels];
            out.extend_from_slice(real_part);
            let mut filled = real_part.len();
            while filled < seg_len {
                let take = (seg_len - filled).min(real_part.len());
                match config.pad {
                    SegmentPad::Repeat => out.extend_from_slice(&real_part[..take]),
                    SegmentPad::Silence => out.resize(out.len() + take, floor),
                }
                filled += take;
            }
            count += 1;
        }
        break;
    }
    if count == 0 {
        return Err(Error::invalid(format!(
            "track too short: {total_frames} frames, a segment needs at least {} of {}",
            config.min_track_frames(),
            config.frames
        )));
    }
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spectrogram whose every value encodes its frame index, so segments can be traced.
    fn ramp(frames: usize, n_mels: usize) -> Vec<f32> {
        (0..frames * n_mels).map(|i| (i / n_mels) as f32).collect()
    }

    #[test]
    fn full_track_gives_15_reference_segments() {
        let cfg = SegmentConfig::default();
        let data = ramp(1292, 80);
        let (segs, count) = segment_frames(&data, 1292, 80, &cfg).unwrap();
        assert_eq!(count, 15);
        assert_eq!(segs.len(), 15 * 80 * 80);
        for k in 0..15 {
            let seg = &segs[k * 6400..(k + 1) * 6400];
            // Segment k = frames 80k … 80k+79, time-major.
            assert_eq!(seg[0], (80 * k) as f32);
            assert_eq!(seg[79 * 80 + 79], (80 * k + 79) as f32);
        }
    }

    #[test]
    fn unlimited_count_and_overlapping_hop() {
        let cfg = SegmentConfig {
            max_segments: None,
            hop: 40,
            ..SegmentConfig::default()
        };
        // 200 frames: full segments start at 0, 40, 80, 120; the one at 160 has 40 real
        // frames = 50 % ≥ min_real_fraction → padded; nothing after it.
        let (segs, count) = segment_frames(&ramp(200, 80), 200, 80, &cfg).unwrap();
        assert_eq!(count, 5);
        assert_eq!(segs[4 * 6400], 160.0);
    }

    #[test]
    fn short_track_pads_by_repeating_when_mostly_real() {
        let cfg = SegmentConfig::default();
        // 130 frames: one full segment, then 50 real frames (62.5 %) → padded by repetition.
        let (segs, count) = segment_frames(&ramp(130, 80), 130, 80, &cfg).unwrap();
        assert_eq!(count, 2);
        let last = &segs[6400..];
        assert_eq!(last[0], 80.0);
        assert_eq!(last[49 * 80], 129.0);
        assert_eq!(last[50 * 80], 80.0, "padding loops the real frames");
        assert_eq!(last[79 * 80], 109.0);
    }

    #[test]
    fn short_track_pads_with_silence_floor() {
        let cfg = SegmentConfig {
            pad: SegmentPad::Silence,
            ..SegmentConfig::default()
        };
        let mut data = ramp(130, 80);
        data[5] = -80.0; // the track's floor
        let (segs, count) = segment_frames(&data, 130, 80, &cfg).unwrap();
        assert_eq!(count, 2);
        assert!(segs[6400 + 50 * 80..].iter().all(|&v| v == -80.0));
        assert_eq!(segs[6400 + 49 * 80], 129.0);
    }

    #[test]
    fn mostly_missing_last_segment_is_dropped() {
        let cfg = SegmentConfig::default();
        // 110 frames: the second segment would be 30/80 = 37.5 % real → dropped.
        let (_, count) = segment_frames(&ramp(110, 80), 110, 80, &cfg).unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn too_short_track_is_an_error_not_a_zero_segment() {
        let cfg = SegmentConfig::default();
        let err = segment_frames(&ramp(39, 80), 39, 80, &cfg).unwrap_err();
        assert!(err.to_string().contains("too short"), "{err}");
        // Exactly the threshold (40 of 80 frames) gives one padded segment.
        assert_eq!(segment_frames(&ramp(40, 80), 40, 80, &cfg).unwrap().1, 1);
    }

    #[test]
    fn mismatched_sizes_are_errors() {
        let cfg = SegmentConfig::default();
        assert!(segment_frames(&ramp(100, 64), 100, 64, &cfg).is_err());
        assert!(segment_frames(&[0.0; 10], 100, 80, &cfg).is_err());
        let bad = SegmentConfig {
            hop: 0,
            ..SegmentConfig::default()
        };
        assert!(segment_frames(&ramp(100, 80), 100, 80, &bad).is_err());
    }
}
