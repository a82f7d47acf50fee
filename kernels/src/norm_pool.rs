//! Batch norm → ReLU → max pool on planes (one plane = one channel of one sample): the
//! kernels of the fused op `batch_norm_relu_max_pool2d`. On one plane batch norm is an
//! affine map `v = scale·x + shift` (the op derives the coefficients from the batch
//! statistics, γ and β), so these kernels see only per-plane coefficients:
//!
//! ```text
//! forward   y = max(0, max over the window of v)     argmax: the window's first largest v
//!           (no pool: y = max(0, v) pixel by pixel)
//! backward  dv = dy at a winner whose y > 0, else 0   (the pool's and ReLU's derivatives)
//!           per plane: Σ dv, Σ dv·(x − center)        (only the winners contribute)
//!           dx = gain·dv + slope·(x − center) + offset
//! ```
//!
//! ReLU never decreases, so it commutes with max: the pool runs on `v` and ReLU touches
//! only the pooled values. Where the largest `v` is positive the winner is the one a pool
//! of `max(0, v)` would pick (first maximum in raster order, as `max_pool2d_forward`);
//! where it is not, `y = 0` and no gradient flows, whichever pixel is named.

use crate::dispatch::avx2_dispatch;
use crate::elementwise::{map_simd, map_simd_inplace};
use crate::pool::{pool_plane, PoolGeometry};
use crate::simd::SimdVec;
use crate::Float;

/// Batch norm on one plane, forward: `v = scale·x + shift`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine<T> {
    pub scale: T,
    pub shift: T,
}

/// Batch norm on one plane, backward: `dx = gain·dv + slope·(x − center) + offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormGrad<T> {
    pub center: T,
    pub gain: T,
    pub slope: T,
    pub offset: T,
}

/// The sums over one plane that batch norm's backward needs: `Σ dv` and
/// `Σ dv·(x − center)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GradSums<T> {
    pub dv: T,
    pub dv_dev: T,
}

/// What the pooled forward pass keeps for backward, with the gradient of its output.
#[derive(Clone, Copy, Debug)]
pub struct PooledGrad<'a, T> {
    pub y: &'a [T],
    pub argmax: &'a [u32],
    pub dy: &'a [T],
}

#[inline(always)]
fn relu<T: Float>(v: T) -> T {
    if v > T::ZERO {
        v
    } else {
        T::ZERO
    }
}

/// Length of each of `planes` planes in a slice of `len` values.
fn plane_len(op: &str, len: usize, planes: usize) -> usize {
    assert!(planes > 0, "{op}: no planes");
    assert_eq!(
        len % planes,
        0,
        "{op}: length is not a whole number of planes"
    );
    len / planes
}

fn check_pooled<T>(op: &str, x_len: usize, g: &PoolGeometry, planes: usize, p: &PooledGrad<T>) {
    assert_eq!(
        g.check(x_len, p.y.len(), p.argmax.len()),
        planes,
        "{op}: planes"
    );
    assert_eq!(p.dy.len(), p.y.len(), "{op}: dy length");
}

/// `y = max(0, max pool of scale·x + shift)` per plane, `coef` holding one [`Affine`] per
/// plane, and each window's argmax (an index into its plane).
pub fn affine_relu_max_pool2d_forward<T: Float>(
    x: &[T],
    g: &PoolGeometry,
    coef: &[Affine<T>],
    y: &mut [T],
    argmax: &mut [u32],
) {
    let planes = g.check(x.len(), y.len(), argmax.len());
    assert_eq!(
        coef.len(),
        planes,
        "affine_relu_max_pool2d: one Affine per plane"
    );
    let mut col_max = vec![T::ZERO; g.width];
    let mut col_row = vec![0u32; g.width];
    affine_pool_dispatch(x, g, coef, y, argmax, &mut col_max, &mut col_row);
}

avx2_dispatch!(fn affine_pool_dispatch(
    x: &[T],
    g: &PoolGeometry,
    coef: &[Affine<T>],
    y: &mut [T],
    argmax: &mut [u32],
    col_max: &mut [T],
    col_row: &mut [u32],
) => affine_pool_body);

