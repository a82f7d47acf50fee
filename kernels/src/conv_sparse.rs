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

use crate::dispatch::avx2_dispatch;
use crate::im2col::ConvGeometry;
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
    sparse_dispatch(x, g, weight, pixels, grads, dweight, dx);
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
    assert!(
        pixels.iter().all(|&p| (p as usize) < plane),
        "conv2d_sparse: pixel outside the output plane"
    );
    c_out
}

avx2_dispatch!(fn sparse_dispatch(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    pixels: &[u32],
    grads: &[T],
    dweight: Option<&mut [T]>,
    dx: Option<&mut [T]>,
) => sparse_body);

#[inline(always)]
fn sparse_body<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    pixels: &[u32],
    grads: &[T],
    mut dweight: Option<&mut [T]>,
    mut dx: Option<&mut [T]>,
) {
    let (kh, kw, ow) = (g.kernel_h, g.kernel_w, g.out_w());
    let (plane, tap_len) = (g.height * g.width, kh * kw);
    let c_out = weight.len() / g.patch_len();
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
    }
}
