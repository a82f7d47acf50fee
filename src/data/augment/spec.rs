//! Spectrogram augmentations on time-major segments (`frames × n_mels`): SpecAugment
//! masking, time roll, random crop, and mixup with soft labels.

use super::audio::standard_normal;
use crate::{Error, Result, Tensor};
use rand::{Rng, RngExt};

fn check(seg: &[f32], frames: usize, n_mels: usize) -> Result<()> {
    if frames == 0 || n_mels == 0 || seg.len() != frames * n_mels {
        return Err(Error::shape(
            "spec augment",
            format!("{} values are not {frames} × {n_mels}", seg.len()),
        ));
    }
    Ok(())
}

fn mean(seg: &[f32]) -> f32 {
    (seg.iter().map(|&v| v as f64).sum::<f64>() / seg.len() as f64) as f32
}

/// A random band `[start, start + width)` of `0..extent`, width uniform in `0..=max_width`.
fn random_band(extent: usize, max_width: usize, rng: &mut impl Rng) -> (usize, usize) {
    let width = rng.random_range(0..=max_width.min(extent));
    (rng.random_range(0..=extent - width), width)
}

/// SpecAugment settings: how many masks of each kind and their largest width.
/// Masked values become the segment's mean (for dB features, a neutral level).
#[derive(Clone, Debug, PartialEq)]
pub struct SpecAugment {
    pub time_masks: usize,
    pub max_time_width: usize,
    pub freq_masks: usize,
    pub max_freq_width: usize,
}

impl Default for SpecAugment {
    /// Two masks of up to 10 frames and two of up to 8 mel bands (mild, for 80 × 80).
    fn default() -> Self {
        SpecAugment {
            time_masks: 2,
            max_time_width: 10,
            freq_masks: 2,
            max_freq_width: 8,
        }
    }
}

impl SpecAugment {
    /// Applies the masks in place; returns the masked bands `(is_time, start, width)`.
    pub fn apply(
        &self,
        seg: &mut [f32],
        frames: usize,
        n_mels: usize,
        rng: &mut impl Rng,
    ) -> Result<Vec<(bool, usize, usize)>> {
        check(seg, frames, n_mels)?;
        let fill = mean(seg);
        let mut bands = Vec::new();
        for _ in 0..self.time_masks {
            let (start, width) = random_band(frames, self.max_time_width, rng);
            seg[start * n_mels..(start + width) * n_mels].fill(fill);
            bands.push((true, start, width));
        }
        for _ in 0..self.freq_masks {
            let (start, width) = random_band(n_mels, self.max_freq_width, rng);
            for frame in seg.chunks_exact_mut(n_mels) {
                frame[start..start + width].fill(fill);
            }
            bands.push((false, start, width));
        }
        Ok(bands)
    }
}

/// Rolls a segment along time by `shift` frames (circular; negative = earlier).
pub fn roll_time(seg: &mut [f32], frames: usize, n_mels: usize, shift: isize) -> Result<()> {
    check(seg, frames, n_mels)?;
    seg.rotate_right(shift.rem_euclid(frames as isize) as usize * n_mels);
    Ok(())
}

/// Rolls by a shift drawn uniformly from `[-max_shift, max_shift]`; returns it.
pub fn random_roll_time(
    seg: &mut [f32],
    frames: usize,
    n_mels: usize,
    max_shift: usize,
    rng: &mut impl Rng,
) -> Result<isize> {
    let shift = rng.random_range(-(max_shift as i64)..=max_shift as i64) as isize;
    roll_time(seg, frames, n_mels, shift)?;
    Ok(shift)
}

/// A random window of `crop_frames` consecutive frames of a longer spectrogram
/// (`total_frames × n_mels`), e.g. a fresh 80-frame excerpt of a whole track each epoch.
pub fn random_crop(
    track: &[f32],
    total_frames: usize,
    n_mels: usize,
    crop_frames: usize,
    rng: &mut impl Rng,
) -> Result<Vec<f32>> {
    check(track, total_frames, n_mels)?;
    if crop_frames == 0 || crop_frames > total_frames {
        return Err(Error::invalid(format!(
            "random_crop: {crop_frames} frames from a {total_frames}-frame spectrogram"
        )));
    }
    let start = rng.random_range(0..=total_frames - crop_frames);
    Ok(track[start * n_mels..(start + crop_frames) * n_mels].to_vec())
}

