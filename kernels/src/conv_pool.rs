//! Convolution followed by max pooling for one sample, without the convolution output in
//! memory:
//!
//! ```text
//! z[o, i, j]      = b[o] + Σ_c Σ_ki Σ_kj w[o, c, ki, kj] · xp[c, i·sh + ki, j·sw + kj]
//! y[o, r, q]      = max of z[o, ·, ·] over the pool window (r, q)
//! argmax[o, r, q] = i·OW + j of the window's first maximum in raster order
//! ```
//!
//! (`xp` is `x` zero-padded), the same numbers and indices as [`conv2d_direct_forward`]
//! followed by [`max_pool2d_forward`]. For f32 on an AVX2 CPU with horizontal stride 1
//! and non-overlapping windows at most 4 rows high and 1, 2, 4 or 8 columns wide, the
//! convolution is computed one pool band at a time in registers and pooled there (see
//! `conv_pool_avx2`); other cases run the two kernels through a per-sample buffer.

use crate::conv_direct::{conv2d_direct_forward, conv2d_reference_forward, DirectScratch};
#[cfg(target_arch = "x86_64")]
use crate::conv_pool_avx2 as avx2;
use crate::dispatch::{as_f32, as_f32_mut, has_avx2};
use crate::im2col::ConvGeometry;
use crate::padded::{Layout, PaddedPlanes};
use crate::pool::{max_pool2d_forward, max_pool2d_forward_reference, PoolGeometry};
use crate::Float;

/// Reusable buffers, so a batch loop allocates once.
#[derive(Default)]
pub struct ConvPoolScratch<T> {
    fast: FastScratch,
    z: Vec<T>,
    direct: DirectScratch<T>,
}

/// The f32 loop's buffers: the padded input, the taps' offsets in it, packed weights.
#[derive(Default)]
struct FastScratch {
    padded: PaddedPlanes<f32>,
    taps: Vec<u32>,
    packed: Vec<f32>,
}

fn check<T>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    bias: Option<&[T]>,
    pool: &PoolGeometry,
    y_len: usize,
    argmax_len: usize,
) -> usize {
    g.assert_valid();
    assert!(pool.is_valid(), "conv_pool: invalid pool {pool:?}");
    assert_eq!(x.len(), g.input_len(), "conv_pool: input length");
    assert_eq!(weight.len() % g.patch_len(), 0, "conv_pool: weight length");
    let c_out = weight.len() / g.patch_len();
    if let Some(b) = bias {
        assert_eq!(b.len(), c_out, "conv_pool: bias length");
    }
    assert_eq!(
        (pool.height, pool.width),
        (g.out_h(), g.out_w()),
        "conv_pool: the pool must cover the convolution output"
    );
    assert_eq!(y_len, c_out * pool.out_len(), "conv_pool: output length");
    assert_eq!(argmax_len, y_len, "conv_pool: argmax length");
    c_out
}

/// `y`, `argmax` (c_out × PH × PW) of the pooled convolution of one sample `x` (C×H×W)
/// with `weight` (O×C×kh×kw) and `bias`; `pool` is over the OH×OW convolution output.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_max_pool_forward<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    bias: Option<&[T]>,
    pool: &PoolGeometry,
    y: &mut [T],
    argmax: &mut [u32],
    scratch: &mut ConvPoolScratch<T>,
) {
    let c_out = check(x, g, weight, bias, pool, y.len(), argmax.len());
    #[cfg(target_arch = "x86_64")]
    if let (Some(x), Some(w), Some(y)) = (as_f32(x), as_f32(weight), as_f32_mut(y)) {
        if fused_fits(g, pool) && has_avx2() {
            let (b, fast) = (bias.and_then(as_f32), &mut scratch.fast);
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { fused_f32(x, g, w, b, pool, y, argmax, fast) };
            return;
        }
    }
    scratch.z.resize(c_out * g.out_pixels(), T::ZERO);
    conv2d_direct_forward(x, g, weight, bias, &mut scratch.z, &mut scratch.direct);
    max_pool2d_forward(&scratch.z, pool, y, argmax);
}

