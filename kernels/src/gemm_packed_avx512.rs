//! The AVX-512 form of `gemm_packed`'s block loop: tiles of 8 rows × 32 columns of C.
//!
//! On the Xeons we benchmark on, a 512-bit FMA does twice the work of a 256-bit one at the
//! same issue rate (measured: 112 against 48 GFLOP/s per core on a register-only loop), so
//! the recurrent steps of an LSTM run at about twice the AVX2 kernel's speed. The packed
//! format is the same: a 32-column tile reads two neighbouring 16-column panels.

use crate::gemm_packed::{Right, View, PANEL};
use std::arch::x86_64::*;

/// Rows of A per register block: 8 × 2 accumulators, 2 B vectors and a broadcast use 19
/// of the 32 vector registers; 10 loads per 16 FMAs keep the FMA ports the bottleneck.
const BLOCK_ROWS: usize = 8;

/// Columns per tile: two packed panels, two 16-lane vectors.
const TILE_COLS: usize = 2 * PANEL;

/// Rows of A per group: a 32-column slice of B (16 KB at k = 128) stays in L1 while every
/// block of the group runs over it, and the group's rows of A (64 KB) stay in L2. B's
/// slices are the heavy stream (two vectors per step of k against eight scalars of A), so
/// the more blocks reuse one, the better: 128 rows against 16 measured 10–15 % faster on
/// the LSTM steps (64 × 128 × 512) and on 1152-row products.
const GROUP_ROWS: usize = 16 * BLOCK_ROWS;

/// Steps of k per pass over C: 128 rows of a 32-column slice of B are 16 KB.
const K_BLOCK: usize = 128;

/// `C (+)= A·B` for an m × n block of C: the same contract as `avx2::gemm`.
///
/// # Safety
/// AVX-512F; m, k, n ≥ 1; the caller's layout check covers every access; packed panels
/// hold k × 16 values each.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_, f32>,
    b: Right<'_>,
    accumulate: bool,
    c: &mut [f32],
    ldc: usize,
) {
    // Long products (weight gradients sum over all N·T rows) go in slices of K_BLOCK
    // steps, so a tile's 32 columns of B stay in L1 while the group's blocks use them.
    for p0 in (0..k).step_by(K_BLOCK) {
        let kc = K_BLOCK.min(k - p0);
        let a_part = View {
            data: &a.data[p0 * a.col..],
            ..a
        };
        let b_part = match b {
            // Row p of a packed panel is 16 floats on from row p − 1.
            Right::Packed(panels) => Right::Panels(&panels[p0 * PANEL..], k),
            Right::Panels(panels, stride) => Right::Panels(&panels[p0 * PANEL..], stride),
            Right::Rows(rows, ld) => Right::Rows(&rows[p0 * ld..], ld),
        };
        block_loop(m, kc, n, a_part, b_part, accumulate || p0 > 0, c, ldc);
    }
}

/// One slice of k: every group of rows × every 32-column tile.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_loop(
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
        for j0 in (0..n).step_by(TILE_COLS) {
            let cols = TILE_COLS.min(n - j0);
            // The second vector's columns start 16 on: the next panel, or 16 floats on.
            let (b_lo, b_hi, ldb) = match b {
                Right::Packed(_) => unreachable!("gemm passes k-slices of panels as Panels"),
                Right::Panels(panels, stride) => {
                    let lo = panels.as_ptr().add(j0 * stride);
                    (lo, lo.wrapping_add(PANEL * stride), PANEL)
                }
                Right::Rows(rows, ld) => {
                    let lo = rows.as_ptr().add(j0);
                    (lo, lo.wrapping_add(PANEL), ld)
                }
            };
            for i0 in (g0..g1).step_by(BLOCK_ROWS) {
                prefetch_c_ahead(c, ldc, g1, n, (i0, j0));
                let tile = Tile {
                    k,
                    a: a.data.as_ptr().add(i0 * a.row),
                    a_row: a.row,
                    a_col: a.col,
                    b_lo,
                    b_hi,
                    ldb,
                    c: c.as_mut_ptr().add(i0 * ldc + j0),
                    ldc,
                    mask_lo: lane_mask(cols),
                    mask_hi: lane_mask(cols.saturating_sub(PANEL)),
                    accumulate,
                };
                match (g1 - i0, cols > PANEL) {
                    (1, true) => tile.run::<1, true>(),
                    (2, true) => tile.run::<2, true>(),
                    (3, true) => tile.run::<3, true>(),
                    (4, true) => tile.run::<4, true>(),
                    (5, true) => tile.run::<5, true>(),
                    (6, true) => tile.run::<6, true>(),
                    (7, true) => tile.run::<7, true>(),
                    (_, true) => tile.run::<BLOCK_ROWS, true>(),
                    (1, false) => tile.run::<1, false>(),
                    (2, false) => tile.run::<2, false>(),
                    (3, false) => tile.run::<3, false>(),
                    (4, false) => tile.run::<4, false>(),
                    (5, false) => tile.run::<5, false>(),
                    (6, false) => tile.run::<6, false>(),
                    (7, false) => tile.run::<7, false>(),
                    (_, false) => tile.run::<BLOCK_ROWS, false>(),
                }
            }
        }
    }
}

