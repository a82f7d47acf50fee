//! Batch normalisation over the channel axis 1 of `(N, C)`, `(N, C, L)` or `(N, C, H, W)`.
//!
//! Statistics are taken per channel over the m = N·(spatial size) values that share it.
//!
//! **Train mode** normalises with the batch statistics
//!
//! ```text
//! μ = (1/m)·Σ x          σ² = (1/m)·Σ (x − μ)²     (biased: what the batch really has)
//! x̂ = (x − μ)/σ,  σ = √(σ² + ε)
//! y = γ⊙x̂ + β
//! ```
//!
//! and, because μ and σ depend on every x, the gradient has three paths:
//!
//! ```text
//! dβ = Σ dy      dγ = Σ dy⊙x̂
//! dx = (γ/σ)·(dy − mean(dy) − x̂⊙mean(dy⊙x̂))        (means per channel over the m values)
//! ```
//!
//! It also returns the updated running statistics, Keras-style (momentum 0.99 keeps 99 %
//! of the old value; PyTorch's momentum 0.1 is the same rule with 1 − momentum):
//!
//! ```text
//! running_mean ← momentum·running_mean + (1 − momentum)·μ
//! running_var  ← momentum·running_var  + (1 − momentum)·σ²·m/(m − 1)
//! ```
//!
//! The running variance uses the UNBIASED batch variance, as PyTorch does and as Keras 2's
//! fused TensorFlow kernel does (Keras 3 uses the biased one; the difference is a factor
//! m/(m−1), negligible for the batch sizes we train with).
//!
//! **Eval mode** uses the running statistics as constants: `y = γ⊙(x − μ_r)/σ_r + β`,
//! `dx = (γ/σ_r)⊙dy`, `dγ = Σ dy⊙x̂`, `dβ = Σ dy`.

use crate::kernels::reduce::{dot, sum, sum_and_squared_deviations};
use crate::{Error, Float, Result, Tensor, Var};
use rayon::prelude::*;

/// Momentum and ε of a batch norm; the defaults are Keras' (0.99, 1e-3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    pub momentum: f64,
    pub epsilon: f64,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig {
            momentum: 0.99,
            epsilon: 1e-3,
        }
    }
}

/// Per-channel running statistics, shape `(C)` each.
#[derive(Clone, Debug)]
pub struct RunningStats<T: Float> {
    pub mean: Tensor<T>,
    pub var: Tensor<T>,
}

impl<T: Float> RunningStats<T> {
    /// Mean 0, variance 1: the Keras initial values.
    pub fn new(channels: usize) -> Self {
        RunningStats {
            mean: Tensor::zeros(&[channels]),
            var: Tensor::ones(&[channels]),
        }
    }
}

