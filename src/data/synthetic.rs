//! A licence-free, download-free labelled dataset: procedural "songs" in a few styles.
//!
//! Each style has its own tempo range, drum pattern (kick/snare/hat placement), timbre
//! (harmonic content, distortion, noise) and pitch range; every song draws its own tempo,
//! key, note sequence, pattern variations, level and noise, so songs of one style differ
//! and the classes overlap somewhat (tempo ranges touch, noise blurs timbre).
//!
//! | style     | tempo (bpm) | rhythm                                   | timbre / pitch                          |
//! |-----------|-------------|------------------------------------------|-----------------------------------------|
//! | pulse     | 116–132     | kick every beat, off-beat hats           | saw bass 55–110 Hz                      |
//! | halftime  | 68–92       | kick 1 & "3-and", snare 3, sparse hats   | sine sub-bass 40–70 Hz, mid stabs       |
//! | ambient   | —           | no drums                                 | slow sine pads 200–800 Hz               |
//! | thrash    | 150–190     | kick every 8th (+ random 16ths), snare 2 & 4, 16th hats | distorted square 80–160 Hz, noisy |
//! | swing     | 100–140     | swung ride cymbal, no kick pattern       | walking plucked bass + plucks 250–1000 Hz |
//!
//! Songs are generated independently from `(seed, style, index)`, so adding songs does
//! not change the existing ones.

use super::build::FeatureConfig;
use super::cache::fnv1a64;
use super::Dataset;
use crate::audio::Audio;
use crate::Result;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::f32::consts::TAU;

/// Sample rate of the generated audio (the log-mel default).
pub const SYNTHETIC_RATE: u32 = 22050;

/// Class names, in label order.
pub const STYLES: [&str; 5] = ["ambient", "halftime", "pulse", "swing", "thrash"];

/// `n_per_style` songs of `seconds` each per style, as `(audio, label)` with labels
/// indexing [`STYLES`]; ordered by style then index.
pub fn synthetic_dataset(n_per_style: usize, seconds: f32, seed: u64) -> Vec<(Audio, usize)> {
    let jobs: Vec<(usize, usize)> = (0..STYLES.len())
        .flat_map(|s| (0..n_per_style).map(move |k| (s, k)))
        .collect();
    jobs.par_iter()
        .map(|&(style, k)| {
            let song_seed = fnv1a64(format!("{seed}/{}/{k}", STYLES[style]).as_bytes());
            let samples = render(style, seconds, &mut ChaCha8Rng::seed_from_u64(song_seed));
            (
                Audio {
                    samples,
                    sample_rate: SYNTHETIC_RATE,
                },
                style,
            )
        })
        .collect()
}

impl Dataset {
    /// A dataset of synthetic songs through the same log-mel + segment path as real audio.
    /// `features.mel.sample_rate` must be [`SYNTHETIC_RATE`].
    pub fn from_synthetic(
        n_per_style: usize,
        seconds: f32,
        seed: u64,
        features: &FeatureConfig,
    ) -> Result<Dataset> {
        if features.mel.sample_rate != SYNTHETIC_RATE {
            return Err(crate::Error::invalid(format!(
                "synthetic audio is generated at {SYNTHETIC_RATE} Hz, features want {} Hz",
                features.mel.sample_rate
            )));
        }
        let songs: Vec<(String, Vec<f32>, usize)> = synthetic_dataset(n_per_style, seconds, seed)
            .into_iter()
            .enumerate()
            .map(|(i, (audio, label))| {
                (
                    format!("{0}/{0}.{1:05}", STYLES[label], i % n_per_style.max(1)),
                    audio.samples,
                    label,
                )
            })
            .collect();
        Dataset::from_audio(
            &songs,
            STYLES.iter().map(|s| s.to_string()).collect(),
            features,
        )
    }
}