#[inline(always)]
fn affine_pool_body<T: Float>(
    x: &[T],
    g: &PoolGeometry,
    coef: &[Affine<T>],
    y: &mut [T],
    argmax: &mut [u32],
    col_max: &mut [T],
    col_row: &mut [u32],
) {
    let (plane_len, out_len) = (g.plane_len(), g.out_len());
    let planes = x
        .chunks_exact(plane_len)
        .zip(y.chunks_exact_mut(out_len))
        .zip(argmax.chunks_exact_mut(out_len));
    for (((plane, y_p), a_p), &Affine { scale, shift }) in planes.zip(coef) {
        pool_plane(plane, g, y_p, a_p, col_max, col_row, |v| scale * v + shift);
        y_p.iter_mut().for_each(|v| *v = relu(*v));
    }
}

/// `y = max(0, scale·x + shift)` per plane: [`affine_relu_max_pool2d_forward`] without
/// the pool.
pub fn affine_relu_forward<T: Float>(x: &[T], coef: &[Affine<T>], y: &mut [T]) {
    assert_eq!(
        x.len(),
        y.len(),
        "affine_relu: input and output lengths differ"
    );
    if x.is_empty() {
        return;
    }
    let len = plane_len("affine_relu", x.len(), coef.len());
    let zero = T::Simd::splat(T::ZERO);
    for ((xp, yp), a) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)).zip(coef) {
        let (sv, bv) = (T::Simd::splat(a.scale), T::Simd::splat(a.shift));
        map_simd(
            xp,
            yp,
            |v| {
                let v = sv * v + bv;
                v.select_positive(v, zero)
            },
            |v| relu(a.scale * v + a.shift),
        );
    }
}

/// Per plane, the [`GradSums`] over the pool windows whose output is positive (the others
/// pass nothing through ReLU), reading `x` at the winners only; `centers` holds one
/// center per plane.
pub fn relu_max_pool2d_grad_sums<T: Float>(
    x: &[T],
    g: &PoolGeometry,
    centers: &[T],
    pooled: PooledGrad<T>,
    sums: &mut [GradSums<T>],
) {
    let planes = centers.len();
    check_pooled("relu_max_pool2d_grad_sums", x.len(), g, planes, &pooled);
    assert_eq!(sums.len(), planes, "relu_max_pool2d_grad_sums: sums length");
    let (plane_len, out_len) = (g.plane_len(), g.out_len());
    for (p, (s, &c)) in sums.iter_mut().zip(centers).enumerate() {
        let plane = &x[p * plane_len..][..plane_len];
        let window = p * out_len..(p + 1) * out_len;
        let (y, a, d) = (
            &pooled.y[window.clone()],
            &pooled.argmax[window.clone()],
            &pooled.dy[window],
        );
        let mut acc = GradSums::default();
        for ((&y, &a), &d) in y.iter().zip(a).zip(d) {
            // Without a branch: about half the windows are positive, in no pattern.
            let dv = if y > T::ZERO { d } else { T::ZERO };
            acc.dv += dv;
            acc.dv_dev += dv * (plane[a as usize] - c);
        }
        *s = acc;
    }
}

/// Per plane, the [`GradSums`] with `dv = dy` where `y > 0`, else 0: the pool-free form
/// of [`relu_max_pool2d_grad_sums`].
pub fn relu_grad_sums<T: Float>(
    x: &[T],
    centers: &[T],
    y: &[T],
    dy: &[T],
    sums: &mut [GradSums<T>],
) {
    assert!(
        y.len() == x.len() && dy.len() == x.len(),
        "relu_grad_sums: lengths differ"
    );
    assert_eq!(sums.len(), centers.len(), "relu_grad_sums: sums length");
    if x.is_empty() {
        sums.fill(GradSums::default());
        return;
    }
    let len = plane_len("relu_grad_sums", x.len(), centers.len());
    let (lanes, zero) = (T::Simd::LANES, T::Simd::splat(T::ZERO));
    let planes = x
        .chunks_exact(len)
        .zip(y.chunks_exact(len))
        .zip(dy.chunks_exact(len));
    for (((xp, yp), dp), (s, &c)) in planes.zip(sums.iter_mut().zip(centers)) {
        let cv = T::Simd::splat(c);
        let (mut acc_dv, mut acc_dev) = (zero, zero);
        let (mut xs, mut ys, mut ds) = (
            xp.chunks_exact(lanes),
            yp.chunks_exact(lanes),
            dp.chunks_exact(lanes),
        );
        for ((xc, yc), dc) in (&mut xs).zip(&mut ys).zip(&mut ds) {
            let dv = T::Simd::load(yc).select_positive(T::Simd::load(dc), zero);
            acc_dv = acc_dv + dv;
            acc_dev = acc_dev + dv * (T::Simd::load(xc) - cv);
        }
        let mut tail = GradSums::default();
        for ((&xv, &yv), &d) in xs
            .remainder()
            .iter()
            .zip(ys.remainder())
            .zip(ds.remainder())
        {
            if yv > T::ZERO {
                tail.dv += d;
                tail.dv_dev += d * (xv - c);
            }
        }
        *s = GradSums {
            dv: acc_dv.reduce_add() + tail.dv,
            dv_dev: acc_dev.reduce_add() + tail.dv_dev,
        };
    }
}

