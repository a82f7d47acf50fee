use super::*;
use crate::autograd::{gradcheck, GradcheckOptions};
use crate::ops::conv::{conv1d, conv2d, Padding};
use crate::ops::pool::{max_pool1d, max_pool2d};
use crate::Tape;

fn values(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    // Distinct, irregular values: no ties in a window, no z exactly at 0.
    Tensor::from_fn(shape, |i| {
        let k = (i as u64 * 2654435761 + seed * 97) % 10007;
        (k as f64 / 10007.0 - 0.45) * (1.0 + (i % 5) as f64 * 0.1) + 1e-3 / n as f64
    })
}

type Composite = fn(&Var<f64>, &Var<f64>, &Var<f64>) -> Result<Var<f64>>;

/// The fused op and the composition of the separate ops agree on values and on every
/// gradient, and the fused op passes gradcheck.
fn check(fused: Composite, composite: Composite, shapes: [&[usize]; 3]) {
    let inputs: Vec<Tensor<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(k, s)| values(s, k as u64 + 1))
        .collect();
    let run = |f: Composite| {
        let tape = Tape::new();
        let v: Vec<Var<f64>> = inputs.iter().map(|t| tape.leaf(t.clone())).collect();
        let y = f(&v[0], &v[1], &v[2]).unwrap();
        // A non-uniform seed so every output's gradient matters differently.
        let seed = Tensor::from_fn(y.shape(), |i| 1.0 + (i % 7) as f64 * 0.25);
        let grads = y.backward_with(seed).unwrap();
        let g: Vec<Tensor<f64>> = v.iter().map(|v| grads.get(v).unwrap().clone()).collect();
        (y.value().clone(), g)
    };
    let (y_fused, g_fused) = run(fused);
    let (y_comp, g_comp) = run(composite);
    assert_eq!(y_fused.shape(), y_comp.shape());
    assert!(y_fused.max_abs_diff(&y_comp).unwrap() < 1e-12);
    for (a, b) in g_fused.iter().zip(&g_comp) {
        assert!(a.max_abs_diff(b).unwrap() < 1e-10, "gradients differ");
    }
    gradcheck(
        |v| fused(&v[0], &v[1], &v[2]),
        &inputs,
        &GradcheckOptions::default(),
    )
    .unwrap()
    .check(1e-6)
    .unwrap();
}

#[test]
fn conv2d_leaky_pool_matches_the_composition() {
    fn fused(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
        conv2d_act_max_pool(x, w, Some(b), &Conv2dOptions::same(), 0.3, (2, 2), (2, 2))
    }
    fn composite(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
        let z = conv2d(x, w, Some(b), &Conv2dOptions::same())?;
        max_pool2d(&z.leaky_relu(0.3), (2, 2), (2, 2))
    }
    check(fused, composite, [&[2, 2, 6, 7], &[3, 2, 4, 4], &[3]]);
}

#[test]
fn conv2d_relu_overlapping_pool_matches_the_composition() {
    fn fused(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
        let conv = Conv2dOptions::valid().with_stride(1, 2);
        conv2d_act_max_pool(x, w, Some(b), &conv, 0.0, (3, 2), (2, 1))
    }
    fn composite(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
        let z = conv2d(x, w, Some(b), &Conv2dOptions::valid().with_stride(1, 2))?;
        max_pool2d(&z.relu(), (3, 2), (2, 1))
    }
    check(fused, composite, [&[2, 3, 9, 9], &[2, 3, 3, 2], &[2]]);
}

#[test]
fn conv1d_relu_pool_matches_the_composition() {
    fn opts() -> Conv1dOptions {
        Conv1dOptions {
            padding: Padding::Explicit {
                top: 0,
                bottom: 0,
                left: 1,
                right: 0,
            },
            ..Conv1dOptions::default()
        }
    }
    fn fused(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
        conv1d_act_max_pool(x, w, Some(b), &opts(), 0.0, 2, 2)
    }
    fn composite(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
        max_pool1d(&conv1d(x, w, Some(b), &opts())?.relu(), 2, 2)
    }
    // Six input channels: the im2col path (more than DIRECT_MAX_CHANNELS).
    check(fused, composite, [&[3, 6, 11], &[4, 6, 3], &[4]]);
}

#[test]
fn bad_slope_and_oversized_pool_are_errors() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[1, 1, 4, 4]));
    let w = tape.leaf(Tensor::zeros(&[1, 1, 3, 3]));
    let opts = Conv2dOptions::valid();
    assert!(conv2d_act_max_pool(&x, &w, None, &opts, -0.1, (2, 2), (2, 2)).is_err());
    assert!(conv2d_act_max_pool(&x, &w, None, &opts, 0.0, (3, 3), (3, 3)).is_err());
    assert!(conv2d_act_max_pool(&x, &w, None, &opts, 0.0, (2, 2), (2, 2)).is_ok());
}

/// A block as a function of (x, w, b).
type Block<'a> = dyn Fn(&Var<f64>, &Var<f64>, &Var<f64>) -> Result<Var<f64>> + 'a;

