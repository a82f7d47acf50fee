//! Optimizer tests: the first steps against hand computations, convergence on convex
//! problems with known minima, exact resume through exported state, and bad input.
//!
//! Gradients come from a tape: two small ops are defined here with `Var::from_op`.

use super::*;
use crate::{Error, Float, Param, Tape, Tensor, Var};

/// `L = ½·Σ aᵢ·wᵢ²`, so `∂L/∂wᵢ = aᵢ·wᵢ` (a diagonal quadratic bowl, minimum at 0).
pub(super) fn bowl<T: Float>(w: &Var<T>, a: &[f64]) -> Var<T> {
    let wv: Vec<f64> = w.value().data().iter().map(|x| x.to_f64()).collect();
    let loss: f64 = wv.iter().zip(a).map(|(w, a)| 0.5 * a * w * w).sum();
    let a = a.to_vec();
    let shape = w.shape().to_vec();
    Var::from_op(
        "bowl",
        Tensor::scalar(T::from_f64(loss)),
        &[w],
        move |g, _| {
            let s = g.data()[0].to_f64();
            vec![Some(Tensor::from_fn(&shape, |i| {
                T::from_f64(s * a[i] * wv[i])
            }))]
        },
    )
}

/// Least squares `L = ½·‖A·w − b‖²` with A of `b.len()` × `w.len()` (row-major), so
/// `∂L/∂w = Aᵀ·(A·w − b)`.
pub(super) fn least_squares<T: Float>(w: &Var<T>, a: &[f64], b: &[f64]) -> Var<T> {
    let (m, n) = (b.len(), w.value().len());
    let wv: Vec<f64> = w.value().data().iter().map(|x| x.to_f64()).collect();
    let r: Vec<f64> = (0..m)
        .map(|i| (0..n).map(|j| a[i * n + j] * wv[j]).sum::<f64>() - b[i])
        .collect();
    let loss = 0.5 * r.iter().map(|x| x * x).sum::<f64>();
    let a = a.to_vec();
    let shape = w.shape().to_vec();
    Var::from_op(
        "least_squares",
        Tensor::scalar(T::from_f64(loss)),
        &[w],
        move |g, _| {
            let s = g.data()[0].to_f64();
            let grad = |j: usize| s * (0..m).map(|i| a[i * n + j] * r[i]).sum::<f64>();
            vec![Some(Tensor::from_fn(&shape, |j| T::from_f64(grad(j))))]
        },
    )
}

/// Gradients of `loss(vars)` for `params`; the tape is dropped on return, so the
/// parameters are uniquely owned again and the step updates them in place.
pub(super) fn grads_of<T: Float>(
    params: &[&Param<T>],
    loss: impl Fn(&[Var<T>]) -> Var<T>,
) -> Gradients<T> {
    let tape = Tape::new();
    let vars: Vec<Var<T>> = params.iter().map(|p| tape.param(p)).collect();
    loss(&vars).backward().unwrap()
}

const A: [f64; 2] = [1.0, 2.0];

/// Three steps on the bowl `a = [1, 2]` from `w = [1, −2]`; the parameter after each.
fn three_steps(opt: &mut dyn Optimizer<f64>) -> Vec<[f64; 2]> {
    let mut w = Param::new("w", Tensor::new(vec![1.0, -2.0], &[2]).unwrap());
    (0..3)
        .map(|_| {
            let grads = grads_of(&[&w], |v| bowl(&v[0], &A));
            opt.step(&mut [&mut w], &grads).unwrap();
            [w.value.data()[0], w.value.data()[1]]
        })
        .collect()
}

fn assert_steps(got: &[[f64; 2]], want: &[[f64; 2]], tol: f64) {
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        for i in 0..2 {
            assert!(
                (g[i] - w[i]).abs() <= tol,
                "step {}: w[{i}] = {} expected {}",
                t + 1,
                g[i],
                w[i]
            );
        }
    }
}

#[test]
fn sgd_plain_by_hand() {
    // lr 0.1, g = a·w:
    // t1: g = [1, −4]        w = [1 − 0.1, −2 + 0.4]        = [0.9, −1.6]
    // t2: g = [0.9, −3.2]    w = [0.9 − 0.09, −1.6 + 0.32]  = [0.81, −1.28]
    // t3: g = [0.81, −2.56]  w = [0.81 − 0.081, −1.28 + 0.256] = [0.729, −1.024]
    let got = three_steps(&mut Sgd::new(0.1));
    assert_steps(&got, &[[0.9, -1.6], [0.81, -1.28], [0.729, -1.024]], 1e-12);
}

