//! im2col / col2im: the lowering that turns a convolution into one matrix product.
//!
//! For one sample `x` (C×H×W) and a kh×kw kernel, `cols` is the (C·kh·kw) × (OH·OW)
//! matrix whose column `(i, j)` holds the input patch under output pixel `(i, j)`:
//!
//! ```text
//! cols[(c, ki, kj), (i, j)] = x[c, i·sh + ki − pad_top, j·sw + kj − pad_left]   (0 outside)
//! ```
//!
//! so a convolution with weights W (O × C·kh·kw) is `Y = W·cols`. `col2im` is the adjoint
//! (transpose) of that linear map: it scatter-adds every column entry back to the input
//! pixel it was read from, which is exactly what `dX` needs from `dcols = Wᵀ·dY`.
//! 1-D signals are the case H = kh = 1 (see [`ConvGeometry::one_d`]).

use crate::Float;

/// Everything that fixes the shape of one sample's convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_bottom: usize,
    pub pad_left: usize,
    pub pad_right: usize,
}

impl ConvGeometry {
    /// A 1-d convolution over a C×L signal, as the 2-d case with H = kh = 1.
    pub fn one_d(
        channels: usize,
        length: usize,
        kernel: usize,
        stride: usize,
        pad_left: usize,
        pad_right: usize,
    ) -> Self {
        ConvGeometry {
            channels,
            height: 1,
            width: length,
            kernel_h: 1,
            kernel_w: kernel,
            stride_h: 1,
            stride_w: stride,
            pad_top: 0,
            pad_bottom: 0,
            pad_left,
            pad_right,
        }
    }

    /// True when every size is positive and the kernel fits in the padded input.
    pub fn is_valid(&self) -> bool {
        self.channels > 0
            && self.height > 0
            && self.width > 0
            && self.kernel_h > 0
            && self.kernel_w > 0
            && self.stride_h > 0
            && self.stride_w > 0
            && self.padded_h() >= self.kernel_h
            && self.padded_w() >= self.kernel_w
    }
    pub fn padded_h(&self) -> usize {
        self.height + self.pad_top + self.pad_bottom
    }
    pub fn padded_w(&self) -> usize {
        self.width + self.pad_left + self.pad_right
    }
    pub fn out_h(&self) -> usize {
        (self.padded_h() - self.kernel_h) / self.stride_h + 1
    }
    pub fn out_w(&self) -> usize {
        (self.padded_w() - self.kernel_w) / self.stride_w + 1
    }
    /// C·H·W, the length of one input sample.
    pub fn input_len(&self) -> usize {
        self.channels * self.height * self.width
    }
    /// C·kh·kw, the rows of `cols` (and the columns of the weight matrix).
    pub fn patch_len(&self) -> usize {
        self.channels * self.kernel_h * self.kernel_w
    }
    /// OH·OW, the columns of `cols`.
    pub fn out_pixels(&self) -> usize {
        self.out_h() * self.out_w()
    }
    pub(crate) fn assert_valid(&self) {
        assert!(self.is_valid(), "invalid convolution geometry {self:?}");
    }
}

