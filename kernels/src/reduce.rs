//! Reductions on slices: sum, max, dot, sums of squared deviations, sums along one axis of
//! a row-major block, and the row-wise softmax family (forward and backward), each with a
//! scalar reference.
//!
//! The SIMD sums add in a different order than a left-to-right loop, so in f32 they
//! differ from the reference by rounding: the tests allow `1e-5 · Σ|xᵢ|`.

use crate::elementwise::{axpy, map_simd, map_simd_inplace, scale, zip_simd, zip_simd_inplace};
use crate::simd::SimdVec;
use crate::Float;

/// `Σ xᵢ` (0 for an empty slice).
pub fn sum<T: Float>(x: &[T]) -> T {
    let lanes = T::Simd::LANES;
    let mut acc = T::Simd::splat(T::ZERO);
    let mut xs = x.chunks_exact(lanes);
    for c in &mut xs {
        acc = acc + T::Simd::load(c);
    }
    acc.reduce_add() + xs.remainder().iter().copied().sum()
}

/// `Σ aᵢ·bᵢ`.
pub fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    assert_eq!(a.len(), b.len(), "dot: lengths differ");
    let lanes = T::Simd::LANES;
    let mut acc = T::Simd::splat(T::ZERO);
    let mut as_ = a.chunks_exact(lanes);
    let mut bs = b.chunks_exact(lanes);
    for (ac, bc) in (&mut as_).zip(&mut bs) {
        acc = acc + T::Simd::load(ac) * T::Simd::load(bc);
    }
    let tail: T = as_
        .remainder()
        .iter()
        .zip(bs.remainder())
        .map(|(&u, &v)| u * v)
        .sum();
    acc.reduce_add() + tail
}

/// `(Σ xᵢ, Σ (xᵢ − x̄)²)` with `x̄` the mean of `x`: the sum and the sum of squared
/// deviations, from which block statistics combine exactly (Chan et al.). The second
/// pass re-reads `x`, which is meant to be a block small enough to still be in cache.
/// `(0, 0)` for an empty slice.
pub fn sum_and_squared_deviations<T: Float>(x: &[T]) -> (T, T) {
    if x.is_empty() {
        return (T::ZERO, T::ZERO);
    }
    let total = sum(x);
    let mean = total / T::from_usize(x.len());
    let (mv, lanes) = (T::Simd::splat(mean), T::Simd::LANES);
    let mut acc = T::Simd::splat(T::ZERO);
    let mut xs = x.chunks_exact(lanes);
    for c in &mut xs {
        let d = T::Simd::load(c) - mv;
        acc = acc + d * d;
    }
    let tail: T = xs
        .remainder()
        .iter()
        .map(|&v| (v - mean) * (v - mean))
        .sum();
    (total, acc.reduce_add() + tail)
}

/// `max xᵢ` (−∞ for an empty slice; NaNs are skipped).
pub fn max<T: Float>(x: &[T]) -> T {
    let neg_inf = T::from_f64(f64::NEG_INFINITY);
    let lanes = T::Simd::LANES;
    let mut acc = T::Simd::splat(neg_inf);
    let mut xs = x.chunks_exact(lanes);
    for c in &mut xs {
        acc = acc.max(T::Simd::load(c));
    }
    xs.remainder()
        .iter()
        .fold(acc.reduce_max(), |m, &v| m.max(v))
}

/// Sum over the middle axis of a row-major `(outer, n, inner)` block into `(outer, inner)`:
/// `out[o, i] = Σⱼ x[o, j, i]`. With `inner = 1` this is a sum per row; otherwise whole
/// rows of `inner` elements are accumulated with [`axpy`].
pub fn sum_axis<T: Float>(x: &[T], outer: usize, n: usize, inner: usize, out: &mut [T]) {
    assert_eq!(
        x.len(),
        outer * n * inner,
        "sum_axis: input is not outer·n·inner"
    );
    assert_eq!(
        out.len(),
        outer * inner,
        "sum_axis: output is not outer·inner"
    );
    if n == 0 || inner == 0 {
        out.fill(T::ZERO); // an empty sum
        return;
    }
    if inner == 1 {
        for (o, row) in out.iter_mut().zip(x.chunks_exact(n)) {
            *o = sum(row);
        }
        return;
    }
    out.fill(T::ZERO);
    for (o, block) in out.chunks_exact_mut(inner).zip(x.chunks_exact(n * inner)) {
        for row in block.chunks_exact(inner) {
            axpy(T::ONE, row, o);
        }
    }
}