#[test]
fn sgd_momentum_by_hand() {
    // lr 0.1, μ 0.9; v = μv + g, w −= lr·v:
    // t1: g = [1, −4]        v = [1, −4]                    w = [0.9, −1.6]
    // t2: g = [0.9, −3.2]    v = [0.9 + 0.9, −3.6 − 3.2] = [1.8, −6.8]
    //                        w = [0.9 − 0.18, −1.6 + 0.68] = [0.72, −0.92]
    // t3: g = [0.72, −1.84]  v = [1.62 + 0.72, −6.12 − 1.84] = [2.34, −7.96]
    //                        w = [0.72 − 0.234, −0.92 + 0.796] = [0.486, −0.124]
    let got = three_steps(&mut Sgd::new(0.1).with_momentum(0.9));
    assert_steps(&got, &[[0.9, -1.6], [0.72, -0.92], [0.486, -0.124]], 1e-12);
}

#[test]
fn sgd_nesterov_by_hand() {
    // lr 0.1, μ 0.9; v = μv + g, w −= lr·(g + μv):
    // t1: g = [1, −4]  v = [1, −4]  g+μv = [1.9, −7.6]  w = [0.81, −1.24]
    // t2: g = [0.81, −2.48]  v = [0.9 + 0.81, −3.6 − 2.48] = [1.71, −6.08]
    //     g+μv = [0.81 + 1.539, −2.48 − 5.472] = [2.349, −7.952]
    //     w = [0.81 − 0.2349, −1.24 + 0.7952] = [0.5751, −0.4448]
    // t3: g = [0.5751, −0.8896]  v = [1.539 + 0.5751, −5.472 − 0.8896] = [2.1141, −6.3616]
    //     g+μv = [0.5751 + 1.90269, −0.8896 − 5.72544] = [2.47779, −6.61504]
    //     w = [0.5751 − 0.247779, −0.4448 + 0.661504] = [0.327321, 0.216704]
    let got = three_steps(&mut Sgd::new(0.1).with_nesterov(0.9));
    assert_steps(
        &got,
        &[[0.81, -1.24], [0.5751, -0.4448], [0.327321, 0.216704]],
        1e-12,
    );
}

#[test]
fn sgd_weight_decay_by_hand() {
    // lr 0.1, μ 0.9, wd 0.5: g' = g + 0.5·w = [1.5, 2.5]·w
    // t1: g' = [1.5, −5]        v = [1.5, −5]             w = [0.85, −1.5]
    // t2: g' = [1.275, −3.75]   v = [1.35 + 1.275, −4.5 − 3.75] = [2.625, −8.25]
    //                           w = [0.85 − 0.2625, −1.5 + 0.825] = [0.5875, −0.675]
    // t3: g' = [0.88125, −1.6875]  v = [2.3625 + 0.88125, −7.425 − 1.6875] = [3.24375, −9.1125]
    //                           w = [0.5875 − 0.324375, −0.675 + 0.91125] = [0.263125, 0.23625]
    let got = three_steps(&mut Sgd::new(0.1).with_momentum(0.9).with_weight_decay(0.5));
    assert_steps(
        &got,
        &[[0.85, -1.5], [0.5875, -0.675], [0.263125, 0.23625]],
        1e-12,
    );
}

