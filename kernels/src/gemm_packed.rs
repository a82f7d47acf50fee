//! gemm on operands read where they lie: a right operand packed once and reused (the
//! per-step products of the recurrent layers), and left operands that are strided or
//! overlapping views (the sliding windows of a channels-last 1-d convolution).
//!
//! An LSTM step multiplies the hidden state `h_{t−1}: (N, H)` by the same recurrent
//! kernel `U: (H, 4H)` at every one of its T steps (and backward multiplies by `Uᵀ`). A
//! general gemm copies both operands into panels on every call; with N = 64 rows per
//! thread, copying U's 64 k floats took as long as the multiply-adds that use them
//! (matrixmultiply's packing was 20 % of a CnnLstm step). [`PackedB`] copies B into
//! column panels once per op; [`gemm_packed`] then reads A's rows where they lie and
//! accumulates into C in place. [`gemm_strided`] takes B as plain rows and A as any
//! [`View`], so a convolution's patch matrix never has to be built (see `ops::conv1d_seq`).

use crate::Float;
use std::any::TypeId;

/// Columns per packed panel: two 8-lane f32 vectors.
pub const PANEL: usize = 16;

/// Rows of A per register block of the AVX2 kernel: 6 × 2 accumulators + 2 B vectors +
/// 1 broadcast fit the 16 vector registers.
const BLOCK_ROWS: usize = 6;

/// A read-only matrix in place: element `(i, p)` is `data[i·row + p·col]`. Rows may
/// overlap — the windows `x[t·s·C .. t·s·C + k·C]` of a channels-last sequence are the
/// rows of its convolution patch matrix, at stride `row = s·C`.
#[derive(Clone, Copy, Debug)]
pub struct View<'a, T> {
    pub data: &'a [T],
    pub row: usize,
    pub col: usize,
}

impl<'a, T: Float> View<'a, T> {
    /// Rows of contiguous values, `row` apart.
    pub fn rows(data: &'a [T], row: usize) -> Self {
        View { data, row, col: 1 }
    }

    /// Element `(i, p)`.
    #[inline(always)]
    pub fn at(&self, i: usize, p: usize) -> T {
        self.data[i * self.row + p * self.col]
    }
}

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
        let mut panels = vec![T::ZERO; n.div_ceil(PANEL) * k * PANEL];
        if k == 0 {
            return PackedB { k, n, panels };
        }
        for (p, panel) in panels.chunks_exact_mut(k * PANEL).enumerate() {
            let j0 = p * PANEL;
            let width = PANEL.min(n - j0);
            if transposed {
                // Column j of B is row j of Bᵀ: read it straight through, write it down
                // the panel (the recurrent ops pack Uᵀ once per backward, on one thread).
                for jj in 0..width {
                    let col = &b[(j0 + jj) * k..(j0 + jj + 1) * k];
                    for (out, &v) in panel[jj..].iter_mut().step_by(PANEL).zip(col) {
                        *out = v;
                    }
                }
            } else {
                for (row, out) in panel.chunks_exact_mut(PANEL).enumerate() {
                    out[..width].copy_from_slice(&b[row * n + j0..row * n + j0 + width]);
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

/// `C[i·ldc + j] (+)= Σ_p A(i, p)·B(p, j)` for `i < m`, `j < n`, with B packed. With
/// `accumulate` the product is added to C, otherwise it overwrites C; entries of C
/// outside the m × n block are left alone.
pub fn gemm_packed<T: Float>(
    m: usize,
    a: View<'_, T>,
    b: &PackedB<T>,
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    let (k, n) = (b.k, b.n);
    check_layout(m, k, n, &a, None, c.len(), ldc, accumulate);
    #[cfg(target_arch = "x86_64")]
    if let Some(c) = as_f32_mut(c).filter(|_| fast_path(m, k, n)) {
        // SAFETY: T is f32 (checked by the cast); the CPU has AVX2 + FMA; the layout check
        // keeps every access in bounds; every packed panel holds k × 16 values.
        unsafe {
            let (a, panels) = (cast_view(a), as_f32(&b.panels));
            simd_gemm(m, k, n, a, Right::Packed(panels), accumulate, c, ldc);
        }
        return;
    }
    gemm_packed_reference(m, a, b, accumulate, c, ldc);
}

/// `C[i·ldc + j] (+)= Σ_p A(i, p)·B[p·ldb + j]` for `i < m`, `j < n`, `p < k`: B as plain
/// rows `ldb` apart. When accumulating, C's rows may overlap (`ldc < n`): the rows are
/// added one after another, so overlapping entries receive the sum — the adjoint of
/// reading overlapping windows.
#[allow(clippy::too_many_arguments)]
pub fn gemm_strided<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_, T>,
    b: &[T],
    ldb: usize,
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    check_layout(m, k, n, &a, Some((b.len(), ldb)), c.len(), ldc, accumulate);
    #[cfg(target_arch = "x86_64")]
    if let Some(c) = as_f32_mut(c).filter(|_| fast_path(m, k, n)) {
        // SAFETY: as in `gemm_packed`; B's rows were checked to hold n values each.
        unsafe {
            let right = Right::Rows(as_f32(b), ldb);
            simd_gemm(m, k, n, cast_view(a), right, accumulate, c, ldc);
        }
        return;
    }
    gemm_strided_reference(m, k, n, a, b, ldb, accumulate, c, ldc);
}

/// Scalar reference for [`gemm_packed`].
pub fn gemm_packed_reference<T: Float>(
    m: usize,
    a: View<'_, T>,
    b: &PackedB<T>,
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    let (k, n) = (b.k, b.n);
    check_layout(m, k, n, &a, None, c.len(), ldc, accumulate);
    reference(m, k, n, a, |p, j| b.get(p, j), accumulate, c, ldc);
}

/// Scalar reference for [`gemm_strided`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_strided_reference<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_, T>,
    b: &[T],
    ldb: usize,
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    check_layout(m, k, n, &a, Some((b.len(), ldb)), c.len(), ldc, accumulate);
    reference(m, k, n, a, |p, j| b[p * ldb + j], accumulate, c, ldc);
}

/// The textbook loops, one row of C after another.
#[allow(clippy::too_many_arguments)]
fn reference<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_, T>,
    b: impl Fn(usize, usize) -> T,
    accumulate: bool,
    c: &mut [T],
    ldc: usize,
) {
    for i in 0..m {
        for j in 0..n {
            let acc = (0..k).fold(T::ZERO, |acc, p| acc + a.at(i, p) * b(p, j));
            let out = &mut c[i * ldc + j];
            *out = if accumulate { *out + acc } else { acc };
        }
    }
}

