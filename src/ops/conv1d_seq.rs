//! Conv1D → leaky ReLU / ReLU → max-pool over time on channels-last sequences
//! `x: (N, L, C)` (Keras' Conv1D layout), as one op with no patch matrix.
//!
//! With time in rows, the receptive field of output step t — input steps t·s … t·s+k−1,
//! all C channels — is one contiguous run of k·C values starting at `x[t·s·C]`. The
//! patch matrix im2col would copy out is already in memory: its rows are overlapping
//! windows of x, `s·C` apart. With `W'[i·C + c, o] = w[o, c, i]` (the kernel as a
//! `(k·C, O)` matrix) and `win_t` the window of step t:
//!
//! ```text
//! z[t, o] = b[o] + win_t · W'[:, o]                  (one gemm per sample, A = windows)
//! a = act(z)          act(v) = v (v > 0), α·v (v ≤ 0), 0 ≤ α ≤ 1
//! y[p, o] = max_{t ∈ [p·ps, p·ps + pool)} a[t, o]     winner t*(p, o): the first maximum
//! ```
//!
//! act is non-decreasing, so it commutes with max: the pool picks winners on z and the
//! activation touches only them. Backward, from dy at the pooled outputs:
//!
//! ```text
//! dz[t, o] = Σ_{p: t*(p,o) = t} dy[p, o]·act'(z[t, o])      act' = 1 (y > 0), α (else)
//! dW'      = Σ_n Σ_t win_tᵀ·dz[t, :]                        (gemm: dzᵀ·windows, per sample)
//! db[o]    = Σ_n Σ_t dz[t, o]
//! dx[t·s·C + j] += Σ_o dz[t, o]·W'[j, o]                    (gemm dz·W'ᵀ into overlapping
//!                                                            rows: col2im for free)
//! ```

use super::transposed;
use crate::kernels::gemm_dots::{dots_pay_off, gemm_dots};
use crate::kernels::gemm_packed::{gemm_packed, gemm_strided, PackedB, View};
use crate::{Error, Float, Result, Tensor, Var};
use rayon::prelude::*;

const OP: &str = "conv1d_seq_act_max_pool";

/// Samples per parallel task; partial weight gradients are summed per group in group
/// order, so the numbers do not depend on the thread count or schedule.
const GROUP: usize = 8;

/// Sizes of one call.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    len: usize,
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    conv_len: usize,
    pool: usize,
    pool_stride: usize,
    pooled_len: usize,
}

impl Geometry {
    /// Values per sample of x.
    fn sample(&self) -> usize {
        self.len * self.c_in
    }
    /// Values per sample of y.
    fn pooled(&self) -> usize {
        self.pooled_len * self.c_out
    }
    /// The windows of one sample: row t at `t·s·C`, k·C long.
    fn windows<'a, T: Float>(&self, x_n: &'a [T]) -> View<'a, T> {
        View::rows(x_n, self.stride * self.c_in)
    }
    fn window_len(&self) -> usize {
        self.k * self.c_in
    }
}

