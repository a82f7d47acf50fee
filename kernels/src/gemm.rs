//! Dense matrix multiply on row-major slices, through `matrixmultiply` (sgemm/dgemm),
//! with direct loops for one skinny shape.
//!
//! A packed gemm copies both operands into panels before multiplying. For `A·Bᵀ` with at
//! most 8 columns (the input gradient of a recurrent layer with 6 input features:
//! `dX = dA·Wᵀ`, dA 1152×512) the copy of the large A costs more than the arithmetic, and
//! every entry is simply a dot product of two contiguous rows, so that shape skips the
//! packing (measured: 2.2× faster for 1152×512×6). The other skinny shapes measured no
//! better than the packed gemm, so they keep it.

use crate::dispatch::avx2_dispatch;
use crate::reduce::dot;
use crate::Float;

/// Most columns of `A·Bᵀ` for which dot products beat the packed gemm.
const SKINNY: usize = 8;

/// `C = A'·B' + beta·C` where `A'` is `A` or `Aᵀ` and `B'` is `B` or `Bᵀ`.
///
/// Shapes are those of the product: `A'` is m×k, `B'` is k×n, `C` is m×n, all row-major
/// and contiguous. With `trans_a` the slice `a` holds the k×m matrix `A`; likewise `b`.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    trans_a: bool,
    b: &[T],
    trans_b: bool,
    beta: T,
    c: &mut [T],
) {
    assert_eq!(
        a.len(),
        m * k,
        "gemm: A has {} elements, expected {m}×{k}",
        a.len()
    );
    assert_eq!(
        b.len(),
        k * n,
        "gemm: B has {} elements, expected {k}×{n}",
        b.len()
    );
    assert_eq!(
        c.len(),
        m * n,
        "gemm: C has {} elements, expected {m}×{n}",
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        scale(beta, c); // an empty sum: C = beta·C
        return;
    }
    match (trans_a, trans_b) {
        (false, true) if n <= SKINNY => return dot_rows(m, k, n, a, b, beta, c),
        _ => {}
    }
    let (rsa, csa) = if trans_a {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the asserts above make every strided access fall inside its slice, and `c`
    // is borrowed mutably so it cannot alias `a` or `b`.
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            T::ONE,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// `c = beta·c` (beta 0 overwrites, so NaN in old `c` does not survive).
#[inline(always)]
fn scale<T: Float>(beta: T, c: &mut [T]) {
    if beta == T::ZERO {
        c.fill(T::ZERO);
    } else if beta != T::ONE {
        c.iter_mut().for_each(|v| *v *= beta);
    }
}

avx2_dispatch!(fn dot_rows(m: usize, k: usize, n: usize, a: &[T], b: &[T], beta: T, c: &mut [T])
    => dot_rows_body);
/// `C = A·Bᵀ + beta·C`, A m×k, B n×k (as stored): `C[i, j] = A[i, :]·B[j, :]`.
#[inline(always)]
fn dot_rows_body<T: Float>(_m: usize, k: usize, n: usize, a: &[T], b: &[T], beta: T, c: &mut [T]) {
    // k ≥ 1 here: `gemm` answers k = 0 before dispatching.
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
        for (j, out) in c_row.iter_mut().enumerate() {
            let old = if beta == T::ZERO {
                T::ZERO
            } else {
                beta * *out
            };
            *out = old + dot(a_row, &b[j * k..][..k]);
        }
    }
}

/// Scalar reference for [`gemm`]: the textbook triple loop.
#[allow(clippy::too_many_arguments)]
pub fn gemm_reference<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    trans_a: bool,
    b: &[T],
    trans_b: bool,
    beta: T,
    c: &mut [T],
) {
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::ZERO;
            for p in 0..k {
                let av = if trans_a { a[p * m + i] } else { a[i * k + p] };
                let bv = if trans_b { b[j * k + p] } else { b[p * n + j] };
                acc += av * bv;
            }
            let old = if beta == T::ZERO {
                T::ZERO
            } else {
                beta * c[i * n + j]
            };
            c[i * n + j] = acc + old;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(n: usize, seed: u64) -> Vec<f64> {
        (0..n)
            .map(|i| (((i as u64 * 2654435761 + seed * 40503) % 1999) as f64 - 999.0) / 500.0)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Every layout, including the skinny shapes that skip the packed gemm.
        #[test]
        fn gemm_matches_the_reference(
            m in 1usize..20, k in 0usize..40, n in 1usize..20,
            trans_a in any::<bool>(), trans_b in any::<bool>(),
            beta in prop::sample::select(vec![0.0, 1.0, 0.5]), seed in 0u64..1000,
        ) {
            let (a, b) = (values(m * k, seed), values(k * n, seed + 1));
            let c0 = values(m * n, seed + 2);
            let (mut c, mut c_ref) = (c0.clone(), c0);
            gemm(m, k, n, &a, trans_a, &b, trans_b, beta, &mut c);
            gemm_reference(m, k, n, &a, trans_a, &b, trans_b, beta, &mut c_ref);
            for (x, y) in c.iter().zip(&c_ref) {
                prop_assert!((x - y).abs() <= 1e-9 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
    }
}