#[test]
fn adam_by_hand() {
    // lr 0.1, β1 0.9, β2 0.999, ε 1e-7; m̂ = m/(1−0.9ᵗ), v̂ = v/(1−0.999ᵗ)
    // t1: g = [1, −4]  m = [0.1, −0.4]  v = [0.001, 0.016]  m̂ = g, √v̂ = |g|
    //     w = w − 0.1·g/(|g| + 1e-7) = [1 − 0.1/(1+1e-7), −2 + 0.4/(4+1e-7)]
    //       = [0.90000001, −1.9000000025]
    // t2: g = [0.90000001, −3.800000005]
    //     m = 0.9·m + 0.1·g = [0.180000001, −0.7400000005]
    //     v = 0.999·v + 0.001·g² = [0.00180900002, 0.030424000038]
    //     m̂ = m/0.19 = [0.94736843, −3.89473684]   √v̂ = √(v/0.001999) = [0.95128991, 3.90123183]
    //     w = w − 0.1·m̂/(√v̂ + ε) = [0.80041225, −1.80016649]
    // t3: g = [0.80041225, −3.60033298]  m = [0.24204123, −1.02603330]
    //     v = [0.00244785078, 0.0433559736]  m̂ = m/0.271 = [0.89314105, −3.78610073]
    //     √v̂ = √(v/0.002997001) = [0.90375149, 3.80347904]  w = [0.70158630, −1.70062340]
    // (the 15-digit values below are the same computation carried in f64, and agree
    // with torch.optim.Adam(lr=0.1, eps=1e-7))
    let got = three_steps(&mut Adam::new(0.1));
    let want = [
        [0.900000009999999, -1.9000000025],
        [0.800412248082151, -1.800166490664226],
        [0.701586302555336, -1.700623398937303],
    ];
    assert_steps(&got, &want, 1e-12);
}

#[test]
fn adam_coupled_weight_decay_by_hand() {
    // wd 0.5 is added to the gradient: g' = g + 0.5·w = [1.5, −5] at t1, so
    // t1: w = [1 − 0.1·1.5/(1.5+1e-7), −2 + 0.1·5/(5+1e-7)] = [0.9000000066667, −1.900000002]
    // later steps as in adam_by_hand with g' (agree with torch.optim.Adam(weight_decay=0.5))
    let got = three_steps(&mut Adam::new(0.1).with_weight_decay(0.5));
    let want = [
        [0.900000006666666, -1.900000002],
        [0.800412241278517, -1.800166489653443],
        [0.701586292166107, -1.700623397406006],
    ];
    assert_steps(&got, &want, 1e-12);
}

#[test]
fn adamw_by_hand() {
    // lr 0.1, wd 0.1: first w ← (1 − 0.01)·w, then the Adam step with the gradient at
    // the undecayed w:
    // t1: w = [0.99, −1.98] − 0.1·[1/(1+1e-7), −4/(4+1e-7)] = [0.89000001, −1.8800000025]
    // t2: g = [0.89000001, −3.760000005]  w ← 0.99·w = [0.88110001, −1.861200002475]
    //     m = 0.9·[0.1, −0.4] + 0.1·g = [0.179000001, −0.7360000005]
    //     v = 0.999·[0.001, 0.016] + 0.001·g² = [0.0017911000178, 0.0301216000376]
    //     m̂ = m/0.19 = [0.94210527, −3.87368421]  √v̂ = √(v/0.001999) = [0.94657171, 3.88179523]
    //     w −= 0.1·m̂/(√v̂ + ε) → [0.88110001 − 0.09952814, −1.86120000 + 0.09979104]
    //                          = [0.78157188, −1.76140896]
    // t3 likewise (agree with torch.optim.AdamW(lr=0.1, eps=1e-7, weight_decay=0.1))
    let got = three_steps(&mut AdamW::new(0.1).with_weight_decay(0.1));
    let want = [
        [0.890000009999999, -1.8800000025],
        [0.781571875271971, -1.761408955120771],
        [0.675101251073556, -1.644368690413366],
    ];
    assert_steps(&got, &want, 1e-12);
}

// A coupled 3×2 least-squares problem: AᵀA = [[5, 5], [5, 11]] (eigenvalues ≈ 2.17 and
// 13.83), b = A·w* so the minimum is w* = [1.5, −0.5] with loss 0.
const LS_A: [f64; 6] = [2.0, 1.0, 1.0, 3.0, 0.0, 1.0];
const LS_W: [f64; 2] = [1.5, -0.5];

fn ls_b() -> Vec<f64> {
    (0..3)
        .map(|i| LS_A[2 * i] * LS_W[0] + LS_A[2 * i + 1] * LS_W[1])
        .collect()
}

/// Run `steps` steps from w = [0, 0]; the distance to w* at the end.
fn converge<T: Float>(opt: &mut dyn Optimizer<T>, steps: usize) -> f64 {
    let b = ls_b();
    let mut w = Param::new("w", Tensor::<T>::zeros(&[2]));
    for _ in 0..steps {
        let grads = grads_of(&[&w], |v| least_squares(&v[0], &LS_A, &b));
        opt.step(&mut [&mut w], &grads).unwrap();
    }
    let w = w.value.data();
    ((w[0].to_f64() - LS_W[0]).powi(2) + (w[1].to_f64() - LS_W[1]).powi(2)).sqrt()
}

