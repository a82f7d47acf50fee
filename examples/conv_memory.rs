//! Peak RSS of one training-style step at batch 128: Conv2d(1→3, 8×8, same) →
//! MaxPool2d(4×4) → backward (weight and bias gradients; the input is data). Compare
//! with `torch` doing the same (see the report). Linux only (reads VmHWM).
use melgrad::nn::conv::Conv2d;
use melgrad::nn::pool::MaxPool2d;
use melgrad::nn::{Ctx, Layer};
use melgrad::ops::conv::Conv2dOptions;
use melgrad::{Tape, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .expect("VmHWM");
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<f64>()
        .unwrap()
        / 1024.0
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let before = peak_rss_mb();
    let x = Tensor::<f32>::uniform(&[128, 1, 80, 80], -1.0, 1.0, &mut rng);
    let mut conv = Conv2d::new(1, 3, (8, 8), Conv2dOptions::same(), &mut rng).unwrap();
    let mut pool = MaxPool2d::square(4).unwrap();
    for step in 0..3 {
        let tape = Tape::new();
        let mut ctx = Ctx::train(&tape, step);
        let y = conv.forward(&Var::constant(x.clone()), &mut ctx).unwrap();
        let y = pool.forward(&y, &mut ctx).unwrap();
        let grads = y.backward_with(Tensor::ones(y.shape())).unwrap();
        assert!(grads.param(&conv.weight).is_some());
    }
    println!(
        "peak RSS {:.1} MB (baseline before the data {before:.1} MB)",
        peak_rss_mb()
    );
}
