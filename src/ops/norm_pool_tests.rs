use super::*;
use crate::autograd::{gradcheck, GradcheckOptions};
use crate::ops::batch_norm;
use crate::ops::pool::max_pool2d;
use crate::Tape;

/// Distinct, irregular values around a per-channel mean and spread, so every channel has
/// its own statistics; `ties` rounds them onto a coarse grid so windows hold equal values.
fn activations(shape: &[usize], ties: bool) -> Tensor<f64> {
    let channels = shape[1];
    let plane: usize = shape[2..].iter().product();
    Tensor::from_fn(shape, |i| {
        let c = (i / plane) % channels;
        let k = (i as u64 * 2654435761 + 97) % 10007;
        let v = (k as f64 / 10007.0 - 0.45) * (1.0 + c as f64) + 0.3 * c as f64;
        if ties {
            (v * 4.0).round() / 4.0
        } else {
            v
        }
    })
}

fn per_channel(values: &[f64]) -> Tensor<f64> {
    Tensor::new(values.to_vec(), &[values.len()]).unwrap()
}

fn starting_stats(channels: usize) -> RunningStats<f64> {
    RunningStats {
        mean: Tensor::from_fn(&[channels], |c| 0.1 * c as f64 - 0.1),
        var: Tensor::from_fn(&[channels], |c| 0.5 + 0.25 * c as f64),
    }
}

const CONFIG: BatchNormConfig = BatchNormConfig {
    momentum: 0.9,
    epsilon: 1e-3,
};

/// One case: the input, γ, β, mode and pool.
struct Case {
    z: Tensor<f64>,
    gamma: Vec<f64>,
    beta: Vec<f64>,
    training: bool,
    pool: Option<PoolWindow>,
}

/// What a run yields: output, gradients of (z, γ, β), running statistics afterwards.
type Run = (Tensor<f64>, Vec<Tensor<f64>>, RunningStats<f64>);

impl Case {
    fn run(&self, fused: bool) -> Run {
        let tape = Tape::new();
        let z = tape.leaf(self.z.clone());
        let gamma = tape.leaf(per_channel(&self.gamma));
        let beta = tape.leaf(per_channel(&self.beta));
        let mut stats = starting_stats(self.gamma.len());
        let y = if fused {
            // z made by an op and dropped after the forward pass, as in a model: backward
            // then writes dz into z's own storage (the leaf itself stays untouched).
            let z_inner = z.mul_scalar(1.0);
            let (training, pool) = (self.training, self.pool);
            batch_norm_relu_max_pool2d(&z_inner, &gamma, &beta, &mut stats, training, &CONFIG, pool)
        } else {
            let v = batch_norm(&z, &gamma, &beta, &mut stats, self.training, &CONFIG).unwrap();
            match self.pool {
                Some(w) => max_pool2d(&v.relu(), w.size, w.stride),
                None => Ok(v.relu()),
            }
        }
        .unwrap();
        // A non-uniform seed so every output's gradient matters differently.
        let seed = Tensor::from_fn(y.shape(), |i| {
            1.0 + (i % 7) as f64 * 0.25 - 0.5 * (i % 3) as f64
        });
        let grads = y.backward_with(seed).unwrap();
        assert_eq!(
            z.value(),
            &self.z,
            "backward must not write into a tensor others hold"
        );
        let g = [&z, &gamma, &beta].map(|v| grads.get(v).unwrap().clone());
        (y.value().clone(), g.to_vec(), stats)
    }

    /// The fused op and batch_norm → relu → max_pool2d agree on the output, on every
    /// gradient and on the running statistics.
    fn check_against_chain(&self) {
        let (y_fused, g_fused, s_fused) = self.run(true);
        let (y_chain, g_chain, s_chain) = self.run(false);
        assert_eq!(y_fused.shape(), y_chain.shape());
        assert!(
            y_fused.max_abs_diff(&y_chain).unwrap() < 1e-10,
            "outputs differ"
        );
        for (name, (a, b)) in ["z", "gamma", "beta"]
            .iter()
            .zip(g_fused.iter().zip(&g_chain))
        {
            let diff = a.max_abs_diff(b).unwrap();
            assert!(diff < 1e-10, "d{name} differs by {diff}");
        }
        assert!(s_fused.mean.max_abs_diff(&s_chain.mean).unwrap() < 1e-12);
        assert!(s_fused.var.max_abs_diff(&s_chain.var).unwrap() < 1e-12);
        if !self.training {
            let start = starting_stats(self.gamma.len());
            assert_eq!((s_fused.mean, s_fused.var), (start.mean, start.var));
        }
    }

    /// Central differences against the tape in f64 (values without ties). Every output
    /// depends on its channel's statistics, so the roundoff of the loss, divided by 2ε,
    /// reaches ~5e-9 at the default ε = 1e-6 on these shapes (the separate ops give the
    /// same numbers): ε = 1e-5 cuts it tenfold and is still ten times smaller than the
    /// gaps between inputs, so no winner changes.
    fn gradcheck(&self) {
        let inputs = [
            self.z.clone(),
            per_channel(&self.gamma),
            per_channel(&self.beta),
        ];
        let (training, pool) = (self.training, self.pool);
        gradcheck(
            |v| {
                let mut stats = starting_stats(v[1].shape()[0]);
                batch_norm_relu_max_pool2d(&v[0], &v[1], &v[2], &mut stats, training, &CONFIG, pool)
            },
            &inputs,
            &GradcheckOptions {
                eps: 1e-5,
                ..GradcheckOptions::default()
            },
        )
        .unwrap()
        .check(1e-6)
        .unwrap();
    }
}

