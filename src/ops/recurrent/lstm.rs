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
//! with `dx_t = da_t·Wᵀ` formed at each step, and `dW = Σ_t x_tᵀ·da_t`,
//! `dU = Σ_t h_{t−1}ᵀ·da_t`, `db = Σ_{n,t} da_t` summed step by step as the three blocks
//! of ONE product `z_tᵀ·da_t` over the rows `z_t = [x_t | h_{t−1} | 1]`; `dh0 = dh_{−1}`,
//! `dc0 = dc_{−1}`.
//! The forward keeps, per step, the gate activations, c_t, tanh(c_t) and h_t — nothing
//! else — and backward overwrites the activations with da_t, so dA needs no buffer of its
//! own.

use super::{check_shapes, concat, output_grad, rows_per_chunk, sum_parts, Dims, InputGrad};
use crate::kernels::gates::{lstm_cell_backward, lstm_cell_forward};
use crate::kernels::gemm_packed::{gemm_packed, gemm_strided, PackedB, View};
use crate::kernels::transpose::transpose;
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
        hidden_sequence(&seq, d)
    } else {
        // The last step's rows are the last n·H values of each chunk's hs.
        let last = seq.iter().map(|c| &c.hs[(d.t - 1) * c.n * d.h..]);
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
            h0: h0_slot.is_some_and(|slot| needs[slot]),
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

/// What the forward keeps for backward, per chunk of batch rows, all step-major
/// `(T, n, ·)`: gate activations `[i|f|g|o]` (4H, in rows [`gate_stride`] apart), c_t,
/// tanh(c_t), h_t (H each). Step t's rows are contiguous, so each step's gemms read and
/// write dense blocks, and the buffers grow step by step: every value is written first
/// while its step's rows are in cache, with no zero fill of the whole sequence beforehand.
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

/// The hidden states as the op's output `(N, T, H)`, batch-major, gathered from the
/// chunks' step-major `hs`, each chunk's rows on its own thread.
fn hidden_sequence<T: Float>(seq: &[Sequence<T>], d: Dims) -> Tensor<T> {
    let total = d.n * d.t * d.h;
    let mut y: Vec<T> = Vec::with_capacity(total);
    // The forward's chunks: all but the last hold `rows` batch rows.
    let rows = seq.first().map_or(1, |c| c.n);
    assert_eq!(
        seq.iter().map(|c| c.n).sum::<usize>(),
        d.n,
        "chunks cover the batch"
    );
    y.spare_capacity_mut()[..total]
        .par_chunks_mut((rows * d.t * d.h).max(1))
        .zip(seq)
        .for_each(|(out, chunk)| {
            assert_eq!(out.len(), chunk.n * d.t * d.h, "chunk rows");
            let mut out = out.chunks_exact_mut(d.h);
            for r in 0..chunk.n {
                for t in 0..d.t {
                    let at = (t * chunk.n + r) * d.h;
                    let row = out.next().expect("one output row per (r, t)");
                    for (o, &v) in row.iter_mut().zip(&chunk.hs[at..at + d.h]) {
                        o.write(v);
                    }
                }
            }
        });
    // SAFETY: the chunks' rows add up to N and each output chunk is as long as its
    // sequence chunk's rows (both checked above), so all `total` slots were written.
    unsafe { y.set_len(total) };
    Tensor::new(y, &[d.n, d.t, d.h]).expect("chunks fill the shape")
}

/// The forward pass, one [`Sequence`] per chunk of [`rows_per_chunk`] batch rows, each
/// on its own thread.
fn forward<T: Float>(x: &[T], b: &[T], w: &Weights<T>, d: Dims) -> Vec<Sequence<T>> {
    let (g4, rows) = (4 * d.h, rows_per_chunk(d, 4));
    let mut bias_row = b.to_vec();
    bias_row.resize(gate_stride(d.h), T::ZERO);
    let weights = Packed {
        w: PackedB::new(d.f, g4, w.w_ih.data(), false),
        u: PackedB::new(d.h, g4, w.w_hh.data(), false),
        bias_row,
    };
    (0..d.n.div_ceil(rows))
        .into_par_iter()
        .map(|k| {
            let n0 = k * rows;
            let dc = Dims {
                n: rows.min(d.n - n0),
                ..d
            };
            let x_rows = &x[n0 * d.t * d.f..(n0 + dc.n) * d.t * d.f];
            let (h0, c0) = (state_rows(&w.h0, n0, dc), state_rows(&w.c0, n0, dc));
            forward_chunk(x_rows, &weights, h0, c0, dc)
        })
        .collect()
}

/// The kernels packed once per op: W for the input projections, U for the recurrence,
/// and the bias as a whole gate row (padding zeroed).
struct Packed<T> {
    w: PackedB<T>,
    u: PackedB<T>,
    bias_row: Vec<T>,
}

/// The sequence loop for one chunk of `x: (n, T, F)` (batch-major, as the op's input).
/// Step t appends its n rows to every buffer: the gate rows start as the bias, the gemms
/// add `x_t·W` (x_t's rows read in place, T·F apart) and `h_{t−1}·U` into them, and the
/// cells turn them into activations and append c_t, tanh(c_t) and h_t.
fn forward_chunk<T: Float>(
    x: &[T],
    k: &Packed<T>,
    h0: Option<&[T]>,
    c0: Option<&[T]>,
    d: Dims,
) -> Sequence<T> {
    let (steps, h, n) = (d.t, d.h, d.n);
    let (g4, ld) = (4 * h, gate_stride(h));
    let mut out = Sequence {
        n,
        gates: Vec::with_capacity(steps * n * ld),
        cs: Vec::with_capacity(steps * n * h),
        tanh_cs: Vec::with_capacity(steps * n * h),
        hs: Vec::with_capacity(steps * n * h),
    };
    let zeros = vec![T::ZERO; n * h];
    for t in 0..steps {
        for _ in 0..n {
            out.gates.extend_from_slice(&k.bias_row);
        }
        // Zeros written just before the cells overwrite them, while the lines are in cache.
        for buf in [&mut out.cs, &mut out.tanh_cs, &mut out.hs] {
            buf.resize((t + 1) * n * h, T::ZERO);
        }
        let now = t * n * h;
        let (hs_done, h_t) = out.hs.split_at_mut(now);
        let (cs_done, c_t) = out.cs.split_at_mut(now);
        let tanh_c_t = &mut out.tanh_cs[now..];
        let gates_t = &mut out.gates[t * n * ld..];
        gemm_packed(
            n,
            View::rows(&x[t * d.f..], steps * d.f),
            &k.w,
            true,
            gates_t,
            ld,
        );
        let (h_prev, c_prev) = if t > 0 {
            (Some(&hs_done[now - n * h..]), &cs_done[now - n * h..])
        } else {
            (h0, c0.unwrap_or(&zeros[..]))
        };
        if let Some(h_prev) = h_prev {
            gemm_packed(n, View::rows(h_prev, h), &k.u, true, gates_t, ld);
        }
        for r in 0..n {
            let unit = r * h..(r + 1) * h;
            lstm_cell_forward(
                &mut gates_t[r * ld..r * ld + g4],
                &c_prev[unit.clone()],
                &mut c_t[unit.clone()],
                &mut tanh_c_t[unit.clone()],
                &mut h_t[unit],
            );
        }
    }
    out
}

/// Which gradients the tape asked for (besides dc0, which costs nothing extra).
#[derive(Clone, Copy)]
struct Wanted {
    x: bool,
    w_ih: bool,
    w_hh: bool,
    b: bool,
    h0: bool,
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
    let input_grad = want.x.then(|| InputGrad::new(w.w_ih.data(), g4, d.f));
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
            let mut dx = vec![T::ZERO; if want.x { dc.n * d.t * d.f } else { 0 }];
            let mut weight_grads = (want.w_ih || want.w_hh || want.b).then(|| WeightGrads::new(dc));
            let sweep = Sweep {
                weight_grads: weight_grads.as_mut(),
                x: &x[span(d.f)],
                h0: state_rows(&w.h0, n0, dc),
                u_t: &u_t,
                input_grad: input_grad.as_ref().map(|ig| (ig, &mut dx[..])),
                c0,
                want_dh0: want.h0,
                return_sequences,
            };
            let (dh0, dc0) = backward_chunk(&mut chunk, g_rows, sweep, dc);
            let (dw_ih, dw_hh, db) = weight_grads.map(|w| w.finish(dc)).unwrap_or_default();
            Part {
                dx,
                dw_ih: if want.w_ih { dw_ih } else { Vec::new() },
                dw_hh: if want.w_hh { dw_hh } else { Vec::new() },
                db: if want.b { db } else { Vec::new() },
                dh0,
                dc0,
            }
        })
        .collect()
}

