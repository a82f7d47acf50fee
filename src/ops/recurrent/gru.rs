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
    check_shapes, grad_input, grad_kernel, last_step, output_grad, previous_hidden,
    project_inputs, Dims,
};
use crate::kernels::gates::{sigmoid_in_place, tanh_in_place};
use crate::kernels::gemm;
use crate::ops::linear::column_sums;
use crate::{Error, Float, Result, Tensor, Var};

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
    let d = check_shapes("gru", 3, x.shape(), w.shape(), u.shape(), &[("h0", h0.map(|v| v.shape()))])?;
    if b.shape() != [2, 3 * d.h] {
        return Err(Error::shape("gru", format!("bias must be (2, 3H) = [2, {}], got {:?}", 3 * d.h, b.shape())));
    }
    let h0_value = h0.map(|v| v.value().clone());
    let seq = forward(x.value(), w.value(), u.value(), b.value(), h0_value.as_ref(), d);
    let y = if return_sequences {
        Tensor::new(seq.hs.clone(), &[d.n, d.t, d.h])?
    } else {
        Tensor::new(last_step(&seq.hs, d), &[d.n, d.h])?
    };

    let (x_kept, w_kept, u_kept) = (x.value().clone(), w.value().clone(), u.value().clone());
    let mut inputs = vec![x, w, u, b];
    inputs.extend(h0);
    Ok(Var::from_op("gru", y, &inputs, move |g, needs| {
        let back = backward(&seq, g.data(), &u_kept, h0_value.as_ref(), return_sequences, d);
        let (rows, g3) = (d.n * d.t, 3 * d.h);
        let mut grads = vec![
            needs[0].then(|| grad_input(&back.dp, &w_kept, d, g3)),
            needs[1].then(|| grad_kernel(x_kept.data(), &back.dp, rows, d.f, g3)),
            needs[2].then(|| {
                let prev = previous_hidden(&seq.hs, h0_value.as_ref(), d);
                grad_kernel(&prev, &back.dq, rows, d.h, g3)
            }),
            needs[3].then(|| {
                let mut db = column_sums(&back.dp, g3);
                db.extend(column_sums(&back.dq, g3));
                Tensor::new(db, &[2, g3]).expect("bias shape")
            }),
        ];
        if needs.len() == 5 {
            grads.push(needs[4].then(|| Tensor::new(back.dh0, &[d.n, d.h]).expect("h0 shape")));
        }
        grads
    }))
}

/// What the forward keeps for backward, all `(N, T, ·)`: activations `[z|r|h̃]` (3H),
/// the recurrent candidate projection q_h (H), and h_t (H).
struct Sequence<T> {
    gates: Vec<T>,
    q_h: Vec<T>,
    hs: Vec<T>,
}

fn forward<T: Float>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    u: &Tensor<T>,
    b: &Tensor<T>,
    h0: Option<&Tensor<T>>,
    d: Dims,
) -> Sequence<T> {
    let Dims { n: batch, t: steps, f, h } = d;
    let g3 = 3 * h;
    let (b_in, b_rec) = b.data().split_at(g3);
    // Input pre-activations p_t for every step; turned into activations in place.
    let mut gates = project_inputs(x.data(), w.data(), b_in, batch * steps, f);
    let mut q_h = vec![T::ZERO; batch * steps * h];
    let mut hs = vec![T::ZERO; batch * steps * h];
    let mut h_prev = h0.map_or_else(|| vec![T::ZERO; batch * h], |t| t.data().to_vec());
    let mut q = vec![T::ZERO; batch * g3];

    for t in 0..steps {
        for row in q.chunks_exact_mut(g3) {
            row.copy_from_slice(b_rec);
        }
        gemm(batch, h, g3, &h_prev, false, u.data(), false, T::ONE, &mut q);
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
    Sequence { gates, q_h, hs }
}

/// Gradients w.r.t. every step's input pre-activations `dP`, recurrent pre-activations
/// `dQ` (both `(N, T, 3H)`) and the initial state.
struct Backward<T> {
    dp: Vec<T>,
    dq: Vec<T>,
    dh0: Vec<T>,
}

fn backward<T: Float>(
    seq: &Sequence<T>,
    g: &[T],
    u: &Tensor<T>,
    h0: Option<&Tensor<T>>,
    return_sequences: bool,
    d: Dims,
) -> Backward<T> {
    let Dims { n: batch, t: steps, h, .. } = d;
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
                h0.map_or(&zeros[..], |v| &v.data()[n * h..(n + 1) * h])
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
        gemm(batch, g3, h, &dq_step, false, u.data(), true, T::ONE, &mut dh_next);
    }
    Backward { dp, dq, dh0: dh_next }
}