/// Valid ('no padding') 1-d convolution of `x: (N, L, C)` with `w: (O, C, k)` (melgrad's
/// Conv1d layout) plus optional `bias: (O)`, at `stride`, then leaky ReLU with `slope`
/// (0 = ReLU) and max-pool over time (`pool`, `pool_stride`): output `(N, P, O)`.
pub fn conv1d_seq_act_max_pool<T: Float>(
    x: &Var<T>,
    w: &Var<T>,
    bias: Option<&Var<T>>,
    stride: usize,
    slope: T,
    (pool, pool_stride): (usize, usize),
) -> Result<Var<T>> {
    let g = geometry(
        x.shape(),
        w.shape(),
        bias.map(|b| b.shape()),
        stride,
        (pool, pool_stride),
    )?;
    if !(slope >= T::ZERO && slope <= T::ONE) {
        return Err(Error::invalid(format!(
            "{OP}: the activation's slope must be in [0, 1] so that it commutes with max, got {slope}"
        )));
    }
    let w_rows = kernel_rows(w.value().data(), g);
    let w_rows_t = transposed(&w_rows, g.window_len(), g.c_out);
    // Few output channels (Conv1D 80 → 8): dot products along the window beat the tile
    // kernel, whose 16-lane vectors would run half empty (CnnLstm's block-1 forward took
    // 0.47–0.60 of the first LSTM's forward time with the tiles, 0.28–0.29 with dots).
    let dots = dots_pay_off::<T>(g.c_out);
    let packed = (!dots).then(|| PackedB::new(g.window_len(), g.c_out, &w_rows, false));
    let b = bias.map(|b| b.value().data().to_vec());
    let xv = x.value().clone();
    let mut y = vec![T::ZERO; g.n * g.pooled()];
    let mut winners = vec![0u32; g.n * g.pooled()];
    y.par_chunks_mut(g.pooled())
        .zip(winners.par_chunks_mut(g.pooled()))
        .zip(xv.data().par_chunks(g.sample()))
        .for_each(|((y_n, win_n), x_n)| {
            let mut z = vec![T::ZERO; g.conv_len * g.c_out];
            if let Some(b) = &b {
                z.chunks_exact_mut(g.c_out)
                    .for_each(|row| row.copy_from_slice(b));
            }
            let (rows, step) = (g.conv_len, g.stride * g.c_in);
            match &packed {
                Some(packed) => {
                    gemm_packed(rows, g.windows(x_n), packed, b.is_some(), &mut z, g.c_out)
                }
                None => gemm_dots(
                    rows,
                    g.window_len(),
                    g.c_out,
                    x_n,
                    step,
                    &w_rows_t,
                    b.is_some(),
                    &mut z,
                    g.c_out,
                ),
            }
            pool_and_activate(&z, g, slope, y_n, win_n);
        });
    let y = Tensor::new(y, &[g.n, g.pooled_len, g.c_out])?;

    let y_kept = y.clone();
    let mut inputs = vec![x, w];
    inputs.extend(bias);
    Ok(Var::from_op(OP, y, &inputs, move |dy, needs| {
        let (want_x, want_w) = (needs[0], needs[1]);
        let want_b = needs.get(2).copied().unwrap_or(false);
        let parts = backward(
            &xv,
            &w_rows_t,
            y_kept.data(),
            &winners,
            dy.data(),
            slope,
            g,
            want_x,
        );
        let mut dx = want_x.then(|| Vec::with_capacity(g.n * g.sample()));
        let (mut dw_t, mut db) = (
            vec![T::ZERO; g.c_out * g.window_len()],
            vec![T::ZERO; g.c_out],
        );
        for part in parts {
            if let Some(dx) = &mut dx {
                dx.extend_from_slice(&part.dx);
            }
            dw_t.iter_mut().zip(&part.dw_t).for_each(|(a, &b)| *a += b);
            db.iter_mut().zip(&part.db).for_each(|(a, &b)| *a += b);
        }
        let mut grads = vec![
            dx.map(|dx| Tensor::new(dx, &[g.n, g.len, g.c_in]).expect("dx shape")),
            want_w.then(|| {
                let dw = kernel_from_rows_t(&dw_t, g);
                Tensor::new(dw, &[g.c_out, g.c_in, g.k]).expect("dw shape")
            }),
        ];
        if needs.len() > 2 {
            grads.push(want_b.then(|| Tensor::new(db, &[g.c_out]).expect("db shape")));
        }
        grads
    }))
}

/// Check the shapes and derive every size.
fn geometry(
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
    stride: usize,
    (pool, pool_stride): (usize, usize),
) -> Result<Geometry> {
    let bad = |why: String| Error::shape(OP, why);
    let &[n, len, c_in] = x else {
        return Err(bad(format!("x must be (N, L, C), got {x:?}")));
    };
    let &[c_out, kc, k] = w else {
        return Err(bad(format!("kernel must be (O, C, k), got {w:?}")));
    };
    if kc != c_in {
        return Err(bad(format!(
            "kernel {w:?} expects {kc} channels, x {x:?} has {c_in}"
        )));
    }
    if let Some(b) = bias {
        if b != [c_out] {
            return Err(bad(format!("bias must be [{c_out}], got {b:?}")));
        }
    }
    if k == 0 || c_out == 0 || stride == 0 || pool == 0 || pool_stride == 0 {
        return Err(Error::invalid(format!(
            "{OP}: kernel {w:?}, stride {stride}, pool {pool}/{pool_stride} must all be non-zero"
        )));
    }
    if len < k {
        return Err(bad(format!(
            "the sequence ({len} steps) is shorter than the kernel ({k})"
        )));
    }
    let conv_len = (len - k) / stride + 1;
    if conv_len < pool {
        return Err(bad(format!(
            "the pool ({pool}) is longer than the convolved sequence ({conv_len} steps)"
        )));
    }
    Ok(Geometry {
        n,
        len,
        c_in,
        c_out,
        k,
        stride,
        conv_len,
        pool,
        pool_stride,
        pooled_len: (conv_len - pool) / pool_stride + 1,
    })
}

/// `w: (O, C, k)` as the `(k·C, O)` matrix `W'[i·C + c, o] = w[o, c, i]`.
fn kernel_rows<T: Float>(w: &[T], g: Geometry) -> Vec<T> {
    let mut rows = vec![T::ZERO; g.window_len() * g.c_out];
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            for i in 0..g.k {
                rows[(i * g.c_in + c) * g.c_out + o] = w[(o * g.c_in + c) * g.k + i];
            }
        }
    }
    rows
}