/// Overwrite `x` with `dx = gain·dv + slope·(x − center) + offset` per plane, `dv` being
/// `dy` at the winners of windows with a positive output and 0 elsewhere. A pixel that
/// wins several (overlapping) windows gathers each of their gradients.
pub fn norm_relu_max_pool2d_backward<T: Float>(
    x: &mut [T],
    g: &PoolGeometry,
    coef: &[NormGrad<T>],
    pooled: PooledGrad<T>,
) {
    check_pooled(
        "norm_relu_max_pool2d_backward",
        x.len(),
        g,
        coef.len(),
        &pooled,
    );
    let (plane_len, out_len) = (g.plane_len(), g.out_len());
    for (p, (plane, k)) in x.chunks_exact_mut(plane_len).zip(coef).enumerate() {
        centered_affine_inplace(plane, k);
        let window = p * out_len..(p + 1) * out_len;
        let (y, a, d) = (
            &pooled.y[window.clone()],
            &pooled.argmax[window.clone()],
            &pooled.dy[window],
        );
        for ((&y, &a), &d) in y.iter().zip(a).zip(d) {
            plane[a as usize] += k.gain * if y > T::ZERO { d } else { T::ZERO };
        }
    }
}

/// `x ← slope·(x − center) + offset`: batch norm's gradient where `dv` is 0.
fn centered_affine_inplace<T: Float>(x: &mut [T], k: &NormGrad<T>) {
    let (cv, sv, ov) = (
        T::Simd::splat(k.center),
        T::Simd::splat(k.slope),
        T::Simd::splat(k.offset),
    );
    map_simd_inplace(
        x,
        |v| sv * (v - cv) + ov,
        |v| k.slope * (v - k.center) + k.offset,
    );
}

/// Overwrite `x` with `dx = gain·dv + slope·(x − center) + offset` per plane, with
/// `dv = dy` where `y > 0`, else 0: the pool-free form of
/// [`norm_relu_max_pool2d_backward`].
pub fn norm_relu_backward<T: Float>(x: &mut [T], coef: &[NormGrad<T>], y: &[T], dy: &[T]) {
    assert!(
        y.len() == x.len() && dy.len() == x.len(),
        "norm_relu_backward: lengths differ"
    );
    if x.is_empty() {
        return;
    }
    let len = plane_len("norm_relu_backward", x.len(), coef.len());
    let (lanes, zero) = (T::Simd::LANES, T::Simd::splat(T::ZERO));
    let planes = x
        .chunks_exact_mut(len)
        .zip(y.chunks_exact(len))
        .zip(dy.chunks_exact(len));
    for (((xp, yp), dp), k) in planes.zip(coef) {
        let [cv, gv, sv, ov] = [k.center, k.gain, k.slope, k.offset].map(T::Simd::splat);
        let (mut xs, mut ys, mut ds) = (
            xp.chunks_exact_mut(lanes),
            yp.chunks_exact(lanes),
            dp.chunks_exact(lanes),
        );
        for ((xc, yc), dc) in (&mut xs).zip(&mut ys).zip(&mut ds) {
            let dv = T::Simd::load(yc).select_positive(T::Simd::load(dc), zero);
            (sv * (T::Simd::load(xc) - cv) + ov + gv * dv).store(xc);
        }
        let tail = xs
            .into_remainder()
            .iter_mut()
            .zip(ys.remainder())
            .zip(ds.remainder());
        for ((xv, &yv), &d) in tail {
            let dv = if yv > T::ZERO { d } else { T::ZERO };
            *xv = k.slope * (*xv - k.center) + k.offset + k.gain * dv;
        }
    }
}