/// The outputs `o < out` whose tap `o·stride + k − pad` lands inside `0..size`, as a
/// half-open range (empty when none does).
#[inline]
pub(crate) fn valid_range(
    out: usize,
    stride: usize,
    k: usize,
    pad: usize,
    size: usize,
) -> (usize, usize) {
    let lo = if pad > k {
        (pad - k).div_ceil(stride)
    } else {
        0
    };
    let hi = if size + pad > k {
        out.min((size - 1 + pad - k) / stride + 1)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Fill `cols` ((C·kh·kw) × (OH·OW), row-major) from one sample `x` (C×H×W).
pub fn im2col<T: Float>(x: &[T], g: &ConvGeometry, cols: &mut [T]) {
    g.assert_valid();
    assert_eq!(x.len(), g.input_len(), "im2col: input length");
    assert_eq!(
        cols.len(),
        g.patch_len() * g.out_pixels(),
        "im2col: cols length"
    );
    let (oh, ow) = (g.out_h(), g.out_w());
    let mut rows = cols.chunks_exact_mut(oh * ow);
    for c in 0..g.channels {
        let plane = &x[c * g.height * g.width..(c + 1) * g.height * g.width];
        for ki in 0..g.kernel_h {
            let (i_lo, i_hi) = valid_range(oh, g.stride_h, ki, g.pad_top, g.height);
            for kj in 0..g.kernel_w {
                let (j_lo, j_hi) = valid_range(ow, g.stride_w, kj, g.pad_left, g.width);
                let dst = rows.next().expect("row count checked above");
                for (i, out_row) in dst.chunks_exact_mut(ow).enumerate() {
                    if i < i_lo || i >= i_hi || j_lo == j_hi {
                        out_row.fill(T::ZERO);
                        continue;
                    }
                    let src = &plane[(i * g.stride_h + ki - g.pad_top) * g.width..][..g.width];
                    out_row[..j_lo].fill(T::ZERO);
                    out_row[j_hi..].fill(T::ZERO);
                    let first = j_lo * g.stride_w + kj - g.pad_left;
                    if g.stride_w == 1 {
                        out_row[j_lo..j_hi].copy_from_slice(&src[first..first + j_hi - j_lo]);
                    } else {
                        for (d, s) in out_row[j_lo..j_hi]
                            .iter_mut()
                            .zip(src[first..].iter().step_by(g.stride_w))
                        {
                            *d = *s;
                        }
                    }
                }
            }
        }
    }
}

/// `dx += col2im(dcols)`: scatter-add every entry of `dcols` back to the input pixel that
/// [`im2col`] read it from (padding positions are dropped).
pub fn col2im<T: Float>(dcols: &[T], g: &ConvGeometry, dx: &mut [T]) {
    g.assert_valid();
    assert_eq!(dx.len(), g.input_len(), "col2im: input length");
    assert_eq!(
        dcols.len(),
        g.patch_len() * g.out_pixels(),
        "col2im: cols length"
    );
    let (oh, ow) = (g.out_h(), g.out_w());
    let mut rows = dcols.chunks_exact(oh * ow);
    for c in 0..g.channels {
        let plane = &mut dx[c * g.height * g.width..(c + 1) * g.height * g.width];
        for ki in 0..g.kernel_h {
            let (i_lo, i_hi) = valid_range(oh, g.stride_h, ki, g.pad_top, g.height);
            for kj in 0..g.kernel_w {
                let (j_lo, j_hi) = valid_range(ow, g.stride_w, kj, g.pad_left, g.width);
                let src_rows = rows.next().expect("row count checked above");
                if j_lo == j_hi {
                    continue;
                }
                for i in i_lo..i_hi {
                    let src = &src_rows[i * ow + j_lo..i * ow + j_hi];
                    let dst = &mut plane[(i * g.stride_h + ki - g.pad_top) * g.width..][..g.width];
                    let first = j_lo * g.stride_w + kj - g.pad_left;
                    if g.stride_w == 1 {
                        for (d, s) in dst[first..first + src.len()].iter_mut().zip(src) {
                            *d += *s;
                        }
                    } else {
                        for (d, s) in dst[first..].iter_mut().step_by(g.stride_w).zip(src) {
                            *d += *s;
                        }
                    }
                }
            }
        }
    }
}

/// The input index read by tap `(c, ki, kj)` of output pixel `(i, j)`, or `None` in the
/// padding.
pub(crate) fn tap(
    g: &ConvGeometry,
    c: usize,
    ki: usize,
    kj: usize,
    i: usize,
    j: usize,
) -> Option<usize> {
    let y = (i * g.stride_h + ki) as isize - g.pad_top as isize;
    let x = (j * g.stride_w + kj) as isize - g.pad_left as isize;
    let inside = (0..g.height as isize).contains(&y) && (0..g.width as isize).contains(&x);
    inside.then(|| (c * g.height + y as usize) * g.width + x as usize)
}

/// Scalar reference for [`im2col`], element by element from the definition.
pub fn im2col_reference<T: Float>(x: &[T], g: &ConvGeometry, cols: &mut [T]) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for c in 0..g.channels {
        for ki in 0..g.kernel_h {
            for kj in 0..g.kernel_w {
                let row = (c * g.kernel_h + ki) * g.kernel_w + kj;
                for i in 0..oh {
                    for j in 0..ow {
                        cols[row * oh * ow + i * ow + j] =
                            tap(g, c, ki, kj, i, j).map_or(T::ZERO, |p| x[p]);
                    }
                }
            }
        }
    }
}

/// Scalar reference for [`col2im`].
pub fn col2im_reference<T: Float>(dcols: &[T], g: &ConvGeometry, dx: &mut [T]) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for c in 0..g.channels {
        for ki in 0..g.kernel_h {
            for kj in 0..g.kernel_w {
                let row = (c * g.kernel_h + ki) * g.kernel_w + kj;
                for i in 0..oh {
                    for j in 0..ow {
                        if let Some(p) = tap(g, c, ki, kj, i, j) {
                            dx[p] += dcols[row * oh * ow + i * ow + j];
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Random valid geometries: odd sizes, 1-element edges, even kernels with asymmetric
    /// padding, strides up to 3.
    pub(crate) fn geometry() -> impl Strategy<Value = ConvGeometry> {
        (
            (1usize..5, 1usize..10, 1usize..10),
            (1usize..5, 1usize..5, 1usize..4, 1usize..4),
            (0usize..3, 0usize..3, 0usize..3, 0usize..3),
        )
            .prop_map(
                |((c, h, w), (kh, kw, sh, sw), (pt, pb, pl, pr))| ConvGeometry {
                    channels: c,
                    height: h,
                    width: w,
                    kernel_h: kh,
                    kernel_w: kw,
                    stride_h: sh,
                    stride_w: sw,
                    pad_top: pt,
                    pad_bottom: pb,
                    pad_left: pl,
                    pad_right: pr,
                },
            )
            .prop_filter("kernel fits", |g| g.is_valid())
    }

    pub(crate) fn values(n: usize, seed: u64) -> Vec<f64> {
        // A cheap deterministic spread of distinct values in (-1, 1).
        (0..n)
            .map(|i| (((i as u64 + 1) * 2654435761 + seed * 97) % 1999) as f64 / 1000.0 - 1.0)
            .collect()
    }

    proptest! {
        #[test]
        fn im2col_matches_reference(g in geometry(), seed in 0u64..100) {
            let x = values(g.input_len(), seed);
            let n = g.patch_len() * g.out_pixels();
            let (mut fast, mut slow) = (vec![7.0; n], vec![-7.0; n]);
            im2col(&x, &g, &mut fast);
            im2col_reference(&x, &g, &mut slow);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn col2im_matches_reference(g in geometry(), seed in 0u64..100) {
            let d = values(g.patch_len() * g.out_pixels(), seed);
            let start = values(g.input_len(), seed + 1);
            let (mut fast, mut slow) = (start.clone(), start);
            col2im(&d, &g, &mut fast);
            col2im_reference(&d, &g, &mut slow);
            for (a, b) in fast.iter().zip(&slow) {
                prop_assert!((a - b).abs() < 1e-12);
            }
        }

        /// col2im is the adjoint of im2col: <im2col(x), d> = <x, col2im(d)>.
        #[test]
        fn col2im_is_adjoint_of_im2col(g in geometry(), seed in 0u64..100) {
            let x = values(g.input_len(), seed);
            let d = values(g.patch_len() * g.out_pixels(), seed + 3);
            let mut cols = vec![0.0; d.len()];
            im2col(&x, &g, &mut cols);
            let mut back = vec![0.0; x.len()];
            col2im(&d, &g, &mut back);
            let lhs: f64 = cols.iter().zip(&d).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            prop_assert!((lhs - rhs).abs() < 1e-9);
        }
    }

    #[test]
    fn one_d_is_height_one() {
        let g = ConvGeometry::one_d(2, 7, 3, 2, 1, 1);
        assert_eq!((g.out_h(), g.out_w()), (1, 4));
        let x: Vec<f64> = (0..14).map(|v| v as f64).collect();
        let mut cols = vec![0.0; g.patch_len() * g.out_pixels()];
        im2col(&x, &g, &mut cols);
        // Row (c=0, kj=0) reads x[0, 2j − 1]: pad, 1, 3, 5.
        assert_eq!(&cols[..4], &[0.0, 1.0, 3.0, 5.0]);
    }
}
