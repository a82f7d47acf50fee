//! Waveform augmentations: gain, additive noise at an SNR, time shift, time stretch
//! (WSOLA) and pitch shift (WSOLA stretch + windowed-sinc resampling).
//!
//! Time stretch uses WSOLA (waveform-similarity overlap-add, Verhelst & Roelands 1993):
//! Hann-windowed frames of `N = 1024` samples are overlap-added every `Hs = N/2` output
//! samples, read from the input every `Ha = rate · Hs` samples. Each frame's read position
//! may move by up to ±`N/4` to the spot whose waveform best continues the previous frame
//! (largest cross-correlation with the input just after the previous frame), so
//! periodicities, and hence pitch, are kept while duration changes by `1/rate`. Pitch
//! shift by `s` semitones is a stretch to `r = 2^(s/12)` times the duration followed by
//! resampling by `r` (every frequency × r, duration back to the original).

use crate::{Error, Result};
use rand::{Rng, RngExt};

/// Multiplies by `10^(db/20)`.
pub fn apply_gain(samples: &mut [f32], db: f32) {
    let g = 10f32.powf(db / 20.0);
    samples.iter_mut().for_each(|s| *s *= g);
}

/// A gain drawn uniformly from `[-max_db, max_db]`; returns it.
pub fn random_gain(samples: &mut [f32], max_db: f32, rng: &mut impl Rng) -> f32 {
    let db = if max_db > 0.0 {
        rng.random_range(-max_db..=max_db)
    } else {
        0.0
    };
    apply_gain(samples, db);
    db
}

/// A standard normal sample (Box–Muller).
pub(crate) fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn mean_power(samples: &[f32]) -> f64 {
    samples
        .iter()
        .map(|&s| (s as f64) * (s as f64))
        .sum::<f64>()
        / samples.len().max(1) as f64
}

/// Adds white Gaussian noise with power `P_signal / 10^(snr_db/10)`.
pub fn add_noise(samples: &mut [f32], snr_db: f32, rng: &mut impl Rng) -> Result<()> {
    let power = mean_power(samples);
    if !snr_db.is_finite() {
        return Err(Error::invalid(format!(
            "add_noise: SNR must be finite, got {snr_db}"
        )));
    }
    if power == 0.0 {
        return Err(Error::invalid(
            "add_noise: the signal is silent, an SNR is undefined",
        ));
    }
    let std = (power / 10f64.powf(snr_db as f64 / 10.0)).sqrt();
    samples
        .iter_mut()
        .for_each(|s| *s += (std * standard_normal(rng)) as f32);
    Ok(())
}

/// How [`time_shift`] fills what moves out of the signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftMode {
    /// Samples leaving one end re-enter at the other.
    Circular,
    /// The vacated part is silence.
    Zeros,
}

/// Delays by `shift` samples (negative = earlier); the length is kept.
pub fn time_shift(samples: &[f32], shift: isize, mode: ShiftMode) -> Vec<f32> {
    let n = samples.len();
    if n == 0 {
        return Vec::new();
    }
    match mode {
        ShiftMode::Circular => {
            let k = shift.rem_euclid(n as isize) as usize;
            let mut out = Vec::with_capacity(n);
            out.extend_from_slice(&samples[n - k..]);
            out.extend_from_slice(&samples[..n - k]);
            out
        }
        ShiftMode::Zeros => {
            let mut out = vec![0.0; n];
            let k = shift.unsigned_abs().min(n);
            if shift >= 0 {
                out[k..].copy_from_slice(&samples[..n - k]);
            } else {
                out[..n - k].copy_from_slice(&samples[k..]);
            }
            out
        }
    }
}

/// A shift drawn uniformly from `[-max_shift, max_shift]`.
pub fn random_time_shift(
    samples: &[f32],
    max_shift: usize,
    mode: ShiftMode,
    rng: &mut impl Rng,
) -> Vec<f32> {
    let m = max_shift as i64;
    time_shift(samples, rng.random_range(-m..=m) as isize, mode)
}

const FRAME: usize = 1024;
const SYNTH_HOP: usize = FRAME / 2;
const TOLERANCE: isize = (FRAME / 4) as isize;

