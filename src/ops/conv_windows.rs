//! The windowed algorithm of `conv2d` / `conv1d` at stride 1: im2col's product without
//! the patch matrix.
//!
//! Copy the sample channels-last into a zero-padded P (`kernels::channels_last`) and
//! number the output pixels `t = i·Wp + j`, Wp the padded width. Under kernel row di the
//! patch of pixel t is the contiguous run `P[(t + di·Wp)·C ..][.. kw·C]`, so for each
//! kernel row the patch rows form a matrix whose rows lie C apart in P, and the gemm reads
//! them in place. With the kernel row as a (kw·C) × O matrix,
//! `W'_di[dj·C + c, o] = w[o, c, di, dj]`:
//!
//! ```text
//! z[t, :]    = Σ_di win_di(t) · W'_di                 (kh gemms, A = the windows)
//! y[o, i, j] = z[i·Wp + j, o] + b[o]                  (the columns j ≥ OW are dropped)
//! ```
//!
//! Backward, with dz the pixel rows of dy and zero in the dropped columns (so they add
//! nothing):
//!
//! ```text
//! dW'_diᵀ += dzᵀ · win_di                              (O × kw·C; B's rows overlap)
//! dP[(t + di·Wp)·C ..][.. kw·C] += dz[t, :] · W'_diᵀ   (C's rows overlap: col2im for free)
//! dx = dP without its padding
//! ```
//!
//! Per sample this moves C·Hp·Wp + O·OH·OW values between layouts, where im2col writes
//! and packs C·kh·kw·OH·OW (nine times the input for a 3×3 kernel) before every product.

use crate::kernels::channels_last::{
    pad_channels_last, padded_len, pixel_rows, pixel_rows_to_planes, planes_to_pixel_rows,
    unpad_channels_last_add,
};
use crate::kernels::gemm_packed::{gemm_packed, gemm_strided, PackedB, View};
use crate::kernels::im2col::ConvGeometry;
use crate::Float;

/// The kernel in the two layouts the products read, built once per scratch (per task).
struct Weights<T> {
    /// `W'_di` for each kernel row, packed for the forward product.
    per_row: Vec<PackedB<T>>,
    /// `W'ᵀ`: O rows of kh·kw·C, ordered (di, dj, c), for the input gradient.
    rows_t: Vec<T>,
}

/// Per-task buffers; the weight gradient is summed here over the task's samples and
/// handed over by [`add_weight_grad`].
#[derive(Default)]
pub(crate) struct WindowsScratch<T> {
    weights: Option<Weights<T>>,
    padded: Vec<T>,
    pixels: Vec<T>,
    d_padded: Vec<T>,
    /// `dW'ᵀ` in `rows_t`'s layout; empty until a sample adds to it.
    dw_t: Vec<T>,
}

/// kh·kw·C, the length of one output channel's kernel.
fn kernel_len(g: &ConvGeometry) -> usize {
    g.kernel_h * g.kernel_w * g.channels
}

/// `rows_t[o, (di·kw + dj)·C + c] = w[o, c, di, dj]`.
fn kernel_rows_t<T: Float>(g: &ConvGeometry, c_out: usize, w: &[T]) -> Vec<T> {
    let (c_n, kh, kw) = (g.channels, g.kernel_h, g.kernel_w);
    let mut rows_t = vec![T::ZERO; c_out * kernel_len(g)];
    for (o, row) in rows_t.chunks_exact_mut(kernel_len(g)).enumerate() {
        for c in 0..c_n {
            for di in 0..kh {
                for dj in 0..kw {
                    row[(di * kw + dj) * c_n + c] = w[((o * c_n + c) * kh + di) * kw + dj];
                }
            }
        }
    }
    rows_t
}

impl<T: Float> WindowsScratch<T> {
    fn weights(&mut self, g: &ConvGeometry, c_out: usize, w: &[T]) -> &Weights<T> {
        self.weights.get_or_insert_with(|| {
            let rows_t = kernel_rows_t(g, c_out, w);
            let rows = super::transposed(&rows_t, c_out, kernel_len(g));
            let window = g.kernel_w * g.channels;
            let per_row = rows
                .chunks_exact(window * c_out)
                .map(|w_di| PackedB::new(window, c_out, w_di, false))
                .collect();
            Weights { per_row, rows_t }
        })
    }
}

