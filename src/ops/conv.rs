//! Convolutions: `conv2d` on NCHW images and `conv1d` on NCL signals (cross-correlation,
//! as Keras and PyTorch compute it).
//!
//! For one sample, lower the input to its patch matrix (see `kernels::im2col`):
//! `cols` is (C·kh·kw) × (OH·OW) with column (i, j) the input patch under output pixel
//! (i, j). With the kernel flattened to W (O × C·kh·kw) the convolution is one product,
//!
//! ```text
//! Y = W·cols + b·1ᵀ                      (O × OH·OW)
//! ```
//!
//! and its derivatives follow from the matrix-product rule:
//!
//! ```text
//! dW    = Σ_n dYₙ·colsₙᵀ                  (O × C·kh·kw)
//! db    = Σ_n dYₙ·1                       (O)
//! dcols = Wᵀ·dYₙ,  dXₙ = col2im(dcols)    (col2im is the adjoint of im2col: it adds each
//!                                          patch entry back to the pixel it came from)
//! ```
//!
//! Three algorithms compute this. `Im2col` runs the product through sgemm one sample at a
//! time, rebuilding `cols` in backward rather than storing it (for a batch of 128 at
//! 80×80 with an 8×8 kernel the stored columns would be 210 MB). `Windows` (stride 1
//! only, see `conv_windows`) computes the same products with the patch rows read in place
//! from a padded channels-last copy, so nothing nine times the input is written or packed.
//! `Direct` evaluates the sums in place with register blocking, which wins when C is small
//! (1–4 input channels: a gemm with 3 rows and 64-times-inflated columns wastes most of
//! its time). `Auto` picks direct for C ≤ 4, else windows at stride 1 in f32 (where its
//! SIMD gemm runs), else im2col. The batch is split across threads; weight and bias
//! gradients are summed per fixed group of samples and then in group order, so results do
//! not depend on scheduling.

use super::conv_windows::{self, WindowsScratch};
use crate::kernels::conv_direct::{conv2d_direct_backward, conv2d_direct_forward, DirectScratch};
use crate::kernels::gemm_packed::packed_pays_off;
use crate::kernels::im2col::{col2im, im2col, ConvGeometry};
use crate::kernels::reduce::sum;
use crate::kernels::{gemm, Float};
use crate::{Error, Result, Tensor, Var};
use rayon::prelude::*;

/// How the input is padded before the kernel slides over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding; the output shrinks to `⌊(in − k)/s⌋ + 1`.
    Valid,
    /// Keras/TF 'same': `out = ⌈in/s⌉`, total padding `max((out−1)·s + k − in, 0)`,
    /// `before = ⌊total/2⌋`, `after = total − before` (the extra row/column of an even
    /// kernel goes after).
    Same,
    /// Zeros added on each side. `conv1d` uses `left`/`right` and needs `top = bottom = 0`.
    Explicit {
        top: usize,
        bottom: usize,
        left: usize,
        right: usize,
    },
}

/// Which implementation computes the convolution (the results agree to rounding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConvAlgorithm {
    /// Direct for at most [`DIRECT_MAX_CHANNELS`] input channels; otherwise windows at
    /// stride 1 in f32, im2col + gemm for the rest.
    #[default]
    Auto,
    Direct,
    Im2col,
    /// Stride 1 only: the patch rows read in place from a padded channels-last copy.
    Windows,
}

/// The algorithm a plan runs, `Auto` resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lowering {
    Direct,
    Im2col,
    Windows,
}

/// Largest input-channel count for which `Auto` picks the direct algorithm.
pub const DIRECT_MAX_CHANNELS: usize = 4;

/// Stride, padding and algorithm of a 2-d convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// (vertical, horizontal) step of the kernel.
    pub stride: (usize, usize),
    pub padding: Padding,
    pub algorithm: ConvAlgorithm,
}

impl Default for Conv2dOptions {
    /// Keras' default: stride 1, 'valid'.
    fn default() -> Self {
        Conv2dOptions {
            stride: (1, 1),
            padding: Padding::Valid,
            algorithm: ConvAlgorithm::Auto,
        }
    }
}