/// Adds `f(t)` (t in seconds from `start`) to `out` for `duration` seconds.
fn add_event(out: &mut [f32], start: f32, duration: f32, mut f: impl FnMut(f32) -> f32) {
    let sr = SYNTHETIC_RATE as f32;
    let first = (start * sr).max(0.0) as usize;
    let last = (((start + duration) * sr) as usize).min(out.len());
    for (i, o) in out.iter_mut().enumerate().take(last).skip(first) {
        *o += f(i as f32 / sr - start);
    }
}

fn white(rng: &mut ChaCha8Rng) -> f32 {
    rng.random_range(-1.0f32..1.0)
}

fn kick(out: &mut [f32], at: f32, level: f32) {
    // A falling sine sweep 150 → 50 Hz; phase = ∫ f(t) dt.
    add_event(out, at, 0.25, |t| {
        let phase = TAU * (50.0 * t + 100.0 * (1.0 - (-t / 0.03).exp()) * 0.03);
        level * (-t / 0.08).exp() * phase.sin()
    });
}

fn snare(out: &mut [f32], at: f32, level: f32, rng: &mut ChaCha8Rng) {
    let noise: Vec<f32> = (0..(0.2 * SYNTHETIC_RATE as f32) as usize)
        .map(|_| white(rng))
        .collect();
    let mut i = 0;
    add_event(out, at, 0.2, |t| {
        let n = noise[i.min(noise.len() - 1)];
        i += 1;
        level * (-t / 0.05).exp() * (0.7 * n + 0.3 * (TAU * 185.0 * t).sin())
    });
}

/// A short bright noise burst (first difference of white noise = high-passed).
fn hat(out: &mut [f32], at: f32, level: f32, decay: f32, rng: &mut ChaCha8Rng) {
    let mut prev = 0.0;
    let noise: Vec<f32> = (0..(4.0 * decay * SYNTHETIC_RATE as f32) as usize + 1)
        .map(|_| {
            let w = white(rng);
            let d = w - prev;
            prev = w;
            d
        })
        .collect();
    let mut i = 0;
    add_event(out, at, 4.0 * decay, |t| {
        let n = noise[i.min(noise.len() - 1)];
        i += 1;
        level * (-t / decay).exp() * n
    });
}

/// A tone with `harmonics` partial amplitudes, attack/decay envelope, optional drive.
#[allow(clippy::too_many_arguments)]
fn tone(
    out: &mut [f32],
    at: f32,
    dur: f32,
    freq: f32,
    level: f32,
    harmonics: &[f32],
    attack: f32,
    decay: f32,
    drive: f32,
) {
    add_event(out, at, dur, |t| {
        let env = (t / attack).min(1.0) * (-t / decay).exp() * ((dur - t) / 0.01).clamp(0.0, 1.0);
        let v: f32 = harmonics
            .iter()
            .enumerate()
            .map(|(k, &a)| a * (TAU * freq * (k + 1) as f32 * t).sin())
            .sum();
        let v = if drive > 0.0 {
            (drive * v).tanh() / drive.tanh()
        } else {
            v
        };
        level * env * v
    });
}

/// A frequency `semitones` above `root`.
fn note(root: f32, semitones: i32) -> f32 {
    root * 2f32.powf(semitones as f32 / 12.0)
}