/// A Gamma(shape, 1) sample (Marsaglia & Tsang; shape < 1 via `Gamma(shape+1)·U^(1/shape)`).
fn gamma(shape: f64, rng: &mut impl Rng) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = standard_normal(rng);
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A Beta(alpha, alpha) sample: the mixup weight.
pub fn beta_symmetric(alpha: f64, rng: &mut impl Rng) -> f64 {
    let (a, b) = (gamma(alpha, rng), gamma(alpha, rng));
    a / (a + b)
}

/// Mixup (Zhang et al. 2018) over a batch `x` of shape `(B, …)`: with `λ ~ Beta(α, α)` and
/// a random permutation `p` of the batch, `x'_i = λ x_i + (1−λ) x_{p(i)}` and soft labels
/// `t_i = λ onehot(y_i) + (1−λ) onehot(y_{p(i)})` (shape `(B, n_classes)`). Returns
/// `(x', t, λ)`.
pub fn mixup(
    x: &Tensor<f32>,
    labels: &[usize],
    n_classes: usize,
    alpha: f64,
    rng: &mut impl Rng,
) -> Result<(Tensor<f32>, Tensor<f32>, f32)> {
    let batch = x.shape().first().copied().unwrap_or(0);
    if batch == 0 || labels.len() != batch {
        return Err(Error::shape(
            "mixup",
            format!(
                "{} labels for a batch of shape {:?}",
                labels.len(),
                x.shape()
            ),
        ));
    }
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(Error::invalid(format!(
            "mixup: alpha must be positive, got {alpha}"
        )));
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= n_classes) {
        return Err(Error::invalid(format!(
            "mixup: label {bad} out of range for {n_classes} classes"
        )));
    }
    let lambda = beta_symmetric(alpha, rng) as f32;
    let mut partner: Vec<usize> = (0..batch).collect();
    rand::seq::SliceRandom::shuffle(partner.as_mut_slice(), rng);
    let per = x.len() / batch;
    let src = x.data();
    let mut mixed = vec![0f32; x.len()];
    let mut soft = vec![0f32; batch * n_classes];
    for (i, &j) in partner.iter().enumerate() {
        let (a, b) = (&src[i * per..(i + 1) * per], &src[j * per..(j + 1) * per]);
        for ((m, &va), &vb) in mixed[i * per..(i + 1) * per].iter_mut().zip(a).zip(b) {
            *m = lambda * va + (1.0 - lambda) * vb;
        }
        soft[i * n_classes + labels[i]] += lambda;
        soft[i * n_classes + labels[j]] += 1.0 - lambda;
    }
    Ok((
        Tensor::new(mixed, x.shape())?,
        Tensor::new(soft, &[batch, n_classes])?,
        lambda,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn seg(frames: usize, n_mels: usize) -> Vec<f32> {
        (0..frames * n_mels)
            .map(|i| (i % 97) as f32 - 40.0)
            .collect()
    }

    #[test]
    fn spec_augment_masks_only_its_bands() {
        let (f, m) = (80, 80);
        let orig = seg(f, m);
        let fill = mean(&orig);
        let cfg = SpecAugment {
            time_masks: 1,
            max_time_width: 10,
            freq_masks: 1,
            max_freq_width: 8,
        };
        for seed in 0..20 {
            let mut x = orig.clone();
            let bands = cfg
                .apply(&mut x, f, m, &mut ChaCha8Rng::seed_from_u64(seed))
                .unwrap();
            assert_eq!(x.len(), orig.len());
            let (_, t0, tw) = bands[0];
            let (_, f0, fw) = bands[1];
            assert!(tw <= 10 && fw <= 8 && t0 + tw <= f && f0 + fw <= m);
            for t in 0..f {
                for b in 0..m {
                    let masked = (t0..t0 + tw).contains(&t) || (f0..f0 + fw).contains(&b);
                    let v = x[t * m + b];
                    assert_eq!(
                        v,
                        if masked { fill } else { orig[t * m + b] },
                        "t={t} b={b}"
                    );
                }
            }
            let mut again = orig.clone();
            cfg.apply(&mut again, f, m, &mut ChaCha8Rng::seed_from_u64(seed))
                .unwrap();
            assert_eq!(x, again, "seeded");
        }
        assert!(cfg
            .apply(&mut orig.clone(), 79, 80, &mut ChaCha8Rng::seed_from_u64(0))
            .is_err());
    }

    #[test]
    fn roll_and_crop() {
        let mut x = seg(4, 3);
        let orig = x.clone();
        roll_time(&mut x, 4, 3, 1).unwrap();
        assert_eq!(&x[3..6], &orig[0..3]);
        assert_eq!(&x[0..3], &orig[9..12]);
        roll_time(&mut x, 4, 3, -1).unwrap();
        assert_eq!(x, orig);
        let track: Vec<f32> = (0..100 * 2).map(|i| (i / 2) as f32).collect(); // value = frame index
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..10 {
            let crop = random_crop(&track, 100, 2, 80, &mut rng).unwrap();
            assert_eq!(crop.len(), 160);
            let start = crop[0] as usize;
            assert!(start <= 20);
            assert!(crop
                .chunks(2)
                .enumerate()
                .all(|(k, fr)| fr[0] == (start + k) as f32 && fr[1] == fr[0]));
        }
        assert!(random_crop(&track, 100, 2, 101, &mut rng).is_err());
    }

    #[test]
    fn mixup_mixes_inputs_and_labels_consistently() {
        let x = Tensor::from_fn(&[6, 1, 2, 2], |i| (i / 4) as f32); // sample i is all i
        let labels = [0, 1, 2, 0, 1, 2];
        let (mixed, soft, lambda) =
            mixup(&x, &labels, 3, 0.4, &mut ChaCha8Rng::seed_from_u64(4)).unwrap();
        assert!((0.0..=1.0).contains(&lambda));
        assert_eq!(mixed.shape(), x.shape());
        assert_eq!(soft.shape(), &[6, 3]);
        for i in 0..6 {
            let row = &soft.data()[i * 3..i * 3 + 3];
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            // Recover the partner from the mixed value: v = λ i + (1-λ) j.
            let v = mixed.data()[i * 4];
            let j = if lambda < 1.0 {
                ((v - lambda * i as f32) / (1.0 - lambda)).round() as usize
            } else {
                i
            };
            let mut expect = [0f32; 3];
            expect[labels[i]] += lambda;
            expect[labels[j]] += 1.0 - lambda;
            assert!(
                row.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-5),
                "{row:?} vs {expect:?}"
            );
        }
        let again = mixup(&x, &labels, 3, 0.4, &mut ChaCha8Rng::seed_from_u64(4)).unwrap();
        assert_eq!(again.0, mixed);
        assert!(mixup(&x, &labels[..5], 3, 0.4, &mut ChaCha8Rng::seed_from_u64(0)).is_err());
        assert!(mixup(&x, &labels, 2, 0.4, &mut ChaCha8Rng::seed_from_u64(0)).is_err());
        assert!(mixup(&x, &labels, 3, 0.0, &mut ChaCha8Rng::seed_from_u64(0)).is_err());
    }

    #[test]
    fn beta_sampler_has_the_right_mean_and_spread() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for alpha in [0.2, 1.0, 4.0] {
            let draws: Vec<f64> = (0..20000)
                .map(|_| beta_symmetric(alpha, &mut rng))
                .collect();
            let m = draws.iter().sum::<f64>() / draws.len() as f64;
            let var = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / draws.len() as f64;
            let expect_var = 1.0 / (4.0 * (2.0 * alpha + 1.0)); // Var of Beta(α, α)
            assert!((m - 0.5).abs() < 0.01, "alpha {alpha}: mean {m}");
            assert!(
                (var / expect_var - 1.0).abs() < 0.05,
                "alpha {alpha}: var {var} vs {expect_var}"
            );
        }
    }
}