impl Conv2dOptions {
    pub fn same() -> Self {
        Conv2dOptions {
            padding: Padding::Same,
            ..Self::default()
        }
    }
    pub fn valid() -> Self {
        Self::default()
    }
    pub fn with_stride(self, sh: usize, sw: usize) -> Self {
        Conv2dOptions {
            stride: (sh, sw),
            ..self
        }
    }
    pub fn with_algorithm(self, algorithm: ConvAlgorithm) -> Self {
        Conv2dOptions { algorithm, ..self }
    }
}

/// Stride, padding and algorithm of a 1-d convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dOptions {
    pub stride: usize,
    pub padding: Padding,
    pub algorithm: ConvAlgorithm,
}

impl Default for Conv1dOptions {
    /// Keras' default: stride 1, 'valid'.
    fn default() -> Self {
        Conv1dOptions {
            stride: 1,
            padding: Padding::Valid,
            algorithm: ConvAlgorithm::Auto,
        }
    }
}

/// Keras 'same' padding along one axis: `(before, after)`.
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out.max(1) - 1) * stride + kernel).saturating_sub(input);
    (total / 2, total - total / 2)
}

/// `(dx, dw, db)`, each present only when asked for.
type ConvGrads<T> = (Option<Vec<T>>, Option<Vec<T>>, Option<Vec<T>>);

/// A checked convolution: geometry of one sample, batch size, output channels, algorithm.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvPlan {
    pub(crate) g: ConvGeometry,
    pub(crate) batch: usize,
    pub(crate) c_out: usize,
    algorithm: ConvAlgorithm,
}

/// Per-thread buffers of a convolution's sample loop.
#[derive(Default)]
pub(crate) struct ConvScratch<T> {
    direct: DirectScratch<T>,
    cols: Vec<T>,
    windows: WindowsScratch<T>,
}

