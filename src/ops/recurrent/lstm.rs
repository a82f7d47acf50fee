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
    a_bt, at_b, check_shapes, concat, last_step, output_grad, previous_hidden, project_inputs,
    rows_per_chunk, sum_parts, transposed, Dims,
};
use crate::kernels::gates::{sigmoid_in_place, tanh_in_place};
use crate::kernels::gemm;
use crate::ops::linear::column_sums;
use crate::{Error, Float, Result, Tensor, Var};
use rayon::prelude::*;

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
        return Err(Error::shape(
            "lstm",
            format!("bias must be (4H) = [{}], got {:?}", 4 * d.h, b.shape()),
        ));
    }
    let w = Weights {
        w_ih: w_ih.value().clone(),
        w_hh: w_hh.value().clone(),
        h0: h0.map(|v| v.value().clone()),
        c0: c0.map(|v| v.value().clone()),
    };
    let seq = forward(x.value().data(), b.value().data(), &w, d);
    let y = if return_sequences {
        Tensor::new(seq.hs.clone(), &[d.n, d.t, d.h])?
    } else {
        Tensor::new(last_step(&seq.hs, d), &[d.n, d.h])?
    };

    let x_kept = x.value().clone();
    let mut inputs = vec![x, w_ih, w_hh, b];
    inputs.extend(h0);
    inputs.extend(c0);
    Ok(Var::from_op("lstm", y, &inputs, move |g, needs| {
        let (h0_slot, c0_slot) = match (w.h0.is_some(), w.c0.is_some()) {
            (true, true) => (Some(4), Some(5)),
            (true, false) => (Some(4), None),
            (false, true) => (None, Some(4)),
            (false, false) => (None, None),
        };
        let want = Wanted {
            x: needs[0],
            w_ih: needs[1],
            w_hh: needs[2],
            b: needs[3],
        };
        let mut parts = backward(&seq, x_kept.data(), g.data(), &w, want, return_sequences, d);
        let (g4, state) = (4 * d.h, [d.n, d.h]);
        let mut grads = vec![
            want.x.then(|| {
                concat(
                    parts.iter_mut().map(|p| std::mem::take(&mut p.dx)),
                    &[d.n, d.t, d.f],
                )
            }),
            want.w_ih.then(|| {
                sum_parts(
                    parts.iter_mut().map(|p| std::mem::take(&mut p.dw_ih)),
                    &[d.f, g4],
                )
            }),
            want.w_hh.then(|| {
                sum_parts(
                    parts.iter_mut().map(|p| std::mem::take(&mut p.dw_hh)),
                    &[d.h, g4],
                )
            }),
            want.b
                .then(|| sum_parts(parts.iter_mut().map(|p| std::mem::take(&mut p.db)), &[g4])),
        ];
        if let Some(slot) = h0_slot {
            grads.push(
                needs[slot]
                    .then(|| concat(parts.iter_mut().map(|p| std::mem::take(&mut p.dh0)), &state)),
            );
        }
        if let Some(slot) = c0_slot {
            grads.push(
                needs[slot]
                    .then(|| concat(parts.iter_mut().map(|p| std::mem::take(&mut p.dc0)), &state)),
            );
        }
        grads
    }))
}

/// The weights and initial states, kept for backward.
struct Weights<T: Float> {
    w_ih: Tensor<T>,
    w_hh: Tensor<T>,
    h0: Option<Tensor<T>>,
    c0: Option<Tensor<T>>,
}

/// What the forward keeps for backward, all `(N, T, ·)`: gate activations `[i|f|g|o]`
/// (4H), c_t, tanh(c_t), h_t (H each).
struct Sequence<T> {
    gates: Vec<T>,
    cs: Vec<T>,
    tanh_cs: Vec<T>,
    hs: Vec<T>,
}

/// Rows `n0..n0 + d.n` of a `(N, width)` initial state, if there is one.
fn state_rows<T: Float>(state: &Option<Tensor<T>>, n0: usize, d: Dims) -> Option<&[T]> {
    state
        .as_ref()
        .map(|s| &s.data()[n0 * d.h..(n0 + d.n) * d.h])
}

fn forward<T: Float>(x: &[T], b: &[T], w: &Weights<T>, d: Dims) -> Sequence<T> {
    let (g4, rows) = (4 * d.h, rows_per_chunk(d, 4));
    let per_row = d.t * d.h;
    let mut seq = Sequence {
        gates: vec![T::ZERO; d.n * d.t * g4],
        cs: vec![T::ZERO; d.n * per_row],
        tanh_cs: vec![T::ZERO; d.n * per_row],
        hs: vec![T::ZERO; d.n * per_row],
    };
    let chunks: Vec<_> = seq
        .gates
        .chunks_mut(rows * d.t * g4)
        .zip(seq.cs.chunks_mut(rows * per_row))
        .zip(seq.tanh_cs.chunks_mut(rows * per_row))
        .zip(seq.hs.chunks_mut(rows * per_row))
        .enumerate()
        .collect();
    chunks
        .into_par_iter()
        .for_each(|(k, (((gates, cs), tanh_cs), hs))| {
            let n0 = k * rows;
            let dc = Dims {
                n: hs.len() / per_row,
                ..d
            };
            let x_rows = &x[n0 * d.t * d.f..(n0 + dc.n) * d.t * d.f];
            project_inputs(x_rows, w.w_ih.data(), b, d.f, gates);
            let (h0, c0) = (state_rows(&w.h0, n0, dc), state_rows(&w.c0, n0, dc));
            forward_chunk(gates, cs, tanh_cs, hs, w.w_hh.data(), h0, c0, dc);
        });
    seq
}

