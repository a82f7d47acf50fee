//! Short-time Fourier transform → mel power → decibels, matching librosa 0.11.
//!
//! For frame `t` (hop `h`, FFT size `N`, periodic Hann window `w[n] = ½ − ½cos(2πn/N)`):
//! `X_t[k] = Σ_n w[n] x[th + n − N/2] e^{−2πikn/N}` with the signal zero-padded by `N/2` on each
//! side when `center` (librosa's `pad_mode="constant"`), power `P_t[k] = |X_t[k]|^power`,
//! mel energies `M_t[m] = Σ_k W[m,k] P_t[k]`, and
//! `dB = 10 log10(max(M, amin)) − 10 log10(max(ref, amin))`, floored at `max(dB) − top_db`.
//! Everything is computed in f64 and rounded to f32 once at the end.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use super::mel::{mel_filterbank, MelNorm, MelScale};
use crate::{Error, Result};

/// How `center` pads the signal by `n_fft/2` on each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PadMode {
    /// Zeros: librosa ≥ 0.10's default.
    #[default]
    Constant,
    /// Mirror without repeating the edge sample (numpy `reflect`, librosa < 0.10).
    Reflect,
}

/// Every knob of the log-mel. `Default` is librosa's `melspectrogram(sr=22050, n_fft=1024,
/// hop_length=512, n_mels=80, power=2)` + `power_to_db(ref=np.max, top_db=80)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    /// Hann window length, centred in the `n_fft` frame; `None` = `n_fft`.
    pub win_length: Option<usize>,
    pub hop_length: usize,
    pub n_mels: usize,
    pub fmin: f64,
    /// `None` = `sample_rate / 2`.
    pub fmax: Option<f64>,
    /// Exponent of the magnitude: 2 = power, 1 = magnitude.
    pub power: f64,
    pub center: bool,
    pub pad_mode: PadMode,
    pub mel_scale: MelScale,
    pub mel_norm: MelNorm,
    /// Floor of the power before the logarithm.
    pub amin: f64,
    /// Clip to `max − top_db` dB; `None` = no clipping.
    pub top_db: Option<f64>,
    /// Reference power: the spectrogram's maximum (`true`, 0 dB at the peak) or 1.0.
    pub ref_max: bool,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            sample_rate: 22050,
            n_fft: 1024,
            win_length: None,
            hop_length: 512,
            n_mels: 80,
            fmin: 0.0,
            fmax: None,
            power: 2.0,
            center: true,
            pad_mode: PadMode::Constant,
            mel_scale: MelScale::Slaney,
            mel_norm: MelNorm::Slaney,
            amin: 1e-10,
            top_db: Some(80.0),
            ref_max: true,
        }
    }
}

impl MelConfig {
    pub fn fmax_hz(&self) -> f64 {
        self.fmax.unwrap_or(self.sample_rate as f64 / 2.0)
    }

    /// Number of frames `log_mel` produces for `len` samples (0 when too short, uncentred).
    pub fn frames_for(&self, len: usize) -> usize {
        let padded = if self.center {
            len + 2 * (self.n_fft / 2)
        } else {
            len
        };
        if padded < self.n_fft || self.hop_length == 0 {
            0
        } else {
            1 + (padded - self.n_fft) / self.hop_length
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::invalid(format!("MelConfig: {what}")));
        if self.n_fft < 2 {
            return bad(format!("n_fft must be ≥ 2, got {}", self.n_fft));
        }
        if self.hop_length == 0 {
            return bad("hop_length must be > 0".into());
        }
        let win = self.win_length.unwrap_or(self.n_fft);
        if win == 0 || win > self.n_fft {
            return bad(format!("win_length {win} must be in 1..={}", self.n_fft));
        }
        if !(self.power.is_finite() && self.power > 0.0) {
            return bad(format!("power must be finite and > 0, got {}", self.power));
        }
        if !(self.amin.is_finite() && self.amin > 0.0) {
            return bad(format!("amin must be finite and > 0, got {}", self.amin));
        }
        if let Some(top_db) = self.top_db {
            if !(top_db.is_finite() && top_db >= 0.0) {
                return bad(format!("top_db must be finite and ≥ 0, got {top_db}"));
            }
        }
        Ok(())
    }
}

