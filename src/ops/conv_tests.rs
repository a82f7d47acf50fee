use super::*;
use crate::autograd::{gradcheck, GradcheckOptions};
use crate::Tape;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn random(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::uniform(shape, -1.0, 1.0, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// A convolution is linear in x and in w, so central differences have no truncation
/// error at any step; a large step shrinks their rounding noise (about 1e-9 absolute at
/// the default 1e-6, enough to fail a small gradient's 1e-6 relative check by chance).
fn linear_step() -> GradcheckOptions {
    GradcheckOptions {
        eps: 1e-3,
        ..GradcheckOptions::default()
    }
}

/// The algorithms that take this stride (windows needs stride 1).
fn algorithms(stride: (usize, usize)) -> Vec<ConvAlgorithm> {
    let mut all = vec![ConvAlgorithm::Direct, ConvAlgorithm::Im2col];
    if stride == (1, 1) {
        all.push(ConvAlgorithm::Windows);
    }
    all
}

/// Gradcheck conv2d at the given shapes with every algorithm that takes the stride.
fn check_conv2d(x: &[usize], w: &[usize], bias: bool, options: Conv2dOptions) {
    let mut inputs = vec![random(x, 1), random(w, 2)];
    if bias {
        inputs.push(random(&[w[0]], 3));
    }
    for algorithm in algorithms(options.stride) {
        let opts = options.with_algorithm(algorithm);
        let report = gradcheck(
            |v| conv2d(&v[0], &v[1], v.get(2), &opts),
            &inputs,
            &linear_step(),
        )
        .unwrap();
        report
            .check(1e-6)
            .unwrap_or_else(|e| panic!("{algorithm:?} {x:?} {w:?} {opts:?}: {e}"));
    }
}

#[test]
fn conv2d_valid_odd_kernel_gradcheck() {
    check_conv2d(&[2, 2, 6, 5], &[3, 2, 3, 3], true, Conv2dOptions::valid());
}

#[test]
fn conv2d_same_even_kernel_gradcheck() {
    // 4×4 'same' pads 1 before and 2 after: the asymmetric case.
    check_conv2d(&[2, 1, 5, 6], &[2, 1, 4, 4], true, Conv2dOptions::same());
}

#[test]
fn conv2d_same_odd_kernel_no_bias_gradcheck() {
    check_conv2d(&[1, 3, 5, 5], &[2, 3, 3, 3], false, Conv2dOptions::same());
}

#[test]
fn conv2d_stride_two_gradcheck() {
    check_conv2d(
        &[2, 2, 7, 6],
        &[2, 2, 3, 2],
        true,
        Conv2dOptions::valid().with_stride(2, 2),
    );
    check_conv2d(
        &[1, 2, 7, 6],
        &[2, 2, 4, 3],
        false,
        Conv2dOptions::same().with_stride(2, 2),
    );
    check_conv2d(
        &[1, 1, 6, 7],
        &[2, 1, 2, 2],
        true,
        Conv2dOptions::same().with_stride(1, 3),
    );
}

#[test]
fn conv2d_explicit_padding_gradcheck() {
    let padding = Padding::Explicit {
        top: 2,
        bottom: 0,
        left: 1,
        right: 3,
    };
    let options = Conv2dOptions {
        padding,
        ..Conv2dOptions::default()
    };
    check_conv2d(&[1, 2, 4, 4], &[2, 2, 3, 3], true, options);
}

#[test]
fn conv1d_gradcheck() {
    for (stride, padding, k) in [
        (1, Padding::Valid, 3),
        (2, Padding::Same, 4),
        (1, Padding::Same, 5),
    ] {
        for algorithm in algorithms((1, stride)) {
            let opts = Conv1dOptions {
                stride,
                padding,
                algorithm,
            };
            let inputs = vec![
                random(&[2, 3, 9], 4),
                random(&[2, 3, k], 5),
                random(&[2], 6),
            ];
            gradcheck(
                |v| conv1d(&v[0], &v[1], Some(&v[2]), &opts),
                &inputs,
                &linear_step(),
            )
            .unwrap()
            .check(1e-6)
            .unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        }
    }
}

/// `[y, dx, dw, db]` of `conv2d(x, w, b)` when y's gradient is `seed(y's shape)`.
fn conv_and_grads<T: Float>(
    [x, w, b]: [&Tensor<T>; 3],
    seed: impl Fn(&[usize]) -> Tensor<T>,
    opts: &Conv2dOptions,
) -> [Tensor<T>; 4] {
    let tape = Tape::new();
    let (xv, wv, bv) = (
        tape.leaf(x.clone()),
        tape.leaf(w.clone()),
        tape.leaf(b.clone()),
    );
    let y = conv2d(&xv, &wv, Some(&bv), opts).unwrap();
    let grads = y.backward_with(seed(y.shape())).unwrap();
    let get = |v: &Var<T>| grads.get(v).unwrap().clone();
    [y.value().clone(), get(&xv), get(&wv), get(&bv)]
}

/// Forward and every gradient of the algorithms agree on coursework-like shapes.
#[test]
fn the_algorithms_agree() {
    for (x_shape, w_shape, opts) in [
        ([3, 1, 20, 17], [3, 1, 8, 8], Conv2dOptions::same()),
        (
            [2, 4, 11, 13],
            [5, 4, 4, 4],
            Conv2dOptions::same().with_stride(2, 1),
        ),
        ([2, 6, 9, 9], [3, 6, 3, 3], Conv2dOptions::valid()),
    ] {
        let x = random(&x_shape, 7);
        let w = random(&w_shape, 8);
        let b = random(&[w_shape[0]], 9);
        let run = |algorithm: ConvAlgorithm| {
            let opts = opts.with_algorithm(algorithm);
            conv_and_grads([&x, &w, &b], |shape| random(shape, 10), &opts)
        };
        let direct = run(ConvAlgorithm::Direct);
        for algorithm in algorithms(opts.stride).into_iter().skip(1) {
            let other = run(algorithm);
            let what = format!("{algorithm:?} {x_shape:?} {w_shape:?}");
            assert!(
                direct[0].max_abs_diff(&other[0]).unwrap() < 1e-12,
                "y {what}"
            );
            assert!(
                direct[1].max_abs_diff(&other[1]).unwrap() < 1e-12,
                "dx {what}"
            );
            assert!(
                direct[2].max_abs_diff(&other[2]).unwrap() < 1e-11,
                "dw {what}"
            );
            assert!(
                direct[3].max_abs_diff(&other[3]).unwrap() < 1e-11,
                "db {what}"
            );
        }
    }
}

/// In f32 the windowed algorithm runs the SIMD gemms (overlapping rows of B and C, tiles
/// cut at 8 rows and 16 or 32 columns, k in passes of 128): it agrees with im2col's
/// sgemm at the improved model's shapes and at odd ones.
#[test]
fn windows_f32_matches_im2col() {
    for (x_shape, w_shape, opts) in [
        ([3, 8, 40, 40], [16, 8, 3, 3], Conv2dOptions::same()),
        ([2, 32, 10, 10], [64, 32, 3, 3], Conv2dOptions::same()),
        ([2, 5, 13, 11], [7, 5, 4, 2], Conv2dOptions::same()),
        ([2, 6, 9, 12], [33, 6, 3, 5], Conv2dOptions::valid()),
        // A 1-d convolution as conv1d plans it: one kernel row.
        ([2, 9, 1, 30], [5, 9, 1, 4], Conv2dOptions::valid()),
    ] {
        let to_f32 = |t: Tensor<f64>| {
            Tensor::new(t.data().iter().map(|&v| v as f32).collect(), t.shape()).unwrap()
        };
        let x = to_f32(random(&x_shape, 11));
        let w = to_f32(random(&w_shape, 12));
        let b = to_f32(random(&[w_shape[0]], 13));
        let run = |algorithm: ConvAlgorithm| {
            let opts = opts.with_algorithm(algorithm);
            conv_and_grads([&x, &w, &b], |shape| to_f32(random(shape, 14)), &opts)
        };
        let (im2col, windows) = (run(ConvAlgorithm::Im2col), run(ConvAlgorithm::Windows));
        for (name, (a, b)) in ["y", "dx", "dw", "db"]
            .iter()
            .zip(im2col.iter().zip(&windows))
        {
            let scale = a
                .data()
                .iter()
                .fold(1.0f64, |m, &v| m.max(f64::from(v).abs()));
            let diff = a.max_abs_diff(b).unwrap();
            assert!(
                diff < 1e-5 * scale,
                "{name} {x_shape:?} {w_shape:?}: {diff} (scale {scale})"
            );
        }
    }
}

#[test]
fn same_padding_matches_keras() {
    assert_eq!(same_padding(80, 8, 1), (3, 4));
    assert_eq!(same_padding(80, 4, 1), (1, 2));
    assert_eq!(same_padding(80, 3, 1), (1, 1));
    assert_eq!(same_padding(5, 4, 2), (1, 2)); // out 3, total 3
    assert_eq!(same_padding(6, 3, 2), (0, 1)); // out 3, total 1
    assert_eq!(same_padding(7, 1, 3), (0, 0));
    let shape =
        conv2d_output_shape(&[128, 1, 80, 80], &[3, 1, 8, 8], &Conv2dOptions::same()).unwrap();
    assert_eq!(shape, vec![128, 3, 80, 80]);
    let shape = conv2d_output_shape(
        &[1, 1, 5, 7],
        &[2, 1, 4, 4],
        &Conv2dOptions::same().with_stride(2, 2),
    )
    .unwrap();
    assert_eq!(shape, vec![1, 2, 3, 4]);
}

#[test]
fn bad_shapes_are_errors() {
    let x = Var::constant(Tensor::<f32>::zeros(&[2, 3, 8, 8]));
    let w = |s: &[usize]| Var::constant(Tensor::<f32>::zeros(s));
    let opts = Conv2dOptions::default();
    assert!(
        conv2d(&x, &w(&[4, 2, 3, 3]), None, &opts).is_err(),
        "channel mismatch"
    );
    assert!(
        conv2d(&x, &w(&[4, 3, 3]), None, &opts).is_err(),
        "3-d kernel"
    );
    assert!(
        conv2d(&x, &w(&[4, 3, 9, 3]), None, &opts).is_err(),
        "kernel taller than input"
    );
    assert!(
        conv2d(&x, &w(&[4, 3, 3, 3]), Some(&w(&[3])), &opts).is_err(),
        "bias length"
    );
    assert!(
        conv2d(&x, &w(&[4, 3, 3, 3]), None, &opts.with_stride(0, 1)).is_err(),
        "stride 0"
    );
    let strided_windows = opts
        .with_stride(2, 1)
        .with_algorithm(ConvAlgorithm::Windows);
    assert!(
        conv2d(&x, &w(&[4, 3, 3, 3]), None, &strided_windows).is_err(),
        "windows at stride 2"
    );
    assert!(
        conv2d(&w(&[3, 8, 8]), &w(&[4, 3, 3, 3]), None, &opts).is_err(),
        "3-d input"
    );
    assert!(
        conv2d(&x, &w(&[4, 3, 0, 3]), None, &opts).is_err(),
        "empty kernel"
    );
    let x1 = Var::constant(Tensor::<f32>::zeros(&[2, 3, 8]));
    let c1 = Conv1dOptions::default();
    assert!(
        conv1d(&x1, &w(&[4, 2, 3]), None, &c1).is_err(),
        "conv1d channels"
    );
    assert!(
        conv1d(&x1, &w(&[4, 3, 9]), None, &c1).is_err(),
        "conv1d kernel too long"
    );
    let bad = Conv1dOptions {
        padding: Padding::Explicit {
            top: 1,
            bottom: 0,
            left: 0,
            right: 0,
        },
        ..c1
    };
    assert!(
        conv1d(&x1, &w(&[4, 3, 3]), None, &bad).is_err(),
        "conv1d vertical padding"
    );
    // A 9-long kernel does fit with 'same' padding.
    assert!(conv1d(
        &x1,
        &w(&[4, 3, 9]),
        None,
        &Conv1dOptions {
            padding: Padding::Same,
            ..c1
        }
    )
    .is_ok());
}