/// The sequence loop for one chunk of batch rows; `gates` holds the input projections
/// and is turned into the gate activations in place.
#[allow(clippy::too_many_arguments)]
fn forward_chunk<T: Float>(
    gates: &mut [T],
    cs: &mut [T],
    tanh_cs: &mut [T],
    hs: &mut [T],
    w_hh: &[T],
    h0: Option<&[T]>,
    c0: Option<&[T]>,
    d: Dims,
) {
    let Dims {
        n: batch,
        t: steps,
        h,
        ..
    } = d;
    let g4 = 4 * h;
    let mut h_prev = h0.map_or_else(|| vec![T::ZERO; batch * h], <[T]>::to_vec);
    let mut c_prev = c0.map_or_else(|| vec![T::ZERO; batch * h], <[T]>::to_vec);
    let mut recurrent = vec![T::ZERO; batch * g4];

    for t in 0..steps {
        gemm(
            batch,
            h,
            g4,
            &h_prev,
            false,
            w_hh,
            false,
            T::ZERO,
            &mut recurrent,
        );
        for n in 0..batch {
            let row = n * steps + t;
            let a = &mut gates[row * g4..(row + 1) * g4];
            for (a, &r) in a.iter_mut().zip(&recurrent[n * g4..(n + 1) * g4]) {
                *a += r;
            }
            sigmoid_in_place(&mut a[..2 * h]);
            tanh_in_place(&mut a[2 * h..3 * h]);
            sigmoid_in_place(&mut a[3 * h..]);
            let (i, rest) = a.split_at(h);
            let (fg, rest) = rest.split_at(h);
            let (gg, o) = rest.split_at(h);
            let state = n * h..(n + 1) * h;
            let out = row * h..(row + 1) * h;
            let (c_row, hp_row) = (&mut c_prev[state.clone()], &mut h_prev[state]);
            let (cs_row, tc_row, hs_row) = (
                &mut cs[out.clone()],
                &mut tanh_cs[out.clone()],
                &mut hs[out],
            );
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
}

/// Which weight gradients the tape asked for.
#[derive(Clone, Copy)]
struct Wanted {
    x: bool,
    w_ih: bool,
    w_hh: bool,
    b: bool,
}

/// One chunk's share of the gradients: its rows of dX, dh0, dc0 and its partial sums
/// of dW, dU, db (empty when not wanted).
struct Part<T> {
    dx: Vec<T>,
    dw_ih: Vec<T>,
    dw_hh: Vec<T>,
    db: Vec<T>,
    dh0: Vec<T>,
    dc0: Vec<T>,
}

fn backward<T: Float>(
    seq: &Sequence<T>,
    x: &[T],
    g: &[T],
    w: &Weights<T>,
    want: Wanted,
    return_sequences: bool,
    d: Dims,
) -> Vec<Part<T>> {
    let (g4, rows) = (4 * d.h, rows_per_chunk(d, 4));
    let u_t = transposed(w.w_hh.data(), d.h, g4);
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
                gates: &seq.gates[span(g4)],
                cs: &seq.cs[span(d.h)],
                tanh_cs: &seq.tanh_cs[span(d.h)],
                hs: &seq.hs[span(d.h)],
            };
            let g_rows = &g[n0 * out_per_row..(n0 + dc.n) * out_per_row];
            let c0 = state_rows(&w.c0, n0, dc);
            let (da, dh0, dc0) = backward_chunk(&view, g_rows, &u_t, c0, return_sequences, dc);
            let x_rows = &x[span(d.f)];
            Part {
                dx: if want.x {
                    a_bt(&da, w.w_ih.data(), g4, d.f)
                } else {
                    Vec::new()
                },
                dw_ih: if want.w_ih {
                    at_b(x_rows, &da, d.f, g4)
                } else {
                    Vec::new()
                },
                dw_hh: if want.w_hh {
                    let prev = previous_hidden(view.hs, state_rows(&w.h0, n0, dc), dc);
                    at_b(&prev, &da, d.h, g4)
                } else {
                    Vec::new()
                },
                db: if want.b {
                    column_sums(&da, g4)
                } else {
                    Vec::new()
                },
                dh0,
                dc0,
            }
        })
        .collect()
}

/// Read-only rows of a [`Sequence`].
struct SeqView<'a, T> {
    gates: &'a [T],
    cs: &'a [T],
    tanh_cs: &'a [T],
    hs: &'a [T],
}

/// BPTT for one chunk of rows: the pre-activation gradients of every step `dA: (n, T, 4H)`
/// and the gradients of the initial states.
fn backward_chunk<T: Float>(
    seq: &SeqView<'_, T>,
    g: &[T],
    u_t: &[T],
    c0: Option<&[T]>,
    return_sequences: bool,
    d: Dims,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let Dims {
        n: batch,
        t: steps,
        h,
        ..
    } = d;
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
                c0.map_or(&zeros[..], |c| &c[n * h..(n + 1) * h])
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
        gemm(
            batch,
            g4,
            h,
            &da_step,
            false,
            u_t,
            false,
            T::ZERO,
            &mut dh_rec,
        );
    }
    (da, dh_rec, dc)
}
