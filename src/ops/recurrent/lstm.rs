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
    rows_per_chunk, sum_parts, Dims,
};
use crate::kernels::gates::{lstm_cell_backward, lstm_cell_forward};
use crate::kernels::gemm_packed::{gemm_packed, PackedB, View};
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
    let u = PackedB::new(d.h, g4, w.w_hh.data(), false);
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
            let states = States { cs, tanh_cs, hs };
            forward_chunk(gates, states, &u, h0, c0, dc);
        });
    seq
}

/// One chunk's rows of the per-step outputs, `(n, T, H)` each.
struct States<'a, T> {
    cs: &'a mut [T],
    tanh_cs: &'a mut [T],
    hs: &'a mut [T],
}

/// The sequence loop for one chunk of batch rows; `gates` holds the input projections
/// and is turned into the gate activations in place. Step t's recurrent gemm reads
/// h_{t−1} straight out of `hs` and adds into step t's rows of `gates` (row strides T·H
/// and T·4H), so no state is copied.
fn forward_chunk<T: Float>(
    gates: &mut [T],
    out: States<'_, T>,
    u: &PackedB<T>,
    h0: Option<&[T]>,
    c0: Option<&[T]>,
    d: Dims,
) {
    let (steps, h) = (d.t, d.h);
    let g4 = 4 * h;
    let zeros = vec![T::ZERO; h];
    for t in 0..steps {
        if t > 0 {
            let h_prev = View::rows(&out.hs[(t - 1) * h..], steps * h);
            gemm_packed(d.n, h_prev, u, true, &mut gates[t * g4..], steps * g4);
        } else if let Some(h0) = h0 {
            gemm_packed(d.n, View::rows(h0, h), u, true, gates, steps * g4);
        }
        for n in 0..d.n {
            let row = n * steps + t;
            let (done, now) = out.cs.split_at_mut(row * h);
            let c_prev = if t > 0 {
                &done[(row - 1) * h..]
            } else {
                c0.map_or(&zeros[..], |c| &c[n * h..(n + 1) * h])
            };
            lstm_cell_forward(
                &mut gates[row * g4..(row + 1) * g4],
                c_prev,
                &mut now[..h],
                &mut out.tanh_cs[row * h..(row + 1) * h],
                &mut out.hs[row * h..(row + 1) * h],
            );
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
    let u_t = PackedB::new(g4, d.h, w.w_hh.data(), true);
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
/// and the gradients of the initial states. Step t's cell writes its rows of dA in place,
/// and the gemm `dh_{t−1} = dA_t·Uᵀ` reads them there (row stride T·4H).
fn backward_chunk<T: Float>(
    seq: &SeqView<'_, T>,
    g: &[T],
    u_t: &PackedB<T>,
    c0: Option<&[T]>,
    return_sequences: bool,
    d: Dims,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let (steps, h) = (d.t, d.h);
    let g4 = 4 * h;
    let mut da = vec![T::ZERO; d.n * steps * g4];
    let mut dh = vec![T::ZERO; d.n * h]; // into h_t: from step t+1 through U, plus output
    let mut dc = vec![T::ZERO; d.n * h]; // into c_t from step t+1
    let zeros = vec![T::ZERO; h];

    for t in (0..steps).rev() {
        for n in 0..d.n {
            let row = n * steps + t;
            let c_prev = if t > 0 {
                &seq.cs[(row - 1) * h..row * h]
            } else {
                c0.map_or(&zeros[..], |c| &c[n * h..(n + 1) * h])
            };
            let dh_row = &mut dh[n * h..(n + 1) * h];
            if let Some(from_out) = output_grad(g, return_sequences, d, t, n) {
                dh_row.iter_mut().zip(from_out).for_each(|(a, &b)| *a += b);
            }
            lstm_cell_backward(
                &seq.gates[row * g4..(row + 1) * g4],
                &seq.tanh_cs[row * h..(row + 1) * h],
                c_prev,
                dh_row,
                &mut dc[n * h..(n + 1) * h],
                &mut da[row * g4..(row + 1) * g4],
            );
        }
        let da_t = View::rows(&da[t * g4..], steps * g4);
        gemm_packed(d.n, da_t, u_t, false, &mut dh, h);
    }
    (da, dh, dc)
}