/// `y = x − (max of x's row)` for each row, so every exponent taken later is ≤ 0.
fn shift_by_row_max<T: Float>(x: &[T], cols: usize, y: &mut [T]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let m = max(xr);
        let mv = T::Simd::splat(m);
        map_simd(xr, yr, |v| v - mv, |v| v - m);
    }
}

/// Softmax of each row of a row-major `(rows, cols)` block:
/// `yᵢ = e^(xᵢ − m) / Σⱼ e^(xⱼ − m)` with `m = max x` so no exponent exceeds 0.
///
/// The exponentials run over the whole block in one pass, so short rows (10 classes)
/// still fill whole SIMD vectors.
pub fn softmax_rows<T: Float>(x: &[T], cols: usize, y: &mut [T]) {
    assert_eq!(
        x.len(),
        y.len(),
        "softmax_rows: input and output lengths differ"
    );
    if cols == 0 {
        return;
    }
    shift_by_row_max(x, cols, y);
    map_simd_inplace(y, |v| v.exp(), Float::exp);
    for yr in y.chunks_exact_mut(cols) {
        let s = sum(yr);
        scale(T::ONE / s, yr);
    }
}

/// Log-softmax of each row: `yᵢ = xᵢ − m − ln Σⱼ e^(xⱼ − m)`.
pub fn log_softmax_rows<T: Float>(x: &[T], cols: usize, y: &mut [T]) {
    assert_eq!(
        x.len(),
        y.len(),
        "log_softmax_rows: input and output lengths differ"
    );
    if cols == 0 {
        return;
    }
    shift_by_row_max(x, cols, y);
    let mut e = vec![T::ZERO; y.len()];
    map_simd(y, &mut e, |v| v.exp(), Float::exp);
    for (yr, er) in y.chunks_exact_mut(cols).zip(e.chunks_exact(cols)) {
        let lse = sum(er).ln();
        let lv = T::Simd::splat(lse);
        map_simd_inplace(yr, |v| v - lv, |v| v - lse);
    }
}

/// Backward of [`softmax_rows`] from its output: `dxᵢ = yᵢ·(dyᵢ − Σⱼ dyⱼ·yⱼ)`.
pub fn softmax_backward_rows<T: Float>(y: &[T], dy: &[T], cols: usize, dx: &mut [T]) {
    let same = y.len() == dy.len() && y.len() == dx.len();
    assert!(same, "softmax_backward_rows: lengths differ");
    if cols == 0 {
        return;
    }
    let rows = y.chunks_exact(cols).zip(dy.chunks_exact(cols));
    for ((yr, gr), dr) in rows.zip(dx.chunks_exact_mut(cols)) {
        let inner = dot(yr, gr);
        let iv = T::Simd::splat(inner);
        zip_simd(yr, gr, dr, |y, g| y * (g - iv), |y, g| y * (g - inner));
    }
}

/// Backward of [`log_softmax_rows`] from its output `y = log p`:
/// `dxᵢ = dyᵢ − pᵢ·Σⱼ dyⱼ` with `pᵢ = e^yᵢ`.
pub fn log_softmax_backward_rows<T: Float>(y: &[T], dy: &[T], cols: usize, dx: &mut [T]) {
    let same = y.len() == dy.len() && y.len() == dx.len();
    assert!(same, "log_softmax_backward_rows: lengths differ");
    if cols == 0 {
        return;
    }
    map_simd(y, dx, |v| v.exp(), Float::exp); // dx = p, over the whole block
    for (gr, dr) in dy.chunks_exact(cols).zip(dx.chunks_exact_mut(cols)) {
        let total = sum(gr);
        let tv = T::Simd::splat(total);
        zip_simd_inplace(gr, dr, |g, p| g - p * tv, |g, p| g - p * total);
    }
}

/// Scalar references: straightforward loops.
pub mod reference {
    use crate::Float;

