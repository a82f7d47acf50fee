//! Convolution, activation and max pooling as one op: the first block of the coursework
//! CNNs (Conv → LeakyReLU/ReLU → MaxPool), computed per sample in cache.
//!
//! Forward, with `z = conv(x, w) + b` and `act(v) = v` for `v > 0`, `s·v` otherwise
//! (`s ≥ 0`: `s = 0` is ReLU, `s = 0.3` the coursework's LeakyReLU):
//!
//! ```text
//! y[o, r, q] = max over the window (r, q) of act(z[o, ·, ·]) = act(z[o, p*])
//! ```
//!
//! where `p*` is the window's (first) largest `z`: an activation that never decreases
//! commutes with max, so the pool can read `z` and the activation touch only the
//! winners. With the direct algorithm the kernel `conv2d_max_pool_forward` pools each
//! band of `z` in registers (`z` is never stored); with im2col `z` lives in a per-sample
//! buffer. Either way nothing of it is kept for backward but the winners' positions.
//!
//! Backward by the chain rule through the three pieces: the pool passes `dy` to the
//! winner, the activation multiplies by `act'(z[p*])` (1 if `y > 0`, else `s`: the sign
//! of `y` is the sign of `z`), and the convolution's rules (see `conv`) apply to a `dz`
//! that is zero except at the winners:
//!
//! ```text
//! dz[o, p*] = dy[o, r, q] · act'(z[o, p*])
//! dw = Σ_winners dz · patch(x, p*),   db[o] = Σ_winners dz[o, ·],   dx = Σ_winners dz · w
//! ```
//!
//! so backward costs one pass over the winners (a quarter or a sixteenth of `z`), not
//! over the whole convolution output. A first layer's input needs no `dx`; its `dw` is
//! then `conv2d_sparse_weight_grad`, a patch per winner, at any pool size. The values and gradients equal those of
//! `conv2d` → `leaky_relu` → `max_pool2d` (tests check both against each other).

use super::conv::{plan_1d, Conv1dOptions, Conv2dOptions, ConvPlan, ConvScratch};
use super::pool::pool_geometry;
use crate::kernels::activation::{leaky_relu, leaky_relu_backward};
use crate::kernels::conv_pool::{conv2d_max_pool_forward, ConvPoolScratch};
use crate::kernels::conv_sparse::{
    conv2d_sparse_backward, conv2d_sparse_weight_grad, SparseScratch,
};
use crate::kernels::pool::{max_pool2d_forward, PoolGeometry};
use crate::kernels::reduce::sum;
use crate::kernels::Float;
use crate::{Error, Result, Tensor, Var};
use rayon::prelude::*;

/// When the input needs a gradient, pool windows of at least this many pixels take the
/// sparse backward (measured on the coursework's blocks: the 4×4 pool after an 8×8
/// kernel gains, the 2×2 pool after a 4×4 kernel loses to the dense per-sample backward).
/// Without an input gradient the sparse weight gradient wins at any pool size.
const SPARSE_MIN_POOL_AREA: usize = 9;

/// The pool over each convolution output plane, checked as any max pool is.
fn pool_over(
    op: &'static str,
    plan: &ConvPlan,
    pool: (usize, usize),
    stride: (usize, usize),
) -> Result<PoolGeometry> {
    let conv_out = [plan.batch, plan.c_out, plan.g.out_h(), plan.g.out_w()];
    pool_geometry(op, &conv_out, pool, stride).map(|(_, _, pg)| pg)
}

fn check_slope<T: Float>(op: &'static str, slope: T) -> Result<()> {
    let s = slope.to_f64();
    if s.is_finite() && s >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{op}: the activation slope must be finite and ≥ 0 (max commutes only with a \
             non-decreasing activation), got {s}"
        )))
    }
}

