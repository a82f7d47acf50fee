//! AVX2 + FMA loop of the fused convolution + max pool (f32, horizontal stride 1,
//! non-overlapping windows `PH` rows × `pool_w` ∈ {1, 2, 4, 8} columns).
//!
//! One register block is `CB` output channels × `PH` convolution rows (one band of pool
//! windows) × 8 columns: `CB·PH` accumulators. The kernel taps of all input channels run
//! as one flat loop over a table of their offsets in the padded input, with the weights
//! packed tap by tap: per tap the `CB` weights are broadcast once and each of the `PH`
//! input vectors loaded once, so a tap costs `CB + PH` loads for `CB·PH` FMAs (3 + 4
//! loads for 12 FMAs on the 8×8 branch, 4 + 2 for 8 on the 4×4 one). The finished block
//! is pooled where it is: max down the rows, then across each group of `pool_w` lanes,
//! keeping the index of the first maximum in raster order. Only the pooled values and
//! their indices are stored.

use std::arch::x86_64::*;

/// Everything but the data: padded input rows of `stride` values, vertical stride `sh`,
/// convolution output width `ow` (for the argmax indices), `ph`×`pw` pooled outputs over
/// `pool_w`-wide windows.
pub(crate) struct Shape {
    pub stride: usize,
    pub sh: usize,
    pub ow: usize,
    pub ph: usize,
    pub pw: usize,
    pub pool_w: usize,
}

/// Pool `CB` channels of the convolution of `xp` with `w` plus `bias`. Tap `t` reads the
/// input at `taps[t]` from each output pixel's corner (`c·plane + ki·stride + kj`), with
/// weights `w[t·CB..][..CB]`; `y` and `argmax` are CB × ph × pw (argmax indexes the
/// convolution plane, ow wide). The caller lays `xp` out so that no block's row runs
/// into the next row.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn conv_max_pool<const CB: usize, const PH: usize>(
    xp: &[f32],
    s: &Shape,
    taps: &[u32],
    w: &[f32],
    bias: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    let cols = s.pw * s.pool_w;
    assert!(matches!(s.pool_w, 1 | 2 | 4 | 8) && s.ow >= cols);
    assert!(w.len() == CB * taps.len() && bias.len() == CB);
    assert!(y.len() == CB * s.ph * s.pw && argmax.len() == y.len());
    if s.ph == 0 || s.pw == 0 {
        return;
    }
    // The last block starts at row (ph·PH − 1)·sh and column ⌈cols/8⌉·8 − 8 and reads 8.
    let reach = taps.iter().fold(0, |m, &t| m.max(t)) as usize;
    assert!(reach + (s.ph * PH - 1) * s.sh * s.stride + cols.div_ceil(8) * 8 <= xp.len());
    assert!(s.ph * PH * s.ow <= i32::MAX as usize);
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let per_vector = 8 / s.pool_w;
    let row = s.sh * s.stride;
    for pr in 0..s.ph {
        let i0 = pr * PH;
        for j in (0..cols).step_by(8) {
            let mut acc = [[_mm256_setzero_ps(); PH]; CB];
            for (acc_o, &b) in acc.iter_mut().zip(bias) {
                *acc_o = [_mm256_set1_ps(b); PH];
            }
            // SAFETY (all reads): the asserts above bound every tap of every row of the
            // block inside `xp`, and every weight inside `w`.
            let corner = xp.as_ptr().add(i0 * row + j);
            for (&at, w_t) in taps.iter().zip(w.chunks_exact(CB)) {
                let x_t = corner.add(at as usize);
                let mut wv = [_mm256_setzero_ps(); CB];
                for (wv_o, w_o) in wv.iter_mut().zip(w_t) {
                    *wv_o = _mm256_broadcast_ss(w_o);
                }
                for r in 0..PH {
                    let xv = _mm256_loadu_ps(x_t.add(r * row));
                    for (acc_o, &wv_o) in acc.iter_mut().zip(&wv) {
                        acc_o[r] = _mm256_fmadd_ps(wv_o, xv, acc_o[r]);
                    }
                }
            }
            let q0 = j / s.pool_w;
            let n = per_vector.min(s.pw - q0);
            let base = _mm256_add_epi32(_mm256_set1_epi32((i0 * s.ow + j) as i32), lane);
            for (o, acc_o) in acc.iter().enumerate() {
                let (m, idx) = pool_block(acc_o, base, s.ow as i32, s.pool_w);
                let at = (o * s.ph + pr) * s.pw + q0;
                // SAFETY: at + n ≤ (o·ph + pr + 1)·pw ≤ y.len() = argmax.len().
                store_first(
                    m,
                    idx,
                    s.pool_w,
                    n,
                    y.as_mut_ptr().add(at),
                    argmax.as_mut_ptr().add(at),
                );
            }
        }
    }
}