/// `y_n = conv(x_n, w) + b` for one sample (stride 1; `w` is (O, C, kh, kw)).
pub(crate) fn forward_sample<T: Float>(
    g: &ConvGeometry,
    c_out: usize,
    (x_n, w, b): (&[T], &[T], Option<&[T]>),
    y_n: &mut [T],
    scratch: &mut WindowsScratch<T>,
) {
    debug_assert!(g.stride_h == 1 && g.stride_w == 1);
    let (rows, step) = (pixel_rows(g), g.padded_w() * g.channels);
    scratch.weights(g, c_out, w);
    let WindowsScratch {
        weights,
        padded,
        pixels,
        ..
    } = scratch;
    let weights = weights.as_ref().expect("built above");
    padded.resize(padded_len(g), T::ZERO);
    pad_channels_last(x_n, g, padded);
    pixels.resize(rows * c_out, T::ZERO);
    for (di, w_di) in weights.per_row.iter().enumerate() {
        let windows = View::rows(&padded[di * step..], g.channels);
        gemm_packed(rows, windows, w_di, di > 0, pixels, c_out);
    }
    pixel_rows_to_planes(pixels, g, c_out, b, y_n);
}

/// `dx_n += ∂L/∂x_n` when given; with `want_dw`, `∂L/∂w` for this sample is added to the
/// scratch's sum (see [`add_weight_grad`]).
pub(crate) fn backward_sample<T: Float>(
    g: &ConvGeometry,
    c_out: usize,
    (x_n, w, dy_n): (&[T], &[T], &[T]),
    dx_n: Option<&mut [T]>,
    want_dw: bool,
    scratch: &mut WindowsScratch<T>,
) {
    let (rows, step, c_n) = (pixel_rows(g), g.padded_w() * g.channels, g.channels);
    let (window, k_len) = (g.kernel_w * c_n, kernel_len(g));
    scratch.weights(g, c_out, w);
    let WindowsScratch {
        weights,
        padded,
        pixels: dz,
        d_padded,
        dw_t,
    } = scratch;
    let weights = weights.as_ref().expect("built above");
    dz.resize(rows * c_out, T::ZERO);
    planes_to_pixel_rows(dy_n, g, c_out, dz);
    if want_dw {
        padded.resize(padded_len(g), T::ZERO);
        pad_channels_last(x_n, g, padded);
        dw_t.resize(c_out * k_len, T::ZERO);
        // dzᵀ: row o of the product reads column o of dz.
        let dz_t = View {
            data: &dz[..],
            row: 1,
            col: c_out,
        };
        for di in 0..g.kernel_h {
            let windows = &padded[di * step..];
            let dw_di = &mut dw_t[di * window..];
            gemm_strided(c_out, rows, window, dz_t, windows, c_n, true, dw_di, k_len);
        }
    }
    if let Some(dx_n) = dx_n {
        d_padded.clear();
        d_padded.resize(padded_len(g), T::ZERO);
        let dz_rows = View::rows(&dz[..], c_out);
        for di in 0..g.kernel_h {
            let w_t = &weights.rows_t[di * window..];
            let dp = &mut d_padded[di * step..];
            gemm_strided(rows, c_out, window, dz_rows, w_t, k_len, true, dp, c_n);
        }
        unpad_channels_last_add(d_padded, g, dx_n);
    }
}

/// `dw += ` the weight gradient summed in `scratch` (then cleared), in w's (O, C, kh, kw)
/// layout. Nothing to add when no sample asked for it.
pub(crate) fn add_weight_grad<T: Float>(
    g: &ConvGeometry,
    scratch: &mut WindowsScratch<T>,
    dw: &mut [T],
) {
    if scratch.dw_t.is_empty() {
        return;
    }
    let (c_n, kh, kw, k_len) = (g.channels, g.kernel_h, g.kernel_w, kernel_len(g));
    for (o, row) in scratch.dw_t.chunks_exact(k_len).enumerate() {
        for c in 0..c_n {
            for di in 0..kh {
                for dj in 0..kw {
                    dw[((o * c_n + c) * kh + di) * kw + dj] += row[(di * kw + dj) * c_n + c];
                }
            }
        }
    }
    scratch.dw_t.clear();
}
