//! The fused convolution + pool against the reference convolution then reference pool.
//! Small-integer inputs make every sum exact in f32, so values and argmax indices must
//! match exactly, ties included (and integers tie often: the first maximum in raster
//! order must win in both).

use super::*;
use crate::im2col::tests::values;
use proptest::prelude::*;

/// A convolution and a pool over its output, both valid, in one case.
#[derive(Clone, Debug)]
struct Case {
    g: ConvGeometry,
    c_out: usize,
    pool: PoolGeometry,
    bias: bool,
    seed: u64,
}

/// Shapes hitting the register-blocked loop (stride_w 1, windows up to 4 × {1, 2, 4, 8},
/// 1–5 output channels: every channel-block remainder), its ragged right edge (widths not
/// a multiple of 8) and the fallback (overlapping or 3-wide windows, stride_w 2, pool
/// height 5).
fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..4, 1usize..22, 1usize..30, 1usize..10, 1usize..10),
        (1usize..3, prop_oneof![4 => Just(1usize), 1 => Just(2usize)]),
        (0usize..5, 0usize..5, 0usize..5, 0usize..5),
        (
            1usize..6,
            1usize..6,
            prop_oneof![Just(1usize), Just(2), Just(3), Just(4), Just(8)],
        ),
        (any::<bool>(), any::<bool>(), 0u64..1000),
    )
        .prop_map(
            |((c, h, w, kh, kw), (sh, sw), (pt, pb, pl, pr), (c_out, pool_h, pool_w), rest)| {
                let (overlap, bias, seed) = rest;
                let g = ConvGeometry {
                    channels: c,
                    height: h,
                    width: w,
                    kernel_h: kh,
                    kernel_w: kw,
                    stride_h: sh,
                    stride_w: sw,
                    pad_top: pt,
                    pad_bottom: pb,
                    pad_left: pl,
                    pad_right: pr,
                };
                let (oh, ow) = if g.is_valid() {
                    (g.out_h(), g.out_w())
                } else {
                    (0, 0)
                };
                let pool = PoolGeometry {
                    height: oh,
                    width: ow,
                    pool_h,
                    pool_w,
                    stride_h: if overlap { 1 } else { pool_h },
                    stride_w: pool_w,
                };
                Case {
                    g,
                    c_out,
                    pool,
                    bias,
                    seed,
                }
            },
        )
        .prop_filter("valid convolution and pool", |k| {
            k.g.is_valid() && k.pool.is_valid()
        })
}

/// Integers in -3..=3: every partial sum is exact in f32 and f64.
fn small_ints<T: Float>(n: usize, seed: u64) -> Vec<T> {
    values(n, seed)
        .iter()
        .map(|v| T::from_f64((v * 3.49).round()))
        .collect()
}

fn run<T: Float>(k: &Case) -> (Vec<T>, Vec<u32>, Vec<T>, Vec<u32>) {
    let g = &k.g;
    let x = small_ints::<T>(g.input_len(), k.seed);
    let w = small_ints::<T>(k.c_out * g.patch_len(), k.seed + 1);
    let b = small_ints::<T>(k.c_out, k.seed + 2);
    let b = k.bias.then_some(b.as_slice());
    let n = k.c_out * k.pool.out_len();
    let (mut y, mut a) = (vec![T::from_f64(7.0); n], vec![u32::MAX; n]);
    let mut scratch = ConvPoolScratch::default();
    conv2d_max_pool_forward(&x, g, &w, b, &k.pool, &mut y, &mut a, &mut scratch);
    let (mut y_ref, mut a_ref) = (vec![T::ZERO; n], vec![0; n]);
    conv2d_max_pool_forward_reference(&x, g, &w, b, &k.pool, &mut y_ref, &mut a_ref);
    (y, a, y_ref, a_ref)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn fused_f32_matches_reference_exactly(k in case()) {
        let (y, a, y_ref, a_ref) = run::<f32>(&k);
        prop_assert_eq!(y, y_ref);
        prop_assert_eq!(a, a_ref);
    }

    #[test]
    fn fused_f64_matches_reference_exactly(k in case()) {
        let (y, a, y_ref, a_ref) = run::<f64>(&k);
        prop_assert_eq!(y, y_ref);
        prop_assert_eq!(a, a_ref);
    }
}

/// Real-valued inputs (sums rounded differently from the reference): close values, and
/// each index points at a convolution output equal to the pooled value.
#[test]
fn fused_f32_real_values_at_the_coursework_shapes() {
    // 1→3 8×8 'same' (pads 3 / 4) with 4×4 pools, 1→4 4×4 'same' (pads 1 / 2) with 2×2,
    // 1→8 4×4 valid (77×77 output, a ragged edge) with 2×2, and 1×k windows.
    for (o, k, (pt, pb), pool) in [
        (3, 8, (3, 4), (4, 4)),
        (4, 4, (1, 2), (2, 2)),
        (8, 4, (0, 0), (2, 2)),
        (5, 3, (1, 1), (1, 8)),
    ] {
        let g = ConvGeometry {
            channels: 1,
            height: 80,
            width: 80,
            kernel_h: k,
            kernel_w: k,
            stride_h: 1,
            stride_w: 1,
            pad_top: pt,
            pad_bottom: pb,
            pad_left: pt,
            pad_right: pb,
        };
        let pg = PoolGeometry {
            height: g.out_h(),
            width: g.out_w(),
            pool_h: pool.0,
            pool_w: pool.1,
            stride_h: pool.0,
            stride_w: pool.1,
        };
        let f32s = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect::<Vec<f32>>();
        let x = f32s(values(g.input_len(), 1));
        let w = f32s(values(o * g.patch_len(), 2));
        let b = f32s(values(o, 3));
        let n = o * pg.out_len();
        let (mut y, mut a) = (vec![0.0f32; n], vec![0u32; n]);
        let mut scratch = ConvPoolScratch::default();
        conv2d_max_pool_forward(&x, &g, &w, Some(&b), &pg, &mut y, &mut a, &mut scratch);
        let mut z = vec![0.0f32; o * g.out_pixels()];
        conv2d_reference_forward(&x, &g, &w, Some(&b), &mut z);
        let (mut y_ref, mut a_ref) = (vec![0.0f32; n], vec![0u32; n]);
        max_pool2d_forward_reference(&z, &pg, &mut y_ref, &mut a_ref);
        for (k, (&v, &at)) in y.iter().zip(&a).enumerate() {
            let plane = k / pg.out_len() * g.out_pixels();
            assert!(
                (v - y_ref[k]).abs() < 1e-4 * (1.0 + v.abs()),
                "{v} vs {}",
                y_ref[k]
            );
            assert!((v - z[plane + at as usize]).abs() < 1e-4 * (1.0 + v.abs()));
        }
    }
}