/// Scalar references: the unfused steps, one after the other, over whole planes.
pub mod reference {
    use super::{Affine, GradSums, NormGrad, PooledGrad};
    use crate::pool::{max_pool2d_forward_reference, PoolGeometry};
    use crate::Float;

    fn affine<T: Float>(x: &[T], coef: &[Affine<T>]) -> Vec<T> {
        let len = x.len() / coef.len().max(1);
        x.iter()
            .enumerate()
            .map(|(i, &v)| coef[i / len].scale * v + coef[i / len].shift)
            .collect()
    }

    /// The affine map written out, pooled by the reference max pool, then ReLU.
    pub fn affine_relu_max_pool2d_forward<T: Float>(
        x: &[T],
        g: &PoolGeometry,
        coef: &[Affine<T>],
        y: &mut [T],
        argmax: &mut [u32],
    ) {
        max_pool2d_forward_reference(&affine(x, coef), g, y, argmax);
        y.iter_mut().for_each(|v| *v = relu(*v));
    }

    pub fn affine_relu_forward<T: Float>(x: &[T], coef: &[Affine<T>], y: &mut [T]) {
        for (o, v) in y.iter_mut().zip(affine(x, coef)) {
            *o = relu(v);
        }
    }

    fn relu<T: Float>(v: T) -> T {
        if v > T::ZERO {
            v
        } else {
            T::ZERO
        }
    }

    /// `dv` as a full-size tensor: `dy` scattered to the winners of positive windows.
    fn scatter<T: Float>(x_len: usize, g: &PoolGeometry, p: &PooledGrad<T>) -> Vec<T> {
        let mut dv = vec![T::ZERO; x_len];
        for (k, ((&y, &a), &d)) in p.y.iter().zip(p.argmax).zip(p.dy).enumerate() {
            if y > T::ZERO {
                dv[k / g.out_len() * g.plane_len() + a as usize] += d;
            }
        }
        dv
    }

    fn dense_sums<T: Float>(x: &[T], centers: &[T], dv: &[T], sums: &mut [GradSums<T>]) {
        let len = x.len() / centers.len().max(1);
        for (p, s) in sums.iter_mut().enumerate() {
            *s = GradSums::default();
            for i in p * len..(p + 1) * len {
                s.dv += dv[i];
                s.dv_dev += dv[i] * (x[i] - centers[p]);
            }
        }
    }

    pub fn relu_max_pool2d_grad_sums<T: Float>(
        x: &[T],
        g: &PoolGeometry,
        centers: &[T],
        pooled: PooledGrad<T>,
        sums: &mut [GradSums<T>],
    ) {
        dense_sums(x, centers, &scatter(x.len(), g, &pooled), sums);
    }

    pub fn relu_grad_sums<T: Float>(
        x: &[T],
        centers: &[T],
        y: &[T],
        dy: &[T],
        sums: &mut [GradSums<T>],
    ) {
        let dv: Vec<T> = y
            .iter()
            .zip(dy)
            .map(|(&y, &d)| if y > T::ZERO { d } else { T::ZERO })
            .collect();
        dense_sums(x, centers, &dv, sums);
    }

    fn dense_backward<T: Float>(x: &mut [T], coef: &[NormGrad<T>], dv: &[T]) {
        let len = x.len() / coef.len().max(1);
        for (i, xv) in x.iter_mut().enumerate() {
            let k = &coef[i / len];
            *xv = k.slope * (*xv - k.center) + k.offset + k.gain * dv[i];
        }
    }

    pub fn norm_relu_max_pool2d_backward<T: Float>(
        x: &mut [T],
        g: &PoolGeometry,
        coef: &[NormGrad<T>],
        pooled: PooledGrad<T>,
    ) {
        let dv = scatter(x.len(), g, &pooled);
        dense_backward(x, coef, &dv);
    }

