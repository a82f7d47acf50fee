//! Pooling kernels on planes (one plane = one channel of one sample).
//!
//! Max pooling ('valid', as Keras): `y[i, j] = max over the ph×pw window at
//! (i·sh, j·sw)`, and the forward pass records where each maximum was (`argmax`, an
//! index into the plane; the first maximum wins a tie). The derivative of a max is 1 at
//! the winner and 0 elsewhere, so backward scatters `dy` through the argmax indices:
//! `dx[argmax[i, j]] += dy[i, j]`. Windows may overlap (stride < pool): a pixel that wins
//! several windows gathers every one of their gradients.
//!
//! Global average pooling: `y = (1/HW) Σ x`, so `dx = dy / HW` everywhere.

use crate::dispatch::avx2_dispatch;
use crate::Float;

/// The shape of a pooling over planes of height × width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolGeometry {
    pub height: usize,
    pub width: usize,
    pub pool_h: usize,
    pub pool_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
}

impl PoolGeometry {
    /// True when sizes and strides are positive and the window fits in the plane.
    pub fn is_valid(&self) -> bool {
        self.pool_h > 0
            && self.pool_w > 0
            && self.stride_h > 0
            && self.stride_w > 0
            && self.height >= self.pool_h
            && self.width >= self.pool_w
    }
    pub fn out_h(&self) -> usize {
        (self.height - self.pool_h) / self.stride_h + 1
    }
    pub fn out_w(&self) -> usize {
        (self.width - self.pool_w) / self.stride_w + 1
    }
    pub fn plane_len(&self) -> usize {
        self.height * self.width
    }
    pub fn out_len(&self) -> usize {
        self.out_h() * self.out_w()
    }
    /// The number of planes, after checking the slice lengths against the geometry.
    pub(crate) fn check(&self, x_len: usize, y_len: usize, argmax_len: usize) -> usize {
        assert!(self.is_valid(), "invalid pooling geometry {self:?}");
        assert_eq!(x_len % self.plane_len(), 0, "max_pool: input length");
        let planes = x_len / self.plane_len();
        assert_eq!(y_len, planes * self.out_len(), "max_pool: output length");
        assert_eq!(argmax_len, y_len, "max_pool: argmax length");
        planes
    }
}

/// Max pooling over `x` (any number of planes): `y` gets the maxima and `argmax` the
/// index of each within its plane.
///
/// Two passes per output row. Vertical: the `pool_h` input rows under it are reduced
/// column by column to (max, first row holding it): whole rows at a time, which the
/// compiler vectorises. Horizontal: each output takes the best of its `pool_w` columns,
/// a smaller row winning a tie, so the first maximum in raster order wins, as in the
/// reference.
pub fn max_pool2d_forward<T: Float>(x: &[T], g: &PoolGeometry, y: &mut [T], argmax: &mut [u32]) {
    let planes = g.check(x.len(), y.len(), argmax.len());
    let mut col_max = vec![T::ZERO; g.width];
    let mut col_row = vec![0u32; g.width];
    pool_dispatch(x, g, y, argmax, planes, &mut col_max, &mut col_row);
}

avx2_dispatch!(fn pool_dispatch(
    x: &[T],
    g: &PoolGeometry,
    y: &mut [T],
    argmax: &mut [u32],
    planes: usize,
    col_max: &mut [T],
    col_row: &mut [u32],
) => pool_body);

#[inline(always)]
fn pool_body<T: Float>(
    x: &[T],
    g: &PoolGeometry,
    y: &mut [T],
    argmax: &mut [u32],
    planes: usize,
    col_max: &mut [T],
    col_row: &mut [u32],
) {
    let (plane_len, out_len) = (g.plane_len(), g.out_len());
    for p in 0..planes {
        let plane = &x[p * plane_len..][..plane_len];
        let y_p = &mut y[p * out_len..][..out_len];
        let a_p = &mut argmax[p * out_len..][..out_len];
        pool_plane(plane, g, y_p, a_p, col_max, col_row, |v| v);
    }
}