    pub fn sum<T: Float>(x: &[T]) -> T {
        x.iter().fold(T::ZERO, |a, &v| a + v)
    }
    pub fn dot<T: Float>(a: &[T], b: &[T]) -> T {
        a.iter().zip(b).fold(T::ZERO, |s, (&u, &v)| s + u * v)
    }
    pub fn sum_and_squared_deviations<T: Float>(x: &[T]) -> (T, T) {
        let total = sum(x);
        let mean = total / T::from_usize(x.len().max(1));
        (total, x.iter().map(|&v| (v - mean) * (v - mean)).sum())
    }
    pub fn max<T: Float>(x: &[T]) -> T {
        x.iter()
            .fold(T::from_f64(f64::NEG_INFINITY), |m, &v| m.max(v))
    }
    pub fn sum_axis<T: Float>(x: &[T], outer: usize, n: usize, inner: usize, out: &mut [T]) {
        for o in 0..outer {
            for i in 0..inner {
                let mut acc = T::ZERO;
                for j in 0..n {
                    acc += x[(o * n + j) * inner + i];
                }
                out[o * inner + i] = acc;
            }
        }
    }
    pub fn softmax_rows<T: Float>(x: &[T], cols: usize, y: &mut [T]) {
        for r in 0..x.len() / cols.max(1) {
            let row = &x[r * cols..(r + 1) * cols];
            let m = max(row);
            let s: T = row.iter().map(|&v| (v - m).exp()).sum();
            for j in 0..cols {
                y[r * cols + j] = (row[j] - m).exp() / s;
            }
        }
    }
    pub fn log_softmax_rows<T: Float>(x: &[T], cols: usize, y: &mut [T]) {
        for r in 0..x.len() / cols.max(1) {
            let row = &x[r * cols..(r + 1) * cols];
            let m = max(row);
            let lse = m + row.iter().map(|&v| (v - m).exp()).sum::<T>().ln();
            for j in 0..cols {
                y[r * cols + j] = row[j] - lse;
            }
        }
    }
    pub fn softmax_backward_rows<T: Float>(y: &[T], dy: &[T], cols: usize, dx: &mut [T]) {
        for r in 0..y.len() / cols.max(1) {
            let span = r * cols..(r + 1) * cols;
            let inner = dot(&y[span.clone()], &dy[span.clone()]);
            for i in span {
                dx[i] = y[i] * (dy[i] - inner);
            }
        }
    }
    pub fn log_softmax_backward_rows<T: Float>(y: &[T], dy: &[T], cols: usize, dx: &mut [T]) {
        for r in 0..y.len() / cols.max(1) {
            let span = r * cols..(r + 1) * cols;
            let total = sum(&dy[span.clone()]);
            for i in span {
                dx[i] = dy[i] - y[i].exp() * total;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// f32 sums in a different order: allow `1e-5 · (Σ|xᵢ| + 1)`.
    const TOL_F32: f64 = 1e-5;

    fn length() -> impl Strategy<Value = usize> {
        prop_oneof![
            prop::sample::select(vec![0usize, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17]),
            0usize..300
        ]
    }

    fn close(fast: f64, slow: f64, scale: f64) -> Result<(), TestCaseError> {
        prop_assert!(
            (fast - slow).abs() <= TOL_F32 * (scale + 1.0),
            "fast {} vs reference {}",
            fast,
            slow
        );
        Ok(())
    }

    fn all_close<T: Float>(fast: &[T], slow: &[T], tol: f64) -> Result<(), TestCaseError> {
        for (i, (&f, &s)) in fast.iter().zip(slow).enumerate() {
            let (f, s) = (f.to_f64(), s.to_f64());
            prop_assert!(
                (f - s).abs() <= tol * s.abs().max(1.0),
                "element {}: {} vs {}",
                i,
                f,
                s
            );
        }
        Ok(())
    }

    /// (rows, cols) with cols around the SIMD widths.
    fn block() -> impl Strategy<Value = (usize, usize)> {
        (
            0usize..6,
            prop::sample::select(vec![1usize, 2, 3, 4, 7, 8, 9, 10, 16, 17, 33]),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sum_dot_max_match_reference(x in length().prop_flat_map(|n| prop::collection::vec(-10.0f32..10.0, n))) {
            let abs: f64 = x.iter().map(|v| v.abs() as f64).sum();
            close(sum(&x) as f64, reference::sum(&x) as f64, abs)?;
            let y: Vec<f32> = x.iter().rev().copied().collect();
            let absdot: f64 = x.iter().zip(&y).map(|(a, b)| (a * b).abs() as f64).sum();
            close(dot(&x, &y) as f64, reference::dot(&x, &y) as f64, absdot)?;
            prop_assert_eq!(max(&x), reference::max(&x));
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            prop_assert!((sum(&x64) - reference::sum(&x64)).abs() <= 1e-12 * (abs + 1.0));
            prop_assert_eq!(max(&x64), reference::max(&x64));
        }
        #[test]
        fn squared_deviations_match_reference(
            x in length().prop_flat_map(|n| prop::collection::vec(-10.0f64..10.0, n)),
            offset in prop::sample::select(vec![0.0f64, 1e3]),
        ) {
            // An offset far from 0: deviations are taken from the mean, not from 0.
            let x: Vec<f64> = x.iter().map(|v| v + offset).collect();
            let (s, d) = sum_and_squared_deviations(&x);
            let (s_ref, d_ref) = reference::sum_and_squared_deviations(&x);
            let abs: f64 = x.iter().map(|v| v.abs()).sum();
            prop_assert!((s - s_ref).abs() <= 1e-12 * (abs + 1.0));
            prop_assert!((d - d_ref).abs() <= 1e-10 * (d_ref + 1.0), "{} vs {}", d, d_ref);
            let x32: Vec<f32> = x.iter().map(|&v| (v - offset) as f32).collect();
            let (d32, d32_ref) = (sum_and_squared_deviations(&x32).1, reference::sum_and_squared_deviations(&x32).1);
            close(d32 as f64, d32_ref as f64, d32_ref as f64)?;
        }

        #[test]
        fn sum_axis_matches_reference(
            (outer, n, inner, x) in (0usize..5, 0usize..6, prop::sample::select(vec![1usize, 2, 3, 4, 7, 8, 9, 17]))
                .prop_flat_map(|(o, n, i)| (Just(o), Just(n), Just(i), prop::collection::vec(-10.0f32..10.0, o * n * i)))
        ) {
            let mut fast = vec![f32::NAN; outer * inner];
            let mut slow = vec![0.0; outer * inner];
            sum_axis(&x, outer, n, inner, &mut fast);
            reference::sum_axis(&x, outer, n, inner, &mut slow);
            for (f, s) in fast.iter().zip(&slow) {
                close(*f as f64, *s as f64, 10.0 * n as f64)?;
            }
        }

        #[test]
        fn softmax_family_matches_reference(
            ((rows, cols), x, dy) in block().prop_flat_map(|(r, c)| (
                Just((r, c)),
                prop::collection::vec(-20.0f32..20.0, r * c),
                prop::collection::vec(-2.0f32..2.0, r * c)))
        ) {
            let n = rows * cols;
            let (mut fast, mut slow) = (vec![0.0f32; n], vec![0.0f32; n]);
            softmax_rows(&x, cols, &mut fast);
            reference::softmax_rows(&x, cols, &mut slow);
            all_close(&fast, &slow, 1e-5)?;
            let probs = slow.clone();
            softmax_backward_rows(&probs, &dy, cols, &mut fast);
            reference::softmax_backward_rows(&probs, &dy, cols, &mut slow);
            all_close(&fast, &slow, 1e-5)?;
            log_softmax_rows(&x, cols, &mut fast);
            reference::log_softmax_rows(&x, cols, &mut slow);
            all_close(&fast, &slow, 1e-5)?;
            let logp = slow.clone();
            log_softmax_backward_rows(&logp, &dy, cols, &mut fast);
            reference::log_softmax_backward_rows(&logp, &dy, cols, &mut slow);
            all_close(&fast, &slow, 2e-5)?;
        }
    }

    #[test]
    fn softmax_is_stable_for_huge_logits() {
        let x = [
            1000.0f32, -1000.0, 999.0, 0.0, 1000.0, 1000.0, -1000.0, 5.0, 3.0,
        ];
        let mut y = [0.0f32; 9];
        softmax_rows(&x, 9, &mut y);
        assert!(y.iter().all(|v| v.is_finite()));
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        log_softmax_rows(&x, 9, &mut y);
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
        assert!((y[1] - (-2000.0 - (3.0f32 + (-1.0f32).exp()).ln())).abs() < 1e-3);
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(sum::<f32>(&[]), 0.0);
        assert_eq!(max::<f64>(&[]), f64::NEG_INFINITY);
        let mut out = [7.0f32; 3];
        sum_axis(&[], 3, 0, 1, &mut out);
        assert_eq!(out, [0.0; 3]);
    }
}
