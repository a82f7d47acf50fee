//! Convolution backward when only a few output pixels carry a gradient.
//!
//! After a max pool, `dy` of the convolution is zero except at each window's winner
//! (one pixel in 4 for a 2×2 pool, one in 16 for 4×4). Each nonzero `dy[o, i, j] = d`
//! adds its patch to the kernel gradient and the kernel to the input gradient:
//!
//! ```text
//! dw[o, c, ki, kj] += d · x[c, i·sh + ki − pt, j·sw + kj − pl]
//! dx[c, i·sh + ki − pt, j·sw + kj − pl] += d · w[o, c, ki, kj]
//! ```
//!
//! for the taps that land inside the unpadded input (padding contributes nothing). The
//! work is proportional to the number of winners, not to the output size. Each kernel
//! row is one contiguous run in `x`, `dx`, `w` and `dw`, so the inner loops vectorise.
//!
//! When the input needs no gradient (a network's first layer), [`conv2d_sparse_weight_grad`]
//! computes `dw` alone; for f32 on AVX2 with kernels up to 8×8 it reads each patch from a
//! zero-padded copy of the input, one vector per kernel row (see `conv_sparse_avx2`).

#[cfg(target_arch = "x86_64")]
use crate::conv_sparse_avx2 as avx2;
use crate::dispatch::{as_f32, as_f32_mut, avx2_dispatch, has_avx2};
use crate::im2col::ConvGeometry;
use crate::padded::{Layout, PaddedPlanes};
use crate::Float;

/// The gradient of one sample's convolution from sparse `dy`: for output channel `o`,
/// the pixels `pixels[o·per_channel..][..per_channel]` (indices into the OH×OW plane)
/// carry `dy` values `grads[...]` at the same positions. Adds into `dweight`
/// (O×C×kh×kw) and `dx` (C×H×W) when given. A pixel may appear more than once; its
/// contributions add up.
pub fn conv2d_sparse_backward<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    pixels: &[u32],
    grads: &[T],
    dweight: Option<&mut [T]>,
    dx: Option<&mut [T]>,
) {
    check(x, g, weight, pixels, grads);
    if let Some(dw) = &dweight {
        assert_eq!(dw.len(), weight.len(), "conv2d_sparse: dweight length");
    }
    if let Some(dx) = &dx {
        assert_eq!(dx.len(), x.len(), "conv2d_sparse: dx length");
    }
    let c_out = weight.len() / g.patch_len();
    sparse_dispatch(x, g, c_out, weight, pixels, grads, dweight, dx);
}

/// Reusable buffers for [`conv2d_sparse_weight_grad`].
#[derive(Default)]
pub struct SparseScratch {
    padded: PaddedPlanes<f32>,
    offsets: Vec<u32>,
}

/// The kernel gradient alone of [`conv2d_sparse_backward`], for an input that needs no
/// gradient: `dweight` (O×C×kh×kw) += the patches under `pixels` times `grads`.
pub fn conv2d_sparse_weight_grad<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    pixels: &[u32],
    grads: &[T],
    dweight: &mut [T],
    scratch: &mut SparseScratch,
) {
    check(x, g, dweight, pixels, grads);
    let c_out = dweight.len() / g.patch_len();
    #[cfg(target_arch = "x86_64")]
    if let (Some(x), Some(grads), Some(dw)) = (as_f32(x), as_f32(grads), as_f32_mut(dweight)) {
        if g.kernel_h <= 8 && g.kernel_w <= 8 && has_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { weight_grad_f32(x, g, c_out, pixels, grads, dw, scratch) };
            return;
        }
    }
    sparse_dispatch(x, g, c_out, &[], pixels, grads, Some(dweight), None);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_grad_f32(
    x: &[f32],
    g: &ConvGeometry,
    c_out: usize,
    pixels: &[u32],
    grads: &[f32],
    dweight: &mut [f32],
    scratch: &mut SparseScratch,
) {
    let (ow, kh, kw) = (g.out_w(), g.kernel_h, g.kernel_w);
    let layout = Layout {
        planes: g.channels,
        h: g.height,
        w: g.width,
        rows: g.padded_h(),
        // Room for an 8-wide load at every patch's left edge, rounded to a cache line.
        stride: g.padded_w().max((ow - 1) * g.stride_w + 8).div_ceil(16) * 16,
        top: g.pad_top,
        left: g.pad_left,
    };
    assert!(layout.planes * layout.plane() <= i32::MAX as usize);
    let xp = scratch.padded.fill(x, layout);
    // Where each patch starts in its padded plane: i·sh·stride + j·sw with i = ⌊p / ow⌋,
    // j = p − i·ow, computed in f64 (exact on these integers) so that it vectorises. The
    // true (p + ½)/ow lies at least ½/ow from an integer, and the product's relative error
    // (2⁻⁵²) times p + ½ < 2³² is far below ½, so truncation gives i exactly.
    let inv_ow = 1.0 / ow as f64;
    let col_step = g.stride_w as f64;
    let row_step = (g.stride_h * layout.stride) as f64 - (ow * g.stride_w) as f64;
    scratch.offsets.clear();
    scratch.offsets.extend(pixels.iter().map(|&p| {
        let p = p as i32 as f64; // p < OH·OW ≤ plane < 2³¹ (checked)
        let i = ((p + 0.5) * inv_ow).trunc();
        // SAFETY: an integer offset inside the padded planes: finite, in 0..2³¹.
        unsafe { (p * col_step + i * row_step).to_int_unchecked::<i32>() as u32 }
    }));
    let per_channel = pixels.len() / c_out.max(1);
    let taps = g.patch_len();
    let dims = (layout.plane(), layout.stride);
    for o in 0..c_out {
        let at = &scratch.offsets[o * per_channel..][..per_channel];
        let d = &grads[o * per_channel..][..per_channel];
        let dw = &mut dweight[o * taps..][..taps];
        macro_rules! run {
            ($($kh:literal, $u:literal);*) => {
                match kh {
                    $($kh => avx2::weight_grad::<$kh, $u>(xp, dims, g.channels, kw, at, d, dw),)*
                    _ => unreachable!("kernel height {kh}"),
                }
            };
        }
        run!(1, 2; 2, 2; 3, 2; 4, 2; 5, 1; 6, 1; 7, 1; 8, 1);
    }
}

