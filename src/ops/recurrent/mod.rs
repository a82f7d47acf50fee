//! Recurrent layers over a whole sequence, each as ONE op with its own backward through
//! time (BPTT): [`lstm`] and [`gru`].
//!
//! Both share a structure that keeps the work in large gemms:
//!
//! - the input projection `X·W + b` for ALL time steps is one gemm `(N·T, F)×(F, G·H)`,
//!   with the G gates fused along the columns (Keras layout: `W: (F, G·H)`);
//! - each step adds one gemm `(N, H)×(H, G·H)` for the recurrent projection and then a
//!   tight elementwise loop for the gate nonlinearities;
//! - backward walks the steps in reverse doing the per-step gemm `(N, G·H)×(G·H, H)` for
//!   the gradient flowing to `h_{t−1}`, stores the pre-activation gradients of every step,
//!   and finishes with three big gemms: `dX = dA·Wᵀ`, `dW = Xᵀ·dA`, `dU = H_prevᵀ·dA_rec`.
//!
//! Sequences are `(N, T, F)`: batch, time, features.

mod gru;
mod lstm;

pub use gru::gru;
pub use lstm::lstm;

use crate::kernels::gemm;
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
    let [uh, ug] = *u else {
        return Err(bad(format!("recurrent kernel must be (H, {gates}·H), got {u:?}")));
    };
    let h = uh;
    if ug != gates * h {
        return Err(bad(format!("recurrent kernel must be (H, {gates}·H), got {u:?}")));
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
                return Err(bad(format!("{name} must be (N, H) = [{n}, {h}], got {s:?}")));
            }
        }
    }
    Ok(Dims { n, t, f, h })
}

/// `X·W + bias` for every row of `x` viewed as `(rows, f)`: one gemm.
fn project_inputs<T: Float>(x: &[T], w: &[T], bias: &[T], rows: usize, f: usize) -> Vec<T> {
    let g = bias.len();
    let mut out = Vec::with_capacity(rows * g);
    for _ in 0..rows {
        out.extend_from_slice(bias);
    }
    gemm(rows, f, g, x, false, w, false, T::ONE, &mut out);
    out
}

/// The sequence `h_{t−1}` laid out like `hs` `(N, T, H)`: step 0 holds `h0` (zeros if
/// absent), step t holds `hs[:, t−1]`.
fn previous_hidden<T: Float>(hs: &[T], h0: Option<&Tensor<T>>, d: Dims) -> Vec<T> {
    let (t_len, h) = (d.t, d.h);
    let mut prev = vec![T::ZERO; d.n * t_len * h];
    for n in 0..d.n {
        let seq = &mut prev[n * t_len * h..(n + 1) * t_len * h];
        if let Some(h0) = h0 {
            seq[..h].copy_from_slice(&h0.data()[n * h..(n + 1) * h]);
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

/// `dX = dA·Wᵀ` as `(N, T, F)` from pre-activation gradients `dA: (N·T, G)`.
fn grad_input<T: Float>(da: &[T], w: &Tensor<T>, d: Dims, g: usize) -> Tensor<T> {
    let rows = d.n * d.t;
    let mut dx = vec![T::ZERO; rows * d.f];
    gemm(rows, g, d.f, da, false, w.data(), true, T::ZERO, &mut dx);
    Tensor::new(dx, &[d.n, d.t, d.f]).expect("shape of x")
}

/// `dW = Aᵀ·dA` for `A: (rows, k)` and `dA: (rows, G)`: a `(k, G)` kernel gradient.
fn grad_kernel<T: Float>(a: &[T], da: &[T], rows: usize, k: usize, g: usize) -> Tensor<T> {
    let mut dw = vec![T::ZERO; k * g];
    gemm(k, rows, g, a, true, da, false, T::ZERO, &mut dw);
    Tensor::new(dw, &[k, g]).expect("kernel shape")
}

/// d(loss)/d(h_t) arriving from outside at step `t`, element `(n, k)`: from every step
/// when the op returned the sequence, else only from the last step.
#[inline(always)]
fn output_grad<T: Float>(g: &[T], return_sequences: bool, d: Dims, t: usize, n: usize) -> Option<&[T]> {
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
