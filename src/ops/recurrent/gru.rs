//! GRU over a whole sequence, Keras-style (`reset_after = True`, the Keras 2/3 default),
//! with backward through time.
//!
//! Weights are fused over the three gates in Keras order z (update), r (reset), h̃
//! (candidate): `W: (F, 3H)`, `U: (H, 3H)`, and the bias is `(2, 3H)`: row 0 the input
//! bias b_i, row 1 the recurrent bias b_r. "Reset after" means the reset gate multiplies
//! the recurrent projection (bias included) after the matrix product. For each step t:
//!
//! ```text
//! p_t = x_t·W + b_i                    = [p_z | p_r | p_h]
//! q_t = h_{t−1}·U + b_r                = [q_z | q_r | q_h]
//! z = σ(p_z + q_z)    r = σ(p_r + q_r)    h̃ = tanh(p_h + r⊙q_h)
//! h_t = z⊙h_{t−1} + (1 − z)⊙h̃
//! ```
//!
//! Backward, from t = T−1 down to 0, with dh_t = (gradient from the output at t)
//! + (gradient from step t+1):
//!
//! ```text
//! dz = dh_t⊙(h_{t−1} − h̃)       dh̃ = dh_t⊙(1 − z)
//! da_h = dh̃⊙(1 − h̃²)            (pre-activation of h̃)
//! da_r = da_h⊙q_h⊙r(1 − r)       da_z = dz⊙z(1 − z)
//! dp_t = [da_z | da_r | da_h]      dq_t = [da_z | da_r | da_h⊙r]
//! dh_{t−1} = dh_t⊙z + dq_t·Uᵀ     (one gemm per step)
//! ```
//!
//! and once all steps are done: `dX = dP·Wᵀ`, `dW = Xᵀ·dP`, `dU = Σ_t h_{t−1}ᵀ·dq_t`,
//! `db_i = Σ_{n,t} dp`, `db_r = Σ_{n,t} dq`, `dh0 = dh_{−1}`. The forward keeps z, r, h̃,
//! q_h and h_t per step.

use super::{
    a_bt, at_b, check_shapes, concat, last_step, output_grad, previous_hidden, project_inputs,
    rows_per_chunk, sum_parts, Dims,
};
use crate::kernels::gates::{sigmoid_in_place, tanh_in_place};
use crate::kernels::gemm;
use crate::ops::linear::column_sums;
use crate::ops::transposed;
use crate::{Error, Float, Result, Tensor, Var};
use rayon::prelude::*;

/// GRU (reset_after) over `x: (N, T, F)` with kernel `w: (F, 3H)`, recurrent kernel
/// `u: (H, 3H)`, bias `b: (2, 3H)` (input bias, recurrent bias) and optional initial state
/// `h0: (N, H)` (zeros when absent). Returns `(N, T, H)` if `return_sequences`, else the
/// last `h_T` `(N, H)`.
pub fn gru<T: Float>(
    x: &Var<T>,
    w: &Var<T>,
    u: &Var<T>,
    b: &Var<T>,
    h0: Option<&Var<T>>,
    return_sequences: bool,
) -> Result<Var<T>> {
    let d = check_shapes(
        "gru",
        3,
        x.shape(),
        w.shape(),
        u.shape(),
        &[("h0", h0.map(|v| v.shape()))],
    )?;
    if b.shape() != [2, 3 * d.h] {
        return Err(Error::shape(
            "gru",
            format!(
                "bias must be (2, 3H) = [2, {}], got {:?}",
                3 * d.h,
                b.shape()
            ),
        ));
    }
    let weights = Weights {
        w: w.value().clone(),
        u: u.value().clone(),
        h0: h0.map(|v| v.value().clone()),
    };
    let seq = forward(x.value().data(), b.value().data(), &weights, d);
    let y = if return_sequences {
        Tensor::new(seq.hs.clone(), &[d.n, d.t, d.h])?
    } else {
        Tensor::new(last_step(&seq.hs, d), &[d.n, d.h])?
    };

    let x_kept = x.value().clone();
    let mut inputs = vec![x, w, u, b];
    inputs.extend(h0);
    Ok(Var::from_op("gru", y, &inputs, move |g, needs| {
        let want = [needs[0], needs[1], needs[2], needs[3]];
        let mut parts = backward(
            &seq,
            x_kept.data(),
            g.data(),
            &weights,
            want,
            return_sequences,
            d,
        );
        let g3 = 3 * d.h;
        let mut grads = vec![
            want[0].then(|| {
                concat(
                    parts.iter_mut().map(|p| std::mem::take(&mut p.dx)),
                    &[d.n, d.t, d.f],
                )
            }),
            want[1].then(|| {
                sum_parts(
                    parts.iter_mut().map(|p| std::mem::take(&mut p.dw)),
                    &[d.f, g3],
                )
            }),
            want[2].then(|| {
                sum_parts(
                    parts.iter_mut().map(|p| std::mem::take(&mut p.du)),
                    &[d.h, g3],
                )
            }),
            want[3].then(|| {
                sum_parts(
                    parts.iter_mut().map(|p| std::mem::take(&mut p.db)),
                    &[2, g3],
                )
            }),
        ];
        if needs.len() == 5 {
            grads.push(needs[4].then(|| {
                concat(
                    parts.iter_mut().map(|p| std::mem::take(&mut p.dh0)),
                    &[d.n, d.h],
                )
            }));
        }
        grads
    }))
}