/// Batch norm of `x` with per-channel `gamma`, `beta: (C)`. In train mode (`training`)
/// it normalises with batch statistics and updates `stats` in place; in eval mode it
/// normalises with `stats` and leaves them unchanged.
pub fn batch_norm<T: Float>(
    x: &Var<T>,
    gamma: &Var<T>,
    beta: &Var<T>,
    stats: &mut RunningStats<T>,
    training: bool,
    config: &BatchNormConfig,
) -> Result<Var<T>> {
    let dims = check_inputs(
        "batch_norm",
        x.shape(),
        (gamma, beta),
        stats,
        training,
        config,
    )?;
    let (batch, channels, spatial) = dims;
    let m = batch * spatial;
    let block = spatial.max(1); // one (sample, channel) block per chunk; none if x is empty
    let xs = x.value().data();
    let (mean, inv_std) = normalising_stats(xs, dims, stats, training, config);

    let (g, b) = (gamma.value().data(), beta.value().data());
    let mut y = vec![T::ZERO; xs.len()];
    // y = scale·x + shift per (sample, channel) block; blocks are independent.
    xs.par_chunks(block)
        .zip(y.par_chunks_mut(block))
        .enumerate()
        .for_each(|(block, (xb, yb))| {
            let ch = block % channels;
            let (scale, shift) = (g[ch] * inv_std[ch], b[ch] - g[ch] * inv_std[ch] * mean[ch]);
            for (yv, &xv) in yb.iter_mut().zip(xb) {
                *yv = scale * xv + shift;
            }
        });
    let y = Tensor::new(y, x.shape())?;

    let (x_kept, gamma_kept) = (x.value().clone(), gamma.value().clone());
    Ok(Var::from_op(
        "batch_norm",
        y,
        &[x, gamma, beta],
        move |dy, needs| {
            let (dy, xs, g) = (dy.data(), x_kept.data(), gamma_kept.data());
            // Per channel: Σ dy and Σ dy⊙x̂ = (Σ dy⊙x − μ·Σ dy)/σ, from per-block sums
            // (taken in parallel, added in block order: the same numbers on any thread
            // count).
            let block_sums: Vec<(T, T)> = xs
                .par_chunks(block)
                .zip(dy.par_chunks(block))
                .map(|(xb, db)| (sum(db), dot(db, xb)))
                .collect();
            let mut sum_dy = vec![T::ZERO; channels];
            let mut sum_dy_xhat = vec![T::ZERO; channels];
            for (block, &(s_dy, s_dyx)) in block_sums.iter().enumerate() {
                let ch = block % channels;
                sum_dy[ch] += s_dy;
                sum_dy_xhat[ch] += (s_dyx - mean[ch] * s_dy) * inv_std[ch];
            }
            let dx = needs[0].then(|| {
                let inv_m = T::ONE / T::from_usize(m);
                let mut dx = vec![T::ZERO; xs.len()];
                xs.par_chunks(block)
                    .zip(dy.par_chunks(block))
                    .zip(dx.par_chunks_mut(block))
                    .enumerate()
                    .for_each(|(block, ((xb, db), out))| {
                        let ch = block % channels;
                        let (mu, s, k) = (mean[ch], inv_std[ch], g[ch] * inv_std[ch]);
                        if training {
                            let mean_dy = sum_dy[ch] * inv_m;
                            let mean_dy_xhat = sum_dy_xhat[ch] * inv_m;
                            for ((o, &xv), &d) in out.iter_mut().zip(xb).zip(db) {
                                *o = k * (d - mean_dy - (xv - mu) * s * mean_dy_xhat);
                            }
                        } else {
                            for (o, &d) in out.iter_mut().zip(db) {
                                *o = k * d;
                            }
                        }
                    });
                Tensor::new(dx, x_kept.shape()).expect("shape of x")
            });
            let per_channel = |v: Vec<T>| Tensor::new(v, &[channels]).expect("(C)");
            vec![
                dx,
                needs[1].then(|| per_channel(sum_dy_xhat)),
                needs[2].then(|| per_channel(sum_dy)),
            ]
        },
    ))
}

/// Check `x` (N, C, …), γ, β and the running statistics against each other, and the
/// configuration; `(N, C, spatial size)` when all is well. Errors name `op`.
pub(crate) fn check_inputs<T: Float>(
    op: &'static str,
    x: &[usize],
    (gamma, beta): (&Var<T>, &Var<T>),
    stats: &RunningStats<T>,
    training: bool,
    config: &BatchNormConfig,
) -> Result<(usize, usize, usize)> {
    let (batch, channels, spatial) = check_shapes(op, x, gamma.shape(), beta.shape(), stats)?;
    if !(0.0..=1.0).contains(&config.momentum) || config.epsilon.is_nan() || config.epsilon <= 0.0 {
        return Err(Error::invalid(format!(
            "{op}: momentum must be in [0, 1] and epsilon > 0, got {config:?}"
        )));
    }
    if training && batch * spatial < 2 {
        return Err(Error::invalid(format!(
            "{op}: train mode needs at least 2 values per channel, got x {x:?}"
        )));
    }
    Ok((batch, channels, spatial))
}