/// Distance between rows of gate values in [`Sequence::gates`]: 4H and one vector more.
/// The weight gradients read dA down its columns (a transposed view), one row per step of
/// their k loop; at CnnLstm's 4H = 512 floats those rows are 2 KiB apart and fall into
/// the same two sets of the L1 cache. One more 64-byte line per row spreads them: that
/// product ran 12 % faster (93 against 105 GFLOP/s, 512 × 64 × 144, one core).
fn gate_stride(h: usize) -> usize {
    4 * h + 16
}

/// Columns of the `[x_t | h_{t−1} | 1]` rows, padded to whole 16-lane vectors.
fn joined_width(d: Dims) -> usize {
    (d.f + d.h + 1).next_multiple_of(16)
}

/// dW, dU and db of one chunk, summed step by step during the sweep, while each step's dA
/// is in cache (a chunk's whole dA, 2.4 MB for 64 rows × 18 steps of 512 gates, is not:
/// one product over all steps after the sweep made LSTM1's backward 6 % slower). With the
/// rows `z_t = [x_t | h_{t−1} | 1]` (h_{−1} = h0, or zeros), the three are the blocks of
/// `Σ_t z_tᵀ·da_t`: dW = Σ x_tᵀ·da_t, dU = Σ h_{t−1}ᵀ·da_t, db = Σ 1·da_t. Each step adds
/// `da_tᵀ·z_t` (4H × width): da_t is read in place through a transposed view and z_t's
/// short rows (width ≈ F + H) stay dense in cache, where `z_tᵀ·da_t` would stream da_t's
/// 4H-wide rows at a page-crossing stride.
struct WeightGrads<T> {
    /// `(4H, width)`: column j is row j of `Zᵀ·dA`.
    sums_t: Vec<T>,
    /// The current step's rows of Z, reused from step to step.
    z: Vec<T>,
}