fn check<T: Float>(x: &[T], g: &ConvGeometry, weight: &[T], pixels: &[u32], grads: &[T]) -> usize {
    g.assert_valid();
    assert_eq!(x.len(), g.input_len(), "conv2d_sparse: input length");
    let tap_len = g.patch_len();
    assert_eq!(weight.len() % tap_len, 0, "conv2d_sparse: weight length");
    let c_out = weight.len() / tap_len;
    assert_eq!(
        pixels.len(),
        grads.len(),
        "conv2d_sparse: pixels and grads differ"
    );
    assert_eq!(
        pixels.len() % c_out.max(1),
        0,
        "conv2d_sparse: entries per channel"
    );
    let plane = g.out_pixels();
    // A max, not `all`: it vectorises.
    let last = pixels.iter().fold(0, |m, &p| m.max(p));
    assert!(
        pixels.is_empty() || (last as usize) < plane,
        "conv2d_sparse: pixel outside the output plane"
    );
    c_out
}

avx2_dispatch!(fn sparse_dispatch(
    x: &[T],
    g: &ConvGeometry,
    c_out: usize,
    weight: &[T],
    pixels: &[u32],
    grads: &[T],
    dweight: Option<&mut [T]>,
    dx: Option<&mut [T]>,
) => sparse_body);

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sparse_body<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    c_out: usize,
    weight: &[T],
    pixels: &[u32],
    grads: &[T],
    mut dweight: Option<&mut [T]>,
    mut dx: Option<&mut [T]>,
) {
    let (kh, kw, ow) = (g.kernel_h, g.kernel_w, g.out_w());
    let (plane, tap_len) = (g.height * g.width, kh * kw);
    let per_channel = pixels.len() / c_out.max(1);
    for o in 0..c_out {
        let entries = &pixels[o * per_channel..][..per_channel];
        let values = &grads[o * per_channel..][..per_channel];
        for (&p, &d) in entries.iter().zip(values) {
            if d == T::ZERO {
                continue;
            }
            let (i, j) = (p as usize / ow, p as usize % ow);
            // Kernel rows and columns whose tap lands inside the input.
            let top = i * g.stride_h;
            let left = j * g.stride_w;
            let ki_lo = g.pad_top.saturating_sub(top);
            let ki_hi = kh.min((g.height + g.pad_top).saturating_sub(top));
            let kj_lo = g.pad_left.saturating_sub(left);
            let kj_hi = kw.min((g.width + g.pad_left).saturating_sub(left));
            if ki_lo >= ki_hi || kj_lo >= kj_hi {
                continue;
            }
            let run = kj_hi - kj_lo;
            let col = left + kj_lo - g.pad_left;
            for c in 0..g.channels {
                let w_base = (o * g.channels + c) * tap_len;
                for ki in ki_lo..ki_hi {
                    let at = c * plane + (top + ki - g.pad_top) * g.width + col;
                    let k_at = w_base + ki * kw + kj_lo;
                    if let Some(dw) = dweight.as_deref_mut() {
                        for (acc, &v) in dw[k_at..][..run].iter_mut().zip(&x[at..][..run]) {
                            *acc += d * v;
                        }
                    }
                    if let Some(dx) = dx.as_deref_mut() {
                        for (acc, &v) in dx[at..][..run].iter_mut().zip(&weight[k_at..][..run]) {
                            *acc += d * v;
                        }
                    }
                }
            }
        }
    }
}