/// As [`check`] for a first layer: the input is data (a constant), so backward computes
/// dw and db only (the sparse weight gradient at any pool size).
fn check_constant_input(fused: &Block, composite: &Block, shapes: [&[usize]; 3]) {
    let [x, w, b] = shapes.map(|s| values(s, s.len() as u64));
    let run = |f: &Block| {
        let tape = Tape::new();
        let (wv, bv) = (tape.leaf(w.clone()), tape.leaf(b.clone()));
        let y = f(&Var::constant(x.clone()), &wv, &bv).unwrap();
        let seed = Tensor::from_fn(y.shape(), |i| 1.0 + (i % 7) as f64 * 0.25);
        let grads = y.backward_with(seed).unwrap();
        let g = [&wv, &bv].map(|v| grads.get(v).unwrap().clone());
        (y.value().clone(), g)
    };
    let (y_fused, g_fused) = run(fused);
    let (y_comp, g_comp) = run(composite);
    assert!(y_fused.max_abs_diff(&y_comp).unwrap() < 1e-12);
    for (a, b) in g_fused.iter().zip(&g_comp) {
        assert!(a.max_abs_diff(b).unwrap() < 1e-10, "gradients differ");
    }
    let xc = Var::constant(x.clone());
    gradcheck(
        |v| fused(&xc, &v[0], &v[1]),
        &[w.clone(), b.clone()],
        &GradcheckOptions::default(),
    )
    .unwrap()
    .check(1e-6)
    .unwrap();
}

#[test]
fn constant_input_matches_the_composition() {
    // x, w, convolution, pool (window = stride unless given): a 2×2 pool ('same' 4×4,
    // ragged 9×11), a 3×1 pool over 5 channels (a channel-block remainder), an
    // overlapping pool and stride 2 (the fallback forward paths).
    let valid = Conv2dOptions::valid();
    let cases = [
        (
            &[2, 1, 9, 11],
            &[3, 1, 4, 4],
            Conv2dOptions::same(),
            (2, 2),
            None,
        ),
        (
            &[2, 2, 10, 13],
            &[5, 2, 3, 5],
            Conv2dOptions::same(),
            (3, 1),
            None,
        ),
        (&[1, 1, 9, 9], &[2, 1, 3, 3], valid, (3, 3), Some((2, 2))),
        (
            &[2, 1, 9, 8],
            &[2, 1, 2, 3],
            valid.with_stride(2, 1),
            (2, 2),
            None,
        ),
    ];
    for (xs, ws, conv, pool, stride) in cases {
        let stride = stride.unwrap_or(pool);
        check_constant_input(
            &|x, w, b| conv2d_act_max_pool(x, w, Some(b), &conv, 0.3, pool, stride),
            &|x, w, b| max_pool2d(&conv2d(x, w, Some(b), &conv)?.leaky_relu(0.3), pool, stride),
            [xs, ws, &[ws[0]]],
        );
    }
}

/// The f32 fast paths (the fused AVX2 forward, the sparse weight gradient) at the
/// ParallelCnn's shapes and ragged ones, against the separate ops in f32: small-integer
/// inputs (ties everywhere) and a slope of 0.25 keep every sum exact, so values and
/// gradients must be equal.
#[test]
fn f32_first_layer_matches_the_composition_exactly() {
    let ints = |shape: &[usize], seed: u64| {
        Tensor::<f32>::from_fn(shape, |i| {
            ((i as u64 * 2654435761 + seed * 97) % 7) as f32 - 3.0
        })
    };
    for (xs, ws, pool) in [
        ([2, 1, 80, 80], [3, 1, 8, 8], 4),
        ([2, 1, 80, 80], [4, 1, 4, 4], 2),
        ([3, 1, 13, 21], [5, 1, 3, 4], 2),
        ([2, 2, 11, 9], [2, 2, 2, 3], 3),
    ] {
        let (x, w, b) = (ints(&xs, 1), ints(&ws, 2), ints(&[ws[0]], 3));
        let conv = Conv2dOptions::same();
        let run = |fused: bool| {
            let tape = Tape::new();
            let (wv, bv) = (tape.leaf(w.clone()), tape.leaf(b.clone()));
            let xv = Var::constant(x.clone());
            let y = if fused {
                conv2d_act_max_pool(&xv, &wv, Some(&bv), &conv, 0.25, (pool, pool), (pool, pool))
            } else {
                let z = conv2d(&xv, &wv, Some(&bv), &conv).unwrap();
                max_pool2d(&z.leaky_relu(0.25), (pool, pool), (pool, pool))
            }
            .unwrap();
            let seed = Tensor::from_fn(y.shape(), |i| 1.0 + (i % 7) as f32 * 0.25);
            let grads = y.backward_with(seed).unwrap();
            let g = [&wv, &bv].map(|v| grads.get(v).unwrap().data().to_vec());
            (y.value().data().to_vec(), g)
        };
        assert_eq!(run(true), run(false), "{xs:?} {ws:?} pool {pool}");
    }
}