/// A log-mel spectrogram, time-major: `data[t * n_mels + m]` is mel band `m` of frame `t`, in dB.
#[derive(Clone, Debug, PartialEq)]
pub struct LogMel {
    pub frames: usize,
    pub n_mels: usize,
    pub data: Vec<f32>,
}

impl LogMel {
    /// The `n_mels` values of frame `t`.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * self.n_mels..(t + 1) * self.n_mels]
    }

    /// Frames `start .. start + len` as a new spectrogram.
    pub fn segment(&self, start: usize, len: usize) -> Result<LogMel> {
        match start.checked_add(len) {
            Some(end) if end <= self.frames => Ok(LogMel {
                frames: len,
                n_mels: self.n_mels,
                data: self.data[start * self.n_mels..end * self.n_mels].to_vec(),
            }),
            _ => Err(Error::invalid(format!(
                "LogMel::segment: frames {start}..{start}+{len} out of 0..{}",
                self.frames
            ))),
        }
    }
}

/// One mel filter: its first non-zero FFT bin and its non-zero weights.
struct Filter {
    start: usize,
    weights: Vec<f64>,
}

/// Caches the FFT plan, the window and the filterbank for repeated extraction.
/// `Send + Sync`: share one across rayon workers.
pub struct MelExtractor {
    cfg: MelConfig,
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    filterbank: Vec<f64>,
    filters: Vec<Filter>,
}