/// Scalar reference: the reference convolution, then the reference pool.
pub fn conv2d_max_pool_forward_reference<T: Float>(
    x: &[T],
    g: &ConvGeometry,
    weight: &[T],
    bias: Option<&[T]>,
    pool: &PoolGeometry,
    y: &mut [T],
    argmax: &mut [u32],
) {
    let c_out = check(x, g, weight, bias, pool, y.len(), argmax.len());
    let mut z = vec![T::ZERO; c_out * g.out_pixels()];
    conv2d_reference_forward(x, g, weight, bias, &mut z);
    max_pool2d_forward_reference(&z, pool, y, argmax);
}

/// Output channels per register block for windows `pool_h` rows high (accumulators,
/// broadcast weights and one input vector must fit in the 16 AVX registers).
#[cfg(target_arch = "x86_64")]
fn channel_block(pool_h: usize) -> usize {
    if pool_h <= 2 {
        4
    } else {
        3
    }
}

/// The shapes the register-blocked loop handles.
#[cfg(target_arch = "x86_64")]
fn fused_fits(g: &ConvGeometry, pool: &PoolGeometry) -> bool {
    g.stride_w == 1
        && (1..=4).contains(&pool.pool_h)
        && matches!(pool.pool_w, 1 | 2 | 4 | 8)
        && (pool.stride_h, pool.stride_w) == (pool.pool_h, pool.pool_w)
        && g.out_pixels() <= i32::MAX as usize
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn fused_f32(
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: Option<&[f32]>,
    pool: &PoolGeometry,
    y: &mut [f32],
    argmax: &mut [u32],
    fast: &mut FastScratch,
) {
    let (ph, pw) = (pool.out_h(), pool.out_w());
    let vector_cols = (pw * pool.pool_w).div_ceil(8) * 8;
    let layout = Layout {
        planes: g.channels,
        h: g.height,
        w: g.width,
        rows: g.padded_h(),
        // Whole 8-column blocks plus the kernel's reach, rounded to a cache line.
        stride: g.padded_w().max(vector_cols + g.kernel_w - 1).div_ceil(16) * 16,
        top: g.pad_top,
        left: g.pad_left,
    };
    assert!(
        layout.planes * layout.plane() <= u32::MAX as usize,
        "conv_pool: input too large"
    );
    let xp = fast.padded.fill(x, layout);
    let shape = avx2::Shape {
        stride: layout.stride,
        sh: g.stride_h,
        ow: g.out_w(),
        ph,
        pw,
        pool_w: pool.pool_w,
    };
    // Each tap's offset from an output pixel's corner, in (c, ki, kj) order as the weights.
    let (kh, kw) = (g.kernel_h, g.kernel_w);
    fast.taps.clear();
    for c in 0..g.channels {
        for ki in 0..kh {
            let row = c * layout.plane() + ki * layout.stride;
            fast.taps.extend((row..row + kw).map(|at| at as u32));
        }
    }
    let (taps, out) = (g.patch_len(), ph * pw);
    let c_out = weight.len() / taps;
    let zeros = [0.0f32; 4];
    let mut o = 0;
    while o < c_out {
        let cb = channel_block(pool.pool_h).min(c_out - o);
        // The block's weights tap by tap: w[t·cb + o'] = weight[o + o', t].
        fast.packed.clear();
        fast.packed
            .extend((0..taps * cb).map(|k| weight[(o + k % cb) * taps + k / cb]));
        let b = bias.map_or(&zeros[..cb], |b| &b[o..o + cb]);
        let (y, a) = (
            &mut y[o * out..][..cb * out],
            &mut argmax[o * out..][..cb * out],
        );
        let (at, w) = (&fast.taps[..], &fast.packed[..]);
        macro_rules! run {
            ($($cb:literal, $ph:literal);*) => {
                match (cb, pool.pool_h) {
                    $(($cb, $ph) => avx2::conv_max_pool::<$cb, $ph>(xp, &shape, at, w, b, y, a),)*
                    _ => unreachable!("channel block {cb} for pool height {}", pool.pool_h),
                }
            };
        }
        run!(1, 1; 2, 1; 3, 1; 4, 1; 1, 2; 2, 2; 3, 2; 4, 2; 1, 3; 2, 3; 3, 3; 1, 4; 2, 4; 3, 4);
        o += cb;
    }
}

#[cfg(test)]
#[path = "conv_pool_tests.rs"]
mod tests;