impl<T: Float> WeightGrads<T> {
    fn new(d: Dims) -> Self {
        WeightGrads {
            sums_t: vec![T::ZERO; 4 * d.h * joined_width(d)],
            z: Vec::with_capacity(d.n * joined_width(d)),
        }
    }

    /// Adds step t: `da_t` is its dA rows, x the chunk's input `(n, T, F)` (batch-major),
    /// hs its hidden states (step-major).
    fn add_step(&mut self, t: usize, da_t: &[T], x: &[T], hs: &[T], h0: Option<&[T]>, d: Dims) {
        let (g4, width) = (4 * d.h, joined_width(d));
        let z = &mut self.z;
        z.clear();
        for n in 0..d.n {
            let x_row = (n * d.t + t) * d.f;
            z.extend_from_slice(&x[x_row..x_row + d.f]);
            let h_prev = if t > 0 {
                let prev = (t - 1) * d.n + n;
                Some(&hs[prev * d.h..(prev + 1) * d.h])
            } else {
                h0.map(|h0| &h0[n * d.h..(n + 1) * d.h])
            };
            match h_prev {
                Some(h_prev) => z.extend_from_slice(h_prev),
                None => z.resize(z.len() + d.h, T::ZERO),
            }
            z.push(T::ONE);
            z.resize((n + 1) * width, T::ZERO);
        }
        let da_t = View {
            data: da_t,
            row: 1,
            col: gate_stride(d.h),
        };
        gemm_strided(
            g4,
            d.n,
            width,
            da_t,
            z,
            width,
            true,
            &mut self.sums_t,
            width,
        );
    }

