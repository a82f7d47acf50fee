//! Direct convolution for few input channels (the first layers of the coursework models:
//! 1→3 channels 8×8, 1→4 channels 4×4 on 80×80 spectrograms), where im2col would build a
//! 64-times-larger matrix only to feed a gemm with 3 rows.
//!
//! Forward, for one sample (cross-correlation, as every deep-learning library):
//!
//! ```text
//! y[o, i, j] = b[o] + Σ_c Σ_ki Σ_kj w[o, c, ki, kj] · xp[c, i·sh + ki, j·sw + kj]
//! ```
//!
//! where `xp` is `x` zero-padded. The loop keeps a block of ROWS output rows × TILE output
//! columns in registers and streams the kernel taps over it; the padded copy has slack
//! rows and columns so every block is full-width (no tail loops). Backward:
//!
//! ```text
//! dw[o, c, ki, kj] += Σ_i Σ_j dy[o, i, j] · xp[c, i·sh + ki, j·sw + kj]
//! dxp[c, p, q]      = Σ_o Σ_ki Σ_kj w[o, c, ki, kj] · dyf[o, p + kh−1−ki, q + kw−1−kj]
//! ```
//!
//! with `dyf` = dy dilated by the stride and padded by kernel−1 on each side: the input
//! gradient is the forward correlation of `dyf` with the flipped, channel-transposed
//! kernel, so it runs through the same register-blocked loop.

#[cfg(target_arch = "x86_64")]
use crate::conv_direct_avx2 as avx2;
use crate::dispatch::{as_f32, as_f32_mut, avx2_dispatch, has_avx2};
use crate::im2col::{tap, ConvGeometry};
use crate::Float;

/// Output rows accumulated together (independent add chains for the CPU).
const ROWS: usize = 4;

/// Reusable buffers for the direct kernels, so a batch loop allocates once.
#[derive(Default)]
pub struct DirectScratch<T> {
    input: Vec<T>,
    grad: Vec<T>,
    out: Vec<T>,
    flipped: Vec<T>,
}

/// A zero-padded copy of `planes` C×H×W planes: `rows` × `stride` per plane, with the
/// data at offset (top, left).
struct Padded {
    rows: usize,
    stride: usize,
}

impl Padded {
    /// Room for a ROWS×tile-blocked valid correlation giving `oh`×`ow` outputs with a
    /// kh×kw kernel and stride (sh, sw), and for at least `need_rows`×`need_cols` data.
    #[allow(clippy::too_many_arguments)]
    fn for_blocks(
        need_rows: usize,
        need_cols: usize,
        oh: usize,
        ow: usize,
        kh: usize,
        kw: usize,
        sh: usize,
        sw: usize,
        tile: usize,
    ) -> Self {
        Padded {
            rows: need_rows.max((oh.div_ceil(ROWS) * ROWS - 1) * sh + kh),
            // +3 slack columns: the AVX2 weight gradient computes taps in fours.
            stride: need_cols.max((ow.div_ceil(tile) * tile - 1) * sw + kw + 3),
        }
    }
    fn plane(&self) -> usize {
        self.rows * self.stride
    }
}

/// Copy `src` (planes × h × w) into `dst` laid out as `layout`, zero elsewhere. Source
/// pixel (p, q) lands at row `top + p·dilate_h`, column `left + q·dilate_w`.
#[allow(clippy::too_many_arguments)]
fn pad_into<T: Float>(
    src: &[T],
    planes: usize,
    h: usize,
    w: usize,
    layout: &Padded,
    top: usize,
    left: usize,
    dilate: (usize, usize),
    dst: &mut Vec<T>,
) {
    dst.clear();
    dst.resize(planes * layout.plane(), T::ZERO);
    for (c, plane) in dst.chunks_exact_mut(layout.plane()).enumerate() {
        for p in 0..h {
            let from = &src[(c * h + p) * w..][..w];
            let to = &mut plane[(top + p * dilate.0) * layout.stride + left..];
            if dilate.1 == 1 {
                to[..w].copy_from_slice(from);
            } else {
                for (d, s) in to.iter_mut().step_by(dilate.1).zip(from) {
                    *d = *s;
                }
            }
        }
    }
}

