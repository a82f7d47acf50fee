//! gemm against a right operand packed once and reused: the per-step products of the
//! recurrent layers.
//!
//! An LSTM step multiplies the hidden state `h_{t−1}: (N, H)` by the same recurrent
//! kernel `U: (H, 4H)` at every one of its T steps (and backward multiplies by `Uᵀ`). A
//! general gemm copies both operands into panels on every call; with N = 64 rows per
//! thread, copying U's 64 k floats took as long as the multiply-adds that use them
//! (matrixmultiply's packing was 20 % of a CnnLstm step). [`PackedB`] copies B into
//! column panels once per op; [`gemm_packed`] then reads A's rows where they lie (with a
//! row stride, so A and C can be one time step of a `(N, T, ·)` sequence) and
//! accumulates into C in place.

use crate::Float;
use std::any::TypeId;

/// Columns per packed panel: two 8-lane f32 vectors.
pub const PANEL: usize = 16;

/// Rows of A per register block of the AVX2 kernel: 6 × 2 accumulators + 2 B vectors +
/// 1 broadcast fit the 16 vector registers.
const BLOCK_ROWS: usize = 6;

/// `B: (k, n)` stored as ⌈n/16⌉ panels, each `k × 16` row-major, the last padded with
/// zeros: the kernel's inner loop reads 16 consecutive floats per step of k.
#[derive(Clone, Debug)]
pub struct PackedB<T> {
    k: usize,
    n: usize,
    panels: Vec<T>,
}

impl<T: Float> PackedB<T> {
    /// Pack `b`, which holds `B: (k, n)` row-major, or, with `transposed`, `Bᵀ: (n, k)`.
    pub fn new(k: usize, n: usize, b: &[T], transposed: bool) -> Self {
        assert_eq!(b.len(), k * n, "PackedB: {} elements for {k}×{n}", b.len());
        let count = n.div_ceil(PANEL);
        let mut panels = vec![T::ZERO; count * k * PANEL];
        if k == 0 {
            return PackedB { k, n, panels };
        }
        for (p, panel) in panels.chunks_exact_mut(k * PANEL).enumerate() {
            let j0 = p * PANEL;
            let width = PANEL.min(n - j0);
            for (row, out) in panel.chunks_exact_mut(PANEL).enumerate() {
                for (jj, v) in out[..width].iter_mut().enumerate() {
                    let j = j0 + jj;
                    *v = if transposed {
                        b[j * k + row]
                    } else {
                        b[row * n + j]
                    };
                }
            }
        }
        PackedB { k, n, panels }
    }

    /// Rows of B (the shared dimension).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of B.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Entry `(row, col)` of B.
    pub fn get(&self, row: usize, col: usize) -> T {
        let panel = col / PANEL;
        self.panels[(panel * self.k + row) * PANEL + col % PANEL]
    }
}

