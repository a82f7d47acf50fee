//! Single-thread timing of the improved model's BatchNorm → ReLU → MaxPool blocks at
//! batch 128, fused (`batch_norm_relu_max_pool2d`) against the three separate ops,
//! forward and backward, in on-CPU time (CLOCK_THREAD_CPUTIME_ID), so the
//! figures hold on a machine shared with other jobs. Linux only.
use melgrad::ops::pool::max_pool2d;
use melgrad::ops::RunningStats;
use melgrad::ops::{batch_norm, batch_norm_relu_max_pool2d, BatchNormConfig, PoolWindow};
use melgrad::{Tape, Tensor, Var};

// As the CLI: glibc would hand batch-sized buffers back to the kernel on every step.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Nanoseconds this thread has spent on a CPU.
fn cpu_ns() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write into.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    t.tv_sec as f64 * 1e9 + t.tv_nsec as f64
}

/// Median on-CPU milliseconds of (forward, backward) over `reps` steps. `block` gets the
/// conv output as a var that nothing else holds (as in a model) and returns the output.
fn time_block(
    reps: usize,
    z: &Tensor<f32>,
    block: impl Fn(&Var<f32>, &Var<f32>, &Var<f32>) -> Var<f32>,
) -> (f64, f64) {
    let channels = z.shape()[1];
    let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
    for _ in 0..reps + 1 {
        let tape = Tape::new();
        let gamma = tape.leaf(Tensor::from_fn(&[channels], |c| 1.0 - 0.1 * c as f32));
        let beta = tape.leaf(Tensor::from_fn(&[channels], |c| 0.05 * c as f32));
        // A fresh copy on the tape: the block's input is then held by nothing but the op.
        let z_var = tape.leaf(z.clone()).mul_scalar(1.0);
        let t = cpu_ns();
        let y = block(&z_var, &gamma, &beta);
        fwd.push(cpu_ns() - t);
        drop(z_var);
        let seed = Tensor::from_fn(y.shape(), |i| (i % 7) as f32 * 0.25 - 0.5);
        let t = cpu_ns();
        // Includes mul_scalar's backward (one pass over z's gradient) on both sides.
        let grads = y.backward_with(seed).unwrap();
        bwd.push(cpu_ns() - t);
        drop(grads);
    }
    let median = |v: &mut Vec<f64>| {
        v.remove(0); // warm-up
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] / 1e6
    };
    (median(&mut fwd), median(&mut bwd))
}

fn main() {
    // Run on the pool's one worker, so its parallel loops run on the thread timed here.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(run);
}

fn run() {
    let config = BatchNormConfig {
        momentum: 0.9,
        ..BatchNormConfig::default()
    };
    let pool = Some(PoolWindow {
        size: (2, 2),
        stride: (2, 2),
    });
    for (c, hw, pooled) in [
        (8, 80, true),
        (16, 40, true),
        (32, 20, true),
        (64, 10, false),
    ] {
        let shape = [128, c, hw, hw];
        let z = Tensor::from_fn(&shape, |i| ((i * 7919) % 1013) as f32 * 0.002 - 1.0);
        let window = if pooled { pool } else { None };
        let (ff, fb) = time_block(9, &z, |z, g, b| {
            let mut stats = RunningStats::new(c);
            batch_norm_relu_max_pool2d(z, g, b, &mut stats, true, &config, window).unwrap()
        });
        let (sf, sb) = time_block(9, &z, |z, g, b| {
            let mut stats = RunningStats::new(c);
            let h = batch_norm(z, g, b, &mut stats, true, &config)
                .unwrap()
                .relu();
            if pooled {
                max_pool2d(&h, (2, 2), (2, 2)).unwrap()
            } else {
                h
            }
        });
        // The backward of the op that made z, included in both: one pass over dz.
        let (_, input_op) = time_block(9, &z, |z, _, _| z.clone());
        println!(
            "{shape:?} pool {pooled}: fused {ff:.2} + {fb:.2} ms, separate {sf:.2} + {sb:.2} ms \
             (fwd + bwd, 1 thread, on-CPU; each bwd includes {input_op:.2} ms of the input op)"
        );
    }
}
