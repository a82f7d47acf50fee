//! Mel scale and the triangular mel filterbank, as librosa's `filters.mel`.
//!
//! Slaney scale (librosa's default, `htk=False`): linear below 1 kHz, `m = 3f/200`, and
//! logarithmic above, `m = 15 + ln(f/1000) / (ln 6.4 / 27)`. HTK scale: `m = 2595 log10(1 + f/700)`.
//! Filter `i` is a triangle rising from mel point `i` to `i+1` and falling to `i+2`
//! (`n_mels + 2` points evenly spaced in mel between fmin and fmax); Slaney normalisation
//! scales it by `2 / (f[i+2] - f[i])` so each filter has unit area in Hz.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MelScale {
    #[default]
    Slaney,
    Htk,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MelNorm {
    /// Unit area per filter (librosa `norm='slaney'`).
    #[default]
    Slaney,
    /// Peak 1 per filter (librosa `norm=None`).
    None,
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

pub fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + hz / 700.0).log10(),
        MelScale::Slaney if hz >= MIN_LOG_HZ => MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step(),
        MelScale::Slaney => hz / F_SP,
    }
}

pub fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney if mel >= MIN_LOG_MEL => {
            MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
        }
        MelScale::Slaney => F_SP * mel,
    }
}

/// `n` frequencies (Hz) evenly spaced in mel from `fmin` to `fmax` (librosa `mel_frequencies`).
pub fn mel_frequencies(n: usize, fmin: f64, fmax: f64, scale: MelScale) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(fmin, scale), hz_to_mel(fmax, scale));
    let step = if n > 1 {
        (hi - lo) / (n - 1) as f64
    } else {
        0.0
    };
    (0..n)
        .map(|i| mel_to_hz(lo + step * i as f64, scale))
        .collect()
}

/// The mel filterbank, `n_mels × (n_fft/2 + 1)` row-major, in f64.
pub fn mel_filterbank(
    sample_rate: u32,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: f64,
    scale: MelScale,
    norm: MelNorm,
) -> Result<Vec<f64>> {
    let nyquist = sample_rate as f64 / 2.0;
    if sample_rate == 0 || n_fft < 2 || n_mels == 0 {
        return Err(Error::invalid(format!(
            "mel filterbank: need sample_rate > 0, n_fft ≥ 2, n_mels > 0 (got {sample_rate}, {n_fft}, {n_mels})"
        )));
    }
    if !(fmin.is_finite() && fmax.is_finite() && 0.0 <= fmin && fmin < fmax && fmax <= nyquist) {
        return Err(Error::invalid(format!(
            "mel filterbank: need 0 ≤ fmin < fmax ≤ {nyquist} Hz (got fmin {fmin}, fmax {fmax})"
        )));
    }
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|k| k as f64 * sample_rate as f64 / n_fft as f64)
        .collect();
    let points = mel_frequencies(n_mels + 2, fmin, fmax, scale);
    let mut weights = vec![0.0; n_mels * bins];
    for (i, row) in weights.chunks_exact_mut(bins).enumerate() {
        let (left, centre, right) = (points[i], points[i + 1], points[i + 2]);
        let scale = match norm {
            MelNorm::Slaney => 2.0 / (right - left),
            MelNorm::None => 1.0,
        };
        for (w, &f) in row.iter_mut().zip(&fft_freqs) {
            // Same operation order as librosa: -(left - f)/(centre - left), (right - f)/(right - centre).
            let rising = -(left - f) / (centre - left);
            let falling = (right - f) / (right - centre);
            *w = rising.min(falling).max(0.0) * scale;
        }
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_is_continuous_at_1khz() {
        for &hz in &[0.0, 123.4, 999.9, 1000.0, 4321.0, 11025.0] {
            let back = mel_to_hz(hz_to_mel(hz, MelScale::Slaney), MelScale::Slaney);
            assert!((back - hz).abs() < 1e-9 * hz.max(1.0));
            let back = mel_to_hz(hz_to_mel(hz, MelScale::Htk), MelScale::Htk);
            assert!((back - hz).abs() < 1e-9 * hz.max(1.0));
        }
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn slaney_filters_have_unit_area_in_hz() {
        // Triangles of height 2/(right-left) and base (right-left): area 1, sampled coarsely
        // by the FFT bins, so check on a fine grid (large n_fft) away from the lowest filters.
        let (sr, n_fft, n_mels) = (22050, 1 << 16, 40);
        let fb = mel_filterbank(
            sr,
            n_fft,
            n_mels,
            0.0,
            11025.0,
            MelScale::Slaney,
            MelNorm::Slaney,
        )
        .unwrap();
        let df = sr as f64 / n_fft as f64;
        for row in fb.chunks_exact(n_fft / 2 + 1) {
            let area: f64 = row.iter().sum::<f64>() * df;
            assert!((area - 1.0).abs() < 1e-3, "area {area}");
        }
    }

    #[test]
    fn bad_ranges_are_errors() {
        let mk = |fmin, fmax| {
            mel_filterbank(
                22050,
                1024,
                80,
                fmin,
                fmax,
                MelScale::Slaney,
                MelNorm::Slaney,
            )
        };
        assert!(mk(0.0, 20000.0).is_err());
        assert!(mk(5000.0, 100.0).is_err());
        assert!(mk(f64::NAN, 100.0).is_err());
        assert!(mel_filterbank(0, 1024, 80, 0.0, 0.0, MelScale::Slaney, MelNorm::Slaney).is_err());
    }
}
