//! AVX2 + FMA inner loops of the direct convolution for f32 with unit horizontal stride
//! (the training case). LLVM does not vectorise the generic register-blocked loops in
//! `conv_direct` well (it keeps the accumulators on the stack), so these spell the same
//! loops out with 256-bit intrinsics: a block of 4 output rows × 16 columns lives in 8
//! registers. The generic loops stay as the fallback and as the reference they are
//! tested against.

use std::arch::x86_64::*;

/// Output rows and columns per register block.
pub(crate) const ROWS: usize = 4;
pub(crate) const TILE: usize = 16;

/// Valid correlation of padded planes `xp` (c_in planes of `rows` × `stride`) with `w`
/// (c_out × c_in × kh × kw), vertical stride `sh`, horizontal stride 1, into `y`
/// (c_out × oh × ow). The layout must leave room for whole blocks:
/// `rows ≥ (⌈oh/4⌉·4 − 1)·sh + kh` and `stride ≥ ⌈ow/16⌉·16 − 1 + kw`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn correlate(
    xp: &[f32],
    (rows, stride): (usize, usize),
    c_in: usize,
    w: &[f32],
    (kh, kw): (usize, usize),
    sh: usize,
    bias: Option<&[f32]>,
    y: &mut [f32],
    (oh, ow): (usize, usize),
) {
    let plane = rows * stride;
    let taps = c_in * kh * kw;
    assert!(rows >= (oh.div_ceil(ROWS) * ROWS - 1) * sh + kh);
    assert!(stride >= ow.div_ceil(TILE) * TILE - 1 + kw);
    assert!(xp.len() >= c_in * plane && w.len() * oh * ow == taps * y.len());
    for (o, y_o) in y.chunks_exact_mut(oh * ow).enumerate() {
        let w_o = &w[o * taps..][..taps];
        let b = _mm256_set1_ps(bias.map_or(0.0, |b| b[o]));
        for i0 in (0..oh).step_by(ROWS) {
            for j0 in (0..ow).step_by(TILE) {
                let mut acc = [[b; 2]; ROWS];
                for c in 0..c_in {
                    for ki in 0..kh {
                        let w_row = &w_o[(c * kh + ki) * kw..][..kw];
                        // SAFETY: the asserts above keep every block read inside `xp`.
                        let base = xp.as_ptr().add(c * plane + (i0 * sh + ki) * stride + j0);
                        for (kj, &wv) in w_row.iter().enumerate() {
                            let wv = _mm256_set1_ps(wv);
                            for (r, acc_r) in acc.iter_mut().enumerate() {
                                let p = base.add(r * sh * stride + kj);
                                acc_r[0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p), acc_r[0]);
                                acc_r[1] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p.add(8)), acc_r[1]);
                            }
                        }
                    }
                }
                let n = TILE.min(ow - j0);
                let mut out = [0.0f32; TILE];
                for (r, acc_r) in acc.iter().enumerate().take(oh - i0) {
                    _mm256_storeu_ps(out.as_mut_ptr(), acc_r[0]);
                    _mm256_storeu_ps(out.as_mut_ptr().add(8), acc_r[1]);
                    y_o[(i0 + r) * ow + j0..][..n].copy_from_slice(&out[..n]);
                }
            }
        }
    }
}

/// `dw[o, c, ki, kj] += Σ dyp[o, i, j] · xp[c, i·sh + ki, j + kj]` with `dyp` zero-padded
/// to (c_out × hq × wq), hq a multiple of 4 and wq of 16; `xp` as in [`correlate`] with
/// `stride ≥ wq − 1 + ⌈kw/4⌉·4`.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn weight_grad(
    xp: &[f32],
    (rows, stride): (usize, usize),
    c_in: usize,
    dyp: &[f32],
    (hq, wq): (usize, usize),
    (kh, kw): (usize, usize),
    sh: usize,
    dw: &mut [f32],
) {
    let plane = rows * stride;
    let taps = c_in * kh * kw;
    assert!(hq % ROWS == 0 && wq % TILE == 0);
    assert!(rows >= (hq - 1) * sh + kh && stride >= wq - 1 + kw.div_ceil(4) * 4);
    assert!(xp.len() >= c_in * plane && dyp.len() * taps == dw.len() * hq * wq);
    for (o, dw_o) in dw.chunks_exact_mut(taps).enumerate() {
        let dy_o = &dyp[o * hq * wq..][..hq * wq];
        for c in 0..c_in {
            for ki in 0..kh {
                // Four taps kj0..kj0+3 at once share each dy load (taps past kw read
                // the layout's slack columns and are dropped).
                for kj0 in (0..kw).step_by(4) {
                    let mut acc = [[_mm256_setzero_ps(); 2]; 4];
                    for i in 0..hq {
                        // SAFETY: the asserts above keep every read inside dyp / xp.
                        let d = dy_o.as_ptr().add(i * wq);
                        let x = xp.as_ptr().add(c * plane + (i * sh + ki) * stride + kj0);
                        for j in (0..wq).step_by(TILE) {
                            let d0 = _mm256_loadu_ps(d.add(j));
                            let d1 = _mm256_loadu_ps(d.add(j + 8));
                            for (t, acc_t) in acc.iter_mut().enumerate() {
                                let p = x.add(j + t);
                                acc_t[0] = _mm256_fmadd_ps(d0, _mm256_loadu_ps(p), acc_t[0]);
                                acc_t[1] = _mm256_fmadd_ps(d1, _mm256_loadu_ps(p.add(8)), acc_t[1]);
                            }
                        }
                    }
                    for (t, acc_t) in acc.iter().enumerate().take(kw - kj0) {
                        let mut lanes = [0.0f32; 8];
                        _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(acc_t[0], acc_t[1]));
                        dw_o[(c * kh + ki) * kw + kj0 + t] += lanes.iter().sum::<f32>();
                    }
                }
            }
        }
    }
}