/// The kernels and initial state, kept for backward.
struct Weights<T: Float> {
    w: Tensor<T>,
    u: Tensor<T>,
    h0: Option<Tensor<T>>,
}

/// What the forward keeps for backward, all `(N, T, ·)`: activations `[z|r|h̃]` (3H),
/// the recurrent candidate projection q_h (H), and h_t (H).
struct Sequence<T> {
    gates: Vec<T>,
    q_h: Vec<T>,
    hs: Vec<T>,
}

/// Rows `n0..n0 + d.n` of the initial state, if there is one.
fn h0_rows<T: Float>(h0: &Option<Tensor<T>>, n0: usize, d: Dims) -> Option<&[T]> {
    h0.as_ref().map(|s| &s.data()[n0 * d.h..(n0 + d.n) * d.h])
}

fn forward<T: Float>(x: &[T], b: &[T], w: &Weights<T>, d: Dims) -> Sequence<T> {
    let (g3, rows) = (3 * d.h, rows_per_chunk(d, 3));
    let per_row = d.t * d.h;
    let (b_in, b_rec) = b.split_at(g3);
    let mut seq = Sequence {
        gates: vec![T::ZERO; d.n * d.t * g3],
        q_h: vec![T::ZERO; d.n * per_row],
        hs: vec![T::ZERO; d.n * per_row],
    };
    let chunks: Vec<_> = seq
        .gates
        .chunks_mut(rows * d.t * g3)
        .zip(seq.q_h.chunks_mut(rows * per_row))
        .zip(seq.hs.chunks_mut(rows * per_row))
        .enumerate()
        .collect();
    chunks.into_par_iter().for_each(|(k, ((gates, q_h), hs))| {
        let n0 = k * rows;
        let dc = Dims {
            n: hs.len() / per_row,
            ..d
        };
        project_inputs(
            &x[n0 * d.t * d.f..(n0 + dc.n) * d.t * d.f],
            w.w.data(),
            b_in,
            d.f,
            gates,
        );
        forward_chunk(
            gates,
            q_h,
            hs,
            w.u.data(),
            b_rec,
            h0_rows(&w.h0, n0, dc),
            dc,
        );
    });
    seq
}

/// The sequence loop for one chunk of batch rows; `gates` holds the input projections
/// p_t and is turned into the activations in place.
fn forward_chunk<T: Float>(
    gates: &mut [T],
    q_h: &mut [T],
    hs: &mut [T],
    u: &[T],
    b_rec: &[T],
    h0: Option<&[T]>,
    d: Dims,
) {
    let Dims {
        n: batch,
        t: steps,
        h,
        ..
    } = d;
    let g3 = 3 * h;
    let mut h_prev = h0.map_or_else(|| vec![T::ZERO; batch * h], <[T]>::to_vec);
    let mut q = vec![T::ZERO; batch * g3];

    for t in 0..steps {
        for row in q.chunks_exact_mut(g3) {
            row.copy_from_slice(b_rec);
        }
        gemm(batch, h, g3, &h_prev, false, u, false, T::ONE, &mut q);
        for n in 0..batch {
            let row = n * steps + t;
            let a = &mut gates[row * g3..(row + 1) * g3];
            let q_row = &q[n * g3..(n + 1) * g3];
            for (a, &qv) in a[..2 * h].iter_mut().zip(&q_row[..2 * h]) {
                *a += qv;
            }
            sigmoid_in_place(&mut a[..2 * h]);
            let (zr, cand) = a.split_at_mut(2 * h);
            let (z, r) = zr.split_at(h);
            let q_cand = &q_row[2 * h..];
            for k in 0..h {
                cand[k] += r[k] * q_cand[k];
            }
            tanh_in_place(cand);
            let hp_row = &mut h_prev[n * h..(n + 1) * h];
            let hs_row = &mut hs[row * h..(row + 1) * h];
            for k in 0..h {
                let hv = z[k] * hp_row[k] + (T::ONE - z[k]) * cand[k];
                hp_row[k] = hv;
                hs_row[k] = hv;
            }
            q_h[row * h..(row + 1) * h].copy_from_slice(q_cand);
        }
    }
}

/// One chunk's share of the gradients: its rows of dX and dh0, and its partial sums of
/// dW, dU, db (empty when not wanted).
struct Part<T> {
    dx: Vec<T>,
    dw: Vec<T>,
    du: Vec<T>,
    db: Vec<T>,
    dh0: Vec<T>,
}

