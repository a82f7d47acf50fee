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
    let pool = pool
        .map(|w| pool_geometry(op, z.shape(), w.size, w.stride).map(|(_, _, g)| g))
        .transpose()?;
    let (batch, channels, spatial) = dims;
    let layout = Layout::new(channels, spatial, pool);
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
    let (y, winners) = layout.forward(z.value().data(), &affine, batch);
    let out_shape = match &pool {
        Some(pg) => vec![batch, channels, pg.out_h(), pg.out_w()],
        None => z.shape().to_vec(),
    };
    let y = Tensor::new(y, &out_shape)?;

    let (z_kept, y_kept, gamma_kept) = (z.value().clone(), y.clone(), gamma.value().clone());
    let m = T::from_usize(batch * spatial); // values per channel
    Ok(Var::from_op(op, y, &[z, gamma, beta], move |dy, needs| {
        let (ys, dys) = (y_kept.data(), dy.data());
        let sums = layout.grad_sums(z_kept.data(), ys, dys, &winners, &mean);
        let sum_dv: Vec<T> = sums.iter().map(|s| s.dv).collect();
        // Σ dv·x̂ = Σ dv·(z − μ) / σ.
        let sum_dv_xhat: Vec<T> = sums
            .iter()
            .zip(&inv_std)
            .map(|(s, &k)| s.dv_dev * k)
            .collect();
        let dz = needs[0].then(|| {
            let gm = gamma_kept.data();
            let coef: Vec<NormGrad<T>> = (0..channels)
                .map(|c| {
                    let gain = gm[c] * inv_std[c];
                    // dz = gain·dv + slope·(z − μ) + offset: in train mode
                    // −(γ/σ)·(x̂·mean(dv·x̂) + mean(dv)) with x̂ = (z − μ)/σ; in eval mode
                    // the statistics are constants and only gain·dv is left.
                    let (slope, offset) = if training {
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
            layout.write_dz(&mut dz, ys, dys, &winners, &coef);
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

/// How the op walks its tensors: per sample, C planes of `z` in and C planes of `y` out
/// (pooled, or the same size without a pool), samples in parallel.
#[derive(Clone, Copy)]
struct Layout {
    channels: usize,
    /// z and y values per sample (at least 1, as chunk sizes).
    in_len: usize,
    out_len: usize,
    pool: Option<PoolGeometry>,
}

impl Layout {
    fn new(channels: usize, spatial: usize, pool: Option<PoolGeometry>) -> Self {
        let out_plane = pool.as_ref().map_or(spatial, PoolGeometry::out_len);
        Layout {
            channels,
            in_len: (channels * spatial).max(1),
            out_len: (channels * out_plane).max(1),
            pool,
        }
    }

    /// The output and, with a pool, each window's winner.
    fn forward<T: Float>(
        &self,
        zs: &[T],
        affine: &[Affine<T>],
        batch: usize,
    ) -> (Vec<T>, Vec<u32>) {
        let samples = if zs.is_empty() { 0 } else { batch }; // none in a zero-size z
        let mut y = vec![T::ZERO; samples * self.out_len];
        let mut winners = vec![0u32; if self.pool.is_some() { y.len() } else { 0 }];
        match &self.pool {
            Some(pg) => y
                .par_chunks_mut(self.out_len)
                .zip(winners.par_chunks_mut(self.out_len))
                .zip(zs.par_chunks(self.in_len))
                .for_each(|((y_n, a_n), z_n)| {
                    affine_relu_max_pool2d_forward(z_n, pg, affine, y_n, a_n);
                }),
            None => y
                .par_chunks_mut(self.out_len)
                .zip(zs.par_chunks(self.in_len))
                .for_each(|(y_n, z_n)| affine_relu_forward(z_n, affine, y_n)),
        }
        (y, winners)
    }

    /// Sample `n`'s share of what the pooled forward pass kept, with its `dy`.
    fn pooled<'a, T>(
        &self,
        n: usize,
        y: &'a [T],
        dy: &'a [T],
        winners: &'a [u32],
    ) -> PooledGrad<'a, T> {
        let argmax = &winners[n * self.out_len..][..self.out_len];
        PooledGrad { y, argmax, dy }
    }

    /// Per channel, Σ dv and Σ dv·(z − μ): per (sample, channel) in parallel over the
    /// samples, then added in sample order (the same numbers on any thread count).
    fn grad_sums<T: Float>(
        &self,
        zs: &[T],
        ys: &[T],
        dys: &[T],
        winners: &[u32],
        mean: &[T],
    ) -> Vec<GradSums<T>> {
        let per_sample: Vec<Vec<GradSums<T>>> = zs
            .par_chunks(self.in_len)
            .zip(ys.par_chunks(self.out_len))
            .zip(dys.par_chunks(self.out_len))
            .enumerate()
            .map(|(n, ((z_n, y_n), dy_n))| {
                let mut sums = vec![GradSums::default(); self.channels];
                match &self.pool {
                    Some(pg) => {
                        let pooled = self.pooled(n, y_n, dy_n, winners);
                        relu_max_pool2d_grad_sums(z_n, pg, mean, pooled, &mut sums);
                    }
                    None => relu_grad_sums(z_n, mean, y_n, dy_n, &mut sums),
                }
                sums
            })
            .collect();
        let mut total = vec![GradSums::default(); self.channels];
        for sums in &per_sample {
            for (t, s) in total.iter_mut().zip(sums) {
                t.dv += s.dv;
                t.dv_dev += s.dv_dev;
            }
        }
        total
    }

    /// Overwrite `z` (held in `dz`) with its gradient.
    fn write_dz<T: Float>(
        &self,
        dz: &mut [T],
        ys: &[T],
        dys: &[T],
        winners: &[u32],
        coef: &[NormGrad<T>],
    ) {
        dz.par_chunks_mut(self.in_len)
            .zip(ys.par_chunks(self.out_len))
            .zip(dys.par_chunks(self.out_len))
            .enumerate()
            .for_each(|(n, ((dz_n, y_n), dy_n))| match &self.pool {
                Some(pg) => {
                    let pooled = self.pooled(n, y_n, dy_n, winners);
                    norm_relu_max_pool2d_backward(dz_n, pg, coef, pooled);
                }
                None => norm_relu_backward(dz_n, coef, y_n, dy_n),
            });
    }
}

#[cfg(test)]
#[path = "norm_pool_tests.rs"]
mod tests;
