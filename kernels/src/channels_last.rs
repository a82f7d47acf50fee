//! Layout moves for the windowed convolution (`ops::conv_windows`): one sample between
//! planar `(C, H, W)` and padded channels-last rows.
//!
//! With stride 1, output pixel (i, j) reads the padded input at rows i … i+kh−1 and
//! columns j … j+kw−1. Stored channels-last, with the padded width Wp as the row length,
//! the kw·C values under kernel row di are contiguous, starting at `((i+di)·Wp + j)·C`.
//! Number the pixels `t = i·Wp + j`, letting j run over all Wp columns (the last kw−1 of
//! each row are not outputs), and these windows are evenly spaced, C apart: the rows of a
//! strided matrix that a gemm can read in place. The functions here move one sample into
//! that layout and back:
//!
//! ```text
//! padded[(y·Wp + x)·C + c] = x[c, y − pad_top, x − pad_left]   (0 in the padding)
//! y[o, i, j] = z[(i·Wp + j)·O + o] + b[o]                        (pixel rows to planes)
//! dz[(i·Wp + j)·O + o] = dy[o, i, j],  0 for j ≥ OW             (planes to pixel rows)
//! ```
//!
//! Pixel-row matrices hold `(OH−1)·Wp + OW` rows: the last row's unused columns would
//! read past the padded input.

use crate::im2col::ConvGeometry;
use crate::transpose::transpose;
use crate::Float;

/// Rows of the pixel-row matrix of a stride-1 convolution: `(OH−1)·Wp + OW`.
pub fn pixel_rows(g: &ConvGeometry) -> usize {
    (g.out_h() - 1) * g.padded_w() + g.out_w()
}

/// Length of the padded channels-last copy of one sample: `Hp·Wp·C`.
pub fn padded_len(g: &ConvGeometry) -> usize {
    g.padded_h() * g.padded_w() * g.channels
}

/// Overwrite `padded` (Hp·Wp·C) with `x` (C×H×W) moved channels-last, zeros around it.
pub fn pad_channels_last<T: Float>(x: &[T], g: &ConvGeometry, padded: &mut [T]) {
    g.assert_valid();
    assert_eq!(x.len(), g.input_len(), "pad_channels_last: input length");
    assert_eq!(
        padded.len(),
        padded_len(g),
        "pad_channels_last: padded length"
    );
    let (c_n, h, w, wp) = (g.channels, g.height, g.width, g.padded_w());
    let plane = h * w;
    padded[..g.pad_top * wp * c_n].fill(T::ZERO);
    padded[(g.pad_top + h) * wp * c_n..].fill(T::ZERO);
    for y in 0..h {
        let row = &mut padded[(y + g.pad_top) * wp * c_n..][..wp * c_n];
        row[..g.pad_left * c_n].fill(T::ZERO);
        row[(g.pad_left + w) * c_n..].fill(T::ZERO);
        let inner = &mut row[g.pad_left * c_n..(g.pad_left + w) * c_n];
        // Row y of every plane (C × W, planes H·W apart) becomes W pixels of C.
        transpose((c_n, w), (&x[y * w..], plane), (inner, c_n), false);
    }
}

/// `dx[c, y, x] += padded[((y + pad_top)·Wp + x + pad_left)·C + c]`: the adjoint of
/// [`pad_channels_last`] (the padding's entries are dropped).
pub fn unpad_channels_last_add<T: Float>(padded: &[T], g: &ConvGeometry, dx: &mut [T]) {
    g.assert_valid();
    assert_eq!(
        dx.len(),
        g.input_len(),
        "unpad_channels_last_add: input length"
    );
    assert_eq!(
        padded.len(),
        padded_len(g),
        "unpad_channels_last_add: padded length"
    );
    let (c_n, h, w, wp) = (g.channels, g.height, g.width, g.padded_w());
    for y in 0..h {
        let src_row = &padded[((y + g.pad_top) * wp + g.pad_left) * c_n..][..w * c_n];
        transpose((w, c_n), (src_row, c_n), (&mut dx[y * w..], h * w), true);
    }
}

/// `y[o, i, j] = z[(i·Wp + j)·O + o] + bias[o]` for `j < OW`: pixel rows (O columns) back
/// to O planes of OH×OW, the unused columns dropped.
pub fn pixel_rows_to_planes<T: Float>(
    z: &[T],
    g: &ConvGeometry,
    c_out: usize,
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let (oh, ow, wp) = (g.out_h(), g.out_w(), g.padded_w());
    assert_eq!(
        z.len(),
        pixel_rows(g) * c_out,
        "pixel_rows_to_planes: z length"
    );
    assert_eq!(y.len(), c_out * oh * ow, "pixel_rows_to_planes: y length");
    if let Some(b) = bias {
        assert_eq!(b.len(), c_out, "pixel_rows_to_planes: bias length");
    }
    for i in 0..oh {
        let src_row = &z[i * wp * c_out..][..ow * c_out];
        transpose(
            (ow, c_out),
            (src_row, c_out),
            (&mut y[i * ow..], oh * ow),
            false,
        );
        if let Some(b) = bias {
            for (o, &bo) in b.iter().enumerate() {
                y[(o * oh + i) * ow..][..ow]
                    .iter_mut()
                    .for_each(|v| *v += bo);
            }
        }
    }
}