impl ConvPlan {
    /// Validate (N,C,H,W) input against (O,C,kh,kw) kernel and optional (O) bias.
    pub(crate) fn new(
        op: &'static str,
        x: &[usize],
        w: &[usize],
        bias: Option<&[usize]>,
        stride: (usize, usize),
        padding: Padding,
        algorithm: ConvAlgorithm,
    ) -> Result<Self> {
        let &[n, c, h, wd] = x else {
            return Err(Error::shape(
                op,
                format!("input must be 4-d NCHW, got {x:?}"),
            ));
        };
        let &[o, wc, kh, kw] = w else {
            return Err(Error::shape(
                op,
                format!("kernel must be (O, C, kh, kw), got {w:?}"),
            ));
        };
        if wc != c {
            return Err(Error::shape(
                op,
                format!("input has {c} channels but the kernel expects {wc} (input {x:?}, kernel {w:?})"),
            ));
        }
        if let Some(b) = bias {
            if b != [o] {
                return Err(Error::shape(op, format!("bias must be [{o}], got {b:?}")));
            }
        }
        if stride.0 == 0 || stride.1 == 0 {
            return Err(Error::invalid(format!(
                "{op}: stride must be positive, got {stride:?}"
            )));
        }
        if [c, h, wd, o, kh, kw].contains(&0) {
            return Err(Error::shape(
                op,
                format!("empty dimension: input {x:?}, kernel {w:?}"),
            ));
        }
        let (pt, pb, pl, pr) = match padding {
            Padding::Valid => (0, 0, 0, 0),
            Padding::Same => {
                let (t, b) = same_padding(h, kh, stride.0);
                let (l, r) = same_padding(wd, kw, stride.1);
                (t, b, l, r)
            }
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            } => (top, bottom, left, right),
        };
        let g = ConvGeometry {
            channels: c,
            height: h,
            width: wd,
            kernel_h: kh,
            kernel_w: kw,
            stride_h: stride.0,
            stride_w: stride.1,
            pad_top: pt,
            pad_bottom: pb,
            pad_left: pl,
            pad_right: pr,
        };
        if !g.is_valid() {
            return Err(Error::shape(
                op,
                format!(
                    "kernel {kh}×{kw} does not fit input {h}×{wd} padded to {}×{}",
                    g.padded_h(),
                    g.padded_w()
                ),
            ));
        }
        if algorithm == ConvAlgorithm::Windows && stride != (1, 1) {
            return Err(Error::invalid(format!(
                "{op}: the windows algorithm needs stride 1, got {stride:?} (use Im2col or Auto)"
            )));
        }
        Ok(ConvPlan {
            g,
            batch: n,
            c_out: o,
            algorithm,
        })
    }

    /// The algorithm that runs for element type `T`.
    fn lowering<T: Float>(&self) -> Lowering {
        let g = &self.g;
        match self.algorithm {
            ConvAlgorithm::Direct => Lowering::Direct,
            ConvAlgorithm::Im2col => Lowering::Im2col,
            ConvAlgorithm::Windows => Lowering::Windows,
            ConvAlgorithm::Auto if g.channels <= DIRECT_MAX_CHANNELS => Lowering::Direct,
            ConvAlgorithm::Auto if (g.stride_h, g.stride_w) == (1, 1) && packed_pays_off::<T>() => {
                Lowering::Windows
            }
            ConvAlgorithm::Auto => Lowering::Im2col,
        }
    }

    /// True when the direct algorithm computes this convolution.
    pub(crate) fn is_direct<T: Float>(&self) -> bool {
        self.lowering::<T>() == Lowering::Direct
    }

    pub(crate) fn out_len(&self) -> usize {
        self.c_out * self.g.out_pixels()
    }

    /// Samples per group: the batch is cut into at most 4 groups per thread, fixed for
    /// a given batch size and thread count.
    pub(crate) fn group_size(&self) -> usize {
        let groups = (4 * rayon::current_num_threads()).min(self.batch).max(1);
        self.batch.div_ceil(groups).max(1)
    }

    /// `y_n = conv(x_n, w) + b` for one sample.
    pub(crate) fn forward_sample<T: Float>(
        &self,
        x_n: &[T],
        w: &[T],
        b: Option<&[T]>,
        y_n: &mut [T],
        scratch: &mut ConvScratch<T>,
    ) {
        let g = &self.g;
        match self.lowering::<T>() {
            Lowering::Direct => {
                return conv2d_direct_forward(x_n, g, w, b, y_n, &mut scratch.direct)
            }
            Lowering::Windows => {
                let (c_out, windows) = (self.c_out, &mut scratch.windows);
                return conv_windows::forward_sample(g, c_out, (x_n, w, b), y_n, windows);
            }
            Lowering::Im2col => {}
        }
        let (k, p) = (g.patch_len(), g.out_pixels());
        scratch.cols.resize(k * p, T::ZERO);
        im2col(x_n, g, &mut scratch.cols);
        gemm(
            self.c_out,
            k,
            p,
            w,
            false,
            &scratch.cols,
            false,
            T::ZERO,
            y_n,
        );
        if let Some(b) = b {
            for (row, &bo) in y_n.chunks_exact_mut(p).zip(b) {
                row.iter_mut().for_each(|v| *v += bo);
            }
        }
    }

    /// `dx_n += ∂L/∂x_n` and `dw += ∂L/∂w` for one sample, each when given. The windowed
    /// algorithm keeps its share of `dw` in `scratch` until [`Self::finish_weight_grad`].
    pub(crate) fn backward_sample<T: Float>(
        &self,
        x_n: &[T],
        w: &[T],
        dy_n: &[T],
        dx_n: Option<&mut [T]>,
        dw: Option<&mut [T]>,
        scratch: &mut ConvScratch<T>,
    ) {
        let g = &self.g;
        match self.lowering::<T>() {
            Lowering::Direct => {
                return conv2d_direct_backward(x_n, g, w, dy_n, dx_n, dw, &mut scratch.direct)
            }
            Lowering::Windows => {
                let (c_out, want_dw, windows) = (self.c_out, dw.is_some(), &mut scratch.windows);
                return conv_windows::backward_sample(
                    g,
                    c_out,
                    (x_n, w, dy_n),
                    dx_n,
                    want_dw,
                    windows,
                );
            }
            Lowering::Im2col => {}
        }
        let (k, p, o) = (g.patch_len(), g.out_pixels(), self.c_out);
        let cols = &mut scratch.cols;
        cols.resize(k * p, T::ZERO);
        if let Some(dw) = dw {
            im2col(x_n, g, cols);
            gemm(o, p, k, dy_n, false, cols, true, T::ONE, dw); // dW += dY·colsᵀ
        }
        if let Some(dx_n) = dx_n {
            gemm(k, o, p, w, true, dy_n, false, T::ZERO, cols); // Wᵀ·dY
            col2im(cols, g, dx_n);
        }
    }

    /// `dw +=` what [`Self::backward_sample`] held back in `scratch` (the windowed
    /// algorithm sums a task's samples in its own layout); call after a task's samples.
    pub(crate) fn finish_weight_grad<T: Float>(&self, scratch: &mut ConvScratch<T>, dw: &mut [T]) {
        conv_windows::add_weight_grad(&self.g, &mut scratch.windows, dw);
    }

    fn forward<T: Float>(&self, x: &[T], w: &[T], b: Option<&[T]>) -> Vec<T> {
        let (in_len, out_len) = (self.g.input_len(), self.out_len());
        let mut y = vec![T::ZERO; self.batch * out_len];
        let group = self.group_size();
        y.par_chunks_mut(group * out_len)
            .zip(x.par_chunks(group * in_len))
            .for_each(|(y_group, x_group)| {
                let mut scratch = ConvScratch::default();
                for (y_n, x_n) in y_group
                    .chunks_exact_mut(out_len)
                    .zip(x_group.chunks_exact(in_len))
                {
                    self.forward_sample(x_n, w, b, y_n, &mut scratch);
                }
            });
        y
    }

    /// Gradients `(dx, dw, db)`, each computed only when asked for.
    fn backward<T: Float>(
        &self,
        x: &[T],
        w: &[T],
        dy: &[T],
        (need_dx, need_dw, need_db): (bool, bool, bool),
    ) -> ConvGrads<T> {
        let (in_len, out_len) = (self.g.input_len(), self.out_len());
        let (p, o) = (self.g.out_pixels(), self.c_out);
        let group = self.group_size();
        let mut dx = vec![T::ZERO; if need_dx { x.len() } else { 0 }];
        let dx_groups: Vec<&mut [T]> = if need_dx {
            dx.chunks_mut(group * in_len).collect()
        } else {
            (0..self.batch.div_ceil(group))
                .map(|_| <&mut [T]>::default())
                .collect()
        };
        // Per-group partial (dw, db), summed below in group order.
        let partials: Vec<(Vec<T>, Vec<T>)> = dx_groups
            .into_par_iter()
            .zip(x.par_chunks(group * in_len))
            .zip(dy.par_chunks(group * out_len))
            .map(|((dx_group, x_group), dy_group)| {
                let mut dw = vec![T::ZERO; if need_dw { w.len() } else { 0 }];
                let mut db = vec![T::ZERO; if need_db { o } else { 0 }];
                let samples = x_group
                    .chunks_exact(in_len)
                    .zip(dy_group.chunks_exact(out_len));
                let mut dx_samples = dx_group.chunks_exact_mut(in_len);
                let mut scratch = ConvScratch::default();
                for (x_n, dy_n) in samples {
                    let dx_n = if need_dx { dx_samples.next() } else { None };
                    if need_db {
                        for (acc, row) in db.iter_mut().zip(dy_n.chunks_exact(p)) {
                            *acc += sum(row);
                        }
                    }
                    let dw_n = need_dw.then_some(dw.as_mut_slice());
                    self.backward_sample(x_n, w, dy_n, dx_n, dw_n, &mut scratch);
                }
                self.finish_weight_grad(&mut scratch, &mut dw);
                (dw, db)
            })
            .collect();
        let mut dw = need_dw.then(|| vec![T::ZERO; w.len()]);
        let mut db = need_db.then(|| vec![T::ZERO; o]);
        for (pdw, pdb) in &partials {
            if let Some(dw) = &mut dw {
                dw.iter_mut().zip(pdw).for_each(|(a, b)| *a += *b);
            }
            if let Some(db) = &mut db {
                db.iter_mut().zip(pdb).for_each(|(a, b)| *a += *b);
            }
        }
        (need_dx.then_some(dx), dw, db)
    }
}