#[test]
fn converges_on_least_squares() {
    // lr < 2/λmax ≈ 0.145 for plain gradient descent.
    let cases: Vec<(&str, Box<dyn Optimizer<f64>>, usize)> = vec![
        ("sgd", Box::new(Sgd::new(0.1)), 300),
        ("momentum", Box::new(Sgd::new(0.05).with_momentum(0.9)), 300),
        ("nesterov", Box::new(Sgd::new(0.05).with_nesterov(0.9)), 300),
        ("adam", Box::new(Adam::new(0.05)), 2000),
        // decoupled decay pulls towards 0, so no decay here; see adamw_decay_shrinks
        (
            "adamw",
            Box::new(AdamW::new(0.05).with_weight_decay(0.0)),
            2000,
        ),
    ];
    for (name, mut opt, steps) in cases {
        let d = converge(opt.as_mut(), steps);
        assert!(d < 1e-6, "{name}: |w − w*| = {d} after {steps} steps");
    }
    let d = converge::<f32>(&mut Adam::new(0.01), 3000);
    assert!(d < 1e-4, "adam f32: |w − w*| = {d}");
}

#[test]
fn adamw_decay_shrinks_the_solution() {
    // With decoupled decay the fixed point satisfies m̂/(√v̂+ε) = −wd·w, i.e. it is pulled
    // from w* towards 0: |w| ends below |w*| but near it for a small wd.
    let b = ls_b();
    let mut opt = AdamW::new(0.01).with_weight_decay(0.01);
    let mut w = Param::new("w", Tensor::<f64>::zeros(&[2]));
    for _ in 0..4000 {
        let grads = grads_of(&[&w], |v| least_squares(&v[0], &LS_A, &b));
        opt.step(&mut [&mut w], &grads).unwrap();
    }
    let (w0, w1) = (w.value.data()[0], w.value.data()[1]);
    let norm = (w0 * w0 + w1 * w1).sqrt();
    let target = (LS_W[0].powi(2) + LS_W[1].powi(2)).sqrt();
    assert!(norm < target && norm > 0.9 * target, "|w| = {norm}");
}

#[test]
fn ridge_via_penalty_converges_to_closed_form() {
    // Bowl ½·Σaᵢwᵢ² shifted to c: L = ½Σaᵢ(wᵢ−cᵢ)² = least squares with A = diag(√a),
    // b = √a·c. Adding l2·Σw² moves the minimum to wᵢ = aᵢcᵢ/(aᵢ + 2·l2).
    let (a, c, l2) = ([1.0f64, 4.0], [2.0, -1.0], 0.5);
    let ls_a = [a[0].sqrt(), 0.0, 0.0, a[1].sqrt()];
    let b = [a[0].sqrt() * c[0], a[1].sqrt() * c[1]];
    let penalty = Penalty::new(0.0, l2).unwrap();
    let mut opt = Sgd::new(0.1).with_momentum(0.5);
    let mut w = Param::new("w", Tensor::<f64>::zeros(&[2]));
    for _ in 0..300 {
        let mut grads = grads_of(&[&w], |v| least_squares(&v[0], &ls_a, &b));
        penalty.add_gradients(&[&w], &mut grads).unwrap();
        opt.step(&mut [&mut w], &grads).unwrap();
    }
    for i in 0..2 {
        let want = a[i] * c[i] / (a[i] + 2.0 * l2);
        assert!((w.value.data()[i] - want).abs() < 1e-9, "w[{i}]");
    }
}