/// Every element the product touches lies inside its slice; C's rows overlap only when
/// accumulating.
#[allow(clippy::too_many_arguments)]
fn check_layout<T>(
    m: usize,
    k: usize,
    n: usize,
    a: &View<'_, T>,
    b: Option<(usize, usize)>,
    c: usize,
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k > 0 {
        let last = (m - 1) * a.row + (k - 1) * a.col;
        assert!(
            last < a.data.len(),
            "gemm view: A has {} elements, reads up to {last}",
            a.data.len()
        );
        if let Some((len, ldb)) = b {
            assert!(
                (k - 1) * ldb + n <= len,
                "gemm view: B has {len} elements, too few for {k} rows of {n} at stride {ldb}"
            );
        }
    }
    assert!(
        c >= (m - 1) * ldc + n,
        "gemm view: C has {c} elements, too few for {m} rows of {n} at stride {ldc}"
    );
    assert!(
        accumulate || ldc >= n || m == 1,
        "gemm view: overlapping rows of C need accumulate"
    );
}

/// True when [`gemm_packed`] and [`gemm_strided`] run SIMD kernels for `T` (f32 on a CPU
/// with AVX2 + FMA); otherwise they fall back to the scalar loops.
pub fn packed_pays_off<T: Float>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f32>() && crate::dispatch::has_avx2()
}

/// The SIMD kernels pay off only for f32 with a non-empty product.
fn fast_path(m: usize, k: usize, n: usize) -> bool {
    m > 0 && n > 0 && k > 0 && crate::dispatch::has_avx2()
}