/// `want`: gradients asked for x, w, u, b.
fn backward<T: Float>(
    seq: &Sequence<T>,
    x: &[T],
    g: &[T],
    w: &Weights<T>,
    want: [bool; 4],
    return_sequences: bool,
    d: Dims,
) -> Vec<Part<T>> {
    let (g3, rows) = (3 * d.h, rows_per_chunk(d, 3));
    let u_t = transposed(w.u.data(), d.h, g3);
    let out_per_row = if return_sequences { d.t * d.h } else { d.h };
    (0..d.n.div_ceil(rows))
        .into_par_iter()
        .map(|k| {
            let n0 = k * rows;
            let dc = Dims {
                n: rows.min(d.n - n0),
                ..d
            };
            let span = |width: usize| n0 * d.t * width..(n0 + dc.n) * d.t * width;
            let view = SeqView {
                gates: &seq.gates[span(g3)],
                q_h: &seq.q_h[span(d.h)],
                hs: &seq.hs[span(d.h)],
            };
            let g_rows = &g[n0 * out_per_row..(n0 + dc.n) * out_per_row];
            let h0 = h0_rows(&w.h0, n0, dc);
            let (dp, dq, dh0) = backward_chunk(&view, g_rows, &u_t, h0, return_sequences, dc);
            Part {
                dx: if want[0] {
                    a_bt(&dp, w.w.data(), g3, d.f)
                } else {
                    Vec::new()
                },
                dw: if want[1] {
                    at_b(&x[span(d.f)], &dp, d.f, g3)
                } else {
                    Vec::new()
                },
                du: if want[2] {
                    at_b(&previous_hidden(view.hs, h0, dc), &dq, d.h, g3)
                } else {
                    Vec::new()
                },
                db: if want[3] {
                    let mut db = column_sums(&dp, g3);
                    db.extend(column_sums(&dq, g3));
                    db
                } else {
                    Vec::new()
                },
                dh0,
            }
        })
        .collect()
}

/// Read-only rows of a [`Sequence`].
struct SeqView<'a, T> {
    gates: &'a [T],
    q_h: &'a [T],
    hs: &'a [T],
}

/// BPTT for one chunk of rows: the gradients of every step's input pre-activations `dP`
/// and recurrent pre-activations `dQ` (both `(n, T, 3H)`), and of the initial state.
fn backward_chunk<T: Float>(
    seq: &SeqView<'_, T>,
    g: &[T],
    u_t: &[T],
    h0: Option<&[T]>,
    return_sequences: bool,
    d: Dims,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let Dims {
        n: batch,
        t: steps,
        h,
        ..
    } = d;
    let g3 = 3 * h;
    let one = T::ONE;
    let mut dp = vec![T::ZERO; batch * steps * g3];
    let mut dq = vec![T::ZERO; batch * steps * g3];
    let mut dq_step = vec![T::ZERO; batch * g3];
    // dh_{t−1}: the direct path dh⊙z is written first, then dq·Uᵀ is added by the gemm.
    let mut dh_next = vec![T::ZERO; batch * h];
    let zeros = vec![T::ZERO; h];

    for t in (0..steps).rev() {
        for n in 0..batch {
            let row = n * steps + t;
            let act = &seq.gates[row * g3..(row + 1) * g3];
            let (z, r, hh) = (&act[..h], &act[h..2 * h], &act[2 * h..]);
            let qh = &seq.q_h[row * h..(row + 1) * h];
            let h_prev = if t > 0 {
                &seq.hs[(row - 1) * h..row * h]
            } else {
                h0.map_or(&zeros[..], |v| &v[n * h..(n + 1) * h])
            };
            let from_out = output_grad(g, return_sequences, d, t, n);
            let dh_row = &mut dh_next[n * h..(n + 1) * h];
            let dq_row = &mut dq_step[n * g3..(n + 1) * g3];
            let dp_row = &mut dp[row * g3..(row + 1) * g3];
            for k in 0..h {
                let dh = dh_row[k] + from_out.map_or(T::ZERO, |o| o[k]);
                let da_z = dh * (h_prev[k] - hh[k]) * z[k] * (one - z[k]);
                let da_h = dh * (one - z[k]) * (one - hh[k] * hh[k]);
                let da_r = da_h * qh[k] * r[k] * (one - r[k]);
                dp_row[k] = da_z;
                dp_row[h + k] = da_r;
                dp_row[2 * h + k] = da_h;
                dq_row[k] = da_z;
                dq_row[h + k] = da_r;
                dq_row[2 * h + k] = da_h * r[k];
                dh_row[k] = dh * z[k];
            }
            dq[row * g3..(row + 1) * g3].copy_from_slice(dq_row);
        }
        gemm(
            batch,
            g3,
            h,
            &dq_step,
            false,
            u_t,
            false,
            T::ONE,
            &mut dh_next,
        );
    }
    (dp, dq, dh_next)
}
