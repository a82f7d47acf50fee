//! SIMD kernels against their scalar references on 64 Ki f32 elements (a conv feature map
//! batch), softmax over (4096, 10) logits, and the transposes of the windowed convolution
//! (one 40 × 40 sample's 16 output planes to and from pixel rows).

use criterion::{criterion_group, criterion_main, Criterion};
use melgrad_kernels::{activation as act, reduce, transpose};
use std::hint::black_box;

const N: usize = 1 << 16;

fn bench(c: &mut Criterion) {
    let x: Vec<f32> = (0..N)
        .map(|i| ((i * 7919) % 1000) as f32 * 0.01 - 5.0)
        .collect();
    let dy: Vec<f32> = (0..N).map(|i| ((i * 31) % 17) as f32 * 0.1 - 0.8).collect();
    let mut y = vec![0.0f32; N];
    let mut g = c.benchmark_group("f32_64k");
    type Unary = fn(&[f32], &mut [f32]);
    let unary: [(&str, Unary, Unary); 4] = [
        ("sigmoid", act::sigmoid, act::reference::sigmoid),
        ("tanh", act::tanh, act::reference::tanh),
        ("exp", act::exp, act::reference::exp),
        ("relu", act::relu, act::reference::relu),
    ];
    for (name, fast, slow) in unary {
        g.bench_function(format!("{name}/simd"), |b| {
            b.iter(|| fast(black_box(&x), &mut y))
        });
        g.bench_function(format!("{name}/scalar"), |b| {
            b.iter(|| slow(black_box(&x), &mut y))
        });
    }
    g.bench_function("leaky_relu_backward/simd", |b| {
        b.iter(|| act::leaky_relu_backward(0.3, black_box(&x), &dy, &mut y))
    });
    g.bench_function("leaky_relu_backward/scalar", |b| {
        b.iter(|| act::reference::leaky_relu_backward(0.3, black_box(&x), &dy, &mut y))
    });
    g.bench_function("sum/simd", |b| b.iter(|| reduce::sum(black_box(&x))));
    g.bench_function("sum/scalar", |b| {
        b.iter(|| reduce::reference::sum(black_box(&x)))
    });
    let logits = &x[..4096 * 10];
    let mut p = vec![0.0f32; 4096 * 10];
    g.bench_function("softmax_4096x10/simd", |b| {
        b.iter(|| reduce::softmax_rows(black_box(logits), 10, &mut p))
    });
    g.bench_function("softmax_4096x10/scalar", |b| {
        b.iter(|| reduce::reference::softmax_rows(black_box(logits), 10, &mut p))
    });
    // 1600 pixels × 16 channels, as the improved model's second convolution moves them.
    let (pixels, channels) = (1600, 16);
    let rows = &x[..pixels * channels];
    let mut planes = vec![0.0f32; pixels * channels];
    g.bench_function("transpose_1600x16/simd", |b| {
        b.iter(|| {
            let (src, dst) = ((black_box(rows), channels), (&mut planes[..], pixels));
            transpose::transpose((pixels, channels), src, dst, false)
        })
    });
    g.bench_function("transpose_1600x16/scalar", |b| {
        b.iter(|| {
            let (src, dst) = ((black_box(rows), channels), (&mut planes[..], pixels));
            transpose::transpose_reference((pixels, channels), src, dst, false)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
