//! Batch norm's eval mode must reproduce train mode once the running statistics have
//! converged to the data's statistics.

use melgrad::ops::{batch_norm, BatchNormConfig, RunningStats};
use melgrad::{Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn eval_mode_matches_train_mode_with_converged_statistics() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let shape = [64, 3, 5, 5];
    // Channel c has mean 5c − 3 and standard deviation c + 1.
    let noise = Tensor::<f64>::randn(&shape, 1.0, &mut rng);
    let x = Tensor::from_fn(&shape, |i| {
        let c = (i / 25) % 3;
        (5 * c) as f64 - 3.0 + (c as f64 + 1.0) * noise.data()[i]
    });
    let gamma = Var::constant(Tensor::from_fn(&[3], |c| 0.5 + c as f64));
    let beta = Var::constant(Tensor::from_fn(&[3], |c| c as f64 - 1.0));
    let x = Var::constant(x);
    let config = BatchNormConfig {
        momentum: 0.0,
        ..BatchNormConfig::default()
    };
    let mut stats = RunningStats::new(3);
    let train = batch_norm(&x, &gamma, &beta, &mut stats, true, &config).unwrap();
    for c in 0..3 {
        let m = stats.mean.data()[c];
        assert!(
            (m - (5 * c) as f64 + 3.0).abs() < 0.5,
            "channel {c}: running mean {m}"
        );
    }
    let eval = batch_norm(&x, &gamma, &beta, &mut stats, false, &config).unwrap();
    // Running variance is unbiased (× m/(m−1), m = 1600), so the two differ by ~3e-4.
    let diff = train.value().max_abs_diff(eval.value()).unwrap();
    assert!(diff < 1e-2, "eval and train outputs differ by {diff}");
}
