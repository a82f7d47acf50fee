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
//! and once all da_t are known: `dX = dA·Wᵀ`, and `dW = Σ_t x_tᵀ·da_t`,
//! `dU = Σ_t h_{t−1}ᵀ·da_t`, `db = Σ_{n,t} da_t` as the three blocks of ONE product
//! `Zᵀ·dA` over the rows `z = [x_t | h_{t−1} | 1]`; `dh0 = dh_{−1}`, `dc0 = dc_{−1}`.
//! The forward keeps, per step, the gate activations, c_t, tanh(c_t) and h_t — nothing
//! else — and backward overwrites the activations with da_t, so dA needs no buffer of its
//! own.

use super::{a_bt, check_shapes, concat, last_step, output_grad, rows_per_chunk, sum_parts, Dims};
use crate::kernels::gates::{lstm_cell_backward, lstm_cell_forward};
use crate::kernels::gemm_packed::{gemm_packed, gemm_strided, PackedB, View};
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
        concat(seq.iter().map(|c| &c.hs[..]), &[d.n, d.t, d.h])
    } else {
        let last = seq.iter().map(|c| last_step(&c.hs, Dims { n: c.n, ..d }));
        concat(last, &[d.n, d.h])
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
        let mut parts = backward(seq, x_kept.data(), g.data(), &w, want, return_sequences, d);
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

/// What the forward keeps for backward, per chunk of batch rows, all `(n, T, ·)`: gate
/// activations `[i|f|g|o]` (4H), c_t, tanh(c_t), h_t (H each).
struct Sequence<T> {
    /// Batch rows in this chunk.
    n: usize,
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

/// The forward pass, one [`Sequence`] per chunk of [`rows_per_chunk`] batch rows. Each
/// chunk allocates and fills its own buffers on its own thread.
fn forward<T: Float>(x: &[T], b: &[T], w: &Weights<T>, d: Dims) -> Vec<Sequence<T>> {
    let (g4, rows) = (4 * d.h, rows_per_chunk(d, 4));
    let weights = Packed {
        w: PackedB::new(d.f, g4, w.w_ih.data(), false),
        u: PackedB::new(d.h, g4, w.w_hh.data(), false),
    };
    (0..d.n.div_ceil(rows))
        .into_par_iter()
        .map(|k| {
            let n0 = k * rows;
            let dc = Dims {
                n: rows.min(d.n - n0),
                ..d
            };
            let steps = dc.n * d.t;
            // Every gate row starts as the bias (the gemms add into it): no zero fill.
            let mut gates = Vec::with_capacity(steps * g4);
            for _ in 0..steps {
                gates.extend_from_slice(b);
            }
            let mut seq = Sequence {
                n: dc.n,
                gates,
                cs: vec![T::ZERO; steps * d.h],
                tanh_cs: vec![T::ZERO; steps * d.h],
                hs: vec![T::ZERO; steps * d.h],
            };
            let x_rows = &x[n0 * d.t * d.f..(n0 + dc.n) * d.t * d.f];
            let (h0, c0) = (state_rows(&w.h0, n0, dc), state_rows(&w.c0, n0, dc));
            forward_chunk(x_rows, &mut seq, &weights, h0, c0, dc);
            seq
        })
        .collect()
}

/// The kernels packed once per op: W for the input projections, U for the recurrence.
struct Packed<T> {
    w: PackedB<T>,
    u: PackedB<T>,
}

/// The sequence loop for one chunk of batch rows; `gates` holds the bias in every row and
/// is turned into the gate activations in place. The input projections X·W of all steps
/// are one product; then step t's recurrent gemm reads h_{t−1} straight out of `hs` and
/// adds into step t's rows of `gates` (row strides T·H and T·4H), so no state is copied.
/// (Adding x_t·W step by step instead, into rows T·4H apart, measured slower.)
fn forward_chunk<T: Float>(
    x: &[T],
    out: &mut Sequence<T>,
    k: &Packed<T>,
    h0: Option<&[T]>,
    c0: Option<&[T]>,
    d: Dims,
) {
    let (steps, h) = (d.t, d.h);
    let g4 = 4 * h;
    let zeros = vec![T::ZERO; h];
    let gates = &mut out.gates;
    // x_t·W for every step in one product (row after row of X, contiguous).
    gemm_packed(d.n * steps, View::rows(x, d.f), &k.w, true, gates, g4);
    for t in 0..steps {
        let gates_t = &mut gates[t * g4..];
        if t > 0 {
            let h_prev = View::rows(&out.hs[(t - 1) * h..], steps * h);
            gemm_packed(d.n, h_prev, &k.u, true, gates_t, steps * g4);
        } else if let Some(h0) = h0 {
            gemm_packed(d.n, View::rows(h0, h), &k.u, true, gates_t, steps * g4);
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

/// Backward through time, per forward chunk on its own thread; each chunk's gate
/// activations become its pre-activation gradients dA in place.
fn backward<T: Float>(
    seq: Vec<Sequence<T>>,
    x: &[T],
    g: &[T],
    w: &Weights<T>,
    want: Wanted,
    return_sequences: bool,
    d: Dims,
) -> Vec<Part<T>> {
    let g4 = 4 * d.h;
    let u_t = PackedB::new(g4, d.h, w.w_hh.data(), true);
    let out_per_row = if return_sequences { d.t * d.h } else { d.h };
    // The forward's chunks: all but the last hold `rows` batch rows.
    let rows = seq.first().map_or(0, |c| c.n);
    seq.into_par_iter()
        .enumerate()
        .map(|(k, mut chunk)| {
            let n0 = k * rows;
            let dc = Dims { n: chunk.n, ..d };
            let span = |width: usize| n0 * d.t * width..(n0 + dc.n) * d.t * width;
            let g_rows = &g[n0 * out_per_row..(n0 + dc.n) * out_per_row];
            let c0 = state_rows(&w.c0, n0, dc);
            let (dh0, dc0) = backward_chunk(&mut chunk, g_rows, &u_t, c0, return_sequences, dc);
            let da = &chunk.gates;
            let x_rows = &x[span(d.f)];
            let h0 = state_rows(&w.h0, n0, dc);
            let (dw_ih, dw_hh, db) = if want.w_ih || want.w_hh || want.b {
                weight_grads(da, x_rows, &chunk.hs, h0, dc)
            } else {
                Default::default()
            };
            Part {
                dx: if want.x {
                    a_bt(da, w.w_ih.data(), g4, d.f)
                } else {
                    Vec::new()
                },
                dw_ih: if want.w_ih { dw_ih } else { Vec::new() },
                dw_hh: if want.w_hh { dw_hh } else { Vec::new() },
                db: if want.b { db } else { Vec::new() },
                dh0,
                dc0,
            }
        })
        .collect()
}

/// Columns of the `[x_t | h_{t−1} | 1]` rows, padded to whole 16-lane vectors.
fn joined_width(d: Dims) -> usize {
    (d.f + d.h + 1).next_multiple_of(16)
}

/// dW, dU and db of one chunk in ONE product. With the rows `z = [x_t | h_{t−1} | 1]`
/// (h_{−1} = h0, or zeros), the three are the blocks of `Zᵀ·dA`: dW = Σ x_tᵀ·da_t,
/// dU = Σ h_{t−1}ᵀ·da_t, db = Σ 1·da_t. It is computed as `dAᵀ·Z` (4H × width): dA is read
/// in place through a transposed view and Z's short rows (width ≈ F + H) stay dense in
/// cache, where `Zᵀ·dA` would stream dA's 4H-wide rows at a page-crossing stride.
fn weight_grads<T: Float>(
    da: &[T],
    x: &[T],
    hs: &[T],
    h0: Option<&[T]>,
    d: Dims,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let (g4, width, rows) = (4 * d.h, joined_width(d), d.n * d.t);
    // Row after row, padding included: no zero fill of the whole matrix first.
    let mut z = Vec::with_capacity(rows * width);
    for r in 0..rows {
        let (n, t) = (r / d.t, r % d.t);
        z.extend_from_slice(&x[r * d.f..(r + 1) * d.f]);
        let h_prev = if t > 0 {
            Some(&hs[(r - 1) * d.h..r * d.h])
        } else {
            h0.map(|h0| &h0[n * d.h..(n + 1) * d.h])
        };
        match h_prev {
            Some(h_prev) => z.extend_from_slice(h_prev),
            None => z.resize(z.len() + d.h, T::ZERO),
        }
        z.push(T::ONE);
        z.resize((r + 1) * width, T::ZERO);
    }
    let mut sums_t = vec![T::ZERO; g4 * width]; // (4H, width): column j is row j of Zᵀ·dA
    let da_t = View {
        data: da,
        row: 1,
        col: g4,
    };
    gemm_strided(g4, rows, width, da_t, &z, width, false, &mut sums_t, width);
    // Row j of the result is column j of sums_t.
    let block = |from: usize, count: usize| {
        let mut out = Vec::with_capacity(count * g4);
        for j in from..from + count {
            out.extend((0..g4).map(|i| sums_t[i * width + j]));
        }
        out
    };
    (block(0, d.f), block(d.f, d.h), block(d.f + d.h, 1))
}

/// BPTT for one chunk of rows: turns `seq.gates` into the pre-activation gradients of
/// every step `dA: (n, T, 4H)` and returns the gradients of the initial states. Step t's
/// cell overwrites its rows of activations with dA, and the gemm `dh_{t−1} = dA_t·Uᵀ`
/// reads them there (row stride T·4H).
fn backward_chunk<T: Float>(
    seq: &mut Sequence<T>,
    g: &[T],
    u_t: &PackedB<T>,
    c0: Option<&[T]>,
    return_sequences: bool,
    d: Dims,
) -> (Vec<T>, Vec<T>) {
    let (steps, h) = (d.t, d.h);
    let g4 = 4 * h;
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
                &mut seq.gates[row * g4..(row + 1) * g4],
                &seq.tanh_cs[row * h..(row + 1) * h],
                c_prev,
                dh_row,
                &mut dc[n * h..(n + 1) * h],
            );
        }
        let da_t = View::rows(&seq.gates[t * g4..], steps * g4);
        gemm_packed(d.n, da_t, u_t, false, &mut dh, h);
    }
    (dh, dc)
}
