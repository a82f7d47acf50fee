//! The tape over a training run: memory is released after every step, and misuse of
//! `backward` is an error, not a panic.

use melgrad::ops::{mse, softmax_cross_entropy};
use melgrad::{Error, Param, Tape, Tensor, Var};

/// True when no one else holds the parameter's storage: writing to it does not copy.
fn storage_is_unique(p: &mut Param<f32>) -> bool {
    let before = p.value.data().as_ptr();
    p.value.data_mut().as_ptr() == before
}

/// One SGD step of a tiny classifier on a fresh tape. Returns the loss, the number of
/// nodes the step recorded, and whether the parameters' storage was free again once the
/// step's tape and vars were dropped (checked before the update writes to it, since a
/// write to shared storage would copy and hide a leak).
fn step(
    w: &mut Param<f32>,
    b: &mut Param<f32>,
    x: &Tensor<f32>,
    labels: &[usize],
) -> (f32, usize, bool) {
    let tape = Tape::new();
    let (wv, bv) = (tape.param(w), tape.param(b));
    let logits = Var::constant(x.clone())
        .matmul(&wv)
        .unwrap()
        .add(&bv)
        .unwrap()
        .relu();
    let loss = softmax_cross_entropy(&logits, labels).unwrap();
    let mut grads = loss.backward().unwrap();
    let nodes = tape.len();
    let (gw, gb) = (grads.take_param(w).unwrap(), grads.take_param(b).unwrap());
    let value = loss.value().item().unwrap();
    drop((tape, wv, bv, logits, loss, grads));
    let released = storage_is_unique(w) && storage_is_unique(b);
    for (p, g) in [(w, gw), (b, gb)] {
        for (v, d) in p.value.data_mut().iter_mut().zip(g.data()) {
            *v -= 0.5 * d;
        }
    }
    (value, nodes, released)
}

#[test]
fn memory_does_not_grow_over_steps() {
    let x = Tensor::from_fn(&[6, 4], |i| ((i * 7) % 5) as f32 * 0.3 - 0.5);
    let labels = [0, 1, 2, 0, 1, 2];
    let mut w = Param::new(
        "w",
        Tensor::from_fn(&[4, 3], |i| (i as f32 * 0.37).sin() * 0.5),
    );
    let mut b = Param::new("b", Tensor::full(&[3], 0.1));
    let (first, nodes0, _) = step(&mut w, &mut b, &x, &labels);
    let mut last = first;
    for _ in 0..100 {
        let (loss, nodes, released) = step(&mut w, &mut b, &x, &labels);
        assert_eq!(nodes, nodes0, "each step records the same graph");
        assert!(
            released,
            "a step kept the parameters alive after its tape was dropped"
        );
        last = loss;
    }
    assert!(
        last < first,
        "training should lower the loss: {first} → {last}"
    );

    // Control: while a tape holds the parameter, its storage is shared, so the check
    // above can fail.
    let tape = Tape::new();
    let held = tape.param(&w);
    assert!(!storage_is_unique(&mut w));
    drop((held, tape));
}

#[test]
fn dropping_an_undifferentiated_tape_frees_it() {
    let mut w = Param::new("w", Tensor::<f32>::ones(&[3, 3]));
    {
        let tape = Tape::new();
        let wv = tape.param(&w);
        let _unused_loss = wv.matmul(&wv).unwrap().sum();
    }
    assert!(storage_is_unique(&mut w));

    // Control: a live tape whose closures never ran still holds the value it captured
    // (matmul keeps both operands for its backward), even with the param var dropped.
    let tape = Tape::new();
    let loss = tape
        .param(&w)
        .matmul(&Var::constant(Tensor::ones(&[3, 3])))
        .unwrap()
        .sum();
    assert!(!storage_is_unique(&mut w));
    drop((loss, tape));
    assert!(storage_is_unique(&mut w));
}

#[test]
fn backward_twice_is_an_error() {
    let tape = Tape::new();
    let x = tape.leaf(Tensor::<f64>::from_fn(&[3], |i| i as f64));
    let loss = mse(&x.exp(), &Var::constant(Tensor::zeros(&[3]))).unwrap();
    assert!(loss.backward().is_ok());
    match loss.backward() {
        Err(Error::Autograd(msg)) => assert!(msg.contains("once"), "{msg}"),
        other => panic!("expected an autograd error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn backward_on_a_non_scalar_is_an_error() {
    let tape = Tape::new();
    let x = tape.leaf(Tensor::<f64>::ones(&[2, 2]));
    let y = x.sigmoid();
    let err = y.backward().err().expect("non-scalar backward must fail");
    assert!(err.to_string().contains("scalar"), "{err}");
    // The same graph can still be differentiated with an explicit seed.
    assert!(y.backward_with(Tensor::ones(&[2, 2])).is_ok());
}