/// Max pooling of one plane of `value(x)`: the pooled values go to `y`, the positions of
/// the (first) maxima to `argmax`. `value` is applied as rows are read, so a fused
/// kernel can pool a pointwise map of `x` without writing it out; the plain pool passes
/// the identity.
#[inline(always)]
pub(crate) fn pool_plane<T: Float>(
    plane: &[T],
    g: &PoolGeometry,
    y: &mut [T],
    argmax: &mut [u32],
    col_max: &mut [T],
    col_row: &mut [u32],
    value: impl Fn(T) -> T,
) {
    let (ow, w) = (g.out_w(), g.width);
    for (i, (y_row, a_row)) in y
        .chunks_exact_mut(ow)
        .zip(argmax.chunks_exact_mut(ow))
        .enumerate()
    {
        let top = i * g.stride_h;
        for (m, &v) in col_max.iter_mut().zip(&plane[top * w..][..w]) {
            *m = value(v);
        }
        col_row.fill(top as u32);
        for r in top + 1..top + g.pool_h {
            let line = &plane[r * w..][..w];
            for ((m, at), &v) in col_max.iter_mut().zip(col_row.iter_mut()).zip(line) {
                let v = value(v);
                let take = v > *m;
                *m = if take { v } else { *m };
                *at = if take { r as u32 } else { *at };
            }
        }
        if g.pool_w == 2 && g.stride_w == 2 {
            // The common 2-wide window, as pairs, with `|` and `&` for `||` and `&&`: no
            // branches in the loop.
            let pairs = col_max.chunks_exact(2).zip(col_row.chunks_exact(2));
            let outputs = y_row.iter_mut().zip(a_row.iter_mut());
            for (j, ((y_ij, a_ij), (v, r))) in outputs.zip(pairs).enumerate() {
                let take = (v[1] > v[0]) | ((v[1] == v[0]) & (r[1] < r[0]));
                *y_ij = if take { v[1] } else { v[0] };
                let col = 2 * j as u32;
                let (row, col) = if take { (r[1], col + 1) } else { (r[0], col) };
                *a_ij = row * w as u32 + col;
            }
            continue;
        }
        for (j, (y_ij, a_ij)) in y_row.iter_mut().zip(a_row.iter_mut()).enumerate() {
            let first = j * g.stride_w;
            let (mut best, mut row, mut col) = (col_max[first], col_row[first], first);
            for c in first + 1..first + g.pool_w {
                let (v, r) = (col_max[c], col_row[c]);
                let take = v > best || (v == best && r < row);
                best = if take { v } else { best };
                row = if take { r } else { row };
                col = if take { c } else { col };
            }
            *y_ij = best;
            *a_ij = row * w as u32 + col as u32;
        }
    }
}

/// `dx += scatter(dy)` through the indices of [`max_pool2d_forward`].
pub fn max_pool2d_backward<T: Float>(dy: &[T], argmax: &[u32], g: &PoolGeometry, dx: &mut [T]) {
    let planes = g.check(dx.len(), dy.len(), argmax.len());
    let out = g.out_len();
    for p in 0..planes {
        let dx_p = &mut dx[p * g.plane_len()..][..g.plane_len()];
        for (&d, &a) in dy[p * out..][..out].iter().zip(&argmax[p * out..][..out]) {
            dx_p[a as usize] += d;
        }
    }
}

/// Scalar reference for [`max_pool2d_forward`]: each window scanned in raster order.
pub fn max_pool2d_forward_reference<T: Float>(
    x: &[T],
    g: &PoolGeometry,
    y: &mut [T],
    argmax: &mut [u32],
) {
    let planes = g.check(x.len(), y.len(), argmax.len());
    let (oh, ow) = (g.out_h(), g.out_w());
    for p in 0..planes {
        for i in 0..oh {
            for j in 0..ow {
                let mut best: Option<(T, usize)> = None;
                for ki in 0..g.pool_h {
                    for kj in 0..g.pool_w {
                        let at = (i * g.stride_h + ki) * g.width + j * g.stride_w + kj;
                        let v = x[p * g.plane_len() + at];
                        if best.is_none_or(|(b, _)| v > b) {
                            best = Some((v, at));
                        }
                    }
                }
                let (v, at) = best.expect("windows are non-empty");
                y[(p * oh + i) * ow + j] = v;
                argmax[(p * oh + i) * ow + j] = at as u32;
            }
        }
    }
}

/// Scalar reference for the max-pool backward, from `x` alone: every window gives its
/// gradient to its (first) maximum.
pub fn max_pool2d_backward_reference<T: Float>(x: &[T], dy: &[T], g: &PoolGeometry, dx: &mut [T]) {
    let mut y = vec![T::ZERO; dy.len()];
    let mut argmax = vec![0u32; dy.len()];
    max_pool2d_forward_reference(x, g, &mut y, &mut argmax);
    let out = g.out_len();
    for (k, &d) in dy.iter().enumerate() {
        dx[(k / out) * g.plane_len() + argmax[k] as usize] += d;
    }
}

/// `y[p] = mean of plane p` for `x` holding `y.len()` planes of `plane_len` values.
pub fn global_avg_pool_forward<T: Float>(x: &[T], plane_len: usize, y: &mut [T]) {
    assert!(plane_len > 0, "global_avg_pool: empty planes");
    assert_eq!(x.len(), y.len() * plane_len, "global_avg_pool: lengths");
    let scale = T::ONE / T::from_usize(plane_len);
    for (plane, out) in x.chunks_exact(plane_len).zip(y.iter_mut()) {
        // Eight running sums: vectorisable, and more accurate than one long chain.
        let mut lanes = [T::ZERO; 8];
        let mut chunks = plane.chunks_exact(8);
        for chunk in &mut chunks {
            for (l, &v) in lanes.iter_mut().zip(chunk) {
                *l += v;
            }
        }
        let tail: T = chunks.remainder().iter().copied().sum();
        *out = (lanes.iter().copied().sum::<T>() + tail) * scale;
    }
}

