//! `C (+)= A·Bᵀ` as dot products along k, for products with few columns and long rows.
//!
//! ```text
//! C[i·ldc + j] (+)= Σ_p A[i·lda + p]·B[j·k + p]      i < m, j < n, p < k
//! ```
//!
//! A's rows are read in place `lda` apart and may overlap (the windows of a channels-last
//! sequence, as in `gemm_packed`); B is `(n, k)` row-major. The tile kernels vectorise over
//! the columns of C, so a product with n = 8 (Conv1D 80 → 8 in CnnLstm) fills half a
//! 16-lane vector and pays one broadcast per multiply-add. Here the vectors run along k
//! instead: every lane does useful work whatever n is, and each step of 16 values of k
//! costs 2 + 8 loads for 16 FMAs (2 rows × 8 columns of C). The 16 sums are reduced
//! across lanes once per block.

use crate::Float;
use std::any::TypeId;

/// Columns of C per block (rows of B held by the kernel at once).
const BLOCK_COLS: usize = 8;

/// True when [`gemm_dots`] runs a SIMD kernel for `T` with this many columns and beats
/// the tile kernels of `gemm_packed` (measured up to 16 columns, AVX-512 only).
pub fn dots_pay_off<T: Float>(n: usize) -> bool {
    n <= 2 * BLOCK_COLS && TypeId::of::<T>() == TypeId::of::<f32>() && crate::dispatch::has_avx512()
}

/// `C[i·ldc + j] (+)= Σ_p A[i·lda + p]·B[j·k + p]` for `i < m`, `j < n`. With
/// `accumulate` the product is added to C, else it overwrites C; entries of C outside the
/// m × n block are left alone.
#[allow(clippy::too_many_arguments)]
pub fn gemm_dots<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    check_layout(m, k, n, a.len(), lda, b.len(), c.len(), ldc);
    #[cfg(target_arch = "x86_64")]
    if m > 0 && n > 0 && crate::dispatch::has_avx512() {
        if let (Some(a), Some(b), Some(c)) = (
            crate::dispatch::as_f32(a),
            crate::dispatch::as_f32(b),
            crate::dispatch::as_f32_mut(c),
        ) {
            // SAFETY: the CPU has AVX-512F; the layout check keeps every access in bounds.
            unsafe { crate::gemm_dots_avx512::gemm_dots(m, k, n, a, lda, b, accumulate, c, ldc) };
            return;
        }
    }
    gemm_dots_reference(m, k, n, a, lda, b, accumulate, c, ldc);
}

/// Scalar reference for [`gemm_dots`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_dots_reference<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    check_layout(m, k, n, a.len(), lda, b.len(), c.len(), ldc);
    for i in 0..m {
        let row = &a[i * lda..i * lda + k];
        for j in 0..n {
            let col = &b[j * k..(j + 1) * k];
            let dot = row.iter().zip(col).fold(T::ZERO, |s, (&x, &y)| s + x * y);
            let out = &mut c[i * ldc + j];
            *out = if accumulate { *out + dot } else { dot };
        }
    }
}

/// Every element the product touches lies inside its slice.
#[allow(clippy::too_many_arguments)]
fn check_layout(
    m: usize,
    k: usize,
    n: usize,
    a: usize,
    lda: usize,
    b: usize,
    c: usize,
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (m - 1) * lda + k <= a,
        "gemm_dots: A has {a} elements, too few for {m} rows of {k} at stride {lda}"
    );
    assert!(b >= n * k, "gemm_dots: B has {b} elements, needs {n} × {k}");
    assert!(
        c >= (m - 1) * ldc + n,
        "gemm_dots: C has {c} elements, too few for {m} rows of {n} at stride {ldc}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm_packed::tests::values;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// The dispatched product (AVX-512 here when the CPU has it) equals the reference
        /// for every row and column remainder, k not a multiple of 16 (masked last step),
        /// overlapping rows of A (lda < k), and both modes; C outside the block untouched.
        #[test]
        fn dots_match_reference(
            m in 0usize..9, k in 0usize..400, n in 1usize..20, lda_delta in -5i64..4,
            pad_c in 0usize..3, accumulate in any::<bool>(), seed in 0u64..1000,
        ) {
            let lda = (k as i64 + lda_delta).max(1) as usize;
            let ldc = n + pad_c;
            let a = values(m.saturating_sub(1) * lda + k + 1, seed);
            let b = values(n * k, seed + 1);
            let c0 = values(m.max(1) * ldc, seed + 2);
            let mut got = c0.clone();
            gemm_dots(m, k, n, &a, lda, &b, accumulate, &mut got, ldc);
            let mut want = c0.clone();
            gemm_dots_reference(m, k, n, &a, lda, &b, accumulate, &mut want, ldc);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let scale = 1.0 + w.abs() + k as f32 * 1e-2;
                prop_assert!((g - w).abs() <= 1e-5 * scale, "[{i}] {g} vs {w}");
            }
        }
    }

    #[test]
    fn f64_takes_the_reference_path_and_matches_a_hand_sum() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [1.0, 0.0, -1.0, 0.5, 0.5, 0.5];
        // Rows of A overlap: [1 2 3], [3 4 5] (lda 2).
        let mut c = [0.0f64; 4];
        gemm_dots(2, 3, 2, &a, 2, &b, false, &mut c, 2);
        assert_eq!(c, [-2.0, 3.0, -2.0, 6.0]);
        assert!(!dots_pay_off::<f64>(8));
    }

    #[test]
    #[should_panic(expected = "too few for 2 rows")]
    fn short_a_is_refused() {
        let mut c = [0.0f32; 2];
        gemm_dots(2, 3, 1, &[1.0; 4], 2, &[1.0; 3], false, &mut c, 1);
    }
}