/// Max over the rows of a block, then over groups of `pool_w` lanes: every lane of a
/// group ends with the group's maximum and the index (`base` + row·ow) of its first
/// occurrence in raster order.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn pool_block<const PH: usize>(
    rows: &[__m256; PH],
    base: __m256i,
    ow: i32,
    pool_w: usize,
) -> (__m256, __m256i) {
    let mut m = rows[0];
    let mut row_at = _mm256_setzero_si256();
    for (r, &v) in rows.iter().enumerate().skip(1) {
        // Strictly greater: a tie keeps the upper row, which comes first.
        let take = _mm256_cmp_ps::<_CMP_GT_OQ>(v, m);
        m = _mm256_blendv_ps(m, v, take);
        row_at = blend_i32(row_at, _mm256_set1_epi32(r as i32 * ow), take);
    }
    let mut idx = _mm256_add_epi32(base, row_at);
    if pool_w >= 2 {
        let (om, oi) = (
            _mm256_permute_ps::<0b10_11_00_01>(m),
            _mm256_castps_si256(_mm256_permute_ps::<0b10_11_00_01>(_mm256_castsi256_ps(idx))),
        );
        (m, idx) = better(m, idx, om, oi);
    }
    if pool_w >= 4 {
        let (om, oi) = (
            _mm256_permute_ps::<0b01_00_11_10>(m),
            _mm256_castps_si256(_mm256_permute_ps::<0b01_00_11_10>(_mm256_castsi256_ps(idx))),
        );
        (m, idx) = better(m, idx, om, oi);
    }
    if pool_w >= 8 {
        let (om, oi) = (
            _mm256_permute2f128_ps::<1>(m, m),
            _mm256_permute2x128_si256::<1>(idx, idx),
        );
        (m, idx) = better(m, idx, om, oi);
    }
    (m, idx)
}

/// Lane by lane, the larger value; between equal values, the smaller index.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn better(m: __m256, idx: __m256i, om: __m256, oi: __m256i) -> (__m256, __m256i) {
    let greater = _mm256_cmp_ps::<_CMP_GT_OQ>(om, m);
    let earlier_tie = _mm256_and_ps(
        _mm256_cmp_ps::<_CMP_EQ_OQ>(om, m),
        _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, oi)),
    );
    let take = _mm256_or_ps(greater, earlier_tie);
    (_mm256_blendv_ps(m, om, take), blend_i32(idx, oi, take))
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn blend_i32(a: __m256i, b: __m256i, mask: __m256) -> __m256i {
    _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(a),
        _mm256_castsi256_ps(b),
        mask,
    ))
}

/// Store the first `n` groups' results (lanes 0, pool_w, 2·pool_w, …) at `y` / `argmax`.
///
/// # Safety
/// `y` and `argmax` must be valid for `n` writes.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn store_first(
    m: __m256,
    idx: __m256i,
    pool_w: usize,
    n: usize,
    y: *mut f32,
    argmax: *mut u32,
) {
    let step = pool_w as i32;
    let pick = _mm256_and_si256(
        _mm256_mullo_epi32(
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            _mm256_set1_epi32(step),
        ),
        _mm256_set1_epi32(7),
    );
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lanes);
    _mm256_maskstore_ps(y, mask, _mm256_permutevar8x32_ps(m, pick));
    _mm256_maskstore_epi32(argmax.cast(), mask, _mm256_permutevar8x32_epi32(idx, pick));
}