/// Valid cross-correlation of padded planes `xp` (c_in × layout) with `w`
/// (c_out × c_in × kh × kw) into `y` (c_out × oh × ow), register-blocked.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn correlate<T: Float, const TILE: usize, const UNIT_STRIDE: bool>(
    xp: &[T],
    layout: &Padded,
    c_in: usize,
    w: &[T],
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    bias: Option<&[T]>,
    y: &mut [T],
    (oh, ow): (usize, usize),
) {
    let taps = c_in * kh * kw;
    for (o, y_o) in y.chunks_exact_mut(oh * ow).enumerate() {
        let w_o = &w[o * taps..][..taps];
        let b = bias.map_or(T::ZERO, |b| b[o]);
        for i0 in (0..oh).step_by(ROWS) {
            for j0 in (0..ow).step_by(TILE) {
                let mut acc = [[b; TILE]; ROWS];
                for c in 0..c_in {
                    let plane = &xp[c * layout.plane()..][..layout.plane()];
                    for ki in 0..kh {
                        let w_row = &w_o[(c * kh + ki) * kw..][..kw];
                        let line = |r: usize| ((i0 + r) * sh + ki) * layout.stride + j0 * sw;
                        for (kj, &wv) in w_row.iter().enumerate() {
                            for (r, acc_r) in acc.iter_mut().enumerate() {
                                let start = line(r) + kj;
                                if UNIT_STRIDE {
                                    let src: &[T; TILE] =
                                        plane[start..start + TILE].try_into().unwrap();
                                    for t in 0..TILE {
                                        acc_r[t] += wv * src[t];
                                    }
                                } else {
                                    let src = &plane[start..start + (TILE - 1) * sw + 1];
                                    for t in 0..TILE {
                                        acc_r[t] += wv * src[t * sw];
                                    }
                                }
                            }
                        }
                    }
                }
                let n = TILE.min(ow - j0);
                for (r, acc_r) in acc.iter().enumerate().take(oh - i0) {
                    y_o[(i0 + r) * ow + j0..][..n].copy_from_slice(&acc_r[..n]);
                }
            }
        }
    }
}

/// `dw[o, c, ki, kj] += Σ dyp[o, i, j] · xp[c, i·sh + ki, j·sw + kj]` over the zero-padded
/// `dyp` (c_out × hq × wq, hq a multiple of ROWS, wq of TILE).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn weight_grad<T: Float, const TILE: usize, const UNIT_STRIDE: bool>(
    xp: &[T],
    layout: &Padded,
    c_in: usize,
    dyp: &[T],
    (hq, wq): (usize, usize),
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    dw: &mut [T],
) {
    let taps = c_in * kh * kw;
    for (o, dw_o) in dw.chunks_exact_mut(taps).enumerate() {
        let dy_o = &dyp[o * hq * wq..][..hq * wq];
        for (tap_index, dw_tap) in dw_o.iter_mut().enumerate() {
            let (c, ki, kj) = (tap_index / (kh * kw), tap_index / kw % kh, tap_index % kw);
            let plane = &xp[c * layout.plane()..][..layout.plane()];
            let mut acc = [[T::ZERO; TILE]; ROWS];
            for i0 in (0..hq).step_by(ROWS) {
                for j0 in (0..wq).step_by(TILE) {
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        let d: &[T; TILE] = dy_o[(i0 + r) * wq + j0..][..TILE].try_into().unwrap();
                        let start = ((i0 + r) * sh + ki) * layout.stride + j0 * sw + kj;
                        if UNIT_STRIDE {
                            let src: &[T; TILE] = plane[start..start + TILE].try_into().unwrap();
                            for t in 0..TILE {
                                acc_r[t] += d[t] * src[t];
                            }
                        } else {
                            let src = &plane[start..start + (TILE - 1) * sw + 1];
                            for t in 0..TILE {
                                acc_r[t] += d[t] * src[t * sw];
                            }
                        }
                    }
                }
            }
            let mut total = T::ZERO;
            for acc_r in &acc {
                for &v in acc_r {
                    total += v;
                }
            }
            *dw_tap += total;
        }
    }
}

