//! The AVX-512 kernel of `gemm_dots`: blocks of 2 rows of A × 8 rows of B, 16 lanes of k
//! per step, the last step masked; 16 accumulators reduced across lanes at the end, all
//! at once.

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
                [one, [_mm512_setzero_ps(); BLOCK_COLS]]
            };
            // Lane 8·r + o holds row r, column o.
            let mut lanes = [0f32; BLOCK_ROWS * BLOCK_COLS];
            _mm512_storeu_ps(lanes.as_mut_ptr(), reduce_16(sums));
            for (r, row) in lanes.chunks_exact(BLOCK_COLS).enumerate().take(m - i0) {
                let out = &mut c[(i0 + r) * ldc + j0..(i0 + r) * ldc + j0 + cols];
                for (o, &s) in out.iter_mut().zip(row) {
                    *o = if accumulate { *o + s } else { s };
                }
            }
        }
    }
}

/// The lane sums of 16 vectors as one vector: lane j is the sum of `v[j / 8][j % 8]`'s
/// lanes. A tree of 15 shuffle-and-add steps (45 instructions) where 16 separate
/// reductions take about 9 each.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn reduce_16(v: [[__m512; BLOCK_COLS]; BLOCK_ROWS]) -> __m512 {
    let v: [__m512; 16] = std::array::from_fn(|j| v[j / 8][j % 8]);
    // Pairs: in each 128-bit quarter, [a0+a2, b0+b2, a1+a3, b1+b3].
    let pairs: [__m512; 8] = std::array::from_fn(|p| {
        let (a, b) = (v[2 * p], v[2 * p + 1]);
        _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b))
    });
    // Quads: in each quarter, one partial sum of each of four vectors, in order.
    let quads: [__m512; 4] = std::array::from_fn(|q| {
        let (a, b) = (pairs[2 * q], pairs[2 * q + 1]);
        let lo = _mm512_shuffle_ps::<0b01_00_01_00>(a, b);
        let hi = _mm512_shuffle_ps::<0b11_10_11_10>(a, b);
        _mm512_add_ps(lo, hi)
    });
    // Fold the quarters: [a.q0 + a.q1, a.q2 + a.q3, b.q0 + b.q1, b.q2 + b.q3].
    let fold = |a: __m512, b: __m512| {
        let even = _mm512_shuffle_f32x4::<0b10_00_10_00>(a, b);
        let odd = _mm512_shuffle_f32x4::<0b11_01_11_01>(a, b);
        _mm512_add_ps(even, odd)
    };
    let halves = [fold(quads[0], quads[1]), fold(quads[2], quads[3])];
    fold(halves[0], halves[1])
}

/// The 8 dot products of each of `R` rows of A with 8 rows of B, not yet summed across
/// lanes.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn block<const R: usize>(
    a_rows: [*const f32; R],
    b_rows: &[*const f32; BLOCK_COLS],
    k: usize,
) -> [[__m512; BLOCK_COLS]; R] {
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
    acc
}
