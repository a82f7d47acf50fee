//! Convolution and pooling at the coursework shapes, batch 128, f32: forward + backward
//! (dW, db, and dX) per iteration. Throughput is declared in flops (2 per multiply-add of
//! forward, dW and dX), so criterion's "elements/s" reads as flop/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use melgrad::ops::conv::{conv2d, Conv2dOptions, ConvAlgorithm};
use melgrad::ops::pool::max_pool2d;
use melgrad::{Tape, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn conv_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv2d_fwd_bwd");
    group.sample_size(10);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Tensor::<f32>::uniform(&[128, 1, 80, 80], -1.0, 1.0, &mut rng);
    for (o, k) in [(3usize, 8usize), (4, 4)] {
        let w = Tensor::<f32>::uniform(&[o, 1, k, k], -0.3, 0.3, &mut rng);
        let b = Tensor::<f32>::zeros(&[o]);
        let macs = 128 * o * k * k * 80 * 80;
        group.throughput(Throughput::Elements((3 * 2 * macs) as u64));
        for algorithm in [ConvAlgorithm::Direct, ConvAlgorithm::Im2col] {
            let opts = Conv2dOptions::same().with_algorithm(algorithm);
            let name = format!("1to{o}_{k}x{k}_same_{algorithm:?}");
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

criterion_group!(benches, conv_step, pool_step);
criterion_main!(benches);
