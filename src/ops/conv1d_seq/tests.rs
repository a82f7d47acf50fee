use super::*;
use crate::autograd::{gradcheck, GradcheckOptions};
use crate::ops::conv::{conv1d, Conv1dOptions};
use crate::ops::pool::max_pool1d;
use crate::Tape;

fn values(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    // Distinct, irregular values: no ties in a window, no z exactly at 0.
    Tensor::from_fn(shape, |i| {
        let k = (i as u64 * 2654435761 + seed * 97) % 10007;
        (k as f64 / 10007.0 - 0.45) * (1.0 + (i % 5) as f64 * 0.1) + 1e-3 / n as f64
    })
}

/// The separate ops on the channels-first layout, with the layout changes around them.
fn composite(
    x: &Var<f64>,
    w: &Var<f64>,
    b: &Var<f64>,
    stride: usize,
    slope: f64,
    pool: (usize, usize),
) -> Result<Var<f64>> {
    let options = Conv1dOptions {
        stride,
        ..Conv1dOptions::default()
    };
    let z = conv1d(&x.permute(&[0, 2, 1])?, w, Some(b), &options)?;
    max_pool1d(&z.leaky_relu(slope), pool.0, pool.1)?.permute(&[0, 2, 1])
}

/// The op under test, applied to the leaves (x, w, b).
type Op<'a> = dyn Fn(&[Var<f64>]) -> Result<Var<f64>> + 'a;

/// Values and every gradient equal the composition's; the fused op passes gradcheck.
fn check(shapes: [&[usize]; 3], stride: usize, slope: f64, pool: (usize, usize)) {
    let inputs: Vec<Tensor<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(k, s)| values(s, k as u64 + 1))
        .collect();
    let fused =
        |v: &[Var<f64>]| conv1d_seq_act_max_pool(&v[0], &v[1], Some(&v[2]), stride, slope, pool);
    let separate = |v: &[Var<f64>]| composite(&v[0], &v[1], &v[2], stride, slope, pool);
    let run = |f: &Op| {
        let tape = Tape::new();
        let v: Vec<Var<f64>> = inputs.iter().map(|t| tape.leaf(t.clone())).collect();
        let y = f(&v).unwrap();
        let seed = Tensor::from_fn(y.shape(), |i| 1.0 + (i % 7) as f64 * 0.25);
        let grads = y.backward_with(seed).unwrap();
        let g: Vec<Tensor<f64>> = v.iter().map(|v| grads.get(v).unwrap().clone()).collect();
        (y.value().clone(), g)
    };
    let (y_fused, g_fused) = run(&fused);
    let (y_comp, g_comp) = run(&separate);
    assert_eq!(y_fused.shape(), y_comp.shape());
    assert!(y_fused.max_abs_diff(&y_comp).unwrap() < 1e-12);
    for (a, b) in g_fused.iter().zip(&g_comp) {
        assert!(a.max_abs_diff(b).unwrap() < 1e-10, "gradients differ");
    }
    gradcheck(fused, &inputs, &GradcheckOptions::default())
        .unwrap()
        .check(1e-6)
        .unwrap();
}

#[test]
fn relu_pool_matches_the_composition() {
    // CnnLstm's first block in miniature: more channels than filters, pool 2.
    check([&[3, 11, 5], &[4, 5, 4], &[4]], 1, 0.0, (2, 2));
}

#[test]
fn leaky_strided_overlapping_pool_matches_the_composition() {
    check([&[2, 17, 3], &[2, 3, 3], &[2]], 2, 0.3, (3, 2));
}

#[test]
fn a_group_boundary_and_a_window_longer_than_a_panel() {
    // 9 samples (two parallel groups); k·C = 20 > 16 columns of one kernel panel.
    check([&[9, 8, 5], &[3, 5, 4], &[3]], 1, 0.1, (2, 1));
}

/// The f32 path gives the f64 answer: the dot-product kernel (≤ 16 output channels; a
/// 21-long and a 72-long window) and the tile kernels (18 channels: a full 16-column panel
/// and a masked short one).
#[test]
fn f32_fast_path_matches_f64() {
    let cases: [[&[usize]; 3]; 3] = [
        [&[10, 40, 7], &[6, 7, 3], &[6]],
        [&[4, 30, 24], &[8, 24, 3], &[8]],
        [&[5, 20, 7], &[18, 7, 3], &[18]],
    ];
    for shapes in cases {
        let inputs: Vec<Tensor<f64>> = shapes
            .iter()
            .enumerate()
            .map(|(k, s)| values(s, k as u64 + 11))
            .collect();
        let tape64 = Tape::new();
        let v64: Vec<Var<f64>> = inputs.iter().map(|t| tape64.leaf(t.clone())).collect();
        let y64 = conv1d_seq_act_max_pool(&v64[0], &v64[1], Some(&v64[2]), 1, 0.0, (2, 2)).unwrap();
        let seed = Tensor::from_fn(y64.shape(), |i| 1.0 + (i % 7) as f64 * 0.25);
        let g64 = y64.backward_with(seed.clone()).unwrap();
        let tape32 = Tape::new();
        let v32: Vec<Var<f32>> = inputs.iter().map(|t| tape32.leaf(t.cast())).collect();
        let y32 = conv1d_seq_act_max_pool(&v32[0], &v32[1], Some(&v32[2]), 1, 0.0, (2, 2)).unwrap();
        let g32 = y32.backward_with(seed.cast()).unwrap();
        assert!(y64.value().max_abs_diff(&y32.value().cast()).unwrap() < 1e-5);
        for (a, b) in v64.iter().zip(&v32) {
            let (ga, gb) = (g64.get(a).unwrap(), g32.get(b).unwrap().cast::<f64>());
            let scale = ga.data().iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(ga.max_abs_diff(&gb).unwrap() <= 1e-5 * scale.max(1.0));
        }
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let c = |shape: &[usize]| Var::constant(Tensor::<f64>::zeros(shape));
    let (x, w) = (c(&[2, 8, 3]), c(&[4, 3, 2]));
    let call = |x: &Var<f64>, w: &Var<f64>, slope: f64, pool: (usize, usize)| {
        conv1d_seq_act_max_pool(x, w, None, 1, slope, pool)
    };
    assert!(call(&x, &w, 0.0, (2, 2)).is_ok());
    assert!(call(&c(&[2, 8]), &w, 0.0, (2, 2)).is_err(), "2-d x");
    assert!(
        call(&x, &c(&[4, 2, 2]), 0.0, (2, 2)).is_err(),
        "channel mismatch"
    );
    assert!(call(&x, &w, -0.5, (2, 2)).is_err(), "slope");
    assert!(
        call(&x, &w, 0.0, (9, 1)).is_err(),
        "pool longer than the sequence"
    );
    assert!(
        call(&c(&[2, 1, 3]), &w, 0.0, (1, 1)).is_err(),
        "sequence shorter than kernel"
    );
    assert!(call(&x, &w, 0.0, (0, 1)).is_err(), "empty pool");
    let b = Var::constant(Tensor::<f64>::zeros(&[3]));
    assert!(
        conv1d_seq_act_max_pool(&x, &w, Some(&b), 1, 0.0, (2, 2)).is_err(),
        "bias"
    );
}