/// `dz[(i·Wp + j)·O + o] = dy[o, i, j]`, zero in the unused columns: the adjoint of
/// [`pixel_rows_to_planes`] (bias aside). `dz` is overwritten.
pub fn planes_to_pixel_rows<T: Float>(dy: &[T], g: &ConvGeometry, c_out: usize, dz: &mut [T]) {
    let (oh, ow, wp) = (g.out_h(), g.out_w(), g.padded_w());
    assert_eq!(dy.len(), c_out * oh * ow, "planes_to_pixel_rows: dy length");
    assert_eq!(
        dz.len(),
        pixel_rows(g) * c_out,
        "planes_to_pixel_rows: dz length"
    );
    for i in 0..oh {
        let dst = &mut dz[i * wp * c_out..];
        transpose((c_out, ow), (&dy[i * ow..], oh * ow), (dst, c_out), false);
        if i + 1 < oh {
            dst[ow * c_out..wp * c_out].fill(T::ZERO);
        }
    }
}

/// Scalar reference for [`pad_channels_last`], element by element.
pub fn pad_channels_last_reference<T: Float>(x: &[T], g: &ConvGeometry, padded: &mut [T]) {
    let (c_n, wp) = (g.channels, g.padded_w());
    for y in 0..g.padded_h() {
        for xp in 0..wp {
            for c in 0..c_n {
                let inside = (g.pad_top..g.pad_top + g.height).contains(&y)
                    && (g.pad_left..g.pad_left + g.width).contains(&xp);
                padded[(y * wp + xp) * c_n + c] = if inside {
                    x[(c * g.height + y - g.pad_top) * g.width + xp - g.pad_left]
                } else {
                    T::ZERO
                };
            }
        }
    }
}

/// Scalar reference for [`pixel_rows_to_planes`].
pub fn pixel_rows_to_planes_reference<T: Float>(
    z: &[T],
    g: &ConvGeometry,
    c_out: usize,
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let (oh, ow, wp) = (g.out_h(), g.out_w(), g.padded_w());
    for o in 0..c_out {
        for i in 0..oh {
            for j in 0..ow {
                y[(o * oh + i) * ow + j] =
                    z[(i * wp + j) * c_out + o] + bias.map_or(T::ZERO, |b| b[o]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im2col::tests::{geometry, values};
    use proptest::prelude::*;

    /// The windowed layout needs stride 1; the other fields as im2col's tests draw them.
    fn stride_one() -> impl Strategy<Value = ConvGeometry> {
        geometry().prop_map(|g| ConvGeometry {
            stride_h: 1,
            stride_w: 1,
            ..g
        })
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    proptest! {
        #[test]
        fn padding_matches_reference(g in stride_one(), seed in 0u64..100) {
            let x = values(g.input_len(), seed);
            let (mut fast, mut slow) = (vec![7.0; padded_len(&g)], vec![-7.0; padded_len(&g)]);
            pad_channels_last(&x, &g, &mut fast);
            pad_channels_last_reference(&x, &g, &mut slow);
            prop_assert_eq!(fast, slow);
        }

        /// <pad(x), p> = <x, unpad(p)>.
        #[test]
        fn unpadding_is_the_adjoint(g in stride_one(), seed in 0u64..100) {
            let x = values(g.input_len(), seed);
            let p = values(padded_len(&g), seed + 1);
            let mut padded = vec![0.0; p.len()];
            pad_channels_last(&x, &g, &mut padded);
            let start = values(g.input_len(), seed + 2);
            let mut back = start.clone();
            unpad_channels_last_add(&p, &g, &mut back);
            let added: Vec<f64> = back.iter().zip(&start).map(|(b, s)| b - s).collect();
            prop_assert!((dot(&padded, &p) - dot(&x, &added)).abs() < 1e-9);
        }

        #[test]
        fn planes_match_reference(g in stride_one(), c_out in 1usize..6, bias in any::<bool>(),
                                  seed in 0u64..100) {
            let z = values(pixel_rows(&g) * c_out, seed);
            let b = values(c_out, seed + 1);
            let b = bias.then_some(b.as_slice());
            let n = c_out * g.out_pixels();
            let (mut fast, mut slow) = (vec![7.0; n], vec![-7.0; n]);
            pixel_rows_to_planes(&z, &g, c_out, b, &mut fast);
            pixel_rows_to_planes_reference(&z, &g, c_out, b, &mut slow);
            prop_assert_eq!(fast, slow);
        }

        /// <planes(z), d> = <z, rows(d)>, and the unused columns of rows(d) are zero.
        #[test]
        fn pixel_rows_are_the_adjoint(g in stride_one(), c_out in 1usize..6, seed in 0u64..100) {
            let z = values(pixel_rows(&g) * c_out, seed);
            let d = values(c_out * g.out_pixels(), seed + 1);
            let mut planes = vec![0.0; d.len()];
            pixel_rows_to_planes(&z, &g, c_out, None, &mut planes);
            let mut rows = vec![7.0; z.len()];
            planes_to_pixel_rows(&d, &g, c_out, &mut rows);
            prop_assert!((dot(&planes, &d) - dot(&z, &rows)).abs() < 1e-9);
            for (t, px) in rows.chunks_exact(c_out).enumerate() {
                if t % g.padded_w() >= g.out_w() {
                    prop_assert!(px.iter().all(|&v| v == 0.0));
                }
            }
        }
    }
}
