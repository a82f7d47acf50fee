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
//! winners. The full-size `z` lives only in a per-thread buffer, never in memory as a
//! batch tensor, and nothing of it is kept for backward but the winners' positions.
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
//! over the whole convolution output. The values and gradients equal those of
//! `conv2d` → `leaky_relu` → `max_pool2d` (tests check both against each other).

use super::conv::{plan_1d, Conv1dOptions, Conv2dOptions, ConvPlan, ConvScratch};
use super::pool::pool_geometry;
use crate::kernels::conv_sparse::conv2d_sparse_backward;
use crate::kernels::pool::{max_pool2d_forward, PoolGeometry};
use crate::kernels::Float;
use crate::{Error, Result, Tensor, Var};
use rayon::prelude::*;

/// Pool windows of at least this many pixels take the sparse backward (measured on the
/// coursework's blocks: the 4×4 pool after an 8×8 kernel gains, the 2×2 pool after a 4×4
/// kernel loses to the dense per-sample backward).
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
            let mut scratch = ConvScratch::default();
            let mut z = vec![T::ZERO; conv_len];
            for ((y_n, a_n), x_n) in y_group
                .chunks_exact_mut(out_len)
                .zip(a_group.chunks_exact_mut(out_len))
                .zip(x_group.chunks_exact(in_len))
            {
                plan.forward_sample(x_n, wv.data(), b, &mut z, &mut scratch);
                max_pool2d_forward(&z, &pg, y_n, a_n);
                for v in y_n.iter_mut() {
                    *v = if *v > T::ZERO { *v } else { slope * *v };
                }
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
        // dz at the winners: dy times the activation's slope there.
        let dz: Vec<T> = dy
            .data()
            .iter()
            .zip(y_kept.data())
            .map(|(&d, &v)| if v > T::ZERO { d } else { slope * d })
            .collect();
        let mut dx = vec![T::ZERO; if need_dx { xv.len() } else { 0 }];
        let dx_groups: Vec<&mut [T]> = if need_dx {
            dx.chunks_mut(group * in_len).collect()
        } else {
            (0..plan.batch.div_ceil(group))
                .map(|_| <&mut [T]>::default())
                .collect()
        };
        let (w_len, per_channel, conv_plane) = (wv.len(), pg.out_len(), plan.g.out_pixels());
        // Winners one by one pay for large pools and wide kernels; small ones (2×2 pools,
        // 4-wide kernel rows) run faster through the dense per-sample backward.
        let sparse = pg.pool_h * pg.pool_w >= SPARSE_MIN_POOL_AREA;
        // Per-group partial (dw, db), summed in group order: the result does not depend
        // on scheduling.
        let partials: Vec<(Vec<T>, Vec<T>)> = dx_groups
            .into_par_iter()
            .zip(xv.data().par_chunks(group * in_len))
            .zip(dz.par_chunks(group * out_len))
            .zip(winners.par_chunks(group * out_len))
            .map(|(((dx_group, x_group), dz_group), a_group)| {
                let mut dw = vec![T::ZERO; if need_dw { w_len } else { 0 }];
                let mut db = vec![T::ZERO; if need_db { plan.c_out } else { 0 }];
                let mut dx_samples = dx_group.chunks_exact_mut(in_len);
                let (mut dense, mut scratch) = (Vec::new(), ConvScratch::default());
                for ((x_n, dz_n), a_n) in x_group
                    .chunks_exact(in_len)
                    .zip(dz_group.chunks_exact(out_len))
                    .zip(a_group.chunks_exact(out_len))
                {
                    if need_db {
                        for (acc, run) in db.iter_mut().zip(dz_n.chunks_exact(per_channel)) {
                            *acc += run.iter().copied().sum::<T>();
                        }
                    }
                    let dx_n = if need_dx { dx_samples.next() } else { None };
                    let dw_n = need_dw.then_some(dw.as_mut_slice());
                    if sparse {
                        conv2d_sparse_backward(x_n, &plan.g, wv.data(), a_n, dz_n, dw_n, dx_n);
                        continue;
                    }
                    // Scatter the winners into a dense dz (one sample, in cache) for the
                    // convolution's own backward.
                    dense.clear();
                    dense.resize(conv_len, T::ZERO);
                    let planes = dense.chunks_exact_mut(conv_plane);
                    for ((plane, a), d) in planes
                        .zip(a_n.chunks_exact(per_channel))
                        .zip(dz_n.chunks_exact(per_channel))
                    {
                        for (&at, &v) in a.iter().zip(d) {
                            plane[at as usize] += v;
                        }
                    }
                    plan.backward_sample(x_n, wv.data(), &dense, dx_n, dw_n, &mut scratch);
                }
                (dw, db)
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
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};
    use crate::ops::conv::{conv1d, conv2d, Padding};
    use crate::ops::pool::{max_pool1d, max_pool2d};
    use crate::Tape;

    fn values(shape: &[usize], seed: u64) -> Tensor<f64> {
        let n: usize = shape.iter().product();
        // Distinct, irregular values: no ties in a window, no z exactly at 0.
        Tensor::from_fn(shape, |i| {
            let k = (i as u64 * 2654435761 + seed * 97) % 10007;
            (k as f64 / 10007.0 - 0.45) * (1.0 + (i % 5) as f64 * 0.1) + 1e-3 / n as f64
        })
    }

    type Composite = fn(&Var<f64>, &Var<f64>, &Var<f64>) -> Result<Var<f64>>;

    /// The fused op and the composition of the separate ops agree on values and on every
    /// gradient, and the fused op passes gradcheck.
    fn check(fused: Composite, composite: Composite, shapes: [&[usize]; 3]) {
        let inputs: Vec<Tensor<f64>> = shapes
            .iter()
            .enumerate()
            .map(|(k, s)| values(s, k as u64 + 1))
            .collect();
        let run = |f: Composite| {
            let tape = Tape::new();
            let v: Vec<Var<f64>> = inputs.iter().map(|t| tape.leaf(t.clone())).collect();
            let y = f(&v[0], &v[1], &v[2]).unwrap();
            // A non-uniform seed so every output's gradient matters differently.
            let seed = Tensor::from_fn(y.shape(), |i| 1.0 + (i % 7) as f64 * 0.25);
            let grads = y.backward_with(seed).unwrap();
            let g: Vec<Tensor<f64>> = v.iter().map(|v| grads.get(v).unwrap().clone()).collect();
            (y.value().clone(), g)
        };
        let (y_fused, g_fused) = run(fused);
        let (y_comp, g_comp) = run(composite);
        assert_eq!(y_fused.shape(), y_comp.shape());
        assert!(y_fused.max_abs_diff(&y_comp).unwrap() < 1e-12);
        for (a, b) in g_fused.iter().zip(&g_comp) {
            assert!(a.max_abs_diff(b).unwrap() < 1e-10, "gradients differ");
        }
        gradcheck(
            |v| fused(&v[0], &v[1], &v[2]),
            &inputs,
            &GradcheckOptions::default(),
        )
        .unwrap()
        .check(1e-6)
        .unwrap();
    }

    #[test]
    fn conv2d_leaky_pool_matches_the_composition() {
        fn fused(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
            conv2d_act_max_pool(x, w, Some(b), &Conv2dOptions::same(), 0.3, (2, 2), (2, 2))
        }
        fn composite(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
            let z = conv2d(x, w, Some(b), &Conv2dOptions::same())?;
            max_pool2d(&z.leaky_relu(0.3), (2, 2), (2, 2))
        }
        check(fused, composite, [&[2, 2, 6, 7], &[3, 2, 4, 4], &[3]]);
    }

    #[test]
    fn conv2d_relu_overlapping_pool_matches_the_composition() {
        fn fused(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
            let conv = Conv2dOptions::valid().with_stride(1, 2);
            conv2d_act_max_pool(x, w, Some(b), &conv, 0.0, (3, 2), (2, 1))
        }
        fn composite(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
            let z = conv2d(x, w, Some(b), &Conv2dOptions::valid().with_stride(1, 2))?;
            max_pool2d(&z.relu(), (3, 2), (2, 1))
        }
        check(fused, composite, [&[2, 3, 9, 9], &[2, 3, 3, 2], &[2]]);
    }

    #[test]
    fn conv1d_relu_pool_matches_the_composition() {
        fn opts() -> Conv1dOptions {
            Conv1dOptions {
                padding: Padding::Explicit {
                    top: 0,
                    bottom: 0,
                    left: 1,
                    right: 0,
                },
                ..Conv1dOptions::default()
            }
        }
        fn fused(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
            conv1d_act_max_pool(x, w, Some(b), &opts(), 0.0, 2, 2)
        }
        fn composite(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
            max_pool1d(&conv1d(x, w, Some(b), &opts())?.relu(), 2, 2)
        }
        // Six input channels: the im2col path (more than DIRECT_MAX_CHANNELS).
        check(fused, composite, [&[3, 6, 11], &[4, 6, 3], &[4]]);
    }

    #[test]
    fn bad_slope_and_oversized_pool_are_errors() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::zeros(&[1, 1, 4, 4]));
        let w = tape.leaf(Tensor::zeros(&[1, 1, 3, 3]));
        let opts = Conv2dOptions::valid();
        assert!(conv2d_act_max_pool(&x, &w, None, &opts, -0.1, (2, 2), (2, 2)).is_err());
        assert!(conv2d_act_max_pool(&x, &w, None, &opts, 0.0, (3, 3), (3, 3)).is_err());
        assert!(conv2d_act_max_pool(&x, &w, None, &opts, 0.0, (2, 2), (2, 2)).is_ok());
    }
}
