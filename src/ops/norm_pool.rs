//! Batch norm, ReLU and (optionally) max pooling as one op: the blocks of the improved
//! model (Conv → BatchNorm → ReLU → MaxPool), whose separate passes over a batch-sized
//! tensor cost more than the convolutions.
//!
//! Forward, per channel, with the statistics μ, σ of [`batch_norm`](super::batch_norm)
//! (the batch's in train mode, the running ones in eval mode):
//!
//! ```text
//! x̂ = (z − μ)/σ        v = γ·x̂ + β = a·z + b      (a = γ/σ, b = β − a·μ)
//! y[window] = max over the window of relu(v) = relu(max over the window of v)
//! ```
//!
//! ReLU never decreases, so it commutes with max: the pool runs on `v` (not on `z`: γ may
//! be negative) and ReLU touches only the pooled values. One pass over `z` takes the
//! statistics, a second normalises, pools and writes only `y` (a quarter of `z` for 2×2
//! windows) and each window's winner p*, the first largest `v` in raster order, as
//! `max_pool2d` picks it.
//!
//! Backward: the pool hands `dy` to its winner, ReLU passes it if its input was positive
//! (`y > 0`), so `dv`, the gradient of batch norm's output, is
//!
//! ```text
//! dv[p*] = dy[window]·[y[window] > 0],   dv = 0 off the winners
//! ```
//!
//! and batch norm's rules (see `norm`) apply, with per-channel sums to which only the
//! winners contribute:
//!
//! ```text
//! dβ = Σ dv      dγ = Σ dv·x̂
//! dz = (γ/σ)·(dv − mean(dv) − x̂·mean(dv·x̂))      train mode (means over the N·H·W values)
//! dz = (γ/σ)·dv                                 eval mode
//! ```
//!
//! So backward reads `dy` and `z` at the winners for the sums, then writes `dz` in one
//! pass over `z`, into `z`'s own storage when nothing else holds it. Without a pool every
//! pixel is its own window: `y = relu(v)`, `dv = dy·[y > 0]`. The values and gradients
//! equal those of `batch_norm` → `relu` → `max_pool2d` (the tests check both).

use super::norm::{check_inputs, normalising_stats, BatchNormConfig, RunningStats};
use super::pool::pool_geometry;
use crate::kernels::norm_pool::{
    affine_relu_forward, affine_relu_max_pool2d_forward, norm_relu_backward,
    norm_relu_max_pool2d_backward, relu_grad_sums, relu_max_pool2d_grad_sums, Affine, GradSums,
    NormGrad, PooledGrad,
};
use crate::kernels::pool::PoolGeometry;
use crate::{Float, Result, Tensor, Var};
use rayon::prelude::*;

/// A max pool's window and step, (rows, columns) each; no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolWindow {
    pub size: (usize, usize),
    pub stride: (usize, usize),
}

