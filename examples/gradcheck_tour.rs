//! Every differentiable op in melgrad, checked against central differences in f64.
//!
//! `cargo run --release --example gradcheck_tour` prints one row per op (and per
//! interesting configuration of it): the largest relative error between the tape's
//! gradient and the finite-difference one, over all inputs and elements.

use melgrad::autograd::{gradcheck, GradcheckOptions};
use melgrad::ops::conv::{conv1d, conv2d, Conv1dOptions, Conv2dOptions, ConvAlgorithm, Padding};
use melgrad::ops::pool::{global_avg_pool1d, global_avg_pool2d, max_pool1d, max_pool2d};
use melgrad::ops::*;
use melgrad::{Result, Tensor, Var};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Random values with |x| ≥ 0.1, so no input sits on a kink (relu at 0) or a tie.
fn input(shape: &[usize], rng: &mut ChaCha8Rng) -> Tensor<f64> {
    Tensor::from_fn(shape, |_| {
        let v: f64 = rng.random_range(0.1..1.0);
        if rng.random_bool(0.5) {
            v
        } else {
            -v
        }
    })
}

type Case = (
    &'static str,
    Box<dyn Fn(&[Var<f64>]) -> Result<Var<f64>>>,
    Vec<Tensor<f64>>,
);

fn cases(rng: &mut ChaCha8Rng) -> Vec<Case> {
    let mut r = |s: &[usize]| input(s, rng);
    let conv = |padding, stride, algorithm| Conv2dOptions {
        stride,
        padding,
        algorithm,
    };
    let mask = Tensor::from_fn(
        &[3, 4],
        |i| if i % 3 == 0 { 0.0 } else { 1.0 / (1.0 - 0.3) },
    );
    let labels = vec![2usize, 0, 1];
    let targets = Tensor::from_fn(&[3, 4], |i| (i % 2) as f64);
    let mut cases: Vec<Case> = vec![
        (
            "add (broadcast N,C + C)",
            Box::new(|v| add(&v[0], &v[1])),
            vec![r(&[3, 4]), r(&[4])],
        ),
        (
            "sub (broadcast N,1 − N,C)",
            Box::new(|v| sub(&v[0], &v[1])),
            vec![r(&[3, 1]), r(&[3, 4])],
        ),
        (
            "mul (broadcast)",
            Box::new(|v| mul(&v[0], &v[1])),
            vec![r(&[2, 1, 3]), r(&[4, 1])],
        ),
        (
            "div",
            Box::new(|v| div(&v[0], &v[1])),
            vec![r(&[3, 4]), r(&[3, 4])],
        ),
        ("neg", Box::new(|v| Ok(neg(&v[0]))), vec![r(&[5])]),
        (
            "add_scalar, mul_scalar",
            Box::new(|v| Ok(mul_scalar(&add_scalar(&v[0], 0.5), -2.0))),
            vec![r(&[5])],
        ),
        (
            "pow_scalar (x^2.5)",
            Box::new(|v| Ok(pow_scalar(&v[0], 2.5))),
            vec![r(&[5]).map(f64::abs)],
        ),
        (
            "sqrt",
            Box::new(|v| Ok(sqrt(&v[0]))),
            vec![r(&[5]).map(f64::abs)],
        ),
        ("square", Box::new(|v| Ok(square(&v[0]))), vec![r(&[5])]),
        ("sum (all)", Box::new(|v| Ok(sum(&v[0]))), vec![r(&[3, 4])]),
        ("mean (all)", Box::new(|v| mean(&v[0])), vec![r(&[3, 4])]),
        (
            "sum_axes [0, 2]",
            Box::new(|v| sum_axes(&v[0], &[0, 2], false)),
            vec![r(&[2, 3, 4])],
        ),
        (
            "mean_axes [1] keepdim",
            Box::new(|v| mean_axes(&v[0], &[1], true)),
            vec![r(&[2, 3, 4])],
        ),
        (
            "max_axis",
            Box::new(|v| max_axis(&v[0], 1, false)),
            vec![r(&[3, 5])],
        ),
        (
            "matmul (M,K)×(K,N)",
            Box::new(|v| matmul(&v[0], &v[1])),
            vec![r(&[3, 4]), r(&[4, 5])],
        ),
        (
            "matmul batched",
            Box::new(|v| matmul(&v[0], &v[1])),
            vec![r(&[2, 3, 4]), r(&[2, 4, 2])],
        ),
        (
            "matmul shared weight",
            Box::new(|v| matmul(&v[0], &v[1])),
            vec![r(&[2, 3, 4]), r(&[4, 2])],
        ),
        (
            "reshape",
            Box::new(|v| reshape(&v[0], &[6, 2])),
            vec![r(&[3, 4])],
        ),
        ("flatten", Box::new(|v| flatten(&v[0])), vec![r(&[2, 3, 2])]),
        (
            "permute [2,0,1]",
            Box::new(|v| permute(&v[0], &[2, 0, 1])),
            vec![r(&[2, 3, 4])],
        ),
        (
            "transpose",
            Box::new(|v| transpose(&v[0], 0, 1)),
            vec![r(&[3, 4])],
        ),
        (
            "concat (3 inputs, axis 1)",
            Box::new(|v| concat(&[&v[0], &v[1], &v[2]], 1)),
            vec![r(&[2, 1]), r(&[2, 3]), r(&[2, 2])],
        ),
        (
            "narrow (slice)",
            Box::new(|v| narrow(&v[0], 1, 1, 2)),
            vec![r(&[3, 4])],
        ),
        (
            "squeeze / unsqueeze",
            Box::new(|v| squeeze(&unsqueeze(&v[0], 1)?, 1)),
            vec![r(&[3, 4])],
        ),
        ("exp", Box::new(|v| Ok(exp(&v[0]))), vec![r(&[5])]),
        (
            "log",
            Box::new(|v| Ok(log(&v[0]))),
            vec![r(&[5]).map(f64::abs)],
        ),
        ("tanh", Box::new(|v| Ok(tanh(&v[0]))), vec![r(&[5])]),
        ("sigmoid", Box::new(|v| Ok(sigmoid(&v[0]))), vec![r(&[5])]),
        ("relu", Box::new(|v| Ok(relu(&v[0]))), vec![r(&[6])]),
        (
            "leaky_relu(0.3)",
            Box::new(|v| Ok(leaky_relu(&v[0], 0.3))),
            vec![r(&[6])],
        ),
        ("softplus", Box::new(|v| Ok(softplus(&v[0]))), vec![r(&[5])]),
        ("softmax", Box::new(|v| softmax(&v[0])), vec![r(&[3, 4])]),
        (
            "log_softmax",
            Box::new(|v| log_softmax(&v[0])),
            vec![r(&[3, 4])],
        ),
        (
            "softmax_cross_entropy",
            Box::new(move |v| softmax_cross_entropy(&v[0], &labels)),
            vec![r(&[3, 4])],
        ),
        (
            "sigmoid_bce_with_logits",
            Box::new(move |v| sigmoid_bce_with_logits(&v[0], &targets)),
            vec![r(&[3, 4])],
        ),
        (
            "mse",
            Box::new(|v| mse(&v[0], &v[1])),
            vec![r(&[3, 4]), r(&[3, 4])],
        ),
        (
            "linear (N,in)",
            Box::new(|v| linear(&v[0], &v[1], Some(&v[2]))),
            vec![r(&[3, 4]), r(&[4, 2]), r(&[2])],
        ),
        (
            "linear (B,T,in)",
            Box::new(|v| linear(&v[0], &v[1], None)),
            vec![r(&[2, 3, 4]), r(&[4, 2])],
        ),
        (
            "dropout (fixed mask)",
            Box::new(move |v| dropout_with_mask(&v[0], &mask)),
            vec![r(&[3, 4])],
        ),
    ];
    for (name, padding, stride, algorithm, k) in [
        (
            "conv2d same 3×3, direct",
            Padding::Same,
            (1, 1),
            ConvAlgorithm::Direct,
            3,
        ),
        (
            "conv2d same 4×4 (asymmetric), direct",
            Padding::Same,
            (1, 1),
            ConvAlgorithm::Direct,
            4,
        ),
        (
            "conv2d same 4×4, im2col",
            Padding::Same,
            (1, 1),
            ConvAlgorithm::Im2col,
            4,
        ),
        (
            "conv2d valid 3×3 stride 2, im2col",
            Padding::Valid,
            (2, 2),
            ConvAlgorithm::Im2col,
            3,
        ),
        (
            "conv2d valid 3×3 stride 2, direct",
            Padding::Valid,
            (2, 2),
            ConvAlgorithm::Direct,
            3,
        ),
    ] {
        let options = conv(padding, stride, algorithm);
        cases.push((
            name,
            Box::new(move |v| conv2d(&v[0], &v[1], Some(&v[2]), &options)),
            vec![r(&[2, 2, 6, 5]), r(&[3, 2, k, k]), r(&[3])],
        ));
    }
    cases.push((
        "conv1d valid k 3",
        Box::new(|v| conv1d(&v[0], &v[1], Some(&v[2]), &Conv1dOptions::default())),
        vec![r(&[2, 3, 7]), r(&[2, 3, 3]), r(&[2])],
    ));
    cases.push((
        "max_pool2d 2×2",
        Box::new(|v| max_pool2d(&v[0], (2, 2), (2, 2))),
        vec![r(&[2, 2, 4, 6])],
    ));
    cases.push((
        "max_pool2d 3×3 stride 2 (overlap)",
        Box::new(|v| max_pool2d(&v[0], (3, 3), (2, 2))),
        vec![r(&[1, 2, 7, 7])],
    ));
    cases.push((
        "max_pool1d 2",
        Box::new(|v| max_pool1d(&v[0], 2, 2)),
        vec![r(&[2, 3, 8])],
    ));
    cases.push((
        "global_avg_pool2d",
        Box::new(|v| global_avg_pool2d(&v[0])),
        vec![r(&[2, 3, 4, 5])],
    ));
    cases.push((
        "global_avg_pool1d",
        Box::new(|v| global_avg_pool1d(&v[0])),
        vec![r(&[2, 3, 5])],
    ));
    cases.push((
        "lstm (T=4, full sequence, h0, c0)",
        Box::new(|v| lstm(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), Some(&v[5]), true)),
        vec![
            r(&[2, 4, 3]),
            r(&[3, 8]),
            r(&[2, 8]),
            r(&[8]),
            r(&[2, 2]),
            r(&[2, 2]),
        ],
    ));
    cases.push((
        "lstm (T=4, last state)",
        Box::new(|v| lstm(&v[0], &v[1], &v[2], &v[3], None, None, false)),
        vec![r(&[2, 4, 3]), r(&[3, 8]), r(&[2, 8]), r(&[8])],
    ));
    cases.push((
        "gru (T=4, full sequence, h0)",
        Box::new(|v| gru(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), true)),
        vec![
            r(&[2, 4, 3]),
            r(&[3, 6]),
            r(&[2, 6]),
            r(&[2, 6]),
            r(&[2, 2]),
        ],
    ));
    let gammas = [
        r(&[3]).map(|g| 1.0 + 0.5 * g),
        r(&[3]).map(|g| 1.0 + 0.5 * g),
    ];
    for ((name, training), gamma) in [
        ("batch_norm (train, N,C,H,W)", true),
        ("batch_norm (eval)", false),
    ]
    .into_iter()
    .zip(gammas)
    {
        cases.push((
            name,
            Box::new(move |v| {
                let mut stats = RunningStats::new(3);
                batch_norm(
                    &v[0],
                    &v[1],
                    &v[2],
                    &mut stats,
                    training,
                    &BatchNormConfig::default(),
                )
            }),
            vec![r(&[4, 3, 2, 2]), gamma, r(&[3])],
        ));
    }
    cases
}

fn main() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let options = GradcheckOptions::default();
    println!(
        "{:<40} {:>14} {:>14}",
        "op", "max rel error", "max abs error"
    );
    let mut worst: f64 = 0.0;
    let mut failures = 0;
    for (name, f, inputs) in cases(&mut rng) {
        let report = gradcheck(f, &inputs, &options)?;
        let ok = report.max_rel() < 1e-6;
        failures += usize::from(!ok);
        worst = worst.max(report.max_rel());
        println!(
            "{name:<40} {:>14.2e} {:>14.2e}  {}",
            report.max_rel(),
            report.max_abs(),
            if ok { "ok" } else { "FAIL" }
        );
    }
    println!("\nworst relative error {worst:.2e}; {failures} ops above 1e-6 (f64, central differences, ε = {:e})", options.eps);
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