/// The first `lanes` (at most 16) lanes set.
fn lane_mask(lanes: usize) -> __mmask16 {
    if lanes >= PANEL {
        u16::MAX
    } else {
        (1u16 << lanes) - 1
    }
}

/// As in the AVX2 kernel: C's rows of the next tile may be cold and far apart, so ask
/// for them while this tile computes.
#[inline(always)]
unsafe fn prefetch_c_ahead(
    c: &[f32],
    ldc: usize,
    rows_end: usize,
    n: usize,
    (i0, j0): (usize, usize),
) {
    let j = j0 + TILE_COLS;
    if j >= n {
        return;
    }
    let width = TILE_COLS.min(n - j);
    for r in i0..rows_end.min(i0 + BLOCK_ROWS) {
        let at = r * ldc + j;
        _mm_prefetch::<_MM_HINT_T0>(c.as_ptr().add(at).cast());
        _mm_prefetch::<_MM_HINT_T0>(c.as_ptr().add(at + width - 1).cast());
    }
}

/// One block of up to 8 rows × 32 columns of C.
struct Tile {
    k: usize,
    a: *const f32,
    a_row: usize,
    a_col: usize,
    b_lo: *const f32,
    b_hi: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    mask_lo: __mmask16,
    mask_hi: __mmask16,
    accumulate: bool,
}

impl Tile {
    /// `R` rows; with `WIDE` two 16-lane vectors per row, else one. Masked loads and
    /// stores never touch the lanes they skip (zero-padded panels read as zeros anyway).
    #[target_feature(enable = "avx512f")]
    unsafe fn run<const R: usize, const WIDE: bool>(&self) {
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for p in 0..self.k {
            let b0 = _mm512_maskz_loadu_ps(self.mask_lo, self.b_lo.add(p * self.ldb));
            let b1 = if WIDE {
                _mm512_maskz_loadu_ps(self.mask_hi, self.b_hi.add(p * self.ldb))
            } else {
                b0
            };
            let a_p = self.a.add(p * self.a_col);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a_p.add(r * self.a_row));
                acc_r[0] = _mm512_fmadd_ps(av, b0, acc_r[0]);
                if WIDE {
                    acc_r[1] = _mm512_fmadd_ps(av, b1, acc_r[1]);
                }
            }
        }
        // Row after row: when C's rows overlap, each sees the previous one's sum.
        for (r, acc_r) in acc.iter().enumerate() {
            let out = self.c.add(r * self.ldc);
            self.store(out, acc_r[0], self.mask_lo);
            if WIDE {
                self.store(out.add(PANEL), acc_r[1], self.mask_hi);
            }
        }
    }

    #[inline(always)]
    unsafe fn store(&self, out: *mut f32, v: __m512, mask: __mmask16) {
        let v = if self.accumulate {
            _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, out))
        } else {
            v
        };
        _mm512_mask_storeu_ps(out, mask, v);
    }
}