/// `max_pool2d(relu(batch_norm(z, γ, β)))` for `z` (N, C, H, W), output
/// (N, C, PH, PW); with `pool` None, `relu(batch_norm(z, γ, β))` for any shape that
/// `batch_norm` takes. Train mode (`training`) normalises with the batch statistics and
/// updates `stats`, eval mode uses `stats`, exactly as [`batch_norm`](super::batch_norm).
pub fn batch_norm_relu_max_pool2d<T: Float>(
    z: &Var<T>,
    gamma: &Var<T>,
    beta: &Var<T>,
    stats: &mut RunningStats<T>,
    training: bool,
    config: &BatchNormConfig,
    pool: Option<PoolWindow>,
) -> Result<Var<T>> {
    let op = if pool.is_some() {
        "batch_norm_relu_max_pool2d"
    } else {
        "batch_norm_relu"
    };
    let dims = check_inputs(op, z.shape(), (gamma, beta), stats, training, config)?;
    let geometry = pool
        .map(|w| pool_geometry(op, z.shape(), w.size, w.stride).map(|(_, _, g)| g))
        .transpose()?;
    let (batch, channels, spatial) = dims;
    let (mean, inv_std) = normalising_stats(z.value().data(), dims, stats, training, config);
    let (g, b) = (gamma.value().data(), beta.value().data());
    let affine: Vec<Affine<T>> = (0..channels)
        .map(|c| {
            let scale = g[c] * inv_std[c];
            Affine {
                scale,
                shift: b[c] - scale * mean[c],
            }
        })
        .collect();

    // Per sample: C planes of z in, C planes of y (and their winners) out.
    let out_plane = geometry.as_ref().map_or(spatial, PoolGeometry::out_len);
    let (in_len, out_len) = ((channels * spatial).max(1), (channels * out_plane).max(1));
    let zs = z.value().data();
    let mut y = vec![T::ZERO; batch * channels * out_plane];
    let mut winners = vec![0u32; if geometry.is_some() { y.len() } else { 0 }];
    match &geometry {
        Some(pg) => y
            .par_chunks_mut(out_len)
            .zip(winners.par_chunks_mut(out_len))
            .zip(zs.par_chunks(in_len))
            .for_each(|((y_n, a_n), z_n)| {
                affine_relu_max_pool2d_forward(z_n, pg, &affine, y_n, a_n);
            }),
        None => y
            .par_chunks_mut(out_len)
            .zip(zs.par_chunks(in_len))
            .for_each(|(y_n, z_n)| affine_relu_forward(z_n, &affine, y_n)),
    }
    let y = Tensor::new(y, &output_shape(z.shape(), &geometry))?;

    let (z_kept, y_kept, gamma_kept) = (z.value().clone(), y.clone(), gamma.value().clone());
    let m = T::from_usize(batch * spatial);
    Ok(Var::from_op(op, y, &[z, gamma, beta], move |dy, needs| {
        let (zs, ys, dys) = (z_kept.data(), y_kept.data(), dy.data());
        // Σ dv and Σ dv·(z − μ) per (sample, channel), in parallel over samples, then
        // added in sample order: the same numbers on any thread count.
        let per_sample: Vec<Vec<GradSums<T>>> = zs
            .par_chunks(in_len)
            .zip(ys.par_chunks(out_len))
            .zip(dys.par_chunks(out_len))
            .enumerate()
            .map(|(n, ((z_n, y_n), dy_n))| {
                let mut sums = vec![GradSums::default(); channels];
                match &geometry {
                    Some(pg) => {
                        let argmax = &winners[n * out_len..][..out_len];
                        let pooled = PooledGrad {
                            y: y_n,
                            argmax,
                            dy: dy_n,
                        };
                        relu_max_pool2d_grad_sums(z_n, pg, &mean, pooled, &mut sums);
                    }
                    None => relu_grad_sums(z_n, &mean, y_n, dy_n, &mut sums),
                }
                sums
            })
            .collect();
        let mut sum_dv = vec![T::ZERO; channels];
        let mut sum_dv_dev = vec![T::ZERO; channels];
        for sums in &per_sample {
            for (c, s) in sums.iter().enumerate() {
                sum_dv[c] += s.dv;
                sum_dv_dev[c] += s.dv_dev;
            }
        }
        // Σ dv·x̂ = Σ dv·(z − μ) / σ.
        let sum_dv_xhat: Vec<T> = sum_dv_dev
            .iter()
            .zip(&inv_std)
            .map(|(&s, &k)| s * k)
            .collect();

        let dz = needs[0].then(|| {
            let gm = gamma_kept.data();
            let coef: Vec<NormGrad<T>> = (0..channels)
                .map(|c| {
                    let gain = gm[c] * inv_std[c];
                    let (slope, offset) = if training {
                        // −(γ/σ)·(x̂·mean(dv·x̂) + mean(dv)), with x̂ = (z − μ)/σ.
                        (
                            -gain * inv_std[c] * sum_dv_xhat[c] / m,
                            -gain * sum_dv[c] / m,
                        )
                    } else {
                        (T::ZERO, T::ZERO)
                    };
                    NormGrad {
                        center: mean[c],
                        gain,
                        slope,
                        offset,
                    }
                })
                .collect();
            let shape = z_kept.shape().to_vec();
            // z is not read again: its storage becomes dz (copied first if another op
            // still holds it), so backward allocates and zero-fills nothing full-size.
            let mut dz = z_kept.into_vec();
            dz.par_chunks_mut(in_len)
                .zip(ys.par_chunks(out_len))
                .zip(dys.par_chunks(out_len))
                .enumerate()
                .for_each(|(n, ((dz_n, y_n), dy_n))| match &geometry {
                    Some(pg) => {
                        let argmax = &winners[n * out_len..][..out_len];
                        let pooled = PooledGrad {
                            y: y_n,
                            argmax,
                            dy: dy_n,
                        };
                        norm_relu_max_pool2d_backward(dz_n, pg, &coef, pooled);
                    }
                    None => norm_relu_backward(dz_n, &coef, y_n, dy_n),
                });
            Tensor::new(dz, &shape).expect("dz has z's shape")
        });
        let per_channel = |v: Vec<T>| Tensor::new(v, &[channels]).expect("(C)");
        vec![
            dz,
            needs[1].then(|| per_channel(sum_dv_xhat)),
            needs[2].then(|| per_channel(sum_dv)),
        ]
    }))
}

/// (N, C, PH, PW) with a pool, `z`'s shape without.
fn output_shape(z: &[usize], geometry: &Option<PoolGeometry>) -> Vec<usize> {
    match geometry {
        Some(pg) => vec![z[0], z[1], pg.out_h(), pg.out_w()],
        None => z.to_vec(),
    }
}

#[cfg(test)]
#[path = "norm_pool_tests.rs"]
mod tests;
