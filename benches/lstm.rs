//! LSTM layer and dense layer, forward + backward, at the sizes the coursework models use.

use criterion::{criterion_group, criterion_main, Criterion};
use melgrad::nn::{Ctx, Layer, Linear, Lstm};
use melgrad::{ops, Tape, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

/// One forward + backward of `layer` on `x`, seeded with ones.
fn step(layer: &mut impl Layer<f32>, x: &Tensor<f32>) {
    let tape = Tape::new();
    let mut ctx = Ctx::train(&tape, 0);
    let y = layer.forward(&tape.leaf(x.clone()), &mut ctx).unwrap();
    let grads = y.backward_with(Tensor::ones(y.shape())).unwrap();
    black_box(grads.param(layer.params()[0]).unwrap());
}

fn lstm(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Tensor::<f32>::uniform(&[128, 20, 120], -1.0, 1.0, &mut rng);
    let mut layer = Lstm::<f32>::new(120, 128, false, &mut rng);
    c.bench_function("lstm_fwd_bwd_n128_t20_f120_h128", |b| {
        b.iter(|| step(&mut layer, &x))
    });
    c.bench_function("lstm_fwd_n128_t20_f120_h128", |b| {
        let (w, u, bias) = (
            Var::constant(layer.kernel.value.clone()),
            Var::constant(layer.recurrent_kernel.value.clone()),
            Var::constant(layer.bias.value.clone()),
        );
        let x = Var::constant(x.clone());
        b.iter(|| black_box(ops::lstm(&x, &w, &u, &bias, None, None, false).unwrap()))
    });
}

fn linear(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Tensor::<f32>::uniform(&[128, 7600], -1.0, 1.0, &mut rng);
    let mut layer = Linear::<f32>::new(7600, 8, &mut rng);
    c.bench_function("linear_fwd_bwd_128x7600x8", |b| {
        b.iter(|| step(&mut layer, &x))
    });
}

criterion_group!(benches, lstm, linear);
criterion_main!(benches);
