//! Sample-rate conversion with rubato's synchronous FFT resampler.
//!
//! The rate ratio is fixed (`to/gcd : from/gcd`), so the band-limited (windowed-sinc) filter is
//! applied exactly by FFT convolution. Measured against ideal tones it is aligned to the sample and
//! accurate to ~1e-6 (44.1→22.05, 22.05→44.1, 48→22.05, 16→22.05 kHz); rubato's asynchronous sinc
//! resampler left a 0.2–1 sample time shift after its delay trimming, so it is not used.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::{Error, Result};

/// Resample mono `samples` from `from` Hz to `to` Hz. Identity (a copy) when the rates match.
///
/// The output has `ceil(len · to / from)` samples, aligned with the input (rubato trims the
/// filter delay); content above the lower Nyquist frequency is filtered out, not aliased.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == 0 || to == 0 {
        return Err(Error::invalid(format!(
            "resample: sample rates must be positive (from {from} Hz to {to} Hz)"
        )));
    }
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let fail = |e: &dyn std::fmt::Display| {
        Error::invalid(format!("resample {from} Hz → {to} Hz failed: {e}"))
    };
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| fail(&e))?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| fail(&e))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| fail(&e))?;
    Ok(output.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (rate as f64 * seconds) as usize;
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin() as f32)
            .collect()
    }

    #[test]
    fn identity_when_rates_match() {
        let x = tone(440.0, 22050, 0.1);
        assert_eq!(resample(&x, 22050, 22050).unwrap(), x);
    }

    #[test]
    fn zero_rate_is_an_error() {
        assert!(resample(&[0.0; 10], 0, 22050).is_err());
        assert!(resample(&[0.0; 10], 22050, 0).is_err());
    }

    #[test]
    fn downsampled_tone_matches_the_ideal_tone() {
        // 44.1 kHz → 22.05 kHz of a 1 kHz sine must equal the 22.05 kHz sine away from edges.
        let x = tone(1000.0, 44100, 0.5);
        let y = resample(&x, 44100, 22050).unwrap();
        let expected = tone(1000.0, 22050, 0.5);
        assert_eq!(y.len(), expected.len());
        let err = y[500..y.len() - 500]
            .iter()
            .zip(&expected[500..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "max error {err}");
    }

    #[test]
    fn content_above_the_new_nyquist_is_removed() {
        // 15 kHz cannot exist at 22.05 kHz: it must be filtered, not aliased to 7.05 kHz.
        let x = tone(15000.0, 44100, 0.5);
        let y = resample(&x, 44100, 22050).unwrap();
        let rms = (y[500..y.len() - 500].iter().map(|v| v * v).sum::<f32>()
            / (y.len() - 1000) as f32)
            .sqrt();
        assert!(rms < 1e-3, "alias rms {rms}");
    }
}
