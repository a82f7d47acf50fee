//! Whole-graph checks of the ops: gradient accumulation through a value used twice, a
//! gradcheck that catches a wrong backward, a small network end to end, and inference
//! that records nothing.

use melgrad::autograd::{gradcheck, GradcheckOptions};
use melgrad::ops::{self, softmax_cross_entropy};
use melgrad::{Float, Result, Tape, Tensor, Var};

fn opts() -> GradcheckOptions {
    GradcheckOptions::default()
}

fn input(shape: &[usize], seed: usize) -> Tensor<f64> {
    Tensor::from_fn(shape, |i| ((i * 29 + seed * 11) % 19) as f64 * 0.11 - 1.0)
}

#[test]
fn value_used_twice_gets_both_contributions() {
    // y = Σ (x·x + x): dy/dx = 2x + 1, both paths through x summed.
    let x = Tensor::new(vec![-1.5, 0.25, 2.0], &[3]).unwrap();
    let tape = Tape::new();
    let v = tape.leaf(x.clone());
    let y = v.mul(&v).unwrap().add(&v).unwrap().sum();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&v).unwrap().data(), &[-2.0, 1.5, 5.0]);
    let r = gradcheck(|v| v[0].mul(&v[0])?.add(&v[0]), &[x], &opts()).unwrap();
    r.check(1e-6).unwrap();
}

/// A sigmoid whose backward forgets the `(1 − y)` factor.
fn broken_sigmoid<T: Float>(x: &Var<T>) -> Var<T> {
    let y = x.value().map(Float::sigmoid);
    let kept = y.clone();
    Var::from_op("broken_sigmoid", y, &[x], move |g, _| {
        vec![Some(g.zip_map(&kept, |g, y| g * y).unwrap())]
    })
}

#[test]
fn gradcheck_catches_a_wrong_backward() {
    let x = input(&[2, 3], 0);
    let report = gradcheck(
        |v| Ok(broken_sigmoid(&v[0])),
        std::slice::from_ref(&x),
        &opts(),
    )
    .unwrap();
    let err = report.check(1e-6).unwrap_err().to_string();
    assert!(err.contains("gradcheck failed"), "{err}");
    assert!(report.max_rel() > 0.1, "{}", report.max_rel());
    // The correct op passes on the same input: the failure is the backward's fault.
    let good = gradcheck(|v| Ok(ops::sigmoid(&v[0])), &[x], &opts()).unwrap();
    good.check(1e-6).unwrap();
}

/// Two dense layers with a shared-weight batched matmul, bias broadcast, leaky ReLU,
/// concat, narrow and the fused loss: every op's backward composed.
fn small_net(v: &[Var<f64>], labels: &[usize]) -> Result<Var<f64>> {
    let (x, w1, b1, w2) = (&v[0], &v[1], &v[2], &v[3]);
    let h = x.matmul(w1)?.add(b1)?.leaky_relu(0.3); // (2, 3, 4)
    let h = ops::concat(&[&h, &h.tanh()], 2)?; // (2, 3, 8)
    let h = h.permute(&[1, 0, 2])?.narrow(0, 1, 2)?; // (2, 2, 8)
    let logits = h.mean_axes(&[0], false)?.matmul(w2)?; // (2, 3)
    softmax_cross_entropy(&logits, labels)
}

#[test]
fn small_network_gradcheck() {
    let inputs = [
        input(&[2, 3, 5], 1),
        input(&[5, 4], 2),
        input(&[4], 3),
        input(&[8, 3], 4),
    ];
    let r = gradcheck(|v| small_net(v, &[2, 0]), &inputs, &opts()).unwrap();
    r.check(1e-6).unwrap();
}

#[test]
fn inference_records_nothing() {
    let tape = Tape::<f64>::new();
    let recorded = tape.leaf(input(&[2, 5], 0));
    let before = tape.len();
    let x = Var::constant(input(&[2, 3, 5], 1));
    let params: Vec<Var<f64>> = [&[5, 4][..], &[4], &[8, 3]]
        .iter()
        .enumerate()
        .map(|(i, s)| Var::constant(input(s, i + 2)))
        .collect();
    let loss = small_net(
        &[x, params[0].clone(), params[1].clone(), params[2].clone()],
        &[1, 1],
    )
    .unwrap();
    assert!(!loss.is_recorded());
    assert!(loss.backward().is_err());
    assert_eq!(tape.len(), before, "constants must not touch any tape");
    // Mixing in a recorded value records again.
    let y = recorded.mul_scalar(2.0).sum();
    assert!(y.is_recorded());
    assert_eq!(tape.len(), before + 2);
}