    pub fn norm_relu_backward<T: Float>(x: &mut [T], coef: &[NormGrad<T>], y: &[T], dy: &[T]) {
        let dv: Vec<T> = y
            .iter()
            .zip(dy)
            .map(|(&y, &d)| if y > T::ZERO { d } else { T::ZERO })
            .collect();
        dense_backward(x, coef, &dv);
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
            1usize..4,
            1usize..4,
            1usize..4,
            1usize..4,
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

    /// One (scale, shift) per plane, negative scales and a zero scale (all ties) included.
    fn affines(planes: usize, seed: u64) -> Vec<Affine<f64>> {
        let v = values(2 * planes, seed);
        (0..planes)
            .map(|p| Affine {
                scale: if p == 1 { 0.0 } else { 2.0 * v[2 * p] },
                shift: 0.5 * v[2 * p + 1],
            })
            .collect()
    }

    fn norm_grads(planes: usize, seed: u64) -> Vec<NormGrad<f64>> {
        let v = values(4 * planes, seed);
        (0..planes)
            .map(|p| NormGrad {
                center: v[4 * p],
                gain: v[4 * p + 1] * 3.0,
                slope: v[4 * p + 2],
                offset: v[4 * p + 3],
            })
            .collect()
    }

    fn close(a: &[f64], b: &[f64]) -> Result<(), TestCaseError> {
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            prop_assert!((a - b).abs() < 1e-12, "element {}: {} vs {}", i, a, b);
        }
        Ok(())
    }

    fn sums_close(a: &[GradSums<f64>], b: &[GradSums<f64>]) -> Result<(), TestCaseError> {
        let flat =
            |s: &[GradSums<f64>]| s.iter().flat_map(|s| [s.dv, s.dv_dev]).collect::<Vec<_>>();
        close(&flat(a), &flat(b))
    }

    proptest! {
        #[test]
        fn pooled_kernels_match_reference(g in geometry(), planes in 1usize..4, seed in 0u64..50,
                                          ties in any::<bool>()) {
            let mut x = values(planes * g.plane_len(), seed);
            if ties {
                x.iter_mut().for_each(|v| *v = (*v * 2.0).round());
            }
            let coef = affines(planes, seed + 1);
            let n = planes * g.out_len();
            let (mut y1, mut a1, mut y2, mut a2) = (vec![0.0; n], vec![0; n], vec![0.0; n], vec![0; n]);
            affine_relu_max_pool2d_forward(&x, &g, &coef, &mut y1, &mut a1);
            reference::affine_relu_max_pool2d_forward(&x, &g, &coef, &mut y2, &mut a2);
            prop_assert_eq!(&y1, &y2);
            prop_assert_eq!(&a1, &a2);

            let dy = values(n, seed + 2);
            let pooled = PooledGrad { y: &y1, argmax: &a1, dy: &dy };
            let centers = values(planes, seed + 3);
            let (mut s1, mut s2) = (vec![GradSums::default(); planes], vec![GradSums::default(); planes]);
            relu_max_pool2d_grad_sums(&x, &g, &centers, pooled, &mut s1);
            reference::relu_max_pool2d_grad_sums(&x, &g, &centers, pooled, &mut s2);
            sums_close(&s1, &s2)?;

            let k = norm_grads(planes, seed + 4);
            let (mut dx1, mut dx2) = (x.clone(), x.clone());
            norm_relu_max_pool2d_backward(&mut dx1, &g, &k, pooled);
            reference::norm_relu_max_pool2d_backward(&mut dx2, &g, &k, pooled);
            close(&dx1, &dx2)?;
        }

        #[test]
        fn dense_kernels_match_reference(planes in 1usize..4, len in 1usize..40, seed in 0u64..50) {
            let x = values(planes * len, seed);
            let coef = affines(planes, seed + 1);
            let (mut y1, mut y2) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            affine_relu_forward(&x, &coef, &mut y1);
            reference::affine_relu_forward(&x, &coef, &mut y2);
            prop_assert_eq!(&y1, &y2);

            let dy = values(x.len(), seed + 2);
            let centers = values(planes, seed + 3);
            let (mut s1, mut s2) = (vec![GradSums::default(); planes], vec![GradSums::default(); planes]);
            relu_grad_sums(&x, &centers, &y1, &dy, &mut s1);
            reference::relu_grad_sums(&x, &centers, &y1, &dy, &mut s2);
            sums_close(&s1, &s2)?;

            let k = norm_grads(planes, seed + 4);
            let (mut dx1, mut dx2) = (x.clone(), x.clone());
            norm_relu_backward(&mut dx1, &k, &y1, &dy);
            reference::norm_relu_backward(&mut dx2, &k, &y1, &dy);
            close(&dx1, &dx2)?;
        }

        /// f32: eight lanes, where f64 has four.
        #[test]
        fn dense_kernels_f32_match_reference(planes in 1usize..4, len in 1usize..40, seed in 0u64..50) {
            let x: Vec<f32> = values(planes * len, seed).iter().map(|&v| v as f32).collect();
            let dy: Vec<f32> = values(x.len(), seed + 2).iter().map(|&v| v as f32).collect();
            let coef: Vec<Affine<f32>> = affines(planes, seed + 1)
                .iter()
                .map(|a| Affine { scale: a.scale as f32, shift: a.shift as f32 })
                .collect();
            let (mut y1, mut y2) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            affine_relu_forward(&x, &coef, &mut y1);
            reference::affine_relu_forward(&x, &coef, &mut y2);
            prop_assert_eq!(&y1, &y2);
            let centers = vec![0.25f32; planes];
            let (mut s1, mut s2) = (vec![GradSums::default(); planes], vec![GradSums::default(); planes]);
            relu_grad_sums(&x, &centers, &y1, &dy, &mut s1);
            reference::relu_grad_sums(&x, &centers, &y1, &dy, &mut s2);
            for (a, b) in s1.iter().zip(&s2) {
                prop_assert!((a.dv - b.dv).abs() < 1e-4 && (a.dv_dev - b.dv_dev).abs() < 1e-4);
            }
            let k = vec![NormGrad { center: 0.25f32, gain: 1.5, slope: -0.5, offset: 0.125 }; planes];
            let (mut dx1, mut dx2) = (x.clone(), x.clone());
            norm_relu_backward(&mut dx1, &k, &y1, &dy);
            reference::norm_relu_backward(&mut dx2, &k, &y1, &dy);
            prop_assert_eq!(dx1, dx2);
        }
    }

