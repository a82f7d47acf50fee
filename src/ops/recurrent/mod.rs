//! Recurrent layers over a whole sequence, each as ONE op with its own backward through
//! time (BPTT): [`lstm`] and [`gru`].
//!
//! Both keep the work in gemms with the G gates fused along the columns (Keras layout:
//! `W: (F, G·H)`, `U: (H, G·H)`):
//!
//! - the input projection `X·W + b` (the GRU: one gemm `(N·T, F)×(F, G·H)` over all steps;
//!   the LSTM: one `(N, F)×(F, G·H)` per step, into that step's freshly written rows);
//! - each step adds one gemm `(N, H)×(H, G·H)` for the recurrent projection and then a
//!   tight elementwise loop for the gate nonlinearities;
//! - backward walks the steps in reverse doing the per-step gemm `(N, G·H)×(G·H, H)` for
//!   the gradient flowing to `h_{t−1}` (the LSTM also forms its step's rows of
//!   `dX = dA·Wᵀ` and adds its step's share of `dW`, `dU`, `db` there, while dA_t is in
//!   cache); the GRU stores the pre-activation gradients of every step and finishes with
//!   `dX = dA·Wᵀ`, `dW = Xᵀ·dA`, `dU = H_prevᵀ·dA_rec` as big gemms over all steps.
//!
//! Sequences are `(N, T, F)`: batch, time, features.

mod gru;
mod lstm;

pub use gru::gru;
pub use lstm::lstm;

use crate::kernels::gemm;
use crate::kernels::gemm_dots::{dots_pay_off, gemm_dots};
use crate::kernels::gemm_packed::{gemm_packed, PackedB, View};
use crate::{Error, Float, Result, Tensor};

/// Sizes of one recurrent op: batch, steps, input features, hidden units.
#[derive(Clone, Copy, Debug)]
struct Dims {
    n: usize,
    t: usize,
    f: usize,
    h: usize,
}

/// Validate `x: (N, T, F)`, `w: (F, G·H)`, `u: (H, G·H)` and an optional initial state
/// `(N, H)` per entry of `states`. Returns the sizes.
fn check_shapes(
    op: &'static str,
    gates: usize,
    x: &[usize],
    w: &[usize],
    u: &[usize],
    states: &[(&str, Option<&[usize]>)],
) -> Result<Dims> {
    let bad = |why: String| Error::shape(op, why);
    let [n, t, f] = *x else {
        return Err(bad(format!("x must be (N, T, F), got {x:?}")));
    };
    if t == 0 {
        return Err(bad("the sequence has no time steps".into()));
    }
    if n == 0 {
        return Err(bad("the batch is empty".into()));
    }
    let [uh, ug] = *u else {
        return Err(bad(format!(
            "recurrent kernel must be (H, {gates}·H), got {u:?}"
        )));
    };
    let h = uh;
    if h == 0 || ug != gates * h {
        return Err(bad(format!(
            "recurrent kernel must be (H, {gates}·H), got {u:?}"
        )));
    }
    if w != [f, gates * h] {
        return Err(bad(format!(
            "kernel must be (F, {gates}·H) = [{f}, {}] for x {x:?}, got {w:?}",
            gates * h
        )));
    }
    for (name, s) in states {
        if let Some(s) = s {
            if *s != [n, h] {
                return Err(bad(format!(
                    "{name} must be (N, H) = [{n}, {h}], got {s:?}"
                )));
            }
        }
    }
    Ok(Dims { n, t, f, h })
}

/// Below this many multiply-adds over the whole sequence (N·T·(F + H)·G·H: the input
/// projection and the recurrent products) the op runs on one thread: the fork/join would
/// cost more than it saves (gradchecks, tiny models). Counted over the sequence, not per
/// step, because there is one fork/join per pass: CnnLstm's second LSTM (H = 32, 0.5 M
/// per step, 10 M in all) ran on one thread under a per-step rule.
const PARALLEL_MIN_WORK: usize = 1 << 21;

/// Batch rows per chunk. The rows of a recurrent op are independent until the weight
/// gradients are summed, so the whole sequence loop runs per chunk, one chunk per rayon
/// thread — coarse work, one fork/join per forward and per backward.
fn rows_per_chunk(d: Dims, gates: usize) -> usize {
    let threads = rayon::current_num_threads();
    let work = d.n * d.t * (d.f + d.h) * gates * d.h;
    if threads < 2 || d.n < 2 || work < PARALLEL_MIN_WORK {
        d.n
    } else {
        d.n.div_ceil(threads)
    }
}

/// `X·W + bias` for every row of `x` viewed as `(rows, f)`, written into `out`: one gemm
/// over all steps, W packed once and every row of X read in place (a general gemm would
/// copy all N·T rows of X into panels first; with F = 6 that copy cost more than the
/// multiply-adds).
fn project_inputs<T: Float>(x: &[T], w: &[T], bias: &[T], f: usize, out: &mut [T]) {
    let g = bias.len();
    for row in out.chunks_exact_mut(g) {
        row.copy_from_slice(bias);
    }
    let w = PackedB::new(f, g, w, false);
    gemm_packed(out.len() / g, View::rows(x, f), &w, true, out, g);
}