/// Run the fused op for a checked plan; `out_shape` is (N, O, PH, PW) or (N, O, PL).
fn record<T: Float>(
    op: &'static str,
    plan: ConvPlan,
    pg: PoolGeometry,
    slope: T,
    (x, w, bias): (&Var<T>, &Var<T>, Option<&Var<T>>),
    out_shape: Vec<usize>,
) -> Result<Var<T>> {
    let (xv, wv) = (x.value().clone(), w.value().clone());
    let (in_len, conv_len) = (plan.g.input_len(), plan.out_len());
    let out_len = plan.c_out * pg.out_len();
    let group = plan.group_size();
    let mut y = vec![T::ZERO; plan.batch * out_len];
    let mut winners = vec![0u32; plan.batch * out_len];
    let b = bias.map(|b| b.value().data());
    y.par_chunks_mut(group * out_len)
        .zip(winners.par_chunks_mut(group * out_len))
        .zip(xv.data().par_chunks(group * in_len))
        .for_each(|((y_group, a_group), x_group)| {
            let (mut scratch, mut fused) = (ConvScratch::default(), ConvPoolScratch::default());
            let (mut z, mut pooled) = (Vec::new(), vec![T::ZERO; out_len]);
            for ((y_n, a_n), x_n) in y_group
                .chunks_exact_mut(out_len)
                .zip(a_group.chunks_exact_mut(out_len))
                .zip(x_group.chunks_exact(in_len))
            {
                let w = wv.data();
                if plan.is_direct::<T>() {
                    // Convolution and pool in one kernel, the output never in memory.
                    conv2d_max_pool_forward(x_n, &plan.g, w, b, &pg, &mut pooled, a_n, &mut fused);
                } else {
                    z.resize(conv_len, T::ZERO);
                    plan.forward_sample(x_n, w, b, &mut z, &mut scratch);
                    max_pool2d_forward(&z, &pg, &mut pooled, a_n);
                }
                leaky_relu(slope, &pooled, y_n);
            }
        });
    let y = Tensor::new(y, &out_shape)?;
    let y_kept = y.clone();
    let mut inputs = vec![x, w];
    inputs.extend(bias);
    let has_bias = bias.is_some();
    Ok(Var::from_op(op, y, &inputs, move |dy, needs| {
        let (need_dx, need_dw) = (needs[0], needs[1]);
        let need_db = has_bias && needs[2];
        let mut dx = vec![T::ZERO; if need_dx { xv.len() } else { 0 }];
        let dx_groups: Vec<&mut [T]> = if need_dx {
            dx.chunks_mut(group * in_len).collect()
        } else {
            (0..plan.batch.div_ceil(group))
                .map(|_| <&mut [T]>::default())
                .collect()
        };
        let w_len = wv.len();
        let step = BackwardStep {
            plan: &plan,
            pg: &pg,
            slope,
            w: wv.data(),
            need_dw,
            need_db,
        };
        // Per-group partial (dw, db), summed in group order: the result does not depend
        // on scheduling.
        let partials: Vec<(Vec<T>, Vec<T>)> = dx_groups
            .into_par_iter()
            .zip(xv.data().par_chunks(group * in_len))
            .zip(dy.data().par_chunks(group * out_len))
            .zip(y_kept.data().par_chunks(group * out_len))
            .zip(winners.par_chunks(group * out_len))
            .map(|((((dx_group, x_group), dy_group), y_group), a_group)| {
                let dx_group = need_dx.then_some(dx_group);
                step.group(dx_group, x_group, dy_group, y_group, a_group)
            })
            .collect();
        let mut dw = need_dw.then(|| vec![T::ZERO; w_len]);
        let mut db = need_db.then(|| vec![T::ZERO; plan.c_out]);
        for (pdw, pdb) in &partials {
            if let Some(dw) = &mut dw {
                dw.iter_mut().zip(pdw).for_each(|(a, b)| *a += *b);
            }
            if let Some(db) = &mut db {
                db.iter_mut().zip(pdb).for_each(|(a, b)| *a += *b);
            }
        }
        let as_tensor = |v: Option<Vec<T>>, shape: &[usize]| {
            v.map(|v| Tensor::new(v, shape).expect("gradient has its input's size"))
        };
        let mut grads = vec![
            as_tensor(need_dx.then_some(dx), xv.shape()),
            as_tensor(dw, wv.shape()),
        ];
        if has_bias {
            grads.push(as_tensor(db, &[plan.c_out]));
        }
        grads
    }))
}

/// What the backward pass of one group of samples needs.
struct BackwardStep<'a, T> {
    plan: &'a ConvPlan,
    pg: &'a PoolGeometry,
    slope: T,
    w: &'a [T],
    need_dw: bool,
    need_db: bool,
}