/// Register tile width: 16 f32 (two AVX registers) or 8 f64.
fn tile_of<T>() -> usize {
    if std::mem::size_of::<T>() == 4 {
        16
    } else {
        8
    }
}

#[inline(always)]
fn forward_body<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
    scratch: &mut DirectScratch<T>,
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    let layout = Padded::for_blocks(
        g.padded_h(),
        g.padded_w(),
        oh,
        ow,
        g.kernel_h,
        g.kernel_w,
        g.stride_h,
        g.stride_w,
        tile_of::<T>(),
    );
    let (h, w, c) = (g.height, g.width, g.channels);
    pad_into(
        x,
        c,
        h,
        w,
        &layout,
        g.pad_top,
        g.pad_left,
        (1, 1),
        &mut scratch.input,
    );
    let (k, s, o) = ((g.kernel_h, g.kernel_w), (g.stride_h, g.stride_w), (oh, ow));
    let xp = &scratch.input;
    #[cfg(target_arch = "x86_64")]
    if let (Some(xp), Some(w), Some(y)) = (as_f32(xp), as_f32(weight), as_f32_mut(y)) {
        if g.stride_w == 1 && has_avx2() {
            let bias = bias.and_then(as_f32);
            let dims = (layout.rows, layout.stride);
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { avx2::correlate(xp, dims, c, w, k, g.stride_h, bias, y, o) };
            return;
        }
    }
    match (tile_of::<T>(), g.stride_w == 1) {
        (16, true) => correlate::<T, 16, true>(xp, &layout, c, weight, k, s, bias, y, o),
        (16, false) => correlate::<T, 16, false>(xp, &layout, c, weight, k, s, bias, y, o),
        (_, true) => correlate::<T, 8, true>(xp, &layout, c, weight, k, s, bias, y, o),
        (_, false) => correlate::<T, 8, false>(xp, &layout, c, weight, k, s, bias, y, o),
    }
}