fn render(style: usize, seconds: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n = (seconds.max(0.0) * SYNTHETIC_RATE as f32) as usize;
    let mut out = vec![0f32; n];
    let scale = [0, 2, 3, 5, 7, 8, 10, 12]; // natural minor
    let pick = |rng: &mut ChaCha8Rng| scale[rng.random_range(0..scale.len())];
    let noise_level = match STYLES[style] {
        "thrash" => rng.random_range(0.06..0.15),
        "ambient" => rng.random_range(0.0..0.01),
        _ => rng.random_range(0.005..0.03),
    };
    match STYLES[style] {
        "ambient" => {
            let root = rng.random_range(200.0f32..400.0);
            let mut t = 0.0;
            while t < seconds {
                let dur = rng.random_range(2.0..4.0);
                for _ in 0..3 {
                    let f = note(root, pick(rng));
                    tone(
                        &mut out,
                        t,
                        dur + 0.5,
                        f,
                        0.2,
                        &[1.0, 0.3, 0.1],
                        0.6,
                        3.0,
                        0.0,
                    );
                }
                if rng.random_bool(0.5) {
                    let f = note(root * 2.0, pick(rng));
                    tone(
                        &mut out,
                        t + dur / 2.0,
                        dur / 2.0,
                        f.min(800.0),
                        0.1,
                        &[1.0, 0.2],
                        0.2,
                        1.0,
                        0.0,
                    );
                }
                t += dur;
            }
        }
        name => {
            let bpm = match name {
                "pulse" => rng.random_range(116.0..132.0),
                "halftime" => rng.random_range(68.0..92.0),
                "thrash" => rng.random_range(150.0..190.0),
                _ => rng.random_range(100.0..140.0), // swing
            };
            let beat = 60.0 / bpm;
            let step = beat / 4.0; // sixteenth note
            let extra = rng.random_range(0.0..0.15); // chance of an extra hit per step
            let root = match name {
                "pulse" => rng.random_range(55.0f32..110.0),
                "halftime" => rng.random_range(40.0..70.0),
                "thrash" => rng.random_range(80.0..160.0),
                _ => rng.random_range(50.0..100.0),
            };
            let saw: Vec<f32> = (1..=8).map(|k| 1.0 / k as f32).collect();
            let square: Vec<f32> = (1..=9)
                .map(|k| if k % 2 == 1 { 1.0 / k as f32 } else { 0.0 })
                .collect();
            let mut bar_start = 0.0;
            while bar_start < seconds {
                let bass_notes: Vec<i32> = (0..4).map(|_| pick(rng)).collect();
                for s in 0..16 {
                    let t = bar_start + s as f32 * step;
                    let hit = |rng: &mut ChaCha8Rng| rng.random_bool(extra);
                    match name {
                        "pulse" => {
                            if s % 4 == 0 {
                                kick(&mut out, t, 0.9);
                            }
                            if s == 4 || s == 12 || hit(rng) {
                                snare(&mut out, t, 0.35, rng);
                            }
                            if s % 4 == 2 {
                                hat(&mut out, t, 0.15, 0.03, rng);
                            }
                            if s % 2 == 0 {
                                tone(
                                    &mut out,
                                    t,
                                    step * 1.8,
                                    note(root, bass_notes[s / 4]),
                                    0.35,
                                    &saw,
                                    0.005,
                                    0.2,
                                    0.0,
                                );
                            }
                        }
                        "halftime" => {
                            if s == 0 || s == 10 || hit(rng) {
                                kick(&mut out, t, 1.0);
                            }
                            if s == 8 {
                                snare(&mut out, t, 0.5, rng);
                            }
                            if s % 2 == 0 && rng.random_bool(0.6) {
                                hat(&mut out, t, 0.15, 0.02, rng);
                            }
                            if s == 0 {
                                tone(
                                    &mut out,
                                    t,
                                    beat * 3.5,
                                    note(root, bass_notes[0]),
                                    0.5,
                                    &[1.0],
                                    0.01,
                                    2.0,
                                    0.0,
                                );
                            }
                            if s == 6 && rng.random_bool(0.5) {
                                tone(
                                    &mut out,
                                    t,
                                    step * 2.0,
                                    note(root * 4.0, bass_notes[1]),
                                    0.15,
                                    &saw[..4],
                                    0.005,
                                    0.1,
                                    0.0,
                                );
                            }
                        }
                        "thrash" => {
                            if s % 2 == 0 || hit(rng) || rng.random_bool(0.3) {
                                kick(&mut out, t, 0.7);
                            }
                            if s == 4 || s == 12 {
                                snare(&mut out, t, 0.6, rng);
                            }
                            hat(&mut out, t, 0.3, 0.04, rng);
                            if s % 2 == 0 {
                                let f = note(root, bass_notes[s / 4]);
                                tone(&mut out, t, step * 2.0, f, 0.3, &square, 0.002, 0.5, 4.0);
                                tone(
                                    &mut out,
                                    t,
                                    step * 2.0,
                                    f * 1.5,
                                    0.2,
                                    &square,
                                    0.002,
                                    0.5,
                                    4.0,
                                );
                            }
                        }
                        _ => {
                            // Swung ride on beats and the last third of each beat.
                            if s % 4 == 0 {
                                hat(&mut out, t, 0.2, 0.12, rng);
                                tone(
                                    &mut out,
                                    t,
                                    beat * 0.9,
                                    note(root, bass_notes[s / 4]),
                                    0.45,
                                    &[1.0, 0.5, 0.25],
                                    0.005,
                                    0.4,
                                    0.0,
                                );
                                if s % 8 == 4 {
                                    hat(&mut out, t + beat * 2.0 / 3.0, 0.12, 0.08, rng);
                                }
                            }
                            if rng.random_bool(0.2 + extra) {
                                let f = note(rng.random_range(250.0f32..500.0), pick(rng));
                                tone(
                                    &mut out,
                                    t + step * 0.33 * rng.random_range(0.0f32..1.0),
                                    beat,
                                    f,
                                    0.15,
                                    &[1.0, 0.4, 0.2, 0.1],
                                    0.003,
                                    0.3,
                                    0.0,
                                );
                            }
                        }
                    }
                }
                bar_start += 16.0 * step;
            }
        }
    }
    for o in out.iter_mut() {
        *o += noise_level * white(rng);
    }
    // Normalise the peak to a random level in [-12, -1] dBFS.
    let peak = out.iter().fold(0f32, |m, &v| m.max(v.abs()));
    if peak > 0.0 {
        let target = 10f32.powf(rng.random_range(-12.0f32..-1.0) / 20.0);
        out.iter_mut().for_each(|v| *v *= target / peak);
    }
    out
}