/// Scalar reference: scatter the entries into a dense `dy` and run the dense reference
/// backward.
pub fn conv2d_sparse_backward_reference<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    pixels: &[u32],
    grads: &[T],
    dweight: &mut [T],
    dx: &mut [T],
) {
    let c_out = check(x, g, weight, pixels, grads);
    let plane = g.out_pixels();
    let per_channel = pixels.len() / c_out.max(1);
    let mut dy = vec![T::ZERO; c_out * plane];
    for (k, (&p, &d)) in pixels.iter().zip(grads).enumerate() {
        dy[(k / per_channel.max(1)) * plane + p as usize] += d;
    }
    crate::conv_direct::conv2d_reference_backward(x, g, weight, &dy, dx, dweight);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::im2col::tests::values;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn sparse_backward_matches_the_dense_reference(
            c in 1usize..4, o in 1usize..4, h in 1usize..12, w in 1usize..12,
            kh in 1usize..6, kw in 1usize..6, sh in 1usize..3, sw in 1usize..3,
            pt in 0usize..4, pb in 0usize..4, pl in 0usize..4, pr in 0usize..4,
            per_channel in 1usize..10, seed in 0u64..1000,
        ) {
            let g = ConvGeometry {
                channels: c, height: h, width: w, kernel_h: kh, kernel_w: kw,
                stride_h: sh, stride_w: sw, pad_top: pt, pad_bottom: pb, pad_left: pl, pad_right: pr,
            };
            prop_assume!(g.is_valid());
            let x: Vec<f64> = values(g.input_len(), seed);
            let weight: Vec<f64> = values(o * g.patch_len(), seed + 1);
            let plane = g.out_pixels();
            // Repeats allowed: overlapping pool windows can share a winner.
            let pixels: Vec<u32> = (0..o * per_channel)
                .map(|k| ((k * 7919 + seed as usize) % plane) as u32)
                .collect();
            let grads: Vec<f64> = values(o * per_channel, seed + 2);
            let (mut dw, mut dx) = (vec![0.0; weight.len()], vec![0.0; x.len()]);
            conv2d_sparse_backward(&x, &g, &weight, &pixels, &grads, Some(&mut dw), Some(&mut dx));
            let (mut dw_ref, mut dx_ref) = (vec![0.0; weight.len()], vec![0.0; x.len()]);
            conv2d_sparse_backward_reference(&x, &g, &weight, &pixels, &grads, &mut dw_ref, &mut dx_ref);
            for (a, b) in dw.iter().zip(&dw_ref).chain(dx.iter().zip(&dx_ref)) {
                prop_assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }

        /// The weight gradient alone, in f32 (the AVX2 loop up to 8×8, the generic one
        /// past it) and f64, on small integers so both sums are exact.
        #[test]
        fn sparse_weight_grad_matches_the_dense_reference(
            c in 1usize..4, o in 1usize..6, h in 1usize..14, w in 1usize..14,
            kh in 1usize..10, kw in 1usize..10, sh in 1usize..3, sw in 1usize..3,
            pt in 0usize..5, pb in 0usize..5, pl in 0usize..5, pr in 0usize..5,
            per_channel in 0usize..12, seed in 0u64..1000,
        ) {
            let g = ConvGeometry {
                channels: c, height: h, width: w, kernel_h: kh, kernel_w: kw,
                stride_h: sh, stride_w: sw, pad_top: pt, pad_bottom: pb, pad_left: pl, pad_right: pr,
            };
            prop_assume!(g.is_valid());
            let ints = |n: usize, seed: u64| -> Vec<f64> {
                values(n, seed).iter().map(|v| (v * 3.49).round()).collect()
            };
            let x = ints(g.input_len(), seed);
            let plane = g.out_pixels();
            let pixels: Vec<u32> = (0..o * per_channel)
                .map(|k| ((k * 7919 + seed as usize) % plane) as u32)
                .collect();
            let grads = ints(o * per_channel, seed + 2);
            let start = ints(o * g.patch_len(), seed + 3);
            let (mut dw_ref, mut dx_ref) = (start.clone(), vec![0.0; x.len()]);
            let weight = vec![0.0; start.len()];
            conv2d_sparse_backward_reference(&x, &g, &weight, &pixels, &grads, &mut dw_ref, &mut dx_ref);
            let mut dw = start.clone();
            conv2d_sparse_weight_grad(&x, &g, &pixels, &grads, &mut dw, &mut SparseScratch::default());
            prop_assert_eq!(&dw, &dw_ref);
            let f32s = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
            let mut dw32 = f32s(&start);
            conv2d_sparse_weight_grad(&f32s(&x), &g, &pixels, &f32s(&grads), &mut dw32,
                                      &mut SparseScratch::default());
            prop_assert_eq!(dw32, f32s(&dw_ref));
        }
    }
}