#[inline(always)]
fn backward_body<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    dy: &[T],
    dx: Option<&mut [T]>,
    dweight: Option<&mut [T]>,
    scratch: &mut DirectScratch<T>,
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    let (kh, kw, sh, sw) = (g.kernel_h, g.kernel_w, g.stride_h, g.stride_w);
    let (c_in, c_out) = (g.channels, weight.len() / g.patch_len());
    let tile = tile_of::<T>();
    if let Some(dw) = dweight {
        let layout = Padded::for_blocks(g.padded_h(), g.padded_w(), oh, ow, kh, kw, sh, sw, tile);
        let (h, w) = (g.height, g.width);
        pad_into(
            x,
            c_in,
            h,
            w,
            &layout,
            g.pad_top,
            g.pad_left,
            (1, 1),
            &mut scratch.input,
        );
        let (hq, wq) = (oh.div_ceil(ROWS) * ROWS, ow.div_ceil(tile) * tile);
        let dy_layout = Padded {
            rows: hq,
            stride: wq,
        };
        pad_into(
            dy,
            c_out,
            oh,
            ow,
            &dy_layout,
            0,
            0,
            (1, 1),
            &mut scratch.grad,
        );
        let (xp, dyp) = (&scratch.input, &scratch.grad);
        let (q, k, s) = ((hq, wq), (kh, kw), (sh, sw));
        let mut done = false;
        #[cfg(target_arch = "x86_64")]
        if let (Some(xp), Some(dyp), Some(dw)) = (as_f32(xp), as_f32(dyp), as_f32_mut(dw)) {
            if sw == 1 && has_avx2() {
                let dims = (layout.rows, layout.stride);
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                unsafe { avx2::weight_grad(xp, dims, c_in, dyp, q, k, sh, dw) };
                done = true;
            }
        }
        match (tile, sw == 1) {
            _ if done => {}
            (16, true) => weight_grad::<T, 16, true>(xp, &layout, c_in, dyp, q, k, s, dw),
            (16, false) => weight_grad::<T, 16, false>(xp, &layout, c_in, dyp, q, k, s, dw),
            (_, true) => weight_grad::<T, 8, true>(xp, &layout, c_in, dyp, q, k, s, dw),
            (_, false) => weight_grad::<T, 8, false>(xp, &layout, c_in, dyp, q, k, s, dw),
        }
    }
    if let Some(dx) = dx {
        // dxp (c_in × Hp × Wp) = valid correlation of dyf with the flipped kernel.
        let (hp, wp) = (g.padded_h(), g.padded_w());
        let layout = Padded::for_blocks(hp + kh - 1, wp + kw - 1, hp, wp, kh, kw, 1, 1, tile);
        pad_into(
            dy,
            c_out,
            oh,
            ow,
            &layout,
            kh - 1,
            kw - 1,
            (sh, sw),
            &mut scratch.grad,
        );
        scratch.flipped.clear();
        for c in 0..c_in {
            for o in 0..c_out {
                for ki in (0..kh).rev() {
                    for kj in (0..kw).rev() {
                        scratch
                            .flipped
                            .push(weight[((o * c_in + c) * kh + ki) * kw + kj]);
                    }
                }
            }
        }
        scratch.out.clear();
        scratch.out.resize(c_in * hp * wp, T::ZERO);
        let (dyf, wf, dxp) = (&scratch.grad, &scratch.flipped, &mut scratch.out);
        let (k, o) = ((kh, kw), (hp, wp));
        let mut done = false;
        #[cfg(target_arch = "x86_64")]
        if let (Some(dyf), Some(wf), Some(dxp)) = (as_f32(dyf), as_f32(wf), as_f32_mut(dxp)) {
            if has_avx2() {
                let dims = (layout.rows, layout.stride);
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                unsafe { avx2::correlate(dyf, dims, c_out, wf, k, 1, None, dxp, o) };
                done = true;
            }
        }
        if done {
        } else if tile == 16 {
            correlate::<T, 16, true>(dyf, &layout, c_out, wf, k, (1, 1), None, dxp, o);
        } else {
            correlate::<T, 8, true>(dyf, &layout, c_out, wf, k, (1, 1), None, dxp, o);
        }
        let (h, w) = (g.height, g.width);
        for c in 0..c_in {
            for p in 0..h {
                let from = &dxp[(c * hp + p + g.pad_top) * wp + g.pad_left..][..w];
                for (d, s) in dx[(c * h + p) * w..][..w].iter_mut().zip(from) {
                    *d += *s;
                }
            }
        }
    }
}

avx2_dispatch!(fn forward_dispatch(
    x: &[T], g: &ConvGeometry, weight: &[T], bias: Option<&[T]>, y: &mut [T],
    scratch: &mut DirectScratch<T>) => forward_body);
avx2_dispatch!(fn backward_dispatch(
    x: &[T], g: &ConvGeometry, weight: &[T], dy: &[T], dx: Option<&mut [T]>,
    dweight: Option<&mut [T]>, scratch: &mut DirectScratch<T>) => backward_body);

fn check_lengths<T>(g: &ConvGeometry, x: &[T], weight: &[T], y_len: usize) -> usize {
    assert!(g.is_valid(), "invalid convolution geometry {g:?}");
    assert_eq!(x.len(), g.input_len(), "conv2d_direct: input length");
    assert_eq!(
        weight.len() % g.patch_len(),
        0,
        "conv2d_direct: weight length"
    );
    let c_out = weight.len() / g.patch_len();
    assert_eq!(
        y_len,
        c_out * g.out_pixels(),
        "conv2d_direct: output length"
    );
    c_out
}

/// `y = conv(x, weight) + bias` for one sample: x is C×H×W, weight O×C×kh×kw, y O×OH×OW
/// (overwritten).
pub fn conv2d_direct_forward<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
    scratch: &mut DirectScratch<T>,
) {
    let c_out = check_lengths(g, x, weight, y.len());
    if let Some(b) = bias {
        assert_eq!(b.len(), c_out, "conv2d_direct: bias length");
    }
    forward_dispatch(x, g, weight, bias, y, scratch);
}