/// Runs 3 steps with `first`, moves its state into `second` (built with other settings
/// where the state decides), then 3 more steps with each on identical parameters: the
/// results must be identical to the bit.
fn check_resume(mut first: Box<dyn Optimizer<f32>>, mut second: Box<dyn Optimizer<f32>>) {
    let b = ls_b();
    let loss = |v: &[Var<f32>]| least_squares(&v[0], &LS_A, &b);
    let mut w = Param::new(
        "layer.w",
        Tensor::<f32>::new(vec![0.3, -0.7], &[2]).unwrap(),
    );
    let mut unused = Param::new("layer.unused", Tensor::<f32>::zeros(&[3]));
    for _ in 0..3 {
        let grads = grads_of(&[&w], loss);
        first.step(&mut [&mut w, &mut unused], &grads).unwrap();
    }
    second.load_state(first.state()).unwrap();
    assert_eq!(second.learning_rate(), first.learning_rate());
    assert_eq!(second.steps(), 3);
    // A new process: new ParamIds, same names.
    let mut w2 = w.clone();
    assert_ne!(w2.id(), w.id());
    for _ in 0..3 {
        let g1 = grads_of(&[&w], loss);
        first.step(&mut [&mut w], &g1).unwrap();
        let g2 = grads_of(&[&w2], loss);
        second.step(&mut [&mut w2], &g2).unwrap();
        assert_eq!(w.value.data(), w2.value.data());
    }
    assert_eq!(first.state(), second.state());
}

#[test]
fn state_round_trip_resumes_exactly() {
    check_resume(
        Box::new(Sgd::new(0.03).with_nesterov(0.9)),
        Box::new(Sgd::new(1.0).with_nesterov(0.9)),
    );
    check_resume(Box::new(Adam::new(0.01)), Box::new(Adam::new(0.5)));
    check_resume(
        Box::new(AdamW::new(0.01).with_weight_decay(0.1)),
        Box::new(AdamW::new(0.5).with_weight_decay(0.1)),
    );
}

#[test]
fn state_is_keyed_by_name_with_step_counters() {
    let mut opt = Adam::<f64>::new(0.1);
    let _ = three_steps(&mut opt);
    let keys: Vec<String> = opt.state().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["/lr", "/steps", "w/m", "w/t", "w/v"]);
    let state = opt.state();
    let t = &state.iter().find(|(k, _)| k == "w/t").unwrap().1;
    assert_eq!(t.data(), [3.0, 0.0, 0.0, 0.0]);
}

#[test]
fn bad_state_is_rejected_and_changes_nothing() {
    let mut adam = Adam::<f64>::new(0.1);
    let _ = three_steps(&mut adam);
    let state = adam.state();
    // Adam's m and v mean nothing to SGD.
    let mut sgd = Sgd::<f64>::new(0.1).with_momentum(0.9);
    assert!(sgd.load_state(state.clone()).is_err());
    // Corrupt step counter: not an integer limb.
    let mut corrupt = state.clone();
    corrupt[1].1 = Tensor::new(vec![0.5, 0.0, 0.0, 0.0], &[4]).unwrap();
    let mut fresh = Adam::<f64>::new(0.2);
    assert!(fresh.load_state(corrupt).is_err());
    assert_eq!(fresh.learning_rate(), 0.2);
    assert_eq!(fresh.steps(), 0);
    // Missing v.
    let partial: Vec<_> = state.into_iter().filter(|(k, _)| k != "w/v").collect();
    assert!(fresh.load_state(partial).is_err());
}

#[test]
fn loaded_state_of_the_wrong_shape_is_an_error_naming_the_parameter() {
    let mut adam = Adam::<f64>::new(0.1);
    let _ = three_steps(&mut adam);
    let mut w = Param::new("w", Tensor::<f64>::ones(&[3]));
    let grads = grads_of(&[&w], |v| bowl(&v[0], &[1.0, 1.0, 1.0]));
    let err = adam.step(&mut [&mut w], &grads).unwrap_err().to_string();
    assert!(err.contains("w") && err.contains("[2]"), "{err}");
    assert_eq!(w.value.data(), [1.0, 1.0, 1.0]);
}

#[test]
fn bad_gradients_are_errors_naming_the_parameter_and_nothing_moves() {
    let mut a = Param::new("dense.kernel", Tensor::<f64>::ones(&[2]));
    let mut b = Param::new("dense.bias", Tensor::<f64>::ones(&[2]));
    // Non-finite gradient for b; a (listed first) must not move either.
    let grads = grads_of(&[&a, &b], |v| {
        let nan = Var::from_op("nan", Tensor::scalar(0.0), &[&v[1]], |_, _| {
            vec![Some(Tensor::full(&[2], f64::NAN))]
        });
        let pa = bowl(&v[0], &[1.0, 1.0]);
        Var::from_op("add", Tensor::scalar(0.0), &[&pa, &nan], |g, _| {
            vec![Some(g.clone()), Some(g.clone())]
        })
    });
    let mut opt = Sgd::new(0.1);
    let err = opt.step(&mut [&mut a, &mut b], &grads).unwrap_err();
    assert!(matches!(err, Error::NonFinite(_)), "{err}");
    assert!(err.to_string().contains("dense.bias"), "{err}");
    assert_eq!(a.value.data(), [1.0, 1.0]);
    assert_eq!(opt.steps(), 0);

    // A parameter whose value changed shape since the forward pass.
    let grads = grads_of(&[&a], |v| bowl(&v[0], &[1.0, 1.0]));
    a.value = Tensor::ones(&[5]);
    let err = Adam::new(0.1).step(&mut [&mut a], &grads).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    assert!(err.to_string().contains("dense.kernel"), "{err}");
}