/// Onsets per second: frames (512 samples) whose energy jumps by 2.5× over the previous
/// frame's and exceeds 2 % of the loudest frame.
pub fn onset_rate(samples: &[f32], sample_rate: u32) -> f32 {
    let energy: Vec<f32> = samples
        .chunks(512)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    let max = energy.iter().fold(0f32, |m, &e| m.max(e));
    let onsets = energy
        .windows(2)
        .filter(|w| w[1] > 2.5 * w[0] && w[1] > 0.02 * max)
        .count();
    onsets as f32 / (samples.len().max(1) as f32 / sample_rate as f32)
}

/// Zero crossings per second (a brightness proxy).
pub fn zero_crossing_rate(samples: &[f32], sample_rate: u32) -> f32 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0))
        .count();
    crossings as f32 / (samples.len().max(1) as f32 / sample_rate as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_seeded_and_songs_differ() {
        let a = synthetic_dataset(2, 3.0, 1);
        let b = synthetic_dataset(3, 3.0, 1);
        assert_eq!(a.len(), 10);
        assert_eq!(
            a[0].0, b[0].0,
            "adding songs leaves existing ones unchanged"
        );
        assert_eq!(a[2].0, b[3].0);
        assert_ne!(a[0].0, a[1].0, "two songs of a style differ");
        assert_ne!(
            a[0].0,
            synthetic_dataset(2, 3.0, 2)[0].0,
            "another seed, other songs"
        );
        for (audio, _) in &a {
            assert_eq!(audio.samples.len(), 3 * 22050);
            let peak = audio.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(peak > 0.2 && peak <= 0.9 && audio.samples.iter().all(|v| v.is_finite()));
        }
    }

    /// Learnable (a nearest-centroid rule on two simple features separates held-out songs
    /// well) but not trivial (one feature alone does clearly worse; songs vary).
    #[test]
    fn styles_are_separable_by_simple_features() {
        let songs = synthetic_dataset(16, 6.0, 7);
        let features: Vec<[f32; 2]> = songs
            .iter()
            .map(|(a, _)| {
                [
                    onset_rate(&a.samples, a.sample_rate),
                    zero_crossing_rate(&a.samples, a.sample_rate).ln(),
                ]
            })
            .collect();
        let classes = STYLES.len();
        // Standardise each feature, fit centroids on even songs, test on odd ones.
        let mut scaled = features.clone();
        for d in 0..2 {
            let m = features.iter().map(|f| f[d]).sum::<f32>() / features.len() as f32;
            let s = (features.iter().map(|f| (f[d] - m).powi(2)).sum::<f32>()
                / features.len() as f32)
                .sqrt();
            scaled.iter_mut().for_each(|f| f[d] = (f[d] - m) / s);
        }
        let accuracy = |dims: &[usize]| {
            let mut centroid = vec![[0f32; 2]; classes];
            let mut count = vec![0f32; classes];
            for (i, (_, label)) in songs.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
                dims.iter()
                    .for_each(|&d| centroid[*label][d] += scaled[i][d]);
                count[*label] += 1.0;
            }
            centroid
                .iter_mut()
                .zip(&count)
                .for_each(|(c, n)| c.iter_mut().for_each(|v| *v /= n));
            let test: Vec<usize> = (1..songs.len()).step_by(2).collect();
            let correct = test
                .iter()
                .filter(|&&i| {
                    let dist = |c: &[f32; 2]| {
                        dims.iter()
                            .map(|&d| (scaled[i][d] - c[d]).powi(2))
                            .sum::<f32>()
                    };
                    let best = (0..classes)
                        .min_by(|&a, &b| dist(&centroid[a]).total_cmp(&dist(&centroid[b])))
                        .unwrap();
                    best == songs[i].1
                })
                .count();
            correct as f32 / test.len() as f32
        };
        let (both, onset_only, zcr_only) = (accuracy(&[0, 1]), accuracy(&[0]), accuracy(&[1]));
        eprintln!("synthetic separability (nearest centroid, held out): onset+zcr {both:.2}, onset {onset_only:.2}, zcr {zcr_only:.2}");
        assert!(both >= 0.85, "two features: {both}");
        assert!(
            onset_only < both && zcr_only < both,
            "one feature alone should not suffice: {onset_only}, {zcr_only}"
        );
        // Within-style variation: onset rates of one style are not all equal.
        let pulse: Vec<f32> = features
            .iter()
            .zip(&songs)
            .filter(|(_, s)| STYLES[s.1] == "pulse")
            .map(|(f, _)| f[0])
            .collect();
        assert!(pulse.iter().any(|&r| (r - pulse[0]).abs() > 0.05));
    }

    #[test]
    fn synthetic_dataset_goes_through_log_mel_and_segments() {
        let features = FeatureConfig::default();
        let ds = Dataset::from_synthetic(2, 8.0, 3, &features).unwrap();
        // 8 s → 345 frames → 4 full segments of 80 (25 frames left over, dropped).
        assert_eq!((ds.len(), ds.songs.len(), ds.n_classes()), (40, 10, 5));
        assert_eq!(ds.songs[1].name, "ambient/ambient.00001");
        assert_eq!(
            ds.class_counts(&(0..ds.len()).collect::<Vec<_>>()),
            vec![8; 5]
        );
        assert!(ds.x.iter().all(|v| (-80.0..=0.0).contains(v)));
        let mut wrong_rate = features.clone();
        wrong_rate.mel.sample_rate = 16000;
        assert!(Dataset::from_synthetic(1, 8.0, 3, &wrong_rate).is_err());
    }
}