/// Backward of [`conv2d_direct_forward`] for one sample: `dx += ∂L/∂x` and
/// `dweight += ∂L/∂w` given `dy = ∂L/∂y` (either may be skipped with `None`).
pub fn conv2d_direct_backward<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    dy: &[T],
    dx: Option<&mut [T]>,
    dweight: Option<&mut [T]>,
    scratch: &mut DirectScratch<T>,
) {
    check_lengths(g, x, weight, dy.len());
    if let Some(dx) = &dx {
        assert_eq!(dx.len(), x.len(), "conv2d_direct: dx length");
    }
    if let Some(dw) = &dweight {
        assert_eq!(dw.len(), weight.len(), "conv2d_direct: dweight length");
    }
    backward_dispatch(x, g, weight, dy, dx, dweight, scratch);
}

/// Scalar reference forward, straight from the definition.
pub fn conv2d_reference_forward<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    bias: Option<&[T]>,
    y: &mut [T],
) {
    let c_out = check_lengths(g, x, weight, y.len());
    let (oh, ow) = (g.out_h(), g.out_w());
    for o in 0..c_out {
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = bias.map_or(T::ZERO, |b| b[o]);
                for c in 0..g.channels {
                    for ki in 0..g.kernel_h {
                        for kj in 0..g.kernel_w {
                            if let Some(p) = tap(g, c, ki, kj, i, j) {
                                let wi = ((o * g.channels + c) * g.kernel_h + ki) * g.kernel_w + kj;
                                acc += weight[wi] * x[p];
                            }
                        }
                    }
                }
                y[(o * oh + i) * ow + j] = acc;
            }
        }
    }
}

