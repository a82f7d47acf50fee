//! The AVX-512 kernel of `gemm_dots`: blocks of 2 rows of A × 8 rows of B, 16 lanes of k
//! per step, the last step masked; 16 accumulators reduced across lanes at the end.

use std::arch::x86_64::*;

/// Rows of A per block.
const BLOCK_ROWS: usize = 2;

/// Rows of B per block: 2 × 8 accumulators, 2 A vectors and 8 B vectors use 26 of the 32
/// vector registers.
const BLOCK_COLS: usize = 8;

/// As `gemm_dots`, f32, AVX-512.
///
/// # Safety
/// AVX-512F; m, n ≥ 1; the caller's layout check covers every access.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_dots(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    accumulate: bool,
    c: &mut [f32],
    ldc: usize,
) {
    // Missing rows of B in the last block read zeros (their sums are not stored).
    let zeros = vec![0f32; if n.is_multiple_of(BLOCK_COLS) { 0 } else { k }];
    for j0 in (0..n).step_by(BLOCK_COLS) {
        let cols = BLOCK_COLS.min(n - j0);
        let b_rows: [*const f32; BLOCK_COLS] = std::array::from_fn(|o| {
            if o < cols {
                b.as_ptr().add((j0 + o) * k)
            } else {
                zeros.as_ptr()
            }
        });
        for i0 in (0..m).step_by(BLOCK_ROWS) {
            let a_rows = |r: usize| a.as_ptr().add((i0 + r) * lda);
            let sums = if m - i0 >= BLOCK_ROWS {
                block::<2>([a_rows(0), a_rows(1)], &b_rows, k)
            } else {
                let [one] = block::<1>([a_rows(0)], &b_rows, k);
                [one, [0.0; BLOCK_COLS]]
            };
            for (r, row) in sums.iter().enumerate().take(m - i0) {
                let out = &mut c[(i0 + r) * ldc + j0..(i0 + r) * ldc + j0 + cols];
                for (o, &s) in out.iter_mut().zip(row) {
                    *o = if accumulate { *o + s } else { s };
                }
            }
        }
    }
}

/// The 8 dot products of each of `R` rows of A with 8 rows of B.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn block<const R: usize>(
    a_rows: [*const f32; R],
    b_rows: &[*const f32; BLOCK_COLS],
    k: usize,
) -> [[f32; BLOCK_COLS]; R] {
    let mut acc = [[_mm512_setzero_ps(); BLOCK_COLS]; R];
    for p in (0..k).step_by(16) {
        // The last step of a k that is not a multiple of 16 reads only its lanes.
        let mask = if p + 16 <= k {
            u16::MAX
        } else {
            (1u16 << (k - p)) - 1
        };
        let mut av = [_mm512_setzero_ps(); R];
        for (r, v) in av.iter_mut().enumerate() {
            *v = _mm512_maskz_loadu_ps(mask, a_rows[r].add(p));
        }
        for (o, b_row) in b_rows.iter().enumerate() {
            let bv = _mm512_maskz_loadu_ps(mask, b_row.add(p));
            for r in 0..R {
                acc[r][o] = _mm512_fmadd_ps(av[r], bv, acc[r][o]);
            }
        }
    }
    let mut sums = [[0f32; BLOCK_COLS]; R];
    for r in 0..R {
        for o in 0..BLOCK_COLS {
            sums[r][o] = _mm512_reduce_add_ps(acc[r][o]);
        }
    }
    sums
}