/// `dx[p, k] += dy[p] / plane_len`.
pub fn global_avg_pool_backward<T: Float>(dy: &[T], plane_len: usize, dx: &mut [T]) {
    assert!(plane_len > 0, "global_avg_pool: empty planes");
    assert_eq!(dx.len(), dy.len() * plane_len, "global_avg_pool: lengths");
    let scale = T::ONE / T::from_usize(plane_len);
    for (plane, &d) in dx.chunks_exact_mut(plane_len).zip(dy) {
        let v = d * scale;
        plane.iter_mut().for_each(|x| *x += v);
    }
}

/// Scalar reference for [`global_avg_pool_forward`].
pub fn global_avg_pool_forward_reference<T: Float>(x: &[T], plane_len: usize, y: &mut [T]) {
    for (p, out) in y.iter_mut().enumerate() {
        let mut sum = T::ZERO;
        for k in 0..plane_len {
            sum += x[p * plane_len + k];
        }
        *out = sum / T::from_usize(plane_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im2col::tests::values;
    use proptest::prelude::*;

    fn geometry() -> impl Strategy<Value = PoolGeometry> {
        (
            1usize..12,
            1usize..12,
            1usize..5,
            1usize..5,
            1usize..5,
            1usize..5,
        )
            .prop_map(|(h, w, ph, pw, sh, sw)| PoolGeometry {
                height: h,
                width: w,
                pool_h: ph,
                pool_w: pw,
                stride_h: sh,
                stride_w: sw,
            })
            .prop_filter("window fits", |g| g.is_valid())
    }

    proptest! {
        #[test]
        fn max_pool_matches_reference(g in geometry(), planes in 1usize..4, seed in 0u64..50,
                                      ties in any::<bool>()) {
            let mut x = values(planes * g.plane_len(), seed);
            if ties {
                x.iter_mut().for_each(|v| *v = (*v * 2.0).round());
            }
            let n = planes * g.out_len();
            let (mut y1, mut a1, mut y2, mut a2) = (vec![0.0; n], vec![0; n], vec![0.0; n], vec![0; n]);
            max_pool2d_forward(&x, &g, &mut y1, &mut a1);
            max_pool2d_forward_reference(&x, &g, &mut y2, &mut a2);
            prop_assert_eq!(&y1, &y2);
            prop_assert_eq!(&a1, &a2);

            let dy = values(n, seed + 1);
            let (mut dx1, mut dx2) = (vec![0.5; x.len()], vec![0.5; x.len()]);
            max_pool2d_backward(&dy, &a1, &g, &mut dx1);
            max_pool2d_backward_reference(&x, &dy, &g, &mut dx2);
            for (a, b) in dx1.iter().zip(&dx2) {
                prop_assert!((a - b).abs() < 1e-12);
            }
        }

        #[test]
        fn global_avg_matches_reference(planes in 1usize..5, len in 1usize..40, seed in 0u64..50) {
            let x = values(planes * len, seed);
            let (mut y1, mut y2) = (vec![0.0; planes], vec![0.0; planes]);
            global_avg_pool_forward(&x, len, &mut y1);
            global_avg_pool_forward_reference(&x, len, &mut y2);
            for (a, b) in y1.iter().zip(&y2) {
                prop_assert!((a - b).abs() < 1e-12);
            }
            let mut dx = vec![0.0; x.len()];
            global_avg_pool_backward(&y1, len, &mut dx);
            prop_assert!((dx[len - 1] - y1[0] / len as f64).abs() < 1e-15);
        }
    }

    #[test]
    fn overlapping_windows_accumulate() {
        // 1×3 plane [0, 5, 1], pool 2 stride 1: both windows pick the 5.
        let g = PoolGeometry {
            height: 1,
            width: 3,
            pool_h: 1,
            pool_w: 2,
            stride_h: 1,
            stride_w: 1,
        };
        let (mut y, mut a) = (vec![0.0; 2], vec![0; 2]);
        max_pool2d_forward(&[0.0, 5.0, 1.0], &g, &mut y, &mut a);
        assert_eq!((y, a.clone()), (vec![5.0, 5.0], vec![1, 1]));
        let mut dx = vec![0.0; 3];
        max_pool2d_backward(&[1.0, 2.0], &a, &g, &mut dx);
        assert_eq!(dx, vec![0.0, 3.0, 0.0]);
    }
}