/// Where the SIMD kernels read B: packed panels (`k × 16`, zero-padded), or rows `ld` apart.
#[derive(Clone, Copy)]
pub(crate) enum Right<'a> {
    Packed(&'a [f32]),
    /// Packed panels entered at some row: each panel is `stride × 16` values, the slice
    /// starts at the wanted row of the first panel (a k-slice of [`Right::Packed`]).
    Panels(&'a [f32], usize),
    Rows(&'a [f32], usize),
}

/// The widest kernel the CPU runs: AVX-512 when it has it, else AVX2.
///
/// # Safety
/// The CPU has AVX2 + FMA; as in `avx2::gemm`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn simd_gemm(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_, f32>,
    b: Right<'_>,
    accumulate: bool,
    c: &mut [f32],
    ldc: usize,
) {
    if crate::dispatch::has_avx512() {
        crate::gemm_packed_avx512::gemm(m, k, n, a, b, accumulate, c, ldc)
    } else {
        avx2::gemm(m, k, n, a, b, accumulate, c, ldc)
    }
}

fn as_f32_mut<T: Float>(s: &mut [T]) -> Option<&mut [f32]> {
    (TypeId::of::<T>() == TypeId::of::<f32>())
        // SAFETY: T is f32: same memory, length and lifetime.
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) })
}

/// # Safety
/// `T` must be f32.
unsafe fn as_f32<T: Float>(s: &[T]) -> &[f32] {
    std::slice::from_raw_parts(s.as_ptr().cast(), s.len())
}