#[test]
fn two_parameters_with_one_name_are_an_error() {
    let mut a = Param::new("w", Tensor::<f64>::ones(&[2]));
    let mut b = Param::new("w", Tensor::<f64>::ones(&[2]));
    let grads = grads_of(&[&a, &b], |v| {
        let pa = bowl(&v[0], &[1.0, 1.0]);
        let pb = bowl(&v[1], &[1.0, 1.0]);
        Var::from_op("add", Tensor::scalar(0.0), &[&pa, &pb], |g, _| {
            vec![Some(g.clone()), Some(g.clone())]
        })
    });
    let err = Adam::new(0.1).step(&mut [&mut a, &mut b], &grads);
    assert!(err.unwrap_err().to_string().contains("\"w\""));
}

#[test]
fn bad_hyperparameters_are_errors() {
    let mut w = Param::new("w", Tensor::<f64>::ones(&[2]));
    let grads = grads_of(&[&w], |v| bowl(&v[0], &A));
    let mut bad: Vec<Box<dyn Optimizer<f64>>> = vec![
        Box::new(Sgd::new(-0.1)),
        Box::new(Sgd::new(f64::NAN)),
        Box::new(Sgd::new(0.1).with_momentum(1.0)),
        Box::new(Sgd::new(0.1).with_nesterov(0.0)),
        Box::new(Adam::new(0.1).with_betas(1.0, 0.999)),
        Box::new(Adam::new(0.1).with_eps(0.0)),
        Box::new(AdamW::new(0.1).with_weight_decay(-1.0)),
    ];
    for opt in &mut bad {
        assert!(opt.step(&mut [&mut w], &grads).is_err());
    }
    assert_eq!(w.value.data(), [1.0, 1.0]);
}

#[test]
fn parameters_without_gradients_are_skipped() {
    let mut used = Param::new("used", Tensor::<f64>::ones(&[2]));
    let mut idle = Param::new("idle", Tensor::<f64>::ones(&[2]));
    let mut opt = Adam::new(0.1);
    let grads = grads_of(&[&used], |v| bowl(&v[0], &A));
    opt.step(&mut [&mut used, &mut idle], &grads).unwrap();
    assert_eq!(idle.value.data(), [1.0, 1.0]);
    assert_ne!(used.value.data(), [1.0, 1.0]);
    assert!(opt.state().iter().all(|(k, _)| !k.starts_with("idle")));
}

#[test]
fn steps_update_parameters_in_place() {
    // No allocation after the first step: the parameter keeps its storage.
    for mut opt in [
        Box::new(Sgd::new(0.1).with_momentum(0.9)) as Box<dyn Optimizer<f32>>,
        Box::new(Adam::new(0.1)),
    ] {
        let mut w = Param::new("w", Tensor::<f32>::ones(&[2]));
        let grads = grads_of(&[&w], |v| bowl(&v[0], &A));
        opt.step(&mut [&mut w], &grads).unwrap();
        let ptr = w.value.data().as_ptr();
        for _ in 0..3 {
            let grads = grads_of(&[&w], |v| bowl(&v[0], &A));
            opt.step(&mut [&mut w], &grads).unwrap();
            assert_eq!(w.value.data().as_ptr(), ptr);
        }
    }
}

#[test]
fn learning_rate_can_be_changed_between_steps() {
    let mut opt = Sgd::<f64>::new(0.1);
    opt.set_learning_rate(0.0);
    assert_eq!(opt.learning_rate(), 0.0);
    let got = three_steps(&mut opt);
    assert_eq!(got[2], [1.0, -2.0]);
}