/// Record a planned convolution on the tape. `x_shape`/`w_shape` are the callers' shapes
/// (NCL for conv1d), used for the gradients' shapes.
fn record<T: Float>(
    op: &'static str,
    plan: ConvPlan,
    x: &Var<T>,
    w: &Var<T>,
    bias: Option<&Var<T>>,
    out_shape: Vec<usize>,
) -> Result<Var<T>> {
    let (xv, wv) = (x.value().clone(), w.value().clone());
    let y = plan.forward(xv.data(), wv.data(), bias.map(|b| b.value().data()));
    let y = Tensor::new(y, &out_shape)?;
    let mut inputs = vec![x, w];
    inputs.extend(bias);
    let b_shape = bias.map(|b| b.shape().to_vec());
    Ok(Var::from_op(op, y, &inputs, move |dy, needs| {
        let need_db = needs.get(2).copied().unwrap_or(false);
        let (dx, dw, db) = plan.backward(
            xv.data(),
            wv.data(),
            dy.data(),
            (needs[0], needs[1], need_db),
        );
        let as_tensor = |v: Option<Vec<T>>, shape: &[usize]| {
            v.map(|v| Tensor::new(v, shape).expect("gradient has its input's size"))
        };
        let mut grads = vec![as_tensor(dx, xv.shape()), as_tensor(dw, wv.shape())];
        if let Some(shape) = &b_shape {
            grads.push(as_tensor(db, shape));
        }
        grads
    }))
}