/// Per-channel (μ, 1/σ) that a forward pass normalises with: the batch's in train mode,
/// which also moves the running statistics towards them; the running ones in eval mode.
pub(crate) fn normalising_stats<T: Float>(
    xs: &[T],
    (batch, channels, spatial): (usize, usize, usize),
    stats: &mut RunningStats<T>,
    training: bool,
    config: &BatchNormConfig,
) -> (Vec<T>, Vec<T>) {
    let (mean, var) = if training {
        let (mean, var) = channel_moments(xs, batch, channels, spatial);
        update_running_stats(stats, &mean, &var, batch * spatial, config);
        (mean, var)
    } else {
        (stats.mean.data().to_vec(), stats.var.data().to_vec())
    };
    let eps = T::from_f64(config.epsilon);
    let inv_std = var.iter().map(|&v| T::ONE / (v + eps).sqrt()).collect();
    (mean, inv_std)
}

/// The running-statistics rule of the module doc, from a batch of `m` values per channel
/// with mean `mean` and biased variance `var`.
fn update_running_stats<T: Float>(
    stats: &mut RunningStats<T>,
    mean: &[T],
    var: &[T],
    m: usize,
    config: &BatchNormConfig,
) {
    let keep = T::from_f64(config.momentum);
    let bessel = T::from_usize(m) / T::from_usize(m - 1);
    let update = |running: &mut Tensor<T>, batch_stat: &[T], factor: T| {
        for (r, &s) in running.data_mut().iter_mut().zip(batch_stat) {
            *r = keep * *r + (T::ONE - keep) * s * factor;
        }
    };
    update(&mut stats.mean, mean, T::ONE);
    update(&mut stats.var, var, bessel);
}

/// Per-channel mean and biased variance, reading `xs` from memory once. Each (sample,
/// channel) block gives its sum and its squared deviations from its own mean (a second
/// look at a block still in cache); the blocks, summed in parallel, combine in block
/// order (the same numbers on any thread count) as Chan et al. combine variances:
///
/// ```text
/// μ = (1/m)·Σ_b sum_b        m·σ² = Σ_b M2_b + S·Σ_b (mean_b − μ)²     (S values per block)
/// ```
///
/// which is as accurate as two passes over the whole tensor.
fn channel_moments<T: Float>(
    xs: &[T],
    batch: usize,
    channels: usize,
    spatial: usize,
) -> (Vec<T>, Vec<T>) {
    let mut mean = vec![T::ZERO; channels];
    let mut m2 = vec![T::ZERO; channels];
    if spatial == 0 {
        return (mean, m2);
    }
    let blocks: Vec<(T, T)> = xs
        .par_chunks(spatial)
        .map(sum_and_squared_deviations)
        .collect();
    let inv_m = T::ONE / T::from_usize(batch * spatial);
    for (block, &(sum, _)) in blocks.iter().enumerate() {
        mean[block % channels] += sum;
    }
    mean.iter_mut().for_each(|v| *v *= inv_m);
    let (s, inv_s) = (T::from_usize(spatial), T::ONE / T::from_usize(spatial));
    for (block, &(sum, squared_deviations)) in blocks.iter().enumerate() {
        let ch = block % channels;
        let offset = sum * inv_s - mean[ch];
        m2[ch] += squared_deviations + s * offset * offset;
    }
    m2.iter_mut().for_each(|v| *v *= inv_m);
    (mean, m2)
}