/// The sequence `h_{t−1}` laid out like `hs` `(n, T, H)`: step 0 holds `h0` (zeros if
/// absent), step t holds `hs[:, t−1]`.
fn previous_hidden<T: Float>(hs: &[T], h0: Option<&[T]>, d: Dims) -> Vec<T> {
    let (t_len, h) = (d.t, d.h);
    let mut prev = vec![T::ZERO; d.n * t_len * h];
    for n in 0..d.n {
        let seq = &mut prev[n * t_len * h..(n + 1) * t_len * h];
        if let Some(h0) = h0 {
            seq[..h].copy_from_slice(&h0[n * h..(n + 1) * h]);
        }
        seq[h..].copy_from_slice(&hs[n * t_len * h..(n * t_len + t_len - 1) * h]);
    }
    prev
}

/// The last step `hs[:, T−1]` as `(N, H)`.
fn last_step<T: Float>(hs: &[T], d: Dims) -> Vec<T> {
    let mut out = Vec::with_capacity(d.n * d.h);
    for n in 0..d.n {
        let at = (n * d.t + d.t - 1) * d.h;
        out.extend_from_slice(&hs[at..at + d.h]);
    }
    out
}

/// `C = Aᵀ·B` for `A: (rows, k)`, `B: (rows, g)`: a `(k, g)` weight gradient.
fn at_b<T: Float>(a: &[T], b: &[T], k: usize, g: usize) -> Vec<T> {
    let mut c = vec![T::ZERO; k * g];
    gemm(k, a.len() / k, g, a, true, b, false, T::ZERO, &mut c);
    c
}

/// `C = A·Bᵀ` for `A: (rows, g)`, `B: (k, g)`: the `(rows, k)` input gradient.
fn a_bt<T: Float>(a: &[T], b: &[T], g: usize, k: usize) -> Vec<T> {
    let rows = a.len() / g;
    let mut c = vec![T::ZERO; rows * k];
    InputGrad::new(b, g, k).rows(rows, a, g, &mut c, k);
    c
}

/// `dX = dA·Wᵀ` for `W: (F, G)`, with Wᵀ prepared once so that backward can form dX a
/// few rows at a time (one time step's, while its dA rows are still in cache). With few
/// input features (CnnLstm's first LSTM has 6) as dot products along G; otherwise with Wᵀ
/// packed and dA's rows read in place.
struct InputGrad<'a, T> {
    w: &'a [T],
    w_t: Option<PackedB<T>>,
    g: usize,
    f: usize,
}

impl<'a, T: Float> InputGrad<'a, T> {
    fn new(w: &'a [T], g: usize, f: usize) -> Self {
        let w_t = (!dots_pay_off::<T>(f)).then(|| PackedB::new(g, f, w, true));
        InputGrad { w, w_t, g, f }
    }

    /// `rows` rows of dX (`ldx` apart in `dx`) from the same rows of dA (`lda` apart).
    fn rows(&self, rows: usize, da: &[T], lda: usize, dx: &mut [T], ldx: usize) {
        match &self.w_t {
            None => gemm_dots(rows, self.g, self.f, da, lda, self.w, false, dx, ldx),
            Some(w_t) => gemm_packed(rows, View::rows(da, lda), w_t, false, dx, ldx),
        }
    }
}

/// Concatenate per-chunk pieces (in batch order) into a tensor, one memcpy per piece.
fn concat<T: Float, P: AsRef<[T]>>(parts: impl Iterator<Item = P>, shape: &[usize]) -> Tensor<T> {
    let mut all = Vec::with_capacity(shape.iter().product());
    for part in parts {
        all.extend_from_slice(part.as_ref());
    }
    Tensor::new(all, shape).expect("chunks fill the shape")
}

/// Sum per-chunk partial gradients (in chunk order, so a given thread count always
/// gives the same numbers).
fn sum_parts<T: Float>(parts: impl Iterator<Item = Vec<T>>, shape: &[usize]) -> Tensor<T> {
    let mut total: Option<Vec<T>> = None;
    for p in parts {
        match &mut total {
            None => total = Some(p),
            Some(t) => t.iter_mut().zip(&p).for_each(|(a, &b)| *a += b),
        }
    }
    Tensor::new(total.expect("at least one chunk"), shape).expect("partial shape")
}

/// d(loss)/d(h_t) arriving from outside at step `t` for row `n` of a chunk whose output
/// gradient is `g`: from every step when the op returned the sequence, else only from
/// the last step.
#[inline(always)]
fn output_grad<T: Float>(
    g: &[T],
    return_sequences: bool,
    d: Dims,
    t: usize,
    n: usize,
) -> Option<&[T]> {
    if return_sequences {
        let at = (n * d.t + t) * d.h;
        Some(&g[at..at + d.h])
    } else if t == d.t - 1 {
        Some(&g[n * d.h..(n + 1) * d.h])
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