/// # Safety
/// `T` must be f32.
unsafe fn cast_view<T: Float>(a: View<'_, T>) -> View<'_, f32> {
    View {
        data: as_f32(a.data),
        row: a.row,
        col: a.col,
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Right, View, BLOCK_ROWS, PANEL};
    use std::arch::x86_64::*;

    /// Rows of A per group: 4 register blocks, 24 rows of A (12 KB at k = 128) and one
    /// 16-column panel of B (8 KB) fit L1 together.
    const GROUP_ROWS: usize = 4 * BLOCK_ROWS;

    /// The block loop: for each group of 24 rows of A, every 16-column panel of B is read
    /// from L2 once and used by the group's four register blocks while it sits in L1; the
    /// group's rows of A stay in L1 across all panels.
    ///
    /// # Safety
    /// AVX2 + FMA; m, k, n ≥ 1; the caller's layout check covers every access.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: View<'_, f32>,
        b: Right<'_>,
        accumulate: bool,
        c: &mut [f32],
        ldc: usize,
    ) {
        for g0 in (0..m).step_by(GROUP_ROWS) {
            let g1 = m.min(g0 + GROUP_ROWS);
            for j0 in (0..n).step_by(PANEL) {
                let cols = PANEL.min(n - j0);
                let (b_ptr, ldb, padded) = match b {
                    Right::Packed(panels) => (panels.as_ptr().add(j0 * k), PANEL, true),
                    Right::Panels(panels, stride) => {
                        (panels.as_ptr().add(j0 * stride), PANEL, true)
                    }
                    Right::Rows(rows, ld) => (rows.as_ptr().add(j0), ld, false),
                };
                for i0 in (g0..g1).step_by(BLOCK_ROWS) {
                    prefetch_c_ahead(c, ldc, g1, n, (i0, j0));
                    let tile = Tile {
                        k,
                        a: a.data.as_ptr().add(i0 * a.row),
                        a_row: a.row,
                        a_col: a.col,
                        b: b_ptr,
                        ldb,
                        c: c.as_mut_ptr().add(i0 * ldc + j0),
                        ldc,
                        cols,
                        accumulate,
                    };
                    // Padded panels can be read whole; plain rows only up to column n.
                    match (g1 - i0, padded || cols == PANEL) {
                        (1, true) => tile.run::<1, true>(),
                        (2, true) => tile.run::<2, true>(),
                        (3, true) => tile.run::<3, true>(),
                        (4, true) => tile.run::<4, true>(),
                        (5, true) => tile.run::<5, true>(),
                        (_, true) => tile.run::<BLOCK_ROWS, true>(),
                        (1, false) => tile.run::<1, false>(),
                        (2, false) => tile.run::<2, false>(),
                        (3, false) => tile.run::<3, false>(),
                        (4, false) => tile.run::<4, false>(),
                        (5, false) => tile.run::<5, false>(),
                        (_, false) => tile.run::<BLOCK_ROWS, false>(),
                    }
                }
            }
        }
    }

    /// Tiles of C are read (when accumulating) and written once each, and their rows may
    /// lie far apart in memory that has gone cold (one time step of a long sequence), so
    /// the hardware prefetcher does not see them coming: ask for this block's rows in the
    /// next panel while this one computes.
    #[inline(always)]
    unsafe fn prefetch_c_ahead(
        c: &[f32],
        ldc: usize,
        rows_end: usize,
        n: usize,
        (i0, j0): (usize, usize),
    ) {
        let j = j0 + PANEL;
        if j >= n {
            return;
        }
        for r in i0..rows_end.min(i0 + BLOCK_ROWS) {
            let at = r * ldc + j;
            _mm_prefetch::<_MM_HINT_T0>(c.as_ptr().add(at).cast());
            let last = at + PANEL.min(n - j) - 1;
            _mm_prefetch::<_MM_HINT_T0>(c.as_ptr().add(last).cast());
        }
    }

    /// One block of up to 6 rows × 16 columns of C.
    struct Tile {
        k: usize,
        a: *const f32,
        a_row: usize,
        a_col: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        accumulate: bool,
    }

    impl Tile {
        /// `R` rows: the 2·R accumulators live in registers for the whole k loop. With
        /// `WHOLE` the 16 values of each B row are read whole, else only the first `cols`
        /// (masked loads never touch the lanes they skip).
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run<const R: usize, const WHOLE: bool>(&self) {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let cols = _mm256_set1_epi32(self.cols as i32);
            let mask_lo = _mm256_cmpgt_epi32(cols, lane);
            let mask_hi = _mm256_cmpgt_epi32(cols, _mm256_add_epi32(lane, _mm256_set1_epi32(8)));
            let mut acc = [[_mm256_setzero_ps(); 2]; R];
            for p in 0..self.k {
                let row = self.b.add(p * self.ldb);
                let (b0, b1) = if WHOLE {
                    (_mm256_loadu_ps(row), _mm256_loadu_ps(row.add(8)))
                } else {
                    (
                        _mm256_maskload_ps(row, mask_lo),
                        _mm256_maskload_ps(row.add(8), mask_hi),
                    )
                };
                let a_p = self.a.add(p * self.a_col);
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*a_p.add(r * self.a_row));
                    acc_r[0] = _mm256_fmadd_ps(av, b0, acc_r[0]);
                    acc_r[1] = _mm256_fmadd_ps(av, b1, acc_r[1]);
                }
            }
            // Row after row: when C's rows overlap, each sees the previous one's sum.
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
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic test values in [−2, 2] (shared with `gemm_dots`' tests).
    pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u64 * 2654435761 + seed * 40503) % 1999) as f32 - 999.0) / 500.0)
            .collect()
    }

    /// C after each SIMD kernel this CPU runs (AVX2, and AVX-512 when present), called
    /// directly so that both are checked on a machine whose dispatch picks one.
    #[allow(clippy::too_many_arguments)]
    fn each_kernel(
        m: usize,
        k: usize,
        n: usize,
        a: View<'_, f32>,
        b: Right<'_>,
        accumulate: bool,
        c: &[f32],
        ldc: usize,
    ) -> Vec<Vec<f32>> {
        let mut outs = Vec::new();
        if !fast_path(m, k, n) {
            return outs;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let mut out = c.to_vec();
            // SAFETY: the CPU has AVX2 + FMA (fast_path); callers passed checked layouts.
            unsafe { avx2::gemm(m, k, n, a, b, accumulate, &mut out, ldc) };
            outs.push(out);
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut out = c.to_vec();
                // SAFETY: as above, and the CPU has AVX-512F.
                unsafe {
                    crate::gemm_packed_avx512::gemm(m, k, n, a, b, accumulate, &mut out, ldc)
                };
                outs.push(out);
            }
        }
        outs
    }

    /// The exact product in f64, written into (or added to) `c0` at `i·ldc + j` as the
    /// kernels do, beside the magnitude of what each entry sums: Σ|a·b| (+ |c0|). f32
    /// rounding grows with that magnitude, not with the result, which can cancel to near
    /// zero where overlapping rows of C add several products (one entry summed 2 × 346
    /// terms to 0.728, and an f32 reference missed it by 2.5e-4).
    #[allow(clippy::too_many_arguments)]
    fn exact(
        m: usize,
        k: usize,
        n: usize,
        a: impl Fn(usize, usize) -> f32,
        b: impl Fn(usize, usize) -> f32,
        accumulate: bool,
        c0: &[f32],
        ldc: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let mut want: Vec<f64> = c0.iter().map(|&v| f64::from(v)).collect();
        let mut mag: Vec<f64> = c0.iter().map(|&v| f64::from(v).abs()).collect();
        for i in 0..m {
            for j in 0..n {
                let terms = (0..k).map(|p| f64::from(a(i, p)) * f64::from(b(p, j)));
                let (sum, size) = terms.fold((0.0, 0.0), |(s, z), t| (s + t, z + t.abs()));
                let at = i * ldc + j;
                if accumulate {
                    (want[at], mag[at]) = (want[at] + sum, mag[at] + size);
                } else {
                    (want[at], mag[at]) = (sum, size);
                }
            }
        }
        (want, mag)
    }

    /// Within f32 rounding of the exact result: a relative 1e-5 of the summed magnitude
    /// (a sum of k ≤ 400 terms in f32 can be off by about k·2⁻²⁴ of it in the worst case).
    fn close(got: &[f32], (want, mag): &(Vec<f64>, Vec<f64>)) -> Result<(), TestCaseError> {
        for (i, ((&g, &w), &z)) in got.iter().zip(want).zip(mag).enumerate() {
            let err = (f64::from(g) - w).abs();
            prop_assert!(err <= 1e-5 * (1.0 + z), "[{i}] {g} vs {w} (magnitude {z})");
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Packed B: the fast kernel (every row remainder, column remainder, strided rows,
        /// more than one group of rows, several passes over k) equals the reference and
        /// the plain product from the unpacked B; entries of C between the rows stay
        /// untouched.
        #[test]
        fn packed_matches_reference(
            m in 0usize..300, k in 0usize..400, n in 1usize..70, pad_a in 0usize..3,
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
            let view = View::rows(&a, lda);
            gemm_packed(m, view, &packed, accumulate, &mut fast, ldc);
            gemm_packed_reference(m, view, &packed, accumulate, &mut slow, ldc);
            let want = exact(
                m, k, n, |i, p| a[i * lda + p], |p, j| b[p * n + j], accumulate, &c0, ldc,
            );
            close(&fast, &want)?;
            close(&slow, &want)?;
            for out in each_kernel(m, k, n, view, Right::Packed(&packed.panels), accumulate, &c0, ldc) {
                close(&out, &want)?;
            }
        }

        /// Strided views: A read through any (row, col) strides, including overlapping
        /// windows; B as rows with a stride; C rows overlapping when accumulating, which
        /// must add up like col2im.
        #[test]
        fn strided_matches_reference(
            m in 1usize..300, k in 1usize..400, n in 1usize..70, a_row in 1usize..8,
            a_col in 1usize..4, pad_b in 0usize..3, ldc_delta in -3i64..3,
            accumulate in any::<bool>(), seed in 0u64..1000,
        ) {
            let ldb = n + pad_b;
            let ldc = if accumulate { (n as i64 + ldc_delta).max(1) as usize } else { n };
            let a = values((m - 1) * a_row + (k - 1) * a_col + 1, seed);
            let b = values((k - 1) * ldb + n, seed + 1);
            let c0 = values((m - 1) * ldc + n, seed + 2);
            let view = View { data: &a, row: a_row, col: a_col };
            let (mut fast, mut slow) = (c0.clone(), c0.clone());
            gemm_strided(m, k, n, view, &b, ldb, accumulate, &mut fast, ldc);
            gemm_strided_reference(m, k, n, view, &b, ldb, accumulate, &mut slow, ldc);
            // Independent check: each product entry lands (added or written) at i·ldc + j.
            let want = exact(
                m,
                k,
                n,
                |i, p| a[i * a_row + p * a_col],
                |p, j| b[p * ldb + j],
                accumulate,
                &c0,
                ldc,
            );
            close(&fast, &want)?;
            close(&slow, &want)?;
            for out in each_kernel(m, k, n, view, Right::Rows(&b, ldb), accumulate, &c0, ldc) {
                close(&out, &want)?;
            }
        }
    }

    #[test]
    fn f64_takes_the_reference_path() {
        let b = PackedB::new(2, 3, &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], false);
        let mut c = [1.0f64; 3];
        gemm_packed(1, View::rows(&[1.0, -1.0], 2), &b, true, &mut c, 3);
        assert_eq!(c, [-2.0, -2.0, -2.0]);
        assert_eq!((b.k(), b.n(), b.get(1, 2)), (2, 3, 6.0));
    }

    #[test]
    #[should_panic(expected = "overlapping rows of C need accumulate")]
    fn overlapping_rows_must_accumulate() {
        let mut c = [0.0f32; 4];
        gemm_strided(
            2,
            1,
            3,
            View::rows(&[1.0, 1.0], 1),
            &[1.0; 3],
            3,
            false,
            &mut c,
            1,
        );
    }
}