fn window(size: usize, stride: usize) -> Option<PoolWindow> {
    Some(PoolWindow {
        size: (size, size),
        stride: (stride, stride),
    })
}

#[test]
fn train_mode_with_pool_matches_the_chain() {
    let case = Case {
        z: activations(&[2, 3, 5, 6], false),
        gamma: vec![1.3, 0.7, 2.0],
        beta: vec![0.1, -0.2, 0.4],
        training: true,
        pool: window(2, 2),
    };
    case.check_against_chain();
    case.gradcheck();
}

#[test]
fn negative_gamma_pools_the_smallest_inputs() {
    let case = Case {
        z: activations(&[2, 3, 7, 6], false),
        gamma: vec![-1.1, 0.8, -0.4],
        beta: vec![0.3, 0.0, 0.2],
        training: true,
        pool: window(2, 2),
    };
    case.check_against_chain();
    case.gradcheck();
}

#[test]
fn eval_mode_with_pool_matches_the_chain() {
    let case = Case {
        z: activations(&[2, 3, 6, 6], false),
        gamma: vec![0.9, -1.2, 1.5],
        beta: vec![0.0, 0.5, -0.3],
        training: false,
        pool: window(2, 2),
    };
    case.check_against_chain();
    case.gradcheck();
}

#[test]
fn overlapping_and_uneven_windows_match_the_chain() {
    for training in [true, false] {
        let case = Case {
            z: activations(&[2, 2, 7, 5], false),
            gamma: vec![1.4, -0.6],
            beta: vec![0.2, 0.1],
            training,
            pool: Some(PoolWindow {
                size: (3, 2),
                stride: (2, 1),
            }),
        };
        case.check_against_chain();
        case.gradcheck();
    }
}

#[test]
fn without_a_pool_matches_batch_norm_then_relu() {
    for shape in [vec![3, 2, 5, 4], vec![4, 3, 7], vec![6, 3]] {
        for training in [true, false] {
            let case = Case {
                z: activations(&shape, false),
                gamma: [1.2, -0.7, 0.5][..shape[1]].to_vec(),
                beta: [0.1, 0.2, -0.1][..shape[1]].to_vec(),
                training,
                pool: None,
            };
            case.check_against_chain();
            case.gradcheck();
        }
    }
}

#[test]
fn ties_go_to_the_first_maximum_as_in_max_pool2d() {
    // Values on a coarse grid tie inside windows; γ = 0 makes a whole channel one value.
    for (training, pool) in [(true, window(2, 2)), (false, window(3, 1)), (true, None)] {
        Case {
            z: activations(&[2, 3, 8, 8], true),
            gamma: vec![1.0, 0.0, -2.0],
            beta: vec![0.2, 0.5, 0.1],
            training,
            pool,
        }
        .check_against_chain();
    }
}

#[test]
fn bad_inputs_are_errors_and_leave_the_statistics() {
    let z = |s: &[usize]| Var::constant(Tensor::<f64>::zeros(s));
    let run = |x: &[usize], c: usize, training: bool, pool: Option<PoolWindow>| {
        let mut stats = RunningStats::new(3);
        let result = batch_norm_relu_max_pool2d(
            &z(x),
            &z(&[c]),
            &z(&[c]),
            &mut stats,
            training,
            &CONFIG,
            pool,
        );
        assert_eq!(stats.mean.data(), &[0.0; 3], "statistics moved for {x:?}");
        result
    };
    assert!(run(&[2, 3, 4, 4], 3, true, window(2, 2)).is_ok());
    assert!(
        run(&[0, 3, 4, 4], 3, false, window(2, 2)).is_ok(),
        "an empty batch"
    );
    assert!(run(&[2, 3, 0], 3, false, None).is_ok(), "empty planes");
    assert!(
        run(&[2, 3, 8], 3, true, window(2, 2)).is_err(),
        "3-d input to a 2-d pool"
    );
    assert!(
        run(&[2, 3, 4, 4], 3, true, window(5, 5)).is_err(),
        "window larger than the plane"
    );
    assert!(
        run(&[2, 3, 4, 4], 3, true, window(0, 1)).is_err(),
        "empty window"
    );
    assert!(
        run(&[2, 3, 4, 4], 2, true, window(2, 2)).is_err(),
        "γ of the wrong length"
    );
    assert!(
        run(&[1, 3, 1, 1], 3, true, None).is_err(),
        "one value per channel in train mode"
    );
    assert!(run(&[2, 3, 1, 1, 1], 3, false, None).is_err(), "5-d input");
    let err = run(&[2, 3, 8], 3, true, window(2, 2)).unwrap_err();
    assert!(
        err.to_string().contains("batch_norm_relu_max_pool2d"),
        "{err}"
    );
}