    #[test]
    fn a_winner_of_overlapping_windows_gathers_both_gradients() {
        // 1×3 plane, v = x: [0, 5, 1]; pool 2 stride 1: both windows pick the 5.
        let g = PoolGeometry {
            height: 1,
            width: 3,
            pool_h: 1,
            pool_w: 2,
            stride_h: 1,
            stride_w: 1,
        };
        let coef = [Affine {
            scale: 1.0,
            shift: 0.0,
        }];
        let (mut y, mut a) = (vec![0.0; 2], vec![0; 2]);
        affine_relu_max_pool2d_forward(&[0.0, 5.0, 1.0], &g, &coef, &mut y, &mut a);
        assert_eq!((y.clone(), a.clone()), (vec![5.0, 5.0], vec![1, 1]));
        let mut dx = vec![0.0, 5.0, 1.0];
        let k = [NormGrad {
            center: 0.0,
            gain: 2.0,
            slope: 0.0,
            offset: 0.0,
        }];
        let pooled = PooledGrad {
            y: &y,
            argmax: &a,
            dy: &[1.0, 3.0],
        };
        norm_relu_max_pool2d_backward(&mut dx, &g, &k, pooled);
        assert_eq!(dx, vec![0.0, 8.0, 0.0]);
    }

    #[test]
    fn a_negative_scale_pools_the_smallest_input() {
        let g = PoolGeometry {
            height: 1,
            width: 4,
            pool_h: 1,
            pool_w: 4,
            stride_h: 1,
            stride_w: 1,
        };
        let coef = [Affine {
            scale: -1.0,
            shift: 0.0,
        }];
        let (mut y, mut a) = (vec![0.0; 1], vec![0; 1]);
        affine_relu_max_pool2d_forward(&[3.0, -2.0, 1.0, -2.0], &g, &coef, &mut y, &mut a);
        assert_eq!((y, a), (vec![2.0], vec![1]));
    }
}
