//! Convolution and pooling at the coursework shapes, batch 128, f32: forward + backward
//! (dW, db, and dX) per iteration. Throughput is declared in flops (2 per multiply-add of
//! forward, dW and dX), so criterion's "elements/s" reads as flop/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use melgrad::ops::conv::{conv2d, Conv2dOptions, ConvAlgorithm};
use melgrad::ops::conv2d_act_max_pool;
use melgrad::ops::pool::max_pool2d;
use melgrad::{Tape, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn conv_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv2d_fwd_bwd");
    group.sample_size(10);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // The coursework's first layers (1 channel, 80×80) and the improved model's deeper
    // 3×3 layers.
    for (c, o, k, hw) in [
        (1usize, 3usize, 8usize, 80usize),
        (1, 4, 4, 80),
        (8, 16, 3, 40),
        (16, 32, 3, 20),
        (32, 64, 3, 10),
    ] {
        let x = Tensor::<f32>::uniform(&[128, c, hw, hw], -1.0, 1.0, &mut rng);
        let w = Tensor::<f32>::uniform(&[o, c, k, k], -0.3, 0.3, &mut rng);
        let b = Tensor::<f32>::zeros(&[o]);
        let macs = 128 * o * c * k * k * hw * hw;
        group.throughput(Throughput::Elements((3 * 2 * macs) as u64));
        let algorithms = [
            ConvAlgorithm::Direct,
            ConvAlgorithm::Im2col,
            ConvAlgorithm::Windows,
        ];
        for algorithm in algorithms {
            let opts = Conv2dOptions::same().with_algorithm(algorithm);
            let name = format!("{c}to{o}_{k}x{k}_{hw}x{hw}_same_{algorithm:?}");
            group.bench_function(name, |bench| {
                bench.iter(|| {
                    let tape = Tape::new();
                    let (xv, wv, bv) = (
                        tape.leaf(x.clone()),
                        tape.leaf(w.clone()),
                        tape.leaf(b.clone()),
                    );
                    let y = conv2d(&xv, &wv, Some(&bv), &opts).unwrap();
                    let seed = Tensor::ones(y.shape());
                    y.backward_with(seed).unwrap()
                })
            });
        }
    }
    group.finish();
}

fn pool_step(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = Tensor::<f32>::uniform(&[128, 3, 80, 80], -1.0, 1.0, &mut rng);
    c.bench_function("max_pool2d_4x4_fwd_bwd_128x3x80x80", |bench| {
        bench.iter(|| {
            let tape = Tape::new();
            let xv = tape.leaf(x.clone());
            let y = max_pool2d(&xv, (4, 4), (4, 4)).unwrap();
            let seed = Tensor::ones(y.shape());
            y.backward_with(seed).unwrap()
        })
    });
}

/// The ParallelCnn's two fused Conv → LeakyReLU → MaxPool blocks as it trains them: the
/// input needs no gradient, so backward is dW and db only. Throughput is the forward
/// convolution's flops (2 per multiply-add) for `fwd`, and twice that for `fwd_bwd` (the
/// dense-equivalent dW), whatever the op actually computes.
fn conv_pool_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_pool");
    group.sample_size(10);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let x = Tensor::<f32>::uniform(&[128, 1, 80, 80], -80.0, 0.0, &mut rng);
    for (o, k, pool) in [(3usize, 8usize, 4usize), (4, 4, 2)] {
        let w = Tensor::<f32>::uniform(&[o, 1, k, k], -0.3, 0.3, &mut rng);
        let b = Tensor::<f32>::uniform(&[o], -0.1, 0.1, &mut rng);
        let flops = 2 * 128 * o * k * k * 80 * 80;
        let name = format!("1to{o}_{k}x{k}_pool{pool}");
        let opts = Conv2dOptions::same();
        let run = |tape: Option<&Tape<f32>>| {
            let var = |t: &Tensor<f32>| match tape {
                Some(tape) => tape.leaf(t.clone()),
                None => Var::constant(t.clone()),
            };
            let (xv, wv, bv) = (Var::constant(x.clone()), var(&w), var(&b));
            let y =
                conv2d_act_max_pool(&xv, &wv, Some(&bv), &opts, 0.3, (pool, pool), (pool, pool));
            y.unwrap()
        };
        group.throughput(Throughput::Elements(flops as u64));
        group.bench_function(format!("fwd/{name}"), |bench| bench.iter(|| run(None)));
        group.throughput(Throughput::Elements(2 * flops as u64));
        group.bench_function(format!("fwd_bwd/{name}"), |bench| {
            bench.iter(|| {
                let tape = Tape::new();
                let y = run(Some(&tape));
                let seed = Tensor::ones(y.shape());
                y.backward_with(seed).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, conv_step, pool_step, conv_pool_step);
criterion_main!(benches);
