//! LSTM over a whole sequence, Keras-style, with backward through time.
//!
//! Weights are fused over the four gates in Keras order i, f, g (the cell candidate,
//! Keras' "c"), o: `W: (F, 4H)`, `U: (H, 4H)`, `b: (4H)`. For each step t:
//!
//! ```text
//! a_t = x_t·W + h_{t−1}·U + b                 (N, 4H) = [a_i | a_f | a_g | a_o]
//! i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//! c_t = f⊙c_{t−1} + i⊙g
//! h_t = o⊙tanh(c_t)
//! ```
//!
//! Backward, from t = T−1 down to 0, with dh_t = (gradient from the output at t)
//! + (gradient from step t+1), and dc carried from step t+1 (zero at the end):
//!
//! ```text
//! do   = dh_t⊙tanh(c_t)
//! dc_t = dc_t + dh_t⊙o⊙(1 − tanh²c_t)
//! di = dc_t⊙g    df = dc_t⊙c_{t−1}    dg = dc_t⊙i
//! da_i = di⊙i(1−i)   da_f = df⊙f(1−f)   da_g = dg⊙(1−g²)   da_o = do⊙o(1−o)
//! dc_{t−1} = dc_t⊙f
//! dh_{t−1} = da_t·Uᵀ                          (one gemm per step)
//! ```
//!
//! and once all da_t are known: `dX = dA·Wᵀ`, `dW = Xᵀ·dA`, `dU = Σ_t h_{t−1}ᵀ·da_t`
//! (one gemm over the shifted hidden sequence), `db = Σ_{n,t} da`, `dh0 = dh_{−1}`,
//! `dc0 = dc_{−1}`. The forward keeps, per step, the gate activations, c_t, tanh(c_t)
//! and h_t — nothing else.

use super::{
    check_shapes, grad_input, grad_kernel, last_step, output_grad, previous_hidden,
    project_inputs, Dims,
};
use crate::kernels::gates::{sigmoid_in_place, tanh_in_place};
use crate::kernels::gemm;
use crate::ops::linear::column_sums;
use crate::{Error, Float, Result, Tensor, Var};

/// LSTM over `x: (N, T, F)` with kernel `w_ih: (F, 4H)`, recurrent kernel `w_hh: (H, 4H)`,
/// bias `b: (4H)` and optional initial states `h0`, `c0: (N, H)` (zeros when absent).
/// Returns the hidden sequence `(N, T, H)` if `return_sequences`, else the last `h_T`
/// `(N, H)`.
pub fn lstm<T: Float>(
    x: &Var<T>,
    w_ih: &Var<T>,
    w_hh: &Var<T>,
    b: &Var<T>,
    h0: Option<&Var<T>>,
    c0: Option<&Var<T>>,
    return_sequences: bool,
) -> Result<Var<T>> {
    let d = check_shapes(
        "lstm",
        4,
        x.shape(),
        w_ih.shape(),
        w_hh.shape(),
        &[("h0", h0.map(|v| v.shape())), ("c0", c0.map(|v| v.shape()))],
    )?;
    if b.shape() != [4 * d.h] {
        return Err(Error::shape("lstm", format!("bias must be (4H) = [{}], got {:?}", 4 * d.h, b.shape())));
    }
    let h0_value = h0.map(|v| v.value().clone());
    let c0_value = c0.map(|v| v.value().clone());
    let seq = forward(x.value(), w_ih.value(), w_hh.value(), b.value(), h0_value.as_ref(), c0_value.as_ref(), d);

    let y = if return_sequences {
        Tensor::new(seq.hs.clone(), &[d.n, d.t, d.h])?
    } else {
        Tensor::new(last_step(&seq.hs, d), &[d.n, d.h])?
    };

    let (x_kept, w_ih_kept, w_hh_kept) = (x.value().clone(), w_ih.value().clone(), w_hh.value().clone());
    let mut inputs = vec![x, w_ih, w_hh, b];
    let h0_slot = h0.map(|v| {
        inputs.push(v);
        inputs.len() - 1
    });
    let c0_slot = c0.map(|v| {
        inputs.push(v);
        inputs.len() - 1
    });
    Ok(Var::from_op("lstm", y, &inputs, move |g, needs| {
        let back = backward(&seq, g.data(), &w_hh_kept, c0_value.as_ref(), return_sequences, d);
        let rows = d.n * d.t;
        let mut grads = vec![
            needs[0].then(|| grad_input(&back.da, &w_ih_kept, d, 4 * d.h)),
            needs[1].then(|| grad_kernel(x_kept.data(), &back.da, rows, d.f, 4 * d.h)),
            needs[2].then(|| {
                let prev = previous_hidden(&seq.hs, h0_value.as_ref(), d);
                grad_kernel(&prev, &back.da, rows, d.h, 4 * d.h)
            }),
            needs[3].then(|| Tensor::new(column_sums(&back.da, 4 * d.h), &[4 * d.h]).expect("bias")),
        ];
        let state = |v: Vec<T>| Some(Tensor::new(v, &[d.n, d.h]).expect("state shape"));
        if let Some(slot) = h0_slot {
            grads.push(if needs[slot] { state(back.dh0.clone()) } else { None });
        }
        if let Some(slot) = c0_slot {
            grads.push(if needs[slot] { state(back.dc0.clone()) } else { None });
        }
        grads
    }))
}

/// What the forward keeps for backward, all `(N, T, ·)`: gate activations `[i|f|g|o]`
/// (4H), c_t, tanh(c_t), h_t (H each).
struct Sequence<T> {
    gates: Vec<T>,
    cs: Vec<T>,
    tanh_cs: Vec<T>,
    hs: Vec<T>,
}