/// 2-d convolution of `x` (N, C, H, W) with `w` (O, C, kh, kw) plus optional `bias` (O),
/// giving (N, O, OH, OW). See the module docs for the derivatives.
pub fn conv2d<T: Float>(
    x: &Var<T>,
    w: &Var<T>,
    bias: Option<&Var<T>>,
    options: &Conv2dOptions,
) -> Result<Var<T>> {
    let plan = ConvPlan::new(
        "conv2d",
        x.shape(),
        w.shape(),
        bias.map(|b| b.shape()),
        options.stride,
        options.padding,
        options.algorithm,
    )?;
    let out = vec![plan.batch, plan.c_out, plan.g.out_h(), plan.g.out_w()];
    record("conv2d", plan, x, w, bias, out)
}

/// The output shape of [`conv2d`] for an input shape, kernel shape and options.
pub fn conv2d_output_shape(
    input: &[usize],
    kernel: &[usize],
    options: &Conv2dOptions,
) -> Result<Vec<usize>> {
    let plan = ConvPlan::new(
        "conv2d",
        input,
        kernel,
        None,
        options.stride,
        options.padding,
        options.algorithm,
    )?;
    Ok(vec![plan.batch, plan.c_out, plan.g.out_h(), plan.g.out_w()])
}

/// Plan a 1-d convolution as the 2-d one on (N, C, 1, L) with a (O, C, 1, k) kernel.
pub(crate) fn plan_1d(
    input: &[usize],
    kernel: &[usize],
    bias: Option<&[usize]>,
    options: &Conv1dOptions,
) -> Result<ConvPlan> {
    let &[n, c, l] = input else {
        return Err(Error::shape(
            "conv1d",
            format!("input must be 3-d NCL, got {input:?}"),
        ));
    };
    let &[o, kc, k] = kernel else {
        return Err(Error::shape(
            "conv1d",
            format!("kernel must be (O, C, k), got {kernel:?}"),
        ));
    };
    let padding = match options.padding {
        Padding::Explicit { top, bottom, .. } if top != 0 || bottom != 0 => {
            return Err(Error::invalid(format!(
                "conv1d: explicit padding uses left/right only, got top {top}, bottom {bottom}"
            )))
        }
        p => p,
    };
    ConvPlan::new(
        "conv1d",
        &[n, c, 1, l],
        &[o, kc, 1, k],
        bias,
        (1, options.stride),
        padding,
        options.algorithm,
    )
}

/// 1-d convolution of `x` (N, C, L) with `w` (O, C, k) plus optional `bias` (O), giving
/// (N, O, OL): the 2-d convolution with H = kh = 1, so the same derivatives hold.
pub fn conv1d<T: Float>(
    x: &Var<T>,
    w: &Var<T>,
    bias: Option<&Var<T>>,
    options: &Conv1dOptions,
) -> Result<Var<T>> {
    let plan = plan_1d(x.shape(), w.shape(), bias.map(|b| b.shape()), options)?;
    let out = vec![plan.batch, plan.c_out, plan.g.out_w()];
    record("conv1d", plan, x, w, bias, out)
}

/// The output shape of [`conv1d`].
pub fn conv1d_output_shape(
    input: &[usize],
    kernel: &[usize],
    options: &Conv1dOptions,
) -> Result<Vec<usize>> {
    let plan = plan_1d(input, kernel, None, options)?;
    Ok(vec![plan.batch, plan.c_out, plan.g.out_w()])
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