/// Changes duration by `1/rate` (rate 2 = twice as fast, half as long) keeping pitch (WSOLA).
/// The output has `round(len / rate)` samples.
pub fn time_stretch(samples: &[f32], rate: f64) -> Result<Vec<f32>> {
    if !(rate.is_finite() && (0.1..=10.0).contains(&rate)) {
        return Err(Error::invalid(format!(
            "time_stretch: rate must be in [0.1, 10], got {rate}"
        )));
    }
    let out_len = (samples.len() as f64 / rate).round() as usize;
    if samples.is_empty() || out_len == 0 {
        return Ok(vec![0.0; out_len]);
    }
    // Periodic Hann: shifted copies every N/2 sum to exactly 1.
    let window: Vec<f32> = (0..FRAME)
        .map(|j| (0.5 - 0.5 * (std::f64::consts::TAU * j as f64 / FRAME as f64).cos()) as f32)
        .collect();
    let half = (FRAME / 2) as isize;
    let at = |i: isize| {
        if i >= 0 && (i as usize) < samples.len() {
            samples[i as usize]
        } else {
            0.0
        }
    };
    // Similarity of the input at `a` and at `b` over the overlap region (every 2nd sample).
    let similarity = |a: isize, b: isize| -> f32 {
        (0..SYNTH_HOP as isize)
            .step_by(2)
            .map(|j| at(a + j) * at(b + j))
            .sum()
    };

    let mut out = vec![0f32; out_len + FRAME];
    let frames = out_len / SYNTH_HOP + 2;
    let mut prev: isize = -half;
    for m in 0..frames {
        let nominal = (m as f64 * SYNTH_HOP as f64 * rate).round() as isize - half;
        let pos = if m == 0 {
            nominal
        } else {
            // The input right after the previous frame's overlap is what should come next.
            let target = prev + SYNTH_HOP as isize;
            let best = |range: &mut dyn Iterator<Item = isize>| {
                range
                    .map(|d| (d, similarity(target, nominal + d)))
                    .fold((0, f32::NEG_INFINITY), |b, c| if c.1 > b.1 { c } else { b })
                    .0
            };
            // Coarse search every 4 samples, then refine ±3 around the best.
            let coarse = best(&mut (-TOLERANCE..=TOLERANCE).step_by(4));
            nominal + best(&mut (coarse - 3..=coarse + 3).filter(|d| d.abs() <= TOLERANCE))
        };
        // Output frame m covers [m·Hs − N/2, m·Hs + N/2); shifted by N/2 in `out`.
        let base = m * SYNTH_HOP;
        for (j, &w) in window.iter().enumerate() {
            if let Some(o) = out.get_mut(base + j) {
                *o += w * at(pos + j as isize);
            }
        }
        prev = pos;
    }
    out.drain(..FRAME / 2);
    out.truncate(out_len);
    Ok(out)
}

/// Resamples by reading the signal every `step` input samples (`out[i] = x(i·step)`),
/// interpolating with a Hann-windowed sinc whose cutoff is lowered to `1/step` of Nyquist
/// when `step > 1` (anti-aliasing).
pub fn resample_by(samples: &[f32], step: f64, out_len: usize) -> Result<Vec<f32>> {
    if !(step.is_finite() && step > 0.0) {
        return Err(Error::invalid(format!(
            "resample_by: step must be positive, got {step}"
        )));
    }
    const ZERO_CROSSINGS: f64 = 8.0;
    let cutoff = (1.0 / step).min(1.0);
    let radius = ZERO_CROSSINGS / cutoff;
    let n = samples.len() as isize;
    let out = (0..out_len)
        .map(|i| {
            let t = i as f64 * step;
            let (lo, hi) = ((t - radius).ceil() as isize, (t + radius).floor() as isize);
            let mut acc = 0.0;
            for k in lo.max(0)..=hi.min(n - 1) {
                let x = (k as f64 - t) * cutoff;
                let sinc = if x.abs() < 1e-9 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let win = 0.5 + 0.5 * (std::f64::consts::PI * x / ZERO_CROSSINGS).cos();
                acc += samples[k as usize] as f64 * sinc * win;
            }
            (acc * cutoff) as f32
        })
        .collect();
    Ok(out)
}