/// `dW'ᵀ: (O, k·C)` back to the `(O, C, k)` layout of w.
fn kernel_from_rows_t<T: Float>(dw_t: &[T], g: Geometry) -> Vec<T> {
    let mut dw = vec![T::ZERO; g.c_out * g.c_in * g.k];
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            for i in 0..g.k {
                dw[(o * g.c_in + c) * g.k + i] = dw_t[o * g.window_len() + i * g.c_in + c];
            }
        }
    }
    dw
}

/// Max-pool `z: (conv_len, O)` over time per channel (first maximum wins), then the
/// activation on the winners only.
fn pool_and_activate<T: Float>(z: &[T], g: Geometry, slope: T, y: &mut [T], winners: &mut [u32]) {
    let c = g.c_out;
    let outputs = y.chunks_exact_mut(c).zip(winners.chunks_exact_mut(c));
    for (p, (y_p, win_p)) in outputs.enumerate().take(g.pooled_len) {
        // Whole rows of z (all channels at one time step) at a time.
        let t0 = p * g.pool_stride;
        y_p.copy_from_slice(&z[t0 * c..(t0 + 1) * c]);
        win_p.fill(t0 as u32);
        for t in t0 + 1..t0 + g.pool {
            let row = y_p.iter_mut().zip(win_p.iter_mut());
            for ((best, win), &v) in row.zip(&z[t * c..(t + 1) * c]) {
                if v > *best {
                    (*best, *win) = (v, t as u32);
                }
            }
        }
        for v in y_p.iter_mut().filter(|v| **v <= T::ZERO) {
            *v = slope * *v;
        }
    }
}

/// One group's share of the gradients: its samples' dx, its partial dW'ᵀ and db.
struct Part<T> {
    dx: Vec<T>,
    dw_t: Vec<T>,
    db: Vec<T>,
}

#[allow(clippy::too_many_arguments)]
fn backward<T: Float>(
    x: &Tensor<T>,
    w_rows_t: &[T],
    y: &[T],
    winners: &[u32],
    dy: &[T],
    slope: T,
    g: Geometry,
    want_x: bool,
) -> Vec<Part<T>> {
    let (pooled, wl) = (g.pooled(), g.window_len());
    x.data()
        .par_chunks(GROUP * g.sample())
        .zip(dy.par_chunks(GROUP * pooled))
        .zip(y.par_chunks(GROUP * pooled))
        .zip(winners.par_chunks(GROUP * pooled))
        .map(|(((x_grp, dy_grp), y_grp), win_grp)| {
            let samples = x_grp.len() / g.sample();
            let mut part = Part {
                dx: if want_x {
                    vec![T::ZERO; x_grp.len()]
                } else {
                    Vec::new()
                },
                dw_t: vec![T::ZERO; g.c_out * wl],
                db: vec![T::ZERO; g.c_out],
            };
            let mut dz = vec![T::ZERO; g.conv_len * g.c_out];
            for s in 0..samples {
                let at = s * pooled..(s + 1) * pooled;
                let x_n = &x_grp[s * g.sample()..(s + 1) * g.sample()];
                dz.fill(T::ZERO);
                let pooled_grads = dy_grp[at.clone()].iter().zip(&y_grp[at.clone()]);
                for (i, ((&d, &yv), &t)) in pooled_grads.zip(&win_grp[at]).enumerate() {
                    let o = i % g.c_out;
                    let grad = if yv > T::ZERO { d } else { slope * d };
                    dz[t as usize * g.c_out + o] += grad;
                }
                for row in dz.chunks_exact(g.c_out) {
                    part.db.iter_mut().zip(row).for_each(|(a, &b)| *a += b);
                }
                // dW'ᵀ (O, k·C) += dzᵀ·windows: A = dz read column-wise.
                let dz_t = View {
                    data: &dz,
                    row: 1,
                    col: g.c_out,
                };
                let ld = g.stride * g.c_in;
                gemm_strided(
                    g.c_out,
                    g.conv_len,
                    wl,
                    dz_t,
                    x_n,
                    ld,
                    true,
                    &mut part.dw_t,
                    wl,
                );
                if want_x {
                    let dx_n = &mut part.dx[s * g.sample()..(s + 1) * g.sample()];
                    let dz_rows = View::rows(&dz, g.c_out);
                    gemm_strided(
                        g.conv_len, g.c_out, wl, dz_rows, w_rows_t, wl, true, dx_n, ld,
                    );
                }
            }
            part
        })
        .collect()
}

#[cfg(test)]
mod tests;
