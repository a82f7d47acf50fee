//! Optimizer step throughput on one 1M-element f32 parameter (a large dense kernel).
//! The gradient comes from a one-node tape; its cost is excluded by building it outside
//! the timed closure and stepping with the same gradients repeatedly.

use criterion::{criterion_group, criterion_main, Criterion};
use melgrad::optim::{Adam, AdamW, Optimizer, Sgd};
use melgrad::{Param, Tape, Tensor, Var};

const N: usize = 1 << 20;

fn bench_steps(c: &mut Criterion) {
    let mut w = Param::new("w", Tensor::<f32>::from_fn(&[N], |i| (i % 7) as f32 * 0.1));
    let grads = {
        let tape = Tape::new();
        let v = tape.param(&w);
        // L = Σw, so ∂L/∂w = 1 (kept small so the parameter stays finite over many steps).
        let loss = Var::from_op("sum", Tensor::scalar(0.0), &[&v], |g, _| {
            vec![Some(Tensor::full(&[N], g.data()[0] * 1e-3))]
        });
        loss.backward().unwrap()
    };
    let mut group = c.benchmark_group("optim_step_1M_f32");
    let cases: Vec<(&str, Box<dyn Optimizer<f32>>)> = vec![
        ("sgd", Box::new(Sgd::new(1e-3))),
        (
            "sgd_nesterov_wd",
            Box::new(Sgd::new(1e-3).with_nesterov(0.9).with_weight_decay(1e-4)),
        ),
        ("adam", Box::new(Adam::new(1e-3))),
        ("adamw", Box::new(AdamW::new(1e-3))),
    ];
    for (name, mut opt) in cases {
        group.bench_function(name, |b| {
            b.iter(|| opt.step(&mut [&mut w], &grads).unwrap())
        });
    }
    // Reference: one bare fused multiply-subtract pass over the same memory, the floor
    // for any first-order update (the load on a shared machine scales both alike).
    let (mut x, y) = (vec![0.5f32; N], vec![1e-3f32; N]);
    group.bench_function("baseline_axpy", |b| {
        b.iter(|| {
            for (x, &y) in x.iter_mut().zip(&y) {
                *x -= 1e-3 * y;
            }
            std::hint::black_box(&x);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_steps);
criterion_main!(benches);