/// Shifts pitch by `semitones` keeping the duration (same length out as in).
pub fn pitch_shift(samples: &[f32], semitones: f64) -> Result<Vec<f32>> {
    if !(semitones.is_finite() && semitones.abs() <= 24.0) {
        return Err(Error::invalid(format!(
            "pitch_shift: semitones must be in [-24, 24], got {semitones}"
        )));
    }
    let ratio = 2f64.powf(semitones / 12.0);
    let longer = time_stretch(samples, 1.0 / ratio)?;
    resample_by(&longer, ratio, samples.len())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    pub(crate) fn sine(freq: f64, seconds: f64, rate: f64) -> Vec<f32> {
        (0..(seconds * rate) as usize)
            .map(|i| (0.5 * (std::f64::consts::TAU * freq * i as f64 / rate).sin()) as f32)
            .collect()
    }

    /// The frequency (0.25 Hz grid within `lo..hi`) with the largest Hann-windowed DTFT
    /// magnitude over the middle 8192 samples.
    pub(crate) fn dominant_frequency(x: &[f32], rate: f64, lo: f64, hi: f64) -> f64 {
        let n = 8192.min(x.len());
        let start = (x.len() - n) / 2;
        let chunk: Vec<f64> = (0..n)
            .map(|i| {
                x[start + i] as f64
                    * (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos())
            })
            .collect();
        let magnitude = |f: f64| {
            let w = std::f64::consts::TAU * f / rate;
            let (re, im) = chunk
                .iter()
                .enumerate()
                .fold((0.0, 0.0), |(re, im), (i, &v)| {
                    (re + v * (w * i as f64).cos(), im - v * (w * i as f64).sin())
                });
            re * re + im * im
        };
        let steps = ((hi - lo) / 0.25) as usize;
        (0..=steps)
            .map(|k| lo + 0.25 * k as f64)
            .max_by(|&a, &b| magnitude(a).total_cmp(&magnitude(b)))
            .unwrap()
    }

    #[test]
    fn gain_scales_energy() {
        let mut x = sine(440.0, 0.1, 22050.0);
        let before = mean_power(&x);
        apply_gain(&mut x, 6.0);
        assert!((mean_power(&x) / before - 10f64.powf(0.6)).abs() < 1e-3);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let db = random_gain(&mut x, 3.0, &mut rng);
        assert!(db.abs() <= 3.0);
    }

    #[test]
    fn noise_hits_the_snr_and_is_seeded() {
        let clean = sine(440.0, 2.0, 22050.0);
        for snr in [0.0f32, 10.0, 20.0] {
            let mut noisy = clean.clone();
            add_noise(&mut noisy, snr, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
            let noise: Vec<f32> = noisy.iter().zip(&clean).map(|(a, b)| a - b).collect();
            let measured = 10.0 * (mean_power(&clean) / mean_power(&noise)).log10();
            assert!(
                (measured - snr as f64).abs() < 0.2,
                "target {snr}, measured {measured}"
            );
        }
        let run = |seed| {
            let mut x = clean.clone();
            add_noise(&mut x, 10.0, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
            x
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
        assert!(add_noise(&mut [0.0; 10], 10.0, &mut ChaCha8Rng::seed_from_u64(0)).is_err());
    }

    #[test]
    fn time_shift_modes() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(
            time_shift(&x, 2, ShiftMode::Circular),
            vec![4.0, 5.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(
            time_shift(&x, -1, ShiftMode::Circular),
            vec![2.0, 3.0, 4.0, 5.0, 1.0]
        );
        assert_eq!(
            time_shift(&x, 2, ShiftMode::Zeros),
            vec![0.0, 0.0, 1.0, 2.0, 3.0]
        );
        assert_eq!(
            time_shift(&x, -2, ShiftMode::Zeros),
            vec![3.0, 4.0, 5.0, 0.0, 0.0]
        );
        assert_eq!(time_shift(&x, 9, ShiftMode::Zeros), vec![0.0; 5]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let shifted = random_time_shift(&x, 2, ShiftMode::Circular, &mut rng);
        assert_eq!(
            shifted.iter().sum::<f32>(),
            15.0,
            "circular shift keeps every sample"
        );
    }

    #[test]
    fn time_stretch_keeps_pitch_and_scales_duration() {
        let rate_hz = 22050.0;
        let x = sine(440.0, 2.0, rate_hz);
        for rate in [0.8, 1.25, 1.5] {
            let y = time_stretch(&x, rate).unwrap();
            assert_eq!(y.len(), (x.len() as f64 / rate).round() as usize);
            let f = dominant_frequency(&y, rate_hz, 400.0, 480.0);
            assert!((f - 440.0).abs() < 2.0, "rate {rate}: dominant {f} Hz");
            let (px, py) = (mean_power(&x), mean_power(&y[2048..y.len() - 2048]));
            assert!(
                (py / px - 1.0).abs() < 0.1,
                "rate {rate}: power ratio {}",
                py / px
            );
        }
        assert!(time_stretch(&x, 0.0).is_err());
        assert!(time_stretch(&x, f64::NAN).is_err());
    }

    #[test]
    fn pitch_shift_changes_pitch_keeps_duration() {
        let rate_hz = 22050.0;
        let x = sine(440.0, 2.0, rate_hz);
        for semitones in [12.0, -5.0, 3.0] {
            let y = pitch_shift(&x, semitones).unwrap();
            assert_eq!(y.len(), x.len());
            let expect = 440.0 * 2f64.powf(semitones / 12.0);
            let f = dominant_frequency(&y, rate_hz, expect * 0.8, expect * 1.2);
            assert!(
                (f / expect - 1.0).abs() < 0.005,
                "{semitones} st: {f} Hz, want {expect}"
            );
        }
        assert_eq!(pitch_shift(&x, 2.0).unwrap(), pitch_shift(&x, 2.0).unwrap());
        assert!(pitch_shift(&x, 100.0).is_err());
    }

    #[test]
    fn resample_preserves_a_band_limited_tone() {
        let x = sine(1000.0, 0.5, 22050.0);
        let y = resample_by(&x, 0.5, x.len() * 2).unwrap(); // upsample ×2: 1000 Hz at 44100
        let f = dominant_frequency(&y, 44100.0, 900.0, 1100.0);
        assert!((f - 1000.0).abs() < 1.0, "{f}");
        assert!(resample_by(&x, 0.0, 10).is_err());
    }
}
