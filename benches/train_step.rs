//! One whole training step of each model — forward, softmax cross-entropy, backward and
//! the Adam update — on a batch of 128 segments of 80×80, as `melgrad train` runs it.
//! Regressions in any op a model uses show up here. Batches of a fixed random input:
//! the work per step does not depend on the values.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use melgrad::models::ModelKind;
use melgrad::nn::Ctx;
use melgrad::ops::softmax_cross_entropy;
use melgrad::optim::{Adam, Optimizer};
use melgrad::{Tape, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

const BATCH: usize = 128;
const CLASSES: usize = 8;

fn train_steps(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // Log-mel dB values in [-80, 0], as the extractor writes them.
    let x = Tensor::<f32>::uniform(&[BATCH, 1, 80, 80], -80.0, 0.0, &mut rng);
    let labels: Vec<usize> = (0..BATCH).map(|i| i % CLASSES).collect();
    let mut group = c.benchmark_group("train_step_batch128");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    for kind in [
        ModelKind::ParallelCnn,
        ModelKind::CnnLstm,
        ModelKind::CnnLstm2d,
        ModelKind::BnCnn,
        ModelKind::Mlp,
    ] {
        let mut model = kind.build::<f32>(CLASSES, 0).expect("model builds");
        let mut opt = Adam::new(1e-3);
        let mut step = 0u64;
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                let tape = Tape::new();
                let mut ctx = Ctx::train(&tape, step);
                step += 1;
                let logits = model.forward(&Var::constant(x.clone()), &mut ctx).unwrap();
                let loss = softmax_cross_entropy(&logits, &labels).unwrap();
                let grads = loss.backward().unwrap();
                drop((loss, logits, ctx, tape));
                opt.step(&mut model.params_mut(), &grads).unwrap();
                black_box(opt.steps())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, train_steps);
criterion_main!(benches);
