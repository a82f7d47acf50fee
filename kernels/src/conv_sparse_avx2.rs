//! AVX2 + FMA loop of the sparse weight gradient (f32, kernel rows up to 8 wide).
//!
//! Each entry adds `d` times its input patch to the kernel gradient: with the input
//! zero-padded, the patch is `KH` rows of one 8-wide load each (lanes past `kw` read the
//! padding's slack and are dropped), so an entry costs one broadcast and `KH` FMAs into
//! `KH` accumulator registers, with no edge tests. For short kernels two entries go to
//! two accumulator sets, so consecutive FMAs do not wait on each other's latency.

use std::arch::x86_64::*;

/// `dw[c, ki, kj] += Σ_k grads[k] · xp[c·plane + offsets[k] + ki·stride + kj]` for
/// `kj < kw ≤ 8`; `dw` is c_in × KH × kw (one output channel's kernel gradient).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn weight_grad<const KH: usize, const U: usize>(
    xp: &[f32],
    (plane, stride): (usize, usize),
    c_in: usize,
    kw: usize,
    offsets: &[u32],
    grads: &[f32],
    dw: &mut [f32],
) {
    assert!((1..=8).contains(&kw) && offsets.len() == grads.len());
    assert_eq!(dw.len(), c_in * KH * kw);
    assert!(xp.len() >= c_in * plane);
    // A max, not `Iterator::max`: it vectorises.
    let last = offsets.iter().fold(0, |m, &at| m.max(at));
    assert!(offsets.is_empty() || last as usize + (KH - 1) * stride + 8 <= plane);
    for c in 0..c_in {
        // SAFETY (all reads): every offset's KH rows of 8 lie inside plane c (asserted).
        let x_c = xp.as_ptr().add(c * plane);
        let mut acc = [[_mm256_setzero_ps(); KH]; U];
        let mut entries = offsets.chunks_exact(U).zip(grads.chunks_exact(U));
        for (at, d) in &mut entries {
            for ((acc_u, &at), &d) in acc.iter_mut().zip(at).zip(d) {
                add_patch(acc_u, x_c.add(at as usize), stride, d);
            }
        }
        let rest = offsets.len() / U * U;
        for (&at, &d) in offsets[rest..].iter().zip(&grads[rest..]) {
            add_patch(&mut acc[0], x_c.add(at as usize), stride, d);
        }
        for ki in 0..KH {
            let mut sum = acc[0][ki];
            for acc_u in &acc[1..] {
                sum = _mm256_add_ps(sum, acc_u[ki]);
            }
            let mut lanes = [0.0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
            for (g, &v) in dw[(c * KH + ki) * kw..][..kw].iter_mut().zip(&lanes) {
                *g += v;
            }
        }
    }
}

/// `acc[ki] += d · (8 values at patch + ki·stride)`.
///
/// # Safety
/// The KH rows of 8 must be readable.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn add_patch<const KH: usize>(
    acc: &mut [__m256; KH],
    patch: *const f32,
    stride: usize,
    d: f32,
) {
    let d = _mm256_set1_ps(d);
    // Walk the rows with one pointer: row addresses as base + ki·stride would need a
    // register each for tall kernels.
    let mut row = patch;
    for acc_k in acc.iter_mut() {
        *acc_k = _mm256_fmadd_ps(d, _mm256_loadu_ps(row), *acc_k);
        row = row.wrapping_add(stride);
    }
}