#[allow(clippy::too_many_arguments)]
fn forward<T: Float>(
    x: &Tensor<T>,
    w_ih: &Tensor<T>,
    w_hh: &Tensor<T>,
    b: &Tensor<T>,
    h0: Option<&Tensor<T>>,
    c0: Option<&Tensor<T>>,
    d: Dims,
) -> Sequence<T> {
    let Dims { n: batch, t: steps, f, h } = d;
    let g4 = 4 * h;
    // Pre-activations of every step's input part; turned into activations in place.
    let mut gates = project_inputs(x.data(), w_ih.data(), b.data(), batch * steps, f);
    let mut cs = vec![T::ZERO; batch * steps * h];
    let mut tanh_cs = vec![T::ZERO; batch * steps * h];
    let mut hs = vec![T::ZERO; batch * steps * h];
    let mut h_prev = h0.map_or_else(|| vec![T::ZERO; batch * h], |t| t.data().to_vec());
    let mut c_prev = c0.map_or_else(|| vec![T::ZERO; batch * h], |t| t.data().to_vec());
    let mut recurrent = vec![T::ZERO; batch * g4];

    for t in 0..steps {
        gemm(batch, h, g4, &h_prev, false, w_hh.data(), false, T::ZERO, &mut recurrent);
        for n in 0..batch {
            let row = n * steps + t;
            let a = &mut gates[row * g4..(row + 1) * g4];
            for (a, &r) in a.iter_mut().zip(&recurrent[n * g4..(n + 1) * g4]) {
                *a += r;
            }
            activate(a, h);
            let (i, rest) = a.split_at(h);
            let (fg, rest) = rest.split_at(h);
            let (gg, o) = rest.split_at(h);
            let state = n * h..(n + 1) * h;
            let out = row * h..(row + 1) * h;
            let (c_row, hp_row) = (&mut c_prev[state.clone()], &mut h_prev[state]);
            let (cs_row, tc_row, hs_row) = (&mut cs[out.clone()], &mut tanh_cs[out.clone()], &mut hs[out]);
            for k in 0..h {
                let c = fg[k] * c_row[k] + i[k] * gg[k];
                c_row[k] = c;
                cs_row[k] = c;
            }
            tc_row.copy_from_slice(c_row);
            tanh_in_place(tc_row);
            for k in 0..h {
                let hv = o[k] * tc_row[k];
                hp_row[k] = hv;
                hs_row[k] = hv;
            }
        }
    }
    Sequence { gates, cs, tanh_cs, hs }
}

/// σ on the i, f, o blocks of one row of pre-activations, tanh on the g block.
#[inline]
fn activate<T: Float>(a: &mut [T], h: usize) {
    sigmoid_in_place(&mut a[..2 * h]);
    tanh_in_place(&mut a[2 * h..3 * h]);
    sigmoid_in_place(&mut a[3 * h..]);
}

/// Gradients w.r.t. every step's pre-activations `dA: (N, T, 4H)` and the initial state.
struct Backward<T> {
    da: Vec<T>,
    dh0: Vec<T>,
    dc0: Vec<T>,
}

fn backward<T: Float>(
    seq: &Sequence<T>,
    g: &[T],
    w_hh: &Tensor<T>,
    c0: Option<&Tensor<T>>,
    return_sequences: bool,
    d: Dims,
) -> Backward<T> {
    let Dims { n: batch, t: steps, h, .. } = d;
    let g4 = 4 * h;
    let one = T::ONE;
    let mut da = vec![T::ZERO; batch * steps * g4];
    let mut da_step = vec![T::ZERO; batch * g4];
    let mut dh_rec = vec![T::ZERO; batch * h]; // from step t+1 through U
    let mut dc = vec![T::ZERO; batch * h];
    let zeros = vec![T::ZERO; h];

    for t in (0..steps).rev() {
        for n in 0..batch {
            let row = n * steps + t;
            let act = &seq.gates[row * g4..(row + 1) * g4];
            let (i, f, gg, o) = (&act[..h], &act[h..2 * h], &act[2 * h..3 * h], &act[3 * h..]);
            let tc = &seq.tanh_cs[row * h..(row + 1) * h];
            let c_prev = if t > 0 {
                &seq.cs[(row - 1) * h..row * h]
            } else {
                c0.map_or(&zeros[..], |c| &c.data()[n * h..(n + 1) * h])
            };
            let from_out = output_grad(g, return_sequences, d, t, n);
            let dh_row = &dh_rec[n * h..(n + 1) * h];
            let dc_row = &mut dc[n * h..(n + 1) * h];
            let out = &mut da_step[n * g4..(n + 1) * g4];
            for k in 0..h {
                let dh = dh_row[k] + from_out.map_or(T::ZERO, |o| o[k]);
                let dct = dc_row[k] + dh * o[k] * (one - tc[k] * tc[k]);
                out[k] = dct * gg[k] * i[k] * (one - i[k]);
                out[h + k] = dct * c_prev[k] * f[k] * (one - f[k]);
                out[2 * h + k] = dct * i[k] * (one - gg[k] * gg[k]);
                out[3 * h + k] = dh * tc[k] * o[k] * (one - o[k]);
                dc_row[k] = dct * f[k];
            }
            da[row * g4..(row + 1) * g4].copy_from_slice(out);
        }
        gemm(batch, g4, h, &da_step, false, w_hh.data(), true, T::ZERO, &mut dh_rec);
    }
    Backward { da, dh0: dh_rec, dc0: dc }
}