    /// (dW, dU, db): row j of each is column j of `sums_t`.
    fn finish(self, d: Dims) -> (Vec<T>, Vec<T>, Vec<T>) {
        let (g4, width) = (4 * d.h, joined_width(d));
        let block = |from: usize, count: usize| {
            let mut out = vec![T::ZERO; count * g4];
            transpose(
                (g4, count),
                (&self.sums_t[from..], width),
                (&mut out, g4),
                false,
            );
            out
        };
        (block(0, d.f), block(d.f, d.h), block(d.f + d.h, 1))
    }
}

/// What the backward sweep needs besides the chunk and its output gradient.
struct Sweep<'a, T: Float> {
    /// Uᵀ, packed once per backward.
    u_t: &'a PackedB<T>,
    /// Wᵀ and the chunk's dX `(n, T, F)` to fill, when dX is wanted.
    input_grad: Option<(&'a InputGrad<'a, T>, &'a mut [T])>,
    /// The weight-gradient sums to add each step to, when they are wanted, and the
    /// chunk's input `(n, T, F)` and initial hidden state they read.
    weight_grads: Option<&'a mut WeightGrads<T>>,
    x: &'a [T],
    h0: Option<&'a [T]>,
    c0: Option<&'a [T]>,
    /// Whether dh0 is wanted; without it step 0 needs no `dA_0·Uᵀ`.
    want_dh0: bool,
    return_sequences: bool,
}

/// BPTT for one chunk of rows: turns `seq.gates` into the pre-activation gradients of
/// every step `dA: (T, n, 4H)` and returns the gradients of the initial states (dh0 empty
/// when not wanted). Step t's cells overwrite its rows of activations with dA, and the
/// gemms `dh_{t−1} = dA_t·Uᵀ`, `dx_t = dA_t·Wᵀ` and the weight gradients' step read them
/// there while they are in cache.
fn backward_chunk<T: Float>(
    seq: &mut Sequence<T>,
    g: &[T],
    mut sweep: Sweep<'_, T>,
    d: Dims,
) -> (Vec<T>, Vec<T>) {
    let (steps, h, n) = (d.t, d.h, d.n);
    let (g4, ld) = (4 * h, gate_stride(h));
    let mut dh = vec![T::ZERO; n * h]; // into h_t: from step t+1 through U, plus output
    let mut dc = vec![T::ZERO; n * h]; // into c_t from step t+1
    let zeros = vec![T::ZERO; n * h];

    for t in (0..steps).rev() {
        let now = t * n * h..(t + 1) * n * h;
        let c_prev = if t > 0 {
            &seq.cs[now.start - n * h..now.start]
        } else {
            sweep.c0.unwrap_or(&zeros[..])
        };
        let (gates_t, tanh_c_t) = (&mut seq.gates[t * n * ld..], &seq.tanh_cs[now]);
        for r in 0..n {
            let unit = r * h..(r + 1) * h;
            let dh_row = &mut dh[unit.clone()];
            if let Some(from_out) = output_grad(g, sweep.return_sequences, d, t, r) {
                dh_row.iter_mut().zip(from_out).for_each(|(a, &b)| *a += b);
            }
            lstm_cell_backward(
                &mut gates_t[r * ld..r * ld + g4],
                &tanh_c_t[unit.clone()],
                &c_prev[unit.clone()],
                dh_row,
                &mut dc[unit],
            );
        }
        let da_t = &seq.gates[t * n * ld..(t + 1) * n * ld];
        if let Some((input_grad, dx)) = &mut sweep.input_grad {
            input_grad.rows(n, da_t, ld, &mut dx[t * d.f..], steps * d.f);
        }
        if let Some(sums) = sweep.weight_grads.as_deref_mut() {
            sums.add_step(t, da_t, sweep.x, &seq.hs, sweep.h0, d);
        }
        if t == 0 && !sweep.want_dh0 {
            return (Vec::new(), dc);
        }
        gemm_packed(n, View::rows(da_t, ld), sweep.u_t, false, &mut dh, h);
    }
    (dh, dc)
}