impl MelExtractor {
    pub fn new(cfg: &MelConfig) -> Result<Self> {
        cfg.validate()?;
        let n_fft = cfg.n_fft;
        let bins = n_fft / 2 + 1;
        let filterbank = mel_filterbank(
            cfg.sample_rate,
            n_fft,
            cfg.n_mels,
            cfg.fmin,
            cfg.fmax_hz(),
            cfg.mel_scale,
            cfg.mel_norm,
        )?;
        let filters = filterbank
            .chunks_exact(bins)
            .map(|row| {
                let start = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w != 0.0).map_or(start, |e| e + 1);
                Filter {
                    start,
                    weights: row[start..end].to_vec(),
                }
            })
            .collect();
        // Periodic Hann of win_length, centred in the n_fft frame (librosa `pad_center`).
        let win = cfg.win_length.unwrap_or(n_fft);
        let offset = (n_fft - win) / 2;
        let mut window = vec![0.0; n_fft];
        for (n, w) in window[offset..offset + win].iter_mut().enumerate() {
            *w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / win as f64).cos();
        }
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n_fft);
        Ok(MelExtractor {
            cfg: cfg.clone(),
            fft,
            window,
            filterbank,
            filters,
        })
    }

    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    /// The dense filterbank, `n_mels × (n_fft/2 + 1)` row-major.
    pub fn filterbank(&self) -> &[f64] {
        &self.filterbank
    }

    /// Mel power (before decibels), time-major `frames × n_mels`. Returns `(frames, data)`.
    pub fn mel_power(&self, samples: &[f32]) -> Result<(usize, Vec<f64>)> {
        let cfg = &self.cfg;
        if samples.is_empty() {
            return Err(Error::invalid("log-mel of zero-length audio"));
        }
        if let Some(i) = samples.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite(format!(
                "log-mel input sample {i} is {}",
                samples[i]
            )));
        }
        let frames = cfg.frames_for(samples.len());
        if frames == 0 {
            return Err(Error::invalid(format!(
                "log-mel: {} samples are fewer than n_fft = {} (center = false)",
                samples.len(),
                cfg.n_fft
            )));
        }
        let signal = self.padded(samples)?;
        let n_mels = cfg.n_mels;
        let mut out = vec![0.0; frames * n_mels];
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0; spectrum.len()];
        for (t, mel) in out.chunks_exact_mut(n_mels).enumerate() {
            let start = t * cfg.hop_length;
            let src = &signal[start..start + cfg.n_fft];
            for ((f, &x), &w) in frame.iter_mut().zip(src).zip(&self.window) {
                *f = x * w;
            }
            self.fft
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .map_err(|e| Error::invalid(format!("FFT failed: {e}")))?;
            spectrum_power(&spectrum, cfg.power, &mut power);
            for (m, filter) in mel.iter_mut().zip(&self.filters) {
                let bins = &power[filter.start..filter.start + filter.weights.len()];
                *m = filter.weights.iter().zip(bins).map(|(w, p)| w * p).sum();
            }
        }
        Ok((frames, out))
    }

    /// The log-mel spectrogram in dB.
    pub fn log_mel(&self, samples: &[f32]) -> Result<LogMel> {
        let (frames, power) = self.mel_power(samples)?;
        Ok(LogMel {
            frames,
            n_mels: self.cfg.n_mels,
            data: power_to_db(&power, &self.cfg),
        })
    }

    /// The signal in f64, padded by `n_fft/2` on each side when centred.
    fn padded(&self, samples: &[f32]) -> Result<Vec<f64>> {
        let pad = if self.cfg.center {
            self.cfg.n_fft / 2
        } else {
            0
        };
        let mut signal = Vec::with_capacity(samples.len() + 2 * pad);
        match self.cfg.pad_mode {
            PadMode::Constant => {
                signal.resize(pad, 0.0);
                signal.extend(samples.iter().map(|&x| x as f64));
                signal.resize(samples.len() + 2 * pad, 0.0);
            }
            PadMode::Reflect => {
                if pad > 0 && samples.len() <= pad {
                    return Err(Error::invalid(format!(
                        "reflect padding by {pad} needs more than {pad} samples, got {}",
                        samples.len()
                    )));
                }
                let n = samples.len();
                signal.extend((1..=pad).rev().map(|j| samples[j] as f64));
                signal.extend(samples.iter().map(|&x| x as f64));
                signal.extend((1..=pad).map(|j| samples[n - 1 - j] as f64));
            }
        }
        Ok(signal)
    }
}

fn spectrum_power(spectrum: &[Complex<f64>], exponent: f64, power: &mut [f64]) {
    let squared = spectrum.iter().map(|c| c.re * c.re + c.im * c.im);
    if exponent == 2.0 {
        power.iter_mut().zip(squared).for_each(|(p, s)| *p = s);
    } else {
        let half = exponent / 2.0;
        power
            .iter_mut()
            .zip(squared)
            .for_each(|(p, s)| *p = s.powf(half));
    }
}

/// librosa's `power_to_db`: `10 log10(max(S, amin)) − 10 log10(max(ref, amin))`, with `ref` the
/// maximum of `power` (or 1), then floored at `max − top_db`.
pub fn power_to_db(power: &[f64], cfg: &MelConfig) -> Vec<f32> {
    let reference = if cfg.ref_max {
        power.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    } else {
        1.0
    };
    let offset = 10.0 * reference.max(cfg.amin).log10();
    let mut db: Vec<f64> = power
        .iter()
        .map(|&s| 10.0 * s.max(cfg.amin).log10() - offset)
        .collect();
    if let Some(top_db) = cfg.top_db {
        let floor = db.iter().copied().fold(f64::NEG_INFINITY, f64::max) - top_db;
        db.iter_mut().for_each(|d| *d = d.max(floor));
    }
    db.into_iter().map(|d| d as f32).collect()
}

/// One-shot log-mel of mono `samples` (builds a [`MelExtractor`]; keep one for repeated use).
pub fn log_mel(samples: &[f32], cfg: &MelConfig) -> Result<LogMel> {
    MelExtractor::new(cfg)?.log_mel(samples)
}
