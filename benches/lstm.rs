//! LSTM layer and dense layer, forward + backward, at the sizes the coursework models use.

use criterion::{criterion_group, criterion_main, Criterion};
use melgrad::kernels::gemm;
use melgrad::kernels::gemm_packed::{gemm_packed, PackedB, View};
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

/// CnnLstm's first LSTM: 18 steps of 6 features into 128 units, the whole sequence out.
fn lstm_cnn_lstm_shape(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Tensor::<f32>::uniform(&[128, 18, 6], -1.0, 1.0, &mut rng);
    let layer = Lstm::<f32>::new(6, 128, true, &mut rng);
    let (w, u, bias) = (
        Var::constant(layer.kernel.value.clone()),
        Var::constant(layer.recurrent_kernel.value.clone()),
        Var::constant(layer.bias.value.clone()),
    );
    let x = Var::constant(x);
    c.bench_function("lstm_fwd_n128_t18_f6_h128_seq", |b| {
        b.iter(|| black_box(ops::lstm(&x, &w, &u, &bias, None, None, true).unwrap()))
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

/// One recurrent step's product at CnnLstm's size (64 rows per thread, H = 128): the
/// general gemm (packs U on every call) against the product with U packed once.
fn recurrent_step_gemm(c: &mut Criterion) {
    let (m, k, n) = (64, 128, 512);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let a = Tensor::<f32>::uniform(&[m, k], -1.0, 1.0, &mut rng);
    let b = Tensor::<f32>::uniform(&[k, n], -1.0, 1.0, &mut rng);
    let mut out = vec![0.0f32; m * n];
    c.bench_function("step_gemm_64x128x512_general", |bench| {
        bench.iter(|| {
            gemm(m, k, n, a.data(), false, b.data(), false, 1.0, &mut out);
            black_box(&out);
        })
    });
    let packed = PackedB::new(k, n, b.data(), false);
    c.bench_function("step_gemm_64x128x512_packed_once", |bench| {
        bench.iter(|| {
            gemm_packed(m, View::rows(a.data(), k), &packed, true, &mut out, n);
            black_box(&out);
        })
    });
    // The same product reading and writing one step of (N, T, ·) sequences, T = 18.
    let (steps, rows) = (18, 128);
    let a_seq = vec![0.5f32; rows * steps * k];
    let mut c_seq = vec![0.0f32; rows * steps * n];
    c.bench_function("step_gemm_128x128x512_packed_once_strided_t18", |bench| {
        bench.iter(|| {
            let c_step = &mut c_seq[n..];
            let a_step = View::rows(&a_seq[k..], steps * k);
            gemm_packed(rows, a_step, &packed, true, c_step, steps * n);
            black_box(&c_seq);
        })
    });
}

criterion_group!(
    benches,
    lstm,
    lstm_cnn_lstm_shape,
    linear,
    recurrent_step_gemm
);
criterion_main!(benches);