/// Scalar reference backward: `dx += Σ w·dy` and `dweight += Σ dy·x` tap by tap.
pub fn conv2d_reference_backward<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    dy: &[T],
    dx: &mut [T],
    dweight: &mut [T],
) {
    let c_out = check_lengths(g, x, weight, dy.len());
    let (oh, ow) = (g.out_h(), g.out_w());
    for o in 0..c_out {
        for i in 0..oh {
            for j in 0..ow {
                let d = dy[(o * oh + i) * ow + j];
                for c in 0..g.channels {
                    for ki in 0..g.kernel_h {
                        for kj in 0..g.kernel_w {
                            if let Some(p) = tap(g, c, ki, kj, i, j) {
                                let wi = ((o * g.channels + c) * g.kernel_h + ki) * g.kernel_w + kj;
                                dx[p] += weight[wi] * d;
                                dweight[wi] += x[p] * d;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im2col::tests::{geometry, values};
    use proptest::prelude::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() < 1e-10 * (1.0 + y.abs()))
    }

    proptest! {
        #[test]
        fn direct_matches_reference(g in geometry(), c_out in 1usize..4, bias in any::<bool>(),
                                    seed in 0u64..100) {
            let x = values(g.input_len(), seed);
            let w = values(c_out * g.patch_len(), seed + 1);
            let b = values(c_out, seed + 2);
            let b = bias.then_some(b.as_slice());
            let n_out = c_out * g.out_pixels();
            let mut scratch = DirectScratch::default();
            let (mut fast, mut slow) = (vec![3.0; n_out], vec![0.0; n_out]);
            conv2d_direct_forward(&x, &g, &w, b, &mut fast, &mut scratch);
            conv2d_reference_forward(&x, &g, &w, b, &mut slow);
            prop_assert!(close(&fast, &slow), "forward {:?} vs {:?}", fast, slow);

            let dy = values(n_out, seed + 3);
            let (mut dx_fast, mut dw_fast) = (values(x.len(), 9), values(w.len(), 8));
            let (mut dx_slow, mut dw_slow) = (dx_fast.clone(), dw_fast.clone());
            conv2d_direct_backward(&x, &g, &w, &dy, Some(&mut dx_fast), Some(&mut dw_fast),
                                   &mut scratch);
            conv2d_reference_backward(&x, &g, &w, &dy, &mut dx_slow, &mut dw_slow);
            prop_assert!(close(&dx_fast, &dx_slow), "dx {:?} vs {:?}", dx_fast, dx_slow);
            prop_assert!(close(&dw_fast, &dw_slow), "dw {:?} vs {:?}", dw_fast, dw_slow);
        }

        #[test]
        fn direct_f32_matches_reference(g in geometry(), seed in 0u64..100) {
            let x: Vec<f32> = values(g.input_len(), seed).iter().map(|&v| v as f32).collect();
            let w: Vec<f32> = values(2 * g.patch_len(), seed + 1).iter().map(|&v| v as f32).collect();
            let n_out = 2 * g.out_pixels();
            let (mut fast, mut slow) = (vec![0.0f32; n_out], vec![0.0f32; n_out]);
            conv2d_direct_forward(&x, &g, &w, None, &mut fast, &mut DirectScratch::default());
            conv2d_reference_forward(&x, &g, &w, None, &mut slow);
            for (a, b) in fast.iter().zip(&slow) {
                prop_assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()));
            }
            // Backward through the AVX2 loops (unit stride) or the generic ones.
            let dy: Vec<f32> = values(n_out, seed + 2).iter().map(|&v| v as f32).collect();
            let (mut dx1, mut dw1) = (vec![0.0f32; x.len()], vec![0.0f32; w.len()]);
            let (mut dx2, mut dw2) = (dx1.clone(), dw1.clone());
            conv2d_direct_backward(&x, &g, &w, &dy, Some(&mut dx1), Some(&mut dw1),
                                   &mut DirectScratch::default());
            conv2d_reference_backward(&x, &g, &w, &dy, &mut dx2, &mut dw2);
            for (a, b) in dx1.iter().zip(&dx2).chain(dw1.iter().zip(&dw2)) {
                prop_assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{} vs {}", a, b);
            }
        }
    }

    /// Wide inputs (several 16-column blocks and ragged edges) through the f32 fast path.
    #[test]
    fn coursework_shapes_f32() {
        // 1→3 8×8 'same' on 80×80 pads 3 before / 4 after; 1→4 4×4 pads 1 / 2; and an
        // odd width with vertical stride 2.
        for (c, o, h, w, k, (pt, pb), sh) in [
            (1, 3, 80, 80, 8, (3, 4), 1),
            (1, 4, 80, 80, 4, (1, 2), 1),
            (2, 3, 21, 37, 5, (2, 2), 2),
        ] {
            let g = ConvGeometry {
                channels: c,
                height: h,
                width: w,
                kernel_h: k,
                kernel_w: k,
                stride_h: sh,
                stride_w: 1,
                pad_top: pt,
                pad_bottom: pb,
                pad_left: pt,
                pad_right: pb,
            };
            let f32s = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect::<Vec<f32>>();
            let x = f32s(values(g.input_len(), 1));
            let wt = f32s(values(o * g.patch_len(), 2));
            let n_out = o * g.out_pixels();
            let (mut fast, mut slow) = (vec![0.0f32; n_out], vec![0.0f32; n_out]);
            let mut scratch = DirectScratch::default();
            conv2d_direct_forward(&x, &g, &wt, None, &mut fast, &mut scratch);
            conv2d_reference_forward(&x, &g, &wt, None, &mut slow);
            let dy = f32s(values(n_out, 3));
            let (mut dx1, mut dw1) = (vec![0.0f32; x.len()], vec![0.0f32; wt.len()]);
            let (mut dx2, mut dw2) = (dx1.clone(), dw1.clone());
            conv2d_direct_backward(
                &x,
                &g,
                &wt,
                &dy,
                Some(&mut dx1),
                Some(&mut dw1),
                &mut scratch,
            );
            conv2d_reference_backward(&x, &g, &wt, &dy, &mut dx2, &mut dw2);
            let pairs = fast
                .iter()
                .zip(&slow)
                .chain(dx1.iter().zip(&dx2))
                .chain(dw1.iter().zip(&dw2));
            for (a, b) in pairs {
                assert!(
                    (a - b).abs() < 1e-3 * (1.0 + b.abs()),
                    "{a} vs {b} in {g:?}"
                );
            }
        }
    }
}