/// `C[i, :] (+)= A[i, :]·B` for `i < m`: row i of A starts at `a[i·lda]` (k values), row i
/// of C at `c[i·ldc]` (n values). With `accumulate` the product is added to C, otherwise
/// it overwrites C. Entries of C outside the m × n block are left alone.
pub fn gemm_packed<T: Float>(
    m: usize,
    a: &[T],
    lda: usize,
    b: &PackedB<T>,
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    let (k, n) = (b.k, b.n);
    check_layout(m, k, n, a.len(), lda, c.len(), ldc);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: C = 0, or C unchanged when accumulating.
        if !accumulate {
            (0..m).for_each(|i| c[i * ldc..][..n].fill(T::ZERO));
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if TypeId::of::<T>() == TypeId::of::<f32>() && crate::dispatch::has_avx2() {
        // SAFETY: T is f32, so the casts describe the same memory; the CPU has AVX2 + FMA;
        // `check_layout` keeps every row inside its slice.
        unsafe {
            let a = std::slice::from_raw_parts(a.as_ptr().cast::<f32>(), a.len());
            let c = std::slice::from_raw_parts_mut(c.as_mut_ptr().cast::<f32>(), c.len());
            let panels =
                std::slice::from_raw_parts(b.panels.as_ptr().cast::<f32>(), b.panels.len());
            avx2::gemm(m, k, n, a, lda, panels, accumulate, c, ldc);
        }
        return;
    }
    gemm_packed_reference(m, a, lda, b, accumulate, c, ldc);
}

/// Scalar reference for [`gemm_packed`].
pub fn gemm_packed_reference<T: Float>(
    m: usize,
    a: &[T],
    lda: usize,
    b: &PackedB<T>,
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    let (k, n) = (b.k, b.n);
    check_layout(m, k, n, a.len(), lda, c.len(), ldc);
    for i in 0..m {
        let a_row = &a[i * lda..][..k];
        for j in 0..n {
            let mut acc = T::ZERO;
            for (p, &av) in a_row.iter().enumerate() {
                acc += av * b.get(p, j);
            }
            let out = &mut c[i * ldc + j];
            *out = if accumulate { *out + acc } else { acc };
        }
    }
}

/// Every row of A and C lies inside its slice, and rows do not overlap.
fn check_layout(m: usize, k: usize, n: usize, a: usize, lda: usize, c: usize, ldc: usize) {
    if m == 0 {
        return;
    }
    assert!(
        lda >= k && a >= (m - 1) * lda + k,
        "gemm_packed: A has {a} elements, too few for {m} rows of {k} at stride {lda}"
    );
    assert!(
        ldc >= n && c >= (m - 1) * ldc + n,
        "gemm_packed: C has {c} elements, too few for {m} rows of {n} at stride {ldc}"
    );
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BLOCK_ROWS, PANEL};
    use std::arch::x86_64::*;

    /// The block loop: a block of up to 6 rows of A (6·k floats) stays in L1 while it
    /// passes over every panel of B, and the block's rows of C are written left to right,
    /// which the prefetcher follows (C's rows may lie far apart: one time step of a
    /// sequence).
    ///
    /// # Safety
    /// AVX2 + FMA; the slices hold the rows the caller's layout checks promised.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        lda: usize,
        panels: &[f32],
        accumulate: bool,
        c: &mut [f32],
        ldc: usize,
    ) {
        for i0 in (0..m).step_by(BLOCK_ROWS) {
            for (p, panel) in panels.chunks_exact(k * PANEL).enumerate() {
                let j0 = p * PANEL;
                let tile = Tile {
                    k,
                    a: a.as_ptr().add(i0 * lda),
                    lda,
                    b: panel.as_ptr(),
                    c: c.as_mut_ptr().add(i0 * ldc + j0),
                    ldc,
                    cols: PANEL.min(n - j0),
                    accumulate,
                };
                match m - i0 {
                    1 => tile.run::<1>(),
                    2 => tile.run::<2>(),
                    3 => tile.run::<3>(),
                    4 => tile.run::<4>(),
                    5 => tile.run::<5>(),
                    _ => tile.run::<BLOCK_ROWS>(),
                }
            }
        }
    }

    /// One block of up to 6 rows × 16 columns of C.
    struct Tile {
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
    }

    impl Tile {
        /// `R` rows: the 2·R accumulators live in registers for the whole k loop.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run<const R: usize>(&self) {
            let mut acc = [[_mm256_setzero_ps(); 2]; R];
            for p in 0..self.k {
                let b0 = _mm256_loadu_ps(self.b.add(p * PANEL));
                let b1 = _mm256_loadu_ps(self.b.add(p * PANEL + 8));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*self.a.add(r * self.lda + p));
                    acc_r[0] = _mm256_fmadd_ps(av, b0, acc_r[0]);
                    acc_r[1] = _mm256_fmadd_ps(av, b1, acc_r[1]);
                }
            }
            for (r, acc_r) in acc.iter().enumerate() {
                let out = self.c.add(r * self.ldc);
                if self.cols == PANEL {
                    let (mut lo, mut hi) = (acc_r[0], acc_r[1]);
                    if self.accumulate {
                        lo = _mm256_add_ps(lo, _mm256_loadu_ps(out));
                        hi = _mm256_add_ps(hi, _mm256_loadu_ps(out.add(8)));
                    }
                    _mm256_storeu_ps(out, lo);
                    _mm256_storeu_ps(out.add(8), hi);
                } else {
                    let mut lanes = [0.0f32; PANEL];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), acc_r[0]);
                    _mm256_storeu_ps(lanes.as_mut_ptr().add(8), acc_r[1]);
                    for (j, &v) in lanes[..self.cols].iter().enumerate() {
                        let o = out.add(j);
                        *o = if self.accumulate { *o + v } else { v };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u64 * 2654435761 + seed * 40503) % 1999) as f32 - 999.0) / 500.0)
            .collect()
    }

    /// The plain product from the unpacked B, as an independent check of the packing.
    fn naive(m: usize, k: usize, n: usize, a: &[f32], lda: usize, b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * lda + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// The fast kernel (every row remainder 1..6 and column remainder) equals the
        /// reference and the plain product; strided rows outside the block stay untouched.
        #[test]
        fn fast_matches_reference(
            m in 0usize..20, k in 0usize..40, n in 1usize..40, pad_a in 0usize..3,
            pad_c in 0usize..3, accumulate in any::<bool>(), transposed in any::<bool>(),
            seed in 0u64..1000,
        ) {
            let (lda, ldc) = (k + pad_a, n + pad_c);
            let a = values(m * lda, seed);
            let b = values(k * n, seed + 1);
            let stored = if transposed {
                let mut t = vec![0.0; k * n];
                for p in 0..k {
                    for j in 0..n {
                        t[j * k + p] = b[p * n + j];
                    }
                }
                t
            } else {
                b.clone()
            };
            let packed = PackedB::new(k, n, &stored, transposed);
            let c0 = values(m * ldc, seed + 2);
            let (mut fast, mut slow) = (c0.clone(), c0.clone());
            gemm_packed(m, &a, lda, &packed, accumulate, &mut fast, ldc);
            gemm_packed_reference(m, &a, lda, &packed, accumulate, &mut slow, ldc);
            let plain = naive(m, k, n, &a, lda, &b);
            for i in 0..m {
                for j in 0..ldc {
                    let (f, s) = (fast[i * ldc + j], slow[i * ldc + j]);
                    let want = if j >= n {
                        c0[i * ldc + j]
                    } else {
                        plain[i * n + j] + if accumulate { c0[i * ldc + j] } else { 0.0 }
                    };
                    let tol = 1e-4 * (1.0 + want.abs());
                    prop_assert!((f - want).abs() <= tol, "fast ({i},{j}) {f} vs {want}");
                    prop_assert!((s - want).abs() <= tol, "reference ({i},{j}) {s} vs {want}");
                }
            }
        }
    }

    #[test]
    fn f64_takes_the_reference_path() {
        let b = PackedB::new(2, 3, &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], false);
        let mut c = [1.0f64; 3];
        gemm_packed(1, &[1.0, -1.0], 2, &b, true, &mut c, 3);
        assert_eq!(c, [-2.0, -2.0, -2.0]);
        assert_eq!((b.k(), b.n(), b.get(1, 2)), (2, 3, 6.0));
    }
}