impl<T: Float> BackwardStep<'_, T> {
    /// The group's partial (dw, db); `dx_group`, when given, receives the input gradient.
    fn group(
        &self,
        dx_group: Option<&mut [T]>,
        x_group: &[T],
        dy_group: &[T],
        y_group: &[T],
        a_group: &[u32],
    ) -> (Vec<T>, Vec<T>) {
        let (plan, g) = (self.plan, &self.plan.g);
        let (in_len, out_len, per_channel) = (
            g.input_len(),
            plan.c_out * self.pg.out_len(),
            self.pg.out_len(),
        );
        let mut dw = vec![T::ZERO; if self.need_dw { self.w.len() } else { 0 }];
        let mut db = vec![T::ZERO; if self.need_db { plan.c_out } else { 0 }];
        let need_dx = dx_group.is_some();
        let mut dx_samples = dx_group.map(|d| d.chunks_exact_mut(in_len));
        // Winners one by one pay for large pools and wide kernels; with an input gradient
        // small ones (2×2 pools, 4-wide kernel rows) run faster through the dense backward.
        let sparse = self.pg.pool_h * self.pg.pool_w >= SPARSE_MIN_POOL_AREA;
        let (mut dense, mut scratch) = (Vec::new(), ConvScratch::default());
        let (mut dz, mut sparse_scratch) = (vec![T::ZERO; out_len], SparseScratch::default());
        let samples = x_group
            .chunks_exact(in_len)
            .zip(dy_group.chunks_exact(out_len))
            .zip(y_group.chunks_exact(out_len))
            .zip(a_group.chunks_exact(out_len));
        for (((x_n, dy_n), y_n), a_n) in samples {
            // dz at the winners: dy times the activation's slope there (y > 0 where z > 0).
            leaky_relu_backward(self.slope, y_n, dy_n, &mut dz);
            if self.need_db {
                for (acc, run) in db.iter_mut().zip(dz.chunks_exact(per_channel)) {
                    *acc += sum(run);
                }
            }
            let dx_n = dx_samples.as_mut().and_then(|d| d.next());
            if !self.need_dw && dx_n.is_none() {
                continue;
            }
            if !need_dx && (sparse || plan.is_direct::<T>()) {
                // No input gradient (a first layer): dw alone, patch by patch at the
                // winners, costs a pool area less than the dense backward.
                conv2d_sparse_weight_grad(x_n, g, a_n, &dz, &mut dw, &mut sparse_scratch);
                continue;
            }
            let dw_n = self.need_dw.then_some(dw.as_mut_slice());
            if sparse {
                conv2d_sparse_backward(x_n, g, self.w, a_n, &dz, dw_n, dx_n);
                continue;
            }
            // Scatter the winners into a dense dz (one sample, in cache) for the
            // convolution's own backward.
            dense.clear();
            dense.resize(plan.out_len(), T::ZERO);
            let planes = dense.chunks_exact_mut(g.out_pixels());
            for ((plane, a), d) in planes
                .zip(a_n.chunks_exact(per_channel))
                .zip(dz.chunks_exact(per_channel))
            {
                for (&at, &v) in a.iter().zip(d) {
                    plane[at as usize] += v;
                }
            }
            plan.backward_sample(x_n, self.w, &dense, dx_n, dw_n, &mut scratch);
        }
        plan.finish_weight_grad(&mut scratch, &mut dw);
        (dw, db)
    }
}

/// `max_pool2d(act(conv2d(x, w, bias)))` for `x` (N, C, H, W), `w` (O, C, kh, kw),
/// `bias` (O): the activation is `v ↦ v` for `v > 0`, `slope·v` otherwise (`slope` 0 is
/// ReLU), then `pool` windows moved by `stride`, no padding. Output (N, O, PH, PW).
pub fn conv2d_act_max_pool<T: Float>(
    x: &Var<T>,
    w: &Var<T>,
    bias: Option<&Var<T>>,
    conv: &Conv2dOptions,
    slope: T,
    pool: (usize, usize),
    stride: (usize, usize),
) -> Result<Var<T>> {
    const OP: &str = "conv2d_act_max_pool";
    check_slope(OP, slope)?;
    let plan = ConvPlan::new(
        OP,
        x.shape(),
        w.shape(),
        bias.map(|b| b.shape()),
        conv.stride,
        conv.padding,
        conv.algorithm,
    )?;
    let pg = pool_over(OP, &plan, pool, stride)?;
    let out = vec![plan.batch, plan.c_out, pg.out_h(), pg.out_w()];
    record(OP, plan, pg, slope, (x, w, bias), out)
}

/// The 1-d form for `x` (N, C, L), `w` (O, C, k), `bias` (O): output (N, O, PL).
pub fn conv1d_act_max_pool<T: Float>(
    x: &Var<T>,
    w: &Var<T>,
    bias: Option<&Var<T>>,
    conv: &Conv1dOptions,
    slope: T,
    pool: usize,
    stride: usize,
) -> Result<Var<T>> {
    const OP: &str = "conv1d_act_max_pool";
    check_slope(OP, slope)?;
    let plan = plan_1d(x.shape(), w.shape(), bias.map(|b| b.shape()), conv)?;
    let pg = pool_over(OP, &plan, (1, pool), (1, stride))?;
    let out = vec![plan.batch, plan.c_out, pg.out_w()];
    record(OP, plan, pg, slope, (x, w, bias), out)
}

#[cfg(test)]
#[path = "conv_pool_tests.rs"]
mod tests;