/// (N, C, spatial size) for valid shapes.
fn check_shapes<T: Float>(
    op: &'static str,
    x: &[usize],
    gamma: &[usize],
    beta: &[usize],
    stats: &RunningStats<T>,
) -> Result<(usize, usize, usize)> {
    if !(2..=4).contains(&x.len()) {
        return Err(Error::shape(
            op,
            format!("x must be (N, C), (N, C, L) or (N, C, H, W), got {x:?}"),
        ));
    }
    let channels = x[1];
    for (name, s) in [
        ("gamma", gamma),
        ("beta", beta),
        ("running mean", stats.mean.shape()),
        ("running var", stats.var.shape()),
    ] {
        if s != [channels] {
            return Err(Error::shape(
                op,
                format!("{name} must be (C) = [{channels}] for x {x:?}, got {s:?}"),
            ));
        }
    }
    Ok((x[0], channels, x[2..].iter().product()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rand(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor<f64> {
        Tensor::uniform(shape, lo, hi, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn train_mode_normalises_each_channel() {
        let x = rand(&[4, 3, 2, 5], -2.0, 3.0, 1);
        let mut stats = RunningStats::new(3);
        let ones = Var::constant(Tensor::ones(&[3]));
        let zeros = Var::constant(Tensor::zeros(&[3]));
        let y = batch_norm(
            &Var::constant(x),
            &ones,
            &zeros,
            &mut stats,
            true,
            &BatchNormConfig {
                momentum: 0.99,
                epsilon: 1e-12,
            },
        )
        .unwrap();
        let (mean, var) = channel_moments(y.value().data(), 4, 3, 10);
        for ch in 0..3 {
            assert!(
                mean[ch].abs() < 1e-12 && (var[ch] - 1.0).abs() < 1e-9,
                "{mean:?} {var:?}"
            );
        }
    }

    #[test]
    fn block_moments_combine_to_the_two_pass_statistics() {
        let (n, c, s) = (3, 2, 7);
        let naive = |x: &[f64], ch: usize| {
            let vals: Vec<f64> = (0..n)
                .flat_map(|i| x[(i * c + ch) * s..][..s].to_vec())
                .collect();
            let mu = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / vals.len() as f64;
            (mu, var)
        };
        // Far from 0 too: deviations are taken from block means, never Σx² − m·μ².
        for offset in [0.0, 1e4] {
            let x: Vec<f64> = rand(&[n, c, s], -1.0, 1.0, 6)
                .data()
                .iter()
                .map(|v| v + offset)
                .collect();
            let (mean, var) = channel_moments(&x, n, c, s);
            for ch in 0..c {
                let (mu, v) = naive(&x, ch);
                assert!(
                    (mean[ch] - mu).abs() < 1e-10,
                    "{offset}: mean {} vs {mu}",
                    mean[ch]
                );
                assert!(
                    (var[ch] - v).abs() < 1e-9 * v,
                    "{offset}: var {} vs {v}",
                    var[ch]
                );
            }
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let (_, var32) = channel_moments(&x32, n, c, s);
            for (ch, &v32) in var32.iter().enumerate() {
                let v = naive(&x, ch).1;
                let tol = if offset == 0.0 { 1e-5 } else { 1e-2 }; // f32 holds 1e4 + x to ~1e-3
                assert!(
                    (v32 as f64 - v).abs() < tol * v,
                    "f32 {offset}: {v32} vs {v}"
                );
            }
        }
    }

    #[test]
    fn running_stats_follow_the_keras_rule_with_unbiased_variance() {
        let x = Tensor::new(vec![1.0, 10.0, 3.0, 20.0], &[2, 2]).unwrap(); // ch0: 1,3  ch1: 10,20
        let mut stats = RunningStats::new(2);
        let g = Var::constant(Tensor::ones(&[2]));
        let b = Var::constant(Tensor::zeros(&[2]));
        batch_norm(
            &Var::constant(x),
            &g,
            &b,
            &mut stats,
            true,
            &BatchNormConfig::default(),
        )
        .unwrap();
        // mean (2, 15); unbiased var (2, 50).
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12);
        assert!(close(stats.mean.data(), &[0.02, 0.15]), "{:?}", stats.mean);
        assert!(
            close(stats.var.data(), &[0.99 + 0.02, 0.99 + 0.5]),
            "{:?}",
            stats.var
        );
    }

    #[test]
    fn eval_mode_uses_running_stats_and_leaves_them() {
        let x = Tensor::new(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let mut stats = RunningStats {
            mean: Tensor::new(vec![1.0, 2.0], &[2]).unwrap(),
            var: Tensor::new(vec![4.0 - 1e-3, 1.0 - 1e-3], &[2]).unwrap(),
        };
        let g = Var::constant(Tensor::new(vec![2.0, 1.0], &[2]).unwrap());
        let b = Var::constant(Tensor::new(vec![0.0, 1.0], &[2]).unwrap());
        let y = batch_norm(
            &Var::constant(x),
            &g,
            &b,
            &mut stats,
            false,
            &BatchNormConfig::default(),
        )
        .unwrap();
        let want = [0.0, 1.0, 2.0, 3.0];
        assert!(
            y.value()
                .data()
                .iter()
                .zip(want)
                .all(|(a, b)| (a - b).abs() < 1e-12),
            "{y:?}"
        );
        assert_eq!(stats.mean.data(), &[1.0, 2.0]);
    }

    #[test]
    fn batch_norm_gradcheck_train_and_eval_all_layouts() {
        for shape in [vec![5, 3], vec![3, 2, 4], vec![2, 3, 2, 3]] {
            let c = shape[1];
            let xs = [
                rand(&shape, -2.0, 2.0, 1),
                rand(&[c], 0.5, 1.5, 2),
                rand(&[c], -0.5, 0.5, 3),
            ];
            for training in [true, false] {
                let r = gradcheck(
                    |v| {
                        let mut stats = RunningStats {
                            mean: rand(&[c], -0.2, 0.2, 4),
                            var: rand(&[c], 0.5, 2.0, 5),
                        };
                        batch_norm(
                            &v[0],
                            &v[1],
                            &v[2],
                            &mut stats,
                            training,
                            &BatchNormConfig::default(),
                        )
                    },
                    &xs,
                    &GradcheckOptions::default(),
                )
                .unwrap();
                r.check(1e-6)
                    .unwrap_or_else(|e| panic!("{shape:?} training={training}: {e}"));
            }
        }
    }

    #[test]
    fn batch_norm_rejects_bad_input() {
        let z = |s: &[usize]| Var::constant(Tensor::<f64>::zeros(s));
        let cfg = BatchNormConfig::default();
        let mut stats = RunningStats::new(3);
        assert!(batch_norm(&z(&[4]), &z(&[3]), &z(&[3]), &mut stats, true, &cfg).is_err());
        assert!(batch_norm(
            &z(&[4, 3, 1, 1, 1]),
            &z(&[3]),
            &z(&[3]),
            &mut stats,
            true,
            &cfg
        )
        .is_err());
        assert!(batch_norm(&z(&[4, 2]), &z(&[3]), &z(&[3]), &mut stats, true, &cfg).is_err());
        assert!(batch_norm(&z(&[4, 3]), &z(&[2]), &z(&[3]), &mut stats, true, &cfg).is_err());
        assert!(batch_norm(&z(&[1, 3]), &z(&[3]), &z(&[3]), &mut stats, true, &cfg).is_err());
        assert!(batch_norm(&z(&[1, 3]), &z(&[3]), &z(&[3]), &mut stats, false, &cfg).is_ok());
        assert!(batch_norm(&z(&[2, 3, 0]), &z(&[3]), &z(&[3]), &mut stats, false, &cfg).is_ok());
        let bad = BatchNormConfig {
            momentum: 1.5,
            ..cfg
        };
        assert!(batch_norm(&z(&[4, 3]), &z(&[3]), &z(&[3]), &mut stats, true, &bad).is_err());
        let mut wrong = RunningStats::new(2);
        let err = batch_norm(&z(&[4, 3]), &z(&[3]), &z(&[3]), &mut wrong, true, &cfg).unwrap_err();
        assert!(err.to_string().contains("running mean"), "{err}");
    }
}
